"""Azure Front Door access log: Standard/Premium (FrontDoorAccessLog) and classic (FrontdoorAccessLog).

Keys per "Monitor metrics and logs in Azure Front Door" (learn.microsoft.com/azure/frontdoor/
front-door-diagnostics): ``time``, category, ``properties{trackingReference, httpMethod,
httpVersion, requestUri (absolute URL), hostName, requestBytes, responseBytes, userAgent,
clientIp, clientPort, socketIp, timeToFirstByte, timeTaken (seconds), requestProtocol,
securityProtocol, httpStatusCode, httpStatusDetails, pop, cacheStatus, errorInfo, endpoint,
routingRuleName, originUrl, originIp, originName, referer, clientCountry …}``. Classic logs
spell some keys differently (ClientIp, socketIP …); both spellings are read. ``clientIp`` is
the client; ``socketIp`` (the peer that connected, maybe a proxy) stays in extra.
"""

from __future__ import annotations

from forensics.formats.azure_appgw import AZURE_DIAGNOSTIC
from forensics.formats.jsonmap import Field, JsonMapFormat


def _p(*names: str) -> tuple[str, ...]:
    return tuple(f"properties.{n}" for n in names)


FORMAT = JsonMapFormat(
    name="azure_frontdoor",
    description="Azure Front Door access log (FrontDoorAccessLog Standard/Premium and classic, "
    "diagnostic JSON lines).",
    example='{"time":"2024-03-12T10:00:00.1234567Z","resourceId":"/SUBSCRIPTIONS/0000/RESOURCEGROUPS/RG/'
    'PROVIDERS/MICROSOFT.CDN/PROFILES/AFD1","category":"FrontDoorAccessLog",'
    '"operationName":"Microsoft.Cdn/Profiles/AccessLog/Write","properties":{'
    '"trackingReference":"20240312T100000Z-1a2b3c4d5e6f7g8h","httpMethod":"GET","httpVersion":"1.1.0",'
    '"requestUri":"https://api.example.com:443/api/v2/referrals/51234?full=1","hostName":"api.example.com",'
    '"requestBytes":"312","responseBytes":"1832","userAgent":"curl/8.4.0","clientIp":"203.0.113.9",'
    '"clientPort":"52654","socketIp":"203.0.113.9","timeToFirstByte":"0.010","timeTaken":"0.012",'
    '"requestProtocol":"HTTPS","securityProtocol":"TLS 1.2","httpStatusCode":"200",'
    '"httpStatusDetails":"200","pop":"LON","cacheStatus":"CONFIG_NOCACHE","errorInfo":"NoError",'
    '"endpoint":"api-abc123.z01.azurefd.net","referer":"","originName":"api-origin.example.com"}}',
    signature=(
        _p("trackingReference", "TrackingReference"),
        _p("httpStatusCode", "HttpStatusCode"),
        ("time",),
    ),
    entry_values=("FrontDoorAccessLog", "FrontdoorAccessLog", "AzureCdnAccessLog"),
    **AZURE_DIAGNOSTIC,
    fields=(
        Field("ts", ("time",), "time"),
        Field("client_ip", _p("clientIp", "ClientIp", "clientIP")),
        Field("method", _p("httpMethod", "HttpMethod")),
        Field("_target", _p("requestUri", "RequestUri")),
        Field("host", _p("hostName", "HostName")),
        Field("protocol", _p("httpVersion", "HttpVersion")),
        Field("status", _p("httpStatusCode", "HttpStatusCode"), "int"),
        Field("bytes_sent", _p("responseBytes", "ResponseBytes"), "int"),
        Field("bytes_received", _p("requestBytes", "RequestBytes"), "int"),
        Field("duration_ms", _p("timeTaken", "TimeTaken"), "s"),
        Field("user_agent", _p("userAgent", "UserAgent")),
        Field("referer", _p("referer", "Referer", "referrer")),
        Field("request_id", _p("trackingReference", "TrackingReference")),
    ),
)
