# %% [markdown]
# # 00 · Start here: your first LLM-era recommendation in ten minutes
#
# This tour walks the kit's whole pipeline once, on real data, on your laptop's CPU, offline:
#
# **data → text → candidates → scores → ranking → explanation → evaluation**
#
# 1. load MovieLens ratings joined with Wikidata film facts (bundled with the kit);
# 2. look at one person's history;
# 3. write their taste as a short **natural-language profile**;
# 4. retrieve a top-10 from the whole catalog with a **bi-encoder** (all-MiniLM-L6-v2 + FAISS);
# 5. show it in the kit's ranked-list widget and a plotly chart, and check where the movie the
#    person actually rated next (their held-out test item) landed.
#
# Later notebooks go deeper into each step (see the README for the map).

# %% tags=parameters
# The test suite runs this notebook with TINY set to True (a smaller catalog, so the tour runs in seconds).
# Comments on the parameter lines below stay free of equals signs and colons, so papermill can parse them.
TINY = False  # True runs a smaller catalog in seconds
USER_ID = None  # None picks the first user whose profile has at least three likes
K = 10  # how many movies to recommend

# %%
import time

import numpy as np
import pandas as pd
import plotly.express as px
from IPython.display import display

import recnb
from recnb.candidates.index import VectorIndex
from recnb.data.titles import natural_title
from recnb.scores.base import Query
from recnb.scores.biencoder import BiEncoderRanker
from recnb.text.profile import Profile, profile_for_user
from recnb.widgets import RankedList

t_start = time.perf_counter()

# %% [markdown]
# ## 1 · Data
# `load_dataset` reads the bundled Parquet files and verifies their checksums. Items carry
# MovieLens fields, Wikidata facts and an NL **description** composed from those facts.

# %%
ds = recnb.load_dataset("movielens-small")
items, ratings = ds.items, ds.ratings
print(f"{len(ratings):,} ratings by {ratings.user_id.nunique()} users on {len(items):,} movies; "
      f"{items.has_facts.mean():.0%} of movies have Wikidata facts")
items[["item_id", "title", "year", "genres", "director", "description"]].head(3)

# %% [markdown]
# A **temporal leave-one-out split**: each user's latest rating is held out as the **test** item,
# and the rating just before it as a **validation** item (later notebooks tune on it). Scoring the
# test item, the history is everything before it: the training ratings *and* the validation
# rating (`split.train_valid`). Everything we show the model here comes from that history.

# %%
split = ds.split(seed=0)
known, test = split.train_valid, split.test  # known: train + valid, everything before each test item
parts = len(split.train) + len(split.valid) + len(test)
dropped = f"; {split.repeats_dropped} earlier ratings of re-rated movies dropped" if split.repeats_dropped else ""
print(f"{len(split.train):,} train + {len(split.valid):,} valid + {len(test):,} test = {parts:,} of "
      f"{len(ratings):,} ratings{dropped}; {len(test):,} users have a test item, {len(split.valid):,} of them "
      f"also a validation item")

# %% [markdown]
# ## 2 · One person's history

# %%
def pick_user(known, items, min_likes=3):
    for uid in sorted(known.user_id.unique()):
        if len(profile_for_user(known, items, uid).likes) >= min_likes:
            return uid
    raise ValueError("no user has enough liked items for a profile")

user = USER_ID if USER_ID is not None else pick_user(known, items)
history = split.history(user, include_valid=True).sort_values("timestamp").merge(
    items[["item_id", "title", "year", "genres"]], on="item_id")
print(f"user {user}: {len(history)} ratings before their test item "
      f"({len(split.history(user))} train + {len(history) - len(split.history(user))} valid)")
history.sort_values("rating", ascending=False).head(8)[["title", "year", "genres", "rating"]]

# %% [markdown]
# ## 3 · An NL profile
# The deterministic profile generator reads the facts of the movies this person rated high and
# low (genres, directors, decades, cast) and writes one sentence per strong pattern, keeping the
# movies each sentence was drawn from as evidence. Notebook 03 lets you edit it.

# %%
profile = profile_for_user(known, items, user)
for s in profile.statements:
    print(f"{s.polarity:8} w={s.weight:.2f}  {s.text:45}  evidence: {len(s.evidence)} movies")

# %% [markdown]
# A bi-encoder embeds the whole text, and embeddings largely **ignore negation**: "I dislike
# horror" lands near horror. So this first retrieval uses only the likes; notebook 03 scores
# likes and dislikes separately and measures the difference.

# %%
likes_only = Profile(profile.likes, user_id=user)
query = Query(user_id=user, history=tuple(history.item_id), ratings=tuple(history.rating), profile=likes_only)
print(query.profile_text)

# %% [markdown]
# ## 4 · Candidates from the whole catalog
# Each item description is embedded once (cached on disk, so a second run re-embeds nothing),
# and a FAISS index finds the closest items to the profile, skipping movies the person has seen.

# %% tags=first-recommendation
# tiny mode: this person's movies, their own held-out movie (section 6 ranks it) and the first
# 1,500 of the catalog; not everyone's held-out movies, which would make hits easier to find
catalog = items if not TINY else items[items.item_id.isin(
    pd.concat([history.item_id, test.item_id[test.user_id == user], items.item_id.iloc[:1500]]))]
ranker = BiEncoderRanker(recnb.load_encoder("minilm")).fit(known, catalog)
index = VectorIndex(ranker.item_ids, ranker.item_vectors)
found_ids, _ = index.search(ranker.query_vector(query), k=K, exclude=history.item_id)
top = ranker.rank(query, found_ids)
t_first = time.perf_counter() - t_start
print(f"top-{K} from {len(catalog):,} movies; first recommendation after {t_first:.1f} s "
      f"(embedding cache: {ranker.cache.hits} hits, {ranker.cache.misses} misses)")

# %% [markdown]
# ## 5 · The ranked-list widget
# One card per item: title, year, facts, a score bar and a "why" line. Click a card: the
# widget's `selected` value changes in Python too.

# %%
view = RankedList.from_ranking(top, items, caption=f"Bi-encoder top-{K} for user {user}")
view

# %%
chart = top.merge(items[["item_id", "title", "year"]], on="item_id")
chart["label"] = [f"{natural_title(t)} ({y})" for t, y in zip(chart.title, chart.year)]
fig = px.bar(chart[::-1], x="score", y="label", orientation="h", title="Cosine similarity to the profile",
             labels={"score": "cosine similarity", "label": ""})
fig.update_layout(height=380, margin=dict(l=10, r=10, t=40, b=10))
fig

# %% [markdown]
# ## 6 · A first, honest look at quality
# Where did the movie this person actually rated next (their test item, rated after every movie in
# the history above, validation item included) land among all the catalog's movies they had not
# rated yet?

# %%
held_out = int(test.loc[test.user_id == user, "item_id"].iloc[0])
unseen = catalog.item_id[~catalog.item_id.isin(history.item_id)].to_numpy()
scores = ranker.score(query, unseen)
rank_of_held_out = int((scores > scores[unseen == held_out][0]).sum() + (scores == scores[unseen == held_out][0]).sum())
title = items.set_index("item_id").title[held_out]
print(f"held-out test movie: {title!r}; rank {rank_of_held_out} of {len(unseen):,} movies not in the history "
      f"(a random order puts it at {len(unseen) / 2:.0f} on average)")

# %% [markdown]
# One user is an anecdote. Notebook 08 runs every ranker in the kit on the same protocol over
# many users, with confidence intervals, against ID-based baselines such as popularity.
