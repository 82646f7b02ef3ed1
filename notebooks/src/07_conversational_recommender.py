# %% [markdown]
# # 07 · A conversational recommender with an editable belief state
#
# In a conversation every turn can do something different: **elicit** a preference,
# **recommend**, **explain** a recommendation, **answer** a question about an item, or take a
# **critique** ("something lighter", "older", "not by this director"). What the system
# believes about you (likes, dislikes, constraints) is kept as plain sentences you can read
# and edit; the recommendations follow that state.
#
# Who reads your message is a *policy*: `rules` (no model), `llm-choice` (the LLM picks the
# intent by likelihood), or `llm-json` (the LLM writes a JSON action, validated). When the
# LLM's answer is malformed or impossible, the rules take the turn and the fallback is counted.
#
# At the end a **user simulator** with a hidden target movie (a real person's held-out
# rating) measures how many turns the conversation needs, against one-shot retrieval.

# %% tags=parameters
# TINY is what the test suite sets, for a catalog subset, few examples and few simulated people
TINY = False
N_USERS = 100  # simulated people (5 in tiny mode)
MAX_TURNS = 6  # system turns each simulated conversation may take
K = 5  # items per recommendation, and success means the target is among them
# LARGER_MODEL is a Hugging Face id in your cache or a folder (GPU), or a .gguf file (served on loopback)
LARGER_MODEL = None

# %%
import json
import time
from pathlib import Path

import pandas as pd
import plotly.express as px
from IPython.display import display

import recnb
from recnb.systems.catalog import ItemCatalog
from recnb.systems.conversation import ConversationalRecommender, evaluate_intents, intent_summary
from recnb.systems.nlu import INTENT_EXAMPLES, Lexicon
from recnb.systems.simulator import evaluate, pick_targets
from recnb.text.profile import Profile, profile_for_user
from recnb.widgets.chat import ChatWidget

t0 = time.perf_counter()
if TINY:
    N_USERS, MAX_TURNS = 5, 4

# %%
ds = recnb.load_dataset("movielens-small")
split = ds.split(seed=0)
# Tiny mode: the 1,500 most-rated training movies (plus the ones section 1 talks about), chosen
# without looking at the hidden targets; the simulated people's targets are drawn from inside it.
popular = split.train.item_id.value_counts().index[:1500]
items = ds.items if not TINY else ds.items[ds.items.item_id.isin(list(popular) + [6, 858, 1221, 431, 1214])]
catalog = ItemCatalog.from_dataset(ds, items=items)
targets = pick_targets(ds, split, N_USERS, seed=0, catalog=catalog)
lex = Lexicon(catalog)
print(f"{len(catalog):,} items; {len(lex.directors):,} director and {len(lex.cast):,} cast names known to the reader")

# %% [markdown]
# ## 1 · A conversation, turn by turn
# Each turn prints what the system read (intent), what it did (action) and how the belief
# state changed. Critiques are relative to the item being criticised: "older" means older
# than the first suggestion.

# %%
cr = ConversationalRecommender(catalog, lexicon=lex, k=K)

def show(turn):
    print(f"YOU: {turn.user}\n  [{turn.intent} -> {turn.action}; read by {turn.source}"
          + (f"; fallback: {turn.fallback}" if turn.fallback else "") + "]")
    if turn.added or turn.removed:
        print(f"  belief +{turn.added} -{turn.removed}")
    print("SYSTEM: " + turn.reply.replace("\n", "\n        ") + "\n")

for msg in ["hi", "a crime movie from the 1970s, no comedy", "who directed the second one?",
            "something lighter", "why did you suggest the first one?", "older please", "not by this director"]:
    show(cr.turn(msg))

# %%
print(cr.belief.to_text())

# %% [markdown]
# ## 2 · You edit the belief state
# Every line is yours to change. An edited line is read again (here "from the 1970s" becomes
# "from the 1950s", a new year range); a line the rules do not understand is kept as you
# wrote it and used as a soft preference through the encoder.

# %%
era = next(b for b in cr.belief if b.kind == "constraint" and "from the" in b.text)
cr.edit_belief(era.id, "from the 1950s")
cr.add_belief("a story about a family", "like")
print(cr.belief.to_text(), "\n")
items_now, notes = cr.recommend()
print([catalog.title(i) for i in items_now], notes)

# %% [markdown]
# ## 3 · The chat widget
# The same recommender in a chat: type a message and press Enter; edit a line in the panel
# on the right and press Enter; remove one with ×; add one below.

# %%
chat = ChatWidget(ConversationalRecommender(catalog, lexicon=lex, k=K), caption="Movie chat (rules policy)",
                  greeting="Hi! What kind of movie are you in the mood for?")
chat

# %%
chat.send("a romantic comedy from the 90s")  # the same thing a typed message does
print(chat.belief_text)

# %% [markdown]
# ## 4 · Who reads the message: rules or the LLM?
# A small labelled set of messages (written for this kit) read by each policy. `accuracy` is
# what the conversation gets (a malformed LLM answer falls back to the rules); `own_accuracy`
# counts only the messages the policy read right by itself. With the 135M model, expect the
# LLM policies' own reads to be near chance; a larger model (GPU, or a lab server behind the
# same interface) is where they start to help.

# %%
llm = recnb.load_llm("smollm2-135m")
examples = INTENT_EXAMPLES[::9] if TINY else INTENT_EXAMPLES
reads = {p: evaluate_intents(catalog, p, None if p == "rules" else llm, examples, lexicon=lex)
         for p in ("rules", "llm-choice", "llm-json")}
summary = pd.DataFrame([intent_summary(p, df) for p, df in reads.items()])
summary

# %%
reads["llm-json"][["text", "label", "predicted", "fallback", "llm_output"]].head(8)

# %% [markdown]
# ## 5 · Latency per turn
# The same dialogue under each policy on this machine's CPU.

# %%
dialogue = ["a crime movie from the 1970s", "something lighter"] + ([] if TINY else ["who directed the first one?"])
lat = []
for policy in ("rules", "llm-choice", "llm-json"):
    c = ConversationalRecommender(catalog, None if policy == "rules" else llm, policy=policy, lexicon=lex, k=K)
    secs = [c.turn(m).seconds for m in dialogue]
    lat.append({"policy": policy, "mean_s_per_turn": sum(secs) / len(secs), "max_s": max(secs),
                "fallbacks": c.stats["fallback"]})
pd.DataFrame(lat)

# %% [markdown]
# ## 6 · Evaluation with a simulated user
# Each simulated person is a real user with a **hidden target**: their held-out test movie
# (rated 4+, with facts). They open with one of its genres, answer questions from its facts,
# and criticise suggestions relative to it. Success@k within t turns: the target is among the
# k suggestions by system turn t. Baselines: one retrieval from the opening request, and from
# the request plus the person's NL profile (likes from their training history).
#
# A caveat that matters: the simulator's sentences share vocabulary with the rule reader, so
# this measures the dialogue policy and the retrieval it drives, not understanding of real
# people's language.

# %%
hist = {t.user_id: split.train.item_id[split.train.user_id == t.user_id].tolist() for t in targets}
profiles = {t.user_id: Profile(profile_for_user(split.train, ds.items, t.user_id).likes).to_text() for t in targets}
res = evaluate(lambda exclude: ConversationalRecommender(catalog, lexicon=lex, exclude=exclude, k=K),
               catalog, targets, hist, profiles, k=K, max_turns=MAX_TURNS)
res["success"]

# %%
s = res["success"]
conv = s[s.system.str.startswith("conversational@")].assign(turn=lambda d: d.system.str.split("@").str[1].astype(int))
fig = px.line(conv, x="turn", y="mean", markers=True, error_y=conv["ci_high"] - conv["mean"],
              error_y_minus=conv["mean"] - conv["ci_low"], labels={"mean": f"success@{K}", "turn": "system turns"},
              title=f"Conversational success@{K} by turn ({len(targets)} simulated people, 95% CI)")
for _, row in s[s.system.str.startswith("one-shot")].iterrows():
    fig.add_hline(y=row["mean"], line_dash="dot", annotation_text=row["system"])
fig.update_layout(height=380, margin=dict(l=10, r=10, t=40, b=10))
fig

# %%
print("turns to success:")
display(res["turns"])
print("conversational success at the last turn minus one-shot (paired bootstrap):", res["difference_vs_one_shot"])

# %%
ep = next((e for e in res["episodes"] if e.success_turn), res["episodes"][0])
print(f"target: {catalog.title(ep.target)}; success at turn {ep.success_turn}\n")
for x in ep.transcript:
    print("USER:  ", x["user"])
    if x.get("system"):
        print("SYSTEM:", x["system"].splitlines()[0], "|", [catalog.title(i) for i in x["items"][:3]])

# %% [markdown]
# ## 7 · A larger model
# Set `LARGER_MODEL` to a model you have and the LLM policies read the same labelled messages
# with it, beside the 135M model's reads from section 4:
#
# * a Hugging Face id in your cache or a folder: loaded with `recnb.load_llm` (a GPU makes it quick);
# * a `.gguf` file: served by llama-cpp-python's OpenAI-compatible server on loopback, the same
#   path as a lab's shared server (`recnb.models.openai_http`; the conversation only needs
#   `chat_prompt`, `generate` and one-token `score`).
#
# `make bench` records such a comparison in the `systems_server` section of
# `benchmarks/results.json` when `RECNB_LARGER_GGUF` names a file.

# %%
if LARGER_MODEL:
    def larger_reads(big):
        out = {p: evaluate_intents(catalog, p, big, examples, lexicon=lex) for p in ("llm-choice", "llm-json")}
        return pd.DataFrame([{"model": str(LARGER_MODEL), **intent_summary(p, df)} for p, df in out.items()])

    if str(LARGER_MODEL).endswith(".gguf"):
        from recnb.models.llamacpp import serve
        from recnb.models.openai_http import OpenAICompatibleLLM

        with serve(str(LARGER_MODEL)) as url:
            big_table = larger_reads(OpenAICompatibleLLM(url, tokenizer=str(LARGER_MODEL)))
    else:
        big = recnb.load_llm(LARGER_MODEL, device="auto")
        big_table = larger_reads(big)
        big.unload()
    display(pd.concat([summary.assign(model="smollm2-135m"), big_table], ignore_index=True))
else:
    print("LARGER_MODEL is not set: skipped.")

# %%
record = {"tiny": TINY, "catalog_items": len(catalog), "users": len(targets), "k": K, "max_turns": MAX_TURNS,
          "intents": summary.round(4).to_dict("records"), "latency": pd.DataFrame(lat).round(4).to_dict("records"),
          "success": res["success"].round(4).to_dict("records"), "turns": res["turns"].round(4).to_dict("records"),
          "seconds": round(time.perf_counter() - t0, 1)}
print(json.dumps({k: record[k] for k in ("tiny", "catalog_items", "users", "seconds")}))
if not TINY:
    out = Path("results") / "07_conversational_recommender.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(record, indent=1, default=str))
    print("written", out)
