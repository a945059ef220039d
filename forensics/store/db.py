"""The one home of the DuckDB helpers every stage uses: connecting (``connect``), all-or-nothing
writes (``transaction``), a DataFrame visible to SQL (``registered``) and quoting literals into SQL
text (``sql_str``, ``sql_list``). It imports nothing from the package but the error tree."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import duckdb
import pandas as pd

from forensics.errors import CaseError

# DuckDB's memory when none is given: a quarter of the machine's memory (or of the container's
# limit), at least 1 GiB and at most 3 GiB. Spilling costs CPU, not only disk: a 10M-event
# investigate took 177 s and 314 CPU-s with 1 GB, 120 s and 212 CPU-s with 3 GB (peak RSS 1.4 /
# 3.2 GB; README, "Investigate at scale"). The cap keeps the process under 4 GB however large the
# case; the quarter leaves a laptop's memory to the notebook and the browser beside it.
MEMORY_SHARE = 4
MEMORY_FLOOR_MIB = 1024
MEMORY_CAP_MIB = 3 * 1024
# Another limit for one process (``forensics --memory-limit``, or this variable for the library
# and notebooks): more memory, less spill.
MEMORY_LIMIT_ENV = "FORENSICS_MEMORY_LIMIT"
_CGROUP_LIMITS = ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes")


def machine_memory() -> int | None:
    """Bytes of memory this process may use: the machine's physical memory, or the container's
    (cgroup v2 or v1) limit when that is smaller; None where neither can be read (Windows)."""
    total: int | None = None
    with suppress(AttributeError, ValueError, OSError):
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    for path in _CGROUP_LIMITS:
        with suppress(OSError, ValueError):
            limit = int(Path(path).read_text().strip())  # "max": no limit (ValueError)
            if limit > 0 and (total is None or limit < total):
                total = limit
    return total if total and total > 0 else None


def default_memory_limit(total: int | None = None) -> str:
    """The memory limit when none is given: ``total`` (default ``machine_memory()``) divided by
    ``MEMORY_SHARE``, between ``MEMORY_FLOOR_MIB`` and ``MEMORY_CAP_MIB``, in MiB as DuckDB reads it."""
    total = machine_memory() if total is None else total
    mib = MEMORY_FLOOR_MIB if total is None else total // MEMORY_SHARE // 2**20
    return f"{min(MEMORY_CAP_MIB, max(MEMORY_FLOOR_MIB, mib))}MiB"


# The storage format new case files are written in: DuckDB 1.3's (storage version 66), the
# oldest with dictionary+FSST string compression (a case of 1M combined events: 33 instead of
# 41 bytes per event). DuckDB 1.3 and later read it, CLI and Python; measured: Python 1.3.2 and
# 1.4.4 read every table of an investigated case, CLI 1.5.6 too. DuckDB 1.2 and older refuse it
# ("Trying to read a database file with version number 66, but we can only read versions between
# 64 and 65"). DuckDB 2.0's own format (v2.0.0) is refused by every 1.x release and compressed
# the same events no smaller. Existing case files keep the format they were created in (cases
# made with the earlier v1.1.0 setting stay readable by DuckDB 1.1 and 1.2).
STORAGE_VERSION = "v1.3.0"


def memory_limit_setting() -> str:
    """The memory limit a new connection gets: ``$FORENSICS_MEMORY_LIMIT``, else
    ``default_memory_limit()``."""
    return os.environ.get(MEMORY_LIMIT_ENV) or default_memory_limit()


def check_memory_limit(value: str) -> str:
    """``value`` as DuckDB reads a memory limit ('4GB', '4GiB', '500MB'); raises ValueError with
    DuckDB's reason otherwise (a negative size, which DuckDB reads as no limit, too). Gives the
    value as DuckDB shows it."""
    if value.strip().startswith("-"):
        raise ValueError("a negative size means no limit to DuckDB; give a size such as 4GB")
    con = duckdb.connect(":memory:")
    try:
        con.execute(f"SET memory_limit = {sql_str(value)}")
        row = con.execute("SELECT current_setting('memory_limit')").fetchone()
    except duckdb.Error as exc:
        raise ValueError(str(exc).splitlines()[0]) from exc
    finally:
        con.close()
    return str(row[0]) if row else value


def connect(
    path: str | Path, *, read_only: bool = False, memory_limit: str | None = None
) -> duckdb.DuckDBPyConnection:
    """The one place a DuckDB connection is configured: UTC, bounded memory, spill to disk, and
    new case files in a storage format DuckDB 1.3 and later read (``STORAGE_VERSION``).

    ``memory_limit`` (default ``memory_limit_setting()``) bounds DuckDB's buffers; past it sorts,
    joins and aggregates spill to ``<case>.tmp``. The process's peak stays somewhat above it.

    A case holds personal data, and so do the write-ahead log and spill files DuckDB creates
    beside it later: opening one makes this process create files owner-only (umask 077), and a
    new case file is made 0600. Another process holding the case gives a "case is in use" error.
    """
    os.umask(os.umask(0o077) | 0o077)
    is_new = not Path(path).exists()
    try:
        con = duckdb.connect(
            str(path), read_only=read_only, config={"storage_compatibility_version": STORAGE_VERSION}
        )
    except duckdb.IOException as exc:
        raise CaseError(_open_error(Path(path), exc)) from exc
    except duckdb.Error as exc:
        raise CaseError(f"cannot open case {path}: {exc}") from exc
    if is_new and Path(path).exists():
        os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"SET memory_limit = {sql_str(memory_limit or memory_limit_setting())}")
    con.execute("SET preserve_insertion_order = true")
    _track_progress(con)
    return con


def _track_progress(con: duckdb.DuckDBPyConnection) -> None:
    """Let ingest poll the progress of long queries (``query_progress``); DuckDB never prints it.

    In a Jupyter kernel without ipywidgets DuckDB refuses every progress-bar setting (it would
    draw a widget); the case then opens without query progress (``query_progress`` gives -1, and
    ingest reports progress per file only) rather than failing.
    """
    try:
        con.execute("SET enable_progress_bar = true")  # also turns printing on: off next
        con.execute("SET enable_progress_bar_print = false")
        con.execute("SET progress_bar_time = 0")
    except duckdb.InvalidInputException as exc:
        if "progress bar" not in str(exc):
            raise
        with suppress(duckdb.Error):  # never leave a bar that prints
            con.execute("SET enable_progress_bar = false")


def _open_error(path: Path, exc: duckdb.IOException) -> str:
    text = str(exc)
    if "Conflicting lock" in text:
        pid = re.search(r"\(PID (\d+)\)", text)
        holder = f" (process {pid.group(1)})" if pid else ""
        return (
            f"case {path} is in use by another process{holder}; wait for it to finish (or close the "
            "notebook that holds it with case.close()) and run again. Nothing was changed."
        )
    return f"cannot open case {path}: {text.splitlines()[0]}"


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """All or nothing: commit at the end, roll back on any error (the original error is raised;
    a COMMIT that failed, e.g. on a full disk, has already rolled back)."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield
        con.execute("COMMIT")
    except BaseException:
        with suppress(duckdb.Error):
            con.execute("ROLLBACK")
        raise


@contextmanager
def registered(con: duckdb.DuckDBPyConnection, name: str, frame: pd.DataFrame) -> Iterator[str]:
    """A DataFrame visible to SQL as ``name`` while the block runs.

    DuckDB 2.0 refuses to register while an earlier result on the connection is not fully
    fetched (a ``fetchone()`` leaves one); that result is finished first.
    """
    con.abort()
    con.register(name, frame)
    try:
        yield name
    finally:
        con.unregister(name)


def sql_str(value: str) -> str:
    """A DuckDB string literal. Standard SQL strings have no backslash escapes: only ' doubles."""
    return "'" + value.replace("'", "''") + "'"


def sql_list(values: list[str]) -> str:
    return "[" + ", ".join(sql_str(v) for v in values) + "]"
