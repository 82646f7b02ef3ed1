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
    folder, rel = scratch_dir
    _lab.write_notebook(folder / "profile_editor.ipynb", [SETUP, "print('ready', len(w.ranking))"])
    _lab.open_notebook(page, lab, rel / "profile_editor.ipynb")
    _lab.run_all(page)
    assert _lab.tracebacks(page) == []

    out = _lab.output_area(page)
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
