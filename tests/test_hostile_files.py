"""Hostile evidence files: each is kept and counted or refused with a clear message — never a
crash, a hang, or silent loss."""

from __future__ import annotations

import bz2
import gzip
import os
import random
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from forensics import Case, ingest
from forensics.cli import main
from forensics.formats.linefmt import PY_TOLERANT_MAX
from tests.conftest import COMBINED, write_lines

LINE = COMBINED[0]


def _accounted(case: Case) -> None:
    """events + rejects = lines for every ingested source, counted from the stored rows."""
    bad = case.sql("""
        SELECT s.source_id FROM sources s
        LEFT JOIN (SELECT source_id, count(*) n FROM events GROUP BY ALL) e USING (source_id)
        LEFT JOIN (SELECT source_id, count(*) n FROM rejects GROUP BY ALL) r USING (source_id)
        WHERE s.status = 'ingested'
          AND (s.lines <> coalesce(e.n, 0) + coalesce(r.n, 0) OR s.events <> coalesce(e.n, 0))""")
    assert bad.empty


@pytest.mark.parametrize("kind", ["gzip", "bz2"])  # DuckDB's reader (gzip) and Python's (bz2)
def test_decompression_bomb_is_refused_and_the_rest_ingested(case: Case, tmp_path: Path, kind: str) -> None:
    body = (LINE.encode() + b"\n") * 170_000  # 17 MB of one repeated log line: ~1000x in gzip
    compress = gzip.compress if kind == "gzip" else bz2.compress
    bomb = tmp_path / "ev" / f"access.log.1.{kind}"
    bomb.parent.mkdir()
    bomb.write_bytes(compress(body))
    assert len(body) / bomb.stat().st_size > 200
    fine = write_lines(tmp_path / "ev" / "access.log", COMBINED)
    report = ingest(case, [tmp_path / "ev"])
    by_path = {r.path: r for r in report.results}
    assert by_path[bomb].status == "error"
    assert "refused: decompresses to more than 200 times" in (by_path[bomb].message or "")
    assert by_path[fine].status == "ingested" and by_path[fine].events == 3
    assert case.sql("SELECT count(*) AS n FROM events")["n"][0] == 3
    assert case.sql("SELECT count(*) AS n FROM rejects")["n"][0] == 0
    _accounted(case)


def test_a_genuine_gzip_log_is_within_the_default_ratio(case: Case, tmp_path: Path) -> None:
    lines = [LINE.replace("/referrals/1 ", f"/referrals/{i} ") for i in range(20_000)]
    path = tmp_path / "access.log.gz"
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    report = ingest(case, [path])
    assert report.results[0].status == "ingested" and report.results[0].events == 20_000


def test_max_expansion_is_a_cli_option(tmp_path: Path) -> None:
    body = (LINE.encode() + b"\n") * 170_000
    bomb = tmp_path / "big.gz"
    bomb.write_bytes(gzip.compress(body))
    refused = CliRunner().invoke(main, ["ingest", str(tmp_path / "c1.duckdb"), str(bomb)])
    assert refused.exit_code == 1 and "raise the limit with --max-expansion" in refused.output
    allowed = CliRunner().invoke(
        main, ["ingest", str(tmp_path / "c2.duckdb"), str(bomb), "--max-expansion", "0"]
    )
    assert allowed.exit_code == 0, allowed.output
    assert "events: 170,000" in allowed.output


def test_a_50_mb_line_is_kept_whole_and_the_next_line_parses(case: Case, tmp_path: Path) -> None:
    path = tmp_path / "access.log"
    huge = "GET /" + "a" * (50 * 1024 * 1024)
    path.write_text(f"{LINE}\n{huge}\n{COMBINED[1]}\n", encoding="utf-8")
    report = ingest(case, [path])
    assert (report.results[0].lines, report.results[0].events, report.results[0].rejects) == (3, 2, 1)
    rej = case.sql("SELECT line_no, strlen(line) AS n, md5(line) AS h FROM rejects")
    assert rej["line_no"].tolist() == [2]
    assert rej["n"][0] == len(huge)
    import hashlib

    assert rej["h"][0] == hashlib.md5(huge.encode()).hexdigest()
    assert case.sql("SELECT line_no FROM events ORDER BY 1")["line_no"].tolist() == [1, 3]


def test_a_line_past_64_mib_keeps_its_first_64_mib_and_says_so(
    case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from forensics.ingest import linereader as lines

    monkeypatch.setattr(lines, "KEPT_LINE_BYTES", 1024)  # the same code path, at a test's scale
    monkeypatch.setattr(lines, "MAX_LINE_BYTES", 1024)
    path = tmp_path / "access.log"
    path.write_text(f"{LINE}\n{'z' * 10_000_000}\n{COMBINED[1]}\n", encoding="utf-8")
    report = ingest(case, [path])
    assert (report.results[0].lines, report.results[0].events, report.results[0].rejects) == (3, 2, 1)
    kept = case.sql("SELECT line FROM rejects")["line"][0]
    assert kept.startswith("z" * 1024) and kept.endswith("the first 1,024 are kept here]")
    assert "10,000,000 bytes in all" in kept
    assert any("longer than 1,024 bytes" in w for w in report.results[0].warnings)


def test_nul_bytes_and_invalid_utf8_are_kept_losslessly(case: Case, tmp_path: Path) -> None:
    path = tmp_path / "access.log"
    nul_ua = LINE.replace("curl/8.4.0", "cu\x00rl")
    latin1 = LINE.replace("curl/8.4.0", "caf\xe9").encode("latin-1")
    path.write_bytes(
        nul_ua.encode() + b"\n" + latin1 + b"\n" + b"\x00\x00\x00\n" + COMBINED[1].encode() + b"\n"
    )
    report = ingest(case, [path])
    r = report.results[0]
    assert r.lines == 4 and r.events + r.rejects == 4
    uas = case.sql("SELECT line_no, user_agent FROM events ORDER BY line_no")
    got = dict(zip(uas["line_no"], uas["user_agent"], strict=True))
    assert got[2] == "caf\\xe9"  # the byte kept as a backslash escape, not dropped or replaced
    stored = {**got, **dict(case.con.execute("SELECT line_no, line FROM rejects").fetchall())}
    assert "\x00" in str(stored[1]) or "\\x00" in str(stored[1])
    assert stored[3] in ("\x00\x00\x00", "\\x00\\x00\\x00")
    _accounted(case)


@pytest.mark.parametrize("ending", ["\r\n", "\r"])
def test_crlf_and_cr_line_ends(case: Case, tmp_path: Path, ending: str) -> None:
    path = tmp_path / "access.log"
    path.write_bytes(ending.join(COMBINED).encode() + ending.encode())
    report = ingest(case, [path])
    assert (report.results[0].lines, report.results[0].events) == (3, 3)
    assert case.sql("SELECT user_agent FROM events ORDER BY line_no")["user_agent"][0] == "curl/8.4.0"


def test_empty_files_plain_and_compressed(case: Case, tmp_path: Path) -> None:
    (tmp_path / "ev").mkdir()
    (tmp_path / "ev" / "empty.log").write_bytes(b"")
    (tmp_path / "ev" / "empty.log.gz").write_bytes(gzip.compress(b""))
    report = ingest(case, [tmp_path / "ev"])
    assert [r.status for r in report.results] == ["empty", "empty"]


def test_binary_files_are_unrecognised_with_what_to_try(case: Case, tmp_path: Path) -> None:
    (tmp_path / "ev").mkdir()
    png = tmp_path / "ev" / "logo.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40)
    elf = tmp_path / "ev" / "a.out"
    elf.write_bytes(b"\x7fELF\x02\x01\x01" + random.Random(5).randbytes(5000))
    quotes = tmp_path / "ev" / "quotes.txt"  # long enough for the sniffer's RE2 fallback
    quotes.write_text('"' * 12 + "a" * (PY_TOLERANT_MAX + 10) + "\n")
    report = ingest(case, [tmp_path / "ev"])
    for r in report.results:
        assert r.status == "unrecognised"
        assert "no known access-log format recognises this file" in (r.message or "")
        assert "--log-format" in (r.message or "")
    assert case.sql("SELECT count(*) AS n FROM events")["n"][0] == 0


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX links and FIFOs")
def test_links_loops_and_fifos_are_recorded_not_followed_or_hung_on(case: Case, tmp_path: Path) -> None:
    ev = tmp_path / "ev"
    real = write_lines(ev / "real" / "access.log", COMBINED)
    (ev / "loop").symlink_to(ev / "loop")
    (ev / "broken").symlink_to(ev / "nowhere")
    (ev / "linked").symlink_to(ev / "real", target_is_directory=True)
    os.mkfifo(ev / "pipe")
    report = ingest(case, [ev])
    got = {r.path.name: (r.status, r.message or "") for r in report.results}
    assert got["access.log"][0] == "ingested"
    assert got["loop"][0] == "error" and "symbolic link loop" in got["loop"][1]
    assert got["broken"][0] == "error" and "broken symbolic link" in got["broken"][1]
    assert got["pipe"][0] == "skipped" and "named pipe" in got["pipe"][1]
    assert got["linked"][0] == "skipped" and "not followed" in got["linked"][1]
    assert case.sql("SELECT count(*) AS n FROM events")["n"][0] == 3  # the folder was read once
    assert real.read_text().count("\n") == 3
    again = ingest(case, [ev])  # re-running adds nothing and keeps one row per path
    assert again.total("events") == 0
    assert case.sql("SELECT count(*) AS n FROM sources")["n"][0] == 5


def test_a_file_growing_while_ingested_is_refused(
    case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from forensics.ingest import batch

    live = write_lines(tmp_path / "ev" / "access.log", COMBINED)
    stable = write_lines(tmp_path / "ev" / "old.log", COMBINED[:1])
    real = batch.parse_batch

    def parse_then_append(con: object, items: list[batch.Planned], *args: object) -> None:
        real(con, items, *args)  # type: ignore[arg-type]
        with open(live, "a", encoding="utf-8") as fh:  # the server writes a line meanwhile
            fh.write(COMBINED[1] + "\n")

    monkeypatch.setattr(sys.modules["forensics.ingest.run"], "parse_batch", parse_then_append)
    report = ingest(case, [live, stable])
    got = {r.path: r for r in report.results}
    assert got[live].status == "error" and "changed while being ingested" in (got[live].message or "")
    assert got[stable].status == "ingested"
    assert case.sql("SELECT DISTINCT source_id FROM events")["source_id"].tolist() == [got[stable].source_id]
    _accounted(case)


def test_a_file_name_that_is_not_utf8_is_recorded_with_an_escaped_name(case: Case, tmp_path: Path) -> None:
    ev = tmp_path / "ev"
    ev.mkdir()
    with open(os.path.join(os.fsencode(ev), b"access-caf\xe9.log"), "wb") as fh:
        fh.write(LINE.encode() + b"\n")
    good = write_lines(ev / "access.log", COMBINED)
    for _ in range(2):  # a re-run replaces the record rather than adding a second
        report = ingest(case, [ev])
    bad = [r for r in report.results if r.path != good]
    assert [r.status for r in bad] == ["error"]
    assert "access-caf\\xe9.log: the file name is not valid UTF-8" in (bad[0].message or "")
    rows = case.sql("SELECT path, status FROM sources ORDER BY path")
    assert rows["path"].tolist() == [str(ev / "access-caf\\xe9.log"), str(good)]
    assert rows["status"].tolist() == ["error", "ingested"]
