"""What a compiled layout is made of: field kinds, where each field goes, strftime pieces.

Shared by layout.py (the compiler), layout_apache.py (Apache's directives) and
apache_time.py (several ``%{…}t`` pieces combined into one timestamp).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from forensics.errors import LogFormatError

# kind -> regex for an unquoted value. Quoted values use LAZY_QUOTED whatever their kind.
KIND_RE = {
    "token": r"\S*?",
    "int": r"-|\d+",
    "status": r"-|\d{3}",
    "number": r"-|\d+(?:\.\d+)?",
    "clf_time": r"\S+ [+-]\d{4}",  # inside [...] any text up to "]": see layout._field_regex
    "iso_time": r"\S+",
    "epoch": r"\d+(?:\.\d+)?",
    "strftime": r".*?",
    "text": r".*?",
    "rest": r".+",
    # nginx $upstream_*: one value per upstream tried, "0.003, 0.001" or "502 : 200"
    "list": r"[^\s,]+(?:(?:,| :) [^\s,]+)*",
    # an address that may carry a port: "1.2.3.4:5678", "[2001:db8::1]:5678", "1.2.3.4", "-"
    "addr_port": r"[^\s\"]+",
    # Apache %{msec_frac}t / %{usec_frac}t: the fraction of the second, zero-padded
    "msec_frac": r"\d{3}",
    "usec_frac": r"\d{6}",
}
NUMERIC_KINDS = ("int", "status", "number", "list", "epoch", "msec_frac", "usec_frac")


@dataclass(frozen=True)
class FieldSpec:
    """Where a variable goes (a PARSED_COLUMNS name, a pseudo-column, or ``extra``).

    Pseudo-columns: ``_request`` (a request line), ``_target`` (a path that may carry a query),
    ``ts_part`` (a piece of the timestamp combined by apache_time.py).
    """

    column: str
    kind: str = "token"
    scale: float = 1.0  # multiply into the column's unit (duration_ms)
    # >0: one of several variables that may fill the column; the first non-empty by rank wins
    # (the others stay in extra under their names)
    rank: int = 0


@dataclass(frozen=True)
class Field:
    name: str  # the variable as written, e.g. "http_user_agent" or "%{User-Agent}i"
    spec: FieldSpec
    arg: str = ""  # strftime layout of a time field; "sec"/"msec"/"usec" for Apache epochs
    # Apache "%400,501{Referer}i": logged only for those statuses, "-" otherwise (NULL)
    conditional: bool = False


# strftime directive -> (regex for what it writes, what it tells: y m d H M S z)
STRFTIME: dict[str, tuple[str, str]] = {
    "%Y": (r"\d{4}", "y"),
    "%y": (r"\d{2}", "y"),
    "%m": (r"\d{2}", "m"),
    "%b": (r"[A-Za-z]{3}", "m"),
    "%h": (r"[A-Za-z]{3}", "m"),
    "%B": (r"[A-Za-z]+", "m"),
    "%d": (r"\d{2}", "d"),
    "%e": (r"[ \d]\d", "d"),
    "%j": (r"\d{3}", "md"),
    "%H": (r"\d{2}", "H"),
    "%M": (r"\d{2}", "M"),
    "%S": (r"\d{2}", "S"),
    "%T": (r"\d{2}:\d{2}:\d{2}", "HMS"),
    "%R": (r"\d{2}:\d{2}", "HM"),
    "%F": (r"\d{4}-\d{2}-\d{2}", "ymd"),
    "%D": (r"\d{2}/\d{2}/\d{2}", "ymd"),
    "%z": (r"[+-]\d\d:?\d\d", "z"),  # glibc writes -0500; -05:00 is read as well
    "%Z": (r"[A-Z]{1,5}", ""),  # a zone name: ambiguous (BST, IST, CST…), so --tz decides
    "%a": (r"[A-Za-z]{3}", ""),
    "%A": (r"[A-Za-z]+", ""),
    "%f": (r"\d+", "f"),  # Envoy's fraction of a second (not a strftime(3) directive)
    "%%": ("%", ""),
}
VARIABLE_WIDTH = {"%B", "%A", "%z", "%Z", "%f"}


def strftime_pieces(fmt: str) -> list[str]:
    """``fmt`` split into directives (``%Y``) and single literal characters."""
    out, i = [], 0
    while i < len(fmt):
        two = fmt[i : i + 2]
        if two in STRFTIME:
            out.append(two)
            i += 2
        elif fmt[i] == "%":
            raise LogFormatError(f"time layout {fmt!r}: directive {two!r} is not supported")
        else:
            out.append(fmt[i])
            i += 1
    return out


def strftime_regex(fmt: str, capture: str = "") -> str:
    """A regex matching what strftime writes for ``fmt``; ``capture``: a directive to group."""
    out = ""
    for piece in strftime_pieces(fmt):
        if piece in STRFTIME:
            rx = STRFTIME[piece][0]
            out += f"({rx})" if piece == capture else rx
        else:
            out += re.escape(piece)
    return out


def strftime_tells(fmt: str) -> set[str]:
    """What a strftime layout tells: y m d H M S z (year, month … UTC offset)."""
    return {c for p in strftime_pieces(fmt) if p in STRFTIME for c in STRFTIME[p][1]}


def strftime_fixed_width(fmt: str) -> bool:
    """True when every value ``fmt`` writes has the same length (so a field may follow it)."""
    return not any(p in VARIABLE_WIDTH for p in strftime_pieces(fmt))
