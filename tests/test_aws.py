"""AWS formats: ALB, classic ELB, NLB, S3 server access logs, API Gateway CLF and templates.

Lines are written from AWS's documentation (field order, quoting and examples):
* ALB: "Access logs for your Application Load Balancer" → "Access log entries" / "Examples";
* ELB: "Access logs for your Classic Load Balancer" → "Syntax" / "Examples" (HTTP, TCP, SSL);
* NLB: "Access logs for your Network Load Balancer" → "Access log entries" / "Example log entries";
* S3: "Amazon S3 server access log format" (the five-record example, "Log record fields");
* API Gateway: "Access logging for REST APIs" / "Configure logging for HTTP APIs" (CLF presets)
  and "Variables for access logging for API Gateway".
Expected values are read off the lines by hand.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from forensics import Case, IngestOptions, formats, ingest
from forensics.formats.base import NOT_AN_ENTRY
from forensics.store.db import connect
from tests.formathelpers import event_values, parse_lines, parse_one, present, utc

ARN_TG = "arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067"
CERT = "arn:aws:acm:us-east-2:123456789012:certificate/12345678-1234-1234-1234-123456789012"
# AWS's "Example HTTPS Entry", with the fields added since (classification … conn_trace_id)
ALB_HTTPS = (
    "https 2018-07-02T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 192.168.131.39:2817 10.0.0.1:80 "
    '0.086 0.048 0.037 200 200 0 57 "GET https://www.example.com:443/ HTTP/1.1" "curl/7.46.0" '
    f'ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 {ARN_TG} "Root=1-58337281-1d84f3d73c47ec4e58577259" '
    f'"www.example.com" "{CERT}" 1 2018-07-02T22:22:48.364000Z "authenticate,forward" "-" "-" '
    '"10.0.0.1:80" "200" "-" "-" TID_1234abcd'
)


def alb(
    type_: str,
    rest: str = '"curl/7.46.0" - -',
    times: str = "0.000 0.001 0.000",
    client: str = "192.168.131.39:2817",
    status: str = "200 200",
    request: str = "GET http://www.example.com:80/ HTTP/1.1",
    tail: str = f'{ARN_TG} "Root=1-58337262-36d228ad5d99923122bbe354" "-" "-" 0 '
    '2018-07-02T22:22:48.364000Z "forward" "-" "-" 10.0.0.1:80 200 "-" "-"',
) -> str:
    return (
        f"{type_} 2018-07-02T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 {client} 10.0.0.1:80 "
        f'{times} {status} 34 366 "{request}" {rest} {tail}'.rstrip()
    )


def test_alb_https_entry_every_field() -> None:
    row = parse_one("alb", ALB_HTTPS)
    assert row["duration_ms"] == pytest.approx(171.0)
    assert {k: v for k, v in event_values(row).items() if k != "duration_ms"} == {
        "ts": utc(2018, 7, 2, 22, 23, 0, 186641),
        "ts_offset_min": 0,
        "client_ip": "192.168.131.39",
        "method": "GET",
        "host": "www.example.com:443",
        "path": "/",
        "protocol": "HTTP/1.1",
        "status": 200,
        "bytes_received": 0,
        "bytes_sent": 57,
        "user_agent": "curl/7.46.0",
        "request_id": "Root=1-58337281-1d84f3d73c47ec4e58577259",
        "alb": [  # typed, a list of one struct; absent ("-") fields are NULL
            {
                "type": "https",
                "elb": "app/my-loadbalancer/50dc6c495c0c9188",
                "client_port": 2817,
                "target_port": "10.0.0.1:80",
                "request_processing_time": 0.086,
                "target_processing_time": 0.048,
                "response_processing_time": 0.037,
                "target_status_code": 200,
                "ssl_cipher": "ECDHE-RSA-AES128-GCM-SHA256",
                "ssl_protocol": "TLSv1.2",
                "target_group_arn": ARN_TG,
                "domain_name": "www.example.com",
                "chosen_cert_arn": CERT,
                "matched_rule_priority": "1",
                "request_creation_time": utc(2018, 7, 2, 22, 22, 48, 364000),
                "actions_executed": "authenticate,forward",
                "redirect_url": None,
                "error_reason": None,
                "target_port_list": "10.0.0.1:80",
                "target_status_code_list": "200",
                "classification": None,
                "classification_reason": None,
                "conn_trace_id": "TID_1234abcd",
                "transformed_host": None,
                "transformed_uri": None,
                "request_transform_status": None,
            }
        ],
    }


@pytest.mark.parametrize("type_", ["http", "https", "h2", "grpcs", "ws", "wss"])
def test_alb_request_types(type_: str) -> None:
    row = parse_one("alb", alb(type_, request="GET http://10.0.0.30:80/chat?room=7 HTTP/1.1"))
    assert (row["alb"][0]["type"], row["path"], row["query"], row["status"]) == (
        type_,
        "/chat",
        "room=7",
        200,
    )


def test_alb_minus_one_times_give_no_duration_and_lambda_has_no_target() -> None:
    lam = alb("http", times="-1 -1 -1", status="502 -").replace(" 10.0.0.1:80 ", " - ", 1)
    row = parse_one("alb", lam)
    assert (row["duration_ms"], row["status"]) == (None, 502)
    for k in (
        "request_processing_time",
        "target_processing_time",
        "response_processing_time",
        "target_status_code",
        "target_port",
    ):
        assert row["alb"][0][k] is None


def test_alb_sums_processing_times_into_ms() -> None:
    assert parse_one("alb", alb("h2", times="0.001 0.045 0.002"))["duration_ms"] == pytest.approx(48.0)


def test_alb_no_request_line_is_an_event_with_what_is_known() -> None:
    # a client that connected and sent nothing usable: "- - - " request, 400 from the LB
    row = parse_one("alb", alb("https", request="- - - ", status="400 -", times="-1 -1 -1"))
    assert (row["method"], row["path"], row["request_raw"], row["status"], row["client_ip"]) == (
        None,
        None,
        "- - - ",
        400,
        "192.168.131.39",
    )


def test_alb_ipv6_client_written_without_brackets() -> None:
    row = parse_one("alb", alb("h2", client="2a02:a33c:4538:1:bcf4:5264:e01c:f215:50718"))
    assert (row["client_ip"], row["alb"][0]["client_port"]) == (
        "2a02:a33c:4538:1:bcf4:5264:e01c:f215",
        50718,
    )


def test_alb_older_lines_have_fewer_fields() -> None:
    v2016 = alb("http", tail=f'{ARN_TG} "Root=1-58337262-36d228ad5d99923122bbe354"')
    v2015ish = alb("https", tail="")  # ends after ssl_protocol
    rows = parse_lines("alb", [v2016, v2015ish])
    assert [r["reject_reason"] for r in rows] == [None, None]
    assert rows[0]["request_id"] == "Root=1-58337262-36d228ad5d99923122bbe354"
    assert rows[1]["request_id"] is None and rows[1]["alb"][0]["target_group_arn"] is None


def test_alb_newest_fields_and_unknown_trailing_fields_kept() -> None:
    newest = ALB_HTTPS + ' "api.internal" "/v2/x?y=1" "TransformSuccess"'
    future = newest + ' "some-new-field" 42'
    rows = parse_lines("alb", [newest, future])
    assert [r["reject_reason"] for r in rows] == [None, None]
    for r in rows:
        assert (
            r["alb"][0]["transformed_host"],
            r["alb"][0]["transformed_uri"],
            r["alb"][0]["request_transform_status"],
        ) == ("api.internal", "/v2/x?y=1", "TransformSuccess")
    assert rows[0]["extra"] is None  # only fields past the documented ones stay in extra
    assert rows[1]["extra"]["trailing"] == '"some-new-field" 42'
    assert rows[1]["path"] == "/" and rows[1]["request_id"] == rows[0]["request_id"]


def test_alb_quote_in_user_agent_goes_to_the_tolerant_regex() -> None:
    row = parse_one("alb", alb("http", rest='"Mozilla/5.0 \\"probe\\" x" - -'))
    assert row["user_agent"] == 'Mozilla/5.0 \\"probe\\" x'
    assert row["alb"][0]["actions_executed"] == "forward"


def test_alb_malformed_lines_are_rejected_with_reasons() -> None:
    lines = [
        ALB_HTTPS.replace("2018-07-02T22:23:00.186641Z", "2018-07-02 22:23:00"),  # not ISO with Z
        ALB_HTTPS.split(' "curl')[0],  # cut inside the record
        "",
        "Enable AccessLog for ELB: my-loadbalancer at 2018-07-02T22:23:00.186641Z",
    ]
    reasons = [r["reject_reason"] for r in parse_lines("alb", lines)]
    assert reasons[:3] == ["not a alb line", "not a alb line", "empty line"]
    assert reasons[3].startswith(NOT_AN_ENTRY)


ELB_HTTP = (
    "2015-05-13T23:39:43.945958Z my-loadbalancer 192.168.131.39:2817 10.0.0.1:80 0.000073 0.001048 0.000057 "
    '200 200 0 29 "GET http://www.example.com:80/ HTTP/1.1" "curl/7.38.0" - -'
)
ELB_TCP = (
    "2015-05-13T23:39:43.945958Z my-loadbalancer 192.168.131.39:2817 10.0.0.1:80 0.001069 0.000028 0.000041 "
    '- - 82 305 "- - - " "-" - -'
)
ELB_SSL_NOTHING_SENT = (
    "2015-05-13T23:39:43.945958Z my-loadbalancer 192.168.131.39:2817 - -1 -1 -1 - - -1 -1 "
    '"- - - " "-" ECDHE-ECDSA-AES128-GCM-SHA256 TLSv1.2'
)
ELB_ESCAPED_UA = (
    "2018-12-13T15:16:57.132252Z elb-name 93.113.124.199:44444 10.25.30.166:80 0.000048 0.000504 "
    '0.000025 301 301 0 178 "GET http://10.25.25.42:80/ HTTP/1.0" "\\"nlpproject.info research\\"" - -'
)


def test_elb_http_tcp_ssl_and_escaped_user_agent() -> None:
    http, tcp, ssl, esc = parse_lines("elb", [ELB_HTTP, ELB_TCP, ELB_SSL_NOTHING_SENT, ELB_ESCAPED_UA])
    assert all(r["reject_reason"] is None for r in (http, tcp, ssl, esc))
    assert (
        http["ts"],
        http["client_ip"],
        http["status"],
        http["bytes_sent"],
        http["host"],
        http["path"],
    ) == (utc(2015, 5, 13, 23, 39, 43, 945958), "192.168.131.39", 200, 29, "www.example.com:80", "/")
    assert http["duration_ms"] == pytest.approx(1.178)
    assert http["extra"] is None
    assert present(http["elb"]) == {
        "elb": "my-loadbalancer",
        "client_port": 2817,
        "backend_port": "10.0.0.1:80",
        "request_processing_time": 0.000073,
        "backend_processing_time": 0.001048,
        "response_processing_time": 0.000057,
        "backend_status_code": 200,
    }
    assert (tcp["status"], tcp["request_raw"], tcp["bytes_received"], tcp["user_agent"]) == (
        None,
        "- - - ",
        82,
        None,
    )
    assert (ssl["duration_ms"], ssl["bytes_received"], ssl["bytes_sent"]) == (None, None, None)
    assert ssl["elb"][0]["ssl_protocol"] == "TLSv1.2" and ssl["elb"][0]["backend_port"] is None
    assert esc["user_agent"] == '\\"nlpproject.info research\\"' and esc["status"] == 301


NLB_V1 = (
    "tls 2.0 2018-12-20T02:59:40 net/my-network-loadbalancer/c6e77e28c25b2234 g3d4b5e8bb8464cd "
    "72.21.218.154:51341 172.100.100.185:443 5 2 98 246 - "
    "arn:aws:acm:us-east-2:671290407336:certificate/2a108f19-aded-46b0-8493-c63eb1ef4a99 - "
    "ECDHE-RSA-AES128-SHA tlsv12 - my-network-loadbalancer-c6e77e28c25b2234.elb.us-east-2.amazonaws.com - - -"
)
NLB_ALPN = (
    "tls 2.0 2020-04-01T08:51:42 net/my-network-loadbalancer/c6e77e28c25b2234 g3d4b5e8bb8464cd "
    "2401:4900:1d0c:29b7:c9b2:7b5a:e7d0:2380:55932 172.100.100.185:443 35040 48 2150 1726 - "
    "arn:aws:acm:us-east-2:671290407336:certificate/2a108f19-aded-46b0-8493-c63eb1ef4a99 - "
    'TLS_AES_128_GCM_SHA256 tlsv13 x25519 example.com h2 h2 "h2","http/1.1" 2020-04-01T08:51:20'
)


def test_nlb_connection_records() -> None:
    v1, alpn = parse_lines("nlb", [NLB_V1, NLB_ALPN])
    assert present(v1["nlb"]) == {
        "type": "tls",
        "version": "2.0",
        "elb": "net/my-network-loadbalancer/c6e77e28c25b2234",
        "listener": "g3d4b5e8bb8464cd",
        "client_port": 51341,
        "destination_port": "172.100.100.185:443",
        "tls_handshake_time": 2.0,
        "chosen_cert_arn": "arn:aws:acm:us-east-2:671290407336:certificate/2a108f19-aded-46b0-8493-c63eb1ef4a99",
        "tls_cipher": "ECDHE-RSA-AES128-SHA",
        "tls_protocol_version": "tlsv12",
    }
    assert {k: v for k, v in event_values(v1).items() if k != "nlb"} == {
        "ts": utc(2018, 12, 20, 2, 59, 40),
        "client_ip": "72.21.218.154",
        "host": "my-network-loadbalancer-c6e77e28c25b2234.elb.us-east-2.amazonaws.com",
        "duration_ms": 5.0,
        "bytes_received": 98,
        "bytes_sent": 246,
    }
    assert v1["ts_offset_min"] is None  # UTC by the docs, but the line does not say so
    assert (
        alpn["client_ip"],
        alpn["duration_ms"],
        alpn["nlb"][0]["alpn_client_preference_list"],
        alpn["nlb"][0]["tls_connection_creation_time"],
        alpn["nlb"][0]["tls_named_group"],
    ) == (
        "2401:4900:1d0c:29b7:c9b2:7b5a:e7d0:2380",
        35040.0,
        '"h2","http/1.1"',
        utc(2020, 4, 1, 8, 51, 20),
        "x25519",
    )


OWNER = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"
HOST_ID = "s9lzHYrFp76ZVxRcpX9+5cjAnEH2ROuNkd2BHfIa6UkFVdtjf5mKR3/eTPFvsiP/XV/VLi31234="
S3_PUT = (
    f"{OWNER} awsexamplebucket1 [06/Feb/2019:00:01:57 +0000] 192.0.2.3 {OWNER} DD6CC733AEXAMPLE "
    'REST.PUT.OBJECT s3-dg.pdf "PUT /awsexamplebucket1/s3-dg.pdf HTTP/1.1" 200 - - 4406583 41754 28 "-" '
    f'"S3Console/0.4" - {HOST_ID} SigV4 ECDHE-RSA-AES128-SHA AuthHeader '
    "awsexamplebucket1.s3.us-west-1.amazonaws.com TLSV1.1"
)
S3_GET_ANON = (
    f"{OWNER} patient-docs [12/Mar/2024:10:00:00 +0000] 203.0.113.9 - 3E57427F33A59F07 REST.GET.OBJECT "
    'referrals/51234.pdf "GET /referrals/51234.pdf?x-id=GetObject HTTP/1.1" 200 - 1832 1832 70 10 '
    '"https://evil.example/" "Mozilla/5.0 (iPad) Safari/604.1"" - '
    + HOST_ID
    + " - - - patient-docs.s3.eu-west-2.amazonaws.com TLSv1.2 - - eu-west-2"
)
S3_IAM_OLD = (
    f"{OWNER} patient-docs [12/Mar/2024:11:00:00 +0100] 10.0.0.5 arn:aws:iam::123456789012:user/svc "
    '7B4A0FABBEXAMPLE REST.GET.OBJECT a%20b.pdf "GET /patient-docs/a%20b.pdf HTTP/1.1" 404 NoSuchKey 297 - '
    '38 - "-" "aws-sdk-java/1.11" -'
)


def test_s3_records() -> None:
    put, anon, old = parse_lines("s3", [S3_PUT, S3_GET_ANON, S3_IAM_OLD])
    assert present(put["s3"]) == {
        "bucket_owner": OWNER,
        "bucket": "awsexamplebucket1",
        "operation": "REST.PUT.OBJECT",
        "key": "s3-dg.pdf",
        "object_size": 4406583,
        "turn_around_time": 28.0,
        "host_id": HOST_ID,
        "signature_version": "SigV4",
        "cipher_suite": "ECDHE-RSA-AES128-SHA",
        "authentication_type": "AuthHeader",
        "tls_version": "TLSV1.1",
    }
    assert {k: v for k, v in event_values(put).items() if k != "s3"} == {
        "ts": utc(2019, 2, 6, 0, 1, 57),
        "ts_offset_min": 0,
        "client_ip": "192.0.2.3",
        "principal": OWNER,
        "request_id": "DD6CC733AEXAMPLE",
        "method": "PUT",
        "path": "/awsexamplebucket1/s3-dg.pdf",
        "protocol": "HTTP/1.1",
        "status": 200,
        "bytes_sent": 0,
        "duration_ms": 41754.0,
        "user_agent": "S3Console/0.4",
        "host": "awsexamplebucket1.s3.us-west-1.amazonaws.com",
    }
    assert anon["principal"] is None  # "-" for unauthenticated requests
    assert (anon["s3"][0]["operation"], anon["s3"][0]["key"], anon["s3"][0]["bucket"]) == (
        "REST.GET.OBJECT",
        "referrals/51234.pdf",
        "patient-docs",
    )
    assert anon["user_agent"] == 'Mozilla/5.0 (iPad) Safari/604.1"'  # a bare quote, kept as logged
    assert (anon["referer"], anon["query"], anon["bytes_sent"], anon["s3"][0]["source_region"]) == (
        "https://evil.example/",
        "x-id=GetObject",
        1832,
        "eu-west-2",
    )
    assert (old["principal"], old["status"], old["ts"], old["ts_offset_min"], old["s3"][0]["error_code"]) == (
        "arn:aws:iam::123456789012:user/svc",
        404,
        utc(2024, 3, 12, 10),
        60,
        "NoSuchKey",
    )
    assert old["s3"][0]["host_id"] is None  # an older record that ends after version_id


def test_s3_copy_get_record_without_http_version() -> None:
    line = S3_PUT.replace("REST.PUT.OBJECT", "REST.COPY.OBJECT_GET").replace(
        '"PUT /awsexamplebucket1/s3-dg.pdf HTTP/1.1"', '"GET /awsexamplebucket1/photos/puppy.jpg?x-foo=bar"'
    )
    row = parse_one("s3", line)
    assert (row["method"], row["path"], row["query"], row["protocol"]) == (
        "GET",
        "/awsexamplebucket1/photos/puppy.jpg",
        "x-foo=bar",
        None,
    )


REST_CLF = (
    '203.0.113.9 AIDAJDPLRKLG7UEXAMPLE - [12/Mar/2024:10:00:00 +0000]"GET /referrals/{id} HTTP/1.1" '
    "200 1832 c5d8a3e4-9f1b-4a6e-b0c2-7d3e5f6a8b9c UjV1mGhSIAMEbXw="
)
HTTP_CLF = '203.0.113.9 - - [12/Mar/2024:10:00:00 -0500] "POST POST /referrals/{id}/export HTTP/1.1" 202 17 Ab1C2dE3fG4='


def test_apigw_rest_clf_preset() -> None:
    row = parse_one("apigw_rest_clf", REST_CLF)
    assert event_values(row) == {
        "ts": utc(2024, 3, 12, 10),
        "ts_offset_min": 0,
        "client_ip": "203.0.113.9",
        "method": "GET",
        "path": "/referrals/{id}",
        "protocol": "HTTP/1.1",
        "status": 200,
        "bytes_sent": 1832,
        "principal": "AIDAJDPLRKLG7UEXAMPLE",  # identity.user is "-": identity.caller is next
        "request_id": "c5d8a3e4-9f1b-4a6e-b0c2-7d3e5f6a8b9c",
        "extra": {"identity.caller": "AIDAJDPLRKLG7UEXAMPLE", "extendedRequestId": "UjV1mGhSIAMEbXw="},
    }


def test_apigw_http_clf_preset_keeps_route_key() -> None:
    row = parse_one("apigw_http_clf", HTTP_CLF)
    assert event_values(row) == {
        "ts": utc(2024, 3, 12, 15),
        "ts_offset_min": -300,
        "client_ip": "203.0.113.9",
        "method": "POST",
        "protocol": "HTTP/1.1",
        "status": 202,
        "bytes_sent": 17,
        "request_id": "Ab1C2dE3fG4=",
        "extra": {"routeKey": "POST /referrals/{id}/export"},
    }
    assert parse_one("apigw_http_clf", HTTP_CLF.replace("POST /referrals/{id}/export", "$default"))[
        "extra"
    ] == {"routeKey": "$default"}


def test_apigw_presets_are_sniffed() -> None:
    con = connect(":memory:")
    assert formats.sniff(con, [REST_CLF] * 3).best is formats.REGISTRY["apigw_rest_clf"]
    assert formats.sniff(con, [HTTP_CLF] * 3).best is formats.REGISTRY["apigw_http_clf"]


TEMPLATE = (
    "$context.requestTimeEpoch $context.identity.sourceIp $context.domainName $context.httpMethod "
    "$context.path $context.status $context.responseLength $context.responseLatency $context.integrationLatency "
    '$context.requestId $context.authorizer.principalId $context.identity.userArn "$context.identity.userAgent" '
    '"$context.routeKey" $context.stage'
)
TEMPLATE_LINE = (
    "1710237600123 2001:db8::7 api.example.com GET /referrals/51234 200 1832 45 31 "
    'c5d8a3e4-9f1b-4a6e-b0c2-7d3e5f6a8b9c dr.jones - "Mozilla/5.0 (X11; Linux)" '
    '"GET /referrals/{id}" prod'
)


def test_apigw_pasted_template() -> None:
    row = parse_one(TEMPLATE, TEMPLATE_LINE)
    assert event_values(row) == {
        "ts": utc(2024, 3, 12, 10, 0, 0, 123000),
        "client_ip": "2001:db8::7",
        "host": "api.example.com",
        "method": "GET",
        "path": "/referrals/51234",
        "status": 200,
        "bytes_sent": 1832,
        "duration_ms": 45.0,
        "request_id": "c5d8a3e4-9f1b-4a6e-b0c2-7d3e5f6a8b9c",
        "principal": "dr.jones",
        "user_agent": "Mozilla/5.0 (X11; Linux)",
        "extra": {"integrationLatency": "31", "routeKey": "GET /referrals/{id}", "stage": "prod"},
    }
    # the authorizer's principal is missing: the IAM user ARN is next in line (kept in extra too)
    iam = parse_one(TEMPLATE, TEMPLATE_LINE.replace("dr.jones -", "- arn:aws:iam::123456789012:user/svc"))
    assert iam["principal"] == "arn:aws:iam::123456789012:user/svc"
    assert iam["extra"]["identity.userArn"] == "arn:aws:iam::123456789012:user/svc"


def test_apigw_template_with_local_clf_time_and_malformed_lines(tmp_path: Path) -> None:
    layout = "$context.identity.sourceIp [$context.requestTime] $context.httpMethod $context.resourcePath $context.requestId"
    rows = parse_lines(
        layout,
        [
            "203.0.113.9 [12/Mar/2024:10:00:00 +0000] GET /pets/{petId} r-1",
            "203.0.113.9 [12/Mar/2024:10:00:00] GET /pets r-2",  # no offset: not CLF
            "garbage",
        ],
    )
    assert rows[0]["reject_reason"] is None and rows[0]["path"] == "/pets/{petId}"
    assert rows[1]["reject_reason"] == "missing or unparseable timestamp"
    assert rows[2]["reject_reason"] == "not a custom line"


def test_mixed_aws_file_and_gzip_end_to_end(tmp_path: Path) -> None:
    lines = [
        ALB_HTTPS,
        alb("h2"),
        ELB_TCP,
        NLB_V1,
        alb("ws"),
        "",
        ALB_HTTPS.replace("https ", "https  ", 1) + '"',
    ]
    path = tmp_path / "evidence" / "mixed.log.gz"
    path.parent.mkdir()
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    case = Case.create(tmp_path / "case.duckdb")
    (res,) = ingest(case, [path]).results
    assert (res.status, res.format, res.lines, res.events + res.rejects) == ("ingested", "alb", 7, 7)
    assert res.events == 5
    reasons = case.sql("select reason from rejects order by line_no")["reason"].tolist()
    assert reasons == ["empty line", "not a alb line"]
    ts = case.sql("select ts from events order by line_no")["ts"].tolist()
    assert all(t.tzinfo is not None and t.utcoffset().total_seconds() == 0 for t in ts)
    case.close()


def test_s3_ingest_forced_and_counts(tmp_path: Path) -> None:
    path = tmp_path / "s3" / "2024-03-12-10-00-00-ABCDEF0123456789"
    path.parent.mkdir()
    path.write_text("\n".join([S3_PUT, S3_GET_ANON, S3_IAM_OLD, "not an s3 line"]) + "\n")
    case = Case.create(tmp_path / "case.duckdb")
    (res,) = ingest(case, [path]).results
    assert (res.format, res.events, res.rejects) == ("s3", 3, 1)
    got = case.con.execute(
        "select s3[1].operation op, s3[1].key k, principal from events order by line_no"
    ).fetchall()
    assert [list(g) for g in got] == [
        ["REST.PUT.OBJECT", "s3-dg.pdf", OWNER],
        ["REST.GET.OBJECT", "referrals/51234.pdf", None],
        ["REST.GET.OBJECT", "a%20b.pdf", "arn:aws:iam::123456789012:user/svc"],
    ]
    case.close()


def test_awslogs_tree_as_delivered(tmp_path: Path) -> None:
    """AWSLogs/<account>/elasticloadbalancing/<region>/YYYY/MM/DD/*.log.gz, ingested in one call."""
    top = tmp_path / "bucket"
    n_lines = 0
    for day in range(1, 4):
        d = top / f"AWSLogs/123456789012/elasticloadbalancing/eu-west-2/2024/03/{day:02d}"
        d.mkdir(parents=True)
        for k in range(100):
            hh, mm = divmod(k * 5, 60)
            name = (
                f"123456789012_elasticloadbalancing_eu-west-2_app.prod-api.50dc6c495c0c9188_"
                f"202403{day:02d}T{hh:02d}{mm:02d}Z_10.0.1.{k % 250}_{k:08x}.log.gz"
            )
            lines = [
                alb("h2" if j % 2 else "https", client=f"203.0.113.{j}:{1024 + k}").replace(
                    "2018-07-02T22:23:00.186641Z", f"2024-03-{day:02d}T{hh:02d}:{mm:02d}:{j:02d}.000000Z"
                )
                for j in range(1 + k % 3)
            ]
            (d / name).write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
            n_lines += len(lines)
    other = top / "AWSLogs/210987654321/elasticloadbalancing/us-east-1/2024/03/01"
    other.mkdir(parents=True)
    (
        other / "210987654321_elasticloadbalancing_us-east-1_app.other.1234_20240301T0005Z_10.9.9.9_x.log.gz"
    ).write_bytes(gzip.compress((ALB_HTTPS + "\n").encode()))
    n_lines += 1
    case = Case.create(tmp_path / "case.duckdb")
    report = ingest(case, [top], IngestOptions())
    assert len(report.results) == 301
    assert {(r.status, r.format) for r in report.results} == {("ingested", "alb")}
    assert report.total("lines") == report.total("events") == n_lines
    row = case.con.execute(
        "select count(*), min(ts), max(ts), count(*) filter (where ts_offset_min <> 0) from events"
    ).fetchone()
    assert row is not None and row[0] == n_lines and row[3] == 0
    assert row[1] == utc(2018, 7, 2, 22, 23, 0, 186641) and row[2] == utc(2024, 3, 3, 8, 15, 0)
    case.close()


def test_extra_is_json_text_and_the_typed_fields_a_struct_in_the_case(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    future = ALB_HTTPS + ' "api.internal" "/v2/x?y=1" "TransformSuccess" "some-new-field" 42'
    path.write_text(ALB_HTTPS + "\n" + future + "\n")
    case = Case.create(tmp_path / "case.duckdb")
    ingest(case, [path])
    rows = case.con.execute(
        "select extra, alb[1].conn_trace_id, alb[1].client_port, alb[1].request_creation_time, "
        "alb[1]['target_status_code'] + 1, elb, nlb, s3, len(alb) from events order by line_no"
    ).fetchall()
    assert [r[0] for r in rows] == [None, '{"trailing":"\\"some-new-field\\" 42"}']
    assert json.loads(str(rows[1][0]))["trailing"] == '"some-new-field" 42'
    for r in rows:
        assert r[1:] == ("TID_1234abcd", 2817, utc(2018, 7, 2, 22, 22, 48, 364000), 201, None, None, None, 1)
    case.close()


NASTY = ['"', "\\", " ", "  ", "-", "[", "]", '\\"', "\t"]


@pytest.mark.parametrize("name", ["alb", "elb", "nlb", "s3"])
def test_fast_split_agrees_with_strict_regex(name: str) -> None:
    """Lines the quote/space split takes give exactly the fields the regex gives."""

    from forensics.formats.awslog import AwsFormat
    from forensics.formats.sqltext import sql_list, sql_str

    fmt = formats.REGISTRY[name]
    assert isinstance(fmt, AwsFormat)
    base = [
        ALB_HTTPS,
        alb("h2"),
        alb("http", tail=""),
        ELB_HTTP,
        ELB_TCP,
        ELB_ESCAPED_UA,
        NLB_V1,
        NLB_ALPN,
        S3_PUT,
        S3_GET_ANON,
        S3_IAM_OLD,
        fmt.example,
    ]
    base += [
        ln
        for p in sorted((Path(__file__).parent / "data/realdata/alb").iterdir())
        for ln in p.read_text().splitlines()
    ]
    lines = _fuzzed(base, seed=5, copies=6)
    parser = fmt.bind(lines, formats.ParseOptions())
    con = connect(":memory:")
    rows = con.execute(
        f"""
        SELECT line, _fast, CASE WHEN _fast THEN {parser.fast_struct()} END AS s,
               regexp_extract(line, {sql_str(fmt.regex)}, {sql_list(parser.names)}) AS r
        FROM (SELECT line, {parser.tokens_sql()} FROM (SELECT unnest(?) AS line))""",
        [lines],
    ).fetchall()
    taken = [(line, s, r) for line, ok, s, r in rows if ok]
    assert len(taken) >= 5
    for line, s, r in taken:
        assert {k: v or "" for k, v in s.items()} == r, line


def _fuzzed(base: list[str], seed: int, copies: int) -> list[str]:
    """``base``, then ``copies`` of each line with one or two NASTY characters inserted."""
    import random

    from tests.fuzzkit import with_insertions

    return base + with_insertions(base, random.Random(seed), copies, 2, NASTY)


@pytest.mark.parametrize("name", ["alb", "elb", "s3"])
def test_canonical_split_agrees_with_the_general_split(name: str) -> None:
    """Lines the canonical (fixed position) way takes give the fields the general split gives,
    once unquoted as the parse unquotes them; lines it does not take go the general way."""

    from forensics.formats.awslog import AwsFormat

    fmt = formats.REGISTRY[name]
    assert isinstance(fmt, AwsFormat)
    base = [ALB_HTTPS, alb("h2"), alb("http", tail=""), ALB_HTTPS + ' "a" "b" "c" "x" 4', fmt.example]
    base += [ELB_HTTP, ELB_TCP, ELB_ESCAPED_UA, S3_PUT, S3_GET_ANON, S3_IAM_OLD]
    base += [ALB_HTTPS.rsplit(" ", k)[0] for k in range(1, 18)]  # every older field count
    base += [
        ln
        for p in sorted((Path(__file__).parent / "data/realdata/alb").iterdir())
        for ln in p.read_text().splitlines()
    ]
    lines = _fuzzed(base, seed=7, copies=8)
    parser = fmt.bind(lines, formats.ParseOptions())
    split, canon, ok = parser.canonical_sql()
    assert split
    con = connect(":memory:")
    rows = con.execute(
        f"""
        SELECT line, _c, CASE WHEN _c THEN {canon} END AS c, _fast, CASE WHEN _fast THEN {parser.fast_struct()} END
        FROM (SELECT line, {split}, coalesce({ok}, false) AS _c, {parser.tokens_sql()}
              FROM (SELECT unnest(?) AS line))""",
        [lines],
    ).fetchall()
    taken = [(line, c, fast, s) for line, ok_, c, fast, s in rows if ok_]
    assert len(taken) >= 5

    def unquoted(v: str | None) -> str | None:
        return v[1:-1] if v is not None and v.startswith('"') else v

    for line, c, fast, s in taken:
        assert fast, line  # the canonical way takes no line the general one would not
        assert c == {k: unquoted(v) for k, v in s.items()}, line
    # and the whole parse gives the same rows with and without it
    whole = parser.select_sql("(SELECT row_number() OVER () AS line_no, unnest(?) AS line)")
    general = parser.select_sql("(SELECT row_number() OVER () AS line_no, unnest(?) AS line)").replace(
        ok, "false", 1
    )
    assert whole != general
    got = con.execute(f"SELECT * FROM ({whole}) ORDER BY line_no", [lines]).fetchall()
    want = con.execute(f"SELECT * FROM ({general}) ORDER BY line_no", [lines]).fetchall()
    assert got == want


def test_escaped_quote_in_a_quoted_field_is_strict_for_the_sniffer() -> None:
    """A user agent holding \\" must not send every file with one to the full scoring."""
    from forensics.formats import _scored

    line = alb("http", rest='"Mozilla/5.0 zgrab/0.x \\"probe\\"" - -')
    sample = [ALB_HTTPS, line, alb("h2")]
    con = connect(":memory:")
    assert formats.REGISTRY["alb"].matches(con, sample, strict_only=True) == [True, True, True]
    assert formats.REGISTRY["elb"].matches(con, [ELB_ESCAPED_UA], strict_only=True) == [True]
    fast = formats.sniff(con, sample)
    full = _scored(con, sample, dict(formats.REGISTRY))
    assert (fast.best, fast.score) == (full.best, full.score) == (formats.REGISTRY["alb"], 1.0)
    assert parse_one("alb", line)["user_agent"] == 'Mozilla/5.0 zgrab/0.x \\"probe\\"'
