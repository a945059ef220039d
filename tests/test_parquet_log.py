"""A Parquet case folder's log grows as a case file's does (forensics/publish/parquet_log.py):
entries appended by what runs on the folder, the chain and the manifest kept, the evidence files
untouched, and tampering still caught."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest

from forensics import Case, export_parquet, ingest, verify_parquet
from forensics.errors import ExportError
from forensics.publish.parquet_check import MANIFEST
from forensics.publish.parquet_log import LOG, ParquetCaseLog
from forensics.store import custody
from tests.conftest import SAMPLE_EVIDENCE


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("plog")
    with Case.create(root / "case.duckdb") as case:
        ingest(case, [SAMPLE_EVIDENCE / "edge" / "nginx" / "access.log.2.gz"])
        export_parquet(case, root / "export")
    return root / "export"


def _copy(exported: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "export"
    shutil.copytree(exported, folder)
    return folder


def _entries(folder: Path) -> list[tuple[int, str, str]]:
    rows = duckdb.sql(
        f"SELECT seq, command, parameters FROM read_parquet('{folder / LOG}') ORDER BY seq"
    ).fetchall()
    return [(int(s), str(c), str(p)) for s, c, p in rows]


def test_entries_are_appended_with_the_chain_and_the_manifest_kept(exported: Path, tmp_path: Path) -> None:
    folder = _copy(exported, tmp_path)
    before = _entries(folder)
    evidence = {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*.parquet") if p.name != LOG}
    log = ParquetCaseLog(folder)
    started = log.log_command("investigate", {"engine": "spark", "out": "report"})
    done = log.log_result(started, "investigate", {"verdict": "confirmed"})
    after = _entries(folder)
    assert after[: len(before)] == before  # nothing before is rewritten
    assert [(s, c) for s, c, _ in after[len(before) :]] == [
        (started, "investigate"),
        (done, "investigate" + custody.FINISHED),
    ]
    assert json.loads(after[-1][2]) == {"of": started, "verdict": "confirmed"}
    check = verify_parquet(folder)
    assert check.ok, check.problems  # the chain holds, the manifest names the new head and file
    manifest = json.loads((folder / MANIFEST).read_text())
    assert manifest["log_head"]["seq"] == done
    assert log.log_head() == manifest["log_head"]["entry_hash"]
    # the evidence files are not touched
    assert {
        p.relative_to(folder): p.read_bytes() for p in folder.rglob("*.parquet") if p.name != LOG
    } == evidence
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no temporary file left


def test_a_log_edited_after_the_append_is_caught(exported: Path, tmp_path: Path) -> None:
    folder = _copy(exported, tmp_path)
    ParquetCaseLog(folder).log_command("investigate", {"out": "a"})
    con = duckdb.connect()
    con.execute(f"CREATE TABLE l AS SELECT * FROM read_parquet('{folder / LOG}')")
    con.execute("UPDATE l SET parameters = '{\"out\": \"b\"}' WHERE command = 'investigate'")
    con.execute(f"COPY (SELECT * FROM l ORDER BY seq) TO '{folder / LOG}' (FORMAT parquet)")
    check = verify_parquet(folder)
    assert not check.ok
    assert any("case_log" in p for p in check.problems)


def test_a_folder_that_is_not_an_export_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="manifest"):
        ParquetCaseLog(tmp_path)
