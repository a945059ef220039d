"""A case whose derived work runs on Spark: ``investigate --engine spark``.

``SparkCase`` is a ``Case`` whose ``con`` is a ``SparkConnection`` over the case's evidence tables
read from Parquet, so the stages' own code (derive, detect, assess, the writers) runs unchanged on
Spark. What is not Spark's stays where it was:

* the custody log: entries go to the case the evidence came from — the case file's log
  (``on_spark``) or a Parquet case folder's ``case_log.parquet`` (``open_parquet_case``,
  ``ParquetCaseLog``), written by the driver;
* the derived tables Spark writes (``SparkConnection``'s work folder) go to a temporary folder
  beside the case, removed afterwards: on a cluster the case is on a file system every executor
  reads, and so are they;
* raw evidence lines (the findings' excerpts) are read from the evidence files by a small local
  DuckDB connection (``local``), as the embedded engine reads them, the file re-hashed first.

A case file is handed to Spark by ``forensics export --parquet`` into a temporary folder beside it
(logged in its case log, checked row by row against the recorded digests before Spark reads it,
removed afterwards). A Parquet case folder is checked with ``verify_parquet`` before Spark reads
it: a folder whose rows do not match its log's digests is refused, never investigated.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

import duckdb

from forensics.errors import EvidenceError
from forensics.publish.parquet import export_parquet
from forensics.publish.parquet_case import held_and_checked
from forensics.publish.parquet_check import TABLES
from forensics.publish.parquet_log import ParquetCaseLog
from forensics.spark.session import SparkConnection
from forensics.store.case import Case
from forensics.store.db import connect

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

ENGINE = "spark"


class CaseLog(Protocol):
    def log_command(self, command: str, parameters: dict[str, Any]) -> int: ...
    def log_result(self, started: int, command: str, result: dict[str, Any]) -> int: ...
    def log_head(self) -> str: ...


class SparkCase(Case):
    """``Case`` with the derived work on Spark and the custody log kept by ``log`` (module doc)."""

    engine = ENGINE

    def __init__(self, path: Path, spark: SparkConnection, log: CaseLog) -> None:
        # the stages call the DuckDB connection interface; SparkConnection implements the part they use
        super().__init__(path, cast(duckdb.DuckDBPyConnection, spark))
        self.spark = spark
        self._log = log
        self.local = duckdb.connect()  # raw evidence lines, read as the embedded engine reads them

    def log_command(self, command: str, parameters: dict[str, Any]) -> int:
        return self._log.log_command(command, {**parameters, "engine": ENGINE})

    def log_result(self, started: int, command: str, result: dict[str, Any]) -> int:
        return self._log.log_result(started, command, result)

    def log_head(self) -> str:
        return self._log.log_head()

    def reclaim(self, tables: tuple[str, ...]) -> None:
        """Derived tables live in the Spark session: forgetting them is all there is to reclaim."""
        for name in tables:
            if name in TABLES:
                raise ValueError(f"{name} is evidence, not derived state")
            self.spark.execute(f"DROP TABLE IF EXISTS {name}")

    def raw_lines(self, source_id: int, line_nos: list[int], verify: bool = True) -> dict[int, str]:
        from forensics.ingest.excerpts import raw_lines

        row = self.spark.execute(
            "SELECT path, compression, sha256, reader FROM sources WHERE source_id = ?", [source_id]
        ).fetchone()
        if row is None:
            raise EvidenceError(f"no source {source_id} in this case")
        return raw_lines(self.local, source_id, line_nos, verify=verify, source=row)

    @contextmanager
    def writing(self) -> Iterator[Case]:
        """The case as the report's writers read it: a DuckDB (a file in the work folder, so it can
        spill) naming what Spark made — its tables copied from the Parquet files Spark wrote, the
        evidence as views of its Parquet (``SparkConnection.to_duckdb``). The files are written by
        one process whichever engine computed them; the same writer code writes the same bytes."""
        folder = Path(tempfile.mkdtemp(prefix="writing-", dir=self._work_parent()))
        con = connect(folder / "tables.duckdb")
        try:
            self.spark.to_duckdb(con)
            yield Case(self.path, con)
        finally:
            con.close()
            shutil.rmtree(folder, ignore_errors=True)

    def _work_parent(self) -> Path:
        return Path(self.spark.work).parent

    def close(self) -> None:
        self.local.close()
        self.spark.close()


@contextmanager
def on_spark(case: Case, session: SparkSession) -> Iterator[SparkCase]:
    """``case`` (a case file) on Spark: its evidence exported to a temporary folder beside it."""
    with tempfile.TemporaryDirectory(prefix=f".{case.path.name}.spark-", dir=case.path.parent) as tmp:
        folder = Path(tmp) / "parquet"
        export_parquet(case, folder)
        spark = SparkConnection(session, Path(tmp) / "tables")
        spark.load_parquet(folder, TABLES)
        spark_case = SparkCase(case.path, spark, case)
        try:
            yield spark_case
        finally:
            spark_case.close()


@contextmanager
def open_parquet_case(folder: str | Path, session: SparkSession) -> Iterator[SparkCase]:
    """A Parquet case folder on Spark, its log appended to by what runs on it; refused (ExportError)
    when ``verify_parquet`` finds its files or rows differ from what its log recorded."""
    root = Path(folder)
    with held_and_checked(root, ENGINE) as tmp:
        spark = SparkConnection(session, tmp / "tables")
        spark.load_parquet(root, TABLES)
        spark_case = SparkCase(root, spark, ParquetCaseLog(root))
        try:
            yield spark_case
        finally:
            spark_case.close()
