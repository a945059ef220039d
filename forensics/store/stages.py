"""Named stages of long work, for progress on a terminal and ``--profile``.

Library code marks its steps with ``with stage(con, "derive: auth") as s: … s.rows = n``; it
never prints. A caller that wants to see them (the CLI) installs a ``StageWatcher`` with
``watching(watcher)``: the watcher hears each stage begin and end and, while one runs, a tick
every ``TICK_S`` with the running query's progress (DuckDB's ``query_progress``) and the bytes
DuckDB has spilled to its temporary directory. Without a watcher a stage costs one clock read.

Stages nest (``derive: auth`` inside ``investigate: detect``); each records its own wall time,
the rows it reports and the peak spill seen while it ran.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import duckdb

TICK_S = 0.5


@dataclass
class Stage:
    name: str
    depth: int
    started: float = field(default_factory=time.monotonic)
    wall_s: float = 0.0
    rows: int | None = None  # what the stage made or read, when it says
    spill_peak: int = 0  # bytes in DuckDB's temporary directory at most while it ran
    progress: float = -1.0  # the running query's progress 0..100, -1 unknown


class StageWatcher(Protocol):
    def begin(self, s: Stage) -> None: ...
    def tick(self, s: Stage) -> None: ...
    def end(self, s: Stage) -> None: ...


_watcher: ContextVar[StageWatcher | None] = ContextVar("forensics_stage_watcher", default=None)
_depth: ContextVar[int] = ContextVar("forensics_stage_depth", default=0)


@contextmanager
def watching(watcher: StageWatcher) -> Iterator[StageWatcher]:
    token = _watcher.set(watcher)
    try:
        yield watcher
    finally:
        _watcher.reset(token)


@contextmanager
def stage(con: duckdb.DuckDBPyConnection, name: str) -> Iterator[Stage]:
    """Mark a step of work on ``con``; set ``.rows`` inside to report what it made."""
    depth = _depth.get()
    s = Stage(name, depth)
    watcher = _watcher.get()
    token = _depth.set(depth + 1)
    stop = threading.Event()
    ticker: threading.Thread | None = None
    if watcher is not None:
        watcher.begin(s)
        temp = _temp_dir(con)
        ticker = threading.Thread(target=_tick, args=(con, s, watcher, temp, stop), daemon=True)
        ticker.start()
    try:
        yield s
    finally:
        stop.set()
        if ticker is not None:
            ticker.join()
        _depth.reset(token)
        s.wall_s = time.monotonic() - s.started
        if watcher is not None:
            watcher.end(s)


def _tick(
    con: duckdb.DuckDBPyConnection, s: Stage, watcher: StageWatcher, temp: Path | None, stop: threading.Event
) -> None:
    while not stop.wait(TICK_S):
        with suppress(Exception):  # a closed connection or a vanished file: no tick, never an error
            s.progress = con.query_progress()
        if temp is not None:
            s.spill_peak = max(s.spill_peak, _dir_bytes(temp))
        watcher.tick(s)
    if temp is not None:
        s.spill_peak = max(s.spill_peak, _dir_bytes(temp))


def _temp_dir(con: duckdb.DuckDBPyConnection) -> Path | None:
    if not isinstance(con, duckdb.DuckDBPyConnection):  # another engine (Spark): no such setting
        return None
    try:
        row = con.execute("SELECT current_setting('temp_directory')").fetchone()
    except Exception:  # a closed connection, or another engine (Spark) with no such setting
        return None
    return Path(row[0]) if row and row[0] else None


def _dir_bytes(path: Path) -> int:
    total = 0
    with suppress(OSError):
        for entry in os.scandir(path):
            with suppress(OSError):
                total += entry.stat(follow_symlinks=False).st_blocks * 512
    return total
