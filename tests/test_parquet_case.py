"""A Parquet case folder investigated in place by DuckDB (forensics/publish/parquet_case.py).

The folder a case file's export writes is investigated without an import: the report's files
carry the numbers the case file gives, byte for byte (findings.json apart from the case's path and
the command line), the folder's evidence files are left as they were, its log records the run, and
a folder that fails its check is refused before anything is judged.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import duckdb
import pytest
from click.testing import CliRunner, Result

from forensics import Case, export_parquet, ingest, verify_parquet
from forensics.cli import main
from forensics.publish.parquet_case import open_parquet
from forensics.publish.parquet_check import MANIFEST
from forensics.publish.parquet_log import LOG, folder_lock
from tests.conftest import SAMPLE_EVIDENCE

# record reads, logins and staff, and a truncated archive with a rejected line
FILES = (
    SAMPLE_EVIDENCE / "edge" / "nginx" / "access.log.2.gz",
    SAMPLE_EVIDENCE / "edge" / "nginx" / "access.log.14.gz",
    SAMPLE_EVIDENCE / "app" / "api.jsonl.4.gz",
)
ARGS = (
    "--endpoint",
    "GET /api/v2/referrals/{id}",
    "--login",
    "POST /api/v2/auth/login",
    "--trusted",
    "partner=51.140.12.32/29",
)
SAME_BYTES = ("affected_records.csv", "actors.csv", "findings.csv", "evidence.csv", "timeline.jsonl")


def _investigate(case: Path, out: Path, *extra: str) -> Result:
    return CliRunner().invoke(main, ["investigate", str(case), *ARGS, "--out", str(out), *extra])


def _digests(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _without_place(doc: dict[str, Any]) -> dict[str, Any]:
    doc = json.loads(json.dumps(doc))
    doc["case"].pop("path")
    doc["parameters"].pop("command", None)
    doc["reproduce"].pop("command", None)
    return doc


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("parquet-case")
    with Case.create(root / "case.duckdb") as case:
        ingest(case, [str(f) for f in FILES])
        export_parquet(case, root / "folder")
    before = _digests(root / "folder")
    file_run = _investigate(root / "case.duckdb", root / "from-file")
    folder_run = _investigate(root / "folder", root / "from-folder")
    return {"root": root, "before": before, "file": file_run, "folder": folder_run}


def test_the_folder_gives_the_verdict_and_numbers_the_case_file_gives(runs: dict[str, Any]) -> None:
    root = runs["root"]
    assert runs["folder"].exit_code == runs["file"].exit_code, runs["folder"].output
    assert runs["file"].exit_code in (3, 4, 5, 6), runs["file"].output  # a verdict was reached
    from_file = json.loads((root / "from-file" / "findings.json").read_text())
    from_folder = json.loads((root / "from-folder" / "findings.json").read_text())
    assert from_folder["case"]["path"] == str(root / "folder")
    assert from_folder["case"]["engine"] == "duckdb"
    assert from_file["records"]["confirmed"] > 0
    assert _without_place(from_folder) == _without_place(from_file)


@pytest.mark.parametrize("name", SAME_BYTES)
def test_every_listing_is_the_same_bytes(runs: dict[str, Any], name: str) -> None:
    root = runs["root"]
    assert (root / "from-folder" / name).read_bytes() == (root / "from-file" / name).read_bytes()


def test_the_evidence_files_are_untouched_and_the_log_records_the_run(runs: dict[str, Any]) -> None:
    folder = runs["root"] / "folder"
    after = _digests(folder)
    changed = {
        name for name in after.keys() | runs["before"].keys() if after.get(name) != runs["before"].get(name)
    }
    assert changed == {LOG, MANIFEST}  # only the log grew; no file added or removed
    commands = [
        r[0]
        for r in duckdb.sql(f"SELECT command FROM read_parquet('{folder / LOG}') ORDER BY seq").fetchall()
    ]
    assert commands[-2:] == ["investigate", "investigate finished"]
    check = verify_parquet(folder)
    assert check.ok, check.problems
    assert not list(runs["root"].glob(".folder.duckdb-*"))  # the work folder is removed


def test_a_changed_event_file_is_refused_before_anything_is_judged(tmp_path: Path) -> None:
    with Case.create(tmp_path / "case.duckdb") as case:
        ingest(case, [str(FILES[0])])
        export_parquet(case, tmp_path / "folder")
    part = sorted((tmp_path / "folder" / "events").rglob("*.parquet"))[0]
    duckdb.sql(
        f"COPY (SELECT * REPLACE (200 AS status) FROM read_parquet('{part}')) TO '{part}.new' (FORMAT parquet)"
    )
    Path(f"{part}.new").replace(part)
    result = _investigate(tmp_path / "folder", tmp_path / "out")
    assert result.exit_code == 1, result.output
    assert "failed its check" in result.output and "the manifest says" in result.output
    assert not (tmp_path / "out").exists()


def test_a_folder_that_is_not_a_case_and_an_out_inside_the_case_are_refused(
    runs: dict[str, Any], tmp_path: Path
) -> None:
    (tmp_path / "logs").mkdir()
    result = _investigate(tmp_path / "logs", tmp_path / "out")
    assert result.exit_code == 1
    assert "not a Parquet case folder" in result.output
    folder = runs["root"] / "folder"
    result = _investigate(folder, folder / "report")
    assert result.exit_code == 2
    assert "inside the Parquet case folder" in result.output
    assert not (folder / "report").exists()


def test_the_library_reads_the_folder_as_a_case(runs: dict[str, Any]) -> None:
    with (
        open_parquet(runs["root"] / "folder") as case,
        Case.open(runs["root"] / "case.duckdb", read_only=True) as ref,
    ):
        query = "SELECT count(*), sum(status), min(ts), max(ts) FROM events"
        assert case.con.execute(query).fetchall() == ref.con.execute(query).fetchall()
        assert case.raw_lines(1, [1, 2]) == ref.raw_lines(1, [1, 2])
        with pytest.raises(ValueError, match="evidence"):
            case.reclaim(("events",))


def test_no_evidence_table_is_copied_into_the_work_database(runs: dict[str, Any]) -> None:
    """In place means in place: the events, rejects, sources and log are views over the folder's
    files, never tables of the work DuckDB (a copy of the events costs a case file's disk)."""
    with open_parquet(runs["root"] / "folder") as case:
        tables = {r[0] for r in case.con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        views = {
            r[0] for r in case.con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()
        }
        assert {"events", "rejects", "sources", "case_log"} <= views
        assert not tables & {"events", "rejects", "sources", "case_log"}
        plan = str(case.con.execute("EXPLAIN SELECT count(*) FROM events").fetchall())
        assert "PARQUET" in plan.upper()


def _log_commands(folder: Path) -> list[str]:
    sql = f"SELECT command FROM read_parquet('{folder / LOG}') ORDER BY seq"
    return [r[0] for r in duckdb.sql(sql).fetchall()]


@pytest.fixture
def copied(tmp_path: Path) -> Path:
    """A Parquet case folder of copies of two sample files (so they can be changed)."""
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    for f in FILES[:2]:
        (evidence / f.name).write_bytes(f.read_bytes())
    with Case.create(tmp_path / "case.duckdb") as case:
        ingest(case, [str(evidence)])
        export_parquet(case, tmp_path / "folder")
    return tmp_path / "folder"


def test_verify_checks_a_folder_and_logs_itself_there(copied: Path) -> None:
    head = json.loads((copied / MANIFEST).read_text())["log_head"]["entry_hash"]
    result = CliRunner().invoke(main, ["verify", str(copied), "--head", head])
    assert result.exit_code == 0, result.output
    assert "OK: verified" in result.output and "the head you gave is in the chain" in result.output
    assert _log_commands(copied)[-2:] == ["verify", "verify finished"]
    assert verify_parquet(copied).ok
    doc = json.loads(CliRunner().invoke(main, ["verify", str(copied), "--json"]).output)
    assert doc["ok"] and doc["logged"] and doc["evidence_files"] == 2
    assert doc["folder"]["rows_checked"] > 0


def test_verify_names_a_changed_evidence_file_and_a_changed_parquet_file(copied: Path) -> None:
    commands = _log_commands(copied)
    evidence = copied.parent / "evidence" / FILES[0].name
    evidence.write_bytes(evidence.read_bytes() + b"\n")
    result = CliRunner().invoke(main, ["verify", str(copied)])
    assert result.exit_code == 1
    assert re.search(rf"MISMATCH source \d changed: {re.escape(str(evidence))}", result.output)
    part = sorted((copied / "events").rglob("*.parquet"))[0]
    part.write_bytes(part.read_bytes()[:-8] + b"\0" * 8)
    result = CliRunner().invoke(main, ["verify", str(copied)])
    assert result.exit_code == 1
    assert "SHA-256 differs from the manifest" in result.output
    assert _log_commands(copied) == commands  # a folder that failed is left as found


def test_verify_refuses_a_wrong_head_and_reparse_on_a_folder(copied: Path) -> None:
    result = CliRunner().invoke(main, ["verify", str(copied), "--head", "0" * 64])
    assert result.exit_code == 1
    assert "HEAD NOT FOUND" in result.output and "evidence and folder match" in result.output
    result = CliRunner().invoke(main, ["verify", str(copied), "--reparse", "1"])
    assert result.exit_code == 2 and "--reparse needs a case file" in result.output


@pytest.mark.parametrize(
    "argv",
    [
        [
            "detect",
            "--endpoint",
            "GET /api/v2/referrals/{id}",
            "--login",
            "POST /api/v2/auth/login",
            "--json",
        ],
        ["routes", "--endpoint", "GET /api/v2/referrals/{id}", "--json"],
        ["actors", "--endpoint", "GET /api/v2/referrals/{id}", "--json"],
    ],
    ids=["detect", "routes", "actors"],
)
def test_the_listing_commands_read_a_folder_as_they_read_the_case_file(
    runs: dict[str, Any], argv: list[str]
) -> None:
    root = runs["root"]
    on_file = CliRunner().invoke(main, [argv[0], str(root / "case.duckdb"), *argv[1:]])
    on_folder = CliRunner().invoke(main, [argv[0], str(root / "folder"), *argv[1:]])
    assert on_file.exit_code == on_folder.exit_code == 0, on_folder.output
    assert json.loads(on_folder.stdout) == json.loads(on_file.stdout)
    assert json.loads(on_file.stdout)  # something was listed


def test_a_folder_another_command_holds_is_refused_not_interleaved(copied: Path, tmp_path: Path) -> None:
    commands = _log_commands(copied)
    with folder_lock(copied):  # as a second process would hold it (flock is per open descriptor)
        for argv in (
            ["investigate", str(copied), *ARGS, "--out", str(tmp_path / "out")],
            ["verify", str(copied)],
        ):
            result = CliRunner().invoke(main, argv)
            assert result.exit_code == 1, result.output
            assert "is in use by another command" in result.output
    assert _log_commands(copied) == commands
    assert CliRunner().invoke(main, ["verify", str(copied)]).exit_code == 0  # released
