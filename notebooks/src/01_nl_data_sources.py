# %% [markdown]
# # 01 · Natural-language data for recommendation
#
# Classic recommenders see users and items as IDs. Language models see **text**. This notebook
# walks through the kinds of text a recommender can use, with the data the kit bundles:
#
# | kind of text | written by | here | what it gives a recommender |
# |---|---|---|---|
# | item descriptions | the catalog (here: composed from facts) | `movielens-small` `description` | what an item *is*, even with no ratings |
# | NL user profiles | generated from ratings, then edited by the person | `profile_for_user` | what a person likes, readable and editable |
# | reviews | users, about one item | Amazon Reviews 2023 (**format fixture**) | why someone liked or disliked an item |
# | dialogues | a seeker and a recommender, turn by turn | ReDial (**format fixture**) | requests in the person's own words, with feedback |
# | requests | the person, right now | "a funny heist movie" | intent that no rating history has |
#
# The last section looks at where text can help when IDs cannot: **cold-start items** that no
# one rated yet.

# %% tags=parameters
# The test suite runs this notebook with TINY set to True (fewer users, a smaller catalog for the text search).
# Comments on the parameter lines below stay free of equals signs and colons, so papermill can parse them.
TINY = False  # True uses fewer users and a smaller catalog
N_PROFILE_USERS = 200  # users whose profiles section 2 compares (at most 40 in tiny mode)

# %%
import shutil
import tempfile
import textwrap
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
from IPython.display import display

import recnb
from recnb.candidates.retriever import DenseRetriever
from recnb.data.describe import describe_movie
from recnb.data.titles import natural_title
from recnb.text.profile import Profile, profile_for_user

if TINY:
    N_PROFILE_USERS = min(N_PROFILE_USERS, 40)

# %% [markdown]
# ## 1 · Item descriptions built from facts
# The bundled set joins MovieLens ratings with Wikidata film facts (director, cast, country,
# language, awards, runtime). `description` is composed from those facts by one function,
# `recnb.data.describe.describe_movie`, so every loader's movies read the same way. Movies
# without Wikidata facts still get a (shorter) sentence from title, year and genres.

# %%
ds = recnb.load_dataset("movielens-small")
items = ds.items
lengths = items["description"].str.len()
print(f"{len(items):,} movies; {items.has_facts.mean():.0%} have Wikidata facts")
print(f"description length (characters): median {lengths[items.has_facts].median():.0f} with facts, "
      f"{lengths[~items.has_facts].median():.0f} without")
items[["title", "year", "genres", "director", "cast", "awards", "description"]].head(3)

# %%
row = items[items.has_facts].iloc[0]
facts = {c: row[c] for c in ["genres", "director", "cast", "country", "language", "awards", "runtime", "wd_genres"]}
rebuilt = describe_movie(row["title"], row["year"], **facts)
print("facts:", {k: v for k, v in facts.items() if isinstance(v, str) and v or isinstance(v, (int, float)) and v == v})
print("\ndescription:", textwrap.fill(rebuilt, 100))
print("\nidentical to the stored description:", rebuilt == row["description"])
no_facts = items[~items.has_facts].iloc[0]
print("\na movie without facts:", no_facts["description"])

# %% [markdown]
# ## 2 · Ratings turned into NL profiles
# `profile_for_user` reads the facts of the movies a person rated high and low and writes one
# sentence per strong pattern (a genre, a director, a decade, an actor), keeping the movies it
# was drawn from as evidence. Anyone can read it, and notebook 03 lets the person edit it.

# %%
split = ds.split(seed=0)
train = split.train
user, profile = next((int(u), p) for u in split.users  # the first user with both likes and dislikes
                     if (p := profile_for_user(split, items, int(u))).likes and p.dislikes)
print(f"user {user}:")
for s in profile.statements:
    evidence = ", ".join(natural_title(ds.titles[i]) for i in s.evidence[:3])
    print(f"{s.polarity:8} {s.text:45} evidence: {evidence}{' ...' if len(s.evidence) > 3 else ''}")

# %% [markdown]
# How informative are these profiles across users? The cell below counts how many distinct
# likes-texts there are and which sentences are the most common: users whose profiles read the
# same look the same to any model that sees only the profile text.

# %%
profiles = {int(u): profile_for_user(split, items, int(u)) for u in split.users[:N_PROFILE_USERS]}
n_likes = pd.Series({u: len(p.likes) for u, p in profiles.items()})
n_dislikes = pd.Series({u: len(p.dislikes) for u, p in profiles.items()})
common = Counter(s.text for p in profiles.values() for s in p.statements)
print(f"{len(profiles)} users: {np.mean(n_likes > 0):.0%} have at least one 'like' sentence, "
      f"{np.mean(n_dislikes > 0):.0%} at least one 'dislike'; median {n_likes.median():.0f} likes per profile")
print(f"{len(set(Profile(p.likes).to_text() for p in profiles.values()))} distinct likes-texts among them")
pd.DataFrame(common.most_common(8), columns=["statement", "users"])

# %% [markdown]
# ## 3 · Reviews: what the Amazon Reviews 2023 files look like
# **These are made-up format fixtures, not real data**: `tests/fixtures/` holds a few invented
# rows in the exact file format of the Amazon Reviews 2023 release, so that the loader is tested
# without the real files (download them yourself and pass `path=` to use them). A review is text
# about one item by one person: it says *why*, which a star rating cannot.

# %%
def fixture_folder(name: str) -> Path | None:
    """tests/fixtures/<name> of this checkout, copied to a temp folder (loaders write a manifest beside data)."""
    for base in [Path.cwd(), *Path.cwd().parents]:
        src = base / "tests" / "fixtures" / name
        if src.is_dir():
            dst = Path(tempfile.mkdtemp(prefix="recnb-fixture-")) / name
            shutil.copytree(src, dst)
            return dst
    print(f"tests/fixtures/{name} not found (an installed kit without its tests): skipping this section")
    return None

amazon_path = fixture_folder("amazon-reviews-2023")
if amazon_path:
    amazon = recnb.load_dataset("amazon-reviews-2023", path=amazon_path)
    print("MADE-UP FORMAT FIXTURE:", amazon)
    display(amazon.reviews[["user_id", "item_id", "rating", "title", "text"]].head(4))
    print(textwrap.fill("product description (composed like the movies'): " + amazon.items["description"].iloc[0], 100))

# %% [markdown]
# ## 4 · Dialogues: what ReDial conversations look like
# **Again a made-up format fixture, not real data**, in the ReDial file format: a seeker asks
# for movies, a recommender suggests some, and movie mentions are `@id` markers that the loader
# resolves. Dialogues carry requests in the person's own words, and feedback on each suggestion.

# %%
redial_path = fixture_folder("redial")
if redial_path:
    redial = recnb.load_dataset("redial", path=redial_path)
    print("MADE-UP FORMAT FIXTURE:", redial)
    first = redial.dialogues[redial.dialogues.conversation_id == redial.dialogues.conversation_id.iloc[0]]
    for turn in first.itertuples():
        print(f"{turn.role:>11}: {turn.text}")
    display(redial.ratings.head())

# %% [markdown]
# ## 5 · Where text can help when IDs cannot: cold-start items
# Each user's held-out **test** movie is their latest rating; everything before it is the history
# an evaluation may use: the training ratings plus the **validation** rating just before the test
# one (`split.train_valid`). An item nobody rated in that history has no ID signal at all:
# popularity gives it 0, collaborative filtering has no vector for it. Its description still says
# what it is, so a text model can place it. How many such items are there, and how do they fare?

# %%
known = split.train_valid  # train + valid: everything before each user's test movie
warm = set(known["item_id"])
cold = items[~items["item_id"].isin(warm)]
test = split.test
cold_test = test[test["item_id"].isin(cold["item_id"])]
print(f"{len(cold):,} movies have no rating in train or valid; {len(cold_test)} of {len(test)} users' held-out "
      f"test movie is one of them")
cold[["title", "year", "genres", "description"]].head(4)

# %% [markdown]
# For the users whose test movie is cold: where does it rank among all movies not in their
# history (train and valid), by popularity (rating counts in train + valid) and by the bi-encoder
# matching their NL profile (built from the same history) to descriptions?
# Ties are counted pessimistically (a cold item tied at 0 with every other cold item ranks last
# among them).

# %%
counts = known.groupby("item_id").size()
catalog = items if not TINY else items[items["item_id"].isin(
    pd.concat([cold["item_id"], counts.sort_values(ascending=False).index[:1500].to_series()]))]
retriever = DenseRetriever(catalog, recnb.load_encoder("minilm"))
vectors = dict(zip(catalog["item_id"], retriever.vectors))

def pessimistic_rank(scores: np.ndarray, target_pos: int) -> int:
    return int((scores > scores[target_pos]).sum() + (scores == scores[target_pos]).sum())

rows = []
for u, target in zip(cold_test["user_id"], cold_test["item_id"]):
    hist = split.history(u, include_valid=True)
    text = Profile(profile_for_user(known, items, u).likes).to_text()
    if not text:
        continue
    unseen = catalog.loc[~catalog["item_id"].isin(hist["item_id"]), "item_id"].to_numpy()
    pos = int(np.flatnonzero(unseen == target)[0])
    pop = counts.reindex(unseen).fillna(0).to_numpy()
    dense = np.stack([vectors[i] for i in unseen]) @ retriever.encode_query(text)
    rows.append(dict(user_id=u, movie=natural_title(ds.titles[target]), candidates=len(unseen),
                     rank_popularity=pessimistic_rank(pop, pos), rank_bi_encoder=pessimistic_rank(dense, pos)))
cold_ranks = pd.DataFrame(rows)
print(f"{len(cold_ranks)} users with a profile and a cold test movie; median rank among ~{cold_ranks.candidates.median():.0f} "
      f"movies not in their history: popularity {cold_ranks.rank_popularity.median():.0f}, bi-encoder {cold_ranks.rank_bi_encoder.median():.0f}; "
      f"in the top 100: popularity {(cold_ranks.rank_popularity <= 100).sum()}, bi-encoder {(cold_ranks.rank_bi_encoder <= 100).sum()}")
cold_ranks.head(10)

# %% [markdown]
# A cold movie can also be recommended **like a warm one**: its nearest neighbours by description
# can be movies people did rate (the last column counts their ratings in train + valid), and
# "people who liked these may like it" then works from day one.

# %%
some_cold = int(cold["item_id"][cold["item_id"].isin(catalog["item_id"])].iloc[0])
near = retriever.more_like_this(some_cold, k=5)
near["ratings (train + valid)"] = near["item_id"].map(counts).fillna(0).astype(int)
print(f"cold movie: {natural_title(ds.titles[some_cold])} — nearest movies by description:")
near[["rank", "title", "score", "ratings (train + valid)"]]
