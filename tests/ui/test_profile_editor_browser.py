"""ProfileEditor in a real JupyterLab: edit a statement, click save, the ranking in the page changes."""
from __future__ import annotations

import _lab

SETUP = """\
import recnb
from recnb.profiles.scoring import ProfileScorer
from recnb.text.profile import Profile, Statement
from recnb.widgets import ProfileEditor
ds = recnb.load_dataset("movielens-small")
items = ds.items.iloc[:3000]  # a slice of the catalog keeps the kernel quick
scorer = ProfileScorer(recnb.load_encoder("minilm"), items)
profile = Profile([Statement("I like Comedy films"), Statement("I like films with Tom Hanks")], user_id=4)
w = ProfileEditor.for_user(scorer, ds.split(seed=0), items, 4, profile=profile, caption="UI test profile")
w
"""

TITLES_JS = "() => [...document.querySelectorAll('.jp-OutputArea .recnb-pe-item .recnb-pe-title')].map(n => n.textContent)"


def test_edit_statement_and_see_ranking_change(page, lab, scratch_dir):
    out = _lab.run_notebook(page, lab, scratch_dir, "profile_editor.ipynb", [SETUP, "print('ready', len(w.ranking))"])
    items = out.locator(".recnb-profile-editor .recnb-pe-item")
    items.first.wait_for(timeout=60_000)
    assert items.count() == 10
    assert out.locator(".recnb-pe-caption").inner_text() == "UI test profile"
    assert out.locator(".recnb-pe-statement").count() == 2
    before = page.evaluate(TITLES_JS)
    assert _lab.run_code(page, "print([r['title'] for r in w.ranking] == %r)" % (before,)).strip() == "True"

    # Edit the first statement in the page and click its save button.
    first = out.locator(".recnb-pe-statement").first
    first.locator(".recnb-pe-text").fill("I love animated films for children")
    first.locator(".recnb-pe-save").click()
    page.wait_for_function(f"() => JSON.stringify(({TITLES_JS})()) !== JSON.stringify({before!r})", timeout=60_000)
    after = page.evaluate(TITLES_JS)
    assert after != before and len(after) == 10
    assert out.locator(".recnb-pe-status.recnb-pe-new").count() >= 1
    assert "I love animated films for children" in out.locator(".recnb-pe-why").first.inner_text() or \
        out.locator(".recnb-pe-why", has_text="I love animated films for children").count() >= 1
    assert _lab.run_code(page, "print(len(w.log), w.statements[0]['text'])").strip() == "1 I love animated films for children"

    # Undo in the page brings the old ranking back.
    out.locator(".recnb-pe-undo").click()
    page.wait_for_function(f"() => JSON.stringify(({TITLES_JS})()) === JSON.stringify({before!r})", timeout=60_000)
    log = out.locator(".recnb-pe-log")
    log.locator("summary").click()  # open the edit log
    assert "#2 undo" in log.inner_text() and "#1 edited" in log.inner_text()
    # newest first, and no list numbers of its own beside the entries' #N ("1. #2 undo", "2. #1 ...")
    entries = log.locator("li")
    assert entries.first.inner_text().startswith("#2 undo") and entries.nth(1).inner_text().startswith("#1 edited")
    assert entries.first.evaluate("li => getComputedStyle(li).listStyleType") == "none"


def test_typed_text_survives_other_edits(page, lab, scratch_dir):
    """Statement text was sent only on Enter or 'save', and every edit redrew the boxes from the
    stored text: typing into a statement (or the add box) and then changing anything else lost it."""
    out = _lab.run_notebook(page, lab, scratch_dir, "profile_editor.ipynb", [SETUP, "print('ready', len(w.ranking))"])
    out.locator(".recnb-profile-editor .recnb-pe-item").first.wait_for(timeout=60_000)
    rows = out.locator(".recnb-pe-statement")
    text = lambda i: rows.nth(i).locator(".recnb-pe-text")  # noqa: E731

    # Type into statement 1, then change its weight: leaving the box sends the text, the weight follows.
    text(0).fill("I love heist films")
    rows.nth(0).locator(".recnb-pe-weight").fill("2")
    rows.nth(0).locator(".recnb-pe-weight").press("Tab")
    _lab.kernel_until(page, "w.statements[0]['weight'] == 2")
    assert _lab.run_code(page, "print(w.statements[0]['text'])").strip() == "I love heist films"
    page.wait_for_function("() => document.querySelector('.jp-OutputArea .recnb-pe-statement .recnb-pe-text')"
                           ".value === 'I love heist films'")

    # Text in the add box (not added yet) stays there while another row is flipped.
    out.locator(".recnb-pe-add-text").fill("I dislike horror films")
    rows.nth(1).locator(".recnb-pe-flip").click()
    _lab.kernel_until(page, "w.statements[1]['polarity'] == 'dislike'")
    page.wait_for_function("() => document.querySelector('.jp-OutputArea .recnb-pe-statement:nth-child(2) .recnb-pe-flip')"
                           ".textContent === 'dislike'")
    assert out.locator(".recnb-pe-add-text").input_value() == "I dislike horror films"
    assert _lab.run_code(page, "print(len(w.statements))").strip() == "2"  # typed, not added

    # Still typing in statement 2 (focus never left) when the kernel changes the profile: the
    # redraw keeps the text and the focus; Enter then sends it.
    text(1).fill("films with Meg Ryan")
    _lab.run_code(page, "w.apply({'op': 'weight', 'id': w.statements[0]['id'], 'weight': 3})")
    page.wait_for_function("() => document.querySelector('.jp-OutputArea .recnb-pe-weight').value === '3'")
    assert text(1).input_value() == "films with Meg Ryan"
    assert page.evaluate("() => document.activeElement && document.activeElement.classList.contains('recnb-pe-text')")
    assert _lab.run_code(page, "print('Meg' in w.statements[1]['text'])").strip() == "False"
    page.keyboard.press("Enter")
    _lab.kernel_until(page, "'Meg Ryan' in w.statements[1]['text']")
    # the add box still holds its text through all of it, and adds it on Enter
    out.locator(".recnb-pe-add-text").press("Enter")
    _lab.kernel_until(page, "len(w.statements) == 3")
    assert _lab.run_code(page, "print(w.statements[2]['text'], w.statements[2]['polarity'])").strip() == \
        "I dislike horror films dislike"


def test_a_draft_carried_through_a_redraw_is_sent_when_the_box_is_left(page, lab, scratch_dir):
    """A kernel update while a weight was being typed rebuilt the box with the draft in it; leaving
    that box fired no "change" (its value was set, not typed), so the shown weight never reached the
    kernel (seen in a full test run: the box said 2, the profile kept 1)."""
    out = _lab.run_notebook(page, lab, scratch_dir, "profile_editor.ipynb", [SETUP, "print('ready', len(w.ranking))"])
    out.locator(".recnb-profile-editor .recnb-pe-item").first.wait_for(timeout=60_000)
    weight = out.locator(".recnb-pe-statement").nth(0).locator(".recnb-pe-weight")
    weight.fill("2")  # typed, not sent yet
    _lab.run_code(page, "w.apply({'op': 'weight', 'id': w.statements[1]['id'], 'weight': 3})")  # the kernel redraws
    page.wait_for_function("() => document.querySelectorAll('.jp-OutputArea .recnb-pe-weight')[1].value === '3'")
    assert weight.input_value() == "2"
    weight.press("Tab")
    _lab.kernel_until(page, "w.statements[0]['weight'] == 2")
