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

from forensics.evidence import TruncatedError, iter_chunks
from forensics.formats.sqltext import sql_str

DUCKDB_COMPRESSIONS = {"none": "none", "gzip": "gzip", "zstd": "zstd"}
MAX_LINE_BYTES = 8 * 1024 * 1024
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
        con.register("_stage_batch", frame)
        con.execute(f"INSERT INTO {table} SELECT line_no, CAST(line AS VARCHAR) FROM _stage_batch")
        con.unregister("_stage_batch")
        next_no += len(batch)
        if on_lines:
            on_lines(len(batch))
        batch = []

    reader = LineReader(path, compression)
    for block in reader:
        batch.extend(block)
        if len(batch) >= BATCH_LINES:
            flush()
    flush()
    return reader.warning


class LineReader:
    """Decoded lines of a file in order, in blocks; the Python side of line numbering.

    Lines end at ``\n`` (one trailing ``\r`` dropped), or at ``\r`` in a file that has no
    ``\n`` at all — as DuckDB's reader splits them. A compressed stream that breaks off yields
    everything before the break (the cut line included) and sets ``warning``.
    """

    def __init__(self, path: Path, compression: str) -> None:
        self.path, self.compression = path, compression
        self.warning: str | None = None

    def __iter__(self) -> Iterator[list[str]]:
        rest = b""
        sep: bytes | None = None
        try:
            for chunk in iter_chunks(self.path, self.compression):
                data = rest + chunk
                if sep is None:
                    sep = b"\n" if b"\n" in data or b"\r" not in data else b"\r"
                cut = data.rfind(sep)
                if cut < 0:
                    rest = data
                    continue
                rest = data[cut + 1 :]
                yield _decode(data[:cut], sep)
        except TruncatedError as exc:
            self.warning = f"truncated or corrupt compressed data: {exc}; kept every line before the break"
        if rest:
            yield _decode(rest, sep or b"\n")


def _decode(block: bytes, sep: bytes) -> list[str]:
    """Split on ``sep`` and decode losslessly: bytes that are not UTF-8 become ``\\xNN``."""
    text = block.decode("utf-8", errors="backslashreplace")
    parts = text.split(sep.decode())
    if sep == b"\n" and "\r" in text:  # the per-line check costs more than the split itself
        return [p[:-1] if p.endswith("\r") else p for p in parts]
    return parts
