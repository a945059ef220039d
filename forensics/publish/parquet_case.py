"""A Parquet case folder investigated by DuckDB where it is: ``forensics investigate FOLDER``.

A folder written by ``forensics export --parquet`` or ``forensics ingest --engine spark`` is a
case: the evidence tables as Parquet, the case log, a manifest of every file's SHA-256. DuckDB
works on it without a case file: the folder is checked, read, and left as it was but for its
log, and the same folder is what Spark reads.

``open_parquet(folder)``:

* holds the folder for the command (``folder_lock``: a second command on it meanwhile is refused,
  as a case file in use is);
* checks the folder first with ``verify_parquet`` (every file's SHA-256 against the manifest,
  every source's rows against the digests its log recorded); a folder that fails is refused,
  never investigated;
* opens a work DuckDB in a temporary folder beside the case (``.<name>.duckdb-…``, removed
  afterwards) that reads the very files the manifest lists: events, rejects, sources and the
  case log as views (no copy: the work folder holds only what is derived), ``meta`` a copy
  (investigate records its options there); the derived tables and DuckDB's spill go to the work
  folder too, so the evidence folder gains nothing but its log's entries;
* keeps the custody log in the folder (``ParquetCaseLog``): what runs on the case is appended
  to ``case_log.parquet`` and the manifest names the new head, as a case file's log would.

Raw evidence lines (the findings' excerpts) are read from the evidence files named in
``sources``, each re-hashed first, as for a case file.

``verify_folder(folder)`` is ``forensics verify`` for such a folder: ``verify_parquet``'s checks
(files, tables, partitions, the log's chain, every row against its recorded digest), the evidence
files re-hashed against ``sources``, and a case-log head noted earlier looked up in the log.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import duckdb

from forensics.errors import CaseError, ExportError
from forensics.ingest.verify import EvidenceCheck, HeadCheck, check_head, evidence_checks, guarded
from forensics.publish.parquet_check import (
    MANIFEST,
    TABLES,
    ParquetCheck,
    read_manifest,
    verify_parquet,
)
from forensics.publish.parquet_log import ParquetCaseLog, folder_lock
from forensics.store.case import Case
from forensics.store.db import connect, sql_list, sql_str
from forensics.store.schema import SCHEMA_VERSION, create_table_sql

# The evidence tables, each a view over the manifest's files (nothing of the evidence is copied);
# meta is copied (investigate writes to it). The events were once copied in (11 s and a case file's
# worth of disk at 9.9M events): over a view without statistics, authentication's planner built two
# hash tables from the 7.8M requests and ran out of the default 3 GiB; those joins now read small
# tables (auth.PRE_TABLES), and the views pass (README, "A Parquet case folder is a case").
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
def held_and_checked(root: Path, engine: str) -> Iterator[Path]:
    """Hold the case folder ``root`` (``folder_lock``), check it with ``verify_parquet`` and yield a
    work folder beside it (``.<name>.<engine>-…``, removed afterwards). Raises ExportError when
    ``root`` is not a Parquet case folder or fails its check, CaseError when another command
    holds it."""
    if not (root / MANIFEST).is_file():
        raise ExportError(
            f"{root} is not a Parquet case folder (it has no {MANIFEST}): give a case file, or a "
            "folder written by `forensics export --parquet` or `forensics ingest --engine spark`"
        )
    with (
        folder_lock(root),
        tempfile.TemporaryDirectory(prefix=f".{root.name}.{engine}-", dir=root.absolute().parent) as tmp,
    ):
        check = verify_parquet(root)
        if not check.ok:
            raise refused(root, check)
        yield Path(tmp)


@contextmanager
def open_parquet(folder: str | Path) -> Iterator[ParquetCase]:
    """The Parquet case folder ``folder`` as a case DuckDB reads in place (module doc). Raises
    ExportError when it is not a case folder or fails its check, CaseError when a newer version
    of this tool wrote it."""
    root = Path(folder)
    with held_and_checked(root, "duckdb") as tmp:
        manifest = read_manifest(root)
        log = ParquetCaseLog(root)
        case = ParquetCase(root, tmp, log)
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
        read = f"read_parquet({sql_list(sorted(files[name]))}, hive_partitioning = false)"
        con.execute(f"CREATE VIEW {name} AS SELECT * FROM {read}")
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


@dataclass
class FolderVerification:
    """``verify_folder``'s answer: ``.ok`` when everything matched (and the head given was found)."""

    check: ParquetCheck
    evidence: list[EvidenceCheck]
    log_head: str  # the head the manifest names
    head: HeadCheck | None = None  # with an expected head only
    problems: list[str] = field(default_factory=list)  # a check that could not run

    @property
    def evidence_problems(self) -> list[EvidenceCheck]:
        return [e for e in self.evidence if e.status != "ok"]

    @property
    def case_ok(self) -> bool:
        return self.check.ok and not self.evidence_problems and not self.problems

    @property
    def ok(self) -> bool:
        return self.case_ok and (self.head is None or self.head.found)

    def counts(self) -> dict[str, int]:
        """What the folder's ``verify finished`` entry records."""
        return {
            "evidence_files": len(self.evidence),
            "evidence_problems": len(self.evidence_problems),
            "folder_problems": len(self.check.problems) + len(self.problems),
            "sources_checked": self.check.sources_checked,
            "rows_checked": self.check.rows_checked,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "case_ok": self.case_ok,
            "folder": self.check.to_dict(),
            "evidence": [e.__dict__ for e in self.evidence],
            "evidence_files": len(self.evidence),
            "log_head": self.log_head,
            "expected_head_found": self.head.found if self.head else True,
            "expected_head_hint": self.head.hint if self.head else "",
            "problems": self.problems,
        }


def verify_folder(
    folder: str | Path,
    expected_head: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> FolderVerification:
    """Check a Parquet case folder as ``forensics verify`` checks a case file (module doc); reads
    only. Raises ExportError when the folder is not a Parquet case folder (no manifest)."""
    root = Path(folder)
    check = verify_parquet(root)
    manifest = read_manifest(root)
    result = FolderVerification(check, [], str(manifest.get("log_head", {}).get("entry_hash", "")))
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        case = Case(root, con, read_only=True)
        for name in ("sources", "case_log"):
            path = sql_str(str(root / f"{name}.parquet"))
            view = f"CREATE VIEW {name} AS SELECT * FROM read_parquet({path})"
            guarded(result.problems, f"{name}.parquet", partial(con.execute, view))
        result.evidence = (
            guarded(result.problems, "the evidence files", lambda: evidence_checks(case, progress)) or []
        )
        if expected_head is not None:
            result.head = guarded(
                result.problems, "the head", lambda: check_head(case, expected_head)
            ) or HeadCheck(expected_head, False, result.log_head, "the case log cannot be read")
    finally:
        con.close()
    return result
