"""ReDial (Li et al. 2018): movie-recommendation dialogues, from the files you downloaded.

``train_data.jsonl`` / ``test_data.jsonl`` (from redial_dataset.zip, https://redialdata.github.io/website/),
one conversation per line: conversationId, initiatorWorkerId (the seeker), respondentWorkerId
(the recommender), messages [{timeOffset, text, senderWorkerId, messageId}], movieMentions
{id: "Title (Year)"} (``[]`` when none), initiatorQuestions / respondentQuestions
{id: {suggested, seen, liked}} (``[]`` when unanswered). Movies are written "@id" in texts.

What becomes what:

* ``items``: every mentioned movie (title and year parsed from "Title (Year)");
* ``ratings``: the seeker's own answers (``initiatorQuestions``; the recommender's answers when
  the seeker gave none): liked=1 -> 1.0, liked=0 -> 0.0; "did not say" (2) is dropped.
  ReDial has no clock times, so ``timestamp`` is a pseudo-time that orders ratings by
  conversation id, then by the message where the movie first came up;
* ``dialogues``: one row per message, with the "@id" mentions resolved to titles.
"""
from __future__ import annotations

import re

import pandas as pd

from recnb.data.dataset import Dataset
from recnb.data.describe import describe_movie
from recnb.data.errors import SchemaError
from recnb.data.files import Source
from recnb.data.registry import DatasetSpec, register_dataset
from recnb.data.schema import check_schema, finish_items, finish_ratings, require_columns
from recnb.data.titles import split_title_year

NAME = "redial"
HOW_TO_GET = ("download redial_dataset.zip from https://redialdata.github.io/website/ and pass the zip "
              "or the folder holding train_data.jsonl / test_data.jsonl as path=")
LICENCE_NOTE = ("ReDial (Li et al., NeurIPS 2018, 'Towards Deep Conversational Recommendations'); "
                "see https://redialdata.github.io/website/ for its licence.")
PARTS = {"train_data.jsonl": "train", "valid_data.jsonl": "valid", "test_data.jsonl": "test"}
REQUIRED_KEYS = ("conversationId", "messages", "movieMentions", "initiatorWorkerId", "respondentWorkerId")
MESSAGE_KEYS = ("text", "senderWorkerId")
MENTION = re.compile(r"@(\d+)")
LIKED = {0: 0.0, 1: 1.0}


def _as_dict(value) -> dict:
    """ReDial writes an empty mapping as [] ; accept both."""
    return value if isinstance(value, dict) else {}


def _movie_id(key):
    key = str(key).strip()
    return int(key) if key.isdigit() else key


def _conversations(src: Source, name: str):
    fix = f"use the file exactly as downloaded (one JSON conversation per line). {HOW_TO_GET}"
    for no, conv in src.iter_json_objects(name, REQUIRED_KEYS, what="JSON conversation"):
        for turn, msg in enumerate(conv["messages"]):
            gone = [k for k in MESSAGE_KEYS if not isinstance(msg, dict) or k not in msg]
            if gone:
                raise SchemaError(f"{NAME}: {name} line {no}, message {turn} lacks key(s) {', '.join(gone)}",
                                  path=src.where(name), fix=fix)
        yield conv


def load_redial(path, checksums=None, manifest: bool = True) -> Dataset:
    """ReDial conversations as a Dataset (see the module docstring for the mapping)."""
    src = Source(path, NAME, [], any_of=list(PARTS), subdirs=["redial_dataset", "redial"],
                 zips=["redial_dataset.zip"], how_to_get=HOW_TO_GET)
    used = [n for n in PARTS if src.has(n)]
    extra_csv = "movies_with_mentions.csv"
    if src.has(extra_csv):
        used.append(extra_csv)
    src.verify(checksums, used, manifest=manifest)

    titles: dict = {}
    mentions_count: dict = {}
    messages, ratings = [], []
    for name in (n for n in PARTS if src.has(n)):
        conv_no = -1
        for conv_no, conv in enumerate(_conversations(src, name)):
            cid = str(conv["conversationId"])
            order = int(cid) if cid.isdigit() else conv_no
            seeker, recommender = conv["initiatorWorkerId"], conv["respondentWorkerId"]
            mentioned = {_movie_id(k): v for k, v in _as_dict(conv["movieMentions"]).items()}
            for mid, title in mentioned.items():
                title = str(title or "").strip()
                if title and not titles.get(mid):  # fills the "" left by an earlier bare @id mention
                    titles[mid] = title
                mentions_count[mid] = mentions_count.get(mid, 0) + 1
            first_turn: dict = {}
            for turn, msg in enumerate(conv["messages"]):
                ids = [_movie_id(m) for m in MENTION.findall(msg["text"])]
                for mid in ids:
                    first_turn.setdefault(mid, turn)
                    titles.setdefault(mid, "")
                messages.append({
                    "conversation_id": cid, "part": PARTS[name], "turn": turn,
                    "role": "seeker" if msg["senderWorkerId"] == seeker else "recommender",
                    "sender_id": msg["senderWorkerId"], "text": msg["text"], "text_with_titles": None,
                    "mentioned": ids, "time_offset": msg.get("timeOffset"),
                    "seeker_id": seeker, "recommender_id": recommender,
                })
            answers, source = _as_dict(conv.get("initiatorQuestions")), "seeker"
            if not answers:
                answers, source = _as_dict(conv.get("respondentQuestions")), "recommender"
            for key, ans in answers.items():
                liked = _as_dict(ans).get("liked")
                if liked not in LIKED:
                    continue
                mid = _movie_id(key)
                titles.setdefault(mid, "")
                ratings.append({
                    "user_id": seeker, "item_id": mid, "rating": LIKED[liked],
                    "timestamp": order * 1000 + min(first_turn.get(mid, 999), 999),
                    "conversation_id": cid, "suggested": _as_dict(ans).get("suggested"),
                    "seen": _as_dict(ans).get("seen"), "answered_by": source,
                })
        if conv_no < 0:  # an empty part would silently shrink the data set
            raise src.no_rows(name)

    if src.has(extra_csv):
        try:
            table = pd.read_csv(src.text_stream(extra_csv), dtype=str, keep_default_na=False)
        except pd.errors.EmptyDataError:  # zero bytes: not even a header
            raise src.no_rows(extra_csv) from None
        except (ValueError, pd.errors.ParserError) as err:
            raise SchemaError(f"{NAME}: {extra_csv} cannot be parsed ({str(err).splitlines()[0]})",
                              path=src.where(extra_csv), fix=HOW_TO_GET) from None
        require_columns(table.columns, ["movieId", "movieName"], f"{NAME}: {extra_csv}", where=src.where(extra_csv))
        if table.empty:
            raise src.no_rows(extra_csv)
        for mid, title in zip(table["movieId"], table["movieName"]):
            if not titles.get(_movie_id(mid)):
                titles[_movie_id(mid)] = title.strip()

    # "@id" -> title only now that every file is read, so the result does not depend on file order.
    for msg in messages:
        msg["text_with_titles"] = MENTION.sub(lambda m: titles.get(_movie_id(m.group(1))) or m.group(0), msg["text"])

    rows = []
    for mid, raw in titles.items():
        title, year = split_title_year(raw)
        n = mentions_count.get(mid, 0)
        text = describe_movie(title or f"Movie @{mid}", year)
        if n:
            text += f" Mentioned in {n} ReDial conversation{'s' if n != 1 else ''}."
        rows.append({"item_id": mid, "title": title, "year": year, "genres": "", "description": text,
                     "n_conversations": n})
    items = finish_items(pd.DataFrame(rows, columns=["item_id", "title", "year", "genres", "description",
                                                     "n_conversations"]))
    ratings = finish_ratings(pd.DataFrame(ratings, columns=["user_id", "item_id", "rating", "timestamp",
                                                            "conversation_id", "suggested", "seen",
                                                            "answered_by"]))
    dialogues = pd.DataFrame(messages, columns=["conversation_id", "part", "turn", "role", "sender_id", "text",
                                                "text_with_titles", "mentioned", "time_offset", "seeker_id",
                                                "recommender_id"])
    check_schema(items, ratings, NAME, where=src.where, fix=HOW_TO_GET)
    src.record()
    return Dataset(NAME, items, ratings, dialogues=dialogues,
                   info={"path": str(src.zip_path or src.folder), "files": used, "licence": LICENCE_NOTE,
                         "timestamp": "pseudo-time: conversation id * 1000 + first message index of the movie"})


register_dataset(DatasetSpec(NAME, load_redial, bundled=False, how_to_get=HOW_TO_GET,
                             summary="ReDial: 11k movie-recommendation dialogues with seeker like/dislike answers"))
