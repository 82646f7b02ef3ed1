"""Run rankers on one protocol and report them side by side, honestly.

``evaluate(ranker, protocol)`` scores every user's candidates and keeps, per user, the
pessimistic rank of the target, the time the ranker took, and any error. ``run_leaderboard``
does that for every registered ranker (or the ones named) and returns a :class:`Leaderboard`:
means with bootstrap CIs over users, the analytic random baseline beside them, the rates of
parse errors / hallucinated items / fallbacks from ``ranker.stats``, latency per user, and
what was actually run (users per ranker, time budgets, rankers that could not be built).

Nothing is dropped: a user whose scoring raised counts with the worst possible rank (all
candidates tied, broken pessimistically) and is listed in ``failed_users``.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from recnb.evaluation.bootstrap import bootstrap_ci, paired_difference_ci
from recnb.evaluation.metrics import DEFAULT_KS, metrics_from_ranks, random_baseline, relevant_ranks

FORMAT = "recnb.leaderboard/1"
TABLE_METRICS = ("ndcg@1", "ndcg@5", "ndcg@10", "ndcg@20", "recall@5", "recall@10", "mrr")
#: compare_all gives no verdict on fewer shared users: one user's difference has a zero-width bootstrap
#: interval, and percentile intervals on a handful of users are far narrower than the truth.
MIN_USERS_FOR_VERDICT = 10

#: How ``ranker.stats`` keys are grouped into the rates the table shows (substring match on the
#: key). The raw counters are always kept in full next to these rates.
#: "hallucinated" = named items that are not among the candidates (or not in the catalog at all).
STAT_GROUPS = {
    "parse_errors": ("parse",),
    "hallucinated": ("halluc", "invalid_title", "outside_candidates", "not_in_candidates"),
    "fallbacks": ("fallback", "no_known_query_terms"),
}


@dataclass
class RankerRun:
    """One ranker on one protocol: per-user outcomes and what happened along the way."""

    name: str
    per_user: pd.DataFrame = field(repr=False)
    status: str = "ok"  # ok | unavailable (could not be built or fitted)
    message: str = ""
    stats: dict = field(default_factory=dict)
    fit_seconds: float = 0.0
    eval_seconds: float = 0.0
    n_requested: int = 0
    budget_s: float | None = None
    stopped: str | None = None

    @property
    def n_users(self) -> int:
        return len(self.per_user)

    @property
    def failed_users(self) -> int:
        return int(self.per_user["error"].notna().sum()) if len(self.per_user) else 0

    def metrics(self, ks=DEFAULT_KS) -> pd.DataFrame:
        """Per-user metrics (one row per user), recomputed from the stored ranks."""
        rows = [metrics_from_ranks([r], 1, ks) for r in self.per_user["rank"].tolist()]
        return pd.DataFrame(rows, index=self.per_user["user_id"].to_numpy())

    def rate_ci(self, n_resamples: int = 2000, seed: int = 0) -> pd.DataFrame | None:
        """Per-user error counts (parse errors, hallucinated, fallbacks, failed) with bootstrap CIs over
        users, like the metrics; None for a run loaded from a file written before they were kept."""
        if not self.n_users or not set(STAT_GROUPS) <= set(self.per_user.columns):
            return None
        counts = self.per_user[list(STAT_GROUPS)].astype(float).assign(failed_user=self.per_user["error"].notna().astype(float))
        return bootstrap_ci(counts.rename(columns=lambda c: f"{c}_per_user" if c in STAT_GROUPS else f"{c}_rate"),
                            n_resamples, seed=seed)

    def rates(self) -> dict:
        """Stats groups per evaluated user (e.g. parse errors per user)."""
        n = max(self.n_users, 1)
        out = {}
        for group, needles in STAT_GROUPS.items():
            total = sum(v for k, v in self.stats.items() if any(s in k.lower() for s in needles))
            out[f"{group}_per_user"] = total / n
        out["failed_user_rate"] = self.failed_users / n
        return out


def _unavailable(name: str, message: str, n_requested: int) -> RankerRun:
    cols = ["user_id", "target", "rank", "n_candidates", "seconds", "error", *STAT_GROUPS]
    return RankerRun(name, pd.DataFrame(columns=cols), status="unavailable", message=message, n_requested=n_requested)


def evaluate(ranker, protocol, n_users: int | None = None, budget_s: float | None = None, name: str | None = None,
             fit: bool = True, progress: bool = False, with_profile: bool = True) -> RankerRun:
    """Fit ``ranker`` on ``protocol.train`` (unless ``fit=False``) and score the first ``n_users`` users.

    budget_s: stop after the user during which the scoring time passed this many seconds; the
    users evaluated are then a prefix of the protocol's order, and ``stopped`` says so.
    """
    name = name or getattr(ranker, "name", type(ranker).__name__)
    n_req = len(protocol) if n_users is None else min(int(n_users), len(protocol))
    t0 = time.perf_counter()
    if fit:
        ranker.fit(protocol.train, protocol.dataset.items)
    fit_s = time.perf_counter() - t0
    before = Counter(getattr(ranker, "stats", {}))
    rows, spent, stopped = [], 0.0, None
    cases = protocol.cases(n_req)
    if progress:
        from tqdm.auto import tqdm

        cases = tqdm(cases, total=n_req, desc=name, leave=False)
    for case in cases:
        if int(case.relevant.sum()) != 1:  # the protocol's own fault, not the ranker's: stop with a clear error
            raise ValueError(f"user {case.user_id!r}: the target {case.target!r} is {int(case.relevant.sum())} times "
                             "among the candidates (must be once)")
        error, t = None, None
        snap = Counter(getattr(ranker, "stats", {}))
        try:
            query = protocol.query(case, with_profile=with_profile)  # builds the NL profile: may fail for this user
            t = time.perf_counter()  # the ranker's time only (the profile is built once for all rankers)
            scores = ranker.score(query, case.candidates)
        except Exception as exc:  # counted and shown, never hidden: the user gets the worst rank
            error = f"{type(exc).__name__}: {exc}"
            scores = np.zeros(len(case.candidates))
        secs = time.perf_counter() - t if t is not None else 0.0
        spent += secs
        rank = int(relevant_ranks(scores, case.relevant)[0])
        rows.append(dict(user_id=case.user_id, target=case.target, rank=rank, n_candidates=len(case.candidates),
                         seconds=secs, error=error, **_group_counts(Counter(getattr(ranker, "stats", {})), snap)))
        if budget_s is not None and spent > budget_s and len(rows) < n_req:
            stopped = f"time budget of {budget_s:g} s reached after {len(rows)} of {n_req} users"
            break
    after = Counter(getattr(ranker, "stats", {}))
    stats = {k: _number(after[k] - before.get(k, 0)) for k in after if after[k] != before.get(k, 0)}
    return RankerRun(name, pd.DataFrame(rows), stats=stats, fit_seconds=fit_s, eval_seconds=spent,
                     n_requested=n_req, budget_s=budget_s, stopped=stopped)


@dataclass
class Leaderboard:
    """Runs of several rankers on one protocol, with CIs and the analytic random baseline."""

    protocol: dict
    runs: list
    ks: tuple = DEFAULT_KS
    meta: dict = field(default_factory=dict)
    n_resamples: int = 2000
    seed: int = 0

    def __post_init__(self):
        self._ci: dict = {}
        #: the fitted rankers of this run (not saved): pass them as ``fitted=`` to another protocol
        #: with the same training data to skip refitting
        self.rankers: dict = {}

    # -- numbers ---------------------------------------------------------------------------
    def run(self, name: str) -> RankerRun:
        for r in self.runs:
            if r.name == name:
                return r
        raise KeyError(f"no ranker {name!r} in this leaderboard; have {[r.name for r in self.runs]}")

    @property
    def ok_runs(self) -> list:
        return [r for r in self.runs if r.status == "ok" and r.n_users]

    def random_baseline(self) -> dict:
        """Expected metrics of a random order, for exactly the candidate counts evaluated."""
        counts = [n for r in self.ok_runs for n in r.per_user["n_candidates"].tolist()]
        if not counts:
            return {}
        return random_baseline(counts, 1, self.ks)

    def ci(self, name: str) -> pd.DataFrame:
        if name not in self._ci:
            self._ci[name] = bootstrap_ci(self.run(name).metrics(self.ks), self.n_resamples, seed=self.seed)
        return self._ci[name]

    def latency(self, run: RankerRun) -> dict:
        s = run.per_user["seconds"].to_numpy(dtype=float)
        if not len(s):
            return {"mean_s": None, "p50_s": None, "p95_s": None}
        return {"mean_s": float(s.mean()), "p50_s": float(np.median(s)), "p95_s": float(np.percentile(s, 95))}

    def summary(self, metrics=TABLE_METRICS, with_ci: bool = True) -> pd.DataFrame:
        """One row per ranker (best NDCG@10 first), plus the analytic random baseline row.

        A ranker that ran on fewer users than the others (a budget, or fewer users for slow
        rankers) says so in its note: its mean is over other users, so rows are not paired;
        :meth:`compare` pairs them on the users both ran on.
        """
        rows = []
        most = max((r.n_users for r in self.ok_runs), default=0)
        for r in self.runs:
            row = {"ranker": r.name, "users": r.n_users, "status": r.status}
            if r.status == "ok" and r.n_users:
                ci = self.ci(r.name)
                for m in metrics:
                    row[m] = ci.loc[m, "mean"]
                    if with_ci:
                        row[f"{m} CI"] = f"[{ci.loc[m, 'ci_low']:.3f}, {ci.loc[m, 'ci_high']:.3f}]"
                row.update({k: v for k, v in r.rates().items()})
                row["ms/user"] = 1000 * self.latency(r)["mean_s"]
                row["fit s"] = r.fit_seconds
            notes = [r.stopped or r.message or ""]
            if r.status == "ok" and 0 < r.n_users < most:
                notes.append(f"{r.n_users} of the {most} users the others ran on: compare() pairs them")
            row["note"] = "; ".join(n for n in notes if n)
            rows.append(row)
        frame = pd.DataFrame(rows)
        base = self.random_baseline()
        if base:
            analytic = {"ranker": "random (analytic expectation)", "users": None, "status": "computed"}
            analytic.update({m: base[m] for m in metrics})
            analytic["note"] = "exact expectation of a uniformly random order, not a run"
            frame = pd.concat([frame, pd.DataFrame([analytic])], ignore_index=True)
        key = "ndcg@10" if "ndcg@10" in metrics else (metrics[0] if metrics else None)
        if key in frame:
            frame = frame.sort_values(key, ascending=False, na_position="last", kind="stable")
        return frame.reset_index(drop=True)

    def compare(self, a: str, b: str, metric: str = "ndcg@10", confidence: float = 0.95,
                n_resamples: int | None = None) -> dict:
        """Paired bootstrap CI of metric(a) - metric(b) over the users both rankers ran on."""
        ma, mb = self.run(a).metrics(self.ks)[metric], self.run(b).metrics(self.ks)[metric]
        common = ma.index.intersection(mb.index)
        if len(common) == 0:
            raise ValueError(f"{a} and {b} share no evaluated users")
        out = paired_difference_ci(ma.loc[common].to_numpy(), mb.loc[common].to_numpy(),
                                   n_resamples or self.n_resamples, confidence=confidence, seed=self.seed)
        out.update(metric=metric, a=a, b=b, users=int(len(common)), confidence=confidence)
        return out

    def compare_all(self, reference: str, metric: str = "ndcg@10", family_confidence: float = 0.95) -> pd.DataFrame:
        """Every ok ranker against ``reference``: paired CIs corrected for the number of comparisons.

        With 15 comparisons at 95% each, about one in two tables would show a "difference" that is
        noise; Bonferroni (each at 1 - (1 - family_confidence) / m) keeps the whole table at
        ``family_confidence``. Conservative, but it needs no assumption about how the comparisons
        relate. More resamples as the tails get thinner (at least ~20 per tail).
        """
        others = [r.name for r in self.ok_runs if r.name != reference]
        if not others:
            return pd.DataFrame(columns=["ranker", "users", "mean", "ci_low", "ci_high", "confidence", "verdict"])
        confidence = 1 - (1 - family_confidence) / len(others)
        n_resamples = max(self.n_resamples, int(np.ceil(40 / (1 - confidence))))
        rows = []
        for name in others:
            d = self.compare(name, reference, metric, confidence, n_resamples)
            verdict = (f"too few shared users ({d['users']} < {MIN_USERS_FOR_VERDICT}) to tell" if d["users"] < MIN_USERS_FOR_VERDICT else
                       f"better than {reference}" if d["ci_low"] > 0 else
                       f"worse than {reference}" if d["ci_high"] < 0 else "no clear difference")
            rows.append({"ranker": name, **{k: d[k] for k in ("users", "mean", "ci_low", "ci_high", "confidence")},
                         "verdict": verdict})
        return pd.DataFrame(rows)

    # -- files -----------------------------------------------------------------------------
    def to_dict(self) -> dict:
        rankers, per_user = [], {}
        # per-user event counts are kept when every run has them (a run read from an older file does not)
        groups = list(STAT_GROUPS) if all(set(STAT_GROUPS) <= set(r.per_user.columns) for r in self.runs if r.n_users) else []
        columns = ["user_id", "target", "rank", "n_candidates", "seconds", "error"] + groups
        for r in self.runs:
            entry = {"name": r.name, "status": r.status, "message": r.message, "n_requested": r.n_requested,
                     "n_users": r.n_users, "budget_s": r.budget_s, "stopped": r.stopped, "fit_seconds": r.fit_seconds,
                     "eval_seconds": r.eval_seconds, "wall_seconds": r.fit_seconds + r.eval_seconds,
                     "failed_users": r.failed_users, "stats": r.stats}
            if r.status == "ok" and r.n_users:
                ci = self.ci(r.name)
                entry["metrics"] = {m: {k: float(ci.loc[m, k]) for k in ("mean", "ci_low", "ci_high")} for m in ci.index}
                entry["rates"] = r.rates()
                rate_ci = r.rate_ci(self.n_resamples, self.seed)
                if rate_ci is not None:
                    entry["rates_ci"] = {k: {c: float(rate_ci.loc[k, c]) for c in ("mean", "ci_low", "ci_high")}
                                         for k in rate_ci.index}
                entry["latency"] = self.latency(r)
                errors = r.per_user["error"].dropna()
                entry["first_error"] = errors.iloc[0] if len(errors) else None
            rankers.append(entry)
            per_user[r.name] = [[_jsonable(u), _jsonable(t), int(k), int(n), float(s), e, *map(_number, g)]
                                for u, t, k, n, s, e, *g in r.per_user[columns].itertuples(index=False)]
        return {"format": FORMAT, "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                "meta": self.meta, "protocol": self.protocol, "ks": list(self.ks),
                "bootstrap": {"n_resamples": self.n_resamples, "confidence": 0.95, "seed": self.seed,
                              "method": "percentile, users resampled"},
                "random_baseline": self.random_baseline(), "rankers": rankers,
                "per_user_columns": columns,
                "per_user": per_user}

    def to_json(self, path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=1, default=_jsonable) + "\n")
        os.replace(tmp, path)
        return path

    @classmethod
    def from_json(cls, path) -> "Leaderboard":
        doc = json.loads(Path(path).read_text())
        if doc.get("format") != FORMAT:
            raise ValueError(f"{path}: not a leaderboard file (format {doc.get('format')!r})")
        runs = []
        for e in doc["rankers"]:
            frame = pd.DataFrame(doc["per_user"].get(e["name"], []), columns=doc["per_user_columns"])
            runs.append(RankerRun(e["name"], frame, status=e["status"], message=e["message"], stats=e["stats"],
                                  fit_seconds=e["fit_seconds"], eval_seconds=e["eval_seconds"],
                                  n_requested=e["n_requested"], budget_s=e["budget_s"], stopped=e["stopped"]))
        b = doc.get("bootstrap", {})
        return cls(doc["protocol"], runs, tuple(doc["ks"]), doc.get("meta", {}), b.get("n_resamples", 2000), b.get("seed", 0))

    # -- charts ----------------------------------------------------------------------------
    def figure(self, metric: str = "ndcg@10", title: str | None = None):
        """Bar chart of ``metric`` per ranker with 95% CI error bars and the analytic random line."""
        import plotly.graph_objects as go

        runs = sorted(self.ok_runs, key=lambda r: self.ci(r.name).loc[metric, "mean"])
        cis = [self.ci(r.name).loc[metric] for r in runs]
        fig = go.Figure(go.Bar(
            x=[c["mean"] for c in cis], y=[f"{r.name} (n={r.n_users})" for r in runs], orientation="h",
            error_x=dict(type="data", symmetric=False, array=[c["ci_high"] - c["mean"] for c in cis],
                         arrayminus=[c["mean"] - c["ci_low"] for c in cis]),
            hovertemplate="%{y}: %{x:.3f}<extra></extra>"))
        base = self.random_baseline().get(metric)
        if base is not None:
            fig.add_vline(x=base, line_dash="dash", line_color="gray",
                          annotation_text=f"random (analytic) {base:.4f}", annotation_position="top")
        fig.update_layout(title=title or f"{metric.upper()} with 95% bootstrap CI ({self.protocol.get('protocol')} protocol)",
                          xaxis_title=metric, height=120 + 32 * len(runs), margin=dict(l=10, r=10, t=50, b=10))
        return fig

    def latency_figure(self, metric: str = "ndcg@10"):
        """Quality vs mean scoring time per user (log scale): what each ranker costs."""
        import plotly.graph_objects as go

        runs = self.ok_runs
        fig = go.Figure(go.Scatter(
            x=[1000 * self.latency(r)["mean_s"] for r in runs], y=[self.ci(r.name).loc[metric, "mean"] for r in runs],
            mode="markers+text", text=[r.name for r in runs], textposition="top center",
            hovertemplate="%{text}: %{x:.1f} ms/user, %{y:.3f}<extra></extra>"))
        fig.update_layout(title=f"{metric} vs scoring time per user", xaxis_type="log", xaxis_title="ms per user (log)",
                          yaxis_title=metric, height=380, margin=dict(l=10, r=10, t=50, b=10))
        return fig


def _group_counts(after: Counter, before: Counter) -> dict:
    """This user's events per stats group (what the ranker counted while scoring them)."""
    delta = {k: after[k] - before.get(k, 0) for k in after}
    return {g: _number(sum(v for k, v in delta.items() if any(n in k.lower() for n in needles)))
            for g, needles in STAT_GROUPS.items()}


def _number(v):
    """Counters are ints; a few stats are sums of floats (e.g. rank spreads): keep those as floats."""
    return int(v) if float(v).is_integer() else float(v)


def _jsonable(v):
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, (set, frozenset, tuple)):
        return list(v)
    return v


def run_leaderboard(protocol, names=None, resources=None, n_users: int | None = None, users_per_ranker: dict | None = None,
                    budget_s: float | dict | None = None, skip=(), progress: bool = False, meta: dict | None = None,
                    log=print, fitted: dict | None = None) -> Leaderboard:
    """Evaluate registered rankers on ``protocol``.

    names: ranker names (default every registered one, sorted). users_per_ranker: {name: n}
    overrides ``n_users`` for slow rankers; budget_s: seconds of scoring per ranker (a number for
    all, or {name: seconds}). A ranker that cannot be built or fitted (e.g. a model not available
    offline) is listed as unavailable with its error, not silently left out; so is a ranker in
    ``skip`` (names, or {name: reason} to show the reason). fitted: {name: ranker}
    already fitted on ``protocol.train`` (e.g. ``other_leaderboard.rankers``), reused without refitting.
    """
    from recnb.scores.registry import Resources, all_rankers

    specs = all_rankers()
    names = sorted(specs) if names is None else list(names)
    resources = resources or Resources()
    users_per_ranker = users_per_ranker or {}
    runs, plan, rankers = [], {}, {}
    for name in names:
        n = users_per_ranker.get(name, n_users)
        n_req = len(protocol) if n is None else min(int(n), len(protocol))
        budget = budget_s.get(name) if isinstance(budget_s, dict) else budget_s
        plan[name] = {"n_users": n_req, "budget_s": budget}
        if name in skip:
            reason = skip[name] if isinstance(skip, dict) else "skipped by the caller"
            runs.append(_unavailable(name, f"skipped: {reason}" if isinstance(skip, dict) else reason, n_req))
            plan[name]["skipped"] = True
            continue
        if name not in specs:
            runs.append(_unavailable(name, f"no ranker named {name!r} is registered", n_req))
            continue
        reuse = fitted is not None and name in fitted
        try:
            ranker = fitted[name] if reuse else specs[name].factory(resources)
            run = evaluate(ranker, protocol, n_req, budget, name=name, progress=progress, fit=not reuse)
            if reuse:
                run.message = "fit reused from an earlier run on the same training data"
            rankers[name] = ranker
        except Exception as exc:  # reported in the table; the other rankers still run
            run = _unavailable(name, f"{type(exc).__name__}: {exc}", n_req)
        if log:
            log(f"{name:24s} {run.status:11s} users={run.n_users:4d} fit={run.fit_seconds:6.1f}s "
                f"score={run.eval_seconds:6.1f}s" + (f"  ({run.stopped or run.message})" if run.stopped or run.message else ""))
        runs.append(run)
    board = Leaderboard(protocol.describe(), runs, meta={"plan": plan, **(meta or {})})
    board.rankers = rankers
    return board
