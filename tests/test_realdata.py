"""Real access logs written by others parse (≥ 99.9% per folder) and are detected correctly.

Runs on the committed excerpts in tests/data/realdata (always) and on the full files in
../shared/realdata next to the project (when that folder exists). Spot values were read off
the raw lines by hand.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from forensics import Case, ingest
from tests.formathelpers import utc

EXCERPTS = Path(__file__).resolve().parent / "data" / "realdata"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "realdata"
FOLDERS = ("combined", "common", "alb")
MIN_PARSE_RATE = 0.999

EXPECTED_FORMAT = {
    "elastic-examples_apache_logs.log": "combined",
    "lnav_access_log.0.log": "combined",
    "lnav_access_log.1.log": "combined",
    "lnav_shop_access_log_xff.log": "nginx_main",
    "nielsbasjes_hackers-access.log": "combined",
    "plaso_apache_access_mixed.log": "combined",
    "nasa_aug95_head50.log": "common",
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
    ingest(case, [root / f for f in FOLDERS])
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
    raw_lines = sum(len(p.read_bytes().splitlines()) for p in (realdata.root / folder).iterdir())
    assert lines == raw_lines > 0
    assert events + rejects == lines
    assert events / lines >= MIN_PARSE_RATE, realdata.case.sql("select * from rejects limit 20")


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
        "aws-log-parser_loadbalancer_http2_entry_auth_error.log",
        'h2 2018-07-02T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 192.168.131.39:2817 - -1 -1 -1 401 - 4956 616 "GET https://example.com:443/oauth2/idpresponse?code=XXXXX HTTP/2.0" "curl/7.46.0" TLS_AES_128_GCM_SHA256 TLSv1.3 - "Root=1-665d7a41-032e7e1d59b8e8043f88b4dc" "example.com" "arn:aws:acm:us-east-2:123456789012:certificate/12345678-1234-1234-1234-123456789012" -1 2018-07-02T22:22:48.364000Z "authenticate" "-" "AuthInvalidAWSALBAuthNonce" "-" "-" "-" "-" TID_b33932fc40603344b9a76c1b94b208fd',
        {
            "ts": utc(2018, 7, 2, 22, 23, 0, 186641), "ts_offset_min": 0, "client_ip": "192.168.131.39",
            "status": 401, "bytes_received": 4956, "bytes_sent": 616, "duration_ms": None, "method": "GET",
            "host": "example.com:443", "path": "/oauth2/idpresponse", "query": "code=XXXXX", "protocol": "HTTP/2.0",
            "user_agent": "curl/7.46.0", "request_id": "Root=1-665d7a41-032e7e1d59b8e8043f88b4dc",
            "extra": {
                "type": "h2", "elb": "app/my-loadbalancer/50dc6c495c0c9188", "client_port": "2817",
                "ssl_cipher": "TLS_AES_128_GCM_SHA256", "ssl_protocol": "TLSv1.3", "domain_name": "example.com",
                "chosen_cert_arn": "arn:aws:acm:us-east-2:123456789012:certificate/12345678-1234-1234-1234-123456789012",
                "matched_rule_priority": "-1", "request_creation_time": "2018-07-02T22:22:48.364000Z",
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
    assert got == want
