"""AWS service access logs: space-delimited records with fields in a documented order.

Application, classic and Network Load Balancers and S3 server access logging all write one
record per line, fields separated by single spaces, some enclosed in double quotes, and AWS
appends new fields at the end over the years ("When new fields are introduced, they are added
to the end of the log entry. You should ignore any fields at the end of the log entry that you
were not expecting" — ELB user guides, "Access log entries"). A file may therefore hold lines of
several generations, and lines written after this code may carry fields it does not know.

The layout compiler (layout.py) wants one fixed field list per layout; here a format is the
newest documented field list plus how many leading fields every generation has. Fields past
the ones a line has are NULL; fields past the documented list are kept, as written, in
``extra['trailing']``. The documented fields without a column of their own are typed into the
format's own column (``alb``, ``elb``, ``nlb``, ``s3``: a list of one struct, schema.AWS_FIELDS).

Three ways into the fields, all in DuckDB (the first one that takes a line):

* canonical: a line written as AWS writes them today (every field quoted or not as usual,
  any field count from the required ones on) has each field at a fixed (quote stretch, word)
  position: plain subscripts, no list lambdas, and the line must equal its fields joined again;
* fast: split the line at double quotes, the unquoted parts at spaces, and check the
  resulting token shape (``U`` unquoted, ``Q`` quoted) against the format's; AWS writes no
  quotes inside quoted fields of its own (ALB writes a quote in a request as ``\\x22``), so
  this takes the other lines of the format's shape (2.5x faster than the regex on ALB lines);
* tolerant: one RE2 regex, quoted fields matched lazily up to a quote that the rest of the
  layout can follow (S3 and classic ELB user agents may hold bare or ``\\"`` quotes), newer
  fields optional, unknown trailing fields captured. Lines the fast way does not take go here.

All give the same raw field texts for a line they take (tests/test_aws.py compares them on
fuzzed lines); typing happens once after.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import duckdb

from forensics.formats import times
from forensics.formats.base import NOT_AN_ENTRY, ParseOptions, assemble_sql
from forensics.formats.sqltext import json_members_sql, json_object_sql, sql_list, sql_str
from forensics.store.schema import AWS_FIELDS, aws_type

# kind -> regex for the field's text in the tolerant form (and the sniffer).
KIND_RE = {
    "text": r"[^ ]*",
    "word": r"[a-z][a-z0-9]*",
    "iso_time": r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z",
    "iso_utc": r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z?",
    "clf_bracket": r"\[[^\]]*\]",
    "addr_port": r"\S+:\d+|-",
    "seconds": r"-1|-|\d+(?:\.\d+)?",
    "ms": r"-|\d+(?:\.\d+)?",
    "int": r"-|-1|\d+",
    "zero_int": r"-|\d+",
    "status": r"-|\d{3}",
}
# Kinds whose values the parser checks (both ways in), so that one AWS format does not read
# another's lines; other values are only typed (a bad number becomes NULL).
# status too: a line missing a field shifts a size or time into it (fuzzing found status 1832).
ANCHOR_KINDS = {"word", "iso_time", "iso_utc", "clf_bracket", "addr_port", "status"}
# A line padded with a space at each end: unquoted stretches meet quoted fields at a space.
EDGES_RE = r' (?:[^"]* )?(?:"[^"]*" (?:[^"]* )?)*'
QUOTED_LAZY = r'".*?"'
# A quote inside a quoted field is written \" (classic ELB, S3; seen in ALB user agents): the
# sniffer's strict form takes it, so such a line does not send its file to the full scoring.
QUOTED_STRICT = r'"(?:[^"\\]|\\.)*"'
PY_TOLERANT_MAX = 4096  # longer sample lines are matched by RE2 (linear time), not Python's re
# The "test file" ELB writes when access logging is enabled (ELB user guides, "Enable access logs").
TEST_FILE_LINE = "Enable AccessLog for ELB:"


@dataclass(frozen=True)
class AwsField:
    """One documented field: its name in AWS's docs and where it goes."""

    name: str
    quoted: str = "no"  # no | yes | either (documented quoted, but some examples are not)
    kind: str = "text"
    column: str = "extra"  # a PARSED_COLUMNS name or _request/_target; extra = only in the typed column
    keep: bool = False  # also keep the value in the typed column (fields summed into duration_ms)
    usual: str = "yes"  # how AWS writes an "either" field today (the canonical path): yes | no


@dataclass(frozen=True)
class AwsFormat:
    """A registered AWS log format (see the module docstring)."""

    name: str
    description: str
    example: str
    fields: tuple[AwsField, ...]
    required: int  # the leading fields every generation of the format has
    quoting: bool = True  # False: no field is quoted; quotes are data (NLB's ALPN list)
    priority: int = 30

    @property
    def shapes(self) -> tuple[str, ...]:
        """Per field, the token shape regex: U unquoted word, Q quoted field."""
        out = []
        for f in self.fields:
            if f.kind == "clf_bracket":
                out.append("UU")  # "[06/Feb/2019:00:00:38 +0000]" is two words
            else:
                out.append({"no": "U", "yes": "Q", "either": "[QU]"}[f.quoted])
        return tuple(out)

    def _regex(self, strict: bool, kinds: bool) -> str:
        parts = []
        for f in self.fields:
            word = KIND_RE[f.kind] if kinds or f.kind in ANCHOR_KINDS else r"[^ ]+"
            if f.quoted == "yes":
                rx = QUOTED_STRICT if strict else QUOTED_LAZY
            elif f.quoted == "either":
                rx = f"{QUOTED_STRICT if strict else QUOTED_LAZY}|{word}"
            else:
                rx = word
            parts.append(f"({rx})")
        return "^" + _nested(parts, self.required, r"(?: (.*))?") + "$"

    @property
    def regex(self) -> str:
        """The parser's tolerant form: lazy quoted fields, optional newer fields, captured unknown
        tail. Like the fast split it checks the layout, not the values (a bad number is NULL)."""
        return self._regex(strict=False, kinds=False)

    @functools.cached_property
    def sniff_regexes(self) -> tuple[str, str]:  # cached: built once, used on every file sniffed
        """Strict and tolerant forms that also check each value's kind, to recognise a file."""
        return self._regex(strict=True, kinds=True), self._regex(strict=False, kinds=True)

    def matches(
        self, con: duckdb.DuckDBPyConnection, lines: list[str], strict_only: bool = False
    ) -> list[bool]:
        strict, tolerant = (_compiled(rx) for rx in self.sniff_regexes)
        out = [strict.fullmatch(ln) is not None for ln in lines]
        if strict_only:
            return out
        out = [
            hit or (len(ln) <= PY_TOLERANT_MAX and tolerant.fullmatch(ln) is not None)
            for hit, ln in zip(out, lines, strict=True)
        ]
        long_misses = [i for i, ln in enumerate(lines) if not out[i] and len(ln) > PY_TOLERANT_MAX]
        if long_misses:
            row = con.execute(
                f"SELECT list_transform(?, lambda l: regexp_full_match(l, {sql_str(self.sniff_regexes[1])}))",
                [[lines[i] for i in long_misses]],
            ).fetchone()
            for i, hit in zip(long_misses, row[0] if row else [], strict=True):
                out[i] = bool(hit)
        return out

    def bind(self, lines: list[str], options: ParseOptions) -> AwsParser:
        # Every time field of these formats is UTC (see each format's docstring): no --tz.
        return AwsParser(self)


def _nested(parts: list[str], required: int, tail: str) -> str:
    """``p1 p2 … pk(?: pk+1(?: …)?)?``: the fields after the required ones are optional."""
    inner = tail
    for p in reversed(parts[required:]):
        inner = f"(?: {p}{inner})?"
    return " ".join(parts[:required]) + inner


@functools.lru_cache(maxsize=64)
def _compiled(regex: str) -> re.Pattern[str]:
    return re.compile(regex, re.ASCII)


@dataclass(frozen=True)
class AwsParser:
    fmt: AwsFormat

    @property
    def description(self) -> str:
        return f"{self.fmt.name}: {len(self.fmt.fields)} documented fields"

    def _anchors(self) -> str:
        """Fast-way checks of the anchor kinds (and no empty word: AWS writes ``-``)."""
        conds, pos = ["NOT list_contains(_t, '')"], 1
        for i, f in enumerate(self.fmt.fields):
            width = 2 if f.kind == "clf_bracket" else 1
            if f.kind in ANCHOR_KINDS:
                tok = f"_t[{pos}] || ' ' || _t[{pos + 1}]" if width == 2 else f"_t[{pos}]"
                test = f"regexp_full_match({tok}, {sql_str(KIND_RE[f.kind])})"
                conds.append(test if i < self.fmt.required else f"coalesce({test}, true)")
            pos += width
        return " AND ".join(conds)

    def _tokens_sql(self) -> str:
        """``_t`` (the line's tokens, quoted ones with their quotes) and ``_fast`` (shape fits)."""
        fmt = self.fmt
        shape = "^" + _nested(list(fmt.shapes), fmt.required, "").replace(" ", "") + "$"
        if not fmt.quoting:
            return (
                "string_split(line, ' ') AS _t, "
                f"len(_t) BETWEEN {_count(fmt, fmt.required)} AND {_count(fmt, len(fmt.fields))} "
                f"AND {self._anchors()} AS _fast"
            )
        # Padded with a space at each end, every unquoted stretch must start and end with the
        # space that meets a quoted field (or the line's edge, EDGES_RE); its words are what lies
        # between. (The lambdas use only their own arguments: capturing a column costs ~10x.)
        return (
            "string_split(' ' || line || ' ', '\"') AS _q, "
            "flatten(list_transform(_q, lambda s, i: CASE WHEN i % 2 = 0 THEN ['\"' || s || '\"'] "
            "WHEN s = ' ' THEN [] ELSE string_split(s[2:-2], ' ') END)) AS _t, "
            "len(_q) % 2 = 1 AND regexp_full_match(array_to_string(list_transform(_t, lambda w: "
            f"CASE WHEN starts_with(w, '\"') THEN 'Q' ELSE 'U' END), ''), {sql_str(shape)}) "
            f"AND regexp_full_match(' ' || line || ' ', {sql_str(EDGES_RE)}) "
            f"AND {self._anchors()} AS _fast"
        )

    @property
    def names(self) -> list[str]:
        return [f"f{i}" for i in range(len(self.fmt.fields))] + ["tail"]

    def fast_struct(self) -> str:
        """The raw field texts from the tokens ``_t`` (valid where ``_fast``)."""
        vals, pos = [], 1
        for f in self.fmt.fields:
            if f.kind == "clf_bracket":
                vals.append(f"_t[{pos}] || ' ' || _t[{pos + 1}]")
                pos += 2
            else:
                vals.append(f"_t[{pos}]")
                pos += 1
        vals.append("NULL")
        return "struct_pack(" + ", ".join(f"{n} := {v}" for n, v in zip(self.names, vals, strict=True)) + ")"

    def tokens_sql(self) -> str:
        return self._tokens_sql()

    def canonical_sql(self) -> tuple[str, str, str]:
        """The quickest way in, for lines written as AWS writes them today: every field quoted
        or not as usual (``AwsField.usual``), ``n`` leading fields for any ``n`` from
        ``required`` to all. Returns (column SQL over ``line``: ``_cq`` the line split at
        quotes, ``_cw<k>`` the words of unquoted stretch k, ``_cn`` the field count the split
        implies; the raw field texts as in ``fast_struct``; the condition that the line is
        exactly those fields written that way, with valid anchors).

        No list lambdas: each field is at a fixed (stretch, word) position, so its text is one
        subscript. The line must equal its fields joined again (single spaces, quotes where
        usual), which is what the general fast way checks with its token lists and EDGES_RE.
        """
        fmt = self.fmt
        # per field: (stretch of the quote split, 1-based; word index in its words, 0 if quoted;
        # a second word index for the two-word [time zone] field). The line is prefixed with a
        # space, so every stretch's words start at index 2 (the first is '').
        places: list[tuple[int, int, int]] = []
        keys: dict[tuple[int, int], int] = {}  # (len of the quote split, words in its last stretch) -> n
        stretch, word = 1, 1
        for i, f in enumerate(fmt.fields):
            if f.quoted == "yes" or (f.quoted == "either" and f.usual == "yes"):
                places.append((stretch + 1, 0, 0))
                stretch, word = stretch + 2, 1
            elif f.kind == "clf_bracket":
                places.append((stretch, word + 1, word + 2))
                word += 2
            else:
                places.append((stretch, word + 1, 0))
                word += 1
            if i + 1 >= fmt.required:
                if (stretch, word - 1) in keys:  # two field counts look alike: no canonical way
                    return "", "", "false"
                keys[(stretch, word - 1)] = i + 1
        stretches = sorted({st for st, w, _ in places if w})
        split = ["string_split(' ' || line, '\"') AS _cq"]
        split += [f"string_split(_cq[{st}], ' ') AS _cw{st}" for st in stretches]
        n_case = " ".join(f"WHEN len(_cq) = {st} AND _cl = {w} THEN {n}" for (st, w), n in keys.items())
        split.append("len(string_split(_cq[-1], ' ')) - 1 AS _cl")
        split.append(f"CASE {n_case} END AS _cn")
        raws, written = [], []  # field texts (quoted ones without their quotes); as written
        for i, (st, w, w2) in enumerate(places):
            if not w:
                text = f"_cq[{st}]"
            elif w2:
                text = f"_cw{st}[{w}] || ' ' || _cw{st}[{w2}]"
            else:
                text = f"_cw{st}[{w}]"
            raws.append(text if i < fmt.required else f"CASE WHEN _cn > {i} THEN {text} END")
            as_written = f"'\"' || {text} || '\"'" if not w else text
            written.append(as_written if i < fmt.required else f"CASE WHEN _cn > {i} THEN {as_written} END")
        # a quoted text holds no quote, so the parse's unquoting leaves these as they are
        raw_struct = (
            "struct_pack("
            + ", ".join(f"{n} := {v}" for n, v in zip(self.names, [*raws, "NULL"], strict=True))
            + ")"
        )
        # unquoted words are never empty (AWS writes -); the line is its fields joined again
        checks = ["_cn IS NOT NULL"]
        for i, (st, w, w2) in enumerate(places):
            if w and not w2:
                test = f"_cw{st}[{w}] <> ''"
                checks.append(test if i < fmt.required else f"(_cn <= {i} OR {test})")
        checks.append(f"line = concat_ws(' ', {', '.join(written)})")
        for i, f in enumerate(fmt.fields):
            if f.kind in ANCHOR_KINDS:
                test = f"regexp_full_match({raws[i]}, {sql_str(KIND_RE[f.kind])})"
                checks.append(test if i < fmt.required else f"coalesce({test}, true)")
        return ", ".join(split), raw_struct, " AND ".join(checks)

    def select_sql(self, src: str) -> str:
        fmt = self.fmt
        names = self.names
        fast = self.fast_struct()
        tolerant = f"regexp_extract(line, {sql_str(fmt.regex)}, {sql_list(names)})"
        ts_i = next(i for i, f in enumerate(fmt.fields) if f.column == "ts")
        general = f"CASE WHEN _fast THEN {fast} ELSE {tolerant} END"
        split, canon, canon_ok = self.canonical_sql() if fmt.quoting else ("", "", "false")
        if split:
            # the general fast way's token lists only for the lines the canonical way does not
            # take: for the others its input line is NULL (and so are its lists)
            lines = f"""(SELECT line_no, _line AS line, _c, _cr, {self._tokens_sql()}
      FROM (SELECT line_no, line AS _line, CASE WHEN NOT _c THEN line END AS line, _c,
                   CASE WHEN _c THEN {canon} END AS _cr
            FROM (SELECT line_no, line, {split}, coalesce({canon_ok}, false) AS _c FROM {src})))"""
            general = f"CASE WHEN _c THEN _cr WHEN _fast THEN {fast} ELSE {tolerant} END"
        else:
            lines = f"(SELECT line_no, line, {self._tokens_sql()} FROM {src})"
        inner = f"""
SELECT line_no, line, r, r['f{ts_i}'] <> '' AS _ok
FROM (SELECT line_no, line, {general} AS r
      FROM {lines})"""
        columns, extras, durations = {}, [], []
        for i, f in enumerate(fmt.fields):
            raw = f"r['f{i}']"
            val = (
                f"CASE WHEN starts_with({raw}, '\"') THEN {raw}[2:-2] ELSE {raw} END"
                if f.quoted != "no"
                else raw
            )
            if f.kind == "addr_port":
                columns[f.column] = _addr(val)
                extras.append((f.name.split(":")[0] + "_port", f"regexp_extract({val}, ':(\\d+)$', 1)"))
                continue
            if f.column == "duration_ms":
                durations.append(_typed(f, val))
                if f.keep:
                    extras.append((f.name, f"CASE WHEN {val} <> '-1' THEN {val} END"))
                continue
            if f.column == "ts":
                columns["ts"], columns["ts_offset_min"] = _time(f, val)
                continue
            if f.column == "extra" or f.keep:
                extras.append((f.name, val))
            if f.column != "extra":
                columns[f.column] = _typed(f, val)
        if durations:  # every part known, or no duration: a -1 part means "no value"
            columns["duration_ms"] = " + ".join(durations)
        columns[fmt.name] = _struct(fmt.name, extras)
        columns["extra"] = json_object_sql([json_members_sql([("'trailing'", "r['tail']")])])
        why = (
            f"CASE WHEN starts_with(line, {sql_str(TEST_FILE_LINE)}) "
            f"THEN {sql_str(NOT_AN_ENTRY + 'the test line ELB writes when access logging is enabled')} "
            f"ELSE {sql_str('not a ' + fmt.name + ' line')} END"
        )
        return assemble_sql(inner, columns, "_ok", fmt.name, why)


def _struct(name: str, extras: list[tuple[str, str]]) -> str:
    """The format's typed column (schema.AWS_FIELDS: a list of one struct) from its fields'
    texts: ``-`` and empty texts are NULL, numbers and times typed (a text that is not one is NULL)."""
    types = AWS_FIELDS[name]
    given = {k.replace(":", "_"): v for k, v in extras}
    unknown = set(given) - set(types)
    if unknown:
        raise ValueError(f"{name}: fields {sorted(unknown)} are not in schema.AWS_FIELDS")
    vals = []
    for field_name, typ in types.items():
        text = f"nullif(nullif({given[field_name]}, '-'), '')" if field_name in given else "NULL"
        if typ == "TIMESTAMPTZ":
            value = f"{times.utc_iso_time(text)[0]}"
        elif typ == "VARCHAR":
            value = text
        else:
            value = f"TRY_CAST({text} AS {typ})"
        vals.append(f"{field_name} := {value}")
    return f"[struct_pack({', '.join(vals)})]::{aws_type(name)}"


def _count(fmt: AwsFormat, n_fields: int) -> int:
    return sum(2 if f.kind == "clf_bracket" else 1 for f in fmt.fields[:n_fields])


def _addr(val: str) -> str:
    """The address of ``ip:port`` (IPv6 is written unbracketed, ``2001:db8::1:443``)."""
    host = f"CASE WHEN regexp_matches({val}, ':\\d+$') THEN left({val}, length({val}) - strpos(reverse({val}), ':')) ELSE {val} END"
    return f"nullif(nullif(trim({host}, '[]'), '-'), '')"


def _typed(f: AwsField, val: str) -> str:
    v = f"nullif(nullif({val}, '-'), '')"
    if f.kind == "seconds":  # -1: the load balancer could not dispatch the request
        return f"CASE WHEN {val} <> '-1' THEN TRY_CAST({v} AS DOUBLE) * 1000.0 END"
    if f.kind == "ms":
        return f"TRY_CAST({v} AS DOUBLE)"
    if f.kind == "status":
        return f"TRY_CAST({v} AS SMALLINT)"
    if f.kind == "int":  # classic ELB writes -1 bytes for a TCP connection that sent nothing
        return f"CASE WHEN {val} <> '-1' THEN TRY_CAST({v} AS BIGINT) END"
    if f.kind == "zero_int":  # S3 bytes_sent: "-" if zero (S3 user guide, "Bytes Sent")
        return f"CASE WHEN {val} = '-' THEN 0 ELSE TRY_CAST({v} AS BIGINT) END"
    return v


def _time(f: AwsField, val: str) -> tuple[str, str]:
    if f.kind == "clf_bracket":
        return times.clf_time(f"trim({val}, '[]')")
    if f.kind == "iso_utc":
        return times.utc_iso_time(val)
    return times.iso_time(val, None)
