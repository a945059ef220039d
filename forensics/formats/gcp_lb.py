"""Google Cloud HTTP(S) / Application Load Balancer request logs from Cloud Logging exports.

A LogEntry (cloud.google.com/logging/docs/reference/v2/rest/v2/LogEntry) per line: ``timestamp``
(RFC 3339, UTC), ``httpRequest{requestMethod, requestUrl (absolute), status, responseSize,
requestSize, remoteIp, serverIp, userAgent, referer, latency ("0.123s"), protocol}``,
``jsonPayload{@type: …LoadBalancerLogEntry, statusDetails, cacheDecision, enforcedSecurityPolicy
…}``, ``trace``, ``insertId``, ``resource{type, labels}``. Regional load balancers write
``remoteIp`` as ``ip:port``. Entries without ``httpRequest`` are NOT_AN_ENTRY rejects.

Sampling: the backend service's ``logConfig.sampleRate`` (default 1.0) decides what share of
requests is logged; the entries themselves do not carry it. When an export does carry a sample
rate (under ``jsonPayload.logConfig.sampleRate`` / ``jsonPayload.sampleRate``) it is kept per
event as ``extra.sample_rate`` and a rate below 1 puts a warning on the source; otherwise the
source gets a warning to check the backend service's setting.
"""

from __future__ import annotations

from forensics.formats.jsonmap import Field, JsonMapFormat


def _warnings(table: str, file_key: str) -> str:
    rate = "TRY_CAST(json_extract_string(extra, '$.sample_rate') AS DOUBLE)"
    return f"""
SELECT {file_key} AS idx, CASE
  WHEN min({rate}) < 1 THEN 'sampled logs: sample rate ' || min({rate}) || ' recorded on '
    || count({rate}) || ' events; unlogged requests are missing from this source'
  WHEN count({rate}) = 0 THEN 'load balancer logs may be sampled (backend service '
    || 'logConfig.sampleRate) and the entries do not say the rate; check it with gcloud compute '
    || 'backend-services describe'
  END AS warning
FROM {table} WHERE reject_reason IS NULL GROUP BY 1 HAVING warning IS NOT NULL"""


FORMAT = JsonMapFormat(
    name="gcp_lb",
    description="Google Cloud HTTP(S) load balancer logs exported from Cloud Logging "
    "(LogEntry JSON lines with httpRequest).",
    example='{"insertId":"1hm2bqcf6hr7d9","jsonPayload":{"@type":"type.googleapis.com/'
    'google.cloud.loadbalancing.type.LoadBalancerLogEntry","statusDetails":"response_sent_by_backend",'
    '"backendTargetProjectNumber":"projects/123456789012","remoteIp":"203.0.113.9"},'
    '"httpRequest":{"requestMethod":"GET","requestUrl":"https://api.example.com/api/v2/referrals/51234?full=1",'
    '"requestSize":"312","status":200,"responseSize":"1832","userAgent":"curl/8.4.0",'
    '"remoteIp":"203.0.113.9","serverIp":"10.128.0.7","latency":"0.012345s","protocol":"HTTP/1.1"},'
    '"resource":{"type":"http_load_balancer","labels":{"backend_service_name":"api-backend",'
    '"forwarding_rule_name":"api-https","project_id":"example-prod","target_proxy_name":"api-proxy",'
    '"url_map_name":"api-map","zone":"global"}},"timestamp":"2024-03-12T10:00:00.123456Z",'
    '"severity":"INFO","logName":"projects/example-prod/logs/requests",'
    '"trace":"projects/example-prod/traces/7f1c2d3e4f5a6b7c","receiveTimestamp":"2024-03-12T10:00:01.5Z"}',
    signature=(("httpRequest",), ("timestamp",), ("insertId",)),
    member=("insertId", "timestamp"),
    what="Cloud Logging entry without httpRequest",
    detail=("logName",),
    fields=(
        Field("ts", ("timestamp",), "time"),
        Field("client_ip", ("httpRequest.remoteIp",), "ip", drop="none"),
        Field("method", ("httpRequest.requestMethod",)),
        Field("_target", ("httpRequest.requestUrl",)),
        Field("protocol", ("httpRequest.protocol",)),
        Field("status", ("httpRequest.status",), "int"),
        Field("bytes_sent", ("httpRequest.responseSize",), "int"),
        Field("bytes_received", ("httpRequest.requestSize",), "int"),
        Field("duration_ms", ("httpRequest.latency",), "gdur"),
        Field("user_agent", ("httpRequest.userAgent",)),
        Field("referer", ("httpRequest.referer",)),
        Field("extra.sample_rate", ("jsonPayload.logConfig.sampleRate", "jsonPayload.sampleRate"), "text"),
    ),
    warnings=_warnings,
)
