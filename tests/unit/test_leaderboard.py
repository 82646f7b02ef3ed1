"""The leaderboard: nothing dropped, failures counted, budgets recorded, files round-trip."""
from __future__ import annotations

import json

import numpy as np
import pytest

from recnb.data import Dataset
from recnb.evaluation.leaderboard import Leaderboard, evaluate, run_leaderboard
from recnb.evaluation.metrics import random_ndcg_at
from recnb.evaluation.protocols import SampledProtocol
from recnb.evaluation.synthetic import make_catalog
from recnb.scores.base import Ranker
from recnb.scores.popularity import PopularityRanker, RandomRanker


@pytest.fixture(scope="module")
def protocol():
    cat = make_catalog(n_test_users=12)
    ds = Dataset("synthetic", cat.items, cat.train)
    return SampledProtocol(ds, n_users=None, n_negatives=7, store=False)


class Flaky(Ranker):
    """Fails on every other user and counts made-up LLM errors, like a generative ranker would."""

    name = "flaky"

    def _score(self, query, candidates):
        self.stats["unparseable_outputs"] += 1
        self.stats["invalid_titles"] += 2
        self.stats["rank_spread_sum"] += 0.25
        if query.user_id % 2:
            raise ValueError("model answer could not be parsed")
        return np.arange(len(candidates), dtype=float)


def test_failed_users_are_kept_with_the_worst_rank(protocol):
    run = evaluate(Flaky(), protocol)
    assert run.n_users == len(protocol)  # nobody dropped
    failed = run.per_user[run.per_user.error.notna()]
    assert len(failed) == run.failed_users > 0
    assert (failed["rank"] == failed["n_candidates"]).all()
    assert failed["error"].str.contains("could not be parsed").all()
    rates = run.rates()
    assert rates["parse_errors_per_user"] == 1.0 and rates["hallucinated_per_user"] == 2.0
    assert rates["failed_user_rate"] == pytest.approx(run.failed_users / run.n_users)
    assert run.stats["rank_spread_sum"] == pytest.approx(0.25 * len(protocol))  # float stats stay floats


class Uneven(Ranker):
    """Invents a different number of titles per user, so the per-user counts vary."""

    name = "uneven"

    def _score(self, query, candidates):
        self.stats["invalid_titles"] += int(query.user_id) % 3
        self.stats["unparseable_outputs"] += int(query.user_id) % 2
        return np.arange(len(candidates), dtype=float)


def test_error_counts_are_kept_per_user_with_cis(protocol, tmp_path):
    run = evaluate(Uneven(), protocol)
    per = run.per_user
    assert per["hallucinated"].sum() == run.stats["invalid_titles"] and per["parse_errors"].sum() == run.stats["unparseable_outputs"]
    assert per["hallucinated"].tolist() == [int(u) % 3 for u in per["user_id"]]
    ci = run.rate_ci()
    for key, rate in run.rates().items():
        assert ci.loc[key, "mean"] == pytest.approx(rate)
        assert ci.loc[key, "ci_low"] <= rate <= ci.loc[key, "ci_high"]
    assert ci.loc["hallucinated_per_user", "ci_low"] < ci.loc["hallucinated_per_user", "ci_high"]  # users differ
    lb = Leaderboard({"protocol": "sampled"}, [run, evaluate(Flaky(), protocol)])
    back = Leaderboard.from_json(lb.to_json(tmp_path / "lb.json"))
    assert back.run("uneven").per_user["hallucinated"].tolist() == per["hallucinated"].tolist()
    assert back.to_dict()["rankers"][0]["rates_ci"] == lb.to_dict()["rankers"][0]["rates_ci"]
    # a file written before per-user counts were kept still loads; it just has no rate CIs
    doc = json.loads((tmp_path / "lb.json").read_text())
    doc["per_user_columns"] = doc["per_user_columns"][:6]
    doc["per_user"] = {k: [row[:6] for row in v] for k, v in doc["per_user"].items()}
    (tmp_path / "old.json").write_text(json.dumps(doc))
    old = Leaderboard.from_json(tmp_path / "old.json")
    assert old.run("uneven").rate_ci() is None and "rates_ci" not in old.to_dict()["rankers"][0]


def test_a_query_that_cannot_be_built_fails_that_user_only(protocol, monkeypatch):
    real = type(protocol).query

    def query(self, case, with_profile=True):
        if case.user_id == protocol.users[1]:
            raise KeyError("an item of this history is missing from the catalog")
        return real(self, case, with_profile)

    monkeypatch.setattr(type(protocol), "query", query)
    run = evaluate(PopularityRanker(), protocol)
    assert run.n_users == len(protocol) and run.failed_users == 1  # the others are kept, not discarded
    assert run.per_user.error.dropna().str.contains("missing from the catalog").all()


def test_a_target_not_once_among_the_candidates_is_a_clear_error(protocol, monkeypatch):
    real = type(protocol).case

    def case(self, user_id):
        import dataclasses

        c = real(self, user_id)
        return dataclasses.replace(c, candidates=c.candidates[c.candidates != c.target])

    monkeypatch.setattr(type(protocol), "case", case)
    with pytest.raises(ValueError, match="0 times among the candidates"):
        evaluate(PopularityRanker(), protocol)


def test_budget_stops_early_and_says_so(protocol):
    run = evaluate(RandomRanker(), protocol, budget_s=0.0)
    assert run.n_users == 1 and run.n_requested == len(protocol)
    assert "time budget" in run.stopped
    few = evaluate(RandomRanker(), protocol, n_users=3)
    assert few.n_users == 3 and few.stopped is None
    assert few.per_user.user_id.tolist() == protocol.users[:3].tolist()


def test_leaderboard_table_file_and_charts(protocol, tmp_path):
    lb = run_leaderboard(protocol, ["popularity", "random", "item-knn", "no-such-ranker"], log=None,
                         users_per_ranker={"random": 5}, meta={"mode": "test"})
    assert lb.run("no-such-ranker").status == "unavailable"
    assert lb.run("random").n_users == 5 and lb.meta["plan"]["random"]["n_users"] == 5
    table = lb.summary()
    analytic = table[table.ranker == "random (analytic expectation)"].iloc[0]
    assert analytic["ndcg@10"] == pytest.approx(random_ndcg_at(10, 8))
    ok = table[table.status == "ok"]
    for m in ("ndcg@1", "ndcg@10", "recall@5", "mrr"):
        assert ok[m].between(0, 1).all()
    # the synthetic answer is known: item-kNN finds each user's own group
    assert lb.ci("item-knn").loc["ndcg@10", "ci_low"] > analytic["ndcg@10"]

    path = lb.to_json(tmp_path / "lb.json")
    back = Leaderboard.from_json(path)
    assert [r.name for r in back.runs] == [r.name for r in lb.runs]
    for name in ("popularity", "random", "item-knn"):
        assert back.ci(name).round(12).equals(lb.ci(name).round(12))
    assert back.random_baseline() == pytest.approx(lb.random_baseline())
    assert "NDCG@10" in lb.figure().layout.title.text and len(lb.latency_figure().data[0].x) == 3
    diff = lb.compare("item-knn", "random")
    assert diff["users"] == 5 and diff["ci_low"] > 0
    # against one reference, every comparison at 1 - 0.05/m (Bonferroni): wider than one alone
    table = lb.compare_all("popularity")
    assert list(table.ranker) and "popularity" not in set(table.ranker) and (table.confidence == 1 - 0.05 / len(table)).all()
    alone = lb.compare("item-knn", "popularity")
    row = table.set_index("ranker").loc["item-knn"]
    assert row["ci_low"] <= alone["ci_low"] and row["ci_high"] >= alone["ci_high"] and row["mean"] == alone["mean"]
    assert set(table.verdict) <= {"better than popularity", "worse than popularity", "no clear difference",
                                  "too few shared users (5 < 10) to tell"}
    assert row["verdict"] == ("better than popularity" if row["ci_low"] > 0 else
                              "worse than popularity" if row["ci_high"] < 0 else "no clear difference")
    # random ran on 5 users only: no verdict from so few, and the summary says its row is not paired
    assert table.set_index("ranker").loc["random", "verdict"] == "too few shared users (5 < 10) to tell"
    assert "5 of the" in lb.summary().set_index("ranker").loc["random", "note"]
    assert lb.summary().set_index("ranker").loc["item-knn", "note"] == ""


def test_a_ranker_that_cannot_be_built_is_reported(protocol, monkeypatch):
    from recnb.scores import registry

    def broken(res):
        raise RuntimeError("model not available offline")

    monkeypatch.setitem(registry.RANKERS, "broken-test-ranker", registry.RankerSpec("broken-test-ranker", broken))
    lb = run_leaderboard(protocol, ["broken-test-ranker", "popularity"], log=None, skip=("popularity",))
    assert lb.run("broken-test-ranker").status == "unavailable"
    assert "not available offline" in lb.run("broken-test-ranker").message
    assert lb.run("popularity").message == "skipped by the caller"
    assert lb.summary()["status"].tolist().count("unavailable") == 2
    lb = run_leaderboard(protocol, ["popularity"], log=None, skip={"popularity": "too slow for this run"})
    assert lb.run("popularity").message == "skipped: too slow for this run" and lb.meta["plan"]["popularity"]["skipped"]


def test_evaluate_without_refit(protocol):
    r = PopularityRanker().fit(protocol.train, protocol.dataset.items)
    run = evaluate(r, protocol, fit=False, n_users=4)
    assert run.fit_seconds < 1.0 and run.n_users == 4


def test_random_scores_are_uniform_independent_and_order_free():
    """Over many users the random ranker is what its contract band assumes: AUC 0.5, no structure."""
    import pandas as pd
    from scipy.stats import kstest

    from recnb.evaluation.synthetic import auc
    from recnb.scores.base import Query

    ids = np.arange(1, 401)
    r = RandomRanker().fit(None, pd.DataFrame({"item_id": ids, "title": [f"t{i}" for i in ids]}))
    s = np.stack([r.score(Query(user_id=u), ids) for u in range(300)])
    assert kstest(s.ravel(), "uniform").pvalue > 1e-3 and abs(s.mean() - 0.5) < 0.01
    assert abs(np.corrcoef(s[:, :-1].ravel(), s[:, 1:].ravel())[0, 1]) < 0.02  # neighbouring ids
    assert abs(np.corrcoef(s[:-1].ravel(), s[1:].ravel())[0, 1]) < 0.02  # neighbouring users
    aucs = [auc(row, list(ids), set(ids[:200].tolist())) for row in s]
    assert abs(np.mean(aucs) - 0.5) < 0.01
    np.testing.assert_array_equal(r.score(Query(user_id=7), ids[::-1]), s[7][::-1])  # per (user, item), not per position
