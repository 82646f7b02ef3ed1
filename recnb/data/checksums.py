"""File hashes: expected checksums you pass in, and a manifest written beside the data.

Two checks, because they catch different things:

* an *expected* checksum (a dict ``{file: sha256-or-md5}``, a GroupLens ``.md5`` file, or one
  digest for a single zip) proves the download is the published file;
* the *manifest* (``recnb-manifest.json``, sha256 of every file read, written on the first
  successful load) proves nothing changed since, so a later run on a truncated or edited copy
  fails loudly instead of quietly giving other numbers.
"""
from __future__ import annotations

import hashlib
import json
import re
import warnings
from pathlib import Path
from typing import Mapping

from recnb.data.errors import ChecksumError, MissingFileError, SchemaError

MANIFEST_NAME = "recnb-manifest.json"
_HEX = re.compile(r"^[0-9a-fA-F]+$")
_ALGOS_BY_LENGTH = {32: "md5", 40: "sha1", 64: "sha256"}
_LENGTHS = {algo: n for n, algo in _ALGOS_BY_LENGTH.items()}


def file_digest(path: str | Path, algorithm: str = "sha256") -> str:
    """Hex digest of a file, read in 1 MiB blocks."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def parse_digest(value: str, where: str = "checksum") -> tuple[str, str]:
    """ "sha256:ab12..." or a bare hex digest -> (algorithm, lowercase hex); md5/sha1/sha256 by length."""
    text = str(value).strip()
    algo = None
    if ":" in text:
        algo, text = (t.strip() for t in text.split(":", 1))
        algo = algo.lower().replace("-", "")  # "SHA-256" is a common spelling
    # Only these three: hashlib would take "crc32" (ValueError) or "shake_128" (TypeError) deep
    # inside the check, and a digest of the wrong length can never match.
    if (not _HEX.match(text) or (algo is None and len(text) not in _ALGOS_BY_LENGTH)
            or (algo is not None and _LENGTHS.get(algo) != len(text))):
        raise SchemaError(
            f"{where}: {value!r} is not a hex md5/sha1/sha256 digest",
            fix="pass the digest as published, e.g. the 32 hex digits of a GroupLens .md5 file",
        )
    return algo or _ALGOS_BY_LENGTH[len(text)], text.lower()


def read_checksum_file(path: str | Path) -> dict[str, str]:
    """Digests from a ``.md5``/``.sha256`` file in BSD (``MD5 (f) = hex``) or GNU (``hex  f``) form.

    A file holding a bare digest applies to the file it is named after (``ml-1m.zip.md5``).
    """
    path = Path(path).expanduser()  # like the data path: "~/Downloads/ml-1m.zip.md5"
    if not path.is_file():
        raise MissingFileError(f"checksum file {path.name} not found", path=path,
                               fix="pass the path of the .md5 file you downloaded, or a dict {file: digest}")
    out: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        line = line.strip()
        if not line:
            continue
        bsd = re.match(r"^(MD5|SHA1|SHA256)\s*\((.+)\)\s*=\s*([0-9a-fA-F]+)$", line, re.IGNORECASE)
        gnu = re.match(r"^([0-9a-fA-F]{32,64})\s+\*?(.+)$", line)
        if bsd:
            out[Path(bsd.group(2)).name] = f"{bsd.group(1).lower()}:{bsd.group(3)}"
        elif gnu:
            out[Path(gnu.group(2).strip()).name] = gnu.group(1)
        elif _HEX.match(line):
            out[path.name.rsplit(".", 1)[0]] = line
    if not out:
        raise SchemaError(f"no digest found in {path.name}", path=path,
                          fix="the file should read like 'MD5 (ml-1m.zip) = <hex>' or '<hex>  ml-1m.zip'")
    return out


def normalize_expected(expected, default_name: str | None = None) -> dict[str, str]:
    """Accept a dict, a path to a .md5/.sha256 file, or one digest (for ``default_name``)."""
    if expected is None:
        return {}
    if isinstance(expected, Mapping):
        return {Path(str(k)).name: str(v) for k, v in expected.items()}
    text = str(expected)
    if isinstance(expected, Path) or Path(text).suffix.lower() in (".md5", ".sha256", ".sha1", ".txt"):
        return read_checksum_file(text)
    if default_name is None:
        raise SchemaError(
            "a single digest was given but the data is several files",
            fix="pass checksums as a dict {file name: digest}",
        )
    return {default_name: text}


def verify_files(files: Mapping[str, Path], expected: Mapping[str, str], fix: str) -> None:
    """Check every expected digest against the named file; raise ChecksumError on the first mismatch."""
    for name, digest in expected.items():
        if name not in files:
            raise MissingFileError(
                f"a checksum was given for {name}, but the loader reads no such file "
                f"(it reads: {', '.join(sorted(files))})",
                fix="key the checksums by the file names the loader reads",
            )
        algo, want = parse_digest(digest, where=f"checksum for {name}")
        got = file_digest(files[name], algo)
        if got != want:
            raise ChecksumError(
                f"{name}: {algo} checksum mismatch (expected {want}, got {got}); "
                "the file is corrupted, truncated or a different version",
                path=files[name], fix=fix,
            )


class Manifest:
    """``recnb-manifest.json`` in a data folder: sha256 and size of each file loaded from it."""

    def __init__(self, folder: str | Path):
        self.path = Path(folder) / MANIFEST_NAME
        self.entries: dict[str, dict] = {}
        if self.path.is_file():
            try:
                self.entries = json.loads(self.path.read_text(encoding="utf-8")).get("files", {})
            except (ValueError, AttributeError) as err:
                raise ChecksumError(
                    f"{MANIFEST_NAME} is not valid JSON ({err})", path=self.path,
                    fix="delete it; the next load writes a fresh one from the files as they are",
                ) from None

    def check(self, files: Mapping[str, Path], fix: str) -> list[str]:
        """Compare files already in the manifest; returns the names not yet recorded."""
        new = []
        for name, path in files.items():
            entry = self.entries.get(name)
            if entry is None:
                new.append(name)
                continue
            got = file_digest(path)
            if got != entry.get("sha256"):
                raise ChecksumError(
                    f"{name} changed since it was first loaded (sha256 {got}, manifest "
                    f"{entry.get('sha256')}, size {path.stat().st_size} vs {entry.get('size')} bytes)",
                    path=path,
                    fix=f"{fix} If you changed the file on purpose, delete its entry in {self.path} "
                        "(or the whole manifest) and load again.",
                )
        return new

    def record(self, files: Mapping[str, Path], dataset: str) -> None:
        """Add entries for new files; a read-only folder only costs a warning."""
        changed = False
        for name, path in files.items():
            if name not in self.entries:
                self.entries[name] = {"sha256": file_digest(path), "size": path.stat().st_size, "dataset": dataset}
                changed = True
        if not changed:
            return
        body = {"about": "sha256 of data files recnb has loaded from this folder; "
                         "a later load fails if one changes", "files": dict(sorted(self.entries.items()))}
        try:
            self.path.write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")
        except OSError as err:
            warnings.warn(f"could not write {self.path} ({err}); later loads cannot detect changed files",
                          stacklevel=3)
