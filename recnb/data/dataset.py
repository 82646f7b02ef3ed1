"""``Dataset``: a catalogue, its ratings, and optional extras, in one object.

Every loader returns one, so notebooks and rankers never care where the data came from.
Frames follow :mod:`recnb.data.schema`; treat them as read-only (the lookups below are
cached on first use).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from recnb.data.split import Split, temporal_leave_one_out


@dataclass(repr=False)
class Dataset:
    """name, items (catalogue), ratings, and extras a source may have.

    reviews:   one row per review text (Amazon): user_id, item_id, rating, title, text, timestamp, ...
    dialogues: one row per message (ReDial): conversation_id, turn, role, text, mentioned, ...
    tags:      one row per tag application (MovieLens): user_id, item_id, tag, timestamp
    users:     one row per user when the source has demographics (ml-1m)
    info:      where it came from: files read, licence note, counts
    """

    name: str
    items: pd.DataFrame
    ratings: pd.DataFrame
    reviews: pd.DataFrame | None = None
    dialogues: pd.DataFrame | None = None
    tags: pd.DataFrame | None = None
    users: pd.DataFrame | None = None
    info: dict = field(default_factory=dict)

    # -- lookups -------------------------------------------------------------------
    @cached_property
    def _row_of(self) -> dict:
        return {iid: pos for pos, iid in enumerate(self.items["item_id"].tolist())}

    @cached_property
    def _user_rows(self) -> dict:
        return self.ratings.groupby("user_id", sort=False).indices

    @cached_property
    def titles(self) -> pd.Series:
        """item_id -> title (a Series indexed by item_id; works like a dict)."""
        return pd.Series(self.items["title"].to_numpy(), index=self.items["item_id"].to_numpy(), name="title")

    def item(self, item_id) -> dict:
        """All columns of one item as a dict; KeyError naming the dataset if unknown."""
        pos = self._row_of.get(item_id)
        if pos is None:
            raise KeyError(f"item {item_id!r} is not in the {self.name} catalogue ({len(self.items):,} items)")
        return self.items.iloc[pos].to_dict()

    def user_history(self, user_id) -> pd.DataFrame:
        """All ratings of ``user_id``, oldest first, with the item title (empty if unknown user)."""
        rows = self._user_rows.get(user_id)
        if rows is None:
            hist = self.ratings.iloc[0:0]
        else:
            hist = self.ratings.iloc[rows].sort_values(["timestamp", "item_id"], kind="mergesort")
        return hist.assign(title=hist["item_id"].map(self.titles)).reset_index(drop=True)

    # -- sizes ---------------------------------------------------------------------
    @property
    def user_ids(self) -> np.ndarray:
        return np.sort(self.ratings["user_id"].unique())

    @property
    def n_users(self) -> int:
        return int(self.ratings["user_id"].nunique())

    @property
    def n_items(self) -> int:
        return len(self.items)

    def summary(self) -> dict:
        out = {"name": self.name, "items": self.n_items, "users": self.n_users, "ratings": len(self.ratings)}
        for extra in ("reviews", "dialogues", "tags", "users"):
            frame = getattr(self, extra)
            if frame is not None:
                out[extra if extra != "users" else "user_profiles"] = len(frame)
        return out

    # -- evaluation ----------------------------------------------------------------
    def split(self, seed: int = 0, valid: bool = True) -> Split:
        """Seeded temporal leave-one-out (see :mod:`recnb.data.split`)."""
        return temporal_leave_one_out(self.ratings, seed=seed, valid=valid, name=self.name)

    # -- display -------------------------------------------------------------------
    def __repr__(self):
        s = self.summary()
        extras = ", ".join(f"{k}={v:,}" for k, v in s.items() if k not in ("name", "items", "users", "ratings"))
        return (f"Dataset({self.name!r}: {s['items']:,} items, {s['users']:,} users, {s['ratings']:,} ratings"
                + (f"; {extras}" if extras else "") + ")")

    def _repr_html_(self):
        rows = "".join(f"<tr><td>{k}</td><td>{v:,}</td></tr>" for k, v in self.summary().items() if k != "name")
        return f"<b>Dataset {self.name}</b><table>{rows}</table>"
