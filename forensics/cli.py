"""The `forensics` command: a thin shell over the library. Only this module talks to the terminal."""

from __future__ import annotations

import json
import os
import re
import shlex
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click
import duckdb
import pandas as pd
from click.decorators import FC

from forensics.assess.compute import InvestigateOptions
from forensics.assess.window import parse_window, unknown_zone_message
from forensics.cli_output import (
    NORMAL,
    StageDisplay,
    VerbatimGroup,
    detail,
    emit_json,
    json_option,
    note,
    set_verbosity,
    verbosity,
    warn,
)
from forensics.derive import routes
from forensics.derive.actors import ActorOptions, derive_actors
from forensics.derive.auth import AuthOptions, AuthResult, proposals_text
from forensics.derive.network import Trusted
from forensics.derive.ownership import OwnershipCheck, OwnershipMap
from forensics.detectors import REGISTRY as DETECTORS
from forensics.detectors.run import DetectOptions, findings, flagged_actors, parse_threshold, run_detectors
from forensics.detectors.run import summary as detect_summary
from forensics.errors import ForensicsError, SparkUnavailableError
from forensics.ingest.evidence import DEFAULT_MAX_EXPANSION
from forensics.ingest.forget import forget
from forensics.ingest.reparse import Reparse, reparse
from forensics.ingest.run import (
    PROBLEMS,
    REJECT_SHARE_LIMIT,
    IngestOptions,
    IngestReport,
    Progress,
    check_inputs,
    ingest,
    known_formats,
)
from forensics.ingest.verify import Verification, log_verification, verify
from forensics.publish.investigate import investigate
from forensics.publish.parquet import Export, export_parquet
from forensics.publish.parquet_case import FolderVerification, open_parquet, verify_folder
from forensics.publish.parquet_log import ParquetCaseLog, folder_lock
from forensics.publish.pseudonymise import Pseudonymisation
from forensics.sigma.run import run_sigma, sigma_matches_by_rule
from forensics.spark.ingest import ingest_spark
from forensics.store.case import Case, is_write_failure, write_failed
from forensics.store.db import MEMORY_LIMIT_ENV, check_memory_limit
from forensics.store.entry import logged
from forensics.store.printable import printable, printable_lines
from forensics.store.schema import SCHEMA_VERSION
from forensics.store.stages import watching

# `forensics investigate` exits with its verdict, so a script can tell them apart without reading
# findings.json (README, "Exit codes"). 1 stays "error or refusal" (click.ClickException) and 2
# "usage error" (click.UsageError); 0 is "answered, nothing found".
VERDICT_EXIT = {"excluded": 0, "no_evidence": 0, "cannot_tell": 3, "possible": 4, "likely": 5, "confirmed": 6}


def safe(text: object) -> str:
    """Log text for a terminal, as one line: control and invisible formatting characters (ANSI
    escapes, tab and newline, bidi overrides, zero-width characters) shown escaped (text.py)."""
    return printable(text)


def safe_lines(text: object) -> str:
    """As ``safe``, newlines kept: for multi-line text the tool made (tables, error messages)."""
    return printable_lines(text)


def _table(show: pd.DataFrame) -> str:
    """A table for the terminal: every cell escaped as one line, then the table's own lines."""
    cells = show.astype(object).map(lambda v: printable(v) if isinstance(v, str) else v)
    return safe_lines(cells.to_string(index=False))


def engine_option(help_text: str) -> Callable[[FC], FC]:
    """``--engine duckdb|spark`` (ingest and investigate say what it means for them)."""
    return click.option(
        "--engine",
        type=click.Choice(["duckdb", "spark"]),
        default="duckdb",
        show_default=True,
        help=help_text,
    )


def _fail(exc: ForensicsError | duckdb.OutOfMemoryException | MemoryError) -> click.ClickException:
    if isinstance(exc, MemoryError):
        return click.ClickException(
            "out of memory; nothing more was written. Free memory (close other programs) or use a machine "
            "with more, and run the same command again (an ingest skips the files it already ingested)"
        )
    if isinstance(exc, duckdb.OutOfMemoryException):
        return click.ClickException(
            "DuckDB ran out of the case's memory limit; nothing was written. Free memory or disk for "
            f"<case>.duckdb.tmp and run again. ({safe(str(exc).splitlines()[0])})"
        )
    return click.ClickException(safe_lines(exc))


class _Main(VerbatimGroup):
    """A write to the case that fails (disk full) is one clear line, whichever command hit it."""

    def invoke(self, ctx: click.Context) -> Any:
        began = time.monotonic()
        live = sys.stderr.isatty() and not ctx.params.get("quiet")
        display = StageDisplay(live=live, profile=bool(ctx.params.get("profile")))
        try:
            with watching(display):
                return super().invoke(ctx)
        except duckdb.Error as exc:
            if is_write_failure(exc):
                raise click.ClickException(safe_lines(write_failed(None, exc))) from exc
            raise
        finally:
            detail(f"forensics {ctx.invoked_subcommand or ''}: {time.monotonic() - began:.1f} s")
            if display.profile:
                click.echo(display.table(), err=True)


@click.group(cls=_Main)
@click.version_option(package_name="access-log-forensics")
@click.option(
    "-q", "--quiet", is_flag=True, help="Only the result, warnings and errors (no notes, no progress)."
)
@click.option(
    "-v", "--verbose", is_flag=True, help="More detail on stderr: per-file lines, the reasoning, timings."
)
@click.option(
    "--profile",
    is_flag=True,
    help="After the command, print each stage's wall time, rows and peak spill on stderr.",
)
@click.option(
    "--memory-limit",
    metavar="SIZE",
    envvar=MEMORY_LIMIT_ENV,
    callback=lambda ctx, param, value: _memory_limit(value),
    expose_value=False,
    help=f"DuckDB's memory for this run (e.g. 4GB; default ${MEMORY_LIMIT_ENV}, else a quarter of the "
    "machine's memory, at least 1 GiB and at most 3 GiB). More memory spills less to disk (faster on "
    "large cases); the process peaks a little above it.",
)
@click.pass_context
def main(ctx: click.Context, quiet: bool, verbose: bool, profile: bool) -> None:
    """Access-log breach forensics: was data actually taken during an exposure window?

    Every command takes --json (one JSON document on stdout; messages on stderr), and -q/-v
    before the command make it quieter or more verbose. `forensics investigate` exits with its
    verdict (README, "Exit codes").

    \b
    Shell completion (bash; zsh_source and fish_source likewise):
        eval "$(_FORENSICS_COMPLETE=bash_source forensics)"

    Example:

        forensics --quiet sources case.duckdb --json
    """
    set_verbosity(ctx, quiet, verbose)


def _memory_limit(value: str | None) -> None:
    """--memory-limit: checked as DuckDB reads it, then the setting of every connection this
    process (and the processes it starts) opens."""
    if value is None:
        return
    try:
        check_memory_limit(value)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r}: {exc}", param_hint="--memory-limit") from exc
    os.environ[MEMORY_LIMIT_ENV] = value


def _parse_fields(values: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for v in values:
        name, sep, path = v.partition("=")
        if not sep or not name or not path:
            raise click.BadParameter(
                f"{v!r}: expected NAME=json.path, e.g. ts=meta.time", param_hint="--field"
            )
        out[name.strip()] = path.strip()
    return out


class _ProgressLine:
    """One self-overwriting status line on stderr, only when stderr is a terminal."""

    def __init__(self) -> None:
        self.enabled = sys.stderr.isatty() and verbosity() >= NORMAL
        self.start = time.monotonic()

    def __call__(self, p: Progress) -> None:
        if not self.enabled:
            return
        rate = p.lines_done / max(time.monotonic() - self.start, 1e-6)
        pct = 100 * p.bytes_done / p.bytes_total if p.bytes_total else 100
        name = safe(p.current.name)[:40] if p.current else "done"
        click.echo(
            f"\r{p.files_done}/{p.files_total} files {pct:5.1f}%  {p.lines_done:,} lines "
            f"{rate:,.0f} lines/s  {name:<40}",
            nl=False,
            err=True,
        )
        if p.current is None:
            click.echo("", err=True)


@main.command("ingest")
@click.argument("case_path", metavar="CASE", type=click.Path(path_type=Path))
@click.argument("evidence", nargs=-1, required=True)
@click.option("--format", "fmt", help="Force a format for every file (see `forensics formats`).")
@click.option(
    "--log-format",
    help="Your server's nginx log_format or Apache LogFormat line; for header-less W3C/IIS logs "
    "'#Fields: date time c-ip …'; for CloudFront real-time logs 'cloudfront-realtime: timestamp c-ip …'.",
)
@click.option("--tz", help="IANA zone for logs that write local time without an offset.")
@click.option(
    "--field",
    "fields",
    multiple=True,
    metavar="NAME=PATH",
    help="JSON logs: take column NAME from key PATH (dotted), e.g. ts=meta.time.",
)
@click.option(
    "--max-expansion",
    type=click.FloatRange(min=0),
    default=DEFAULT_MAX_EXPANSION,
    show_default=True,
    help="Refuse a compressed file that decompresses to more than this many times its size "
    "(a decompression bomb); 0 = no limit.",
)
@click.option(
    "--follow-links",
    is_flag=True,
    help="Read what symbolic links point to, even outside the evidence folders given (each file's "
    "real path is recorded). Without it a link out of them is recorded as skipped, not read.",
)
@click.option(
    "--accept-rejects",
    is_flag=True,
    help="Exit 0 even when a file's rejected entry lines exceed 1% (they are still kept and listed).",
)
@engine_option(
    "spark: Spark tasks read the files, and CASE is a new Parquet case folder laid out as "
    "`forensics export --parquet` writes it (needs the [spark] extra and Java 17+)."
)
@click.option(
    "--spark-master",
    metavar="URL",
    help="With --engine spark: the Spark master (default local[N], N = this machine's cores).",
)
@json_option("Print one JSON document on stdout: every file's status, counts and warnings, the totals "
             "and the case log head (messages go to stderr).")  # fmt: skip
def ingest_cmd(
    case_path: Path,
    evidence: tuple[str, ...],
    fmt: str | None,
    log_format: str | None,
    tz: str | None,
    fields: tuple[str, ...],
    max_expansion: float = DEFAULT_MAX_EXPANSION,
    follow_links: bool = False,
    accept_rejects: bool = False,
    engine: str = "duckdb",
    spark_master: str | None = None,
    as_json: bool = False,
) -> None:
    """Read EVIDENCE (files, folders, globs; any mix) into the case file CASE.

    Every file is hashed; files already ingested are skipped; lines that do not parse are
    kept in the rejects table. With --engine spark, CASE is a new (or empty) folder that gets
    the case as Parquet (events by UTC day, rejects, sources, case_log, meta, manifest.json).

    Example:

        forensics ingest case.duckdb sample_logs/evidence/edge/nginx --format combined

        forensics ingest case.duckdb sample_logs/evidence/ --json

        forensics ingest case-parquet sample_logs/evidence/ --engine spark
    """
    if engine == "duckdb" and spark_master:
        raise click.UsageError("--spark-master goes with --engine spark")
    if engine == "duckdb" and case_path.is_dir():
        raise click.BadParameter(
            f"{safe(str(case_path))} is a folder: give a case file name such as case.duckdb "
            "(or --engine spark to write a Parquet case folder)",
            param_hint="CASE",
        )
    opts = IngestOptions(
        format=fmt,
        log_format=log_format,
        tz=tz,
        fields=_parse_fields(fields),
        max_expansion=max_expansion or None,
        follow_links=follow_links,
    )
    if engine == "spark":
        _ingest_spark_cmd(case_path, evidence, opts, spark_master, accept_rejects, as_json)
        return
    report, head = _run_ingest(case_path, evidence, opts)
    _print_report(report, as_json)
    if as_json:
        emit_json(_ingest_doc(case_path, report, head))
    _print_head(head)
    _ingest_exit(report, accept_rejects)


def _ingest_spark_cmd(
    out_dir: Path,
    evidence: tuple[str, ...],
    opts: IngestOptions,
    master: str | None,
    accept_rejects: bool,
    as_json: bool,
) -> None:
    """ingest --engine spark: the Parquet case folder written, then the embedded ingest's summary."""
    try:
        done = ingest_spark(evidence, out_dir, opts, master=master)
    except SparkUnavailableError as exc:
        raise click.UsageError(safe_lines(exc)) from exc
    except (ForensicsError, duckdb.OutOfMemoryException, MemoryError) as exc:
        raise _fail(exc) from exc
    _print_report(done.report, as_json)
    if as_json:
        emit_json({**_ingest_doc(done.out, done.report, done.log_head), "parquet": done.to_dict()})
    else:
        for text in done.notes:
            note(text)
        rows = ", ".join(f"{t} {n:,}" for t, n in done.tables.items())
        click.echo(
            f"Parquet case: {safe(str(done.out))} (rows: {rows}; row digests of "
            f"{done.check.sources_checked} sources checked); engine spark on {done.master}"
        )
    _print_head(done.log_head)
    _ingest_exit(done.report, accept_rejects)


def _run_ingest(case_path: Path, evidence: tuple[str, ...], opts: IngestOptions) -> tuple[IngestReport, str]:
    """ingest's work: the inputs checked, the case made or opened, the files read; the report and head."""
    try:
        check_inputs(evidence, opts)  # before the case file is made: a typo leaves no empty case
        with Case.create(case_path) as case:
            report = ingest(case, evidence, opts, progress=_ProgressLine())
            return report, case.log_head()
    except (ForensicsError, duckdb.OutOfMemoryException, MemoryError) as exc:
        raise _fail(exc) from exc


def _ingest_exit(report: IngestReport, accept_rejects: bool) -> None:
    """Exit 1 (after the report is printed) when a file was not ingested or rejected too much."""
    if report.problems:
        raise click.ClickException(f"{len(report.problems)} file(s) were not ingested (see above)")
    if report.rejecting() and not accept_rejects:
        raise click.ClickException(
            f"{len(report.rejecting())} file(s) have more than {REJECT_SHARE_LIMIT:.0%} of their entry lines "
            "rejected (see above): they are ingested and their rejects kept, but the time those lines "
            "cover has no events. Give the layout with --log-format (after `forensics forget`), or "
            "pass --accept-rejects to accept them as they are"
        )


def _print_report(report: IngestReport, as_json: bool = False) -> None:
    for r in report.results:
        detail(
            f"{r.status}: {safe(r.path)}"
            + (f" (source {r.source_id}, {r.format or '-'}): {r.lines:,} lines, {r.events:,} events, "
               f"{r.rejects:,} rejects" if r.source_id is not None else "")
        )  # fmt: skip
        if r.status in PROBLEMS:
            warn(f"error: {safe(r.message)}")
        elif r.status == "skipped":
            warn(f"skipped: {safe(r.message)}")
        for w in r.warnings:
            warn(f"warning: {safe(r.path)}: {safe(w)}")
    for r in report.with_rejects():
        level = "warning" if r.reject_share > REJECT_SHARE_LIMIT else "note"
        (warn if level == "warning" else note)(
            f"{level}: {safe(r.path)}: {r.entry_rejects:,} of {r.events + r.entry_rejects:,} entry lines "
            f"rejected ({_share(r.reject_share)}); see `forensics sources` and the rejects table"
        )
    if as_json:
        return
    summary = ", ".join(f"{n} {s}" for s, n in sorted(report.statuses().items()))
    click.echo(f"files: {summary or 'none'}")
    click.echo(
        f"lines: {report.total('lines'):,}  events: {report.total('events'):,}  "
        f"rejects: {report.total('rejects'):,}"
    )


def _share(share: float) -> str:
    """A share as a percentage that never rounds a non-zero share to 0% or a partial one to 100%."""
    if 0 < share < 0.001:
        return "<0.1%"
    if 0.999 < share < 1:
        return ">99.9%"
    return f"{share:.1%}"


def _print_head(head: str) -> None:
    note(f"case log head: {head} (note it in your case notes; `forensics verify` checks it)")


def _ingest_doc(case_path: Path, report: IngestReport, head: str) -> dict[str, Any]:
    """ingest --json: what each file became, the totals and the case log head."""
    files = [
        {
            "path": str(r.path),
            "status": r.status,
            "source_id": r.source_id,
            "format": r.format,
            "lines": r.lines,
            "events": r.events,
            "rejects": r.rejects,
            "entry_rejects": r.entry_rejects,
            "reject_share": r.reject_share,
            "warnings": list(r.warnings),
            "message": r.message,
        }
        for r in report.results
    ]
    return {
        "case": str(case_path),
        "files": files,
        "statuses": report.statuses(),
        "totals": {k: report.total(k) for k in ("lines", "events", "rejects")},
        "problems": len(report.problems),
        "rejecting": [str(r.path) for r in report.rejecting()],
        "log_head": head,
    }


@main.command("verify")
@click.argument("case_path", metavar="CASE", type=click.Path(path_type=Path))
@click.option("--head", "expected_head", metavar="SHA256", help="The case log head you noted earlier.")
@click.option(
    "--reparse",
    "reparse_ids",
    metavar="SOURCE",
    multiple=True,
    help="Also parse this source (its id) again from its evidence file and show how its stored "
    "rows differ (repeatable).",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def verify_cmd(
    case_path: Path, expected_head: str | None, reparse_ids: tuple[str, ...], as_json: bool
) -> None:
    """Re-hash the evidence and check the case log's hash chain, the stored rows and the counts.

    Exits 1, naming each mismatch, when anything differs. Verify reads the case and writes its
    own entries to the case log only when everything matches: a damaged case is left as found.

    --head takes the case log head you noted (ingest, investigate and verify print it).

    Example:

        forensics verify case.duckdb

        forensics verify case.duckdb --reparse 3 --json

        forensics export case.duckdb --parquet case-parquet/

        forensics verify case-parquet/

    CASE may be a Parquet case folder (forensics export --parquet, ingest --engine spark): its
    files are checked against its manifest, its rows against the digests its log recorded, its
    evidence files re-hashed; the entries go to the folder's case_log.parquet.
    """
    if case_path.is_dir():
        if reparse_ids:
            raise click.UsageError(
                "--reparse needs a case file; a Parquet case folder's rows are checked against "
                "the digests its ingest recorded (verify FOLDER without --reparse)"
            )
        _verify_folder(case_path, expected_head, as_json)
        return
    try:
        result, before, reparsed = _verify_read_only(case_path, expected_head, reparse_ids)
        head = before
        if result.ok:
            head = _log_verify(case_path, expected_head, result)
    except ForensicsError as exc:
        raise _fail(exc) from exc
    if as_json:
        click.echo(json.dumps(_verify_doc(result, before, head, reparsed), indent=2, default=str))
    else:
        _print_verification(result, before)
        for rep in reparsed:
            _print_reparse(rep)
        if not result.ok:
            click.echo("nothing was written to the case (verify logs itself only when everything matches)")
        _print_head(head)
    failed = []
    if not result.case_ok:
        failed.append("the case or its evidence differs from what was recorded")
    if result.head is not None and not result.head.found:
        failed.append(f"the head you gave is not in this case's log (its head was {before})")
    if any(not r.same for r in reparsed):
        failed.append("stored rows differ from what the evidence parses to (see --reparse above)")
    if failed:
        raise click.ClickException("VERIFICATION FAILED: " + "; ".join(failed))


def _verify_folder(folder: Path, expected_head: str | None, as_json: bool) -> None:
    """verify on a Parquet case folder: checked, then logged in the folder's log when it matched."""
    unlogged = ""
    try:
        with folder_lock(folder):
            result = verify_folder(folder, expected_head, _count_progress("re-hashing evidence"))
            head = result.log_head
            if result.ok:
                log = ParquetCaseLog(folder)
                try:
                    started = log.log_command("verify", {"expected_head": expected_head})
                    log.log_result(started, "verify", {"ok": True, **result.counts()})
                    head = log.log_head()
                except OSError as exc:
                    unlogged = f"verified, but not logged: the folder cannot be written ({safe(str(exc))})"
    except ForensicsError as exc:
        raise _fail(exc) from exc
    if as_json:
        emit_json({"logged": head != result.log_head, "log_head_now": head, **result.to_dict()})
    else:
        _print_folder_verification(result)
        if unlogged:
            warn(f"warning: {unlogged}")
        _print_head(head)
    failed = []
    if not result.case_ok:
        failed.append("the folder or its evidence differs from what was recorded")
    if result.head is not None and not result.head.found:
        failed.append(f"the head you gave is not in this folder's log (its head was {result.log_head})")
    if failed:
        raise click.ClickException("VERIFICATION FAILED: " + "; ".join(failed))


def _print_folder_verification(result: FolderVerification) -> None:
    check = result.check
    for p in [*check.files, *check.tables, *result.problems]:
        click.echo(f"MISMATCH {safe(p)}")
    click.echo(
        "files: " + ("each as the manifest lists it" if not check.files else f"{len(check.files)} PROBLEMS")
    )
    click.echo(
        f"rows: {check.rows_checked:,} rows of {check.sources_checked:,} sources "
        + ("match the row digests ingest recorded" if not check.rows else "checked; some DIFFER")
    )
    for r in check.rows:
        click.echo(f"  MISMATCH {safe(str(r))}")
    for n in check.notes:
        click.echo(f"  note: {safe(n)}")
    bad = result.evidence_problems
    click.echo(
        f"evidence: {len(result.evidence) - len(bad)} of {len(result.evidence)} files match their SHA-256"
    )
    for e in bad:
        click.echo(f"  MISMATCH source {e.source_id} {e.status}: {safe(e.path)} — {safe(e.detail)}")
    click.echo(f"case log head when checked: {result.log_head}")
    if result.head is not None and result.head.found:
        click.echo("  the head you gave is in the chain")
    elif result.head is not None:
        hint = f" ({safe(result.head.hint)})" if result.head.hint else ""
        click.echo(f"  HEAD NOT FOUND: {safe(result.head.given)} is not an entry of this folder's log{hint}")
    _print_outcome(result.ok, result.case_ok, "folder")


def _print_outcome(ok: bool, case_ok: bool, what: str) -> None:
    """verify's last line: verified, only the head not found, or mismatches."""
    if ok:
        click.echo("OK: verified")
    elif case_ok:
        click.echo(f"FAILED: the head you gave is not in the log (see above); evidence and {what} match")
    else:
        click.echo("FAILED: see MISMATCH lines above")


@contextmanager
def _open(case_path: Path, *, read_only: bool = False) -> Iterator[Case]:
    """A case file, or a Parquet case folder read in place (checked first: publish/parquet_case.py);
    what a command derives from a folder lasts as long as the command."""
    if case_path.is_dir():
        with open_parquet(case_path) as folder_case:
            yield folder_case
        return
    with Case.open(case_path, read_only=read_only) as case:
        yield case


def _log_verify(case_path: Path, expected_head: str | None, result: Verification) -> str:
    """Append verify's entries to a case that verified (read-only); returns the new head."""
    with Case.open(case_path) as case:
        return log_verification(case, expected_head, result)


def _verify_read_only(
    case_path: Path, expected_head: str | None, reparse_ids: tuple[str, ...]
) -> tuple[Verification, str, list[Reparse]]:
    """verify (and --reparse) on the case opened read-only; an older schema is upgraded first."""
    with Case.open(case_path, read_only=True, damaged_ok=True) as case:
        older = (case.schema_version() or SCHEMA_VERSION) < SCHEMA_VERSION
    if older:
        Case.open(case_path).close()
    with Case.open(case_path, read_only=True, damaged_ok=True) as case:
        try:
            before = case.log_head()
        except duckdb.Error:
            before = "(the case log cannot be read)"
        result = verify(case, _count_progress("re-hashing evidence"), expected_head)
        reparsed = [reparse(case, sid) for sid in reparse_ids]
    return result, before, reparsed


def _print_reparse(rep: Reparse) -> None:
    click.echo(f"reparse of source {rep.source_id} ({safe(rep.path)}):")
    for t in rep.tables:
        state = "same" if not t.differing else f"DIFFER in {t.differing:,} line(s)"
        click.echo(f"  {t.table}: {t.stored:,} stored, {t.reparsed:,} from the evidence now — {state}")
        for line_no, stored, now in t.examples:
            click.echo(f"    line {line_no}: stored {safe(stored or '(none)')}")
            click.echo(f"    {' ' * len(str(line_no))}       now    {safe(now or '(none)')}")


def _verify_doc(result: Verification, before: str, head: str, reparsed: list[Reparse]) -> dict[str, Any]:
    return {
        "logged": head != before,
        "ok": result.ok,
        "case_ok": result.case_ok,
        "log_head_checked": before,
        "log_head_now": head,
        "expected_head_found": result.head.found if result.head else True,
        "expected_head_hint": result.head.hint if result.head else "",
        "log_entries": result.chain.entries,
        "chain_problems": result.chain.problems,
        "unfinished_commands": result.chain.unfinished,
        "evidence": [e.__dict__ for e in result.evidence_problems],
        "evidence_files": len(result.evidence),
        "digest_problems": result.digests,
        "accounting_problems": result.accounting,
        "structure_problems": result.structure,
        "row_problems": result.rows,
        "notes": result.notes,
        "reparse": [
            {
                "source_id": r.source_id,
                "path": r.path,
                "same": r.same,
                "tables": [t.__dict__ for t in r.tables],
            }
            for r in reparsed
        ],
    }


def _print_verification(result: Verification, before: str) -> None:
    for p in result.structure:
        click.echo(f"MISMATCH {safe(p)}")
    bad = result.evidence_problems
    click.echo(
        f"evidence: {len(result.evidence) - len(bad)} of {len(result.evidence)} files match their SHA-256"
    )
    for e in result.evidence:
        detail(f"evidence source {e.source_id}: {e.status} — {safe(e.path)}")
    for e in bad:
        click.echo(f"  MISMATCH source {e.source_id} {e.status}: {safe(e.path)} — {safe(e.detail)}")
    chain = result.chain
    click.echo(
        f"case log: {chain.entries} entries, chain {'intact' if not chain.problems else 'BROKEN'}; "
        f"head {before}"
    )
    for p in chain.problems:
        click.echo(f"  MISMATCH {safe(p)}")
    if result.head is not None and result.head.found:
        click.echo("  the head you gave is in the chain")
    elif result.head is not None:
        hint = f" ({safe(result.head.hint)})" if result.head.hint else ""
        click.echo(
            f"  HEAD NOT FOUND: {safe(result.head.given)} is not an entry of this case's log{hint}; "
            f"the log's head is {before} (ingest, investigate and verify print it as 'case log head'). "
            "Check your note: a typo, or a note from another case? If the note is right, the log "
            "was rewritten after you took it"
        )
    for u in chain.unfinished:
        click.echo(f"  note: {u} started and never finished (interrupted); its partial work was rolled back")
    click.echo(
        f"sources table: {'matches' if not result.digests else 'DIFFERS from'} what each ingest recorded"
    )
    for d in result.digests:
        click.echo(f"  MISMATCH {d}")
    click.echo(f"rows: {'match' if not result.rows else 'DIFFER from'} the row digests ingest recorded")
    for r in result.rows:
        click.echo(f"  MISMATCH {safe(r)}")
    for n in result.notes:
        click.echo(f"  note: {safe(n)}")
    click.echo(f"accounting: {'every line is stored once' if not result.accounting else 'PROBLEMS'}")
    for a in result.accounting:
        click.echo(f"  MISMATCH {a}")
    _print_outcome(result.ok, result.case_ok, "case")


def _count_progress(label: str) -> Any:
    if not sys.stderr.isatty() or verbosity() < NORMAL:
        return None

    def show(done: int, total: int) -> None:
        click.echo(f"\r{label}: {done}/{total} files", nl=False, err=True)
        if done == total:
            click.echo("", err=True)

    return show


@main.command("sources")
@click.argument("case_path", metavar="CASE", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def sources_cmd(case_path: Path, as_json: bool) -> None:
    """What was read: every evidence file with hash, format, counts, time range, problems.

    Example:

        forensics sources case.duckdb

        forensics sources case.duckdb --json
    """
    try:
        with _open(case_path, read_only=True) as case:
            df = case.sources()
    except ForensicsError as exc:
        raise _fail(exc) from exc
    if as_json:
        click.echo(json.dumps(_records(df), indent=2, default=str))
        return
    cols = ["source_id", "status", "format", "compression", "lines", "events", "rejects"]
    show = df[cols].astype(object)
    show["rejected"] = [_rejected_cell(e, r) for e, r in zip(df["events"], df["entry_rejects"], strict=True)]
    show["first"] = [_utc(v) for v in df["first_ts"]]
    show["last"] = [_utc(v) for v in df["last_ts"]]
    show["dup_of"] = df["duplicate_of"].astype(object)
    show["sha256"] = df["sha256"].str[:12]
    show["path"] = df["path"]
    show = show.rename(columns={"source_id": "id", "compression": "comp"})
    show = show.astype(object).where(show.notna(), "")
    click.echo(_table(show))
    for _, row in df.iterrows():
        for w in row["warnings"] if row["warnings"] is not None else []:
            click.echo(f"source {row['source_id']}: {safe(w)}")


def _rejected_cell(events: object, entry_rejects: object) -> str:
    """Rejected entry lines and their share of the entry lines, e.g. ``1,000 (33.3%)``."""
    if _isna(events) or _isna(entry_rejects) or not entry_rejects:
        return ""
    n, total = int(str(entry_rejects)), int(str(events)) + int(str(entry_rejects))
    return f"{n:,} ({_share(n / total)})"


@main.command("forget")
@click.argument("case_path", metavar="CASE", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("sources", metavar="SOURCE…", nargs=-1, required=True)
@click.option("--reason", help="Why, in a few words: kept in the case log entry and the source's warnings.")
@json_option()
def forget_cmd(case_path: Path, sources: tuple[str, ...], reason: str | None, as_json: bool = False) -> None:
    """Undo the ingest of SOURCE (an id or a path as `forensics sources` lists it) and its copies.

    Their events and rejects are removed and derived tables dropped (the next command derives
    them again); the source rows stay, marked `forgotten`, and the case log records what was
    removed. Ingesting the same file again then reads it afresh (e.g. with the right --format).

    Example:

        forensics forget case.duckdb 3 --reason "ingested with the wrong --format" --json
        forensics ingest case.duckdb sample_logs/evidence/app/api.jsonl.2.zst --format jsonl
    """
    try:
        with Case.open(case_path) as case:
            report = forget(case, sources, reason)
    except ForensicsError as exc:
        raise _fail(exc) from exc
    if as_json:
        emit_json({**asdict(report), "events": report.events, "rejects": report.rejects})
        _print_head(report.log_head)
        return
    for s in report.sources:
        why = "" if s.why == "asked" else f" ({s.why})"
        click.echo(
            f"forgot source {s.source_id}{safe(why)}: {s.events:,} events, {s.rejects:,} rejects "
            f"removed — {safe(s.path)}"
        )
    if report.dropped:
        click.echo(f"derived tables dropped (derived again by the next command): {', '.join(report.dropped)}")
    click.echo(f"case log entry {report.log_seq}; ingest the file(s) again to read them afresh")
    _print_head(report.log_head)


@main.command("export")
@click.argument("case_path", metavar="CASE", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--parquet",
    "parquet_dir",
    metavar="DIR",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Write the evidence store as Parquet into DIR (a new or empty folder).",
)
@json_option("Print one JSON document on stdout: the folder, the manifest and its SHA-256, rows per "
             "table, every file (path, rows, bytes, SHA-256), the digest check, the log head.")  # fmt: skip
def export_cmd(case_path: Path, parquet_dir: Path, as_json: bool = False) -> None:
    """Write the case's evidence (events, rejects, sources, case log, meta) as Parquet for other engines.

    Events are partitioned by their UTC day (DIR/events/day=YYYY-MM-DD/); the other tables are one
    file each; DIR/manifest.json lists every file's SHA-256 and the row digests the case log recorded.
    Before DIR appears, every source's rows are digested again from the Parquet files and compared with
    the case log; on any mismatch nothing is written. Logged in the case log (export, export finished).
    Derived tables are not exported.

    Example:

        forensics export case.duckdb --parquet case-parquet/

        forensics export case.duckdb --parquet case-parquet-2/ --json
    """
    try:
        with Case.open(case_path) as case:
            done = export_parquet(case, parquet_dir)
    except (ForensicsError, duckdb.OutOfMemoryException, MemoryError) as exc:
        raise _fail(exc) from exc
    for n in done.notes:
        note(f"note: {safe(n)}")
    if as_json:
        emit_json(done.to_dict())
        _print_head(done.log_head)
        return
    _print_export(done)
    _print_head(done.log_head)


def _print_export(done: Export) -> None:
    total = sum(f.bytes for f in done.files)
    click.echo(f"exported to {safe(done.out)}: {len(done.files)} files, {total / 1e6:,.1f} MB")
    for table, rows in done.tables.items():
        files = [f for f in done.files if f.table == table]
        where = files[0].path if len(files) == 1 else f"{table}/ ({len(files)} day partitions)"
        click.echo(f"  {table:<9} {rows:>12,} rows  {safe(where)}")
    for f in done.files:
        detail(f"file {f.path}: {f.rows:,} rows, {f.bytes:,} bytes, sha256 {f.sha256}")
    check = done.check
    click.echo(
        f"row digests: {check.sources_checked} source(s), {check.rows_checked:,} rows read back from the "
        "Parquet files match what ingest recorded"
    )
    for n in check.notes:
        click.echo(f"  note: {safe(n)}")
    seq, head = done.exported_head
    click.echo(f"manifest: {safe(done.manifest)} (sha256 {done.manifest_sha256})")
    click.echo(f"the export holds the case log up to entry {seq} ({head})")


@main.command("network-db")
@click.argument("case_path", metavar="CASE", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("db_path", metavar="FILE", type=click.Path(dir_okay=False, path_type=Path))
@json_option()
def network_db_cmd(case_path: Path, db_path: Path, as_json: bool = False) -> None:
    """Load an offline IP-to-AS database into the case (hosting providers, AS-level linking).

    FILE is a GeoLite2-ASN or DB-IP ASN .mmdb, an iptoasn.com ip2asn .tsv(.gz) or an
    ip-location-db asn .csv(.gz) (README "Network database"). The next actors, detect or
    investigate run labels hosting-provider addresses and links rotating cloud addresses of one
    provider. Its hash and row count go into the case log.

    Example:

        forensics network-db case.duckdb GeoLite2-ASN.mmdb --json
    """
    from forensics.derive.asndb import load_asn_db

    try:
        with Case.open(case_path) as case:
            db = load_asn_db(case, db_path)
            head = case.log_head()
    except ForensicsError as exc:
        raise _fail(exc) from exc
    if as_json:
        emit_json({**db.to_dict(), "log_head": head})
        _print_head(head)
        return
    click.echo(
        f"loaded {db.ranges:,} address ranges ({db.hosting_ranges:,} of hosting providers) from "
        f"{safe(db_path.name)} ({db.format}, sha256 {db.sha256[:16]}…)"
    )
    _print_head(head)


def _utc(value: object) -> str:
    if _isna(value):
        return ""
    return pd.Timestamp(value).strftime("%Y-%m-%dT%H:%M:%SZ")  # type: ignore[arg-type]


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows for --json: missing values as null, list columns (DuckDB arrays) as JSON lists."""
    return [{str(k): _json_value(v) for k, v in rec.items()} for rec in df.to_dict(orient="records")]


def _json_value(v: object) -> object:
    if hasattr(v, "tolist") and not isinstance(v, str):  # a numpy array or scalar
        v = v.tolist()
    if isinstance(v, list | tuple):
        return [_json_value(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _json_value(x) for k, x in v.items()}
    return None if _isna(v) else v


def _isna(v: object) -> bool:
    """A missing scalar (None, NaN, NaT, NA); a container is never one (pd.isna would answer
    element-wise, and an empty array's truth is an error in newer numpy)."""
    return bool(pd.api.types.is_scalar(v) and pd.isna(v))  # type: ignore[call-overload]


ENGINE_OPTION = engine_option(
    "Where the SQL runs: DuckDB in this process, or Apache Spark (needs the [spark] extra and Java; "
    "CASE may then also be a Parquet case folder). The same SQL gives the same findings."
)
SPARK_MASTER_OPTION = click.option(
    "--spark-master",
    metavar="URL",
    help="With --engine spark: the Spark master (e.g. local[4], spark://host:7077, yarn). Default: the "
    "session spark-submit made, else local mode on every core.",
)
ENDPOINT_OPTION = click.option(
    "--endpoint",
    "endpoints",
    multiple=True,
    metavar="'METHOD /path/{id}'",
    help="Declare a route (placeholders in braces match one segment); wins over inferred ones.",
)


@main.command("routes")
@click.argument("case_path", metavar="CASE", type=click.Path(path_type=Path))
@ENDPOINT_OPTION
@click.option(
    "--min-distinct",
    type=click.IntRange(min=2),
    default=routes.DEFAULT_MIN_DISTINCT,
    show_default=True,
    help="Distinct values a word segment needs at one position to become {str}.",
)
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (all routes).")
def routes_cmd(
    case_path: Path, endpoints: tuple[str, ...], min_distinct: int, limit: int, as_json: bool
) -> None:
    """Route templates with request counts, distinct record ids, status mix and bytes.

    Derives (or re-derives) the case's `routes` table and `requests` view.

    Example:

        forensics routes case.duckdb --endpoint "GET /api/v2/referrals/{id}"

        forensics routes case.duckdb --json
    """
    try:
        opts = routes.RouteOptions(tuple(routes.Endpoint.parse(e) for e in endpoints), min_distinct)
        with _open(case_path) as case:
            result = routes.derive_routes(case, opts)
            df = routes.route_summary(case)
    except ForensicsError as exc:
        raise _fail(exc) from exc
    for ep, close in result.unmatched.items():
        hint = f"; closest routes: {', '.join(close)}" if close else ""
        warn(f"warning: endpoint {safe(ep)!r} matched no request{safe(hint)}")
    if as_json:
        click.echo(json.dumps(_records(df), indent=2, default=str))
        return
    show = df[["route", "requests", "records", "s2xx", "s3xx", "s4xx", "s5xx"]].astype(object)
    show["bytes_med"] = df["bytes_median"].round().astype("Int64").astype(object)
    show["first"] = [_utc(v) for v in df["first_seen"]]
    show["last"] = [_utc(v) for v in df["last_seen"]]
    show = show.astype(object).where(show.notna(), "")
    click.echo(_table(show.head(limit)))
    if len(df) > limit:
        click.echo(f"… {len(df) - limit} more routes (--limit, or --json for all)")
    click.echo(f"{result.paths:,} distinct paths in {result.routes:,} routes")


def _duration(text: str) -> timedelta:
    """``8h``, ``30m``, ``90s`` or ``1d`` as a timedelta (click parameter helper)."""
    units = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([smhd])", text.strip())
    if not m:
        raise click.BadParameter(f"{text!r}: expected a duration like 30m, 8h, 1d")
    return timedelta(**{units[m.group(2)]: float(m.group(1))})


def _actor_options(f: Any) -> Any:
    """--login, --trusted, --session-lifetime, --session-gap (who is authenticated, who is one actor)."""
    for opt in reversed(
        [
            click.option(
                "--login",
                "logins",
                multiple=True,
                metavar="'POST /path'",
                help="The login endpoint: a successful call authenticates its IP + user agent.",
            ),
            click.option(
                "--trusted",
                multiple=True,
                metavar="[NAME=]CIDR",
                help="A network you trust (partner, office), e.g. partner=51.140.12.32/29.",
            ),
            click.option(
                "--session-lifetime",
                default="8h",
                show_default=True,
                help="How long a login authenticates its IP + user agent.",
            ),
            click.option(
                "--session-gap", default="30m", show_default=True, help="Inactivity that ends a session."
            ),
        ]
    ):
        f = opt(f)
    return f


def _build_actor_options(
    logins: tuple[str, ...], trusted: tuple[str, ...], session_lifetime: str, session_gap: str
) -> ActorOptions:
    auth = AuthOptions(
        logins=tuple(routes.Endpoint.parse(e) for e in logins),
        trusted=tuple(Trusted.parse(t) for t in trusted),
        session_lifetime=_duration(session_lifetime),
    )
    return ActorOptions(auth, session_gap=_duration(session_gap))


def _auth_notes(result: AuthResult, logins: tuple[str, ...]) -> None:
    for login in result.unused_logins:
        warn(
            f"warning: no successful request matches the login endpoint {safe(login)!r}, so every caller "
            f"looks unauthenticated (investigate refuses it); {safe(proposals_text(result.proposed_logins))}"
        )
    if not logins:
        proposed = ", ".join(f"{r} ({n} successful)" for r, n in result.proposed_logins)
        note(
            "note: no --login given, so logins are not used as evidence"
            + (f"; likely login endpoints: {safe(proposed)}" if proposed else "")
        )
    if result.ambiguous:
        note(
            f"note: {result.ambiguous:,} requests rest on a login from a shared address "
            f"({result.shared:,} on an address and browser with overlapping logins, the rest on an "
            "IP that showed several user agents that day): who made them cannot be told, so they "
            "never count as confirmed records (see auth_ambiguous)"
        )


@main.command("actors")
@click.argument("case_path", metavar="CASE", type=click.Path(path_type=Path))
@ENDPOINT_OPTION
@_actor_options
@click.option("--limit", type=click.IntRange(min=1), default=30, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (all actors).")
def actors_cmd(
    case_path: Path,
    endpoints: tuple[str, ...],
    logins: tuple[str, ...],
    trusted: tuple[str, ...],
    session_lifetime: str,
    session_gap: str,
    limit: int,
    as_json: bool,
) -> None:
    """Who is behind the requests: authentication state, sessions, actors and their class.

    Example:

        forensics actors case.duckdb --login "POST /api/v2/auth/login" --trusted partner=51.140.12.32/29

        forensics actors case.duckdb --login "POST /api/v2/auth/login" --limit 5 --json
    """
    try:
        opts = _build_actor_options(logins, trusted, session_lifetime, session_gap)
        route_opts = routes.RouteOptions(tuple(routes.Endpoint.parse(e) for e in endpoints))
        with _open(case_path) as case:
            # one entry for both steps, as one command: the library calls inside log nothing more
            with logged(
                case, "actors", {**route_opts.to_dict(), **opts.to_dict()}, rows=("routes", "actors")
            ):
                routes.derive_routes(case, route_opts)
                result = derive_actors(case, opts)
            df = case.actors()
    except ForensicsError as exc:
        raise _fail(exc) from exc
    _auth_notes(result.auth, logins)
    if as_json:
        click.echo(json.dumps(_records(df), indent=2, default=str))
        return
    states = ", ".join(f"{n:,} {s}" for s, n in result.auth.counts.items())
    click.echo(f"requests: {states}")
    show = pd.DataFrame(
        {
            "actor": df["actor_id"],
            "class": df["class"],
            "requests": df["requests"],
            "records": df["records"],
            "ips": [_listed(v) for v in df["ips"]],
            "user_agents": [_listed(v) for v in df["user_agents"]],
            "principals": [_listed(v) for v in df["principals"]],
            "first": [_utc(v) for v in df["first_seen"]],
            "last": [_utc(v) for v in df["last_seen"]],
        }
    )
    click.echo(_table(show.head(limit)))
    if len(df) > limit:
        click.echo(f"… {len(df) - limit} more actors (--limit, or --json for all)")
    classes = ", ".join(f"{n:,} {c}" for c, n in result.classes.items())
    click.echo(f"{result.sessions:,} sessions in {result.actors:,} actors: {classes}")


def _ownership_options(f: Any) -> Any:
    """--ownership, --ownership-teams (out_of_scope judges by the map instead of inferring)."""
    f = click.option(
        "--ownership-teams",
        "ownership_teams",
        type=click.Path(dir_okay=False, path_type=Path),
        help="CSV principal,team: who belongs to which team named as an owner in --ownership.",
    )(f)
    return click.option(
        "--ownership",
        type=click.Path(dir_okay=False, path_type=Path),
        help="CSV record_id,owner (a principal or a team; several rows per record allowed): "
        "out-of-scope reads are then judged by the map, not inferred from the logs.",
    )(f)


def _ownership_map(path: Path | None, teams: Path | None) -> OwnershipMap | None:
    if path is None:
        if teams is not None:
            raise click.UsageError("--ownership-teams is used with --ownership")
        return None
    return OwnershipMap.open(path, teams)


def _ownership_notes(check: OwnershipCheck | None) -> None:
    if check is None:
        return
    note(
        f"note: out-of-scope judged by the ownership map: {check.records_read:,} of its "
        f"{check.records:,} record ids were read in the case"
    )
    if check.principals_unseen:
        names = ", ".join(check.principals_unseen[:20])
        more = f" … ({len(check.principals_unseen):,} in all)" if len(check.principals_unseen) > 20 else ""
        warn(
            f"warning: {len(check.principals_unseen):,} principal(s) in the ownership map never appear "
            f"in the case: {safe(names)}{more}"
        )


THRESHOLD_OPTION = click.option(
    "--threshold",
    "thresholds",
    multiple=True,
    metavar="DETECTOR.NAME=VALUE",
    help="Override a detector threshold, e.g. enumeration.min_requests=30 (forensics detect --list).",
)


@main.command("detect")
@click.argument("case_path", metavar="[CASE]", required=False, type=click.Path(path_type=Path))
@ENDPOINT_OPTION
@_actor_options
@THRESHOLD_OPTION
@_ownership_options
@click.option("--all", "show_all", is_flag=True, help="Also list low-severity findings one by one.")
@click.option("--limit", type=click.IntRange(min=1), default=30, show_default=True, help="Actors to list.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (all findings).")
@click.option("--list", "list_detectors", is_flag=True, help="List the detectors and their thresholds.")
def detect_cmd(
    case_path: Path | None,
    endpoints: tuple[str, ...],
    logins: tuple[str, ...],
    trusted: tuple[str, ...],
    session_lifetime: str,
    session_gap: str,
    thresholds: tuple[str, ...],
    ownership: Path | None,
    ownership_teams: Path | None,
    show_all: bool,
    limit: int,
    as_json: bool,
    list_detectors: bool,
) -> None:
    """Run the detectors on CASE and print their findings grouped by actor (--list needs no CASE).

    Example:

        forensics detect case.duckdb --endpoint "GET /api/v2/referrals/{id}" \\
            --login "POST /api/v2/auth/login" --trusted partner=51.140.12.32/29

        forensics detect --list --json
    """
    if list_detectors:
        _print_detectors(as_json)
        return
    if case_path is None:
        raise click.UsageError("Missing argument 'CASE'.")
    try:
        opts = _detect_options(endpoints, logins, trusted, session_lifetime, session_gap, thresholds)
        opts = replace(opts, ownership=_ownership_map(ownership, ownership_teams))
        with _open(case_path) as case:
            result = run_detectors(case, opts)
            if as_json:
                df = findings(case)
            else:
                actors_df = flagged_actors(case, limit, low=show_all, with_records=False)
                df = findings(case, [int(a) for a in actors_df["actor_id"]])
                counts = detect_summary(case)
            paths = case.source_paths()
    except (ForensicsError, duckdb.OutOfMemoryException) as exc:
        raise _fail(exc) from exc
    for ep, close in result.routes.unmatched.items():
        hint = f"; closest routes: {', '.join(close)}" if close else ""
        warn(f"warning: endpoint {safe(ep)!r} matched no request{safe(hint)}")
    _auth_notes(result.actors.auth, logins)
    _ownership_notes(result.ownership)
    if as_json:
        click.echo(json.dumps(_records(df), indent=2, default=str))
        return
    _print_findings(df, actors_df, paths, counts, show_all)


@main.command("investigate")
@click.argument("case_path", metavar="CASE", type=click.Path(path_type=Path))
@ENDPOINT_OPTION
@click.option(
    "--window",
    metavar="START/END",
    help="The exposure window, ISO 8601 (UTC or with offsets). Default: proposed from the logs.",
)
@click.option("--tz", help="Zone for window times written without an offset, e.g. Europe/London.")
@_actor_options
@THRESHOLD_OPTION
@_ownership_options
@click.option(
    "--records-total",
    type=click.IntRange(min=0),
    help="How many records the flaw exposed (from the data owner): the at-risk upper bound.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("report"),
    show_default=True,
    help="Folder for report.html, report.md, findings.json, affected_records.csv, timeline.jsonl.",
)
@click.option(
    "--pseudonymise",
    is_flag=True,
    help="A shareable report: record ids, IP addresses and user names replaced by keyed pseudonyms "
    "(HMAC-SHA256); the mapping to the real values is written beside the key, outside --out.",
)
@click.option(
    "--key-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Pseudonym key (created, mode 0600, when missing; the same key gives the same pseudonyms). "
    "Default: CASE.pseudonym-key beside the case.",
)
@click.option(
    "--sigma",
    "sigma_rules",
    multiple=True,
    metavar="RULES",
    help="Run these Sigma rules (file or folder; repeatable) first, as forensics sigma does: their "
    "matches become findings of detector sigma (needs the extra: access-log-forensics[sigma]).",
)
@ENGINE_OPTION
@SPARK_MASTER_OPTION
@json_option("Print one JSON document on stdout: the verdict, exit code, window, coverage, record "
             "counts, the files written and the case log head (findings.json holds everything).")  # fmt: skip
def investigate_cmd(
    case_path: Path,
    endpoints: tuple[str, ...],
    window: str | None,
    tz: str | None,
    logins: tuple[str, ...],
    trusted: tuple[str, ...],
    session_lifetime: str,
    session_gap: str,
    thresholds: tuple[str, ...],
    ownership: Path | None,
    ownership_teams: Path | None,
    records_total: int | None,
    out_dir: Path,
    pseudonymise: bool = False,
    key_file: Path | None = None,
    sigma_rules: tuple[str, ...] = (),
    engine: str = "duckdb",
    spark_master: str | None = None,
    as_json: bool = False,
) -> None:
    """Was data taken in the exposure window? Writes the report and machine-readable findings.

    Exits with the verdict: 0 no_evidence or excluded, 3 cannot_tell, 4 possible, 5 likely,
    6 confirmed; 1 error or refusal (nothing judged), 2 usage error.

    Example:

        forensics investigate case.duckdb --endpoint "GET /api/v2/referrals/{id}" \\
            --endpoint "GET /api/v2/referrals/{id}/documents/{doc}" --endpoint "GET /api/v2/referrals" \\
            --window 2024-03-13T12:00:00Z/2024-04-09T14:00:00Z \\
            --login "POST /api/v2/auth/login" --trusted partner=51.140.12.32/29 --out report/

        forensics investigate case.duckdb --endpoint "GET /api/v2/referrals/{id}" \\
            --login "POST /api/v2/auth/login" --pseudonymise --out shareable/ --json

    CASE is a case file, or a Parquet case folder (forensics export --parquet, ingest --engine
    spark), which is checked against its manifest and read in place.
    """
    answer = _investigate(
        case_path, endpoints, window, tz, logins, trusted, session_lifetime, session_gap, thresholds,
        records_total, out_dir, pseudonymise, key_file, ownership, ownership_teams, sigma_rules,
        engine, spark_master,
    )  # fmt: skip
    _print_answer(answer, as_json)
    verdict = str(answer["verdict"])
    if VERDICT_EXIT[verdict]:
        click.get_current_context().exit(VERDICT_EXIT[verdict])


def _investigate(
    case_path: Path,
    endpoints: tuple[str, ...],
    window: str | None,
    tz: str | None,
    logins: tuple[str, ...],
    trusted: tuple[str, ...],
    session_lifetime: str,
    session_gap: str,
    thresholds: tuple[str, ...],
    records_total: int | None,
    out_dir: Path,
    pseudonymise: bool = False,
    key_file: Path | None = None,
    ownership: Path | None = None,
    ownership_teams: Path | None = None,
    sigma_rules: tuple[str, ...] = (),
    engine: str = "duckdb",
    spark_master: str | None = None,
) -> dict[str, Any]:
    """investigate's work: check, assess, write, say what to note; returns the answer (--json's
    document: the verdict and its numbers, the files written, the case log head)."""
    if key_file is not None and not pseudonymise:
        raise click.UsageError("--key-file is used with --pseudonymise")
    _check_engine(case_path, engine, spark_master, sigma_rules)
    if case_path.is_dir() and out_dir.resolve().is_relative_to(case_path.resolve()):
        raise click.UsageError(
            f"--out {out_dir} is inside the Parquet case folder {case_path}: the folder holds the "
            "evidence and nothing else (its check refuses files its manifest does not list)"
        )
    try:
        zone = _zone(tz) if tz else None
        opts = InvestigateOptions(
            detect=replace(
                _detect_options(endpoints, logins, trusted, session_lifetime, session_gap, thresholds),
                ownership=_ownership_map(ownership, ownership_teams),
            ),
            window=parse_window(window, zone) if window else None,
            records_total=records_total,
            command=" ".join(["forensics", *(shlex.quote(a) for a in sys.argv[1:])]),
        )
        pz, key_created = (
            Pseudonymisation.for_case(case_path, out_dir, key_file) if pseudonymise else (None, False)
        )
        with _open_case(case_path, engine, spark_master) as case:
            if sigma_rules:
                note("running Sigma rules …")
                ran = run_sigma(case, list(sigma_rules))
                counts = ran.counts()
                note(
                    f"Sigma: {counts['loaded']:,} rules loaded, {counts['run']:,} run, "
                    f"{counts['skipped']:,} skipped (forensics sigma lists the reasons; findings.json too)"
                )
            on = " on Spark" if engine == "spark" else ""
            note(f"running detectors and measuring coverage{on} …")
            done = investigate(case, opts, out_dir, pz, logged={"window_text": window, "tz": tz})
    except SparkUnavailableError as exc:
        raise click.UsageError(safe_lines(exc)) from exc
    except (ForensicsError, duckdb.OutOfMemoryException) as exc:
        raise _fail(exc) from exc
    doc, written, head = done.assessment.doc, done.written, done.log_head
    for text in done.notes:
        note(f"note: {safe(text)}")
    if doc["window"]["source"] == "proposed":
        note(f"note: no --window given; {safe(doc['window']['evidence'])}")
    if doc["parameters"]["endpoints_source"] == "proposed":
        note(
            "note: no --endpoint given; endpoints with unauthenticated record reads: "
            + safe(", ".join(doc["parameters"]["endpoints"]) or "none")
        )
    params = doc["parameters"]
    for net in params["trusted_unmatched"]:
        warn(f"warning: trusted network {safe(net)!r} holds no client address in the case")
    own_map = params["ownership"]
    for name in own_map["principals_unseen"] if own_map else []:
        warn(f"warning: principal {safe(name)!r} in the ownership map is not in the case")
    if doc["requests"]["auth_unknown"] and not params["login"]:
        proposed = ", ".join(f"{p['route']} ({p['successful']:,} ok)" for p in params["login_proposed"])
        note(
            f"note: no --login given and the logs name no user: authentication cannot be judged for "
            f"{doc['requests']['auth_unknown']:,} requests to the endpoints"
            + (f"; likely login endpoints: {safe(proposed)}" if proposed else "")
        )
    for reason in doc.get("reasoning", []):
        detail(f"reasoning: {safe(reason)}")
    _print_head(head)
    return {
        "case": str(case_path),
        "verdict": doc["verdict"],
        "exit_code": VERDICT_EXIT[str(doc["verdict"])],
        "verdict_text": doc["verdict_text"],
        "window": doc["window"],
        "coverage": {k: doc["coverage"][k] for k in ("ratio", "grade", "grade_reasons")},
        "records": doc["records"],
        "requests": doc["requests"],
        "actor_counts": doc["actor_counts"],
        "out": str(out_dir),
        "outputs": {name: str(path) for name, path in written.items()},
        "pseudonymised": None
        if pz is None
        else {
            "key": str(pz.key_path),
            "key_created": key_created,
            "fingerprint": pz.key.fingerprint,
            "mapping": str(pz.mapping),
        },
        "log_head": head,
    }


def _check_engine(
    case_path: Path, engine: str, spark_master: str | None, sigma_rules: tuple[str, ...]
) -> None:
    """--engine and what goes with it, refused before anything runs."""
    if engine == "duckdb":
        if spark_master is not None:
            raise click.UsageError("--spark-master is used with --engine spark")
        return
    if sigma_rules:
        raise click.UsageError("--sigma runs on the duckdb engine only: run it without --engine spark")


@contextmanager
def _open_case(case_path: Path, engine: str, spark_master: str | None) -> Iterator[Case]:
    """The case to investigate: a case file or a Parquet case folder (read in place), on DuckDB or
    on Spark (a case file's evidence exported beside it for Spark)."""
    if engine == "duckdb" and case_path.is_dir():
        note("checking the Parquet case folder against its manifest and case log …")
        with open_parquet(case_path) as parquet_case:
            yield parquet_case
        return
    if engine == "duckdb":
        with Case.open(case_path) as case:
            yield case
        return
    from forensics.spark.case import on_spark, open_parquet_case
    from forensics.spark.session import spark_session

    session = spark_session(spark_master)
    if case_path.is_dir():
        with open_parquet_case(case_path, session) as spark_case:
            yield spark_case
        return
    with Case.open(case_path) as case:
        note("handing the case's evidence to Spark (an export to Parquet beside the case, checked) …")
        with on_spark(case, session) as spark_case:
            yield spark_case


def _print_answer(answer: dict[str, Any], as_json: bool) -> None:
    """investigate's result on stdout: the verdict, its numbers and the files written."""
    if as_json:
        emit_json(answer)
        return
    rec, win, cov = answer["records"], answer["window"], answer["coverage"]
    click.echo(safe(f"verdict: {answer['verdict']} — {answer['verdict_text']}"))
    click.echo(
        f"window {win['start']} → {win['end']}; coverage {cov['ratio']:.1%} "
        f"(grade {cov['grade']}); records confirmed {rec['confirmed']:,}, probable "
        f"{rec['probable']:,}, in bulk responses ~{rec['estimated_bulk']:,}, at risk "
        f"{rec['at_risk'] if rec['at_risk'] is not None else 'unknown'}"
    )
    for name, path in answer["outputs"].items():
        click.echo(f"{name:<22} {safe(path)}")
    pz = answer["pseudonymised"]
    if pz is not None:
        state = "new key" if pz["key_created"] else "key"
        click.echo(
            f"pseudonymised: {state} {safe(pz['key'])} (fingerprint {pz['fingerprint']}); mapping "
            f"{safe(pz['mapping'])} — keep both private, share only {safe(answer['out'])}"
        )


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise click.BadParameter(unknown_zone_message(name), param_hint="--tz") from exc


def _detect_options(
    endpoints: tuple[str, ...],
    logins: tuple[str, ...],
    trusted: tuple[str, ...],
    session_lifetime: str,
    session_gap: str,
    thresholds: tuple[str, ...],
) -> DetectOptions:
    overrides: dict[str, dict[str, float]] = {}
    for text in thresholds:
        det, name, value = parse_threshold(text)
        overrides.setdefault(det, {})[name] = value
    return DetectOptions(
        routes=routes.RouteOptions(tuple(routes.Endpoint.parse(e) for e in endpoints)),
        actors=_build_actor_options(logins, trusted, session_lifetime, session_gap),
        thresholds=overrides,
    )


def _print_detectors(as_json: bool = False) -> None:
    if as_json:
        emit_json(
            [
                {
                    "id": det.id,
                    "title": det.title,
                    "severity": det.severity,
                    "signals": list(det.signals),
                    "meaning": det.meaning,
                    "thresholds": [
                        {"name": t.name, "default": t.default, "meaning": t.meaning} for t in det.thresholds
                    ],
                }
                for det in DETECTORS.values()
            ]
        )
        return
    for det in DETECTORS.values():
        click.echo(f"{det.id} ({det.severity}; {', '.join(det.signals)}): {det.title}")
        click.echo(f"    {det.meaning}")
        for t in det.thresholds:
            click.echo(f"    {det.id}.{t.name} = {t.default:g}  ({t.meaning})")


def _first_line(sample: object, paths: dict[int, str]) -> str:
    items = [] if sample is None or _isna(sample) else list(sample)  # type: ignore[call-overload]
    if not items:
        return ""
    first = items[0]
    return f"{paths.get(int(first['source_id']), '?')}:{int(first['line_no'])}"


def _finding_line(row: Any, paths: dict[int, str]) -> str:
    what = (
        f"{row.records} records in {row.requests} requests"
        if not _isna(row.records)
        else f"{row.requests} requests"
    )
    if not _isna(row.estimated_records):
        what += f", ~{int(row.estimated_records):,} records estimated in bulk responses"
    route = "" if _isna(row.route) else f" {safe(row.route)}"
    return (
        f"  {row.severity:<6} {row.detector:<16}{route}: {what}, "
        f"{_utc(row.first_seen)} → {_utc(row.last_seen)}"
        f"\n         e.g. {safe(_first_line(row.sample, paths))}  {safe(row.metrics)}"
    )


def _print_findings(
    df: pd.DataFrame, actors_df: pd.DataFrame, paths: dict[int, str], counts: dict[str, Any], show_all: bool
) -> None:
    """The shown actors (``actors_df``, already limited) with their findings, then the totals."""
    by_actor = {int(str(a)): g for a, g in df[df["actor_id"].notna()].groupby("actor_id")}
    for a in actors_df.to_dict(orient="records"):
        rows = by_actor[int(a["actor_id"])]
        verdict = "UNAUTHORISED" if a["unauthorised"] else "suspicious"
        ips = [] if _isna(a["ips"]) else list(a["ips"])
        principals = "" if _isna(a["principals"]) or not len(a["principals"]) else _listed(a["principals"])
        click.echo(
            safe(
                f"actor {a['actor_id']} — {verdict} · class {a['class']} · {len(ips)} IPs ({_listed(ips)})"
                f" · UA {_listed(a['user_agents'], 60) or '-'}"
                + (f" · principal {principals}" if principals else "")
                + f" · {a['unauthorised_records_n']} records received unauthorised"
            )
        )
        for row in rows.itertuples():
            if show_all or row.severity not in ("low", "info"):
                click.echo(safe_lines(_finding_line(row, paths)))
    endpoint_rows = df[df["actor_id"].isna()]
    if len(endpoint_rows):
        click.echo("endpoints:")
        for row in endpoint_rows.itertuples():
            click.echo(safe_lines(_finding_line(row, paths)))
    quiet = 0 if show_all else int(counts["low_only_actors"])
    more = int(counts["actors"]) - quiet - len(actors_df)
    if more > 0:
        click.echo(f"… {more:,} more actors with findings (--limit, or --json for all)")
    if quiet:
        click.echo(f"… {quiet:,} actors with only low-severity findings (scanner noise); --all lists them")
    per = ", ".join(f"{n:,} {d}" for d, n in counts["by_detector"].items())
    click.echo(
        f"{counts['findings']:,} findings ({per}); {counts['unauthorised_actors']:,} actors shown "
        f"unauthorised, {counts['unauthorised_records']:,} distinct records received by them"
    )


def _listed(values: object, width: int = 40) -> str:
    items = [] if values is None or _isna(values) else [str(v) for v in values]  # type: ignore[attr-defined]
    text = items[0] if items else ""
    if len(items) > 1:
        text += f" +{len(items) - 1}"
    return text if len(text) <= width else text[: width - 1] + "…"


@main.command("sigma")
@click.argument("case_path", metavar="CASE", type=click.Path(path_type=Path))
@click.argument("rules", metavar="RULES…", nargs=-1, required=True)
@json_option("Print one JSON document: counts loaded/run/skipped, each skipped rule with its reason, "
             "matches per rule, the rule files with SHA-256 and the pySigma version.")  # fmt: skip
def sigma_cmd(case_path: Path, rules: tuple[str, ...], as_json: bool = False) -> None:
    """Run Sigma webserver rules (files or folders of YAML) on CASE; every match is kept by file:line.

    Needs the optional extra: pip install "access-log-forensics[sigma]". Matches become findings
    (detector sigma) on the next forensics detect / investigate, or at once with
    forensics investigate --sigma RULES.

    Example:

        forensics sigma case.duckdb sigma/rules/web

        forensics sigma case.duckdb sigma/rules/web --json
    """
    try:
        with _open(case_path) as case:
            result = run_sigma(case, list(rules))
            per_rule = sigma_matches_by_rule(case)
            paths = case.source_paths()
    except (ForensicsError, duckdb.OutOfMemoryException) as exc:
        raise _fail(exc) from exc
    counts = result.counts()
    if as_json:
        emit_json(
            {
                **counts,
                "skipped_rules": [asdict(s) for s in result.skipped],
                "matches": [
                    {**m, "samples": [_sample_line(x, paths) for x in m["samples"]]} for m in per_rule
                ],
                "keyword_scan": asdict(result.keyword),
                **result.custody(),
            }
        )
        return
    for s in result.skipped:
        click.echo(safe(f"skipped {s.path}" + (f" ({s.title})" if s.title else "") + f": {s.reason}"))
    for m in per_rule:
        samples = ", ".join(_sample_line(x, paths) for x in m["samples"])
        click.echo(safe(f"{m['level'] or '-'} {m['title']} ({m['rule_key']}): {m['matches']:,} requests "
                        f"from {m['clients']:,} clients; e.g. {samples}"))  # fmt: skip
    kw = result.keyword
    if kw.sources:
        note(
            f"keyword rules: {kw.lines:,} lines read back from {kw.sources} evidence files "
            f"in {kw.seconds:.1f} s"
        )
    click.echo(
        f"{counts['loaded']:,} rules loaded, {counts['run']:,} run, {counts['skipped']:,} skipped; "
        f"{sum(result.matches.values()):,} matches by {len(per_rule):,} rules "
        f"(pySigma {safe(result.ruleset.versions.get('pysigma'))})"
    )
    if case_path.is_dir():  # what a command derives from a folder lasts as long as the command
        note("a Parquet case folder keeps no matches: give --sigma to investigate to make them findings")
    else:
        note("the matches become findings (detector sigma) on the next forensics detect or investigate")


def _sample_line(sample: Any, paths: dict[int, str]) -> str:
    return f"{paths.get(int(sample['source_id']), '?')}:{int(sample['line_no'])}"


@main.command("formats")
@json_option()
def formats_cmd(as_json: bool = False) -> None:
    """List the log formats the ingester recognises, with an example line each.

    Example:

        forensics formats

        forensics formats --json
    """
    known = known_formats()
    if as_json:
        emit_json(known)
        return
    for fmt in known:
        click.echo(f"{fmt['name']:<16} {fmt['description']}")
        click.echo(f"{'':<16} e.g. {fmt['example']}")


# forensics.simulate.scenarios.REGISTRY's names (not imported: the simulator loads only when run);
# tests/test_simulate_topologies.py checks the two agree.
SIMULATE_SCENARIOS = (
    "office-nat",
    "corporate-proxy",
    "carrier-nat",
    "roaming-app",
    "monitor-nat",
    "pausing-scraper",
    "rotating-cloud",
    "low-slow-insider",
    "all",
)


@main.command("simulate")
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--days", type=click.IntRange(min=1), default=365, show_default=True)
@click.option(
    "--scale",
    type=click.FloatRange(min=0, min_open=True),
    default=1.0,
    show_default=True,
    help="Multiplies staff, partner and attackers' volumes.",
)
@click.option(
    "--start",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default="2024-01-01",
    show_default=True,
    help="First simulated day (Europe/London).",
)
@click.option(
    "--no-attackers",
    is_flag=True,
    help="Only benign traffic and background scanning (no insider, enumerators, bulk, lucky hit).",
)
@click.option(
    "--scenario",
    "scenarios",
    multiple=True,
    type=click.Choice(SIMULATE_SCENARIOS),
    help="Add a real network's callers (repeatable; 'all' = every one). Truth gets schema 2.",
)
@json_option()
def simulate_cmd(
    out_dir: Path,
    seed: int,
    days: int,
    scale: float,
    start: datetime,
    no_attackers: bool,
    scenarios: tuple[str, ...],
    as_json: bool = False,
) -> None:
    """Write a simulated evidence folder with its ground truth (OUT_DIR/truth.json).

    A small healthcare-referrals API whose record endpoints answered unauthenticated requests
    during an exposure window; logs in OUT_DIR/evidence (nginx combined + app JSON lines).
    Same parameters, same bytes.

    Example:

        forensics simulate sim-case --seed 3 --days 30 --scale 0.25

        forensics simulate sim-nat --days 30 --scale 0.5 --scenario office-nat --scenario roaming-app --json
    """
    from forensics.simulate import simulate  # loaded only here: its tables cost start-up time
    from forensics.simulate.writers import EVIDENCE_DIR

    began = time.monotonic()
    try:
        truth = simulate(
            out_dir,
            seed=seed,
            days=days,
            scale=scale,
            start=start.date(),
            attackers=not no_attackers,
            scenarios=scenarios,
        )
    except ForensicsError as exc:
        raise _fail(exc) from exc
    doc = truth.as_json()
    lines = doc["evidence"]["lines"]
    if as_json:
        emit_json(_simulate_doc(out_dir, doc))
        return
    click.echo(
        f"{out_dir}: {lines['nginx']:,} nginx + {lines['app']:,} app lines in "
        f"{len(doc['evidence']['files'])} files, {time.monotonic() - began:.1f}s"
    )
    click.echo(
        f"window {doc['window']['start']} .. {doc['window']['end']}; "
        f"logs from {doc['logs']['start']}; coverage {doc['coverage']['ratio']:.1%}"
    )
    click.echo(
        f"unauthorised records: {len(doc['records']['unauthorised'])} logged, "
        f"{len(doc['records']['unlogged'])} unlogged, {doc['records']['bulk']} in a bulk response"
    )
    if doc.get("ownership"):
        click.echo(f"the data owner's map: {out_dir / doc['ownership']['file']}")
    click.echo(f"ingest with: forensics ingest case.duckdb {out_dir / EVIDENCE_DIR}")


def _simulate_doc(out_dir: Path, doc: dict[str, Any]) -> dict[str, Any]:
    """simulate --json: where the case went and what its ground truth says, in counts."""
    from forensics.simulate import TRUTH_FILE
    from forensics.simulate.writers import EVIDENCE_DIR

    records = doc["records"]
    return {
        "out": str(out_dir),
        "evidence": str(out_dir / EVIDENCE_DIR),
        "truth": str(out_dir / TRUTH_FILE),
        "lines": doc["evidence"]["lines"],
        "files": len(doc["evidence"]["files"]),
        "window": doc["window"],
        "logs": doc["logs"],
        "coverage": doc["coverage"],
        "records": {
            "unauthorised": len(records["unauthorised"]),
            "unlogged": len(records["unlogged"]),
            "bulk": records["bulk"],
        },
        "ownership": str(out_dir / doc["ownership"]["file"]) if doc.get("ownership") else None,
    }


# What the responder knows about the sample incident (the simulated API's incident ticket).
DEMO_ENDPOINTS = (
    "GET /api/v2/referrals/{id}",
    "GET /api/v2/referrals/{id}/documents/{doc}",
    "GET /api/v2/referrals",
)
DEMO_LOGIN = ("POST /api/v2/auth/login",)
DEMO_TRUSTED = ("partner=51.140.12.32/29", "tester=203.0.113.50/32")


@main.command("demo")
@click.option(
    "--case",
    "case_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("demo-case.duckdb"),
    show_default=True,
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("demo-report"),
    show_default=True,
)
@json_option("Print one JSON document on stdout: the ingest's and the investigation's results "
             "(as `ingest --json` and `investigate --json` print them).")  # fmt: skip
def demo_cmd(case_path: Path, out_dir: Path, as_json: bool = False) -> None:
    """Investigate the bundled sample_logs/: ingest, then investigate, and say where the report is.

    The window, endpoints, login endpoint and trusted networks are what the sample incident's
    responder knows (the window is the one the simulated incident states, sample_logs/truth.json).
    Installed without a source checkout, the demo simulates the same sample (same seed) into
    <case>-sample-logs/ beside the case first, and reuses it on later runs.

    Example:

        forensics demo

        forensics --quiet demo --case demo2.duckdb --out demo2-report/ --json
    """
    from forensics.simulate.sample import sample_logs
    from forensics.simulate.writers import EVIDENCE_DIR

    try:  # a source checkout's sample_logs/, else (an installed wheel) the same simulation beside the case
        sample = sample_logs(case_path.with_name(case_path.stem + "-sample-logs"))
    except ForensicsError as exc:
        raise _fail(exc) from exc
    window = json.loads((sample / "truth.json").read_text())["window"]
    report, head = _run_ingest(case_path, (str(sample / EVIDENCE_DIR),), IngestOptions())
    _print_report(report, as_json)
    _print_head(head)
    _ingest_exit(report, accept_rejects=False)
    if not as_json:
        click.get_current_context().invoke(sources_cmd, case_path=case_path, as_json=False)
    answer = _investigate(  # the demo exits 0 whatever the verdict
        case_path=case_path,
        endpoints=DEMO_ENDPOINTS,
        window=f"{window['start']}/{window['end']}",
        tz=None,
        logins=DEMO_LOGIN,
        trusted=DEMO_TRUSTED,
        session_lifetime="8h",
        session_gap="30m",
        thresholds=(),
        records_total=None,
        out_dir=out_dir,
    )
    if as_json:
        emit_json({"ingest": _ingest_doc(case_path, report, head), "investigate": answer})
        return
    _print_answer(answer, as_json=False)
    click.echo(f"the report: {(out_dir / 'report.html').resolve()} (open it in a browser); case: {case_path}")
