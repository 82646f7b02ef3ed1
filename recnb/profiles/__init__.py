"""Scrutable NL profiles: score, attribute, edit (undo/redo), diff, persist, summarise, probe.

The profile model itself is :mod:`recnb.text.profile`; everything a person does with it lives here
as small pure functions, and :class:`recnb.widgets.ProfileEditor` is a thin view over them.
"""
