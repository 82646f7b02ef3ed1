"""Explanations: an LLM's (citing [S#] profile statements and [F#] item facts), or a deterministic template's.

Every explanation comes back with its :class:`~recnb.explanation.check.ExplanationCheck`, so a
notebook or widget shows unsupported claims next to the text instead of trusting it.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import pandas as pd

from recnb.explanation.check import ExplanationCheck, FactVocabulary, check_explanation
from recnb.explanation.facts import facts_text, item_facts
from recnb.scores.base import Query
from recnb.text.prompts import Catalog, PromptTemplate, get_template, item_text, render


@dataclass
class Explanation:
    item_id: object
    text: str
    check: ExplanationCheck
    source: str  # "llm" or "template"
    prompt: str = ""
    seconds: float = 0.0
    notes: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"item_id": self.item_id, "text": self.text, "source": self.source, "seconds": round(self.seconds, 3),
                **self.check.summary(), "unsupported_claims": [c.text for c in self.check.unsupported],
                "bad_citation_ids": list(self.check.bad_citations), "wrong_citation_ids": list(self.check.wrong_citations)}


def _row(items: pd.DataFrame, item_id) -> dict:
    rows = items.loc[items["item_id"] == item_id]
    if rows.empty:
        from recnb.scores.base import UnknownItemError

        raise UnknownItemError([item_id])
    return rows.iloc[0].to_dict()


def explain(llm, query: Query, item_id, items: pd.DataFrame, vocab: FactVocabulary | None = None,
            template: PromptTemplate | None = None, max_new_tokens: int = 80, catalog: Catalog | None = None) -> Explanation:
    """Ask ``llm`` why the user (``query``, whose profile supplies the [S#] statements) might like ``item_id``."""
    row = _row(items, item_id)
    if not query.profile_text.strip() and not query.history and not (query.request or "").strip():
        # an empty profile ("" or no statements) is no more to explain from than none
        raise ValueError("explain(): the query is empty (no profile statements, no history, no request to explain from)")
    template = template or get_template("zero-shot", "explain")
    catalog = catalog or Catalog(items)
    facts = item_facts(row)
    t0 = time.perf_counter()
    rp = render(template, llm, query, catalog, item=item_text(row), facts=facts_text(facts), max_history=10,
                reserve_tokens=max_new_tokens)
    text = llm.generate(rp.text, max_new_tokens=max_new_tokens).strip()
    check = check_explanation(text, row, query.profile, vocab=vocab, items=None if vocab is not None else items)
    notes = list(rp.notes)
    if not query.profile_text.strip():
        notes.append("no profile statements: the explanation can cite only the movie's facts and the history")
    return Explanation(item_id, text, check, "llm", rp.text, time.perf_counter() - t0, notes)


def template_explanation(query: Query, item_id, items: pd.DataFrame, vocab: FactVocabulary | None = None) -> Explanation:
    """A deterministic explanation: each "like" statement whose facet the item has, with both citations.

    Supported by construction (it only restates matching facts); the baseline LLM explanations are compared with.
    """
    row = _row(items, item_id)
    facts = item_facts(row)
    statements = [s for s in getattr(query.profile, "statements", []) if s.text]
    group = {"genre": ("genre",), "director": ("director",), "cast": ("cast",), "decade": ("year",)}
    parts = []
    for n, s in enumerate(statements, 1):
        facet = s.facet or {}
        if s.polarity != "like" or facet.get("kind") not in group:
            continue
        for f in facts:
            if f.kind not in group[facet["kind"]]:
                continue
            vals = [str(v).lower() for v in f.all_values]
            hit = (facet["kind"] == "decade" and str(int(f.values[0]) // 10 * 10) + "s" == facet["value"]) or str(facet["value"]).lower() in vals
            if hit:
                parts.append(f"{s.text} [S{n}], and {natural(row)} {_fact_phrase(f, facet)} [{f.id}].")
                break
    text = " ".join(parts) if parts else f"{natural(row)} is not linked to any of your stated likes; it is shown for other reasons."
    check = check_explanation(text, row, query.profile, vocab=vocab, items=None if vocab is not None else items)
    return Explanation(item_id, text, check, "template")


def natural(row) -> str:
    return item_text(row)


def _fact_phrase(f, facet) -> str:
    v = facet["value"]
    article = "an" if str(v)[:1].lower() in "aeiou" else "a"
    return {"genre": f"is {article} {v} film", "director": f"is directed by {v}", "cast": f"features {v}",
            "year": f"is from the {v}"}.get(f.kind, f"has {v}")
