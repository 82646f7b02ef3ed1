"""Temporal leave-one-out: determinism, semantics, no leakage, seeded tie-breaks."""
from __future__ import annotations

import pandas as pd
import pytest

from recnb.data import temporal_leave_one_out


@pytest.fixture(scope="module")
def split(dataset):
    return dataset.split(seed=0)


def test_same_seed_same_split(dataset, split):
    again = dataset.split(seed=0)
    for part in ("train", "valid", "test"):
        pd.testing.assert_frame_equal(getattr(split, part), getattr(again, part))


def test_input_row_order_does_not_matter(dataset, split):
    shuffled = dataset.ratings.sample(frac=1.0, random_state=7)
    other = temporal_leave_one_out(shuffled, seed=0)
    for part in ("train", "valid", "test"):
        pd.testing.assert_frame_equal(getattr(split, part), getattr(other, part))


def test_parts_partition_the_ratings(dataset, split):
    assert len(split.test) == len(split.valid) == dataset.n_users == 671
    assert len(split.train) + len(split.valid) + len(split.test) == len(dataset.ratings)
    key = ["user_id", "item_id"]
    together = pd.concat([split.train, split.valid, split.test]).sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(together, dataset.ratings.sort_values(key).reset_index(drop=True))
    assert split.test["user_id"].is_unique and split.valid["user_id"].is_unique


def test_test_is_each_users_latest_and_nothing_leaks(dataset, split):
    last = dataset.ratings.groupby("user_id")["timestamp"].max()
    test = split.test.set_index("user_id")
    assert (test["timestamp"] == last.loc[test.index]).all()
    valid = split.valid.set_index("user_id")
    train_last = split.train.groupby("user_id")["timestamp"].max()
    assert (valid["timestamp"] <= test.loc[valid.index, "timestamp"]).all()
    assert (train_last <= valid.loc[train_last.index, "timestamp"]).all()
    # No (user, item) pair is both a training row and a held-out target.
    train_pairs = set(zip(split.train["user_id"], split.train["item_id"]))
    held = set(zip(split.test["user_id"], split.test["item_id"])) | set(zip(split.valid["user_id"],
                                                                            split.valid["item_id"]))
    assert not train_pairs & held


def test_history_is_the_users_training_rows_oldest_first(split):
    user = int(split.test["user_id"].iloc[5])
    hist = split.history(user)
    assert (hist["user_id"] == user).all() and hist["timestamp"].is_monotonic_increasing
    assert len(hist) == (split.train["user_id"] == user).sum()
    assert split.target(user) == split.test.loc[split.test["user_id"] == user, "item_id"].iloc[0]
    with_valid = split.history(user, include_valid=True)
    assert len(with_valid) == len(hist) + 1
    assert with_valid["item_id"].iloc[-1] == split.valid.loc[split.valid["user_id"] == user, "item_id"].iloc[0]
    assert split.history(-1).empty
    assert len(split.train_valid) == len(split.train) + len(split.valid)


def test_ties_are_broken_by_the_seed_not_by_file_order():
    # One user, three ratings in the same second: who is "latest" depends only on the seed.
    ratings = pd.DataFrame({"user_id": [1, 1, 1, 1], "item_id": [10, 11, 12, 13],
                            "rating": [4.0, 3.0, 5.0, 2.0], "timestamp": [100, 200, 200, 200]})
    picks = {seed: temporal_leave_one_out(ratings, seed=seed).test["item_id"].item() for seed in range(30)}
    assert set(picks.values()) == {11, 12, 13}  # never the earlier item 10, each tied one sometimes
    assert all(temporal_leave_one_out(ratings, seed=s).test["item_id"].item() == v for s, v in picks.items())
    split = temporal_leave_one_out(ratings, seed=3)
    assert split.train["item_id"].tolist()[0] == 10  # the strictly earlier rating always trains


def test_seeds_change_only_tied_choices(dataset):
    a, b = dataset.split(seed=0), dataset.split(seed=1)
    assert (a.test["timestamp"].to_numpy() == b.test["timestamp"].to_numpy()).all()
    assert (a.test["item_id"].to_numpy() != b.test["item_id"].to_numpy()).any()  # ml-small has ties


def test_small_users():
    ratings = pd.DataFrame({"user_id": [1, 2, 2, 3, 3, 3], "item_id": [1, 1, 2, 1, 2, 3],
                            "rating": [5.0] * 6, "timestamp": [1, 1, 2, 1, 2, 3]})
    s = temporal_leave_one_out(ratings)
    assert s.train.groupby("user_id").size().to_dict() == {1: 1, 2: 1, 3: 1}
    assert s.test["user_id"].tolist() == [2, 3] and s.valid["user_id"].tolist() == [3]
    assert s.test["item_id"].tolist() == [2, 3]
    no_valid = temporal_leave_one_out(ratings, valid=False)
    assert no_valid.valid.empty and len(no_valid.train) == 4


def test_an_item_rated_again_is_held_out_once_not_also_in_the_history():
    r = pd.DataFrame({"user_id": [1, 1, 1, 1], "item_id": [10, 11, 10, 12], "rating": [3.0, 4.0, 5.0, 2.0],
                      "timestamp": [1, 2, 3, 2]})
    r.loc[3, "timestamp"] = 4  # user 1: 10 (t=1), 11 (t=2), 10 again (t=3), 12 (t=4)
    with pytest.warns(UserWarning, match="1 earlier rating"):
        s = temporal_leave_one_out(r)
    assert s.repeats_dropped == 1 and s.test.item_id.tolist() == [12] and s.valid.item_id.tolist() == [10]
    assert s.train.item_id.tolist() == [11] and s.valid.rating.tolist() == [5.0]  # the latest rating of item 10
