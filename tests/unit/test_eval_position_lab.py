"""The position-bias lab on rankers whose position bias is known by construction."""
from __future__ import annotations

import numpy as np
import pytest

from recnb.data import Dataset
from recnb.evaluation.position_lab import position_bias_study
from recnb.evaluation.protocols import SampledProtocol
from recnb.evaluation.synthetic import make_catalog
from recnb.scores.base import Ranker
from recnb.scores.itemknn import ItemKNNRanker


@pytest.fixture(scope="module")
def protocol():
    cat = make_catalog(n_test_users=8)
    return SampledProtocol(Dataset("synthetic", cat.items, cat.train), n_users=None, n_negatives=7, store=False)


class FirstShownWins(Ranker):
    """Pure position bias: the earlier a candidate is shown, the higher its score."""

    name = "first-shown-wins"
    order_invariant = False

    def _score(self, query, candidates):
        return -np.arange(len(candidates), dtype=float)


class BiasedButInformed(Ranker):
    """Knows the target (+2) but is pushed around by position (-0.5 per slot): averaging should help."""

    name = "biased-informed"
    order_invariant = False

    def __init__(self, protocol):
        super().__init__()
        self.targets = {c.user_id: c.target for c in protocol.cases()}

    def _score(self, query, candidates):
        return np.array([2.0 * (c == self.targets[query.user_id]) for c in candidates]) - 0.5 * np.arange(len(candidates))


def test_pure_position_bias_is_seen_and_averaging_leaves_only_ties(protocol):
    study = position_bias_study(FirstShownWins(), protocol, n_users=5, n_permutations=8)
    assert study.position_top1[0] == pytest.approx(1.0) and study.position_top1[1:].sum() == pytest.approx(0.0)
    assert (study.per_candidate["rank_spread"] > 0).all()
    # 8 balanced orders of 8 candidates: every candidate visits every position once, so the
    # averaged scores all tie, and a tie puts the target last (pessimistic): NDCG@10 = 1/log2(9)
    assert study.per_user["averaged_ndcg@10"].to_numpy() == pytest.approx(1 / np.log2(9))
    s = study.summary()
    assert s["first_position_top1_rate"] == 1.0 and s["uniform_top1_rate"] == pytest.approx(1 / 8)


def test_averaging_recovers_a_biased_but_informed_ranker(protocol):
    study = position_bias_study(BiasedButInformed(protocol), protocol, n_users=8, n_permutations=4)
    pu = study.per_user
    assert (pu["averaged_ndcg@10"] >= pu["single_order_ndcg@10_mean"] - 1e-12).all()
    assert (pu["single_order_ndcg@10_min"] < pu["single_order_ndcg@10_max"]).any()
    diff = study.summary()["averaged_minus_single_order"]
    assert diff["mean"] > 0 and diff["ci_low"] > 0


def test_order_invariant_ranker_shows_no_spread(protocol):
    study = position_bias_study(ItemKNNRanker(), protocol, n_users=4, n_permutations=4)
    assert study.per_candidate["rank_spread"].max() == 0
    assert study.per_user["top1_agreement"].min() == 1.0
    assert np.allclose(study.per_user["given_order_ndcg@10"], study.per_user["averaged_ndcg@10"])


def test_budget_stops_the_lab_and_says_so(protocol):
    study = position_bias_study(FirstShownWins(), protocol, n_users=5, n_permutations=2, budget_s=0.0)
    assert len(study.per_user) == 1 and "time budget" in study.meta["stopped"]
    assert set(study.to_dict()) == {"summary", "position_top1", "meta", "per_user"}


class UnreadableForSome(FirstShownWins):
    """Like an LLM whose output for some users cannot be parsed: every candidate scores 0 for them."""

    name = "unreadable-for-some"

    def _score(self, query, candidates):
        return np.zeros(len(candidates)) if hash(query.user_id) % 2 else super()._score(query, candidates)


def test_orders_without_a_winner_are_left_out_and_counted(protocol):
    study = position_bias_study(UnreadableForSome(), protocol, n_users=6, n_permutations=4)
    tied = study.per_user["tied_orders"]
    assert set(tied) == {0, 4}  # a user's orders all tie (unreadable) or none do
    # the rate is over the orders that had a winner: still all at the first position, not diluted by ties
    assert study.position_top1[0] == pytest.approx(1.0)
    assert study.summary()["tied_orders"] == int(tied.sum()) > 0


def test_an_unreadable_users_candidates_all_share_the_worst_mean_rank(protocol):
    """Review: mean_rank broke ties by shown position, so a user whose every order tied (nothing parsed)
    showed ranks 1..n next to a spread of 0; ties count pessimistically, as ranks() does elsewhere."""
    study = position_bias_study(UnreadableForSome(), protocol, n_users=6, n_permutations=4)
    pc, pu = study.per_candidate, study.per_user
    tied_users = pu.user_id[pu.tied_orders == 4].tolist()
    assert tied_users
    for user in tied_users:
        rows = pc[pc.user_id == user]
        assert (rows["mean_rank"] == len(rows)).all() and (rows["rank_spread"] == 0).all()
    readable = pc[pc.user_id.isin(pu.user_id[pu.tied_orders == 0])]
    # with a winner in every order the mean ranks are distinct positions' averages: they sum to 1 + ... + n
    assert readable.groupby("user_id")["mean_rank"].sum().to_numpy() == pytest.approx(8 * 9 / 2)


def test_the_number_of_orders_reported_is_the_number_run(protocol):
    """Review: 20 orders were asked for 8 candidates, the balanced design ran 8, the summary said 20."""
    study = position_bias_study(FirstShownWins(), protocol, n_users=2, n_permutations=20)
    s = study.summary()
    assert study.n_permutations == s["n_permutations"] == 8 and s["n_permutations_requested"] == 20
    assert (study.per_user["orders"] == 8).all()
    assert position_bias_study(FirstShownWins(), protocol, n_users=2, n_permutations=3).summary()["n_permutations"] == 3
