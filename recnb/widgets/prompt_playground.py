"""The prompt playground: two prompt settings side by side on the same user and candidates.

Each side picks a template, a ranker and k-shot demos, and shows its prompt text for editing.
"Run" (or :meth:`PromptPlayground.run`) ranks the user's candidates with both settings and shows,
per side, the ranked list with scores, parse errors and hallucinated titles, the time, the prefix
cache hits, and notes on what was cut from the prompt. A failed run (a bad placeholder, a backend
that cannot score) shows its error on that side; nothing is hidden. Front-end:
``widgets/prompt_playground.js`` and ``.css``.
"""
from __future__ import annotations

import time
import warnings
from collections import Counter
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import traitlets

from recnb.scores.base import Query
from recnb.widgets._assets import KitWidget

#: ranker name -> (module, class); the playground builds each once and swaps its prompt per run.
RANKERS = {
    "llm-pointwise": ("recnb.scores.llm_pointwise", "LLMPointwiseRanker"),
    "llm-title": ("recnb.scores.llm_title", "LLMTitleRanker"),
    "llm-listwise-labels": ("recnb.scores.llm_listwise_labels", "LLMListwiseLabelRanker"),
    "llm-permuted": ("recnb.scores.llm_permuted", "PermutedRanker"),
    "llm-listwise-generate": ("recnb.scores.llm_listwise_generate", "LLMListwiseGenerateRanker"),
    "llm-constrained": ("recnb.scores.llm_constrained", "LLMConstrainedRanker"),
    "llm-rating": ("recnb.scores.llm_rating", "LLMRatingRanker"),
}
#: the error counters a side shows, from ranker.stats (what went wrong with the model's answer)
ERROR_KEYS = ("invalid_titles", "prose_lines", "outside_candidates", "duplicates", "missing", "truncated_lines", "unparseable_outputs",
              "rating_parse_fallbacks")
#: ... and the ones the LLM backend counts (an HTTP server's labels below its top-k log-probs)
LLM_ERROR_KEYS = ("scores_at_top_logprobs_floor",)
#: ... and what was changed in the prompt to make the run possible
WARNING_KEYS = ("truncated_prompts", "demo_shortfall", "rating_rescaled", "rating_clamped", "rating_ambiguous")
#: what a side shows when its run failed: the same keys as a good run, so a reader never meets a KeyError
_EMPTY_RESULT = {"items": [], "errors": {}, "warnings": {}, "hallucinated": [], "notes": [], "seconds": 0.0,
                 "cache_hits": 0, "prompt_tokens": 0, "prompt": "", "output": "", "target_rank": None, "target_ties": None,
                 "position_bias": None, "error": None}
DEFAULT_SETTINGS = (
    {"template": "zero-shot", "ranker": "llm-pointwise", "shots": 0, "demo_source": "self", "text": None},
    {"template": "few-shot", "ranker": "llm-pointwise", "shots": 3, "demo_source": "self", "text": None},
)


def _task_of(ranker: str) -> str:
    import importlib

    if ranker not in RANKERS:
        raise ValueError(f"unknown ranker {ranker!r}; the playground has {', '.join(RANKERS)}")
    mod, cls = RANKERS[ranker]
    klass = getattr(importlib.import_module(mod), cls)
    return "labels" if ranker == "llm-permuted" else klass.task


def _target_rank(rows: list) -> dict:
    """The held-out item's rank by the evaluation's rule (``relevant_ranks``: last among equal scores, so
    a tie never flatters), and how many other candidates share its score; None when it is not shown."""
    from recnb.evaluation.metrics import relevant_ranks

    hit = [r for r in rows if r["is_target"]]
    if not hit:
        return {"target_rank": None, "target_ties": None}
    scores = np.array([r["score"] for r in rows])
    rank = int(relevant_ranks(scores, np.array([r["is_target"] for r in rows]))[0])
    return {"target_rank": rank, "target_ties": int((scores == hit[0]["score"]).sum() - 1)}


def _plain(v):
    return v.item() if hasattr(v, "item") else v


class PromptPlayground(KitWidget):
    """Compare two prompt settings on one user's candidates (see the module notes).

    llm: any kit LLM backend. items: the catalog. queries: {user id: Query}. candidates: {user id:
    list of item ids}. targets: optional {user id: item id} held out for that user, marked in results.
    train: training ratings (few-shot demos from similar users need them). max_history: the most
    recent history items in each prompt (the prompt notes what was left out).
    """

    _asset_name = "prompt_playground"

    template_names = traitlets.List(traitlets.Unicode()).tag(sync=True)
    ranker_names = traitlets.List(traitlets.Unicode()).tag(sync=True)
    user_ids = traitlets.List().tag(sync=True)
    user = traitlets.Any(None, allow_none=True).tag(sync=True)
    settings = traitlets.List(traitlets.Dict()).tag(sync=True)
    results = traitlets.List(traitlets.Dict()).tag(sync=True)
    run_count = traitlets.Int(0).tag(sync=True)  # the front-end's Run button increments it
    status = traitlets.Unicode("").tag(sync=True)
    candidates_view = traitlets.List(traitlets.Dict()).tag(sync=True)

    def __init__(self, llm, items: pd.DataFrame, queries: Mapping, candidates: Mapping, targets: Mapping | None = None,
                 train: pd.DataFrame | None = None, settings: Sequence[Mapping] = DEFAULT_SETTINGS,
                 max_history: int | None = 20, **kwargs):
        from recnb.text.prompts import Catalog, template_names

        if not queries:
            raise ValueError("the playground needs at least one user (queries is empty)")
        missing = [u for u in queries if u not in candidates]
        if missing:
            raise ValueError(f"no candidates for user(s) {missing[:5]}")
        self.llm, self.items, self.train = llm, items, train
        # ids as plain Python values: a numpy id makes numpy booleans below, which the kernel cannot send
        self.queries, self.candidates = dict(queries), {u: [_plain(c) for c in cs] for u, cs in candidates.items()}
        self.targets = {u: _plain(t) for u, t in (targets or {}).items()}
        self.max_history = max_history
        self.catalog = Catalog(items)
        self._rankers: dict = {}
        self.history: list = []  # every run: (user, settings, result) so nothing shown is lost
        super().__init__(template_names=template_names(), ranker_names=list(RANKERS),
                         user_ids=[_plain(u) for u in self.queries], user=_plain(next(iter(self.queries))),
                         settings=[dict(s) for s in settings], **kwargs)
        self._show_candidates()

    @classmethod
    def from_split(cls, llm, items: pd.DataFrame, split, users: Sequence, n_candidates: int = 10, seed: int = 0,
                   profiles: Mapping | None = None, **kwargs) -> "PromptPlayground":
        """Users' training histories as queries; candidates = the held-out test item + unseen random items."""
        from recnb.text.profile import profile_for_user

        rng = np.random.default_rng(seed)
        queries, cands, targets = {}, {}, {}
        all_ids = items["item_id"].to_numpy()
        for u in users:
            h = split.train[split.train.user_id == u].sort_values("timestamp")
            target = int(split.test.loc[split.test.user_id == u, "item_id"].iloc[0])
            profile = (profiles or {}).get(u) or profile_for_user(split, items, u)
            queries[u] = Query(user_id=u, history=tuple(h.item_id), ratings=tuple(h.rating), profile=profile)
            seen = set(h.item_id) | {target}
            pool = [int(i) for i in rng.permutation(all_ids)[: n_candidates * 4] if int(i) not in seen][: n_candidates - 1]
            cands[u] = [int(c) for c in rng.permutation(pool + [target])]
            targets[u] = target
        return cls(llm, items, queries, cands, targets=targets, train=split.train, **kwargs)

    # -- settings ---------------------------------------------------------------------------
    @traitlets.validate("settings")
    def _fill_settings(self, proposal):
        from recnb.text.prompts import get_template

        out = []
        old = list(self.settings or [])
        for n, given in enumerate(proposal["value"]):
            given = dict(given)
            s = {**DEFAULT_SETTINGS[0], **given}
            try:
                task = _task_of(s["ranker"])
            except ValueError as exc:
                raise traitlets.TraitError(str(exc)) from None
            # shots left out: the template's own k ("few-shot" has 3), not the first default's 0
            s["shots"] = max(0, int(given["shots"] if given.get("shots") is not None else get_template(s["template"], task).shots))
            if s.get("demo_source") not in ("self", "similar"):
                s["demo_source"] = "self"
            before = old[n] if n < len(old) else None
            unedited = (before is not None and bool(s.get("text"))
                        and s["text"] == get_template(before["template"], before.get("task") or _task_of(before["ranker"])).text)
            if not s.get("text") or unedited:  # no text, or the old default: this template's text for this task
                s["text"] = get_template(s["template"], task).text
            s["task"] = task
            out.append(s)
        if len(out) != 2:
            raise traitlets.TraitError(f"the playground compares exactly 2 settings, got {len(out)}")
        return out

    @traitlets.validate("user")
    def _check_user(self, proposal):
        value = _plain(proposal["value"])
        by_text = {str(u): u for u in self.queries}
        if value not in self.queries and str(value) in by_text:
            value = by_text[str(value)]
        if value not in self.queries:
            raise traitlets.TraitError(f"user {value!r} is not in this playground")
        return value

    @traitlets.observe("user")
    def _on_user(self, change):
        self.results = []
        self._show_candidates()

    @traitlets.observe("run_count")
    def _on_run(self, change):
        if change["new"] > change["old"]:
            self.run()

    def _show_candidates(self):
        u = self.user
        self.candidates_view = [{"item_id": _plain(c), "title": self.catalog[c], "is_target": bool(c == self.targets.get(u))}
                                for c in self.candidates.get(u, [])]

    # -- running ------------------------------------------------------------------------------
    def _ranker(self, name: str):
        import importlib

        if name not in self._rankers:
            mod, cls = RANKERS[name]
            klass = getattr(importlib.import_module(mod), cls)
            if name == "llm-permuted":
                from recnb.scores.llm_listwise_labels import LLMListwiseLabelRanker

                ranker = klass(LLMListwiseLabelRanker(self.llm, max_history=self.max_history))
            else:
                ranker = klass(self.llm, max_history=self.max_history)
            self._rankers[name] = ranker.fit(self.train, self.items)
        return self._rankers[name]

    def run_side(self, side: int) -> dict:
        """Rank the current user's candidates with setting ``side`` (0 or 1); returns what the view shows."""
        from recnb.text.prompts import PromptTemplate, get_template

        s = self.settings[side]
        user, cands = self.user, self.candidates[self.user]
        t0 = time.perf_counter()
        try:
            ranker = self._ranker(s["ranker"])
            base = getattr(ranker, "base", ranker)
            default = get_template(s["template"], s["task"], shots=s["shots"], demo_source=s["demo_source"])
            base.prompt = PromptTemplate(name=s["template"] + ("" if s["text"] == default.text else "*"), task=s["task"],
                                         text=s["text"], system=default.system, shots=s["shots"],
                                         demo_source=s["demo_source"], demo_text=default.demo_text, options=default.options)
            before, llm_before = Counter(base.stats), Counter(self.llm.stats)  # the counters live on the base ranker
            frame = ranker.rank(self.queries[user], cands)
        except Exception as exc:  # shown on this side and kept in history; the other side still runs
            return {**_EMPTY_RESULT, "error": f"{type(exc).__name__}: {exc}", "seconds": round(time.perf_counter() - t0, 3)}
        last = getattr(ranker, "last", {}) or {}
        delta = {k: int(base.stats.get(k, 0) - before.get(k, 0)) for k in ERROR_KEYS + WARNING_KEYS}
        delta.update({k: int(self.llm.stats.get(k, 0) - llm_before.get(k, 0)) for k in LLM_ERROR_KEYS})
        errors = {k: v for k, v in delta.items() if v and k in ERROR_KEYS + LLM_ERROR_KEYS}
        warned = {k: v for k, v in delta.items() if v and k in WARNING_KEYS}
        target = self.targets.get(user)
        rows = [{"item_id": _plain(r.item_id), "title": self.catalog[r.item_id], "score": float(r.score), "rank": int(r.rank),
                 "is_target": bool(r.item_id == target)} for r in frame.itertuples()]
        return {
            "items": rows, "errors": errors, "warnings": warned, "hallucinated": list(last.get("hallucinated", [])),
            "notes": list(last.get("notes", [])), "seconds": round(float(last.get("seconds", time.perf_counter() - t0)), 3),
            "cache_hits": int(last.get("prefix_cache_hits", 0)), "prompt_tokens": int(last.get("prompt_tokens", 0)),
            "prompt": last.get("user_text", ""), "output": last.get("output", ""),
            **_target_rank(rows),
            "position_bias": last.get("position_bias"), "error": None,
        }

    def run(self) -> list[dict]:
        """Run both settings on the current user; updates ``results`` and returns it."""
        self.status = "running…"
        t0 = time.perf_counter()
        results = [self.run_side(0), self.run_side(1)]
        self.history.append({"user": self.user, "settings": [dict(s) for s in self.settings], "results": results})
        self.results = results
        failed = sum(1 for r in results if r.get("error"))
        self.status = f"done in {time.perf_counter() - t0:.1f} s" + (f" ({failed} side{'s' if failed > 1 else ''} failed)" if failed else "")
        return results

    def compare(self) -> pd.DataFrame:
        """The last run's two rankings side by side (rank, title, score per side)."""
        if not self.results:
            raise RuntimeError("nothing run yet: call run() or press Run")
        failed = {side: r["error"] for side, r in zip("AB", self.results) if r.get("error")}
        if len(failed) == len(self.results):
            raise RuntimeError("both settings failed: " + "; ".join(f"{k}: {v}" for k, v in failed.items()))
        for side, error in failed.items():  # said, not silently left out of the table
            warnings.warn(f"setting {side} failed ({error}); the table shows the other setting only", stacklevel=2)
        cols = {}
        for side, r in zip("AB", self.results):
            for row in r.get("items", []):
                cols.setdefault(row["item_id"], {"title": row["title"]})[f"rank {side}"] = row["rank"]
                cols[row["item_id"]][f"score {side}"] = row["score"]
        df = pd.DataFrame.from_dict(cols, orient="index")
        if df.empty:  # a run on zero candidates: an empty table, not a KeyError
            return pd.DataFrame(columns=["title"] + [f"{k} {side}" for side, r in zip("AB", self.results)
                                                     if not r.get("error") for k in ("rank", "score")])
        return df.sort_values("rank A" if "rank A" in df else "rank B" if "rank B" in df else "title")
