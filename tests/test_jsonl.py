"""JSON lines: automatic key mapping, nested keys, ISO/epoch times, --tz, --field, rejects."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from forensics import formats
from forensics.errors import FieldMappingError, TimezoneRequiredError
from forensics.formats.base import ParseOptions
from tests.formathelpers import event_values, ingest_lines, parse_lines, parse_one, utc


def jl(*objs: Any) -> list[str]:
    return [json.dumps(o) for o in objs]


def test_flat_application_log_exact_values() -> None:
    (line,) = jl(
        {
            "ts": "2024-03-12T10:00:00Z",
            "level": "info",
            "client_ip": "203.0.113.9",
            "method": "GET",
            "path": "/api/v2/referrals/51234?full=1",
            "status": 200,
            "bytes": 1832,
            "user": "dr.jones",
            "request_id": "r-1",
            "user_agent": "curl/8.4.0",
            "referer": "https://app.example.com/",
            "x_forwarded_for": "198.51.100.7, 10.0.0.1",
            "duration_ms": 12.5,
        }
    )
    assert event_values(parse_one("jsonl", line)) == {
        "ts": utc(2024, 3, 12, 10, 0, 0),
        "ts_offset_min": 0,
        "client_ip": "203.0.113.9",
        "forwarded_for": "198.51.100.7, 10.0.0.1",
        "method": "GET",
        "path": "/api/v2/referrals/51234",
        "query": "full=1",
        "status": 200,
        "bytes_sent": 1832,
        "duration_ms": 12.5,
        "user_agent": "curl/8.4.0",
        "referer": "https://app.example.com/",
        "principal": "dr.jones",
        "request_id": "r-1",
    }


def test_other_key_names_full_url_string_status_and_offset() -> None:
    (line,) = jl(
        {
            "time": "2024-07-12T10:00:00+01:00",
            "remote_addr": "2001:db8::5",
            "method": "POST",
            "url": "https://api.example.com:8443/v1/login?next=%2F",
            "status": "401",
            "bytes": "57",
            "user_id": 42,
            "duration": 0.25,
        }
    )
    assert event_values(parse_one("jsonl", line)) == {
        "ts": utc(2024, 7, 12, 9, 0, 0),
        "ts_offset_min": 60,
        "client_ip": "2001:db8::5",
        "method": "POST",
        "host": "api.example.com:8443",
        "path": "/v1/login",
        "query": "next=%2F",
        "status": 401,
        "bytes_sent": 57,
        "duration_ms": 250.0,  # "duration" is taken as seconds
        "principal": "42",
    }


def test_at_timestamp_ip_uri_principal() -> None:
    (line,) = jl(
        {
            "@timestamp": "2024-03-12T10:00:00.123-05:00",
            "ip": "192.0.2.44",
            "uri": "/export.csv",
            "status": 200,
            "principal": "svc-backup",
            "requestId": "7f1c",
        }
    )
    row = parse_one("jsonl", line)
    assert event_values(row) == {
        "ts": utc(2024, 3, 12, 15, 0, 0, 123000),
        "ts_offset_min": -300,
        "client_ip": "192.0.2.44",
        "path": "/export.csv",
        "status": 200,
        "principal": "svc-backup",
        "request_id": "7f1c",
    }


def test_nested_caddy_style_request() -> None:
    (line,) = jl(
        {
            "level": "info",
            "ts": 1716723772.5,
            "logger": "http.log.access",
            "msg": "handled request",
            "request": {
                "remote_ip": "10.5.1.1",
                "client_ip": "10.10.10.117",
                "proto": "HTTP/2.0",
                "method": "GET",
                "host": "mirrors.example.net",
                "uri": "/gentoo/distfiles/x.tar.xz?mirror=1",
                "headers": {"User-Agent": ["facebookexternalhit/1.1"], "Accept": ["*/*"]},
            },
            "bytes_read": 0,
            "user_id": "",
            "duration": 0.017,
            "size": 3768,
            "status": 200,
        }
    )
    row = parse_one("jsonl", line)
    assert event_values(row) == {
        "ts": utc(2024, 5, 26, 11, 42, 52, 500000),
        "client_ip": "10.10.10.117",  # client_ip beats remote_ip (the proxy)
        "method": "GET",
        "host": "mirrors.example.net",
        "path": "/gentoo/distfiles/x.tar.xz",
        "query": "mirror=1",
        "protocol": "HTTP/2.0",
        "status": 200,
        "bytes_sent": 3768,
        "bytes_received": 0,
        "duration_ms": pytest.approx(17.0),
        "user_agent": "facebookexternalhit/1.1",
    }


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1710237600, utc(2024, 3, 12, 10, 0, 0)),
        (1710237600.5, utc(2024, 3, 12, 10, 0, 0, 500000)),
        (1710237600123, utc(2024, 3, 12, 10, 0, 0, 123000)),
        (1710237600123456, utc(2024, 3, 12, 10, 0, 0, 123456)),
        ("1710237600", utc(2024, 3, 12, 10, 0, 0)),
    ],
    ids=["seconds", "float seconds", "milliseconds", "microseconds", "seconds as text"],
)
def test_epoch_times(value: Any, expected: Any) -> None:
    (line,) = jl({"timestamp": value, "ip": "192.0.2.1", "path": "/"})
    row = parse_one("jsonl", line)
    assert (row["ts"], row["ts_offset_min"]) == (expected, None)


@pytest.mark.parametrize(
    ("value", "expected", "offset"),
    [
        ("2024-03-12T10:00:00Z", utc(2024, 3, 12, 10, 0, 0), 0),
        ("2024-03-12T10:00:00.250Z", utc(2024, 3, 12, 10, 0, 0, 250000), 0),
        ("2024-07-12T10:00:00+01:00", utc(2024, 7, 12, 9, 0, 0), 60),
        ("2024-07-12 10:00:00+0530", utc(2024, 7, 12, 4, 30, 0), 330),
        ("12/Jul/2024:10:00:00 -0700", utc(2024, 7, 12, 17, 0, 0), -420),
    ],
)
def test_iso_and_clf_times_with_offsets(value: str, expected: Any, offset: int) -> None:
    (line,) = jl({"time": value, "path": "/"})
    row = parse_one("jsonl", line)
    assert (row["ts"], row["ts_offset_min"]) == (expected, offset)


def test_naive_iso_time_without_tz_is_refused() -> None:
    lines = jl({"time": "2024-07-12 10:00:00", "path": "/x"})
    with pytest.raises(TimezoneRequiredError, match="--tz"):
        formats.REGISTRY["jsonl"].bind(lines, ParseOptions())


def test_naive_iso_time_at_ingest_without_tz(tmp_path: Path) -> None:
    lines = jl({"time": "2024-07-12 10:00:00", "path": "/x"})
    try:
        case, report = ingest_lines(tmp_path, "app.jsonl", lines)
    except TimezoneRequiredError as exc:
        assert "--tz" in str(exc)
        return
    (result,) = report.results
    assert result.status == "error" and result.message and "--tz" in result.message
    assert case.sql("select count(*) n from events")["n"][0] == 0


def test_naive_iso_time_with_tz_honours_dst() -> None:
    lines = jl(
        {"time": "2024-07-12 10:00:00", "path": "/summer"},
        {"time": "2024-01-12T10:00:00", "path": "/winter"},
    )
    rows = parse_lines("jsonl", lines, tz="Europe/London")
    assert [(r["path"], r["ts"], r["ts_offset_min"]) for r in rows] == [
        ("/summer", utc(2024, 7, 12, 9, 0, 0), 60),
        ("/winter", utc(2024, 1, 12, 10, 0, 0), 0),
    ]


def test_field_overrides_win_over_automatic_mapping(tmp_path: Path) -> None:
    lines = jl(
        {
            "time": "2020-01-01T00:00:00Z",  # would be chosen automatically
            "user": "not-this-one",
            "meta": {"when": "2024-01-12 10:00:00"},
            "auth": {"sub": "alice", "iss": "idp"},
            "path": "/records/7",
        }
    )
    case, report = ingest_lines(
        tmp_path, "app.jsonl", lines, tz="Europe/London", fields={"ts": "meta.when", "principal": "auth.sub"}
    )
    (result,) = report.results
    assert (result.status, result.format, result.events) == ("ingested", "jsonl", 1)
    got = case.con.execute("select ts, ts_offset_min, principal, path from events").fetchall()
    assert got == [(utc(2024, 1, 12, 10, 0, 0), 0, "alice", "/records/7")]


def test_field_override_with_dollar_path_and_list_value() -> None:
    lines = jl({"t": 1710237600, "req": {"target": "/a"}, "hdrs": {"ua": ["curl/8", "other"]}})
    rows = parse_lines("jsonl", lines, fields={"ts": "$.t", "path": "req.target", "user_agent": "hdrs.ua"})
    assert [(r["ts"], r["path"], r["user_agent"]) for r in rows] == [(utc(2024, 3, 12, 10, 0, 0), "/a", "curl/8")]


def test_unknown_field_override_is_an_error() -> None:
    lines = jl({"ts": 1710237600, "path": "/"})
    with pytest.raises(FieldMappingError, match="unknown column"):
        formats.REGISTRY["jsonl"].bind(lines, ParseOptions(fields={"colour": "x.y"}))


def test_invalid_and_non_object_lines_are_rejected_with_reasons(tmp_path: Path) -> None:
    good = jl(
        {"ts": "2024-03-12T10:00:00Z", "ip": "192.0.2.1", "path": "/a", "status": 200},
        {"ts": "2024-03-12T10:00:01Z", "ip": "192.0.2.1", "path": "/b", "status": 200},
    )
    lines = [
        good[0],
        '{"ts": "2024-03-12T10:00:02Z", "path": "/c"',  # cut off
        "[1, 2, 3]",
        '"just a string"',
        '{"ts": "yesterday", "path": "/d"}',
        good[1],
    ]
    case, report = ingest_lines(tmp_path, "app.jsonl", lines)
    (result,) = report.results
    assert (result.format, result.lines, result.events, result.rejects) == ("jsonl", 6, 2, 4)
    rejects = case.con.execute("select line_no, line, reason from rejects order by line_no").fetchall()
    assert rejects == [
        (2, lines[1], "invalid JSON"),
        (3, "[1, 2, 3]", "JSON value is not an object"),
        (4, '"just a string"', "JSON value is not an object"),
        (5, '{"ts": "yesterday", "path": "/d"}', "missing or unparseable timestamp"),
    ]
    assert case.con.execute("select line_no, path from events order by 1").fetchall() == [(1, "/a"), (6, "/b")]


def test_json_without_time_or_target_is_not_an_access_log() -> None:
    from forensics.store.db import connect

    con = connect(":memory:")
    fmt = formats.REGISTRY["jsonl"]
    assert fmt.matches(con, jl({"level": "info", "msg": "started"})) == [False]
    assert fmt.matches(con, jl({"ts": 1, "msg": "no path"})) == [False]
    assert fmt.matches(con, jl({"ts": 1, "path": "/"}, {"ts": 2, "path": "/"})) == [True, True]
