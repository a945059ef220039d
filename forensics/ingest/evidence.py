"""Evidence files: find them, hash them, tell their compression by magic bytes, read them.

Evidence is only ever opened for reading (``open(path, "rb")``); nothing here writes to it.
"""

from __future__ import annotations

import bz2
import errno
import glob
import hashlib
import lzma
import os
import stat
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import zstandard

from forensics.errors import EvidenceError

MAGIC: list[tuple[bytes, str]] = [
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bz2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
]
HASH_CHUNK = 1 << 20


@dataclass(frozen=True)
class EvidenceFile:
    path: Path
    size: int
    mtime: datetime
    sha256: str
    compression: str


def find_files(inputs: Iterable[str | Path], follow_links: bool = False) -> list[Path]:
    """Expand files, folders (recursively) and globs.

    Symbolic links to folders are listed, not walked (``describe`` records them as ``skipped``),
    unless ``follow_links``; then they are walked, each real folder once (no loops).
    Returns absolute paths, sorted within each input and de-duplicated, in input order.
    """
    seen: set[Path] = set()
    out: list[Path] = []
    for item in inputs:
        text = str(item)
        matches = sorted(glob.glob(text, recursive=True)) if glob.has_magic(text) else [text]
        if not matches:
            raise EvidenceError(f"no evidence matches {text!r}; check the path or quote the glob")
        for m in matches:
            found = _expand(Path(m), follow_links)
            if not found and not glob.has_magic(text):
                raise EvidenceError(f"no evidence in folder {text!r} (it holds no files); check the path")
            for f in found:
                resolved = f.absolute()
                if resolved not in seen:
                    seen.add(resolved)
                    out.append(resolved)
    return out


def _expand(p: Path, follow_links: bool) -> list[Path]:
    if p.is_symlink() and not follow_links:
        return [p]  # whatever it points to: the evidence boundary (Boundary) decides
    if p.is_file():
        return [p]
    if p.is_dir():
        found: list[Path] = []
        walked: set[str] = set()
        for root, dirs, files in os.walk(p, followlinks=follow_links):
            real = os.path.realpath(root)
            if real in walked:  # a link back to a folder already walked (a loop)
                dirs.clear()
                continue
            walked.add(real)
            dirs.sort()
            # everything that is not a real folder is listed, so special files, broken links,
            # link loops and symlinked folders are recorded as not read, never silently skipped
            links = [] if follow_links else [d for d in dirs if (Path(root) / d).is_symlink()]
            found.extend(Path(root) / f for f in sorted([*files, *links]))
        return found
    if not p.exists():
        raise EvidenceError(f"evidence path {p} does not exist")
    raise EvidenceError(f"evidence path {p} is neither a file nor a folder")


@dataclass(frozen=True)
class Boundary:
    """The evidence boundary: the folders given on the command line, as given and as real paths.

    A folder argument is a root; a file argument (or a link, or a shell-expanded glob match)
    has the folder it is named in as its root; a glob has its folder before the first wildcard.
    A file whose real path (links resolved) lies outside every root is not read, unless
    ``follow_links``.
    """

    roots: tuple[tuple[Path, Path], ...]  # (absolute as given, real path)
    follow_links: bool = False

    @classmethod
    def of(cls, inputs: Iterable[str | Path], follow_links: bool = False) -> Boundary:
        roots = []
        for item in inputs:
            text = str(item)
            if glob.has_magic(text):
                parts = Path(text).parts
                cut = next(i for i, part in enumerate(parts) if glob.has_magic(part))
                base = Path(*parts[:cut]) if cut else Path(".")
            else:
                p = Path(text)
                base = p if p.is_dir() and not p.is_symlink() else p.parent
            roots.append((Path(os.path.abspath(base)), Path(os.path.realpath(base))))
        return cls(tuple(dict.fromkeys(roots)), follow_links)

    def check(self, path: Path) -> str | None:
        """None for a file inside the roots reached without a link; a note for one read through
        a link; raises SkippedEvidence for one outside (nothing of it is opened or read)."""
        path = Path(os.path.abspath(path))
        real = Path(os.path.realpath(path))
        direct = any(
            path.is_relative_to(given) and real == root / path.relative_to(given)
            for given, root in self.roots
        )
        if direct:
            return None
        target = display_path(Path(os.readlink(path))) if path.is_symlink() else display_path(real)
        inside = any(real.is_relative_to(root) for _, root in self.roots)
        if inside or self.follow_links:
            how = "" if inside else " outside the evidence folders (read because of --follow-links)"
            return f"read through a symbolic link to {display_path(real)}{how}; the SHA-256 is of that file"
        todo = (
            "give that folder itself to ingest it"
            if real.is_dir()
            else "copy the file into the evidence folder"
        )
        raise SkippedEvidence(
            f"{path} is a symbolic link to {target}, outside the evidence folders given "
            f"({', '.join(display_path(g) for g, _ in self.roots)}); it was not read. To read it, "
            f"{todo}, or pass --follow-links to read what links point to"
        )


def sniff_compression(head: bytes) -> str:
    for magic, name in MAGIC:
        if head.startswith(magic):
            return name
    return "none"


def describe(path: Path) -> EvidenceFile:
    """Hash the file as delivered and detect its compression by magic bytes.

    Only regular files are read: a FIFO would block forever, a device never ends. A name that
    is not UTF-8 cannot be handed to DuckDB's reader (nor stored as it is): refused, shown escaped.
    """
    shown = display_path(path)
    if shown != str(path):
        raise EvidenceError(
            f"{shown}: the file name is not valid UTF-8 (shown with \\xNN escapes), so it was not "
            "read; copy it to a UTF-8 name (the copy's hash will match) and ingest the copy"
        )
    try:
        st = path.stat()
        if stat.S_ISDIR(st.st_mode):
            raise SkippedEvidence(f"{path} is {_kind(st.st_mode, path)}")
        if not stat.S_ISREG(st.st_mode):  # never opened: a FIFO blocks, a device never ends
            raise SkippedEvidence(
                f"{path} is not a regular file ({_kind(st.st_mode, path)}); it was not read"
            )
        digest = hashlib.sha256()
        with open(path, "rb") as fh:
            head = fh.read(8)
            digest.update(head)
            for chunk in iter(lambda: fh.read(HASH_CHUNK), b""):
                digest.update(chunk)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise EvidenceError(f"{path} is a symbolic link loop; it was not read") from exc
        if exc.errno == errno.ENOENT and path.is_symlink():
            raise EvidenceError(
                f"{path} is a broken symbolic link (to {os.readlink(path)}); it was not read"
            ) from exc
        raise EvidenceError(f"cannot read evidence file {path}: {exc.strerror}") from exc
    return EvidenceFile(
        path=path,
        size=st.st_size,
        mtime=datetime.fromtimestamp(st.st_mtime, tz=UTC),
        sha256=digest.hexdigest(),
        compression=sniff_compression(head),
    )


def display_path(path: Path) -> str:
    """The path as text: bytes of the name that are not UTF-8 shown as ``\\xNN``."""
    return os.fsencode(path).decode("utf-8", errors="backslashreplace")


def _kind(mode: int, path: Path) -> str:
    if stat.S_ISDIR(mode):
        return "a symbolic link to a folder, not followed; give the folder itself to ingest it"
    kinds = [
        (stat.S_ISFIFO, "a named pipe"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
    ]
    return next((name for test, name in kinds if test(mode)), "a block device or other special file")


def changed_since(ev: EvidenceFile) -> str | None:
    """How the file differs now from when it was hashed (size, modification time), or None."""
    try:
        st = ev.path.stat()
    except OSError as exc:
        return f"it can no longer be read: {exc.strerror}"
    if st.st_size != ev.size:
        return f"size {ev.size:,} → {st.st_size:,} bytes"
    if datetime.fromtimestamp(st.st_mtime, tz=UTC) != ev.mtime:
        return "modified since it was hashed"
    return None


def sha256_file(path: Path) -> str:
    """SHA-256 of a file's bytes (outputs, keys); evidence goes through ``describe``."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(HASH_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


class SkippedEvidence(EvidenceError):
    """Not read on purpose (a link to a folder or out of the evidence folders, a pipe, socket or
    device): recorded as ``skipped``."""


class TruncatedError(Exception):
    """The compressed stream ended early or is corrupt; data before the break was yielded."""


class ExpansionError(EvidenceError):
    """A compressed file expands past the allowed ratio (a decompression bomb, or not a log)."""


DEFAULT_MAX_EXPANSION = 200.0  # real access logs measured 7-22x with gzip (README, "Hostile evidence")
EXPANSION_FLOOR = 1 << 24  # a small file may always expand to 16 MiB
ZSTD_SLICE = 4096  # zstd input fed at most this much at a time: ≤ 128 MiB out per call


def expansion_limit(size: int, max_expansion: float | None) -> int | None:
    """Decompressed bytes a file of ``size`` compressed bytes may reach; None for no limit."""
    if not max_expansion:
        return None
    return max(int(size * max_expansion), EXPANSION_FLOOR)


def expansion_message(path: Path, size: int, max_expansion: float) -> str:
    return (
        f"{path}: refused: decompresses to more than {max_expansion:g} times its {size:,} bytes "
        "(a decompression bomb, or not an access log); the file is kept as evidence but not read. "
        "If it is a genuine log, raise the limit with --max-expansion"
    )


def _decompressor(compression: str) -> Any:
    if compression == "gzip":
        return zlib.decompressobj(wbits=31)
    if compression == "bz2":
        return bz2.BZ2Decompressor()
    if compression == "xz":
        return lzma.LZMADecompressor()
    return zstandard.ZstdDecompressor().decompressobj()


DECODE_ERRORS = (OSError, EOFError, ValueError, zlib.error, lzma.LZMAError, zstandard.ZstdError)


def iter_chunks(
    path: Path, compression: str, size: int = 1 << 22, max_expansion: float | None = None
) -> Iterator[bytes]:
    """Decompressed bytes in chunks of at most ``size``, streaming, multi-member aware.

    A stream cut mid-way (or corrupt) yields everything decodable before the break and then
    raises TruncatedError, so the caller keeps every complete line and can warn. With
    ``max_expansion``, output past that many times the file's size raises ExpansionError
    before it is produced (memory stays bounded by ``size`` whatever the input).
    """
    with open(path, "rb") as raw:
        if compression == "none":
            yield from iter(lambda: raw.read(size), b"")
            return
        size_in = os.fstat(raw.fileno()).st_size
        limit, total = expansion_limit(size_in, max_expansion), 0
        try:
            for block in _blocks(raw, compression, size):
                total += len(block)
                if limit is not None and total > limit:
                    raise ExpansionError(expansion_message(path, size_in, max_expansion or 0))
                yield block
        except DECODE_ERRORS as exc:
            raise TruncatedError(f"corrupt {compression} data: {exc}") from exc


def _blocks(raw: BinaryIO, compression: str, size: int) -> Iterator[bytes]:
    """Decompress ``raw`` member after member, never more than ``size`` bytes per block."""
    buffered = compression in ("bz2", "xz")  # these keep unread input (and output) inside
    dec, begun = _decompressor(compression), False
    for data in iter(lambda: raw.read(size), b""):
        out = b""
        while data or len(out) == size or (buffered and not dec.needs_input and not dec.eof):
            if compression == "gzip":
                out = dec.decompress(data, size)
                data = dec.unconsumed_tail
            elif compression == "zstd":
                out, data = dec.decompress(data[:ZSTD_SLICE]), data[ZSTD_SLICE:]
            else:
                out, data = dec.decompress(data, size), b""
            begun = True
            if out:
                yield out
            if dec.eof:  # zlib may leave the same bytes in unconsumed_tail too: unused_data has them
                data = dec.unused_data + (data if compression == "zstd" else b"")
                dec, begun, out = _decompressor(compression), False, b""
    if begun:
        raise TruncatedError(f"{compression} stream ends before its end-of-stream marker")


def head_lines(path: Path, compression: str, max_lines: int = 200, max_bytes: int = 1 << 20) -> list[str]:
    """The first lines of a file, decoded losslessly (invalid UTF-8 → backslash escapes).

    A first line longer than ``max_bytes`` (a hostile or broken file) is left out and the head
    starts after it, so the lines that follow decide the format (the parse keeps that line, cut,
    as a reject); memory stays bounded whatever its length.
    """
    data = b""
    skipping = False  # inside an over-long first line: drop bytes until its end
    try:
        for chunk in iter_chunks(path, compression, size=64 * 1024):
            if skipping:
                ends = [i for i in (chunk.find(b"\n"), chunk.find(b"\r")) if i >= 0]
                if not ends:
                    continue
                chunk, skipping = chunk[min(ends) + 1 :].lstrip(b"\n"), False
            data += chunk
            if data.count(b"\n") > max_lines:
                break
            if len(data) >= max_bytes:
                if b"\n" in data or b"\r" in data:
                    break
                data, skipping = b"", True
    except TruncatedError:
        pass
    text = data.decode("utf-8", errors="backslashreplace")
    sep = "\n" if "\n" in text or "\r" not in text else "\r"  # as lines.LineReader splits
    lines = text.split(sep)
    if len(lines) > 1 and (len(data) >= max_bytes or len(lines) > max_lines):
        lines = lines[:-1]  # the last one may be cut by the read size
    return [ln.removesuffix("\r") for ln in lines[:max_lines]]
