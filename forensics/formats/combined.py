"""NCSA combined: common plus referer and user agent (Apache `combined`, nginx `combined`)."""

from forensics.formats.linefmt import LineFormat

FORMAT = LineFormat(
    name="combined",
    description="NCSA combined: common plus referer and user agent (Apache `combined`, nginx `combined`).",
    example='127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326 "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)"',
    layout_text='%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"',
    priority=20,
)
