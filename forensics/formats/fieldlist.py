"""Header-driven field-list logs (W3C extended / IIS, CloudFront): the machinery they share.

A ``#Fields:`` directive names the fields of the lines after it, and may change mid-file (IIS
writes a new header block whenever it restarts or the logged fields change). All of it runs
in one DuckDB query:

1. directive lines become a header struct (field names, the position of each mapped field,
   the positions left for ``extra``), ``#Date:`` a date, ``#Software:`` a name;
2. one window per file (``PARTITION BY line_no >> 40 ORDER BY line_no``, batch.py's key) carries
   the last of each forward to the lines after it;
3. a data line is split (string_split, or one regexp_extract_all when it has quotes) and read
   through the header in force; a line without one (a header-less file) is read through a
   known default layout when its field count and shape match one unambiguously.

Formats differ only in a ``Dialect``: how lines split, which field names map to which
columns, how values are encoded, which default layouts exist.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import duckdb

from forensics.errors import TimezoneRequiredError
from forensics.formats import times
from forensics.formats.base import METHOD_RE, NOT_AN_ENTRY, ParseOptions, assemble_sql
from forensics.formats.sqltext import sql_list, sql_str

# W3C draft WD-logfile-960221 directives, plus ones IIS Advanced Logging / Oracle write.
DIRECTIVES = ("version", "fields", "software", "start-date", "end-date", "date", "remark", "gmt-offset")
DIRECTIVE_RE = re.compile(r"#(" + "|".join(re.escape(d) for d in DIRECTIVES) + r"):", re.IGNORECASE)
# one value: a "quoted string" (a quote inside doubled, as the W3C draft says) or a word
QUOTED_SPLIT_RE = r'"(?:[^"]|"")*"|[^ \t]+'
DATE_RE = r"\d{4}-\d{2}-\d{2}"
TIME_RE = r"\d{2}:\d{2}:\d{2}(\.\d+)?"
STATUS_RE = r"\d{3}"
PORT_RE = r"\d{1,5}"
# header pseudo-columns: date / time (UTC), local date / time (need --tz), epoch seconds
TIME_PARTS = ("_date", "_time", "_ldate", "_ltime", "_epoch")
NUMERIC = {"status": "SMALLINT", "bytes_sent": "BIGINT", "bytes_received": "BIGINT", "duration_ms": "DOUBLE"}


@dataclass(frozen=True)
class Default:
    """A field list for lines that come without a ``#Fields`` header.

    A line fits when it has ``len(fields)`` values (or at least ``min_fields`` when set: later
    fields are optional, values beyond the list go to ``extra.trailing``) and every
    ``(position, regex)`` check holds.
    """

    label: str
    fields: tuple[str, ...]
    checks: tuple[tuple[int, str], ...]
    min_fields: int | None = None


@dataclass(frozen=True)
class Dialect:
    tabs: bool  # tab-separated, no quoting (CloudFront); else whitespace runs and "quoted" values
    # column -> field names (lower case) that fill it, the first present wins
    columns: tuple[tuple[str, tuple[str, ...]], ...]
    defaults: tuple[Default, ...] = ()
    url_encoded: bool = False  # every value URL-encoded (CloudFront)
    plus_spaces: bool = False  # '+' for spaces in cs(User-Agent) (IIS)
    duration_scale: float = 1.0  # time-taken unit -> ms
    # a field named time-taken only counts as duration_ms when #Software is absent or starts
    # with one of these (its unit differs between servers)
    duration_software: tuple[str, ...] = ()
    label: str = "W3C"
    header_needs: str = ""  # a #Fields list is this format's only if a name starts with this


def split_py(line: str, tabs: bool) -> list[str]:
    """The values of a line, as the SQL split makes them (used by the sniffer)."""
    if tabs:
        return line.rstrip("\t").split("\t")
    if '"' in line:
        return re.findall(QUOTED_SPLIT_RE, line)
    return line.split()


def header_names(line: str) -> list[str] | None:
    if line[:8].lower() != "#fields:":
        return None
    return line[8:].split()


def _fits(d: Default, values: list[str], current: list[str] | None) -> bool:
    n = len(values)
    if n != len(d.fields) and (d.min_fields is None or n < d.min_fields):
        return False
    if current is not None and (
        n <= len(current) or [c.lower() for c in current] != [f.lower() for f in d.fields[: len(current)]]
    ):
        return False  # a #Fields in force: only a line longer than it (a truncated directive)
    return all(p <= n and re.fullmatch(rx, values[p - 1]) for p, rx in d.checks)


def sample_matches(dialect: Dialect, lines: list[str], forced: Sequence[str] | None) -> list[bool]:
    """For each line: a directive, or a data line that the header in force (or a default) reads."""
    out = []
    current: list[str] | None = list(forced) if forced else None
    headers = [h for ln in lines if (h := header_names(ln)) is not None]
    ours = not dialect.header_needs or any(
        n.lower().startswith(dialect.header_needs) for h in headers for n in h
    )
    for line in lines:
        if line.startswith("#"):
            names = header_names(line)
            if names is not None and not forced:
                current = names
            out.append(ours and DIRECTIVE_RE.match(line) is not None)
            continue
        if current is not None and not forced and not ours:
            out.append(False)
            continue
        values = split_py(line, dialect.tabs)
        if current is not None and len(values) == len(current):
            out.append(True)
        else:
            out.append(not forced and any(_fits(d, values, current) for d in dialect.defaults))
    return out


def needs_tz(names: Sequence[str]) -> bool:
    return any(n.lower() in ("date-local", "time-local") for n in names)


def _header_struct(names: str, lnames: str, dialect: Dialect) -> str:
    """SQL struct describing a field list; ``names`` / ``lnames`` are VARCHAR[] expressions."""
    pos = {
        col: "coalesce(" + ", ".join(f"list_position({lnames}, {sql_str(i)})" for i in ids) + ", NULL)"
        for col, ids in dialect.columns
    }
    used = "[" + ", ".join(pos.values()) + "]"
    parts = [f"n := len({names})", f"names := {names}", f"lnames := {lnames}"]
    parts += [f"p{col} := {expr}" for col, expr in pos.items()]
    parts.append(f"xi := list_filter(range(1, len({names}) + 1), lambda i: NOT list_contains({used}, i))")
    return "struct_pack(" + ", ".join(parts) + ")"


def _const_struct(fields: Sequence[str], dialect: Dialect) -> str:
    return _header_struct(sql_list(list(fields)), sql_list([f.lower() for f in fields]), dialect)


@dataclass(frozen=True)
class FieldLogFormat:
    """A registered (or user-declared) field-list format."""

    name: str
    description: str
    example: str
    dialect: Dialect
    priority: int = 0
    forced: tuple[str, ...] = ()  # a field list given by the user: no header expected
    forced_source: str = "--log-format"

    def matches(
        self, con: duckdb.DuckDBPyConnection, lines: list[str], strict_only: bool = False
    ) -> list[bool]:
        return sample_matches(self.dialect, lines, self.forced or None)

    def bind(self, lines: list[str], options: ParseOptions) -> FieldLogParser:
        headers = [h for ln in lines if (h := header_names(ln)) is not None]
        if self.forced:
            headers.append(list(self.forced))
        if not options.tz and any(needs_tz(h) for h in headers):
            raise TimezoneRequiredError(
                f"format {self.name!r}: the #Fields directive lists date-local/time-local "
                "(the server's local time, no UTC offset); give its zone with --tz "
                "(e.g. --tz Europe/London)"
            )
        return FieldLogParser(self.name, self.dialect, options, self.forced, self.forced_source)


@dataclass(frozen=True)
class FieldLogParser:
    format_name: str
    dialect: Dialect
    options: ParseOptions
    forced: tuple[str, ...] = ()
    forced_source: str = "--log-format"

    @property
    def description(self) -> str:
        if self.forced:
            return f"{self.format_name} fields {' '.join(self.forced)}"
        return f"{self.format_name}: fields from #Fields directives"

    # -- SQL pieces -------------------------------------------------------------------------

    def _split_sql(self) -> str:
        if self.dialect.tabs:
            return "string_split(rtrim(line, chr(9)), chr(9))"
        unquote = (
            "lambda x: CASE WHEN len(x) >= 2 AND starts_with(x, '\"') AND suffix(x, '\"') "
            "THEN replace(x[2:-2], '\"\"', '\"') ELSE x END"
        )
        return (
            f"CASE WHEN contains(line, '\"') THEN list_transform(regexp_extract_all(line, "
            f"{sql_str(QUOTED_SPLIT_RE)}), {unquote}) "
            "ELSE list_filter(string_split(replace(line, chr(9), ' '), ' '), lambda x: x <> '') END"
        )

    def _layout_sql(self) -> str:
        """The header struct a data line is read with, or NULL."""
        if self.forced:
            return f"CASE WHEN NOT _dir AND _n = {len(self.forced)} THEN _cur END"
        branches = ["WHEN _dir THEN NULL", "WHEN _cur IS NOT NULL AND _n = _cur.n THEN _cur"]
        for d in self.dialect.defaults:
            count = f"_n = {len(d.fields)}" if d.min_fields is None else f"_n >= {d.min_fields}"
            lfields = sql_list([f.lower() for f in d.fields])
            prefix = f"(_cur IS NULL OR (_n > _cur.n AND _cur.lnames = {lfields}[1:_cur.n]))"
            checks = [f"regexp_full_match(_v[{p}], {sql_str(rx)})" for p, rx in d.checks]
            cond = " AND ".join([count, prefix, *checks])
            branches.append(f"WHEN {cond} THEN {_const_struct(d.fields, self.dialect)}")
        return "CASE " + " ".join(branches) + " END"

    def _reason_sql(self) -> str:
        directive = (
            f"{sql_str(NOT_AN_ENTRY + self.dialect.label + ' ')} || split_part(line, ':', 1) || ' directive'"
        )
        if self.forced:
            return (
                f"CASE WHEN _dir THEN {directive} "
                f"ELSE 'expected {len(self.forced)} fields (as {self.forced_source} lists), got ' || _n END"
            )
        no_header = sql_str(self._no_header_reason()) + " || ' (' || _n || ' fields)'"
        return (
            f"CASE WHEN _dir THEN {directive} "
            "WHEN _cur IS NOT NULL THEN 'expected ' || _cur.n || ' fields (as the #Fields directive lists), got ' || _n "
            f"ELSE {no_header} END"
        )

    def _no_header_reason(self) -> str:
        if self.dialect.tabs:
            return "not a CloudFront standard log line (24 or more tab-separated fields: date, time, …)"
        return "no #Fields directive before this line, and it matches no default IIS layout"

    def _value(self, ref: str, col: str | None) -> str:
        """A field's text as stored: '-' and '' are NULL; encodings undone."""
        v = f"nullif(nullif({ref}, '-'), '')"
        if self.dialect.url_encoded:
            once = f"coalesce(try(url_decode({v})), {v})"
            if col == "user_agent":  # some CloudFront logs encode it twice: %2520 is a space
                twice = f"coalesce(try(url_decode(url_decode({v}))), {v})"
                return f"CASE WHEN contains({v}, '%2520') THEN {twice} WHEN contains({v}, '%') THEN {once} ELSE {v} END"
            return f"CASE WHEN contains({v}, '%') THEN {once} ELSE {v} END"
        if self.dialect.plus_spaces and col == "user_agent":
            # IIS writes '+' for each space; a '+' after a space comes out as '++'
            return f"CASE WHEN contains({v}, ' ') THEN {v} ELSE regexp_replace({v}, '\\+(\\+?)', ' \\1', 'g') END"
        return v

    def _raw(self, col: str) -> str:
        return f"_v[h.p{col}]"

    def _typed(self, col: str) -> str:
        raw = self._raw(col)
        if col == "status":
            s = f"TRY_CAST({raw} AS SMALLINT)"
            return f"CASE WHEN {s} BETWEEN 100 AND 999 THEN {s} END"
        if col in ("bytes_sent", "bytes_received"):
            return f"TRY_CAST({raw} AS BIGINT)"
        if col == "duration_ms":
            ms = f"TRY_CAST({raw} AS DOUBLE) * {self.dialect.duration_scale!r}"
            sw = self.dialect.duration_software
            if not sw:
                return ms
            known = " OR ".join(f"starts_with(_sw, {sql_str(p)})" for p in sw)
            return (
                f"CASE WHEN _sw IS NULL OR {known} OR h.lnames[h.pduration_ms] <> 'time-taken' THEN {ms} END"
            )
        return self._value(raw, col)

    def _time_sql(self, cols: set[str]) -> tuple[str, str]:
        ts, off = "NULL::TIMESTAMPTZ", "NULL::INTEGER"
        branches_ts, branches_off = [], []
        if "_time" in cols:
            d = "coalesce(nullif(_v[h.p_date], '-'), strftime(_date0, '%Y-%m-%d'))"
            naive = f"TRY_CAST({d} || ' ' || _v[h.p_time] AS TIMESTAMP)"
            branches_ts.append(f"WHEN h.p_time IS NOT NULL THEN timezone('UTC', {naive})")
            branches_off.append("WHEN h.p_time IS NOT NULL THEN NULL")
        if "_ltime" in cols and self.options.tz:
            d = "coalesce(nullif(_v[h.p_ldate], '-'), strftime(_date0, '%Y-%m-%d'))"
            naive = f"TRY_CAST({d} || ' ' || _v[h.p_ltime] AS TIMESTAMP)"
            lts, loff = times.naive_in_zone(naive, self.options.tz)
            branches_ts.append(f"WHEN h.p_ltime IS NOT NULL THEN {lts}")
            branches_off.append(f"WHEN h.p_ltime IS NOT NULL THEN {loff}")
        if "_epoch" in cols:
            ets, _ = times.epoch_time("_v[h.p_epoch]")
            branches_ts.append(f"WHEN h.p_epoch IS NOT NULL THEN {ets}")
        if branches_ts:
            ts = "CASE " + " ".join(branches_ts) + " END"
        if branches_off:
            off = "CASE " + " ".join(branches_off) + " END"
        return ts, off

    def _extra_sql(self, cols: list[str]) -> str:
        """Unmapped fields by their header names, mapped numeric fields that did not convert
        (e.g. CloudFront status 000), and values beyond a default layout as ``trailing``."""
        # list_select/list_zip, not a lambda over h.xi: a lambda that captures the header
        # struct copies it per element (measured 10x slower)
        vals = "list_select(_v, h.xi)"
        if self.dialect.url_encoded:
            vals = f"list_transform({vals}, lambda x: {self._value('x', None)})"
        entries = f"list_transform(list_zip(list_select(h.names, h.xi), {vals}), lambda e: {{'k': e[1], 'v': e[2]}})"
        failed = [
            f"CASE WHEN {self._typed(c)} IS NULL AND nullif(nullif({self._raw(c)}, '-'), '') IS NOT NULL "
            f"THEN {{'k': h.names[h.p{c}], 'v': {self._raw(c)}}} END"
            for c in cols
            if c in NUMERIC
        ]
        trailing = "CASE WHEN _n > h.n THEN {'k': 'trailing', 'v': array_to_string(_v[h.n + 1:], chr(9))} END"
        allv = f"list_concat({entries}, [{', '.join([*failed, trailing])}])"
        kept = f"list_filter({allv}, lambda e: e IS NOT NULL AND e.v IS NOT NULL AND e.v NOT IN ('-', ''))"
        return f"CASE WHEN len({kept}) > 0 THEN to_json(map_from_entries({kept})) END"

    def select_sql(self, src: str) -> str:
        d = self.dialect
        cols = [c for c, _ in d.columns]
        fields = sql_str("#fields:")
        a = f"""
SELECT line_no, line, starts_with(line, '#') AS _dir,
  CASE WHEN _dir AND lower(left(line, 8)) = {fields}
       THEN list_filter(string_split(replace(substr(line, 9), chr(9), ' '), ' '), lambda x: x <> '') END AS _hn,
  CASE WHEN _dir AND lower(left(line, 6)) = '#date:'
       THEN try_strptime(split_part(trim(substr(line, 7)), ' ', 1), ['%Y-%m-%d', '%d/%b/%Y'])::DATE END AS _hd,
  CASE WHEN _dir AND lower(left(line, 10)) = '#software:' THEN trim(substr(line, 11)) END AS _hs
FROM {src}"""
        struct = _header_struct("_hn", "list_transform(_hn, lambda x: lower(x))", d)
        if self.forced:
            b = f"SELECT *, {_const_struct(self.forced, d)} AS _cur, NULL::DATE AS _date0, NULL AS _sw FROM ({a})"
        else:
            # Carry each directive forward as the line number of the last one (a running max
            # over integers, one window pass), then join the few directive rows back on it:
            # last_value over the header struct itself copied it per line (measured 3x slower).
            w = "PARTITION BY line_no >> 40 ORDER BY line_no ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW"
            b = f"""
WITH _l AS ({a}),
_w AS (SELECT *, max(CASE WHEN _hn IS NOT NULL THEN line_no END) OVER w AS _kf,
              max(CASE WHEN _hd IS NOT NULL THEN line_no END) OVER w AS _kd,
              max(CASE WHEN _hs IS NOT NULL THEN line_no END) OVER w AS _ks
       FROM _l WINDOW w AS ({w})),
_hf AS (SELECT line_no AS _k, {struct} AS _cur FROM _l WHERE _hn IS NOT NULL),
_hd AS (SELECT line_no AS _k, _hd AS _date0 FROM _l WHERE _hd IS NOT NULL),
_hs AS (SELECT line_no AS _k, _hs AS _sw FROM _l WHERE _hs IS NOT NULL)
SELECT _w.*, _hf._cur, _hd._date0, _hs._sw FROM _w
LEFT JOIN _hf ON _hf._k = _w._kf LEFT JOIN _hd ON _hd._k = _w._kd LEFT JOIN _hs ON _hs._k = _w._ks"""
        inner = f"""
SELECT *, CASE WHEN h IS NULL THEN {self._reason_sql()} END AS _why
FROM (SELECT *, {self._layout_sql()} AS h
      FROM (SELECT *, CASE WHEN NOT _dir THEN {self._split_sql()} END AS _v, len(_v) AS _n FROM ({b})))"""
        columns: dict[str, str] = {}
        ts, off = self._time_sql(set(cols))
        columns["ts"], columns["ts_offset_min"] = ts, off
        for c in cols:
            if c not in TIME_PARTS:
                columns[c] = self._typed(c)
        columns["extra"] = self._extra_sql(cols)
        return assemble_sql(inner, columns, "h IS NOT NULL", self.format_name, "_why")


IIS_CHECKS_DT = ((1, DATE_RE), (2, TIME_RE))


def iis_default(label: str, fields: str) -> Default:
    """A default IIS layout, checked on date, time, method, port and status positions."""
    names = tuple(fields.split())
    checks = [*IIS_CHECKS_DT]
    for fname, rx in (("cs-method", METHOD_RE), ("s-port", PORT_RE), ("sc-status", STATUS_RE)):
        if fname in names:
            checks.append((names.index(fname) + 1, rx))
    return Default(label, names, tuple(checks))


__all__ = ["Default", "Dialect", "FieldLogFormat", "FieldLogParser", "iis_default"]
