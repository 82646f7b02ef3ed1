"""A chat with a conversational recommender, with its belief state beside it, editable.

A thin view over :class:`recnb.systems.conversation.ConversationalRecommender`: the left pane
shows the conversation (recommended items as small cards), the right pane what the system
believes about the person (likes, dislikes, constraints), where each line can be edited or
removed and new ones added. Every change goes through the recommender's own methods, so
what the panel shows is what the next recommendation uses.

The front-end (``widgets/chat.js``) sends custom messages: ``user_message``, ``edit_belief``,
``remove_belief``, ``add_belief``, ``reset`` (its "New chat" button). The same handlers are public methods here
(:meth:`send`, :meth:`edit`, ...), so a notebook or a test drives the widget without a browser.
"""
from __future__ import annotations

import traceback
from collections import Counter

import traitlets

from recnb.widgets._assets import KitWidget

MAX_MESSAGES = 200  # older messages are kept in ``history`` but not synced to the page


class ChatWidget(KitWidget):
    _asset_name = "chat"

    messages = traitlets.List(traitlets.Dict()).tag(sync=True)
    beliefs = traitlets.List(traitlets.Dict()).tag(sync=True)
    belief_text = traitlets.Unicode("").tag(sync=True)
    busy = traitlets.Bool(False).tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)
    stats = traitlets.Dict().tag(sync=True)
    caption = traitlets.Unicode("").tag(sync=True)
    placeholder = traitlets.Unicode("Ask for a movie, e.g. 'a funny crime film from the 90s'").tag(sync=True)

    def __init__(self, recommender, caption: str = "", greeting: str | None = None, **kwargs):
        super().__init__(caption=caption, **kwargs)
        self.recommender = recommender
        self.greeting = greeting
        self.history: list[dict] = []
        # the panel counts this conversation: the recommender's counters run on across resets
        self._stats_at_start = Counter(recommender.stats)
        if greeting:
            self._append({"role": "assistant", "text": greeting})
        self._sync_beliefs()
        self.on_msg(self._on_front_end)

    # -- what the front-end (or a notebook) can do ---------------------------------------------
    def send(self, text: str):
        """One user message: appended, handled by the recommender, the reply appended. Returns the Turn."""
        text = str(text or "").strip()
        if not text:
            self.error = "Type a message first."
            return None
        self._append({"role": "user", "text": text})
        self.busy, self.error = True, ""
        try:
            turn = self.recommender.turn(text)
        except Exception as exc:  # shown in the chat, never swallowed: the message stays in the log
            self.error = f"{type(exc).__name__}: {exc}"
            self._append({"role": "assistant", "text": f"Sorry, that failed: {self.error}", "failed": True,
                          "trace": traceback.format_exc(limit=3)})
            return None
        finally:
            self.busy = False
            # the turn may have updated the beliefs before failing: the panel shows what the next turn uses
            self._sync_beliefs()
        self._append(self._turn_message(turn))
        return turn

    def edit(self, belief_id: str, text: str, kind: str | None = None):
        return self._belief_op(lambda: self.recommender.edit_belief(belief_id, text, kind))

    def remove(self, belief_id: str):
        return self._belief_op(lambda: self.recommender.remove_belief(belief_id))

    def add(self, text: str, kind: str = "like"):
        if not str(text or "").strip():
            self.error = "Write the preference before adding it."
            return None
        return self._belief_op(lambda: self.recommender.add_belief(text, kind))

    def reset(self):
        """A new conversation: no messages but the greeting, no beliefs, the panel's counts at 0."""
        self.recommender.reset()
        self._stats_at_start = Counter(self.recommender.stats)
        self.history, self.messages, self.error = [], [], ""
        if self.greeting:
            self._append({"role": "assistant", "text": self.greeting})
        self._sync_beliefs()

    # -- plumbing -------------------------------------------------------------------------------
    def _on_front_end(self, _widget, content, _buffers):
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == "user_message":
            self.send(content.get("text", ""))
        elif kind == "edit_belief":
            self.edit(content.get("id"), content.get("text", ""), content.get("kind"))
        elif kind == "remove_belief":
            self.remove(content.get("id"))
        elif kind == "add_belief":
            self.add(content.get("text", ""), content.get("kind") or "like")
        elif kind == "reset":
            self.reset()
        else:
            self.error = f"unknown message from the page: {content!r}"

    def _belief_op(self, op):
        try:
            result = op()
        except (KeyError, ValueError) as exc:
            self.error = str(exc.args[0] if exc.args else exc)
            return None
        self.error = ""
        self._sync_beliefs()
        return result

    def _append(self, msg: dict):
        self.history.append(msg)
        self.messages = self.history[-MAX_MESSAGES:]

    def _turn_message(self, turn) -> dict:
        cat = self.recommender.catalog
        items = []
        for i in turn.items:
            f = cat.facts(i)
            items.append({"item_id": i, "title": cat.title(i, with_year=False), "year": f.get("year"),
                          "facts": ", ".join(f.get("genres", [])[:3])
                          + (f" · dir. {' & '.join(f['director'][:2])}" if f.get("director") else "")})
        return {"role": "assistant", "text": turn.reply, "items": items, "intent": turn.intent, "action": turn.action,
                "source": turn.source, "fallback": turn.fallback, "added": list(turn.added), "removed": list(turn.removed),
                "notes": list(turn.notes), "seconds": round(turn.seconds, 3)}

    def _sync_beliefs(self):
        state = self.recommender.belief
        self.beliefs = [{"id": b.id, "text": b.text, "kind": b.kind, "source": b.source, "structured": b.structured,
                         "note": getattr(b, "note", "")} for b in state]
        self.belief_text = state.to_text()
        s = Counter(self.recommender.stats)
        s.subtract(self._stats_at_start)
        self.stats = {"turns": int(s.get("turns", 0)), "fallbacks": int(s.get("fallback", 0)),
                      "llm_calls": int(s.get("llm_calls", 0)), "policy": self.recommender.policy}
