"""The negation probe: add "I dislike <genre> films" to a profile and measure how far those films fall.

For each user a genre the profile does not mention is chosen, and a candidate set is drawn from
unseen movies: half with the genre, half without. Each ranker scores the candidates twice, with
the profile and with the profile plus the dislike; the probe reports how far the matching movies
fell, as the change of their mean rank percentile among the candidates (0 = top, 1 = bottom):
positive = they fell, as they should; negative = the dislike pulled them *up*.

It is written over plain ``Ranker`` objects, so any registered ranker can be probed.
"""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd

from recnb.scores.base import Query
from recnb.text.profile import Profile, Statement, item_key, profile_for_user

#: Registered rankers the probe compares, when the registry has them.
PROBE_RANKERS = ("bi-encoder", "profile-split", "cross-encoder", "llm-pointwise")


@dataclass
class ProbeCase:
    user_id: int | str
    genre: str
    profile: Profile
    history: tuple
    ratings: tuple
    candidates: list
    matching: np.ndarray  # bool per candidate: has the disliked genre


def _genres(items: pd.DataFrame) -> pd.Series:
    return items["genres"].fillna("").astype(str).str.split("|")


class ProbeCases(list):
    """The cases, plus ``skipped``: how many users were passed over, by reason."""

    def __init__(self, cases=(), skipped=None):
        super().__init__(cases)
        self.skipped: Counter = Counter(skipped or {})

    def report(self) -> str:
        """One line for a notebook or a log: users probed, then those passed over by reason, most first."""
        skipped = ", ".join(f"{n} ({why})" for why, n in self.skipped.most_common()) or "none"
        return f"{len(self)} users probed; passed over: {skipped}"


def make_cases(split, items: pd.DataFrame, n_users: int = 50, n_candidates: int = 20, seed: int = 0,
               min_genre_items: int = 50, users=None) -> ProbeCases:
    """One case per user with a non-empty facts profile; deterministic for a seed.

    A user is skipped (counted in the result's ``skipped``) when the profile has no like, when it
    already names every genre with ``min_genre_items`` items, or when the catalog has too few
    unseen movies with / without the chosen genre for ``n_candidates``.
    """
    rng = np.random.default_rng(seed)
    glists = _genres(items)
    counts = glists.explode().value_counts()
    counts = counts[(counts.index != "") & (counts.index != "IMAX")]
    genres = sorted(g for g, c in counts.items() if c >= min_genre_items)
    if not genres:
        biggest = f"the biggest, {counts.index[0]}, has {int(counts.iloc[0])}" if len(counts) else "it has no genres"
        raise ValueError(f"no genre has at least {min_genre_items} items in this catalog ({biggest}): the probe needs a "
                         "genre with enough movies to draw candidates from; pass a smaller min_genre_items or a bigger catalog")
    has = {g: glists.map(lambda gs, g=g: g in gs).to_numpy() for g in genres}
    ids = items["item_id"].to_numpy()
    pool = users if users is not None else rng.permutation(np.asarray(sorted(split.train["user_id"].unique())))
    cases = ProbeCases()
    for uid in pool:
        if len(cases) >= n_users:
            break
        profile = profile_for_user(split, items, uid)
        if not profile.likes:
            cases.skipped["no like in the profile"] += 1
            continue
        said = " ".join(s.text.lower() for s in profile.statements)
        options = [g for g in genres if g.lower() not in said]
        if not options:  # on a small catalog a profile can name every genre big enough to probe
            cases.skipped["every probe genre is in the profile"] += 1
            continue
        genre = options[rng.integers(len(options))]
        h = split.history(uid)
        unseen = ~np.isin(ids, h["item_id"].to_numpy())
        half = n_candidates // 2
        pos, neg = ids[unseen & has[genre]], ids[unseen & ~has[genre]]
        if len(pos) < half or len(neg) < n_candidates - half:
            cases.skipped["too few unseen movies with or without the genre"] += 1
            continue
        cands = np.concatenate([rng.choice(pos, half, replace=False), rng.choice(neg, n_candidates - half, replace=False)])
        cands = rng.permutation(cands)
        cases.append(ProbeCase(item_key(uid), genre, profile, tuple(h["item_id"].tolist()), tuple(h["rating"].tolist()),
                               [item_key(c) for c in cands], np.isin(cands, pos)))
    return cases


def _pct_ranks(scores: np.ndarray) -> np.ndarray:
    """Rank percentile of each candidate (0 = best), ties at their mean rank."""
    from scipy.stats import rankdata

    return (rankdata(-scores, method="average") - 1) / max(len(scores) - 1, 1)


def dislike_statement(genre: str) -> Statement:
    return Statement(f"I dislike {genre} films", polarity="dislike", source="edited")


def run_probe(rankers: dict, cases: list[ProbeCase]) -> pd.DataFrame:
    """One row per (ranker, user): matching items' mean rank percentile before and after, and the fall."""
    rows = []
    for name, ranker in rankers.items():
        for c in cases:
            with_dislike = Profile(c.profile.statements + [dislike_statement(c.genre)], user_id=c.user_id)
            t0 = time.perf_counter()
            before = ranker.score(Query(c.user_id, c.history, c.ratings, profile=c.profile), c.candidates)
            after = ranker.score(Query(c.user_id, c.history, c.ratings, profile=with_dislike), c.candidates)
            b, a = _pct_ranks(before)[c.matching].mean(), _pct_ranks(after)[c.matching].mean()
            rows.append({"ranker": name, "user_id": c.user_id, "genre": c.genre, "before": b, "after": a,
                         "fall": a - b, "seconds": time.perf_counter() - t0})
    return pd.DataFrame(rows)


def summarise_probe(per_user: pd.DataFrame) -> pd.DataFrame:
    """Per ranker: users, mean fall with a 95% normal CI, share of users where the genre fell."""
    out = []
    for name, g in per_user.groupby("ranker", sort=False):
        f = g["fall"].to_numpy()
        half = 1.96 * f.std(ddof=1) / np.sqrt(len(f)) if len(f) > 1 else float("nan")
        out.append({"ranker": name, "users": len(f), "mean_pct_before": g["before"].mean(),
                    "mean_pct_after": g["after"].mean(), "mean_fall": f.mean(), "ci95_low": f.mean() - half,
                    "ci95_high": f.mean() + half, "share_fell": float((f > 0).mean()),
                    "seconds_per_user": g["seconds"].mean()})
    return pd.DataFrame(out)


def probe_rankers(resources, train, items, names=PROBE_RANKERS) -> tuple[dict, dict]:
    """({name: fitted ranker} for the names the registry has, {name: why not} for the others)."""
    from recnb.scores.registry import all_rankers

    specs = all_rankers()
    found, missing = {}, {}
    for name in names:
        if name not in specs:
            missing[name] = "not registered (yet) in recnb.scores.registry"
            continue
        try:
            found[name] = specs[name].factory(resources).fit(train, items)
        except Exception as exc:  # a ranker that cannot be built is reported, not hidden
            missing[name] = f"failed to build: {type(exc).__name__}: {exc}"
    return found, missing


def plot_probe(summary: pd.DataFrame, title: str = "How far disliked-genre movies fall"):
    import plotly.graph_objects as go

    fig = go.Figure(go.Bar(
        x=summary["ranker"], y=summary["mean_fall"],
        error_y=dict(type="data", symmetric=False, array=summary["ci95_high"] - summary["mean_fall"],
                     arrayminus=summary["mean_fall"] - summary["ci95_low"]),
        marker_color=["#2a9d8f" if v > 0 else "#e76f51" for v in summary["mean_fall"]],
    ))
    fig.update_layout(title=title, yaxis_title="change of mean rank percentile (+ = fell)", height=360,
                      margin=dict(l=10, r=10, t=40, b=10))
    return fig
