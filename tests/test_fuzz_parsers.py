"""Property-based fuzzing of every registered format's sniffer, binder and parser.

For every format in the registry (so a new format is fuzzed without touching this file):
lists of hostile lines — its own example line and other formats' lines mutated (tests/fuzzkit.py),
random text, empty lines — go through the sniffer, ``bind`` and ONE DuckDB parse per example,
split over several "files" as batch.py keys them. Nothing may raise but ForensicsError from
``bind``; every line comes out exactly once (events + rejects = lines); an event has a UTC
``ts`` and a status in 100..599 or NULL; a reject keeps its raw line verbatim.

Examples per test: the ``forensics-fuzz`` hypothesis profile (fuzzkit.py; derandomized in CI,
``FORENSICS_FUZZ_EXAMPLES`` raises it).
"""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import pytest
from hypothesis import given
from hypothesis import strategies as st

from forensics import formats
from forensics.case import connect
from tests.fuzzkit import FORMATS, Collector, bind_any, fuzz_settings, line_lists


@pytest.fixture(scope="module")
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    c = connect(":memory:")
    yield c
    c.close()


@pytest.mark.parametrize("name", FORMATS)
def test_hostile_lines_never_crash_and_are_all_accounted_for(
    con: duckdb.DuckDBPyConnection, name: str
) -> None:
    fmt = formats.REGISTRY[name]
    seen = Collector()

    @fuzz_settings()
    @given(lines=line_lists(fmt.example), cuts=st.lists(st.integers(0, 30), max_size=3))
    def gather(lines: list[str], cuts: list[int]) -> None:
        # the sniffer and bind run per example (Python); the parse once for all (below)
        assert len(fmt.matches(con, lines)) == len(lines)
        seen.add(bind_any(fmt, lines), lines, cuts)

    gather()
    out = seen.check(con, name)
    assert out.events + out.rejects == seen.lines > 0


@fuzz_settings(0.5)
@given(lines=line_lists(max_size=40))
def test_sniffer_never_crashes_on_hostile_samples(lines: list[str]) -> None:
    con = connect(":memory:")
    try:
        found = formats.sniff(con, lines)
    finally:
        con.close()
    assert found.best is None or found.score >= formats.MIN_SCORE
