"""Ingest: evidence files → sources + events + rejects.

Per file (Python, cheap): hash and compression (evidence.py) → skip content already ingested
(a copy elsewhere is recorded as ``duplicate_of`` the first, not read again) → sniff or force a
format on the first lines → bind a parser. Files that share a parser are then parsed together
in DuckDB and committed in one transaction per batch (batch.py).
"""

from __future__ import annotations

import dataclasses
import threading
import zoneinfo
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from forensics import formats
from forensics.assess.window import unknown_zone_message, zone_suggestions
from forensics.errors import CaseError, ForensicsError, UnrecognisedFormatError
from forensics.formats.base import LogFormat, ParseOptions
from forensics.ingest.batch import Planned, commit_batch, insert_sources, parse_batch, source_row
from forensics.ingest.evidence import (
    DEFAULT_MAX_EXPANSION,
    Boundary,
    EvidenceFile,
    SkippedEvidence,
    describe,
    display_path,
    find_files,
    head_lines,
)
from forensics.ingest.forget import FORGOTTEN
from forensics.store import custody
from forensics.store.case import Case, is_write_failure, write_failed

PROBLEMS = ("unrecognised", "error")  # file statuses that make `forensics ingest` exit non-zero
# A file whose rejected entry lines exceed this share of its entry lines is named and makes
# `forensics ingest` exit non-zero (unless --accept-rejects): those hours are not covered.
REJECT_SHARE_LIMIT = 0.01
BATCH_FILES = 1000
BATCH_BYTES = 32 * 1024 * 1024  # files at least this big are parsed alone, streaming


@dataclass(frozen=True)
class IngestOptions:
    format: str | None = None  # force a registered format
    log_format: str | None = None  # a pasted nginx log_format / Apache LogFormat line
    tz: str | None = None
    fields: Mapping[str, str] = field(default_factory=dict)
    max_expansion: float | None = DEFAULT_MAX_EXPANSION  # refuse compressed files that expand more
    follow_links: bool = False  # read what symbolic links point to, even outside the evidence folders

    def parse_options(self) -> ParseOptions:
        return ParseOptions(tz=self.tz, fields=dict(self.fields))


@dataclass
class FileResult:
    path: Path
    status: str  # ingested | duplicate | already-ingested | unrecognised | empty | skipped | error
    source_id: int | None = None
    format: str | None = None
    lines: int = 0
    events: int = 0
    rejects: int = 0
    warnings: list[str] = field(default_factory=list)
    message: str | None = None
    entry_rejects: int = 0  # rejected lines that were log entries (not blank lines or directives)
    format_lines: dict[str, int] = field(default_factory=dict)  # events per format

    @property
    def reject_share(self) -> float:
        """Rejected entry lines as a share of the file's entry lines (0 when it has none)."""
        entries = self.events + self.entry_rejects
        return self.entry_rejects / entries if entries else 0.0


@dataclass(frozen=True)
class Progress:
    files_done: int
    files_total: int
    bytes_done: int  # of files done, plus the estimated share of the batch being parsed
    bytes_total: int
    lines_done: int
    current: Path | None


@dataclass
class IngestReport:
    results: list[FileResult]

    @property
    def problems(self) -> list[FileResult]:
        return [r for r in self.results if r.status in PROBLEMS]

    def rejecting(self, limit: float = REJECT_SHARE_LIMIT) -> list[FileResult]:
        """Ingested files whose rejected entry lines are more than ``limit`` of their entry lines."""
        return [r for r in self.results if r.status == "ingested" and r.reject_share > limit]

    def with_rejects(self) -> list[FileResult]:
        """Ingested files with any rejected entry line."""
        return [r for r in self.results if r.status == "ingested" and r.entry_rejects]

    def statuses(self) -> dict[str, int]:
        """How many files ended in each status."""
        return dict(Counter(r.status for r in self.results))

    def total(self, attr: str) -> int:
        return sum(int(getattr(r, attr)) for r in self.results)


def ingest(
    case: Case,
    inputs: Iterable[str | Path],
    options: IngestOptions | None = None,
    progress: Callable[[Progress], None] | None = None,
) -> IngestReport:
    """Ingest evidence files/folders/globs into ``case``. Safe to re-run: nothing is added twice."""
    opts = options or IngestOptions()
    _forced_format(opts)  # an unknown format or zone is refused before the evidence is walked
    inputs = list(inputs)
    paths = [p for p in find_files(inputs, opts.follow_links) if not _is_case_file(p, case.path)]
    return ingest_paths(case, paths, Boundary.of(inputs, opts.follow_links), opts, progress)


def ingest_paths(
    case: Case,
    paths: list[Path],
    boundary: Boundary,
    options: IngestOptions | None = None,
    progress: Callable[[Progress], None] | None = None,
    *,
    first_source_id: int | None = None,
) -> IngestReport:
    """``ingest`` of files ``find_files`` already found, read within ``boundary`` (the evidence
    folders given). ``first_source_id`` numbers the first new source (default: after the case's
    last), so that a file ingested alone in a case of its own (Spark ingest: one per task) gets
    the id it has in the whole run."""
    opts = options or IngestOptions()
    forced = _forced_format(opts)
    started = case.log_command("ingest", ingest_parameters(paths, opts))
    run = _Run(case.con, opts, forced, paths, progress)
    run.path, run.started = case.path, started
    run.boundary = boundary
    if first_source_id is not None:
        run.next_sid = max(run.next_sid, first_source_id)
    try:
        for path in paths:
            run.add(path)
        run.flush()
    except Exception as exc:  # a stop for the whole run (disk full): the log entry still ends
        with suppress(Exception):  # the case may refuse this write too
            done = IngestReport(list(run.results.values()))
            case.log_result(started, "ingest", {"failed": failure_reason(exc), **_summary(case, done)})
        raise
    run.report(None)
    report = IngestReport([run.results[p] for p in paths])
    case.log_result(started, "ingest", _summary(case, report))
    return report


def ingest_parameters(paths: list[Path], opts: IngestOptions) -> dict[str, Any]:
    """What the case log's ``ingest`` entry records of a run (the Spark ingest adds its engine)."""
    return {
        "inputs": [display_path(p) for p in paths],
        "format": opts.format,
        "log_format": opts.log_format,
        "tz": opts.tz,
        "fields": dict(opts.fields),
        "max_expansion": opts.max_expansion,
        "follow_links": opts.follow_links,
    }


def known_formats() -> list[dict[str, str]]:
    """The log formats the ingester recognises, in registry order: name, description, example line."""
    return [
        {"name": name, "description": fmt.description, "example": fmt.example}
        for name, fmt in formats.REGISTRY.items()
    ]


def check_inputs(inputs: Iterable[str | Path], options: IngestOptions | None = None) -> None:
    """Raise what ``ingest`` would raise before reading anything (evidence that does not exist,
    an empty folder, an unknown zone or format), so a caller can check before creating a case."""
    opts = options or IngestOptions()
    _forced_format(opts)
    find_files(inputs, opts.follow_links)


def _summary(case: Case, report: IngestReport) -> dict[str, Any]:
    """What the case log keeps of an ingest: counts, and a digest of the source rows it added."""
    out: dict[str, Any] = {
        "files": report.statuses(),
        "lines": report.total("lines"),
        "events": report.total("events"),
        "rejects": report.total("rejects"),
        "entry_rejects": report.total("entry_rejects"),
    }
    ids = [r.source_id for r in report.results if r.source_id is not None]
    if ids:
        out["source_ids"] = [min(ids), max(ids)]
        out["sources_sha256"] = custody.sources_digest(case.con, min(ids), max(ids))
    return out


class _Run:
    """State of one ingest: known hashes, the batch being gathered, results so far."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        opts: IngestOptions,
        forced: LogFormat | None,
        paths: list[Path],
        progress: Callable[[Progress], None] | None,
    ) -> None:
        self.con, self.opts, self.forced, self.progress = con, opts, forced, progress
        self.path = Path("case")
        self.started: int | None = None  # the ingest's case-log entry
        self.boundary = Boundary(())
        self.notes: dict[Path, list[str]] = {}  # per file: how it was reached (through a link)
        self.results: dict[Path, FileResult] = {}
        self.total_bytes = sum(_size(p) for p in paths)
        self.n_files, self.done_bytes, self.done_lines = len(paths), 0, 0
        rows = con.execute("SELECT source_id, path, sha256, status FROM sources").fetchall()
        self.originals = {sha: sid for sid, _, sha, st in rows if st in ("ingested", "empty")}
        self.seen = {(p, sha) for _, p, sha, st in rows if st not in (*PROBLEMS, FORGOTTEN)}
        self.failed = {(p, sha) for _, p, sha, st in rows if st in PROBLEMS}
        self.next_sid = max((r[0] for r in rows), default=0) + 1
        self.batch: list[Planned] = []
        self.batch_bytes = 0
        self.pending: dict[str, Planned] = {}  # sha256 -> planned original in this batch
        self.dups: list[tuple[Path, list[Any], str]] = []  # waiting for their original's batch

    def add(self, path: Path) -> None:
        """Hash, sniff and plan one file (parsed with its batch at ``flush``). Whatever goes wrong
        with it makes it an ``error`` source with the reason; the other files go on."""
        self.report(path)
        try:
            self._add(path)
        except Exception as exc:
            if path in self.results:  # recorded before it failed (e.g. its source row's write)
                raise
            self._stop_if_write_failure(exc)
            ev = EvidenceFile(path, 0, datetime.fromtimestamp(0, tz=UTC), "", "unknown")
            self._record(ev, "error", f"{display_path(path)}: {failure_reason(exc)}")

    def _add(self, path: Path) -> None:
        try:
            note = self.boundary.check(path)  # raises SkippedEvidence outside the evidence folders
            self.notes[path] = [note] if note else []
            ev = describe(path)
        except ForensicsError as exc:  # unreadable or special: recorded without a hash, never dropped
            shown = display_path(path)
            if (shown, "") in self.failed or (shown, "") in self.seen:  # a re-run: replace the record
                self.con.execute("DELETE FROM sources WHERE path = ? AND sha256 = ''", [shown])
            ev = EvidenceFile(path, 0, datetime.fromtimestamp(0, tz=UTC), "", "unknown")
            status = "skipped" if isinstance(exc, SkippedEvidence) else "error"
            self._record(ev, status, str(exc))
            return
        if (str(path), ev.sha256) in self.seen:
            self._done(FileResult(path, "already-ingested"), ev.size)
            return
        self.seen.add((str(path), ev.sha256))
        if (str(path), ev.sha256) in self.failed:  # retried: replace the failed record
            self.con.execute(
                f"DELETE FROM sources WHERE path = ? AND sha256 = ? AND status IN {PROBLEMS}",
                [str(path), ev.sha256],
            )
        original = self.originals.get(ev.sha256)
        if original is not None:
            self._record(ev, "duplicate", f"same SHA-256 as source {original}", dup_of=original, warned=False)
        elif ev.sha256 in self.pending:
            first = self.pending[ev.sha256]
            row = source_row(
                self._sid(), ev, status="duplicate", duplicate_of=first.source_id, warnings=self.notes[path]
            )
            self.dups.append((path, row, f"same SHA-256 as {first.ev.path}"))
        else:
            self._plan(ev)

    def _plan(self, ev: EvidenceFile) -> None:
        try:
            item = plan(self.con, ev, self.opts, self.forced)
        except Exception as exc:  # sniffing hostile bytes: any failure is this file's, not the run's
            self._stop_if_write_failure(exc)
            status = "unrecognised" if isinstance(exc, UnrecognisedFormatError) else "error"
            text = str(exc) if isinstance(exc, ForensicsError) else f"{ev.path}: {failure_reason(exc)}"
            self._record(ev, status, text)
            return
        if item is None:
            self._record(ev, "empty", None, counts=(0, 0, 0), warned=False)
            return
        item.warnings = list(self.notes.get(ev.path, []))
        if self.batch and (
            item.key() != self.batch[0].key()
            or len(self.batch) >= BATCH_FILES
            or self.batch_bytes + ev.size > BATCH_BYTES
        ):
            self.flush()
        item.source_id = self._sid()
        self.batch.append(item)
        self.batch_bytes += ev.size
        self.pending[ev.sha256] = item

    def flush(self) -> None:
        if not self.batch:
            return
        items, self.batch, self.batch_bytes = self.batch, [], 0
        hashes = {i.ev.sha256 for i in items}
        dups = [d for d in self.dups if d[1][4] in hashes]
        self.dups = [d for d in self.dups if d[1][4] not in hashes]
        try:
            self._parse(items, dups)
        except Exception as exc:  # e.g. a pasted layout whose SQL DuckDB refuses, memory, a bug
            self._stop_if_write_failure(exc)
            if len(items) == 1:
                self._batch_failed(items, dups, exc)
                return
            for item in items:  # one file's trouble must not cost the others: each alone
                alone = self._fresh(item)
                its = [d for d in dups if d[1][4] == item.ev.sha256]
                try:
                    self._parse([alone], its)
                except Exception as one_exc:
                    self._stop_if_write_failure(one_exc)
                    self._batch_failed([alone], its, one_exc)
                    continue
                self._finish([alone], its)
            self.pending.clear()
            return
        self._finish(items, dups)
        self.pending.clear()

    def _parse(self, items: list[Planned], dups: list[tuple[Path, list[Any], str]]) -> None:
        with _watch(self.con, self._batch_progress(items)):
            parse_batch(self.con, items, self.opts.parse_options(), self.opts.max_expansion)
            commit_batch(
                self.con, items, [d[1] for d in dups if not _refused(d, items)], self.opts.tz, self.started
            )

    def _fresh(self, item: Planned) -> Planned:
        """``item`` as planned, before a failed parse changed it."""
        return dataclasses.replace(
            item,
            reader="duckdb",
            warnings=list(self.notes.get(item.ev.path, [])),
            counts=(0, 0, 0),
            entry_rejects=0,
            format_lines={},
            error=None,
            misfit=None,
            cut_tail=False,
        )

    def _stop_if_write_failure(self, exc: Exception) -> None:
        """A write to the case that fails (disk full, spill folder unwritable) stops the run, also
        when it is already a CaseError (raised by ``flush`` from inside another file's ``add``)."""
        if isinstance(exc, CaseError):
            raise exc
        if isinstance(exc, duckdb.Error) and is_write_failure(exc, self.path):
            raise write_failed(self.path, exc) from exc

    def _finish(self, items: list[Planned], dups: list[tuple[Path, list[Any], str]]) -> None:
        """Results of a batch that committed."""
        for item in items:
            if item.error is not None:
                self.pending.pop(item.ev.sha256, None)
                message = item.error + (_misfit_hint(self.con, item) if item.misfit else "")
                self._record(item.ev, "error", message)
                continue
            self.originals[item.ev.sha256] = item.source_id
            self._done(
                FileResult(
                    item.ev.path,
                    "ingested",
                    item.source_id,
                    item.fmt.name,
                    *item.counts,
                    warnings=item.warnings,
                    entry_rejects=item.entry_rejects,
                    format_lines=dict(item.format_lines),
                ),
                item.ev.size,
            )
        for path, row, message in dups:
            if _refused((path, row, message), items):  # its original was refused: read it as itself
                self.seen.discard((str(path), row[4]))
                self._done(FileResult(path, "error", message="its identical original was refused"), row[2])
                continue
            self._done(FileResult(path, "duplicate", row[0], message=message), row[2])

    def _batch_failed(
        self, items: list[Planned], dups: list[tuple[Path, list[Any], str]], exc: Exception
    ) -> None:
        """Record every file of a batch that could not be parsed as an error, and go on."""
        self.pending.clear()
        for item in items:
            how = "failed in DuckDB:" if _is_plain_duckdb(exc) else "failed:"
            msg = f"{item.ev.path}: parsing as {item.fmt.name} {how} {failure_reason(exc)}"
            self._record(item.ev, "error", msg)
        for path, row, _ in dups:  # their original failed: they are not duplicates of anything
            self.seen.discard((str(path), row[4]))
            self._done(FileResult(path, "error", message="its identical original failed to parse"), row[2])

    def _record(
        self,
        ev: EvidenceFile,
        status: str,
        message: str | None,
        dup_of: int | None = None,
        warned: bool = True,
        **kw: Any,
    ) -> None:
        """A source row for a file that is not parsed; ``message`` is also its warning if ``warned``."""
        sid = self._sid()
        notes = self.notes.get(ev.path, []) + ([message] if message and warned else [])
        insert_sources(
            self.con, [source_row(sid, ev, status=status, duplicate_of=dup_of, warnings=notes, **kw)]
        )
        self._done(FileResult(ev.path, status, sid, message=message), ev.size)

    def _sid(self) -> int:
        self.next_sid += 1
        return self.next_sid - 1

    def _done(self, result: FileResult, size: int) -> None:
        self.results[result.path] = result
        self.done_bytes += size
        self.done_lines += result.lines

    def report(self, current: Path | None, extra_bytes: int = 0) -> None:
        if self.progress:
            self.progress(
                Progress(
                    len(self.results),
                    self.n_files,
                    self.done_bytes + extra_bytes,
                    self.total_bytes,
                    self.done_lines,
                    current,
                )
            )

    def _batch_progress(self, items: list[Planned]) -> Callable[[float], None] | None:
        if self.progress is None:
            return None
        size = sum(i.ev.size for i in items)
        return lambda frac: self.report(items[-1].ev.path, int(size * frac))


def failure_reason(exc: BaseException) -> str:
    """One line saying why a file could not be read, and what to do about it."""
    if isinstance(exc, MemoryError | duckdb.OutOfMemoryException):
        return (
            "out of memory while reading it; nothing of it was kept. Free memory (close other "
            "programs) or use a machine with more, and run the same command again: files already "
            "ingested are skipped"
        )
    if isinstance(exc, RecursionError):
        return "nested too deeply to read (a hostile or corrupt line); nothing of it was kept"
    first = (str(exc).splitlines() or [""])[0][:500]
    if _is_plain_duckdb(exc):
        return str(exc)
    return (
        f"unexpected {type(exc).__name__} ({first}); nothing of it was kept, the other files were "
        "read. Please report this with the message"
    )


def _is_plain_duckdb(exc: BaseException) -> bool:
    return isinstance(exc, duckdb.Error) and not isinstance(exc, duckdb.OutOfMemoryException)


def _refused(dup: tuple[Path, list[Any], str], items: list[Planned]) -> bool:
    return any(i.error is not None and i.ev.sha256 == dup[1][4] for i in items)


def _is_case_file(path: Path, case_path: Path) -> bool:
    """The case's own files (database, WAL, spill folder) are never evidence."""
    case = case_path.absolute()
    if path.parent == case.parent / (case.name + ".tmp"):
        return True
    return path.parent == case.parent and (path == case or path.name.startswith(case.name + "."))


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def plan(
    con: duckdb.DuckDBPyConnection, ev: EvidenceFile, opts: IngestOptions, forced: LogFormat | None
) -> Planned | None:
    """Sniff (or force) the format and bind its parser; None for an empty file."""
    sample = head_lines(ev.path, ev.compression)
    if not any(sample) and ev.size < 64:
        return None
    if forced is not None:
        fmt, score, alternates = forced, formats.sniff(con, sample, [forced]).score, []
    else:
        sniffed = formats.sniff(con, sample)
        if sniffed.best is None:
            raise UnrecognisedFormatError(_unrecognised(ev, sample, sniffed))
        fmt, score, alternates = sniffed.best, sniffed.score, sniffed.alternates
    parser = fmt.bind(sample, opts.parse_options())
    return Planned(ev, fmt, score, parser, alternates, sample, forced is not None)


def _misfit_hint(con: duckdb.DuckDBPyConnection, item: Planned) -> str:
    """What to do about a file a forced format does not fit: what the sniffer would choose."""
    sniffed = formats.sniff(con, item.sample)
    if sniffed.best is None:
        choice = "no registered format recognises its first lines either"
    else:
        choice = f"the sniffer would choose {sniffed.best.name} ({sniffed.score:.0%} of its first lines)"
    return (
        f"; {choice}. Run ingest again without --format/--log-format to let it choose, or give "
        "the server's own layout with --log-format"
    )


def _unrecognised(ev: EvidenceFile, sample: list[str], sniffed: formats.Sniffed) -> str:
    first = next((ln for ln in sample if ln.strip()), "")
    near = ", ".join(f"{f.name} {s:.0%}" for f, s in sniffed.ranked[:3]) or "none"
    return (
        f"{ev.path}: no known access-log format recognises this file "
        f"(first line: {first[:200]!r}; partial matches: {near}). If it is an access log, "
        "give its layout with --log-format '<your nginx log_format or Apache LogFormat>' "
        "or force one with --format NAME (see `forensics formats`); error logs and syslog "
        "are not access logs."
    )


def _check_tz(tz: str | None) -> None:
    if tz is None or tz == "UTC":
        return
    if tz not in zoneinfo.available_timezones():
        raise ForensicsError(unknown_zone_message(tz), candidates={tz: zone_suggestions(tz)})


def _forced_format(opts: IngestOptions) -> LogFormat | None:
    _check_tz(opts.tz)
    if opts.log_format and opts.format:
        raise ForensicsError("give either --format or --log-format, not both")
    if opts.log_format:
        return formats.custom_format(opts.log_format)
    return formats.get_format(opts.format) if opts.format else None


@contextmanager
def _watch(
    con: duckdb.DuckDBPyConnection, report: Callable[[float], None] | None, every: float = 0.5
) -> Iterator[None]:
    """While the body runs long queries, report their progress (0..1) from a polling thread."""
    if report is None:
        yield
        return
    stop = threading.Event()

    def poll() -> None:
        while not stop.wait(every):
            pct = con.query_progress()
            if pct >= 0:
                report(min(pct, 100.0) / 100.0)

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
