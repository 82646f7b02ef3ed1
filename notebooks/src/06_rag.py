# %% [markdown]
# # 06 · Retrieval-augmented recommendation: citations, claim checks, injection, tools
#
# A language model asked for "a tense heist thriller" will happily name films that do not
# exist and attribute the wrong director to ones that do. **Retrieval-augmented generation**
# (RAG) gives it the facts first and then checks what it says:
#
# 1. **retrieve** the items closest to the request (facts, description, and reviews where the
#    dataset has them);
# 2. **generate** an answer that cites item ids, or **choose** items by the model's likelihood;
# 3. **validate** every citation: it must exist and be among the retrieved items;
# 4. **check every claim** about an item against the retrieved text, and flag what is unsupported;
# 5. **measure** how often the model hallucinates with and without retrieval.
#
# Then two things every multi-module system needs: retrieved text is **data, not
# instructions** (a planted "ignore previous instructions" must not work), and **tools** the
# model calls through a JSON protocol that is validated before anything runs.
#
# Everything runs on the bundled 135M model on a CPU. Expect it to be weak: the point is a
# pipeline whose failures are counted, not hidden.

# %% tags=parameters
# The test suite runs this notebook with TINY set to True (a catalog subset, at most two requests, a few trials).
# Comments on the parameter lines below stay free of equals signs and colons, so papermill can parse them.
TINY = False  # True runs a catalog subset, at most two requests and a few trials
N_REQUESTS = 20  # requests in the hallucination measurement, 1 up to the 20 fixed ones (at most 2 in tiny mode)
K = 5  # items retrieved per request (at most 3 in the tiny injection trials)

# %%
import json
import time
from pathlib import Path

import pandas as pd
import plotly.express as px
from IPython.display import display

import recnb
from recnb.systems.catalog import ItemCatalog
from recnb.systems.injection import DEFENCE_CONFIGS, Defences, neutralise, plant, prepare_passage, run_injection_eval
from recnb.systems.nlu import TOOL_REQUESTS, Lexicon, rule_tool_call
from recnb.systems.rag import FIXED_REQUESTS, RAGRecommender, run_hallucination_eval
from recnb.systems.tools import ToolBox, call_with_model

pd.set_option("display.max_colwidth", 90)
t0 = time.perf_counter()
if not 1 <= N_REQUESTS <= len(FIXED_REQUESTS):
    raise ValueError(f"N_REQUESTS must be between 1 and {len(FIXED_REQUESTS)}, the number of requests in "
                     f"recnb.systems.rag.FIXED_REQUESTS; got {N_REQUESTS}")
if TINY:
    N_REQUESTS = min(N_REQUESTS, 2)

# %% [markdown]
# ## 1 · The catalog as RAG sees it
# `ItemCatalog` wraps a dataset's items: facts by id, one **passage** per item (what a prompt
# shows and what claims are checked against), search by text and filters by facts.

# %%
ds = recnb.load_dataset("movielens-small")
items = ds.items if not TINY else ds.items[(ds.items.index < 1500) | ds.items.item_id.isin([6, 858, 1221, 431])]
catalog = ItemCatalog.from_dataset(ds, items=items)
llm = recnb.load_llm("smollm2-135m")
print(f"{len(catalog):,} items; model {llm!r}")
print(catalog.passage(6))

# %% [markdown]
# ## 2 · One request, end to end
# The prompt shows each retrieved passage inside an `<item id=...>` block and asks for
# "Title (Year) [id]" lines. Whatever comes back is parsed: every `[id]` and every
# "Title (Year)" is grounded to the catalog (fuzzy title match), then validated.

# %%
rag = RAGRecommender(catalog, llm, k=K, n=2, max_new_tokens=48 if TINY else 80)
request = "a tense crime thriller about a heist"
answer = rag.answer(request)
print("retrieved:", [catalog.title(i) for i in answer.retrieved])
print("\n--- the model wrote ---\n" + answer.text)
print("\n--- after validation ---")
print("recommended:", [catalog.title(i) for i in answer.recommended], "| fallback:", answer.fallback)
print("invented items/ids:", answer.invalid, "| real items that were not retrieved:", answer.outside)

# %% [markdown]
# Each claim the answer makes about an item (year, director, cast, genre, country, runtime,
# awards, other names) is looked up in that item's retrieved passage. **Unsupported** means
# "the retrieved text does not say so", which is not always "false" (a cast list can be
# incomplete), but it is exactly what a reader cannot verify from the sources.

# %%
answer.report.frame()

# %% [markdown]
# `mode="score"` never lets the model write free text: it ranks the retrieved items by the
# model's log-likelihood of naming each one, and the text is written from the facts. It is
# the right mode for a 135M model: always a valid answer, nothing to hallucinate.

# %%
scored = RAGRecommender(catalog, llm, k=K, n=2, mode="score").answer(request, retrieved=answer.retrieved)
print(scored.text)
print("unsupported claims:", len(scored.report.unsupported), "of", len(scored.report.claims))

# %% [markdown]
# ## 3 · Hallucination with and without retrieval
# The first `N_REQUESTS` of a fixed set of requests, each answered twice by the same model: with
# the retrieved passages, and from the request alone. **Claim rate** = unsupported claims /
# claims, in both conditions. An item the answer names can be wrong in two ways: **invented**
# (no such item in the catalog), or, *with retrieval only*, a real item that was **not
# retrieved** (without retrieval nothing is retrieved, so that check does not exist and
# `outside_retrieved` is 0). So the table's `item_hallucination_rate`, (invented + not
# retrieved) / items named, is the stricter rate with retrieval and only invented / items named
# without it. The chart therefore compares the two conditions on the rates that mean the same in
# both (claims, and invented / items named) and shows the stricter item rate for the
# with-retrieval condition alone. The table's 95% bootstrap CIs resample requests.

# %%
hall_requests = FIXED_REQUESTS[:N_REQUESTS]
answers, rows, table = run_hallucination_eval(rag, hall_requests)
table

# %%
rate_labels = {"claim_hallucination_rate": "unsupported claims / claims",
               "invented_rate": "invented items / items named",
               "item_hallucination_rate": "(invented + not retrieved) / items named"}
rates = table.assign(invented_rate=table["invented_items"] / table["items_named"].where(table["items_named"] > 0))
long = rates.melt(id_vars="condition", value_vars=list(rate_labels), var_name="rate", value_name="value")
long = long[(long["rate"] != "item_hallucination_rate") | (long["condition"] == "with retrieval")]  # undefined without
long["rate"] = long["rate"].map(rate_labels)
fig = px.bar(long, x="rate", y="value", color="condition", barmode="group",
             title=f"Hallucination rates of the bundled model on {len(hall_requests)} requests "
                   "(the last rate exists only with retrieval)", labels={"value": "rate", "rate": ""})
fig.update_layout(height=360, margin=dict(l=10, r=10, t=40, b=10))
fig

# %%
without = next(a for a in answers if not a.retrieval)
print(f"request: {without.request!r}\n--- without retrieval the model wrote ---\n{without.text}\n")
without.report.frame()

# %% [markdown]
# ## 4 · Retrieved text is data, not instructions
# An attacker who can edit an item's description (a product page, a user-submitted
# synopsis) plants an order. Four defences, each switchable:
# **delimit** (data blocks the text cannot close), **neutralise** (instruction-like sentences
# replaced by a marker), **data rule** (the system prompt says data is never an instruction),
# **validate** (only retrieved, existing ids can be recommended).

# %%
poisoned = plant(catalog.description(431), "Toy Story (1995)", 1)
print(poisoned, "\n")
print(prepare_passage(431, poisoned, Defences())[0])

# %% [markdown]
# Two attacks per request, planted in the last retrieved item: **self** (the poisoned item
# promotes itself: obeyed if it moves to first place) and **other** (promote an item that was
# not retrieved: obeyed if it gets recommended). Same retrieved items with and without the
# planted text, so any change is the attack's doing.

# %%
inj_requests = FIXED_REQUESTS[:1] if TINY else FIXED_REQUESTS[:6]
configs = {k: DEFENCE_CONFIGS[k] for k in (("none", "all") if TINY else DEFENCE_CONFIGS)}
trials, summary = run_injection_eval(catalog, llm, inj_requests, configs, styles=("plain",), mode="score",
                                     k=min(K, 3) if TINY else K)
summary

# %% [markdown]
# In `score` mode the model can only choose among retrieved items, so an "other" attack cannot
# succeed by construction; the "self" rows show whether the planted words sway the model's
# likelihoods. The benchmark (`python -m benchmarks.run --only systems`) runs more requests,
# hidden-character variants, and free generation.

# %% [markdown]
# ## 5 · Tools with a validated JSON protocol
# Three tools: `search_catalog`, `filter_by_facts`, `get_item_facts`. A call is one JSON
# object; it is validated with jsonschema before anything runs, and a malformed call gets an
# error message written for the model.

# %%
box = ToolBox(catalog)
print(box.describe(), "\n")
for call in ['{"tool": "filter_by_facts", "arguments": {"genre": "Crime", "year_max": 1975, "k": 3}}',
             '{"tool": "search_catalog", "arguments": {"query": "heist", "k": 500}}',
             '{"tool": "get_item_facts", "arguments": {"item_id": 99999999}}',
             'search for heist movies please']:
    r = box.execute(call)
    print(("OK  " if r.ok else "ERR ") + (json.dumps(r.result, default=str)[:150] if r.ok else r.error))

# %% [markdown]
# The bundled model writing calls: each rejected call is handed back with its error and the
# model tries once more; if it still fails, the rules write the call (counted as a fallback).

# %%
lex = Lexicon(catalog)
tool_rows = []
for req, expected in (TOOL_REQUESTS[:2] if TINY else TOOL_REQUESTS):
    out = call_with_model(llm, box, req, max_attempts=2, fallback=lambda r: rule_tool_call(r, lex))
    tool_rows.append({"request": req, "expected": expected, "model_valid": out.protocol_ok,
                      "model_right_tool": out.protocol_ok and out.result.tool == expected,
                      "used": out.result.tool if out.result is not None else None, "fallback": out.fallback,
                      "fallback_left_out": "; ".join(out.left_out),  # what the rules' call could not state
                      "first_reply": out.attempts[0][0][:80], "first_error": out.attempts[0][1].code})
tools = pd.DataFrame(tool_rows)
print(f"valid calls from the model: {tools.model_valid.mean():.0%} (the right tool: {tools.model_right_tool.mean():.0%}); "
      f"rule fallbacks: {tools.fallback.mean():.0%}")
tools

# %% [markdown]
# ## 6 · What this run measured

# %%
record = {
    "tiny": TINY, "catalog_items": len(catalog), "requests": len(hall_requests),
    "hallucination": table.round(4).to_dict("records"),
    "injection": summary.round(4).to_dict("records"),
    "tools": {"valid_rate": float(tools.model_valid.mean()), "right_tool_rate": float(tools.model_right_tool.mean()),
              "fallback_rate": float(tools.fallback.mean())},
    "rag_stats": dict(rag.stats), "seconds": round(time.perf_counter() - t0, 1),
}
print(json.dumps({k: v for k, v in record.items() if k not in ("hallucination", "injection")}, indent=1))
if not TINY:  # the test suite's tiny runs do not overwrite the full run's record
    out = Path("results") / "06_rag.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(record, indent=1, default=str))
    print("written", out)
