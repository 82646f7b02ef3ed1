"""An LLM summariser that writes profile statements, cites evidence, and gets checked.

The bundled 135M model cannot summarise a whole history (asked for a list it echoes the prompt),
so its job is kept small: it is shown one group of movies the person rated high (or low), a
numbered list, and completes one sentence after a forced "I like" / "I dislike".
Groups come from the facts (the movies sharing a top genre, director or actor), but the prompt
does not name what they share; the model has to say it.

Everything it writes is parsed defensively and checked against the facts:

* no parseable sentence -> the facts statement for that group is used instead (counted);
* citations: the model is asked, movie by movie, whether its sentence describes it (Yes/No by
  log-likelihood); a statement citing nothing is kept, counted and flagged;
* a statement whose cited movies do not match its words (no facet named, and the movies are no
  closer to its topic than the catalog average) or were rated on the other side is flagged.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from recnb.text.profile import FACETS, Profile, Statement, item_facets, item_key, profile_from_history, statement_topic

SYSTEM = "You describe a person's movie taste in one short sentence."


@dataclass
class SummaryReport:
    """What happened: counts of parse failures, fallbacks, dropped citations and flags."""

    counts: Counter = field(default_factory=Counter)
    raw: list = field(default_factory=list)  # (prompt group, model text) for inspection

    def __str__(self):
        return ", ".join(f"{k}={v}" for k, v in sorted(self.counts.items())) or "nothing to report"


def _movie_line(n: int, row: pd.Series) -> str:
    from recnb.data.titles import natural_title

    genres = ", ".join([g for g in str(row.get("genres") or "").split("|") if g][:3])
    who = str(row.get("director") or "").split("|")[0]
    extra = "; ".join(x for x in (genres, f"dir. {who}" if who else "") if x)
    return f"{n}. {natural_title(str(row['title']))} ({extra})"


def build_prompt(llm, rows: list[pd.Series], polarity: str) -> str:
    listing = "\n".join(_movie_line(n + 1, r) for n, r in enumerate(rows))
    feel, verb = ("loved", "I like movies") if polarity == "like" else ("disliked", "I dislike movies")
    user = (f"Movies this person {feel}:\n{listing}\n\nIn one short sentence, what kind of movies "
            f"does this person {'like' if polarity == 'like' else 'dislike'}?")
    return llm.chat_prompt(user, system=SYSTEM, assistant_prefix=verb)


def cite_prompt(llm, sentence: str, movie_line: str) -> str:
    user = f"Statement: \"{sentence}\"\nMovie: {movie_line}\nDoes the statement describe this movie? Answer Yes or No."
    return llm.chat_prompt(user)


def cite(llm, sentence: str, rows: list[pd.Series]) -> list[int]:
    """1-based positions of the movies the model rates likeliest to fit the sentence.

    Asked as a yes/no per movie and read from log-likelihoods (at 135M, free-text citations just
    copy the numbers of the instruction's example). The model says "No" to almost everything, so
    the margin log P(Yes) - log P(No) is read relative to the group: movies at or above the group's
    mean margin are cited. Whether they really support the sentence is then checked on the facts.
    """
    margins = []
    for n, r in enumerate(rows):
        yes, no = llm.score(cite_prompt(llm, sentence, _movie_line(n + 1, r).split(". ", 1)[1]), ["Yes", "No"])
        margins.append(yes - no)
    m = np.asarray(margins)
    return [n + 1 for n in np.flatnonzero(m >= m.mean() - 1e-9)] if len(m) else []


def parse_statement(text: str, verb: str) -> str | None:
    """The first sentence of the model's completion after ``verb``; None when it is not a usable statement."""
    line = (verb + text).split("\n")[0].strip()
    if re.search(r"(?:^|\s)\d+\.\s|\[", line):  # echoed the numbered list or the citation brackets
        return None
    sentence = re.split(r"(?<=[.!?])\s", line)[0].strip().rstrip(".,;:").strip()
    words = statement_topic(sentence).split()
    if sentence.lower() == verb.lower() or not words or len(words) > 25:
        return None
    return sentence


def _groups(items: pd.DataFrame, rated: pd.DataFrame, polarity: str, n_groups: int, per_group: int, min_size: int):
    """Facts-based groups of same-side movies: [(facet dict, [item ids])], biggest first, one per value."""
    facts = profile_from_history(items, rated["item_id"], rated["rating"], min_support=min_size, min_share=0.0,
                                 max_per_facet=n_groups)
    out = [(s.facet, list(s.evidence)[-per_group:]) for s in facts.statements if s.polarity == polarity]
    out.sort(key=lambda t: -len(t[1]))
    return out[:n_groups]


def _genre_words(value: str) -> list[str]:
    v = value.lower()
    extra = {"sci-fi": ["science fiction", "sci fi", "scifi"], "children": ["children", "kids", "family"],
             "comedy": ["comed", "funny", "humor", "humour", "laugh"], "adventure": ["adventur"],
             "drama": ["drama"], "crime": ["crime", "criminal", "gangster"], "action": ["action"], "animation": ["animat", "cartoon"], "romance": ["romanc", "romantic", "love"],
             "film-noir": ["noir"], "documentary": ["documentar"], "horror": ["horror", "scary"],
             "musical": ["musical"], "thriller": ["thrill", "suspense"], "war": ["war "], "western": ["western"]}
    return extra.get(v, [v.rstrip("s")])


def mentions_facet(text: str, facets: dict[str, list[str]]) -> bool:
    """Whether the sentence names one of an item's facet values (a genre word, a name, a decade)."""
    from rapidfuzz import fuzz

    low = f" {text.lower()} "
    for kind, values in facets.items():
        for v in values:
            if kind == "genre" and any(w in low for w in _genre_words(v)):
                return True
            if kind in ("director", "cast") and v and fuzz.partial_ratio(v.lower(), low) >= 90:
                return True
            if kind == "decade" and (v.lower() in low or v[2:].lower() in low):
                return True
    return False


def check_statement(s: Statement, items: pd.DataFrame, ratings: dict, scorer=None, like_at: float = 4.0,
                    dislike_at: float = 2.5, min_z: float = 0.5) -> str | None:
    """Why the evidence does not support the statement (None when it does)."""
    if not s.evidence:
        return "cites no movies"
    foreign = [i for i in s.evidence if i not in ratings]
    if foreign:
        return f"cites movies the person never rated: {foreign}"
    side = [ratings[i] >= like_at if s.polarity == "like" else ratings[i] <= dislike_at for i in s.evidence]
    if sum(side) * 2 < len(side):
        return f"{len(side) - sum(side)} of {len(side)} cited movies were rated the other way"
    catalog = items.set_index("item_id")
    ok = [mentions_facet(s.text, item_facets(catalog.loc[i])) if i in catalog.index else False for i in s.evidence]
    if scorer is not None and sum(ok) * 2 < len(ok):  # no facet named: are the movies at least close to the topic?
        z = scorer.topic_columns([statement_topic(s.text)])[0][scorer.rows(s.evidence)]
        ok = [a or b for a, b in zip(ok, z >= min_z)]
    if sum(ok) * 2 < len(ok):
        return f"only {sum(ok)} of {len(ok)} cited movies match what it says"
    return None


def check_evidence(profile: Profile, items: pd.DataFrame, history, ratings, scorer=None) -> Profile:
    """A copy with ``flag`` set on every generated statement its evidence does not support."""
    rated = {item_key(i): float(r) for i, r in zip(history, ratings)}
    out = profile.copy()
    for s in out.statements:
        if s.source != "edited":
            s.flag = check_statement(s, items, rated, scorer)
    return out


def summarise_history(llm, items: pd.DataFrame, history, ratings, user_id=None, n_likes: int = 3,
                      n_dislikes: int = 2, per_group: int = 5, min_group: int = 3, scorer=None,
                      max_new_tokens: int = 24) -> tuple[Profile, SummaryReport]:
    """An LLM-written profile with cited evidence, checked against the facts; plus what went wrong."""
    rated = pd.DataFrame({"item_id": [item_key(i) for i in history], "rating": [float(r) for r in ratings]})
    catalog = items.set_index("item_id")
    rated = rated[rated["item_id"].isin(catalog.index)]
    report = SummaryReport()
    statements = []
    for polarity, n in (("like", n_likes), ("dislike", n_dislikes)):
        verb = "I like movies" if polarity == "like" else "I dislike movies"
        for facet, group in _groups(items, rated, polarity, n, per_group, min_group):
            rows = [catalog.loc[i].to_frame().T.assign(item_id=i).iloc[0] for i in group]
            prompt = build_prompt(llm, rows, polarity)
            text = llm.generate(prompt, max_new_tokens=max_new_tokens)
            report.raw.append((facet, verb + text))
            report.counts["generated"] += 1
            sentence = parse_statement(text, verb)
            if sentence is None:  # unusable answer: the facts sentence for this group, counted
                report.counts["fallback_facts_statement"] += 1
                said = "I like" if polarity == "like" else "I dislike"
                sentence, source = f"{said} {FACETS[facet['kind']][1].format(v=facet['value'])}", "generated"
            else:
                source = "llm"
            cites = cite(llm, sentence, rows)
            if not cites:
                report.counts["cited_nothing"] += 1  # kept, and flagged by the check below
            statements.append(Statement(sentence, polarity=polarity, weight=1.0, source=source,
                                        evidence=tuple(group[c - 1] for c in cites)))
    profile = check_evidence(Profile(statements, user_id=user_id), items, rated["item_id"], rated["rating"], scorer)
    report.counts["flagged"] += sum(1 for s in profile.statements if s.flag)
    report.counts["statements"] = len(profile.statements)
    if not statements:
        report.counts["no_groups"] += 1  # too few rated movies on either side: nothing to summarise
    return profile, report
