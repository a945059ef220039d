"""``forensics ingest OUT_DIR EVIDENCE… --engine spark``: evidence files ingested by Spark tasks into
a Parquet case folder laid out as ``forensics export --parquet`` writes it.

How (README, "Ingest on Spark"):

* the driver finds the evidence files exactly as the embedded ingest does (``find_files``, the
  evidence boundary) and hands each file to a Spark task with the source id it has in input
  order (a file's position, 1-based);
* each task ingests its one file with the embedded ingest itself (``ingest_paths``) into a
  temporary DuckDB case of its own: hashing, sniffing, decompression, truncated archives,
  rejects, warnings and the row digests (with the file's global source id, which the digest
  covers) are that code's. It writes the file's events, partitioned by UTC day, and its rejects
  as Parquet into a staging folder, and returns the file's source row, its result and the row
  digests its ``ingest batch`` entry recorded — a few hundred bytes, never rows;
* the driver keeps the first ingested file of each SHA-256 in input order and records later
  copies as ``duplicate`` of it (their staged rows are dropped), as the embedded ingest does;
  it moves the kept files into ``events/day=…/``, has one more task merge the rejects into
  ``rejects.parquet`` (sorted by source and line), and writes the small tables (sources,
  case_log, meta) from a temporary DuckDB case of its own, whose case log has the embedded
  ingest's entries: ``ingest`` (with ``engine``), ``ingest batch`` (the tasks' digests),
  ``ingest finished``;
* everything is written into a temporary sibling folder (``.OUT.<pid>-<token>.partial``),
  checked there by ``verify_parquet`` (files, chain, every source's rows digested again), and only
  then renamed to OUT; on any failure it is removed and nothing is at OUT.

The driver holds one small record per evidence file; events and rejects only pass through
tasks (and the final ``verify_parquet``, which DuckDB streams). Data files are written by DuckDB
on one thread in line order, so the same evidence gives byte-identical events and rejects files.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from forensics.errors import CaseError, ForensicsError, SparkUnavailableError
from forensics.ingest import rowdigest
from forensics.ingest.batch import insert_sources, source_row
from forensics.ingest.evidence import Boundary, EvidenceFile, display_path, find_files, sha256_file
from forensics.ingest.run import (
    FileResult,
    IngestOptions,
    IngestReport,
    _summary,
    check_inputs,
    ingest_parameters,
    ingest_paths,
)
from forensics.publish.parquet import PARTIAL, ExportedFile, _describe, _json, _manifest, _remove_leftovers
from forensics.publish.parquet_check import (
    EVENTS,
    MANIFEST,
    WHOLE_TABLES,
    ParquetCheck,
    column_types,
    verify_parquet,
)
from forensics.spark.runtime import spark_missing
from forensics.store import custody
from forensics.store.case import Case, tool_version
from forensics.store.db import sql_list, sql_str
from forensics.store.printable import printable
from forensics.store.schema import SOURCE_COLUMNS

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

ENGINE = "spark"
STAGING = ".staging"  # inside the temporary folder: each task's own output, before the driver keeps it
DIGEST_ENTRY_SOURCES = 1000  # sources per `ingest batch` entry (the embedded ingest's BATCH_FILES)
SMALL_TABLES = ("sources", "case_log", "meta")


@dataclass(frozen=True)
class _Job:
    """One evidence file for one task."""

    source_id: int  # its position in input order, 1-based
    path: Path
    boundary: Boundary
    options: IngestOptions
    staging: Path  # the task writes into staging/<source_id>/


@dataclass(frozen=True)
class _Outcome:
    """What a task hands back: one file's source row, result and recorded digests (no rows)."""

    source_id: int
    row: tuple[Any, ...]  # its sources row, in SOURCE_COLUMNS order
    result: FileResult
    digests: dict[str, rowdigest.RowDigest]  # table -> digest (ingested files only)
    event_files: tuple[str, ...]  # staged, relative to the temporary folder: day=…/data_N.parquet
    rejects_file: str | None


@dataclass(frozen=True)
class SparkIngest:
    """A Parquet case folder written by ``ingest_spark``."""

    out: Path
    report: IngestReport  # per evidence file, in input order (as ``ingest`` returns it)
    manifest_sha256: str
    files: list[ExportedFile]  # sorted by path
    tables: dict[str, int]  # rows per table
    log_head: str  # the hash of the case log's last entry (``ingest finished``)
    check: ParquetCheck  # verify_parquet's result on the folder before it was renamed (ok)
    master: str
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "out": str(self.out),
            "engine": ENGINE,
            "master": self.master,
            "manifest": {"path": str(self.out / MANIFEST), "sha256": self.manifest_sha256},
            "tables": self.tables,
            "bytes": sum(f.bytes for f in self.files),
            "check": self.check.to_dict(),
            "log_head": self.log_head,
            "notes": list(self.notes),
        }


def default_master() -> str:
    """``local[N]`` with N the machine's cores (``local[*]``, written out)."""
    return f"local[{os.cpu_count() or 1}]"


def check_out_dir(out_dir: str | Path) -> Path:
    """The folder to create, absolute; raises CaseError when it is a case file, a link, a file or a
    folder that is not empty (nothing is written then)."""
    out = Path(os.path.abspath(out_dir))
    if out.suffix == ".duckdb":
        raise CaseError(
            f"{out} names a DuckDB case file: --engine spark writes a Parquet case folder; give a folder "
            "name (or leave out --engine spark to make a case file)"
        )
    if out.is_symlink():
        raise CaseError(f"{out} is a symbolic link: give a new folder for the Parquet case")
    if out.exists():
        if not out.is_dir():
            raise CaseError(f"{out} exists and is not a folder: give a new folder for the Parquet case")
        if any(out.iterdir()):
            raise CaseError(
                f"{out} is not empty: give a new (or empty) folder for the Parquet case; nothing was written"
            )
    return out


def ingest_spark(
    inputs: Iterable[str | Path],
    out_dir: str | Path,
    options: IngestOptions | None = None,
    session: SparkSession | None = None,
    *,
    master: str | None = None,
) -> SparkIngest:
    """Ingest ``inputs`` with Spark tasks into the new Parquet case folder ``out_dir`` (module doc).

    ``session``: a SparkSession to use (kept running); without one a session is made on ``master``
    (default ``default_master()``) and stopped at the end. Raises before anything is written when
    the inputs or options are wrong (as ``ingest``), ``out_dir`` is not a new or empty folder, or
    Spark cannot run (SparkUnavailableError); after, when the folder fails its check or has no
    events (then nothing is left at ``out_dir``)."""
    opts = options or IngestOptions()
    inputs = list(inputs)
    check_inputs(inputs, opts)
    out = check_out_dir(out_dir)
    paths = [p for p in find_files(inputs, opts.follow_links) if not _is_output(p, out)]
    if session is None:
        why = spark_missing()
        if why:
            raise SparkUnavailableError(why)
    notes = _remove_leftovers(out)
    with _session(session, master) as (spark, used):
        done = _ingest(spark, used, inputs, paths, out, opts)
    return replace(done, notes=tuple(notes))


@contextmanager
def _session(given: SparkSession | None, master: str | None) -> Iterator[tuple[SparkSession, str]]:
    if given is not None:
        yield given, str(given.sparkContext.master or "")
        return
    from pyspark.sql import SparkSession

    from forensics.spark.session import spark_session

    wanted = master or default_master()
    existing = SparkSession.getActiveSession()
    spark = spark_session(wanted)
    try:
        yield spark, str(spark.sparkContext.master or wanted)
    finally:
        if existing is None:
            spark.stop()


def _is_output(path: Path, out: Path) -> bool:
    """The folder being written (or a killed run's temporary folder beside it) is never evidence."""
    if path == out or path.is_relative_to(out):
        return True
    partial = re.compile(rf"^\.{re.escape(out.name)}\.\d+-[0-9a-f]+{re.escape(PARTIAL)}$")
    return any(partial.match(parent.name) for parent in path.parents if parent.parent == out.parent)


def _ingest(
    spark: SparkSession,
    master: str,
    inputs: list[str | Path],
    paths: list[Path],
    out: Path,
    opts: IngestOptions,
) -> SparkIngest:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.{os.getpid()}-{secrets.token_hex(4)}{PARTIAL}"
    tmp.mkdir(mode=0o700)
    try:
        with tempfile.TemporaryDirectory(prefix="forensics-spark-ingest-") as work:
            boundary = Boundary.of(inputs, opts.follow_links)
            jobs = [_Job(i, p, boundary, opts, tmp / STAGING) for i, p in enumerate(paths, start=1)]
            outcomes = _run_tasks(spark, jobs)
            with Case.create(Path(work) / "case.duckdb") as case:
                done = _gather(spark, case, master, paths, boundary, outcomes, tmp, opts)
                shutil.rmtree(tmp / STAGING, ignore_errors=True)
                done = _finish(case, done, tmp, Path(work))
        try:
            os.rename(tmp, out)  # onto an empty folder too (POSIX)
        except OSError as exc:
            why = "something else wrote into it meanwhile" if out.is_dir() else "it cannot be made"
            raise CaseError(
                f"cannot move the Parquet case into {out}: {why} ({exc}); nothing was written to it"
            ) from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return replace(done, out=out)


def _run_tasks(spark: SparkSession, jobs: list[_Job]) -> list[_Outcome]:
    """One task per evidence file; the outcomes in input order."""
    if not jobs:
        return []
    rdd = spark.sparkContext.parallelize(jobs, len(jobs))
    try:
        outcomes: list[_Outcome] = rdd.map(ingest_task).collect()
    except Exception as exc:  # a task that failed outside the embedded ingest's own care (a bug, a full disk)
        raise ForensicsError(f"the Spark ingest job failed; nothing was written: {_last_line(exc)}") from exc
    return sorted(outcomes, key=lambda o: o.source_id)


def _last_line(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    python = [ln for ln in lines if re.match(r"^[A-Za-z_.]*(Error|Exception)\b", ln)]
    return printable((python or lines or [type(exc).__name__])[-1])[:500]


def ingest_task(job: _Job) -> _Outcome:
    """In a Spark task: the embedded ingest of one file into a DuckDB case of its own, its rows
    written as Parquet into ``job.staging/<source_id>/``; returns its source row, result and digests."""
    sid = job.source_id
    with (
        tempfile.TemporaryDirectory(prefix="forensics-spark-task-") as work,
        Case.create(Path(work) / "task.duckdb") as case,
    ):
        con = case.con
        con.execute("SET threads = 1")  # Spark gives each task one core
        result = ingest_paths(case, [job.path], job.boundary, job.options, first_source_id=sid).results[0]
        # a file refused after its parse is recorded under the next id; here it keeps its own
        result = replace(result, source_id=sid if result.source_id is not None else None)
        cols = ", ".join(SOURCE_COLUMNS)
        rows = con.execute(f"SELECT {cols} FROM sources ORDER BY source_id").fetchall()
        if len(rows) != 1:
            raise ForensicsError(f"{display_path(job.path)}: {len(rows)} source rows from one file")
        row = (sid, *rows[0][1:])
        if result.status != "ingested":
            return _Outcome(sid, row, result, {}, (), None)
        recorded, problems = rowdigest.recorded(con)
        if problems or sid not in recorded:
            raise ForensicsError(f"{display_path(job.path)}: its row digests were not recorded ({problems})")
        own = job.staging / f"{sid:08d}"
        own.mkdir(parents=True, exist_ok=True)
        con.execute(
            f"COPY (SELECT *, (ts AT TIME ZONE 'UTC')::DATE AS day FROM {EVENTS} ORDER BY line_no) "
            f"TO {sql_str(str(own / EVENTS))} (FORMAT parquet, PARTITION_BY (day))"
        )
        con.execute(
            f"COPY (SELECT * FROM rejects ORDER BY line_no) "
            f"TO {sql_str(str(own / 'rejects.parquet'))} (FORMAT parquet)"
        )
        base = job.staging.parent
        events = tuple(sorted(p.relative_to(base).as_posix() for p in (own / EVENTS).rglob("*.parquet")))
        rejects = (own / "rejects.parquet").relative_to(base).as_posix()
        return _Outcome(sid, row, result, dict(recorded[sid].digests), events, rejects)


def _gather(
    spark: SparkSession,
    case: Case,
    master: str,
    paths: list[Path],
    boundary: Boundary,
    outcomes: list[_Outcome],
    tmp: Path,
    opts: IngestOptions,
) -> SparkIngest:
    """The driver's part: duplicates, the kept files moved into place, rejects merged, and the case
    log and source rows written in the driver's case (as the embedded ingest writes them)."""
    started = case.log_command(
        "ingest", {**ingest_parameters(paths, opts), "engine": ENGINE, "spark_master": master}
    )
    originals: dict[str, int] = {}  # sha256 -> the first ingested file's source id
    rows: list[list[Any]] = []
    results: list[FileResult] = []
    digests: dict[int, dict[str, rowdigest.RowDigest]] = {}
    rejects: list[str] = []
    for o in outcomes:
        sha = str(o.row[4])
        if o.row[4] and sha in originals:  # a copy: recorded as the embedded ingest records it, not read
            first = originals[sha]
            ev = EvidenceFile(Path(str(o.row[1])), int(o.row[2]), o.row[3], sha, str(o.row[5]))
            note = boundary.check(o.result.path)
            rows.append(
                source_row(
                    o.source_id, ev, status="duplicate", duplicate_of=first, warnings=[note] if note else []
                )
            )
            results.append(
                FileResult(o.result.path, "duplicate", o.source_id, message=f"same SHA-256 as source {first}")
            )
            continue
        rows.append(list(o.row))
        results.append(o.result)
        if o.result.status == "ingested":
            originals[sha] = o.source_id
            digests[o.source_id] = o.digests
            _keep(tmp, o)
            if o.rejects_file:
                rejects.append(o.rejects_file)
    report = IngestReport(results)
    if not report.total("events"):
        raise CaseError(
            "the evidence gave no events, so there is no Parquet case to write (nothing was written): "
            + ", ".join(f"{n} {s}" for s, n in sorted(report.statuses().items()))
        )
    _merge_rejects(spark, tmp, rejects)
    con = case.con
    insert_sources(con, rows)
    ids = sorted(digests)
    for i in range(0, len(ids), DIGEST_ENTRY_SOURCES):
        chunk = {sid: digests[sid] for sid in ids[i : i + DIGEST_ENTRY_SOURCES]}
        custody.append(con, tool_version(), rowdigest.BATCH_COMMAND, rowdigest.entry(started, chunk))
    case.log_result(started, "ingest", _summary(case, report))
    return SparkIngest(tmp, report, "", [], {}, case.log_head(), ParquetCheck(tmp), master)


def _keep(tmp: Path, o: _Outcome) -> None:
    """Move a kept file's staged events into events/day=…/source_<id>_<n>.parquet."""
    for rel in o.event_files:
        staged = tmp / rel
        day = staged.parent.name
        n = staged.stem.rsplit("_", 1)[-1]
        target = tmp / EVENTS / day / f"source_{o.source_id:08d}_{n}.parquet"
        target.parent.mkdir(parents=True, exist_ok=True)
        os.rename(staged, target)


def _merge_rejects(spark: SparkSession, tmp: Path, files: list[str]) -> None:
    """One task writes rejects.parquet from the kept files' rejects, sorted by source and line."""
    job = (str(tmp), files)
    spark.sparkContext.parallelize([job], 1).map(merge_rejects_task).collect()


def merge_rejects_task(job: tuple[str, list[str]]) -> int:
    """In a Spark task: the staged rejects files merged into ``rejects.parquet``; returns its rows."""
    root, files = Path(job[0]), job[1]
    con = duckdb.connect(":memory:")
    try:
        con.execute("SET threads = 1")
        con.execute("SET TimeZone = 'UTC'")
        paths = sql_list([str(root / f) for f in files])
        row = con.execute(
            f"COPY (SELECT * FROM read_parquet({paths}) ORDER BY {WHOLE_TABLES['rejects']}) "
            f"TO {sql_str(str(root / 'rejects.parquet'))} (FORMAT parquet)"
        ).fetchone()
        return int(row[0]) if row else 0
    finally:
        con.close()


def _finish(case: Case, done: SparkIngest, tmp: Path, work: Path) -> SparkIngest:
    """The small tables, the manifest (export's), and verify_parquet on the folder."""
    con = case.con
    threads = con.execute("SELECT current_setting('threads')").fetchone()
    con.execute("SET threads = 1")
    try:
        for table in SMALL_TABLES:
            con.execute(
                f"COPY (SELECT * FROM {table} ORDER BY {WHOLE_TABLES[table]}) "
                f"TO {sql_str(str(tmp / (table + '.parquet')))} (FORMAT parquet)"
            )
    finally:
        if threads:
            con.execute(f"SET threads = {int(threads[0])}")
    rows = {
        EVENTS: done.report.total("events"),
        "rejects": sum(r.rejects for r in done.report.results if r.status == "ingested"),
    }
    for table in SMALL_TABLES:
        row = con.execute(f"SELECT count(*) FROM {table}").fetchone()
        rows[table] = int(row[0]) if row else 0
    tables: dict[str, dict[str, Any]] = {
        t: {"rows": rows[t], "columns": column_types(con, t)} for t in (EVENTS, "rejects", *SMALL_TABLES)
    }
    manifest = _manifest(case, custody.head(con), tables)
    manifest["case"] = None  # no case file: this folder is the case
    manifest["written_by"] = {"command": "ingest", "engine": ENGINE, "master": done.master}
    manifest["exported_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    files = _describe(con, tmp)
    manifest["files"] = [f.to_dict() for f in files]
    (tmp / MANIFEST).write_text(_json(manifest), encoding="utf-8")
    check = verify_parquet(tmp, spill=work)
    if not check.ok:
        raise CaseError(
            "the Parquet case failed its check, so it was removed (nothing was written): "
            + "; ".join(printable(p) for p in check.problems[:5])
            + (f"; and {len(check.problems) - 5} more" if len(check.problems) > 5 else "")
        )
    return replace(
        done,
        manifest_sha256=sha256_file(tmp / MANIFEST),
        files=files,
        tables={t: int(v["rows"]) for t, v in tables.items()},
        check=check,
    )
