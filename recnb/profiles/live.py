"""A live editing session: profile + edit history + the whole catalog re-ranked after every edit.

This is the model behind the editor widget (the widget only displays what it returns):

    live = LiveProfile(scorer, profile, exclude=seen_items, held_out=test_items)
    result = live.apply(Edit("add", text="I dislike horror films"))
    result.diff        # up / down / new / dropped, with the statement that caused each move
    result.ndcg_after  # this user's NDCG@k on held-out items, before vs after

Retrieval is one matrix product over the precomputed item vectors (see ProfileScorer); only a new
or changed statement text is embedded.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from recnb.profiles.diff import diff_rankings, ranks_from_scores
from recnb.profiles.edits import Edit
from recnb.profiles.history import EditHistory, LogEntry
from recnb.profiles.metrics import ndcg_at
from recnb.profiles.scoring import ProfileScorer
from recnb.text.profile import Profile, item_key


@dataclass
class RankState:
    profile: Profile
    scores: np.ndarray  # per catalog row
    ranks: np.ndarray  # 1-based among eligible rows, 0 = not eligible
    order: np.ndarray  # eligible rows, best first
    empty: bool = False  # the profile had no statements: nothing is ranked


@dataclass
class EditResult:
    entry: LogEntry | None
    profile: Profile
    top: pd.DataFrame  # after: item_id, rank, score, why
    diff: pd.DataFrame  # item_id, status, before_rank, after_rank, moved, cause, cause_delta, score_change
    ndcg_before: float | None
    ndcg_after: float | None
    seconds: float
    notes: list = field(default_factory=list)
    k: int = 10  # the cut-off of the top and of the NDCG

    def summary(self) -> str:
        counts = self.diff["status"].value_counts().to_dict() if len(self.diff) else {}
        moved = ", ".join(f"{counts[s]} {s}" for s in ("up", "down", "new", "dropped") if counts.get(s))
        nd = ""
        if self.ndcg_after is not None:
            nd = f"; NDCG@{self.k} {self.ndcg_before:.3f} -> {self.ndcg_after:.3f}"
        return f"{self.entry or 'start'}: {moved or 'no change in the top'}{nd} ({self.seconds * 1000:.0f} ms)"


class LiveProfile:
    def __init__(self, scorer: ProfileScorer, profile: Profile, exclude=(), held_out=(), k: int = 10):
        self.scorer, self.k = scorer, int(k)
        self.eligible = np.ones(len(scorer), dtype=bool)
        exclude = {item_key(i) for i in exclude}  # once: an iterator would be spent by the first pass
        known_exclude = [i for i in exclude if i in scorer.row]
        self.eligible[scorer.rows(known_exclude)] = False
        self.excluded_unknown = len(exclude) - len(known_exclude)  # seen items outside this catalog (reported)
        self.held_out = [item_key(i) for i in held_out]
        self.history = EditHistory(profile)
        self.state = self._rank(self.history.current)

    # -- ranking ------------------------------------------------------------------------
    def _rank(self, profile: Profile) -> RankState:
        if profile.is_empty():
            z = np.zeros(len(self.scorer))
            return RankState(profile, z, np.zeros(len(z), dtype=np.int64), np.zeros(0, dtype=np.int64), empty=True)
        scores = self.scorer.scores(profile)
        order, ranks = ranks_from_scores(scores, self.eligible)
        return RankState(profile, scores, ranks, order)

    @property
    def profile(self) -> Profile:
        return self.history.current

    def top_ids(self, state: RankState | None = None, k: int | None = None) -> list[int]:
        state = state or self.state
        return [item_key(self.scorer.item_ids[r]) for r in state.order[: k or self.k]]

    def ndcg(self, state: RankState | None = None) -> float | None:
        return ndcg_at(self.top_ids(state), self.held_out, self.k) if self.held_out else None

    def _contrib_by_id(self, profile: Profile, rows: np.ndarray) -> dict:
        if profile.is_empty():
            return {}
        stmts, c = self.scorer.contributions(profile, rows)
        return {s.id: (s, c[n]) for n, s in enumerate(stmts)}

    def top(self, state: RankState | None = None, k: int | None = None) -> pd.DataFrame:
        """The current top-k with each item's strongest statement ("why")."""
        state = state or self.state
        rows = state.order[: k or self.k]
        why = [None] * len(rows)
        if len(rows) and not state.empty:
            stmts, c = self.scorer.contributions(state.profile, rows)
            best = np.abs(c).argmax(0)
            why = [f"{c[b, j]:+.2f} from '{stmts[b].text}'" for j, b in enumerate(best)]
        return pd.DataFrame({"item_id": [item_key(i) for i in self.scorer.item_ids[rows]], "rank": np.arange(1, len(rows) + 1),
                             "score": state.scores[rows], "why": why})

    def _diff(self, before: RankState, after: RankState) -> pd.DataFrame:
        d = diff_rankings(before.ranks, after.ranks, self.k)
        rows = d["row"].to_numpy(dtype=np.int64)
        d.insert(0, "item_id", [item_key(i) for i in self.scorer.item_ids[rows]])
        d["score_change"] = after.scores[rows] - before.scores[rows]
        # Cause: the statement whose contribution to the item changed most (added, removed or edited).
        b, a = self._contrib_by_id(before.profile, rows), self._contrib_by_id(after.profile, rows)
        causes, deltas = [], []
        for j in range(len(rows)):
            best, best_delta = None, 0.0
            for sid in set(a) | set(b):
                delta = (a[sid][1][j] if sid in a else 0.0) - (b[sid][1][j] if sid in b else 0.0)
                if abs(delta) > abs(best_delta) + 1e-9:
                    best, best_delta = (a.get(sid) or b.get(sid))[0].text, float(delta)
            causes.append(best)
            deltas.append(best_delta)
        d["cause"], d["cause_delta"] = causes, deltas
        return d.drop(columns="row")

    def _result(self, before: RankState, entry: LogEntry | None, t0: float) -> EditResult:
        after = self._rank(self.history.current)
        self.state = after
        diff = self._diff(before, after)
        notes = ["the profile is empty: add a statement to get recommendations"] if after.empty else []
        if not after.empty and not after.profile.likes:
            # a dislike only pushes items down (-w * max(z, 0)): about half the catalog ties at 0
            notes.append("the profile has only dislikes: they push items down, so the order of the rest is "
                         "arbitrary; add something you like")
        return EditResult(entry, after.profile, self.top(after), diff, self.ndcg(before), self.ndcg(after),
                          time.perf_counter() - t0, notes, self.k)

    # -- editing --------------------------------------------------------------------------
    def apply(self, edit: Edit | dict) -> EditResult:
        """Apply one edit, re-rank the whole catalog and diff the top-k. Raises ProfileEditError on a bad edit."""
        edit = edit if isinstance(edit, Edit) else Edit.from_dict(edit)
        return self._step(lambda: self.history.apply(edit))

    def undo(self) -> EditResult:
        return self._step(self.history.undo)

    def redo(self) -> EditResult:
        return self._step(self.history.redo)

    def _step(self, change) -> EditResult:
        """Change the history, then re-rank; if re-ranking fails (the encoder, memory), the history is
        put back, so the profile shown and the one ranked never differ by an edit nobody saw ranked."""
        t0 = time.perf_counter()
        before, saved = self.state, self.history.snapshot()
        _, entry = change()
        try:
            return self._result(before, entry, t0)
        except Exception:
            self.history.restore(saved)
            self.state = before
            raise
