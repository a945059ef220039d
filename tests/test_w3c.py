"""W3C extended (IIS) and CloudFront logs: #Fields-driven parsing, defaults, encodings, rejects.

Lines are written from the sources' documentation:
- W3C Working Draft WD-logfile-960221 (directives, whitespace-separated fields, "quoted"
  strings with "" inside, GMT times);
- Microsoft, "W3C Logging" (learn.microsoft.com/windows/win32/http/w3c-logging): field names,
  date/time in UTC, time-taken in ms; "Configure logging in IIS": default field sets;
- AWS CloudFront Developer Guide, "Standard logging reference" (33 fields in order, UTC,
  URL-encoded values, status 000) and "Real-time logs" (epoch timestamp, chosen fields).
"""

from __future__ import annotations

import gzip
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from forensics import Case, IngestOptions, formats, ingest
from forensics.cli import main
from forensics.errors import LogFormatError, TimezoneRequiredError
from forensics.formats.base import NOT_AN_ENTRY
from tests.formathelpers import event_values, parse_lines, utc, write_lines

IIS_FIELDS = (
    "#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) "
    "cs(Referer) sc-status sc-substatus sc-win32-status time-taken"
)
IIS_HEADER = [
    "#Software: Microsoft Internet Information Services 10.0",
    "#Version: 1.0",
    "#Date: 2024-03-12 09:59:58",
    IIS_FIELDS,
]
IIS_LINE = (
    "2024-03-12 10:00:00 10.0.0.5 GET /api/v2/referrals/51234 full=1&x=%27 443 CORP\\jdoe "
    "203.0.113.9 Mozilla/5.0+(Windows+NT+10.0;+Win64;+x64)+like+Gecko https://app.example.com/ "
    "200 0 0 47"
)


def w3c_rows(lines: list[str], tz: str | None = None) -> list[dict[str, object]]:
    return parse_lines("w3c", lines, tz=tz)


def test_iis10_line_exact_values() -> None:
    rows = w3c_rows([*IIS_HEADER, IIS_LINE])
    assert [r["reject_reason"] for r in rows[:4]] == [
        NOT_AN_ENTRY + "W3C #Software directive",
        NOT_AN_ENTRY + "W3C #Version directive",
        NOT_AN_ENTRY + "W3C #Date directive",
        NOT_AN_ENTRY + "W3C #Fields directive",
    ]
    assert rows[0]["line"] == IIS_HEADER[0]  # the directive text is kept with the reject
    assert event_values(rows[4]) == {
        "ts": utc(2024, 3, 12, 10, 0, 0),  # UTC as logged: no offset recorded
        "client_ip": "203.0.113.9",
        "method": "GET",
        "path": "/api/v2/referrals/51234",
        "query": "full=1&x=%27",
        "status": 200,
        "duration_ms": 47.0,
        "user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) like Gecko",
        "referer": "https://app.example.com/",
        "principal": "CORP\\jdoe",
        "extra": {"s-ip": "10.0.0.5", "s-port": "443", "sc-substatus": "0", "sc-win32-status": "0"},
    }


def test_fields_directive_changes_mid_file_and_date_comes_from_date_directive() -> None:
    lines = [
        "#Fields: date time c-ip cs-method cs-uri-stem sc-status sc-bytes cs-bytes cs-version cs-host",
        "2024-03-12 10:00:00 203.0.113.9 POST /login 302 512 900 HTTP/1.1 portal.example.com",
        "#Date: 2024-03-13 00:00:00",
        "#Fields: time c-ip cs-method cs-uri-stem sc-status X-Forwarded-For",
        "00:00:05 10.0.0.1 GET /export.csv 200 198.51.100.7",
    ]
    rows = w3c_rows(lines)
    assert event_values(rows[1]) == {
        "ts": utc(2024, 3, 12, 10, 0, 0),
        "client_ip": "203.0.113.9",
        "method": "POST",
        "host": "portal.example.com",
        "path": "/login",
        "protocol": "HTTP/1.1",
        "status": 302,
        "bytes_sent": 512,
        "bytes_received": 900,
    }
    assert event_values(rows[4]) == {
        "ts": utc(2024, 3, 13, 0, 0, 5),
        "client_ip": "10.0.0.1",
        "method": "GET",
        "path": "/export.csv",
        "status": 200,
        "forwarded_for": "198.51.100.7",
    }


def test_quoted_values_with_doubled_quotes_and_spaces() -> None:
    lines = [
        "#Fields: date time c-ip cs-method cs-uri-stem sc-status cs(User-Agent) cs(Cookie) x-note",
        '2024-03-12 10:00:00 203.0.113.9 GET /a 200 "Mozilla/5.0 (X11; +Linux)" OutlookSession="{A-B}" " ""hi"" w/ spaces "',
        '2024-03-12 10:00:01 203.0.113.9 GET /b 200 "" - ""',
    ]
    a, b = w3c_rows(lines)[1:]
    # a quoted user agent has real spaces: its '+' is a plus, not an IIS-encoded space
    assert a["user_agent"] == "Mozilla/5.0 (X11; +Linux)"
    # quotes inside an unquoted value are part of it; "" inside a quoted one is a quote
    assert a["extra"] == {"cs(Cookie)": 'OutlookSession="{A-B}"', "x-note": ' "hi" w/ spaces '}
    assert b["reject_reason"] is None and b["user_agent"] is None and b["extra"] is None


def test_iis_plus_decoding_of_user_agent() -> None:
    lines = [
        "#Fields: date time c-ip cs-uri-stem sc-status cs(User-Agent)",
        "2024-03-12 10:00:00 203.0.113.9 / 200 Mozilla/5.0+(compatible;+bingbot/2.0;++http://www.bing.com/bingbot.htm)",
        "2024-03-12 10:00:00 203.0.113.9 / 200 a+++b",
    ]
    rows = w3c_rows(lines)
    assert rows[1]["user_agent"] == "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"
    assert rows[2]["user_agent"] == "a + b"


@pytest.mark.parametrize(
    ("line", "want"),
    [
        # IIS 8.5/10 default
        (
            "2024-03-12 10:00:00 10.0.0.5 GET /a q=1 80 - 203.0.113.9 curl/8.4.0 - 404 0 2 15",
            {
                "client_ip": "203.0.113.9",
                "path": "/a",
                "query": "q=1",
                "status": 404,
                "duration_ms": 15.0,
                "user_agent": "curl/8.4.0",
            },
        ),
        # IIS 7 default (no referer)
        (
            "2024-03-12 10:00:00 10.0.0.5 GET /a - 80 - 203.0.113.9 curl/8.4.0 200 0 0 31",
            {"client_ip": "203.0.113.9", "status": 200, "duration_ms": 31.0},
        ),
        # IIS 6 default (site name, no time-taken)
        (
            "2024-03-12 10:00:00 W3SVC1 10.0.0.5 GET /a - 80 - 203.0.113.9 curl/8.4.0 500 0 0",
            {"client_ip": "203.0.113.9", "status": 500, "duration_ms": None},
        ),
    ],
)
def test_headerless_iis_default_layouts(line: str, want: dict[str, object]) -> None:
    (row,) = w3c_rows([line])
    assert row["reject_reason"] is None
    assert row["ts"] == utc(2024, 3, 12, 10, 0, 0)
    assert {k: row[k] for k in want} == want


def test_malformed_lines_are_rejected_with_reasons() -> None:
    lines = [
        IIS_FIELDS,
        IIS_LINE.rsplit(" ", 1)[0],  # one field short
        "2024-13-45 25:00:00 10.0.0.5 GET /a - 443 - 203.0.113.9 - - 200 0 0 4",  # bad date
        "",
    ]
    rows = w3c_rows(lines)
    assert [r["reject_reason"] for r in rows[1:]] == [
        "expected 15 fields (as the #Fields directive lists), got 14",
        "missing or unparseable timestamp",
        "empty line",
    ]
    (orphan,) = w3c_rows(["2024-03-12 10:00:00 203.0.113.9 GET /a"])
    assert orphan["reject_reason"] == (
        "no #Fields directive before this line, and it matches no default IIS layout (5 fields)"
    )


def test_local_time_fields_need_tz() -> None:
    lines = [
        "#Fields: date-local time-local c-ip cs-uri-stem sc-status",
        "2024-07-12 11:00:00 203.0.113.9 /a 200",
    ]
    with pytest.raises(TimezoneRequiredError, match="--tz"):
        w3c_rows(lines)
    row = w3c_rows(lines, tz="Europe/London")[1]
    assert (row["ts"], row["ts_offset_min"]) == (utc(2024, 7, 12, 10, 0, 0), 60)


def test_time_taken_of_other_software_stays_in_extra() -> None:
    # the W3C draft says seconds, IIS writes ms; another server's unit is not assumed
    lines = [
        "#Software: Oracle9iAS Web Cache/2.0.0.2.0",
        "#Fields: date time c-ip cs-uri sc-status time-taken",
        "2001-10-31 00:00:18 64.103.37.2 /x?y=1 200 370879",
    ]
    row = w3c_rows(lines)[2]
    assert (row["path"], row["query"], row["duration_ms"]) == ("/x", "y=1", None)
    assert row["extra"] == {"time-taken": "370879"}


def test_sniffer_claims_w3c_and_not_other_formats_lines() -> None:
    con = duckdb.connect()
    sample = [*IIS_HEADER, IIS_LINE]
    assert formats.REGISTRY["w3c"].matches(con, sample) == [True] * 5
    clf = '127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /a HTTP/1.0" 200 2326'
    assert formats.REGISTRY["w3c"].matches(con, [clf]) == [False]
    assert formats.REGISTRY["cloudfront"].matches(con, sample) == [False] * 5
    assert formats.sniff(con, [cf(CF_33)]).best is formats.REGISTRY["cloudfront"]
    header = "#Fields: " + " ".join(formats.cloudfront.STANDARD_FIELDS)
    assert formats.sniff(con, ["#Version: 1.0", header, cf(CF_33)]).best is formats.REGISTRY["cloudfront"]


# ---- CloudFront ----------------------------------------------------------------------------

CF_33 = [
    "2019-12-04",
    "21:02:31",
    "LAX1",
    "392",
    "192.0.2.100",
    "GET",
    "d111111abcdef8.cloudfront.net",
    "/index.html",
    "200",
    "-",
    "Mozilla/5.0%20(Windows%20NT%2010.0;%20Win64;%20x64)",
    "a=%2520b&c=%E2%82%AC",
    "session%3Dabc",
    "Hit",
    "SOX4xwn4XV6Q4rgb7XiVGOHms_BGlTAC4KyHmureZmBNrjGdRLiNIQ==",
    "www.example.com",
    "https",
    "23",
    "0.001",
    "198.51.100.7",
    "TLSv1.2",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "Hit",
    "HTTP/2.0",
    "-",
    "-",
    "11040",
    "0.001",
    "Hit",
    "text/html",
    "78",
    "-",
    "-",
]


def cf(fields: list[str]) -> str:
    return "\t".join(fields)


def test_cloudfront_headerless_33_fields_exact_values() -> None:
    (row,) = parse_lines("cloudfront", [cf(CF_33)])
    assert event_values(row) == {
        "ts": utc(2019, 12, 4, 21, 2, 31),
        "client_ip": "192.0.2.100",
        "forwarded_for": "198.51.100.7",
        "method": "GET",
        "host": "www.example.com",
        "path": "/index.html",
        "query": "a=%20b&c=€",  # decoded once: what the viewer sent
        "protocol": "HTTP/2.0",
        "status": 200,
        "bytes_sent": 392,
        "bytes_received": 23,
        "duration_ms": 1.0,
        "user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64)",
        "request_id": "SOX4xwn4XV6Q4rgb7XiVGOHms_BGlTAC4KyHmureZmBNrjGdRLiNIQ==",
        "extra": {
            "x-edge-location": "LAX1",
            "cs(Host)": "d111111abcdef8.cloudfront.net",
            "cs(Cookie)": "session=abc",
            "x-edge-result-type": "Hit",
            "cs-protocol": "https",
            "ssl-protocol": "TLSv1.2",
            "ssl-cipher": "ECDHE-RSA-AES128-GCM-SHA256",
            "x-edge-response-result-type": "Hit",
            "c-port": "11040",
            "time-to-first-byte": "0.001",
            "x-edge-detailed-result-type": "Hit",
            "sc-content-type": "text/html",
            "sc-content-len": "78",
        },
    }


def test_cloudfront_variants_and_rejects() -> None:
    old24 = CF_33[:24]
    status000 = [*CF_33[:8], "000", *CF_33[9:]]
    double_ua = [*CF_33[:10], "Mozilla/5.0%2520(X11)", *CF_33[11:]]
    bad_utf8 = [*CF_33[:7], "/a%FFb", *CF_33[8:]]
    extra_field = [*CF_33, "new-field-value"]
    truncated = CF_33[:12]
    lines = [cf(x) for x in (old24, status000, double_ua, bad_utf8, extra_field, truncated)]
    lines.append(cf(CF_33) + "\t")  # a trailing tab (as in the doc's example) is not a field
    rows = parse_lines("cloudfront", lines)
    assert [r["reject_reason"] for r in rows] == [None] * 5 + [
        "not a CloudFront standard log line (24 or more tab-separated fields: date, time, …) (12 fields)",
        None,
    ]
    assert rows[0]["protocol"] == "HTTP/2.0" and rows[0]["extra"]["x-edge-response-result-type"] == "Hit"
    assert rows[1]["status"] is None and rows[1]["extra"]["sc-status"] == "000"
    assert rows[2]["user_agent"] == "Mozilla/5.0 (X11)"
    assert rows[3]["path"] == "/a%FFb"  # not valid UTF-8 once decoded: kept as logged
    assert rows[4]["extra"]["trailing"] == "new-field-value"


def test_cloudfront_header_file_and_count_mismatch() -> None:
    header = "#Fields: " + " ".join(formats.cloudfront.STANDARD_FIELDS)
    lines = ["#Version: 1.0", header, cf(CF_33), cf(CF_33[:30])]
    rows = parse_lines("cloudfront", lines)
    assert rows[0]["reject_reason"] == NOT_AN_ENTRY + "CloudFront #Version directive"
    assert rows[2]["reject_reason"] is None and rows[2]["status"] == 200
    assert rows[3]["reject_reason"] == "expected 33 fields (as the #Fields directive lists), got 30"


REALTIME = (
    "cloudfront-realtime: timestamp c-ip sc-status cs-method cs-host cs-uri-stem time-taken cs-user-agent"
)


def test_cloudfront_realtime_declared_fields() -> None:
    fmt = formats.custom_format(REALTIME)
    line = "1607370074.123\t203.0.113.9\t200\tGET\twww.example.com\t/api/x?id=7\t0.082\tcurl/8.4.0"
    rows = parse_lines(fmt, [line, "1607370074.123\t203.0.113.9"])
    assert event_values(rows[0]) == {
        "ts": utc(2020, 12, 7, 19, 41, 14, 123000),
        "client_ip": "203.0.113.9",
        "method": "GET",
        "host": "www.example.com",
        "path": "/api/x",
        "query": "id=7",
        "status": 200,
        "duration_ms": 82.0,
        "user_agent": "curl/8.4.0",
    }
    assert rows[1]["reject_reason"] == "expected 8 fields (as --log-format lists), got 2"
    with pytest.raises(LogFormatError):
        formats.custom_format("cloudfront-realtime: c-ip sc-status")


def test_w3c_declared_fields_for_headerless_files() -> None:
    fmt = formats.custom_format("#Fields: date time c-ip cs-method cs-uri-stem sc-status")
    (row,) = parse_lines(fmt, ["2024-03-12 10:00:00 203.0.113.9 GET /a 200"])
    assert (row["ts"], row["client_ip"], row["path"], row["status"]) == (
        utc(2024, 3, 12, 10),
        "203.0.113.9",
        "/a",
        200,
    )


# ---- end to end ----------------------------------------------------------------------------


def test_two_files_with_different_fields_in_one_batch(tmp_path: Path) -> None:
    a = write_lines(tmp_path / "ev" / "u_ex240312.log", [*IIS_HEADER, IIS_LINE, IIS_LINE])
    b = write_lines(
        tmp_path / "ev" / "u_ex240313.log",
        [
            "#Date: 2024-03-13 00:00:00",
            "#Fields: time c-ip cs-method cs-uri-stem sc-status",
            "00:00:05 10.0.0.1 GET /export.csv 200",
        ],
    )
    case = Case.create(tmp_path / "case.duckdb")
    report = ingest(case, [a, b])
    assert [(r.status, r.format, r.lines, r.events, r.rejects) for r in report.results] == [
        ("ingested", "w3c", 6, 2, 4),
        ("ingested", "w3c", 3, 1, 2),
    ]
    got = case.sql(
        "select s.path, e.line_no, e.ts, e.path as p, coalesce(e.duration_ms, -1) as duration_ms from events e join sources s using (source_id) "
        "order by 1, 2"
    ).to_dict("records")
    assert [(Path(g["path"]).name, g["line_no"], g["p"], g["duration_ms"]) for g in got] == [
        ("u_ex240312.log", 5, "/api/v2/referrals/51234", 47.0),
        ("u_ex240312.log", 6, "/api/v2/referrals/51234", 47.0),
        ("u_ex240313.log", 3, "/export.csv", -1),
    ]
    assert got[2]["ts"] == utc(2024, 3, 13, 0, 0, 5)
    reasons = case.sql("select reason from rejects order by source_id, line_no")["reason"].tolist()
    assert all(r.startswith(NOT_AN_ENTRY) for r in reasons) and len(reasons) == 6


def test_ingest_compressed_cloudfront_and_realtime_via_cli(tmp_path: Path) -> None:
    gz = tmp_path / "ev" / "E2ABC.2019-12-04-21.abcd.gz"
    gz.parent.mkdir(parents=True)
    header = ["#Version: 1.0", "#Fields: " + " ".join(formats.cloudfront.STANDARD_FIELDS)]
    with gzip.open(gz, "wt", encoding="utf-8") as fh:
        fh.write("\n".join([*header, cf(CF_33), cf(CF_33[:5])]) + "\n")
    case = Case.create(tmp_path / "case.duckdb")
    (res,) = ingest(case, [gz]).results
    assert (res.status, res.format, res.lines, res.events, res.rejects) == ("ingested", "cloudfront", 4, 1, 3)
    case.close()

    rt = write_lines(tmp_path / "rt" / "kinesis.log", ["1607370074.123\t203.0.113.9\t200\tGET\th\t/\t0.1\t-"])
    out = CliRunner().invoke(main, ["ingest", str(tmp_path / "rt.duckdb"), str(rt), "--log-format", REALTIME])
    assert out.exit_code == 0, out.output
    with Case.open(tmp_path / "rt.duckdb") as rt_case:
        assert rt_case.sql("select count(*) n, min(status) s, min(source_id) i from events").to_dict(
            "records"
        ) == [{"n": 1, "s": 200, "i": 1}]
        (fmt,) = rt_case.sql("select format from sources")["format"].tolist()
    assert fmt == "cloudfront-realtime"


def test_realtime_through_the_library(tmp_path: Path) -> None:
    rt = write_lines(tmp_path / "rt.log", ["1607370074.123\t203.0.113.9\t000\tGET\th\t/\t0.1\t-", "garbage"])
    case = Case.create(tmp_path / "case.duckdb")
    (res,) = ingest(case, [rt], IngestOptions(log_format=REALTIME)).results
    assert (res.events, res.rejects) == (1, 1)
    assert case.sql("select status, extra->>'sc-status' raw from events").to_dict("records") == [
        {"status": None, "raw": "000"}
    ]
