"""Machine-readable outputs of an assessment: findings.json, affected_records.csv, timeline.jsonl,
and the full lists the report shows the top of: actors.csv, findings.csv, evidence.csv.

* ``findings.json`` — ``Assessment.document`` (schema ``forensics.findings/2``, README), UTF-8,
  2-space indent, key order as built: the same assessment gives the same bytes. Characters JSON
  allows raw but that act in a reader (U+2028/2029, bidi overrides, C1) are ``\\uNNNN`` escapes.
* ``affected_records.csv`` — one row per record id an unauthorised actor received in the
  window: ``record_id, basis (confirmed|probable), first_seen, last_seen, actors, requests,
  bytes``. A CSV is read by people in spreadsheets: every cell shows control and invisible
  formatting characters escaped (text.printable: ``\\x1b``, ``\\u202e``), and cells that a
  spreadsheet would run as a formula (starting ``= + - @`` tab or CR) get a leading apostrophe
  (OWASP CSV injection guidance). The case keeps the values as logged.
* ``actors.csv``, ``findings.csv``, ``evidence.csv`` — every actor, finding and evidence file
  of the document, one row each, with the same cell treatment as affected_records.csv; the report
  shows their top rows (the unauthorised actors, the most severe findings, the notable files).
* ``timeline.jsonl`` — Timesketch's JSONL import shape (``message``, ``datetime``,
  ``timestamp_desc`` plus fields) for the requests behind the high/medium findings in the window
  and every request that delivered a record of affected_records.csv: written by DuckDB straight
  from the case (bounded memory), in time order. Per request, ``affected_record``/``basis`` say
  whether *that request* delivered a listed record (and on which basis); ``actor_unauthorised``
  is the actor's status (as in the actors table), not the request's. Values are the case's, JSON
  escaped; U+2028/2029, bidi overrides and C1 controls too (text.json_visible).
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import pandas as pd

from forensics.assess import window_tables
from forensics.assess.assessment import Assessment
from forensics.assess.window import iso_z
from forensics.store.case import Case
from forensics.store.db import sql_str
from forensics.store.printable import INVISIBLE_RE2, json_visible, printable

FORMULA_START = re.compile(r"^[=+\-@\t\r]")
CSV_COLUMNS = window_tables.AFFECTED_COLUMNS


def _iso_z_sql(col: str) -> str:
    """SQL: ``iso_z`` of a TIMESTAMPTZ column (the connection's time zone is UTC)."""
    return (
        f"CASE WHEN microsecond({col}) % 1000000 = 0 THEN strftime({col}, '%Y-%m-%dT%H:%M:%SZ') "
        f"ELSE strftime({col}, '%Y-%m-%dT%H:%M:%S.%fZ') END"
    )


# affected_records.csv's cells as text, made by DuckDB (a Python call per cell took 4 s per 300,000
# records): the cells ``neutralise`` gives. Record ids are log text: one with an invisible
# character (``_odd``, rare) is escaped in Python from ``_raw``; a formula-like one gets its '.
CSV_CELLS = f"""
    CASE WHEN regexp_matches(record_id, {sql_str(FORMULA_START.pattern)}) THEN '''' || record_id
         ELSE record_id END AS record_id,
    basis, {_iso_z_sql("first_seen")} AS first_seen, {_iso_z_sql("last_seen")} AS last_seen, actors,
    requests::VARCHAR AS requests, bytes::VARCHAR AS bytes,
    coalesce(regexp_matches(record_id, {sql_str(INVISIBLE_RE2)}), false) AS _odd, record_id AS _raw"""


def findings_json(assessment: Assessment) -> str:
    """findings.json's text (made once per assessment: its document is final once assessed)."""
    if assessment.json_text is None:
        text = json.dumps(assessment.document, indent=2, ensure_ascii=False, allow_nan=False)
        assessment.json_text = json_visible(text) + "\n"
    return assessment.json_text


def neutralise(cell: Any) -> str:
    """A CSV cell a spreadsheet shows as text, never runs as a formula."""
    if cell is None or (not isinstance(cell, list | tuple) and pd.isna(cell)):
        return ""
    if isinstance(cell, pd.Timestamp):
        return iso_z(cell.to_pydatetime())
    text = printable(cell)
    return "'" + text if FORMULA_START.match(text) else text


def write_affected_csv(case: Case, assessment: Assessment, path: Path) -> int:
    """affected_records.csv, written batch by batch (window_tables.affected_batches): bounded
    memory whatever the number of records. Pseudonymised when the assessment is (its record ids
    become the pseudonyms of pseudonymise.prepare's tables). The number of rows."""
    pseudonymised = bool(assessment.doc.get("pseudonymisation"))
    rows = 0
    with path.open("w", encoding="utf-8", newline="") as out:
        pd.DataFrame(columns=list(CSV_COLUMNS)).to_csv(out, index=False, lineterminator="\n")
        batches = window_tables.affected_batches(
            case, assessment, pseudonymised=pseudonymised, select=CSV_CELLS
        )
        for cells in batches:
            odd = cells["_odd"]
            if odd.any():  # record ids with invisible characters: escaped as everywhere (neutralise)
                cells.loc[odd, "record_id"] = [neutralise(v) for v in cells.loc[odd, "_raw"]]
            cells[list(CSV_COLUMNS)].to_csv(out, index=False, header=False, lineterminator="\n")
            rows += len(cells)
    return rows


def _write_rows(path: Path, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """A CSV with affected_records.csv's quoting: every cell through ``neutralise``."""
    cells = [[neutralise(v) for v in row] for row in rows]
    frame = pd.DataFrame(cells, columns=list(columns)) if cells else pd.DataFrame(columns=list(columns))
    frame.to_csv(path, index=False, lineterminator="\n")
    return len(cells)


def _joined(values: Iterable[Any] | None, sep: str = " | ") -> str:
    return sep.join(str(v) for v in values or [])


def _flag(value: Any) -> str:
    return "" if value is None else ("yes" if value else "no")


ACTOR_COLUMNS = (
    "actor_id", "classification", "class_reason", "unauthorised", "unauthorised_by", "requests",
    "endpoint_requests", "records", "confirmed_records", "probable_records", "estimated_records", "bytes",
    "first_seen", "last_seen", "ips", "user_agents", "principals", "hosting", "detectors", "link_reasons",
    "auth_evidence",
)  # fmt: skip


def write_actors_csv(assessment: Assessment, path: Path) -> int:
    """actors.csv: every actor findings.json lists (unauthorised first), one row each. Lists in a
    cell: addresses and finding ids separated by spaces, texts by `` | ``."""
    rows = (
        [
            a["id"],
            a["classification"],
            a.get("class_reason"),
            _flag(a["unauthorised"]),
            _joined(a.get("unauthorised_by"), " "),
            a["requests"],
            a.get("endpoint_requests"),
            a["records"],
            a["confirmed_records"],
            a["probable_records"],
            a.get("estimated_records"),
            a["bytes"],
            a["first_seen"],
            a["last_seen"],
            _joined(a["ips"], " "),
            _joined(a["user_agents"]),
            _joined(a["principals"]),
            _joined(a.get("hosting")),
            _joined(a["detectors"]),
            _joined(a.get("link_reasons")),
            _joined(a.get("auth_evidence")),
        ]
        for a in assessment.doc["actors"]
    )
    return _write_rows(path, ACTOR_COLUMNS, rows)


FINDING_COLUMNS = (
    "finding_id", "detector", "title", "severity", "actor_id", "unauthorised", "route", "first_seen",
    "last_seen", "requests", "records", "estimated_records", "caller", "caveat", "metrics", "thresholds",
    "sample_lines",
)  # fmt: skip


def _compact(value: Any) -> str:
    return "" if not value else json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def write_findings_csv(assessment: Assessment, path: Path) -> int:
    """findings.csv: every finding findings.json lists (most severe first), one row each; metrics
    and thresholds as compact JSON, sample lines as ``file:line`` separated by `` | ``."""
    rows = (
        [
            f["id"],
            f["detector"],
            f["title"],
            f["severity"],
            f["actor"],
            _flag(f["unauthorised"]),
            f["route"],
            f["first_seen"],
            f["last_seen"],
            f["count"],
            f["records"],
            f.get("estimated_records"),
            f["evidence"].get("caller"),
            f["evidence"].get("caveat"),
            _compact(f["evidence"].get("metrics")),
            _compact(f["evidence"].get("thresholds")),
            _joined(f"{e['path']}:{e['line_no']}" for e in f["evidence"].get("sample") or []),
        ]
        for f in assessment.doc["findings"]
    )
    return _write_rows(path, FINDING_COLUMNS, rows)


EVIDENCE_COLUMNS = (
    "path", "format", "first_seen", "last_seen", "sha256", "sha256_verified", "events", "rejected",
    "duplicate_of", "warnings",
)  # fmt: skip


def write_evidence_csv(assessment: Assessment, path: Path) -> int:
    """evidence.csv: every evidence file in natural order (``.2`` before ``.10``) with its SHA-256,
    re-verification (yes / no = CHANGED / empty = file gone), counts, and the share of its events
    carrying each field (``field_<name>``, as section 5 of the report)."""
    from forensics.publish.report.blocks import natural_key

    doc = assessment.doc
    fields: dict[str, dict[str, Any]] = doc["coverage"].get("fields") or {}
    names = sorted({f for per in fields.values() for f in per})
    rows = (
        [
            s["path"],
            s.get("format"),
            s.get("first_ts"),
            s.get("last_ts"),
            s.get("sha256"),
            _flag(s.get("sha256_verified")),
            s.get("events"),
            s.get("rejected"),
            s.get("duplicate_of"),
            _joined(s.get("warnings")),
            *(fields.get(s["path"], {}).get(n) for n in names),
        ]
        for s in sorted(doc["sources"], key=lambda s: natural_key(s["path"]))
    )
    return _write_rows(path, (*EVIDENCE_COLUMNS, *(f"field_{n}" for n in names)), rows)


TIMELINE_SLICE_ROWS = 200_000  # rows sorted at once: bounded memory for the sort of wide rows
TIMELINE_FROM = """
    FROM detect_requests d
    LEFT JOIN _timeline_f r ON r.actor_id = d.actor_id AND r.route = d.route
    LEFT JOIN (SELECT * FROM _timeline_f WHERE route IS NULL) a ON a.actor_id = d.actor_id
    LEFT JOIN _delivered l ON l.source_id = d.source_id AND l.line_no = d.line_no
    LEFT JOIN _wa wa ON wa.actor_id = d.actor_id
    LEFT JOIN sources s ON s.source_id = d.source_id{joins}
    WHERE (r.actor_id IS NOT NULL OR a.actor_id IS NOT NULL OR l.source_id IS NOT NULL)
      AND d.ts >= (SELECT ws FROM _w) AND d.ts < (SELECT we FROM _w)"""
TIMELINE_COLUMNS = """
    {method} || ' ' || {path} || coalesce('?' || {query}, '') || ' -> '
      || coalesce({status}::VARCHAR, '-') || ' (actor ' || d.actor_id || ', '
      || coalesce({client_ip}, '-') || ')' AS message,
    strftime(d.ts, '%Y-%m-%dT%H:%M:%S.%fZ') AS datetime,
    'Request received' AS timestamp_desc,
    epoch_us(d.ts) AS timestamp,
    d.actor_id, {client_ip} AS client_ip, {user_agent} AS user_agent, {principal} AS principal,
    {method} AS method, {path} AS path, {query} AS query, {status} AS status,
    d.bytes_sent, {route} AS route, {record_id} AS record_id, d.auth_state,
    CASE WHEN r.detectors IS NULL AND a.detectors IS NULL THEN []::VARCHAR[]
         ELSE string_split(concat_ws(',', r.detectors, a.detectors), ',') END AS detectors,
    l.basis IS NOT NULL AS affected_record, l.basis AS basis,
    coalesce(wa.unauthorised, false) AS actor_unauthorised,
    s.path AS source_path, d.line_no AS source_line"""
SHOWN = ("method", "path", "query", "status", "client_ip", "user_agent", "principal", "route", "record_id")


def _copy_visible(part: Path, out: BinaryIO) -> None:
    """Append ``part`` (JSON lines) to ``out`` through ``json_visible``, in bounded chunks."""
    decoder = codecs.getincrementaldecoder("utf-8")("backslashreplace")
    with part.open("rb") as src:
        for chunk in iter(lambda: src.read(1 << 20), b""):
            out.write(json_visible(decoder.decode(chunk)).encode("utf-8"))
        out.write(json_visible(decoder.decode(b"", final=True)).encode("utf-8"))


def write_timeline(
    case: Case, assessment: Assessment, path: Path, shown: Mapping[str, str] | None = None, joins: str = ""
) -> int:
    """Requests behind the high/medium findings in the window, and every request that delivered a
    record of affected_records.csv. The window tables (``_w``, ``_wf``, ``_wa``, ``_delivered``) are
    rebuilt from ``assessment`` first (assess/window_tables.py): any connection to the case will do.

    ``shown``: SQL for some columns in place of ``d.<column>`` (over ``detect_requests d`` and
    ``joins``), e.g. pseudonyms (pseudonymise.py).

    One line per request (a request behind several findings lists all their detectors), in time
    order. Written in time slices of at most ``TIMELINE_SLICE_ROWS`` rows, each sorted and
    appended in order: one sort of tens of millions of wide rows does not fit DuckDB's memory
    limit, a slice does.
    """
    con = case.con
    window_tables.rebuild(case, assessment)
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _timeline_f AS
        SELECT actor_id, route, string_agg(DISTINCT detector, ',' ORDER BY detector) AS detectors
        FROM _wf WHERE severity IN ('high', 'medium') AND actor_id IS NOT NULL GROUP BY ALL"""
    )
    columns = TIMELINE_COLUMNS.format(**{c: f"d.{c}" for c in SHOWN} | dict(shown or {}))
    part = path.with_name(path.name + ".slice")
    total = 0
    try:
        # the lines, once, in time order: each slice below then reads only its own row groups
        # (a slice that re-ran the joins scanned every request of the case: 10M requests, 37 s)
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE _timeline AS
                SELECT d.ts AS _ts, d.source_id AS _sid, d.line_no AS _lno, {columns}
                {TIMELINE_FROM.format(joins=joins)}
                ORDER BY d.ts, d.source_id, d.line_no"""
        )
        days = con.execute(
            "SELECT date_trunc('day', _ts) AS day, count(*) FROM _timeline GROUP BY day ORDER BY day"
        ).fetchall()
        slices: list[list[Any]] = []
        for day, n in days:
            if not slices or slices[-1][2] + n > TIMELINE_SLICE_ROWS:
                slices.append([day, day, 0])
            slices[-1][1:] = [day, slices[-1][2] + n]
            total += int(n)
        with path.open("wb") as out:
            for lo, hi, _ in slices:
                con.execute(
                    f"""COPY (SELECT * EXCLUDE (_ts, _sid, _lno) FROM _timeline
                              WHERE _ts >= ? AND _ts < ? + INTERVAL 1 DAY ORDER BY _ts, _sid, _lno)
                        TO {sql_str(str(part))} (FORMAT json)""",
                    [lo, hi],
                )
                _copy_visible(part, out)
    finally:
        part.unlink(missing_ok=True)
        con.execute("DROP TABLE IF EXISTS _timeline_f")
        con.execute("DROP TABLE IF EXISTS _timeline")
    return total
