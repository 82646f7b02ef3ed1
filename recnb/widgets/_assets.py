"""Where the widgets' front-end files (ES modules, CSS) are found.

The front-end lives in the repository's top-level ``widgets/`` folder, plain files with no
build step. Two layouts are supported:

* a built wheel: pyproject force-includes ``widgets`` as ``recnb/_widgets``;
* an editable install or a source checkout: ``widgets/`` sits next to the ``recnb/`` package.

The packaged copy wins when both exist. Every kit widget takes its ``_esm``/``_css`` from
here through :class:`KitWidget`, so a new widget is a ``.js`` (and optional ``.css``) file
in ``widgets/`` plus a small Python class.
"""
from __future__ import annotations

from pathlib import Path

import anywidget
import traitlets

_PACKAGE = Path(__file__).resolve().parent.parent  # .../recnb
_CANDIDATES = (
    _PACKAGE / "_widgets",  # wheel install
    _PACKAGE.parent / "widgets",  # editable install / source checkout
)


class WidgetAssetsNotFound(FileNotFoundError):
    """The widgets' front-end files are in neither the installed package nor the checkout."""


def _search_dirs() -> tuple[Path, ...]:
    return _CANDIDATES


def asset(name: str) -> Path:
    """The path of one front-end file, e.g. ``asset("ranked_list.js")``.

    Raises :class:`WidgetAssetsNotFound` (a ``FileNotFoundError``) naming every place searched.
    """
    for folder in _search_dirs():
        path = folder / name
        if path.is_file():
            return path
    places = "\n  ".join(str(d / name) for d in _search_dirs())
    raise WidgetAssetsNotFound(
        f"recnb widget front-end file {name!r} not found. Looked in:\n  {places}\n"
        "A wheel install carries it in recnb/_widgets (force-included from widgets/ by "
        "pyproject.toml); an editable install reads the repository's widgets/ folder. "
        "Reinstall recnb, or run from a checkout that has widgets/."
    )


def has_asset(name: str) -> bool:
    """Whether :func:`asset` would find ``name``."""
    return any((d / name).is_file() for d in _search_dirs())


class KitWidget(anywidget.AnyWidget):
    """Base of every recnb widget: ``_esm``/``_css`` come from ``widgets/<_asset_name>.js|.css``.

    A subclass sets ``_asset_name = "ranked_list"``; the ``.css`` file is optional. With
    ``ANYWIDGET_HMR=1`` anywidget watches the files and reloads them live in the notebook.
    """

    _asset_name: str | None = None
    #: shared front-end parts put in front of the widget's own files, e.g. ``("_cards",)`` for
    #: ``_cards.js`` and ``_cards.css``. anywidget loads one module per widget from a string,
    #: where a relative import cannot resolve; the joined text is a string, so those widgets
    #: reload on kernel restart, not live.
    _prelude: tuple[str, ...] = ()

    def __init_subclass__(cls, **kwargs):
        name = cls.__dict__.get("_asset_name")
        if name:
            if "_esm" not in cls.__dict__:
                cls._esm = _joined(cls._prelude, name, "js")
            if "_css" not in cls.__dict__ and has_asset(f"{name}.css"):
                cls._css = _joined(cls._prelude, name, "css")
        # anywidget turns Path values of _esm/_css into (optionally watched) file contents.
        super().__init_subclass__(**kwargs)

    def set_state(self, sync_data):
        """Values from the page. One the kernel refuses (a click on a card of a ranking that has
        since been replaced) is said in ``error`` where the widget has one, and the kernel's values
        are sent back, so page and kernel never diverge; ipywidgets would only log the error."""
        try:
            super().set_state(sync_data)
        except traitlets.TraitError as exc:
            if self.has_trait("error"):
                self.error = str(exc)
            self.send_state([k for k in sync_data if self.has_trait(k)])


def _joined(prelude: tuple[str, ...], name: str, ext: str):
    """The widget's own file (a Path, so anywidget can watch it), or the shared parts and it as one string."""
    own = asset(f"{name}.{ext}")
    # a shared module is required; its stylesheet is optional
    parts = [asset(f"{p}.{ext}") for p in prelude if ext == "js" or has_asset(f"{p}.{ext}")]
    return "\n".join(p.read_text() for p in (*parts, own)) if parts else own
