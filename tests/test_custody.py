"""Chain of custody: the hash-chained case log, `forensics verify`, owner-only files, one writer."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from forensics import Case, formats, ingest
from forensics.cli import main
from forensics.errors import CaseError
from forensics.ingest.verify import verify
from forensics.store.custody import GENESIS, check_chain
from forensics.store.schema import AWS_FIELDS
from tests.conftest import COMBINED, write_lines


@pytest.fixture
def ingested(tmp_path: Path) -> tuple[Path, Path]:
    evidence = write_lines(tmp_path / "ev" / "access.log", COMBINED)
    write_lines(tmp_path / "ev" / "other.log", COMBINED[:2])
    case_path = tmp_path / "case.duckdb"
    with Case.create(case_path) as case:
        ingest(case, [tmp_path / "ev"])
    return case_path, evidence


def _own_hash(prev: str, row: tuple[object, ...]) -> str:
    """The entry hash computed here from the documented rule, not by the code under test."""
    seq, when, tool, command, params = row
    assert isinstance(when, datetime)
    fields = [prev, seq, when.astimezone(UTC).isoformat(timespec="microseconds"), tool, command, params]
    return hashlib.sha256(json.dumps(fields, separators=(",", ":"), ensure_ascii=False).encode()).hexdigest()


def test_every_entry_chains_to_the_one_before(ingested: tuple[Path, Path]) -> None:
    case_path, _ = ingested
    with Case.open(case_path) as case:
        rows = case.con.execute(
            "SELECT seq, logged_at, tool_version, command, parameters, prev_hash, entry_hash "
            "FROM case_log ORDER BY seq"
        ).fetchall()
    assert [r[3] for r in rows] == ["ingest", "ingest batch", "ingest finished"]
    prev = GENESIS
    for row in rows:
        assert row[5] == prev
        assert row[6] == _own_hash(prev, row[:5])
        prev = row[6]
    finished = json.loads(rows[2][4])
    assert finished["of"] == 1 and finished["events"] == 5 and finished["files"] == {"ingested": 2}


def test_verify_passes_on_an_untouched_case(ingested: tuple[Path, Path]) -> None:
    case_path, _ = ingested
    with Case.open(case_path) as case:
        result = verify(case)
    assert result.ok, result
    assert [e.status for e in result.evidence] == ["ok", "ok"]


def test_edited_log_entry_is_named(ingested: tuple[Path, Path]) -> None:
    case_path, _ = ingested
    with Case.open(case_path) as case:
        case.con.execute(
            "UPDATE case_log SET parameters = replace(parameters, 'access', 'xxx') WHERE seq = 1"
        )
        check = check_chain(case.con)
    assert check.problems == ["entry 1 (ingest): its content does not match its hash (edited)"]


def test_removed_log_entry_breaks_the_chain(ingested: tuple[Path, Path]) -> None:
    case_path, _ = ingested
    with Case.open(case_path) as case:
        case.con.execute("DELETE FROM case_log WHERE seq = 1")
        problems = check_chain(case.con).problems
    assert any("expected entry 1" in p for p in problems)
    assert any("does not follow" in p for p in problems)


def test_changed_evidence_deleted_events_and_edited_sources_fail_loudly(ingested: tuple[Path, Path]) -> None:
    case_path, evidence = ingested
    os.chmod(evidence, 0o644)
    with open(evidence, "a", encoding="utf-8") as fh:
        fh.write(COMBINED[0] + "\n")
    with Case.open(case_path) as case:
        case.con.execute("DELETE FROM events WHERE source_id = 2 AND line_no = 1")
        case.con.execute("UPDATE sources SET format = 'common' WHERE source_id = 1")
    result = CliRunner().invoke(main, ["verify", str(case_path)])
    assert result.exit_code == 1
    assert "MISMATCH source 1 changed" in result.output
    assert "source 2 (ingested): recorded 2 lines = 2 events + 0 rejects, stored 1 events" in result.output
    assert "sources 1 to 2: the rows differ" in result.output
    assert "VERIFICATION FAILED" in result.output


def test_missing_evidence_is_reported(ingested: tuple[Path, Path]) -> None:
    case_path, evidence = ingested
    evidence.unlink()
    with Case.open(case_path) as case:
        result = verify(case)
    assert [(e.source_id, e.status) for e in result.evidence_problems] == [(1, "missing")]
    assert not result.ok


def test_noted_head_must_be_in_the_chain(ingested: tuple[Path, Path]) -> None:
    case_path, _ = ingested
    with Case.open(case_path) as case:
        head = case.log_head()
    ok = CliRunner().invoke(main, ["verify", str(case_path), "--head", head])
    assert ok.exit_code == 0, ok.output
    assert "OK: verified" in ok.output
    bad = CliRunner().invoke(main, ["verify", str(case_path), "--head", "ab" * 32])
    assert bad.exit_code == 1
    assert f"HEAD NOT FOUND: {'ab' * 32} is not an entry of this case's log" in bad.output
    with Case.open(case_path) as case:  # a verify that passes is logged; one that fails writes nothing
        commands = case.sql("SELECT command FROM case_log ORDER BY seq")["command"].tolist()
    assert commands[-3:] == ["ingest finished", "verify", "verify finished"]


def test_interrupted_command_is_listed(ingested: tuple[Path, Path]) -> None:
    case_path, _ = ingested
    with Case.open(case_path) as case:
        case.log_command("investigate", {"window": None})
        check = check_chain(case.con)
    assert check.problems == []
    assert check.unfinished == ["entry 4 (investigate)"]


def test_case_of_schema_1_is_upgraded_and_chained(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    with Case.create(path) as case:
        case.con.execute("ALTER TABLE case_log DROP COLUMN prev_hash")
        case.con.execute("ALTER TABLE case_log DROP COLUMN entry_hash")
        case.con.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
        case.con.execute(
            "INSERT INTO case_log VALUES (1, TIMESTAMPTZ '2024-01-01 00:00:00+00', '0.1', 'ingest', '{}')"
        )
    with Case.open(path) as case:
        check = check_chain(case.con)
        rows = case.sql("SELECT command, parameters FROM case_log ORDER BY seq")
        version = case.sql("SELECT value FROM meta WHERE key = 'schema_version'")["value"][0]
    assert check.problems == [] and check.entries == 2
    assert rows["command"].tolist() == ["ingest", "upgrade"]
    assert json.loads(rows["parameters"][1]) == {"entries_chained": 1, "from_schema": 1, "to_schema": 4}
    assert version == "4"


def test_case_of_schema_2_gets_entry_rejects(tmp_path: Path) -> None:
    """Schema 3 counts rejected entry lines per source; an older case gets them from rejects."""
    log = tmp_path / "access.log"
    line = '203.0.113.9 - - [12/Mar/2024:10:00:00 +0000] "GET / HTTP/1.1" 200 1832'
    log.write_text(f"{line}\n\ngarbage\n{line}\n")
    path = tmp_path / "old.duckdb"
    with Case.create(path) as case:
        ingest(case, [log])
        case.con.execute("ALTER TABLE sources DROP COLUMN format_lines")
        case.con.execute("ALTER TABLE sources DROP COLUMN entry_rejects")
        case.con.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    with Case.open(path) as case:
        got = case.sql("SELECT rejects, entry_rejects FROM sources")
        assert (got["rejects"][0], got["entry_rejects"][0]) == (2, 1)
        assert check_chain(case.con).problems == []


def test_case_of_schema_3_gets_the_aws_struct_columns(tmp_path: Path) -> None:
    """Schema 4 keeps the AWS formats' own fields in typed struct columns; an older case gets
    the columns (its events keep those fields in extra) and takes new AWS evidence."""
    path = tmp_path / "old.duckdb"
    with Case.create(path) as case:
        for col in AWS_FIELDS:
            case.con.execute(f"ALTER TABLE events DROP COLUMN {col}")
        case.con.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    log = tmp_path / "alb.log"
    log.write_text(formats.REGISTRY["alb"].example + "\n")
    with Case.open(path) as case:
        assert case.sql("SELECT value FROM meta WHERE key = 'schema_version'")["value"][0] == "4"
        ingest(case, [log])
        row = case.con.execute("SELECT alb[1].elb, alb[1].client_port, s3 FROM events").fetchone()
        assert row == ("app/prod-api/50dc6c495c0c9188", 48160, None)
        assert verify(case).ok


def test_case_file_is_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "case.duckdb"
    Case.create(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_second_process_gets_case_in_use(ingested: tuple[Path, Path]) -> None:
    case_path, _ = ingested
    holder = Case.open(case_path)
    try:
        code = (
            "import sys; from forensics.cli import main; "
            f"sys.argv = ['forensics', 'verify', {str(case_path)!r}]; main()"
        )
        run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    finally:
        holder.close()
    assert run.returncode == 1
    assert f"case {case_path} is in use by another process (process {os.getpid()})" in run.stderr
    assert "Traceback" not in run.stderr
    with Case.open(case_path) as case:  # and nothing was changed by the refused process
        assert verify(case).ok


def test_in_use_error_is_a_case_error(ingested: tuple[Path, Path]) -> None:
    case_path, _ = ingested
    code = f"import duckdb; c = duckdb.connect({str(case_path)!r}); import time; print('held', flush=True); time.sleep(60)"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        with pytest.raises(CaseError, match="in use by another process"):
            Case.open(case_path, read_only=True)
    finally:
        proc.kill()
        proc.wait()
    assert isinstance(duckdb.connect(str(case_path), read_only=True), duckdb.DuckDBPyConnection)


def test_a_mistyped_head_is_told_apart_from_changed_evidence(ingested: tuple[Path, Path]) -> None:
    case_path, _ = ingested
    with Case.open(case_path) as case:
        head = case.log_head()
    typo = head[:-1] + ("0" if head[-1] != "0" else "1")
    res = CliRunner().invoke(main, ["verify", str(case_path), "--head", typo])
    assert res.exit_code == 1
    assert "evidence: 2 of 2 files match their SHA-256" in res.output
    assert f"the log's head is {head}" in res.output
    assert "differs from it in 1 character(s)" in res.output
    assert f"the head you gave is not in this case's log (its head was {head})" in res.output
    assert "evidence differs" not in res.output
    short = CliRunner().invoke(main, ["verify", str(case_path), "--head", head[:12], "--json"])
    assert short.exit_code == 1
    doc = json.loads(short.output[: short.output.rindex("}") + 1])
    assert doc["case_ok"] and not doc["expected_head_found"] and not doc["ok"]
    assert "64 hex characters: it has 12 characters" in doc["expected_head_hint"]
    assert "starts with it" in doc["expected_head_hint"]


def test_verify_checks_a_noted_head_in_the_library(ingested: tuple[Path, Path]) -> None:
    case_path, _ = ingested
    with Case.open(case_path) as case:
        head = case.log_head()
        assert verify(case, expected_head=head.upper()).ok
        result = verify(case, expected_head="ab" * 32)
    assert result.case_ok and not result.ok
    assert result.head is not None and not result.head.found and result.head.log_head == head
