"""AWS API Gateway REST API access logs in the console's CLF preset.

The API Gateway console offers this "CLF (Common Log Format)" access-log format for REST API
stages ("Access logging for REST APIs" → "Access log formats",
https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-access-logging.html) —
note there is no space between the time's ``]`` and the request's quote. Variables map as in
layout.APIGW: principal is the first non-empty of identity.caller and identity.user (both kept
in extra), request_id = requestId (extendedRequestId in extra), path = resourcePath, the
resource template (``/pets/{id}``), not the path requested. ``$context.requestTime`` carries
its UTC offset. Templates users changed are parsed with ``--log-format``.
"""

from forensics.formats.linefmt import LineFormat

FORMAT = LineFormat(
    name="apigw_rest_clf",
    description="AWS API Gateway REST API access logs, the console's CLF preset.",
    example='203.0.113.9 AIDAJDPLRKLG7UEXAMPLE arn:aws:iam::123456789012:user/svc-export [12/Mar/2024:10:00:00 +0000]"GET /referrals/{id} HTTP/1.1" 200 1832 c5d8a3e4-9f1b-4a6e-b0c2-7d3e5f6a8b9c UjV1mGhSIAMEbXw=',
    layout_text=(
        "$context.identity.sourceIp $context.identity.caller $context.identity.user "
        '[$context.requestTime]"$context.httpMethod $context.resourcePath $context.protocol" '
        "$context.status $context.responseLength $context.requestId $context.extendedRequestId"
    ),
    priority=25,
)
