"""The negation probe's cases: what happens on catalogs too small for it (no models needed)."""
from __future__ import annotations

import pytest

from recnb.profiles.negation import ProbeCases, make_cases


@pytest.fixture(scope="module")
def split(dataset):
    return dataset.split(seed=0)


def test_a_catalog_with_no_big_enough_genre_is_one_clear_error(dataset, split):
    recent = dataset.items[dataset.items.year >= 2016]  # 59 movies, the biggest genre has 24: raised 'high <= 0'
    with pytest.raises(ValueError, match=r"no genre has at least 50 items in this catalog \(the biggest, \w+, has 24\)"):
        make_cases(split, recent, n_users=3)
    assert len(make_cases(split, recent, n_users=3, n_candidates=4, min_genre_items=10)) == 3


def test_a_user_whose_profile_names_every_probe_genre_is_skipped_and_counted(dataset, split):
    # only Drama has 4,000 movies: a user whose profile says Drama has no genre left to dislike
    users = sorted(split.train.user_id.unique())[:40]
    cases = make_cases(split, dataset.items, n_users=40, min_genre_items=4000, users=users)
    assert cases and {c.genre for c in cases} == {"Drama"}
    assert all("drama" not in " ".join(s.text.lower() for s in c.profile) for c in cases)
    assert cases.skipped["every probe genre is in the profile"] > 0
    assert len(cases) + sum(cases.skipped.values()) == len(users)  # every user is a case or a counted skip


def test_the_cases_report_names_who_was_passed_over(dataset, split):
    users = sorted(split.train.user_id.unique())[:40]
    cases = make_cases(split, dataset.items, n_users=40, min_genre_items=4000, users=users)
    n = cases.skipped["every probe genre is in the profile"]
    line = cases.report()
    assert line.startswith(f"{len(cases)} users probed; passed over: ")
    assert f"{n} (every probe genre is in the profile)" in line
    assert ProbeCases().report() == "0 users probed; passed over: none"
    some = ProbeCases(cases[:1], {"no like in the profile": 1, "too few unseen movies with or without the genre": 3})
    assert some.report() == ("1 users probed; passed over: 3 (too few unseen movies with or without the genre), "
                             "1 (no like in the profile)")  # most first
