"""The case log of a Parquet case folder (``forensics export --parquet``, ``ingest --engine
spark``): commands run on the folder (``investigate --engine spark``) append to it as they would to
a case file's log.

The folder's log is ``case_log.parquet``, and its manifest names the log's head and each file's
SHA-256, size and rows. An entry is appended by reading the log into an in-memory DuckDB table,
appending with ``custody.append`` (the same hash chain as a case file's), writing the new
``case_log.parquet`` and ``manifest.json`` beside the old ones and renaming them into place (the
log first: a crash between the two renames leaves a folder whose ``verify_parquet`` names the log
head the manifest does not know — never a silently rewritten log). The evidence tables (events,
rejects, sources, meta) are never written: only the log grows, and ``verify_parquet`` still checks
every row against the row digests the log recorded.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from forensics.errors import CaseError
from forensics.ingest.evidence import sha256_file
from forensics.publish.parquet_check import MANIFEST, column_types, read_manifest
from forensics.store import custody
from forensics.store.case import tool_version
from forensics.store.db import sql_str
from forensics.store.schema import create_table_sql

LOG = "case_log.parquet"


@contextmanager
def folder_lock(folder: str | Path) -> Iterator[None]:
    """Hold the Parquet case folder for one command, as DuckDB holds a case file: a second command
    on the same folder meanwhile is refused (CaseError), not interleaved — two appends to the log
    would lose one entry, and a check that read the new log beside the old manifest would name a
    mismatch that is not there. The lock is on the folder itself (flock): nothing is written."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CaseError(
                f"the Parquet case folder {folder} is in use by another command; wait for it to finish"
            ) from None
        yield
    finally:
        os.close(fd)  # closing the only descriptor releases the lock


class ParquetCaseLog:
    """``log_command``/``log_result``/``log_head`` (as ``Case`` has them) for a Parquet case folder."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        read_manifest(self.folder)  # refuses a folder that is not an export

    def log_command(self, command: str, parameters: dict[str, Any]) -> int:
        return self._append(command, parameters)

    def log_result(self, started: int, command: str, result: dict[str, Any]) -> int:
        return self._append(command + custody.FINISHED, {"of": started, **result})

    def log_head(self) -> str:
        return str(read_manifest(self.folder)["log_head"]["entry_hash"])

    def _append(self, command: str, parameters: dict[str, Any]) -> int:
        manifest = read_manifest(self.folder)
        path = self.folder / LOG
        new_log = self.folder / f".{LOG}.{os.getpid()}.new"
        new_manifest = self.folder / f".{MANIFEST}.{os.getpid()}.new"
        con = duckdb.connect(":memory:")
        try:
            con.execute("SET TimeZone = 'UTC'")
            con.execute(create_table_sql("case_log"))
            con.execute(f"INSERT INTO case_log SELECT * FROM read_parquet({sql_str(str(path))})")
            seq = custody.append(con, tool_version(), command, parameters)
            con.execute(
                f"COPY (SELECT * FROM case_log ORDER BY seq) TO {sql_str(str(new_log))} (FORMAT parquet)"
            )
            rows = int(con.execute("SELECT count(*) FROM case_log").fetchone()[0])  # type: ignore[index]
            head = custody.head(con)
            manifest["tables"]["case_log"] = {"rows": rows, "columns": column_types(con, "case_log")}
        finally:
            con.close()
        manifest["log_head"] = {"seq": head[0], "entry_hash": head[1]}
        for entry in manifest["files"]:
            if entry["path"] == LOG:
                entry.update(rows=rows, bytes=new_log.stat().st_size, sha256=sha256_file(new_log))
        new_manifest.write_text(json.dumps(manifest, indent=2, ensure_ascii=True) + "\n", encoding="utf-8")
        os.replace(new_log, path)
        os.replace(new_manifest, self.folder / MANIFEST)
        return seq
