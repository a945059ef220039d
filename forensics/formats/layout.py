"""Compile a server's own log layout into one RE2 regex plus typed SQL per field.

Accepts what users paste from their config:

* nginx: ``log_format main '$remote_addr - $remote_user [$time_local] "$request" ...';``
  or just the quoted body, with ``$var`` / ``${var}`` variables;
* Apache: ``LogFormat "%h %l %u %t \\"%r\\" %>s %b" combined`` or just the format string,
  with ``%h``, ``%>s``, ``%{User-Agent}i``, ``%{%Y-%m-%d %H:%M:%S}t``, ``%400,501{Referer}i`` …
* Envoy: an access-log format string (``text_format``/``format``) with ``%COMMAND%`` operators:
  ``[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" …``
* AWS API Gateway: an access-log format with dotted ``$context.…`` variables
  (``$context.identity.sourceIp - - [$context.requestTime] "$context.httpMethod …"``).

A field enclosed in double quotes in the layout matches lazily up to the closing quote and
what follows it, so escaped (``\\"``) or even unescaped quotes inside a request still parse;
a line whose last quoted field lost its closing quote (a truncated user agent) still parses.
The last quoted field takes the rest of the line, bare quotes and all (servers that do not
escape quotes in user agents exist): which of two layouts that differ only by trailing fields
fits a file is the sniffer's call, by priority.
"""

from __future__ import annotations

import itertools
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, replace

from forensics.errors import LogFormatError
from forensics.formats import apache_time, layout_apache
from forensics.formats.layoutspec import KIND_RE, NUMERIC_KINDS, Field, FieldSpec, strftime_regex

__all__ = ["KIND_RE", "Field", "FieldSpec", "Layout", "compile_layout", "tokenize"]

LAZY_QUOTED = r".*?"
ESCAPED_QUOTED = r'[^"\\]*(?:\\.[^"\\]*)*'  # quoted text where a quote inside is written \"
# (the unrolled form of (?:[^"\\]|\\.)*: same text, ~7x faster in Python's re for sniffing)


# nginx variables (without the $): ngx_http_log_module and ngx_http_core_module "Embedded
# Variables" (https://nginx.org/en/docs/http/ngx_http_core_module.html#variables). Documented
# ones not listed (remote_port, server_addr, connection, pipe, https, scheme, …) and the
# user's own (set by map/set, or other modules) go to ``extra`` under their name; the
# families $http_NAME, $sent_http_NAME, $sent_trailer_NAME, $cookie_NAME, $arg_NAME and
# $upstream_* likewise (NGINX_FAMILIES gives their kind).
NGINX: dict[str, FieldSpec] = {
    "remote_addr": FieldSpec("client_ip"),  # client address
    # realip module: the address before realip replaced it (the proxy): client_ip only
    # when $remote_addr is not logged (see PREFERRED)
    "realip_remote_addr": FieldSpec("client_ip"),
    "remote_user": FieldSpec("principal"),
    "time_local": FieldSpec("ts", "clf_time"),
    "time_iso8601": FieldSpec("ts", "iso_time"),
    "msec": FieldSpec("ts", "epoch"),  # seconds with a milliseconds resolution
    "request": FieldSpec("_request", "text"),
    "request_method": FieldSpec("method"),
    "request_uri": FieldSpec("_target"),  # full original request URI (with arguments)
    "uri": FieldSpec("_target"),  # current URI, normalized
    "document_uri": FieldSpec("_target"),  # same as $uri
    "args": FieldSpec("query"),
    "query_string": FieldSpec("query"),
    "server_protocol": FieldSpec("protocol"),
    "status": FieldSpec("status", "status"),
    "body_bytes_sent": FieldSpec("bytes_sent", "int"),
    "bytes_sent": FieldSpec("bytes_sent", "int"),
    "request_length": FieldSpec("bytes_received", "int"),
    "request_time": FieldSpec("duration_ms", "number", 1000.0),  # seconds, ms resolution
    "host": FieldSpec("host"),
    "server_name": FieldSpec("host"),
    "http_host": FieldSpec("host"),
    "http_referer": FieldSpec("referer", "text"),
    "http_user_agent": FieldSpec("user_agent", "text"),
    "http_x_forwarded_for": FieldSpec("forwarded_for", "text"),
    "proxy_add_x_forwarded_for": FieldSpec("forwarded_for", "text"),
    "request_id": FieldSpec("request_id"),
    "http_x_request_id": FieldSpec("request_id"),
    "connection_time": FieldSpec("extra", "number"),
    "request_body": FieldSpec("extra", "text"),
}
NGINX_FAMILIES = {
    "http_": "text",
    "sent_http_": "text",
    "sent_trailer_": "text",
    "upstream_": "list",
    "cookie_": "token",
    "arg_": "token",
}
# Documented, but no text log can hold them
NGINX_REFUSED = {
    "binary_remote_addr": "is the client address as 4 or 16 raw bytes, not text; log $remote_addr instead",
}
# When several fields fill one column: the first of these names present wins, the others go
# to extra. The client's own address before a peer's (mod_remoteip %a and nginx $remote_addr
# are the client as the proxy reported it; %{c}a, %{c}h and $realip_remote_addr the peer
# that connected, e.g. the proxy); %h (hostname or address of the client) when there is no
# %a. The final status %>s before the original %s (internal redirects).
PREFERRED = {
    "client_ip": ("%a", "%h", "remote_addr", "%{c}a", "%{c}h", "realip_remote_addr"),
    "status": ("%>s", "%s", "%<s"),
}

# Envoy command operators, as written between the %s (header names upper-cased, no ":Z"
# truncation). Unknown operators go to ``extra`` under their own text, e.g. RESPONSE_FLAGS.
ENVOY: dict[str, FieldSpec] = {
    "START_TIME": FieldSpec("ts", "iso_time"),
    "REQ(:METHOD)": FieldSpec("method"),
    "REQ(X-ENVOY-ORIGINAL-PATH?:PATH)": FieldSpec("_target"),
    "REQ(:PATH)": FieldSpec("_target"),
    "PROTOCOL": FieldSpec("protocol"),
    "RESPONSE_CODE": FieldSpec("status", "int"),  # 0: no response was sent
    "BYTES_RECEIVED": FieldSpec("bytes_received", "int"),
    "BYTES_SENT": FieldSpec("bytes_sent", "int"),
    "DURATION": FieldSpec("duration_ms", "int"),
    "REQ(X-FORWARDED-FOR)": FieldSpec("forwarded_for", "text"),
    "REQ(USER-AGENT)": FieldSpec("user_agent", "text"),
    "REQ(REFERER)": FieldSpec("referer", "text"),
    "REQ(X-REQUEST-ID)": FieldSpec("request_id"),
    "REQ(:AUTHORITY)": FieldSpec("host"),
    "REQ(HOST)": FieldSpec("host"),
    "DOWNSTREAM_REMOTE_ADDRESS": FieldSpec("client_ip", "addr_port"),
    "DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT": FieldSpec("client_ip"),
}
ENVOY_OP = re.compile(r"%([A-Z][A-Z0-9_]+)(?:\(([^)]*)\))?(?::\d+)?%")
# Envoy format strings pasted from YAML/JSON config: the key before the string.
ENVOY_KEYS = re.compile(r"^\s*(?:-\s*)?(?:\w+\s*:\s*)?")
# AWS API Gateway access-log variables ($context.…, without "context."), REST and HTTP APIs:
# "Variables for access logging for API Gateway" / "Customize HTTP API access logs"
# (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-variables-for-access-logging.html).
# principal: the first non-empty of the Lambda authorizer's principalId, the IAM caller's ARN,
# identity.user, identity.caller, the Cognito identity id. routeKey ("GET /pets/{id}") is a
# route template, not the path requested: it stays in extra. resourcePath is the resource
# template (/pets/{id}); path the path requested: either fills the path column.
APIGW: dict[str, FieldSpec] = {
    "identity.sourceIp": FieldSpec("client_ip"),
    "requestTime": FieldSpec("ts", "clf_time"),
    "requestTimeEpoch": FieldSpec("ts", "epoch"),
    "httpMethod": FieldSpec("method"),
    "resourcePath": FieldSpec("_target"),
    "path": FieldSpec("_target"),
    "routeKey": FieldSpec("extra", "text"),
    "protocol": FieldSpec("protocol"),
    "status": FieldSpec("status", "status"),
    "responseLength": FieldSpec("bytes_sent", "int"),
    "requestId": FieldSpec("request_id", rank=1),
    "extendedRequestId": FieldSpec("request_id", rank=2),
    "authorizer.principalId": FieldSpec("principal", rank=1),
    "identity.userArn": FieldSpec("principal", rank=2),
    "identity.user": FieldSpec("principal", rank=3),
    "identity.caller": FieldSpec("principal", rank=4),
    "identity.cognitoIdentityId": FieldSpec("principal", rank=5),
    "identity.userAgent": FieldSpec("user_agent", "text"),
    "responseLatency": FieldSpec("duration_ms", "int"),
    "integrationLatency": FieldSpec("extra", "int"),
    "domainName": FieldSpec("host"),
}
APIGW_VAR = re.compile(r"\$context\.(\w+(?:\.[\w-]+)*)")

APACHE_DIRECTIVE = re.compile(r"%([!\d,]*)([<>]?)(?:\{([^}]*)\})?([a-zA-Z%])")
NGINX_VAR = re.compile(r"\$(?:\{(\w+)\}|(\w+))")


@dataclass(frozen=True)
class Layout:
    """A compiled layout: two regexes with the same groups, and the fields in group order.

    ``fast`` is strict (single spaces, greedy tokens, escape-aware quoted fields): RE2 runs it
    about twice as fast as ``regex``, the tolerant form (runs of blanks, lazy quoted fields that
    survive unescaped quotes, a last quote cut off). Lines the fast one misses get the tolerant
    one; what a line parses to is the same whichever matched.
    """

    source: str
    dialect: str  # nginx | apache | apigw
    regex: str
    fields: tuple[Field, ...]
    fast: str = ""
    tokens: tuple[str | Field, ...] = ()  # literals and fields in order (for splitplan.py)
    # Apache: the %{…}t pieces one timestamp is made of (apache_time.py); () for one field
    time_parts: tuple[Field, ...] = ()

    @property
    def time_field(self) -> Field:
        return next(f for f in self.fields if f.spec.column == "ts")

    @property
    def naive_time(self) -> bool:
        """True when the time is a local time without a UTC offset in the layout itself."""
        if self.time_parts:
            return apache_time.naive(self.time_parts)
        tf = self.time_field
        return tf.spec.kind == "strftime" and "%z" not in tf.arg


def unwrap_directive(text: str) -> tuple[str, str]:
    """Strip ``log_format NAME …;`` / ``LogFormat "…" NAME`` wrappers; return (dialect, body)."""
    s = text.strip()
    if APIGW_VAR.search(s):
        return "apigw", _unquote(s, "apigw")
    if s.startswith("log_format"):
        words = _split(s.rstrip().rstrip(";"), text)[1:]
        words = [w for w in words[1:] if not w.startswith("escape=")]
        return "nginx", _body("".join(words), text)
    if s.startswith(("LogFormat", "CustomLog")):
        words = _split(s, text)[1:]
        if s.startswith("CustomLog"):
            words = words[1:]
        if not words:
            raise LogFormatError(f"no format string in {text!r}")
        return "apache", _body(words[0], text)
    if ENVOY_OP.search(s):  # %UPPER_CASE% operators: neither nginx nor Apache writes these
        return "envoy", _envoy_body(s)
    if NGINX_VAR.search(s) and not APACHE_DIRECTIVE.search(s):
        return "nginx", _unquote(s, "nginx")
    if APACHE_DIRECTIVE.search(s):
        return "apache", _unquote(s, "apache")
    raise LogFormatError(
        f"{text!r} has no nginx $variables or Apache %directives; paste the log_format "
        "or LogFormat line from the server's configuration"
    )


def _envoy_body(s: str) -> str:
    """An Envoy format string without a YAML key, its quotes, or the trailing newline."""
    s = ENVOY_KEYS.sub("", s, count=1).strip() if not s.startswith(("[", "%", '"[', "'[")) else s
    if len(s) >= 2 and s[0] == s[-1] and s[0] in "'\"":
        s = s[1:-1].replace('\\"', '"') if s[0] == '"' else s[1:-1]
    for end in ("\\n", "\n"):
        s = s.removesuffix(end)
    return s.rstrip()


def _split(s: str, text: str) -> list[str]:
    """Shell-like words, as nginx and Apache read their quoted config arguments."""
    try:
        return shlex.split(s, posix=True)
    except ValueError as exc:  # e.g. "No closing quotation"
        raise LogFormatError(f"cannot read {text!r}: {exc}; paste the whole directive") from exc


def _unquote(s: str, dialect: str) -> str:
    """The layout inside the quoted string(s) of a directive pasted without its keyword.

    nginx concatenates several '…' strings; a body that merely starts and ends with a quoted
    field (``"$request" … "$http_user_agent"``) is left as it is.
    """
    if s[:1] in ("'", '"'):
        # the end of a log_format directive came along: "';" — but only when dropping it
        # leaves a quoted string to unwrap; a layout may end with a literal ';' of its own
        t = s.rstrip(";").rstrip()
        if t != s and (inner := _unquote(t, dialect)) != t:
            return inner
    if len(s) < 2 or s[0] != s[-1] or s[0] not in "'\"":
        return s
    try:
        words = shlex.split(s, posix=True)
    except ValueError:
        return s
    if len(words) == 1 or (dialect == "nginx" and s[0] == "'"):
        return "".join(words)
    return s


def _body(body: str, text: str) -> str:
    if not NGINX_VAR.search(body) and not APACHE_DIRECTIVE.search(body):
        raise LogFormatError(
            f"{text!r} has no format string with $variables or %directives (a nickname such "
            "as 'combined' is not a layout: paste its LogFormat line, or use --format combined)"
        )
    return body


def tokenize(
    dialect: str, body: str, variables: Mapping[str, FieldSpec] | None = None, text: str = ""
) -> list[str | Field]:
    """Split a layout into literal strings and Fields.

    ``variables``: a registered format's own nginx-style variable names (they win over NGINX).
    ``text``: the layout as pasted, for error messages.
    """
    if dialect == "apache":
        return layout_apache.tokenize(body, text or body)
    pattern = {"nginx": NGINX_VAR, "envoy": ENVOY_OP, "apigw": APIGW_VAR}[dialect]
    out: list[str | Field] = []
    pos = 0
    for m in pattern.finditer(body):
        out.append(body[pos : m.start()])
        pos = m.end()
        if dialect == "envoy":
            out.append(_envoy_field(m.group(1), m.group(2)))
        elif dialect == "apigw":
            out.append(Field(m.group(1), APIGW.get(m.group(1), FieldSpec("extra"))))
        else:
            var = m.group(1) or m.group(2)
            out.append(_nginx_field(var, variables or {}, text or body))
    out.append(body[pos:])
    tokens = [t for t in out if t != ""]
    return _merge_nginx_target(tokens) if dialect == "nginx" else tokens


def _nginx_field(var: str, variables: Mapping[str, FieldSpec], text: str) -> Field:
    if var in NGINX_REFUSED and var not in variables:
        raise LogFormatError(f"layout {text!r}: ${var} {NGINX_REFUSED[var]}")
    spec = variables.get(var) or NGINX.get(var)
    family = next((k for p, k in NGINX_FAMILIES.items() if var.startswith(p)), "token")
    return Field(var, spec or FieldSpec("extra", family))


def _merge_nginx_target(tokens: list[str | Field]) -> list[str | Field]:
    """``$uri$is_args$args`` (nginx's idiom: $is_args is "?" or empty) as one path-and-query."""
    out: list[str | Field] = []
    for tok in tokens:
        names = [t.name if isinstance(t, Field) else "" for t in [*out[-2:], tok]]
        if len(names) == 3 and names[0] in NGINX_PATHS and names[1:] in NGINX_QUERIES:
            out[-2:] = [Field("$".join(names), FieldSpec("_target"))]
            continue
        out.append(tok)
    return out


NGINX_PATHS = ("uri", "document_uri")
NGINX_QUERIES = (["is_args", "args"], ["is_args", "query_string"])


def _envoy_field(op: str, arg: str | None) -> Field:
    name = op if arg is None else f"{op}({arg.upper() if op in ('REQ', 'RESP', 'TRAILER') else arg})"
    if op == "START_TIME" and arg:  # %START_TIME(%s.%3f)% is epoch, else a strftime layout
        if re.fullmatch(r"%s(?:\.%\d?f)?", arg):
            return Field(name, FieldSpec("ts", "epoch"))
        return Field(name, FieldSpec("ts", "strftime"), arg)
    if name in ENVOY:
        return Field(name, ENVOY[name])
    return Field(name, FieldSpec("extra"))


def _field_regex(field: Field, quoted: bool, last: bool, bracketed: bool) -> str:
    if field.spec.kind == "strftime":
        return strftime_regex(field.arg)
    if quoted:
        return LAZY_QUOTED
    if field.spec.kind == "clf_time" and bracketed:
        return r"[^\]]*"
    if field.spec.kind == "token" and last:
        return r"\S*"
    return KIND_RE[field.spec.kind]


def compile_layout(
    text: str, trailing: bool = False, variables: Mapping[str, FieldSpec] | None = None
) -> Layout:
    """Compile a pasted nginx/Apache layout. Raises LogFormatError with what to fix.

    ``trailing`` accepts one or more extra space-separated fields after the layout and
    keeps them, as written, in ``extra['trailing']``. ``variables`` lets a registered format
    written in nginx syntax name its own fields (e.g. a proxy's ``$upstream_cluster``).
    """
    dialect, body = unwrap_directive(text)
    tokens = tokenize(dialect, body, variables, text)
    if trailing:
        tokens += [" ", Field("trailing", FieldSpec("extra", "rest"))]
    tokens = _one_per_column(_distinct(tokens))
    if not any(isinstance(t, Field) for t in tokens):
        raise LogFormatError(f"layout {text!r} contains no fields")
    _check_touching(tokens, text)
    if not any(isinstance(t, Field) and t.spec.column == "ts" for t in tokens):
        raise LogFormatError(
            f"layout {text!r} has no time field ($time_local, $time_iso8601, $msec, %t …): "
            "events without a time cannot be placed in the exposure window"
        )
    parts: tuple[Field, ...] = ()
    if dialect == "apache":
        tokens, parts = apache_time.plan(tokens, text)
    return Layout(
        text,
        dialect,
        _regex(tokens, strict=False),
        tuple(t for t in tokens if isinstance(t, Field)),
        fast=_regex(tokens, strict=True),
        tokens=tuple(tokens),
        time_parts=parts,
    )


def _check_touching(tokens: list[str | Field], text: str) -> None:
    """Two fields with nothing between them: refused unless the first has a fixed width."""
    for a, b in itertools.pairwise(tokens):
        if isinstance(a, Field) and isinstance(b, Field) and not apache_time.fixed_width(a):
            raise LogFormatError(
                f"layout {text!r}: fields {a.name} and {b.name} touch, with nothing between "
                "them, so their values cannot be told apart; paste the layout exactly as "
                "configured"
            )


def _distinct(tokens: list[str | Field]) -> list[str | Field]:
    """A field written twice: the repeat is named ``name#2`` (every Field is distinct)."""
    seen: dict[str, int] = {}
    out: list[str | Field] = []
    for tok in tokens:
        if isinstance(tok, Field):
            seen[tok.name] = seen.get(tok.name, 0) + 1
            if seen[tok.name] > 1:
                tok = replace(tok, name=f"{tok.name}#{seen[tok.name]}")
        out.append(tok)
    return out


def _one_per_column(tokens: list[str | Field]) -> list[str | Field]:
    """Where several fields fill client_ip or status, PREFERRED picks one; the rest to extra."""
    out = list(tokens)
    for column, order in PREFERRED.items():
        at = [i for i, t in enumerate(out) if isinstance(t, Field) and t.spec.column == column]
        rank = {i: _rank(out[i], order) for i in at}
        for i in sorted(at, key=lambda i: (rank[i], i))[1:]:
            tok = out[i]
            assert isinstance(tok, Field)
            out[i] = replace(tok, spec=replace(tok.spec, column="extra"))
    return out


def _rank(tok: str | Field, order: tuple[str, ...]) -> int:
    name = tok.name if isinstance(tok, Field) else tok
    if not name.endswith("s"):  # %>a is %a: only the status tells original from final
        name = name.replace("%>", "%").replace("%<", "%")
    return order.index(name) if name in order else len(order)


def _regex(tokens: list[str | Field], strict: bool) -> str:
    regex = "^"
    for i, tok in enumerate(tokens):
        if isinstance(tok, str):
            nxt_is_end = i == len(tokens) - 1
            if tok.endswith('"') and nxt_is_end and not strict:  # a line cut in its last quote
                regex += _escape_literal(tok[:-1], strict) + '"?'
            else:
                regex += _escape_literal(tok, strict)
            continue
        before = tokens[i - 1] if i > 0 else ""
        after = tokens[i + 1] if i + 1 < len(tokens) else ""
        quoted = _between(before, after, '"', '"')
        last = i == len(tokens) - 1
        bracketed = _between(before, after, "[", "]")
        if strict:
            regex += "(" + _strict_field_regex(tok, quoted, bracketed) + ")"
        else:
            regex += "(" + _field_regex(tok, quoted, last, bracketed) + ")"
    return regex + "$"


def _strict_field_regex(field: Field, quoted: bool, bracketed: bool) -> str:
    if quoted and field.spec.kind not in NUMERIC_KINDS:
        return ESCAPED_QUOTED
    if field.spec.kind == "token":
        return "[^ ]*"  # fields are separated by exactly one space in the strict form
    return _field_regex(field, quoted, False, bracketed)


def _between(before: str | Field, after: str | Field, opening: str, closing: str) -> bool:
    return (
        isinstance(before, str)
        and before.endswith(opening)
        and isinstance(after, str)
        and after.startswith(closing)
    )


def _escape_literal(s: str, strict: bool = False) -> str:
    # Tolerant: runs of spaces in a layout match one or more spaces/tabs in the log.
    blank = " " if strict else r"[ \t]+"
    return "".join(blank if ch.isspace() else re.escape(ch) for ch in re.sub(r"\s+", " ", s))
