"""Evaluation protocols: who is evaluated, on which candidates, with which history.

Both protocols start from the temporal leave-one-out :class:`~recnb.data.split.Split`: each
user's latest rating is the target (``part="test"``), or the one before it (``part="valid"``).

* :class:`SampledProtocol` (LLMRank, Hou et al. 2024): the target plus ``n_negatives`` (19)
  random items the user never rated, in a shuffled order. The candidates are drawn from
  seeds, written to a JSON file with a SHA-256 checksum, and read back (and verified) on every
  later run, so every ranker sees the same candidates in the same order in every run.
* :class:`FullProtocol`: the target among every catalog item the user has not rated.

Users are taken in one seeded order (the same for both protocols), so ``n_users=50`` is
always the first 50 of ``n_users=200``, and each user's negatives come from a generator
seeded by (seed, user id): the same user gets the same candidates whatever ``n_users`` is.
"""
from __future__ import annotations

import hashlib
import json
import os
import zlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

FORMAT = "recnb.sampled-candidates/1"


class CandidateFileError(RuntimeError):
    """A stored candidate file is corrupt, edited, or was drawn for different data or settings."""


@dataclass(frozen=True)
class EvalCase:
    """One user's evaluation: history (oldest first), the held-out target and the candidates."""

    user_id: object
    history: tuple
    ratings: tuple
    target: object
    candidates: np.ndarray

    @property
    def relevant(self) -> np.ndarray:
        return self.candidates == self.target


def data_fingerprint(dataset) -> str:
    """SHA-256 over the ratings (user, item, timestamp) and the catalog ids: changes when the data does."""
    h = hashlib.sha256()
    r = dataset.ratings[["user_id", "item_id", "timestamp"]]
    h.update(pd.util.hash_pandas_object(r, index=False).to_numpy().tobytes())
    h.update(pd.util.hash_pandas_object(dataset.items["item_id"], index=False).to_numpy().tobytes())
    return h.hexdigest()


def _user_seed(seed: int, user_id) -> list:
    # crc32 of the id's text, not hash(): Python salts str hashes per process.
    return [int(seed), zlib.crc32(str(user_id).encode())]


def _py(v):
    """numpy scalars -> Python scalars, so ids survive a JSON round trip unchanged."""
    return v.item() if isinstance(v, np.generic) else v


class _Base:
    """What both protocols share: the split, the user order, histories and fit data."""

    kind = "base"

    def __init__(self, dataset, split=None, part: str = "test", n_users: int | None = 200, seed: int = 0,
                 split_seed: int = 0):
        if part not in ("test", "valid"):
            raise ValueError(f"part must be 'test' or 'valid', got {part!r}")
        self.dataset = dataset
        self.split = split if split is not None else dataset.split(seed=split_seed)
        self.part, self.seed, self.requested_users = part, int(seed), n_users
        # Evaluating on test: the model sees train + valid (everything before the target).
        # Evaluating on valid: it sees train only.
        self.include_valid = part == "test"

    @property
    def train(self) -> pd.DataFrame:
        """The ratings every ranker must be fitted on for this protocol (nothing at or after a target)."""
        return self.split.train_valid if self.include_valid else self.split.train

    @cached_property
    def eligible_users(self) -> np.ndarray:
        """Users with a target in ``part`` and at least one history rating, in the seeded order."""
        frame = self.split.test if self.part == "test" else self.split.valid
        users = np.sort(frame["user_id"].unique())
        train_users = set(self.train["user_id"].unique().tolist())
        users = np.array([u for u in users.tolist() if u in train_users], dtype=users.dtype)
        return np.random.default_rng(self.seed).permutation(users)

    @cached_property
    def users(self) -> np.ndarray:
        n = self.requested_users
        return self.eligible_users if n is None else self.eligible_users[: int(n)]

    @cached_property
    def _seen(self) -> dict:
        return self.dataset.ratings.groupby("user_id", sort=False)["item_id"].agg(frozenset).to_dict()

    def history(self, user_id) -> tuple[tuple, tuple]:
        h = self.split.history(user_id, include_valid=self.include_valid)
        return tuple(h["item_id"].tolist()), tuple(h["rating"].tolist())

    def target(self, user_id):
        return self.split.target(user_id, self.part)

    def query(self, case: EvalCase, with_profile: bool = True):
        """The Query every ranker gets for ``case``: history, ratings and the deterministic NL profile.

        Cached per user, so all rankers get the very same object.
        """
        from recnb.scores.base import Query
        from recnb.text.profile import profile_from_history

        cache = self.__dict__.setdefault("_queries", {})
        key = (case.user_id, with_profile)
        if key not in cache:
            profile = (profile_from_history(self.dataset.items, case.history, case.ratings or None, user_id=case.user_id)
                       if with_profile else None)
            cache[key] = Query(user_id=case.user_id, history=case.history, ratings=case.ratings, profile=profile)
        return cache[key]

    def describe(self) -> dict:
        return {"protocol": self.kind, "dataset": self.dataset.name, "part": self.part, "seed": self.seed,
                "split_seed": self.split.seed, "n_users": int(len(self.users)),
                "n_eligible_users": int(len(self.eligible_users)), "history": "train+valid" if self.include_valid else "train"}

    def cases(self, n: int | None = None):
        """EvalCase per user, in the protocol's user order (the first ``n`` only if given)."""
        users = self.users if n is None else self.users[: int(n)]
        for u in users.tolist():
            yield self.case(u)

    def __len__(self):
        return len(self.users)


class FullProtocol(_Base):
    """The target among every catalog item the user has not rated (full ranking)."""

    kind = "full"

    @cached_property
    def _catalog(self) -> np.ndarray:
        return self.dataset.items["item_id"].to_numpy()

    def case(self, user_id) -> EvalCase:
        target = self.target(user_id)
        seen = self._seen.get(user_id, frozenset()) - {target}
        cands = self._catalog[~np.isin(self._catalog, list(seen))] if seen else self._catalog
        hist, ratings = self.history(user_id)
        return EvalCase(user_id, hist, ratings, target, cands)


class SampledProtocol(_Base):
    """The target plus ``n_negatives`` never-rated items per user, stored and verified (see module doc).

    ``store``: a folder for the candidate file (default: the kit's cache folder), or False to
    keep the candidates in memory only (they are still the same for the same seed).
    """

    kind = "sampled"

    def __init__(self, dataset, split=None, part: str = "test", n_users: int | None = 200, seed: int = 0,
                 n_negatives: int = 19, store: str | os.PathLike | bool | None = None, split_seed: int = 0):
        super().__init__(dataset, split, part, n_users, seed, split_seed)
        if n_negatives < 1:
            raise ValueError("n_negatives must be at least 1")
        self.n_negatives = int(n_negatives)
        self.store = store
        self.loaded_from_file = False
        self._candidates = self._load_or_draw()

    # -- drawing ---------------------------------------------------------------------------
    def meta(self) -> dict:
        return {"dataset": self.dataset.name, "data_fingerprint": data_fingerprint(self.dataset),
                "part": self.part, "split_seed": self.split.seed, "seed": self.seed,
                "n_negatives": self.n_negatives, "n_users": int(len(self.users))}

    def draw(self) -> dict:
        """{user: (target, candidates)} drawn from the seeds (no file involved)."""
        catalog = self.dataset.items["item_id"].to_numpy()
        out = {}
        for u in self.users.tolist():
            target = self.target(u)
            pool = catalog[~np.isin(catalog, list(self._seen.get(u, frozenset())))]
            if len(pool) < self.n_negatives:
                raise ValueError(f"user {u!r} has only {len(pool)} unrated items; cannot draw {self.n_negatives} negatives")
            rng = np.random.default_rng(_user_seed(self.seed, u))
            negatives = rng.choice(pool, size=self.n_negatives, replace=False)
            cands = np.concatenate([[target], negatives])[rng.permutation(self.n_negatives + 1)]
            out[u] = (target, cands)
        return out

    # -- the stored file ---------------------------------------------------------------------
    @property
    def path(self) -> Path | None:
        if self.store is False:
            return None
        if self.store in (None, True):
            from recnb.models._paths import cache_dir

            folder = cache_dir("candidates")
        else:
            folder = Path(self.store)
        fp = data_fingerprint(self.dataset)[:8]
        return folder / (f"{self.dataset.name}-{self.part}-split{self.split.seed}-seed{self.seed}"
                         f"-neg{self.n_negatives}-users{len(self.users)}-{fp}.json")

    def _load_or_draw(self) -> dict:
        path = self.path
        if path is not None and path.exists():
            loaded = read_candidates(path, expect=self.meta())
            self._check_against_split(path, loaded)
            self.loaded_from_file = True
            return loaded
        drawn = self.draw()
        if path is not None:
            write_candidates(path, self.meta(), drawn)
        return drawn

    def _check_against_split(self, path: Path, loaded: dict) -> None:
        """A file matches its meta, but was it drawn from THIS split? Same users, same targets, no rated negatives.

        The meta names the split's seed, not the split itself: a custom split with the same seed
        would otherwise reuse targets that are now in a user's history (a leak).
        """
        users = [_py(u) for u in self.users.tolist()]
        missing = [u for u in users if u not in loaded]
        wrong = [u for u in users if u in loaded and _py(loaded[u][0]) != _py(self.target(u))]
        seen = [u for u in users if u in loaded and
                set(np.asarray(loaded[u][1]).tolist()) - {_py(loaded[u][0])} & self._seen.get(u, frozenset())]
        if missing or wrong or seen or len(loaded) != len(users):
            raise CandidateFileError(
                f"{path.resolve()}: not drawn from this split ({len(missing)} users missing, {len(wrong)} with another "
                f"target, {len(seen)} with a negative the user rated; e.g. user {(missing + wrong + seen or [None])[0]!r}). "
                "Delete it to redraw, or evaluate on the split it was drawn from.")

    def case(self, user_id) -> EvalCase:
        target, cands = self._candidates[user_id]
        hist, ratings = self.history(user_id)
        return EvalCase(user_id, hist, ratings, target, np.asarray(cands))

    def describe(self) -> dict:
        d = super().describe()
        d.update(n_negatives=self.n_negatives, candidates_file=str(self.path) if self.path else None,
                 candidates_sha256=candidates_checksum(self.meta(), self._candidates))
        return d


def _payload(meta: dict, candidates: dict) -> dict:
    users = [[_py(u), _py(t), [_py(c) for c in cands]] for u, (t, cands) in candidates.items()]
    return {"meta": meta, "users": users}


def candidates_checksum(meta: dict, candidates: dict) -> str:
    text = json.dumps(_payload(meta, candidates), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def write_candidates(path: Path, meta: dict, candidates: dict) -> None:
    """Write the candidates with their checksum (atomically: a crash never leaves half a file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {"format": FORMAT, **_payload(meta, candidates), "sha256": candidates_checksum(meta, candidates)}
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(doc, indent=None, separators=(",", ":")) + "\n")
    os.replace(tmp, path)


def read_candidates(path: Path, expect: dict | None = None) -> dict:
    """Read and verify a candidate file; CandidateFileError names the file and what is wrong."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text())
        meta, users, stored = doc["meta"], doc["users"], doc["sha256"]
        if doc.get("format") != FORMAT:
            raise ValueError(f"format {doc.get('format')!r}, expected {FORMAT!r}")
        candidates = {u: (t, np.asarray(c)) for u, t, c in users}
    except (ValueError, KeyError, TypeError) as exc:
        raise CandidateFileError(f"{path.resolve()}: not a readable candidate file ({exc}); delete it to redraw") from exc
    actual = candidates_checksum(meta, candidates)
    if actual != stored:
        raise CandidateFileError(
            f"{path.resolve()}: checksum mismatch (stored {stored[:12]}..., content {actual[:12]}...): the file was "
            "edited or damaged. Delete it to redraw the candidates from the seed, or restore it.")
    if expect is not None:
        diff = {k: (meta.get(k), v) for k, v in expect.items() if meta.get(k) != v}
        if diff:
            shown = "; ".join(f"{k}: file {a!r} vs now {b!r}" for k, (a, b) in diff.items())
            raise CandidateFileError(f"{path.resolve()}: drawn for other data or settings ({shown}). "
                                     "Delete it to redraw, or load the data it was drawn for.")
    return candidates
