"""`forensics investigate --engine spark` gives the findings the default engine gives
(forensics/spark/case.py): the same SQL run by Spark in local mode, on a case file and on a
Parquet case folder written by `ingest --engine spark`.

Every file of the report folder that carries numbers is compared byte for byte, except what names
the engine or the command line (normalised below). Skipped, saying why, without PySpark or Java.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from forensics import Case, ingest, verify_parquet
from forensics.cli import main
from forensics.publish.parquet_log import LOG
from tests.conftest import SAMPLE_EVIDENCE
from tests.test_spark import spark  # noqa: F401  (the module's SparkSession, or a skip)

# two of the sample's files: unauthenticated record reads, logins and staff; small enough for
# local-mode Spark in CI
FILES = (SAMPLE_EVIDENCE / "edge" / "nginx" / "access.log.2.gz", SAMPLE_EVIDENCE / "app" / "api.jsonl.4.gz")
ARGS = (
    "--endpoint",
    "GET /api/v2/referrals/{id}",
    "--login",
    "POST /api/v2/auth/login",
    "--trusted",
    "partner=51.140.12.32/29",
)
SAME_BYTES = ("affected_records.csv", "actors.csv", "findings.csv", "evidence.csv", "timeline.jsonl")


def _normalised(doc: dict[str, Any]) -> dict[str, Any]:
    """findings.json without what names the engine, the case's place or the command line."""
    doc = json.loads(json.dumps(doc))
    doc["case"].pop("engine")
    doc["case"].pop("path")
    doc["parameters"].pop("command", None)
    doc["reproduce"].pop("command", None)
    return doc


def _investigate(case: Path, out: Path, *extra: str) -> Any:
    result = CliRunner().invoke(main, ["investigate", str(case), *ARGS, "--out", str(out), *extra])
    assert result.exit_code in (0, 3, 4, 5, 6), result.output + repr(result.exception)
    return result


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, spark: Any) -> Iterator[Path]:  # noqa: F811
    root = tmp_path_factory.mktemp("spark-investigate")
    with Case.create(root / "case.duckdb") as case:
        ingest(case, [str(f) for f in FILES])
    _investigate(root / "case.duckdb", root / "duckdb")
    _investigate(root / "case.duckdb", root / "spark", "--engine", "spark")
    yield root


def test_spark_gives_the_findings_duckdb_gives(runs: Path) -> None:
    duck = json.loads((runs / "duckdb" / "findings.json").read_text())
    spark_doc = json.loads((runs / "spark" / "findings.json").read_text())
    assert (duck["case"]["engine"], spark_doc["case"]["engine"]) == ("duckdb", "spark")
    assert duck["verdict"] == spark_doc["verdict"]
    assert duck["records"] == spark_doc["records"]
    assert _normalised(duck) == _normalised(spark_doc)


@pytest.mark.parametrize("name", SAME_BYTES)
def test_every_listing_is_the_same_bytes(runs: Path, name: str) -> None:
    assert (runs / "spark" / name).read_bytes() == (runs / "duckdb" / name).read_bytes()


def test_the_case_log_records_the_spark_run_and_its_export(runs: Path) -> None:
    with Case.open(runs / "case.duckdb", read_only=True) as case:
        rows = case.con.execute("SELECT command, parameters FROM case_log ORDER BY seq").fetchall()
    commands = [c for c, _ in rows]
    assert commands[-4:] == ["export", "export finished", "investigate", "investigate finished"]
    assert json.loads(rows[-2][1])["engine"] == "spark"
    assert "engine" not in json.loads(next(p for c, p in rows if c == "investigate"))  # the first run's
    assert not list(runs.glob(".case.duckdb.spark-*"))  # the export handed to Spark is removed


def test_a_parquet_case_folder_from_a_spark_ingest(runs: Path) -> None:
    folder = runs / "parquet-case"
    result = CliRunner().invoke(main, ["ingest", str(folder), *[str(f) for f in FILES], "--engine", "spark"])
    assert result.exit_code == 0, result.output
    _investigate(folder, runs / "from-folder", "--engine", "spark")
    duck = json.loads((runs / "duckdb" / "findings.json").read_text())
    got = json.loads((runs / "from-folder" / "findings.json").read_text())
    # the sources' ingest times differ between the two ingests; the rest is the same
    for doc in (duck, got):
        for source in doc["sources"]["files"] if isinstance(doc["sources"], dict) else []:
            source.pop("ingested_at", None)
    assert _normalised(duck) == _normalised(got)
    for name in SAME_BYTES:
        assert (runs / "from-folder" / name).read_bytes() == (runs / "duckdb" / name).read_bytes(), name
    # the folder's own log grew by the investigation, and the folder still passes its check
    check = verify_parquet(folder)
    assert check.ok, check.problems
    import duckdb

    commands = [
        r[0]
        for r in duckdb.sql(f"SELECT command FROM read_parquet('{folder / LOG}') ORDER BY seq").fetchall()
    ]
    assert commands[-2:] == ["investigate", "investigate finished"]


def test_spark_options_need_the_spark_engine(runs: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["investigate", str(runs / "case.duckdb"), "--spark-master", "local[1]", "--out", str(runs / "x")],
    )
    assert result.exit_code == 2
    assert re.search(r"--spark-master .*--engine spark", result.output)
