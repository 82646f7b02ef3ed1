"""The prompt playground in a real JupyterLab: pick a template, edit the prompt, Run, see both rankings."""
from __future__ import annotations

import _lab

SETUP = """\
import recnb
from recnb.evaluation.synthetic import make_catalog
from recnb.widgets.prompt_playground import PromptPlayground
cat = make_catalog()
cases = cat.cases[:2]
llm = recnb.load_llm("smollm2-135m")
w = PromptPlayground(llm, cat.items, {c.user_id: cat.query(c) for c in cases}, {c.user_id: c.candidates for c in cases},
                     targets={c.user_id: sorted(c.relevant)[0] for c in cases}, train=cat.train,
                     settings=[{"template": "zero-shot", "ranker": "llm-title"},
                               {"template": "zero-shot", "ranker": "llm-listwise-labels"}])
w
"""

EDITED = "Edited by the browser test. About me: {profile}\nMovies I watched: {history}\n{demos}\nRecommend one movie I would like. Answer with its title only."


def _side(out, i):
    return out.locator(f'.recnb-prompt-playground .recnb-pp-side[data-side="{i}"]')


def test_template_edit_and_run_round_trip(page, lab, scratch_dir):
    out = _lab.run_notebook(page, lab, scratch_dir, "playground.ipynb", [SETUP, "print('ready', len(w.settings))"])
    a, b = _side(out, 0), _side(out, 1)
    a.wait_for(timeout=60_000)
    assert out.locator(".recnb-pp-user option").count() == 2
    assert "Recommend one movie I would like" in a.locator("textarea").input_value()
    assert "Which candidate movie would I like most?" in b.locator("textarea").input_value()
    assert "Not run yet" in a.inner_text()

    # Picking another template on side B: the kernel fills in that template's text.
    b.locator(".recnb-pp-template").select_option("recency")
    page.wait_for_function(
        """() => document.querySelector('.jp-OutputArea .recnb-pp-side[data-side="1"] textarea')
              .value.includes('my most recently watched movie is')"""
    )
    # Editing side A's prompt and pressing Run: both sides rank in the kernel and come back.
    _side(out, 0).locator("textarea").fill(EDITED)
    out.locator(".recnb-pp-run").click()
    page.wait_for_function(
        "() => document.querySelectorAll('.jp-OutputArea .recnb-pp-side .recnb-pp-row').length === 16", timeout=240_000
    )
    a, b = _side(out, 0), _side(out, 1)
    assert a.locator(".recnb-pp-row").count() == 8 and b.locator(".recnb-pp-row").count() == 8
    assert a.locator(".recnb-pp-target").count() == 1
    assert "prefix cache hits" in a.locator(".recnb-pp-meta").inner_text()
    assert "done in" in out.locator(".recnb-pp-status").inner_text()
    check = _lab.run_code(page, "print(w.settings[0]['text'].startswith('Edited by the browser test'), "
                                "w.results[0]['prompt'].startswith('Edited by the browser test'), "
                                "w.settings[1]['template'], len(w.history))")
    assert check.strip() == "True True recency 1"

    # A broken placeholder: that side shows the error, the other side still ranks.
    _side(out, 0).locator("textarea").fill("Would I like {nobody}?")
    out.locator(".recnb-pp-run").click()
    page.wait_for_selector(".jp-OutputArea .recnb-pp-side[data-side='0'] .recnb-pp-error", timeout=240_000)
    assert "unknown placeholder(s) {nobody}" in _side(out, 0).locator(".recnb-pp-error").inner_text()
    page.wait_for_function(
        "() => document.querySelectorAll('.jp-OutputArea .recnb-pp-side[data-side=\"1\"] .recnb-pp-row').length === 8"
    )
    assert _lab.run_code(page, "print(len(w.history), w.results[1]['error'])").strip() == "2 None"

    # Switching user keeps an unsaved edit: the redraw for the new user shows the text typed before.
    _side(out, 0).locator("textarea").fill(EDITED.replace("Edited by", "Kept by"))
    out.locator(".recnb-pp-user").select_option(index=1)
    page.wait_for_function(
        """() => document.querySelector('.jp-OutputArea .recnb-pp-side[data-side="0"] textarea')
              .value.startsWith('Kept by the browser test')""", timeout=60_000
    )
    assert _lab.run_code(page, "print(w.user == cases[1].user_id, w.settings[0]['text'][:7])").strip() == "True Kept by"


TEXT_A_JS = "() => document.querySelector('.jp-OutputArea .recnb-pp-side[data-side=\"0\"] textarea').value"


def test_results_arriving_keep_prompt_text_typed_meanwhile(page, lab, scratch_dir):
    """Results came back as a full redraw that refilled every textarea from the stored settings:
    what the person typed while the run was going (or after it, not yet run) was wiped."""
    out = _lab.run_notebook(page, lab, scratch_dir, "playground.ipynb", [SETUP, "print('ready', len(w.settings))"])
    a = _side(out, 0)
    a.wait_for(timeout=60_000)

    # Run, then type into side A while the kernel ranks: the results must not take the text away.
    typed = EDITED.replace("Edited by", "Typed during the run by")
    out.locator(".recnb-pp-run").click()
    a.locator("textarea").fill(typed)
    page.wait_for_function(
        "() => document.querySelectorAll('.jp-OutputArea .recnb-pp-side .recnb-pp-row').length === 16", timeout=240_000
    )
    assert page.evaluate(TEXT_A_JS) == typed
    assert "done in" in out.locator(".recnb-pp-status").inner_text()

    # The same without racing the run: new results from the kernel while side A holds unsaved text.
    later = EDITED.replace("Edited by", "Not saved yet, typed by")
    a.locator("textarea").fill(later)
    _lab.run_code(page, "w.results = [dict(r, seconds=123.0) for r in w.results]")
    page.wait_for_function(
        "() => document.querySelector('.jp-OutputArea .recnb-pp-side[data-side=\"0\"] .recnb-pp-meta')"
        ".textContent.startsWith('123.00 s')", timeout=60_000
    )
    assert page.evaluate(TEXT_A_JS) == later
    assert _side(out, 0).locator(".recnb-pp-row").count() == 8  # the result panel itself was redrawn
    # still unsaved in the kernel, and Run then saves and uses it
    assert _lab.run_code(page, "print(w.settings[0]['text'].startswith(('Typed', 'Not saved')))").strip() == "False"
    out.locator(".recnb-pp-run").click()
    page.wait_for_function(
        "() => !document.querySelector('.jp-OutputArea .recnb-pp-side[data-side=\"0\"] .recnb-pp-meta')"
        ".textContent.startsWith('123.00 s')", timeout=240_000
    )
    assert _lab.run_code(page, "print(w.results[0]['prompt'][:9], len(w.history))").strip() == "Not saved 2"


def _wait_side(page, i, js_test, timeout=60_000):
    """Wait until side ``i`` satisfies ``js_test`` (a JS expression over ``side``)."""
    page.wait_for_function(
        f"() => {{ const side = document.querySelector('.jp-OutputArea .recnb-pp-side[data-side=\"{i}\"]');"
        f" return !!side && ({js_test}); }}", timeout=timeout
    )


def test_template_pick_takes_its_k_and_ranker_pick_keeps_an_edited_prompt(page, lab, scratch_dir):
    """Picking a template sent the k-shot box's old number (few-shot ran with 0 examples, zero-shot
    with 3); picking a ranker sent text: null, so a prompt the person had edited was replaced."""
    out = _lab.run_notebook(page, lab, scratch_dir, "playground.ipynb", [SETUP, "print('ready', len(w.settings))"])
    a, b = _side(out, 0), _side(out, 1)
    a.wait_for(timeout=60_000)
    assert a.locator(".recnb-pp-shots").input_value() == "0"

    # few-shot picked in the page: its own 3 examples, in the kernel and in the k-shot box
    a.locator(".recnb-pp-template").select_option("few-shot")
    _wait_side(page, 0, "side.querySelector('.recnb-pp-shots').value === '3'")
    assert _lab.run_code(page, "print(w.settings[0]['template'], w.settings[0]['shots'])").strip() == "few-shot 3"
    # ... and back to zero-shot: 0, not the 3 the box showed
    a.locator(".recnb-pp-template").select_option("zero-shot")
    _wait_side(page, 0, "side.querySelector('.recnb-pp-shots').value === '0'")
    assert _lab.run_code(page, "print(w.settings[0]['template'], w.settings[0]['shots'])").strip() == "zero-shot 0"

    # A ranker picked after the prompt was edited (not saved yet): the edit stays, in the page and the kernel.
    edited = "My own words. Candidates:\n{candidates_labelled}\nHistory: {history}\nAnswer with a letter."
    b.locator("textarea").fill(edited)
    b.locator(".recnb-pp-ranker").select_option("llm-permuted")
    _lab.kernel_until(page, "w.settings[1]['ranker'] == 'llm-permuted'")
    assert _lab.run_code(page, "print(w.settings[1]['text'] == %r)" % edited).strip() == "True"
    assert b.locator("textarea").input_value() == edited
    # an unedited prompt still follows the ranker's task (side A: title -> labels)
    a.locator(".recnb-pp-ranker").select_option("llm-listwise-labels")
    _wait_side(page, 0, "side.querySelector('textarea').value.includes('{candidates_labelled}')")
    assert _lab.run_code(page, "from recnb.text.prompts import get_template\n"
                               "print(w.settings[0]['text'] == get_template('zero-shot', 'labels').text)").strip() == "True"
