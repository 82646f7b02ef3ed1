"""The profile editor: read a profile in plain language, edit it, watch the ranking respond.

A thin view over :class:`recnb.profiles.live.LiveProfile`: the front-end
(``widgets/profile_editor.js``) sends edit messages ({"op": "add" | "edit" | "delete" | "move" |
"flip" | "weight" | "undo" | "redo", ...}); :meth:`ProfileEditor.apply` runs them through the live
session and publishes statements, the new top-k with its before/after diff and attribution, the
user's NDCG@10 before/after, and the edit log. A bad edit sets ``error`` and changes nothing.
"""
from __future__ import annotations

import pandas as pd
import traitlets

from recnb.profiles.edits import Edit, ProfileEditError
from recnb.profiles.history import NothingToUndo
from recnb.profiles.live import EditResult, LiveProfile
from recnb.widgets._assets import KitWidget


def _text(value):
    """A cause sentence, or None (pandas gives NaN where nothing caused the move; NaN is no JSON)."""
    return None if value is None or (isinstance(value, float) and value != value) else str(value)


def _num(v):
    """pandas/numpy number or NA -> int / float / None (JSON-friendly)."""
    try:
        if v is None or pd.isna(v):
            return None
    except (TypeError, ValueError):
        return None
    f = float(v)
    return int(f) if f.is_integer() else f


class ProfileEditor(KitWidget):
    _asset_name = "profile_editor"

    statements = traitlets.List(traitlets.Dict()).tag(sync=True)
    ranking = traitlets.List(traitlets.Dict()).tag(sync=True)
    dropped = traitlets.List(traitlets.Dict()).tag(sync=True)
    metrics = traitlets.Dict().tag(sync=True)
    log = traitlets.List(traitlets.Unicode()).tag(sync=True)
    can_undo = traitlets.Bool(False).tag(sync=True)
    can_redo = traitlets.Bool(False).tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)
    caption = traitlets.Unicode("").tag(sync=True)

    def __init__(self, live: LiveProfile, items: pd.DataFrame | None = None, caption: str = "", **kwargs):
        super().__init__(caption=caption, **kwargs)
        self.live = live
        cols = [c for c in ("title", "year", "genres") if items is not None and c in items.columns]
        self._meta = items.drop_duplicates("item_id").set_index("item_id")[cols].to_dict("index") if cols else {}
        self.last: EditResult | None = None
        self.on_msg(self._on_msg)
        self._publish(None)

    # -- what the front-end and notebooks call ----------------------------------------------
    def apply(self, command: dict) -> EditResult | None:
        """Run one command; returns the EditResult, or None when it was refused (see ``error``)."""
        command = dict(command)
        op = command.get("op")
        if command.get("weight") is not None:
            try:
                command["weight"] = float(command["weight"])
            except (TypeError, ValueError):
                pass  # apply_edit reports it
        try:
            if op == "undo":
                result = self.live.undo()
            elif op == "redo":
                result = self.live.redo()
            else:
                result = self.live.apply(Edit.from_dict(command))
        except (ProfileEditError, NothingToUndo) as exc:
            self.error = str(exc)
            return None
        except Exception as exc:  # re-ranking failed (the live profile put the edit back): shown, not lost in a log
            self.error = f"{type(exc).__name__}: {exc} (the edit was not applied)"
            self._publish(None)
            return None
        self.error = ""
        self.last = result
        self._publish(result)
        return result

    def _on_msg(self, widget, content, buffers):
        if isinstance(content, dict) and content.get("type") == "edit":
            self.apply(content.get("edit") or {})

    # -- publishing ----------------------------------------------------------------------------
    def _item(self, item_id) -> dict:
        m = self._meta.get(int(item_id), {})
        year = m.get("year")
        return {"item_id": int(item_id), "title": str(m.get("title", item_id)),
                "year": int(year) if year is not None and not pd.isna(year) else None,
                "genres": str(m.get("genres") or "").replace("|", ", ")}

    def _publish(self, result: EditResult | None) -> None:
        live = self.live
        profile = live.profile
        self.statements = [{"id": s.id, "text": s.text, "polarity": s.polarity, "weight": s.weight,
                            "source": s.source, "flag": s.flag, "evidence": len(s.evidence)} for s in profile]
        top = live.top()
        diff = result.diff.set_index("item_id") if result is not None and len(result.diff) else None
        ranking = []
        for r in top.itertuples():
            row = {**self._item(r.item_id), "rank": int(r.rank), "score": float(r.score), "why": r.why,
                   "status": "same", "before_rank": int(r.rank), "cause": None, "cause_delta": None}
            if diff is not None and r.item_id in diff.index:
                d = diff.loc[r.item_id]
                row.update(status=d.status, before_rank=_num(d.before_rank), cause=_text(d.cause), cause_delta=_num(d.cause_delta))
            ranking.append(row)
        self.ranking = ranking
        dropped = []
        if diff is not None:
            for item_id, d in diff[diff.status == "dropped"].iterrows():
                dropped.append({**self._item(item_id), "before_rank": _num(d.before_rank), "after_rank": _num(d.after_rank),
                                "cause": _text(d.cause), "cause_delta": _num(d.cause_delta)})
        self.dropped = dropped
        ndcg_now = live.ndcg()
        self.metrics = {
            "k": live.k, "items": int(live.eligible.sum()), "held_out": len(live.held_out),
            "ndcg_before": result.ndcg_before if result is not None else ndcg_now,
            "ndcg_after": ndcg_now, "ms": round(result.seconds * 1000, 1) if result is not None else None,
            "notes": list(result.notes) if result is not None else [],
        }
        self.log = [str(e) for e in live.history.log]
        self.can_undo, self.can_redo = live.history.can_undo, live.history.can_redo

    @classmethod
    def for_user(cls, scorer, split, items: pd.DataFrame, user_id, profile=None, k: int = 10, caption: str | None = None):
        """An editor for one user of a Split: seen items excluded, valid+test items as held-out ratings."""
        from recnb.text.profile import profile_for_user

        profile = profile if profile is not None else profile_for_user(split, items, user_id)
        seen = split.history(user_id)["item_id"].tolist()
        held = [t for t in (split.target(user_id, "valid"), split.target(user_id, "test")) if t is not None]
        live = LiveProfile(scorer, profile, exclude=seen, held_out=held, k=k)
        return cls(live, items, caption=caption if caption is not None else f"Profile of user {user_id}")
