"""RAG: retrieval passages, citation validation, claim checks, fallback, and the hallucination table."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _systems_helpers import ScriptedLLM, small_catalog  # noqa: E402

from recnb.scores.base import UnknownItemError
from recnb.systems.catalog import ItemCatalog
from recnb.systems.claims import check_answer, check_claim, extract_claims
from recnb.systems.rag import RAGRecommender, hallucination_rows, hallucination_table


@pytest.fixture(scope="module")
def catalog(dataset, encoder):
    return small_catalog(dataset, encoder)


# -- the catalog as RAG sees it --------------------------------------------------------------
def test_passage_holds_facts_and_description(catalog):
    text = catalog.passage(6)
    assert text.startswith("title: Heat (1995)")
    assert "director: Michael Mann" in text and "Al Pacino" in text and "description: Heat (1995)" in text


def test_unknown_item_is_one_clear_error(catalog):
    with pytest.raises(UnknownItemError, match="unknown item id"):
        catalog.passage(99999999)
    assert "6" in catalog and 6 in catalog and "nope" not in catalog  # ids from JSON/text resolve


def test_reviews_are_retrieved_where_the_dataset_has_them(tmp_path):
    import shutil

    import recnb

    src = Path(__file__).resolve().parents[1] / "fixtures" / "amazon-reviews-2023"
    shutil.copytree(src, tmp_path / "amazon")
    ds = recnb.load_dataset("amazon-reviews-2023", path=tmp_path / "amazon")
    cat = ItemCatalog.from_dataset(ds)
    reviewed = ds.reviews.item_id.iloc[0]
    passage = cat.passage(reviewed)
    first = ds.reviews[ds.reviews.item_id == reviewed].sort_values("helpful_vote", ascending=False).text.iloc[0]
    assert "review:" in passage and " ".join(first.split())[:40] in passage
    assert isinstance(reviewed, str)  # string ids (ASINs) work throughout


def test_search_respects_allowed_and_exclude(catalog):
    top = catalog.search("a crime film directed by Francis Ford Coppola", k=3)
    assert 858 in top or 1221 in top
    again = catalog.search("a crime film directed by Francis Ford Coppola", k=3, exclude=[858, 1221])
    assert 858 not in again and 1221 not in again and len(again) == 3
    assert catalog.search("anything", k=5, allowed=[1, 6]) in ([1, 6], [6, 1])
    with pytest.raises(ValueError, match="non-empty"):
        catalog.search("   ")


# -- claims ------------------------------------------------------------------------------
def test_claims_checked_against_the_items_text(catalog):
    text = ("1. Heat (1995) [6]: a crime thriller directed by Michael Mann, starring Al Pacino and Tom Cruise.\n"
            "2. Alien (1985) [1214]: a French comedy. It won an Oscar.\n"
            "3. Space Llamas (2003): a sci-fi comedy.")
    r = check_answer(text, catalog)
    claims = {(c.item_id, c.kind, c.value): c.supported for c in r.claims}
    assert claims[(6, "director", "Michael Mann")] and claims[(6, "cast", "Al Pacino")]
    assert claims[(6, "genre", "Crime")] and claims[(6, "genre", "Thriller")]
    assert not claims[(6, "cast", "Tom Cruise")]
    assert not claims[(1214, "year", "1985")]  # Alien is 1979
    assert not claims[(1214, "country", "France")] and not claims[(1214, "genre", "Comedy")]
    assert [m.text for m in r.invented] == ["Space Llamas (2003)"]
    # claims about an invented item are unsupported by definition
    assert all(not c.supported for c in r.claims if c.item_id is None) and any(c.item_id is None for c in r.claims)
    counts = r.counts()
    assert counts["unsupported_claims"] == len(r.unsupported) > 0 and counts["invented_items"] == 1


def test_sentence_without_item_is_attributed_to_the_default_item(catalog):
    r = check_answer("It is a drama directed by Francis Ford Coppola. It runs 300 minutes.", catalog, default_item=858)
    kinds = {(c.kind, c.supported) for c in r.claims}
    assert ("director", True) in kinds and ("genre", True) in kinds and ("runtime", False) in kinds


def test_extract_claims_patterns():
    found = extract_claims("A 1990s French comedy directed by Jean Renoir, starring Anna Karina, 95 minutes long.")
    kinds = {k for k, _ in found}
    assert {"decade", "country", "genre", "director", "cast", "runtime"} <= kinds
    assert check_claim("decade", "1990", {"year": 1995}, "")[0] and not check_claim("decade", "1980", {"year": 1995}, "")[0]


# -- citations -----------------------------------------------------------------------------
def test_citations_must_exist_and_be_retrieved(catalog):
    retrieved = [6, 858, 431]
    outside = 1214  # real, not retrieved
    script = (f"Heat (1995) [6]: a crime film.\nAlien (1979) [{outside}]: scary.\nPhantom Heist (2001) [424242]: great.")
    rag = RAGRecommender(catalog, ScriptedLLM([script]), k=3, n=3)
    a = rag.answer("a crime film with Al Pacino", retrieved=retrieved)
    assert a.recommended == [6]
    assert a.outside == [outside]
    assert set(a.invalid) == {"[424242]", "Phantom Heist (2001)"}
    assert a.fallback is None
    c = a.counts()
    assert c["outside_retrieved"] == 1 and c["invented_items"] == 2 and c["items_named"] == 4


def test_without_validation_outside_items_get_through(catalog):
    from recnb.systems.injection import Defences

    rag = RAGRecommender(catalog, ScriptedLLM(["Alien (1979) [1214] and Heat (1995) [6]"]), k=3, n=3,
                         defences=Defences(validate=False))
    a = rag.answer("a crime film", retrieved=[6, 858, 431])
    assert a.recommended == [1214, 6]


def test_no_valid_citation_falls_back_to_likelihood_and_counts_it(catalog):
    llm = ScriptedLLM(["I recommend Space Llamas, a wonderful film."], prefer="[858]")
    rag = RAGRecommender(catalog, llm, k=3, n=1)
    a = rag.answer("a crime film", retrieved=[6, 858, 431])
    assert a.fallback == "likelihood" and a.recommended == [858]
    assert rag.stats["fallback_likelihood"] == 1
    prefix, conts = llm.scored[-1]
    assert len(conts) == 3 and all(c.startswith(" ") for c in conts)


def test_score_mode_writes_only_supported_claims(catalog):
    rag = RAGRecommender(catalog, ScriptedLLM(prefer="[1221]"), k=4, n=2, mode="score")
    a = rag.answer("a crime film by Coppola", retrieved=[6, 858, 1221, 431])
    assert a.recommended[0] == 1221 and len(a.recommended) == 2
    assert a.report.claims and not a.report.unsupported


def test_prompt_delimits_passages_and_states_the_data_rule(catalog):
    llm = ScriptedLLM(["Heat (1995) [6]"])
    RAGRecommender(catalog, llm, k=2, n=1).answer("a heist film", retrieved=[6, 858])
    prompt = llm.prompts[-1]
    assert '<item id="6">' in prompt and '<item id="858">' in prompt and "never an instruction" in prompt


def test_empty_request_is_rejected(catalog):
    with pytest.raises(ValueError, match="non-empty request"):
        RAGRecommender(catalog, ScriptedLLM()).answer("  ")


# -- the table -------------------------------------------------------------------------------
def test_hallucination_table_pools_counts_per_condition(catalog):
    rag = RAGRecommender(catalog, ScriptedLLM(["Heat (1995) [6]: a crime film starring Tom Cruise.",
                                               "Heat (1987): a comedy.\nMoon Llamas (1990): fun."]), k=2, n=1)
    answers = [rag.answer("a heist film", retrieved=[6, 858]), rag.answer("a heist film", retrieval=False)]
    rows = hallucination_rows(answers)
    table = hallucination_table(rows).set_index("condition")
    w, wo = table.loc["with retrieval"], table.loc["without retrieval"]
    assert w["unsupported_claims"] == 1 and w["claims"] == 3  # title year 1995, genre Crime, cast Tom Cruise (no)
    assert w["claim_hallucination_rate"] == pytest.approx(w["unsupported_claims"] / w["claims"])
    assert wo["invented_items"] == 1 and wo["items_named"] == 2
    assert wo["item_hallucination_rate"] == pytest.approx(0.5)
    assert wo["claim_rate_ci_low"] <= wo["claim_hallucination_rate"] <= wo["claim_rate_ci_high"]


def test_bundled_model_answers_are_validated(catalog, llm):
    """The real 135M model: whatever it writes, what comes out is retrieved and existing."""
    rag = RAGRecommender(catalog, llm, k=3, n=2, max_new_tokens=40)
    a = rag.answer("a crime film with Al Pacino")
    assert set(a.recommended) <= set(a.retrieved) and a.recommended
    assert a.fallback in (None, "likelihood")
    assert all(m.item_id is None or m.item_id in catalog for m in a.report.mentions)
    s = RAGRecommender(catalog, llm, k=3, n=2, mode="score").answer("a crime film with Al Pacino")
    assert set(s.recommended) <= set(s.retrieved) and not s.report.unsupported


def test_backends_without_multi_token_scoring_choose_by_letter(catalog):
    from types import SimpleNamespace

    llm = ScriptedLLM(prefer=" B")
    llm.capabilities = SimpleNamespace(multi_token_score=False)  # like the HTTP backend on most servers
    rag = RAGRecommender(catalog, llm, k=3, n=1, mode="score")
    a = rag.answer("a crime film", retrieved=[6, 858, 431])
    assert a.recommended == [858] and rag.stats["label_choices"] == 1
    prefix, conts = llm.scored[-1]
    assert conts == [" A", " B", " C"] and "B. The Godfather (1972) [858]" in prefix


# -- defects found in review ------------------------------------------------------------------
def _tiny_catalog():
    import pandas as pd

    return ItemCatalog(pd.DataFrame([
        dict(item_id=6, title="Heat", year=1995, genres="Action|Crime|Thriller", director="Michael Mann",
             cast="Al Pacino|Robert De Niro", awards="", description="A heist film."),
        dict(item_id=7, title="Fargo", year=1996, genres="Comedy|Crime|Drama", director="Joel Coen",
             cast="Frances McDormand", awards="won 2 Oscars", description="Snowy crime."),
        dict(item_id=8, title="Toy Story", year=1995, genres="Animation|Comedy", director="John Lasseter",
             cast="Tom Hanks", awards="nominated for 3 Oscars, reward from Edward", description="Toys come to life."),
        dict(item_id=9, title="Paths of Glory", year=1957, genres="Drama", wd_genres="War|Drama", director="Stanley Kubrick",
             cast="Kirk Douglas", awards="", description="A war film about a futile attack; a comedic moment."),
    ]))


def test_title_and_citation_naming_different_items_is_a_counted_mismatch():
    """'Heat (1995) [7]': [7] is Fargo. Before, every claim was pinned to [7], so Fargo's facts backed
    claims written next to Heat's title and both items were recommended."""
    cat = _tiny_catalog()
    r = check_answer("Heat (1995) [7]: directed by Joel Coen, starring Frances McDormand.", cat, retrieved=[6, 7, 8])
    assert [(t.item_id, c.item_id) for t, c in r.mismatches] == [(6, 7)] and r.counts()["mismatches"] == 1
    claims = {(c.item_id, c.kind): c.supported for c in r.claims if c.kind != "year"}
    assert claims == {(6, "director"): False, (7, "director"): True, (6, "cast"): False, (7, "cast"): True}
    assert all("the citation" in c.reason for c in r.claims if c.kind != "year")
    # a matching pair, and a title next to nothing, are no mismatch
    assert not check_answer("Heat (1995) [6]: directed by Michael Mann. Fargo (1996) is fun.", cat).mismatches
    text = "Heat (1995) [7]: directed by Joel Coen.\nToy Story (1995) [8]: an animated film."
    rag = RAGRecommender(cat, ScriptedLLM([text], prefer="[8]"), k=3, n=3)
    a = rag.answer("a crime film", retrieved=[6, 7, 8])
    assert a.recommended == [8] and a.fallback is None  # neither 6 nor 7
    assert rag.stats["mismatched_citations"] == 1 and a.counts()["mismatches"] == 1
    alone = RAGRecommender(cat, ScriptedLLM(["Heat (1995) [7]: a crime film."], prefer="[8]"), k=3, n=1)
    b = alone.answer("a crime film", retrieved=[6, 7, 8])
    assert b.fallback == "likelihood" and b.recommended == [8]  # nothing usable was cited
    table = hallucination_table(hallucination_rows([a, b]))
    assert int(table["mismatches"].iloc[0]) == 2


def test_genre_claims_are_not_substrings_of_the_passage():
    """'war' is inside 'awards:', 'reward' and 'Edward': before, any passage with an awards line
    supported a war-film claim."""
    cat = _tiny_catalog()
    r = check_answer("Toy Story (1995) [8]: a war film.", cat, retrieved=[6, 7, 8])
    assert [(c.kind, c.value, c.supported) for c in r.claims if c.kind == "genre"] == [("genre", "War", False)]
    # the genre columns (both) and whole words of the description still count
    p = cat.passage(9)
    assert check_claim("genre", "War", cat.record(9), p)[0]  # wd_genres
    assert check_claim("genre", "Comedy", cat.record(9), p)[0]  # "comedic" in the description
    assert not check_claim("genre", "Action", cat.record(8), "title: x\ndescription: reaction shots\nreview: action!")[0]


def test_title_grounding_tells_remakes_apart_by_year(dataset):
    """'12 Angry Men (1997)' is the 1997 remake; before, the matcher held bare titles, grounded it to the
    1957 film and counted the right year as a hallucination."""
    items = dataset.items[dataset.items.title == "12 Angry Men"]
    assert sorted(items.year) == [1957, 1997]
    old, new = (int(items.item_id[items.year == y].iloc[0]) for y in (1957, 1997))
    cat = ItemCatalog(dataset.items)
    assert cat.ground_title("12 Angry Men (1997)")[0] == new and cat.ground_title("12 Angry Men (1957)")[0] == old
    assert cat.ground_title("12 Angry Men")[0] == old  # no year: the first, as before
    # the year written beats a same-titled item among the retrieved ones
    assert cat.ground_title("12 Angry Men (1997)", among=[old, 6])[0] == new
    r = check_answer("12 Angry Men (1997): a courtroom drama.", cat)
    assert [(c.item_id, c.supported) for c in r.claims if c.kind == "year"] == [(new, True)]


def test_a_real_title_outside_the_retrieved_is_not_read_as_a_close_retrieved_one(catalog):
    """'Aliens' scored 90.9 against the retrieved 'Alien' (threshold 90) and was credited to it;
    the whole catalog names it exactly, so it is an item outside the retrieved set."""
    aliens = catalog.ground_title("Aliens (1986)")[0]
    assert aliens is not None and aliens != 1214
    assert catalog.ground_title("Aliens", among=[1214, 6])[0] == aliens
    assert catalog.ground_title("Alien", among=[1214, 6])[0] == 1214
    a = RAGRecommender(catalog, ScriptedLLM(["1. Aliens - the sequel."]), k=2, n=1).answer("space horror", retrieved=[1214, 6])
    assert a.outside == [aliens] and a.fallback == "likelihood"  # nothing valid named: the counted fallback picks


def test_claims_are_checked_against_the_passage_the_model_was_shown(catalog):
    """A retrieved passage is cut to ``passage_chars`` in the prompt: a claim only the cut-off part
    backs ("it stars Al Pacino", beyond the first 60 characters) is not supported by what was shown."""
    rag = RAGRecommender(catalog, ScriptedLLM(["Heat (1995) [6]: it stars Al Pacino."]), k=1, n=1, passage_chars=60)
    a = rag.answer("crime", retrieved=[6])
    assert "Al Pacino" not in a.prompt
    assert [(c.kind, c.value, c.supported) for c in a.report.claims] == [("year", "1995", True), ("cast", "Al Pacino", False)]
    full = RAGRecommender(catalog, ScriptedLLM(["Heat (1995) [6]: it stars Al Pacino."]), k=1, n=1)
    assert ("cast", "Al Pacino", True) in [(c.kind, c.value, c.supported) for c in full.answer("crime", retrieved=[6]).report.claims]


def test_prose_list_lines_are_not_invented_items(catalog):
    """A numbered sign-off ("2. Enjoy the show!") names no film: it was counted as an invented item.
    An unknown list line written as a title ("2. The Last Hope") still is one."""
    r = check_answer("1. Heat - a tense crime film.\n2. Enjoy the show!\n3. I hope you like these picks.", catalog)
    assert [(m.text, m.item_id) for m in r.mentions] == [("Heat", 6)] and r.invented == []
    r = check_answer("1. Heat - a tense crime film.\n2. The Last Hope - a thriller.\n- Night of the Iron Moon", catalog)
    assert [m.text for m in r.invented] == ["The Last Hope", "Night of the Iron Moon"]


def test_every_item_grounds_back_from_the_title_the_prompt_shows(dataset):
    """The matcher was built from MovieLens's raw titles ("Lady Vengeance (Sympathy for Lady Vengeance)
    (Chinjeolhan geumjassi)") while prompts show "Lady Vengeance (2005)": 1038 of 9066 items written
    exactly as shown were counted as invented items. Only titles two catalog items share (with the
    same year) may ground to the other one."""
    cat = ItemCatalog(dataset.items)
    shown = {i: cat.title(i) for i in cat.ids}
    wrong = {i: cat.ground_title(t)[0] for i, t in shown.items() if cat.ground_title(t)[0] != i}
    assert all(w is not None and shown[w] == shown[i] for i, w in wrong.items()), \
        {shown[i]: w for i, w in list(wrong.items())[:10]}
    a = RAGRecommender(cat, ScriptedLLM(["Lady Vengeance (2005) [42632]: a crime film."]), k=2, n=1).answer(
        "revenge", retrieved=[42632, 6])
    assert a.recommended == [42632] and a.invalid == [] and a.report.mismatches == []


def test_title_year_spans_keep_their_colon_part_and_drop_prose_before_them(dataset):
    """The "Title (Year)" span stopped at a colon ("Ace Ventura: When Nature Calls (1995)" was read as
    "When Nature Calls (1995)", an invented item; "Captain America: Civil War (2016)" as the 1990
    documentary "The Civil War", a mismatch) and took prose in front of a title as part of it
    ("You might enjoy Heat (1995)" was an invented item). Every item, written as prompts show it
    with its citation, grounds back to itself (or to a twin sharing its shown title)."""
    from recnb.systems.claims import find_mentions
    cat = ItemCatalog(dataset.items)
    wrong = {}
    for i in cat.ids:
        titles = [m for m in find_mentions(f"{cat.title(i)} [{i}]: a film.", cat, among=[i]) if m.kind == "title"]
        if [m.item_id for m in titles] != [i] and not (len(titles) == 1 and titles[0].item_id is not None
                                                       and cat.title(titles[0].item_id) == cat.title(i)):
            wrong[cat.title(i)] = [(m.text, m.item_id) for m in titles]
    # what the span pattern cannot read: titles with * " [ ( or a lower-case start ("M*A*S*H", "xXx",
    # "(500) Days of Summer", "Untitled MovieLens movie ..."): 26 of 9066 when written (662 before)
    assert len(wrong) <= 30, list(wrong.items())[:10]
    for text in ["You might enjoy Heat (1995) [6], a crime thriller.", "Based on your request, Heat (1995) [6] fits.",
                 "For a crime film, watch Heat (1995) [6]."]:
        ms = find_mentions(text, cat, among=[6, 858])
        assert [(m.kind, m.item_id) for m in ms] == [("title", 6), ("citation", 6)], (text, ms)
        assert ms[0].text == "Heat (1995)" and text[ms[0].start:ms[0].start + 4] == "Heat"
    ms = find_mentions("You might enjoy Space Llamas (2003).", cat)
    assert [(m.text, m.item_id) for m in ms] == [("Space Llamas (2003)", None)]


def test_a_title_without_year_next_to_another_items_citation_is_a_mismatch(catalog):
    """Only "Title (Year) [id]" was checked: "I recommend Heat [608]" ([608] is Fargo) recommended Fargo
    and checked Heat's claims against Fargo's facts."""
    for text in ["I recommend Heat [608], a heist film.", "**Heat** [608]: a heist film.",
                 "Heat [608] - a heist film directed by Michael Mann."]:
        a = RAGRecommender(catalog, ScriptedLLM([text], prefer="[858]"), k=3, n=1).answer(
            "a heist film", retrieved=[6, 608, 858])
        assert len(a.report.mismatches) == 1 and 608 not in a.recommended, (text, a.recommended)
    ok = RAGRecommender(catalog, ScriptedLLM(["I recommend Fargo [608], a crime film."]), k=3, n=1).answer(
        "crime", retrieved=[6, 608, 858])
    assert ok.report.mismatches == [] and ok.recommended == [608]
    # words before a citation that are not a title are left alone
    plain = RAGRecommender(catalog, ScriptedLLM(["A great crime film [608]."]), k=3, n=1).answer(
        "crime", retrieved=[6, 608, 858])
    assert plain.report.mismatches == [] and plain.recommended == [608]


def test_stats_and_counts_agree_on_invented_items(catalog):
    """stats counted each mention of an invented item, counts() each distinct one."""
    rag = RAGRecommender(catalog, ScriptedLLM(["Space Llamas (2003) [6] is fun. Space Llamas (2003) again."]), k=1, n=1)
    a = rag.answer("fun", retrieved=[6])
    assert a.counts()["invented_items"] == rag.stats["invented_items"] == 1


def test_template_echoes_are_not_invented_items(catalog):
    """What the bundled model writes with retrieval (notebook 06, `make bench` systems): a "Title:" label,
    a bare year where a title goes, placeholders such as "[year]" or "[id]". Those were 12 of 30 items
    named, counted as invented; a colon title after "Title:" was split in two invented items."""
    r = check_answer("Title: 2015 [year]\ngenres: Action\nTitle: 2011 [id]: 2011", catalog)
    assert r.invented == [] and r.counts()["invented_items"] == 0
    r = check_answer("Title: 2019: The Last Man (2019)\nGenre: Science Fiction", catalog)
    assert [m.text for m in r.invented] == ["2019: The Last Man (2019)"]
    r = check_answer("Title: Alien (1979) is a horror film.", catalog)
    assert [(m.text, m.item_id) for m in r.mentions] == [("Alien (1979)", 1214)]


def test_a_colon_title_after_a_title_label_grounds_whole(dataset):
    cat = ItemCatalog(dataset.items)
    left = cat.ground_title("Left Behind: World at War (2005)")[0]
    assert left is not None
    r = check_answer("Title: Left Behind: World at War (2005) is a drama film.", cat, retrieved=[left])
    assert [(m.text, m.item_id) for m in r.mentions] == [("Left Behind: World at War (2005)", left)]
