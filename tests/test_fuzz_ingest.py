"""Whole files through ``forensics.ingest.run``: hostile bytes never crash it, and lose no line.

Each example writes a few evidence files made of hostile lines (tests/fuzzkit.py) turned into
hostile BYTES — invalid UTF-8, NUL, CRLF / CR / mixed line ends, no final newline, gzip — and
ingests them into a fresh case, sniffed or with a forced format. Every file must end up
recorded (ingested, empty, unrecognised or error with a message), and every ingested file's
lines, counted here independently of the reader, must equal its events + rejects, which must
equal the rows it has in the events and rejects tables.
"""

from __future__ import annotations

import gzip

from hypothesis import given
from hypothesis import strategies as st

from forensics import Case, IngestOptions, ingest
from tests.fuzzkit import FORMATS, TZ, fuzz_settings, line_lists

ENDINGS = [b"\n", b"\r\n", b"\r"]
BAD_BYTES = [b"\xff", b"\xc3", b"\xc3\x28", b"\xed\xa0\x80", b"\x00", b"\xfe\xff", b"\x1b[2J", b"\x01"]


def count_lines(data: bytes) -> int:
    """Lines end at LF (a CR before it belongs to the ending), or at CR in a file with no LF;
    a last line without an ending counts, a final ending adds no empty line."""
    if not data:
        return 0
    sep = b"\n" if b"\n" in data or b"\r" not in data else b"\r"
    return data.count(sep) + (0 if data.endswith(sep) else 1)


@st.composite
def evidence_bytes(draw: st.DrawFn, own: str) -> bytes:
    lines = draw(line_lists(own, max_size=20))
    ending = draw(st.sampled_from(ENDINGS))
    parts = []
    for line in lines:
        raw = line.encode("utf-8", errors="surrogatepass")
        if draw(st.integers(0, 4)) == 0:  # a hostile byte somewhere in this line
            pos = draw(st.integers(0, len(raw)))
            raw = raw[:pos] + draw(st.sampled_from(BAD_BYTES)) + raw[pos:]
        if ending != b"\r" and b"\r" not in raw and b"\n" not in raw and draw(st.integers(0, 9)) == 0:
            parts.append(raw + draw(st.sampled_from([b"\n", b"\r\n"])))  # mixed endings
        else:
            parts.append(raw + ending)
    data = b"".join(parts)
    if draw(st.booleans()):
        data = data.removesuffix(ending)  # no final line ending
    return data


def test_hostile_files_are_recorded_and_every_line_is_accounted_for(tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    @fuzz_settings(0.3)
    @given(
        files=st.lists(
            st.sampled_from(FORMATS).flatmap(lambda n: st.tuples(evidence_bytes(n), st.booleans())),
            min_size=1,
            max_size=6,
        ),
        forced=st.one_of(st.none(), st.sampled_from(FORMATS)),
    )
    def run(files: list[tuple[bytes, bool]], forced: str | None) -> None:
        root = tmp_path_factory.mktemp("fuzz")
        expected: dict[str, int] = {}
        contents: dict[str, bytes] = {}
        for i, (data, gz) in enumerate(files):
            path = root / "evidence" / f"f{i}.log{'.gz' if gz else ''}"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(gzip.compress(data) if gz else data)
            expected[str(path)] = count_lines(data)
            contents[str(path)] = data
        case = Case.create(root / "case.duckdb")
        try:
            report = ingest(case, [root / "evidence"], IngestOptions(format=forced, tz=TZ))
            assert len(report.results) == len(files)
            for r in report.results:
                assert r.status in ("ingested", "empty", "duplicate", "unrecognised", "error"), r
                if r.status in ("unrecognised", "error"):
                    assert r.message and r.message.strip(), r
            rows = case.con.execute("""
                SELECT s.path, s.status, s.lines, s.events, s.rejects,
                       (SELECT count(*) FROM events e WHERE e.source_id = s.source_id),
                       (SELECT count(*) FROM rejects j WHERE j.source_id = s.source_id)
                FROM sources s""").fetchall()
            assert sorted(r[0] for r in rows) == sorted(expected)
            for path, status, lines, events, rejects, n_events, n_rejects in rows:
                if status == "ingested":
                    want = expected[path]
                    assert (lines, events + rejects) == (want, want), (path, status)
                    assert (n_events, n_rejects) == (events, rejects), path
                elif status == "empty":  # nothing but line endings
                    assert not contents[path].strip(b"\r\n"), path
        finally:
            case.close()

    run()
