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
      SELECT e.source_id, e.line_no, epoch_us(e.ts) AS t,
        coalesce(e.client_ip, '') AS ip, coalesce(e.method, '') AS m, coalesce(e.path, '') AS p,
        coalesce(e.status, 0) AS st
      FROM events e JOIN sources s USING (source_id)
      WHERE s.format = {sql_str(fmt)} AND e.client_ip IS NOT NULL AND e.path IS NOT NULL"""


def _pair_sql(first: str, second: str, skew_us: int) -> str:
    """Each event of ``first`` with the nearest event of ``second`` at or before it and at or after
    it (same key), the equal-time ties to the smallest (source_id, line_no); then the nearer within
    the skew (ties again to the smallest). A window, not an ASOF join: both engines run it (Spark
    has no ASOF join), and ties no longer fall to chance.

    The window finds only the *number* of the nearest ``second`` instant before: the instants of
    ``second`` are numbered in time order per key, so the running maximum of their numbers over
    the key's events in time order, equal times included, is the last at or before; the first at
    or after is that one at the same instant, else the next number (one window, one sort; the
    events are joined back on key and number). ``last_value(… IGNORE NULLS)`` over the events
    themselves gave the same pairs but scans back over every ``first`` event in between: quadratic
    in a run of one key logged by one server only (a monitor's health check the other log does not
    see: 400,000 of them took 2.0 s, 1.6M 19.3 s; now 0.5 s and 1.6 s). A frame from the current row
    to the end was superlinear in DuckDB too (8 s for one key's 1.6M events), hence the next number."""
    key = "PARTITION BY ip, m, p, st ORDER BY t"
    frame = "RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW"
    return f"""
    INSERT INTO request_twins
    WITH a AS ({_side(first)}), b AS ({_side(second)}),
    bk AS (  -- per key and instant, the smallest event of the second format, numbered in time order
      SELECT row_number() OVER (PARTITION BY ip, m, p, st ORDER BY t) AS g, *
      FROM (SELECT ip, m, p, st, t, min({{'s': source_id, 'l': line_no}}) AS e FROM b GROUP BY ALL)),
    u AS (
      SELECT ip, m, p, st, t, source_id, line_no, NULL::BIGINT AS g FROM a
      UNION ALL
      SELECT ip, m, p, st, t, NULL, NULL, g FROM bk),
    w AS (  -- the last instant at or before each event of the first format (number and time)
      SELECT ip, m, p, st, source_id, line_no, t, max(g) OVER ({key} {frame}) AS before_g,
        max(CASE WHEN g IS NOT NULL THEN t END) OVER ({key} {frame}) AS before_t
      FROM u),
    wa AS (  -- the first at or after: the same at the same instant, else the next (if the key has it)
      SELECT *, CASE WHEN before_t = t THEN before_g ELSE coalesce(before_g, 0) + 1 END AS after_g
      FROM w WHERE source_id IS NOT NULL),
    near AS (
      SELECT w.source_id, w.line_no, w.t - x.t AS d, x.e.s AS bs, x.e.l AS bl
      FROM wa w JOIN bk x ON x.g = w.before_g AND x.ip = w.ip AND x.m = w.m AND x.p = w.p AND x.st = w.st
      UNION ALL
      SELECT w.source_id, w.line_no, x.t - w.t, x.e.s, x.e.l
      FROM wa w JOIN bk x ON x.g = w.after_g AND x.ip = w.ip AND x.m = w.m AND x.p = w.p AND x.st = w.st)
    SELECT source_id, line_no,
      arg_min(bs, {{'d': d, 's': bs, 'l': bl}}),
      arg_min(bl, {{'d': d, 's': bs, 'l': bl}}), min(d) / 1000.0
    FROM near WHERE d <= {skew_us}
    GROUP BY source_id, line_no"""
