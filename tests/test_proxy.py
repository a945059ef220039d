"""Proxy formats: HAProxy (HTTP, HTTPS, TCP, error; syslog-wrapped or bare), Traefik CLF, Envoy.

Lines are written from the vendors' documentation; expected values are read off the lines.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from forensics import Case, IngestOptions, formats, ingest
from forensics.errors import TimezoneRequiredError
from forensics.formats.base import NOT_AN_ENTRY, ParseOptions
from forensics.formats.layout import compile_layout
from forensics.store.db import connect
from tests.formathelpers import event_values, parse_lines, parse_one, utc

# HAProxy Configuration Manual 8.2.3 "HTTP log format": the example line, behind its RFC 3164
# header (note the space-padded day).
HTTP_DOC = (
    "Feb  6 12:14:14 localhost haproxy[14389]: 10.0.1.2:33317 [06/Feb/2009:12:14:14.655] http-in "
    'static/srv1 10/0/30/69/109 200 2750 - - ---- 1/1/1/1/0 0/0 {1wt.eu} {} "GET /index.html HTTP/1.1"'
)
# 8.2.2 "TCP log format": the example line.
TCP_DOC = (
    "Feb  6 12:12:56 localhost haproxy[14387]: 10.0.1.2:33313 [06/Feb/2009:12:12:51.443] fnt "
    "bck/srv1 0/0/5007 212 -- 0/0/0/0/3 0/0"
)
# 8.2.4 "HTTPS log format" (2.5+): HTTP fields, then fc_err/ssl_fc_err/ssl_c_err/ssl_c_ca_err/
# ssl_fc_is_resumed and ssl_fc_sni/ssl_version/ssl_ciphers.
HTTPS_DOC = (
    "Feb  6 12:14:14 localhost haproxy[14389]: 10.0.1.2:33317 [06/Feb/2009:12:14:14.655] https-in~ "
    'static/srv1 10/0/30/69/109 200 2750 - - ---- 1/1/1/1/0 0/0 {1wt.eu} {} "GET /index.html HTTP/1.1" '
    "0/0/0/0/0 1wt.eu/TLSv1.3/TLS_AES_256_GCM_SHA384"
)
# 8.2.5 "Error log format": the example line.
ERROR_DOC = (
    "Dec  3 18:27:14 localhost haproxy[6103]: 127.0.0.1:56059 [03/Dec/2012:17:35:10.380] frt/f1: "
    "Connection error during SSL handshake"
)


def test_haproxy_http_line_from_the_manual() -> None:
    row = parse_one("haproxy", HTTP_DOC, tz="Europe/Paris")  # CET in February: UTC+1
    assert event_values(row) == {
        "ts": utc(2009, 2, 6, 11, 14, 14, 655000),
        "ts_offset_min": 60,
        "client_ip": "10.0.1.2",
        "method": "GET",
        "path": "/index.html",
        "protocol": "HTTP/1.1",
        "status": 200,
        "bytes_sent": 2750,
        "duration_ms": 109.0,
        "extra": {
            "client_port": "33317",
            "syslog_timestamp": "Feb  6 12:14:14",
            "syslog_hostname": "localhost",
            "process_name": "haproxy",
            "pid": "14389",
            "frontend_name": "http-in",
            "backend_name": "static",
            "server_name": "srv1",
            "TR": "10",
            "Tw": "0",
            "Tc": "30",
            "Tr": "69",
            "Ta": "109",
            "termination_state": "----",
            "actconn": "1",
            "feconn": "1",
            "beconn": "1",
            "srv_conn": "1",
            "retries": "0",
            "srv_queue": "0",
            "backend_queue": "0",
            "captured_request_headers": "1wt.eu",
        },
    }
    assert row["host"] is None and row["user_agent"] is None  # captures are not guessed


def test_haproxy_tcp_line_is_a_connection_event() -> None:
    row = parse_one("haproxy", TCP_DOC, tz="UTC")
    assert event_values(row) == {
        "ts": utc(2009, 2, 6, 12, 12, 51, 443000),
        "ts_offset_min": 0,
        "client_ip": "10.0.1.2",
        "bytes_sent": 212,
        "duration_ms": 5007.0,
        "extra": {
            "client_port": "33313",
            "syslog_timestamp": "Feb  6 12:12:56",
            "syslog_hostname": "localhost",
            "process_name": "haproxy",
            "pid": "14387",
            "frontend_name": "fnt",
            "backend_name": "bck",
            "server_name": "srv1",
            "Tw": "0",
            "Tc": "0",
            "Tt": "5007",
            "termination_state": "--",
            "actconn": "0",
            "feconn": "0",
            "beconn": "0",
            "srv_conn": "0",
            "retries": "3",
            "srv_queue": "0",
            "backend_queue": "0",
        },
    }


def test_haproxy_https_line_keeps_tls_fields() -> None:
    row = parse_one("haproxy", HTTPS_DOC, tz="UTC")
    assert (row["method"], row["path"], row["status"], row["duration_ms"]) == (
        "GET",
        "/index.html",
        200,
        109.0,
    )
    tls = {k: row["extra"][k] for k in row["extra"] if k.startswith(("fc_", "ssl_"))}
    assert tls == {
        "fc_err": "0",
        "ssl_fc_err": "0",
        "ssl_c_err": "0",
        "ssl_c_ca_err": "0",
        "ssl_fc_is_resumed": "0",
        "ssl_fc_sni": "1wt.eu",
        "ssl_version": "TLSv1.3",
        "ssl_ciphers": "TLS_AES_256_GCM_SHA384",
    }
    assert row["extra"]["frontend_name"] == "https-in~"  # %ft: '~' marks an SSL frontend


def test_haproxy_error_line_is_a_connection_event() -> None:
    row = parse_one("haproxy", ERROR_DOC, tz="UTC")
    assert row["client_ip"] == "127.0.0.1" and row["ts"] == utc(2012, 12, 3, 17, 35, 10, 380000)
    assert (row["method"], row["path"], row["status"]) == (None, None, None)
    assert row["extra"]["frontend_name"] == "frt"
    assert row["extra"]["bind_name"] == "f1"
    assert row["extra"]["message"] == "Connection error during SSL handshake"


BARE = (
    "10.0.1.2:33317 [06/Feb/2009:12:14:14.655] http-in static/srv1 10/0/30/69/109 200 2750 - - ---- "
    '1/1/1/1/0 0/0 "GET /a?b=1 HTTP/1.1"'
)


@pytest.mark.parametrize(
    ("prefix", "syslog"),
    [
        ("", {}),  # stdout / docker (`log stdout format raw`)
        ("<134>", {"syslog_pri": "134"}),  # `format short`
        (
            "<134>1 2009-02-06T12:14:14.700+01:00 lb1 haproxy 14389 - - ",  # RFC 5424
            {
                "syslog_pri": "134",
                "syslog_timestamp": "2009-02-06T12:14:14.700+01:00",
                "syslog_hostname": "lb1",
                "process_name": "haproxy",
                "pid": "14389",
            },
        ),
        (
            '<134>1 2009-02-06T12:14:14.700+01:00 lb1 haproxy 14389 HTTP [meta x="1"] ',
            {
                "syslog_pri": "134",
                "syslog_timestamp": "2009-02-06T12:14:14.700+01:00",
                "syslog_hostname": "lb1",
                "process_name": "haproxy",
                "pid": "14389",
                "msgid": "HTTP",
                "structured_data": '[meta x="1"]',
            },
        ),
        (
            "2009-02-06T12:14:14.700123+01:00 lb1 haproxy[14389]: ",  # rsyslog high-precision
            {
                "syslog_timestamp": "2009-02-06T12:14:14.700123+01:00",
                "syslog_hostname": "lb1",
                "process_name": "haproxy",
                "pid": "14389",
            },
        ),
        (
            "<134>Feb  6 12:14:14 haproxy[14389]: ",  # HAProxy's own RFC 3164, no hostname
            {
                "syslog_pri": "134",
                "syslog_timestamp": "Feb  6 12:14:14",
                "process_name": "haproxy",
                "pid": "14389",
            },
        ),
    ],
)
def test_haproxy_prefixes(prefix: str, syslog: dict[str, str]) -> None:
    row = parse_one("haproxy", prefix + BARE, tz="UTC")
    assert (row["client_ip"], row["path"], row["query"]) == ("10.0.1.2", "/a", "b=1")
    assert row["ts"] == utc(2009, 2, 6, 12, 14, 14, 655000)
    keys = (
        "syslog_pri",
        "syslog_timestamp",
        "syslog_hostname",
        "process_name",
        "pid",
        "msgid",
        "structured_data",
    )
    assert {k: v for k, v in row["extra"].items() if k in keys} == syslog
    assert "captured_request_headers" not in row["extra"]  # no capture: no braces at all


def test_haproxy_ipv6_unix_and_odd_values() -> None:
    lines = [
        # IPv6 client: written without brackets, the port after the last colon
        BARE.replace("10.0.1.2:33317", "2001:db8::17:40112"),
        # option logasap: '+' before Ta and bytes_read; an aborted request: timers -1, <BADREQ>
        "10.0.1.3:1 [06/Feb/2009:12:14:14.655] http-in http-in/<NOSRV> -1/-1/-1/-1/+3 400 +187 - - CR-- "
        '1/1/0/0/0 0/0 "<BADREQ>"',
        # only one capture block: it cannot say whether it holds request or response headers
        BARE.replace('0/0 "GET', '0/0 {Mozilla/5.0 (X11)|example.org} "GET'),
        # the request is the only field that may contain quotes; a line cut in the request
        BARE.replace("/a?b=1", '/a"b'),
        BARE[:-10],
        # UNIX socket client
        BARE.replace("10.0.1.2:33317", "unix:1"),
    ]
    rows = parse_lines("haproxy", lines, tz="UTC")
    assert all(r["reject_reason"] is None for r in rows), [r["reject_reason"] for r in rows]
    assert rows[0]["client_ip"] == "2001:db8::17" and rows[0]["extra"]["client_port"] == "40112"
    r = rows[1]
    assert (r["status"], r["bytes_sent"], r["duration_ms"], r["method"], r["request_raw"]) == (
        400,
        187,
        3.0,
        None,
        "<BADREQ>",
    )
    assert {k: r["extra"][k] for k in ("TR", "Tw", "Tc", "Tr", "Ta", "bytes_read", "server_name")} == {
        "TR": "-1",
        "Tw": "-1",
        "Tc": "-1",
        "Tr": "-1",
        "Ta": "+3",
        "bytes_read": "+187",
        "server_name": "<NOSRV>",
    }
    assert rows[2]["extra"]["captured_headers"] == "Mozilla/5.0 (X11)|example.org"
    assert "captured_request_headers" not in rows[2]["extra"]
    assert rows[3]["path"] == '/a"b'
    assert (rows[4]["method"], rows[4]["path"], rows[4]["query"], rows[4]["protocol"]) == (
        "GET",
        "/a",
        "b=1",
        None,
    )
    assert rows[5]["client_ip"] == "unix"


def test_haproxy_timer_minus_one_is_null_not_negative() -> None:
    line = BARE.replace("10/0/30/69/109", "0/-1/-1/-1/-1").replace(" 200 ", " -1 ")
    row = parse_one("haproxy", line, tz="UTC")
    assert row["duration_ms"] is None and row["status"] is None


def test_haproxy_rejects_say_what_the_line_is() -> None:
    lines = [
        "Feb 25 16:19:38 192.168.4.2 haproxy[1]: Proxy prod_http_in started.",
        "Feb 25 16:19:40 192.168.4.2 haproxy[1]: Server bk_admin/nginx_sonst is DOWN, reason: Layer4 timeout.",
        "[NOTICE]   (1) : haproxy version is 2.4.0",
        "Feb 25 16:19:41 web1 sshd[99]: Accepted publickey for root",
        BARE.replace(" 200 2750", " 200"),  # a field missing
        "garbage",
        "",
    ]
    reasons = [r["reject_reason"] for r in parse_lines("haproxy", lines, tz="UTC")]
    assert (
        reasons[0]
        == NOT_AN_ENTRY + "syslog message from haproxy (start-up, health check or other daemon message)"
    )
    assert reasons[1] == reasons[0]
    assert reasons[2] == NOT_AN_ENTRY + "HAProxy daemon message"
    assert (
        reasons[3]
        == NOT_AN_ENTRY + "syslog message from sshd (start-up, health check or other daemon message)"
    )
    assert reasons[4] == "HAProxy entry with an unexpected field layout (a custom log-format?)"
    assert reasons[5] == "not a haproxy line"
    assert reasons[6] == "empty line"


def test_haproxy_needs_tz() -> None:
    with pytest.raises(TimezoneRequiredError):
        formats.REGISTRY["haproxy"].bind([HTTP_DOC], ParseOptions())


def test_haproxy_sniffing() -> None:
    con = connect(":memory:")
    sample = [
        "Feb  6 12:14:13 localhost haproxy[1]: Proxy http-in started.",
        HTTP_DOC,
        TCP_DOC,
        HTTPS_DOC,
        ERROR_DOC,
    ]
    assert formats.REGISTRY["haproxy"].matches(con, sample) == [False, True, True, True, True]
    assert formats.sniff(con, sample).best is formats.REGISTRY["haproxy"]
    long_line = HTTP_DOC.replace("{1wt.eu}", "{" + "x" * 5000 + "}")  # matched by RE2, not re
    assert formats.REGISTRY["haproxy"].matches(con, [long_line, "y" * 5000 + " [x"]) == [True, False]
    combined = formats.REGISTRY["combined"].example
    assert formats.REGISTRY["haproxy"].matches(con, [combined]) == [False]


# Traefik documentation, "Access Logs" / Common Log Format.
TRAEFIK = (
    '192.0.2.10 - alice [12/Mar/2024:10:00:00 +0100] "POST /api/v2/referrals?id=7 HTTP/2.0" 201 1832 '
    '"https://app.example.com/" "Mozilla/5.0 (X11)" 4711 "api-router@docker" "http://172.18.0.5:8080" 12ms'
)

TRAEFIK_WANT = {
    "ts": utc(2024, 3, 12, 9, 0, 0),
    "ts_offset_min": 60,
    "client_ip": "192.0.2.10",
    "principal": "alice",
    "method": "POST",
    "path": "/api/v2/referrals",
    "query": "id=7",
    "protocol": "HTTP/2.0",
    "status": 201,
    "bytes_sent": 1832,
    "duration_ms": 12.0,
    "referer": "https://app.example.com/",
    "user_agent": "Mozilla/5.0 (X11)",
    "extra": {
        "RequestCount": "4711",
        "RouterName": "api-router@docker",
        "ServiceURL": "http://172.18.0.5:8080",
    },
}


def test_traefik_clf() -> None:
    assert event_values(parse_one("traefik_clf", TRAEFIK)) == TRAEFIK_WANT


def test_traefik_no_router_and_sniffing() -> None:
    line = '192.0.2.11 - - [12/Mar/2024:10:00:01 +0000] "GET /nope HTTP/1.1" 404 19 "-" "-" 4712 "-" "-" 0ms'
    row = parse_one("traefik_clf", line)
    assert (row["status"], row["duration_ms"], row["extra"]) == (404, 0.0, {"RequestCount": "4712"})
    con = connect(":memory:")
    assert formats.sniff(con, [TRAEFIK, line]).best is formats.REGISTRY["traefik_clf"]


# Envoy documentation, "Access logging": the example of the default format.
ENVOY_DOC = (
    '[2016-04-15T20:17:00.310Z] "POST /api/v1/locations HTTP/2" 204 - 154 0 226 100 "10.0.35.28" '
    '"nsq2http" "cc21d9b0-cf5c-432b-8c7e-98aeb7988cd2" "locations" "tcp://10.0.2.1:80"'
)
# Istio documentation, "Envoy Access Logs": a line of its default format (a client's request).
ISTIO_DOC = (
    '[2020-11-25T21:26:18.409Z] "GET /status/418 HTTP/1.1" 418 - via_upstream - "-" 0 135 4 4 "-" '
    '"curl/7.73.0-DEV" "84961386-6d84-929d-98bd-c5aee93b5c88" "httpbin:8000" "10.44.1.27:80" '
    "outbound|8000||httpbin.foo.svc.cluster.local 10.44.1.23:37652 10.0.45.184:8000 10.44.1.23:46520 - default"
)

ENVOY_WANT = {
    "ts": utc(2016, 4, 15, 20, 17, 0, 310000),
    "ts_offset_min": 0,
    "forwarded_for": "10.0.35.28",
    "method": "POST",
    "host": "locations",
    "path": "/api/v1/locations",
    "protocol": "HTTP/2",
    "status": 204,
    "bytes_received": 154,
    "bytes_sent": 0,
    "duration_ms": 226.0,
    "user_agent": "nsq2http",
    "request_id": "cc21d9b0-cf5c-432b-8c7e-98aeb7988cd2",
    "extra": {"RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)": "100", "UPSTREAM_HOST": "tcp://10.0.2.1:80"},
}


def test_envoy_default_format() -> None:
    assert event_values(parse_one("envoy", ENVOY_DOC)) == ENVOY_WANT


ISTIO_WANT = {
    "ts": utc(2020, 11, 25, 21, 26, 18, 409000),
    "ts_offset_min": 0,
    "client_ip": "10.44.1.23",
    "method": "GET",
    "host": "httpbin:8000",
    "path": "/status/418",
    "protocol": "HTTP/1.1",
    "status": 418,
    "bytes_received": 0,
    "bytes_sent": 135,
    "duration_ms": 4.0,
    "user_agent": "curl/7.73.0-DEV",
    "request_id": "84961386-6d84-929d-98bd-c5aee93b5c88",
    "extra": {
        "RESPONSE_CODE_DETAILS": "via_upstream",
        "RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)": "4",
        "UPSTREAM_HOST": "10.44.1.27:80",
        "UPSTREAM_CLUSTER": "outbound|8000||httpbin.foo.svc.cluster.local",
        "UPSTREAM_LOCAL_ADDRESS": "10.44.1.23:37652",
        "DOWNSTREAM_LOCAL_ADDRESS": "10.0.45.184:8000",
        "DOWNSTREAM_REMOTE_ADDRESS": "10.44.1.23:46520",
        "ROUTE_NAME": "default",
    },
}


def test_envoy_istio_format() -> None:
    assert event_values(parse_one("envoy_istio", ISTIO_DOC)) == ISTIO_WANT


def test_envoy_tcp_and_no_response_lines() -> None:
    # a TCP proxy line: method, path and protocol are "-"; response code 0: nothing was sent
    tcp = '[2024-03-12T10:00:00.000Z] "- - -" 0 - 1024 2048 5000 - "-" "-" "-" "-" "10.2.0.1:5432"'
    row = parse_one("envoy", tcp)
    assert (row["method"], row["path"], row["protocol"], row["status"]) == (None, None, None, 0)
    assert (row["bytes_received"], row["bytes_sent"], row["duration_ms"]) == (1024, 2048, 5000.0)


def test_envoy_sniffing_tells_the_two_layouts_apart() -> None:
    con = connect(":memory:")
    assert formats.sniff(con, [ENVOY_DOC]).best is formats.REGISTRY["envoy"]
    assert formats.sniff(con, [ISTIO_DOC]).best is formats.REGISTRY["envoy_istio"]
    assert formats.REGISTRY["envoy"].matches(con, [ISTIO_DOC]) == [False]
    assert formats.REGISTRY["envoy_istio"].matches(con, [ENVOY_DOC]) == [False]


def test_envoy_format_string_as_log_format() -> None:
    # pasted from YAML, with its key, quotes and the trailing \n
    pasted = (
        'text_format: "[%START_TIME%] %DOWNSTREAM_REMOTE_ADDRESS% \\"%REQ(:METHOD)% %REQ(:PATH)% '
        '%PROTOCOL%\\" %RESPONSE_CODE% %BYTES_SENT% %DURATION% \\"%REQ(user-agent)%\\" %UPSTREAM_CLUSTER%\\n"'
    )
    layout = compile_layout(pasted)
    assert layout.dialect == "envoy"
    line = '[2024-03-12T10:00:00.5Z] [2001:db8::5]:40000 "GET /x?y=1 HTTP/1.1" 200 10 3 "curl/8" backend'
    row = parse_one(formats.custom_format(pasted), line)
    assert event_values(row) == {
        "ts": utc(2024, 3, 12, 10, 0, 0, 500000),
        "ts_offset_min": 0,
        "client_ip": "2001:db8::5",
        "method": "GET",
        "path": "/x",
        "query": "y=1",
        "protocol": "HTTP/1.1",
        "status": 200,
        "bytes_sent": 10,
        "duration_ms": 3.0,
        "user_agent": "curl/8",
        "extra": {"DOWNSTREAM_REMOTE_ADDRESS": "[2001:db8::5]:40000", "UPSTREAM_CLUSTER": "backend"},
    }


def test_envoy_start_time_epoch_operator() -> None:
    fmt = formats.custom_format("%START_TIME(%s.%3f)% %REQ(:METHOD)% %REQ(:PATH)% %RESPONSE_CODE%")
    row = parse_one(fmt, "1527590590.528 GET /a 200")
    assert row["ts"] == utc(2018, 5, 29, 10, 43, 10, 528000) and row["ts_offset_min"] is None


def test_end_to_end_ingest_of_proxy_logs(tmp_path: Path) -> None:
    ev = tmp_path / "evidence"
    ev.mkdir()
    haproxy_lines = [
        "Feb  6 12:14:13 localhost haproxy[14389]: Proxy http-in started.",
        HTTP_DOC,
        TCP_DOC,
        HTTPS_DOC,
        ERROR_DOC,
        "Feb  6 12:14:15 localhost haproxy[14389]: 10.0.1.9:1 [06/Feb/2009:12:14:15.000] broken",
    ]
    with gzip.open(ev / "haproxy.log.1.gz", "wt", encoding="utf-8") as fh:
        fh.write("\n".join(haproxy_lines) + "\n")
    (ev / "traefik.log").write_text(TRAEFIK + "\n" + TRAEFIK.replace("4711", "4712") + "\n")
    (ev / "envoy.log").write_text(ENVOY_DOC + "\n\n" + ISTIO_DOC + "\n")
    case = Case.create(tmp_path / "case.duckdb")
    report = ingest(case, [ev], IngestOptions(tz="Europe/Paris"))
    got = {r.path.name: (r.status, r.format, r.lines, r.events, r.rejects) for r in report.results}
    assert got == {
        "haproxy.log.1.gz": ("ingested", "haproxy", 6, 4, 2),
        "traefik.log": ("ingested", "traefik_clf", 2, 2, 0),
        # a tie goes to the more specific Istio layout; the other line is taken by the second
        # pass (mixed layouts); the empty line is a reject
        "envoy.log": ("ingested", "envoy_istio", 3, 2, 1),
    }
    reasons = case.con.execute("select reason from rejects order by reason").fetchall()
    assert [r[0] for r in reasons] == [
        "HAProxy entry with an unexpected field layout (a custom log-format?)",
        "empty line",
        NOT_AN_ENTRY + "syslog message from haproxy (start-up, health check or other daemon message)",
    ]
    ts = case.con.execute(
        "select min(ts) from events e join sources s using (source_id) where s.format = 'haproxy'"
    )
    assert ts.fetchone() == (utc(2009, 2, 6, 11, 12, 51, 443000),)  # local Paris time, CET


# The layout-driven proxy formats' cases for tests/test_formats_clf.py's per-format checks.
PROXY_REPRESENTATIVE = {
    "traefik_clf": (TRAEFIK, TRAEFIK_WANT),
    "envoy": (ENVOY_DOC, ENVOY_WANT),
    "envoy_istio": (ISTIO_DOC, ISTIO_WANT),
}
