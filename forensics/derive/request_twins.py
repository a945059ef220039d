"""Twins: one request logged by two servers (a load balancer or nginx in front, the application behind).

Two events are twins when they come from sources of different formats, have the same client
address, method, path and status, and lie within ``TWIN_MAX_SKEW`` of each other (servers stamp
the start or the end of a request, with or without fractions of a second). Each event pairs with
the nearest such event of the other format (windows over both formats' events in time order, one
per direction: bounded memory, no pairwise blow-up on busy keys such as a monitor's health checks).

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
    """Each event of ``first`` with the nearest event of ``second`` at or before it and at or after
    it (same key): two windows over both sides in time order — the last ``second`` event up to
    the row, the first from it on (the equal-time ties to the smallest (source_id, line_no), as
    the choice between the two below) — then the nearer within the skew. A window, not an ASOF
    join: both engines run it (Spark has no ASOF join), and ties no longer fall to chance."""
    order = "PARTITION BY ip, m, p, st ORDER BY t"
    other = "CASE WHEN kind = 0 THEN {'t': t, 's': bs, 'l': bl} END"
    return f"""
    INSERT INTO request_twins
    WITH a AS ({_side(first)}), b AS ({_side(second)}),
    u AS (
      SELECT ip, m, p, st, t, 1 AS kind, source_id, line_no, NULL::INTEGER AS bs, NULL::BIGINT AS bl FROM a
      UNION ALL
      SELECT ip, m, p, st, t, 0, NULL, NULL, source_id, line_no FROM b),
    w AS (
      SELECT source_id, line_no, t, kind,
        last_value({other} IGNORE NULLS) OVER ({order}, kind, bs DESC, bl DESC
          ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS before,
        first_value({other} IGNORE NULLS) OVER ({order}, kind DESC, bs, bl
          ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING) AS after
      FROM u),
    near AS (
      SELECT source_id, line_no, before.s AS copy_source_id, before.l AS copy_line_no, t - before.t AS d
      FROM w WHERE kind = 1 AND before IS NOT NULL
      UNION ALL
      SELECT source_id, line_no, after.s, after.l, after.t - t
      FROM w WHERE kind = 1 AND after IS NOT NULL)
    SELECT source_id, line_no,
      arg_min(copy_source_id, {{'d': d, 's': copy_source_id, 'l': copy_line_no}}),
      arg_min(copy_line_no, {{'d': d, 's': copy_source_id, 'l': copy_line_no}}), min(d) / 1000.0
    FROM near WHERE d <= {skew_us}
    GROUP BY source_id, line_no"""
