"""Combined with extra trailing fields (response time, upstream, cookies…), kept in `extra.trailing`."""

from forensics.formats.linefmt import LineFormat

FORMAT = LineFormat(
    name="combined_extra",
    description="Combined with extra trailing fields (response time, upstream, cookies…), kept in `extra.trailing`.",
    example='203.0.113.9 - - [12/Mar/2024:10:00:00 +0000] "GET /api/v2/referrals/51234 HTTP/1.1" 200 1832 "-" "curl/8.4.0" 0.012 "upstream=10.0.0.7:8080"',
    layout_text='%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"',
    priority=22,  # above combined, which also matches these lines (user agent to end of line)
    trailing=True,
)
