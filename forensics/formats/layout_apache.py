"""Apache ``LogFormat`` directives: the documented set, each to its field; anything else refused.

The table is Apache HTTP Server 2.4's mod_log_config "Custom Log Formats"
(https://httpd.apache.org/docs/2.4/mod/mod_log_config.html#formats), plus the directives
other modules register in it: mod_logio (%I %O %S, and %^FU %^FB from its own page) and the
SSL variables (%{VARNAME}x, %{VARNAME}c, mod_ssl "Custom Log Formats"). Apache itself refuses
an unknown directive ("Unrecognized LogFormat directive"), and so does this compiler, as well
as an argument a directive does not take (``%{x}a``, ``%{x}p``).

Modifiers (mod_log_config "Modifiers"): ``%400,501{User-agent}i`` logs "-" for other statuses
(read as missing); ``<`` / ``>`` pick the original / final request of an internal redirect:
``%>s`` is the final status, ``%s`` the original one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from forensics.errors import LogFormatError
from forensics.formats import apache_time
from forensics.formats.layoutspec import Field, FieldSpec


@dataclass(frozen=True)
class Directive:
    row: str  # the documentation row it comes from
    spec: FieldSpec
    key: str = ""  # its name in extra (default: the directive as written, without "%")


def _x(row: str, key: str = "", kind: str = "token") -> Directive:
    return Directive(row, FieldSpec("extra", kind), key)


ANY = "*"  # "{*}i": any VARNAME
# key: the letter; "{arg}letter" for a documented argument; "{*}letter" for any VARNAME.
APACHE: dict[str, Directive] = {
    "a": Directive("%a Client IP address of the request (mod_remoteip)", FieldSpec("client_ip")),
    "{c}a": Directive("%{c}a Underlying peer IP address of the connection", FieldSpec("client_ip")),
    "A": _x("%A Local IP-address", "local_ip"),
    "B": Directive("%B Size of response in bytes, excluding HTTP headers", FieldSpec("bytes_sent", "int")),
    "b": Directive(
        "%b Size of response in bytes, excluding HTTP headers (CLF)", FieldSpec("bytes_sent", "int")
    ),
    "{*}C": _x("%{VARNAME}C The contents of cookie VARNAME"),
    "D": Directive(
        "%D The time taken to serve the request, in microseconds", FieldSpec("duration_ms", "int", 0.001)
    ),
    "{*}e": _x("%{VARNAME}e The contents of the environment variable VARNAME"),
    "{unique_id}e": Directive("%{UNIQUE_ID}e (mod_unique_id)", FieldSpec("request_id")),
    "f": _x("%f Filename", "filename"),
    "h": Directive("%h Remote hostname (the IP address without HostnameLookups)", FieldSpec("client_ip")),
    "{c}h": Directive("%{c}h Like %h, the underlying TCP connection", FieldSpec("client_ip")),
    "H": Directive("%H The request protocol", FieldSpec("protocol")),
    "{*}i": _x("%{VARNAME}i The contents of VARNAME: header line(s) in the request", kind="text"),
    "{referer}i": Directive("%{Referer}i", FieldSpec("referer", "text")),
    "{user-agent}i": Directive("%{User-Agent}i", FieldSpec("user_agent", "text")),
    "{x-forwarded-for}i": Directive("%{X-Forwarded-For}i", FieldSpec("forwarded_for", "text")),
    "{host}i": Directive("%{Host}i", FieldSpec("host")),
    "{x-request-id}i": Directive("%{X-Request-Id}i", FieldSpec("request_id")),
    "k": _x("%k Number of keepalive requests handled on this connection", "keepalive", "int"),
    "l": _x("%l Remote logname (from identd, if supplied)", "ident"),
    "L": _x("%L The request log ID from the error log", "log_id"),
    "{c}L": _x("%{c}L The connection log ID from the error log", "conn_log_id"),
    "m": Directive("%m The request method", FieldSpec("method")),
    "{*}n": _x("%{VARNAME}n The contents of note VARNAME from another module"),
    "{*}o": _x("%{VARNAME}o The contents of VARNAME: header line(s) in the reply", kind="text"),
    "p": _x("%p The canonical port of the server serving the request", "server_port"),
    "{canonical}p": _x("%{canonical}p The canonical port of the server", "server_port"),
    "{local}p": _x("%{local}p The server's actual port", "local_port"),
    "{remote}p": _x("%{remote}p The client's actual port", "client_port"),
    "P": _x("%P The process ID of the child that serviced the request", "pid"),
    "{pid}P": _x("%{pid}P The process ID", "pid"),
    "{tid}P": _x("%{tid}P The thread ID", "tid"),
    "{hextid}P": _x("%{hextid}P The thread ID in hex", "tid"),
    "q": Directive("%q The query string (prepended with a ? if it exists)", FieldSpec("query")),
    "r": Directive("%r First line of request", FieldSpec("_request", "text")),
    "R": _x("%R The handler generating the response", "handler"),
    "s": Directive("%s Status (%>s: the final status)", FieldSpec("status", "status")),
    "t": Directive(
        "%t Time the request was received [18/Sep/2011:19:18:28 -0400]", FieldSpec("ts", "clf_time")
    ),
    "T": Directive(
        "%T The time taken to serve the request, in seconds", FieldSpec("duration_ms", "int", 1000.0)
    ),
    "{s}T": Directive("%{s}T seconds", FieldSpec("duration_ms", "int", 1000.0)),
    "{ms}T": Directive("%{ms}T milliseconds", FieldSpec("duration_ms", "int")),
    "{us}T": Directive("%{us}T microseconds", FieldSpec("duration_ms", "int", 0.001)),
    "u": Directive("%u Remote user if the request was authenticated", FieldSpec("principal")),
    "U": Directive("%U The URL path requested, not including any query string", FieldSpec("_target")),
    "v": Directive("%v The canonical ServerName of the server", FieldSpec("host")),
    "V": Directive("%V The server name according to UseCanonicalName", FieldSpec("host")),
    "X": _x("%X Connection status when response is completed (X + -)", "conn_status"),
    "I": Directive(
        "%I Bytes received, including request and headers (mod_logio)", FieldSpec("bytes_received", "int")
    ),
    "O": Directive("%O Bytes sent, including headers (mod_logio)", FieldSpec("bytes_sent", "int")),
    "S": _x("%S Bytes transferred (received and sent) (mod_logio)", "bytes_transferred", "int"),
    "{*}^ti": _x("%{VARNAME}^ti The contents of VARNAME: trailer line(s) in the request", kind="text"),
    "{*}^to": _x("%{VARNAME}^to The contents of VARNAME: trailer line(s) in the response", kind="text"),
    "^FU": _x("%^FU Microseconds until the request body was read (mod_logio)", "ttfu_us", "int"),
    "^FB": _x("%^FB Microseconds until the first byte of the response (mod_logio)", "ttfb_us", "int"),
    "{*}x": _x("%{VARNAME}x An SSL variable (mod_ssl)", kind="text"),
    "{*}c": _x("%{VARNAME}c An SSL variable, compatibility form (mod_ssl)"),
}
# Arguments compared case-insensitively by Apache (strcasecmp, or header names)
CASELESS = {"i", "o", "p", "P", "T", "e", "^ti", "^to"}
# A '%', its modifiers (conditions, <, >, {argument}), then the directive: Apache's
# parse_log_item reads them in any order; "^" introduces a three-character directive.
ITEM = re.compile(r"%((?:[!<>,0-9]|\{[^}]*\})*)(\^[A-Za-z]{2}|[A-Za-z%])?")


def tokenize(body: str, text: str) -> list[str | Field]:
    """Literals and Fields of an Apache format string; raises on what Apache would refuse."""
    out: list[str | Field] = []
    pos = 0
    for m in ITEM.finditer(body):
        out.append(body[pos : m.start()])
        pos = m.end()
        mods, letter = m.group(1), m.group(2)
        if letter == "%" and not mods:
            out.append("%")
            continue
        if not letter or letter == "%":
            raise LogFormatError(
                f"layout {text!r}: {m.group(0)!r} at character {m.start() + 1} is no Apache "
                "directive (a literal percent sign is written %%)"
            )
        out.extend(_directive(mods, letter, text))
    out.append(body[pos:])
    return _merge_target([t for t in out if t != ""])


def _directive(mods: str, letter: str, text: str) -> list[str | Field]:
    args = re.findall(r"\{([^}]*)\}", mods)
    arg = args[-1] if args else None  # Apache keeps the last {argument}
    flags = re.sub(r"\{[^}]*\}", "", mods)
    conditional = any(ch.isdigit() for ch in flags)
    redirect = "".join(ch for ch in flags if ch in "<>")[-1:]
    name = f"%{redirect}{'{' + arg + '}' if arg is not None else ''}{letter}"
    if letter == "t" and arg is not None:
        field = apache_time.time_field(name, arg, text)
    else:
        field = _lookup(name, arg, letter, text)
    if field.spec.column == "ts" and conditional:
        raise LogFormatError(
            f"layout {text!r}: {name} carries a status condition, so other lines would have "
            "no time; log the time unconditionally"
        )
    if conditional:
        field = Field(field.name, field.spec, field.arg, conditional=True)
    if field.spec.kind == "clf_time":  # Apache writes the brackets of [18/Sep/2011:19:18:28 -0400]
        return ["[", field, "]"]
    return [field]


def _lookup(name: str, arg: str | None, letter: str, text: str) -> Field:
    if not any(k == letter or k.endswith("}" + letter) for k in APACHE):
        raise LogFormatError(
            f"layout {text!r}: %{letter} is not an Apache LogFormat directive (mod_log_config "
            "'Custom Log Formats'); Apache itself refuses it"
        )
    if arg is None:
        keys = [letter]
    else:
        keys = [f"{{{arg}}}{letter}", f"{{{arg.lower()}}}{letter}" if letter in CASELESS else ""]
        keys.append(f"{{{ANY}}}{letter}")
    found = next((APACHE[k] for k in keys if k in APACHE), None)
    if found is None:
        allowed = [k.replace("{*}", "{VARNAME}") for k in APACHE if k.endswith("}" + letter) or k == letter]
        shown = ", ".join("%" + k for k in allowed)
        what = "needs an argument" if arg is None else f"does not take the argument {{{arg}}}"
        raise LogFormatError(f"layout {text!r}: {name} {what}; Apache documents {shown}")
    return Field(found.key or name, found.spec)


def _merge_target(tokens: list[str | Field]) -> list[str | Field]:
    """``%U%q``, Apache's own idiom, as one path-and-query field: %q is empty or starts with "?"."""
    out: list[str | Field] = []
    for tok in tokens:
        prev = out[-1] if out else None
        if (
            isinstance(tok, Field)
            and isinstance(prev, Field)
            and prev.name in ("%U", "%<U", "%>U")
            and tok.name in ("%q", "%<q", "%>q")
            and not (prev.conditional or tok.conditional)
        ):
            out[-1] = Field(prev.name + tok.name, FieldSpec("_target"))
            continue
        out.append(tok)
    return out
