"""Metrics: exact random baseline, agreement with ir-measures on random runs, pessimistic ties."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from recnb.evaluation.metrics import (
    metric_names,
    metrics_from_ranks,
    random_baseline,
    random_expectation,
    random_ndcg_at,
    relevant_ranks,
    user_metrics,
)

KS = (1, 5, 10, 20)


def test_random_ndcg_for_one_positive_in_twenty_is_llmranks_value():
    # LLMRank (Hou et al. 2024) reports 22.72 for random ranking of 1 positive among 20 candidates.
    assert round(100 * random_ndcg_at(10, 20), 2) == 22.72


@pytest.mark.parametrize("n,m", [(1, 1), (5, 1), (7, 2), (8, 3), (20, 1)])
def test_random_expectation_equals_enumeration_of_every_placement(n, m):
    """Average the metrics over every set of positions the m relevant items can take (all equally likely)."""
    placements = list(itertools.combinations(range(1, n + 1), m))
    exact = {k: np.mean([metrics_from_ranks(p, m, KS)[k] for p in placements]) for k in metric_names(KS)}
    got = random_expectation(n, m, KS)
    assert got.keys() == exact.keys()
    for k in exact:
        assert got[k] == pytest.approx(exact[k], abs=1e-12), k


def test_random_baseline_averages_users_with_different_candidate_counts():
    got = random_baseline([20, 20, 100], 1, (10,))["ndcg@10"]
    want = (2 * random_ndcg_at(10, 20) + random_ndcg_at(10, 100)) / 3
    assert got == pytest.approx(want)
    with pytest.raises(ValueError, match="n_relevant"):
        random_expectation(3, 4)


def _ours_vs_ir_measures(rng, n_queries=40, ties=False, pessimistic=False):
    """Our metrics and ir-measures' on the same random runs. ``pessimistic``: ir-measures is given our
    pessimistic order as strictly decreasing scores, so with ties the two must agree exactly too."""
    import ir_measures
    from ir_measures import RR, R, Success, nDCG

    qrels, run, ours = [], [], {}
    for q in range(n_queries):
        n = int(rng.integers(2, 60))
        m = int(rng.integers(1, min(4, n) + 1))
        rel = np.zeros(n, dtype=bool)
        rel[rng.choice(n, m, replace=False)] = True
        scores = rng.integers(0, 3, n).astype(float) if ties else rng.random(n)
        qid = f"q{q}"
        given = scores
        if pessimistic:
            # Built here, not by pessimistic_order (which user_metrics uses): higher score first, and
            # within a tie the relevant items last, so a wrong tie-break in the kit shows as a mismatch.
            given = np.empty(n)
            given[np.lexsort((rel, -scores))] = np.arange(n, 0, -1)
        for d in range(n):
            run.append(ir_measures.ScoredDoc(qid, f"d{d:03d}", float(given[d])))
            if rel[d]:
                qrels.append(ir_measures.Qrel(qid, f"d{d:03d}", 1))
        ours[qid] = user_metrics(scores, rel, KS)
    measures = [nDCG @ k for k in KS] + [R @ k for k in KS] + [Success @ k for k in KS] + [RR]
    names = {**{str(nDCG @ k): f"ndcg@{k}" for k in KS}, **{str(R @ k): f"recall@{k}" for k in KS},
             **{str(Success @ k): f"hit@{k}" for k in KS}, str(RR): "mrr"}
    theirs = [(m.query_id, names[str(m.measure)], m.value) for m in ir_measures.iter_calc(measures, qrels, run)]
    return ours, theirs


def test_metrics_match_ir_measures_on_random_runs_without_ties():
    ours, theirs = _ours_vs_ir_measures(np.random.default_rng(0))
    assert len(theirs) == 40 * 13
    for qid, name, value in theirs:
        assert ours[qid][name] == pytest.approx(value, abs=1e-9), (qid, name)


def test_ties_never_score_better_than_ir_measures():
    """With ties, ir-measures (trec_eval) orders by doc id; our pessimistic order is never better."""
    ours, theirs = _ours_vs_ir_measures(np.random.default_rng(1), ties=True)
    worse = 0
    for qid, name, value in theirs:
        assert ours[qid][name] <= value + 1e-12, (qid, name)
        worse += ours[qid][name] < value - 1e-12
    assert worse > 0  # the random ties did make a difference somewhere


def test_ties_match_ir_measures_given_our_pessimistic_order():
    """The tie path computed by ir-measures too: the same numbers once it ranks in our (pessimistic) order."""
    ours, theirs = _ours_vs_ir_measures(np.random.default_rng(1), ties=True, pessimistic=True)
    assert len(theirs) == 40 * 13
    for qid, name, value in theirs:
        assert ours[qid][name] == pytest.approx(value, abs=1e-9), (qid, name)


def test_all_tied_scores_put_the_positive_last():
    scores = np.zeros(20)
    rel = np.zeros(20, dtype=bool)
    rel[0] = True
    assert relevant_ranks(scores, rel).tolist() == [20]
    m = user_metrics(scores, rel)
    assert m["hit@10"] == 0.0 and m["mrr"] == pytest.approx(1 / 20)


def test_partial_ties_and_nan_are_pessimistic():
    # positive tied with one negative -> behind it; NaN counts as the worst score
    assert relevant_ranks([0.9, 0.5, 0.5, 0.1], [False, True, False, False]).tolist() == [3]
    assert relevant_ranks([np.nan, 0.2, 0.1], [True, False, False]).tolist() == [3]
    assert relevant_ranks([np.nan, np.nan], [True, False]).tolist() == [2]


def test_metric_values_for_known_ranks():
    m = metrics_from_ranks([3], 1, (1, 5))
    assert m == {"ndcg@1": 0.0, "ndcg@5": 0.5, "recall@1": 0.0, "recall@5": 1.0, "hit@1": 0.0, "hit@5": 1.0,
                 "mrr": pytest.approx(1 / 3)}
    two = metrics_from_ranks([1, 2], 2, (1, 2))
    assert two["ndcg@2"] == pytest.approx(1.0) and two["recall@1"] == 0.5


def test_bad_input_is_a_clear_error():
    with pytest.raises(ValueError, match="no relevant"):
        user_metrics([0.1, 0.2], [False, False])
    with pytest.raises(ValueError, match="shape"):
        user_metrics([0.1, 0.2], [True])
