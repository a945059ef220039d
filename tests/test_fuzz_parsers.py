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

import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from hypothesis import given
from hypothesis import strategies as st

from forensics import formats
from forensics.formats.base import ParseOptions
from forensics.store.db import connect
from tests.formathelpers import ingest_lines, parse_lines
from tests.fuzzkit import FORMATS, Collector, bind_any, fuzz_settings, line_lists, parse_keyed


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


# Regressions found by the fuzzing (bench/fuzz_soak.py), exact lines rebuilt by hand.


@pytest.mark.parametrize("where", [0.95, 0.05])
def test_crafted_blank_runs_do_not_hang_the_sniffer_or_bind(
    con: duckdb.DuckDBPyConnection, where: float
) -> None:
    # Found: envoy_istio's example line with 1.2 kB of ' "' near its end made the tolerant
    # regex backtrack in Python's re for minutes, in the sniffer (run on every file) and in
    # bind (3.8 kB of blanks); one such line in a file's head hung `forensics ingest`.
    fmt = formats.REGISTRY["envoy_istio"]
    ex = fmt.example
    cut = int(len(ex) * where)
    quotes = ex[:cut] + ' "' * 600 + ex[cut:]
    sep = ex.index('"10.44.1.27:80" ') + len('"10.44.1.27:80"')  # a single blank between fields
    blanks = ex[:sep] + " " * 3800 + ex[sep + 1 :]  # the tolerant form takes runs of blanks
    start = time.monotonic()
    assert fmt.matches(con, [quotes, blanks, ex]) == [False, True, True]
    parser = fmt.bind([blanks, quotes], ParseOptions())
    assert time.monotonic() - start < 5  # was minutes
    rows = parse_keyed(con, parser, [(1, blanks), (2, quotes)])
    assert [r["reject_reason"] is None for r in rows] == [True, False]
    assert rows[0]["status"] == 418


@pytest.mark.parametrize(
    ("name", "times_and_codes", "cut_to"),
    [
        ("alb", "0.001 0.045 0.000 200 200 412 1832", "0.001 00 412 1832"),
        ("elb", "0.000073 0.001048 0.000057 200 200 0 1832", "0.000073 0.001048 200 20 200 0 1832"),
    ],
)
def test_aws_line_missing_fields_is_rejected_not_shifted(
    name: str, times_and_codes: str, cut_to: str
) -> None:
    # Found: with fields missing (the ALB line below lost "0.045 0.000 200 2"), the fields after
    # them moved left and the line parsed with a byte count as its status (alb: status 1832).
    ex = formats.REGISTRY[name].example
    assert times_and_codes in ex
    (row,) = parse_lines(name, [ex.replace(times_and_codes, cut_to)])
    assert row["reject_reason"] is not None and row["status"] is None


def test_mixed_layout_file_whose_alternate_fills_more_columns(tmp_path: Path) -> None:
    # Found: combined lines plus an API Gateway CLF line (it has a request id): the second
    # chance parse inserted a VARCHAR request_id into a column typed NULL, the batch failed
    # and the whole file was recorded as an error with no events.
    combined = formats.REGISTRY["combined"].example
    apigw = formats.REGISTRY["apigw_rest_clf"].example
    case, report = ingest_lines(tmp_path, "mixed.log", [combined] * 5 + [apigw])
    (r,) = report.results
    assert (r.status, r.lines, r.events, r.rejects) == ("ingested", 6, 6, 0)
    ids = case.sql("SELECT request_id FROM events WHERE request_id IS NOT NULL")["request_id"].tolist()
    assert ids == ["c5d8a3e4-9f1b-4a6e-b0c2-7d3e5f6a8b9c"]
    case.close()


def test_time_past_year_9999_is_rejected_and_negative_bytes_are_null() -> None:
    # Found: a traefik_json StartUTC mangled to year 20024 parsed to an instant Python cannot
    # hold (fetched back as a string); a CloudFront sc-bytes of -1392 was stored as is.
    traefik = formats.REGISTRY["traefik_json"].example.replace(
        '"2024-03-12T10:00:00.1', '"20024-03-12T10:00:00.1'
    )
    assert traefik.count("20024-") == 1
    (row,) = parse_lines("traefik_json", [traefik])
    assert row["reject_reason"] == "timestamp outside the years 1 to 9999"
    cloudfront = formats.REGISTRY["cloudfront"].example.replace("\tLAX1\t392\t", "\tLAX1\t-1392\t")
    (row,) = parse_lines("cloudfront", [cloudfront])
    assert (row["reject_reason"], row["bytes_sent"], row["status"]) == (None, None, 200)
