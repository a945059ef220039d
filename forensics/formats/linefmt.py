"""Text formats defined by a layout (Apache LogFormat / nginx log_format), parsed in DuckDB."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

import duckdb

from forensics.errors import TimezoneRequiredError
from forensics.formats import apache_time, times
from forensics.formats.base import ParseOptions, assemble_sql
from forensics.formats.layout import Field, FieldSpec, Layout, compile_layout
from forensics.formats.splitplan import plan_sql
from forensics.formats.sqltext import json_members_sql, json_object_sql, sql_list, sql_str

NULLIF_DASH = {
    "client_ip",
    "principal",
    "referer",
    "user_agent",
    "forwarded_for",
    "host",
    "request_id",
    "method",
    "protocol",
    "query",
    "_target",
}
INT_COLUMNS = {"status": "SMALLINT", "bytes_sent": "BIGINT", "bytes_received": "BIGINT"}


def addr_without_port(v: str) -> str:
    """SQL: the address of ``1.2.3.4:5678``, ``[2001:db8::1]:5678`` or a bare address."""
    return (
        f"CASE WHEN starts_with({v}, '[') THEN regexp_extract({v}, '^\\[([^\\]]*)\\]', 1) "
        f"WHEN regexp_matches({v}, '^[^:]*:\\d+$') THEN split_part({v}, ':', 1) ELSE {v} END"
    )


# The tolerant regex in Python's backtracking re only on a few short lines (bind's sample)
PY_TOLERANT_MAX, PY_TOLERANT_LINES = 256, 5
# Longer lines are matched by RE2 (in DuckDB) even in the strict form: Python's re backtracks on
# some layouts (``%v:%p`` on a 48 kB line of ``{"a":`` took 2 s; a 1 MiB line would take hours).
PY_STRICT_MAX = 4096


@functools.lru_cache(maxsize=256)
def _compiled(regex: str) -> re.Pattern[str]:
    return re.compile(regex, re.ASCII)


@dataclass(frozen=True)
class LineFormat:
    """A registered (or user-supplied) layout-driven text format."""

    name: str
    description: str
    example: str
    layout_text: str
    priority: int = 0  # breaks sniffing ties: the more specific layout wins
    trailing: bool = False  # accept (and keep in extra.trailing) fields after the layout
    # this format's own nginx-style variable names -> where they go (win over layout.NGINX)
    variables: tuple[tuple[str, FieldSpec], ...] = ()
    layout: Layout = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        layout = compile_layout(self.layout_text, self.trailing, dict(self.variables))
        object.__setattr__(self, "layout", layout)

    def matches(
        self, con: duckdb.DuckDBPyConnection, lines: list[str], strict_only: bool = False
    ) -> list[bool]:
        # Python's re with ASCII classes agrees with RE2 on the constructs layout.py emits,
        # and costs microseconds where a DuckDB round trip per format and file cost ~2 ms
        # (measured: it dominated ingest of thousands of small files). The strict regex is
        # linear; the tolerant one backtracks in Python (fuzzing found a 1.2 kB line that
        # took minutes), so lines the strict one misses go to RE2 (linear time) in one
        # query — clean files have none.
        fast = _compiled(self.layout.fast)
        # Every literal quote must be there (the tolerant form may lose only the last one):
        # a cheap count rules out most lines of other layouts before any regex runs.
        need = self._quotes_needed
        possible = [ln.count('"') >= need for ln in lines]
        short = [len(ln) <= PY_STRICT_MAX for ln in lines]
        out = [
            ok and short_ and fast.fullmatch(ln) is not None
            for ok, short_, ln in zip(possible, short, lines, strict=True)
        ]
        self._re2(
            con, self.layout.fast, lines, [i for i, ok in enumerate(possible) if ok and not short[i]], out
        )
        if strict_only:
            return out
        misses = [i for i, ln in enumerate(lines) if possible[i] and not out[i]]
        self._re2(con, self.layout.regex, lines, misses, out)
        return out

    @staticmethod
    def _re2(
        con: duckdb.DuckDBPyConnection, regex: str, lines: list[str], idx: list[int], out: list[bool]
    ) -> None:
        """Lines ``idx`` matched by RE2 (linear time) in one query; hits set in ``out``."""
        if not idx:
            return
        row = con.execute(
            f"SELECT list_transform(?, lambda l: regexp_full_match(l, {sql_str(regex)}))",
            [[lines[i] for i in idx]],
        ).fetchone()
        for i, hit in zip(idx, row[0] if row else [], strict=True):
            out[i] = out[i] or bool(hit)

    @functools.cached_property
    def _quotes_needed(self) -> int:
        return sum(t.count('"') for t in self.layout.tokens if isinstance(t, str)) - 1

    def bind(self, lines: list[str], options: ParseOptions) -> LayoutParser:
        tf = self.layout.time_field
        naive = self.layout.naive_time
        naive = naive or (tf.spec.kind == "iso_time" and self._sample_is_naive(lines))
        if naive and not options.tz:
            raise TimezoneRequiredError(
                f"format {self.name!r} writes local times without a UTC offset; "
                "give the server's zone with --tz (e.g. --tz Europe/London)"
            )
        return LayoutParser(self.name, self.layout, options)

    def _sample_is_naive(self, lines: list[str]) -> bool:
        """True when the sample's ISO time values carry no offset.

        The time values come from the strict regex; only when it reads no line, from a few
        short lines by the tolerant one (it backtracks in Python on crafted lines).
        """
        idx = [f.spec.column for f in self.layout.fields].index("ts") + 1
        fast = _compiled(self.layout.fast)
        values = [m.group(idx) for ln in lines if len(ln) <= PY_STRICT_MAX and (m := fast.fullmatch(ln))]
        if not values:
            tolerant = _compiled(self.layout.regex)
            short = [ln for ln in lines if len(ln) <= PY_TOLERANT_MAX][:PY_TOLERANT_LINES]
            values = [m.group(idx) for ln in short if (m := tolerant.fullmatch(ln))]
        return any(not re.search(times.OFFSET_RE, v) for v in values)


@dataclass(frozen=True)
class LayoutParser:
    format_name: str
    layout: Layout
    options: ParseOptions

    @property
    def description(self) -> str:
        return f"{self.layout.dialect} layout {self.layout.source}"

    def select_sql(self, src: str) -> str:
        names = [f"f{i}" for i in range(len(self.layout.fields))]
        ts_name = names[[f.spec.column for f in self.layout.fields].index("ts")]
        inner = self._extract_sql(src, names, ts_name)
        columns: dict[str, str] = {}
        extras: list[tuple[str, str]] = []
        ranked: dict[str, list[tuple[int, str]]] = {}  # column -> (rank, typed value)
        for name, fld in zip(names, self.layout.fields, strict=True):
            col = fld.spec.column
            if col == "ts_part":  # read with the "ts" field (apache_time.py)
                continue
            if fld.spec.rank:  # several variables may fill the column: first non-empty wins
                top = all(
                    f.spec.rank >= fld.spec.rank
                    for f in self.layout.fields
                    if f.spec.column == col and f.spec.rank
                )
                ranked.setdefault(col, []).append((fld.spec.rank, self._typed(fld, f"r['{name}']")))
                if top:
                    continue
                col = "extra"
            if col == "extra" or col in columns or (col == "ts_offset_min"):
                key = fld.name.lstrip("%")
                n = sum(k == key or k.startswith(key + "#") for k, _ in extras)  # a repeated field
                extras.append((f"{key}#{n + 1}" if n else key, f"r['{name}']"))
                continue
            if col == "ts":
                columns["ts"], columns["ts_offset_min"] = self._time(fld, f"r['{name}']", names)
                continue
            ref = f"nullif(r['{name}'], '-')" if fld.conditional else f"r['{name}']"
            columns[col] = self._typed(fld, ref)
            if fld.spec.kind == "addr_port":  # the column gets the address; extra keeps the port too
                extras.append((fld.name.lstrip("%"), f"r['{name}']"))
        for col, values in ranked.items():
            exprs = [v for _, v in sorted(values)]
            columns[col] = exprs[0] if len(exprs) == 1 else f"coalesce({', '.join(exprs)})"
        if extras:  # fields logged as "-" (the usual %l ident) are left out; none left: NULL
            members = json_members_sql([(sql_str(k), v) for k, v in extras])
            columns["extra"] = json_object_sql([members])
        return assemble_sql(inner, columns, f"r['{ts_name}'] <> ''", self.format_name)

    def _extract_sql(self, src: str, names: list[str], ts_name: str) -> str:
        """``line_no, line, r`` (struct of raw field texts): the cheapest method that is sure.

        Quote/space splitting when the layout allows and the line leaves no doubt, else the
        strict regex, else the tolerant regex; all three give the same fields for a line.
        """
        fast = f"regexp_extract(line, {sql_str(self.layout.fast)}, {sql_list(names)})"
        tolerant = f"regexp_extract(line, {sql_str(self.layout.regex)}, {sql_list(names)})"
        plan = plan_sql(self.layout.tokens, names)
        if plan is None:
            rel, first = src, fast
        else:
            cols, ok, struct = plan
            rel = f"(SELECT line_no, line, {cols} FROM {src})"
            first = f"CASE WHEN {ok} THEN {struct} ELSE {fast} END"
        return (
            f"SELECT line_no, line, CASE WHEN r0['{ts_name}'] <> '' THEN r0 ELSE {tolerant} END "
            f"AS r FROM (SELECT line_no, line, {first} AS r0 FROM {rel})"
        )

    def _time(self, fld: Field, ref: str, names: list[str]) -> tuple[str, str]:
        kind, tz = fld.spec.kind, self.options.tz
        if self.layout.time_parts:  # several %{…}t pieces make one instant
            by_field = dict(zip(self.layout.fields, names, strict=True))
            refs = [f"r['{by_field[p]}']" for p in self.layout.time_parts]
            return apache_time.time_sql(self.layout.time_parts, refs, tz)
        if kind == "clf_time":
            return times.clf_time(ref)
        if kind == "iso_time":
            return times.iso_time(ref, tz)
        if kind == "epoch":
            return times.epoch_time(ref)
        return times.strftime_time(ref, fld.arg, tz)

    @staticmethod
    def _typed(fld: Field, ref: str) -> str:
        col, spec = fld.spec.column, fld.spec
        if spec.kind == "addr_port":
            return addr_without_port(f"nullif(nullif({ref}, '-'), '')")
        if col in INT_COLUMNS:
            return f"TRY_CAST(nullif({ref}, '-') AS {INT_COLUMNS[col]})"
        if col == "duration_ms":
            return f"TRY_CAST(nullif({ref}, '-') AS DOUBLE) * {spec.scale!r}"
        if col in NULLIF_DASH:
            return f"nullif(nullif({ref}, '-'), '')"
        return ref
