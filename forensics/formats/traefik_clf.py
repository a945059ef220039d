"""Traefik's default access log: combined plus request count, router, server URL and duration.

Layout from the Traefik documentation ("Access Logs", Common Log Format):
``<remote_IP_address> - <client_user_name_if_available> [<timestamp>] "<request_method>
<request_path> <request_protocol>" <HTTP_status> <content-length> "<request_referrer>"
"<request_user_agent>" <number_of_requests_received_since_Traefik_started>
"<Traefik_router_name>" "<Traefik_server_URL>" <request_duration_in_ms>ms``
(Traefik 1.x wrote the frontend name and backend URL in the same places). The extra fields
keep the names of Traefik's JSON access-log fields: RequestCount, RouterName, ServiceURL.
"""

from forensics.formats.layout import FieldSpec
from forensics.formats.linefmt import LineFormat

FORMAT = LineFormat(
    name="traefik_clf",
    description="Traefik's CLF access log: combined plus request count, router name, server URL and duration in ms.",
    example='192.0.2.10 - - [12/Mar/2024:10:00:00 +0000] "GET /api/v2/referrals/51234 HTTP/1.1" 200 1832 "-" "curl/8.4.0" 42 "api@docker" "http://172.18.0.5:8080" 12ms',
    layout_text='$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" '
    '"$http_user_agent" $RequestCount "$RouterName" "$ServiceURL" ${Duration}ms',
    # above combined_extra and nginx_main, whose last quoted field also takes these lines
    priority=40,
    variables=(
        ("RequestCount", FieldSpec("extra", "int")),
        ("RouterName", FieldSpec("extra", "text")),
        ("ServiceURL", FieldSpec("extra", "text")),
        ("Duration", FieldSpec("duration_ms", "int")),
    ),
)
