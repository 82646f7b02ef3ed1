# %% [markdown]
# # 10 · Tuning: teach the LLM your recommendation task (LoRA on a CPU, QLoRA on a GPU)
#
# Prompting uses an LLM as it comes. **TALLRec** (Bao et al., RecSys 2023) instead *tunes* it on a
# handful of recommendation questions:
#
# > *About me: ... Movies I watched: ... Would I like the movie X? Answer Yes or No.* → **Yes** / **No**
#
# The paper reports AUC on movie questions rising from about 0.5 (in-context prompting) to about
# 0.67-0.72 after tuning LLaMA-7B on 16-256 examples; those are its numbers, not this notebook's.
# Here you run the same experiment on your laptop with the kit's 135M-parameter SmolLM2:
#
# 1. build TALLRec-style Yes/No questions from the **training split** (profile text from the
#    kit's profile generator, the prompt the pointwise LLM ranker asks);
# 2. put a **LoRA** adapter (`peft`) on a private copy of the model and train it, watching the loss;
# 3. **save and reload** the adapter and use it as a ranker;
# 4. measure **untuned zero-shot, few-shot and tuned** models on the evaluation harness's sampled
#    protocol, beside the ID baselines, with AUC and 95% confidence intervals;
# 5. see how the same code runs as **QLoRA** (4-bit NF4 base) on a CUDA GPU.
#
# A 135M model is small: whatever the numbers below say is what this run measured, good or bad.

# %% tags=parameters
# The test suite runs this notebook with TINY set to True (fewer examples and users, the same code).
# Comments on the parameter lines below stay free of equals signs and colons, so papermill can parse them.
TINY = False  # True runs fewer examples and users, the same code
N_TRAIN = 64  # training questions for the adapter trained step by step below (half Yes, half No)
SIZES = (16, 64, 256)  # adapters compared in section 5 (N_TRAIN's is the one trained below; others cached)
N_USERS = 50  # users on the sampled protocol (each LLM row scores 20 candidates per user, seconds per user on a CPU)
SHOTS = 2  # worked examples in the few-shot prompt
TOP_LAYERS = 4  # adapters on the last TOP_LAYERS of 30 layers (None means all, slower on a CPU)
LEARNING_RATE = 1e-2  # 2e-3 mostly shifted the Yes/No bias in a few dozen steps (see LoraSettings)
EPOCHS = None  # None means 4 epochs for 16 questions, 2 for 64, 1 for 256 (recnb.tuning.measure.epochs_for)
RETRAIN = False  # True retrains the cached adapters of section 5 instead of loading them
SEED = 0

# %%
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from IPython.display import display
from sklearn.metrics import roc_auc_score

import recnb
from recnb.scores.base import Query
from recnb.scores.llm_lora import LoraPointwiseRanker
from recnb.text.profile import profile_for_user
from recnb.tuning import LoraModel, LoraSettings, build_examples, examples_frame
from recnb.tuning.measure import compare_tuning, epochs_for

if TINY:  # the suite's quick run (parameters are injected above this cell)
    N_TRAIN, SIZES, N_USERS, SHOTS, TOP_LAYERS, EPOCHS = 8, (), 3, 1, 2, 2

pd.set_option("display.max_columns", 30)
pd.set_option("display.width", 200)
t_start = time.perf_counter()

# %% [markdown]
# ## 1 · Data, model, and the training questions
# Every question comes from the **training** part of the temporal split: a user and a point in
# their history are drawn; the prompt shows what they watched before that point (the 5 most recent
# movies) and the first likes/dislikes of the NL profile generated from it. The answer is
# **Yes** for the movie they watched next and **No** for a movie drawn at random from those they
# never rated, which is the same contrast the evaluation protocol asks about.

# %%
ds = recnb.load_dataset("movielens-small")
split = ds.split(seed=0)
llm = recnb.load_llm("smollm2-135m", device="cpu")
t0 = time.perf_counter()
examples = build_examples(split, ds.items, llm, n=N_TRAIN, seed=SEED)
print(f"{len(examples)} questions ({sum(e.label for e in examples)} Yes) from {len({e.user_id for e in examples})} users "
      f"in {time.perf_counter() - t0:.1f} s; mean prompt {np.mean([llm.count_tokens(e.prompt) for e in examples]):.0f} tokens")
display(examples_frame(examples, ds.items).head(6))

# %% [markdown]
# One question exactly as the model sees it (chat format included); the model is trained to
# write the answer after `assistant`:

# %%
print(examples[0].prompt + examples[0].answer)

# %% [markdown]
# ## 2 · Held-out questions, and the untuned model's answers
# To see what training changes, keep some questions aside: same recipe, **other users**. The
# score is log P(Yes) − log P(No); TALLRec's AUC is `roc_auc_score(labels, scores)` over them.

# %%
train_users = {e.user_id for e in examples}
heldout = build_examples(split.train[~split.train.user_id.isin(train_users)], ds.items, llm,
                         n=max(6, N_TRAIN // 2), seed=SEED + 1)
y_held = np.array([e.label for e in heldout])

# %% [markdown]
# ## 3 · LoRA: a small adapter on a copy of the weights
# `LoraModel` deep-copies the model (the shared one stays untouched for the other rankers) and
# lets `peft` add rank-8 matrices to the attention projections of the top layers. Only those
# are trained. The loss is TALLRec's: cross-entropy on the answer token only.

# %%
settings = LoraSettings(r=8, alpha=16, dropout=0.05, target_modules=("q_proj", "v_proj"), top_layers=TOP_LAYERS,
                        learning_rate=LEARNING_RATE, epochs=EPOCHS or epochs_for(N_TRAIN), batch_size=4, seed=SEED)
tuned = LoraModel(llm, settings)
print(f"{tuned.trainable_params:,} trainable parameters of {tuned.total_params:,} "
      f"({100 * tuned.trainable_params / tuned.total_params:.3f}%); {settings.epochs} epoch(s)")
untuned_held = tuned.answer_margin(heldout, adapter=False)
print(f"untuned: held-out AUC {roc_auc_score(y_held, untuned_held):.3f} on {len(heldout)} questions; "
      f"mean P(Yes vs No) {np.mean(1 / (1 + np.exp(-untuned_held))):.3f}")

# %% [markdown]
# The progress bar shows the loss of each step:

# %%
report = tuned.train(examples, progress=True, desc=f"LoRA on {len(examples)} questions")
print(f"{report.steps} steps in {report.seconds:.1f} s: {report.examples_per_second:.2f} examples/s, "
      f"{report.tokens_per_second:.0f} tokens/s; loss {report.first_loss:.3f} (first step) -> {report.final_loss:.3f} (last epoch)")

# %%
fig = go.Figure(go.Scatter(y=report.losses, x=list(range(1, report.steps + 1)), mode="lines+markers", name="loss"))
fig.update_layout(title="Training loss per step (cross-entropy on the answer token)", xaxis_title="step",
                  yaxis_title="loss", height=320, margin=dict(l=10, r=10, t=50, b=10))
fig.show()

# %% [markdown]
# Did it learn anything that carries to questions about **other users**?

# %%
tuned_held = tuned.answer_margin(heldout)
train_margin = tuned.answer_margin(examples)
print(f"held-out AUC: untuned {roc_auc_score(y_held, untuned_held):.3f} -> tuned {roc_auc_score(y_held, tuned_held):.3f} "
      f"({len(heldout)} questions)")
print(f"training-question AUC after training: {roc_auc_score([e.label for e in examples], train_margin):.3f}")
print(f"mean P(Yes vs No): untuned {np.mean(1 / (1 + np.exp(-untuned_held))):.3f}, tuned {np.mean(1 / (1 + np.exp(-tuned_held))):.3f}")

# %% [markdown]
# ## 4 · Save, reload, rank
# The adapter is only the small LoRA matrices (the cell prints the file sizes); `LoraModel.load`
# puts it back on (a copy of) the base.

# %%
folder = Path(tempfile.mkdtemp(prefix="recnb-lora-")) / "adapter"
tuned.save(folder)
sizes_kb = {f.name: round(f.stat().st_size / 1024, 1) for f in folder.iterdir()}
print(folder, sizes_kb)
reloaded = LoraModel.load(llm, folder)
diff = np.abs(reloaded.answer_margin(heldout[:4]) - tuned_held[:4]).max()
print(f"reloaded adapter: max score difference on 4 questions = {diff:.2e}")
reloaded.unload()

# %% [markdown]
# Behind the `Ranker` interface the tuned model ranks candidates like any other ranker (the
# registered `llm-lora` is this class with a small adapter shipped in the package):

# %%
ranker = LoraPointwiseRanker(tuned).fit(split.train, ds.items)
user = int(examples[0].user_id)
hist = split.train[split.train.user_id == user].sort_values("timestamp")
query = Query(user_id=user, history=tuple(hist.item_id), ratings=tuple(hist.rating),
              profile=profile_for_user(split, ds.items, user))
candidates = [int(split.test[split.test.user_id == user].item_id.iloc[0])] + \
    [int(i) for i in np.random.default_rng(SEED).choice(ds.items.item_id.to_numpy(), 5, replace=False)]
frame = ranker.rank(query, candidates)
display(frame.merge(ds.items[["item_id", "title", "year"]], on="item_id")[["rank", "title", "year", "score", "why"]])
print(f"user {user}'s held-out test movie: {ds.titles[candidates[0]]!r}")

# %% [markdown]
# ## 5 · Tuned vs untuned, on the evaluation protocol, beside the ID baselines
# The harness's **sampled protocol**: each user's latest rating is hidden among 19 random movies
# they never rated (stored, checksummed candidates: every model sees the same ones). Rows:
#
# * `zero-shot`, `few-shot`: the untuned model with the same question (few-shot adds worked
#   examples from the user's own history);
# * `lora-N`: adapters tuned on N questions (the one trained above, the others trained once and cached),
#   all from the training part of the protocol's own split, so none has seen a held-out movie (the
#   tuned ranker checks this when it is fitted, and refuses data that holds out a rating it learned from);
# * ID baselines (popularity, item-kNN, BPR, ALS) fitted on the same training data.
#
# AUC is per user (the held-out movie vs its 19 negatives) with a bootstrap CI over users; pooled
# AUC compares scores across users too, as TALLRec's does. Both are read pessimistically, like the
# ranking metrics: a negative tied with the held-out movie counts as ranked above it, and a user
# whose scoring failed counts at the worst rank (AUC 0). The table counts both (`failed users`,
# `tied users`).

# %%
others = tuple(n for n in SIZES if n != N_TRAIN)
res = compare_tuning(ds, llm, sizes=others, n_users=N_USERS, shots=SHOTS, settings=settings, seed=SEED,
                     baselines=("popularity", "item-knn", "bpr", "als"), retrain=RETRAIN,
                     tuned={f"lora-{N_TRAIN}": tuned}, progress=True)
table = res.table()
display(table)

# %%
ok = table[table["model"].isin(list(res.auc))]  # rows that ran (the analytic random row is the dashed line)
cis = pd.DataFrame([res.auc_ci(m) for m in ok["model"]])
colors = {"untuned": "#888", "tuned": "#d62728", "id baseline": "#1f77b4"}
fig = go.Figure(go.Bar(x=cis["mean"], y=ok["model"], orientation="h", marker_color=[colors.get(k, "#444") for k in ok["kind"]],
                       error_x=dict(type="data", symmetric=False, array=cis["ci_high"] - cis["mean"],
                                    arrayminus=cis["mean"] - cis["ci_low"])))
fig.add_vline(x=0.5, line_dash="dash", line_color="gray", annotation_text="random 0.5")
fig.update_layout(title=f"Per-user AUC with 95% bootstrap CI ({int(ok['users'].max())} users, sampled protocol)",
                  xaxis_title="AUC", height=140 + 30 * len(ok), margin=dict(l=10, r=10, t=50, b=10))
fig.show()

# %% [markdown]
# **Does tuning help here?** Paired differences over the same users (a CI that excludes 0 is a
# difference this many users can show; one that spans 0 is not):

# %%
rows = []
for name, kind in res.kinds.items():
    if kind == "tuned" or name == "few-shot":
        d = res.paired(name, "zero-shot")
        verdict = "better than zero-shot" if d["ci_low"] > 0 else "worse than zero-shot" if d["ci_high"] < 0 else "no clear difference"
        rows.append({"model": name, "users": d["users"], "AUC - zero-shot": d["mean"], "ci_low": d["ci_low"],
                     "ci_high": d["ci_high"], "verdict": verdict})
display(pd.DataFrame(rows))
best_id = ok[ok["kind"] == "id baseline"].sort_values("AUC", ascending=False).head(1)
best_llm = ok[ok["kind"] != "id baseline"].sort_values("AUC", ascending=False).head(1)
if len(best_id) and len(best_llm):
    print(f"best LLM row: {best_llm.model.iloc[0]} AUC {best_llm.AUC.iloc[0]:.3f} {best_llm['AUC CI'].iloc[0]}; "
          f"best ID baseline: {best_id.model.iloc[0]} AUC {best_id.AUC.iloc[0]:.3f} {best_id['AUC CI'].iloc[0]}")

# %% [markdown]
# ## 6 · QLoRA: the same training on a 4-bit base (CUDA only)
# On a GPU, `load_llm(..., quantization="4bit")` loads the base in bitsandbytes NF4 (4-bit weights
# instead of 16-bit ones) and `LoraModel(..., copy_base=False)` trains the same
# adapter on it: `peft.prepare_model_for_kbit_training` and gradient checkpointing are applied
# for you. On a CPU this cell says why it skips. (`make gpu-check` measures QLoRA's peak memory
# beside bf16 LoRA on a 7B-shaped model; BENCHMARKS.md, section gpu_tuning, has what it measured.)

# %%
import importlib.util

import torch

if not torch.cuda.is_available():
    print("QLoRA skipped: no CUDA GPU on this machine (4-bit NF4 layers need CUDA).")
elif importlib.util.find_spec("bitsandbytes") is None:
    print("QLoRA skipped: bitsandbytes is not installed (pip install -e '.[gpu]').")
else:
    llm4 = recnb.load_llm("smollm2-135m", device="cuda", quantization="4bit")
    q = LoraModel(llm4, settings, copy_base=False)
    qrep = q.train(examples, progress=True, desc="QLoRA")
    print(f"QLoRA: {qrep.examples_per_second:.1f} examples/s, peak GPU memory {qrep.peak_memory_bytes / 2**20:.0f} MiB, "
          f"loss {qrep.first_loss:.3f} -> {qrep.final_loss:.3f}")
    q.unload()
    llm4.unload()

# %%
tuned.unload()
print(f"notebook ran in {time.perf_counter() - t_start:.0f} s ({'tiny' if TINY else 'full'} mode)")
