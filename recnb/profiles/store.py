"""Saving and loading profiles without loss: versioned JSON, atomic writes, every version kept.

Layout for ``alice.json``::

    alice.json                  the current profile
    alice.json.versions/        every save, oldest first: 000001.json, 000002.json, ...

A save writes the new version into ``versions/`` and then replaces ``alice.json``; each of the
two steps writes a temp file in the same folder, fsyncs it and ``os.replace``s it over the target
(atomic on POSIX and Windows), then fsyncs the folder. A process killed at any moment leaves the
previous ``alice.json`` whole; at worst ``versions/`` holds the new version that never became
current, and a stray ``.tmp`` file that the next save removes.

Loading validates against a JSON schema (jsonschema) and raises one :class:`ProfileFileError`
that names the file and what is wrong with it. Saving raises one too, before anything is written,
for a profile no file could hold back (a folder at the path, a NaN or infinite weight, a user id
that is not a string or a whole number).
"""
from __future__ import annotations

import datetime as dt
import glob
import json
import os
import re
from pathlib import Path

from recnb.profiles.edits import ProfileEditError, check_weight
from recnb.text.profile import POLARITIES, SOURCES, Profile, check_unique_ids, item_key

SCHEMA_VERSION = 1

SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "recnb profile",
    "type": "object",
    "required": ["schema_version", "profile"],
    "properties": {
        "schema_version": {"type": "integer", "minimum": 1},
        "saved_at": {"type": "string"},
        "version": {"type": "integer", "minimum": 1},
        "note": {"type": "string"},
        "profile": {
            "type": "object",
            "required": ["statements"],
            "properties": {
                "user_id": {},
                "statements": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["id", "text", "polarity", "weight"],
                        "additionalProperties": False,
                        "properties": {
                            "id": {"type": "string", "minLength": 1},
                            "text": {"type": "string"},
                            "polarity": {"enum": list(POLARITIES)},
                            "weight": {"type": "number", "minimum": 0},
                            # item ids: whole numbers (MovieLens) or strings (Amazon ASINs)
                            "evidence": {"type": "array", "items": {"type": ["integer", "string"]}},
                            "source": {"enum": list(SOURCES)},
                            "facet": {"type": ["object", "null"]},
                            "flag": {"type": ["string", "null"]},
                        },
                    },
                },
            },
        },
    },
}

#: Test hook: called with a stage name ("partial-write", "before-replace") during a save.
_FAULT_HOOK = None


class ProfileFileError(ValueError):
    """A profile file that cannot be read (not JSON, wrong schema, from a newer recnb) or written
    (a folder at the path, a profile JSON cannot hold)."""

    def __init__(self, path, reason: str, action: str = "load"):
        super().__init__(f"cannot {action} profile {path}: {reason}")
        self.path, self.reason, self.action = Path(path), reason, action


def _fault(stage: str) -> None:
    if _FAULT_HOOK is not None:
        _FAULT_HOOK(stage)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # Windows cannot open folders; os.replace is durable enough there
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a reader sees the old content or the new, never a mix."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        half = len(data) // 2
        f.write(data[:half])
        f.flush()
        _fault("partial-write")
        f.write(data[half:])
        f.flush()
        os.fsync(f.fileno())
    _fault("before-replace")
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def versions_dir(path: Path) -> Path:
    return Path(path).with_name(Path(path).name + ".versions")


def list_versions(path) -> list[int]:
    """Saved version numbers of ``path``, oldest first."""
    folder = versions_dir(path)
    if not folder.is_dir():
        return []
    return sorted(int(p.stem) for p in folder.glob("*.json") if re.fullmatch(r"\d{6}", p.stem))


def _remove_stale_temps(folder: Path, name: str) -> None:
    """Temp files a killed save of this profile left behind (only this file's, never others')."""
    for tmp in folder.glob(f".{glob.escape(name)}.*.tmp"):
        try:
            tmp.unlink()
        except OSError:
            pass


def save_profile(profile: Profile, path, note: str = "", keep: int | None = None) -> int:
    """Save atomically, keeping the previous versions; returns the new version number.

    ``keep``: how many versions to keep in ``versions/`` (None: all of them; at least 1, the new one).
    """
    # checked before writing: keep=0 kept every version, keep=-1 deleted the oldest on each save
    if keep is not None and (isinstance(keep, bool) or not hasattr(keep, "__index__") or keep < 1):
        raise ValueError(f"keep must be None (keep every version) or a whole number >= 1, not {keep!r}")
    path = Path(path)
    body = _checked_body(profile, path)  # before anything is written, folders included
    folder = versions_dir(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        folder.mkdir(exist_ok=True)
    except OSError as exc:  # the parent or the versions folder's name is a file, no permission...
        raise ProfileFileError(path, f"cannot create its folder ({exc.strerror or exc}: {exc.filename})",
                               "save") from None
    _remove_stale_temps(path.parent, path.name)
    _keep_current(path, folder)
    version = (list_versions(path) or [0])[-1] + 1
    _remove_stale_temps(folder, f"{version:06d}.json")
    doc = {"schema_version": SCHEMA_VERSION, "version": version,
           "saved_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
           "note": note, "profile": body}
    _validate(doc, path, "save")  # never write a file we could not read back
    data = (json.dumps(doc, indent=1, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")
    atomic_write(folder / f"{version:06d}.json", data)
    atomic_write(path, data)
    if keep is not None:
        for old in list_versions(path)[:-int(keep)]:
            (folder / f"{old:06d}.json").unlink(missing_ok=True)
    return version


def _checked_body(profile: Profile, path: Path) -> dict:
    """The profile as the file's "profile" object, or one ProfileFileError for what a file cannot hold."""
    if path.is_dir():
        raise ProfileFileError(path, "it is a folder; give a file path such as "
                                     f"{path / 'profile.json'}", "save")
    try:
        check_unique_ids(profile.statements)
    except ValueError as exc:
        raise ProfileFileError(path, str(exc), "save") from None
    for s in profile.statements:
        # json.dumps writes NaN / Infinity, which is not JSON; the editor's rule without its cap
        try:
            check_weight(s.weight, maximum=None)
        except ProfileEditError as exc:
            raise ProfileFileError(path, f"statement {s.id!r} ({s.text[:40]!r}): {exc}", "save") from None
    # A user id keys dicts and matches ratings: a string or a whole number (numpy ones and 5.0 made plain)
    try:
        user_id = None if profile.user_id is None else item_key(profile.user_id)
    except ValueError:
        raise ProfileFileError(path, "user_id must be None, a string or a whole number, not "
                                     f"{type(profile.user_id).__name__} {profile.user_id!r}", "save") from None
    body = {**profile.to_dict(), "user_id": user_id}
    try:  # anything else JSON cannot hold (a set or NaN in a facet) fails here, not halfway through the save
        json.dumps(body, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ProfileFileError(path, f"it cannot be written as JSON ({exc})", "save") from None
    return body


def _keep_current(path: Path, folder: Path) -> None:
    """Archive the current file when no saved version holds it (hand-edited, or copied without its
    versions folder), so the save that replaces it loses nothing; an unreadable one is kept aside."""
    try:
        current = path.read_bytes()
    except FileNotFoundError:
        return
    versions = list_versions(path)
    if versions and (folder / f"{versions[-1]:06d}.json").read_bytes() == current:
        return
    try:
        read_profile_file(path)
    except ProfileFileError:
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%f")
        atomic_write(folder / f"unreadable-{stamp}.json", current)
        return
    atomic_write(folder / f"{(versions or [0])[-1] + 1:06d}.json", current)


def _validate(doc, path, action: str = "load") -> None:
    import jsonschema

    try:
        jsonschema.validate(doc, SCHEMA)
    except jsonschema.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "top level"
        raise ProfileFileError(path, f"schema error at {where}: {exc.message}", action) from None


def read_profile_file(path) -> dict:
    """The validated document (schema_version, version, saved_at, note, profile dict)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ProfileFileError(path, "no such file") from None
    except OSError as exc:  # a folder, no permission, an I/O error: still one error that names the file
        raise ProfileFileError(path, f"cannot read it ({exc.strerror or exc})") from None
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProfileFileError(path, f"not valid JSON ({exc})") from None
    if isinstance(doc, dict) and isinstance(doc.get("schema_version"), int) and doc["schema_version"] > SCHEMA_VERSION:
        raise ProfileFileError(path, f"schema_version {doc['schema_version']} is newer than this recnb reads "
                                     f"({SCHEMA_VERSION}); upgrade recnb")
    _validate(doc, path)
    return doc


def load_profile(path, version: int | None = None) -> Profile:
    """The current profile, or a saved ``version`` from the history."""
    path = Path(path)
    if version is not None:
        if version not in list_versions(path):
            raise ProfileFileError(path, f"no version {version}; saved versions: {list_versions(path)}")
        path = versions_dir(path) / f"{version:06d}.json"
    doc = read_profile_file(path)
    try:
        return Profile.from_dict(doc["profile"])  # also refuses repeated statement ids
    except (TypeError, ValueError) as exc:
        raise ProfileFileError(path, str(exc)) from None
