"""``forensics verify``: is the case still what the evidence and the case log say it is?

Five checks, each naming what fails (verify only reads: it never crashes on a damaged case, and
every inconsistency it meets, including a table it cannot read, is a named problem):

* evidence — every source file with a recorded SHA-256 is re-hashed where it was ingested from
  (not forgotten ones: nothing in the case comes from them any more);
* the case log — its hash chain is recomputed (custody.py); interrupted commands are listed;
* the sources table — each finished ingest recorded a digest of the rows it added; recomputed
  (a row forgotten since is digested as the ``forget`` entry recorded it was);
* rows — each ingested source's events and rejects are digested again and compared with the
  row digests its ``ingest batch`` entry recorded (rowdigest.py), naming the source and table;
  sources ingested before digests were recorded are listed in a note, not failed;
* accounting — per source, the events and rejects stored match the counts recorded, and
  ``lines = events + rejects``; no event or reject belongs to a source that is not ingested, and
  no line is stored twice.

With a head noted earlier (``expected_head``), it must still be an entry of the log. A head that
is not is reported on its own (``HeadCheck``), apart from the evidence: usually a typo or a note
from another case; if the note is right, the log was rewritten after it was taken.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import duckdb

from forensics.errors import EvidenceError, ForensicsError
from forensics.ingest import rowdigest
from forensics.ingest.evidence import describe
from forensics.ingest.forget import FORGOTTEN, forgotten_rows
from forensics.store import custody
from forensics.store.case import ROW_DIGESTS_FROM, Case
from forensics.store.db import transaction
from forensics.store.entry import logged
from forensics.store.printable import printable
from forensics.store.schema import TABLES

T = TypeVar("T")


@dataclass(frozen=True)
class EvidenceCheck:
    source_id: int
    path: str
    status: str  # ok | changed | missing | unreadable
    detail: str = ""


@dataclass(frozen=True)
class HeadCheck:
    """A case-log head noted earlier, looked up in the log."""

    given: str
    found: bool  # an entry of the log has this hash (later entries may follow it)
    log_head: str  # the log's head when checked: what a note taken now would say
    hint: str = ""  # why it was not found, when something suggests it (not a hash, a near miss)


@dataclass
class Verification:
    chain: custody.ChainCheck
    evidence: list[EvidenceCheck]
    digests: list[str] = field(default_factory=list)  # problems with recorded sources digests
    accounting: list[str] = field(default_factory=list)
    head: HeadCheck | None = None  # with an expected head only
    structure: list[str] = field(default_factory=list)  # missing tables/columns, unreadable parts
    rows: list[str] = field(default_factory=list)  # row digests that differ or are missing
    notes: list[str] = field(default_factory=list)  # not failures: e.g. sources without row digests

    @property
    def evidence_problems(self) -> list[EvidenceCheck]:
        return [e for e in self.evidence if e.status != "ok"]

    def counts(self) -> dict[str, int]:
        """What verify's ``verify finished`` case-log entry records."""
        return {
            "evidence_files": len(self.evidence),
            "evidence_problems": len(self.evidence_problems),
            "chain_problems": len(self.chain.problems),
            "digest_problems": len(self.digests),
            "accounting_problems": len(self.accounting),
            "row_problems": len(self.rows),
            "structure_problems": len(self.structure),
        }

    @property
    def case_ok(self) -> bool:
        """The evidence, the log's chain, the sources and the counts are as recorded."""
        return not (
            self.chain.problems
            or self.evidence_problems
            or self.digests
            or self.accounting
            or self.structure
            or self.rows
        )

    @property
    def ok(self) -> bool:
        return self.case_ok and (self.head is None or self.head.found)


def verify(
    case: Case,
    progress: Callable[[int, int], None] | None = None,
    expected_head: str | None = None,
    *,
    log: bool = False,
) -> Verification:
    """Run every check; ``progress(files_done, files_total)`` is called while re-hashing.

    ``expected_head``: a case-log head noted earlier, which must be an entry of the log.
    A check that cannot run (a table missing or unreadable) is a named problem. Reads only,
    unless ``log``: then, when everything matched on a case not opened read-only, verify's own
    case-log entries are appended as ``forensics verify`` appends them (``log_verification``);
    a damaged case is left as found either way."""
    structure = _structure(case)
    broken: list[str] = []
    chain = guarded(broken, "the case log", lambda: custody.check_chain(case.con))
    result = Verification(
        chain=chain or custody.ChainCheck(0, custody.GENESIS, [], []),
        evidence=guarded(broken, "the evidence files", lambda: evidence_checks(case, progress)) or [],
        digests=guarded(broken, "the sources digests", lambda: _digests(case)) or [],
        accounting=guarded(broken, "the accounting", lambda: _accounting(case)) or [],
        head=guarded(broken, "the head", lambda: check_head(case, expected_head)) if expected_head else None,
    )
    notes: list[str] = []
    result.rows = guarded(broken, "the row digests", lambda: _rows(case, notes)) or []
    result.notes = notes
    result.structure = structure + broken
    if expected_head is not None and result.head is None:
        result.head = HeadCheck(expected_head, False, "", "the case log cannot be read")
    if log and result.ok and not case.read_only:
        log_verification(case, expected_head, result)
    return result


def log_verification(case: Case, expected_head: str | None, result: Verification) -> str:
    """Append verify's entries (one transaction) to a case that verified; returns the new head.

    ``forensics verify`` verifies on a read-only connection and then appends with this."""
    try:
        with transaction(case.con), logged(case, "verify", {"expected_head": expected_head}) as entry:
            entry.result = {"ok": result.ok, **result.counts()}
    except duckdb.ConstraintException as exc:  # the log's index disagrees with its entries
        raise ForensicsError(
            f"the case verified, but its log cannot be appended to ({printable(str(exc).splitlines()[0])}): "
            "the case file is damaged; nothing was written. Keep a copy and report it"
        ) from exc
    return case.log_head()


def guarded(problems: list[str], what: str, check: Callable[[], T]) -> T | None:
    """Run one check; an error (a table missing, a damaged file) becomes a named problem."""
    try:
        return check()
    except (duckdb.Error, ValueError, TypeError, KeyError, OSError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        problems.append(f"{what} could not be checked: {first}")
        return None


def _structure(case: Case) -> list[str]:
    """The case's tables and columns that are missing."""
    out = []
    for table, columns in TABLES.items():
        have = rowdigest.table_types(case.con, table)
        if not have:
            out.append(f"table {table} is missing")
            continue
        missing = [c for c in columns if c not in have]
        if missing:
            out.append(f"table {table} lacks column(s) {', '.join(missing)}")
    return out


SHA256_RE = re.compile(r"[0-9a-f]{64}")


def check_head(case: Case, given: str) -> HeadCheck:
    """Is ``given`` (a head noted earlier) the hash of an entry of the case log?"""
    wanted = given.strip().lower()
    entries = {
        str(h): int(seq)
        for seq, h in case.con.execute("SELECT seq, entry_hash FROM case_log ORDER BY seq").fetchall()
        if h
    }
    log_head = custody.head(case.con)[1]
    if wanted in entries:
        return HeadCheck(given, True, log_head)
    hints = []
    if not SHA256_RE.fullmatch(wanted):
        what = f"{len(wanted)} characters" if len(wanted) != 64 else "a character that is not hex"
        hints.append(f"it is not a SHA-256 hash, 64 hex characters: it has {what}")
    prefixed = [h for h in entries if wanted and h.startswith(wanted)]
    near = [(d, h) for h in entries if len(h) == len(wanted) and (d := _differing(h, wanted)) <= 3]
    if prefixed:
        hints.append(f"the hash of entry {entries[prefixed[0]]} starts with it")
    elif near:
        diff, close = min(near)
        hints.append(f"the hash of entry {entries[close]}, {close}, differs from it in {diff} character(s)")
    hint = "; ".join(hints)
    return HeadCheck(given, False, log_head, hint)


def _differing(a: str, b: str) -> int:
    return sum(x != y for x, y in zip(a, b, strict=True))


def evidence_checks(case: Case, progress: Callable[[int, int], None] | None) -> list[EvidenceCheck]:
    """Each recorded evidence file (forgotten ones aside) re-hashed against its SHA-256 in `sources`."""
    rows = case.con.execute(
        f"SELECT source_id, path, sha256 FROM sources WHERE sha256 <> '' AND status <> '{FORGOTTEN}' "
        "ORDER BY source_id"
    ).fetchall()
    out = []
    for done, (sid, path, sha) in enumerate(rows):
        if progress:
            progress(done, len(rows))
        out.append(_check_file(int(sid), str(path), str(sha)))
    if progress:
        progress(len(rows), len(rows))
    return out


def _check_file(sid: int, path: str, sha: str) -> EvidenceCheck:
    p = Path(path)
    if not p.exists() and not p.is_symlink():
        return EvidenceCheck(sid, path, "missing", "the file is no longer at this path")
    try:
        now = describe(p).sha256
    except EvidenceError as exc:
        return EvidenceCheck(sid, path, "unreadable", str(exc))
    if now != sha:
        return EvidenceCheck(sid, path, "changed", f"SHA-256 was {sha}, is now {now}")
    return EvidenceCheck(sid, path, "ok")


def _digests(case: Case) -> list[str]:
    out = []
    restore = forgotten_rows(case.con)
    for seq, first, last, recorded in custody.recorded_digests(case.con):
        now = custody.sources_digest(case.con, first, last, restore)
        if now != recorded:
            out.append(
                f"sources {first} to {last}: the rows differ from what ingest (case log entry {seq}) recorded"
            )
    return out


def _rows(case: Case, notes: list[str]) -> list[str]:
    """Recompute each ingested source's row digests and compare them with the recorded ones."""
    con = case.con
    recorded, out = rowdigest.recorded(con)
    row = con.execute("SELECT value FROM meta WHERE key = ?", [ROW_DIGESTS_FROM]).fetchone()
    start = int(row[0]) if row else None
    sources = {
        int(sid): (str(path), str(status))
        for sid, path, status in con.execute("SELECT source_id, path, status FROM sources").fetchall()
    }
    ingested = sorted(sid for sid, (_, st) in sources.items() if st == "ingested")
    older = [sid for sid in ingested if sid not in recorded and (start is None or sid < start)]
    if older:
        notes.append(
            f"row digests not recorded for {_ids(older)} (ingested before this tool recorded row "
            "digests): their rows are checked by the counts only"
        )
    for sid in ingested:
        if sid not in recorded and start is not None and sid >= start:
            out.append(
                f"source {sid} ({sources[sid][0]}): the case log records no row digest for it, though "
                "every ingest since this case was created records one (case-log entries lost?)"
            )
    for sid, rec in sorted(recorded.items()):
        if sid not in sources:
            out.append(
                f"source {sid}: its rows were recorded (case log entry {rec.seq}) but the source is gone"
            )
    checked = {sid: rec for sid, rec in recorded.items() if sources.get(sid, ("", ""))[1] == "ingested"}
    columns: dict[int, dict[str, tuple[str, ...]]] = {}
    for sid, rec in sorted(checked.items()):
        if rec.algorithm != rowdigest.ALGORITHM:
            out.append(
                f"source {sid}: unknown row digest algorithm {rec.algorithm!r} (case log entry {rec.seq})"
            )
            continue
        columns[sid] = rec.columns
    now = rowdigest.compute_recorded(con, columns)
    for sid in sorted(now):
        rec = checked[sid]
        for table, was in rec.digests.items():
            is_ = now[sid].get(table, rowdigest.EMPTY)
            if is_ != was:
                out.append(
                    f"source {sid} ({sources[sid][0]}): its {table} differ from what ingest recorded "
                    f"(case log entry {rec.seq}): {was.rows:,} rows recorded, {is_.rows:,} stored"
                    + (", same count but changed content" if was.rows == is_.rows else "")
                    + f"; `forensics verify --reparse {sid}` shows which"
                )
    return out


def _ids(ids: list[int]) -> str:
    """'source 3' / 'sources 1 to 4' / 'sources 1, 3, 7'."""
    if len(ids) == 1:
        return f"source {ids[0]}"
    if ids == list(range(ids[0], ids[-1] + 1)):
        return f"sources {ids[0]} to {ids[-1]}"
    return "sources " + ", ".join(str(i) for i in ids)


def _accounting(case: Case) -> list[str]:
    out = []
    rows = case.con.execute("""
        WITH e AS (SELECT source_id, count(*) AS n FROM events GROUP BY ALL),
             r AS (SELECT source_id, count(*) AS n FROM rejects GROUP BY ALL)
        SELECT s.source_id, s.status, s.lines, s.events, s.rejects,
               coalesce(e.n, 0), coalesce(r.n, 0)
        FROM sources s LEFT JOIN e USING (source_id) LEFT JOIN r USING (source_id)
        WHERE coalesce(e.n, 0) <> coalesce(s.events, 0) OR coalesce(r.n, 0) <> coalesce(s.rejects, 0)
           OR (s.status = 'ingested' AND s.lines <> s.events + s.rejects)
        ORDER BY s.source_id""").fetchall()
    for sid, status, lines, events, rejects, n_ev, n_rej in rows:
        out.append(
            f"source {sid} ({status}): recorded {lines} lines = {events} events + {rejects} rejects, "
            f"stored {n_ev} events and {n_rej} rejects"
        )
    for table in ("events", "rejects"):
        orphans = case.con.execute(f"""
            SELECT source_id, count(*) FROM {table}
            WHERE source_id NOT IN (SELECT source_id FROM sources WHERE status = 'ingested')
            GROUP BY ALL ORDER BY 1""").fetchall()
        out.extend(
            f"{n} {table} belong to source {sid}, which is not an ingested source" for sid, n in orphans
        )
    row = case.con.execute("""
        SELECT count(*) FROM (
            SELECT 1 FROM (SELECT source_id, line_no FROM events
                           UNION ALL SELECT source_id, line_no FROM rejects)
            GROUP BY source_id, line_no HAVING count(*) > 1)""").fetchone()
    if row and row[0]:
        out.append(f"{row[0]} evidence lines are stored more than once")
    return out
