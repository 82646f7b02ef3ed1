"""A synthetic catalog whose right answer is known: the shared ranker contract's test bed.

Like implicit's checkerboard test, two taste groups never mix: space-adventure fans only
rate space adventures, romance fans only romances, and each user's held-out items are
unseen items of their own group. Item texts and the users' NL profiles say the same thing
in words, so ID-based, lexical, encoder and LLM rankers can all find the answer. Space
adventures are also the more popular group (twice the fans), so popularity ranks them
first for everybody.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

GROUPS = {
    "space": dict(
        genres="Sci-Fi|Adventure",
        nouns=["Starship", "Nebula", "Orbit", "Galaxy", "Comet", "Asteroid", "Rocket", "Quasar", "Moonbase", "Pulsar",
               "Cosmos", "Stardust"],
        blurb="A science fiction adventure in outer space: astronauts, a starship, alien planets and a battle among the stars.",
        profile="I love science fiction adventures set in outer space, with starships, astronauts and alien planets.",
    ),
    "romance": dict(
        genres="Romance|Comedy",
        nouns=["Wedding", "Valentine", "Sweetheart", "Kiss", "Honeymoon", "Darling", "Paris Love", "Bouquet", "Proposal",
               "First Date", "Serenade", "Crush"],
        blurb="A romantic comedy about two people falling in love: a wedding, a first date, a kiss and a happy ending.",
        profile="I love romantic comedies about couples falling in love, weddings and first dates.",
    ),
}


@dataclass
class ContractCase:
    user_id: int
    group: str
    history: tuple
    ratings: tuple
    profile: str
    candidates: list
    relevant: set


@dataclass
class SyntheticCatalog:
    items: pd.DataFrame
    train: pd.DataFrame
    cases: list

    def query(self, case: ContractCase, with_text: bool = True):
        from recnb.scores.base import Query

        return Query(user_id=case.user_id, history=case.history, ratings=case.ratings,
                     profile=case.profile if with_text else None)


def make_catalog(n_test_users: int = 6, n_candidates_per_group: int = 4, seed: int = 0) -> SyntheticCatalog:
    """Items, training ratings and test cases (held-out in-group items vs out-group items)."""
    rng = np.random.default_rng(seed)
    rows, item_id = [], 1
    for group, spec in GROUPS.items():
        for j, noun in enumerate(spec["nouns"]):
            rows.append(dict(item_id=item_id, title=f"{noun} {'Quest' if group == 'space' else 'Story'}",
                             year=1990 + j, genres=spec["genres"], group=group,
                             description=f"{noun} {'Quest' if group == 'space' else 'Story'} ({1990 + j}). {spec['blurb']}",
                             director=f"{group.title()} Director {j % 3}"))
            item_id += 1
    items = pd.DataFrame(rows)
    by_group = {g: items.loc[items.group == g, "item_id"].to_numpy() for g in GROUPS}

    # Training users: twice as many space fans, so popularity favours space items.
    train, uid, ts = [], 1, 1_000_000
    fans = [("space", 24), ("romance", 12)]
    for group, n in fans:
        for _ in range(n):
            liked = rng.choice(by_group[group], size=6, replace=False)
            for it in liked:
                train.append(dict(user_id=uid, item_id=int(it), rating=float(rng.choice([4.0, 4.5, 5.0])), timestamp=ts))
                ts += 1
            uid += 1

    # Test users: a short in-group history; candidates = unseen in-group items + out-group items.
    cases = []
    for k in range(n_test_users):
        group = "space" if k % 2 == 0 else "romance"
        other = "romance" if group == "space" else "space"
        pool = rng.permutation(by_group[group])
        history = [int(i) for i in pool[:4]]
        relevant = [int(i) for i in pool[4 : 4 + n_candidates_per_group]]
        negatives = [int(i) for i in rng.choice(by_group[other], size=n_candidates_per_group, replace=False)]
        candidates = list(rng.permutation(relevant + negatives).tolist())
        for it in history:
            train.append(dict(user_id=uid, item_id=it, rating=5.0, timestamp=ts))
            ts += 1
        cases.append(ContractCase(uid, group, tuple(history), (5.0,) * len(history), GROUPS[group]["profile"],
                                  candidates, set(relevant)))
        uid += 1
    return SyntheticCatalog(items=items, train=pd.DataFrame(train), cases=cases)


def auc(scores: np.ndarray, candidates: list, relevant: set, ties: str = "half") -> float:
    """Probability that a relevant candidate outscores an irrelevant one.

    ``ties="half"``: a tie counts half (the usual AUC: a constant ranker scores 0.5);
    ``ties="pessimistic"``: a tie counts as a loss, the kit's evaluation rule (a constant ranker scores 0).
    """
    if ties not in ("half", "pessimistic"):
        raise ValueError(f"ties must be 'half' or 'pessimistic', not {ties!r}")
    scores = np.asarray(scores, dtype=float)
    rel = np.array([c in relevant for c in candidates])
    pos, neg = scores[rel], scores[~rel]
    if len(pos) == 0 or len(neg) == 0:
        raise ValueError("AUC needs both relevant and irrelevant candidates")
    diff = pos[:, None] - neg[None, :]
    return float(((diff > 0) + (0.5 if ties == "half" else 0.0) * (diff == 0)).mean())
