"""Untrusted text made visible: every control and invisible formatting character shown escaped.

Log text (paths, user agents, ids, principals, file names, link targets, warnings quoting them)
is written by attackers and reaches terminals, report.html, report.md, CSV files, plots and the
pseudonym map. A character that acts instead of showing must not reach any of them as itself:

* C0 and C1 controls and DEL (ANSI escapes, BEL, backspace, NUL; tab, newline and carriage
  return too, in single-line fields) → ``\\xNN``;
* invisible formatting characters → ``\\uNNNN`` (``\\UNNNNNNNN`` above the BMP): bidi embeddings,
  overrides and isolates (U+202A to 202E, U+2066 to 2069: U+202E visibly reverses text), zero-width
  characters (U+200B to 200F, U+2060 to 2064), the BOM U+FEFF, the soft hyphen, Arabic and other
  format marks, tag characters, and the line and paragraph separators U+2028/2029 (JavaScript
  and some terminals break lines at them).

The set is Unicode's categories Cc, Cf, Zl and Zp (Unicode 14, Python 3.11's tables), written out
below so that importing costs nothing. A backslash is not itself escaped: the case stores bytes
that are not UTF-8 as ``\\xNN`` text already (decoding with ``backslashreplace``), and shows both
alike. The stored evidence is never changed: this is applied when a value is shown or exported.
One function per shape, used by every face (cli.py, report/html.py, report/markdown.py,
report/plots.py, export.py, pseudonymise.py).
"""

from __future__ import annotations

import re

# Unicode 14 categories Cc, Cf, Zl, Zp as ranges (tests/test_text.py checks them against unicodedata)
_RANGES = (
    (0x00, 0x1F),
    (0x7F, 0x9F),
    (0xAD, 0xAD),
    (0x600, 0x605),
    (0x61C, 0x61C),
    (0x6DD, 0x6DD),
    (0x70F, 0x70F),
    (0x890, 0x891),
    (0x8E2, 0x8E2),
    (0x180E, 0x180E),
    (0x200B, 0x200F),
    (0x2028, 0x202E),
    (0x2060, 0x2064),
    (0x2066, 0x206F),
    (0xFEFF, 0xFEFF),
    (0xFFF9, 0xFFFB),
    (0x110BD, 0x110BD),
    (0x110CD, 0x110CD),
    (0x13430, 0x13438),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0001, 0xE0001),
    (0xE0020, 0xE007F),
)
_CLASS = "".join(f"\\U{a:08x}" if a == b else f"\\U{a:08x}-\\U{b:08x}" for a, b in _RANGES)
INVISIBLE = re.compile(f"[{_CLASS}]")
_INVISIBLE_BUT_NEWLINE = re.compile(f"(?!\n)[{_CLASS}]")


def escape_char(ch: str) -> str:
    """``\\xNN`` below U+0100, ``\\uNNNN`` in the BMP, ``\\UNNNNNNNN`` above."""
    cp = ord(ch)
    if cp < 0x100:
        return f"\\x{cp:02x}"
    return f"\\u{cp:04x}" if cp < 0x10000 else f"\\U{cp:08x}"


def printable(text: object) -> str:
    """``text`` as one line with every control and invisible formatting character escaped
    (tab, newline and carriage return included): for any field a log may have written."""
    return INVISIBLE.sub(lambda m: escape_char(m.group()), str(text))


def printable_lines(text: object) -> str:
    """As ``printable``, but newlines kept: for multi-line text of the tool's own making (a
    table printed to the terminal, SQL, an error message) whose log values were escaped."""
    return _INVISIBLE_BUT_NEWLINE.sub(lambda m: escape_char(m.group()), str(text))


def has_invisible(text: str) -> bool:
    return INVISIBLE.search(text) is not None


# C0 is always escaped by JSON writers: the class without it (a lookahead per character made
# the timeline's 180 MB take 4.4 s)
_JSON_RAW = re.compile(
    "[" + "".join(f"\\U{a:08x}" if a == b else f"\\U{a:08x}-\\U{b:08x}" for a, b in _RANGES if a > 0x1F) + "]"
)


def _json_escape(ch: str) -> str:
    cp = ord(ch)
    if cp < 0x10000:
        return f"\\u{cp:04x}"
    cp -= 0x10000
    return f"\\u{0xD800 + (cp >> 10):04x}\\u{0xDC00 + (cp & 0x3FF):04x}"


def json_visible(json_text: str) -> str:
    """JSON text with the invisible characters JSON allows raw (U+2028/2029, which break
    JavaScript consumers; bidi overrides; C1 controls) written as ``\\uNNNN`` escapes: the same
    values to a JSON reader, nothing that acts in a terminal or an editor. C0 controls are
    always escaped by JSON writers, so the text's own line ends are kept."""
    if json_text.isascii() and "\x7f" not in json_text:  # the usual case: nothing to escape
        return json_text
    return _JSON_RAW.sub(lambda m: _json_escape(m.group()), json_text)


# The same set as an RE2 class, for SQL that picks out the values that need ``printable``.
INVISIBLE_RE2 = "[" + "".join(f"\\x{{{a:x}}}-\\x{{{b:x}}}" for a, b in _RANGES) + "]"
