"""Envoy / Istio JSON access logs keyed by the default format's operators.

Envoy's default format (envoyproxy.io, "Access logging", default format string) written as a
JSON dictionary with the operator names as keys, as Istio's ``meshConfig.accessLogEncoding:
JSON`` does: start_time, method, path (X-ENVOY-ORIGINAL-PATH?:PATH), protocol, response_code,
response_flags, bytes_received, bytes_sent, duration (ms), upstream_service_time,
x_forwarded_for, user_agent, request_id, authority, upstream_host, upstream_cluster,
downstream_remote_address, … START_TIME is written in UTC with ``Z``.
"""

from __future__ import annotations

from forensics.formats.jsonmap import Field, JsonMapFormat

FORMAT = JsonMapFormat(
    name="envoy_json",
    description="Envoy / Istio JSON access log (start_time, method, path, response_code, "
    "response_flags, duration ms …).",
    example='{"start_time":"2024-03-12T10:00:00.123Z","method":"GET",'
    '"path":"/api/v2/referrals/51234?full=1","protocol":"HTTP/1.1","response_code":200,'
    '"response_flags":"-","response_code_details":"via_upstream","bytes_received":0,'
    '"bytes_sent":1832,"duration":12,"upstream_service_time":"11",'
    '"x_forwarded_for":"203.0.113.9","user_agent":"curl/8.4.0",'
    '"request_id":"0e2c5f3e-7b1d-4b8e-9d6a-2a1c3f4b5d6e","authority":"api.example.com",'
    '"upstream_host":"10.0.3.7:8080","upstream_cluster":"outbound|8080||api.default.svc.cluster.local",'
    '"downstream_remote_address":"203.0.113.9:52654","downstream_local_address":"10.0.3.7:8080",'
    '"route_name":"default"}',
    signature=(("start_time",), ("response_code",), ("response_flags",)),
    fields=(
        Field("ts", ("start_time",), "time"),
        # the peer address with its port: the port stays in extra
        Field("client_ip", ("downstream_remote_address",), "ip", drop="none"),
        Field("method", ("method",)),
        Field("_target", ("path",)),
        Field("host", ("authority",)),
        Field("protocol", ("protocol",)),
        Field("status", ("response_code",), "int"),
        Field("bytes_received", ("bytes_received",), "int"),
        Field("bytes_sent", ("bytes_sent",), "int"),
        Field("duration_ms", ("duration",), "ms"),
        Field("forwarded_for", ("x_forwarded_for",)),
        Field("user_agent", ("user_agent",)),
        Field("referer", ("referer",)),
        Field("request_id", ("request_id",)),
    ),
)
