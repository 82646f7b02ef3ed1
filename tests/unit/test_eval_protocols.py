"""Protocols: sampled candidates are right, reproducible, stored with a checksum and verified on reuse."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from recnb.data import Dataset
from recnb.evaluation.protocols import CandidateFileError, FullProtocol, SampledProtocol


@pytest.fixture(scope="module")
def split(dataset):
    return dataset.split(seed=0)


@pytest.fixture(scope="module")
def sampled(dataset, split):
    return SampledProtocol(dataset, split, n_users=60, store=False)


def test_sampled_candidates_are_the_target_plus_unrated_items(dataset, sampled):
    seen = dataset.ratings.groupby("user_id")["item_id"].agg(set)
    catalog = set(dataset.items["item_id"])
    positions = []
    for case in sampled.cases():
        c = case.candidates.tolist()
        assert len(c) == 20 and len(set(c)) == 20
        assert c.count(case.target) == 1 and case.relevant.sum() == 1
        assert set(c) <= catalog
        negatives = set(c) - {case.target}
        assert not negatives & seen[case.user_id], "a negative the user has rated"
        positions.append(c.index(case.target))
    # the target is shuffled in, not always first (an order-dependent ranker would otherwise learn it)
    assert len(set(positions)) > 5


def test_history_is_everything_before_the_target(dataset, split, sampled):
    for case in sampled.cases(10):
        user = dataset.ratings[dataset.ratings.user_id == case.user_id]
        target_row = split.test[split.test.user_id == case.user_id].iloc[0]
        assert case.target == target_row.item_id
        assert len(case.history) == len(user) - 1  # train + valid, i.e. everything but the target
        hist_ts = user[user.item_id.isin(case.history)].timestamp
        assert (hist_ts <= target_row.timestamp).all()
    assert len(sampled.train) == len(split.train) + len(split.valid)
    valid = SampledProtocol(dataset, split, part="valid", n_users=5, store=False)
    assert len(valid.train) == len(split.train)
    case = next(valid.cases())
    assert case.target == split.target(case.user_id, "valid") and case.target not in case.history


def test_same_seed_same_candidates_and_user_prefixes_agree(dataset, split, sampled):
    again = SampledProtocol(dataset, split, n_users=60, store=False)
    fewer = SampledProtocol(dataset, split, n_users=20, store=False)
    assert fewer.users.tolist() == sampled.users[:20].tolist()
    for a, b, c in zip(sampled.cases(20), again.cases(20), fewer.cases()):
        assert a.user_id == b.user_id == c.user_id
        assert a.candidates.tolist() == b.candidates.tolist() == c.candidates.tolist()
    other = SampledProtocol(dataset, split, n_users=20, seed=1, store=False)
    assert other.users.tolist() != fewer.users.tolist()


def test_stored_file_is_reused_and_verified(dataset, split, tmp_path):
    first = SampledProtocol(dataset, split, n_users=15, store=tmp_path)
    assert first.path.exists() and not first.loaded_from_file
    second = SampledProtocol(dataset, split, n_users=15, store=tmp_path)
    assert second.loaded_from_file
    for a, b in zip(first.cases(), second.cases()):
        assert a.candidates.tolist() == b.candidates.tolist() and a.target == b.target
    assert first.describe()["candidates_sha256"] == second.describe()["candidates_sha256"]

    doc = json.loads(first.path.read_text())
    doc["users"][0][2][0], doc["users"][0][2][1] = doc["users"][0][2][1], doc["users"][0][2][0]  # swap two candidates
    first.path.write_text(json.dumps(doc))
    with pytest.raises(CandidateFileError, match="checksum mismatch"):
        SampledProtocol(dataset, split, n_users=15, store=tmp_path)

    first.path.write_text("{not json")
    with pytest.raises(CandidateFileError, match="not a readable candidate file"):
        SampledProtocol(dataset, split, n_users=15, store=tmp_path)


def test_file_drawn_with_other_settings_is_refused(dataset, split, tmp_path):
    from recnb.evaluation.protocols import write_candidates

    p = SampledProtocol(dataset, split, n_users=5, store=tmp_path)
    meta = p.meta()
    meta["seed"] = 7  # a consistent file (valid checksum) but drawn with another seed
    write_candidates(p.path, meta, p._candidates)
    with pytest.raises(CandidateFileError, match="other data or settings.*seed"):
        SampledProtocol(dataset, split, n_users=5, store=tmp_path)


def test_file_drawn_from_another_split_with_the_same_seed_is_refused(dataset, split, tmp_path):
    """The meta names the split's seed only: a custom split would reuse targets now in the history (a leak)."""
    from recnb.data.split import Split

    SampledProtocol(dataset, split, n_users=5, store=tmp_path)
    swapped = Split(train=split.train, valid=split.test, test=split.valid, seed=split.seed)  # valid and test swapped
    with pytest.raises(CandidateFileError, match="not drawn from this split"):
        SampledProtocol(dataset, swapped, n_users=5, store=tmp_path)


def test_full_protocol_is_every_unrated_item_plus_the_target(dataset, split):
    full = FullProtocol(dataset, split, n_users=3)
    seen = dataset.ratings.groupby("user_id")["item_id"].agg(set)
    for case in full.cases():
        c = set(case.candidates.tolist())
        assert case.target in c
        assert c == set(dataset.items.item_id) - (seen[case.user_id] - {case.target})
    assert full.users.tolist() == SampledProtocol(dataset, split, n_users=3, store=False).users.tolist()


def test_too_few_unrated_items_is_a_clear_error():
    items = pd.DataFrame({"item_id": range(1, 6), "title": list("abcde")})
    ratings = pd.DataFrame({"user_id": [1, 1, 1, 2, 2], "item_id": [1, 2, 3, 1, 4], "rating": 4.0,
                            "timestamp": [1, 2, 3, 1, 2]})
    ds = Dataset("toy", items, ratings)
    with pytest.raises(ValueError, match="cannot draw 19 negatives"):
        SampledProtocol(ds, store=False)
    p = SampledProtocol(ds, n_negatives=2, store=False)
    assert all(len(c.candidates) == 3 for c in p.cases())
    with pytest.raises(ValueError, match="part"):
        SampledProtocol(ds, part="train", store=False)
