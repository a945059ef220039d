"""Azure Application Gateway access log (diagnostic category ApplicationGatewayAccessLog).

Keys per "Diagnostic logs for Application Gateway" (learn.microsoft.com/azure/application-
gateway/application-gateway-diagnostics): ``time`` (``timeStamp`` in some exports), resourceId,
operationName, category and ``properties{instanceId, clientIP, clientPort, httpMethod,
requestUri, requestQuery / originalRequestUriWithArgs, userAgent, httpStatus, httpVersion,
receivedBytes, sentBytes, timeTaken, sslEnabled, sslCipher, sslProtocol, serverRouted,
serverStatus, serverResponseLatency, host, originalHost, transactionId, WAFMode …}``.
v2 (Standard_v2/WAF_v2) writes timeTaken in seconds and has transactionId; v1 writes timeTaken
in milliseconds and has no transactionId. The host column is the Host header the client sent
(originalHost); ``host`` after a rewrite stays in extra. Other categories (firewall,
performance logs) in the same export are NOT_AN_ENTRY rejects.
"""

from __future__ import annotations

from typing import Any

from forensics.formats.jsonmap import Field, JsonMapFormat

# Azure Monitor resource-log records: the access category is an entry, other categories of the
# same resource (firewall, performance …) are not; shared with azure_frontdoor
AZURE_DIAGNOSTIC: dict[str, Any] = {
    "entry_key": "category",
    "entry_key_optional": True,
    "member": ("resourceId", "properties"),
    "what": "Azure diagnostic record",
    "detail": ("category", "operationName"),
    "wrapper_hint": "convert to JSON lines first, e.g. jq -c '.records[]' PT1H.json > PT1H.jsonl",
}

FORMAT = JsonMapFormat(
    name="azure_appgw",
    description="Azure Application Gateway access log (ApplicationGatewayAccessLog diagnostic "
    "JSON lines, v1 and v2).",
    example='{"time":"2024-03-12T10:00:00.1234567Z","resourceId":"/SUBSCRIPTIONS/0000/RESOURCEGROUPS/RG/'
    'PROVIDERS/MICROSOFT.NETWORK/APPLICATIONGATEWAYS/APPGW1","operationName":"ApplicationGatewayAccess",'
    '"category":"ApplicationGatewayAccessLog","properties":{"instanceId":"appgw_1",'
    '"clientIP":"203.0.113.9","clientPort":52654,"httpMethod":"GET",'
    '"originalRequestUriWithArgs":"/api/v2/referrals/51234?full=1","requestUri":"/api/v2/referrals/51234",'
    '"requestQuery":"full=1","userAgent":"curl/8.4.0","httpStatus":200,"httpVersion":"HTTP/1.1",'
    '"receivedBytes":312,"sentBytes":1832,"clientResponseTime":0,"timeTaken":0.012,'
    '"WAFEvaluationTime":"0.000","WAFMode":"Detection","transactionId":"592d1649f75a8d480a3c4dc6a975309d",'
    '"sslEnabled":"on","sslCipher":"ECDHE-RSA-AES256-GCM-SHA384","sslProtocol":"TLSv1.2",'
    '"serverRouted":"10.0.1.4:443","serverStatus":"200","serverResponseLatency":"0.010",'
    '"originalHost":"api.example.com","host":"api.example.com"}}',
    signature=(("properties.httpMethod",), ("properties.httpStatus",), ("time", "timeStamp")),
    entry_values=("ApplicationGatewayAccessLog",),
    **AZURE_DIAGNOSTIC,
    fields=(
        Field("ts", ("time", "timeStamp"), "time"),
        Field("client_ip", ("properties.clientIP",)),
        Field("method", ("properties.httpMethod",)),
        Field("_target", ("properties.requestUri",)),
        Field("query", ("properties.requestQuery",)),
        Field("host", ("properties.originalHost", "properties.host"), drop="used"),
        Field("protocol", ("properties.httpVersion",)),
        Field("status", ("properties.httpStatus",), "int"),
        Field("bytes_sent", ("properties.sentBytes",), "int"),
        Field("bytes_received", ("properties.receivedBytes",), "int"),
        Field(
            "duration_ms", ("properties.timeTaken",), "s", kind_if_absent=("properties.transactionId", "ms")
        ),
        Field("user_agent", ("properties.userAgent",)),
        Field("request_id", ("properties.transactionId",)),
    ),
)
