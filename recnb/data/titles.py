"""Title helpers shared by the loaders: split "Title (1995)", undo "Matrix, The".

MovieLens stores titles as "Usual Suspects, The (1995)" with alternates in brackets
("Seven (a.k.a. Se7en)"). Loaders keep the source title in ``items.title`` (so ids and
titles stay traceable to the files) and use these helpers for years and readable text.
"""
from __future__ import annotations

import re
import unicodedata

# Trailing articles MovieLens moves to the end ("Matrix, The"), English and the common
# foreign ones that occur in its catalogue ("Postino, Il", "Haine, La", "Chien andalou, Un",
# "Vitelloni, I", "Fem benspaend, De"). The short ones that are also ordinary words or a
# numeral (I, O, As, De, En, ...) only count capitalised, as MovieLens writes them: ", i" or
# ", as" at the end of a title is not an article.
_TRAILING_ARTICLE = re.compile(
    r",\s*((?i:The|A|An|Les|La|Le|L'|Il|El|Das|Der|Die|Los|Las|Lo|Gli|Den|Det)"
    r"|Un|Une|Uno|Una|I|De|Het|Ein|Eine|Os|As|O|En|Ett)$"
)
_YEAR_SUFFIX = re.compile(r"\s*\((\d{4})(?:[-–]\d{0,4})?\)\s*$")


def split_title_year(raw: str) -> tuple[str, int | None]:
    """ "Toy Story (1995)" -> ("Toy Story", 1995); no year in brackets at the end -> (raw, None)."""
    raw = (raw or "").strip()
    m = _YEAR_SUFFIX.search(raw)
    if not m:
        return raw, None
    return raw[: m.start()].strip(), int(m.group(1))


def article_to_front(title: str) -> str:
    """ "Usual Suspects, The" -> "The Usual Suspects"; "Postino, Il" -> "Il Postino"."""
    title = title.strip()
    m = _TRAILING_ARTICLE.search(title)
    if not m:
        return title
    art = m.group(1)
    sep = "" if art.endswith("'") else " "
    return f"{art}{sep}{title[: m.start()].strip()}"


def main_and_alternates(title: str) -> tuple[str, list[str]]:
    """ "Seven (a.k.a. Se7en)" -> ("Seven", ["Se7en"]); articles moved to the front in each."""
    title = (title or "").strip()
    main = re.split(r"\s+\(", title, maxsplit=1)[0]
    alts = []
    for alt in re.findall(r"\(([^()]*)\)", title[len(main):]):
        alt = re.sub(r"^(a\.k\.a\.|aka)\s*", "", alt.strip(), flags=re.IGNORECASE)
        if alt:
            alts.append(article_to_front(alt))
    return article_to_front(main), alts


def natural_title(title: str) -> str:
    """The title as a person would write it: article in front, alternates dropped."""
    return main_and_alternates(title)[0]


def fold_accents(text: str) -> str:
    """ "Amélie" -> "Amelie" (NFKD, combining marks removed)."""
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def normalize_title(title: str) -> str:
    """A matching key: accents folded, lowercase, '&' -> 'and', punctuation -> spaces."""
    text = fold_accents(article_to_front(title or "")).lower().replace("&", " and ")
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text).split())
