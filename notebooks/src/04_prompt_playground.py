# %% [markdown]
# # 04 · The prompt playground: zero-shot vs few-shot
#
# An LLM recommender is a prompt plus a way to read the model's answer. This notebook lets you
# change both and see what happens, on real users and a laptop CPU:
#
# * **Templates are data** (`recnb/text/templates/prompts.toml`): *zero-shot* (profile + history),
#   *few-shot* (plus k worked examples from the user's own earlier history, or from similar users),
#   and LLMRank's *sequential* and *recency-focused* prompts. The model's chat template is applied
#   by its tokenizer; long histories are cut to fit the context window, and the prompt says so.
# * **Rankers read the answer by likelihood**, not by parsing text: `llm-pointwise` compares
#   P("Yes") with P("No") for "Would I like X?"; `llm-title` asks how likely each candidate's title
#   is as the recommendation (minus how likely it is without the user). One prompt prefix is
#   computed once and shared by every candidate (a KV cache), so each further candidate costs only
#   its own few tokens (the playground shows the cache hits; `make bench`, section `llm`, times it).
# * **The playground widget** puts two settings side by side on one user: edit the prompt text,
#   pick template, ranker and k, press *Run both*.
#
# Then we measure zero-shot against few-shot on the same users and candidates (the LLMRank
# protocol: the held-out movie among random unseen movies), with the analytic random baseline.
# The bundled model is tiny (SmolLM2-135M), so expect small differences and wide intervals:
# what matters is that the comparison is fair and the numbers are computed, not that they are big.

# %% tags=parameters
# Comments on the parameter lines below stay free of equals signs and colons, so papermill can parse them.
TINY = False  # the test suite sets this to True (fewer users and candidates, the same code)
N_USERS = 40  # users in the zero-shot vs few-shot comparison
N_NEGATIVES = 19  # random unseen movies beside each user's held-out movie (LLMRank used 19)
SHOTS = 3  # k for the few-shot settings
RANKERS = ("llm-title", "llm-pointwise")
MAX_HISTORY = 20  # most recent movies in each prompt (the prompt notes how many earlier ones were left out)
SEED = 0

# %%
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.express as px
from IPython.display import display

import recnb
from recnb.evaluation.bootstrap import bootstrap_ci
from recnb.evaluation.leaderboard import evaluate
from recnb.evaluation.metrics import random_expectation
from recnb.evaluation.protocols import SampledProtocol
from recnb.scores.llm_pointwise import LLMPointwiseRanker
from recnb.scores.llm_title import LLMTitleRanker
from recnb.text.prompts import Catalog, get_template, make_demos, render, template_data
from recnb.widgets.prompt_playground import PromptPlayground

if TINY:
    N_USERS, N_NEGATIVES, RANKERS, MAX_HISTORY = 2, 5, ("llm-title",), 10
RESULTS = Path("results")
RESULTS.mkdir(exist_ok=True)
t_start = time.perf_counter()

# %% [markdown]
# ## 1 · Users, candidates and the model
# The protocol holds out each user's latest movie and hides it among random movies they never
# rated; candidates are drawn from a seed, so every setting below sees the same ones.

# %%
ds = recnb.load_dataset("movielens-small")
split = ds.split(seed=0)
protocol = SampledProtocol(ds, split, n_users=N_USERS, seed=SEED, n_negatives=N_NEGATIVES, store=False)
cases = list(protocol.cases(N_USERS))
llm = recnb.load_llm("smollm2-135m")
catalog = Catalog(ds.items)
print(f"{len(cases)} users, {N_NEGATIVES + 1} candidates each; model {llm.name} "
      f"({llm.context_window}-token window, {llm.backend} on {llm.device})")

# %% [markdown]
# ## 2 · What a prompt looks like
# The same user and question, zero-shot and few-shot. Few-shot examples come from the user's own
# earlier history: "after these movies, they watched X" (and, for Yes/No, one movie they did not).

# %%
case = cases[0]
query = protocol.query(case)
for name, shots in (("zero-shot", 0), ("few-shot", SHOTS)):
    tpl = get_template(name, "pointwise", shots=shots)
    demos, notes = make_demos(query, catalog, tpl.shots, "self", avoid=case.candidates)  # as the rankers do
    rp = render(tpl, llm, query, catalog, item=catalog[int(case.candidates[0])], demos=demos, max_history=MAX_HISTORY)
    print(f"===== {name} (k={shots}): {rp.n_tokens} tokens, history {rp.n_history_shown} of {rp.n_history} shown")
    print(rp.user_text)
    for note in rp.notes + notes:
        print("  note:", note)
    print()

# %% [markdown]
# The templates file, as shipped (edit it, or edit the text in the playground below):

# %%
data = template_data()
display(pd.DataFrame([{"kind": kind, "name": n, "description": v.get("description", "")}
                      for kind in ("template", "task") for n, v in data[kind].items()]))

# %% [markdown]
# ## 3 · The playground
# Two settings on the same user's candidates. Each side shows its ranked list (the held-out movie
# is **bold**, ★ in the candidate line), scores, parse errors, hallucinated titles, time, prefix
# cache hits and what was cut from the prompt. Change the template or ranker, edit the text
# (placeholders in braces are filled in; an unknown one is reported, not ignored), press **Run both**.

# %%
play_users = [c.user_id for c in cases[: min(5, len(cases))]]  # the first few users of the protocol
playground = PromptPlayground(
    llm, ds.items, {u: protocol.query(protocol.case(u)) for u in play_users},
    {u: [int(c) for c in protocol.case(u).candidates] for u in play_users},
    targets={u: int(protocol.case(u).target) for u in play_users}, train=protocol.train,
    settings=[{"template": "zero-shot", "ranker": "llm-title", "shots": 0},
              {"template": "few-shot", "ranker": "llm-title", "shots": SHOTS}], max_history=MAX_HISTORY,
)
first = playground.run()  # one run now, so the outputs below are not empty
for side, r in zip("AB", first):
    print(f"setting {side}: held-out movie at rank {r['target_rank']} of {len(r['items'])}"
          + (f" (tied with {r['target_ties']}: ties count against it)" if r["target_ties"] else "") + f", {r['seconds']:.2f} s, "
          f"{r['cache_hits']} prefix cache hits, answer errors {r.get('errors') or 'none'}, prompt changes {r.get('warnings') or 'none'}"
          + (f", run failed: {r['error']}" if r["error"] else ""))
playground

# %%
playground.compare()

# %% [markdown]
# ## 4 · Zero-shot vs few-shot, measured
# Each setting ranks the same users' candidates. Metrics use pessimistic tie-breaking (a tie never
# helps); intervals are 95% bootstrap intervals over users; the random row is the exact
# expectation for a random order, not a simulation.

# %%
SETTINGS = [("zero-shot", 0, "self"), ("few-shot", SHOTS, "self"), ("few-shot", SHOTS, "similar"),
            ("sequential", 0, "self"), ("recency", 0, "self")]
CLASSES = {"llm-title": LLMTitleRanker, "llm-pointwise": LLMPointwiseRanker}
rows, per_user = [], {}
for ranker_name in RANKERS:
    for template, shots, source in SETTINGS:
        ranker = CLASSES[ranker_name](llm, template=get_template(template, CLASSES[ranker_name].task, shots=shots,
                                                                 demo_source=source), max_history=MAX_HISTORY)
        label = f"{ranker_name} · {template}" + (f" k={shots} ({source})" if shots else "")
        run = evaluate(ranker, protocol, n_users=N_USERS, name=label)
        m = run.metrics()[["ndcg@10", "mrr", "hit@1"]]
        ci = bootstrap_ci(m)
        per_user[label] = m
        rows.append({"setting": label, "ranker": ranker_name, "template": template, "shots": shots, "demos": source if shots else "-",
                     "users": run.n_users, "failed": run.failed_users,
                     "ndcg@10": ci.loc["ndcg@10", "mean"], "ndcg@10 low": ci.loc["ndcg@10", "ci_low"],
                     "ndcg@10 high": ci.loc["ndcg@10", "ci_high"], "mrr": ci.loc["mrr", "mean"], "hit@1": ci.loc["hit@1", "mean"],
                     "s/user": run.eval_seconds / max(run.n_users, 1),
                     "truncated prompts": run.stats.get("truncated_prompts", 0), "demo shortfalls": run.stats.get("demo_shortfall", 0)})
table = pd.DataFrame(rows)
rand = random_expectation(N_NEGATIVES + 1)
table.loc[len(table)] = {"setting": "random order (analytic expectation)", "ndcg@10": rand["ndcg@10"], "mrr": rand["mrr"],
                         "hit@1": rand["hit@1"]}
display(table.round(4))

# %%
bars = table.dropna(subset=["ndcg@10 low"])
fig = px.bar(bars, x="ndcg@10", y="setting", orientation="h",
             error_x=bars["ndcg@10 high"] - bars["ndcg@10"], error_x_minus=bars["ndcg@10"] - bars["ndcg@10 low"],
             title=f"NDCG@10 over {N_USERS} users (95% bootstrap CI); dashed line: random order")
fig.add_vline(x=rand["ndcg@10"], line_dash="dash")
fig.update_layout(height=120 + 40 * len(table), margin=dict(l=10, r=10, t=40, b=10), yaxis_title="")
fig

# %% [markdown]
# ## 5 · What the numbers say
# The cell below reads the table: which setting did best for each ranker, and whether few-shot beat
# zero-shot by more than the noise (the paired difference per user, with its bootstrap interval).

# %%
from recnb.evaluation.bootstrap import paired_difference_ci

for ranker_name in RANKERS:
    zero = per_user[f"{ranker_name} · zero-shot"]["ndcg@10"]
    few = per_user[f"{ranker_name} · few-shot k={SHOTS} (self)"]["ndcg@10"]
    d = paired_difference_ci(few.to_numpy(), zero.to_numpy())
    best = table[table.ranker == ranker_name].sort_values("ndcg@10", ascending=False).iloc[0]
    print(f"{ranker_name}: best setting {best.setting!r} (NDCG@10 {best['ndcg@10']:.3f}); "
          f"few-shot (self) minus zero-shot, paired over users: {d['mean']:+.3f} "
          f"(95% CI {d['ci_low']:+.3f} to {d['ci_high']:+.3f})")
print(f"random order: NDCG@10 {rand['ndcg@10']:.3f}")

# %%
out = RESULTS / f"04_prompt_playground{'-tiny' if TINY else ''}.json"
out.write_text(json.dumps({"mode": "tiny" if TINY else "full", "n_users": N_USERS, "n_candidates": N_NEGATIVES + 1,
                           "model": llm.name, "table": table.replace({np.nan: None}).to_dict("records")}, indent=1, default=float))
print(f"wrote {out}; notebook ran in {time.perf_counter() - t_start:.0f} s ({'tiny' if TINY else 'full'} mode)")
