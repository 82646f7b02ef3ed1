"""The profiles benchmark records which users the negation probe passed over, and why."""
from __future__ import annotations

import json
import sys

from recnb.profiles.negation import ProbeCases, make_cases


def test_the_probe_setup_records_the_users_passed_over(repo_root, dataset):
    sys.path.insert(0, str(repo_root))
    from benchmarks.bench_profiles import probe_setup

    split = dataset.split(seed=0)
    users = sorted(split.train.user_id.unique())[:40]
    # only Drama has 4,000 movies: users whose profile already says Drama are passed over
    cases = make_cases(split, dataset.items, n_users=40, min_genre_items=4000, users=users)
    setup = probe_setup(cases, {"cross-encoder": "not trained yet"})
    assert setup["users_with_a_case"] == len(cases) and setup["users_skipped"] == dict(cases.skipped)
    assert setup["users_with_a_case"] + sum(setup["users_skipped"].values()) == len(users)
    assert setup["not_available"] == {"cross-encoder": "not trained yet"} and setup["candidates_per_user"] == 20
    json.dumps(setup, allow_nan=False)  # goes into results.json as is
    empty = probe_setup(ProbeCases(), {})
    assert (empty["users_with_a_case"], empty["users_skipped"], empty["not_available"]) == (0, "none", "none")
