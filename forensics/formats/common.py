"""NCSA common log format (Apache `common`, httpd default)."""

from forensics.formats.linefmt import LineFormat

FORMAT = LineFormat(
    name="common",
    description="NCSA common log format (Apache `common`, httpd default).",
    example='127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326',
    layout_text='%h %l %u %t "%r" %>s %b',
    priority=10,
)
