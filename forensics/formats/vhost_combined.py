"""Apache/Debian `vhost_combined`: `host:port` before a combined line."""

from forensics.formats.linefmt import LineFormat

FORMAT = LineFormat(
    name="vhost_combined",
    description="Apache/Debian `vhost_combined`: `host:port` before a combined line.",
    example='www.example.com:443 203.0.113.9 - - [12/Mar/2024:10:00:00 +0000] "GET /api/v2/referrals/51234 HTTP/1.1" 200 1832 "-" "curl/8.4.0"',
    layout_text='%v:%p %h %l %u %t "%r" %>s %O "%{Referer}i" "%{User-Agent}i"',
    priority=30,
)
