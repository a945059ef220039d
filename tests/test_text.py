"""text.py: every control and invisible formatting character is shown escaped, by one function."""

from __future__ import annotations

import json
import re
import unicodedata

import pytest

from forensics.store.printable import INVISIBLE_RE2, json_visible, printable, printable_lines

REQUIRED = (
    [chr(c) for c in range(0x00, 0x20)]  # C0, tab and newline included
    + ["\x7f"]
    + [chr(c) for c in range(0x80, 0xA0)]  # C1
    + [chr(c) for c in range(0x202A, 0x202F)]  # bidi embeddings and overrides
    + [chr(c) for c in range(0x2066, 0x206A)]  # bidi isolates
    + [chr(c) for c in range(0x200B, 0x2010)]  # zero-width space/joiners, LRM, RLM
    + ["\u2060", "\ufeff", "\u2028", "\u2029", "\u061c", "\U000e0041"]
)


@pytest.mark.parametrize("ch", REQUIRED, ids=[f"U+{ord(c):04X}" for c in REQUIRED])
def test_each_required_character_is_escaped(ch: str) -> None:
    shown = printable(f"a{ch}b")
    assert ch not in shown
    cp = ord(ch)
    expected = f"\\x{cp:02x}" if cp < 0x100 else (f"\\u{cp:04x}" if cp < 0x10000 else f"\\U{cp:08x}")
    assert shown == f"a{expected}b"


def test_the_set_is_unicodes_control_and_format_categories() -> None:
    """Every Cc, Cf, Zl and Zp character of the BMP and the tag block (Python's tables) is escaped,
    and nothing that shows as itself (letters, marks, spaces, emoji) is."""
    for cp in [*range(0x10000), *range(0xE0000, 0xE0080)]:
        ch = chr(cp)
        if 0xD800 <= cp <= 0xDFFF:
            continue
        invisible = unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp")
        assert (printable(ch) != ch) == invisible, f"U+{cp:04X}"


def test_visible_text_is_untouched() -> None:
    for text in (
        "Mozilla/5.0 (X11; Linux x86_64)",
        "/api/v2/référrals/ü",
        "名前",
        "a b",
        "\\x1b literal",
        "👍",
    ):
        assert printable(text) == text


def test_the_reversing_override_cannot_reverse_anything() -> None:
    assert printable("invoice_\u202etxt.exe") == "invoice_\\u202etxt.exe"


def test_printable_lines_keeps_only_newlines() -> None:
    assert printable_lines("a\x1b[31m\nb\tc\u2028d") == "a\\x1b[31m\nb\\x09c\\u2028d"


def test_json_visible_keeps_values_and_line_ends() -> None:
    value = {"ua": "x\u2028y\u202ez\x85\x1b", "tag": "\U000e0041"}
    text = json.dumps(value, ensure_ascii=False) + "\n" + json.dumps(value, ensure_ascii=False) + "\n"
    shown = json_visible(text)
    assert not re.search("[\u2028\u2029\u202e\x85\U000e0041]", shown)
    assert "\\u2028" in shown and "\\udb40\\udc41" in shown
    assert [json.loads(line) for line in shown.splitlines()] == [value, value]


def test_the_re2_class_matches_the_same_set() -> None:
    import duckdb

    con = duckdb.connect()
    samples = ["plain", "a\u202eb", "a\x1bb", "a\u2028", "é", "a\tb", "\U000e0041", "ok 👍"]
    got = [
        bool(con.execute("SELECT regexp_matches(?, ?)", [s, INVISIBLE_RE2]).fetchone()[0])  # type: ignore[index]
        for s in samples
    ]
    assert got == [printable(s) != s for s in samples]


def test_json_visible_escapes_what_json_writers_leave_raw_and_nothing_else() -> None:
    """Every character of the set but C0 (JSON writers escape C0 already), whatever surrounds it;
    pure ASCII text comes back as it is (the timeline's fast path)."""
    import random

    from forensics.store.printable import INVISIBLE

    rng = random.Random(7)
    pool = [chr(c) for c in [*range(0x300), *range(0x2000, 0x2100), 0xFEFF, 0x110BD, 0xE0041, 0x1F600]]
    for _ in range(5000):
        text = "".join(rng.choice(pool) for _ in range(rng.randint(0, 12)))
        want = "".join(ch if ord(ch) < 0x20 or not INVISIBLE.match(ch) else _u(ch) for ch in text)
        assert json_visible(text) == want, repr(text)
    ascii_text = "".join(chr(c) for c in range(0x20, 0x7F)) * 3
    assert json_visible(ascii_text) is ascii_text
    assert json_visible("a\x7fb") == "a\\u007fb"


def _u(ch: str) -> str:
    """The JSON escape of one character (Python's own ASCII-only JSON writer; DEL by hand)."""
    return json.dumps(ch)[1:-1] if ord(ch) > 0x7F else f"\\u{ord(ch):04x}"
