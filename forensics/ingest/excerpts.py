"""Raw-line excerpts: the exact evidence line behind an event, read back from the evidence file.

Events keep ``(source_id, line_no)`` rather than a copy of the line; this reads the lines back,
numbered the same way ingest numbered them (see lines.py), and checks the file is unchanged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from forensics.errors import EvidenceError
from forensics.ingest.evidence import describe
from forensics.ingest.linereader import LineReader, duckdb_lines_sql


def raw_lines(
    con: duckdb.DuckDBPyConnection,
    source_id: int,
    line_nos: list[int],
    verify: bool = True,
    source: tuple[Any, ...] | None = None,
) -> dict[int, str]:
    """``{line_no: raw line}`` for lines of an ingested source.

    With ``verify`` the file is re-hashed first and an EvidenceError raised if it changed.
    ``source``: the source's ``(path, compression, sha256, reader)`` when ``con`` is not the case's
    (another engine holds the case: ``con`` only reads the file).
    """
    row = (
        source
        or con.execute(
            "SELECT path, compression, sha256, reader FROM sources WHERE source_id = ?", [source_id]
        ).fetchone()
    )
    if row is None:
        raise EvidenceError(f"no source {source_id} in this case")
    path, compression, sha256, reader = Path(row[0]), row[1], row[2], row[3]
    if verify:
        if not path.is_file():
            raise EvidenceError(f"evidence file {path} (source {source_id}) is no longer there")
        if describe(path).sha256 != sha256:
            raise EvidenceError(f"evidence file {path} changed since ingest (SHA-256 differs)")
    wanted = sorted(set(line_nos))
    fast = duckdb_lines_sql(path, compression) if reader == "duckdb" else None
    if fast is not None:
        rows = con.execute(
            f"SELECT line_no, line FROM ({fast}) WHERE line_no IN (SELECT unnest(?))", [wanted]
        ).fetchall()
        return {int(n): str(t) for n, t in rows}
    return _python_lines(path, compression, set(wanted))


def _python_lines(path: Path, compression: str, wanted: set[int]) -> dict[int, str]:
    """The wanted lines, numbered as lines.stage_python numbers them (same LineReader)."""
    out: dict[int, str] = {}
    last = max(wanted, default=0)
    no = 0
    for block in LineReader(path, compression):
        for line in block:
            no += 1
            if no in wanted:
                out[no] = line
        if no >= last:
            break
    return out
