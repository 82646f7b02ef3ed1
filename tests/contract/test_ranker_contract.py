"""The shared ranker contract: every registered ranker passes it on the synthetic catalog.

Like implicit's checkerboard mixin, the catalog's right answer is known (see
recnb/evaluation/synthetic.py). A ranker joins by registering itself in recnb.scores.registry.
"""
from __future__ import annotations

import numpy as np
import pytest

from recnb.evaluation.synthetic import auc, make_catalog
from recnb.scores.base import Query, UnknownItemError
from recnb.scores.registry import Resources, all_rankers

SPECS = all_rankers()


@pytest.fixture(scope="module")
def catalog():
    return make_catalog()


@pytest.fixture(scope="module")
def resources(request):
    return Resources()


@pytest.fixture(scope="module", params=sorted(SPECS), ids=str)
def fitted(request, catalog, resources):
    spec = SPECS[request.param]
    ranker = spec.factory(resources)
    assert ranker.fit(catalog.train, catalog.items) is ranker, "fit() must return the ranker"
    return spec, ranker


def test_scores_shape_order_and_finiteness(fitted, catalog):
    spec, ranker = fitted
    case = catalog.cases[0]
    scores = ranker.score(catalog.query(case), case.candidates)
    assert isinstance(scores, np.ndarray) and scores.shape == (len(case.candidates),)
    assert np.all(np.isfinite(scores))
    if getattr(ranker, "order_invariant", True):
        perm = list(reversed(case.candidates))
        again = ranker.score(catalog.query(case), perm)
        np.testing.assert_allclose(again, scores[::-1], rtol=1e-4, atol=1e-5)


def test_deterministic(fitted, catalog):
    spec, ranker = fitted
    case = catalog.cases[1]
    a = ranker.score(catalog.query(case), case.candidates)
    b = ranker.score(catalog.query(case), case.candidates)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_empty_candidates_and_unknown_items(fitted, catalog):
    spec, ranker = fitted
    case = catalog.cases[0]
    assert ranker.score(catalog.query(case), []).shape == (0,)
    with pytest.raises(UnknownItemError, match="unknown item id"):
        ranker.score(catalog.query(case), [case.candidates[0], 999_999])


def test_empty_query_is_clear_error_or_reported(fitted, catalog):
    """An empty profile gets one clear error (ValueError) or finite scores; never a crash or NaN."""
    spec, ranker = fitted
    try:
        scores = ranker.score(Query(user_id=-1), catalog.cases[0].candidates)
    except ValueError as exc:
        assert "empty" in str(exc).lower()
    else:
        assert np.all(np.isfinite(scores))


def test_rank_frame(fitted, catalog):
    spec, ranker = fitted
    case = catalog.cases[0]
    frame = ranker.rank(catalog.query(case), case.candidates, k=3)
    assert list(frame.columns[:3]) == ["item_id", "score", "rank"]
    assert len(frame) == 3 and list(frame["rank"]) == [1, 2, 3]
    assert frame["score"].is_monotonic_decreasing
    assert set(frame["item_id"]) <= set(case.candidates)


def test_finds_the_known_answer(fitted, catalog):
    """Personalised rankers put each user's own group first; non-personalised ones the popular group."""
    spec, ranker = fitted
    cases = catalog.cases if ranker.personalised else [c for c in catalog.cases if c.group == "space"]
    aucs = [auc(ranker.score(catalog.query(c), c.candidates), c.candidates, c.relevant) for c in cases]
    assert spec.contract_min_auc <= np.mean(aucs) <= spec.contract_max_auc, (
        f"{spec.name}: mean AUC {np.mean(aucs):.3f} outside [{spec.contract_min_auc}, {spec.contract_max_auc}];"
        f" per user {np.round(aucs, 2)}"
    )
