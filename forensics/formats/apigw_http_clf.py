"""AWS API Gateway HTTP API access logs in the console's CLF preset.

The API Gateway console offers this "CLF (Common Log Format)" access-log format for HTTP API
stages ("Configure logging for HTTP APIs" → "Example log formats",
https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-logging.html). The
request quote holds ``$context.httpMethod $context.routeKey $context.protocol``, and the
route key itself starts with a method (``GET GET /pets/{id} HTTP/1.1``, or ``$default``): it is
the route template, kept in ``extra['routeKey']``; the path requested is not logged (path NULL).
"""

from forensics.formats.linefmt import LineFormat

FORMAT = LineFormat(
    name="apigw_http_clf",
    description="AWS API Gateway HTTP API access logs, the console's CLF preset (route key, no path).",
    example='203.0.113.9 - - [12/Mar/2024:10:00:00 +0000] "GET GET /referrals/{id} HTTP/1.1" 200 1832 UjV1mGhSIAMEbXw=',
    layout_text=(
        "$context.identity.sourceIp - - [$context.requestTime] "
        '"$context.httpMethod $context.routeKey $context.protocol" '
        "$context.status $context.responseLength $context.requestId"
    ),
    priority=5,
)
