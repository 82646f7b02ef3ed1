"""Finding and opening the files of a user-downloaded dataset: a folder or the official zip.

Users point a loader at whatever they have: the unpacked folder, the folder above it, or
the zip as downloaded (read in place, never extracted). :class:`Source` resolves that
once, then every read goes through it, so missing files, corrupt containers and bad
encodings are reported the same way for every loader.
"""
from __future__ import annotations

import gzip
import io
import zipfile
import zlib
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import IO, Iterable, Iterator

from recnb.data.checksums import Manifest, file_digest, normalize_expected, parse_digest
from recnb.data.errors import ChecksumError, CorruptFileError, EncodingError, MissingFileError, SchemaError

# What reading a damaged gzip/zip stream can raise: zlib.error is not an OSError, and a zip
# member's CRC check raises BadZipFile only at its end.
DAMAGED = (OSError, EOFError, zipfile.BadZipFile, zlib.error)


class Source:
    """The files of one dataset, in a folder or inside a zip.

    ``required``: names that must be there (basename; a zip's top folder is ignored).
    ``subdirs``/``zips``: where else to look inside a given folder (``ml-1m/``, ``ml-1m.zip``).
    ``how_to_get``: one line telling the user where the files come from.
    """

    def __init__(self, path, dataset: str, required: Iterable[str], *, any_of: Iterable[str] = (),
                 subdirs: Iterable[str] = (), zips: Iterable[str] = (), how_to_get: str = ""):
        self.dataset = dataset
        self.how_to_get = how_to_get
        self.zip_path: Path | None = None
        self.folder: Path | None = None
        self._members: dict[str, str] = {}
        required, any_of = list(required), list(any_of)
        path = Path(path).expanduser().absolute()  # errors show where exactly we looked
        if not path.exists():
            raise MissingFileError(f"{dataset}: {path} does not exist", path=path, fix=how_to_get)
        if path.is_file():
            self._open_zip(path)
        else:
            candidates = [path, *(path / s for s in subdirs)]
            def complete(c: Path) -> bool:
                return (c.is_dir() and all((c / r).is_file() for r in required)
                        and (not any_of or any((c / a).is_file() for a in any_of)))

            found = next((c for c in candidates if complete(c)), None)
            zip_found = next((path / z for z in zips if (path / z).is_file()), None)
            if found is not None:
                self.folder = found
            elif zip_found is not None:
                self._open_zip(zip_found)
            else:
                wanted = required + any_of
                base = next((c for c in candidates if c.is_dir() and any((c / r).is_file() for r in wanted)), path)
                missing = [r for r in required if not (base / r).is_file()]
                if not missing:  # only the any_of group is missing
                    missing = [" or ".join(any_of)]
                raise MissingFileError(
                    f"{dataset}: {missing[0]} not found in {base}"
                    + (f" (also missing: {', '.join(missing[1:])})" if len(missing) > 1 else ""),
                    path=base / missing[0], fix=how_to_get,
                )
        for name in required:
            self.require(name)
        if any_of and not any(self.has(a) for a in any_of):
            where = self.zip_path or self.folder
            raise MissingFileError(f"{dataset}: none of {', '.join(any_of)} found in {where}",
                                   path=self.where(any_of[0]), fix=how_to_get)

    # -- locating ------------------------------------------------------------------
    def _open_zip(self, path: Path) -> None:
        if not zipfile.is_zipfile(path):
            raise CorruptFileError(
                f"{self.dataset}: {path.name} is a file but not a readable zip archive",
                path=path, fix=f"pass the folder holding the files or the zip as downloaded. {self.how_to_get}",
            )
        self.zip_path = path
        try:
            with zipfile.ZipFile(path) as zf:
                names = [n for n in zf.namelist() if not n.endswith("/") and "__MACOSX" not in n]
        except (zipfile.BadZipFile, OSError) as err:
            raise CorruptFileError(f"{self.dataset}: cannot read {path.name}: {err}", path=path,
                                   fix=f"download the zip again. {self.how_to_get}") from None
        for n in sorted(names):  # basename -> member; first (shortest sorted) wins
            self._members.setdefault(n.rsplit("/", 1)[-1], n)

    def has(self, name: str) -> bool:
        if self.zip_path is not None:
            return name in self._members
        return (self.folder / name).is_file()

    def names(self) -> list[str]:
        if self.zip_path is not None:
            return sorted(self._members)
        return sorted(p.name for p in self.folder.iterdir() if p.is_file())

    def where(self, name: str) -> str:
        """A path to show the user: the file, or 'archive.zip!member'."""
        if self.zip_path is not None:
            return f"{self.zip_path}!{self._members.get(name, name)}"
        return str(self.folder / name)

    def require(self, name: str) -> None:
        if not self.has(name):
            where = self.zip_path or self.folder
            raise MissingFileError(f"{self.dataset}: {name} not found in {where}", path=self.where(name),
                                   fix=self.how_to_get)

    # -- reading -------------------------------------------------------------------
    @contextmanager
    def open_binary(self, name: str) -> Iterator[IO[bytes]]:
        """A binary stream (context manager); ``.gz`` files are decompressed transparently."""
        self.require(name)
        with ExitStack() as stack:
            if self.zip_path is not None:
                try:
                    zf = stack.enter_context(zipfile.ZipFile(self.zip_path))
                    raw = stack.enter_context(zf.open(self._members[name]))
                except (zipfile.BadZipFile, OSError, RuntimeError) as err:
                    raise CorruptFileError(f"{self.dataset}: cannot read {name} from the zip: {err}",
                                           path=self.where(name),
                                           fix=f"download the zip again. {self.how_to_get}") from None
            else:
                raw = stack.enter_context(open(self.folder / name, "rb"))
            if name.endswith(".gz"):
                raw = stack.enter_context(gzip.GzipFile(fileobj=raw))
            yield raw

    def read_bytes(self, name: str) -> bytes:
        with self.open_binary(name) as fh:
            try:
                return fh.read()
            except DAMAGED as err:  # bad gzip / truncated or damaged member
                raise self.damaged(name, err) from None

    def damaged(self, name: str, err: BaseException) -> CorruptFileError:
        """The one error for a file whose compressed data cannot be read back."""
        return CorruptFileError(f"{self.dataset}: {name} is damaged and cannot be decompressed ({err})",
                                path=self.where(name), fix=f"download it again. {self.how_to_get}")

    def raise_if_damaged(self, name: str) -> None:
        """Before blaming a line of a compressed file: read it to the end, where gzip and zip check
        their CRC, so damaged bytes that decompressed to garbage are reported as damage."""
        if self.zip_path is None and not name.endswith(".gz"):
            return
        try:
            with self.open_binary(name) as fh:
                while fh.read(1 << 20):
                    pass
        except DAMAGED as err:
            raise self.damaged(name, err) from None

    def no_rows(self, name: str) -> SchemaError:
        """The one error for a file that is empty or holds only a header (a failed download or copy)."""
        return SchemaError(f"{self.dataset}: {name} holds no rows", path=self.where(name),
                           fix=f"the file is empty or holds only its header; download it again. {self.how_to_get}")

    def read_text(self, name: str, encodings: tuple[str, ...] = ("utf-8",)) -> str:
        """Decoded text; tries ``encodings`` in order, else one EncodingError naming the byte."""
        data = self.read_bytes(name)
        if b"\x00" in data[:4096]:
            raise EncodingError(
                f"{self.dataset}: {name} contains NUL bytes: it looks like UTF-16 or a binary file, "
                f"not {' or '.join(encodings)} text",
                path=self.where(name), fix=f"use the file exactly as downloaded (not re-saved by an editor). {self.how_to_get}",
            )
        last = None
        for enc in encodings:
            try:
                return data.decode(enc)
            except UnicodeDecodeError as err:
                last = err
        line = data[: last.start].count(b"\n") + 1
        raise EncodingError(
            f"{self.dataset}: {name} is not valid {' or '.join(encodings)} text "
            f"(byte 0x{data[last.start]:02x} at offset {last.start}, line {line})",
            path=self.where(name),
            fix=f"use the file exactly as downloaded; if you re-saved it, save it as {encodings[0]}. {self.how_to_get}",
        ) from None

    def iter_lines(self, name: str) -> Iterator[tuple[int, str]]:
        """(line number, text) of a UTF-8 line file (JSONL), decoding line by line."""
        with self.open_binary(name) as fh:
            try:
                for no, raw in enumerate(fh, 1):
                    try:
                        text = raw.decode("utf-8")
                    except UnicodeDecodeError as err:
                        self.raise_if_damaged(name)
                        raise EncodingError(
                            f"{self.dataset}: {name} line {no} is not valid UTF-8 "
                            f"(byte 0x{raw[err.start]:02x} at column {err.start + 1})",
                            path=self.where(name), fix=f"use the file exactly as downloaded (UTF-8 JSON lines). "
                                                       f"{self.how_to_get}",
                        ) from None
                    if text.strip():
                        yield no, text
            except DAMAGED as err:
                raise self.damaged(name, err) from None

    def iter_json_objects(self, name: str, required: Iterable[str] = (), *, what: str = "JSON object",
                          note: str = "") -> Iterator[tuple[int, dict]]:
        """(line number, object) of a JSONL file; one SchemaError naming the line for bad JSON or a missing key.

        ``what``: what one line holds, for the fix ("JSON conversation"); ``note``: added to the
        missing-key message (e.g. which release of the format the loader reads).
        """
        import json

        fix = f"use the file exactly as downloaded (one {what} per line). {self.how_to_get}"
        required = list(required)
        for no, line in self.iter_lines(name):
            try:
                obj = json.loads(line)
            except ValueError as err:
                self.raise_if_damaged(name)
                raise SchemaError(f"{self.dataset}: {name} line {no} is not valid JSON ({err})",
                                  path=self.where(name), fix=fix) from None
            if not isinstance(obj, dict):
                self.raise_if_damaged(name)
                raise SchemaError(f"{self.dataset}: {name} line {no} is not a JSON object", path=self.where(name), fix=fix)
            missing = [k for k in required if k not in obj]
            if missing:
                self.raise_if_damaged(name)
                raise SchemaError(f"{self.dataset}: {name} line {no} lacks key(s) {', '.join(missing)} "
                                  f"(has: {', '.join(obj)}){note}", path=self.where(name), fix=fix)
            yield no, obj

    def text_stream(self, name: str) -> io.StringIO:
        return io.StringIO(self.read_text(name))

    # -- integrity -----------------------------------------------------------------
    def _disk_files(self, used: Iterable[str]) -> dict[str, Path]:
        """The files on disk that hold ``used``: the zip itself, or each file in the folder."""
        if self.zip_path is not None:
            return {self.zip_path.name: self.zip_path}
        return {n: self.folder / n for n in used}

    def _member_digest(self, name: str, algo: str) -> str:
        import hashlib

        h = hashlib.new(algo)
        try:
            with zipfile.ZipFile(self.zip_path) as zf, zf.open(self._members[name]) as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    h.update(block)
        except DAMAGED as err:
            raise self.damaged(name, err) from None
        return h.hexdigest()

    def verify(self, expected, used: Iterable[str], manifest: bool = True) -> None:
        """Check expected digests (dict, .md5 file or one digest), then the folder's manifest.

        A ``<zip>.md5`` file next to a zip (as GroupLens publishes them) is checked as well.
        """
        used = list(used)
        disk = self._disk_files(used)
        default = self.zip_path.name if self.zip_path is not None else (used[0] if len(used) == 1 else None)
        want = normalize_expected(expected, default_name=default)
        if self.zip_path is not None:
            sidecar = self.zip_path.with_name(self.zip_path.name + ".md5")
            if sidecar.is_file() and self.zip_path.name not in want:
                want.update({k: v for k, v in normalize_expected(sidecar).items() if k == self.zip_path.name})
        fix = f"download the file again and check it is complete. {self.how_to_get}"
        for name, digest in want.items():
            algo, hexd = parse_digest(digest, where=f"checksum for {name}")
            if name in disk:
                got, where = file_digest(disk[name], algo), disk[name]
            elif self.zip_path is not None and name in self._members:
                got, where = self._member_digest(name, algo), self.where(name)
            else:
                raise MissingFileError(
                    f"{self.dataset}: a checksum was given for {name}, which is not among the files read "
                    f"({', '.join(sorted(disk))})", path=self.where(name),
                    fix="key the checksums by the names of the downloaded files",
                )
            if got != hexd:
                raise ChecksumError(
                    f"{self.dataset}: {name}: {algo} checksum mismatch (expected {hexd}, got {got}); "
                    "the file is corrupted, truncated or a different version",
                    path=where, fix=fix,
                )
        if manifest:
            self._manifest = Manifest(next(iter(disk.values())).parent)
            self._manifest_pending = self._manifest.check(disk, fix=fix)
            self._manifest_disk = disk

    def record(self) -> None:
        """After a successful parse: remember the files' sha256 in the manifest."""
        if getattr(self, "_manifest", None) is not None and self._manifest_pending:
            self._manifest.record({n: self._manifest_disk[n] for n in self._manifest_pending}, self.dataset)

    def __repr__(self):
        return f"Source({self.dataset!r}, {self.zip_path or self.folder})"
