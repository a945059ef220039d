"""nginx's default `main` layout: combined plus `"$http_x_forwarded_for"`."""

from forensics.formats.linefmt import LineFormat

FORMAT = LineFormat(
    name="nginx_main",
    description='nginx\'s default `main` layout: combined plus `"$http_x_forwarded_for"`.',
    example='10.0.0.5 - - [12/Mar/2024:10:00:00 +0000] "GET /api/v2/referrals/51234 HTTP/1.1" 200 1832 "-" "python-requests/2.31.0" "159.65.3.7, 10.0.0.1"',
    layout_text='log_format main \'$remote_addr - $remote_user [$time_local] "$request" \' \'$status $body_bytes_sent "$http_referer" \' \'"$http_user_agent" "$http_x_forwarded_for"\';',
    priority=25,
)
