"""Thin anywidget views. Front-end files live in the repository's top-level ``widgets/``.

``RankedList`` shows a ranking as cards; ``ProfileEditor`` edits an NL profile live; ``KitWidget`` and ``asset`` are the shared plumbing
every kit widget uses to find its ES module and CSS (wheel or editable install).
"""
from __future__ import annotations

from recnb.widgets._assets import KitWidget, WidgetAssetsNotFound, asset
from recnb.widgets.ranked_list import RankedList  # first: its missing asset is the one reported
from recnb.widgets.profile_editor import ProfileEditor  # noqa: E402

__all__ = ["KitWidget", "ProfileEditor", "RankedList", "WidgetAssetsNotFound", "asset"]
