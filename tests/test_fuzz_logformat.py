"""Property-based tests of the log-format compiler (``formats.custom_format``, layout.py).

Generated nginx ``log_format`` and Apache ``LogFormat`` strings — supported variables and
directives in random order, random literal separators, quoted or bracketed or bare, pasted as
the bare layout or the whole directive — and lines rendered from random values for them.

The spec these tests hold the compiler to:

* A layout is UNAMBIGUOUS when every two fields are separated by a literal, each bare
  (unquoted) value avoids the characters of the layout's literals, and each quoted value has
  its quotes escaped (``\\"``), as nginx and Apache write them. For such layouts the compiled
  parser returns exactly the values rendered: in their event columns (times as the same UTC
  instant plus the written offset), and every other variable in ``extra`` under its name
  (``-`` and empty values left out).
* A bare layout that is one quoted string (``"$time_local"``) is read as a quoted config
  argument, its quotes not part of the layout: pasted that way it is ambiguous, so the
  generator pastes such layouts with their directive.
* Two fields that touch (``$remote_user$status``) cannot be told apart in any line: the
  compiler refuses the layout with a LogFormatError naming them, instead of splitting every
  line somewhere. (Values that happen to contain a following literal are ambiguous per line;
  that is not generated here: the parser's choice there is not a promise.)
* Garbage layouts give a ForensicsError with a message, never another exception; a garbage
  layout that does compile parses lines without a DuckDB error.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import duckdb
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from forensics import formats
from forensics.errors import ForensicsError, LogFormatError
from forensics.formats.base import ParseOptions
from forensics.store.db import connect
from tests.formathelpers import parse_lines, parse_one
from tests.fuzzkit import TZ, bind_any, check_rows, fuzz_settings, parse_keyed
from tests.test_fuzz_roundtrip import ZONES, clf_time, ipv4, ipv6, offset_min

# Literal separators; none of their characters occurs in a bare value below.
SEPARATORS = [" ", "  ", "\t", " | ", "|", ",", ", ", ";", " ; ", "^", " # ", " ~ "]
TOKEN = "[A-Za-z0-9._@+=-]"
hostnames = st.from_regex(r"[a-z][a-z0-9-]{0,12}(\.[a-z][a-z0-9-]{0,12}){0,2}", fullmatch=True)
tokens = st.from_regex(f"{TOKEN}{{1,20}}", fullmatch=True)
dashes = st.one_of(st.just("-"), tokens)
paths = st.from_regex(r"/[A-Za-z0-9._~/%-]{0,20}", fullmatch=True)
queries = st.from_regex(r"[A-Za-z0-9=&%._-]{1,20}", fullmatch=True)
methods = st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"])
protocols = st.sampled_from(["HTTP/1.0", "HTTP/1.1", "HTTP/2.0"])
quoted = st.one_of(
    st.just("-"),
    st.lists(
        st.one_of(
            st.text(
                st.characters(
                    codec="utf-8", exclude_categories=["Cc", "Cs", "Zl", "Zp"], exclude_characters='"\\'
                ),
                min_size=1,
                max_size=10,
            ),
            st.sampled_from(['\\"', "\\\\", "\\x22"]),
        ),
        min_size=1,
        max_size=6,
    ).map("".join),
)
# hypothesis takes naive bounds and attaches the zones; epoch values from 1990 on (Apache's
# %{msec}t before 1973 is below 1e11 and read as seconds: epoch units are told by magnitude)
times = st.datetimes(
    min_value=datetime(1990, 1, 1),  # noqa: DTZ001
    max_value=datetime(2099, 12, 31),  # noqa: DTZ001
    timezones=st.sampled_from(ZONES),
)


@dataclass(frozen=True)
class Var:
    """A variable/directive: its value text and what the parse must give for it."""

    name: str  # as written in the layout
    group: str  # at most one variable per group in a layout (one per event column)
    values: st.SearchStrategy[tuple[str, dict[str, Any]]]
    text: bool = False  # may hold blanks and quotes: always written quoted


def col(
    column: str, strat: st.SearchStrategy[str], dash_null: bool = False
) -> st.SearchStrategy[tuple[str, dict[str, Any]]]:
    return strat.map(lambda v: (v, {column: None if dash_null and v in ("-", "") else v}))


def extra(key: str, strat: st.SearchStrategy[str]) -> st.SearchStrategy[tuple[str, dict[str, Any]]]:
    return strat.map(lambda v: (v, {f"extra.{key}": None if v in ("-", "") else v}))


def clf_values() -> st.SearchStrategy[tuple[str, dict[str, Any]]]:
    return times.map(lambda d: d.replace(microsecond=0)).map(
        lambda d: (clf_time(d), {"ts": d.astimezone(UTC), "ts_offset_min": offset_min(d)})
    )


def iso_values() -> st.SearchStrategy[tuple[str, dict[str, Any]]]:
    return times.map(lambda d: d.replace(microsecond=0)).map(
        lambda d: (d.isoformat(), {"ts": d.astimezone(UTC), "ts_offset_min": offset_min(d)})
    )


def epoch_values(scale: int) -> st.SearchStrategy[tuple[str, dict[str, Any]]]:
    """Epoch text in 1/scale seconds (msec: "1710237600.123"; Apache %{msec}t: integer ms)."""

    def render(d: datetime) -> tuple[str, dict[str, Any]]:
        ms = int(d.timestamp()) * 1000 + d.microsecond // 1000
        text = f"{ms // 1000}.{ms % 1000:03d}" if scale == 0 else str(ms // (1000 // scale))
        exact = ms if scale != 1 else ms // 1000 * 1000
        return text, {"ts": datetime.fromtimestamp(exact / 1000, UTC), "ts_offset_min": None}

    return times.map(render)


def strftime_values(fmt: str) -> st.SearchStrategy[tuple[str, dict[str, Any]]]:
    months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    def render(d: datetime) -> tuple[str, dict[str, Any]]:
        d = d.replace(microsecond=0)
        text = d.strftime(fmt.replace("%b", months[d.month - 1]))
        return text, {"ts": d.astimezone(UTC), "ts_offset_min": offset_min(d)}

    return times.map(render)


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    m, p, q, proto = draw(methods), draw(paths), draw(st.one_of(st.just(""), queries)), draw(protocols)
    return f"{m} {p}{'?' + q if q else ''} {proto}", {
        "method": m,
        "path": p,
        "query": q or None,
        "protocol": proto,
    }


@st.composite
def targets(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    p, q = draw(paths), draw(st.one_of(st.just(""), queries))
    return p + ("?" + q if q else ""), {"path": p, "query": q or None}


def numbers(
    column: str, unit: float = 1.0, dash: bool = True
) -> st.SearchStrategy[tuple[str, dict[str, Any]]]:
    ints = st.integers(0, 10**9).map(lambda n: (str(n), {column: n * unit if unit != 1.0 else n}))
    return st.one_of(st.just(("-", {column: None})), ints) if dash else ints


def seconds(column: str) -> st.SearchStrategy[tuple[str, dict[str, Any]]]:
    return st.integers(0, 10**6).map(lambda ms: (f"{ms // 1000}.{ms % 1000:03d}", {column: float(ms)}))


statuses = st.integers(100, 599).map(lambda s: (str(s), {"status": s}))
clients = st.one_of(ipv4, ipv6, hostnames)

NGINX_VARS = [
    Var("remote_addr", "client", col("client_ip", st.one_of(ipv4, ipv6))),
    Var("remote_user", "principal", col("principal", dashes, dash_null=True)),
    Var("time_local", "time", clf_values()),
    Var("time_iso8601", "time", iso_values()),
    Var("msec", "time", epoch_values(0)),
    Var("request", "request", requests(), text=True),
    Var("request_method", "method", methods.map(lambda m: (m, {"method": m}))),
    Var("request_uri", "target", targets()),
    Var("server_protocol", "protocol", protocols.map(lambda p: (p, {"protocol": p}))),
    Var("status", "status", statuses),
    Var("body_bytes_sent", "bytes_sent", numbers("bytes_sent", dash=False)),
    Var("request_length", "bytes_received", numbers("bytes_received", dash=False)),
    Var("request_time", "duration", seconds("duration_ms")),
    Var("host", "host", col("host", hostnames)),
    Var("http_referer", "referer", col("referer", quoted, dash_null=True), text=True),
    Var("http_user_agent", "ua", col("user_agent", quoted, dash_null=True), text=True),
    Var("http_x_forwarded_for", "xff", col("forwarded_for", quoted, dash_null=True), text=True),
    Var("request_id", "request_id", col("request_id", st.from_regex(r"[0-9a-f]{32}", fullmatch=True))),
    Var("ssl_protocol", "x1", extra("ssl_protocol", st.sampled_from(["TLSv1.2", "TLSv1.3", "-"]))),
    Var("connection", "x2", extra("connection", st.integers(1, 10**6).map(str))),
    Var("http_x_tenant", "x3", extra("http_x_tenant", quoted), text=True),
    Var(
        "upstream_addr",
        "x4",
        extra(
            "upstream_addr", st.lists(ipv4.map(lambda a: a + ":80"), min_size=1, max_size=3).map(", ".join)
        ),
    ),
]
APACHE_VARS = [
    Var("%h", "client", col("client_ip", clients)),
    Var("%a", "client", col("client_ip", st.one_of(ipv4, ipv6))),
    Var("%l", "x0", extra("ident", dashes)),
    Var("%u", "principal", col("principal", dashes, dash_null=True)),
    Var("%t", "time", clf_values()),
    Var("%{%Y-%m-%d %H:%M:%S %z}t", "time", strftime_values("%Y-%m-%d %H:%M:%S %z")),
    Var("%{%d/%b/%Y:%H:%M:%S %z}t", "time", strftime_values("%d/%b/%Y:%H:%M:%S %z")),
    Var("%{sec}t", "time", epoch_values(1)),
    Var("%{msec}t", "time", epoch_values(1000)),
    Var("%r", "request", requests(), text=True),
    Var("%m", "method", methods.map(lambda m: (m, {"method": m}))),
    Var("%U", "target", targets()),
    Var("%H", "protocol", protocols.map(lambda p: (p, {"protocol": p}))),
    Var("%>s", "status", statuses),
    Var("%b", "bytes_sent", numbers("bytes_sent")),
    Var("%O", "bytes_sent", numbers("bytes_sent", dash=False)),
    Var("%I", "bytes_received", numbers("bytes_received", dash=False)),
    Var("%D", "duration", numbers("duration_ms", 0.001, dash=False)),
    Var("%{ms}T", "duration", numbers("duration_ms", dash=False)),
    Var("%v", "host", col("host", hostnames)),
    Var("%{Referer}i", "referer", col("referer", quoted, dash_null=True), text=True),
    Var("%{User-Agent}i", "ua", col("user_agent", quoted, dash_null=True), text=True),
    Var("%{X-Forwarded-For}i", "xff", col("forwarded_for", quoted, dash_null=True), text=True),
    Var("%{X-Request-ID}i", "request_id", col("request_id", tokens)),
    Var("%p", "x1", extra("server_port", st.integers(1, 65535).map(str))),
    Var("%{X-Tenant}i", "x3", extra("{X-Tenant}i", quoted), text=True),
    Var("%X", "x2", extra("conn_status", st.sampled_from(["+", "-", "X"]))),
]
TIME_GROUP = "time"


@dataclass
class Layout:
    dialect: str
    text: str  # as pasted
    fields: list[tuple[Var, str]]  # variable, wrapper: "" | '"' | "["
    seps: list[str]  # literal before field i (seps[0] the prefix), and the suffix last
    records: list[list[tuple[str, dict[str, Any]]]] = field(default_factory=list)

    def render(self, values: list[tuple[str, dict[str, Any]]]) -> str:
        out = self.seps[0]
        for i, ((_, wrap), (text, _)) in enumerate(zip(self.fields, values, strict=True)):
            close = {"": "", '"': '"', "[": "]"}[wrap]
            out += (self.seps[i] if i else "") + wrap + text + close
        return out + self.seps[-1]


def layout_body(dialect: str, fields: list[tuple[Var, str]], seps: list[str]) -> str:
    body = seps[0]
    for i, (var, wrap) in enumerate(fields):
        close = {"": "", '"': '"', "[": "]"}[wrap]
        name = f"${var.name}" if dialect == "nginx" else var.name
        if var.name == "%t":
            wrap = close = ""
        if dialect == "nginx" and i + 1 < len(fields) and not seps[i + 1] and not close:
            name = f"${{{var.name}}}"
        body += (seps[i] if i else "") + wrap + name + close
    return body + seps[-1]


def pasted(dialect: str, body: str, how: int) -> str:
    """The layout as a user pastes it: the bare body, or the whole config directive."""
    if dialect == "nginx":
        if how == 1:
            return f"log_format main '{body}';"
        if how == 2:  # nginx concatenates several quoted strings
            mid = len(body) // 2
            return f"log_format  main  '{body[:mid]}'\n                 '{body[mid:]}';"
        return body
    escaped = body.replace("\\", "\\\\").replace('"', '\\"')
    if how == 1:
        return f'LogFormat "{escaped}" custom'
    if how == 2:
        return f'CustomLog "logs/access_log" "{escaped}"'
    return body


@st.composite
def layouts(draw: st.DrawFn, touching: bool = False) -> Layout:
    dialect = draw(st.sampled_from(["nginx", "apache"]))
    pool = NGINX_VARS if dialect == "nginx" else APACHE_VARS
    time_var = draw(st.sampled_from([v for v in pool if v.group == TIME_GROUP]))
    others = draw(
        st.lists(
            st.sampled_from([v for v in pool if v.group != TIME_GROUP]),
            max_size=9,
            unique_by=lambda v: v.group,
        )
    )
    chosen = draw(st.permutations([time_var, *others]))
    if "request" in {v.group for v in chosen}:  # the request line or its parts, not both
        chosen = [v for v in chosen if v.group not in ("method", "target", "protocol")]
    fields = []
    for var in chosen:
        if var.text:
            wrap = '"'
        elif var.name == "%t":
            wrap = "["  # Apache writes the brackets of %t itself (not in the layout)
        else:
            wrap = draw(st.sampled_from(["", "", '"', "["]))
        fields.append((var, wrap))
    seps = [draw(st.sampled_from(["", "", "srv1 ", "[x] "]))]
    seps += [draw(st.sampled_from(SEPARATORS)) for _ in fields[1:]]
    seps.append(draw(st.sampled_from(["", "", " end", ";"])))
    if touching:  # two fields with nothing between them (%t brings its own brackets)
        pairs = [i for i in range(1, len(fields)) if "%t" not in (fields[i - 1][0].name, fields[i][0].name)]
        assume(pairs)
        i = draw(st.sampled_from(pairs))
        seps[i] = ""
        fields[i - 1], fields[i] = (fields[i - 1][0], ""), (fields[i][0], "")
    body = layout_body(dialect, fields, seps)
    how = draw(st.integers(0, 2))
    if how == 0 and body[0] == body[-1] == '"' and body.count('"') == 2:
        how = 1  # a bare '"$time_local"' is read as a quoted config argument: genuinely ambiguous
    layout = Layout(dialect, pasted(dialect, body, how), fields, seps)
    n = draw(st.integers(1, 6))
    layout.records = [[draw(var.values) for var, _ in fields] for _ in range(n)]
    return layout


def expected(values: list[tuple[str, dict[str, Any]]]) -> tuple[dict[str, Any], dict[str, str] | None]:
    cols: dict[str, Any] = {}
    extras: dict[str, str] = {}
    for _, want in values:
        for k, v in want.items():
            if k.startswith("extra."):
                if v is not None:
                    extras[k.removeprefix("extra.")] = v
            else:
                cols[k] = v
    return cols, extras or None


@pytest.fixture(scope="module")
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    c = connect(":memory:")
    yield c
    c.close()


def test_generated_layouts_give_back_the_rendered_values(con: duckdb.DuckDBPyConnection) -> None:
    found: list[Layout] = []

    @fuzz_settings()
    @given(layouts())
    def gather(layout: Layout) -> None:
        found.append(layout)

    gather()
    # One DuckDB parse per distinct compiled layout is the cost; group identical layouts.
    by_text: dict[str, list[Layout]] = {}
    for lay in found:
        by_text.setdefault(lay.text, []).append(lay)
    bad: list[str] = []
    for text, lays in by_text.items():
        fmt = formats.custom_format(text)
        lines, wants = [], []
        for lay in lays:
            for values in lay.records:
                lines.append(lay.render(values))
                wants.append(expected(values))
        sniffed = fmt.matches(con, lines)
        parser = fmt.bind(lines, ParseOptions(tz=TZ))
        rows = parse_keyed(con, parser, list(enumerate(lines, 1)))
        for row, line, hit, (cols, extras) in zip(rows, lines, sniffed, wants, strict=True):
            got = {k: row[k] for k in cols}
            got_extra = json.loads(row["extra"]) if row["extra"] else None
            if not hit or row["reject_reason"] or got != cols or got_extra != extras:
                bad.append(
                    f"layout {text!r}\n  line {line!r}\n  sniffed {hit} reject {row['reject_reason']}\n"
                    f"  got  {got} {got_extra}\n  want {cols} {extras}"
                )
    assert not bad, f"{len(bad)} lines mis-parsed, e.g.\n" + "\n".join(bad[:4])


@fuzz_settings()
@given(layouts(touching=True))
def test_fields_that_touch_are_refused(layout: Layout) -> None:
    with pytest.raises(LogFormatError, match="touch"):
        formats.custom_format(layout.text)


FRAGMENTS = [
    "$remote_addr",
    "$time_local",
    "$time_iso8601",
    "$msec",
    "$request",
    "$status",
    "${status}",
    "$",
    "${",
    "%h",
    "%t",
    "%>s",
    "%r",
    "%{",
    "}t",
    "%{%Y-%m-%d}t",
    "%{%Q}t",
    "%{sec}t",
    "%{msec_frac}t",
    "%{User-Agent}i",
    "%400,501{Referer}i",
    "%!200u",
    "%%",
    "%",
    "%{begin:%d/%b/%Y}t",
    "log_format",
    "log_format main",
    "LogFormat",
    "CustomLog",
    "#Fields:",
    "#Fields: date time",
    "cloudfront-realtime:",
    "cloudfront-realtime: timestamp",
    "%START_TIME%",
    "%START_TIME(%s)%",
    "%START_TIME(%Y%f)%",
    "%REQ(:PATH)%",
    "$context.requestTime",
    "$context.",
    "'",
    '"',
    "\\",
    "[",
    "]",
    "(",
    ")",
    " ",
    "\t",
    "\n",
    ";",
    "escape=json",
    "\x00",
    "é",
    "{",
    "}",
]
garbage = st.one_of(
    st.text(max_size=60),
    st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=12).map("".join),
    st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=3)), max_size=12).map(" ".join),
)


def test_garbage_layouts_give_a_clear_error_or_a_working_parser(con: duckdb.DuckDBPyConnection) -> None:
    compiled: dict[str, Any] = {}

    @fuzz_settings(4)
    @given(garbage)
    def gather(text: str) -> None:
        try:
            fmt = formats.custom_format(text)
        except ForensicsError as exc:
            assert str(exc).strip(), f"empty message for {text!r}"
            return
        fmt.matches(con, [text, "x", ""])  # the sniffer runs the compiled regexes in Python
        compiled.setdefault(text, fmt)

    gather()
    # Compiled ones: their SQL must run (one parse each, ~0.2 s: a few suffice in CI).
    for text, fmt in list(compiled.items())[:8]:
        lines = [text, "", "-", "x y z", '1.2.3.4 - - [12/Mar/2024:10:00:00 +0000] "GET / HTTP/1.1" 200 1']
        try:
            parser = bind_any(fmt, lines)
        except ForensicsError:
            continue  # refused at bind (e.g. a declared field list with no time): a clear error
        keyed = list(enumerate(lines, 1))
        check_rows(f"custom {text!r}", keyed, parse_keyed(con, parser, keyed))


# Regressions found by the tests above (exact values read off the lines by hand).


def test_layout_ending_in_a_semicolon_after_a_quoted_first_field_keeps_it() -> None:
    # Found: a layout starting with a quoted field lost its own trailing ';' (taken for the
    # end of a log_format directive), so no line matched.
    fmt = formats.custom_format('"%r" %>s %t;')
    line = '"GET /a?b=1 HTTP/1.1" 200 [12/Mar/2024:10:00:00 +0100];'
    (row,) = parse_lines(fmt, [line])
    assert row["reject_reason"] is None
    assert (row["method"], row["path"], row["query"], row["status"]) == ("GET", "/a", "b=1", 200)
    assert (row["ts"], row["ts_offset_min"]) == (datetime(2024, 3, 12, 9, 0, tzinfo=UTC), 60)
    # the directive's own ';' is still dropped
    nginx = formats.custom_format("'$remote_addr [$time_local] \"$request\"';")
    assert nginx.layout.tokens[-1] == '"'


def test_touching_fields_are_refused_with_their_names() -> None:
    # Found: "$remote_user$status" compiled and split every line somewhere.
    with pytest.raises(LogFormatError, match=r"remote_user and status touch"):
        formats.custom_format("$remote_addr [$time_local] $remote_user$status")
    with pytest.raises(LogFormatError, match=r"%u and %>s touch"):
        formats.custom_format('%h %t "%r" %u%>s')
    # %t writes its own brackets: it never touches
    row = parse_one(formats.custom_format("%h %t%>s"), "10.0.0.1 [12/Mar/2024:10:00:00 +0000]404")
    assert (row["client_ip"], row["status"]) == ("10.0.0.1", 404)
