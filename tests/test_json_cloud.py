"""Fixed-mapping JSON access logs: API Gateway, GCP load balancer, Azure Application Gateway and
Front Door, Caddy, Traefik, Envoy/Istio. Lines are written from each source's documentation
(cited per test); values expected here were read off those lines by hand."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from forensics import Case, IngestOptions, formats, ingest
from forensics.errors import TimezoneRequiredError
from forensics.formats.base import NOT_AN_ENTRY, ParseOptions
from forensics.store.db import connect
from tests.formathelpers import event_values, ingest_lines, parse_lines, parse_one, utc

NAMES = ["apigw_json", "gcp_lb", "azure_appgw", "azure_frontdoor", "caddy", "traefik_json", "envoy_json"]


def jl(*objs: Any) -> list[str]:
    return [json.dumps(o) for o in objs]


def sniffed(lines: list[str]) -> str | None:
    best = formats.sniff(connect(":memory:"), lines).best
    return best.name if best else None


# --- API Gateway ----------------------------------------------------------------------------
# docs.aws.amazon.com/apigateway/latest/developerguide/set-up-access-logging.html (console JSON
# preset) and http-api-logging-variables.html; requestTime is CLF text, requestTimeEpoch ms.

APIGW_REST = {
    "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
    "ip": "198.51.100.23",
    "caller": "-",
    "user": "-",
    "requestTime": "12/Mar/2024:10:00:00 +0000",
    "httpMethod": "POST",
    "resourcePath": "/patients/{id}/export",
    "status": "201",
    "protocol": "HTTP/1.1",
    "responseLength": "5120",
}


def test_apigw_rest_console_preset() -> None:
    row = parse_one("apigw_json", json.dumps(APIGW_REST))
    assert event_values(row) == {
        "ts": utc(2024, 3, 12, 10, 0, 0),
        "ts_offset_min": 0,
        "client_ip": "198.51.100.23",
        "method": "POST",
        "path": "/patients/{id}/export",  # only the resource template was logged
        "protocol": "HTTP/1.1",
        "status": 201,
        "bytes_sent": 5120,
        "request_id": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
        # caller and user were "-" (nothing): no principal and nothing left for extra
    }


def test_apigw_http_api_preset_with_epoch_authorizer_and_path() -> None:
    line = json.dumps(
        {
            "requestId": "JhBxaiKzIAMEVgw=",
            "ip": "203.0.113.77",
            "requestTime": "12/Mar/2024:10:00:00 +0000",
            "requestTimeEpoch": 1710237600250,
            "httpMethod": "GET",
            "routeKey": "GET /records/{id}",
            "path": "/records/991",
            "status": 200,
            "protocol": "HTTP/1.1",
            "responseLength": 733,
            "responseLatency": 41,
            "authorizer": {"principalId": "user-42", "claims": {"sub": "abc"}},
            "identity": {"caller": "AIDAEXAMPLE"},
        }
    )
    row = parse_one("apigw_json", line)
    assert event_values(row) == {
        "ts": utc(2024, 3, 12, 10, 0, 0, 250000),  # epoch ms wins: millisecond precision
        "client_ip": "203.0.113.77",
        "method": "GET",
        "path": "/records/991",
        "protocol": "HTTP/1.1",
        "status": 200,
        "bytes_sent": 733,
        "duration_ms": 41.0,
        "principal": "user-42",
        "request_id": "JhBxaiKzIAMEVgw=",
        "extra": {
            "requestTime": "12/Mar/2024:10:00:00 +0000",
            "routeKey": "GET /records/{id}",
            "authorizer": {"claims": {"sub": "abc"}},
            "identity": {"caller": "AIDAEXAMPLE"},
        },
    }


def test_apigw_principal_falls_back_to_identity_then_caller() -> None:
    rows = parse_lines(
        "apigw_json",
        jl(
            {**APIGW_REST, "identity": {"user": "AROAEXAMPLE:alice"}},
            {**APIGW_REST, "caller": "AIDACALLER"},
        ),
    )
    assert [r["principal"] for r in rows] == ["AROAEXAMPLE:alice", "AIDACALLER"]


# --- GCP load balancer ----------------------------------------------------------------------
# cloud.google.com/load-balancing/docs/https/https-logging-monitoring; LogEntry.httpRequest:
# cloud.google.com/logging/docs/reference/v2/rest/v2/LogEntry#HttpRequest (latency "0.123s").

GCP = {
    "insertId": "1w9kh9pf2a1un6",
    "jsonPayload": {
        "@type": "type.googleapis.com/google.cloud.loadbalancing.type.LoadBalancerLogEntry",
        "statusDetails": "response_sent_by_backend",
        "backendTargetProjectNumber": "projects/388897613316",
        "remoteIp": "35.199.77.186",
    },
    "httpRequest": {
        "requestMethod": "GET",
        "requestUrl": "https://shop.example.com/api/orders?page=2&size=50",
        "requestSize": "85",
        "status": 200,
        "responseSize": "9124",
        "userAgent": "python-requests/2.31.0",
        "remoteIp": "35.199.77.186",
        "serverIp": "10.128.0.12",
        "referer": "https://shop.example.com/",
        "latency": "0.054772s",
        "protocol": "HTTP/1.1",
    },
    "resource": {
        "type": "http_load_balancer",
        "labels": {"backend_service_name": "shop-bs", "zone": "global"},
    },
    "timestamp": "2023-09-12T15:47:55.884550Z",
    "severity": "INFO",
    "logName": "projects/shop-prod/logs/requests",
    "trace": "projects/shop-prod/traces/7f1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e",
    "receiveTimestamp": "2023-09-12T15:47:57.169721044Z",
}


def test_gcp_lb_global_entry() -> None:
    row = parse_one("gcp_lb", json.dumps(GCP))
    extra = row["extra"]
    assert {k: v for k, v in event_values(row).items() if k != "extra"} == {
        "ts": utc(2023, 9, 12, 15, 47, 55, 884550),
        "ts_offset_min": 0,
        "client_ip": "35.199.77.186",
        "method": "GET",
        "host": "shop.example.com",
        "path": "/api/orders",
        "query": "page=2&size=50",
        "protocol": "HTTP/1.1",
        "status": 200,
        "bytes_sent": 9124,
        "bytes_received": 85,
        "duration_ms": pytest.approx(54.772),
        "user_agent": "python-requests/2.31.0",
        "referer": "https://shop.example.com/",
    }
    assert extra["jsonPayload"]["statusDetails"] == "response_sent_by_backend"
    assert extra["httpRequest"] == {"remoteIp": "35.199.77.186", "serverIp": "10.128.0.12"}
    assert extra["trace"] == GCP["trace"] and extra["insertId"] == "1w9kh9pf2a1un6"
    assert extra["resource"]["labels"]["backend_service_name"] == "shop-bs"


def test_gcp_lb_regional_remote_ip_with_port_and_non_request_entry() -> None:
    regional = {**GCP, "httpRequest": {**GCP["httpRequest"], "remoteIp": "202.8.105.197:53663"}}
    other = {
        "insertId": "abc",
        "timestamp": "2023-09-12T15:48:00Z",
        "logName": "projects/shop-prod/logs/cloudaudit.googleapis.com%2Factivity",
        "protoPayload": {"methodName": "v1.compute.backendServices.patch"},
    }
    rows = parse_lines("gcp_lb", jl(regional, other))
    assert rows[0]["client_ip"] == "202.8.105.197"
    assert rows[0]["extra"]["httpRequest"]["remoteIp"] == "202.8.105.197:53663"
    assert rows[1]["reject_reason"] == (
        NOT_AN_ENTRY + "Cloud Logging entry without httpRequest "
        "logName=projects/shop-prod/logs/cloudaudit.googleapis.com%2Factivity"
    )


def test_gcp_lb_sample_rate_recorded_and_warned(tmp_path: Path) -> None:
    sampled = {**GCP, "jsonPayload": {**GCP["jsonPayload"], "logConfig": {"sampleRate": 0.25}}}
    case, report = ingest_lines(tmp_path, "requests.jsonl", jl(sampled, sampled))
    (result,) = report.results
    assert (result.format, result.events) == ("gcp_lb", 2)
    assert any("sample rate 0.25" in w for w in result.warnings), result.warnings
    rates = case.con.execute("select extra->>'sample_rate' from events").fetchall()
    assert rates == [("0.25",), ("0.25",)]


def test_gcp_lb_without_sample_rate_warns_to_check_it(tmp_path: Path) -> None:
    _, report = ingest_lines(tmp_path, "requests.jsonl", jl(GCP))
    (result,) = report.results
    assert any("logConfig.sampleRate" in w for w in result.warnings), result.warnings


# --- Azure Application Gateway --------------------------------------------------------------
# learn.microsoft.com/azure/application-gateway/application-gateway-diagnostics#access-log

APPGW_V1 = {
    "resourceId": "/SUBSCRIPTIONS/0000/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.NETWORK/APPLICATIONGATEWAYS/AG1",
    "operationName": "ApplicationGatewayAccess",
    "time": "2017-04-26T19:27:38Z",
    "category": "ApplicationGatewayAccessLog",
    "properties": {
        "instanceId": "ApplicationGatewayRole_IN_0",
        "clientIP": "191.96.249.97",
        "clientPort": 46886,
        "httpMethod": "GET",
        "requestUri": "/phpmyadmin/scripts/setup.php",
        "requestQuery": "X-AzureApplicationGateway-CACHE-HIT=0&SERVER-ROUTED=10.4.0.4&X-AzureApplicationGateway-LOG-ID=874f1f0f-6807-41c9-b7bc-f3cfa74aa0b1&SERVER-STATUS=404",
        "userAgent": "-",
        "httpStatus": 404,
        "httpVersion": "HTTP/1.0",
        "receivedBytes": 65,
        "sentBytes": 553,
        "timeTaken": 205,
        "sslEnabled": "off",
        "host": "-",
    },
}


def test_azure_appgw_v1_time_taken_in_ms_and_dashes() -> None:
    row = parse_one("azure_appgw", json.dumps(APPGW_V1))
    assert event_values(row) == {
        "ts": utc(2017, 4, 26, 19, 27, 38),
        "ts_offset_min": 0,
        "client_ip": "191.96.249.97",
        "method": "GET",
        "path": "/phpmyadmin/scripts/setup.php",
        "query": APPGW_V1["properties"]["requestQuery"],
        "protocol": "HTTP/1.0",
        "status": 404,
        "bytes_sent": 553,
        "bytes_received": 65,
        "duration_ms": 205.0,
        "extra": {
            "resourceId": APPGW_V1["resourceId"],
            "operationName": "ApplicationGatewayAccess",
            "category": "ApplicationGatewayAccessLog",
            "properties": {
                "instanceId": "ApplicationGatewayRole_IN_0",
                "clientPort": 46886,
                "sslEnabled": "off",  # host "-" (none) is dropped with the mapped keys
            },
        },
    }


def test_azure_appgw_other_categories_and_records_wrapper() -> None:
    firewall = {
        "resourceId": APPGW_V1["resourceId"],
        "operationName": "ApplicationGatewayFirewall",
        "time": "2017-04-26T19:27:39Z",
        "category": "ApplicationGatewayFirewallLog",
        "properties": {
            "instanceId": "appgw_1",
            "clientIp": "191.96.249.97",
            "requestUri": "/x",
            "ruleId": "920350",
        },
    }
    wrapper = {"records": [APPGW_V1, APPGW_V1]}
    lines = jl(APPGW_V1, firewall, wrapper)
    assert sniffed(lines) == "azure_appgw"
    rows = parse_lines("azure_appgw", lines)
    assert rows[0]["reject_reason"] is None
    assert rows[1]["reject_reason"] == (
        NOT_AN_ENTRY + "Azure diagnostic record category=ApplicationGatewayFirewallLog "
        "operationName=ApplicationGatewayFirewall"
    )
    assert rows[2]["reject_reason"].startswith('a {"records": [...]} wrapper holding many azure_appgw')
    assert "jq -c '.records[]'" in rows[2]["reject_reason"]


# --- Azure Front Door -----------------------------------------------------------------------
# learn.microsoft.com/azure/frontdoor/monitor-front-door#access-log (Standard/Premium) and the
# classic log's property list (front-door-diagnostics, classic).

AFD = {
    "time": "2024-03-12T10:00:00.1234567Z",
    "resourceId": "/SUBSCRIPTIONS/0000/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.CDN/PROFILES/AFD1",
    "category": "FrontDoorAccessLog",
    "operationName": "Microsoft.Cdn/Profiles/AccessLog/Write",
    "properties": {
        "trackingReference": "20240312T100000Z-r1b2c3d4e5f6g7h8",
        "httpMethod": "GET",
        "httpVersion": "2.0.0",
        "requestUri": "https://files.example.org:443/reports/2024/q1.pdf?dl=1",
        "hostName": "files.example.org",
        "requestBytes": "412",
        "responseBytes": "734002",
        "userAgent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64)",
        "clientIp": "198.51.100.201",
        "clientPort": "50112",
        "socketIp": "198.51.100.201",
        "timeTaken": "0.845",
        "httpStatusCode": "200",
        "pop": "AMS",
        "cacheStatus": "MISS",
        "referer": "https://portal.example.org/",
    },
}


def test_azure_frontdoor_standard() -> None:
    row = parse_one("azure_frontdoor", json.dumps(AFD))
    assert event_values(row) == {
        "ts": utc(2024, 3, 12, 10, 0, 0, 123456),  # 100 ns ticks cut to microseconds
        "ts_offset_min": 0,
        "client_ip": "198.51.100.201",
        "method": "GET",
        "host": "files.example.org",
        "path": "/reports/2024/q1.pdf",
        "query": "dl=1",
        "protocol": "2.0.0",
        "status": 200,
        "bytes_sent": 734002,
        "bytes_received": 412,
        "duration_ms": pytest.approx(845.0),
        "user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64)",
        "referer": "https://portal.example.org/",
        "request_id": "20240312T100000Z-r1b2c3d4e5f6g7h8",
        "extra": {
            "resourceId": AFD["resourceId"],
            "category": "FrontDoorAccessLog",
            "operationName": "Microsoft.Cdn/Profiles/AccessLog/Write",
            "properties": {
                "clientPort": "50112",
                "socketIp": "198.51.100.201",
                "pop": "AMS",
                "cacheStatus": "MISS",
            },
        },
    }


def test_azure_frontdoor_classic_spelling() -> None:
    classic = {
        "time": "2020-06-01T08:15:00Z",
        "resourceId": "/SUBSCRIPTIONS/0000/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.NETWORK/FRONTDOORS/FD1",
        "category": "FrontdoorAccessLog",
        "operationName": "Microsoft.Network/FrontDoor/AccessLog/Write",
        "properties": {
            "TrackingReference": "0Yl3UXgAAAAC",
            "HttpMethod": "POST",
            "HttpVersion": "1.1.0",
            "RequestUri": "https://www.example.org:443/login",
            "RequestBytes": "901",
            "ResponseBytes": "1200",
            "UserAgent": "curl/7.68.0",
            "ClientIp": "192.0.2.15",
            "socketIP": "192.0.2.15",
            "TimeTaken": "0.120",
            "HttpStatusCode": "302",
            "POP": "LHR",
        },
    }
    assert sniffed(jl(classic)) == "azure_frontdoor"
    row = parse_one("azure_frontdoor", json.dumps(classic))
    assert (row["client_ip"], row["method"], row["host"], row["path"], row["status"], row["request_id"]) == (
        "192.0.2.15",
        "POST",
        "www.example.org:443",
        "/login",
        302,
        "0Yl3UXgAAAAC",
    )
    assert row["duration_ms"] == pytest.approx(120.0)
    assert row["extra"]["properties"] == {"socketIP": "192.0.2.15", "POP": "LHR"}


# --- Caddy ----------------------------------------------------------------------------------
# caddyserver.com/docs/caddyfile/directives/log#format-modifiers (structure of http.log.access)

CADDY = {
    "level": "info",
    "ts": 1646861401.5241024,
    "logger": "http.log.access.log0",
    "msg": "handled request",
    "request": {
        "remote_ip": "[2001:db8::7]",
        "remote_port": "41342",
        "client_ip": "2001:db8::7",
        "proto": "HTTP/2.0",
        "method": "GET",
        "host": "example.com",
        "uri": "/download/report.csv?id=7",
        "headers": {
            "User-Agent": ["Mozilla/5.0 (X11; Linux x86_64)"],
            "Referer": ["https://example.com/reports"],
            "X-Forwarded-For": ["198.51.100.4, 10.0.0.2"],
            "Accept": ["*/*"],
        },
        "tls": {
            "resumed": False,
            "version": 772,
            "cipher_suite": 4865,
            "proto": "h2",
            "server_name": "example.com",
        },
    },
    "bytes_read": 0,
    "user_id": "admin",
    "duration": 0.000929675,
    "size": 10900,
    "status": 200,
    "resp_headers": {"Server": ["Caddy"], "Content-Type": ["text/csv"]},
}


def test_caddy_access_entry_exact_values() -> None:
    row = parse_one("caddy", json.dumps(CADDY))
    assert event_values(row) == {
        "ts": utc(2022, 3, 9, 21, 30, 1, 524102),
        "client_ip": "2001:db8::7",
        "forwarded_for": "198.51.100.4, 10.0.0.2",
        "method": "GET",
        "host": "example.com",
        "path": "/download/report.csv",
        "query": "id=7",
        "protocol": "HTTP/2.0",
        "status": 200,
        "bytes_sent": 10900,
        "bytes_received": 0,
        "duration_ms": pytest.approx(0.929675),
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
        "referer": "https://example.com/reports",
        "principal": "admin",
        "extra": {
            "level": "info",
            "logger": "http.log.access.log0",
            "msg": "handled request",
            "resp_headers": {"Server": ["Caddy"], "Content-Type": ["text/csv"]},
            "request": {
                "remote_ip": "[2001:db8::7]",
                "remote_port": "41342",
                "headers": {"Accept": ["*/*"]},
                "tls": CADDY["request"]["tls"],
            },
        },
    }


def test_caddy_compose_prefix_and_start_up_records(tmp_path: Path) -> None:
    startup = {"level": "info", "ts": 1646861400.1, "logger": "admin", "msg": "admin endpoint started"}
    bare = {"level": "info", "ts": 1646861400.2, "msg": "serving initial configuration"}
    lines = [f"web-caddy  | {ln}" for ln in jl(startup, bare, CADDY)] + ["web-caddy  | {not json"]
    case, report = ingest_lines(tmp_path, "compose.log", lines)
    (result,) = report.results
    assert (result.format, result.lines, result.events, result.rejects) == ("caddy", 4, 1, 3)
    assert case.con.execute(
        "select line_no, extra->>'compose_service', client_ip from events"
    ).fetchall() == [(3, "web-caddy", "2001:db8::7")]
    assert case.con.execute("select line_no, reason from rejects order by 1").fetchall() == [
        (1, NOT_AN_ENTRY + "Caddy log record logger=admin msg=admin endpoint started"),
        (2, NOT_AN_ENTRY + "Caddy log record msg=serving initial configuration"),
        (4, "invalid JSON"),
    ]


def test_jsonl_tolerates_compose_prefix() -> None:
    lines = [f"api_1  | {ln}" for ln in jl({"time": "2024-03-12T10:00:00Z", "path": "/a", "status": 200})]
    assert sniffed(lines) == "jsonl"
    (row,) = parse_lines("jsonl", lines)
    assert (row["ts"], row["path"], row["status"]) == (utc(2024, 3, 12, 10), "/a", 200)


# --- Traefik --------------------------------------------------------------------------------
# doc.traefik.io/traefik/observability/access-logs/#json-format (Duration in nanoseconds)


def test_traefik_json_exact_values() -> None:
    line = json.dumps(
        {
            "ClientAddr": "192.0.2.30:60124",
            "ClientHost": "192.0.2.30",
            "ClientPort": "60124",
            "ClientUsername": "bob",
            "DownstreamContentSize": 48211,
            "DownstreamStatus": 206,
            "Duration": 3512000,
            "OriginContentSize": 48211,
            "OriginDuration": 3300000,
            "OriginStatus": 206,
            "RequestAddr": "media.example.net",
            "RequestContentSize": 0,
            "RequestHost": "media.example.net",
            "RequestMethod": "GET",
            "RequestPath": "/v/clip.mp4?t=30",
            "RequestProtocol": "HTTP/2.0",
            "RequestScheme": "https",
            "RouterName": "media@file",
            "ServiceName": "media@file",
            "StartLocal": "2024-07-01T14:00:00.5+02:00",
            "StartUTC": "2024-07-01T12:00:00.5Z",
            "request_User-Agent": "VLC/3.0.20 LibVLC/3.0.20",
            "request_Referer": "https://media.example.net/",
            "request_X-Forwarded-For": "203.0.113.50",
            "level": "info",
            "msg": "",
            "time": "2024-07-01T14:00:00+02:00",
        }
    )
    row = parse_one("traefik_json", line)
    extra = row["extra"]
    assert {k: v for k, v in event_values(row).items() if k != "extra"} == {
        "ts": utc(2024, 7, 1, 12, 0, 0, 500000),
        "ts_offset_min": 0,
        "client_ip": "192.0.2.30",
        "forwarded_for": "203.0.113.50",
        "method": "GET",
        "host": "media.example.net",
        "path": "/v/clip.mp4",
        "query": "t=30",
        "protocol": "HTTP/2.0",
        "status": 206,
        "bytes_sent": 48211,
        "bytes_received": 0,
        "duration_ms": pytest.approx(3.512),
        "user_agent": "VLC/3.0.20 LibVLC/3.0.20",
        "referer": "https://media.example.net/",
        "principal": "bob",
    }
    assert extra["OriginStatus"] == 206 and extra["ClientAddr"] == "192.0.2.30:60124"
    assert extra["StartLocal"] == "2024-07-01T14:00:00.5+02:00" and "StartUTC" not in extra


# --- Envoy / Istio --------------------------------------------------------------------------
# istio.io/latest/docs/tasks/observability/logs/access-log/ (default JSON encoding keys) and
# envoyproxy.io/docs/envoy/latest/configuration/observability/access_log/usage (operators)

ISTIO = {
    "authority": "reviews:9080",
    "bytes_received": 0,
    "bytes_sent": 358,
    "connection_termination_details": None,
    "downstream_local_address": "10.244.0.12:9080",
    "downstream_remote_address": "[2001:db8::a]:45678",
    "duration": 7,
    "method": "GET",
    "path": "/reviews/0",
    "protocol": "HTTP/1.1",
    "request_id": "4e8f6bd2-0e72-9a8d-8f2e-1c2b3a4d5e6f",
    "requested_server_name": None,
    "response_code": 200,
    "response_code_details": "via_upstream",
    "response_flags": "-",
    "route_name": "default",
    "start_time": "2024-03-12T10:00:00.456Z",
    "upstream_cluster": "inbound|9080||",
    "upstream_host": "10.244.0.12:9080",
    "upstream_local_address": "127.0.0.6:51513",
    "upstream_service_time": "6",
    "upstream_transport_failure_reason": None,
    "user_agent": "Go-http-client/1.1",
    "x_forwarded_for": None,
}


def test_istio_default_json_exact_values() -> None:
    row = parse_one("envoy_json", json.dumps(ISTIO))
    extra = row["extra"]
    assert {k: v for k, v in event_values(row).items() if k != "extra"} == {
        "ts": utc(2024, 3, 12, 10, 0, 0, 456000),
        "ts_offset_min": 0,
        "client_ip": "2001:db8::a",
        "method": "GET",
        "host": "reviews:9080",
        "path": "/reviews/0",
        "protocol": "HTTP/1.1",
        "status": 200,
        "bytes_sent": 358,
        "bytes_received": 0,
        "duration_ms": 7.0,
        "user_agent": "Go-http-client/1.1",
        "request_id": "4e8f6bd2-0e72-9a8d-8f2e-1c2b3a4d5e6f",
    }
    assert extra["downstream_remote_address"] == "[2001:db8::a]:45678"
    assert extra["response_flags"] == "-" and extra["upstream_cluster"] == "inbound|9080||"
    assert "x_forwarded_for" not in extra and "start_time" not in extra


def test_envoy_naive_start_time_needs_tz() -> None:
    lines = jl({**ISTIO, "start_time": "2024-03-12T10:00:00.456"})
    with pytest.raises(TimezoneRequiredError, match="--tz"):
        formats.REGISTRY["envoy_json"].bind(lines, ParseOptions())
    (row,) = parse_lines("envoy_json", lines, tz="Europe/Berlin")
    assert (row["ts"], row["ts_offset_min"]) == (utc(2024, 3, 12, 9, 0, 0, 456000), 60)


# --- detection and malformed lines ----------------------------------------------------------

EXAMPLES = {
    "apigw_json": APIGW_REST,
    "gcp_lb": GCP,
    "azure_appgw": APPGW_V1,
    "azure_frontdoor": AFD,
    "caddy": CADDY,
    "envoy_json": ISTIO,
}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_each_format_detects_its_own_records(name: str) -> None:
    assert sniffed(jl(EXAMPLES[name], EXAMPLES[name])) == name


def test_plain_application_json_stays_jsonl() -> None:
    app = jl(
        {"ts": "2024-03-12T10:00:00Z", "level": "info", "method": "GET", "path": "/a", "status": 200},
        {"time": "2024-03-12T10:00:01Z", "requestId": "r1", "url": "/b", "status": 404},
    )
    assert sniffed(app) == "jsonl"
    con = connect(":memory:")
    for name in NAMES:
        assert formats.REGISTRY[name].matches(con, app) == [False, False], name


def test_malformed_lines_get_specific_reasons() -> None:
    lines = [
        json.dumps(CADDY),
        '{"level":"info","ts":1646861401.5,"logger":"http.log.access","request":{"uri":"/x"',  # cut off
        "[1, 2]",
        json.dumps({**CADDY, "ts": "soon"}),
        json.dumps({"unrelated": True}),
    ]
    reasons = [r["reject_reason"] for r in parse_lines("caddy", lines)]
    assert reasons == [
        None,
        "invalid JSON",
        "JSON value is not an object",
        "missing or unparseable timestamp",
        "not a caddy access record (needs request.uri and status and ts)",
    ]


def test_end_to_end_gzip_ingest_counts(tmp_path: Path) -> None:
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    files = {
        "apigw.jsonl.gz": jl(APIGW_REST, {**APIGW_REST, "status": "403"}, {"requestId": "x"}),
        "appgw.json.gz": jl(APPGW_V1, APPGW_V1),
        "istio.log.gz": [*jl(ISTIO, ISTIO), "", "garbage"],
    }
    for name, lines in files.items():
        with gzip.open(evidence / name, "wt", encoding="utf-8") as fh:
            fh.write("\n".join(lines) + "\n")
    case = Case.create(tmp_path / "case.duckdb")
    report = ingest(case, [evidence], IngestOptions())
    got = {r.path.name: (r.status, r.format, r.lines, r.events, r.rejects) for r in report.results}
    assert got == {
        "apigw.jsonl.gz": ("ingested", "apigw_json", 3, 2, 1),
        "appgw.json.gz": ("ingested", "azure_appgw", 2, 2, 0),
        "istio.log.gz": ("ingested", "envoy_json", 4, 2, 2),
    }
    (n,) = case.con.execute("select count(*) from events").fetchone() or (0,)
    (m,) = case.con.execute("select count(*) from rejects").fetchone() or (0,)
    assert n + m == sum(len(v) for v in files.values())
