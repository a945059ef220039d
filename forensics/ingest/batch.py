"""Parse a batch of files that share one parser in a single DuckDB pass, and commit it.

Thousands of small hourly files must not cost thousands of round trips, so files with the same
format, parser settings and compression are read by one ``read_csv`` over the list of files.
Inside the batch a line's key is ``(file index << 40) + line number``; formats never see more
than ``(line_no, line)``. A batch DuckDB's reader refuses is read file by file, each with
DuckDB's reader when it accepts it and Python's otherwise (lines.py). The batch commits in one
transaction: every source in it is recorded whole, or none is.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import duckdb
import pandas as pd

from forensics import formats
from forensics.errors import ForensicsError
from forensics.formats.base import NOT_AN_ENTRY, LogFormat, ParseOptions, Parser
from forensics.ingest import rowdigest
from forensics.ingest.evidence import (
    DEFAULT_MAX_EXPANSION,
    EvidenceFile,
    ExpansionError,
    changed_since,
    display_path,
    expansion_limit,
    expansion_message,
)
from forensics.ingest.linereader import DUCKDB_COMPRESSIONS, duckdb_lines_sql, read_lines_call, stage_python
from forensics.store import custody
from forensics.store.case import tool_version
from forensics.store.db import registered, sql_list, sql_str
from forensics.store.schema import EVENT_COLUMNS, PARSED_COLUMNS, SOURCE_COLUMNS

SHIFT = 40  # file index lives above bit 40 of the batch line key
# The last line of a compressed file cut short (a truncated archive): an entry cut short, kept
# as a reject and never offered to other formats (a cut combined line reads as a common one with
# a wrong byte count). A plain file without a final newline is not taken as cut: many complete
# logs end so (the writer's last line is whole); its last line is treated like any other.
CUT_SHORT = "cut short: the last line of a truncated file"
# A rejected line that is a log entry (not blank, not a directive such as W3C's #Fields).
ENTRY_REJECT = f"reject_reason <> 'empty line' AND NOT starts_with(reject_reason, {sql_str(NOT_AN_ENTRY)})"
# The rejected entry lines another format may read.
RETRY = f"{ENTRY_REJECT} AND reject_reason <> {sql_str(CUT_SHORT)}"
# A forced format (--format, --log-format) must read at least this share of a file's entry lines.
MIN_FORCED_SHARE = 0.5
# Rounds of re-sniffing the lines no format took yet (each round samples what is left).
RESNIFF_ROUNDS = 4
RESNIFF_SAMPLE = 100
# Longer rejected lines are not re-sniffed: a 64 MiB line cost ~25 s against every format.
RESNIFF_LINE_MAX = 64 * 1024
MASK = (1 << SHIFT) - 1
# DuckDB's line reader refusing a file (the Python reader takes it): bytes it cannot read, a line
# past max_line_size, or (a line of hundreds of MB) "the Parallel CSV Reader currently does not
# support a full read on this file".
READ_ERRORS = (duckdb.InvalidInputException, duckdb.IOException, duckdb.NotImplementedException)


@dataclass
class Planned:
    """A file ready to parse: its evidence facts, chosen format and bound parser."""

    ev: EvidenceFile
    fmt: LogFormat
    score: float
    parser: Parser
    alternates: list[LogFormat]
    sample: list[str]
    forced: bool
    source_id: int = 0
    reader: str = "duckdb"
    warnings: list[str] = field(default_factory=list)
    counts: tuple[int, int, int] = (0, 0, 0)  # lines, events, rejects
    entry_rejects: int = 0  # rejects that are log entries (not blank lines or directives)
    format_lines: dict[str, int] = field(default_factory=dict)  # events per format
    error: str | None = None  # refused after reading (expansion, changed while read): not committed
    misfit: tuple[int, int] | None = None  # a forced format's (events, entry lines) when refused
    cut_tail: bool = False  # a truncated archive: its last line was cut

    def key(self) -> tuple[object, ...]:
        fast = self.ev.compression in DUCKDB_COMPRESSIONS
        return (
            self.fmt.name,
            self.parser.description,
            self.ev.compression if fast else "py",
            tuple(a.name for a in self.alternates),
        )


def multi_file_sql(items: list[Planned]) -> str:
    """Lines of several files of one compression, keyed (file index << 40) + line number.

    The per-file window buffers the batch, so batches are kept small (see ingest.BATCH_BYTES);
    a single file is read with the streaming lines.duckdb_lines_sql instead.
    """
    paths = sql_list([str(p.ev.path) for p in items])
    comp = DUCKDB_COMPRESSIONS[items[0].ev.compression]
    return f"""
SELECT ((f.idx - 1)::BIGINT << {SHIFT}) + (rn - min(rn) OVER (PARTITION BY f.idx) + 1) AS line_no,
       coalesce(line, '') AS line
FROM (SELECT row_number() OVER () AS rn, filename, line
      FROM {read_lines_call(paths, comp, filename=True)}) AS l
JOIN (SELECT unnest({paths}) AS filename, generate_subscripts({paths}, 1) AS idx) AS f
  USING (filename)"""


def parse_batch(
    con: duckdb.DuckDBPyConnection,
    items: list[Planned],
    options: ParseOptions,
    max_expansion: float | None = DEFAULT_MAX_EXPANSION,
) -> None:
    """Stage the batch's lines, then parse them into the case in a transaction ``commit_batch`` ends.

    Lines are staged first and parsed from the staged table: numbering lines needs an
    order-preserving scan, which runs on one thread, while parsing from a table runs on all
    cores (measured 1.7x on 2 cores). The staged table spills to disk under the memory limit.
    Events go straight from the parse into ``events`` (materialising every parsed row first
    cost as much as storing them); only the lines that did not become events are parsed again,
    into temp table ``parsed``, for their reject reasons and the second chance. Sets each item's
    reader/warnings. On an error the transaction is rolled back here and the error raised.
    """
    staged = None
    if items[0].ev.compression in DUCKDB_COMPRESSIONS:
        try:
            one = duckdb_lines_sql(items[0].ev.path, items[0].ev.compression)
            src = one if len(items) == 1 else multi_file_sql(items)
            staged = _count(con.execute(f"CREATE OR REPLACE TEMP TABLE staged_all AS {src}"))
        except READ_ERRORS:
            pass  # some file has bytes DuckDB's reader refuses: read them one by one
    if staged is None:
        con.execute("CREATE OR REPLACE TEMP TABLE staged_all (line_no BIGINT, line VARCHAR)")
        for idx, item in enumerate(items):
            _stage_one(con, idx, item, max_expansion)
        staged = _count(con.execute("SELECT count(*) FROM staged_all"))
    short = _short_reads(con, items)
    for idx in short:  # read again by the Python reader, which keeps every line
        con.execute(f"DELETE FROM staged_all WHERE line_no >> {SHIFT} = {idx}")
        _stage_one(con, idx, items[idx], max_expansion, fast=False)
    if short:
        staged = _count(con.execute("SELECT count(*) FROM staged_all"))
    if items[0].ev.compression != "none" and max_expansion and _check_expansion(con, items, max_expansion):
        staged = _count(con.execute("SELECT count(*) FROM staged_all"))
    parser = items[0].parser
    con.execute("BEGIN TRANSACTION")
    try:
        with _unordered(con):
            events = _insert_events(con, items, parser.select_sql("staged_all"))
            if events < staged:  # the lines that are not events yet: few, unless the file is odd
                lines = f"(SELECT * FROM staged_all ANTI JOIN ({_batch_keys(items)}) USING (line_no))"
            else:
                lines = "(SELECT * FROM staged_all WHERE false)"
            con.execute(f"CREATE OR REPLACE TEMP TABLE parsed AS {parser.select_sql(lines)}")
            con.execute("DROP TABLE staged_all")
            _mark_cut_lines(con, items)
            if items[0].forced:
                _refuse_misfits(con, items)
            _second_chance(con, items, options)
            _format_warnings(con, items)
    except BaseException:
        _rollback(con)
        with suppress(duckdb.Error):
            con.execute("DROP TABLE IF EXISTS staged_all")
            # an error inside the transaction left these as the parse set them (case.connect's values)
            con.execute("SET preserve_insertion_order = true")
            con.execute("SET disabled_optimizers = ''")
        raise


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    """Roll back; a COMMIT that failed (disk full) has already done so, and the first error is
    the one to report."""
    with suppress(duckdb.Error):
        con.execute("ROLLBACK")


def _count(cur: duckdb.DuckDBPyConnection) -> int:
    row = cur.fetchone()
    return int(row[0]) if row else 0


def _sids(items: list[Planned]) -> str:
    return "[" + ", ".join(str(i.source_id) for i in items) + "]"


def _batch_keys(items: list[Planned]) -> str:
    """The batch's events' line keys (file index << SHIFT) + line number, from ``events``."""
    sids = _sids(items)
    return (
        f"SELECT ((list_position({sids}, source_id) - 1)::BIGINT << {SHIFT}) + line_no AS line_no "
        f"FROM events WHERE source_id IN ({sids[1:-1]})"
    )


def _insert_events(con: duckdb.DuckDBPyConnection, items: list[Planned], select: str) -> int:
    """Insert the events (rows without a reject reason) of a parse; returns how many."""
    cols = ", ".join(c if c != "line_no" else f"line_no & {MASK}" for c in PARSED_COLUMNS)
    sid = f"{_sids(items)}[(line_no >> {SHIFT}) + 1]"
    with _no_filter_pushdown(con):
        return _count(
            con.execute(
                f"INSERT INTO events ({', '.join(EVENT_COLUMNS)}) "
                f"SELECT {sid}, {cols} FROM ({select}) WHERE reject_reason IS NULL"
            )
        )


@contextmanager
def _no_filter_pushdown(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Keep ``reject_reason IS NULL`` above the parse: pushed down, DuckDB inlines the whole
    parse expression into the filter and computes it twice (measured 23 vs 12 CPU-s at 2M lines).
    """
    row = con.execute("SELECT current_setting('disabled_optimizers')").fetchone()
    before = str(row[0]) if row and row[0] else ""
    off = ",".join([o for o in before.split(",") if o.strip()] + ["filter_pushdown"])
    con.execute(f"SET disabled_optimizers = {sql_str(off)}")
    try:
        yield
    except BaseException:
        with suppress(duckdb.Error):  # an aborted transaction refuses even SET: keep the first error
            con.execute(f"SET disabled_optimizers = {sql_str(before)}")
        raise
    con.execute(f"SET disabled_optimizers = {sql_str(before)}")


@contextmanager
def _unordered(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Once lines carry their numbers, row order need not be kept (measured 2x faster to store).

    Always restored: numbering the next file's lines depends on an order-preserving scan.
    """
    con.execute("SET preserve_insertion_order = false")
    try:
        yield
    except BaseException:
        with suppress(duckdb.Error):  # an aborted transaction refuses even SET: keep the first error
            con.execute("SET preserve_insertion_order = true")
        raise
    con.execute("SET preserve_insertion_order = true")


def _check_expansion(
    con: duckdb.DuckDBPyConnection,
    items: list[Planned],
    max_expansion: float,
) -> bool:
    """Files decompressed past the allowed ratio are refused (their lines dropped); True if any.

    DuckDB reads gzip/zstd itself, so this is checked once the lines are staged (its temp
    space is bounded by its max_temp_directory_size); the Python reader refuses while reading.
    """
    sizes = con.execute(
        f"SELECT line_no >> {SHIFT}, sum(strlen(line) + 1) FROM staged_all GROUP BY ALL"
    ).fetchall()
    refused = False
    for idx, size in sizes:
        item = items[int(idx)]
        limit = expansion_limit(item.ev.size, max_expansion)
        if limit is not None and int(size) > limit:
            item.error = expansion_message(item.ev.path, item.ev.size, max_expansion)
            con.execute(f"DELETE FROM staged_all WHERE line_no >> {SHIFT} = {int(idx)}")
            refused = True
    return refused


def _short_reads(con: duckdb.DuckDBPyConnection, items: list[Planned]) -> list[int]:
    """Plain files whose staged lines hold fewer bytes than the file: DuckDB 2.0.1's reader
    silently drops a line of exactly 2^31 or 2^32 bytes (measured; other huge lines raise).

    Each staged line lost only its line end (``\\n``, perhaps a ``\\r``) and a file may lack a final
    newline, so a file is short when its size exceeds its staged bytes by more than 2 per line
    plus 1. One aggregate over the staged lines; compressed files cannot be checked this way.
    """
    if items[0].ev.compression != "none":
        return []
    rows = con.execute(
        f"SELECT line_no >> {SHIFT}, count(*), sum(strlen(line)) FROM staged_all GROUP BY ALL"
    ).fetchall()
    got = {int(i): (int(n), int(b or 0)) for i, n, b in rows}
    out = []
    for idx, item in enumerate(items):
        lines, size = got.get(idx, (0, 0))
        if item.ev.size - size > 2 * lines + 1:
            out.append(idx)
    return out


def _stage_one(
    con: duckdb.DuckDBPyConnection, idx: int, item: Planned, max_expansion: float | None, fast: bool = True
) -> None:
    key = f"({idx}::BIGINT << {SHIFT}) + line_no"
    sql = duckdb_lines_sql(item.ev.path, item.ev.compression) if fast else None
    if sql is not None:
        try:
            con.execute(f"INSERT INTO staged_all SELECT {key}, line FROM ({sql})")
            item.reader = "duckdb"
            return
        except READ_ERRORS:
            pass
    try:
        warning = stage_python(con, item.ev.path, item.ev.compression, "staged", max_expansion=max_expansion)
    except ExpansionError as exc:
        item.error = str(exc)
        con.execute("DROP TABLE IF EXISTS staged")
        return
    con.execute(f"INSERT INTO staged_all SELECT {key}, line FROM staged")
    con.execute("DROP TABLE staged")
    item.reader = "python"
    if warning:
        item.warnings.append(warning)
        item.cut_tail = warning.startswith("truncated")


def _format_warnings(con: duckdb.DuckDBPyConnection, items: list[Planned]) -> None:
    """Per-file warnings a parser derives from its events (e.g. gcp_lb: sampled logs).

    A parser may define ``file_warnings_sql(table, file_key)`` returning SQL that selects
    ``(file index, warning)`` from ``table`` (the batch's parsed rows: PARSED_COLUMNS and
    ``reject_reason``, line numbers keyed as in the batch), grouping by the ``file_key``
    expression. The batch's events are in the case by now: ``table`` selects them from there.
    """
    hook = getattr(items[0].parser, "file_warnings_sql", None)
    if not hook:
        return
    sids = _sids(items)
    cols = ", ".join(c for c in PARSED_COLUMNS if c != "line_no")
    table = (
        f"(SELECT ((list_position({sids}, source_id) - 1)::BIGINT << {SHIFT}) + line_no AS line_no, "
        f"{cols}, NULL::VARCHAR AS reject_reason FROM events WHERE source_id IN ({sids[1:-1]}))"
    )
    sql = hook(table, f"line_no >> {SHIFT}")
    if sql:
        for idx, text in con.execute(sql).fetchall():
            items[int(idx)].warnings.append(str(text))


def _mark_cut_lines(con: duckdb.DuckDBPyConnection, items: list[Planned]) -> None:
    """A rejected last line of a file that was cut (see CUT_SHORT) says so."""
    for idx, item in enumerate(items):
        if not item.cut_tail:
            continue
        con.execute(
            f"""UPDATE parsed SET reject_reason = {sql_str(CUT_SHORT)}
            WHERE line_no = (SELECT max(line_no) FROM parsed WHERE line_no >> {SHIFT} = {idx})
              AND line_no > ({idx}::BIGINT << {SHIFT})
                + (SELECT coalesce(max(line_no), 0) FROM events WHERE source_id = ?)
              AND {ENTRY_REJECT}""",
            [item.source_id],
        )


def _refuse_misfits(con: duckdb.DuckDBPyConnection, items: list[Planned]) -> None:
    """A forced format that reads fewer than MIN_FORCED_SHARE of a file's entry lines is refused
    for that file: its events and rejects are removed (the caller records it as an error)."""
    events = dict(
        con.execute(
            f"SELECT list_position({_sids(items)}, source_id) - 1, count(*) FROM events "
            f"WHERE source_id IN ({_sids(items)[1:-1]}) GROUP BY 1"
        ).fetchall()
    )
    entries = dict(
        con.execute(
            f"SELECT line_no >> {SHIFT}, count(*) FROM parsed WHERE {ENTRY_REJECT} GROUP BY 1"
        ).fetchall()
    )
    for idx, item in enumerate(items):
        took, missed = int(events.get(idx, 0)), int(entries.get(idx, 0))
        if took + missed and took < MIN_FORCED_SHARE * (took + missed):
            item.misfit = (took, took + missed)
            item.error = (
                f"{item.ev.path}: refused: the forced format {item.fmt.name} reads {took:,} of its "
                f"{took + missed:,} entry lines (less than {MIN_FORCED_SHARE:.0%}); nothing of it was kept"
            )
            con.execute("DELETE FROM events WHERE source_id = ?", [item.source_id])
            con.execute(f"DELETE FROM parsed WHERE line_no >> {SHIFT} = {idx}")


def _second_chance(con: duckdb.DuckDBPyConnection, items: list[Planned], options: ParseOptions) -> None:
    """Give the entry lines the format rejected to other formats, wherever in a file they are.

    First the formats that recognised part of the sniffed head; then, for as long as rejected
    entry lines remain and a round finds a format for some of them, a sample of those lines is
    sniffed against every registered format not tried yet (a layout that changed after the
    head, e.g. combined lines followed by common ones after a config change). Only rejected
    lines are read again: a file whose lines all parsed costs one COUNT here.
    """
    tried = {items[0].fmt.name}
    for alt in items[0].alternates:
        _try_format(con, items, alt, items[0].sample, options)
        tried.add(alt.name)
    for _ in range(RESNIFF_ROUNDS):
        sample = _reject_sample(con)
        if not sample:
            return
        candidates = [f for f in formats.REGISTRY.values() if f.name not in tried]
        ranked = [f for f, _ in formats.sniff(con, sample, candidates).ranked]
        gained = 0
        for fmt in ranked:
            tried.add(fmt.name)
            gained += _try_format(con, items, fmt, sample, options)
        if not gained:
            return


def _reject_sample(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Up to RESNIFF_SAMPLE rejected entry lines (of at most RESNIFF_LINE_MAX bytes): the first
    half, then evenly spread over the rest."""
    half = RESNIFF_SAMPLE // 2
    rows = con.execute(f"""
        SELECT line FROM (
          SELECT line_no, line, row_number() OVER (ORDER BY line_no) AS rn, count(*) OVER () AS n
          FROM parsed WHERE {RETRY} AND strlen(line) <= {RESNIFF_LINE_MAX})
        WHERE rn <= {half} OR (rn - {half} - 1) % greatest((n - {half}) // {half}, 1) = 0
        ORDER BY line_no LIMIT {RESNIFF_SAMPLE}""").fetchall()
    return [str(r[0]) for r in rows]


def _try_format(
    con: duckdb.DuckDBPyConnection,
    items: list[Planned],
    fmt: LogFormat,
    sample: list[str],
    options: ParseOptions,
) -> int:
    """Parse the rejected entry lines with ``fmt``; those it takes become events. Returns how many."""
    try:
        parser = fmt.bind(sample, options)
    except ForensicsError as exc:  # e.g. it would need --tz: say so, the lines stay rejects
        for item in items:
            note = f"some rejected lines look like {fmt.name}, which could not be used: {exc}"
            if item.error is None and note not in item.warnings:
                item.warnings.append(note)
        return 0
    src = f"(SELECT line_no, line FROM parsed WHERE {RETRY})"
    con.execute(f"CREATE OR REPLACE TEMP TABLE alt AS {parser.select_sql(src)}")
    con.execute("DELETE FROM alt WHERE reject_reason IS NOT NULL")
    per_file = con.execute(f"SELECT line_no >> {SHIFT}, count(*) FROM alt GROUP BY 1").fetchall()
    if per_file:
        con.execute("DELETE FROM parsed WHERE line_no IN (SELECT line_no FROM alt)")
        _insert_events(con, items, "SELECT * FROM alt")
    for idx, n in per_file:
        item = items[int(idx)]
        item.warnings.append(f"mixed layouts: {n:,} lines parsed as {fmt.name}")
        item.format_lines[fmt.name] = int(n)
    con.execute("DROP TABLE alt")
    return sum(int(n) for _, n in per_file)


def commit_batch(
    con: duckdb.DuckDBPyConnection,
    items: list[Planned],
    duplicates: list[list[Any]],
    tz: str | None,
    ingest_seq: int | None = None,
) -> None:
    """End parse_batch's transaction: rejects, the batch's source rows and its queued duplicates,
    and an ``ingest batch`` case-log entry with the row digests of its sources (rowdigest.py).

    A file that changed since it was hashed (a live log) is refused here: its rows are removed
    and it gets no source row (the caller records it as an error).
    """
    try:
        _refuse_changed(con, items)
        sids = _sids(items)
        stats = {
            int(r[0]): r[1:]
            for r in con.execute(f"""
            SELECT list_position({sids}, source_id) - 1, count(*), min(ts), max(ts)
            FROM events WHERE source_id IN ({sids[1:-1]}) GROUP BY 1""").fetchall()
        }
        rejected = {
            int(r[0]): (int(r[1]), int(r[2]))
            for r in con.execute(
                f"SELECT line_no >> {SHIFT}, count(*), count(*) FILTER ({ENTRY_REJECT}) "
                "FROM parsed GROUP BY 1"
            ).fetchall()
        }
        rows = []
        for idx, item in enumerate(items):
            if item.error is not None:
                continue
            events, first, last = stats.get(idx, (0, None, None))
            rejects, item.entry_rejects = rejected.get(idx, (0, 0))
            item.counts = (int(events) + rejects, int(events), rejects)
            primary = int(events) - sum(item.format_lines.values())
            if primary:
                item.format_lines = {item.fmt.name: primary, **item.format_lines}
            rows.append(
                source_row(
                    item.source_id,
                    item.ev,
                    status="ingested",
                    fmt=item.fmt.name,
                    score=item.score,
                    reader=item.reader,
                    counts=item.counts,
                    first=first,
                    last=last,
                    warnings=item.warnings,
                    options=_options(item, tz),
                    entry_rejects=item.entry_rejects,
                    format_lines=item.format_lines,
                )
            )
        con.execute(
            f"INSERT INTO rejects SELECT {sids}[(line_no >> {SHIFT}) + 1], line_no & {MASK}, line, "
            "reject_reason FROM parsed"
        )
        insert_sources(con, rows + duplicates)
        kept = [i.source_id for i in items if i.error is None]
        if kept:
            digests = rowdigest.compute(con, kept)
            custody.append(con, tool_version(), rowdigest.BATCH_COMMAND, rowdigest.entry(ingest_seq, digests))
        con.execute("COMMIT")
    except BaseException:
        _rollback(con)
        raise
    finally:
        with suppress(duckdb.Error):  # after a failed write the connection may refuse even this
            con.execute("DROP TABLE IF EXISTS parsed")
            con.execute("DROP TABLE IF EXISTS staged_all")  # back if the ROLLBACK undid its drop


def _refuse_changed(con: duckdb.DuckDBPyConnection, items: list[Planned]) -> None:
    """A file that changed after it was hashed (a live log still being written) is refused."""
    for idx, item in enumerate(items):
        change = changed_since(item.ev) if item.error is None else None
        if change:
            item.error = (
                f"{item.ev.path}: changed while being ingested ({change}); its lines are not kept, "
                "because they may not match its recorded SHA-256. Copy the evidence to a stable "
                "place (a live log is still being written) and ingest the copy"
            )
            con.execute("DELETE FROM events WHERE source_id = ?", [item.source_id])
            con.execute(f"DELETE FROM parsed WHERE line_no >> {SHIFT} = {idx}")


def _options(item: Planned, tz: str | None) -> str:
    return json.dumps(
        {"format": item.fmt.name, "forced": item.forced, "parser": item.parser.description, "tz": tz},
        sort_keys=True,
    )


def source_row(
    sid: int,
    ev: EvidenceFile,
    *,
    status: str,
    duplicate_of: int | None = None,
    fmt: str | None = None,
    score: float | None = None,
    reader: str | None = None,
    counts: tuple[int, int, int] | None = None,
    first: datetime | None = None,
    last: datetime | None = None,
    warnings: list[str] | None = None,
    options: str | None = None,
    entry_rejects: int | None = None,
    format_lines: dict[str, int] | None = None,
) -> list[Any]:
    """A row for the sources table, in SOURCE_COLUMNS order."""
    lines, events, rejects = counts if counts else (None, None, None)
    row = [
        sid,
        display_path(ev.path),
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
        (entry_rejects or 0) if counts else None,
        json.dumps(format_lines or {}, sort_keys=True) if counts else None,
    ]
    assert len(row) == len(SOURCE_COLUMNS)
    return row


def insert_sources(con: duckdb.DuckDBPyConnection, rows: list[list[Any]]) -> None:
    """Insert source rows from one DataFrame (parameter lists cost ~2 ms a row to bind)."""
    if not rows:
        return
    columns: dict[str, pd.Series] = {}
    for i, name in enumerate(SOURCE_COLUMNS):
        values = [row[i] for row in rows]
        if name == "warnings":  # a list column of mixed emptiness: passed as JSON text
            values = [json.dumps(v or []) for v in values]
        columns[name] = pd.Series(values, dtype=object)
    frame = pd.DataFrame(columns)
    casts = ", ".join(
        f"CAST({'CAST(warnings AS JSON)' if name == 'warnings' else name} AS {_bare_type(typ)})"
        for name, typ in SOURCE_COLUMNS.items()
    )
    with registered(con, "_source_rows", frame):
        con.execute(f"INSERT INTO sources SELECT {casts} FROM _source_rows")


def _bare_type(column_type: str) -> str:
    return column_type.replace(" PRIMARY KEY", "").replace(" NOT NULL", "")
