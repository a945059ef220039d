"""Check a Parquet export (``forensics export --parquet``) against its manifest and its case log.

``verify_parquet(folder)`` reads only the folder: no case file is needed, so whoever receives an
export (or a later step that runs on it) can check it. It checks, naming what fails:

* files — every file the manifest lists is there with its size and SHA-256, and no other file
  is (a reader globbing ``events/*/*.parquet`` would read it);
* tables — each table has the columns, types and row count the manifest recorded, and every
  event lies in the partition of its UTC day;
* the case log — ``case_log.parquet`` is one unbroken hash chain (custody.py) whose last entry
  is the head the manifest names;
* rows — each ingested source's events and rejects are digested again over the Parquet rows
  with rowdigest.py's own code (the tables are views over the files, so the digest is computed
  exactly as ingest and ``forensics verify`` compute it) and compared with the digests the case
  log's ``ingest batch`` entries recorded, and with the copies in the manifest; a mismatch names
  the source and the table (``RowMismatch``);
* sources — ``sources.parquet`` gives the digests the finished ingests recorded of their source
  rows, and each source's stored events and rejects match its counts.

A table, file or check that cannot be read is a named problem, never a crash.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import duckdb

from forensics.errors import ExportError
from forensics.ingest import rowdigest
from forensics.ingest.evidence import sha256_file
from forensics.ingest.forget import forgotten_rows
from forensics.ingest.verify import guarded
from forensics.store import custody
from forensics.store.case import ROW_DIGESTS_FROM
from forensics.store.db import connect, sql_list, sql_str
from forensics.store.stages import stage

MANIFEST = "manifest.json"
FORMAT = "access-log-forensics parquet export"
MANIFEST_VERSION = 1
EVENTS = "events"
DAY = "day"  # the partition column: the UTC date of ts
# DuckDB's (and Hive's, Spark's) folder for a NULL partition value; read back as NULL
NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"
# the tables written whole, one file each (events is partitioned), and the order of their rows
WHOLE_TABLES: dict[str, str] = {
    "rejects": "source_id, line_no",
    "sources": "source_id",
    "case_log": "seq",
    "meta": "key",
}
TABLES = (EVENTS, *WHOLE_TABLES)

T = TypeVar("T")


@dataclass(frozen=True)
class RowMismatch:
    """A source whose rows in the export differ from what the case log recorded of them."""

    source_id: int
    path: str
    table: str  # events | rejects
    recorded: rowdigest.RowDigest
    found: rowdigest.RowDigest
    entry: int  # the case-log entry (``ingest batch``) that recorded the digest

    def __str__(self) -> str:
        same = ", same count but changed content" if self.recorded.rows == self.found.rows else ""
        return (
            f"source {self.source_id} ({self.path}): its {self.table} in the export differ from what ingest "
            f"recorded (case log entry {self.entry}): {self.recorded.rows:,} rows recorded, "
            f"{self.found.rows:,} exported{same}"
        )


@dataclass
class ParquetCheck:
    folder: Path
    files: list[str] = field(default_factory=list)  # missing, extra or changed files
    tables: list[str] = field(default_factory=list)  # columns, counts, partitions, chain, sources
    rows: list[RowMismatch] = field(default_factory=list)
    sources_checked: int = 0  # sources whose row digests were recomputed
    rows_checked: int = 0  # events and rejects they hold
    notes: list[str] = field(default_factory=list)  # not failures: sources ingested before digests

    @property
    def ok(self) -> bool:
        return not (self.files or self.tables or self.rows)

    @property
    def problems(self) -> list[str]:
        """Every problem, one line each: files, then tables, then rows."""
        return [*self.files, *self.tables, *(str(r) for r in self.rows)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "sources_checked": self.sources_checked,
            "rows_checked": self.rows_checked,
            "problems": self.problems,
            "notes": self.notes,
        }


def read_manifest(folder: Path) -> dict[str, Any]:
    """The export's manifest; raises ExportError when the folder holds none (not an export)."""
    path = folder / MANIFEST
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ExportError(f"{folder} has no {MANIFEST}: not an export of this tool") from None
    except (OSError, ValueError) as exc:
        raise ExportError(f"{path} cannot be read as JSON ({exc})") from exc
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ExportError(f"{path} is not the manifest of an export of this tool")
    if doc.get("manifest_version") != MANIFEST_VERSION:
        raise ExportError(
            f"{path} is manifest version {doc.get('manifest_version')!r}; this tool reads version "
            f"{MANIFEST_VERSION}"
        )
    return doc


def verify_parquet(folder: str | Path, *, spill: str | Path | None = None) -> ParquetCheck:
    """Check the export in ``folder`` (see the module doc); ``.ok`` when everything matched.

    ``spill``: the folder in which DuckDB gets a private temporary folder to spill to while
    digesting (default: the system's temporary folder; the export passes its case's spill
    folder); it is removed afterwards. Raises ExportError only when the folder is not an export
    (no readable manifest)."""
    root = Path(folder)
    manifest = read_manifest(root)
    check = ParquetCheck(root)
    listed = _check_files(root, manifest, check)
    with _connection(spill) as con:
        tables = _views(con, root, manifest, listed, check)
        if EVENTS in tables:
            guarded(check.tables, "the event partitions", lambda: _check_partitions(con, root, listed, check))
        if {"case_log", "sources", "meta"} <= tables:
            guarded(check.tables, "the case log", lambda: _check_chain(con, manifest, check))
            if {EVENTS, "rejects"} <= tables:
                with stage(con, "export: check row digests") as s:
                    guarded(check.tables, "the row digests", lambda: _check_rows(con, manifest, check))
                    s.rows = check.rows_checked
                guarded(check.tables, "the accounting", lambda: _check_counts(con, check))
            guarded(check.tables, "the sources digests", lambda: _check_sources(con, check))
    return check


@contextmanager
def _connection(spill: str | Path | None) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB (UTC, the usual memory limit) spilling to a folder of its own inside
    ``spill`` (an in-memory DuckDB would spill to ``.tmp`` in the working directory; a folder
    shared with the case's connection could mix or remove its files)."""
    made = []
    if spill is not None:
        folder = Path(spill)
        while not folder.exists():
            made.append(folder)
            folder = folder.parent
        Path(spill).mkdir(parents=True, exist_ok=True)
    try:
        with tempfile.TemporaryDirectory(prefix="forensics-parquet-check-", dir=spill) as private:
            con = connect(":memory:")
            try:
                con.execute(f"SET temp_directory = {sql_str(private)}")
                yield con
            finally:
                con.close()
    finally:
        for folder in made:  # deepest first; a folder something else uses now is not empty
            with suppress(OSError):
                folder.rmdir()


def data_files(root: Path) -> list[str]:
    """Every file under ``root`` but the manifest, as '/'-separated paths relative to it, sorted."""
    return sorted(
        p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and p.name != MANIFEST
    )


def _check_files(root: Path, manifest: dict[str, Any], check: ParquetCheck) -> dict[str, list[str]]:
    """Files against the manifest; returns per table the listed files that are present."""
    listed: dict[str, list[str]] = {}
    on_disk = set(data_files(root))
    entries = manifest.get("files", [])
    for f in entries:
        rel, path = str(f["path"]), root / str(f["path"])
        if rel not in on_disk:
            check.files.append(f"{rel}: listed in the manifest but missing")
            continue
        listed.setdefault(str(f["table"]), []).append(rel)
        size = path.stat().st_size
        if size != f["bytes"]:
            check.files.append(f"{rel}: {size:,} bytes, the manifest says {f['bytes']:,}")
        elif sha256_file(path) != f["sha256"]:
            check.files.append(f"{rel}: its SHA-256 differs from the manifest's (changed after the export)")
    for rel in sorted(on_disk - {str(f["path"]) for f in entries}):
        check.files.append(f"{rel}: not in the manifest (added after the export)")
    return listed


def _views(
    con: duckdb.DuckDBPyConnection,
    root: Path,
    manifest: dict[str, Any],
    listed: dict[str, list[str]],
    check: ParquetCheck,
) -> set[str]:
    """A view per table over its files, named as in the case, so the custody code reads it as it
    reads the case; checks each table's columns, types and rows against the manifest. Returns the
    tables that could be read."""
    readable = set()
    for table in TABLES:
        files = listed.get(table)
        if not files:
            check.tables.append(f"{table}: no file of it in the export")
            continue
        paths = sql_list([str(root / f) for f in files])
        try:
            con.execute(
                f"CREATE VIEW {table} AS SELECT * FROM read_parquet({paths}, hive_partitioning = false)"
            )
        except duckdb.Error as exc:
            check.tables.append(f"{table}: its files cannot be read ({str(exc).splitlines()[0]})")
            continue
        readable.add(table)
    for table in sorted(readable):
        want = manifest.get("tables", {}).get(table, {})
        if column_types(con, table) != want.get("columns"):
            check.tables.append(f"{table}: its columns or their types differ from the manifest's")
        row = con.execute(f"SELECT count(*) FROM {table}").fetchone()
        n = int(row[0]) if row else 0
        if n != want.get("rows"):
            check.tables.append(f"{table}: {n:,} rows, the manifest says {want.get('rows')}")
    return readable


def column_types(con: duckdb.DuckDBPyConnection, relation: str) -> dict[str, str]:
    """Column name -> DuckDB type of a table or view, in order (what the manifest records)."""
    return {str(r[0]): str(r[1]) for r in con.execute(f"DESCRIBE {relation}").fetchall()}


def _check_partitions(
    con: duckdb.DuckDBPyConnection, root: Path, listed: dict[str, list[str]], check: ParquetCheck
) -> None:
    """Every event is in the folder of its UTC day (NULL ts: the NULL partition)."""
    paths = sql_list([str(root / f) for f in listed[EVENTS]])
    row = con.execute(
        f"SELECT count(*) FROM read_parquet({paths}, hive_partitioning = true, "
        f"hive_types = {{'{DAY}': DATE}}) "
        f"WHERE {DAY} IS DISTINCT FROM (ts AT TIME ZONE 'UTC')::DATE"
    ).fetchone()
    if row and row[0]:
        check.tables.append(f"{EVENTS}: {row[0]:,} events are not in the partition of their UTC day")


def _check_chain(con: duckdb.DuckDBPyConnection, manifest: dict[str, Any], check: ParquetCheck) -> None:
    chain = custody.check_chain(con)
    check.tables.extend(f"case_log: {p}" for p in chain.problems)
    seq, head = custody.head(con)
    want = manifest.get("log_head", {})
    if (seq, head) != (want.get("seq"), want.get("entry_hash")):
        check.tables.append(
            f"case_log: its last entry is {seq} ({head}), the manifest names {want.get('seq')} "
            f"({want.get('entry_hash')})"
        )


def _check_rows(con: duckdb.DuckDBPyConnection, manifest: dict[str, Any], check: ParquetCheck) -> None:
    """Recompute each ingested source's row digests over the Parquet rows; compare them with the
    case log's and with the manifest's copy."""
    recorded, unreadable = rowdigest.recorded(con)
    check.tables.extend(f"case_log: {p}" for p in unreadable)
    sources = {
        int(sid): (str(path), str(status))
        for sid, path, status in con.execute("SELECT source_id, path, status FROM sources").fetchall()
    }
    row = con.execute("SELECT value FROM meta WHERE key = ?", [ROW_DIGESTS_FROM]).fetchone()
    start = int(row[0]) if row else None
    ingested = sorted(sid for sid, (_, status) in sources.items() if status == "ingested")
    older = [sid for sid in ingested if sid not in recorded and (start is None or sid < start)]
    if older:
        check.notes.append(
            f"no row digests recorded for source(s) {', '.join(map(str, older))} (ingested before this tool "
            "recorded them): their rows are checked by the counts only"
        )
    check.tables.extend(
        f"source {sid} ({sources[sid][0]}): the case log records no row digest for it"
        for sid in ingested
        if sid not in recorded and sid not in older
    )
    checked = {sid: recorded[sid] for sid in ingested if sid in recorded}
    listed = manifest.get("row_digests", {}).get("sources", {})
    for sid, rec in checked.items():
        copy = listed.get(str(sid), {})
        for table, was in rec.digests.items():
            if copy.get(table) != {"rows": was.rows, "sha256": was.sha256}:
                check.tables.append(
                    f"source {sid}: the manifest's {table} digest differs from the case log's "
                    f"(entry {rec.seq})"
                )
    check.tables.extend(
        f"source {sid}: in the manifest's row digests but not an ingested source with a recorded digest"
        for sid in sorted(int(s) for s in listed)
        if sid not in checked
    )
    columns: dict[int, dict[str, tuple[str, ...]]] = {}
    for sid, rec in checked.items():
        if rec.algorithm != rowdigest.ALGORITHM:
            check.tables.append(f"source {sid}: unknown row digest algorithm {rec.algorithm!r}")
            continue
        columns[sid] = rec.columns
    now = rowdigest.compute_recorded(con, columns)
    for sid in sorted(now):
        rec = checked[sid]
        for table, was in rec.digests.items():
            found = now[sid].get(table, rowdigest.EMPTY)
            check.rows_checked += found.rows
            if found != was:
                check.rows.append(RowMismatch(sid, sources[sid][0], table, was, found, rec.seq))
    check.sources_checked = len(now)


def _check_counts(con: duckdb.DuckDBPyConnection, check: ParquetCheck) -> None:
    """Per source, the events and rejects exported match its recorded counts."""
    rows = con.execute("""
        WITH e AS (SELECT source_id, count(*) AS n FROM events GROUP BY ALL),
             r AS (SELECT source_id, count(*) AS n FROM rejects GROUP BY ALL)
        SELECT source_id, s.events, s.rejects, coalesce(e.n, 0), coalesce(r.n, 0)
        FROM sources s FULL JOIN e USING (source_id) FULL JOIN r USING (source_id)
        WHERE coalesce(e.n, 0) <> coalesce(s.events, 0) OR coalesce(r.n, 0) <> coalesce(s.rejects, 0)
        ORDER BY 1""").fetchall()
    check.tables.extend(
        f"source {sid}: recorded {events} events and {rejects} rejects, exported {n_ev} and {n_rej}"
        for sid, events, rejects, n_ev, n_rej in rows
    )


def _check_sources(con: duckdb.DuckDBPyConnection, check: ParquetCheck) -> None:
    restore = forgotten_rows(con)
    for seq, first, last, recorded in custody.recorded_digests(con):
        if custody.sources_digest(con, first, last, restore) != recorded:
            check.tables.append(
                f"sources {first} to {last}: the rows differ from what ingest (case log entry {seq}) recorded"
            )
