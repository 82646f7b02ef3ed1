"""Permutations, aggregation and the spread report of recnb.ranking.position_bias."""
from __future__ import annotations

import numpy as np
import pytest

from recnb.ranking.position_bias import (aggregate, balanced_permutations, permutation_report, position_top1_rate,
                                         ranks, scores_under_permutations)


def test_balanced_permutations_visit_every_position():
    p = balanced_permutations(6, 6, seed=1)
    assert p.shape == (6, 6)
    assert all(sorted(row) == list(range(6)) for row in p)
    for item in range(6):  # a Latin square: each item at each position exactly once
        assert sorted(int(np.where(row == item)[0][0]) for row in p) == list(range(6))
    q = balanced_permutations(8, 4, seed=None)
    assert q[0].tolist() == list(range(8))
    assert [int(np.where(row == 0)[0][0]) for row in q] == [0, 6, 4, 2]  # evenly spaced positions
    assert balanced_permutations(3, 10).shape == (3, 3)  # never more distinct shifts than items


def test_scores_map_back_to_candidate_order():
    cands = ["a", "b", "c", "d"]
    by_name = {"a": 1.0, "b": 4.0, "c": 2.0, "d": 3.0}
    perms = balanced_permutations(4, 4, seed=0)
    m = scores_under_permutations(lambda order: np.array([by_name[c] for c in order]), cands, perms)
    assert np.allclose(m, [[1, 4, 2, 3]] * 4)  # an order-invariant scorer gives identical rows
    with pytest.raises(ValueError, match="shape"):
        scores_under_permutations(lambda order: np.zeros(2), cands, perms)


def test_pure_position_bias_cancels_and_is_reported():
    cands = list(range(5))
    first_wins = lambda order: -np.arange(len(order), dtype=float)  # whatever is shown first wins
    r = permutation_report(first_wins, cands, n_permutations=5, how="mean")
    assert np.allclose(r.aggregated, r.aggregated[0])  # every candidate equal after averaging
    assert r.position_top1_rate.tolist() == [1.0, 0, 0, 0, 0]
    assert r.mean_rank_spread == pytest.approx(np.std([1, 2, 3, 4, 5]))
    assert r.summary()["first_position_top1_rate"] == 1.0


def test_content_signal_survives_permutation():
    quality = {0: 0.0, 1: 5.0, 2: 1.0, 3: 2.0}
    fn = lambda order: np.array([quality[c] for c in order]) - 0.5 * np.arange(len(order))  # signal + mild bias
    r = permutation_report(fn, list(quality), n_permutations=4, how="borda")
    assert int(np.argmax(r.aggregated)) == 1
    assert r.top1_agreement == 1.0


def test_rows_without_a_unique_winner_are_left_out():
    # An unparseable output scores every candidate 0: no winner, not a vote for the first candidate.
    r = permutation_report(lambda c: np.zeros(len(c)), list(range(5)), n_permutations=5)
    assert r.position_top1_rate.tolist() == [0.0] * 5 and r.n_tied_rows == 5
    assert r.top1_agreement == 0.0 and r.summary()["tied_rows"] == 5 and r.summary()["first_position_top1_rate"] == 0.0
    # Half the orders unreadable: rates and agreement come from the other half only.
    m = np.array([[0.0, 0.0, 0.0], [3.0, 1.0, 2.0], [0.0, 0.0, 0.0], [3.0, 2.0, 1.0]])
    perms = np.array([[0, 1, 2], [1, 2, 0], [2, 0, 1], [0, 1, 2]])
    assert position_top1_rate(m, perms).tolist() == [0.5, 0.0, 0.5]
    quality, calls = {0: 0.0, 1: 5.0, 2: 1.0, 3: 2.0}, []

    def every_other_unreadable(order):
        calls.append(order)
        return np.zeros(len(order)) if len(calls) % 2 == 0 else np.array([quality[c] for c in order])

    r = permutation_report(every_other_unreadable, list(quality), n_permutations=4)
    assert r.n_tied_rows == 2 and r.top1_agreement == 1.0 and r.position_top1_rate.sum() == pytest.approx(1.0)
    assert r.n_disagreements == 0  # tied orders are not disagreements (the permuted ranker counted 2 here)


def test_the_permuted_ranker_counts_disagreements_and_tied_orders_apart():
    from recnb.evaluation.synthetic import make_catalog
    from recnb.scores.base import Ranker
    from recnb.scores.llm_permuted import PermutedRanker

    class HalfUnreadable(Ranker):
        name, order_invariant, calls, last = "half-unreadable", False, 0, {}

        def _score(self, query, candidates):
            HalfUnreadable.calls += 1
            return np.zeros(len(candidates)) if self.calls % 2 == 0 else -np.asarray(candidates, dtype=float)

    cat = make_catalog()
    case = cat.cases[0]
    r = PermutedRanker(HalfUnreadable(), n_permutations=4).fit(cat.train, cat.items)
    r.score(cat.query(case), case.candidates)
    assert r.stats["tied_permutations"] == 2 and r.stats["top1_disagreements"] == 0
    HalfUnreadable._score = lambda self, query, candidates: np.zeros(len(candidates))  # every order unreadable
    r.score(cat.query(case), case.candidates)
    assert r.stats["tied_permutations"] == 6 and r.stats["top1_disagreements"] == 0  # was counted as 4 disagreements


def test_ranks_are_pessimistic_on_ties_and_aggregate_checks_input():
    assert ranks(np.array([[1.0, 1.0, 0.0]])).tolist() == [[2, 2, 3]]
    assert position_top1_rate(np.array([[0.0, 1.0]]), np.array([[1, 0]])).tolist() == [1.0, 0.0]
    with pytest.raises(ValueError, match="how"):
        aggregate(np.zeros((2, 2)), how="median")
