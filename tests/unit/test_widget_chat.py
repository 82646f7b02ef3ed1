"""ChatWidget without a browser: messages, belief panel, edits through front-end messages, errors shown."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _systems_helpers import small_catalog  # noqa: E402

from recnb.systems.conversation import ConversationalRecommender
from recnb.systems.nlu import Lexicon
from recnb.widgets import KitWidget, asset
from recnb.widgets.chat import ChatWidget


@pytest.fixture(scope="module")
def catalog(dataset, encoder):
    return small_catalog(dataset, encoder)


@pytest.fixture(scope="module")
def lex(catalog):
    return Lexicon(catalog)


@pytest.fixture
def chat(catalog, lex):
    return ChatWidget(ConversationalRecommender(catalog, lexicon=lex), caption="test chat", greeting="Hi! What would you like?")


def from_page(widget, **content):
    """What ``model.send({...})`` in chat.js delivers to the kernel."""
    widget._handle_custom_msg(content, [])


def test_assets_and_base_class():
    assert issubclass(ChatWidget, KitWidget)
    js = asset("chat.js").read_text()
    assert "export default" in js and "model.send" in js
    for kind in ("user_message", "edit_belief", "remove_belief", "add_belief"):
        assert f'type: "{kind}"' in js
    assert "recnb-chat" in str(ChatWidget._css)


def test_a_message_from_the_page_gets_a_reply_with_item_cards(chat, catalog):
    assert [m["role"] for m in chat.messages] == ["assistant"]
    from_page(chat, type="user_message", text="a crime movie from the 1970s")
    user, reply = chat.messages[-2:]
    assert user == {"role": "user", "text": "a crime movie from the 1970s"}
    assert reply["action"] == "recommend" and reply["items"] and reply["source"] == "rules" and reply["fallback"] is None
    assert all(1970 <= it["year"] <= 1979 for it in reply["items"])
    assert {b["text"] for b in chat.beliefs} == {"Crime films", "from the 1970s"}
    assert "Constraints:\n- from the 1970s" in chat.belief_text
    assert chat.stats == {"turns": 1, "fallbacks": 0, "llm_calls": 0, "policy": "rules"}
    assert not chat.busy and chat.error == ""
    json.dumps(chat.get_state())  # everything synced is JSON


def test_panel_edits_go_through_the_recommender(chat):
    chat.send("a crime movie from the 1970s, no comedy")
    era = next(b for b in chat.beliefs if b["text"] == "from the 1970s")
    from_page(chat, type="edit_belief", id=era["id"], text="from the 1950s")
    assert any(b["text"] == "from the 1950s" and b["source"] == "edited" for b in chat.beliefs)
    items, _ = chat.recommender.recommend()
    assert all(1950 <= chat.recommender.catalog.record(i)["year"] <= 1959 for i in items)
    no_comedy = next(b for b in chat.beliefs if b["text"] == "Comedy films")
    from_page(chat, type="remove_belief", id=no_comedy["id"])
    assert "Comedy films" not in {b["text"] for b in chat.beliefs}
    from_page(chat, type="add_belief", text="films with Al Pacino", kind="like")
    added = next(b for b in chat.beliefs if b["text"] == "films with Al Pacino")
    assert added["structured"] and added["kind"] == "like"
    from_page(chat, type="add_belief", text="robots in love", kind="dislike")
    assert {"text": "robots in love", "kind": "dislike", "structured": False} .items() <= next(
        b for b in chat.beliefs if b["text"] == "robots in love").items()


def test_bad_requests_show_an_error_and_lose_nothing(chat, catalog, lex):
    from_page(chat, type="edit_belief", id="nope", text="x")
    assert "no belief with id 'nope'" in chat.error
    chat.send("   ")
    assert chat.error == "Type a message first."
    from_page(chat, type="launch_missiles")
    assert "unknown message" in chat.error

    class Broken(ConversationalRecommender):
        def turn(self, text):
            raise RuntimeError("model server unreachable")

    broken = ChatWidget(Broken(catalog, lexicon=lex))
    broken.send("a crime movie")
    assert broken.messages[0] == {"role": "user", "text": "a crime movie"}  # the person's message stays
    assert broken.messages[1]["failed"] and "model server unreachable" in broken.messages[1]["text"]
    assert "RuntimeError" in broken.error and not broken.busy


def test_reset_clears_conversation_and_beliefs(chat):
    chat.send("a crime movie")
    from_page(chat, type="reset")
    assert chat.beliefs == [] and chat.recommender.turns == []


def test_reset_starts_over_with_the_greeting_and_counts_at_zero(chat):
    """reset kept the panel's "2 turns" on an empty chat (the recommender's counters go on) and
    dropped the greeting; the page had no control that sends it."""
    assert 'type: "reset"' in asset("chat.js").read_text()  # the page's reset button sends it
    chat.send("a crime movie")
    chat.send("something older")
    assert chat.stats["turns"] == 2
    from_page(chat, type="reset")
    assert chat.messages == [{"role": "assistant", "text": "Hi! What would you like?"}] == chat.history
    assert chat.stats == {"turns": 0, "fallbacks": 0, "llm_calls": 0, "policy": "rules"}
    chat.send("a comedy")
    assert chat.stats["turns"] == 1 and len(chat.messages) == 3
    assert chat.recommender.stats["turns"] == 3  # the recommender's own totals are left alone


def test_a_belief_read_against_its_heading_shows_why(chat):
    chat.add("no horror films", "like")  # added under Likes, but the sentence says no
    shown = next(b for b in chat.beliefs if "horror" in b["text"].lower())
    assert shown["kind"] == "dislike" and shown["note"]


def test_a_turn_that_fails_after_reading_keeps_the_panel_true_and_notes_reach_the_page(catalog, lex):
    class FailsToRank(ConversationalRecommender):
        def recommend(self):
            raise RuntimeError("ranking failed")

    w = ChatWidget(FailsToRank(catalog, lexicon=lex))
    w.send("a crime movie from the 1970s")
    held = [b.text for b in w.recommender.belief]
    assert held and [b["text"] for b in w.beliefs] == held  # the panel showed [] while the recommender held them
    ok = ChatWidget(ConversationalRecommender(catalog, lexicon=lex))
    turn = ok.send("a crime movie, no comedies from the 90s")
    assert turn.notes and ok.messages[-1]["notes"] == turn.notes  # sent apart: the page shows them under the cards
    assert "msg.notes" in asset("chat.js").read_text()
