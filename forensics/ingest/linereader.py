"""Raw lines of an evidence file as a DuckDB relation ``(line_no BIGINT, line VARCHAR)``.

Fast path: DuckDB's own CSV reader with a control-byte delimiter and no quoting, which reads
plain, gzip and zstd files at millions of lines per second. It refuses (raises) on what it
cannot read exactly — invalid UTF-8, a stray delimiter byte, mixed line ends, over-long lines,
a truncated stream — and then the Python path reads the same file: streaming decompression up
to any break, invalid bytes kept as backslash escapes, lines numbered identically.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import pandas as pd

from forensics.ingest.evidence import TruncatedError, iter_chunks
from forensics.store.db import registered, sql_str

DUCKDB_COMPRESSIONS = {"none": "none", "gzip": "gzip", "zstd": "zstd"}
MAX_LINE_BYTES = 8 * 1024 * 1024  # DuckDB's reader refuses longer lines: the Python path reads them
KEPT_LINE_BYTES = 64 * 1024 * 1024  # a longer line keeps its first 64 MiB (and says so)
OVERLONG = "\\[line continues: {total:,} bytes in all; the first {kept:,} are kept here]"
BATCH_LINES = 500_000


def read_lines_call(files_sql: str, compression: str, filename: bool = False) -> str:
    """The one ``read_csv`` call that reads raw lines: whole lines, no quoting, no comments.

    ``files_sql`` is a SQL string literal or list of them; ``compression`` a DuckDB name.
    """
    return (
        f"read_csv({files_sql}, delim={sql_str(chr(1))}, quote='', escape='', comment='', "
        "header=false, auto_detect=false, columns={'line': 'VARCHAR'}, "
        f"compression={sql_str(compression)}, max_line_size={MAX_LINE_BYTES}, parallel=true"
        + (", filename=true)" if filename else ")")
    )


def duckdb_lines_sql(path: Path, compression: str) -> str | None:
    """SQL for the fast path, or None when DuckDB cannot read this compression."""
    comp = DUCKDB_COMPRESSIONS.get(compression)
    if comp is None:
        return None
    return (
        "SELECT row_number() OVER () AS line_no, coalesce(line, '') AS line "
        f"FROM {read_lines_call(sql_str(str(path)), comp)}"
    )


def stage_python(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    compression: str,
    table: str,
    on_lines: Callable[[int], None] | None = None,
    max_expansion: float | None = None,
) -> str | None:
    """Read the file in Python into temp table ``table``. Returns a warning or None."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE {table} (line_no BIGINT, line VARCHAR)")
    next_no = 1
    batch: list[str] = []

    def flush() -> None:
        nonlocal next_no, batch
        if not batch:
            return
        numbers = pd.Series(range(next_no, next_no + len(batch)), dtype="int64")  # not boxed ints
        frame = pd.DataFrame({"line_no": numbers, "line": pd.Series(batch, dtype=object)})
        with registered(con, "_stage_batch", frame):
            con.execute(f"INSERT INTO {table} SELECT line_no, CAST(line AS VARCHAR) FROM _stage_batch")
        next_no += len(batch)
        if on_lines:
            on_lines(len(batch))
        batch = []

    reader = LineReader(path, compression, max_expansion)
    for block in reader:
        batch.extend(block)
        if len(batch) >= BATCH_LINES:
            flush()
    flush()
    notes = [reader.warning] if reader.warning else []
    if reader.overlong:
        notes.append(
            f"{reader.overlong} line(s) longer than {KEPT_LINE_BYTES:,} bytes: the first "
            f"{KEPT_LINE_BYTES:,} bytes of each are kept (the evidence file holds them whole)"
        )
    return "; ".join(notes) or None


class LineReader:
    """Decoded lines of a file in order, in blocks; the Python side of line numbering.

    Lines end at ``\n`` (one trailing ``\r`` dropped), or at ``\r`` in a file that has no
    ``\n`` at all — as DuckDB's reader splits them. A compressed stream that breaks off yields
    everything before the break (the cut line included) and sets ``warning``. A line longer
    than KEPT_LINE_BYTES keeps its first KEPT_LINE_BYTES bytes and a note of its full length,
    so memory stays bounded (the evidence file, hashed, still holds it whole).
    """

    def __init__(self, path: Path, compression: str, max_expansion: float | None = None) -> None:
        self.path, self.compression, self.max_expansion = path, compression, max_expansion
        self.warning: str | None = None
        self.overlong = 0

    def __iter__(self) -> Iterator[list[str]]:
        rest = b""
        sep: bytes | None = None
        skipped = 0  # bytes of an over-long line dropped so far (beyond what is kept)
        try:
            for chunk in iter_chunks(self.path, self.compression, max_expansion=self.max_expansion):
                if sep is None:
                    sep = b"\n" if b"\n" in chunk or b"\r" not in chunk else b"\r"
                if skipped:  # inside an over-long line: drop bytes until its end
                    cut = chunk.find(sep)
                    if cut < 0:
                        skipped += len(chunk)
                        continue
                    yield [self._overlong(rest, skipped + cut)]
                    rest, skipped, chunk = b"", 0, chunk[cut + 1 :]
                data = rest + chunk
                cut = data.rfind(sep)
                if cut < 0:
                    rest = data
                    if len(rest) > KEPT_LINE_BYTES:
                        rest, skipped = rest[:KEPT_LINE_BYTES], len(rest) - KEPT_LINE_BYTES
                    continue
                rest = data[cut + 1 :]
                block = _decode(data[:cut], sep)
                if len(data) - len(rest) > KEPT_LINE_BYTES:
                    block = [self._cap(line) for line in block]
                yield block
                if len(rest) > KEPT_LINE_BYTES:
                    rest, skipped = rest[:KEPT_LINE_BYTES], len(rest) - KEPT_LINE_BYTES
        except TruncatedError as exc:
            self.warning = f"truncated or corrupt compressed data: {exc}; kept every line before the break"
        if skipped:
            yield [self._overlong(rest, skipped)]
        elif rest:
            yield _decode(rest, sep or b"\n")

    def _overlong(self, kept: bytes, dropped: int) -> str:
        self.overlong += 1
        return kept.decode("utf-8", "backslashreplace") + OVERLONG.format(
            total=len(kept) + dropped, kept=len(kept)
        )

    def _cap(self, line: str) -> str:
        raw = line.encode("utf-8", "surrogateescape")
        if len(raw) <= KEPT_LINE_BYTES:
            return line
        return self._overlong(raw[:KEPT_LINE_BYTES], len(raw) - KEPT_LINE_BYTES)


def _decode(block: bytes, sep: bytes) -> list[str]:
    """Split on ``sep`` and decode losslessly: bytes that are not UTF-8 become ``\\xNN``."""
    text = block.decode("utf-8", errors="backslashreplace")
    parts = text.split(sep.decode())
    if sep == b"\n" and "\r" in text:  # the per-line check costs more than the split itself
        return [p[:-1] if p.endswith("\r") else p for p in parts]
    return parts
