"""``forensics ingest OUT_DIR EVIDENCE… --engine spark`` (forensics/spark/ingest.py): Spark tasks run
the embedded ingest per file, and the folder equals what the embedded ingest + ``forensics export
--parquet`` give, row for row, checked by ``verify_parquet``.

Needs PySpark (the ``[spark]`` extra) and a Java runtime; skipped, saying which is missing, without.
One local[2] session for the module; the inputs are small except the sample.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from click.testing import CliRunner

from forensics import Case, ingest
from forensics.cli import main
from forensics.errors import CaseError
from forensics.ingest.run import IngestReport
from forensics.publish.parquet import export_parquet
from forensics.publish.parquet_check import MANIFEST, verify_parquet
from tests.conftest import COMBINED, SAMPLE_EVIDENCE, write_lines
from tests.test_spark import _spark_missing

# sources columns that differ by nature: when each row was written
SOURCES_DIFFER = ("ingested_at",)


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    reason = _spark_missing()
    if reason:
        pytest.skip(reason)
    from forensics.spark.session import local_session

    session = local_session(cores=2, memory="1g")
    yield session
    session.stop()


def _embedded(evidence: list[Path], root: Path) -> tuple[Path, IngestReport]:
    """The embedded ingest of ``evidence`` and its Parquet export."""
    with Case.create(root / "case.duckdb") as case:
        report = ingest(case, evidence)
        export_parquet(case, root / "export")
    return root / "export", report


def _read(out: Path, table: str) -> str:
    if table == "events":
        return f"read_parquet('{out}/events/*/*.parquet', hive_partitioning = false)"
    return f"read_parquet('{out}/{table}.parquet')"


def _same_rows(a: Path, b: Path) -> None:
    """events, rejects and sources (but SOURCES_DIFFER) hold the same rows, with the same types."""
    con = duckdb.connect()
    for table in ("events", "rejects", "sources"):
        drop = f" EXCLUDE ({', '.join(SOURCES_DIFFER)})" if table == "sources" else ""
        one, two = f"SELECT *{drop} FROM {_read(a, table)}", f"SELECT *{drop} FROM {_read(b, table)}"
        assert con.execute(f"DESCRIBE {one}").fetchall() == con.execute(f"DESCRIBE {two}").fetchall(), table
        for x, y in ((one, two), (two, one)):
            assert con.execute(f"SELECT count(*) FROM ({x} EXCEPT ALL {y})").fetchone() == (0,), table
        count = con.execute(f"SELECT count(*) FROM ({one})").fetchone()
        assert count == con.execute(f"SELECT count(*) FROM ({two})").fetchone(), table


def _log(out: Path) -> list[tuple[str, dict[str, Any]]]:
    rows = duckdb.connect().execute(f"SELECT command, parameters FROM {_read(out, 'case_log')} ORDER BY seq")
    return [(str(c), json.loads(p)) for c, p in rows.fetchall()]


def _statuses(report: IngestReport) -> list[tuple[str, str, int | None, int, int, int, list[str]]]:
    return [
        (r.path.name, r.status, r.source_id, r.lines, r.events, r.rejects, r.warnings) for r in report.results
    ]


@pytest.fixture(scope="module")
def sample(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Any]:
    """The sample ingested both ways: (embedded export, Spark folder, ingest_spark's result)."""
    from forensics.spark.ingest import ingest_spark

    root = tmp_path_factory.mktemp("spark-ingest-sample")
    exported, _ = _embedded([SAMPLE_EVIDENCE], root)
    done = ingest_spark([SAMPLE_EVIDENCE], root / "spark", session=spark)
    return exported, root / "spark", done


def test_the_sample_ingested_by_spark_equals_the_embedded_ingest_and_export(
    sample: tuple[Path, Path, Any],
) -> None:
    exported, out, done = sample
    assert done.out == out and done.check.ok and (out / MANIFEST).is_file()
    assert not list(out.parent.glob(".spark.*.partial"))
    _same_rows(exported, out)
    # the layout export writes: events by UTC day, the whole tables, the manifest
    names = {p.relative_to(out).as_posix().split("/")[0] for p in out.iterdir()}
    assert names == {
        "events",
        "rejects.parquet",
        "sources.parquet",
        "case_log.parquet",
        "meta.parquet",
        MANIFEST,
    }
    assert all(d.name.startswith("day=") for d in (out / "events").iterdir())
    assert duckdb.connect().execute(f"SELECT * FROM {_read(out, 'meta')} ORDER BY key").fetchall() == (
        duckdb.connect().execute(f"SELECT * FROM {_read(exported, 'meta')} ORDER BY key").fetchall()
    )
    # the case log: the embedded ingest's entries, the engine named, the same summary
    embedded, spark = _log(exported), _log(out)
    assert [c for c, _ in spark] == ["ingest", "ingest batch", "ingest finished"]
    commands = [c for c, _ in embedded]
    assert commands[0] == "ingest" and commands[-2:] == ["ingest finished", "export"]
    assert spark[0][1] == {**embedded[0][1], "engine": "spark", "spark_master": "local[2]"}
    same = ("files", "lines", "events", "rejects", "entry_rejects", "source_ids")
    finished = next(p for c, p in embedded if c == "ingest finished")
    assert {k: spark[-1][1][k] for k in same} == {k: finished[k] for k in same}
    digests = {s: d for c, p in embedded if c == "ingest batch" for s, d in p["sources"].items()}
    assert spark[1][1]["sources"] == digests  # the same row digests, source by source
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["log_head"]["entry_hash"] == done.log_head
    assert manifest["written_by"]["engine"] == "spark"


def _odd_evidence(folder: Path) -> list[Path]:
    """A file with rejects, its copy (a duplicate), a truncated gzip, an empty and a binary file."""
    rejecting = write_lines(
        folder / "a" / "access.log", [*COMBINED, "this is not a log line", "", COMBINED[0]]
    )
    (folder / "b").mkdir()
    shutil.copy(rejecting, folder / "b" / "copy.log")
    packed = gzip.compress(("\n".join(COMBINED * 40) + "\n").encode())
    (folder / "b" / "cut.log.gz").write_bytes(packed[: len(packed) - 25])
    (folder / "b" / "empty.log").write_bytes(b"")
    (folder / "c.bin").write_bytes(bytes(range(256)) * 4)
    return [folder / "a", folder / "b", folder / "c.bin"]


@pytest.fixture(scope="module")
def odd(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, IngestReport, Path, Any]:
    from forensics.spark.ingest import ingest_spark

    root = tmp_path_factory.mktemp("spark-ingest-odd")
    evidence = _odd_evidence(root / "evidence")
    exported, report = _embedded(evidence, root)
    return exported, report, root / "spark", ingest_spark(evidence, root / "spark", session=spark)


def test_duplicates_truncated_archives_and_rejects_behave_as_embedded(
    odd: tuple[Path, IngestReport, Path, Any],
) -> None:
    exported, report, out, done = odd
    statuses = {r.path.name: r.status for r in report.results}
    assert statuses == {
        "access.log": "ingested",
        "copy.log": "duplicate",
        "cut.log.gz": "ingested",
        "empty.log": "empty",
        "c.bin": "unrecognised",
    }
    assert _statuses(done.report) == _statuses(report)
    # a duplicate's message names its original by source id (the embedded ingest names it by path
    # while the original's batch is still being parsed); the stored rows are the same
    messages = [(r.message, s.message) for r, s in zip(done.report.results, report.results, strict=True)]
    assert [a == b for a, b in messages] == [r.status != "duplicate" for r in report.results], messages
    _same_rows(exported, out)
    con = duckdb.connect()
    cut = con.execute(
        f"SELECT reason FROM {_read(out, 'rejects')} r JOIN {_read(out, 'sources')} s USING (source_id) "
        "WHERE s.path LIKE '%cut.log.gz'"
    ).fetchall()
    assert cut == [("cut short: the last line of a truncated file",)]
    (_, spark_done), (_, embedded_done) = (
        _log(out)[-1],
        next(e for e in _log(exported) if e[0] == "ingest finished"),
    )
    assert (
        spark_done["files"]
        == embedded_done["files"]
        == {
            "ingested": 2,
            "duplicate": 1,
            "empty": 1,
            "unrecognised": 1,
        }
    )


def test_the_same_evidence_gives_the_same_data_files(
    spark: Any, odd: tuple[Path, IngestReport, Path, Any], tmp_path: Path
) -> None:
    from forensics.spark.ingest import ingest_spark

    _, _, out, _ = odd
    again = ingest_spark(_odd_evidence(tmp_path / "evidence"), tmp_path / "again", session=spark).out

    def data(folder: Path) -> dict[str, str]:
        files = [*folder.glob("events/*/*.parquet"), folder / "rejects.parquet"]
        return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}

    assert data(again) == data(out)


def test_verify_passes_and_a_changed_row_fails_it(
    odd: tuple[Path, IngestReport, Path, Any], tmp_path: Path
) -> None:
    _, _, built, _ = odd
    out = tmp_path / "copy"
    shutil.copytree(built, out)
    assert verify_parquet(out).ok
    victim = sorted(out.glob("events/*/*.parquet"))[0]
    edited = victim.with_suffix(".new")
    duckdb.connect().execute(
        f"COPY (SELECT * REPLACE (CASE WHEN line_no = 1 THEN 500 ELSE status END AS status) "
        f"FROM read_parquet('{victim}', hive_partitioning = false)) TO '{edited}' (FORMAT parquet)"
    )
    edited.replace(victim)
    manifest = json.loads((out / MANIFEST).read_text())
    for f in manifest["files"]:  # a tamperer who rewrites the manifest too is caught by the digests
        if (out / f["path"]) == victim:
            f["bytes"], f["sha256"] = victim.stat().st_size, hashlib.sha256(victim.read_bytes()).hexdigest()
    (out / MANIFEST).write_text(json.dumps(manifest))
    check = verify_parquet(out)
    assert not check.ok and check.files == []
    assert [(m.table, m.path.endswith("access.log")) for m in check.rows] == [("events", True)], (
        check.problems
    )


def test_a_folder_that_is_not_empty_or_a_case_file_is_refused(spark: Any, tmp_path: Path) -> None:
    from forensics.spark.ingest import ingest_spark

    evidence = write_lines(tmp_path / "ev" / "access.log", COMBINED)
    full = tmp_path / "full"
    full.mkdir()
    (full / "notes.txt").write_text("mine")
    with pytest.raises(CaseError, match="is not empty"):
        ingest_spark([evidence], full, session=spark)
    assert sorted(p.name for p in full.iterdir()) == ["notes.txt"]
    with pytest.raises(CaseError, match="Parquet case folder"):
        ingest_spark([evidence], tmp_path / "case.duckdb", session=spark)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ev", "full"]  # no temporary folder left
    result = CliRunner().invoke(main, ["ingest", str(full), str(evidence), "--engine", "spark"])
    assert result.exit_code == 1 and "is not empty" in result.stderr, result.output


def test_cli_writes_the_folder_and_prints_the_summary(spark: Any, tmp_path: Path) -> None:
    write_lines(tmp_path / "ev" / "access.log", [*COMBINED, "not a log line"])
    out = tmp_path / "parquet-case"
    result = CliRunner().invoke(
        main, ["ingest", str(out), str(tmp_path / "ev"), "--engine", "spark", "--accept-rejects"]
    )
    assert result.exit_code == 0, result.output + result.stderr
    assert "files: 1 ingested" in result.stdout and "events: 3" in result.stdout
    assert "Parquet case: " in result.stdout and "case log head: " in result.stderr
    assert verify_parquet(out).ok
    # the default engine keeps refusing a folder as CASE
    result = CliRunner().invoke(main, ["ingest", str(tmp_path / "ev"), str(tmp_path / "ev")])
    assert result.exit_code == 2 and "is a folder" in result.stderr


def test_without_spark_the_cli_says_what_to_install_and_writes_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Runs without Spark: the check is what is replaced."""
    from forensics.spark import ingest as spark_ingest

    write_lines(tmp_path / "ev" / "access.log", COMBINED)
    for why in ("--engine spark needs PySpark: install the [spark] extra", "Spark needs Java 17+: no java"):
        monkeypatch.setattr(spark_ingest, "spark_missing", lambda why=why: why)
        result = CliRunner().invoke(
            main, ["ingest", str(tmp_path / "out"), str(tmp_path / "ev"), "--engine", "spark"]
        )
        assert result.exit_code == 2 and why in result.stderr, result.output
        assert sorted(p.name for p in tmp_path.iterdir()) == ["ev"]
