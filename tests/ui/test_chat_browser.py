"""ChatWidget in a real JupyterLab: typing a message, editing, removing and adding beliefs all reach the kernel."""
from __future__ import annotations

import _lab

SETUP = """\
import recnb
from recnb.systems.catalog import ItemCatalog
from recnb.systems.conversation import ConversationalRecommender
from recnb.widgets.chat import ChatWidget
ds = recnb.load_dataset("movielens-small")
items = ds.items[(ds.items.index < 400) | ds.items.item_id.isin([858, 1221, 6, 1214, 912])]
cr = ConversationalRecommender(ItemCatalog(items), k=4)
chat = ChatWidget(cr, caption="UI test chat", greeting="Hi! What are you in the mood for?")
chat
"""

SCOPE = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea "


def kernel(page, code: str) -> str:
    return _lab.run_code(page, code).strip()


def wait_messages(page, n: int):
    page.wait_for_function(f"() => document.querySelectorAll('{SCOPE}.recnb-chat-msg').length >= {n}", timeout=120_000)


def test_chat_round_trips_messages_and_belief_edits(page, lab, scratch_dir):
    out = _lab.run_notebook(page, lab, scratch_dir, "chat.ipynb", [SETUP, "print('ready', len(chat.messages))"])
    root = out.locator(".recnb-chat")
    root.wait_for(timeout=60_000)
    assert root.locator(".recnb-chat-caption").inner_text() == "UI test chat"
    assert root.locator(".recnb-chat-assistant").first.inner_text().startswith("Hi! What are you in the mood for?")
    assert root.locator(".recnb-chat-none").count() == 3  # likes, dislikes, constraints all empty

    # Type a request and press Enter: the kernel answers with item cards and fills the panel.
    root.locator(".recnb-chat-input").fill("a crime movie from the 1970s")
    root.locator(".recnb-chat-input").press("Enter")
    wait_messages(page, 3)
    reply = root.locator(".recnb-chat-assistant").last
    reply.locator(".recnb-chat-item").first.wait_for()
    assert reply.locator(".recnb-chat-item").count() == 4
    assert "recommend → recommend · read by rules" in reply.locator(".recnb-chat-meta").inner_text()
    constraints = root.locator(".recnb-chat-group-constraint .recnb-chat-belief-text")
    assert constraints.first.input_value() == "from the 1970s"
    assert kernel(page, "print(len(cr.turns), sorted(b.text for b in cr.belief))") == "1 ['Crime films', 'from the 1970s']"
    years = kernel(page, "print(all(1970 <= cr.catalog.record(i)['year'] <= 1979 for i in cr.shown))")
    assert years == "True"

    # Edit a belief in the panel: the kernel re-reads it into a new constraint.
    constraints.first.fill("from the 1940s")
    constraints.first.press("Enter")
    # Wait for the kernel's answer (the belief re-drawn as "edited"), not for the box the test just typed in.
    page.wait_for_function(
        f"() => [...document.querySelectorAll('{SCOPE}.recnb-chat-group-constraint .recnb-chat-source')]"
        ".some(n => n.textContent.startsWith('edited'))")
    assert kernel(page, "print([(b.text, b.source, [c.value for c in b.constraints]) for b in cr.belief if b.kind == 'constraint'])") \
        == "[('from the 1940s', 'edited', [1940, 1949])]"

    # Remove the genre like with its x button.
    likes = root.locator(".recnb-chat-group-like .recnb-chat-belief")
    likes.first.locator(".recnb-chat-remove").click()
    page.wait_for_function(f"() => document.querySelectorAll('{SCOPE}.recnb-chat-group-like .recnb-chat-belief').length === 0")
    assert kernel(page, "print([b.text for b in cr.belief.likes])") == "[]"

    # Add a dislike from the panel's form.
    root.locator(".recnb-chat-add-text").fill("no horror")
    root.locator(".recnb-chat-add-kind").select_option("dislike")
    root.locator(".recnb-chat-add-btn").click()
    page.wait_for_function(f"() => document.querySelectorAll('{SCOPE}.recnb-chat-group-dislike .recnb-chat-belief').length === 1")
    assert kernel(page, "print([(b.text, [c.op for c in b.constraints]) for b in cr.belief.dislikes])") == "[('no horror', ['not_has'])]"

    # A critique through the Send button: the meta line says what the system did.
    root.locator(".recnb-chat-input").fill("something older")
    root.locator(".recnb-chat-send").click()
    wait_messages(page, 5)
    last = root.locator(".recnb-chat-assistant").last
    assert "critique →" in last.locator(".recnb-chat-meta").inner_text()
    assert "2 turns · 0 fallbacks · policy rules" == root.locator(".recnb-chat-stats").inner_text()
    assert kernel(page, "print(len(chat.messages), chat.error == '')") == "5 True"

    # "New chat" starts over: the greeting alone, an empty panel, the counts back at 0.
    root.locator(".recnb-chat-reset").click()
    page.wait_for_function(f"() => document.querySelectorAll('{SCOPE}.recnb-chat-msg').length === 1", timeout=60_000)
    assert root.locator(".recnb-chat-assistant").first.inner_text().startswith("Hi! What are you in the mood for?")
    assert root.locator(".recnb-chat-none").count() == 3
    assert "0 turns · 0 fallbacks · policy rules" == root.locator(".recnb-chat-stats").inner_text()
    assert kernel(page, "print(len(chat.messages), len(cr.turns), len(cr.belief))") == "1 0 0"
