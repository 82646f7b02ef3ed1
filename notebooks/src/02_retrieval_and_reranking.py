# %% [markdown]
# # 02 · Retrieval and reranking: bi-encoder + FAISS, BM25, and a cross-encoder the kit trains
#
# Encoder models score how well an item matches what a person wants. Two shapes:
#
# * a **bi-encoder** embeds the query and every item *separately*; items are embedded once,
#   so a query costs one encoding plus a nearest-neighbour search (FAISS): fast enough for a
#   whole catalog;
# * a **cross-encoder** reads the query and one item *together*, so it can compare them word
#   by word; it costs one transformer pass per candidate, so it only reranks a short list.
#
# And a lexical baseline, **BM25**, which matches words, not meanings.
#
# No cross-encoder ships in any package we can use offline, so this notebook **trains one**
# from the bundled MiniLM on pairs built from the MovieLens training split, then evaluates
# it on users it never saw. Every number below is computed by the cells that print it.

# %% tags=parameters
# The test suite runs this notebook with TINY set to True (1,500 items, a short training run, 24 held-out users).
# Comments on the parameter lines below stay free of equals signs and colons, so papermill can parse them.
TINY = False  # True runs the small training config
K = 10  # list length for the searches, recall and NDCG
DEPTH = 50  # the cross-encoder reranks the bi-encoder's top DEPTH
N_EVAL_USERS = None  # None uses every held-out user of the training config (150 full, 24 tiny)
REQUEST = "a funny heist movie with a clever crew"  # the free-text request of sections 2, 3, 5 and 9

# %%
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
from IPython.display import display

import recnb
from recnb.candidates.compare import request_rankers
from recnb.candidates.embeddings import EmbeddingCache
from recnb.candidates.filters import FactFilter
from recnb.candidates.index import VectorIndex, recall_at_k
from recnb.candidates.lexical import BM25Index
from recnb.candidates.retriever import DenseRetriever
from recnb.data.titles import natural_title
from recnb.scores.cross_encoder_training import (TrainingConfig, evaluate_reranking, fresh_head, likes_text,
                                                 speed_accuracy_figure, train_cross_encoder, training_catalog)
from recnb.widgets.compare_rankings import CompareRankings

t_start = time.perf_counter()
ds = recnb.load_dataset("movielens-small")
split = ds.split(seed=0)
config = TrainingConfig.tiny() if TINY else TrainingConfig.full()
catalog = training_catalog(ds.items, split.train, config.catalog_items)
titles = catalog.set_index("item_id")["title"].map(natural_title)
print(f"catalog: {len(catalog):,} of {len(ds.items):,} movies" + (" (tiny mode: the most rated ones)" if TINY else ""))

# %% [markdown]
# ## 1 · Embed the catalog once
# Each description is embedded in batches (a progress bar shows while it runs) and stored in an
# on-disk cache keyed by the model and a hash of the text. Building the retriever a second time
# embeds nothing; editing one description re-embeds only that one.

# %%
encoder = recnb.load_encoder("minilm")
t = time.perf_counter()
retriever = DenseRetriever(catalog, encoder)  # exact search: IndexFlatIP on normalised vectors (cosine)
print(f"first build: {retriever.cache.last_misses:,} embedded now, {retriever.cache.last_hits:,} from the cache, "
      f"{time.perf_counter() - t:.1f} s")

texts = catalog["description"].fillna("").tolist()
t = time.perf_counter()
fresh_cache = EmbeddingCache(encoder)  # a new cache object reads the files on disk, like a new session would
fresh_cache.encode(texts)
print(f"second build: {fresh_cache.last_misses:,} embedded, {fresh_cache.last_hits:,} from the cache, "
      f"{time.perf_counter() - t:.2f} s")

edited = list(texts)
edited[0] = edited[0] + " Restored in 4K."
fresh_cache.encode(edited, progress=False)
print(f"after editing one description: {fresh_cache.last_misses} embedded, {fresh_cache.last_hits:,} from the cache")

# %% [markdown]
# ## 2 · Three kinds of query
# A free-text **request**, an NL **profile** (the likes of the deterministic profile from notebook 00),
# or an **item** ("more like this": the item's own vector is the query).

# %%
def show(frame, label):
    out = frame.assign(title=frame["item_id"].map(titles), year=frame["item_id"].map(catalog.set_index("item_id")["year"]))
    print(label)
    display(out[["rank", "title", "year", "score"]].head(K).style.hide(axis="index").format({"score": "{:.3f}"}))

show(retriever.search(REQUEST, k=K), f"request: {REQUEST!r}")

user = next(u for u in split.users if likes_text(catalog, split.history(u, include_valid=True)))
seen = split.history(user, include_valid=True)["item_id"].tolist()  # train + valid ratings: all before the test item
profile_text = likes_text(catalog, split.history(user, include_valid=True))
show(retriever.search(profile_text, k=K, exclude=seen), f"user {user}'s profile: {profile_text!r} (seen movies left out)")

heat = catalog[catalog["title"].str.startswith("Heat")]
anchor = int(heat["item_id"].iloc[0]) if len(heat) else int(catalog["item_id"].iloc[0])
show(retriever.more_like_this(anchor, k=K), f"more like {titles[anchor]!r}")

# %% [markdown]
# ## 3 · Filters on facts still return k
# A year range, genres and "not seen yet" become a FAISS ID selector, so the search ranks only
# eligible movies and returns exactly k of them whenever k exist (no over-fetch that comes back
# short). The same search by plain numpy over all vectors is the reference.

# %%
filters = dict(years=(1980, 1999), genres=["Comedy"], exclude=seen)
found = retriever.search(REQUEST, k=K, **filters)
reference = retriever.brute_force(retriever.encode_query(REQUEST), k=K, **filters)
eligible = FactFilter(**filters).allowed_ids(catalog)
print(f"{len(eligible):,} eligible movies; returned {len(found)}; "
      f"same ids as brute force: {found['item_id'].tolist() == reference['item_id'].tolist()}")
show(found, "comedies from 1980-1999, seen ones left out")
for decade in range(1910, 2020, 10):  # a decade with a few comedies, fewer than k, in this catalog
    few_filter = FactFilter(years=(decade, decade + 9), genres=("Comedy",))
    n_few = len(few_filter.allowed_ids(catalog))
    if 0 < n_few < K:
        few = retriever.search(REQUEST, k=K, filters=few_filter)
        print(f"comedies of the {decade}s: {n_few} eligible, {len(few)} returned for k={K}")
        break

# %% [markdown]
# ## 4 · Exact vs approximate search
# HNSW (a graph) and IVF (clusters) answer a query by visiting only part of the catalog, so
# they can miss true neighbours: they trade recall for speed, and how much recall depends on
# the index settings and the data. The `recall_at_K` column below is the share of exact search's
# top-K that each index returns for real profile queries; read it before choosing one. At this
# catalog's size exact search is already fast. The benchmark section `retrieval`
# (BENCHMARKS.md) measures speed and recall at one million vectors.

# %%
n_queries = 40 if TINY else 200
query_users = [u for u in split.users[:n_queries * 2] if likes_text(catalog, split.history(u))][:n_queries]
queries = encoder.encode([likes_text(catalog, split.history(u)) for u in query_users], normalize_embeddings=True)
exact = retriever.index
rows = []
for kind, params in [("flat", {}), ("hnsw", dict(M=32, ef_search=64)), ("ivf", dict(nprobe=8))]:
    t = time.perf_counter()
    index = exact if kind == "flat" else VectorIndex(catalog["item_id"], retriever.vectors, kind=kind, **params)
    build = time.perf_counter() - t
    t = time.perf_counter()
    for q in queries:
        index.search(q, k=K)
    per_query = (time.perf_counter() - t) / len(queries)
    rows.append(dict(index=kind, build_s=round(build, 3), query_ms=round(per_query * 1000, 3),
                     **{f"recall_at_{K}": recall_at_k(index, exact, queries, k=K)}))
index_table = pd.DataFrame(rows)
index_table

# %% [markdown]
# ## 5 · BM25: words, not meanings
# The same request through BM25 (bm25s, stemmed, stop words out). It matches the catalog's own
# words (a director's name) exactly, and only words: our descriptions are built from facts and
# carry no plot, so a paraphrase finds whatever shares a word with it. Compare the two probes.

# %%
bm25 = BM25Index(catalog["item_id"], texts)
ids, scores = bm25.search(REQUEST, k=K)
show(pd.DataFrame({"item_id": ids, "score": scores, "rank": np.arange(1, len(ids) + 1)}), f"BM25: {REQUEST!r}")
dense_top = set(retriever.search(REQUEST, k=K)["item_id"])
print(f"top-{K} overlap between BM25 and the bi-encoder: {len(dense_top & set(ids.tolist()))} movies")
for probe in ["Michael Mann", "a movie about robbing a bank"]:
    lexical_ids, lexical_scores = bm25.search(probe, k=3)
    dense = retriever.search(probe, k=3)
    print(f"{probe!r}\n  BM25:       " + "; ".join(f"{titles[i]} ({s:.2f})" for i, s in zip(lexical_ids, lexical_scores))
          + "\n  bi-encoder: " + "; ".join(f"{titles[i]} ({s:.2f})" for i, s in zip(dense["item_id"], dense["score"])))

# %% [markdown]
# ## 6 · A cross-encoder the kit trains itself
# Training pairs come from the **training split** only. For each training user, the older part of
# their history becomes an NL profile and the liked movies among their newest ratings are
# positives; negatives are (a) **hard**: movies the user rated below 4 that the bi-encoder ranks
# closest to the profile (seen and not liked: the bi-encoder's top *unseen* results would mostly be
# movies the user simply never met, and a model trained on them learns to rank close matches down),
# (b) random movies they never rated, and (c) **query swaps**: one of their liked movies under the
# profile of a dissimilar training user, so that the model has to read the profile. The model
# starts from the bundled MiniLM with a fresh one-logit head. It is saved to the cache and reloaded
# on the next run (same config = same model). Evaluation users are held out: no pair is built from
# them. Each training run also records the shared contract's known-answer check on the synthetic
# catalog (`info["synthetic_contract"]`).

# %%
trained = train_cross_encoder(config, ds, split, encoder=encoder, retriever=retriever)
info = trained.info
print(f"{info['name']}: {'reloaded from the cache' if info['reloaded'] else 'trained now'}; "
      f"{info['pairs']:,} pairs {info['pairs_by_kind']} from {info['train_users']} users; "
      f"training took {info['seconds_train']:.1f} s on {info['torch_threads']} threads "
      f"(load average {info.get('load_average')}); skipped users: {info['skipped_users']}")
print("known-answer check on the synthetic catalog:", info.get("synthetic_contract", "not recorded"))
if trained.pairs is not None:
    display(trained.pairs.groupby("kind").head(2)[["kind", "query", "text", "label"]])

# %% [markdown]
# ## 7 · Does reranking help? NDCG@K on held-out users
# The relevant item is each held-out user's **test** movie, their latest rating. Their history is
# everything they rated before it: the training ratings *and* the validation rating just before
# the test one (the protocol of `recnb.data.split`; `evaluate_reranking` reads
# `split.history(u, include_valid=True)`).
# For each held-out user: the bi-encoder's top-`DEPTH` for the profile of that history (every
# movie in it left out), then four orders of those same `DEPTH` candidates: the bi-encoder's
# own, BM25's, the **untrained** cross-encoder (bundled MiniLM + a freshly initialised head: what
# training starts from) and the **trained** one, each scored by NDCG at the list length `K`.
# Ties never flatter (the kit's pessimistic metrics); intervals are 95% bootstrap CIs over users.
# Whatever comes out is reported as is.

# %%
untrained = fresh_head(config.max_length, config.seed)
summary, per_user = evaluate_reranking(
    {"cross-encoder (trained)": trained.model, "cross-encoder (untrained head)": untrained},
    info["heldout_users"][:N_EVAL_USERS], ds, split, retriever=retriever, catalog=catalog, depth=DEPTH, k=K)
print(f"NDCG@{K} of reordering the bi-encoder's top-{DEPTH} (history: train + valid ratings)")
display(summary.style.hide(axis="index").format(precision=4))

# %%
by = summary.set_index("method")
ndcg = f"ndcg@{K}"
print(f"{int(by[f'target_in_top{DEPTH}'].iloc[0])} of {int(by['users'].iloc[0])} held-out users have their test movie in the "
      f"bi-encoder's top-{DEPTH}; every other user scores 0 for every method.")
for m in ["bm25", "cross-encoder (untrained head)", "cross-encoder (trained)"]:
    print(f"{m:32} NDCG@{K} {by.loc[m, ndcg]:.4f} vs bi-encoder {by.loc['bi-encoder', ndcg]:.4f}: "
          f"difference {by.loc[m, 'vs bi-encoder']} (95% CI; an interval containing 0 is no evidence either way)")

# %% [markdown]
# ## 8 · Speed vs accuracy
# Candidates scored per second (the bi-encoder: one query encoding + dot products; BM25: sparse
# scoring; cross-encoders: one transformer pass per pair) against NDCG@K from section 7, on
# this machine.

# %%
speed_accuracy_figure(summary, k=K)

# %% [markdown]
# ## 9 · Try it: one request, three rankings
# Type a request and press Enter. Columns: the bi-encoder over the whole catalog, BM25 over the
# whole catalog, and the trained cross-encoder reranking the bi-encoder's top-`DEPTH`. Each card says
# where the other columns put that movie; click a card to highlight it everywhere
# (`view.selected` has its id).

# %%
view = CompareRankings(request_rankers(retriever, bm25, trained.model, depth=DEPTH), catalog, k=K, request=REQUEST)
view

# %%
print(view.status)
print("top-k overlap between columns:", {f"{a} / {b}": n for (a, b), n in view.overlap().items()})

# %% [markdown]
# ## 10 · Record the results
# A full run writes its numbers to `notebooks/results/02_retrieval_and_reranking.json` (tiny runs
# do not overwrite it).

# %%
elapsed = time.perf_counter() - t_start
record = {
    "tiny": TINY, "catalog_items": len(catalog), "depth": DEPTH, "k": K,
    "model": {k: v for k, v in info.items() if k != "heldout_users"},
    "ndcg_table": summary.to_dict("records"), "index_table": index_table.to_dict("records"),
    "seconds": round(elapsed, 1),
}
if not TINY:
    out = Path("results") / "02_retrieval_and_reranking.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(record, indent=2, default=str) + "\n")
    print(f"wrote {out}")
print(f"notebook ran in {elapsed:.0f} s")
