"""MovieLens sets you download from GroupLens yourself: ml-1m (``::`` files) and ml-latest / ml-32m (CSV).

recnb ships none of these files (ml-1m's licence forbids redistribution; the large sets
are too big). Point the loader at the folder or at the zip as downloaded::

    load_dataset("ml-1m", "~/Downloads/ml-1m.zip", checksums="~/Downloads/ml-1m.zip.md5")
    load_dataset("ml-32m", "~/data/ml-32m")
"""
from __future__ import annotations

import csv
import io
import warnings

import pandas as pd

from recnb.data.dataset import Dataset
from recnb.data.describe import describe_movie
from recnb.data.errors import DatasetError, EncodingError, SchemaError
from recnb.data.files import DAMAGED, Source
from recnb.data.registry import DatasetSpec, register_dataset
from recnb.data.schema import check_schema, finish_items, finish_ratings, require_columns
from recnb.data.titles import split_title_year

GROUPLENS = "https://files.grouplens.org/datasets/movielens"
LICENCE_NOTE = ("MovieLens data from GroupLens (University of Minnesota): see the README in the download "
                "for its terms (research use, no endorsement, cite Harper & Konstan 2015).")


def _how_to_get(name: str) -> str:
    return (f"download {GROUPLENS}/{name}.zip (and {name}.zip.md5 to check it), then pass the zip "
            f"or the unzipped {name}/ folder as path=")


# --------------------------------------------------------------------------- ml-1m
ML1M_FILES = {
    "ratings.dat": ["user_id", "item_id", "rating", "timestamp"],
    "movies.dat": ["item_id", "title", "genres"],
    "users.dat": ["user_id", "gender", "age", "occupation", "zip_code"],
}


def _read_dat(src: Source, name: str, dtypes: dict) -> pd.DataFrame:
    """One ``::``-separated ml-1m file. ml-1m is ISO-8859-1; a copy re-saved as UTF-8 also reads."""
    text = src.read_text(name, encodings=("utf-8", "latin-1"))
    cols = ML1M_FILES[name]
    lines = text.splitlines()
    if not any(line.strip() for line in lines):  # an empty file would load as 0 rows, silently
        raise src.no_rows(name)
    for no, line in enumerate(lines, 1):
        if not line.strip():
            continue
        n = line.count("::") + 1
        if n != len(cols):
            raise SchemaError(
                f"ml-1m: {name} line {no} has {n} field(s), expected {len(cols)} "
                f"({'::'.join(cols)}): {line[:80]!r}",
                path=src.where(name), fix=f"use the file exactly as downloaded. {_how_to_get('ml-1m')}",
            )
    body = "\n".join(line.replace("::", "\t") for line in lines if line.strip())
    try:
        return pd.read_csv(io.StringIO(body), sep="\t", header=None, names=cols, dtype=dtypes,
                           quoting=csv.QUOTE_NONE, keep_default_na=False)
    except ValueError as err:
        raise SchemaError(f"ml-1m: {name} holds a value of the wrong type ({err})", path=src.where(name),
                          fix=f"use the file exactly as downloaded. {_how_to_get('ml-1m')}") from None


def load_ml_1m(path, checksums=None, manifest: bool = True) -> Dataset:
    """MovieLens 1M: 1,000,209 ratings (1-5 stars) by 6,040 users on 3,706 of 3,883 movies, 2000-2003.

    ``checksums``: {file: md5/sha256}, a ``.md5`` file, or the zip's digest; a ``ml-1m.zip.md5``
    beside the zip is checked automatically. Extras: ``users`` (gender, age band, occupation, zip).
    """
    src = Source(path, "ml-1m", ["ratings.dat", "movies.dat"], subdirs=["ml-1m"], zips=["ml-1m.zip"],
                 how_to_get=_how_to_get("ml-1m"))
    used = [n for n in ML1M_FILES if src.has(n)]
    src.verify(checksums, used, manifest=manifest)
    ratings = _read_dat(src, "ratings.dat", {"user_id": "int64", "item_id": "int64", "rating": "float64",
                                             "timestamp": "int64"})
    movies = _read_dat(src, "movies.dat", {"item_id": "int64", "title": "str", "genres": "str"})
    users = None
    if src.has("users.dat"):
        users = _read_dat(src, "users.dat", {"user_id": "int64", "gender": "str", "age": "int64",
                                             "occupation": "int64", "zip_code": "str"})
    items = _movie_items(movies)
    ratings = finish_ratings(ratings)
    check_schema(items, ratings, "ml-1m", "movies.dat", "ratings.dat", where=src.where, fix=src.how_to_get)
    src.record()
    return Dataset("ml-1m", items, ratings, users=users,
                   info={"path": str(src.zip_path or src.folder), "files": used, "licence": LICENCE_NOTE})


def _movie_items(movies: pd.DataFrame, top_tags: pd.Series | None = None) -> pd.DataFrame:
    """title "Toy Story (1995)" -> title "Toy Story", year 1995; a description for each movie."""
    parsed = [split_title_year(t) for t in movies["title"].astype(str)]
    items = movies.copy()
    items["title"] = [t for t, _ in parsed]
    items["year"] = pd.array([y for _, y in parsed], dtype="Int64")
    items["genres"] = items["genres"].fillna("").astype(str).replace("(no genres listed)", "")
    tags = top_tags if top_tags is not None else pd.Series(dtype=object)
    descriptions = []
    for iid, title, year, genres in items[["item_id", "title", "year", "genres"]].itertuples(index=False):
        text = describe_movie(title, year, genres)
        tag_list = tags.get(iid)
        if tag_list:
            text += " MovieLens users tagged it: " + ", ".join(tag_list) + "."
        descriptions.append(text)
    items["description"] = descriptions
    return finish_items(items)


# --------------------------------------------------------------------------- ml-latest / ml-32m (CSV)
CSV_COLUMNS = {
    "ratings.csv": ["userId", "movieId", "rating", "timestamp"],
    "movies.csv": ["movieId", "title", "genres"],
    "tags.csv": ["userId", "movieId", "tag", "timestamp"],
    "links.csv": ["movieId", "imdbId", "tmdbId"],
}


def _field_count_error(src: Source, name: str, line: int, saw: int, header: list[str], fix: str) -> SchemaError:
    return SchemaError(f"{src.dataset}: {name} line {line} has {saw} field(s), expected {len(header)} "
                       f"({','.join(header)}); a lost line break or an unquoted comma?",
                       path=src.where(name), fix=fix)


def _first_bad_row(rows, width: int):
    """(line, fields) of the first non-blank row of a csv.reader that is not ``width`` fields wide."""
    for row in rows:
        if len(row) != width and not (len(row) <= 1 and not "".join(row).strip()):
            return rows.line_num, len(row)
    return None


def _scan_big(src: Source, name: str, header: list[str]):
    """Error path only: stream the file once more to find the row pandas choked on (None if none).

    A damaged zip member can inflate to garbage rows before its CRC fails at the end: that is
    reported as damage (CorruptFileError), the root cause, not as a bad row.
    """
    src.raise_if_damaged(name)
    try:
        with src.open_binary(name) as fh:
            rows = csv.reader(io.TextIOWrapper(fh, encoding="utf-8-sig", errors="replace", newline=""))
            next(rows, None)
            return _first_bad_row(rows, len(header))
    except (DatasetError, *DAMAGED, csv.Error):
        return None


def _read_csv(src: Source, name: str, dtypes: dict, nrows: int | None = None, small: bool = True) -> pd.DataFrame:
    """A GroupLens CSV (UTF-8, header row). Small files are decoded whole for exact error positions.

    A leading UTF-8 byte-order mark (a file re-saved by Excel or some editors) is skipped: it would
    otherwise make the first column "\\ufeffmovieId" and fail as a missing column.

    Every row must have as many fields as the header: pandas with ``usecols`` would silently cut
    a longer row (two rows glued together, an unquoted comma in a title) and pad a shorter one.
    """
    fix = f"use the file exactly as downloaded (UTF-8 CSV with a header). {src.how_to_get}"
    header: list[str] = []
    try:
        if small:
            text = src.read_text(name).removeprefix("\ufeff")  # not utf-8-sig: errors should say "UTF-8"
            rows = csv.reader(io.StringIO(text))
            header = next(rows, [])
            if not "".join(header).strip():
                raise src.no_rows(name)
            require_columns(header, CSV_COLUMNS[name], f"{src.dataset}: {name}", where=src.where(name), fix=fix)
            if not set(map(len, rows)) <= {len(header), 0}:  # fast pass (C loop); locate only when needed
                rows = csv.reader(io.StringIO(text))
                next(rows)
                bad = _first_bad_row(rows, len(header))
                if bad:
                    raise _field_count_error(src, name, *bad, header, fix)
            frame = pd.read_csv(io.StringIO(text), usecols=CSV_COLUMNS[name], dtype=dtypes, nrows=nrows,
                                keep_default_na=name == "links.csv")
        else:
            # The big file (ratings: 32M rows in ml-32m) is streamed through the C parser with
            # every column, so pandas itself rejects a row with too many fields.
            with src.open_binary(name) as fh:
                header = fh.readline().decode("utf-8-sig", errors="replace").strip().split(",")
                if not "".join(header).strip():
                    raise src.no_rows(name)
                require_columns(header, CSV_COLUMNS[name], f"{src.dataset}: {name}", where=src.where(name), fix=fix)
                with warnings.catch_warnings():
                    # index_col=False + a too-long *first* row only warns (and truncates): make it an error
                    warnings.simplefilter("error", pd.errors.ParserWarning)
                    frame = pd.read_csv(fh, header=None, names=header, index_col=False, dtype=dtypes,
                                        nrows=nrows, encoding="utf-8", engine="c")
            if list(frame.columns) != CSV_COLUMNS[name]:  # extra columns: drop them (no copy otherwise)
                frame = frame[CSV_COLUMNS[name]]
    except DatasetError:
        raise
    except UnicodeDecodeError as err:
        raise EncodingError(f"{src.dataset}: {name} is not valid UTF-8 ({err.reason} near byte {err.start})",
                            path=src.where(name), fix=fix) from None
    except (ValueError, csv.Error, pd.errors.ParserError, pd.errors.ParserWarning) as err:
        # A too-long row (ParserError/Warning) or a too-short one (NA in an integer column):
        # name its line. Small files were checked above; this pass reads the big one again.
        bad = None if small else _scan_big(src, name, header)
        if bad:
            raise _field_count_error(src, name, *bad, header, fix) from None
        raise SchemaError(f"{src.dataset}: {name} cannot be parsed ({str(err).splitlines()[0]})",
                          path=src.where(name), fix=fix) from None
    except DAMAGED as err:  # a zip member that fails to inflate or its CRC check, mid-stream
        raise src.damaged(name, err) from None
    if frame.empty and nrows != 0:
        raise src.no_rows(name)
    return frame


def _top_tags(tags: pd.DataFrame, k: int = 5) -> pd.Series:
    """item_id -> its k most applied tags (lowercased; ties alphabetical)."""
    t = tags.assign(tag=tags["tag"].astype(str).str.strip().str.lower())
    t = t[t["tag"] != ""]
    counts = t.groupby(["item_id", "tag"]).size().rename("n").reset_index()
    counts = counts.sort_values(["item_id", "n", "tag"], ascending=[True, False, True], kind="mergesort")
    return counts.groupby("item_id")["tag"].apply(lambda s: list(s[:k]))


def _load_csv_set(name: str, path, checksums=None, manifest: bool = True, nrows: int | None = None,
                  tag_descriptions: bool = True) -> Dataset:
    src = Source(path, name, ["ratings.csv", "movies.csv"], subdirs=[name], zips=[f"{name}.zip"],
                 how_to_get=_how_to_get(name))
    used = [n for n in CSV_COLUMNS if src.has(n)]
    src.verify(checksums, used, manifest=manifest)
    # One row past the cap says whether the last user read continues beyond it.
    raw = _read_csv(src, "ratings.csv", {"userId": "int64", "movieId": "int64", "rating": "float64",
                                         "timestamp": "int64"}, nrows=None if nrows is None else nrows + 1, small=False)
    raw, dropped = _whole_users(raw, nrows)
    ratings = raw.rename(columns={"userId": "user_id", "movieId": "item_id"})
    movies = _read_csv(src, "movies.csv", {"movieId": "int64", "title": "str", "genres": "str"})
    movies = movies.rename(columns={"movieId": "item_id"})
    tags = None
    if src.has("tags.csv"):
        tags = _read_csv(src, "tags.csv", {"userId": "int64", "movieId": "int64", "tag": "str",
                                           "timestamp": "int64"})
        tags = tags.rename(columns={"userId": "user_id", "movieId": "item_id"}).sort_values(
            ["user_id", "timestamp", "item_id"], kind="mergesort").reset_index(drop=True)
    items = _movie_items(movies, _top_tags(tags) if tags is not None and tag_descriptions else None)
    if src.has("links.csv"):
        links = _read_csv(src, "links.csv", {"movieId": "int64", "imdbId": "Int64", "tmdbId": "Int64"})
        links = links.rename(columns={"movieId": "item_id"})
        imdb = links["imdbId"].map(lambda v: "" if pd.isna(v) else f"tt{int(v):07d}")
        items = items.merge(links.assign(imdb_id=imdb)[["item_id", "imdb_id", "tmdbId"]]
                            .rename(columns={"tmdbId": "tmdb_id"}), on="item_id", how="left")
        items["imdb_id"] = items["imdb_id"].fillna("").astype(str)
    ratings = finish_ratings(ratings)
    check_schema(items, ratings, name, "movies.csv", "ratings.csv", where=src.where, fix=src.how_to_get)
    src.record()
    info = {"path": str(src.zip_path or src.folder), "files": used, "licence": LICENCE_NOTE, "nrows": nrows}
    if nrows is not None:
        info["nrows_dropped"] = dropped  # rows of the last user the cap cut into, left out
    return Dataset(name, items, ratings, tags=tags, info=info)


def _whole_users(raw: pd.DataFrame, nrows: int | None) -> tuple[pd.DataFrame, int]:
    """(the first ``nrows`` rows of ``raw``, read with one more, minus a user the cap cut into; that user's row count).

    ratings.csv is sorted by user then movieId, not by time: a user cut by the cap would keep an
    arbitrary part of their history, and a split would take a wrong test item from it.
    """
    if nrows is None or len(raw) <= nrows:
        return raw, 0
    cut_user = raw["userId"].iat[nrows]
    raw = raw.iloc[:nrows]
    partial = (raw["userId"] == cut_user).to_numpy()
    if partial.all() and nrows > 0:
        raise ValueError(f"nrows={nrows} ends inside the first user ({cut_user})'s ratings, so no user would be whole; "
                         "pass a larger nrows (or none)")
    return raw[~partial].reset_index(drop=True), int(partial.sum())


def load_ml_latest(path, checksums=None, manifest: bool = True, nrows: int | None = None,
                   tag_descriptions: bool = True) -> Dataset:
    """MovieLens latest (full or -small; CSV). Extras: ``tags``; items gain imdb_id/tmdb_id from links.csv.

    ``nrows`` reads only the first rows of ratings.csv (sorted by user, so: the first users),
    for a quick look at a large set. Users stay whole: the last user the cap cuts into is left
    out, and ``info["nrows_dropped"]`` says how many of its rows that was.
    ``tag_descriptions`` adds each movie's top tags to its description.
    """
    return _load_csv_set("ml-latest", path, checksums, manifest, nrows, tag_descriptions)


def load_ml_32m(path, checksums=None, manifest: bool = True, nrows: int | None = None,
                tag_descriptions: bool = True) -> Dataset:
    """MovieLens 32M (CSV, same layout as ml-latest): 32M ratings, 200k users, 87k movies."""
    return _load_csv_set("ml-32m", path, checksums, manifest, nrows, tag_descriptions)


register_dataset(DatasetSpec("ml-1m", load_ml_1m, bundled=False, how_to_get=_how_to_get("ml-1m"),
                             summary="MovieLens 1M: 1M ratings, 6,040 users, 3,883 movies, user demographics"))
register_dataset(DatasetSpec("ml-latest", load_ml_latest, bundled=False, how_to_get=_how_to_get("ml-latest"),
                             summary="MovieLens latest (CSV; also reads ml-latest-small): ratings, tags, links"))
register_dataset(DatasetSpec("ml-32m", load_ml_32m, bundled=False, how_to_get=_how_to_get("ml-32m"),
                             summary="MovieLens 32M (CSV): 32M ratings, 200k users, 87k movies, tags"))

__all__ = ["load_ml_1m", "load_ml_latest", "load_ml_32m"]
