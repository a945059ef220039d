"""A case: one DuckDB file holding sources, events, rejects and the case log."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from forensics.errors import CaseError
from forensics.store import custody
from forensics.store.db import connect, sql_str, transaction
from forensics.store.printable import printable
from forensics.store.reprs import html_table
from forensics.store.schema import COMMENTS, NOT_AN_ENTRY, SCHEMA_VERSION, TABLES, create_table_sql

ROW_DIGESTS_FROM = "row_digests_from"  # meta key: first source id with row digests


def tool_version() -> str:
    try:
        return version("access-log-forensics")
    except PackageNotFoundError:  # running from a source tree without install
        return "0+unknown"


def _utc(ts: Any) -> str:
    if ts is None:
        return "—"
    return str(pd.Timestamp(ts).tz_convert("UTC").strftime("%Y-%m-%d %H:%M:%S UTC"))


def apply_comments(con: duckdb.DuckDBPyConnection) -> int:
    """Give the case's tables and columns the descriptions in ``schema.COMMENTS`` where they lack
    them (or differ). Derived tables lose their comments when re-created, so the modules creating
    them call this afterwards. Returns the number of comments set. Another engine's connection
    (spark.session.SparkConnection) keeps no comments: nothing to set."""
    if not isinstance(con, duckdb.DuckDBPyConnection):
        return 0
    where = "database_name = current_database() AND schema_name = 'main'"
    tables = dict(con.execute(f"SELECT table_name, comment FROM duckdb_tables() WHERE {where}").fetchall())
    columns = {
        (t, c): comment
        for t, c, comment in con.execute(
            f"SELECT table_name, column_name, comment FROM duckdb_columns() WHERE {where}"
        ).fetchall()
    }
    statements = []
    for table, (text, cols) in COMMENTS.items():
        if table not in tables:
            continue
        if tables[table] != text:
            statements.append(f"COMMENT ON TABLE {table} IS {sql_str(text)}")
        for col, desc in cols.items():
            if (table, col) in columns and columns[table, col] != desc:
                statements.append(f'COMMENT ON COLUMN {table}."{col}" IS {sql_str(desc)}')
    for statement in statements:
        con.execute(statement)
    return len(statements)


DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
NEARLY_FULL = 4 * 1024 * 1024  # bytes free below which a failed write is taken as a full disk


def is_disk_full(exc: BaseException) -> bool:
    """No space left (or quota exceeded), from the OS or in DuckDB's message."""
    if isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRNOS:
        return True
    text = str(exc).lower()
    return "no space left" in text or "disk quota exceeded" in text or "disk is full" in text


def disk_nearly_full(path: Path) -> bool:
    """The file system holding ``path`` has (almost) no space left for this user."""
    try:
        st = os.statvfs(path.absolute().parent)
    except OSError:
        return False
    return st.f_bavail * st.f_frsize < NEARLY_FULL


def is_write_failure(exc: BaseException, path: Path | None = None) -> bool:
    """DuckDB could not write the case, its WAL or its spill files (as opposed to a query error).

    With the case's ``path``: "Current transaction is aborted" on a disk with no space left is
    one too (a write inside the transaction failed first, and that error was not the one seen)."""
    text = str(exc)
    if isinstance(exc, duckdb.IOException) or is_disk_full(exc):
        return True
    if isinstance(exc, duckdb.FatalException) and "Could not write" in text:
        return True  # a checkpoint that could not write (DuckDB then refuses the connection)
    if not isinstance(exc, duckdb.TransactionException):
        return False
    if "Could not write" in text or "Failed to commit" in text:
        return True
    return "transaction is aborted" in text and path is not None and disk_nearly_full(path)


def write_failed(path: Path | None, exc: duckdb.Error) -> CaseError:
    """A write to the case (or its spill folder) failed: disk full, quota, I/O error. One line."""
    detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if is_disk_full(exc) or (path is not None and disk_nearly_full(path)):
        where = f"case {path}" if path else "the case"
        return CaseError(
            f"cannot write to {where}: the disk is full ({detail}). Free space on that disk, or put the "
            "case on another disk (give CASE a path there), and run the same command again: what is "
            "already in the case is kept and not redone (check it with `forensics verify`)."
        )
    where = f"case {path} or its spill folder {path}.tmp" if path else "the case or its spill folder"
    return CaseError(
        f"cannot write to {where} ({detail}). "
        "Everything committed before is intact (check with `forensics verify`); free disk space "
        "and run the same command again: what is already in the case is not redone."
    )


class Case:
    """A forensic case stored in one DuckDB file.

    Example::

        case = Case.open("case.duckdb")
        case.sql("select status, count(*) from events group by all")
    """

    engine = "duckdb"  # where the SQL runs (spark.case.SparkCase: "spark")

    def __init__(self, path: Path, con: duckdb.DuckDBPyConnection, *, read_only: bool = False) -> None:
        self.path = path
        self.con = con
        self.read_only = read_only  # opened read-only: library entry points leave no log entry

    @classmethod
    def create(cls, path: str | Path, *, memory_limit: str | None = None) -> Case:
        """Open the case at ``path``, creating it (and its tables) when it does not exist."""
        p = Path(path)
        if p.exists() and p.is_dir():
            raise CaseError(f"{p} is a directory; give a case file name such as case.duckdb")
        con = connect(p, memory_limit=memory_limit)
        for name in TABLES:
            con.execute(create_table_sql(name))
        con.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)])
        case = cls(p, con)
        case._upgrade()
        case._mark_row_digests()
        with transaction(con):  # one commit for the ~130 comments, not one each (~0.2 s)
            apply_comments(con)
        return case

    @classmethod
    def open(cls, path: str | Path, *, read_only: bool = False, damaged_ok: bool = False) -> Case:
        """Open an existing case; raises CaseError when it is missing or not a case.

        ``damaged_ok`` (read-only, for verify): a DuckDB file with some of the case's tables
        missing opens as long as it has one of them; verify names what is missing."""
        p = Path(path)
        if not p.is_file():
            raise CaseError(f"no case file at {p}; create one with `forensics ingest {p} EVIDENCE…`")
        con = connect(p, read_only=read_only)
        tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        if not set(TABLES) <= tables and not (damaged_ok and read_only and set(TABLES) & tables):
            con.close()
            raise CaseError(f"{p} is a DuckDB file but not a forensics case (missing tables)")
        case = cls(p, con, read_only=read_only)
        if not read_only:
            case._upgrade()
            case._mark_row_digests()
            apply_comments(con)  # cases written before comments; derived tables re-created since
        return case

    def schema_version(self) -> int | None:
        """The schema version the case says it has (None when it does not say)."""
        try:
            row = self.con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            return int(row[0]) if row else None
        except (duckdb.Error, ValueError):
            return None

    def _mark_row_digests(self) -> None:
        """Note the first source id whose rows get a digest (rowdigest.py): 1 for a new case,
        the next id for a case ingested before digests were recorded (its sources have none)."""
        self.con.execute(
            f"INSERT OR IGNORE INTO meta SELECT {sql_str(ROW_DIGESTS_FROM)}, "
            "(coalesce(max(source_id), 0) + 1)::VARCHAR FROM sources"
        )

    def _upgrade(self) -> None:
        """Bring a case written by an older version to this schema (the log gets its chain)."""
        row = self.con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        found = int(row[0]) if row else SCHEMA_VERSION
        if found > SCHEMA_VERSION:
            raise CaseError(
                f"{self.path} was written by a newer version of this tool (schema {found}); upgrade the tool"
            )
        if found == SCHEMA_VERSION:
            return
        with transaction(self.con):
            chained = custody.rechain(self.con) if self._add_columns("case_log") else 0
            if self._add_columns("sources"):  # schema 3: rejected entry lines counted per source
                self.con.execute(f"""
                    UPDATE sources SET entry_rejects = coalesce(r.n, 0) FROM (
                      SELECT s.source_id, count(r.line_no) AS n FROM sources s
                      LEFT JOIN rejects r ON r.source_id = s.source_id
                        AND r.reason <> 'empty line' AND NOT starts_with(r.reason, {sql_str(NOT_AN_ENTRY)})
                      GROUP BY ALL) r
                    WHERE sources.source_id = r.source_id AND sources.lines IS NOT NULL""")
            # schema 4: the AWS formats' fields as typed structs; older events keep them in extra
            self._add_columns("events")
            self.con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", [str(SCHEMA_VERSION)])
            custody.append(
                self.con,
                tool_version(),
                "upgrade",
                {"from_schema": found, "to_schema": SCHEMA_VERSION, "entries_chained": chained},
            )

    def _add_columns(self, table: str) -> bool:
        """Add the schema's columns a table written by an older version lacks; True if any."""
        have = {
            r[0]
            for r in self.con.execute(
                "SELECT column_name FROM duckdb_columns() WHERE table_name = ?", [table]
            ).fetchall()
        }
        missing = [(c, t) for c, t in TABLES[table].items() if c not in have]
        for col, typ in missing:
            self.con.execute(f"ALTER TABLE {table} ADD COLUMN {col} {typ}")
        return bool(missing)

    def close(self) -> None:
        self.con.close()

    def summary(self) -> dict[str, Any] | None:
        """What the case holds in a few numbers (None once closed): evidence files by status,
        events, rejects, the first and last event (UTC). Read on a cursor of its own, so a
        result the caller has not fetched yet is left alone."""
        try:
            cur = self.con.cursor()
        except duckdb.Error:
            return None
        try:
            statuses = dict(
                cur.execute("SELECT status, count(*) FROM sources GROUP BY ALL ORDER BY 1").fetchall()
            )
            row = cur.execute(
                "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM rejects), "
                "(SELECT min(ts) FROM events), (SELECT max(ts) FROM events)"
            ).fetchone()
        except duckdb.Error:
            return None
        finally:
            cur.close()
        events, rejects, first, last = row if row else (0, 0, None, None)
        return {"files": statuses, "events": events, "rejects": rejects, "first": first, "last": last}

    def __repr__(self) -> str:
        info = self.summary()
        if info is None:
            return f"<Case {printable(str(self.path))} (closed)>"
        files = sum(info["files"].values())
        span = f", {_utc(info['first'])} to {_utc(info['last'])}" if info["first"] is not None else ""
        return (
            f"<Case {printable(str(self.path))}: {files:,} evidence files, {info['events']:,} events, "
            f"{info['rejects']:,} rejected lines{span}>"
        )

    def _repr_html_(self) -> str:
        """The case in a notebook: a small table, every value escaped."""
        info = self.summary()
        rows: list[tuple[str, str]] = [("case", str(self.path))]
        if info is None:
            rows.append(("state", "closed"))
        else:
            by_status = ", ".join(f"{n:,} {status}" for status, n in info["files"].items()) or "none"
            rows += [
                ("evidence files", f"{sum(info['files'].values()):,} ({by_status})"),
                ("events", f"{info['events']:,}"),
                ("rejected lines", f"{info['rejects']:,}"),
                ("first event", _utc(info["first"])),
                ("last event", _utc(info["last"])),
            ]
        return html_table("Case", rows)

    def __enter__(self) -> Case:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def sql(self, query: str, params: list[Any] | dict[str, Any] | None = None) -> pd.DataFrame:
        """Run a query against the case and return a pandas DataFrame."""
        return self.con.execute(query, params).df()

    def reclaim(self, tables: tuple[str, ...]) -> None:
        """Drop derived ``tables`` (views on them stop working until re-derived) and checkpoint, so
        the blocks they held are free for the tables that replace them: re-deriving reuses the
        space instead of growing the case file by another copy of the derived state."""
        for name in tables:
            if name in TABLES:  # meta, sources, events, rejects, case_log
                raise ValueError(f"{name} is evidence, not derived state")
            self.con.execute(f"DROP TABLE IF EXISTS {name}")
        self.con.execute("CHECKPOINT")

    @contextmanager
    def writing(self) -> Iterator[Case]:
        """The case the report's writers read (this one; spark.case.SparkCase: a DuckDB copy of
        what Spark made)."""
        yield self

    def sources(self) -> pd.DataFrame:
        """What was read: one row per evidence file, including duplicates and unrecognised files."""
        return self.sql("SELECT * FROM sources ORDER BY source_id")

    def source_paths(self) -> dict[int, str]:
        """source id -> the evidence file's path."""
        return {int(i): str(p) for i, p in self.con.execute("SELECT source_id, path FROM sources").fetchall()}

    def actors(self) -> pd.DataFrame:
        """The derived actors (``derive_actors``), busiest first."""
        return self.sql("SELECT * FROM actors ORDER BY requests DESC, actor_id")

    def events(self, limit: int | None = None) -> pd.DataFrame:
        q = "SELECT * FROM events ORDER BY ts, source_id, line_no"
        return self.sql(q + (f" LIMIT {int(limit)}" if limit is not None else ""))

    def rejects(self) -> pd.DataFrame:
        return self.sql("SELECT * FROM rejects ORDER BY source_id, line_no")

    def raw_lines(self, source_id: int, line_nos: list[int], verify: bool = True) -> dict[int, str]:
        """The exact evidence lines behind events or rejects (file re-hashed first)."""
        from forensics.ingest.excerpts import raw_lines

        return raw_lines(self.con, source_id, line_nos, verify=verify)

    def log_command(self, command: str, parameters: dict[str, Any]) -> int:
        """Append to the case log what is about to run, with its parameters; returns the entry's seq."""
        return custody.append(self.con, tool_version(), command, parameters)

    def log_result(self, started: int, command: str, result: dict[str, Any]) -> int:
        """Append the end of a logged command (``<command> finished``) with what it produced."""
        return custody.append(self.con, tool_version(), command + custody.FINISHED, {"of": started, **result})

    def log_head(self) -> str:
        """The hash of the last case-log entry: note it outside the case to anchor the log."""
        return custody.head(self.con)[1]
