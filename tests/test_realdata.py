"""Real access logs written by others parse (≥ 99.9% per folder) and are detected correctly.

Runs on the committed excerpts in tests/data/realdata (always) and on the full files in
../shared/realdata next to the project (when that folder exists). Spot values were read off
the raw lines by hand.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from forensics import Case, IngestOptions, ingest
from forensics.formats.base import NOT_AN_ENTRY
from forensics.store.schema import AWS_FIELDS
from tests.formathelpers import utc

EXCERPTS = Path(__file__).resolve().parent / "data" / "realdata"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "realdata"
FOLDERS = ("combined", "common", "caddy", "azure_appgw", "haproxy", "w3c", "cloudfront", "alb")
# Folders whose logs write local times without an offset (HAProxy; lnav_w3c.3.log logs
# date-local/time-local): ingested with these options.
FOLDER_OPTIONS = {"haproxy": IngestOptions(tz="UTC"), "w3c": IngestOptions(tz="UTC")}
MIN_PARSE_RATE = 0.999

EXPECTED_FORMAT = {
    "elastic-examples_apache_logs.log": "combined",
    "lnav_access_log.0.log": "combined",
    "lnav_access_log.1.log": "combined",
    "lnav_shop_access_log_xff.log": "nginx_main",
    "nielsbasjes_hackers-access.log": "combined",
    "plaso_apache_access_mixed.log": "combined",
    "nasa_aug95_head50.log": "common",
    "lnav_caddy_log.0.jsonl": "caddy",
    "lnav_caddy_log.1.jsonl": "caddy",
    "plaso_azure_application_gateway_access.jsonl": "azure_appgw",
    "lnav_haproxy.0.log": "haproxy",
    **{
        name: "w3c"
        for name in (
            "lnav_w3c.0.log",
            "lnav_w3c.1.log",
            "lnav_w3c.2.log",
            "lnav_w3c.3.log",
            "lnav_w3c.4.log",
            "lnav_w3c.5.log",
            "lnav_w3c.6.log",
            "lnav_w3c_big.0.log",
            "plaso_iis10.log",
            "plaso_iis10_cookies.log",
            "plaso_iis10_edge_cases.log",
            "plaso_iis6.log",
            "plaso_iis7_owa.log",
            "plaso_iis7_sqli.log",
            "plaso_iis_without_date.log",
        )
    },
    **{
        name: "cloudfront"
        for name in (
            "aws-log-parser_cloudfront-multiple.log",
            "aws-log-parser_cloudfront_entry.log",
            "aws-log-parser_cloudfront_entry2.log",
            "aws-log-parser_cloudfront_entry_broken_cookie.log",
            "aws-log-parser_cloudfront_entry_cookie_with_encoding.log",
        )
    },
    # alb/: one raw line per aws-log-parser file; plaso's file mixes ALB, classic ELB and NLB
    # lines (its ELB and NLB lines are parsed in the second pass, see the sources' warnings)
    "aws-log-parser_classic_loadbalancer_http_entry.log": "elb",
    **{
        f"aws-log-parser_loadbalancer_{n}.log": "alb"
        for n in (
            "cloudfront_forward", "cloudfront_forward_h2", "cloudfront_forward_refused", "http2_entry",
            "http2_entry_auth_error", "http2_entry_auth_missing", "http_entry", "https_entry",
            "lambda_entry", "lambda_failed_entry", "secured_websockets_entry", "websockets_entry",
        )
    },
    "plaso_aws_elb_access.log": "alb",
}

# Lines that are not access-log entries (start-up messages, other loggers' records), recognised
# here by hand-written rules independent of the parsers: they must be exactly the NOT_AN_ENTRY
# rejects, and the parse rate is measured over the other lines.
HAPROXY_ENTRY = re.compile(rb"\S+:\d+ \[\d\d/[A-Z][a-z]{2}/\d{4}:")
NOT_ENTRY_LINE: dict[str, Callable[[bytes], bool]] = {
    "caddy": lambda ln: b'"logger":"http.log.access' not in ln,
    "haproxy": lambda ln: HAPROXY_ENTRY.search(ln) is None,
    "w3c": lambda ln: ln.startswith(b"#"),
    "cloudfront": lambda ln: ln.startswith(b"#"),
}

ROOTS = [
    pytest.param(EXCERPTS, id="committed-excerpts"),
    pytest.param(
        SHARED,
        id="shared-realdata",
        marks=pytest.mark.skipif(
            not SHARED.is_dir(), reason=f"{SHARED} not present (only in the project workspace, not in CI)"
        ),
    ),
]


@dataclass
class Ingested:
    root: Path
    case: Case

    def sources(self) -> dict[str, dict[str, Any]]:
        df = self.case.sql("select * from sources")
        return {Path(str(r["path"])).name: {str(k): v for k, v in r.items()} for r in df.to_dict("records")}


@pytest.fixture(scope="module", params=ROOTS)
def realdata(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ingested]:
    root: Path = request.param
    case = Case.create(tmp_path_factory.mktemp("realdata") / "case.duckdb")
    ingest(case, [root / f for f in FOLDERS if f not in FOLDER_OPTIONS])
    for f, options in FOLDER_OPTIONS.items():
        ingest(case, [root / f], options)
    yield Ingested(root, case)
    case.close()


def test_committed_excerpts_are_small_and_complete() -> None:
    names = sorted(p.name for f in FOLDERS for p in (EXCERPTS / f).iterdir())
    assert names == sorted(EXPECTED_FORMAT)
    for f in FOLDERS:
        for p in (EXCERPTS / f).iterdir():
            assert 0 < len(p.read_bytes().splitlines()) <= 300, p.name
    assert (EXCERPTS / "README.md").is_file() and (EXCERPTS / "licenses").is_dir()


@pytest.mark.parametrize("folder", FOLDERS)
def test_parse_rate_per_folder(realdata: Ingested, folder: str) -> None:
    rows = realdata.case.con.execute(
        "select sum(lines), sum(events), sum(rejects) from sources where path like ?",
        [f"%/{folder}/%"],
    ).fetchone()
    assert rows is not None
    lines, events, rejects = (int(x) for x in rows)
    raw = [ln for p in (realdata.root / folder).iterdir() for ln in p.read_bytes().splitlines()]
    assert lines == len(raw) > 0
    assert events + rejects == lines
    is_not_entry = NOT_ENTRY_LINE.get(folder, lambda _: False)
    not_entries = sum(1 for ln in raw if is_not_entry(ln))
    got = realdata.case.con.execute(
        "select count(*) from rejects r join sources s using (source_id) "
        "where s.path like ? and starts_with(r.reason, ?)",
        [f"%/{folder}/%", NOT_AN_ENTRY],
    ).fetchone()
    assert got is not None and got[0] == not_entries
    # blank lines (between IIS Advanced Logging directives) are 'empty line' rejects
    blank = sum(1 for ln in raw if not ln.strip() and not is_not_entry(ln))
    entries = lines - not_entries - blank
    assert events / entries >= MIN_PARSE_RATE, realdata.case.sql("select * from rejects limit 20")


def test_each_file_is_detected_as_its_format(realdata: Ingested) -> None:
    got = {name: (s["status"], s["format"]) for name, s in realdata.sources().items()}
    assert got == {name: ("ingested", fmt) for name, fmt in EXPECTED_FORMAT.items()}


def line_no_of(path: Path, raw: str) -> int:
    """The 1-based number of the one line in ``path`` that is exactly ``raw``."""
    found = [i for i, ln in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if ln == raw]
    assert len(found) == 1, (path, raw, found)
    return found[0]


ELASTIC = "elastic-examples_apache_logs.log"
NIELS = "nielsbasjes_hackers-access.log"
PLASO = "plaso_apache_access_mixed.log"

# (file, a raw line copied from it, values read off that line by hand)
SPOTS: list[tuple[str, str, dict[str, Any]]] = [
    (
        ELASTIC,
        '83.149.9.216 - - [17/May/2015:10:05:03 +0000] "GET /presentations/logstash-monitorama-2013/images/kibana-search.png HTTP/1.1" 200 203023 "http://semicomplete.com/presentations/logstash-monitorama-2013/" "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_1) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/32.0.1700.77 Safari/537.36"',
        {
            "client_ip": "83.149.9.216",
            "ts": utc(2015, 5, 17, 10, 5, 3),
            "ts_offset_min": 0,
            "method": "GET",
            "path": "/presentations/logstash-monitorama-2013/images/kibana-search.png",
            "query": None,
            "protocol": "HTTP/1.1",
            "status": 200,
            "bytes_sent": 203023,
            "referer": "http://semicomplete.com/presentations/logstash-monitorama-2013/",
            "user_agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_1) AppleWebKit/537.36 "
            "(KHTML, like Gecko) Chrome/32.0.1700.77 Safari/537.36",
            "principal": None,
        },
    ),
    (
        ELASTIC,
        '46.118.127.106 - - [20/May/2015:12:05:17 +0000] "GET /scripts/grok-py-test/configlib.py HTTP/1.1" 200 235 "-" "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html',
        {
            "ts": utc(2015, 5, 20, 12, 5, 17),
            "path": "/scripts/grok-py-test/configlib.py",
            "status": 200,
            "bytes_sent": 235,
            "referer": None,
            "user_agent": "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html",
        },
    ),
    (
        ELASTIC,
        r'201.242.142.135 - - [19/May/2015:11:05:10 +0000] "GET /files/logstash/ HTTP/1.0" 200 13316 "http://\xe4\xe5\xe3\xf2\xff\xf0\xed\xee\xe5-\xec\xfb\xeb\xee.\xf0\xf4/" "Mozilla/5.0 (Windows NT 6.1; rv:11.0) Gecko/20100101 Firefox/11.0"',
        {
            "ts": utc(2015, 5, 19, 11, 5, 10),
            "path": "/files/logstash/",
            "protocol": "HTTP/1.0",
            "bytes_sent": 13316,
            "referer": r"http://\xe4\xe5\xe3\xf2\xff\xf0\xed\xee\xe5-\xec\xfb\xeb\xee.\xf0\xf4/",
            "user_agent": "Mozilla/5.0 (Windows NT 6.1; rv:11.0) Gecko/20100101 Firefox/11.0",
        },
    ),
    (
        ELASTIC,
        '64.131.102.243 - - [20/May/2015:14:05:16 +0000] "OPTIONS /projects/xdotool/ HTTP/1.1" 500 626 "-" "Microsoft Office Protocol Discovery"',
        {"method": "OPTIONS", "path": "/projects/xdotool/", "status": 500, "bytes_sent": 626,
         "user_agent": "Microsoft Office Protocol Discovery"},
    ),
    (
        NIELS,
        '2001:41d0:8:f69::1 - - [29/Oct/2015:06:47:36 +0100] "GET / HTTP/1.1" 200 20526 "http://niels.basjes.nl/" "Mozilla/5.0 (Windows NT 6.1) AppleWebKit/537.36 (KHTML, like Gecko) Dragon/36.1.1.21 Chrome/36.0.1985.97 Safari/537.36"',
        {"client_ip": "2001:41d0:8:f69::1", "ts": utc(2015, 10, 29, 5, 47, 36), "ts_offset_min": 60,
         "method": "GET", "path": "/", "status": 200, "bytes_sent": 20526, "referer": "http://niels.basjes.nl/"},
    ),
    (
        NIELS,
        '222.88.236.235 - - [25/Oct/2015:04:39:09 +0100] "GET http://niels.basj.es/acl_users/credentials_cookie_auth/require_login?came_from=http%3A//niels.basj.es/join_form HTTP/1.0" 200 11713 "http://niels.basj.es/" "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_10_1) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/39.0.2171.95 Safari/537.36"',
        {
            "ts": utc(2015, 10, 25, 3, 39, 9),
            "host": "niels.basj.es",
            "path": "/acl_users/credentials_cookie_auth/require_login",
            "query": "came_from=http%3A//niels.basj.es/join_form",
            "protocol": "HTTP/1.0",
            "status": 200,
            "bytes_sent": 11713,
        },
    ),
    (
        "lnav_shop_access_log_xff.log",
        '66.249.83.1 - - [22/Jan/2019:03:58:26 +0330] "GET /article/606/%D8%B9%D9%84%D8%AA-%D9%88-%D8%AF%D8%B1%D9%85%D8%A7%D9%86-%DA%AF%D8%B1%D8%AF%D9%86-%D8%AF%D8%B1%D8%AF-%28%D9%87%D9%85%D8%B1%D8%A7%D9%87-%D8%B3%D8%B1%D8%AF%D8%B1%D8%AF-%D9%88-%D8%B3%D8%B1%DA%AF%DB%8C%D8%AC%D9%87%29 HTTP/1.1" 302 0 "-" "Mozilla/5.0 (Linux; Android 4.2.1; en-us; Nexus 5 Build/JOP40D) AppleWebKit/535.19 (KHTML, like Gecko; googleweblight) Chrome/38.0.1025.166 Mobile Safari/535.19" "103.28.132.65"',
        {"client_ip": "66.249.83.1", "ts": utc(2019, 1, 22, 0, 28, 26), "ts_offset_min": 210, "status": 302,
         "bytes_sent": 0, "forwarded_for": "103.28.132.65", "protocol": "HTTP/1.1", "referer": None},
    ),
    (
        "lnav_access_log.1.log",
        '10.112.81.15 - - [15/Feb/2013:06:00:31 +0000] "-" 400 0 "-" "-"',
        {"ts": utc(2013, 2, 15, 6, 0, 31), "method": None, "path": None, "request_raw": "-", "status": 400,
         "bytes_sent": 0, "user_agent": None},
    ),
    (
        "nasa_aug95_head50.log",
        'www-c3.proxy.aol.com - - [01/Aug/1995:00:00:57 -0400] "GET /cgi-bin/imagemap/countdown70?285,291" 404 -',
        {"client_ip": "www-c3.proxy.aol.com", "ts": utc(1995, 8, 1, 4, 0, 57), "ts_offset_min": -240,
         "method": "GET", "path": "/cgi-bin/imagemap/countdown70", "query": "285,291", "protocol": None,
         "status": 404, "bytes_sent": None},
    ),
    (
        PLASO,
        'plaso.log2timeline.net:443 10.1.1.2 - - [13/Jan/2018:19:31:17 +0000] "GET /wp-content/themes/darkmode/evil.php HTTP/1.1" 200 1063 "-" "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_8_2) AppleWebKit/537.11 (KHTML, like Gecko) Chrome/23.0.1271.6 Safari/537.11"',
        {"client_ip": "10.1.1.2", "ts": utc(2018, 1, 13, 19, 31, 17), "host": "plaso.log2timeline.net",
         "extra": {"server_port": "443"}, "path": "/wp-content/themes/darkmode/evil.php", "bytes_sent": 1063},
    ),
    (
        PLASO,
        '192.168.0.64 - pyllyukko@EXAMPLE.COM [16/Nov/2019:09:46:42 +0200] "GET / HTTP/1.1" 200 8264',
        {"ts": utc(2019, 11, 16, 7, 46, 42), "ts_offset_min": 120, "principal": "pyllyukko@EXAMPLE.COM",
         "path": "/", "status": 200, "bytes_sent": 8264, "user_agent": None, "referer": None},
    ),
    (
        "lnav_caddy_log.1.jsonl",
        '{"level":"info","ts":1716732963.4146512,"logger":"http.log.access.log16","msg":"handled request","request":{"remote_ip":"240e:1:1::1234","remote_port":"62769","client_ip":"240e:1:1::1234","proto":"HTTP/3.0","method":"GET","host":"mirrors.tnonline.net","uri":"/res/browse.css","headers":{"Sec-Fetch-Mode":["no-cors"],"Sec-Fetch-Dest":["style"],"Referer":["https://mirrors.tnonline.net/gentoo/gentoo-portage/app-dicts/aspell-lt/"],"Accept-Encoding":["gzip, deflate, br"],"Accept":["text/css,*/*;q=0.1"],"Sec-Fetch-Site":["same-origin"],"User-Agent":["Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/117.0.5938.60 Safari/537.36"]},"tls":{"resumed":false,"version":772,"cipher_suite":4865,"proto":"h3","server_name":"mirrors.tnonline.net"}},"bytes_read":0,"user_id":"","duration":0.000275783,"size":1577,"status":200,"resp_headers":{"Cache-Control":["max-age=2592000, public"],"Vary":["Accept-Encoding"],"Last-Modified":["Sat, 09 Sep 2023 19:56:35 GMT"],"Date":["Sun, 26 May 2024 00:22:43 GMT"],"X-Frame-Options":["DENY"],"Content-Security-Policy":["default-src \'self\'"],"Strict-Transport-Security":["max-age=31968001; preload"],"X-Content-Type-Options":["nosniff"],"Etag":["\\"cvengqvj61vk17t\\""],"Accept-Ranges":["bytes"],"Server":["Caddy"],"Permissions-Policy":["none"],"Content-Type":["text/css; charset=utf-8"],"Referrer-Policy":["same-origin"],"Content-Encoding":["br"]}}',
        {"ts": utc(2024, 5, 26, 14, 16, 3, 414651), "client_ip": "240e:1:1::1234", "method": "GET",
         "host": "mirrors.tnonline.net", "path": "/res/browse.css", "protocol": "HTTP/3.0", "status": 200,
         "bytes_sent": 1577, "bytes_received": 0, "principal": None,
         "referer": "https://mirrors.tnonline.net/gentoo/gentoo-portage/app-dicts/aspell-lt/"},
    ),
    (
        "lnav_caddy_log.0.jsonl",
        'caddy  | {"level":"info","ts":1761019957.9247544,"logger":"http.log.access","msg":"handled request","request":{"remote_ip":"172.19.0.1","remote_port":"37882","client_ip":"172.19.0.1","proto":"HTTP/1.1","method":"GET","host":"localhost","uri":"/index.html","headers":{"Accept-Language":["en-US,en;q=0.5"],"Cookie":["REDACTED"],"Upgrade-Insecure-Requests":["1"],"Sec-Fetch-Mode":["navigate"],"User-Agent":["Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:142.0) Gecko/20100101 Firefox/142.0"],"Sec-Fetch-Site":["none"],"Priority":["u=0, i"],"Accept":["text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"],"Accept-Encoding":["gzip, deflate, br, zstd"],"Connection":["keep-alive"],"Sec-Fetch-Dest":["document"],"Sec-Fetch-User":["?1"]}},"bytes_read":0,"user_id":"","duration":0.000073649,"size":188,"status":200,"resp_headers":{"Server":["Caddy"],"Vary":["Accept-Encoding"],"Etag":["\\"ddnp8sh5vg3i58\\""],"Content-Type":["text/html; charset=utf-8"],"Last-Modified":["Tue, 21 Oct 2025 04:01:45 GMT"],"Accept-Ranges":["bytes"],"Content-Length":["188"]}}',
        {"ts": utc(2025, 10, 21, 4, 12, 37, 924754), "client_ip": "172.19.0.1", "path": "/index.html",
         "status": 200, "protocol": "HTTP/1.1", "host": "localhost"},
    ),
    (
        "plaso_azure_application_gateway_access.jsonl",
        '{"timeStamp": "2021-10-14T22:17:12+00:00","resourceId": "/SUBSCRIPTIONS/{subscriptionId}/RESOURCEGROUPS/{resourceGroupName}/PROVIDERS/MICROSOFT.NETWORK/APPLICATIONGATEWAYS/{applicationGatewayName}","listenerName": "HTTP-Listener","ruleName": "Storage-Static-Rule","backendPoolName": "StaticStorageAccount","backendSettingName": "StorageStatic-HTTPS-Setting","operationName": "ApplicationGatewayAccess","category": "ApplicationGatewayAccessLog","properties": {"instanceId": "appgw_2","clientIP": "185.42.129.24","clientPort": 45057,"httpMethod": "GET","originalRequestUriWithArgs": "\\/","requestUri": "\\/","requestQuery": "","userAgent": "Mozilla\\/5.0 (Windows NT 6.1; WOW64) AppleWebKit\\/537.36 (KHTML, like Gecko) Chrome\\/52.0.2743.116 Safari\\/537.36","httpStatus": 400,"httpVersion": "HTTP\\/1.1","receivedBytes": 184,"sentBytes": 466,"clientResponseTime": 0,"timeTaken": 0.034,"WAFEvaluationTime": "0.000","WAFMode": "Detection","transactionId": "592d1649f75a8d480a3c4dc6a975309d","sslEnabled": "on","sslCipher": "ECDHE-RSA-AES256-GCM-SHA384","sslProtocol": "TLSv1.2","sslClientVerify": "NONE","sslClientCertificateFingerprint": "","sslClientCertificateIssuerName": "","serverRouted": "52.239.221.65:443","serverStatus": "200","serverResponseLatency": "0.028","originalHost": "20.110.30.194","host": "20.110.30.194"}}',
        {"ts": utc(2021, 10, 14, 22, 17, 12), "ts_offset_min": 0, "client_ip": "185.42.129.24", "method": "GET",
         "path": "/", "query": None, "status": 400, "protocol": "HTTP/1.1", "bytes_sent": 466,
         "bytes_received": 184, "duration_ms": 34.0, "host": "20.110.30.194",
         "request_id": "592d1649f75a8d480a3c4dc6a975309d"},
    ),
]


HAPROXY = "lnav_haproxy.0.log"  # ingested with --tz UTC: times are the clock HAProxy wrote
SPOTS += [
    (
        HAPROXY,
        "Feb 25 16:19:49 192.168.4.2 haproxy[7]: 141.35.244.171:53332 [25/Feb/2019:16:19:48.143] prod_http_in~ bk_admin/nginx_sonst 0/0/7/1457/1487 200 11394 - - ---- 2/1/0/0/0 0/0 {Mozilla/5.0 (Windows NT 6.1; Win64; x64; rv:65.0) Gecko/20100101 Firefox/65.0} {} \"GET /admin/colt/administration?survey=130&input_stats=1&ajax=1&&ajax=1&refresh=1&ihandle=1 HTTP/1.1\"",
        {"client_ip": "141.35.244.171", "ts": utc(2019, 2, 25, 16, 19, 48, 143000), "ts_offset_min": 0,
         "method": "GET", "path": "/admin/colt/administration",
         "query": "survey=130&input_stats=1&ajax=1&&ajax=1&refresh=1&ihandle=1", "protocol": "HTTP/1.1",
         "status": 200, "bytes_sent": 11394, "duration_ms": 1487.0, "user_agent": None, "host": None},
    ),
    (
        HAPROXY,
        "Feb 25 16:20:15 192.168.4.2 haproxy[7]: 95.216.197.33:56224 [25/Feb/2019:16:20:10.111] prod_http_in/sktst2: SSL handshake failure",
        {"client_ip": "95.216.197.33", "ts": utc(2019, 2, 25, 16, 20, 10, 111000), "method": None, "path": None,
         "status": None, "extra": {"client_port": "56224", "syslog_timestamp": "Feb 25 16:20:15",
         "syslog_hostname": "192.168.4.2", "process_name": "haproxy", "pid": "7",
         "frontend_name": "prod_http_in", "bind_name": "sktst2", "message": "SSL handshake failure"}},
    ),
    (
        HAPROXY,
        "Feb 25 16:20:09 192.168.4.2 haproxy[7]: 89.247.124.65:15564 [25/Feb/2019:16:20:06.321] prod_http_in~ bk_ktest_kt/nginx_sonst 0/0/1/43/2707 200 26170 - - ---- 3/3/1/1/0 0/0 {Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:65.0) Gecko/20100101 Firefox/65.0} {} \"GET /portal/?Script=934&onlinetest=korrektur&anm=13915&currentPage=0 HTTP/1.1\"",
        {"ts": utc(2019, 2, 25, 16, 20, 6, 321000), "path": "/portal/",
         "query": "Script=934&onlinetest=korrektur&anm=13915&currentPage=0", "bytes_sent": 26170,
         "duration_ms": 2707.0},
    ),
]

SPOTS += [
    # W3C / IIS: UTC date and time, '+' in the user agent decoded, other fields in extra
    (
        "plaso_iis10_cookies.log",
        '2021-04-01 00:00:21 111.111.111.111 GET /foo/bar/baz.asp - 80 - 222.222.222.222 Mozilla/5.0+(Windows+NT+5.1)+AppleWebKit/537.36+(KHTML,+like+Gecko)+Chrome/35.0.2309.372+Safari/537.36 OutlookSession="{AAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE}" http://111.111.111.111/ 200 0 0 65',
        {"ts": utc(2021, 4, 1, 0, 0, 21), "ts_offset_min": None, "client_ip": "222.222.222.222", "method": "GET",
         "path": "/foo/bar/baz.asp", "query": None, "status": 200, "duration_ms": 65.0,
         "referer": "http://111.111.111.111/",
         "user_agent": "Mozilla/5.0 (Windows NT 5.1) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/35.0.2309.372 Safari/537.36",
         "extra": {"s-ip": "111.111.111.111", "s-port": "80",
                   "cs(Cookie)": 'OutlookSession="{AAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE}"',
                   "sc-substatus": "0", "sc-win32-status": "0"}},
    ),
    (
        "plaso_iis10_edge_cases.log",
        r"2022-01-01 00:01:24 ::1 POST /powershell clientApplication=ActiveMonitor;PSVersion=5.1.14393.4467 444  random\ranuser1 ::1 Microsoft+WinRM+Client - 200 0 0 15",
        {"ts": utc(2022, 1, 1, 0, 1, 24), "client_ip": "::1", "method": "POST", "path": "/powershell",
         "query": "clientApplication=ActiveMonitor;PSVersion=5.1.14393.4467", "principal": r"random\ranuser1",
         "user_agent": "Microsoft WinRM Client", "status": 200, "duration_ms": 15.0},
    ),
    (
        "plaso_iis_without_date.log",
        "00:00:13 SOME1234NAME 10.10.10.100 POST /some/image/path/something.jpg requesttimeout=500 80 - 22.22.22.200 HTTP/1.1 Mozilla/4.0+(compatible;+MSIE+8.0;+Windows+NT+6.1;+Trident/4.0;+SLCC2;+.NET+CLR+2.0.50727;+.NET+CLR+3.5.30729;+.NET+CLR+3.0.30729;+Media+Center+PC+6.0;+.NET+CLR+1.1.4322;+.NET4.0C;+.NET4.0E;+InfoPath.2) 302 0 0",
        {"ts": utc(2013, 7, 30, 0, 0, 13), "client_ip": "22.22.22.200", "method": "POST", "protocol": "HTTP/1.1",
         "path": "/some/image/path/something.jpg", "query": "requesttimeout=500", "status": 302, "duration_ms": None},
    ),
    (
        "lnav_w3c.3.log",
        '2012-08-15 17:00:00.675 10.10.28.140 GET /hello/world/6,681965 - 80 - "173.5.0.0" "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_10_1) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/37.0.2062.124 Safari/537.36" - "hello.example.com" 404 " ""garbage"" w/ spaces " 0 359',
        {"ts": utc(2012, 8, 15, 17, 0, 0, 675000), "ts_offset_min": 0, "client_ip": "173.5.0.0",
         "host": "hello.example.com", "path": "/hello/world/6,681965", "status": 404, "duration_ms": 359.0,
         "user_agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_10_1) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/37.0.2062.124 Safari/537.36",
         "extra": {"s-ip": "10.10.28.140", "s-port": "80", "sc-substatus": ' "garbage" w/ spaces ',
                   "sc-win32-status": "0"}},
    ),
    (
        "lnav_w3c.5.log",
        "2015-01-13 00:32:17 100.79.192.81 GET /robots.txt - 80 - 157.55.39.146 Mozilla/5.0+(compatible;+bingbot/2.0;++http://www.bing.com/bingbot.htm) - 404 0 2 1405 242 283",
        {"client_ip": "157.55.39.146", "path": "/robots.txt", "status": 404, "bytes_sent": 1405,
         "bytes_received": 242, "duration_ms": 283.0,
         "user_agent": "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"},
    ),
    (
        "lnav_w3c.1.log",
        '64.103.37.2      client_joaz7      DMS.user      2001-10-31     00:00:18      GET      /admin/images/oc_bottomleft.gif    200     350    "BIGipServerwww_webcache_pool=1443321748.19460.0000;ORA_UCM_AGID=%2fMP%2f8M7%3etSHPV%40%2fS%3f%3fDh3VHO"         "http://www.oracle.com/nl/partner/content.html"      370879      "Mozilla/4.5 [en] (WinNT; I)"',
        {"ts": utc(2001, 10, 31, 0, 0, 18), "client_ip": "64.103.37.2", "principal": "DMS.user", "method": "GET",
         "path": "/admin/images/oc_bottomleft.gif", "status": 200, "bytes_sent": 350, "duration_ms": None,
         "referer": "http://www.oracle.com/nl/partner/content.html", "user_agent": "Mozilla/4.5 [en] (WinNT; I)",
         "extra": {"c-dns": "client_joaz7", "time-taken": "370879",
                   "cs(Cookie)": "BIGipServerwww_webcache_pool=1443321748.19460.0000;"
                   "ORA_UCM_AGID=%2fMP%2f8M7%3etSHPV%40%2fS%3f%3fDh3VHO"}},
    ),
    (
        "lnav_w3c.2.log",
        "16:48:24 1.1.1.1 [3]PASS user@domain.com 230",
        {"ts": utc(2000, 10, 9, 16, 48, 24), "client_ip": "1.1.1.1", "method": "[3]PASS", "path": "user@domain.com",
         "status": 230},
    ),
    (
        "lnav_w3c.4.log",
        '"2017-06-28" "07:26:35" "a1f36498-c34a-45b9-b3a5-ee0bd00f91b6" "Chrome" "Browser" "false" "true" "123.123.123.123" "" "62a660e57ba257275cf7ccf699919eae18e07e84cb11c1075e99b1be98456059d3064ec14d3932ba6e89f5393a158b8b8c2572ad7ad7dadb0fe02a34ae4c3d504c035017bf9a6a7802bb898226378938" "NA" "774502" "Mozilla/5.0 (Windows NT 6.1; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/58.0.3029.110 Safari/537.36" "452000660051880893" "44850949" "SE" "LS" "Stockholm" "www.example.com" "32.0000" "32.0000" "Customer" "www.example.com/page.php" "" "HTTP" "REQ_PASSED" "118866685985031205" "" "124.124.124.124" "80" "GET" "variable=test" "200" "123.123.123.123" "10117" "1498634795555" "" "" "" "" ""',
        {"ts": utc(2017, 6, 28, 7, 26, 35), "client_ip": "123.123.123.123", "method": "GET", "query": "variable=test",
         "status": 200, "bytes_received": 10117, "protocol": "HTTP", "referer": None},
    ),
    # CloudFront: tab-separated, URL-decoded, seconds -> ms, x-host-header is the host
    (
        "aws-log-parser_cloudfront-multiple.log",
        "2019-12-13\t22:36:27\tSEA19-C1\t900\t192.0.2.200\tGET\td111111abcdef8.cloudfront.net\t/favicon.ico\t502\thttp://www.example.com/\tMozilla/5.0%20(Windows%20NT%2010.0;%20Win64;%20x64)%20AppleWebKit/537.36%20(KHTML,%20like%20Gecko)%20Chrome/78.0.3904.108%20Safari/537.36\t-\t-\tError\t1pkpNfBQ39sYMnjjUQjmH2w1wdJnbHYTbag21o_3OfcQgPzdL2RSSQ==\twww.example.com\thttp\t675\t0.102\t-\t-\t-\tError\tHTTP/1.1\t-\t-\t25260\t0.102\tOriginDnsError\ttext/html\t507\t-\t-",
        {"ts": utc(2019, 12, 13, 22, 36, 27), "ts_offset_min": None, "client_ip": "192.0.2.200", "method": "GET",
         "host": "www.example.com", "path": "/favicon.ico", "query": None, "status": 502, "bytes_sent": 900,
         "bytes_received": 675, "duration_ms": 102.0, "protocol": "HTTP/1.1", "referer": "http://www.example.com/",
         "user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/78.0.3904.108 Safari/537.36",
         "request_id": "1pkpNfBQ39sYMnjjUQjmH2w1wdJnbHYTbag21o_3OfcQgPzdL2RSSQ==", "forwarded_for": None},
    ),
    (
        "aws-log-parser_cloudfront_entry_cookie_with_encoding.log",
        "2014-05-23\t01:13:11\tFRA2\t182\t192.0.2.10\tGET\td111111abcdef8.cloudfront.net\t/view/my/file.html\t200\twww.displaymyfiles.com\tMozilla/4.0%20(compatible;%20MSIE%205.0b1;%20Mac_PowerPC)\t-\tthis%20zip=98101\tRefreshHit\tMRVMF7KydIvxMWfJIglgwHQwZsbG2IhRJ07sn9AkKUFSHS9EXAMPLE==\td111111abcdef8.cloudfront.net\thttp\t-\t0.001\t-\t-\t-\tRefreshHit\tHTTP/1.1",
        {"ts": utc(2014, 5, 23, 1, 13, 11), "client_ip": "192.0.2.10", "host": "d111111abcdef8.cloudfront.net",
         "bytes_sent": 182, "bytes_received": None, "duration_ms": 1.0, "referer": "www.displaymyfiles.com",
         "user_agent": "Mozilla/4.0 (compatible; MSIE 5.0b1; Mac_PowerPC)",
         "extra": {"x-edge-location": "FRA2", "cs(Host)": "d111111abcdef8.cloudfront.net",
                   "cs(Cookie)": "this zip=98101", "x-edge-result-type": "RefreshHit", "cs-protocol": "http",
                   "x-edge-response-result-type": "RefreshHit"}},
    ),
    (
        "aws-log-parser_loadbalancer_http2_entry_auth_error.log",
        'h2 2018-07-02T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 192.168.131.39:2817 - -1 -1 -1 401 - 4956 616 "GET https://example.com:443/oauth2/idpresponse?code=XXXXX HTTP/2.0" "curl/7.46.0" TLS_AES_128_GCM_SHA256 TLSv1.3 - "Root=1-665d7a41-032e7e1d59b8e8043f88b4dc" "example.com" "arn:aws:acm:us-east-2:123456789012:certificate/12345678-1234-1234-1234-123456789012" -1 2018-07-02T22:22:48.364000Z "authenticate" "-" "AuthInvalidAWSALBAuthNonce" "-" "-" "-" "-" TID_b33932fc40603344b9a76c1b94b208fd',
        {
            "ts": utc(2018, 7, 2, 22, 23, 0, 186641), "ts_offset_min": 0, "client_ip": "192.168.131.39",
            "status": 401, "bytes_received": 4956, "bytes_sent": 616, "duration_ms": None, "method": "GET",
            "host": "example.com:443", "path": "/oauth2/idpresponse", "query": "code=XXXXX", "protocol": "HTTP/2.0",
            "user_agent": "curl/7.46.0", "request_id": "Root=1-665d7a41-032e7e1d59b8e8043f88b4dc",
            "extra": None,
            "alb": {  # the typed fields (schema.AWS_FIELDS), NULL members left out
                "type": "h2", "elb": "app/my-loadbalancer/50dc6c495c0c9188", "client_port": 2817,
                "ssl_cipher": "TLS_AES_128_GCM_SHA256", "ssl_protocol": "TLSv1.3", "domain_name": "example.com",
                "chosen_cert_arn": "arn:aws:acm:us-east-2:123456789012:certificate/12345678-1234-1234-1234-123456789012",
                "matched_rule_priority": "-1", "request_creation_time": utc(2018, 7, 2, 22, 22, 48, 364000),
                "actions_executed": "authenticate", "error_reason": "AuthInvalidAWSALBAuthNonce",
                "conn_trace_id": "TID_b33932fc40603344b9a76c1b94b208fd",
            },
        },
    ),
    (
        "aws-log-parser_classic_loadbalancer_http_entry.log",
        '2015-05-13T23:39:43.945958Z my-loadbalancer 192.168.131.39:2817 10.0.0.1:80 0.000086 0.001048 0.001337 200 200 0 57 "GET https://www.example.com:443/ HTTP/1.1" "curl/7.38.0" DHE-RSA-AES128-SHA TLSv1.2',
        {"ts": utc(2015, 5, 13, 23, 39, 43, 945958), "client_ip": "192.168.131.39", "status": 200, "bytes_received": 0,
         "bytes_sent": 57, "method": "GET", "host": "www.example.com:443", "path": "/", "protocol": "HTTP/1.1",
         "user_agent": "curl/7.38.0"},
    ),
    (
        "plaso_aws_elb_access.log",
        'h2 2020-01-11T16:55:32.115600Z app/production-web/jf29fj2198ejf922 192.168.1.10:55753 192.168.1.123:32869 0.010 0.004 0.000 302 302 32 596 "GET https://www.domain.name:443/banner/test.png HTTP/2.0" "Mozilla/5.0 (iPhone; CPU iPhone OS 14_4_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148  Safari//ncdkkdmsgvtxrndqffyfatjvbytwlqak" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 arn:aws:elasticloadbalancing:us-east-2:123456789123:targetgroup/dev-abc/13ff1ec1f13456f1 "XXXXXXX" "www.domain.name" "arn:aws:abc:us-east-2:234567891234:certificate/a246f123-221c-56a1-d3bc-c01860f9f16e" 2 2020-01-11T16:55:32.101000Z "waf,forward" "-" "-" "192.168.1.123:32869" "302" "-" "-"',
        {"ts": utc(2020, 1, 11, 16, 55, 32, 115600), "client_ip": "192.168.1.10", "status": 302, "bytes_sent": 596,
         "path": "/banner/test.png", "protocol": "HTTP/2.0", "request_id": "XXXXXXX",
         "user_agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 14_4_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
         "Gecko) Mobile/15E148  Safari//ncdkkdmsgvtxrndqffyfatjvbytwlqak"},
    ),
    (
        "plaso_aws_elb_access.log",
        '2021-05-13T23:39:46.945958Z my-loadbalancer 192.168.131.39:2817 10.0.0.1:80 0.001065 0.000015 0.000023 - - -1 -1 "- - - " "-" ECDHE-ECDSA-AES128-GCM-SHA256 TLSv1.2',
        {"ts": utc(2021, 5, 13, 23, 39, 46, 945958), "status": None, "bytes_received": None, "bytes_sent": None,
         "method": None, "path": None, "request_raw": "- - - ", "user_agent": None, "client_ip": "192.168.131.39"},
    ),
    (
        "plaso_aws_elb_access.log",
        'tls 2.0 2022-12-20T02:59:40 net/my-network-loadbalancer/c6e77e28c25b2234 g3d4b5e8bb8464cd 72.21.218.154:51341 172.100.100.185:443 5 2 98 246 - arn:aws:acm:us-east-2:671290407336:certificate/2a108f19-aded-46b0-8493-c63eb1ef4a99 - ECDHE-RSA-AES128-SHA tlsv12 - my-network-loadbalancer-c6e77e28c25b2234.elb.us-east-2.amazonaws.com - - -',
        {"ts": utc(2022, 12, 20, 2, 59, 40), "ts_offset_min": None, "client_ip": "72.21.218.154",
         "host": "my-network-loadbalancer-c6e77e28c25b2234.elb.us-east-2.amazonaws.com", "duration_ms": 5.0,
         "bytes_received": 98, "bytes_sent": 246, "method": None, "path": None, "status": None},
    ),
]


@pytest.mark.parametrize(("file", "raw", "want"), SPOTS, ids=[f"{s[0]}:{s[1][:20]}" for s in SPOTS])
def test_spot_values(realdata: Ingested, file: str, raw: str, want: dict[str, Any]) -> None:
    folder = next(f for f in FOLDERS if (realdata.root / f / file).is_file())
    line_no = line_no_of(realdata.root / folder / file, raw)
    cur = realdata.case.con.execute(
        f"select {', '.join('e.' + c for c in want)} from events e join sources s using (source_id) "
        "where s.path like ? and e.line_no = ?",
        [f"%/{file}", line_no],
    )
    rows = cur.fetchall()
    assert len(rows) == 1, (file, line_no)
    got = dict(zip(want, rows[0], strict=True))
    if isinstance(got.get("extra"), str):  # JSON text in the case
        got["extra"] = json.loads(got["extra"])
    for fmt in AWS_FIELDS:  # an AWS format's typed fields (one struct): the members that are not NULL
        if fmt in got:
            got[fmt] = {k: v for k, v in (got[fmt] or [{}])[0].items() if v is not None}
    assert got == want
