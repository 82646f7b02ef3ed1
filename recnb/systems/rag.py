"""Retrieval-augmented recommendation with citations, claim checks and a hallucination measurement.

One request goes through four steps:

1. **retrieve** the k items whose descriptions are closest to the request (facts, description
   and reviews where the dataset has them, become one passage per item);
2. **generate** an answer that cites item ids (``mode="generate"``), or **choose** items by
   the model's log-likelihood of each retrieved item (``mode="score"``: always a valid
   answer, the right mode for a 135M model);
3. **validate** citations: an id must exist and be among the retrieved items; invented
   titles and ids, and real items that were not retrieved, are kept and counted, never used;
   a title whose citation names another item ("Heat (1995) [7]", [7] being Fargo) is a
   counted mismatch, and neither item is recommended on its strength;
4. **check claims** about each named item against its retrieved passage
   (:mod:`recnb.systems.claims`); unsupported claims are flagged.

When generation yields no valid citation the answer falls back to the likelihood choice,
and ``stats["fallback_likelihood"]`` counts it. :func:`hallucination_table` runs a fixed set
of requests with and without retrieval and reports the rates.
"""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

from recnb.systems.claims import ClaimReport, check_answer
from recnb.systems.injection import DATA_RULE, Defences, prepare_passage

#: A fixed, hand-written set of requests for the hallucination measurement (order matters: tiny
#: mode takes the first few).
FIXED_REQUESTS = [
    "a funny animated movie for kids",
    "a tense crime thriller about a heist",
    "a romantic comedy from the 1990s",
    "a science fiction film about space travel",
    "a scary horror movie",
    "a war drama",
    "a classic western",
    "a documentary about music",
    "a fantasy adventure with magic",
    "a mystery with a detective",
    "a musical with great songs",
    "a film noir from the 1940s",
    "an action movie with car chases",
    "a French drama",
    "a Japanese animated film",
    "a comedy about a family",
    "a historical epic",
    "a courtroom drama",
    "a sports movie",
    "a short comedy under 90 minutes",
]

SYSTEM = ("You are a movie recommender. Recommend only movies from the list you are given and cite each "
          "one by its id in square brackets, like [123]. Only say what the list says about a movie.")
SYSTEM_NO_RETRIEVAL = "You are a movie recommender."


@dataclass
class RAGAnswer:
    request: str
    retrieval: bool
    retrieved: list
    prompt: str
    text: str
    recommended: list
    report: ClaimReport
    invalid: list = field(default_factory=list)  # named items / ids that are not in the catalog
    outside: list = field(default_factory=list)  # real items the answer named that were not retrieved
    fallback: str | None = None
    neutralised: int = 0
    seconds: float = 0.0
    mode: str = "generate"

    def counts(self) -> dict:
        c = self.report.counts()
        named = {m.item_id for m in self.report.mentions if m.item_id is not None}
        c.update(items_named=len(named) + len({m.text for m in self.report.invented}),
                 invented_items=len({m.text for m in self.report.invented}),
                 outside_retrieved=len(set(self.outside)), recommended=len(self.recommended),
                 fallback=int(self.fallback is not None), neutralised=self.neutralised)
        return c


class RAGRecommender:
    """Retrieve, generate (or choose), validate citations, check claims.

    catalog: :class:`recnb.systems.catalog.ItemCatalog`. llm: anything with the kit's LLM
    interface (``generate``, ``chat_prompt``, ``score``). k: items retrieved. n: items recommended.
    """

    def __init__(self, catalog, llm, k: int = 5, n: int = 2, mode: str = "generate", defences: Defences = Defences(),
                 max_new_tokens: int = 80, passage_chars: int = 700):
        if mode not in ("generate", "score"):
            raise ValueError("mode must be 'generate' or 'score'")
        self.catalog, self.llm, self.k, self.n, self.mode = catalog, llm, k, n, mode
        self.defences, self.max_new_tokens, self.passage_chars = defences, max_new_tokens, passage_chars
        self.stats: Counter = Counter()

    # -- 1. retrieve ------------------------------------------------------------------------
    def retrieve(self, request: str, exclude: Sequence = ()) -> list:
        return self.catalog.search(request, k=self.k, exclude=exclude)

    def passages(self, ids: Sequence) -> tuple[dict, int]:
        """{id: passage text as shown} and how many instruction-like sentences were neutralised."""
        out, removed = {}, 0
        for i in ids:
            text = self.catalog.passage(i)
            if len(text) > self.passage_chars:  # keep the prompt inside a small model's comfort zone
                text = text[: self.passage_chars - 1].rstrip() + "…"
            out[i], r = prepare_passage(i, text, self.defences)
            removed += r
        return out, removed

    # -- 2. prompts ------------------------------------------------------------------------------
    def prompt(self, request: str, shown: dict | None) -> str:
        if shown is None:
            user = (f"Request: {request}\nRecommend {self.n} movies for this request. For each write one line: "
                    "Title (Year): one sentence why.")
            return self.llm.chat_prompt(user, system=SYSTEM_NO_RETRIEVAL)
        system = SYSTEM + (" " + DATA_RULE if self.defences.data_rule else "")
        user = (f"Request: {request}\n\nMovies:\n" + "\n".join(shown.values()) +
                f"\n\nRecommend {self.n} movies from the list for this request. For each write one line: "
                "Title (Year) [id]: one sentence why.")
        return self.llm.chat_prompt(user, system=system)

    def choose(self, request: str, shown: dict) -> tuple[list, np.ndarray]:
        """The retrieved ids ordered by the model's mean log-likelihood of naming each one.

        Backends that cannot score multi-token continuations (most OpenAI-compatible servers; see
        ``capabilities.multi_token_score``) choose among one-token letter labels instead.
        """
        ids = list(shown)
        caps = getattr(self.llm, "capabilities", None)
        if caps is not None and not getattr(caps, "multi_token_score", True):
            return self._choose_by_label(request, shown)
        prefix = self.prompt(request, shown) + "I recommend"
        conts = [f" {self.catalog.title(i)} [{i}]" for i in ids]
        scores = np.asarray(self.llm.score(prefix, conts, reduce="mean"), dtype=float)
        order = np.argsort(-scores, kind="stable")
        return [ids[j] for j in order], scores

    def _choose_by_label(self, request: str, shown: dict) -> tuple[list, np.ndarray]:
        ids = list(shown)
        if len(ids) > 26:
            raise ValueError("label choice supports at most 26 retrieved items")
        letters = [chr(ord("A") + n) for n in range(len(ids))]
        menu = "\n".join(f"{l}. {self.catalog.title(i)} [{i}]" for l, i in zip(letters, ids))
        prefix = self.prompt(request, shown) + f"Options:\n{menu}\nThe best option is"
        self.stats["label_choices"] += 1
        scores = np.asarray(self.llm.score(prefix, [f" {l}" for l in letters]), dtype=float)
        order = np.argsort(-scores, kind="stable")
        return [ids[j] for j in order], scores

    def template(self, ids: Sequence) -> str:
        """One line per item written from its facts (nothing the passage does not say)."""
        lines = []
        for i in ids:
            f = self.catalog.facts(i)
            bits = []
            if f.get("genres"):
                bits.append("a " + ", ".join(f["genres"][:2]).lower() + " film")
            if f.get("director"):
                bits.append("directed by " + " and ".join(f["director"][:2]))
            if f.get("cast"):
                bits.append("starring " + " and ".join(f["cast"][:2]))
            lines.append(f"{self.catalog.title(i)} [{i}]: " + (", ".join(bits) or "from the retrieved list") + ".")
        return "\n".join(lines)

    # -- the whole request -------------------------------------------------------------------------
    def answer(self, request: str, retrieval: bool = True, exclude: Sequence = (), retrieved: Sequence | None = None) -> RAGAnswer:
        """One recommendation for ``request``. ``retrieved``: use these ids instead of searching."""
        if not str(request or "").strip():
            raise ValueError("answer() needs a non-empty request")
        t0 = time.perf_counter()
        self.stats["requests"] += 1
        ids = list(retrieved) if retrieved is not None else (self.retrieve(request, exclude) if retrieval else [])
        ids = [self.catalog.resolve(i) for i in ids]
        shown, removed = self.passages(ids) if retrieval else ({}, 0)
        self.stats["neutralised_sentences"] += removed
        prompt = self.prompt(request, shown if retrieval else None)
        fallback = None
        if retrieval and self.mode == "score":
            order, _ = self.choose(request, shown)
            text = self.template(order[: self.n])
        else:
            text = self.llm.generate(prompt, max_new_tokens=self.max_new_tokens)
        # claims about a retrieved item are checked against the passage as the model saw it (cut, neutralised)
        report = check_answer(text, self.catalog, retrieved=ids or None,
                              passages=shown if retrieval else {i: self.catalog.passage(i) for i in ids})
        named = list(dict.fromkeys(m.item_id for m in report.mentions if m.item_id is not None))
        # "Heat (1995) [7]" where [7] is Fargo: which film was meant is unknown, so neither counts as
        # recommended unless it is also named cleanly elsewhere.
        usable = list(dict.fromkeys(m.item_id for m in report.mentions if m.item_id is not None and m.conflict is None))
        invalid = [m.text for m in report.invented]
        outside = [i for i in named if retrieval and i not in ids]
        recommended = [i for i in usable if (i in ids or not self.defences.validate)] if retrieval else usable
        if retrieval and not recommended and self.mode == "generate":
            # The model cited nothing usable: choose by likelihood instead, and say so.
            fallback = "likelihood"
            self.stats["fallback_likelihood"] += 1
            order, _ = self.choose(request, shown)
            recommended = order[: self.n]
        self.stats["invented_items"] += len(set(invalid))  # distinct, as counts() and the table count them
        self.stats["outside_retrieved"] += len(outside)
        self.stats["unsupported_claims"] += len(report.unsupported)
        self.stats["mismatched_citations"] += len(report.mismatches)
        return RAGAnswer(request, retrieval, ids, prompt, text, recommended[: self.n], report,
                         invalid, outside, fallback, removed, time.perf_counter() - t0, self.mode)


# -- measurement ---------------------------------------------------------------------------------------
def _ratio_ci(num: np.ndarray, den: np.ndarray, seed: int = 0, n_resamples: int = 2000) -> tuple[float, float]:
    """Percentile bootstrap CI of sum(num)/sum(den), resampling requests (paired)."""
    from scipy import stats

    if len(num) < 2 or den.sum() == 0:
        r = num.sum() / den.sum() if den.sum() else float("nan")
        return r, r

    def ratio(n, d, axis=-1):
        with np.errstate(invalid="ignore", divide="ignore"):
            return n.sum(axis) / d.sum(axis)

    import warnings

    with warnings.catch_warnings():  # resamples with no claims give NaN ratios: the CI says so
        warnings.simplefilter("ignore")
        res = stats.bootstrap((num, den), ratio, paired=True, vectorized=True, n_resamples=n_resamples,
                              method="percentile", random_state=np.random.default_rng(seed))
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def hallucination_rows(answers: Sequence[RAGAnswer]) -> pd.DataFrame:
    """One row per answer: the counts that the table sums."""
    return pd.DataFrame([{"request": a.request, "retrieval": a.retrieval, **a.counts()} for a in answers])


def hallucination_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Per condition (with / without retrieval): counts, rates and 95% bootstrap CIs over requests.

    claim rate = unsupported claims / claims; item rate = (invented items + real items named
    that were not retrieved) / items named.
    """
    out = []
    for retrieval, g in rows.groupby("retrieval", sort=False):
        bad_items = (g["invented_items"] + g["outside_retrieved"]).to_numpy(float)
        items = g["items_named"].to_numpy(float)
        bad_claims, claims = g["unsupported_claims"].to_numpy(float), g["claims"].to_numpy(float)
        c_lo, c_hi = _ratio_ci(bad_claims, claims)
        i_lo, i_hi = _ratio_ci(bad_items, items)
        out.append({
            "condition": "with retrieval" if retrieval else "without retrieval", "requests": len(g),
            "items_named": int(items.sum()), "invented_items": int(g["invented_items"].sum()),
            "outside_retrieved": int(g["outside_retrieved"].sum()), "claims": int(claims.sum()),
            "unsupported_claims": int(bad_claims.sum()),
            "claim_hallucination_rate": bad_claims.sum() / claims.sum() if claims.sum() else float("nan"),
            "claim_rate_ci_low": c_lo, "claim_rate_ci_high": c_hi,
            "item_hallucination_rate": bad_items.sum() / items.sum() if items.sum() else float("nan"),
            "item_rate_ci_low": i_lo, "item_rate_ci_high": i_hi,
            "fallbacks": int(g["fallback"].sum()),
            "mismatches": int(g["mismatches"].sum()) if "mismatches" in g else 0,
        })
    return pd.DataFrame(out)


def run_hallucination_eval(rag: RAGRecommender, requests: Sequence[str] = FIXED_REQUESTS, progress: bool = False):
    """Answer every request with and without retrieval: (answers, per-answer rows, table)."""
    from tqdm.auto import tqdm

    answers = []
    for req in tqdm(list(requests), disable=not progress, desc="requests"):
        for retrieval in (True, False):
            answers.append(rag.answer(req, retrieval=retrieval))
    rows = hallucination_rows(answers)
    return answers, rows, hallucination_table(rows)
