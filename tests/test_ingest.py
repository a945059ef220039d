"""Evidence intake and ingest: accounting, duplicates, truncation, idempotence, custody."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import lzma
import os
import re
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import zstandard

from forensics import Case, IngestOptions, ingest
from forensics.errors import EvidenceError
from forensics.ingest import batch
from tests.conftest import COMBINED, SAMPLE_EVIDENCE, write_lines


def accounting(case: Case) -> list[tuple[int, int, int, int, int]]:
    """(source_id, lines, events, rejects, rows actually stored) per ingested source."""
    rows = case.con.execute("""
        SELECT s.source_id, s.lines, s.events, s.rejects,
               (SELECT count(*) FROM events e WHERE e.source_id = s.source_id)
             + (SELECT count(*) FROM rejects r WHERE r.source_id = s.source_id)
        FROM sources s WHERE status = 'ingested' ORDER BY source_id""").fetchall()
    return [tuple(int(x) for x in r) for r in rows]  # type: ignore[misc]


def test_sample_logs_every_line_accounted_for(case: Case) -> None:
    report = ingest(case, [SAMPLE_EVIDENCE])
    for sid, lines, events, rejects, stored in accounting(case):
        assert events + rejects == lines == stored, sid
        assert lines > 0
    statuses = sorted(r.status for r in report.results)
    assert statuses.count("duplicate") == 1
    assert report.problems == []
    fmts = set(case.sources()["format"].dropna())
    assert fmts == {"combined", "jsonl"}


def test_every_compression_read_by_magic_not_extension(case: Case, tmp_path: Path) -> None:
    data = ("\n".join(COMBINED) + "\n").encode()
    ev = tmp_path / "ev"
    ev.mkdir()
    (ev / "a.log").write_bytes(data)
    (ev / "b.txt").write_bytes(gzip.compress(data.replace(b"203.0.113.9", b"198.51.100.2")))
    (ev / "c").write_bytes(bz2.compress(data.replace(b"203.0.113.9", b"198.51.100.3")))
    (ev / "d.gz").write_bytes(lzma.compress(data.replace(b"203.0.113.9", b"198.51.100.4")))
    (ev / "e.log").write_bytes(
        zstandard.ZstdCompressor().compress(data.replace(b"203.0.113.9", b"198.51.100.5"))
    )
    ingest(case, [ev])
    src = case.sources().set_index("path")
    got = {Path(p).name: c for p, c in src["compression"].items()}
    assert got == {"a.log": "none", "b.txt": "gzip", "c": "bz2", "d.gz": "xz", "e.log": "zstd"}
    assert (src["events"] == 3).all()
    assert case.sql("select count(distinct client_ip) n from events")["n"][0] == 6


def test_duplicate_by_hash_and_rerun_adds_nothing(case: Case, tmp_path: Path) -> None:
    a = write_lines(tmp_path / "ev" / "access.log", COMBINED)
    b = tmp_path / "ev" / "backup" / "access.log.copy"
    b.parent.mkdir()
    b.write_bytes(a.read_bytes())
    first = ingest(case, [tmp_path / "ev"])
    assert [r.status for r in first.results] == ["ingested", "duplicate"]
    dup = case.sources().iloc[1]
    assert dup["duplicate_of"] == 1 and dup["status"] == "duplicate"
    before = (len(case.sources()), len(case.events()))
    again = ingest(case, [tmp_path / "ev"])
    assert [r.status for r in again.results] == ["already-ingested", "already-ingested"]
    assert (len(case.sources()), len(case.events())) == before == (2, 3)


def test_truncated_gzip_keeps_complete_lines_and_warns(case: Case, tmp_path: Path) -> None:
    lines = [COMBINED[0].replace("referrals/1 ", f"referrals/{i} ") for i in range(5000)]
    blob = gzip.compress(("\n".join(lines) + "\n").encode())
    path = tmp_path / "cut.log.gz"
    path.write_bytes(blob[: len(blob) // 2])
    report = ingest(case, [path])
    (res,) = report.results
    assert res.status == "ingested"
    assert any("truncated" in w for w in res.warnings)
    assert res.events > 100
    # every event is a complete, correct line: ids run 0..n-1 in line order, none skipped
    ids = case.sql("select line_no, path from events order by line_no")
    assert list(ids["path"]) == [f"/api/v2/referrals/{i}" for i in range(res.events)]
    assert res.lines - res.events <= 1  # at most the one line cut by the break, kept as reject


def test_python_reader_gives_same_rows_as_duckdb_reader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_lines(tmp_path / "a.log", [*COMBINED, "", "garbage line", COMBINED[0]])
    fast = Case.create(tmp_path / "fast.duckdb")
    ingest(fast, [path])
    monkeypatch.setattr(batch, "DUCKDB_COMPRESSIONS", {})
    monkeypatch.setattr(batch, "duckdb_lines_sql", lambda *a: None)
    slow = Case.create(tmp_path / "slow.duckdb")
    ingest(slow, [path])
    assert fast.sources()["reader"][0] == "duckdb" and slow.sources()["reader"][0] == "python"
    for table in ("events", "rejects"):
        q = f"select * exclude (source_id) from {table} order by line_no"
        assert fast.sql(q).equals(slow.sql(q)), table
    assert list(slow.rejects()["line_no"]) == [4, 5]


def test_invalid_utf8_and_crlf_are_kept_not_dropped(case: Case, tmp_path: Path) -> None:
    raw = (
        COMBINED[0].encode()
        + b"\r\n"
        + COMBINED[1].replace("curl/8.4.0", "bad@agent").encode().replace(b"@", b"\xff")
        + b"\r\n"
        + COMBINED[2].encode()
        + b"\r\n"
    )
    path = tmp_path / "odd.log"
    path.write_bytes(raw)
    (res,) = ingest(case, [path]).results
    assert (res.lines, res.events) == (3, 3)
    uas = list(case.sql("select user_agent from events order by line_no")["user_agent"])
    assert uas == ["curl/8.4.0", "bad\\xffagent", "Mozilla/5.0"]


def test_evidence_is_not_modified(case: Case, tmp_path: Path) -> None:
    path = write_lines(tmp_path / "a.log", COMBINED)
    os.chmod(path, 0o444)
    before = (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns)
    ingest(case, [path])
    assert (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns) == before
    assert case.sources()["sha256"][0] == before[0]


def test_unrecognised_file_is_recorded_then_forced(case: Case, tmp_path: Path) -> None:
    err = write_lines(
        tmp_path / "error.log",
        [
            "[Wed Oct 11 14:32:52.123456 2000] [core:error] [pid 1234] [client 1.2.3.4:5678] AH00037: x",
        ]
        * 3,
    )
    (res,) = ingest(case, [err]).results
    assert res.status == "unrecognised"
    assert "error.log" in (res.message or "") and "AH00037" in (res.message or "")
    assert len(case.events()) == 0
    common = '203.0.113.9 - - [12/Mar/2024:10:00:00 +0000] "GET / HTTP/1.1" 200 1832'
    good = write_lines(tmp_path / "x.log", [common, COMBINED[0]])
    (forced,) = ingest(case, [good], IngestOptions(format="common")).results
    # the forced format reads half the entry lines (kept); the other line is read by the format
    # that fits it, as anywhere in a file
    assert (forced.status, forced.events, forced.rejects) == ("ingested", 2, 0)
    assert forced.format_lines == {"common": 1, "combined": 1}


def test_times_are_utc_and_offsets_kept(case: Case, tmp_path: Path) -> None:
    ingest(case, [write_lines(tmp_path / "a.log", COMBINED)])
    df = case.sql("select ts, ts_offset_min, principal, bytes_sent from events order by line_no")
    assert list(df["ts"]) == [
        datetime(2024, 3, 12, 10, 0, 0, tzinfo=UTC),
        datetime(2024, 7, 12, 9, 0, 1, tzinfo=UTC),
        datetime(2024, 7, 12, 9, 0, 2, tzinfo=UTC),
    ]
    assert list(df["ts_offset_min"]) == [0, 60, 60]
    assert df["principal"][2] == "alice" and df["bytes_sent"].isna()[2]


def test_globs_and_files_mix(case: Case, tmp_path: Path) -> None:
    write_lines(tmp_path / "a" / "x.log", COMBINED[:1])
    write_lines(tmp_path / "b" / "y.log", COMBINED[1:2])
    write_lines(tmp_path / "c.log", COMBINED[2:])
    report = ingest(case, [str(tmp_path / "*" / "*.log"), tmp_path / "c.log"])
    assert [r.path.name for r in report.results] == ["x.log", "y.log", "c.log"]
    assert report.total("events") == 3


def test_case_log_records_commands(case: Case, tmp_path: Path) -> None:
    ingest(case, [write_lines(tmp_path / "a.log", COMBINED)], IngestOptions(tz="Europe/London"))
    log = case.sql("select * from case_log")
    assert list(log["command"]) == ["ingest", "ingest batch", "ingest finished"]
    assert '"tz": "Europe/London"' in log["parameters"][0]


def test_raw_lines_lead_back_to_evidence(case: Case, tmp_path: Path) -> None:
    ingest(case, [SAMPLE_EVIDENCE])
    picks = case.sql("""
        SELECT source_id, reader, list(line_no ORDER BY line_no) AS nos FROM (
            SELECT source_id, line_no, row_number() OVER (PARTITION BY source_id ORDER BY line_no) k
            FROM events) JOIN sources USING (source_id)
        WHERE k IN (1, 7, 50) GROUP BY ALL ORDER BY source_id""")
    assert set(picks["reader"]) == {"duckdb", "python"}  # both numbering paths are exercised
    for _, row in picks.iterrows():
        got = case.raw_lines(int(row["source_id"]), [int(n) for n in row["nos"]])
        path = case.sql("select path from sources where source_id = ?", [row["source_id"]])
        text = _decompressed_lines(Path(path["path"][0]))
        assert got == {int(n): text[int(n) - 1] for n in row["nos"]}


def _decompressed_lines(path: Path) -> list[str]:
    from forensics.ingest.evidence import TruncatedError, describe, iter_chunks

    data = b""
    try:
        for chunk in iter_chunks(path, describe(path).compression):
            data += chunk
    except TruncatedError:
        pass
    return data.decode().split("\n")


def test_raw_lines_refuse_changed_evidence(case: Case, tmp_path: Path) -> None:
    from forensics.errors import EvidenceError

    path = write_lines(tmp_path / "a.log", COMBINED)
    ingest(case, [path])
    path.write_text(path.read_text().replace("alice", "mallory"))
    with pytest.raises(EvidenceError, match="changed since ingest"):
        case.raw_lines(1, [3])


def test_unknown_time_zone_is_refused_with_a_suggestion(case: Case, tmp_path: Path) -> None:
    from forensics.errors import ForensicsError

    path = write_lines(tmp_path / "a.log", COMBINED)
    with pytest.raises(ForensicsError, match=r"Did you mean Europe/London\?"):
        ingest(case, [path], IngestOptions(tz="Europe/Londn"))


def test_unreadable_file_is_recorded(case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from forensics.errors import EvidenceError

    path = write_lines(tmp_path / "a.log", COMBINED)

    def refuse(p: Path) -> None:  # what describe() raises on EACCES (tests may run as root)
        raise EvidenceError(f"cannot read evidence file {p}: Permission denied")

    monkeypatch.setattr(sys.modules["forensics.ingest.run"], "describe", refuse)
    (res,) = ingest(case, [path]).results
    assert res.status == "error" and "cannot read" in (res.message or "")
    assert case.sources()["status"].tolist() == ["error"]


def test_many_small_files_batched_with_exact_line_numbers(case: Case, tmp_path: Path) -> None:
    ev = tmp_path / "hourly"
    for i in range(30):
        lines = [COMBINED[0].replace("referrals/1 ", f"referrals/{i}-{n} ") for n in range(1, 8)]
        if i == 11:
            lines[3] = "not a log line"
        blob = ("\n".join(lines) + "\n").encode()
        if i == 17:  # one file in the batch with bytes DuckDB's reader refuses
            blob = blob.replace(b"curl/8.4.0", b"curl/\xff", 1)
        (ev / f"d{i % 3}").mkdir(parents=True, exist_ok=True)
        (ev / f"d{i % 3}" / f"h{i:02d}.log.gz").write_bytes(gzip.compress(blob))
    report = ingest(case, [ev])
    assert report.total("events") == 30 * 7 - 1 and report.total("rejects") == 1
    rows = case.sql("""SELECT s.path, e.line_no, e.path AS url FROM events e
                       JOIN sources s USING (source_id)""")
    for _, r in rows.iterrows():  # every event's line number matches the id written in it
        i = int(Path(r["path"]).name[1:3])
        assert r["url"] == f"/api/v2/referrals/{i}-{r['line_no']}"
    rej = case.sql("SELECT s.path, r.line_no, r.line FROM rejects r JOIN sources s USING (source_id)")
    assert (Path(rej["path"][0]).name, rej["line_no"][0]) == ("h11.log.gz", 4)
    readers = case.sql("SELECT path, reader FROM sources").set_index("path")["reader"]
    assert readers[str(ev / "d2" / "h17.log.gz")] == "python"
    assert (readers.drop(str(ev / "d2" / "h17.log.gz")) == "duckdb").all()
    assert accounting(case) and all(x[1] == x[2] + x[3] == x[4] for x in accounting(case))


def test_duplicate_within_one_batch(case: Case, tmp_path: Path) -> None:
    a = write_lines(tmp_path / "a" / "x.log", COMBINED)
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "y.log").write_bytes(a.read_bytes())
    report = ingest(case, [tmp_path / "a", tmp_path / "b"])
    assert [r.status for r in report.results] == ["ingested", "duplicate"]
    src = case.sources()
    assert src["duplicate_of"].tolist()[1] == src["source_id"].tolist()[0]
    assert len(case.events()) == 3


def test_case_file_inside_evidence_folder_is_not_evidence(tmp_path: Path) -> None:
    write_lines(tmp_path / "ev" / "a.log", COMBINED)
    with Case.create(tmp_path / "ev" / "case.duckdb") as case:
        report = ingest(case, [tmp_path / "ev"])
        assert [r.path.name for r in report.results] == ["a.log"]


def test_a_batch_duckdb_cannot_parse_is_recorded_not_fatal(
    case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import duckdb

    bad = write_lines(tmp_path / "a" / "x.log", COMBINED)
    good = write_lines(tmp_path / "b" / "y.json", ['{"ts": "2024-03-12T10:00:00Z", "path": "/x"}'])

    def boom(*a: object, **k: object) -> None:
        raise duckdb.ConversionException("Could not convert string 'x' to INT32")

    real = batch.parse_batch
    monkeypatch.setattr(
        sys.modules["forensics.ingest.run"],
        "parse_batch",
        lambda con, items, o, m: boom() if items[0].fmt.name == "combined" else real(con, items, o, m),
    )
    report = ingest(case, [bad, good])
    assert [r.status for r in report.results] == ["error", "ingested"]
    assert "failed in DuckDB" in (report.results[0].message or "")
    assert case.sources()["status"].tolist() == ["error", "ingested"]
    order = case.con.execute("SELECT current_setting('preserve_insertion_order')").fetchone()
    assert order == (True,)


def test_missing_evidence_is_refused_before_anything_is_logged(case: Case, tmp_path: Path) -> None:
    before = case.log_head()
    with pytest.raises(EvidenceError, match=re.escape(f"evidence path {tmp_path / 'nope'} does not exist")):
        ingest(case, [tmp_path / "nope"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(EvidenceError, match=r"no evidence in folder .*empty.* holds no files"):
        ingest(case, [tmp_path / "empty"])
    assert case.log_head() == before
