"""The case log: an append-only, hash-chained record of every command run on a case.

Each entry's ``entry_hash`` is the SHA-256 of its own fields and the previous entry's hash, so
changing, removing or reordering any entry breaks every hash after it. The chain cannot stop
someone who rewrites the whole log; the head hash that every command prints (and ``forensics
verify`` checks) is what a responder notes in their case notes to anchor it outside the file.

A command writes a ``<command>`` entry before it works (its parameters) and a ``<command>
finished`` entry after (its result: counts, digests, output hashes), so an interrupted run
shows as started and never finished.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import duckdb

GENESIS = "0" * 64
FINISHED = " finished"
# sources a digest covers: what a later retry may delete (failed files) is left out
KEPT_STATUSES = ("ingested", "duplicate", "empty")
# commands logged as one entry in the same transaction as their work: never "unfinished"
ATOMIC_COMMANDS = ("verify", "forget", "ingest batch")


def entry_hash(prev: str, seq: int, logged_at: datetime, tool: str, command: str, parameters: str) -> str:
    """The hash of one entry: its fields in a fixed JSON array, chained to ``prev``."""
    when = logged_at.astimezone(UTC).isoformat(timespec="microseconds")
    payload = json.dumps(
        [prev, seq, when, tool, command, parameters], ensure_ascii=False, separators=(",", ":")
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def head(con: duckdb.DuckDBPyConnection) -> tuple[int, str]:
    """``(seq, entry_hash)`` of the last entry; ``(0, GENESIS)`` for an empty log."""
    row = con.execute("SELECT seq, entry_hash FROM case_log ORDER BY seq DESC LIMIT 1").fetchone()
    return (int(row[0]), str(row[1])) if row else (0, GENESIS)


def append(con: duckdb.DuckDBPyConnection, tool: str, command: str, parameters: dict[str, Any]) -> int:
    """Append one entry (in its own transaction unless one is open); returns its seq."""
    seq, prev = head(con)
    seq += 1
    when = datetime.now(UTC)
    params = json.dumps(parameters, sort_keys=True, default=str, ensure_ascii=False)
    con.execute(
        "INSERT INTO case_log VALUES (?, ?, ?, ?, ?, ?, ?)",
        [seq, when, tool, command, params, prev, entry_hash(prev, seq, when, tool, command, params)],
    )
    return seq


def rechain(con: duckdb.DuckDBPyConnection) -> int:
    """Give hashes to entries written before the log was chained (an older case); returns how many."""
    rows = con.execute(
        "SELECT seq, logged_at, tool_version, command, parameters FROM case_log ORDER BY seq"
    ).fetchall()
    prev = GENESIS
    for seq, when, tool, command, params in rows:
        digest = entry_hash(prev, int(seq), when, tool, command, params)
        con.execute("UPDATE case_log SET prev_hash = ?, entry_hash = ? WHERE seq = ?", [prev, digest, seq])
        prev = digest
    return len(rows)


@dataclass(frozen=True)
class ChainCheck:
    entries: int
    head: str
    problems: list[str]
    unfinished: list[str]  # commands that started and never logged their end (interrupted)


def check_chain(con: duckdb.DuckDBPyConnection) -> ChainCheck:
    """Recompute every entry's hash in order; name each entry that does not match."""
    rows = con.execute(
        "SELECT seq, logged_at, tool_version, command, parameters, prev_hash, entry_hash "
        "FROM case_log ORDER BY seq"
    ).fetchall()
    problems: list[str] = []
    prev = GENESIS
    started: dict[int, str] = {}
    for expected_seq, (seq, when, tool, command, params, prev_hash, digest) in enumerate(rows, start=1):
        if seq != expected_seq:
            problems.append(
                f"entry {seq}: expected entry {expected_seq} here (entries removed or renumbered)"
            )
        if prev_hash != prev:
            problems.append(
                f"entry {seq} ({command}): does not follow the entry before it (prev_hash differs)"
            )
        if None in (when, tool, command, params) or digest != entry_hash(
            str(prev_hash), int(seq), when, str(tool), str(command), str(params)
        ):
            problems.append(f"entry {seq} ({command}): its content does not match its hash (edited)")
        prev = str(digest)
        try:
            doc = json.loads(params)
        except (TypeError, ValueError):
            problems.append(f"entry {seq} ({command}): its parameters are not valid JSON")
            continue
        if str(command).endswith(FINISHED):
            of = doc.get("of") if isinstance(doc, dict) else None
            started.pop(int(of) if isinstance(of, int) else -1, None)
        else:
            started[int(seq)] = str(command)
    unfinished = [f"entry {s} ({c})" for s, c in started.items() if c not in ATOMIC_COMMANDS]
    return ChainCheck(len(rows), prev, problems, unfinished)


def sources_digest(
    con: duckdb.DuckDBPyConnection,
    first_id: int,
    last_id: int,
    restore: Mapping[int, Mapping[str, Any]] | None = None,
) -> str:
    """SHA-256 over the kept source rows with ids in [first_id, last_id]: what an ingest recorded.

    ``restore``: per source id, the fields a later ``forget`` changed (status, events, rejects)
    as they were; a ``forgotten`` row is digested as it was ingested (forget.forgotten_rows).
    """
    statuses = (*KEPT_STATUSES, "forgotten") if restore is not None else KEPT_STATUSES
    rows = con.execute(
        "SELECT source_id, path, size, sha256, status, duplicate_of, format, lines, events, rejects "
        f"FROM sources WHERE source_id BETWEEN ? AND ? AND status IN {statuses} ORDER BY source_id",
        [first_id, last_id],
    ).fetchall()
    digest = hashlib.sha256()
    for row in rows:
        was = (restore or {}).get(int(row[0])) if row[4] == "forgotten" else None
        if was is not None:
            row = (*row[:4], was["status"], *row[5:8], was["events"], was["rejects"])
        digest.update(json.dumps(list(row), default=str, ensure_ascii=False).encode("utf-8") + b"\n")
    return digest.hexdigest()


def recorded_digests(con: duckdb.DuckDBPyConnection) -> list[tuple[int, int, int, str]]:
    """``(entry seq, first id, last id, digest)`` recorded by finished ingests."""
    out = []
    rows = con.execute(
        "SELECT seq, parameters FROM case_log WHERE command = 'ingest finished' ORDER BY seq"
    ).fetchall()
    for seq, params in rows:
        try:  # an unreadable entry is named by check_chain
            doc = json.loads(params)
            ids, digest = doc.get("source_ids"), doc.get("sources_sha256")
            if ids and digest:
                out.append((int(seq), int(ids[0]), int(ids[1]), str(digest)))
        except (TypeError, ValueError, AttributeError, IndexError):
            continue
    return out
