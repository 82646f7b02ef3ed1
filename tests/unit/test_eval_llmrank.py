"""The ML-1M section of notebook 08: found or cleanly skipped, and the table beside LLMRank's cited numbers.

ml-1m is not on this machine (its licence forbids bundling it), so the path is exercised on an
invented data set written in ml-1m's exact file format.
"""
from __future__ import annotations

import numpy as np
import pytest

import recnb
from recnb.evaluation.leaderboard import run_leaderboard
from recnb.evaluation.llmrank import LLMRANK_ML1M_NDCG10, beside_llmrank, find_ml1m
from recnb.evaluation.metrics import random_ndcg_at
from recnb.evaluation.protocols import SampledProtocol


@pytest.fixture
def fake_ml1m(tmp_path):
    """60 invented users x 80 invented movies in ml-1m's '::' format (latin-1)."""
    rng = np.random.default_rng(0)
    genres = ["Drama", "Comedy", "Thriller", "Romance", "Children's"]
    movies = [f"{i}::Invented Film {i} ({1980 + i % 20})::{genres[i % 5]}|{genres[(i + 2) % 5]}" for i in range(1, 81)]
    ratings, users = [], []
    for u in range(1, 61):
        taste = u % 5
        pool = [i for i in range(1, 81) if i % 5 == taste] + list(rng.choice(np.arange(1, 81), 10, replace=False))
        for t, i in enumerate(dict.fromkeys(pool)):
            ratings.append(f"{u}::{i}::{int(rng.integers(1, 6))}::{978300000 + 1000 * u + t}")
        users.append(f"{u}::F::25::4::55455")
    folder = tmp_path / "ml-1m"
    folder.mkdir()
    (folder / "movies.dat").write_text("\n".join(movies) + "\n", encoding="latin-1")
    (folder / "ratings.dat").write_text("\n".join(ratings) + "\n", encoding="latin-1")
    (folder / "users.dat").write_text("\n".join(users) + "\n", encoding="latin-1")
    return folder


def test_find_ml1m_from_argument_env_or_nothing(fake_ml1m, tmp_path, monkeypatch):
    monkeypatch.delenv("RECNB_ML1M", raising=False)
    assert find_ml1m(None) is None
    assert find_ml1m(tmp_path / "nowhere") is None
    assert find_ml1m(fake_ml1m) == fake_ml1m
    monkeypatch.setenv("RECNB_ML1M", str(fake_ml1m))
    assert find_ml1m(None) == fake_ml1m


def test_protocol_on_ml1m_format_beside_cited_numbers(fake_ml1m, tmp_path):
    ds = recnb.load_dataset("ml-1m", path=fake_ml1m)
    p = SampledProtocol(ds, n_users=40, store=tmp_path / "cands")
    lb = run_leaderboard(p, ["popularity", "bpr", "random", "item-knn"], log=None)
    table = beside_llmrank(lb)
    published = table.set_index("published (LLMRank, cited)")
    for name, (lo, hi) in LLMRANK_ML1M_NDCG10.items():
        assert name in published.index
    assert published.loc["Pop", "ours"] == "popularity" and published.loc["BPRMF", "ours"] == "bpr"
    assert published.loc["Pop", "our NDCG@10"] == pytest.approx(100 * lb.ci("popularity").loc["ndcg@10", "mean"], abs=0.01)
    computed = table[table.ours == "random (analytic, computed)"]["our NDCG@10"].iloc[0]
    assert computed == pytest.approx(100 * random_ndcg_at(10, 20), abs=0.01)
    assert "item-knn" in set(table.ours)  # rankers LLMRank did not report are listed too, without a citation
