"""Twins: one request logged by two servers (a load balancer or nginx in front, the application behind).

Two events are twins when they come from sources of different formats, have the same client
address, method, path and status, and lie within ``TWIN_MAX_SKEW`` of each other (servers stamp
the start or the end of a request, with or without fractions of a second). Each event pairs with
the nearest such event of the other format (two ASOF joins, one per direction: bounded memory,
no pairwise blow-up on busy keys such as a monitor's health checks).

What twins are for:

* corroboration — a principal the application logged authenticates the edge copy of the same
  request (METHOD.md: "ideally corroborated by a second source");
* one caller, one actor — the sessions of both copies are one actor (actors.py);
* counting requests, not log lines — the copy in the later-ranked format is marked ``copy``,
  so request counts skip it.

Table ``request_twins``: (source_id, line_no) of the primary event, (copy_source_id,
copy_line_no) of its copy, and the skew in milliseconds.
"""

from __future__ import annotations

from datetime import timedelta

from forensics.store.case import Case
from forensics.store.db import sql_str

TWIN_MAX_SKEW = timedelta(seconds=2)


def derive_twins(case: Case) -> int:
    """(Re)build ``request_twins``; returns the number of pairs."""
    con = case.con
    con.execute(
        "CREATE OR REPLACE TABLE request_twins (source_id INTEGER, line_no BIGINT, "
        "copy_source_id INTEGER, copy_line_no BIGINT, skew_ms DOUBLE)"
    )
    formats = [
        str(r[0])
        for r in con.execute(
            "SELECT DISTINCT format FROM sources WHERE format IS NOT NULL AND events > 0 ORDER BY format"
        ).fetchall()
    ]
    skew_us = int(TWIN_MAX_SKEW.total_seconds() * 1_000_000)
    for i, first in enumerate(formats):
        for second in formats[i + 1 :]:
            con.execute(_pair_sql(first, second, skew_us))
    row = con.execute("SELECT count(*) FROM request_twins").fetchone()
    return int(row[0]) if row else 0


def _side(fmt: str) -> str:
    return f"""
      SELECT e.source_id, e.line_no, epoch_us(e.ts) AS t, -epoch_us(e.ts) AS nt,
        coalesce(e.client_ip, '') AS ip, coalesce(e.method, '') AS m, coalesce(e.path, '') AS p,
        coalesce(e.status, 0) AS st
      FROM events e JOIN sources s USING (source_id)
      WHERE s.format = {sql_str(fmt)} AND e.client_ip IS NOT NULL AND e.path IS NOT NULL"""


def _pair_sql(first: str, second: str, skew_us: int) -> str:
    key = "a.ip = b.ip AND a.m = b.m AND a.p = b.p AND a.st = b.st"
    return f"""
    INSERT INTO request_twins
    WITH a AS ({_side(first)}), b AS ({_side(second)}),
    near AS (
      SELECT a.source_id, a.line_no, b.source_id AS copy_source_id, b.line_no AS copy_line_no,
        a.t - b.t AS d
      FROM a ASOF JOIN b ON {key} AND a.t >= b.t
      UNION ALL
      SELECT a.source_id, a.line_no, b.source_id, b.line_no, b.t - a.t
      FROM a ASOF JOIN b ON {key} AND a.nt >= b.nt)
    SELECT source_id, line_no, arg_min(copy_source_id, (d, copy_source_id, copy_line_no)),
      arg_min(copy_line_no, (d, copy_source_id, copy_line_no)), min(d) / 1000.0
    FROM near WHERE d <= {skew_us}
    GROUP BY source_id, line_no"""
