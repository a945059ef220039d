"""HAProxy's own log formats: HTTP (`option httplog`), HTTPS (`option httpslog`), TCP
(`option tcplog`) and the connection error format, bare or behind a syslog header.

Reference: HAProxy Configuration Manual, section 8.2 "Log formats" — 8.2.2 TCP log format,
8.2.3 HTTP log format, 8.2.4 HTTPS log format (2.5+), 8.2.5 Error log format, 8.3.2 logasap,
8.4 timers. Field names below (and the keys in ``extra``) are the manual's.

The shape differs from the layouts layout.py compiles (a syslog header of several kinds in
front, ``/``-joined timers and counters, captured-header blocks that are present only when
captures are configured), so this module has its own SQL: one regex finds where the HAProxy
message starts (``client_ip:client_port [date]``), one splits the message, and the common
``assemble_sql`` does the rest. Those regexes are the spec; the usual lines take a fast path of
string functions that gives the same captures (start at the first `` [``, the body's fixed
words by ``string_split``, the captures and request by position), and only lines it is not
sure of run the regexes (tests/test_fastpaths.py checks both agree, on mutated lines too).
Measured: 11.7k → 37.6k lines/s whole-process (200k HTTP lines, shared 2-core machine).

* Time: the accept/request date (``[06/Feb/2009:12:14:14.655]``) is the host's local time and
  carries no offset; HAProxy has no way to mark it as UTC, so ``--tz`` is required. The syslog
  header's own time is kept in ``extra.syslog_timestamp``.
* Timers: HTTP ``TR/Tw/Tc/Tr/Ta``, TCP ``Tw/Tc/Tt``, kept as logged in ``extra``.
  ``duration_ms`` = ``Ta`` (HTTP: first byte of the request to last byte of the response) or
  ``Tt`` (TCP: whole session). ``-1`` ("not reached") gives NULL, never a negative duration;
  a ``+`` (``option logasap``: the final value is larger) is dropped from the column and kept
  in ``extra``.
* ``bytes_read`` is what HAProxy sent to the client: ``bytes_sent``.
* Captured headers (``{…|…}``) depend on the configuration, so they stay raw in ``extra``
  (``captured_request_headers``, ``captured_response_headers``; a single block cannot say
  which of the two it is and is kept as ``captured_headers``) — never guessed into host or
  user_agent.
* TCP records and connection errors (``frt/f1: SSL handshake failure``) are events without a
  method or path: a client's connection is evidence too.
* Start-up and other daemon messages (``Proxy x started.``, ``[NOTICE] …``, other programs'
  syslog lines) are rejects with a ``NOT_AN_ENTRY`` reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import duckdb

from forensics.errors import TimezoneRequiredError
from forensics.formats import times
from forensics.formats.base import NOT_AN_ENTRY, ParseOptions, assemble_sql
from forensics.formats.sqltext import json_members_sql, json_object_sql, sql_list, sql_str

DATE = r"\d{2}/[A-Za-z]{3}/\d{4}:\d{2}:\d{2}:\d{2}(?:\.\d+)?"
# The HAProxy message starts at the first "client_ip:client_port [date] " (IPv6 clients are
# written without brackets: the port is after the last colon; "unix" for UNIX sockets).
HEAD_RE = rf"^(.*?)([^\s>]+):(\d+) \[({DATE})\] (.*)$"
HEAD_NAMES = ["pre", "client_ip", "client_port", "date", "rest"]

# What may come before it: nothing (stdout, docker), "<PRI>", an RFC 5424 header, or an
# RFC 3164 / rsyslog header (time, optional host, optional "tag[pid]:").
SYSLOG_TIME = r"[A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2}|\d{4}-\d{2}-\d{2}T\S+"
PREFIX_RE = (
    r"^(?:<(\d{1,3})>)?(?:"
    r"1 (\d{4}-\d{2}-\d{2}T\S+|-) (\S+) (\S+) (\S+) (\S+) (-|\[.*\]) "
    rf"|({SYSLOG_TIME}) (?:(\S*[^\s:]) )?(?:([^\s\[\]]+)(?:\[(\d+)\])?: )?"
    r")?$"
)
PREFIX_NAMES = [
    "pri",
    "ts5424",
    "host5424",
    "app",
    "procid",
    "msgid",
    "sd",
    "ts3164",
    "host3164",
    "tag",
    "pid",
]

# HTTP and TCP in one: the TCP format is the HTTP one without TR, Tr, status_code, the two
# cookies, captures and request (8.2.2 and 8.2.3), and the regex tells them apart unambiguously.
BODY_FIXED_RE = (
    r"^(\S+) ([^\s/]+)/(\S+) (?:(-?\d+)/)?(-?\d+)/(-?\d+)/(?:(-?\d+)/)?(\+?-?\d+) "
    r"(?:(-?\d+) )?(\+?\d+) (?:(\S+) (\S+) )?(\S+) "
    r"(\d+)/(\d+)/(\d+)/(\d+)/(\+?\d+) (\d+)/(\d+)"
)
# what follows: captured headers, the request, the HTTPS tail
BODY_TAIL_RE = (
    r'(?:(?: (\{[^}]*\}))?(?: (\{[^}]*\}))? (")(.*?)"?'
    r"(?: (\S+)/(\S+)/(\S+)/(\S+)/(\S+) (\S+)/(\S+)/(\S+))?)?$"
)
BODY_RE = BODY_FIXED_RE + BODY_TAIL_RE
BODY_NAMES = [
    "frontend_name",
    "backend_name",
    "server_name",
    "t_req",  # TR (struct field names are case-insensitive: TR and Tr would clash)
    "t_wait",  # Tw
    "t_conn",  # Tc
    "t_resp",  # Tr
    "t_last",  # Ta (HTTP) or Tt (TCP)
    "status_code",
    "bytes_read",
    "captured_request_cookie",
    "captured_response_cookie",
    "termination_state",
    "actconn",
    "feconn",
    "beconn",
    "srv_conn",
    "retries",
    "srv_queue",
    "backend_queue",
    "hdr1",
    "hdr2",
    "quote",
    "http_request",
    "fc_err",
    "ssl_fc_err",
    "ssl_c_err",
    "ssl_c_ca_err",
    "ssl_fc_is_resumed",
    "ssl_fc_sni",
    "ssl_version",
    "ssl_ciphers",
]
# HTTP has all of TR, Tr, status_code, the cookies and the request; TCP has none of them.
HTTP_PARTS = ("t_req", "t_resp", "status_code", "captured_request_cookie", "quote")
TAIL_NAMES = BODY_NAMES[BODY_NAMES.index("hdr1") :]

# The fast path (string functions; the regexes above stay the spec and the fallback). HEAD_RE's
# lazy prefix is its cost: the message starts at the first " [" when the word before it is
# "client:port" and a date follows — the earliest start the lazy regex can take — so only lines
# where that fails (an RFC 5424 structured-data "[", a bare "<PRI>" before the client) run it.
CLIENT_RE = r"^([^\s>]+):(\d+)$"
# BODY_FIXED_RE with every optional part present (HTTP, 10 words) or absent (TCP, 7 words), no
# captures (a DFA match): such a body splits on " " into the same words the regex captures,
# and that split is the regex's first-choice alignment, so the captures are the same.
HTTP_WORDS_RE = (
    r"^\S+ [^\s/]+/\S+ -?\d+/-?\d+/-?\d+/-?\d+/\+?-?\d+ -?\d+ \+?\d+ \S+ \S+ \S+ "
    r"\d+/\d+/\d+/\d+/\+?\d+ \d+/\d+(?: |$)"
)
TCP_WORDS_RE = r"^\S+ [^\s/]+/\S+ -?\d+/-?\d+/\+?-?\d+ \+?\d+ \S+ \d+/\d+/\d+/\d+/\+?\d+ \d+/\d+$"
# 8.2.5: "frontend_name '/' bind_name ':' message" after the date.
ERROR_RE = r"^([^\s/]+)/(\S*?): (.+)$"
ERROR_NAMES = ["frontend_name", "bind_name", "message"]
# Daemon messages on stdout (2.x): "[NOTICE]   (1) : haproxy version is 2.4.0".
DAEMON_RE = r"^\[(?:NOTICE|WARNING|ALERT|INFO|DEBUG|EMERG|CRIT|ERR|ERROR)\] "
# Any syslog line (a daemon message or another program's): header then a tag.
SYSLOG_LINE_RE = (
    rf"^(?:<\d{{1,3}}>)?(?:1 \S+ \S+ (\S+) |(?:{SYSLOG_TIME}) (?:\S*[^\s:] )?([^\s\[\]]+)(?:\[\d+\])?: )"
)

PY_MAX = 4096  # longer sample lines are matched by RE2 (Python's re may backtrack on them)


@dataclass(frozen=True)
class HaproxyFormat:
    name: str = "haproxy"
    description: str = (
        "HAProxy HTTP/HTTPS/TCP logs (`option httplog`, `httpslog`, `tcplog`) and connection "
        "errors, bare or behind an RFC 3164/5424 syslog header; needs --tz."
    )
    example: str = (
        "Feb  6 12:14:14 localhost haproxy[14389]: 10.0.1.2:33317 [06/Feb/2009:12:14:14.655] "
        'http-in static/srv1 10/0/30/69/109 200 2750 - - ---- 1/1/1/1/0 0/0 {1wt.eu} {} "GET /index.html HTTP/1.1"'
    )
    priority: int = 30

    def matches(
        self, con: duckdb.DuckDBPyConnection, lines: list[str], strict_only: bool = False
    ) -> list[bool]:
        out = [len(ln) <= PY_MAX and " [" in ln and _py_entry(ln) for ln in lines]
        long = [i for i, ln in enumerate(lines) if len(ln) > PY_MAX and " [" in ln]
        if long:
            row = con.execute(
                f"SELECT list_transform(?, lambda line: {_entry_sql('line')})", [[lines[i] for i in long]]
            ).fetchone()
            for i, hit in zip(long, row[0] if row else [], strict=True):
                out[i] = bool(hit)
        return out

    def bind(self, lines: list[str], options: ParseOptions) -> HaproxyParser:
        if not options.tz:
            raise TimezoneRequiredError(
                "HAProxy writes its accept dates in the host's local time without a UTC offset; "
                "give the server's zone with --tz (e.g. --tz Europe/London, or --tz UTC)"
            )
        return HaproxyParser(self.name, options.tz)


_HEAD = re.compile(HEAD_RE, re.ASCII)
# HEAD_RE needs "port [" after a colon; without it the lazy prefix backtracks over the whole
# line in Python's re before failing (~80 us per combined line: 17 s of sniffing 2,000 files)
_HEAD_NEEDS = re.compile(r":\d+ \[", re.ASCII)
_PREFIX = re.compile(PREFIX_RE, re.ASCII)
_BODY = re.compile(BODY_RE, re.ASCII)
_ERROR = re.compile(ERROR_RE, re.ASCII)


def _py_entry(line: str) -> bool:
    if _HEAD_NEEDS.search(line) is None:
        return False
    m = _HEAD.match(line)
    if m is None or _PREFIX.match(m.group(1)) is None:
        return False
    rest = m.group(5)
    b = _BODY.match(rest)
    if b is not None:
        parts = [b.group(BODY_NAMES.index(n) + 1) is not None for n in HTTP_PARTS]
        return all(parts) or not any(parts)
    return _ERROR.match(rest) is not None


def _entry_sql(line: str) -> str:
    """SQL: is ``line`` an HAProxy entry (the sniffer's test for long lines)."""
    h = f"regexp_extract({line}, {sql_str(HEAD_RE)}, {sql_list(HEAD_NAMES)})"
    return (
        f"(list_transform([{h}], lambda h: h.date <> '' AND regexp_full_match(h.pre, {sql_str(PREFIX_RE)}) "
        f"AND (list_transform([regexp_extract(h.rest, {sql_str(BODY_RE)}, {sql_list(BODY_NAMES)})], "
        f"lambda b: b.frontend_name <> '' AND {_same_shape('b')})[1] "
        f"OR regexp_full_match(h.rest, {sql_str(ERROR_RE)})))[1])"
    )


def _same_shape(b: str) -> str:
    """SQL: the body ``b`` is all HTTP or all TCP (see HTTP_PARTS)."""
    return " AND ".join(f"({b}.{n} <> '') = ({b}.t_req <> '')" for n in HTTP_PARTS[1:])


@dataclass(frozen=True)
class HaproxyParser:
    format_name: str
    tz: str
    fast: bool = True  # False: the regexes alone (the fast path's spec, see test_fastpaths)

    @property
    def description(self) -> str:
        return f"haproxy http/https/tcp/error formats, accept dates in {self.tz}"

    def select_sql(self, src: str) -> str:
        inner = self._inner_sql(src)
        http = "b.status_code <> ''"
        naive = "try_strptime(h.date, ['%d/%b/%Y:%H:%M:%S.%g', '%d/%b/%Y:%H:%M:%S'])::TIMESTAMP"
        ts, off = times.naive_in_zone(naive, self.tz)
        is_body = "is_body"  # the body has the HTTP or the TCP shape (see _inner_sql)
        is_error = "coalesce(e.frontend_name, '') <> ''"
        columns = {
            "ts": ts,
            "ts_offset_min": off,
            "client_ip": "nullif(h.client_ip, '')",
            "status": f"CASE WHEN {http} AND NOT starts_with(b.status_code, '-') "
            "THEN TRY_CAST(b.status_code AS SMALLINT) END",
            "bytes_sent": f"CASE WHEN {is_body} THEN TRY_CAST(ltrim(b.bytes_read, '+') AS BIGINT) END",
            "duration_ms": f"CASE WHEN {is_body} AND NOT starts_with(b.t_last, '-') "
            "THEN TRY_CAST(ltrim(b.t_last, '+') AS DOUBLE) END",
            "_request": f"CASE WHEN {http} THEN b.http_request END",
            "extra": self._extra_sql(http, is_body, is_error),
        }
        # PREFIX_RE matched: the prefix is empty, or a mandatory part of a branch was captured
        prefix_ok = "(h.pre = '' OR p.pri <> '' OR p.ts5424 <> '' OR p.ts3164 <> '')"
        matched = f"h.date <> '' AND {prefix_ok} AND ({is_body} OR {is_error})"
        # only ``line`` is in scope here, and only rejects get this far
        pre = f"regexp_extract(line, {sql_str(HEAD_RE)}, 1)"
        tag = f"regexp_extract(line, {sql_str(SYSLOG_LINE_RE)}, ['a', 'b'])"
        mismatch = (
            f"CASE WHEN regexp_matches(line, {sql_str(HEAD_RE)}) THEN "
            f"CASE WHEN regexp_full_match({pre}, {sql_str(PREFIX_RE)}) "
            "THEN 'HAProxy entry with an unexpected field layout (a custom log-format?)' "
            "ELSE 'HAProxy entry behind an unknown prefix' END "
            f"WHEN regexp_matches(line, {sql_str(DAEMON_RE)}) THEN "
            f"{sql_str(NOT_AN_ENTRY + 'HAProxy daemon message')} "
            f"WHEN regexp_matches(line, {sql_str(SYSLOG_LINE_RE)}) THEN "
            f"{sql_str(NOT_AN_ENTRY + 'syslog message from ')} || "
            f"(list_transform([{tag}], lambda t: coalesce(nullif(t.b, ''), t.a)))[1] || "
            "' (start-up, health check or other daemon message)' "
            "ELSE 'not a haproxy line' END"
        )
        return assemble_sql(inner, columns, matched, self.format_name, mismatch)

    def _inner_sql(self, src: str) -> str:
        """``line_no, line`` and the structs h (head), p (syslog prefix), b (body), e (error)."""
        head = f"regexp_extract(line, {sql_str(HEAD_RE)}, {sql_list(HEAD_NAMES)})"
        body = f"regexp_extract(h.rest, {sql_str(BODY_RE)}, {sql_list(BODY_NAMES)})"
        if not self.fast:
            heads = f"SELECT line_no, line, {head} AS h FROM {src}"
            bodies = f"SELECT line_no, line, h, CASE WHEN h.date <> '' THEN {body} END AS b FROM ({heads})"
        else:
            heads = _fast_heads_sql(src, head)
            bodies = _fast_bodies_sql(heads, body)
        return f"""
SELECT line_no, line, h, p, b, is_body,
  CASE WHEN h.date <> '' AND NOT is_body THEN
    regexp_extract(h.rest, {sql_str(ERROR_RE)}, {sql_list(ERROR_NAMES)}) END AS e
FROM (
  SELECT line_no, line, h, b, (b.frontend_name <> '' AND {_same_shape("b")}) AS is_body,
    CASE WHEN h.date <> '' THEN regexp_extract(h.pre, {sql_str(PREFIX_RE)}, {sql_list(PREFIX_NAMES)}) END AS p
  FROM ({bodies})
)"""

    @staticmethod
    def _extra_sql(http: str, is_body: str, is_error: str) -> str:
        two = "b.hdr2 <> ''"
        braces = "CASE WHEN {0} <> '' THEN {0}[2:-2] END"
        entries: list[tuple[str, str]] = [
            ("'client_port'", "h.client_port"),
            ("'syslog_pri'", "p.pri"),
            ("'syslog_timestamp'", "coalesce(nullif(p.ts5424, ''), p.ts3164)"),
            ("'syslog_hostname'", "coalesce(nullif(p.host5424, ''), p.host3164)"),
            ("'process_name'", "coalesce(nullif(p.app, ''), p.tag)"),
            ("'pid'", "coalesce(nullif(p.procid, ''), p.pid)"),
            ("'msgid'", "p.msgid"),
            ("'structured_data'", "p.sd"),
            ("'frontend_name'", "CASE WHEN {b} THEN b.frontend_name ELSE e.frontend_name END"),
            ("'bind_name'", "e.bind_name"),
            ("'message'", "e.message"),
        ]
        body = [
            ("'backend_name'", "b.backend_name"),
            ("'server_name'", "b.server_name"),
            ("'TR'", "b.t_req"),
            ("'Tw'", "b.t_wait"),
            ("'Tc'", "b.t_conn"),
            ("'Tr'", "b.t_resp"),
            (f"CASE WHEN {http} THEN 'Ta' ELSE 'Tt' END", "b.t_last"),
            ("'bytes_read'", "CASE WHEN starts_with(b.bytes_read, '+') THEN b.bytes_read END"),
            ("'captured_request_cookie'", "b.captured_request_cookie"),
            ("'captured_response_cookie'", "b.captured_response_cookie"),
            ("'termination_state'", "b.termination_state"),
            ("'actconn'", "b.actconn"),
            ("'feconn'", "b.feconn"),
            ("'beconn'", "b.beconn"),
            ("'srv_conn'", "b.srv_conn"),
            ("'retries'", "b.retries"),
            ("'srv_queue'", "b.srv_queue"),
            ("'backend_queue'", "b.backend_queue"),
            (
                f"CASE WHEN {two} THEN 'captured_request_headers' ELSE 'captured_headers' END",
                braces.format("b.hdr1"),
            ),
            ("'captured_response_headers'", braces.format("b.hdr2")),
        ]
        body += [(sql_str(n), f"b.{n}") for n in BODY_NAMES[BODY_NAMES.index("fc_err") :]]
        entries = [(k, v.replace("{b}", is_body)) for k, v in entries]
        body_members = f"CASE WHEN {is_body} THEN {json_members_sql(body)} END"
        return json_object_sql([json_members_sql(entries), body_members])


def _fast_heads_sql(src: str, head: str) -> str:
    """``line_no, line, h``: HEAD_RE's captures, by string functions where they suffice."""
    fast = (
        "struct_pack(pre := left(line, _q - 1 - length(_hw)), client_ip := _cp.c, "
        "client_port := _cp.p, date := left(_ha, _de - 1), rest := substr(_ha, _de + 2))"
    )
    ok = (
        f"_cp.c <> '' AND _de > 0 AND regexp_full_match(left(_ha, _de - 1), {sql_str(DATE)}) "
        "AND NOT contains(line, chr(10))"  # HEAD_RE's "." stops at a newline
    )
    return f"""
SELECT line_no, line, CASE WHEN {ok} THEN {fast} ELSE {head} END AS h
FROM (
  SELECT *, regexp_extract(_hw, {sql_str(CLIENT_RE)}, ['c', 'p']) AS _cp, strpos(_ha, '] ') AS _de
  FROM (
    SELECT line_no, line, _q,
      CASE WHEN _q > 0 THEN string_split(left(line, _q - 1), ' ')[-1] END AS _hw,
      CASE WHEN _q > 0 THEN substr(line, _q + 2) END AS _ha
    FROM (SELECT line_no, line, strpos(line, ' [') AS _q FROM {src})
  )
)"""


def _fast_bodies_sql(heads: str, body: str) -> str:
    """``line_no, line, h, b``: BODY_RE's captures, split on spaces for the common shapes."""
    fixed = [
        ("frontend_name", "_w[1]"),
        ("backend_name", "split_part(_w[2], '/', 1)"),
        ("server_name", "substr(_w[2], strpos(_w[2], '/') + 1)"),
    ]
    http = [
        *fixed,
        ("t_req", "_t[1]"),
        ("t_wait", "_t[2]"),
        ("t_conn", "_t[3]"),
        ("t_resp", "_t[4]"),
        ("t_last", "_t[5]"),
        ("status_code", "_w[4]"),
        ("bytes_read", "_w[5]"),
        ("captured_request_cookie", "_w[6]"),
        ("captured_response_cookie", "_w[7]"),
        ("termination_state", "_w[8]"),
        *[(n, f"_c[{i + 1}]") for i, n in enumerate(BODY_NAMES[13:18])],
        ("srv_queue", "_qq[1]"),
        ("backend_queue", "_qq[2]"),
        *[(n, f"_tl.{n}") for n in TAIL_NAMES],
    ]
    tcp = [
        *fixed,
        ("t_req", "''"),
        ("t_wait", "_t[1]"),
        ("t_conn", "_t[2]"),
        ("t_resp", "''"),
        ("t_last", "_t[3]"),
        ("status_code", "''"),
        ("bytes_read", "_w[4]"),
        ("captured_request_cookie", "''"),
        ("captured_response_cookie", "''"),
        ("termination_state", "_w[5]"),
        *[(n, f"_c[{i + 1}]") for i, n in enumerate(BODY_NAMES[13:18])],
        ("srv_queue", "_qq[1]"),
        ("backend_queue", "_qq[2]"),
        *[(n, "''") for n in TAIL_NAMES],
    ]
    for shape in (http, tcp):
        assert [n for n, _ in shape] == BODY_NAMES
    http_b, tcp_b = ("struct_pack(" + ", ".join(f"{n} := {v}" for n, v in s) + ")" for s in (http, tcp))
    tail_len = " + ".join(f"length(_w[{i}])" for i in range(1, 11))
    tail = _fast_tail_sql(f"""
    SELECT *, string_split(_w[3], '/') AS _t,
      string_split(_w[CASE WHEN _bk = 'http' THEN 9 ELSE 6 END], '/') AS _c,
      string_split(_w[CASE WHEN _bk = 'http' THEN 10 ELSE 7 END], '/') AS _qq,
      CASE WHEN _bk = 'http' THEN substr(h.rest, {tail_len} + 10) END AS _tail
    FROM (
      SELECT *, CASE WHEN _bk IS NOT NULL THEN string_split(h.rest, ' ') END AS _w
      FROM (
        SELECT line_no, line, h,
          CASE WHEN h.date = '' THEN NULL
               WHEN regexp_matches(h.rest, {sql_str(HTTP_WORDS_RE)}) THEN 'http'
               WHEN regexp_matches(h.rest, {sql_str(TCP_WORDS_RE)}) THEN 'tcp' END AS _bk
        FROM ({heads})
      )
    )""")
    return f"""
SELECT line_no, line, h,
  CASE WHEN h.date = '' THEN NULL
       WHEN _bk = 'http' AND (_tail = '' OR _tl.quote = '"') THEN {http_b}
       WHEN _bk = 'tcp' THEN {tcp_b}
       ELSE {body} END AS b
FROM ({tail})"""


def _fast_tail_sql(src: str) -> str:
    """Adds ``_tl``: BODY_TAIL_RE's captures on ``_tail`` (NULL-safe: all '' when it fails).

    The tail regex's lazy request costs as much as the rest of the line. The usual tail is
    up to two ``{…}`` blocks (each up to its first "}") and `` "request"``; when the last word
    has fewer than two "/", no HTTPS tail (which ends in ``a/b/c``) can end the line, so the
    lazy request is all the rest but a closing quote. Anything else runs the regex.
    """
    names = ", ".join(f"{n} := ''" for n in TAIL_NAMES[4:])
    fast = (
        "struct_pack(hdr1 := _h1, hdr2 := _h2, quote := '\"', http_request := "
        "CASE WHEN ends_with(_rq, '\"') THEN left(_rq, length(_rq) - 1) ELSE _rq END, " + names + ")"
    )
    ok = "coalesce(starts_with(_r2, ' \"') AND length(_lw) - length(replace(_lw, '/', '')) < 2, false)"

    def block(text: str) -> str:
        """A `` {…}`` block at the start of ``text``: '' when there is none, NULL when unclosed."""
        return (
            f"CASE WHEN NOT starts_with({text}, ' {{') THEN '' "
            f"WHEN strpos({text}, '}}') > 0 THEN substr({text}, 2, strpos({text}, '}}') - 1) END"
        )

    def after(text: str, blk: str) -> str:
        return f"CASE WHEN {blk} = '' THEN {text} ELSE substr({text}, length({blk}) + 2) END"

    return f"""
SELECT *, CASE WHEN {ok} THEN {fast}
  ELSE regexp_extract(_tail, {sql_str("^" + BODY_TAIL_RE)}, {sql_list(TAIL_NAMES)}) END AS _tl
FROM (
  SELECT *, substr(_r2, 3) AS _rq, string_split(substr(_r2, 3), ' ')[-1] AS _lw
  FROM (
    SELECT *, {after("_r1", "_h2")} AS _r2
    FROM (
      SELECT *, {block("_r1")} AS _h2
      FROM (
        SELECT *, {after("_tail", "_h1")} AS _r1
        FROM (SELECT *, {block("_tail")} AS _h1 FROM ({src}))
      )
    )
  )
)"""


FORMAT = HaproxyFormat()
