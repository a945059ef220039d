"""Forget a source: undo an ingest of one evidence file, leaving its record and the custody trail.

A file ingested with the wrong ``--format`` (every line rejected) or one that should not be in
the case cannot be ingested again: its SHA-256 is known. ``forget`` removes what the case holds
*from* the file — its events and rejects — and keeps the file's row in ``sources`` with status
``forgotten`` (path, size, SHA-256, format it was read as and its line count stay; ``events``
and ``rejects`` become 0 and ``first_ts``/``last_ts`` NULL, since nothing of it is stored). The
counts removed and the row as it was go into one ``forget`` case-log entry, written in the same
transaction as the change: a forget is whole or absent, never started-and-unfinished.

Copies recorded as ``duplicate_of`` a forgotten source are forgotten with it (they were never
read; they only pointed at its data, which is gone). Promoting one to original would need its
lines read, which is an ingest: after a forget, ingesting the file (and its copies) again reads
it afresh — the forgotten rows no longer count as "already ingested".

Derived tables (routes, actors, findings, coverage …) were computed from the events: they are
dropped, and the commands that need them derive them again (``routes``, ``actors``, ``detect``
and ``investigate`` always do).

``forensics verify`` understands forgotten sources: the source-row digest an ingest recorded is
recomputed with each forgotten row as the forget entry recorded it, forgotten files are not
re-hashed (nothing in the case comes from them any more), and a forgotten source must have no
stored events or rejects.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from forensics.errors import ForensicsError, closest
from forensics.ingest.evidence import display_path
from forensics.store import custody
from forensics.store.case import Case
from forensics.store.db import transaction

FORGOTTEN = "forgotten"
COMMAND = "forget"
# Tables and views computed from events by routes/auth/actors/detect/coverage (persistent ones:
# every non-TEMP ``CREATE OR REPLACE TABLE/VIEW`` in forensics/; tests/test_forget.py checks).
DERIVED_VIEWS = ("requests",)
DERIVED_TABLES = (
    "routes",
    "ip_info",
    "_ip_parts",  # network.py's staging table (dropped at once; left only by a crash)
    "request_facts",
    "clients",
    "request_twins",
    "request_session",
    "sessions",
    "actors",
    "actor_links",
    "ownership",
    "ownership_teams",
    "detect_requests",
    "detector_runs",
    "findings",
    "actor_findings",
    "coverage_hourly",
    # forensics sigma's matches name lines of the evidence: forgetting a file drops them (run the
    # rules again); findings.json then shows no Sigma run (compute._sigma_run)
    "sigma_rules",
    "sigma_matches",
)
# the row fields a forget changes, as custody.sources_digest reads them
RESTORED = ("status", "events", "rejects")


class UnknownSourceError(ForensicsError):
    """A source to forget that is not in the case, or not something that can be forgotten."""


@dataclass(frozen=True)
class ForgottenSource:
    source_id: int
    path: str
    sha256: str
    status: str  # what it was: ingested | duplicate | empty
    duplicate_of: int | None
    format: str | None
    lines: int | None
    events: int  # events removed (as stored, counted before removal)
    rejects: int  # rejects removed
    recorded_events: int | None  # what the sources row said
    recorded_rejects: int | None
    first_ts: str | None
    last_ts: str | None
    why: str  # "asked" | "duplicate of source N"

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class ForgetReport:
    sources: list[ForgottenSource]
    dropped: list[str]  # derived tables/views dropped
    log_seq: int
    log_head: str

    @property
    def events(self) -> int:
        return sum(s.events for s in self.sources)

    @property
    def rejects(self) -> int:
        return sum(s.rejects for s in self.sources)


def forget(case: Case, sources: Iterable[str | int], reason: str | None = None) -> ForgetReport:
    """Forget ``sources`` (source ids, or paths as ``forensics sources`` lists them) and their copies.

    Removes their events and rejects, marks their rows ``forgotten``, drops derived tables, and
    logs one ``forget`` entry; all in one transaction. Raises UnknownSourceError (naming close
    candidates) for a source that is not in the case or cannot be forgotten; nothing changes then.
    """
    con = case.con
    asked = list(sources)
    if not asked:
        raise UnknownSourceError("no source given: name source ids or paths (see `forensics sources`)")
    rows = con.execute(
        "SELECT source_id, path, status, duplicate_of FROM sources ORDER BY source_id"
    ).fetchall()
    ids = sorted({_resolve(str(a).strip(), rows) for a in asked})
    with transaction(con):
        chosen = _with_copies(con, ids)
        forgotten = _describe(con, chosen, set(ids))
        _remove(con, chosen, reason)
        dropped = _drop_derived(con)
        seq = case.log_command(
            COMMAND,
            {
                "asked": [str(a) for a in asked],
                "reason": reason,
                "sources": [f.to_dict() for f in forgotten],
                "events_removed": sum(f.events for f in forgotten),
                "rejects_removed": sum(f.rejects for f in forgotten),
                "derived_dropped": dropped,
            },
        )
    return ForgetReport(forgotten, dropped, seq, case.log_head())


Row = tuple[Any, ...]


def _resolve(arg: str, rows: list[Row]) -> int:
    """The source id ``arg`` names: an id, or a path exactly as listed (or its absolute form)."""
    by_id = {int(r[0]): r for r in rows}
    if arg.isdigit() and int(arg) in by_id:
        return _forgettable(by_id[int(arg)])
    wanted = {arg, display_path(Path(arg).absolute())} if arg else {arg}
    hits = [r for r in rows if r[1] in wanted]
    live = [r for r in hits if r[2] in custody.KEPT_STATUSES]
    if len(live) == 1:
        return int(live[0][0])
    if len(live) > 1:
        listed = ", ".join(f"{r[0]} ({r[2]})" for r in live)
        raise UnknownSourceError(
            f"{arg!r} names several sources ({listed}): the file changed between ingests; give the id"
        )
    if hits:
        return _forgettable(hits[-1])
    raise UnknownSourceError(
        f"no source {arg!r} in the case{_candidates(arg, rows)}", candidates={arg: _close_sources(arg, rows)}
    )


def _forgettable(row: Row) -> int:
    sid, path, status = int(row[0]), str(row[1]), str(row[2])
    if status == FORGOTTEN:
        raise UnknownSourceError(f"source {sid} ({path}) is already forgotten")
    if status not in custody.KEPT_STATUSES:
        raise UnknownSourceError(
            f"source {sid} ({path}) was not ingested (status {status}): nothing of it is stored, "
            "and running `forensics ingest` on it again retries it"
        )
    return sid


def _close_sources(arg: str, rows: list[Row]) -> list[str]:
    """Live sources ``arg`` may have meant, as ``<id> <path>``: the same file name first, then the
    closest paths."""
    live = [r for r in rows if r[2] in custody.KEPT_STATUSES]
    paths = [str(r[1]) for r in live]
    name = Path(arg).name
    same_name = [p for p in paths if name and Path(p).name == name]
    shown = list(dict.fromkeys([*same_name, *closest(arg, paths, n=3, cutoff=0.5)]))[:5]
    ids = {str(r[1]): int(r[0]) for r in live}
    return [f"{ids[p]} {p}" for p in shown]


def _candidates(arg: str, rows: list[Row]) -> str:
    """'; did you mean …' with close paths (same file name first) and the id range."""
    shown = _close_sources(arg, rows)
    hint = "; close candidates: " + ", ".join(shown) if shown else ""
    span = f"; source ids run from {rows[0][0]} to {rows[-1][0]}" if rows else "; the case has no sources"
    return f"{hint}{span} (see `forensics sources`)"


def _with_copies(con: duckdb.DuckDBPyConnection, ids: list[int]) -> list[int]:
    """``ids`` and the live sources recorded as ``duplicate_of`` any of them."""
    copies = con.execute(
        f"SELECT source_id FROM sources WHERE duplicate_of IN (SELECT unnest(?::INTEGER[])) "
        f"AND status IN {custody.KEPT_STATUSES}",
        [ids],
    ).fetchall()
    return sorted(set(ids) | {int(r[0]) for r in copies})


def _describe(con: duckdb.DuckDBPyConnection, ids: list[int], asked: set[int]) -> list[ForgottenSource]:
    rows = con.execute(
        """
        WITH ids AS (SELECT unnest(?::INTEGER[]) AS source_id),
             e AS (SELECT source_id, count(*) AS n FROM events WHERE source_id IN (SELECT source_id FROM ids)
                   GROUP BY ALL),
             r AS (SELECT source_id, count(*) AS n FROM rejects WHERE source_id IN (SELECT source_id FROM ids)
                   GROUP BY ALL)
        SELECT s.source_id, s.path, s.sha256, s.status, s.duplicate_of, s.format, s.lines,
               coalesce(e.n, 0), coalesce(r.n, 0), s.events, s.rejects,
               strftime(s.first_ts, '%Y-%m-%dT%H:%M:%S.%fZ'), strftime(s.last_ts, '%Y-%m-%dT%H:%M:%S.%fZ')
        FROM sources s JOIN ids USING (source_id)
        LEFT JOIN e USING (source_id) LEFT JOIN r USING (source_id)
        ORDER BY s.source_id""",
        [ids],
    ).fetchall()
    out = []
    for sid, path, sha, status, dup, fmt, lines, n_ev, n_rej, rec_ev, rec_rej, first, last in rows:
        why = "asked" if sid in asked else f"duplicate of source {dup}"
        was = (int(sid), str(path), str(sha), str(status), dup, fmt, lines)
        out.append(ForgottenSource(*was, int(n_ev), int(n_rej), rec_ev, rec_rej, first, last, why))
    return out


def _remove(con: duckdb.DuckDBPyConnection, ids: list[int], reason: str | None) -> None:
    for table in ("events", "rejects"):
        con.execute(f"DELETE FROM {table} WHERE source_id IN (SELECT unnest(?::INTEGER[]))", [ids])
    note = "forgotten (`forensics forget`; see the case log)" + (f": {reason}" if reason else "")
    con.execute(
        f"""UPDATE sources SET status = '{FORGOTTEN}', events = 0, rejects = 0, entry_rejects = 0,
              first_ts = NULL, last_ts = NULL, warnings = list_append(coalesce(warnings, []::VARCHAR[]), ?)
            WHERE source_id IN (SELECT unnest(?::INTEGER[]))""",
        [note, ids],
    )


def _drop_derived(con: duckdb.DuckDBPyConnection) -> list[str]:
    present = {
        str(r[0])
        for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE NOT temporary AND schema_name = 'main' "
            "UNION ALL SELECT view_name FROM duckdb_views() WHERE NOT temporary AND schema_name = 'main'"
        ).fetchall()
    }
    dropped = []
    for kind, names in (("VIEW", DERIVED_VIEWS), ("TABLE", DERIVED_TABLES)):
        for name in names:
            if name in present:
                con.execute(f"DROP {kind} {name}")
                dropped.append(name)
    return dropped


def forgotten_rows(con: duckdb.DuckDBPyConnection) -> dict[int, dict[str, Any]]:
    """Per forgotten source id, its row's fields as they were before (from the forget entries)."""
    out: dict[int, dict[str, Any]] = {}
    for (params,) in con.execute(
        "SELECT parameters FROM case_log WHERE command = ? ORDER BY seq", [COMMAND]
    ).fetchall():
        try:  # an unreadable entry is named by custody.check_chain
            for src in json.loads(params).get("sources", []):
                out[int(src["source_id"])] = {
                    "status": src["status"],
                    "events": src["recorded_events"],
                    "rejects": src["recorded_rejects"],
                }
        except (TypeError, ValueError, AttributeError, KeyError):
            continue
    return out
