"""Amazon CloudFront standard logs (access logs), and real-time logs with a declared field list.

Doc: CloudFront Developer Guide, "Standard logging reference" / "Log file fields"
(docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/standard-logs-reference.html):
tab-separated, ``#Version`` / ``#Fields`` header, 33 fields in a fixed order (older logs
stop earlier: 24 fields until 2019), ``date`` and ``time`` in UTC, ``time-taken`` in seconds,
and values URL-encoded (bytes 0-32 and 127 and up, and ``<>"#%{}|\\^~[]`'``). Every value is
URL-decoded once, back to what the viewer sent: the encoding is a fixed function of the
original text, so nothing is lost and the raw form is not kept. A user agent encoded twice
(``%2520`` for a space, seen in older logs) is decoded twice. A value that does not decode to
valid UTF-8 is kept as logged. ``sc-status`` ``000`` (viewer closed the connection before a
response) gives a NULL status; the raw value stays in extra.

Real-time logs ("Real-time logs" page of the same guide) have no header and a field list
chosen when they are configured: give it as ``--log-format 'cloudfront-realtime: timestamp
c-ip sc-status …'``. Their ``timestamp`` is epoch seconds (with milliseconds).
"""

from __future__ import annotations

import re

from forensics.errors import LogFormatError
from forensics.formats.fieldlist import DATE_RE, STATUS_RE, TIME_RE, Default, Dialect, FieldLogFormat

# field names in order, as the #Fields header of the doc's example lists them
STANDARD_HEADER = (
    "date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status cs(Referer) "
    "cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id x-host-header "
    "cs-protocol cs-bytes time-taken x-forwarded-for ssl-protocol ssl-cipher "
    "x-edge-response-result-type cs-protocol-version fle-status fle-encrypted-fields c-port "
    "time-to-first-byte x-edge-detailed-result-type sc-content-type sc-content-len sc-range-start "
    "sc-range-end"
)
STANDARD_FIELDS = tuple(STANDARD_HEADER.split(" "))
MIN_FIELDS = 24  # up to cs-protocol-version: what logs had before the 2019 additions

# column -> field names (standard log names, then real-time log names), the first present wins.
# Host: standard logs' x-host-header is the viewer's Host header (cs(Host) the distribution's
# domain); real-time logs call the Host header cs-host and x-host-header the distribution.
COLUMNS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("_date", ("date",)),
    ("_time", ("time",)),
    ("_epoch", ("timestamp",)),
    ("client_ip", ("c-ip",)),
    ("method", ("cs-method",)),
    ("_target", ("cs-uri-stem",)),  # real-time logs: path and query
    ("query", ("cs-uri-query",)),
    ("protocol", ("cs-protocol-version",)),
    ("status", ("sc-status",)),
    ("bytes_sent", ("sc-bytes",)),
    ("bytes_received", ("cs-bytes",)),
    ("duration_ms", ("time-taken",)),
    ("user_agent", ("cs(user-agent)", "cs-user-agent")),
    ("referer", ("cs(referer)", "cs-referer")),
    ("host", ("cs-host", "x-host-header")),
    ("forwarded_for", ("x-forwarded-for",)),
    ("request_id", ("x-edge-request-id",)),
)

DIALECT = Dialect(
    tabs=True,
    columns=COLUMNS,
    defaults=(
        Default(
            "CloudFront standard log",
            STANDARD_FIELDS,
            ((1, DATE_RE), (2, TIME_RE), (9, STATUS_RE)),
            min_fields=MIN_FIELDS,
        ),
    ),
    url_encoded=True,
    duration_scale=1000.0,
    label="CloudFront",
    header_needs="x-edge-",
)

FORMAT = FieldLogFormat(
    name="cloudfront",
    description=(
        "Amazon CloudFront standard logs: tab-separated, with or without the #Fields header "
        "(24 to 33+ fields), UTC, URL-encoded values decoded."
    ),
    example=(
        "2019-12-04\t21:02:31\tLAX1\t392\t192.0.2.100\tGET\td111111abcdef8.cloudfront.net\t/index.html\t200\t-\t"
        "Mozilla/5.0%20(Windows%20NT%2010.0;%20Win64;%20x64)\t-\t-\tHit\t"
        "SOX4xwn4XV6Q4rgb7XiVGOHms_BGlTAC4KyHmureZmBNrjGdRLiNIQ==\td111111abcdef8.cloudfront.net\thttps\t23\t"
        "0.001\t-\tTLSv1.2\tECDHE-RSA-AES128-GCM-SHA256\tHit\tHTTP/2.0\t-\t-\t11040\t0.001\tHit\ttext/html\t"
        "78\t-\t-"
    ),
    dialect=DIALECT,
    priority=30,  # a CloudFront file with its #Fields header also reads as generic W3C
)

REALTIME_PREFIX = "cloudfront-realtime:"


def realtime(spec: str) -> FieldLogFormat:
    """A real-time log format from ``cloudfront-realtime: field field …`` (commas allowed)."""
    names = tuple(n for n in re.split(r"[\s,]+", spec[len(REALTIME_PREFIX) :]) if n)
    if not names:
        raise LogFormatError(
            f"{REALTIME_PREFIX} needs the real-time log's field names in order, "
            f"e.g. '{REALTIME_PREFIX} timestamp c-ip sc-status cs-method cs-uri-stem'"
        )
    known = {n for _, ids in COLUMNS for n in ids}
    if not ({"timestamp", "date"} & {n.lower() for n in names}) or not (known & {n.lower() for n in names}):
        raise LogFormatError(f"{REALTIME_PREFIX} field list must include timestamp (got {' '.join(names)!r})")
    return FieldLogFormat(
        name="cloudfront-realtime",
        description="CloudFront real-time log fields given with --log-format",
        example="",
        dialect=DIALECT,
        priority=100,
        forced=names,
    )
