"""``forensics export CASE --parquet DIR``: the case's evidence store as Parquet, for other engines.

What DIR holds (README, "Export to Parquet"):

* ``events/day=YYYY-MM-DD/data_N.parquet`` — the events, hive-partitioned by the UTC day of ``ts``
  (``(ts AT TIME ZONE 'UTC')::DATE``: the session's time zone plays no part). The schema forbids
  a NULL ``ts``; should a damaged or hand-edited case hold one, its row goes to
  ``day=__HIVE_DEFAULT_PARTITION__``, the folder DuckDB, Hive and Spark read back as a NULL day;
* ``rejects.parquet``, ``sources.parquet``, ``case_log.parquet``, ``meta.parquet`` — whole;
* ``manifest.json`` — the tool and schema versions, when, from which case, the case log head the
  export holds, per table its columns, types and rows, per file its path, rows, size and SHA-256
  (sorted by path), and per source the row digests the case log recorded (rowdigest.py).

Derived tables (routes, request_facts, findings …) are not exported: they are recomputed.

Every column keeps its DuckDB type (TIMESTAMPTZ as Parquet's UTC-adjusted timestamp, JSON as
Parquet's JSON, the AWS formats' lists of one struct as lists of structs). Files are written on
one thread, in the case's storage order, so the same case file gives byte-identical Parquet files
(the manifest differs by its ``exported_at``).

Custody: an ``export`` case-log entry (the folder) is appended before anything is written, so the
exported ``case_log`` ends with it and its hash is the manifest's head; ``export finished``
records the manifest's SHA-256, the rows and the folder after. The files are written into a
temporary sibling folder (``.DIR.<pid>-<token>.partial``), all in one read transaction of the
case (one snapshot), and checked there with ``verify_parquet``: the files against the manifest,
and every source's rows digested again over the Parquet rows and compared with what the case log
recorded. Only when all of that matched is the folder renamed to DIR. On any failure — a
mismatch, a full disk, an error — the temporary folder is removed, nothing is at DIR, and
``export finished`` records ``failed`` with the reason (ingest's way). The case's tables are only
read.

Refused before anything is written: a DIR that exists and is not an empty folder, a case with no
events, a damaged case (a table or column missing, a broken case-log chain: ``forensics verify``
says more).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from forensics.errors import EmptyCaseError, ExportError
from forensics.ingest import rowdigest
from forensics.ingest.evidence import sha256_file
from forensics.publish.parquet_check import (
    DAY,
    EVENTS,
    FORMAT,
    MANIFEST,
    MANIFEST_VERSION,
    NULL_PARTITION,
    TABLES,
    WHOLE_TABLES,
    ParquetCheck,
    column_types,
    data_files,
    verify_parquet,
)
from forensics.publish.writers import pid_alive
from forensics.store import custody
from forensics.store.case import ROW_DIGESTS_FROM, Case, is_disk_full, tool_version
from forensics.store.db import sql_str, transaction
from forensics.store.entry import logged
from forensics.store.printable import printable
from forensics.store.schema import SCHEMA_VERSION
from forensics.store.schema import TABLES as CASE_TABLES
from forensics.store.stages import stage

COMMAND = "export"
PARTIAL = ".partial"
# one thread writes the files: DuckDB's partitioned write on several threads interleaves a
# partition's rows differently each run; on one, the same case gives the same bytes. It costs
# wall time, not CPU: 1M events took 2.6-2.9 s on one thread, 1.5 s on two (2.8 CPU-s either way)
WRITE_THREADS = 1


@dataclass(frozen=True)
class ExportedFile:
    path: str  # relative to the export folder, '/'-separated
    table: str
    rows: int
    bytes: int
    sha256: str

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Export:
    out: Path
    manifest_sha256: str
    files: list[ExportedFile]  # sorted by path
    tables: dict[str, int]  # rows per table
    exported_head: tuple[int, str]  # (seq, entry_hash) of the last case-log entry the export holds
    check: ParquetCheck  # verify_parquet's result (ok, or the export would have failed)
    log_head: str = ""  # the case log's head after the run (``export finished``)
    notes: list[str] = field(default_factory=list)

    @property
    def manifest(self) -> Path:
        return self.out / MANIFEST

    def to_dict(self) -> dict[str, Any]:
        """``forensics export --json``: the manifest's summary."""
        return {
            "out": str(self.out),
            "manifest": {"path": str(self.manifest), "sha256": self.manifest_sha256},
            "tables": self.tables,
            "files": [f.to_dict() for f in self.files],
            "bytes": sum(f.bytes for f in self.files),
            "exported_head": {"seq": self.exported_head[0], "entry_hash": self.exported_head[1]},
            "check": self.check.to_dict(),
            "notes": self.notes,
            "log_head": self.log_head,
        }


def export_parquet(case: Case, out_dir: str | Path) -> Export:
    """Write the case's evidence store into ``out_dir`` as Parquet, checked and logged (module doc).

    Raises ExportError (or EmptyCaseError) before anything is written when ``out_dir`` is not a
    new or empty folder, the case has no events or is damaged, and after when the files do not
    hold the case's rows; then nothing is left at ``out_dir``."""
    out = Path(os.path.abspath(out_dir))  # "." and ".." resolved: the folder has a name and a parent
    _refuse(case, out)
    notes = _remove_leftovers(out)
    failure: Exception | None = None
    done: Export | None = None
    with logged(case, COMMAND, {"out": str(out), "format": "parquet"}) as entry:
        try:
            done = _export(case, out, notes)
        except Exception as exc:  # logged as failed (ingest's way), then raised
            failure = exc
            entry.result = {"out": str(out), "failed": _reason(exc)}
        else:
            entry.result = {
                "out": str(out),
                "manifest_sha256": done.manifest_sha256,
                "rows": done.tables,
                "files": len(done.files),
                "bytes": sum(f.bytes for f in done.files),
                "sources_checked": done.check.sources_checked,
            }
    if failure is not None:
        if isinstance(failure, OSError | duckdb.IOException):
            raise ExportError(_cannot_write(out, failure)) from failure
        raise failure
    assert done is not None
    return replace(done, log_head=case.log_head())


def _refuse(case: Case, out: Path) -> None:
    if out.exists() or out.is_symlink():
        if out.is_symlink():
            raise ExportError(f"{out} is a symbolic link: give a new folder for the export")
        if not out.is_dir():
            raise ExportError(f"{out} exists and is not a folder: give a new folder for the export")
        if any(out.iterdir()):
            raise ExportError(
                f"{out} is not empty: give a new (or empty) folder for the export; nothing was written"
            )
    con = case.con
    missing = []
    for table, columns in CASE_TABLES.items():
        have = rowdigest.table_types(con, table)
        missing += [f"{table}.{c}" for c in columns if c not in have] if have else [table]
    if missing:
        raise ExportError(
            f"case {case.path} is damaged ({', '.join(missing[:5])} missing); `forensics verify {case.path}` "
            "says more. Nothing was written"
        )
    problems = custody.check_chain(con).problems
    if problems:
        raise ExportError(
            f"case {case.path} is damaged: its case log {printable(problems[0])}"
            + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else "")
            + f"; `forensics verify {case.path}` says more. Nothing was written"
        )
    row = con.execute("SELECT count(*) FROM events").fetchone()
    if not row or not row[0]:
        raise EmptyCaseError(
            f"case {case.path} holds no events: nothing to export (ingest evidence first). "
            "Nothing was written"
        )


def _export(case: Case, out: Path, notes: list[str]) -> Export:
    con = case.con
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.{os.getpid()}-{secrets.token_hex(4)}{PARTIAL}"
    tmp.mkdir(mode=0o700)
    try:
        with transaction(con):  # one snapshot of the case for every file and the manifest
            head = custody.head(con)
            tables = _write_tables(con, tmp)
            manifest = _manifest(case, head, tables)
        files = _describe(con, tmp)
        manifest["files"] = [f.to_dict() for f in files]
        (tmp / MANIFEST).write_text(_json(manifest), encoding="utf-8")
        check = verify_parquet(tmp, spill=_spill_folder(con))
        if not check.ok:
            raise ExportError(
                f"the export failed its check, so it was removed (nothing was written to {out}): "
                + "; ".join(printable(p) for p in check.problems[:5])
                + (f"; and {len(check.problems) - 5} more" if len(check.problems) > 5 else "")
                + f". `forensics verify {case.path}` checks the case itself"
            )
        manifest_sha = sha256_file(tmp / MANIFEST)
        try:
            os.rename(tmp, out)  # onto an empty folder too (POSIX)
        except OSError as exc:
            why = "something else wrote into it during the export" if out.is_dir() else "it cannot be made"
            raise ExportError(
                f"cannot move the export into {out}: {why} ({exc}); nothing was written to it"
            ) from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    counts = {t: int(tables[t]["rows"]) for t in TABLES}
    return Export(out, manifest_sha, files, counts, head, check, notes=notes)


def _write_tables(con: duckdb.DuckDBPyConnection, tmp: Path) -> dict[str, dict[str, Any]]:
    """COPY every exported table into ``tmp``; per table its rows and columns (the manifest's)."""
    threads = con.execute("SELECT current_setting('threads')").fetchone()
    con.execute(f"SET threads = {WRITE_THREADS}")
    try:
        tables: dict[str, dict[str, Any]] = {}
        for table in TABLES:
            with stage(con, f"export: {table}") as s:
                if table == EVENTS:
                    query = f"SELECT *, (ts AT TIME ZONE 'UTC')::DATE AS {DAY} FROM {EVENTS}"
                    target, options = tmp / EVENTS, f"FORMAT parquet, PARTITION_BY ({DAY})"
                else:
                    query = f"SELECT * FROM {table} ORDER BY {WHOLE_TABLES[table]}"
                    target, options = tmp / f"{table}.parquet", "FORMAT parquet"
                row = con.execute(f"COPY ({query}) TO {sql_str(str(target))} ({options})").fetchone()
                s.rows = int(row[0]) if row else 0
            tables[table] = {"rows": s.rows, "columns": column_types(con, table)}
    finally:
        if threads:
            con.execute(f"SET threads = {int(threads[0])}")
    return tables


def _describe(con: duckdb.DuckDBPyConnection, tmp: Path) -> list[ExportedFile]:
    """Every file written, sorted by path: its table, rows (from the Parquet footer), size, SHA-256."""
    names = data_files(tmp)
    rows = {
        str(name): int(n)
        for name, n in con.execute(
            "SELECT file_name, num_rows FROM parquet_file_metadata(?)", [[str(tmp / n) for n in names]]
        ).fetchall()
    }
    out = []
    for name in names:
        path = tmp / name
        table = name.split("/", 1)[0].removesuffix(".parquet")
        out.append(ExportedFile(name, table, rows[str(path)], path.stat().st_size, sha256_file(path)))
    return out


def _manifest(case: Case, head: tuple[int, str], tables: dict[str, dict[str, Any]]) -> dict[str, Any]:
    con = case.con
    recorded, _ = rowdigest.recorded(con)  # unreadable entries: the check names them
    sources = dict(con.execute("SELECT source_id, path FROM sources WHERE status = 'ingested'").fetchall())
    row = con.execute("SELECT value FROM meta WHERE key = ?", [ROW_DIGESTS_FROM]).fetchone()
    start = int(row[0]) if row else None
    digests = {
        str(sid): {
            "path": str(sources[sid]),
            "entry": recorded[sid].seq,
            **{t: {"rows": d.rows, "sha256": d.sha256} for t, d in recorded[sid].digests.items()},
        }
        for sid in sorted(sources)
        if sid in recorded
    }
    return {
        "format": FORMAT,
        "manifest_version": MANIFEST_VERSION,
        "tool_version": tool_version(),
        "schema_version": SCHEMA_VERSION,
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "case": str(case.path.absolute()),
        "log_head": {"seq": head[0], "entry_hash": head[1]},
        "partitioning": {
            EVENTS: {
                "column": DAY,
                "value": "the UTC date of ts: (ts AT TIME ZONE 'UTC')::DATE",
                "null": f"{DAY}={NULL_PARTITION}",
            }
        },
        "tables": tables,
        "files": [],  # filled once written
        "row_digests": {
            "algorithm": rowdigest.ALGORITHM,
            "about": "per ingested source, what the case log's `ingest batch` entry `entry` recorded of "
            "its events and rejects (its column lists are in that entry); verify_parquet recomputes them",
            "sources": digests,
            "not_recorded": sorted(
                sid for sid in sources if sid not in recorded and (start is None or sid < start)
            ),
        },
        "sources_digests": [
            {"entry": seq, "first": first, "last": last, "sha256": digest}
            for seq, first, last, digest in custody.recorded_digests(con)
        ],
    }


def _json(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=True) + "\n"


def _spill_folder(con: duckdb.DuckDBPyConnection) -> str | None:
    row = con.execute("SELECT current_setting('temp_directory')").fetchone()
    return str(row[0]) if row and row[0] else None


def _leftover_re(name: str) -> re.Pattern[str]:
    return re.compile(rf"^\.{re.escape(name)}\.(?P<pid>\d+)-[0-9a-f]+{re.escape(PARTIAL)}$")


def _remove_leftovers(out: Path) -> list[str]:
    """Temporary folders that killed exports to the same folder left (their process is gone)."""
    parent = out.parent
    pattern = _leftover_re(out.name)
    removed = []
    if parent.is_dir():
        for path in parent.iterdir():
            m = pattern.match(path.name)
            if m and path.is_dir() and not path.is_symlink() and not pid_alive(int(m["pid"])):
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path.name)
    return (
        [f"removed {len(removed)} temporary folder(s) a killed export left beside {out}"] if removed else []
    )


def _reason(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:500]


def _cannot_write(out: Path, exc: BaseException) -> str:
    detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if is_disk_full(exc):
        return (
            f"cannot write the export {out}: the disk is full ({detail}). Free space there, or give "
            "--parquet a folder on another disk, and run again; nothing was written to it"
        )
    return f"cannot write the export {out} ({detail}); nothing was written to it"
