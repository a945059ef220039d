"""Evidence files: find them, hash them, tell their compression by magic bytes, read them.

Evidence is only ever opened for reading (``open(path, "rb")``); nothing here writes to it.
"""

from __future__ import annotations

import bz2
import glob
import hashlib
import lzma
import os
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

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


def find_files(inputs: Iterable[str | Path]) -> list[Path]:
    """Expand files, folders (recursively, symlinked folders not followed) and globs.

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
            for f in _expand(Path(m)):
                resolved = f.absolute()
                if resolved not in seen:
                    seen.add(resolved)
                    out.append(resolved)
    return out


def _expand(p: Path) -> list[Path]:
    if p.is_file():
        return [p]
    if p.is_dir():
        found: list[Path] = []
        for root, dirs, files in os.walk(p, followlinks=False):
            dirs.sort()
            found.extend(Path(root) / f for f in sorted(files) if (Path(root) / f).is_file())
        return found
    if not p.exists():
        raise EvidenceError(f"evidence path {p} does not exist")
    raise EvidenceError(f"evidence path {p} is neither a file nor a folder")


def sniff_compression(head: bytes) -> str:
    for magic, name in MAGIC:
        if head.startswith(magic):
            return name
    return "none"


def describe(path: Path) -> EvidenceFile:
    """Hash the file as delivered and detect its compression by magic bytes."""
    try:
        st = path.stat()
        digest = hashlib.sha256()
        with open(path, "rb") as fh:
            head = fh.read(8)
            digest.update(head)
            for chunk in iter(lambda: fh.read(HASH_CHUNK), b""):
                digest.update(chunk)
    except OSError as exc:
        raise EvidenceError(f"cannot read evidence file {path}: {exc.strerror}") from exc
    return EvidenceFile(
        path=path,
        size=st.st_size,
        mtime=datetime.fromtimestamp(st.st_mtime, tz=UTC),
        sha256=digest.hexdigest(),
        compression=sniff_compression(head),
    )


def sha256_file(path: Path) -> str:
    """SHA-256 of a file's bytes (outputs, keys); evidence goes through ``describe``."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(HASH_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


class TruncatedError(Exception):
    """The compressed stream ended early or is corrupt; data before the break was yielded."""


def _decompressor(compression: str) -> Any:
    if compression == "gzip":
        return zlib.decompressobj(wbits=31)
    if compression == "bz2":
        return bz2.BZ2Decompressor()
    if compression == "xz":
        return lzma.LZMADecompressor()
    return zstandard.ZstdDecompressor().decompressobj()


def iter_chunks(path: Path, compression: str, size: int = 1 << 22) -> Iterator[bytes]:
    """Decompressed bytes in chunks, streaming, multi-member aware.

    A stream cut mid-way (or corrupt) yields everything decodable before the break and then
    raises TruncatedError, so the caller keeps every complete line and can warn.
    """
    with open(path, "rb") as raw:
        if compression == "none":
            yield from iter(lambda: raw.read(size), b"")
            return
        dec = _decompressor(compression)
        in_member = False
        for chunk in iter(lambda: raw.read(size), b""):
            while chunk:
                try:
                    out = dec.decompress(chunk)
                except (
                    OSError,
                    EOFError,
                    ValueError,
                    zlib.error,
                    lzma.LZMAError,
                    zstandard.ZstdError,
                ) as exc:
                    raise TruncatedError(f"corrupt {compression} data: {exc}") from exc
                in_member = True
                if out:
                    yield out
                chunk = b""
                if dec.eof:
                    chunk, in_member = dec.unused_data, False
                    dec = _decompressor(compression)
        if in_member:
            raise TruncatedError(f"{compression} stream ends before its end-of-stream marker")


def head_lines(path: Path, compression: str, max_lines: int = 200, max_bytes: int = 1 << 20) -> list[str]:
    """The first lines of a file, decoded losslessly (invalid UTF-8 → backslash escapes)."""
    data = b""
    try:
        for chunk in iter_chunks(path, compression, size=64 * 1024):
            data += chunk
            if data.count(b"\n") > max_lines or len(data) >= max_bytes:
                break
    except TruncatedError:
        pass
    text = data.decode("utf-8", errors="backslashreplace")
    lines = text.split("\n")
    if len(lines) > 1 and (len(data) >= max_bytes or data.count(b"\n") > max_lines):
        lines = lines[:-1]  # the last one may be cut by the read size
    return [ln.removesuffix("\r") for ln in lines[:max_lines]]
