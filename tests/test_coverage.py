"""Coverage of the exposure window: gaps, ratio, field matrix, grade and the zero-event bound."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from forensics import Case, Endpoint, RouteOptions, derive_routes, ingest
from forensics.assess.coverage import CoverageOptions, compute_coverage, zero_event_bound
from forensics.assess.window import Window, parse_window
from forensics.errors import CoverageError
from tests.conftest import SAMPLE_EVIDENCE
from tests.eventrows import add_events

T0 = datetime(2024, 3, 4, tzinfo=UTC)  # a Monday
H = timedelta(hours=1)
MIN = timedelta(minutes=1)
DAY = 86400.0
YEAR = 365 * DAY


def add_source(case: Case, source_id: int = 1, warnings: list[str] | None = None) -> None:
    case.con.execute(
        "INSERT INTO sources (source_id, path, size, sha256, compression, status, format, warnings) "
        "VALUES (?, ?, 1, 'x', 'none', 'ingested', 'combined', ?)",
        [source_id, f"/evidence/s{source_id}.log", warnings or []],
    )


def every(start: datetime, end: datetime, step: timedelta, **row: Any) -> list[dict[str, Any]]:
    """Events at start, start+step, … while < end."""
    out, t = [], start
    while t < end:
        out.append({"ts": t, **row})
        t += step
    return out


def test_steady_traffic_with_a_hole(case: Case) -> None:
    add_source(case)
    hole_start, hole_end = T0 + 30 * H, T0 + 40 * H  # events at both ends, none strictly inside
    rows = [r for r in every(T0, T0 + 72 * H, 5 * MIN) if not hole_start < r["ts"] < hole_end]
    add_events(case, rows)
    cov = compute_coverage(case, Window(T0, T0 + 72 * H))
    assert [(g.start, g.end, g.kind) for g in cov.gaps] == [(hole_start, hole_end, "between")]
    assert cov.uncovered_s == 10 * 3600 and cov.covered_s == 62 * 3600
    assert cov.ratio == round(62 / 72, 6)
    assert cov.events == 864 - 119  # 10 h at 12/h = 120 slots, the one at hole_start kept
    assert cov.grade == "C" and "86.1%" in cov.grade_reasons[0]
    d = cov.to_dict()
    assert d["gaps"][0]["start"] == "2024-03-05T06:00:00Z" and d["gaps"][0]["end"] == "2024-03-05T16:00:00Z"
    # hourly table: 12 per full hour; the hole's first hour holds only its 06:00 event
    hourly = dict(case.con.execute("SELECT hour, events FROM coverage_hourly").fetchall())
    assert len(hourly) == 72 - 9 and sum(hourly.values()) == cov.events
    assert hourly[T0 + 30 * H] == 1 and hourly[T0 + 29 * H] == 12 and hourly[T0 + 40 * H] == 12
    # per-source daily volume for the plots
    daily = cov.daily
    assert list(daily["events"]) == [288, 288 - 119, 288]
    assert list(daily["source_id"]) == [1, 1, 1]


def test_quiet_nights_of_a_low_rate_api_are_not_gaps(case: Case) -> None:
    # 8 days: every 10 min from 08:00 to 19:50 (6 active minutes/h), one call at 02:00 each night;
    # on day 3 nothing between 12:00 and 15:00.
    add_source(case)
    rows: list[dict[str, Any]] = []
    for day in range(8):
        d0 = T0 + timedelta(days=day)
        rows += [{"ts": d0 + 2 * H}]
        rows += [r for r in every(d0 + 8 * H, d0 + 20 * H, 10 * MIN)
                 if not (day == 3 and d0 + 12 * H < r["ts"] < d0 + 15 * H)]  # fmt: skip
    add_events(case, rows)
    cov = compute_coverage(case, Window(T0, T0 + timedelta(days=8)))
    # nights: 19:50 -> 02:00 (6h10m) and 02:00 -> 08:00 (6 h) expect ~1 active minute: covered.
    # the afternoon hole expects (43 + 42 + 42) / 8 active minutes in hours 12-14 (the hole's day
    # contributes its 12:00 call only): 15.875, a gap.
    assert [(g.start, g.end) for g in cov.gaps] == [
        (T0 + timedelta(days=3, hours=12), T0 + timedelta(days=3, hours=15))
    ]
    assert cov.gaps[0].expected_events == pytest.approx(127 / 8)
    assert cov.ratio == round(1 - 3 / 192, 6)
    # the same afternoon hole is not a gap when the threshold asks for more than it expects
    lax = compute_coverage(case, Window(T0, T0 + timedelta(days=8)), CoverageOptions(gap_expected=16))
    assert lax.gaps == () and lax.ratio == 1.0


def test_bursts_count_as_one_active_minute(case: Case) -> None:
    # a nightly sync sends 300 requests within a minute at 02:00, then silence until 08:00:
    # counting events would expect ~300/h at night; counting active minutes expects ~1/h.
    add_source(case)
    rows: list[dict[str, Any]] = []
    for day in range(6):
        d0 = T0 + timedelta(days=day)
        rows += [{"ts": d0 + 2 * H + timedelta(milliseconds=150 * i)} for i in range(300)]
        rows += every(d0 + 8 * H, d0 + 20 * H, 10 * MIN)
    add_events(case, rows)
    cov = compute_coverage(case, Window(T0 + 2 * H, T0 + timedelta(days=5, hours=20)))
    assert cov.gaps == () and cov.ratio == 1.0


def test_retention_after_window_start_is_a_gap(case: Case) -> None:
    add_source(case)
    first = T0 + timedelta(days=2)
    add_events(case, every(first, T0 + timedelta(days=5), 5 * MIN))
    cov = compute_coverage(case, Window(T0, T0 + timedelta(days=5)))
    assert [(g.start, g.end, g.kind) for g in cov.gaps] == [(T0, first, "before_first")]
    assert cov.ratio == 0.6 and cov.grade == "C"


def test_truncated_source_coverage_ends_at_its_last_event(case: Case) -> None:
    warning = "truncated or corrupt compressed data: gzip stream ends early; kept every line before the break"
    add_source(case, 1, [warning])
    last = T0 + 36 * H - 5 * MIN
    add_events(case, every(T0, T0 + 36 * H, 5 * MIN), source_id=1)
    cov = compute_coverage(case, Window(T0, T0 + 48 * H))
    assert [(g.start, g.end, g.kind) for g in cov.gaps] == [(last, T0 + 48 * H, "after_last")]
    assert cov.uncovered_s == 12 * 3600 + 300
    src = cov.sources[0]
    assert src["last_ts"] == "2024-03-05T11:55:00Z" and src["warnings"] == [warning] and src["events"] == 432
    # a second source that keeps logging covers the same time: no gap
    add_source(case, 2)
    add_events(case, every(T0, T0 + 48 * H, 5 * MIN), source_id=2)
    cov2 = compute_coverage(case, Window(T0, T0 + 48 * H))
    assert cov2.gaps == () and cov2.ratio == 1.0 and [s["events"] for s in cov2.sources] == [432, 576]


def test_window_without_logs(case: Case) -> None:
    add_source(case)
    add_events(case, every(T0, T0 + 24 * H, 5 * MIN))
    w = parse_window("2023-01-01/2023-12-31")
    cov = compute_coverage(case, w)
    assert cov.ratio == 0.0 and cov.grade == "D" and cov.events == 0
    assert [(g.start, g.end, g.kind) for g in cov.gaps] == [(w.start, w.end, "no_events")]
    assert cov.covered_s == 0 and cov.uncovered_s == 365 * DAY
    assert cov.grade_reasons == ("none: no events in the window",)
    assert cov.sources[0]["events"] == 0 and cov.sources[0]["first_ts"] is None
    b = cov.bound()
    assert b.rate_per_day is None and b.expected_uncovered is None and b.p_any_uncovered is None
    assert b.statement.startswith(
        "No logs exist for 2023-01-01 \u2013 2024-01-01 (365 days); we can neither confirm nor exclude"
    )
    assert "no statistical statement" in b.statement


def test_window_bounds_are_half_open(case: Case) -> None:
    add_source(case)
    add_events(case, [{"ts": T0 - MIN}, {"ts": T0}, {"ts": T0 + H}, {"ts": T0 + 2 * H}])
    cov = compute_coverage(case, Window(T0, T0 + 2 * H))
    assert cov.events == 2 and cov.sources[0]["first_ts"] == "2024-03-04T00:00:00Z"
    assert cov.sources[0]["last_ts"] == "2024-03-04T01:00:00Z"


def complete_case(case: Case, **row: Any) -> Window:
    """Three days of reads of /api/v2/referrals/{n} every 5 minutes, fields as given."""
    add_source(case)
    rows = every(T0, T0 + 72 * H, 5 * MIN, **row)
    for i, r in enumerate(rows):
        r.setdefault("path", f"/api/v2/referrals/{1000 + i}")
    add_events(case, rows)
    derive_routes(case, RouteOptions((Endpoint.parse("GET /api/v2/referrals/{id}"),)))
    return Window(T0, T0 + 72 * H)


def test_grade_a_when_complete_and_field_sufficient(case: Case) -> None:
    w = complete_case(case, client_ip="203.0.113.9", user_agent="curl/8", principal="alice")
    cov = compute_coverage(case, w)
    assert cov.grade == "A" and cov.ratio == 1.0
    f = cov.fields[0]
    assert f["client_ip"] == 1.0 and f["principal"] == 1.0 and f["record_id"] == 1.0 and f["route"] == 1.0
    assert f["query"] == 0.0 and f["forwarded_for"] == 0.0 and f["events"] == 864


def test_grade_b_names_the_missing_field(case: Case) -> None:
    w = complete_case(case, user_agent="curl/8", principal="alice")  # no client_ip
    cov = compute_coverage(case, w)
    assert cov.grade == "B" and len(cov.grade_reasons) == 1
    assert "missing: client address" in cov.grade_reasons[0]


def test_login_requests_are_authentication_evidence(case: Case) -> None:
    w = complete_case(case, client_ip="203.0.113.9")  # no principal
    add_events(case, [{"ts": T0 + H, "method": "POST", "path": "/api/v2/auth/login", "status": 302}])
    cov = compute_coverage(case, w)
    assert cov.grade == "B" and "authentication evidence" in cov.grade_reasons[0]
    login = Endpoint.parse("POST /api/v2/auth/login")
    assert compute_coverage(case, w, CoverageOptions(logins=(login,))).grade == "A"


def test_record_id_needs_routes(case: Case) -> None:
    add_source(case)
    add_events(case, every(T0, T0 + 24 * H, 5 * MIN, client_ip="203.0.113.9", principal="bob"))
    cov = compute_coverage(case, Window(T0, T0 + 24 * H))
    assert cov.grade == "B" and "record id (routes not derived" in cov.grade_reasons[0]
    assert "record_id" not in cov.fields[0]


def test_field_shares(case: Case) -> None:
    add_source(case, 1)
    add_source(case, 2)
    add_events(case, [{"ts": T0, "user_agent": "a"}, {"ts": T0 + MIN, "user_agent": ""},
                      {"ts": T0 + 2 * MIN, "query": "x=1"}, {"ts": T0 + 3 * MIN, "bytes_sent": None}])  # fmt: skip
    add_events(case, [{"ts": T0 + 4 * MIN, "client_ip": "192.0.2.1"}], source_id=2)
    fields = compute_coverage(case, Window(T0, T0 + H)).fields
    assert [f["events"] for f in fields] == [4, 1]
    assert (fields[0]["user_agent"], fields[0]["query"], fields[0]["bytes_sent"]) == (0.25, 0.25, 0.75)
    assert (fields[0]["client_ip"], fields[1]["client_ip"]) == (0.0, 1.0)


def test_events_without_a_sources_row_still_count(case: Case) -> None:
    add_source(case, 2)
    add_events(case, every(T0, T0 + H, 10 * MIN), source_id=1)  # no sources row for id 1
    cov = compute_coverage(case, Window(T0, T0 + H))
    assert cov.events == 6 and [(s["source_id"], s["events"], s["path"]) for s in cov.sources] == [
        (1, 6, None),
        (2, 0, "/evidence/s2.log"),
    ]


def test_deterministic(case: Case) -> None:
    add_source(case)
    add_events(case, every(T0, T0 + 10 * H, 7 * MIN) + every(T0 + 20 * H, T0 + 30 * H, 3 * MIN))
    w = Window(T0, T0 + 30 * H)
    assert compute_coverage(case, w).to_dict() == compute_coverage(case, w).to_dict()


def test_no_events_table(tmp_path: Path) -> None:
    case = Case.create(tmp_path / "c.duckdb")
    case.con.execute("DROP TABLE events")
    with pytest.raises(CoverageError, match="ingest evidence first"):
        compute_coverage(case, Window(T0, T0 + H))
    case.close()


# -- the zero-event bound: numbers by hand -------------------------------------------------------


def test_bound_one_year_of_logs_for_six_years() -> None:
    b = zero_event_bound(YEAR, 5 * YEAR)
    assert b.expected_uncovered == pytest.approx(15.0)  # 3 * 5y / 1y
    assert b.p_any_uncovered == pytest.approx(1 - math.exp(-15))  # 0.99999969
    assert b.p_any_uncovered > 0.9999
    assert b.rate_per_day == pytest.approx(3 / 365)
    assert "up to 15 events" in b.statement and "more than 99.9%" in b.statement
    assert "gives no reassurance" in b.statement


def test_bound_sensitivity_weakens_it() -> None:
    b = zero_event_bound(10 * DAY, DAY, sensitivity=0.5)
    assert b.rate_per_day == pytest.approx(0.6)  # 3 / (0.5 * 10 days)
    assert b.expected_uncovered == pytest.approx(0.6)
    assert b.p_any_uncovered == pytest.approx(1 - math.exp(-0.6))  # 0.4512
    assert "45.1%" in b.statement and "sensitivity 0.5" in b.statement
    assert "no reassurance" not in b.statement


def test_bound_edges() -> None:
    full = zero_event_bound(30 * DAY, 0)
    assert (full.expected_uncovered, full.p_any_uncovered) == (0.0, 0.0)
    assert full.rate_per_day == pytest.approx(0.1)
    assert (
        full.statement.startswith("The logs cover the whole window.")
        and "No logs exist" not in full.statement
    )
    none = zero_event_bound(0, 30 * DAY)
    assert none.rate_per_day is None and "neither confirm nor exclude" in none.statement
    for bad in ({"sensitivity": 0}, {"sensitivity": 1.5}):
        with pytest.raises(CoverageError, match="sensitivity"):
            zero_event_bound(DAY, DAY, **bad)
    with pytest.raises(CoverageError, match="negative"):
        zero_event_bound(-1, DAY)


def test_bound_names_the_uncovered_period() -> None:
    w = Window(datetime(2023, 3, 14, 16, 20, tzinfo=UTC), datetime(2024, 11, 21, 9, 40, tzinfo=UTC))
    gap_end = datetime(2024, 2, 1, tzinfo=UTC)
    from forensics.assess.coverage import Gap

    gap = Gap(w.start, gap_end, "before_first", None)
    t_u = (gap_end - w.start).total_seconds()
    b = zero_event_bound((w.end - gap_end).total_seconds(), t_u, gaps=[gap])
    assert b.statement.startswith(
        "No logs exist for 2023-03-14 \u2013 2024-02-01 (323 days); we can neither confirm nor exclude access then."
    )


def test_sample_logs(tmp_path: Path) -> None:
    case = Case.create(tmp_path / "sample.duckdb")
    ingest(case, [SAMPLE_EVIDENCE])
    cov = compute_coverage(case, parse_window("2024-03-25/2024-04-05"))
    assert 0 < cov.ratio <= 1
    inside = "SELECT count(*) FROM events WHERE ts >= '2024-03-25' AND ts < '2024-04-06'"
    assert cov.events == case.con.execute(inside).fetchone()[0]
    truncated = [s for s in cov.sources if any("truncated" in w for w in s["warnings"])]
    assert len(truncated) == 1
    case.close()


def _combined(t: datetime, i: int) -> str:
    return (
        f'203.0.113.{i % 9} - - [{t:%d/%b/%Y:%H:%M:%S} +0000] "GET /api/v2/referrals/{i} HTTP/1.1" '
        f'200 1832 "-" "curl/8.4.0"'
    )


def _minutes(start: datetime, end: datetime) -> list[str]:
    return [_combined(start + k * MIN, k) for k in range(int((end - start) / MIN))]


def test_rejected_lines_make_a_gap_unparsed_and_a_real_silence_stays_a_gap(
    tmp_path: Path, case: Case
) -> None:
    """Combined lines, a block nothing parses (garbage, another layout, blank lines) spanning
    hours, combined lines again, then a true silence, then combined lines."""
    garbage = [f"\x00\x17 corrupted block {k} ~~ {'#' * (k % 13)}" for k in range(40)]
    other_layout = [
        f"2024-03-04T{12 + k // 60:02d}:{k % 60:02d}:00Z|GET|/api/v2/referrals/{k}|200" for k in range(30)
    ]
    blank = ["", "   "]  # not entry lines: they do not count
    lines = (
        _minutes(T0 + 10 * H, T0 + 12 * H)
        + garbage + blank + other_layout
        + _minutes(T0 + 15 * H, T0 + 17 * H)  # 12:00-15:00: logs exist, not parsed
        + _minutes(T0 + 19 * H, T0 + 21 * H)  # 17:00-19:00: nothing logged
    )  # fmt: skip
    evidence = tmp_path / "access.log"
    evidence.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = ingest(case, [evidence])
    assert report.statuses() == {"ingested": 1} and report.total("rejects") == 72
    cov = compute_coverage(case, Window(T0 + 10 * H, T0 + 21 * H))
    got = [(g.kind, g.start.hour, g.end.hour, g.rejected_lines) for g in cov.gaps]
    assert got == [("unparsed", 11, 15, 70), ("between", 16, 19, 0)]
    # unparsed time is not covered time: the same file without the rejected block grades the same
    clean = tmp_path / "clean" / "access.log"
    clean.parent.mkdir()
    clean.write_text(
        "\n".join(ln for ln in lines if ln not in garbage + other_layout) + "\n", encoding="utf-8"
    )
    with Case.create(tmp_path / "clean.duckdb") as other:
        ingest(other, [clean])
        silent = compute_coverage(other, Window(T0 + 10 * H, T0 + 21 * H))
    assert [(g.kind, g.start, g.end) for g in silent.gaps] == [("between", g.start, g.end) for g in cov.gaps]
    assert (cov.ratio, cov.grade, cov.uncovered_s) == (silent.ratio, silent.grade, silent.uncovered_s)
    assert cov.grade == "C"
    doc = cov.to_dict()["gaps"]
    assert doc[0]["rejected_lines"] == 70 and "logs exist but were not parsed" in doc[0]["note"]
    assert "--log-format" in doc[0]["note"] and "note" not in doc[1]
    statement = cov.bound().statement
    assert "No logs exist for 2024-03-04 16:59" in statement
    assert "logs exist but were not parsed: 70 rejected log lines" in statement
    assert "`forensics sources`" in statement and "--format" in statement


def test_rejected_lines_at_a_files_start_fall_in_the_silence_before_its_first_event(
    tmp_path: Path, case: Case
) -> None:
    head = [f"garbage {k}" for k in range(5)]  # before the first event: bracketed on one side
    first = tmp_path / "a.log"
    first.write_text("\n".join(_minutes(T0 + 10 * H, T0 + 12 * H)) + "\n", encoding="utf-8")
    second = tmp_path / "b.log"
    second.write_text("\n".join(head + _minutes(T0 + 15 * H, T0 + 17 * H)) + "\n", encoding="utf-8")
    tail = tmp_path / "c.log"  # after its last event: the silence that starts at it
    tail.write_text("\n".join([*_minutes(T0 + 19 * H, T0 + 20 * H), "junk", "junk"]) + "\n", encoding="utf-8")
    ingest(case, [first, second, tail])
    cov = compute_coverage(case, Window(T0 + 10 * H, T0 + 22 * H))
    got = [(g.kind, g.start.hour, g.end.hour, g.rejected_lines) for g in cov.gaps]
    assert got == [("unparsed", 11, 15, 5), ("between", 16, 19, 0), ("unparsed", 19, 22, 2)]


def test_rejects_in_covered_time_change_nothing(tmp_path: Path, case: Case) -> None:
    lines = _minutes(T0 + 10 * H, T0 + 12 * H)
    lines[60:60] = ["garbage"] * 3  # between two events one minute apart: no gap there
    evidence = tmp_path / "access.log"
    evidence.write_text("\n".join(lines) + "\n", encoding="utf-8")
    ingest(case, [evidence])
    cov = compute_coverage(case, Window(T0 + 10 * H, T0 + 12 * H))
    assert cov.gaps == () and cov.ratio == 1.0
