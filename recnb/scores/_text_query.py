"""The one query text that text rankers (BM25, cross-encoder) match against items."""
from __future__ import annotations

from recnb.scores.base import Query


def history_text(query: Query, texts: dict, limit: int = 20) -> str:
    """The texts of the user's liked items (most recent ``limit``), for a query with no words."""
    liked = [i for i in query.liked() if i in texts][-limit:]
    return " ".join(texts[i] for i in liked)


def text_or_history(ranker, query: Query, limit: int = 20) -> str:
    """The request + profile text; without either, the liked items' texts (counted as a fallback).

    ``ranker`` needs ``_texts`` (item_id -> text), ``stats`` and ``name``. No text and no liked
    history is one clear ValueError.
    """
    text = query.text()
    if text.strip():
        return text
    fallback = history_text(query, ranker._texts, limit)
    if fallback.strip():
        ranker.stats["fallback_history_text"] += 1
        return fallback
    raise ValueError(f"{ranker.name}: the query is empty (no request, no profile text and no liked history items)")
