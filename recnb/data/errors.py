"""Errors a dataset load can hit, each naming the file and the fix.

Every problem with input data raises exactly one :class:`DatasetError` subclass (never a
raw ``KeyError`` or ``UnicodeDecodeError`` from deep inside pandas), so a notebook user
sees one message that says which file is wrong and what to do about it.
"""
from __future__ import annotations

from pathlib import Path


class DatasetError(Exception):
    """Base class: a dataset could not be loaded. ``path`` is the file at fault, ``fix`` the remedy."""

    def __init__(self, message: str, path: str | Path | None = None, fix: str | None = None):
        self.path = str(path) if path is not None else None
        self.fix = fix
        text = message
        if self.path:
            text += f"\n  file: {self.path}"
        if fix:
            text += f"\n  fix: {fix}"
        super().__init__(text)

    def __str__(self):  # KeyError/OSError bases would otherwise reformat the message
        return self.args[0] if self.args else ""


class MissingFileError(DatasetError, FileNotFoundError):
    """A file the loader needs is not there."""


class ChecksumError(DatasetError):
    """A file's hash differs from the expected one (corrupted, truncated or changed)."""


class SchemaError(DatasetError, ValueError):
    """A file lacks required columns/keys or holds values of the wrong kind."""


class EncodingError(DatasetError, ValueError):
    """A text file is not in the encoding its format prescribes."""


class CorruptFileError(DatasetError):
    """A container (zip, gzip) cannot be opened at all."""


class UnknownDatasetError(DatasetError, KeyError):
    """No loader is registered under that name."""
