"""``forensics verify --reparse SOURCE``: read a source's evidence file again and show how the
stored rows differ from what it gives now.

The file is re-hashed first (a changed file is reported, not parsed); it is parsed with the
options its ingest recorded (the ``ingest`` case-log entry: format, layout, zone, fields) into
TEMP tables that shadow ``events`` and ``rejects`` for this connection only, so the case is not
written (it may be open read-only). Rows are compared by line number on their full content.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from forensics.errors import ForensicsError
from forensics.ingest import rowdigest
from forensics.ingest.batch import MASK, parse_batch
from forensics.ingest.evidence import describe
from forensics.ingest.run import IngestOptions, _forced_format, plan
from forensics.store.case import Case
from forensics.store.schema import EVENT_COLUMNS, REJECT_COLUMNS

EXAMPLES = 5


@dataclass
class TableDiff:
    table: str
    stored: int
    reparsed: int
    differing: int  # line numbers whose row differs, is missing or is extra
    examples: list[tuple[int, str | None, str | None]] = field(default_factory=list)  # line, stored, now


@dataclass
class Reparse:
    source_id: int
    path: str
    tables: list[TableDiff]

    @property
    def same(self) -> bool:
        return not any(t.differing for t in self.tables)


def reparse(case: Case, source: str | int, examples: int = EXAMPLES) -> Reparse:
    """Parse source ``source`` (an id) again and compare its stored events and rejects."""
    con = case.con
    sid = _source_id(source)
    row = con.execute(
        "SELECT path, sha256, status, parse_options FROM sources WHERE source_id = ?", [sid]
    ).fetchone()
    if row is None:
        raise ForensicsError(f"no source {sid} in the case (see `forensics sources`)")
    path, sha, status, parse_options = str(row[0]), str(row[1]), str(row[2]), row[3]
    if status != "ingested":
        raise ForensicsError(f"source {sid} ({path}) has status {status}: nothing of it was parsed")
    ev = describe(Path(path))
    if ev.sha256 != sha:
        raise ForensicsError(
            f"source {sid} ({path}): the file changed since it was ingested (SHA-256 was {sha}, is "
            f"now {ev.sha256}); parsing it again would not show what was ingested"
        )
    opts = _ingest_options(case, sid, parse_options)
    item = plan(con, ev, opts, _forced_format(opts))
    if item is None:
        raise ForensicsError(f"source {sid} ({path}) reads as empty now")
    item.source_id = sid
    db = str(con.execute("SELECT current_database()").fetchone()[0])  # type: ignore[index]
    _shadow(con)
    try:
        parse_batch(con, [item], opts.parse_options(), opts.max_expansion)
        con.execute(f"INSERT INTO rejects SELECT {sid}, line_no & {MASK}, line, reject_reason FROM parsed")
        con.execute("COMMIT")
        stored = f'"{db}".main.'
        diffs = [_diff(con, t, sid, stored, examples) for t in rowdigest.TABLES]
    finally:
        for table in ("events", "rejects", "parsed"):
            con.execute(f"DROP TABLE IF EXISTS temp.main.{table}")
    return Reparse(sid, path, diffs)


def _source_id(source: str | int) -> int:
    try:
        return int(str(source).strip())
    except ValueError:
        raise ForensicsError(
            f"--reparse takes a source id (see `forensics sources`), not {source!r}"
        ) from None


def _ingest_options(case: Case, sid: int, parse_options: Any) -> IngestOptions:
    """The options the source's ingest ran with: from its ``ingest`` entry, else its own record."""
    recorded, _ = rowdigest.recorded(case.con)
    rec = recorded.get(sid)
    if rec is not None:
        row = case.con.execute(
            "SELECT parameters FROM case_log WHERE seq = (SELECT (parameters::JSON->>'ingest')::INTEGER "
            "FROM case_log WHERE seq = ?) AND command = 'ingest'",
            [rec.seq],
        ).fetchone()
        if row:
            doc = json.loads(row[0])
            return IngestOptions(
                format=doc.get("format"),
                log_format=doc.get("log_format"),
                tz=doc.get("tz"),
                fields=doc.get("fields") or {},
                max_expansion=doc.get("max_expansion"),
            )
    own = json.loads(parse_options) if parse_options else {}
    return IngestOptions(format=own.get("format") if own.get("forced") else None, tz=own.get("tz"))


def _shadow(con: Any) -> None:
    """TEMP events/rejects with the case's columns: parse_batch writes there, not to the case."""
    for table, cols in (("events", EVENT_COLUMNS), ("rejects", REJECT_COLUMNS)):
        spec = ", ".join(f"{c} {t.replace(' PRIMARY KEY', '')}" for c, t in cols.items())
        con.execute(f"CREATE OR REPLACE TEMP TABLE {table} ({spec})")


def _diff(con: Any, table: str, sid: int, stored: str, examples: int) -> TableDiff:
    cols = rowdigest.TABLES[table]
    types = EVENT_COLUMNS | REJECT_COLUMNS
    enc = rowdigest.row_json(cols, types)
    sql = f"""
        WITH a AS (SELECT line_no, {enc} AS j FROM {stored}{table} WHERE source_id = {sid}),
             b AS (SELECT line_no, {enc} AS j FROM temp.main.{table})
        SELECT coalesce(a.line_no, b.line_no) AS line_no, a.j, b.j
        FROM a FULL JOIN b ON a.line_no = b.line_no WHERE a.j IS DISTINCT FROM b.j"""
    counts = con.execute(
        f"SELECT (SELECT count(*) FROM {stored}{table} WHERE source_id = {sid}), "
        f"(SELECT count(*) FROM temp.main.{table}), (SELECT count(*) FROM ({sql}))"
    ).fetchone()
    shown = con.execute(f"{sql} ORDER BY 1 LIMIT {int(examples)}").fetchall()
    return TableDiff(table, int(counts[0]), int(counts[1]), int(counts[2]), [tuple(r) for r in shown])
