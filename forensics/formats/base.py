"""What a format is, and the one SQL shape every format's parser ends in.

A format turns staged lines ``(line_no BIGINT, line VARCHAR)`` into rows of
``schema.PARSED_COLUMNS`` plus ``reject_reason`` (NULL for an event) and ``line`` (kept only
for rejects). Formats only build SQL text; the per-line work runs inside DuckDB.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

import duckdb

from forensics.formats.sqltext import sql_str
from forensics.store.schema import EVENT_COLUMNS, PARSED_COLUMNS
from forensics.store.schema import NOT_AN_ENTRY as NOT_AN_ENTRY

# method, request target, protocol of an HTTP request line. Anything else (a "-", TLS bytes
# sent to the HTTP port, garbage) leaves method NULL and keeps the text in request_raw.
REQUEST_RE = r"^([A-Za-z][A-Za-z0-9_-]{0,31}) (.*?)(?: (HTTP/\S+))?$"
METHOD_RE = r"[A-Za-z][A-Za-z0-9_-]{0,31}"
PROTOCOL_RE = r" (HTTP/\S+)$"
ABSOLUTE_URL_RE = r"^[A-Za-z][A-Za-z0-9+.-]*://([^/?#]*)"

# NOT_AN_ENTRY (reject reasons for lines that are not access-log entries) lives in store.schema:
# the store reads it too, and the store imports no format.
# What servers write for "no user": a dash, Apache's quoted empty name, nothing (after trim).
NO_PRINCIPAL = "(" + ", ".join(sql_str(v) for v in ("", "-", '""', "''")) + ")"
# The instants an event may carry (what Python's datetime can hold).
TS_MIN, TS_MAX = "TIMESTAMPTZ '0001-01-01 00:00:00+00'", "TIMESTAMPTZ '9999-12-31 23:59:59.999999+00'"


@dataclass(frozen=True)
class ParseOptions:
    """User settings that change how lines are read."""

    tz: str | None = None  # IANA zone for logs that write local time without an offset
    fields: Mapping[str, str] = field(default_factory=dict)  # JSON: column -> dotted key path


class Parser(Protocol):
    """A format bound to one file's sample and the user's options."""

    @property
    def description(self) -> str:
        """How it was bound (e.g. the JSON key mapping); stored with the source."""
        ...

    def select_sql(self, src: str) -> str:
        """SQL selecting PARSED_COLUMNS, reject_reason and line from relation ``src``."""
        ...


class LogFormat(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def example(self) -> str: ...
    @property
    def priority(self) -> int: ...

    def matches(
        self, con: duckdb.DuckDBPyConnection, lines: list[str], strict_only: bool = False
    ) -> list[bool]:
        """For each sample line: does this format parse it? (the sniffer)

        ``strict_only``: a cheap first pass that may miss lines a full check would take.
        """
        ...

    def bind(self, lines: list[str], options: ParseOptions) -> Parser:
        """Prepare a parser for a file whose first lines are ``lines``."""
        ...


def _request_parts(req: str) -> str:
    """Columns _rq_m, _rq_t, _rq_p: what REQUEST_RE captures, by cheaper string functions.

    REQUEST_RE with its lazy target cost ~40% of a combined parse. The method is the text
    before the first space (checked against the method pattern), the protocol an ``HTTP/…``
    last word, the target what lies between — the same split the regex makes.
    """
    method_ok = f"regexp_full_match(left({req}, _rq_sp - 1), {sql_str(METHOD_RE)})"
    return (
        f"strpos({req}, ' ') AS _rq_sp, "
        f"CASE WHEN _rq_sp > 1 AND {method_ok} THEN left({req}, _rq_sp - 1) END AS _rq_m, "
        f"CASE WHEN _rq_m IS NOT NULL THEN substr({req}, _rq_sp + 1) END AS _rq_rest, "
        f"regexp_extract(_rq_rest, {sql_str(PROTOCOL_RE)}, 1) AS _rq_p, "
        "CASE WHEN _rq_p <> '' THEN left(_rq_rest, length(_rq_rest) - length(_rq_p) - 1) "
        "ELSE _rq_rest END AS _rq_t"
    )


def assemble_sql(
    inner: str, columns: Mapping[str, str], matched: str, format_name: str, mismatch: str | None = None
) -> str:
    """Wrap a format's inner relation into the common output shape.

    ``inner`` selects ``line_no``, ``line`` and whatever the expressions in ``columns`` use.
    ``columns`` maps PARSED_COLUMNS names (and the pseudo-columns ``_request``, a raw request
    line, and ``_target``, a path that may carry a query or be an absolute URL) to SQL.
    ``matched`` is a SQL condition true when the line has this format's shape; ``mismatch``
    optionally a SQL expression (over ``inner``'s columns, evaluated only for lines that do
    not match) saying why a line does not.
    """
    unknown = set(columns) - set(PARSED_COLUMNS) - {"_request", "_target"}
    if unknown:
        raise ValueError(f"unknown output columns {sorted(unknown)}")
    typed = ",\n    ".join(f"{expr} AS {name}" for name, expr in columns.items())
    nulls = [c for c in PARSED_COLUMNS if c not in columns and c != "line_no"]
    # typed: a table made from these rows takes rows of formats that fill the column
    typed_nulls = "".join(f",\n    NULL::{EVENT_COLUMNS[c]} AS {c}" for c in nulls)
    req = "_request" if "_request" in columns else "NULL::VARCHAR"
    tgt = "_target" if "_target" in columns else "NULL::VARCHAR"
    l3 = f"""
  SELECT *, {_request_parts(req)},
         coalesce({tgt}, nullif(_rq_t, '')) AS _tg,
         CASE WHEN contains(_tg, '://') THEN regexp_extract(_tg, {sql_str(ABSOLUTE_URL_RE)}, 1)
              ELSE '' END AS _authority,
         CASE WHEN _authority <> '' THEN substr(_tg, strpos(_tg, '://') + 3 + length(_authority))
              ELSE _tg END AS _rel,
         strpos(_rel, '?') AS _qpos
  FROM (
    SELECT line_no, line, ({matched}) AS _matched,
    CASE WHEN NOT coalesce(_matched, false) THEN {mismatch or sql_str("not a " + format_name + " line")} END
      AS _mismatch,
    {typed}{typed_nulls}
    FROM ({inner})
  )"""
    derived = {
        "method": "coalesce(method, _rq_m)",
        "host": "coalesce(host, nullif(_authority, ''))",
        "path": "CASE WHEN _qpos > 0 THEN left(_rel, _qpos - 1) ELSE _rel END",
        "query": "coalesce(nullif(ltrim(query, '?'), ''), "
        "CASE WHEN _qpos > 0 THEN nullif(substr(_rel, _qpos + 1), '') END)",
        "protocol": "coalesce(protocol, nullif(_rq_p, ''))",
        "request_raw": f"CASE WHEN {req} IS NOT NULL AND _rq_m IS NULL THEN {req} END",
        # a byte count is never negative: a mangled one is a bad number, NULL like "abc"
        "bytes_sent": "CASE WHEN bytes_sent >= 0 THEN bytes_sent END",
        "bytes_received": "CASE WHEN bytes_received >= 0 THEN bytes_received END",
        # no user is no principal, however the server wrote it: '-', Apache's '""' for an empty
        # user name, an empty or blank string (else the auth rules would read it as a login)
        "principal": f"CASE WHEN trim(principal) NOT IN {NO_PRINCIPAL} THEN principal END",
    }
    outer = ",\n  ".join(derived.get(c, c) + f" AS {c}" for c in PARSED_COLUMNS)
    # Parsed lines short-circuit the first test; only rejects pay for the rest (trim copies).
    # A time past year 9999 (a mangled "20024-03-12") is no instant Python can hold: rejected.
    reason = (
        f"CASE WHEN coalesce(_matched, false) AND ts BETWEEN {TS_MIN} AND {TS_MAX} THEN NULL "
        "WHEN line IS NULL OR trim(line) = '' THEN 'empty line' "
        "WHEN NOT coalesce(_matched, false) THEN _mismatch "
        "WHEN ts IS NOT NULL THEN 'timestamp outside the years 1 to 9999' "
        "ELSE 'missing or unparseable timestamp' END"
    )
    cols = ", ".join(PARSED_COLUMNS)
    return f"""
SELECT {cols}, reject_reason,
  CASE WHEN reject_reason IS NOT NULL THEN coalesce(line, '') END AS line
FROM (SELECT {outer}, {reason} AS reject_reason, line FROM ({l3}))"""
