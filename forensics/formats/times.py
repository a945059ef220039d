"""SQL expressions that turn logged time text into (UTC ``TIMESTAMPTZ``, source offset minutes).

Every function takes a SQL expression yielding VARCHAR and returns two SQL expressions.
The session time zone is UTC (see ``case.connect``), so ``TIMESTAMPTZ`` values are UTC.
"""

from __future__ import annotations

import re

from forensics.formats.sqltext import sql_str

OFFSET_RE = r"(Z|z|[+-]\d\d:?\d\d|UTC|GMT)$"


def _offset_minutes(off: str) -> str:
    """Minutes east of UTC from an offset text like ``+0130``, ``-05:00`` or ``Z``."""
    digits = f"replace({off}, ':', '')"
    return (
        f"CASE WHEN {off} IN ('Z', 'z', 'UTC', 'GMT') THEN 0 WHEN {off} = '' THEN NULL "
        f"ELSE (CASE WHEN left({off}, 1) = '-' THEN -1 ELSE 1 END) * "
        f"(TRY_CAST(substr({digits}, 2, 2) AS INTEGER) * 60 "
        f"+ TRY_CAST(substr({digits}, 4, 2) AS INTEGER)) END"
    )


def clf_time(expr: str) -> tuple[str, str]:
    """``10/Oct/2000:13:55:36 -0700`` (Apache ``%t``, nginx ``$time_local``); ``-07:00`` too."""
    ts = f"try_strptime({expr}, '%d/%b/%Y:%H:%M:%S %z')"
    off = f"split_part({expr}, ' ', 2)"  # no regex per line: this is every CLF line's hot path
    return ts, _offset_minutes(off)


def naive_in_zone(naive_ts: str, tz: str) -> tuple[str, str]:
    """A naive local TIMESTAMP interpreted in the IANA zone ``tz`` (DST honoured)."""
    ts = f"timezone({sql_str(tz)}, {naive_ts})"
    off = f"CAST(round((epoch({naive_ts}) - epoch({ts})) / 60) AS INTEGER)"
    return ts, off


def iso_time(expr: str, tz: str | None) -> tuple[str, str]:
    """ISO 8601 / RFC 3339 text; with an offset it is exact, without one ``tz`` is applied.

    Without an offset and without ``tz`` the result is NULL (the line is rejected with a reason).
    """
    off_text = f"regexp_extract({expr}, {sql_str(OFFSET_RE)}, 1)"
    aware = f"TRY_CAST({expr} AS TIMESTAMPTZ)"
    if tz:
        local_ts, local_off = naive_in_zone(f"TRY_CAST({expr} AS TIMESTAMP)", tz)
    else:
        local_ts, local_off = "NULL", "NULL"
    ts = f"CASE WHEN {off_text} <> '' THEN {aware} ELSE {local_ts} END"
    off = f"CASE WHEN {off_text} <> '' THEN {_offset_minutes(off_text)} ELSE {local_off} END"
    return ts, off


def epoch_time(expr: str) -> tuple[str, str]:
    """Seconds, milliseconds, microseconds or nanoseconds since 1970, chosen by magnitude."""
    x = f"TRY_CAST({expr} AS DOUBLE)"
    secs = (
        f"CASE WHEN abs({x}) >= 1e17 THEN {x} / 1e9 WHEN abs({x}) >= 1e14 THEN {x} / 1e6 "
        f"WHEN abs({x}) >= 1e11 THEN {x} / 1e3 ELSE {x} END"
    )
    return f"to_timestamp({secs})", "NULL"


# strftime directives DuckDB's strptime does not know, in ones it does (it skips any spaces)
STRPTIME_SPELLING = {
    "%e": "%-d",
    "%F": "%Y-%m-%d",
    "%T": "%H:%M:%S",
    "%R": "%H:%M",
    "%D": "%m/%d/%y",
    "%h": "%b",
}


def strftime_time(expr: str, fmt: str, tz: str | None, offset: str | None = None) -> tuple[str, str]:
    """A ``strftime``-style layout (Apache ``%{...}t``). ``%z`` in it makes it exact.

    ``offset``: SQL giving the text %z wrote (default: the first ``±HH[:]MM`` in ``expr``).
    """
    fmt = re.sub(r"%.", lambda m: STRPTIME_SPELLING.get(m.group(), m.group()), fmt)
    if "%z" in fmt:
        ts = f"try_strptime({expr}, {sql_str(fmt)})"
        offset = offset or f"regexp_extract({expr}, '([+-]\\d\\d:?\\d\\d)', 1)"
        return ts, _offset_minutes(offset)
    if "%Z" in fmt:  # DuckDB would guess what BST means; drop the name, --tz decides
        expr, fmt = f"regexp_replace({expr}, '\\b[A-Z]{{1,5}}\\b', '')", fmt.replace("%Z", "")
    naive = f"try_strptime({expr}, {sql_str(fmt)})::TIMESTAMP"
    if not tz:
        return "NULL::TIMESTAMPTZ", "NULL"
    return naive_in_zone(naive, tz)


def any_time(expr: str, tz: str | None) -> tuple[str, str]:
    """Whatever a JSON log put in its time field: epoch number, ISO text or CLF text."""
    is_num = f"regexp_full_match({expr}, '-?\\d+(\\.\\d+)?([eE][+-]?\\d+)?')"
    e_ts, _ = epoch_time(expr)
    i_ts, i_off = iso_time(expr, tz)
    c_ts, c_off = clf_time(expr)
    ts = f"CASE WHEN {is_num} THEN {e_ts} ELSE coalesce({i_ts}, {c_ts}) END"
    off = f"CASE WHEN {is_num} THEN NULL WHEN {i_ts} IS NOT NULL THEN {i_off} ELSE {c_off} END"
    return ts, off


def utc_iso_time(expr: str) -> tuple[str, str]:
    """ISO 8601 text the source documents as UTC: without an offset it is UTC, offset NULL."""
    off_text = f"regexp_extract({expr}, {sql_str(OFFSET_RE)}, 1)"
    ts = (
        f"CASE WHEN {off_text} <> '' THEN TRY_CAST({expr} AS TIMESTAMPTZ) "
        f"ELSE timezone('UTC', TRY_CAST({expr} AS TIMESTAMP)) END"
    )
    return ts, f"CASE WHEN {off_text} <> '' THEN {_offset_minutes(off_text)} END"
