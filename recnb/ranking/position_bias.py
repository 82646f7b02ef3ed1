"""Position-bias control: show the candidates in several orders, aggregate, and report the spread.

Listwise LLM prompts favour candidates by where they appear (LLMRank: the first ones). Scoring
the same candidates under balanced permutations (each candidate visits evenly spaced positions,
as in a Latin square) and averaging cancels much of that; the spread of each candidate's rank
across permutations shows how much the order mattered.

The functions take any ``score_fn(ordered_candidates) -> scores`` (scores in the order given),
so they work with every order-dependent ranker, not only LLMs::

    report = permutation_report(lambda c: ranker.score(query, c), candidates, n_permutations=4)
    report.aggregated, report.mean_rank_spread, report.position_top1_rate
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
from scipy.stats import rankdata


def balanced_permutations(n: int, n_permutations: int, seed: int | None = 0) -> np.ndarray:
    """``n_permutations`` orders of ``range(n)`` (rows), each a cyclic shift of one base order.

    Shifts are spaced evenly (0, n/m, 2n/m, ...), so every candidate is shown at m positions
    spread across the list; with m = n every candidate is shown at every position once. ``seed``
    None keeps the given order as the base (the first row is then the identity).
    """
    if n <= 0:
        return np.zeros((max(n_permutations, 1), 0), dtype=int)
    m = max(1, min(int(n_permutations), n))
    base = np.arange(n) if seed is None else np.random.default_rng(seed).permutation(n)
    shifts = [(k * n) // m for k in range(m)]
    return np.stack([np.roll(base, -s) for s in shifts])


def random_permutations(n: int, n_permutations: int, seed: int = 0) -> np.ndarray:
    """Independent uniformly random orders (for comparison with the balanced design)."""
    rng = np.random.default_rng(seed)
    return np.stack([rng.permutation(n) for _ in range(max(1, n_permutations))])


def scores_under_permutations(score_fn: Callable[[list], np.ndarray], candidates: Sequence,
                              perms: np.ndarray) -> np.ndarray:
    """A (permutations x candidates) matrix: row p holds the scores when shown in order ``perms[p]``,
    mapped back to the candidates' own order."""
    cands = list(candidates)
    out = np.empty((len(perms), len(cands)))
    for p, order in enumerate(perms):
        shown = [cands[i] for i in order]
        s = np.asarray(score_fn(shown), dtype=float)
        if s.shape != (len(cands),):
            raise ValueError(f"score_fn returned shape {s.shape} for {len(cands)} candidates")
        out[p, order] = s
    return out


def ranks(matrix: np.ndarray) -> np.ndarray:
    """Rank of each candidate in each row, 1 = best; ties get the worst rank they span (pessimistic)."""
    return np.vstack([rankdata(-row, method="max") for row in np.atleast_2d(matrix)])


def aggregate(matrix: np.ndarray, how: str = "mean") -> np.ndarray:
    """One score per candidate: "mean" of per-row standardised scores, or "borda" (minus the mean rank)."""
    m = np.atleast_2d(np.asarray(matrix, dtype=float))
    if how == "borda":
        return -ranks(m).mean(0)
    if how == "mean":
        centred = m - m.mean(1, keepdims=True)
        sd = centred.std(1, keepdims=True)
        return (centred / np.where(sd > 0, sd, 1.0)).mean(0)
    raise ValueError(f"how must be 'mean' or 'borda', not {how!r}")


def unique_winners(matrix: np.ndarray) -> np.ndarray:
    """Per row, the index of its unique top score, or -1 where the top is tied.

    np.argmax would pick the first of tied candidates, so an unparseable output (all scores 0)
    would look like a confident vote for candidate 0. Near-equal counts as tied: averaged scores
    differ in the last bits only through summation order.
    """
    m = np.atleast_2d(np.asarray(matrix, dtype=float))
    if m.shape[1] == 0:
        return np.full(len(m), -1)
    tied = np.isclose(m, m.max(1, keepdims=True), rtol=1e-9, atol=1e-12).sum(1) > 1
    return np.where(tied, -1, np.argmax(m, axis=1))


def position_top1_counts(matrix: np.ndarray, perms: np.ndarray, winners: np.ndarray | None = None) -> np.ndarray:
    """For each shown position, how many permutations' unique winner was shown there (tied rows: none)."""
    m = np.atleast_2d(matrix)
    hits = np.zeros(m.shape[1], dtype=int)
    winners = unique_winners(m) if winners is None else winners
    for top, order in zip(winners, perms):
        if top >= 0:
            hits[int(np.where(order == top)[0][0])] += 1
    return hits


def position_top1_rate(matrix: np.ndarray, perms: np.ndarray, winners: np.ndarray | None = None) -> np.ndarray:
    """For each shown position, how often the candidate shown there came out on top.

    Without position bias this is flat (about 1/n each); a spike at 0 means "picks the first one".
    Rows without a unique winner are left out (all zeros when no row has one).
    """
    hits = position_top1_counts(matrix, perms, winners)
    decided = int(hits.sum())
    return hits / decided if decided else hits.astype(float)


@dataclass
class PositionBiasReport:
    candidates: list
    perms: np.ndarray  # (m, n): indices into candidates, in shown order
    matrix: np.ndarray  # (m, n): scores per permutation, candidates' own order
    aggregated: np.ndarray  # (n,)
    rank_spread: np.ndarray  # (n,): std of each candidate's rank across permutations
    position_top1_rate: np.ndarray  # (n,): share of permutations whose winner was shown at each position
    top1_agreement: float  # share of permutations (with a winner) whose winner is the aggregate's unique winner
    n_tied_rows: int = 0  # permutations without a unique winner, left out of the two above
    n_disagreements: int = 0  # permutations whose unique winner is not the aggregate's (tied rows are not counted)
    position_top1_counts: np.ndarray | None = None  # (n,): the counts behind position_top1_rate

    @property
    def n_permutations(self) -> int:
        return len(self.perms)

    @property
    def mean_rank_spread(self) -> float:
        return float(self.rank_spread.mean()) if self.rank_spread.size else 0.0

    def summary(self) -> dict:
        return {"n_permutations": self.n_permutations, "n_candidates": len(self.candidates),
                "mean_rank_spread": round(self.mean_rank_spread, 4), "top1_agreement": round(self.top1_agreement, 4),
                "first_position_top1_rate": round(float(self.position_top1_rate[0]), 4) if len(self.candidates) else 0.0,
                "tied_rows": self.n_tied_rows}


def permutation_report(score_fn: Callable[[list], np.ndarray], candidates: Sequence, n_permutations: int = 4,
                       seed: int | None = 0, how: str = "mean", design: str = "balanced") -> PositionBiasReport:
    """Score ``candidates`` under permutations, aggregate, and measure how much the order mattered."""
    cands = list(candidates)
    if design == "balanced":
        perms = balanced_permutations(len(cands), n_permutations, seed)
    elif design == "random":
        perms = random_permutations(len(cands), n_permutations, seed or 0)
    else:
        raise ValueError(f"design must be 'balanced' or 'random', not {design!r}")
    matrix = scores_under_permutations(score_fn, cands, perms)
    agg = aggregate(matrix, how)
    r = ranks(matrix)
    winners = unique_winners(matrix)
    decided = winners[winners >= 0]
    # Agreement among the permutations that picked a winner; 0.0 when none did, or when the aggregate
    # itself is tied (no winner to agree with): never a vacuous 1.0 for outputs that could not be read.
    best = int(unique_winners(agg)[0]) if cands else -1
    agreement = float(np.mean(decided == best)) if decided.size and best >= 0 else 0.0
    return PositionBiasReport(
        candidates=cands, perms=perms, matrix=matrix, aggregated=agg, rank_spread=r.std(0),
        position_top1_rate=position_top1_rate(matrix, perms, winners),
        position_top1_counts=position_top1_counts(matrix, perms, winners),
        top1_agreement=agreement if cands else 1.0, n_tied_rows=int((winners < 0).sum()) if cands else 0,
        n_disagreements=int((decided != best).sum()),
    )
