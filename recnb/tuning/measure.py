"""Tuned vs untuned on the evaluation harness's sampled protocol, beside the ID baselines, with CIs and AUC.

One call, :func:`compare_tuning`, runs on one :class:`~recnb.evaluation.protocols.SampledProtocol`
(each user's held-out item plus 19 seeded, stored random unseen items):

* ``zero-shot``: the untuned model, the pointwise Yes/No prompt the tuned model is trained on;
* ``few-shot``: the same prompt with ``shots`` worked examples from the user's own history;
* ``lora-<n>``: LoRA adapters trained on ``n`` TALLRec-style examples from the training part of
  the protocol's own split (16 / 64 / 256 by default; cached adapters are reused);
* the registered ID baselines (popularity, item-kNN, BPR, ALS...) on the same users.

Ranking metrics and their bootstrap CIs come from the harness (:mod:`recnb.evaluation.leaderboard`).
AUC is read the harness's way too, so it never flatters a model the ranks do not: per user it is
``(n - rank) / (n - 1)`` from the harness's pessimistic rank of the positive among ``n`` candidates
(a negative tied with the positive counts as ranked above it; a user whose scoring failed has the
worst rank, AUC 0); pooled over all users' candidates (TALLRec's AUC) ties count against the model
and a failed user's positive scores below, its negatives above, everything. The table shows how
many users failed and how many had ties next to the AUC, and a bootstrap CI over users.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

DEFAULT_SIZES = (16, 64, 256)
DEFAULT_BASELINES = ("popularity", "item-knn", "bpr", "als")


def epochs_for(n: int) -> int:
    """Passes over n examples: about 64-256 example-steps in all (few examples need more passes, as in TALLRec)."""
    return int(max(1, min(4, 128 // max(1, n))))


class _Recorder:
    """Wraps a ranker for the harness and keeps each user's candidates and scores (for AUC)."""

    def __init__(self, ranker):
        self.ranker = ranker
        self.scores: dict = {}

    @property
    def name(self):
        return self.ranker.name

    @property
    def stats(self):
        return self.ranker.stats

    def fit(self, train, items):
        self.ranker.fit(train, items)
        return self

    def score(self, query, candidates):
        s = self.ranker.score(query, candidates)
        self.scores[query.user_id] = (np.asarray(list(candidates)), np.asarray(s, dtype=float))
        return s


def _failed(err) -> bool:
    return err is not None and not (isinstance(err, float) and np.isnan(err))


def auc_per_user(recorder: _Recorder, run) -> pd.Series:
    """Each evaluated user's AUC (target vs its negatives) from the harness's pessimistic rank: (n - rank) / (n - 1).

    With one positive that is the share of negatives scored strictly below it: a tied negative
    counts against the model, and a failed user (worst rank) gets 0, as in every ranking metric.
    """
    pu = run.per_user
    n = pu["n_candidates"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        auc = np.where(n > 1, (n - pu["rank"].to_numpy(dtype=float)) / (n - 1), np.nan)
    return pd.Series(auc, index=pu["user_id"].to_numpy(), name="auc")


def tied_users(recorder: _Recorder, run) -> int:
    """Users (not failed) whose target's score equals at least one negative's: their AUC counts the tie as a loss."""
    n = 0
    for u, target, err in run.per_user[["user_id", "target", "error"]].itertuples(index=False):
        if _failed(err) or u not in recorder.scores:
            continue
        cands, s = recorder.scores[u]
        s = np.where(np.isnan(s), -np.inf, s)  # NaN is the worst score, as in the harness
        pos = cands == target
        n += bool(np.isin(s[~pos], s[pos]).any())
    return int(n)


def pooled_auc(recorder: _Recorder, run) -> float:
    """One AUC over every (user, candidate) pair, TALLRec's way (scores compared across users too), pessimistic.

    A positive wins against a negative only with a strictly higher score (ties lose), and a failed
    user enters at its worst: its positive below every negative, its negatives above every positive.
    """
    pos, neg = [], []
    for u, target, err, n in run.per_user[["user_id", "target", "error", "n_candidates"]].itertuples(index=False):
        if _failed(err) or u not in recorder.scores:
            pos.append(np.array([-np.inf]))
            neg.append(np.full(int(n) - 1, np.inf))
            continue
        c, sc = recorder.scores[u]
        is_pos = c == target
        pos.append(np.where(np.isnan(sc[is_pos]), -np.inf, sc[is_pos]))
        neg.append(np.where(np.isnan(sc[~is_pos]), np.inf, sc[~is_pos]))
    if not pos:
        return float("nan")
    p, q = np.concatenate(pos), np.sort(np.concatenate(neg))
    if not len(p) or not len(q):
        return float("nan")
    # searchsorted(left): how many negatives score strictly below each positive (-inf beats nothing)
    wins = np.searchsorted(q, p, side="left")
    return float(wins.sum() / (len(p) * len(q)))


@dataclass
class TuningComparison:
    """The outcome: the harness's leaderboard, AUCs, training reports, and one summary table."""

    leaderboard: object
    auc: dict  # name -> per-user AUC series
    pooled: dict  # name -> pooled AUC
    kinds: dict  # name -> "untuned" / "tuned" / "id baseline"
    trained_now: dict = field(default_factory=dict)  # name -> True if trained in this call, False if loaded
    reports: dict = field(default_factory=dict)  # name -> TrainReport
    n_examples: dict = field(default_factory=dict)
    seconds: dict = field(default_factory=dict)
    tied: dict = field(default_factory=dict)  # name -> users whose target tied with a negative (counted as a loss)

    def auc_ci(self, name: str) -> dict:
        from recnb.evaluation.bootstrap import bootstrap_ci

        ci = bootstrap_ci(self.auc[name].to_frame()).loc["auc"]
        return {"mean": float(ci["mean"]), "ci_low": float(ci["ci_low"]), "ci_high": float(ci["ci_high"])}

    def table(self, metrics=("ndcg@10", "hit@10", "mrr")) -> pd.DataFrame:
        """One row per model: kind, training examples, metrics with 95% CIs, per-user AUC with CI, pooled AUC."""
        lb = self.leaderboard
        rows = []
        for run in lb.runs:
            name = run.name
            row = {"model": name, "kind": self.kinds.get(name, ""), "train examples": self.n_examples.get(name, 0),
                   "users": run.n_users}
            if run.status == "ok" and run.n_users:
                ci = lb.ci(name)
                for m in metrics:
                    row[m] = float(ci.loc[m, "mean"])
                    row[f"{m} CI"] = f"[{ci.loc[m, 'ci_low']:.3f}, {ci.loc[m, 'ci_high']:.3f}]"
                a = self.auc_ci(name)
                row["AUC"] = a["mean"]
                row["AUC CI"] = f"[{a['ci_low']:.3f}, {a['ci_high']:.3f}]"
                row["pooled AUC"] = self.pooled.get(name, float("nan"))
                row["failed users"] = run.failed_users  # each at the worst rank: AUC 0
                row["tied users"] = self.tied.get(name)  # target tied with a negative: the tie counts as a loss
            else:
                row["note"] = run.message
            rep = self.reports.get(name)
            row["train s"] = rep.seconds if rep is not None else None
            row["train ex/s"] = rep.examples_per_second if rep is not None else None
            rows.append(row)
        base = lb.random_baseline()
        if base:
            rnd = {"model": "random (analytic)", "kind": "reference", "train examples": 0, "AUC": 0.5}
            rnd.update({m: base[m] for m in metrics if m in base})
            rows.append(rnd)
        frame = pd.DataFrame(rows)
        for col in ("users", "failed users", "tied users"):
            if col in frame:
                frame[col] = frame[col].astype("Int64")
        return frame

    def paired(self, a: str, b: str = "zero-shot") -> dict:
        """Paired bootstrap CI of AUC(a) - AUC(b) over the users both ran on (does tuning help?)."""
        from recnb.evaluation.bootstrap import paired_difference_ci

        common = self.auc[a].index.intersection(self.auc[b].index)
        out = paired_difference_ci(self.auc[a].loc[common].to_numpy(), self.auc[b].loc[common].to_numpy())
        out.update(metric="AUC", a=a, b=b, users=int(len(common)))
        return out

    def to_dict(self) -> dict:
        """JSON-ready numbers for benchmarks/results.json."""
        table = self.table().replace({np.nan: None})
        rows = [{k: (round(v, 4) if isinstance(v, float) else int(v) if isinstance(v, (np.integer,)) else v)
                 for k, v in r.items() if v is not None and v is not pd.NA} for r in table.to_dict("records")]
        tuned = [n for n, k in self.kinds.items() if k == "tuned" and n in self.auc]
        deltas = []
        if "zero-shot" in self.auc:
            for n in tuned + [x for x in ("few-shot",) if x in self.auc]:
                d = self.paired(n)
                deltas.append({"model": n, "AUC - zero-shot": round(d["mean"], 4),
                               "CI": f"[{d['ci_low']:.3f}, {d['ci_high']:.3f}]", "users": d["users"]})
        return {"protocol": self.leaderboard.protocol, "table": rows, "auc_vs_zero_shot": deltas,
                "training": [{"model": n, "examples": r.n_examples, "epochs": r.epochs, "steps": r.steps,
                              "seconds": round(r.seconds, 2), "examples_per_s": round(r.examples_per_second, 3),
                              "first_loss": round(r.first_loss, 4), "final_loss": round(r.final_loss, 4),
                              "mean_prompt_tokens": round(r.mean_prompt_tokens, 1),
                              "trained_in_this_run": self.trained_now.get(n)} for n, r in self.reports.items()]}


def compare_tuning(dataset, llm=None, sizes=DEFAULT_SIZES, n_users: int = 100, protocol=None, settings=None,
                   shots: int = 2, baselines=DEFAULT_BASELINES, negatives: str = "unseen", seed: int = 0,
                   epochs=None, retrain: bool = False, tuned: dict | None = None, progress: bool = True,
                   log=print) -> TuningComparison:
    """Evaluate untuned zero-/few-shot, LoRA-tuned with each of ``sizes`` examples, and ID baselines.

    settings: a LoraSettings (``epochs`` is then replaced per size by ``epochs`` or :func:`epochs_for`).
    tuned: adapters trained elsewhere, {row name: LoraModel}, evaluated as "tuned" rows (e.g. the one a
    notebook just trained); they are not unloaded.
    retrain: train every adapter now (and refresh the cache); by default adapters trained before with the
    same recipe, data, split and settings are loaded from the cache (recnb.tuning.store) and their stored
    reports used. The ``lora-<n>`` adapters learn from the training part of ``protocol.split`` (so from
    nothing the protocol holds out); the ``tuned`` ones are checked against it when fitted.
    """
    from dataclasses import replace

    import recnb
    from recnb.evaluation.leaderboard import Leaderboard, _unavailable, evaluate
    from recnb.evaluation.protocols import SampledProtocol
    from recnb.scores.llm_lora import LoraPointwiseRanker
    from recnb.scores.registry import Resources, all_rankers
    from recnb.tuning.store import DEFAULT_SETTINGS, cached_adapter

    llm = llm or recnb.load_llm("smollm2-135m", device="cpu")
    protocol = protocol or SampledProtocol(dataset, part="test", n_users=n_users, seed=seed)
    settings = settings or DEFAULT_SETTINGS
    runs, recorders, kinds, reports, n_ex, secs, trained_now = [], {}, {}, {}, {}, {}, {}

    def run_one(name, ranker, kind):
        rec = _Recorder(ranker)
        t0 = time.perf_counter()
        run = evaluate(rec, protocol, name=name, progress=progress)
        secs[name] = time.perf_counter() - t0
        runs.append(run)
        recorders[name] = rec
        kinds[name] = kind
        if log:
            log(f"{name:14s} users={run.n_users:4d} failed={run.failed_users} eval={run.eval_seconds:7.1f}s")

    run_one("zero-shot", LoraPointwiseRanker(llm, name="zero-shot"), "untuned")
    if shots:
        run_one("few-shot", LoraPointwiseRanker(llm, template="few-shot", shots=shots, name="few-shot"), "untuned")
    for name, model in (tuned or {}).items():
        if model.report is not None:
            reports[name] = model.report
        n_ex[name] = int(model.report.n_examples) if model.report is not None else int(model.meta.get("n_examples", 0) or 0)
        trained_now[name] = model.report is not None
        run_one(name, LoraPointwiseRanker(model, name=name), "tuned")
    for n in sizes:
        s = replace(settings, epochs=int(epochs) if epochs else epochs_for(n))
        recipe = {"n_examples": int(n), "seed": seed, "negatives": negatives}
        name = f"lora-{n}"
        t0 = time.perf_counter()
        # The protocol's own data and split: an adapter from another split could know its held-out items.
        model = cached_adapter(llm, s, recipe, dataset=protocol.dataset, split=protocol.split, progress=progress,
                               retrain=retrain)
        rep = model.report
        if rep is None and model.meta.get("report"):
            from recnb.tuning.lora import TrainReport

            rep = TrainReport(**{k: v for k, v in model.meta["report"].items() if k not in ("first_loss", "final_loss")})
        if rep is not None:
            reports[name] = rep
        n_ex[name] = int(n)
        trained_now[name] = model.report is not None
        if log:
            how = "trained" if model.report is not None else "loaded from cache"
            log(f"{name:14s} adapter {how} in {time.perf_counter() - t0:.1f}s"
                + (f" (loss {rep.first_loss:.3f} -> {rep.final_loss:.3f}, {rep.examples_per_second:.2f} ex/s)" if rep else ""))
        run_one(name, LoraPointwiseRanker(model, name=name), "tuned")
        model.unload()
    specs = all_rankers()
    resources = Resources(llm=llm)
    for b in baselines:
        if b not in specs:
            runs.append(_unavailable(b, f"no ranker named {b!r} is registered", len(protocol)))
            kinds[b] = "id baseline"
            continue
        run_one(b, specs[b].factory(resources), "id baseline")
    lb = Leaderboard(protocol.describe(), runs, meta={"source": "recnb.tuning.measure.compare_tuning"})
    return TuningComparison(lb, {n: auc_per_user(r, lb.run(n)) for n, r in recorders.items()},
                            {n: pooled_auc(r, lb.run(n)) for n, r in recorders.items()}, kinds, trained_now, reports, n_ex, secs,
                            {n: tied_users(r, lb.run(n)) for n, r in recorders.items()})
