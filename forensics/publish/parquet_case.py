"""A Parquet case folder investigated in place by DuckDB: ``forensics investigate FOLDER``.

A folder written by ``forensics export --parquet`` or ``forensics ingest --engine spark`` is a
case: the evidence tables as Parquet, the case log, a manifest of every file's SHA-256. DuckDB
reads it where it is — nothing is imported — so one machine can work on a case larger than a
single case file comfortably holds, and the same folder is what Spark reads.

``open_parquet(folder)``:

* checks the folder first with ``verify_parquet`` (every file's SHA-256 against the manifest,
  every source's rows against the digests its log recorded); a folder that fails is refused,
  never investigated;
* opens a work DuckDB in a temporary folder beside the case (``.<name>.duckdb-…``, removed
  afterwards): the evidence tables are views over the very files the manifest lists (events,
  rejects, sources, the case log) and ``meta`` a copy (investigate records its options there);
  the derived tables and DuckDB's spill go to the work folder, so the evidence folder gains
  nothing but its log's entries;
* keeps the custody log in the folder (``ParquetCaseLog``): what runs on the case is appended
  to ``case_log.parquet`` and the manifest names the new head, as a case file's log would.

Raw evidence lines (the findings' excerpts) are read from the evidence files named in
``sources``, each re-hashed first, as for a case file.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from forensics.errors import CaseError, ExportError
from forensics.publish.parquet_check import (
    MANIFEST,
    TABLES,
    ParquetCheck,
    read_manifest,
    verify_parquet,
)
from forensics.publish.parquet_log import ParquetCaseLog
from forensics.store.case import Case
from forensics.store.db import connect, sql_list
from forensics.store.schema import SCHEMA_VERSION, create_table_sql

# the evidence tables read as views of their files; meta is copied (investigate writes to it)
VIEWS = tuple(t for t in TABLES if t != "meta")


class ParquetCase(Case):
    """``Case`` over a Parquet case folder (module doc): the SQL runs on DuckDB over the folder's
    files, the custody log is the folder's."""

    def __init__(self, folder: Path, work: Path, log: ParquetCaseLog) -> None:
        super().__init__(folder, connect(work / "work.duckdb"))
        self.folder = folder
        self._log = log

    def log_command(self, command: str, parameters: dict[str, Any]) -> int:
        return self._log.log_command(command, parameters)

    def log_result(self, started: int, command: str, result: dict[str, Any]) -> int:
        return self._log.log_result(started, command, result)

    def log_head(self) -> str:
        return self._log.log_head()


def refused(folder: Path, check: ParquetCheck) -> ExportError:
    """The error for a folder that failed its check: the first problems, and how many more."""
    problems = check.problems
    return ExportError(
        f"{folder} failed its check, so it is not investigated: "
        + "; ".join(problems[:3])
        + (f"; and {len(problems) - 3} more" if len(problems) > 3 else "")
    )


@contextmanager
def open_parquet(folder: str | Path) -> Iterator[ParquetCase]:
    """The Parquet case folder ``folder`` as a case DuckDB reads in place (module doc). Raises
    ExportError when it is not a case folder or fails its check, CaseError when a newer version
    of this tool wrote it."""
    root = Path(folder)
    if not (root / MANIFEST).is_file():
        raise ExportError(
            f"{root} is not a Parquet case folder (it has no {MANIFEST}): give a case file, or a "
            "folder written by `forensics export --parquet` or `forensics ingest --engine spark`"
        )
    check = verify_parquet(root)
    if not check.ok:
        raise refused(root, check)
    manifest = read_manifest(root)
    log = ParquetCaseLog(root)
    with tempfile.TemporaryDirectory(prefix=f".{root.name}.duckdb-", dir=root.absolute().parent) as tmp:
        case = ParquetCase(root, Path(tmp), log)
        try:
            _name_tables(case, manifest)
            yield case
        finally:
            case.close()


def _name_tables(case: ParquetCase, manifest: dict[str, Any]) -> None:
    con, root = case.con, case.folder.absolute()
    files: dict[str, list[str]] = {}
    for f in manifest.get("files", []):
        files.setdefault(str(f["table"]), []).append(str(root / str(f["path"])))
    for name in VIEWS:
        con.execute(
            f"CREATE VIEW {name} AS SELECT * FROM read_parquet({sql_list(sorted(files[name]))}, "
            "hive_partitioning = false)"
        )
    con.execute(create_table_sql("meta"))
    con.execute(f"INSERT INTO meta SELECT key, value FROM read_parquet({sql_list(files['meta'])})")
    found = case.schema_version()
    if found is not None and found > SCHEMA_VERSION:
        raise CaseError(
            f"{case.folder} was written by a newer version of this tool (schema {found}); upgrade the tool"
        )
    if found is not None and found < SCHEMA_VERSION:
        raise CaseError(
            f"{case.folder} holds schema {found}; this tool reads schema {SCHEMA_VERSION}: "
            f"export it again from its case file with this version ({MANIFEST} names the case)"
        )
