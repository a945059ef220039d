"""Amazon API Gateway access logs written from a JSON ``$context`` template (REST and HTTP APIs).

Keys of the console's JSON presets (docs.aws.amazon.com/apigateway, "Access logging for REST
APIs" / "Configure logging for HTTP APIs"): requestId, extendedRequestId, ip, caller, user,
requestTime (CLF text, ``12/Mar/2024:10:00:00 +0000``), requestTimeEpoch (ms), httpMethod,
resourcePath (the resource template, e.g. ``/pets/{id}``), routeKey (HTTP APIs, e.g.
``GET /pets/{id}``, kept in extra), status, protocol, responseLength; plus keys users commonly
add: path (the request path as sent), domainName, userAgent, responseLatency (ms),
authorizer.principalId, identity.*. The principal is the first present of the authorizer's
principal id, the Cognito/IAM identity (user, caller, userArn), then caller/user.
"""

from __future__ import annotations

from forensics.formats.jsonmap import Field, JsonMapFormat

FORMAT = JsonMapFormat(
    name="apigw_json",
    description="Amazon API Gateway access log from a JSON $context template (REST or HTTP API "
    "presets: requestId, ip, requestTime, httpMethod, resourcePath/routeKey, status …).",
    example='{"requestId":"c6af9ac6-7b61-11e6-9a41-93e8deadbeef","extendedRequestId":"MTf5HFx1oAMFr0g=",'
    '"ip":"203.0.113.9","caller":"-","user":"-","requestTime":"12/Mar/2024:10:00:00 +0000",'
    '"requestTimeEpoch":1710237600123,"httpMethod":"GET","resourcePath":"/referrals/{id}",'
    '"path":"/prod/referrals/51234","status":"200","protocol":"HTTP/1.1","responseLength":"1832"}',
    signature=(("requestId",), ("httpMethod",), ("requestTimeEpoch", "requestTime")),
    fields=(
        # epoch ms first (millisecond precision); requestTime (CLF, seconds) stays in extra
        Field("ts", ("requestTimeEpoch", "requestTime"), "time", drop="used"),
        Field("client_ip", ("ip", "sourceIp", "identity.sourceIp")),
        Field("method", ("httpMethod",)),
        # the path as sent when logged; else the resource template (both stay if both logged)
        Field("_target", ("path", "resourcePath"), drop="used"),
        Field("host", ("domainName",)),
        Field("protocol", ("protocol",)),
        Field("status", ("status",), "int"),
        Field("bytes_sent", ("responseLength",), "int"),
        Field("duration_ms", ("responseLatency",), "ms"),
        Field("user_agent", ("userAgent", "identity.userAgent")),
        Field("request_id", ("requestId",)),
        Field(
            "principal",
            (
                "authorizer.principalId",
                "principalId",
                "identity.user",
                "identity.caller",
                "identity.userArn",
                "caller",
                "user",
                "userArn",
            ),
            drop="used",
        ),
    ),
)
