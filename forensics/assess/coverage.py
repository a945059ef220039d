"""Coverage of the exposure window: when there are logs, how many, which fields, and a grade.

Everything that scales with events runs in DuckDB: one aggregation per (source, hour) into table
``coverage_hourly``, one per minute (all sources) for rates and silences, one per source for the
field matrix.
Python only sees hours, gaps and sources.

**Gaps.** A *silence* is a stretch inside the window where no ingested source logged an event:
between two consecutive events, or between a window edge and the first/last event inside it
(retention, truncated files — a truncated source simply has no events after its last parsed
line). A silence of length ``L`` is a *gap* (uncovered time) when it is implausible for the API's
normal traffic: the number of *active minutes* (minutes with at least one event) it should have
held, ``Σ λ(hour-of-week)·overlap``, is at least ``gap_expected`` (7: a silence of that
expectation has probability at most e⁻⁷ ≈ 0.0009 < 0.001, under Poisson as under independent
minutes), and ``L ≥ min_gap_s`` (15 min: shorter pauses are not worth naming even on a busy
API). A quiet night of a low-rate API is therefore covered time; the same length in the afternoon
is a gap.

Active minutes, not events, because traffic comes in bursts: a partner sync sending 500
requests in two minutes at 02:00 is one burst, and counting its events would make every quiet
half hour of every night look implausible. ``λ`` is the mean number of active minutes per hour
by hour-of-week (UTC) over the logged span inside the window (first to last event, silent hours
included, hours weighted by their overlap with the window). With fewer than
``min_bucket_samples`` hours in a bucket it falls back to hour-of-day, then to the overall rate.
Deliberate consequences: gaps lower the rate they are judged by (a long outage still shows: its
expected count is large); traffic that grows over years, or an attack burst, raises the rate of
quiet periods so that they may count as gaps — these errors claim *less* coverage, never more.
Without any event in the window the whole window is one gap.

**Unparsed, not silent.** A file whose layout changes, or whose lines are corrupt, leaves rejected
lines without a timestamp: the hours they span would look like a silence ("no logs exist"),
which is false. Each run of *entry* rejects (not blank, not ``not an access-log entry: …``
directives or comments) is placed in time by its neighbours in the same source: the events just
before and after it by ``line_no`` bracket it. A gap that overlaps a bracket becomes kind
``unparsed`` with ``rejected_lines`` (the entry lines whose bracket overlaps it; a run spanning
several gaps counts in each). A run before a source's first event is bracketed on one side only:
it is placed in the silence that ends at that event (in its minute), and a run after the last
event in the silence that starts at it; lines of a source with no event at all cannot be placed.
The gap's time stays uncovered: unparsed time is not covered time, so the grade never rises.

**Grade** (METHOD.md): A complete (ratio ≥ 0.99) and field-sufficient; B complete but a key
field missing (client address, record id, status, bytes, authentication evidence = a logged
principal or requests to a given login endpoint); C partial; D none.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import pandas as pd

from forensics.assess.window import Window, iso_z
from forensics.assess.zero_event import ZeroEventBound, zero_event_bound
from forensics.derive.auth import login_condition
from forensics.derive.routes import Endpoint, _has_routes
from forensics.errors import CoverageError
from forensics.store.case import Case
from forensics.store.db import registered, sql_str
from forensics.store.schema import NOT_AN_ENTRY

GAP_EXPECTED = 7.0
MIN_GAP_S = 900.0
MIN_BUCKET_SAMPLES = 4
COMPLETE_RATIO = 0.99
FIELD_MIN_SHARE = 0.5  # a field "exists" when some source has it on at least this share of events
EVENT_FIELDS = ("client_ip", "forwarded_for", "user_agent", "principal", "status", "bytes_sent", "query",
                "request_id")  # fmt: skip
ROUTE_FIELDS = ("route", "record_id")
NUMERIC_FIELDS = frozenset({"status", "bytes_sent"})
EMPTY = "''"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

__all__ = ["Coverage", "CoverageOptions", "Gap", "ZeroEventBound", "compute_coverage", "zero_event_bound"]


@dataclass(frozen=True)
class CoverageOptions:
    gap_expected: float = GAP_EXPECTED
    min_gap_s: float = MIN_GAP_S
    min_bucket_samples: int = MIN_BUCKET_SAMPLES
    complete_ratio: float = COMPLETE_RATIO
    field_min_share: float = FIELD_MIN_SHARE
    logins: tuple[Endpoint, ...] = ()  # login endpoints count as authentication evidence


@dataclass(frozen=True)
class Gap:
    start: datetime
    end: datetime
    kind: str  # before_first | between | after_last | no_events | unparsed
    expected_events: float | None  # λ·L: events the silence should have held (None: no rate known)
    rejected_lines: int = 0  # unparsed: entry lines rejected in or around it (module docstring)

    @property
    def seconds(self) -> float:
        return _seconds(self.end - self.start)

    def to_dict(self) -> dict[str, object]:
        expected = None if self.expected_events is None else round(self.expected_events, 3)
        return {
            "start": iso_z(self.start),
            "end": iso_z(self.end),
            "kind": self.kind,
            "expected_events": expected,
            "rejected_lines": self.rejected_lines,
            **({"note": self.note} if self.kind == "unparsed" else {}),
        }

    @property
    def note(self) -> str:
        """What the gap is, in words ("no logs", or logs that were not parsed and what to do)."""
        if self.kind != "unparsed":
            return "no logs exist for this period"
        return unparsed_note(self.rejected_lines)


def unparsed_note(lines: int) -> str:
    return (
        f"logs exist but were not parsed: {lines:,} rejected log line{'s' if lines != 1 else ''} "
        "fall in this period (a changed layout or corrupt lines); see `forensics sources` and the "
        "rejects table, then `forensics forget` the file and ingest it again with --log-format "
        "(its layout) or --format"
    )


@dataclass(frozen=True)
class Coverage:
    window: Window
    events: int
    ratio: float
    covered_s: float
    uncovered_s: float
    grade: str
    grade_reasons: tuple[str, ...]
    gaps: tuple[Gap, ...]
    fields: tuple[dict[str, Any], ...]  # per source: events and the share of each field
    sources: tuple[dict[str, Any], ...]  # per ingested source: events and span inside the window
    daily: pd.DataFrame = field(compare=False, repr=False)  # source_id, day, events (for plots)

    def bound(self, sensitivity: float = 1.0) -> ZeroEventBound:
        """The zero-event statement for this window's uncovered time."""
        return zero_event_bound(self.covered_s, self.uncovered_s, sensitivity, self.gaps)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ratio": self.ratio,
            "grade": self.grade,
            "gaps": [g.to_dict() for g in self.gaps],
            "grade_reasons": list(self.grade_reasons),
            "covered_s": self.covered_s,
            "uncovered_s": self.uncovered_s,
            "events": self.events,
            "fields": list(self.fields),
            "sources": list(self.sources),
        }


def compute_coverage(case: Case, window: Window, options: CoverageOptions | None = None) -> Coverage:
    """Coverage of ``window`` by the case's events (see the module docstring)."""
    opts = options or CoverageOptions()
    con = case.con
    params = {"start": window.start, "end": window.end}
    try:
        _hourly(con, params)
        gaps = _unparsed(con, _gaps(con, window, opts))
        fields, sources = _fields_and_sources(con, params)
    except duckdb.CatalogException as exc:
        raise CoverageError(f"{case.path} has no events to assess ({exc}); ingest evidence first") from exc
    window_s = _seconds(window.end - window.start)
    uncovered_s = min(sum(g.seconds for g in gaps), window_s)
    covered_s = window_s - uncovered_s
    ratio = round(covered_s / window_s, 6)
    events = sum(int(s["events"]) for s in sources)
    grade, reasons = _grade(con, params, ratio, gaps, fields, opts)
    daily = con.execute(
        """SELECT source_id, CAST(hour AS DATE) AS day, sum(events)::BIGINT AS events
           FROM coverage_hourly GROUP BY ALL ORDER BY day, source_id"""
    ).df()
    return Coverage(window, events, ratio, covered_s, uncovered_s, grade, tuple(reasons), tuple(gaps),
                    tuple(fields), tuple(sources), daily)  # fmt: skip


def _hourly(con: duckdb.DuckDBPyConnection, params: dict[str, datetime]) -> None:
    con.execute(
        """CREATE OR REPLACE TABLE coverage_hourly AS
           SELECT source_id, to_timestamp(hr * 3600) AS hour, events FROM (
             SELECT source_id, epoch_us(ts) // 3600000000 AS hr, count(*)::BIGINT AS events
             FROM events WHERE ts >= $start AND ts < $end GROUP BY ALL)
           ORDER BY source_id, hour""",
        params,
    )


# Active minutes per hour, by hour-of-week (0..167, UTC), over the logged span; see the module docstring.
# Hours are integers (epoch hours): truncating TIMESTAMPTZ values goes through the time-zone code
# and took 10x longer on 10M events. Epoch day 0 was a Thursday: Monday 00:00 UTC is hour-of-week 0.
HOW_SQL = "((({h}) // 24 + 3) % 7) * 24 + ({h}) % 24"

RATE_SQL = f"""
WITH tot AS (SELECT m // 60 AS hr, count(*) AS n FROM _coverage_minutes GROUP BY 1),
dense AS (
  SELECT g.hr, coalesce(t.n, 0) AS n, {HOW_SQL.format(h="g.hr")} AS how, g.hr % 24 AS hod,
         (least(g.hr * 3600 + 3600, $end_s) - greatest(g.hr * 3600, $start_s)) / 3600.0 AS h
  FROM (SELECT unnest(range(min(hr), max(hr) + 1)) AS hr FROM tot) g
  LEFT JOIN tot t USING (hr)),
by_how AS (SELECT how, sum(n) / sum(h) AS rate, count(*) AS k FROM dense GROUP BY how),
by_hod AS (SELECT hod, sum(n) / sum(h) AS rate, count(*) AS k FROM dense GROUP BY hod),
overall AS (SELECT sum(n) / sum(h) AS rate FROM dense)
SELECT w.how,
       CASE WHEN w_how.k >= $min_k THEN w_how.rate WHEN w_hod.k >= $min_k THEN w_hod.rate
            ELSE overall.rate END AS rate
FROM (SELECT unnest(range(168)) AS how) w
LEFT JOIN by_how w_how ON w_how.how = w.how
LEFT JOIN by_hod w_hod ON w_hod.hod = w.how % 24
CROSS JOIN overall
"""

SILENCES_SQL = f"""
WITH m AS (SELECT * FROM _coverage_minutes),
s AS (
  SELECT 'between' AS kind, lag(hi) OVER (ORDER BY m) AS s_start, lo AS s_end FROM m
  UNION ALL SELECT 'before_first', $start, min(lo) FROM m
  UNION ALL SELECT 'after_last', max(hi), $end FROM m),
silences AS (
  SELECT kind, epoch_us(s_start) AS s_us, epoch_us(s_end) AS e_us FROM s
  WHERE s_start IS NOT NULL AND s_end IS NOT NULL AND epoch(s_end) - epoch(s_start) >= $min_gap),
parts AS (
  SELECT kind, s_us, e_us, unnest(range(s_us // 3600000000, e_us // 3600000000 + 1)) AS hr FROM silences)
SELECT kind, s_us, e_us,
       sum(r.rate * greatest(least((hr + 1) * 3600000000, e_us) - greatest(hr * 3600000000, s_us), 0)
           / 3600000000.0) AS expected
FROM parts JOIN _coverage_rate r ON r.how = {HOW_SQL.format(h="hr")}
GROUP BY ALL HAVING expected >= $gap_expected
ORDER BY s_us
"""


def _gaps(con: duckdb.DuckDBPyConnection, window: Window, opts: CoverageOptions) -> list[Gap]:
    row = con.execute("SELECT count(*) FROM coverage_hourly").fetchall()[0]
    if not row or not row[0]:
        return [Gap(window.start, window.end, "no_events", None)]
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _coverage_minutes AS
           SELECT epoch_us(ts) // 60000000 AS m, min(ts) AS lo, max(ts) AS hi
           FROM events WHERE ts >= $start AND ts < $end GROUP BY 1""",
        {"start": window.start, "end": window.end},
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _coverage_rate AS {RATE_SQL}",
        {
            "start_s": window.start.timestamp(),
            "end_s": window.end.timestamp(),
            "min_k": opts.min_bucket_samples,
        },
    )
    rows = con.execute(
        SILENCES_SQL,
        {
            "start": window.start,
            "end": window.end,
            "min_gap": opts.min_gap_s,
            "gap_expected": opts.gap_expected,
        },
    ).fetchall()
    con.execute("DROP TABLE _coverage_minutes")
    con.execute("DROP TABLE _coverage_rate")
    return [Gap(_utc(s), _utc(e), kind, float(x)) for kind, s, e, x in rows]


# Runs of entry rejects (blank lines and NOT_AN_ENTRY directives are not entries), each bracketed
# by the events just before and after it in its source (by line_no: two windows over the rejects
# and the events in line order — not ASOF joins, which Spark has not; a line is an event or a
# reject, never both, so there are no ties), joined to the gaps they overlap. Brackets become
# [a, b] intervals: two-sided, the two events' times; before the first event, the minute ending at
# it ([minute start, event]); after the last, the minute starting at it. A gap [s, e] takes a run
# when s < b and e > a.
UNPARSED_SQL = f"""
WITH rj AS (
  SELECT source_id, line_no FROM rejects
  WHERE NOT starts_with(reason, {sql_str(NOT_AN_ENTRY)}) AND reason <> 'empty line'
    AND trim(coalesce(line, '')) <> ''),
ev AS (
  SELECT source_id, line_no, epoch_us(ts) AS t FROM events
  WHERE source_id IN (SELECT DISTINCT source_id FROM rj)),
u AS (
  SELECT source_id, line_no, 1 AS kind, NULL::BIGINT AS t FROM rj
  UNION ALL SELECT source_id, line_no, 0, t FROM ev),
w AS (  -- the line of the last event before each line and of the first after it (a reject sorts
  SELECT source_id, line_no, kind,  -- before an event of the same line_no both ways: strictly), as
    max(CASE WHEN kind = 0 THEN line_no END) OVER (  -- running extremes: last_value(… IGNORE NULLS)
      PARTITION BY source_id ORDER BY line_no, kind DESC  -- scanned back over every reject in between,
      ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS p_line,  -- quadratic in a run of them
    min(CASE WHEN kind = 0 THEN line_no END) OVER (  -- (1.6M garbage lines: 18.3 s, now 0.3 s)
      PARTITION BY source_id ORDER BY line_no DESC, kind DESC
      ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS n_line
  FROM u),
b AS (  -- with those events' times
  SELECT w.source_id, w.line_no, w.p_line, p.t AS p_t, w.n_line, n.t AS n_t
  FROM w LEFT JOIN ev p ON p.source_id = w.source_id AND p.line_no = w.p_line
  LEFT JOIN ev n ON n.source_id = w.source_id AND n.line_no = w.n_line
  WHERE w.kind = 1),
runs AS (
  SELECT source_id, p_line, n_line, any_value(p_t) AS p_t, any_value(n_t) AS n_t, count(*) AS lines
  FROM b WHERE p_t IS NOT NULL OR n_t IS NOT NULL GROUP BY ALL),
spans AS (
  SELECT lines,
    CASE WHEN p_t IS NULL THEN n_t // 60000000 * 60000000 - 1
         WHEN n_t IS NULL THEN p_t ELSE least(p_t, n_t) END AS a,
    CASE WHEN p_t IS NULL THEN n_t
         WHEN n_t IS NULL THEN p_t // 60000000 * 60000000 + 60000000 ELSE greatest(p_t, n_t) END AS b
  FROM runs)
SELECT g.gap, sum(r.lines)::BIGINT FROM spans r JOIN _coverage_gaps g ON g.s_us < r.b AND g.e_us > r.a
GROUP BY g.gap
"""


def _unparsed(con: duckdb.DuckDBPyConnection, gaps: list[Gap]) -> list[Gap]:
    """Gaps that rejected entry lines fall in become kind ``unparsed`` (module docstring)."""
    if not gaps:
        return gaps
    frame = pd.DataFrame(
        {
            "gap": range(len(gaps)),
            "s_us": [_epoch_us(g.start) for g in gaps],
            "e_us": [_epoch_us(g.end) for g in gaps],
        },
        dtype="int64",
    )
    with registered(con, "_coverage_gaps", frame):
        counts = {int(i): int(n) for i, n in con.execute(UNPARSED_SQL).fetchall()}
    return [
        replace(g, kind="unparsed", rejected_lines=counts[i]) if counts.get(i) else g
        for i, g in enumerate(gaps)
    ]


def _epoch_us(t: datetime) -> int:
    return (t - EPOCH) // timedelta(microseconds=1)


def _fields_and_sources(
    con: duckdb.DuckDBPyConnection, params: dict[str, datetime]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    has_routes = _has_routes(con)
    names = EVENT_FIELDS + (ROUTE_FIELDS if has_routes else ())
    shares = ", ".join(
        f"count({c if c in NUMERIC_FIELDS else f'NULLIF({c}, {EMPTY})'}) / greatest(count(*), 1) AS {c}"
        for c in names
    )
    stats = con.execute(
        f"""SELECT source_id, count(*) AS events, epoch_us(min(ts)) AS first_us, epoch_us(max(ts)) AS last_us,
                   {shares}
            FROM {"requests" if has_routes else "events"} WHERE ts >= $start AND ts < $end
            GROUP BY source_id""",
        params,
    ).df()
    by_id = {int(r["source_id"]): r for r in stats.to_dict("records")}
    # ingested sources, plus any source id that has events but no sources row (built by hand)
    known = {
        int(sid): (path, fmt, list(warnings or []))
        for sid, path, fmt, warnings in con.execute(
            "SELECT source_id, path, format, warnings FROM sources WHERE status = 'ingested'"
        ).fetchall()
    }
    fields, sources = [], []
    for sid in sorted(known.keys() | by_id.keys()):
        path, fmt, warnings = known.get(sid, (None, None, []))
        r = by_id.get(sid, {})
        n = int(r.get("events", 0))
        sources.append({
            "source_id": sid, "path": path, "format": fmt, "events": n,
            "first_ts": iso_z(_utc(int(r["first_us"]))) if n else None,
            "last_ts": iso_z(_utc(int(r["last_us"]))) if n else None,
            "warnings": warnings,
        })  # fmt: skip
        fields.append({"source_id": sid, "events": n, **{c: round(float(r.get(c, 0.0)), 4) for c in names}})
    return fields, sources


def _grade(
    con: duckdb.DuckDBPyConnection,
    params: dict[str, datetime],
    ratio: float,
    gaps: list[Gap],
    fields: list[dict[str, Any]],
    opts: CoverageOptions,
) -> tuple[str, list[str]]:
    if ratio <= 0:
        why = "no events in the window" if gaps and gaps[0].kind == "no_events" else "no covered time"
        return "D", [f"none: {why}"]
    if ratio < opts.complete_ratio:
        return "C", [f"partial: logs cover {ratio:.1%} of the window ({len(gaps)} gap(s))"]
    missing = _missing_fields(con, params, fields, opts)
    if missing:
        return "B", [f"complete ({ratio:.1%}) but missing: {m}" for m in missing]
    return "A", [
        f"complete ({ratio:.1%}) with client address, record id, status, bytes and authentication evidence"
    ]


def _missing_fields(
    con: duckdb.DuckDBPyConnection,
    params: dict[str, datetime],
    fields: list[dict[str, Any]],
    opts: CoverageOptions,
) -> list[str]:
    def best(name: str) -> float:
        return max((float(f.get(name, 0.0)) for f in fields if f["events"]), default=0.0)

    missing = [
        f"{label} (no source logs {name} on {opts.field_min_share:.0%} of its events)"
        for name, label in (("client_ip", "client address"), ("status", "status"), ("bytes_sent", "bytes"))
        if best(name) < opts.field_min_share
    ]
    if not fields or "record_id" not in fields[0]:
        missing.append("record id (routes not derived: run derive_routes / `forensics routes` first)")
    elif best("record_id") <= 0:
        missing.append("record id (no request in the window carries one; declare --endpoint)")
    if best("principal") <= 0 and not _login_requests(con, params, opts.logins):
        missing.append("authentication evidence (no principal logged and no successful --login requests)")
    return missing


def _login_requests(
    con: duckdb.DuckDBPyConnection, params: dict[str, datetime], logins: tuple[Endpoint, ...]
) -> int:
    if not logins:
        return 0
    row = con.execute(
        f"""SELECT count(*) FROM events WHERE ts >= $start AND ts < $end
            AND ({login_condition(logins)}) AND status BETWEEN 200 AND 399""",
        params,
    ).fetchall()
    return int(row[0][0])


def _utc(epoch_us: int) -> datetime:
    return EPOCH + timedelta(microseconds=int(epoch_us))


def _seconds(d: timedelta) -> float:
    return d / timedelta(microseconds=1) / 1e6
