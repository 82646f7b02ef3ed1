"""TALLRec-style training examples for the pointwise "would this user like X? Yes/No" task.

Each example is one (user, item, Yes/No) question, asked with exactly the prompt the pointwise
LLM ranker (:mod:`recnb.scores.llm_pointwise`) asks at evaluation time: the same template, the
same deterministic NL profile (:func:`recnb.text.profile.profile_from_history`), the same
"Title (Year)" item text, the same chat format. Tuning on a different prompt than the one that is
scored would measure the prompt change, not the tuning.

Everything comes from the *training* part of a split, so nothing a protocol holds out is seen:

* a user and a cut point inside their training history are drawn (seeded); the history before
  the cut is what the prompt shows (the most recent ``max_history`` items; TALLRec showed 10) and
  what the profile is generated from (its first few likes and dislikes are shown);
* ``negatives="unseen"`` (default, matches the sampled protocol): "Yes" for the item the user
  watched next (at the cut), "No" for an item drawn uniformly from the catalog items the user
  never rated in training;
* ``negatives="rated"`` (TALLRec's own labels): the item at the cut, "Yes" when it was rated at
  or above ``like_at`` and "No" below it, so the model learns taste, not "was it watched".

Labels are balanced (half Yes, half No) and every example comes from a different user while
there are users left.

Each example also keeps the hashes of the ratings it was built from (``rows``: the history before
the cut, and the rated item at the cut), so a trained adapter can tell which ratings it learned
from, and the ``llm-lora`` ranker can refuse data that holds one of them out (see
:meth:`recnb.tuning.lora.LoraModel.check_data`).
"""
from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

NEGATIVE_KINDS = ("unseen", "rated")


@dataclass(frozen=True)
class TuningExample:
    """One training question: ``prefix + continuation`` is the prompt, ``answer`` the label token text.

    ``prefix`` is the part every candidate of this user shares (what the scorer caches);
    ``continuation`` is the item's own part of the question, up to where the model answers.
    """

    user_id: object
    item_id: object
    label: int  # 1 = Yes, 0 = No
    prefix: str
    continuation: str
    answer: str
    n_history: int = 0
    cut: int = 0
    #: row_hashes of the training ratings the question was built from (empty: not recorded)
    rows: tuple = field(default=(), repr=False, compare=False)

    @property
    def prompt(self) -> str:
        return self.prefix + self.continuation

    def to_dict(self) -> dict:
        return asdict(self)


def pointwise_template(template: str = "zero-shot", shots: int | None = 0):
    """The pointwise prompt template the tuned ranker is trained and scored with (from recnb.text.prompts)."""
    from recnb.text.prompts import get_template

    return get_template(template, "pointwise", shots=shots)


def shorten_profile(query, max_likes: int | None = 3, max_dislikes: int | None = 1):
    """The query with at most ``max_likes`` like and ``max_dislikes`` dislike statements (in the profile's order).

    Generated profiles can hold two dozen statements; a few keep the prompt short enough for a CPU
    (training cost grows with prompt length). Free-text (str) profiles are kept whole. None: no cap.
    """
    from dataclasses import replace

    profile = getattr(query, "profile", None)
    stmts = getattr(profile, "statements", None)
    if stmts is None or (max_likes is None and max_dislikes is None):
        return query
    likes = [s for s in stmts if s.text and s.polarity == "like"]
    dislikes = [s for s in stmts if s.text and s.polarity == "dislike"]
    keep = set(map(id, likes[:max_likes] if max_likes is not None else likes))
    keep |= set(map(id, dislikes[:max_dislikes] if max_dislikes is not None else dislikes))
    if len(keep) == len([s for s in stmts if s.text]):
        return query
    short = type(profile)([s for s in stmts if id(s) in keep], user_id=getattr(profile, "user_id", None))
    return replace(query, profile=short)


def render_question(llm, template, catalog, query, item_id, max_history: int | None = 5, max_likes: int | None = 3,
                    max_dislikes: int | None = 1) -> tuple[str, str]:
    """(shared prefix, item continuation without the answer), rendered like the ``llm-lora`` ranker renders them."""
    from recnb.text.prompts import ITEM_SENTINEL, render

    title = catalog[item_id]
    query = shorten_profile(query, max_likes, max_dislikes)
    rp = render(template, llm, query, catalog, item=ITEM_SENTINEL, max_history=max_history,
                reserve_tokens=llm.count_tokens(" " + title) + 8)
    prefix, pattern = rp.split_item()
    return prefix, pattern.replace(ITEM_SENTINEL, title)


RATING_KEY = ("user_id", "item_id", "timestamp")


def row_hashes(frame: pd.DataFrame) -> np.ndarray:
    """One uint64 per rating, from its (user_id, item_id, timestamp): the same rating hashes the same in any frame."""
    missing = [c for c in RATING_KEY if c not in frame.columns]
    if missing:
        raise ValueError(f"ratings lack column(s) {missing}")
    return pd.util.hash_pandas_object(frame[list(RATING_KEY)], index=False).to_numpy(dtype=np.uint64)


def frame_fingerprint(frame: pd.DataFrame) -> str:
    """SHA-256 of a ratings frame's sorted row hashes: the same ratings in any row order give the same value."""
    return hashlib.sha256(np.sort(row_hashes(frame)).tobytes()).hexdigest()


def _user_histories(train: pd.DataFrame) -> dict:
    """{user: (item ids, ratings, row hashes)}, oldest first (ties keep the frame's order, i.e. the split's)."""
    t = train.sort_values(["user_id", "timestamp"], kind="mergesort")
    t = t.assign(_h=row_hashes(t))
    return {u: (g["item_id"].to_numpy(), g["rating"].to_numpy(dtype=float), g["_h"].to_numpy())
            for u, g in t.groupby("user_id", sort=True)}


def build_examples(train, items: pd.DataFrame, llm, n: int, seed: int = 0, negatives: str = "unseen",
                   max_history: int | None = 5, max_likes: int | None = 3, max_dislikes: int | None = 1,
                   min_history: int = 5, last_cuts: int = 10, like_at: float = 4.0, template=None) -> list[TuningExample]:
    """``n`` balanced Yes/No examples from ``train`` (a Split, whose ``train`` part is used, or a ratings frame).

    llm: the model the examples are for (its tokenizer's chat format and window shape the prompt).
    max_history, max_likes, max_dislikes: how much of the history and profile the prompt shows
    (the ranker must use the same values; :class:`recnb.scores.llm_lora.LoraPointwiseRanker` does).
    last_cuts: the cut point is drawn among each user's last ``last_cuts`` training positions (the
    recent end of a history is what a recommender is asked about).
    """
    from recnb.scores.base import Query
    from recnb.text.profile import profile_from_history
    from recnb.text.prompts import Catalog

    if negatives not in NEGATIVE_KINDS:
        raise ValueError(f"negatives must be one of {NEGATIVE_KINDS}, not {negatives!r}")
    if int(n) < 2 or int(n) % 2:
        raise ValueError(f"n must be an even number >= 2 (half Yes, half No), got {n!r}")
    n = int(n)
    train = getattr(train, "train", train)
    missing = {"user_id", "item_id", "rating", "timestamp"} - set(train.columns)
    if missing:
        raise ValueError(f"train ratings lack column(s) {sorted(missing)}")
    template = template or pointwise_template()
    catalog = Catalog(items)
    histories = {u: h for u, h in _user_histories(train).items() if len(h[0]) > min_history}
    if not histories:
        raise ValueError(f"no user has more than min_history={min_history} training ratings")
    rng = np.random.default_rng(seed)
    users = list(histories)
    order = [users[i] for i in rng.permutation(len(users))]
    pos_token, neg_token = template.options.get("positive", "Yes"), template.options.get("negative", "No")

    want = {1: n // 2, 0: n // 2}
    examples: list[TuningExample] = []
    rounds = 0
    while want[0] + want[1] > 0:
        rounds += 1
        if rounds > 50:
            raise ValueError(f"could only build {len(examples)} of {n} balanced examples from {len(users)} users "
                             f"(negatives={negatives!r}); ask for fewer")
        for u in order:
            if want[0] + want[1] == 0:
                break
            ids, ratings, hashes = histories[u]
            lo = max(min_history, len(ids) - last_cuts)
            if negatives == "unseen":
                label = 1 if want[1] >= want[0] else 0  # alternate so both halves fill evenly
                cut = int(rng.integers(lo, len(ids)))
                if label == 1:
                    item = ids[cut]
                else:
                    seen = set(ids.tolist())
                    item = None
                    for pos in rng.permutation(len(catalog.ids))[:200]:
                        cand = catalog.ids[pos].item()
                        if cand not in seen:
                            item = cand
                            break
                    if item is None:
                        continue
            else:
                cuts = np.arange(lo, len(ids))
                labels = (ratings[cuts] >= like_at).astype(int)
                label = 1 if want[1] >= want[0] else 0
                options = cuts[labels == label]
                if not len(options) or not want[label]:
                    label = 1 - label
                    options = cuts[labels == label]
                if not len(options) or not want[label]:
                    continue
                cut = int(rng.choice(options))
                item = ids[cut]
            if item not in catalog.text:
                continue
            hist, rats = ids[:cut], ratings[:cut]
            query = Query(user_id=u, history=tuple(hist.tolist()), ratings=tuple(rats.tolist()),
                          profile=profile_from_history(items, hist, rats, user_id=u))
            prefix, cont = render_question(llm, template, catalog, query, item, max_history, max_likes, max_dislikes)
            # What the question was built from: the history before the cut, plus the rating at the cut
            # when the asked item is it (a "Yes", or any "rated" label); an "unseen" No item is no rating.
            used = hashes[:cut + 1] if item == ids[cut] else hashes[:cut]
            examples.append(TuningExample(u, item, label, prefix, cont, pos_token if label else neg_token,
                                          n_history=len(hist), cut=cut, rows=tuple(int(h) for h in used)))
            want[label] -= 1
    order_out = rng.permutation(len(examples))
    return [examples[i] for i in order_out]


def examples_frame(examples: Sequence[TuningExample], items: pd.DataFrame | None = None) -> pd.DataFrame:
    """The examples as a table (user, item, label, answer, prompt length in characters)."""
    frame = pd.DataFrame([{"user_id": e.user_id, "item_id": e.item_id, "label": e.label, "answer": e.answer,
                           "history": e.n_history, "prompt_chars": len(e.prompt)} for e in examples])
    if items is not None and len(frame):
        frame = frame.merge(items[["item_id", "title", "year"]], on="item_id", how="left")
    return frame
