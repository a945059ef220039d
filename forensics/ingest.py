"""Ingest: evidence files → sources + events + rejects, one transaction per file.

Per file: hash and compression (evidence.py) → skip if this content was ingested before
(a duplicate is recorded, not re-read) → sniff or force a format → stage lines and parse them
inside DuckDB (lines.py, formats/) → lines the chosen format rejects get a second chance with
other formats that recognised part of the sample (mixed layouts in one file) → commit.
"""

from __future__ import annotations

import difflib
import json
import threading
import zoneinfo
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import duckdb

from forensics import formats
from forensics.case import Case
from forensics.errors import ForensicsError, UnrecognisedFormatError
from forensics.evidence import EvidenceFile, describe, find_files, head_lines
from forensics.formats.base import LogFormat, ParseOptions, Parser
from forensics.lines import duckdb_lines_sql, stage_python
from forensics.schema import EVENT_COLUMNS, PARSED_COLUMNS


@dataclass(frozen=True)
class IngestOptions:
    format: str | None = None  # force a registered format
    log_format: str | None = None  # a pasted nginx log_format / Apache LogFormat line
    tz: str | None = None
    fields: Mapping[str, str] = field(default_factory=dict)

    def parse_options(self) -> ParseOptions:
        return ParseOptions(tz=self.tz, fields=dict(self.fields))


@dataclass
class FileResult:
    path: Path
    status: str  # ingested | duplicate | already-ingested | unrecognised | empty | error
    source_id: int | None = None
    format: str | None = None
    lines: int = 0
    events: int = 0
    rejects: int = 0
    warnings: list[str] = field(default_factory=list)
    message: str | None = None


@dataclass(frozen=True)
class Progress:
    files_done: int
    files_total: int
    bytes_done: int  # of whole files done, plus the estimated share of the current one
    bytes_total: int
    lines_done: int
    current: Path | None


@contextmanager
def _watch(con: duckdb.DuckDBPyConnection, report: Callable[[float], None] | None,
           every: float = 0.5) -> Iterator[None]:
    """While the body runs a long query, report its progress (0..1) from a polling thread."""
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


@dataclass
class IngestReport:
    results: list[FileResult]

    @property
    def problems(self) -> list[FileResult]:
        return [r for r in self.results if r.status in ("unrecognised", "error")]

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
    forced = _forced_format(opts)
    paths = find_files(inputs)
    sizes = [p.stat().st_size for p in paths]
    case.log_command(
        "ingest",
        {
            "inputs": [str(p) for p in paths],
            "format": opts.format,
            "log_format": opts.log_format,
            "tz": opts.tz,
            "fields": dict(opts.fields),
        },
    )
    results: list[FileResult] = []
    done_bytes = done_lines = 0
    for i, path in enumerate(paths):
        within = None
        if progress:
            progress(Progress(i, len(paths), done_bytes, sum(sizes), done_lines, path))
            within = partial(_within_file, progress, i, len(paths), done_bytes, sum(sizes),
                             sizes[i], done_lines, path)
        with _watch(case.con, within):
            result = ingest_file(case.con, path, opts, forced)
        results.append(result)
        done_bytes += sizes[i]
        done_lines += result.lines
    if progress:
        progress(Progress(len(paths), len(paths), done_bytes, sum(sizes), done_lines, None))
    return IngestReport(results)


def _within_file(progress: Callable[[Progress], None], i: int, n: int, done: int, total: int,
                 size: int, lines: int, path: Path, fraction: float) -> None:
    progress(Progress(i, n, done + int(size * fraction), total, lines, path))


def _check_tz(tz: str | None) -> None:
    if tz is None:
        return
    zones = zoneinfo.available_timezones()
    if tz not in zones and tz != "UTC":
        close = difflib.get_close_matches(tz, zones, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ForensicsError(f"unknown time zone {tz!r}.{hint} Use an IANA name such as Europe/London")


def _forced_format(opts: IngestOptions) -> LogFormat | None:
    _check_tz(opts.tz)
    if opts.log_format and opts.format:
        raise ForensicsError("give either --format or --log-format, not both")
    if opts.log_format:
        return formats.custom_format(opts.log_format)
    return formats.get_format(opts.format) if opts.format else None


def ingest_file(
    con: duckdb.DuckDBPyConnection, path: Path, opts: IngestOptions, forced: LogFormat | None
) -> FileResult:
    """Ingest one file; never raises for a bad file — the problem is recorded on its source."""
    try:
        ev = describe(path)
    except ForensicsError as exc:  # unreadable: recorded without a hash, never silently skipped
        con.execute("DELETE FROM sources WHERE path = ? AND sha256 = ''", [str(path)])
        sid = _next_source_id(con)
        ev = EvidenceFile(path, 0, datetime.fromtimestamp(0, tz=UTC), "", "unknown")
        _insert_source(con, sid, ev, status="error", warnings=[str(exc)])
        return FileResult(path, "error", sid, message=str(exc))
    prior = con.execute(
        "SELECT source_id, path, status FROM sources WHERE sha256 = ? "
        "AND status NOT IN ('unrecognised', 'error') ORDER BY source_id",
        [ev.sha256],
    ).fetchall()
    if any(p == str(path) for _, p, _ in prior):
        return FileResult(path, "already-ingested", source_id=prior[0][0])
    con.execute("DELETE FROM sources WHERE path = ? AND sha256 = ?", [str(path), ev.sha256])
    sid = _next_source_id(con)
    if prior:
        _insert_source(con, sid, ev, status="duplicate", duplicate_of=prior[0][0])
        return FileResult(path, "duplicate", sid, message=f"same SHA-256 as {prior[0][1]}")
    try:
        return _parse_file(con, sid, ev, opts, forced)
    except ForensicsError as exc:
        status = "unrecognised" if isinstance(exc, UnrecognisedFormatError) else "error"
        _insert_source(con, sid, ev, status=status, warnings=[str(exc)])
        return FileResult(path, status, sid, message=str(exc))


def _next_source_id(con: duckdb.DuckDBPyConnection) -> int:
    row = con.execute("SELECT coalesce(max(source_id), 0) + 1 FROM sources").fetchone()
    return int(row[0]) if row else 1


def _choose(
    con: duckdb.DuckDBPyConnection,
    ev: EvidenceFile,
    sample: list[str],
    opts: IngestOptions,
    forced: LogFormat | None,
) -> tuple[LogFormat, float, list[LogFormat]]:
    if forced is not None:
        return forced, formats.sniff(con, sample, [forced]).score, []
    sniffed = formats.sniff(con, sample)
    if sniffed.best is None:
        first = next((ln for ln in sample if ln.strip()), "")
        near = ", ".join(f"{f.name} {s:.0%}" for f, s in sniffed.ranked[:3]) or "none"
        raise UnrecognisedFormatError(
            f"{ev.path}: no known access-log format recognises this file "
            f"(first line: {first[:200]!r}; partial matches: {near}). If it is an access log, "
            "give its layout with --log-format '<your nginx log_format or Apache LogFormat>' "
            "or force one with --format NAME (see `forensics formats`); error logs and syslog "
            "are not access logs."
        )
    return sniffed.best, sniffed.score, sniffed.alternates


def _parse_file(
    con: duckdb.DuckDBPyConnection, sid: int, ev: EvidenceFile, opts: IngestOptions, forced: LogFormat | None
) -> FileResult:
    sample = head_lines(ev.path, ev.compression)
    if not any(sample) and ev.size < 64:
        _insert_source(con, sid, ev, status="empty", lines=0, events=0, rejects=0)
        return FileResult(ev.path, "empty", sid)
    fmt, score, alternates = _choose(con, ev, sample, opts, forced)
    parser = fmt.bind(sample, opts.parse_options())
    reader, warnings = _stage_and_parse(con, ev, parser)
    warnings += _second_chance(con, sample, opts, alternates)
    counts = _commit(con, sid, ev, fmt, score, reader, warnings, parser, opts)
    return FileResult(ev.path, "ingested", sid, fmt.name, *counts, warnings=warnings)


def _stage_and_parse(
    con: duckdb.DuckDBPyConnection, ev: EvidenceFile, parser: Parser
) -> tuple[str, list[str]]:
    """Parse into temp table ``parsed``; DuckDB's reader first, Python's when it refuses."""
    fast = duckdb_lines_sql(ev.path, ev.compression)
    if fast is not None:
        try:
            con.execute(f"CREATE OR REPLACE TEMP TABLE parsed AS {parser.select_sql(f'({fast})')}")
            return "duckdb", []
        except (duckdb.InvalidInputException, duckdb.IOException):
            pass  # invalid UTF-8, odd line ends, truncation…: read it the careful way
    warning = stage_python(con, ev.path, ev.compression, "staged")
    con.execute(f"CREATE OR REPLACE TEMP TABLE parsed AS {parser.select_sql('staged')}")
    con.execute("DROP TABLE staged")
    return "python", [warning] if warning else []


def _second_chance(
    con: duckdb.DuckDBPyConnection, sample: list[str], opts: IngestOptions, alternates: list[LogFormat]
) -> list[str]:
    """Re-parse rejected lines with formats that recognised part of the sample."""
    notes = []
    for alt in alternates:
        try:
            parser = alt.bind(sample, opts.parse_options())
        except ForensicsError:
            continue
        src = "(SELECT line_no, line FROM parsed WHERE reject_reason LIKE 'not a %')"
        con.execute(f"CREATE OR REPLACE TEMP TABLE alt AS {parser.select_sql(src)}")
        con.execute("DELETE FROM alt WHERE reject_reason IS NOT NULL")
        row = con.execute("SELECT count(*) FROM alt").fetchone()
        if row and row[0]:
            con.execute("DELETE FROM parsed WHERE line_no IN (SELECT line_no FROM alt)")
            con.execute("INSERT INTO parsed SELECT * FROM alt")
            notes.append(f"mixed layouts: {row[0]} lines parsed as {alt.name}")
        con.execute("DROP TABLE alt")
    return notes


def _commit(
    con: duckdb.DuckDBPyConnection,
    sid: int,
    ev: EvidenceFile,
    fmt: LogFormat,
    score: float,
    reader: str,
    warnings: list[str],
    parser: Parser,
    opts: IngestOptions,
) -> tuple[int, int, int]:
    row = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE reject_reason IS NULL), "
        "min(ts) FILTER (WHERE reject_reason IS NULL), "
        "max(ts) FILTER (WHERE reject_reason IS NULL) FROM parsed"
    ).fetchone()
    assert row is not None
    lines, events, first, last = int(row[0]), int(row[1]), row[2], row[3]
    cols = ", ".join(PARSED_COLUMNS)
    options = json.dumps(
        {
            "format": fmt.name,
            "forced": bool(opts.format or opts.log_format),
            "parser": parser.description,
            "tz": opts.tz,
        },
        sort_keys=True,
    )
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(
            f"INSERT INTO events ({', '.join(EVENT_COLUMNS)}) "
            f"SELECT {sid}, {cols} FROM parsed WHERE reject_reason IS NULL"
        )
        con.execute(
            f"INSERT INTO rejects SELECT {sid}, line_no, line, reject_reason "
            "FROM parsed WHERE reject_reason IS NOT NULL"
        )
        _insert_source(
            con,
            sid,
            ev,
            status="ingested",
            fmt=fmt.name,
            score=score,
            reader=reader,
            lines=lines,
            events=events,
            rejects=lines - events,
            first=first,
            last=last,
            warnings=warnings,
            options=options,
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        con.execute("DROP TABLE IF EXISTS parsed")
    return lines, events, lines - events


def _insert_source(
    con: duckdb.DuckDBPyConnection,
    sid: int,
    ev: EvidenceFile,
    *,
    status: str,
    duplicate_of: int | None = None,
    fmt: str | None = None,
    score: float | None = None,
    reader: str | None = None,
    lines: int | None = None,
    events: int | None = None,
    rejects: int | None = None,
    first: datetime | None = None,
    last: datetime | None = None,
    warnings: list[str] | None = None,
    options: str | None = None,
) -> None:
    con.execute(
        "INSERT INTO sources VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            sid,
            str(ev.path),
            ev.size,
            ev.mtime,
            ev.sha256,
            ev.compression,
            status,
            duplicate_of,
            fmt,
            score,
            reader,
            lines,
            events,
            rejects,
            first,
            last,
            warnings or [],
            options,
            datetime.now(UTC),
        ],
    )
