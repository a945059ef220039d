"""A SparkSession behind the part of DuckDB's connection interface the stages use.

``SparkConnection.execute(sql, params)`` takes one DuckDB-dialect statement (as the stages write
them) and runs it on Spark through ``dialect.to_spark``:

* ``CREATE [OR REPLACE] [TEMP] TABLE t AS …`` — the query's result, materialised once as Parquet
  in the connection's work folder (``work``) and named ``t``: computed now, its lineage cut, its
  size known to the planner from the files. (``localCheckpoint`` cut the lineage too, but its
  table carries the planner's *estimate* of the query's size, and a join's estimate is the
  product of its inputs': iterating a self-join — linking's connected components — squared the
  estimate every round until the planner spent minutes multiplying numbers of millions of
  digits on a table of 248 rows. Files also free the memory a replaced table held, and on a
  cluster ``work`` is a folder every executor reads, e.g. ``hdfs://`` or ``s3a://``.)
* ``CREATE [OR REPLACE] VIEW v AS …`` — a temporary view (computed where it is read, as in DuckDB);
* ``DROP TABLE|VIEW [IF EXISTS] t`` — forgets the name;
* ``INSERT [OR REPLACE] INTO t …`` — for the small key-value tables (``meta``): the rows are
  added, replacing rows whose first column (the key) they repeat;
* ``BEGIN``/``COMMIT``/``ROLLBACK``/``CHECKPOINT``/``SET``/``COMMENT ON`` — nothing: Spark's tables
  here live as long as the session and have no transactions; what the custody log needs is kept by
  the driver, not by these statements;
* a query — its rows, fetched by ``fetchone``/``fetchall``/``df`` (the caller asks for aggregates
  only: nothing here pages through events).

Tables are named in the session's temporary catalog; ``load_parquet`` names the evidence tables of
a Parquet export (``forensics export --parquet``).
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from itertools import count, islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pandas as pd
from sqlglot import exp

from forensics.errors import SparkFailedError, SparkUnavailableError
from forensics.spark.dialect import SparkDialectError, parse, to_spark
from forensics.spark.runtime import spark_missing
from forensics.store.db import machine_memory, sql_str

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

LOG4J = Path(__file__).with_name("log4j2.properties")
NO_OPS = (exp.Transaction, exp.Commit, exp.Rollback, exp.Set, exp.Comment, exp.Pragma)
SPARK_MEMORY_ENV = "FORENSICS_SPARK_MEMORY"  # a local master's memory, e.g. 6g (default_driver_memory)
NO_OP_COMMANDS = ("CHECKPOINT", "FORCE", "PRAGMA", "SET", "RESET", "ANALYZE", "VACUUM")


@contextmanager
def spark_errors() -> Iterator[None]:
    """Spark's errors (a Java exception through py4j, PySpark's own) as SparkFailedError, with
    the first line of Spark's message and what to try: the CLI prints one line, not a JVM trace."""
    from py4j.protocol import Py4JError  # type: ignore[import-untyped]
    from pyspark.errors import PySparkException

    try:
        yield
    except (Py4JError, PySparkException) as exc:
        text = str(exc).strip()
        first = next((line.strip() for line in text.splitlines() if line.strip()), type(exc).__name__)
        hint = ""
        if "memory" in text.lower():
            hint = (
                "; Spark ran out of memory: give the driver and executors more (spark-submit "
                "--driver-memory/--executor-memory, or FORENSICS_SPARK_MEMORY for a local master)"
            )
        raise SparkFailedError(f"Spark stopped with an error: {first[:500]}{hint}") from exc


def default_driver_memory(total: int | None = None) -> str:
    """A local master's memory (driver and executors are one JVM): ``$FORENSICS_SPARK_MEMORY``, else
    a quarter of the machine's memory between 2 and 8 GiB (``spark.driver.memory``'s 1g ran a
    7.8M-event case's broadcast join out of memory; 2g did too)."""
    if os.environ.get(SPARK_MEMORY_ENV):
        return os.environ[SPARK_MEMORY_ENV]
    total = machine_memory() if total is None else total
    gib = 2 if total is None else total // 4 // 2**30
    return f"{min(8, max(2, gib))}g"


def local_session(cores: int = 2, memory: str = "2g") -> SparkSession:
    """A local-mode SparkSession set as the project needs it (``spark_session``)."""
    return spark_session(f"local[{cores}]", memory)


def spark_session(master: str | None = None, memory: str | None = None) -> SparkSession:
    """The SparkSession to run on: the one ``spark-submit``/``pyspark`` made when there is one,
    else a new one on ``master`` (default ``local[<cores>]``). Set as the project needs it: UTC,
    ANSI SQL, few shuffle partitions. Raises SparkUnavailableError when Spark cannot run here."""
    reason = spark_missing()
    if reason:
        raise SparkUnavailableError(reason)
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None and master is None:
        session = active
    else:
        cores = os.cpu_count() or 1
        builder = SparkSession.builder
        # spark-submit (or the pyspark shell) started this process: its --master stands
        submitted = master is None and "PYSPARK_GATEWAY_PORT" in os.environ
        local = not submitted and (master or "local").startswith("local")
        if local:
            # Python tasks (Spark ingest) run this interpreter, which has the project's packages,
            # not the first python3 on PATH; read when the session's context is made
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
            # few shuffle partitions for a machine's cores (a cluster keeps its own setting)
            builder = builder.config("spark.sql.shuffle.partitions", str(max(2, cores * 2)))
        if not submitted:
            builder = builder.master(master or f"local[{cores}]")
        builder = (
            builder.appName("forensics")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")  # the stages show progress themselves
            # no tables are saved (temporary views only): nothing left in the working folder
            .config("spark.sql.warehouse.dir", str(Path(tempfile.gettempdir()) / "forensics-spark-warehouse"))
            .config("spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile={LOG4J}")
            .config("spark.driver.memory", memory or default_driver_memory())
            # results come back as rows (aggregates, pages): no Arrow (PyArrow is not a dependency)
            .config("spark.sql.execution.arrow.pyspark.enabled", "false")
        )
        with warnings.catch_warnings():  # results reach the driver as rows, not through its pandas
            warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas")
            session = builder.getOrCreate()
        session.sparkContext.setLogLevel("ERROR")
    # what the SQL's meaning depends on, whoever made the session
    session.conf.set("spark.sql.session.timeZone", "UTC")
    session.conf.set("spark.sql.ansi.enabled", "true")
    # the tables' files: instants as Parquet's UTC microseconds (DuckDB reads them as TIMESTAMPTZ)
    session.conf.set("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
    return session


def _instant(value: Any) -> Any:
    """A value as DuckDB hands it over. PySpark hands a TIMESTAMP over as a naive datetime in the
    driver's local time, DuckDB a TIMESTAMPTZ as an aware one: aware it is (the same instant).
    PySpark hands a STRUCT over as a ``Row``, DuckDB as a dict: a dict it is (in lists too)."""
    from pyspark.sql import Row

    if isinstance(value, datetime) and value.tzinfo is None:
        return value.astimezone(UTC)
    if isinstance(value, Row):
        return {k: _instant(v) for k, v in value.asDict(recursive=False).items()}
    if isinstance(value, list):
        return [_instant(v) for v in value]
    if isinstance(value, dict):
        return {k: _instant(v) for k, v in value.items()}
    return value


def _temporary(tree: exp.Create) -> bool:
    props = tree.args.get("properties")
    return bool(props and any(isinstance(p, exp.TemporaryProperty) for p in props.expressions))


class SparkResult:
    """The rows of one statement (none for DDL), streamed to the driver as they are fetched
    (``toLocalIterator``: one partition at a time), so paging through a large result (the
    timeline, the affected records) never holds all of it."""

    def __init__(self, frame: DataFrame | None) -> None:
        self._frame = frame
        self._rows: Iterator[tuple[Any, ...]] | None = None

    def _iter(self) -> Iterator[tuple[Any, ...]]:
        if self._rows is None:
            rows = iter(()) if self._frame is None else self._frame.toLocalIterator()
            self._rows = (tuple(map(_instant, r)) for r in rows)
        return self._rows

    def fetchone(self) -> tuple[Any, ...] | None:
        return next(self._iter(), None)

    def fetchmany(self, size: int = 1) -> list[tuple[Any, ...]]:
        return list(islice(self._iter(), size))

    def fetchall(self) -> list[tuple[Any, ...]]:
        return list(self._iter())

    def df(self) -> pd.DataFrame:
        """The rows as DuckDB's ``df()`` gives them: instants aware (UTC), dates as (naive)
        timestamps, structs as dicts."""
        from pyspark.sql.types import DateType

        if self._frame is None:
            return pd.DataFrame()
        frame = pd.DataFrame(list(self._iter()), columns=list(self._frame.columns))
        for field in self._frame.schema.fields:
            if isinstance(field.dataType, DateType):
                frame[field.name] = pd.to_datetime(frame[field.name])
        return frame

    fetchdf = df


class _State:
    """What a connection and its cursors share."""

    def __init__(self, work: str | Path | None) -> None:
        self.statements: list[str] = []
        self.catalog: dict[str, tuple[str, bool]] = {}
        self.files: dict[str, str] = {}  # table -> the folder of its Parquet files
        self.loaded: dict[str, Path] = {}  # evidence table -> its Parquet (load_parquet)
        self.views: dict[str, tuple[str, Any]] = {}  # view -> its DuckDB statement and parameters
        self.work = str(work) if work is not None else tempfile.mkdtemp(prefix="forensics-spark-")
        self.removable = work is None
        self.seq = count(1)


class SparkConnection:
    """Runs the stages' DuckDB-dialect statements on ``session`` (see the module docstring)."""

    def __init__(
        self, session: SparkSession, work: str | Path | None = None, *, _of: SparkConnection | None = None
    ) -> None:
        """``work``: the folder the tables are written to (default: a new temporary folder, removed
        by ``close``; on a cluster, a folder every executor can read)."""
        self.session = session
        self._result = SparkResult(None)
        # a cursor (``_of``) shares its connection's names, tables and log of statements
        self._state: _State = _of._state if _of is not None else _State(work)
        self._owned = _of is None
        # the Spark SQL run, in order (tests and the census read it; a cursor adds to its connection's)
        self.statements = self._state.statements
        # what DuckDB's catalog would list (duckdb_tables(), duckdb_views()): name -> (kind,
        # temporary); every name is a temporary view to Spark, the stages ask which it would be
        self.catalog = self._state.catalog
        self.work = self._state.work

    # DuckDB's connection answers for its last statement's rows; so does this one (read as they
    # are fetched: Spark's errors can come then too)
    def fetchone(self) -> tuple[Any, ...] | None:
        with spark_errors():
            return self._result.fetchone()

    def fetchmany(self, size: int = 1) -> list[tuple[Any, ...]]:
        with spark_errors():
            return self._result.fetchmany(size)

    def fetchall(self) -> list[tuple[Any, ...]]:
        with spark_errors():
            return self._result.fetchall()

    def df(self) -> pd.DataFrame:
        with spark_errors():
            return self._result.df()

    fetchdf = df

    def cursor(self) -> SparkConnection:
        """Another handle on the same session, with rows of its own (as DuckDB's cursor)."""
        return SparkConnection(self.session, _of=self)

    def close(self) -> None:
        """Forget the last result; the connection that made the work folder removes it (its tables)."""
        self._result = SparkResult(None)
        if self._owned:
            for name in list(self._state.files):
                self.session.catalog.dropTempView(name)
                self.catalog.pop(name, None)
                self._forget_files(name)
            if self._state.removable:
                shutil.rmtree(self.work, ignore_errors=True)

    def abort(self) -> None:
        self._result = SparkResult(None)

    def unregister(self, name: str) -> None:
        self.session.catalog.dropTempView(name)
        self.catalog.pop(name, None)

    def load_parquet(self, folder: str | Path, tables: Sequence[str]) -> None:
        """Name each of ``tables`` after the Parquet at ``folder/<table>`` (a file or a hive folder)."""
        for name in tables:
            path = Path(folder) / name
            reader = self.session.read
            if path.is_dir():  # hive-partitioned (events/day=…/): the partition column is dropped
                frame = reader.option("basePath", str(path)).parquet(str(path))
                frame = frame.drop(
                    *[c for c in frame.columns if f"{c}=" in "".join(p.name for p in path.iterdir())]
                )
            else:
                frame = reader.parquet(str(path.with_suffix(".parquet")))
            frame.createOrReplaceTempView(name)
            self.catalog[name] = ("table", False)
            self._state.loaded[name] = path

    def register(self, name: str, frame: pd.DataFrame) -> None:
        """``frame`` as a view: text columns (pandas ``object``) as strings, so a column of None
        needs no type guess (the stages cast what they read from such frames)."""
        from pyspark.sql import types as T

        kinds: dict[str, T.DataType] = {
            "b": T.BooleanType(),
            "i": T.LongType(),
            "u": T.LongType(),
            "f": T.DoubleType(),
        }
        fields, columns = [], []
        for col in frame.columns:
            kind = kinds.get(frame[col].dtype.kind, T.StringType())
            fields.append(T.StructField(str(col), kind, True))
            values = frame[col].tolist()
            if isinstance(kind, T.StringType):
                values = [None if v is None or (isinstance(v, float) and v != v) else str(v) for v in values]
            columns.append(values)
        rows = list(zip(*columns, strict=True)) if columns else []
        self.session.createDataFrame(rows, T.StructType(fields)).createOrReplaceTempView(name)
        self.catalog[name] = ("view", True)

    def _run(self, sql: str) -> DataFrame:
        self.statements.append(sql)
        return self.session.sql(sql)

    def execute(self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> SparkConnection:
        """Run one statement; its rows (if any) are this connection's to fetch, as in DuckDB."""
        with spark_errors():
            self._result = self._statement(sql, params)
        return self

    def _statement(self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None) -> SparkResult:
        head = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else ""
        if head in NO_OP_COMMANDS:
            return SparkResult(None)
        tree = parse(sql, params)
        if isinstance(tree, NO_OPS):
            return SparkResult(None)
        if isinstance(tree, exp.Create):
            made = self._create(tree)
            name = self._created_name(tree)
            self._state.views.pop(name, None)
            if tree.args.get("kind") == "VIEW":
                self._state.views[name] = (sql, params)
            return made
        if isinstance(tree, exp.Drop):
            for table in tree.args.get("tables") or [tree.this]:
                name = table.name
                if not self.session.catalog.tableExists(name) and not tree.args.get("exists"):
                    raise SparkDialectError(f"DROP {name}: no such table or view")
                self.session.catalog.dropTempView(name)
                self.catalog.pop(name, None)
                self._forget_files(name)
                self._state.views.pop(name, None)
            return SparkResult(None)
        if isinstance(tree, exp.Insert):
            return self._insert(tree)
        if isinstance(tree, exp.Query):  # read as it is fetched: its CTEs stay CTEs
            return SparkResult(self._run(to_spark(self._with_catalog(tree))))
        raise SparkDialectError(f"{type(tree).__name__} statements are not run on Spark: {sql[:80]!r}")

    @staticmethod
    def _created_name(tree: exp.Create) -> str:
        target = tree.this
        return str(target.this.name if isinstance(target, exp.Schema) else target.name)

    def to_duckdb(self, con: duckdb.DuckDBPyConnection) -> None:
        """Name in DuckDB ``con`` what this connection names: the evidence tables as views of their
        Parquet, every table as a copy of the Parquet files Spark wrote, every view by its own DuckDB
        statement. The report's writers read them there (spark/case.py)."""
        for name, path in self._state.loaded.items():
            if name in self._state.files:  # rewritten since (meta's INSERT): its table is below
                continue
            files = f"{path}/*/*.parquet" if path.is_dir() else str(path.with_suffix(".parquet"))
            con.execute(
                f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM read_parquet({sql_str(files)}, "
                "hive_partitioning = false)"
            )
        for name, folder in self._state.files.items():
            con.execute(
                f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM "
                f"read_parquet({sql_str(folder.rstrip('/') + '/*.parquet')})"
            )
        for name, (sql, params) in self._state.views.items():
            if name in self.catalog:
                con.execute(sql, params)

    def _create(self, tree: exp.Create) -> SparkResult:
        kind = tree.args.get("kind")
        target = tree.this
        name = target.this.name if isinstance(target, exp.Schema) else target.name
        body = tree.expression
        if body is None and kind == "TABLE" and isinstance(target, exp.Schema):
            # CREATE TABLE t (col type, …): an empty table of those columns
            columns = [c for c in target.expressions if isinstance(c, exp.ColumnDef)]
            body = exp.select(
                *[exp.alias_(exp.cast(exp.null(), c.args["kind"]), c.name) for c in columns]
            ).where(exp.false())
        if body is None or kind not in ("TABLE", "VIEW"):
            raise SparkDialectError(
                f"CREATE {kind} {name}: only CREATE TABLE/VIEW … AS a query runs on Spark"
            )
        if not tree.args.get("replace") and self.session.catalog.tableExists(name):
            if tree.args.get("exists"):
                return SparkResult(None)
            raise SparkDialectError(f"CREATE {kind} {name}: it exists")
        if kind == "VIEW":  # computed where it is read: its CTEs stay CTEs
            self._run(f"CREATE OR REPLACE TEMP VIEW `{name}` AS {to_spark(self._with_catalog(body))}")
        else:
            with self._shared_ctes(self._with_catalog(body)) as query:
                self._materialise(name, self._run(to_spark(query)))
        self.catalog[name] = (kind.lower(), bool(tree.args.get("temporary")) or _temporary(tree))
        return SparkResult(None)

    @contextmanager
    def _shared_ctes(self, tree: exp.Expr) -> Iterator[exp.Expr]:
        """``tree`` with each CTE that is read more than once written as a table first (and
        forgotten after): DuckDB computes such a CTE once; Spark inlines a CTE wherever it is read,
        so a chain of CTEs each read twice (out_of_scope's) is planned and computed again and again
        — a minute for the sample's 25,288 events. A CTE read once stays a CTE; so does one whose
        query cannot stand alone (it reads a CTE of an enclosing query)."""
        tree = tree.copy()
        made: list[str] = []
        try:
            nested = [
                q
                for q in tree.find_all(exp.Query)
                if isinstance(q.args.get("with_"), exp.With) and not q.args["with_"].args.get("recursive")
            ]
            for query in reversed(nested):  # the innermost first
                lifted = self._lift_ctes(query, made)
                if query is tree:
                    tree = lifted
                else:
                    query.replace(lifted)
            yield tree
        finally:
            for table in made:
                self.session.catalog.dropTempView(table)
                self._forget_files(table)

    def _lift_ctes(self, query: exp.Expr, made: list[str]) -> exp.Expr:
        """``query`` with its CTEs read more than once written as tables (named in ``made``)."""
        from pyspark.errors import AnalysisException

        kept: list[exp.CTE] = []
        todo = list(query.args["with_"].expressions)
        main = query.copy()
        main.set("with_", None)
        for i, cte in enumerate(todo):
            alias = cte.alias_or_name
            readers = [c.this for c in todo[i + 1 :]] + [main]
            reads = sum(
                1 for r in readers for t in r.find_all(exp.Table) if t.name == alias and not t.args.get("db")
            )
            named_columns = bool(cte.args["alias"].columns)  # WITH x(a, b) AS …: left as it is
            if reads < 2 or named_columns or not isinstance(cte.this, exp.Query):
                kept.append(cte)
                continue
            body = cte.this.copy()
            inner = body.args.get("with_")
            outer = [k.copy() for k in kept] + (list(inner.expressions) if inner else [])
            if outer:
                body.set("with_", exp.With(expressions=outer))
            table = f"__cte_{next(self._state.seq):06d}_{re.sub(r'[^A-Za-z0-9_]', '_', alias)}"
            try:
                frame = self._run(to_spark(body))
            except AnalysisException:  # it reads what only an enclosing query names
                kept.append(cte)
                continue
            self._materialise(table, frame)
            made.append(table)

            def swap(node: exp.Expr, alias: str = alias, table: str = table) -> exp.Expr:
                if isinstance(node, exp.Table) and node.name == alias and not node.args.get("db"):
                    return exp.to_table(table).as_(node.alias_or_name)
                return node

            for later in todo[i + 1 :]:
                later.set("this", later.this.transform(swap))
            main = main.transform(swap)
        main.set("with_", exp.With(expressions=kept) if kept else None)
        return main

    def _materialise(self, name: str, frame: DataFrame) -> None:
        """``frame`` written as Parquet into a folder of its own under ``work`` and named ``name``;
        the files of the table it replaces are removed once it is written (the query may read them)."""
        from pyspark.sql import functions as F
        from pyspark.sql import types as T

        # an untyped NULL column: Parquet has no such type; DuckDB's table would hold INTEGER
        typed = [
            F.col(f"`{f.name}`").cast(T.IntegerType()).alias(f.name)
            if isinstance(f.dataType, T.NullType)
            else F.col(f"`{f.name}`")
            for f in frame.schema.fields
        ]
        folder = f"{self.work.rstrip('/')}/{next(self._state.seq):06d}-{re.sub(r'[^A-Za-z0-9_]', '_', name)}"
        frame.select(*typed).write.parquet(folder)
        self.session.read.parquet(folder).createOrReplaceTempView(name)
        self._forget_files(name)
        self._state.files[name] = folder

    def _forget_files(self, name: str) -> None:
        folder = self._state.files.pop(name, None)
        if folder is not None and "://" not in folder:
            shutil.rmtree(folder, ignore_errors=True)

    def _with_catalog(self, tree: exp.Expr) -> exp.Expr:
        """``duckdb_tables()``/``duckdb_views()`` read as views of ``self.catalog`` (made now)."""
        wanted = {
            t.this.name.lower()
            for t in tree.find_all(exp.Table)
            if isinstance(t.this, exp.Anonymous) and t.this.name.lower() in ("duckdb_tables", "duckdb_views")
        }
        for function in wanted:
            kind = "table" if function == "duckdb_tables" else "view"
            names = [(n, temp) for n, (k, temp) in sorted(self.catalog.items()) if k == kind]
            schema = (
                f"{kind}_name STRING, temporary BOOLEAN, schema_name STRING, internal BOOLEAN, comment STRING"
            )
            rows = [(n, temp, "main", False, None) for n, temp in names]
            self.session.createDataFrame(rows, schema).createOrReplaceTempView(f"__{function}")

        def swap(node: exp.Expr) -> exp.Expr:
            if isinstance(node, exp.Table) and isinstance(node.this, exp.Anonymous):
                function = node.this.name.lower()
                if function in wanted:
                    return exp.to_table(f"__{function}")
            return node

        return tree.transform(swap) if wanted else tree

    def _insert(self, tree: exp.Insert) -> SparkResult:
        name = tree.this.name
        rows = tree.expression
        if isinstance(rows, exp.Values):
            rows = exp.select("*").from_(rows.as_("v"))
        with self._shared_ctes(self._with_catalog(rows)) as query:
            old = self.session.table(name)
            new = self._run(to_spark(query)).toDF(*old.columns)
            if tree.args.get("alternative") in ("REPLACE", "IGNORE"):
                key = old.columns[0]
                if tree.args.get("alternative") == "REPLACE":
                    old = old.join(new.select(key), on=key, how="left_anti")
                else:
                    new = new.join(old.select(key), on=key, how="left_anti")
            self._materialise(name, old.unionByName(new))
        return SparkResult(None)
