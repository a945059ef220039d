"""Shared pieces of the property-based fuzz tests (tests/test_fuzz_*.py) and bench/fuzz_soak.py.

Hypothesis strategies for hostile lines (every registered format's example line mutated: byte
flips, truncation, quotes/backslashes/NUL/control characters, invalid UTF-8 as the line reader
escapes it, huge fields, other formats' lines spliced in), and a checker that parses a whole
list of lines in ONE DuckDB query and asserts the per-line invariants every parser promises.

The example count comes from the ``forensics-fuzz`` hypothesis profile: modest and
derandomized (reproducible) for CI; ``FORENSICS_FUZZ_EXAMPLES=N`` raises it and lets
hypothesis explore with fresh random seeds.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import duckdb
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from forensics import formats
from forensics.errors import ForensicsError
from forensics.formats.base import LogFormat, ParseOptions

EXAMPLES = int(os.environ.get("FORENSICS_FUZZ_EXAMPLES", "0") or 0)
settings.register_profile(
    "forensics-fuzz",
    max_examples=EXAMPLES or 20,
    deadline=None,
    derandomize=not EXAMPLES,  # CI: the same examples every run
    database=None,  # no .hypothesis folder in the worktree
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
FUZZ = settings.get_profile("forensics-fuzz")


def fuzz_settings(scale: float = 1.0) -> settings:
    """The profile with ``scale`` times its example count (at least 1)."""
    return settings(FUZZ, max_examples=max(1, int(FUZZ.max_examples * scale)))


SHIFT = 40  # batch.py: a batch's line key is (file index << 40) + line number
TZ = "Europe/London"  # formats that need --tz get one; offsets in lines still win
FORMATS = sorted(formats.REGISTRY)
EXAMPLE_LINES = [formats.REGISTRY[n].example for n in FORMATS]


# What the line reader (lines.py) hands to a parser for hostile bytes: invalid UTF-8 becomes
# backslash escapes; NUL and control characters pass through as characters.
def with_insertions(
    lines: list[str], rng: random.Random, copies: int, most: int, alphabet: list[str]
) -> list[str]:
    """``copies`` mutants of each line, each with 1 to ``most`` strings of ``alphabet`` inserted at
    random positions (a seeded ``rng``: the same mutants every run)."""
    out = []
    for line in lines:
        for _ in range(copies):
            chars = list(line)
            for _ in range(rng.randint(1, most)):
                chars.insert(rng.randrange(len(chars) + 1), rng.choice(alphabet))
            out.append("".join(chars))
    return out


NASTY = [
    '"',
    "\\",
    '\\"',
    "'",
    "\x00",
    "\x1b[31m",
    "\t",
    "\r",
    "\x7f",
    "\\xff",
    "\\xc3\\x28",
    "\u2028",
    "\ufeff",
    "é",
    "\U0001f600",
    " ",
    "  ",
    "[",
    "]",
    "{",
    "}",
    ":",
    "-",
    "%",
    "$",
    "?",
    "://",
    "0",
    "-1",
    "99999999999999999999",
    "1e308",
    "NaN",
    "null",
    "\\u0000",
]


@st.composite
def mutated_line(draw: st.DrawFn, own: str | None = None) -> str:
    """A format's example line (or another format's, or random text) with 0-4 mutations."""
    base = draw(
        st.one_of(
            st.just(own) if own is not None else st.nothing(),
            st.sampled_from(EXAMPLE_LINES),
            st.text(max_size=80),
        )
    )
    for _ in range(draw(st.integers(0, 4))):
        pos = draw(st.integers(0, len(base)))
        kind = draw(st.sampled_from(["flip", "cut", "insert", "insert", "huge", "splice", "drop", "dup"]))
        if kind == "flip" and base:
            i = min(pos, len(base) - 1)
            base = base[:i] + draw(st.characters(codec="utf-8")) + base[i + 1 :]
        elif kind == "cut":
            base = base[:pos]
        elif kind == "insert":
            base = base[:pos] + draw(st.sampled_from(NASTY)) + base[pos:]
        elif kind == "huge":
            base = (
                base[:pos]
                + draw(st.sampled_from(["A", " ", '"', "\\", "9"])) * draw(st.integers(1000, 20_000))
                + base[pos:]
            )
        elif kind == "splice":
            other = draw(st.sampled_from(EXAMPLE_LINES))
            cut = draw(st.integers(0, len(other)))
            base = base[:pos] + (other[cut:] if draw(st.booleans()) else other[:cut])
        elif kind == "drop" and base:
            end = draw(st.integers(pos, min(len(base), pos + 20)))
            base = base[:pos] + base[end:]
        elif kind == "dup":
            end = draw(st.integers(pos, min(len(base), pos + 30)))
            base = base[:end] + base[pos:end] + base[end:]
    return base


def line_lists(own: str | None = None, max_size: int = 30) -> st.SearchStrategy[list[str]]:
    """Lists of hostile lines; valid example lines and empty lines mixed in."""
    return st.lists(
        st.one_of(mutated_line(own), st.sampled_from(["", " ", *EXAMPLE_LINES])),
        min_size=1,
        max_size=max_size,
    )


@dataclass
class Outcome:
    rows: list[dict[str, Any]]
    events: int
    rejects: int


def bind_any(fmt: LogFormat, lines: list[str], tz: str | None = TZ) -> Any:
    """Bind on the hostile sample as ingest would; a ForensicsError (e.g. no time key found in
    a mangled JSON sample) is a clear refusal, and the example line is bound instead."""
    opts = ParseOptions(tz=tz)
    try:
        return fmt.bind(lines, opts)
    except ForensicsError:
        return fmt.bind([fmt.example], opts)


class Collector:
    """Lines of many hypothesis examples for ONE DuckDB parse per parser (planning a parser's
    SQL costs ~0.2 s, parsing a thousand lines almost nothing). Each example is one "file"
    (its own file index in the batch key); lines are grouped by the parser they bound to."""

    def __init__(self) -> None:
        self.groups: dict[str, tuple[Any, list[tuple[int, str]]]] = {}
        self.files = 0
        self.examples = 0

    def add(self, parser: Any, lines: list[str], cuts: list[int] | None = None) -> None:
        group = self.groups.setdefault(parser.description, (parser, []))[1]
        for key, line in split_files(lines, cuts or []):
            group.append((key + (self.files << SHIFT), line))
        self.files += 1 + len(cuts or [])
        self.examples += 1

    def check(self, con: duckdb.DuckDBPyConnection, fmt_name: str) -> Outcome:
        """Parse every group once and check every line; the totals over all groups."""
        total = Outcome([], 0, 0)
        for parser, keyed in self.groups.values():
            out = check_rows(fmt_name, keyed, parse_keyed(con, parser, keyed))
            total.events += out.events
            total.rejects += out.rejects
        return total

    @property
    def lines(self) -> int:
        return sum(len(k) for _, k in self.groups.values())


def parse_keyed(
    con: duckdb.DuckDBPyConnection, parser: Any, keyed: list[tuple[int, str]]
) -> list[dict[str, Any]]:
    """All lines through the parser's SQL in one query; rows ordered by line_no."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE fuzz_src AS SELECT unnest($k)::BIGINT AS line_no, "
        "unnest($l)::VARCHAR AS line",
        {"k": [k for k, _ in keyed], "l": [ln for _, ln in keyed]},
    )
    cur = con.execute(f"SELECT * FROM ({parser.select_sql('fuzz_src')}) ORDER BY line_no")
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def split_files(lines: list[str], cuts: list[int]) -> list[tuple[int, str]]:
    """Number ``lines`` as batch.py does for several files: the lines after each cut start a
    new file (index shifted above bit 40), numbered from 1 within their file."""
    keyed, file_idx, n = [], 0, 0
    bounds = set(cuts)
    for i, line in enumerate(lines):
        if i in bounds and n:
            file_idx, n = file_idx + 1, 0
        n += 1
        keyed.append(((file_idx << SHIFT) + n, line))
    return keyed


# A status is NULL, a code 100..599 (RFC 9110 section 15), or 0: "no response was sent"
# (Envoy documents its 0; nginx and others write 000 for a client that went away first).
OK_STATUS = range(100, 600)


def row_problems(fmt_name: str, keyed: list[tuple[int, str]], rows: list[dict[str, Any]]) -> list[str]:
    """What breaks the invariants every parser promises, line by line (empty: all good)."""
    want = dict(keyed)
    got = [r["line_no"] for r in rows]
    if sorted(got) != sorted(want):
        return [f"{fmt_name}: line numbers in != out ({len(want)} in, {len(got)} out)"]
    bad = []
    for r in rows:
        line = want[r["line_no"]]
        ctx = f"{fmt_name} line {r['line_no']}: {line[:300]!r}"
        if r["reject_reason"] is None:
            ts, status, off = r["ts"], r["status"], r["ts_offset_min"]
            if not (isinstance(ts, datetime) and ts.tzinfo is not None and ts.utcoffset() == timedelta(0)):
                bad.append(f"ts {ts!r} not UTC: {ctx}")
            if not (status is None or status in OK_STATUS or status == 0):
                bad.append(f"status {status}: {ctx}")
            if off is not None and not -24 * 60 < off < 24 * 60:
                bad.append(f"offset {off}: {ctx}")
            if r["line"] is not None:
                bad.append(f"an event keeps its line: {ctx}")
            bad += [f"{c} {r[c]}: {ctx}" for c in ("bytes_sent", "bytes_received") if (r[c] or 0) < 0]
        elif not (isinstance(r["reject_reason"], str) and r["reject_reason"].strip()):
            bad.append(f"reject without a reason: {ctx}")
        elif r["line"] != line:
            bad.append(f"reject does not keep the raw line ({r['line']!r}): {ctx}")
    return bad


def check_rows(fmt_name: str, keyed: list[tuple[int, str]], rows: list[dict[str, Any]]) -> Outcome:
    """Assert the invariants (row_problems) and count events and rejects."""
    bad = row_problems(fmt_name, keyed, rows)
    assert not bad, f"{len(bad)} problems, e.g.\n" + "\n".join(bad[:5])
    events = sum(r["reject_reason"] is None for r in rows)
    return Outcome(rows, events, len(rows) - events)
