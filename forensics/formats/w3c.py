"""W3C extended log file format as IIS (and Oracle Web Cache, Incapsula, …) writes it.

Spec: W3C Working Draft WD-logfile-960221 ("Extended Log File Format"): ``#Fields:`` names the
fields of the lines after it, values are separated by whitespace, strings may be quoted
("" inside is a quote), and "all times are specified in GMT". Microsoft's W3C logging page
(learn.microsoft.com/windows/win32/http/w3c-logging) says the same of IIS: ``date`` and
``time`` are UTC; ``time-taken`` is in milliseconds. IIS Advanced Logging's ``date-local`` /
``time-local`` are the server's local time: they need ``--tz``.
"""

from __future__ import annotations

from forensics.formats.fieldlist import Dialect, FieldLogFormat, iis_default

# column -> W3C field identifiers (lower case), the first one a header lists wins
COLUMNS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("_date", ("date",)),
    ("_time", ("time",)),
    ("_ldate", ("date-local",)),
    ("_ltime", ("time-local",)),
    ("client_ip", ("c-ip",)),
    ("principal", ("cs-username", "c-auth-id")),  # c-auth-id: Oracle Web Cache
    ("method", ("cs-method",)),
    ("_target", ("cs-uri-stem", "cs-uri")),
    ("query", ("cs-uri-query",)),
    ("protocol", ("cs-version",)),
    ("status", ("sc-status",)),
    ("bytes_sent", ("sc-bytes", "bytes")),
    ("bytes_received", ("cs-bytes",)),
    ("duration_ms", ("time-taken", "timetakenms")),  # TimeTakenMS: IIS Advanced Logging
    ("user_agent", ("cs(user-agent)",)),
    ("referer", ("cs(referer)", "cs(referrer)")),
    ("host", ("cs-host", "cs(host)")),
    ("forwarded_for", ("x-forwarded-for", "cs(x-forwarded-for)")),
    ("request_id", ("cs(x-request-id)",)),
)

# Layouts IIS writes by default, for files that lost their header (learn.microsoft.com
# "Configure logging in IIS": the default W3C field set of each version).
IIS85 = (
    "date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) "
    "cs(Referer) sc-status sc-substatus sc-win32-status time-taken"
)
DEFAULTS = (
    iis_default("IIS 8.5/10 default", IIS85),
    # the 8.5 default plus sc-bytes and cs-bytes, a common addition (seen in real logs)
    iis_default(
        "IIS 8.5/10 default + bytes",
        IIS85.replace("time-taken", "sc-bytes cs-bytes time-taken"),
    ),
    iis_default(
        "IIS 7/7.5 default",
        "date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) "
        "sc-status sc-substatus sc-win32-status time-taken",
    ),
    iis_default(
        "IIS 6 default",
        "date time s-sitename s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip "
        "cs(User-Agent) sc-status sc-substatus sc-win32-status",
    ),
)

DIALECT = Dialect(
    tabs=False,
    columns=COLUMNS,
    defaults=DEFAULTS,
    plus_spaces=True,
    # the W3C draft says seconds; IIS writes milliseconds. Other software's unit is unknown:
    # its time-taken stays in extra.
    duration_software=("Microsoft", "IIS"),
    label="W3C",
)

FORMAT = FieldLogFormat(
    name="w3c",
    description=(
        "W3C extended (IIS and others): fields from #Fields directives (may change mid-file), "
        "UTC date and time, quoted values; header-less IIS default layouts recognised."
    ),
    example=(
        "2021-04-01 00:00:21 10.0.0.5 GET /api/v2/referrals/51234 id=7 443 CORP\\jdoe "
        "203.0.113.9 Mozilla/5.0+(Windows+NT+10.0) - 200 0 0 65"
    ),
    dialect=DIALECT,
    priority=10,
)


def declared(fields_line: str) -> FieldLogFormat:
    """A w3c format for header-less files whose field list the user pastes (``#Fields: …``)."""
    names = tuple(fields_line.split(":", 1)[1].split())
    return FieldLogFormat(
        name="w3c",
        description="W3C fields given with --log-format",
        example="",
        dialect=DIALECT,
        priority=100,
        forced=names,
    )
