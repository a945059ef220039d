"""Custody for every library entry point: one context, so a notebook leaves the CLI's trail.

``logged(case, command, parameters)`` appends ``command`` with its parameters to the case log
before the work, and ``<command> finished`` with its result (``entry.result``, and the row
counts of ``rows``) after the work succeeded; a failure leaves the first entry alone, which
``forensics verify`` lists as an interrupted command. Inside another logged command it logs
nothing (``run_detectors`` inside ``investigate``, ``derive_routes`` inside ``run_detectors``):
the outer entry's parameters cover the inner work, so one CLI command is one entry, however it
is reached. On a case opened read-only nothing is logged (and nothing else can be written).

``logs`` makes an entry point of a function ``f(case, options=None)``: the options (their
defaults when None) are the logged parameters.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from forensics.store.case import Case

Opts = TypeVar("Opts")
R = TypeVar("R")
Opts_in = TypeVar("Opts_in", contravariant=True)
R_out = TypeVar("R_out", covariant=True)
_ACTIVE: weakref.WeakSet[Case] = weakref.WeakSet()  # cases inside a logged command


class EntryPoint(Protocol[Opts_in, R_out]):
    """``f(case, options=None)``: a library entry point taking its options object."""

    def __call__(self, case: Case, options: Opts_in | None = None) -> R_out: ...


@dataclass
class LogEntry:
    started: int | None  # the command entry's seq; None when not logged (nested, read-only)
    result: dict[str, Any] = field(default_factory=dict)  # what the finished entry records


def row_counts(case: Case, tables: Sequence[str]) -> dict[str, int]:
    """Rows per table (the derived tables an entry point made)."""
    counts = {}
    for table in tables:
        row = case.con.execute(f'SELECT count(*) FROM "{table}"').fetchone()
        counts[table] = int(row[0]) if row else 0
    return counts


@contextmanager
def logged(
    case: Case, command: str, parameters: Mapping[str, Any], rows: Sequence[str] = ()
) -> Iterator[LogEntry]:
    if case in _ACTIVE or case.read_only:
        yield LogEntry(None)
        return
    started = case.log_command(command, dict(parameters))
    entry = LogEntry(started)
    _ACTIVE.add(case)
    try:
        yield entry
    finally:
        _ACTIVE.discard(case)
    result = {"rows": row_counts(case, rows), **entry.result} if rows else entry.result
    case.log_result(started, command, result)


def logs(
    command: str,
    default: Callable[[], Opts],
    parameters: Callable[[Opts], Mapping[str, Any]],
    rows: Sequence[str] = (),
) -> Callable[[EntryPoint[Opts, R]], EntryPoint[Opts, R]]:
    """Decorate ``f(case, options=None)``: run it inside ``logged(case, command, parameters(options))``."""

    def wrap(fn: EntryPoint[Opts, R]) -> EntryPoint[Opts, R]:
        @functools.wraps(fn)
        def entry_point(case: Case, options: Opts | None = None) -> R:
            opts = default() if options is None else options
            with logged(case, command, parameters(opts), rows):
                return fn(case, opts)

        return entry_point

    return wrap
