"""Machine-readable outputs of an assessment: findings.json, affected_records.csv, timeline.jsonl.

* ``findings.json`` — ``Assessment.document`` (schema ``forensics.findings/1``, README), UTF-8,
  2-space indent, key order as built: the same assessment gives the same bytes.
* ``affected_records.csv`` — one row per record id an unauthorised actor received in the
  window: ``record_id, basis (confirmed|probable), first_seen, last_seen, actors, requests,
  bytes``. Cells that a spreadsheet would run as a formula (starting ``= + - @`` tab or CR) get a
  leading apostrophe (OWASP CSV injection guidance).
* ``timeline.jsonl`` — Timesketch's JSONL import shape (``message``, ``datetime``,
  ``timestamp_desc`` plus fields) for the requests behind the high/medium findings in the window:
  written by DuckDB straight from the case (bounded memory), in time order.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pandas as pd

from forensics.assessment import Assessment
from forensics.case import Case
from forensics.formats.sqltext import sql_str
from forensics.window import iso_z

FORMULA_START = re.compile(r"^[=+\-@\t\r]")
CSV_COLUMNS = ("record_id", "basis", "first_seen", "last_seen", "actors", "requests", "bytes")


def findings_json(assessment: Assessment) -> str:
    return json.dumps(assessment.document, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def neutralise(cell: Any) -> str:
    """A CSV cell a spreadsheet shows as text, never runs as a formula."""
    if cell is None or (not isinstance(cell, list | tuple) and pd.isna(cell)):
        return ""
    if isinstance(cell, pd.Timestamp):
        return iso_z(cell.to_pydatetime())
    text = str(cell)
    return "'" + text if FORMULA_START.match(text) else text


def write_affected_csv(assessment: Assessment, path: Path) -> None:
    df = assessment.affected_records
    out = pd.DataFrame({c: [neutralise(v) for v in df[c]] if c in df else [] for c in CSV_COLUMNS})
    out.to_csv(path, index=False, lineterminator="\n")


def write_timeline(case: Case, path: Path) -> int:
    """Requests behind the high/medium findings in the window (needs assess's temp table ``_w``)."""
    case.con.execute(
        f"""
        COPY (
          SELECT d.method || ' ' || d.path || coalesce('?' || d.query, '') || ' -> '
                   || coalesce(d.status::VARCHAR, '-') || ' (actor ' || d.actor_id || ', '
                   || coalesce(d.client_ip, '-') || ')' AS message,
            strftime(d.ts, '%Y-%m-%dT%H:%M:%S.%fZ') AS datetime,
            'Request received' AS timestamp_desc,
            epoch_us(d.ts) AS timestamp,
            d.actor_id, d.client_ip, d.user_agent, d.principal, d.method, d.path, d.query, d.status,
            d.bytes_sent, d.route, d.record_id, d.auth_state,
            f.detectors, f.unauthorised, s.path AS source_path, d.line_no AS source_line
          FROM detect_requests d
          JOIN (SELECT actor_id, route, list(DISTINCT detector ORDER BY detector) AS detectors,
                       bool_or(unauthorised) AS unauthorised
                FROM findings WHERE severity IN ('high', 'medium') AND actor_id IS NOT NULL GROUP BY ALL) f
            ON f.actor_id = d.actor_id AND (f.route IS NULL OR f.route = d.route)
          LEFT JOIN sources s USING (source_id)
          WHERE d.ts >= (SELECT ws FROM _w) AND d.ts < (SELECT we FROM _w)
          ORDER BY d.ts, d.source_id, d.line_no
        ) TO {sql_str(str(path))} (FORMAT json)"""
    )
    row = case.con.execute(f"SELECT count(*) FROM read_json_auto({sql_str(str(path))})").fetchone()
    return int(row[0]) if row else 0
