"""A case: one DuckDB file holding sources, events, rejects and the case log."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from forensics.errors import CaseError
from forensics.schema import SCHEMA_VERSION, TABLES, create_table_sql

DEFAULT_MEMORY_LIMIT = "1GB"


def tool_version() -> str:
    try:
        return version("access-log-forensics")
    except PackageNotFoundError:  # running from a source tree without install
        return "0+unknown"


def connect(
    path: str | Path, *, read_only: bool = False, memory_limit: str = DEFAULT_MEMORY_LIMIT
) -> duckdb.DuckDBPyConnection:
    """The one place a DuckDB connection is configured: UTC, bounded memory, spill to disk."""
    try:
        con = duckdb.connect(str(path), read_only=read_only)
    except duckdb.Error as exc:
        raise CaseError(f"cannot open case {path}: {exc}") from exc
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"SET memory_limit = '{memory_limit}'")
    con.execute("SET preserve_insertion_order = true")
    # progress of long queries is polled by ingest (query_progress), never printed by DuckDB
    con.execute("SET enable_progress_bar = true")
    con.execute("SET enable_progress_bar_print = false")
    con.execute("SET progress_bar_time = 0")
    return con


class Case:
    """A forensic case stored in one DuckDB file.

    Example::

        case = Case.open("case.duckdb")
        case.sql("select status, count(*) from events group by all")
    """

    def __init__(self, path: Path, con: duckdb.DuckDBPyConnection) -> None:
        self.path = path
        self.con = con

    @classmethod
    def create(cls, path: str | Path, *, memory_limit: str = DEFAULT_MEMORY_LIMIT) -> Case:
        """Open the case at ``path``, creating it (and its tables) when it does not exist."""
        p = Path(path)
        if p.exists() and p.is_dir():
            raise CaseError(f"{p} is a directory; give a case file name such as case.duckdb")
        con = connect(p, memory_limit=memory_limit)
        for name in TABLES:
            con.execute(create_table_sql(name))
        con.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)])
        return cls(p, con)

    @classmethod
    def open(cls, path: str | Path, *, read_only: bool = False) -> Case:
        """Open an existing case; raises CaseError when it is missing or not a case."""
        p = Path(path)
        if not p.is_file():
            raise CaseError(f"no case file at {p}; create one with `forensics ingest {p} EVIDENCE…`")
        con = connect(p, read_only=read_only)
        tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        if not set(TABLES) <= tables:
            con.close()
            raise CaseError(f"{p} is a DuckDB file but not a forensics case (missing tables)")
        return cls(p, con)

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Case:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def sql(self, query: str, params: list[Any] | dict[str, Any] | None = None) -> pd.DataFrame:
        """Run a query against the case and return a pandas DataFrame."""
        return self.con.execute(query, params).df()

    def sources(self) -> pd.DataFrame:
        """What was read: one row per evidence file, including duplicates and unrecognised files."""
        return self.sql("SELECT * FROM sources ORDER BY source_id")

    def events(self, limit: int | None = None) -> pd.DataFrame:
        q = "SELECT * FROM events ORDER BY ts, source_id, line_no"
        return self.sql(q + (f" LIMIT {int(limit)}" if limit is not None else ""))

    def rejects(self) -> pd.DataFrame:
        return self.sql("SELECT * FROM rejects ORDER BY source_id, line_no")

    def raw_lines(self, source_id: int, line_nos: list[int], verify: bool = True) -> dict[int, str]:
        """The exact evidence lines behind events or rejects (file re-hashed first)."""
        from forensics.excerpts import raw_lines

        return raw_lines(self.con, source_id, line_nos, verify=verify)

    def log_command(self, command: str, parameters: dict[str, Any]) -> None:
        """Append to the case log: what was run, with which parameters, by which tool version."""
        seq = self.con.execute("SELECT coalesce(max(seq), 0) + 1 FROM case_log").fetchone()
        self.con.execute(
            "INSERT INTO case_log VALUES (?, ?, ?, ?, ?)",
            [
                seq[0] if seq else 1,
                datetime.now(UTC),
                tool_version(),
                command,
                json.dumps(parameters, sort_keys=True, default=str),
            ],
        )
