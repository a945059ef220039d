"""The `forensics` command: a thin shell over the library. Only this module talks to the terminal."""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path
from typing import Any

import click
import pandas as pd

from forensics import formats
from forensics.case import Case
from forensics.errors import ForensicsError
from forensics.ingest import IngestOptions, IngestReport, Progress, ingest

SAMPLE_LOGS = Path(__file__).resolve().parent.parent / "sample_logs"
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def safe(text: object) -> str:
    """Log text for a terminal: control bytes (ANSI escapes included) shown as \\xNN."""
    return CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(text))


def _fail(exc: ForensicsError) -> click.ClickException:
    return click.ClickException(safe(exc))


@click.group()
@click.version_option(package_name="access-log-forensics")
def main() -> None:
    """Access-log breach forensics: was data actually taken during an exposure window?"""


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
        self.enabled = sys.stderr.isatty()
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
@click.argument("case_path", metavar="CASE", type=click.Path(dir_okay=False, path_type=Path))
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
def ingest_cmd(
    case_path: Path,
    evidence: tuple[str, ...],
    fmt: str | None,
    log_format: str | None,
    tz: str | None,
    fields: tuple[str, ...],
) -> None:
    """Read EVIDENCE (files, folders, globs; any mix) into the case file CASE.

    Every file is hashed; files already ingested are skipped; lines that do not parse are
    kept in the rejects table.

    Example:

        forensics ingest case.duckdb /evidence/nginx /evidence/app
        forensics ingest case.duckdb logs/ --log-format '$remote_addr [$time_local] "$request" $status'
    """
    opts = IngestOptions(format=fmt, log_format=log_format, tz=tz, fields=_parse_fields(fields))
    try:
        with Case.create(case_path) as case:
            report = ingest(case, evidence, opts, progress=_ProgressLine())
    except ForensicsError as exc:
        raise _fail(exc) from exc
    _print_report(report)
    if report.problems:
        raise click.ClickException(f"{len(report.problems)} file(s) were not ingested (see above)")


def _print_report(report: IngestReport) -> None:
    counts: dict[str, int] = {}
    for r in report.results:
        counts[r.status] = counts.get(r.status, 0) + 1
        if r.status in ("unrecognised", "error"):
            click.echo(f"error: {safe(r.message)}", err=True)
        for w in r.warnings:
            click.echo(f"warning: {safe(r.path)}: {safe(w)}", err=True)
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    click.echo(f"files: {summary or 'none'}")
    click.echo(
        f"lines: {report.total('lines'):,}  events: {report.total('events'):,}  "
        f"rejects: {report.total('rejects'):,}"
    )


@main.command("sources")
@click.argument("case_path", metavar="CASE", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def sources_cmd(case_path: Path, as_json: bool) -> None:
    """What was read: every evidence file with hash, format, counts, time range, problems.

    Example:

        forensics sources case.duckdb
    """
    try:
        with Case.open(case_path, read_only=True) as case:
            df = case.sources()
    except ForensicsError as exc:
        raise _fail(exc) from exc
    if as_json:
        click.echo(json.dumps(_records(df), indent=2, default=str))
        return
    cols = ["source_id", "status", "format", "compression", "lines", "events", "rejects"]
    show = df[cols].astype(object)
    show["first"] = [_utc(v) for v in df["first_ts"]]
    show["last"] = [_utc(v) for v in df["last_ts"]]
    show["dup_of"] = df["duplicate_of"].astype(object)
    show["sha256"] = df["sha256"].str[:12]
    show["path"] = df["path"]
    show = show.rename(columns={"source_id": "id", "compression": "comp"})
    show = show.astype(object).where(show.notna(), "")
    click.echo(safe(show.to_string(index=False)))
    for _, row in df.iterrows():
        for w in row["warnings"] if row["warnings"] is not None else []:
            click.echo(f"source {row['source_id']}: {safe(w)}")


def _utc(value: object) -> str:
    if _isna(value):
        return ""
    return pd.Timestamp(value).strftime("%Y-%m-%dT%H:%M:%SZ")  # type: ignore[arg-type]


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for rec in df.to_dict(orient="records"):
        out.append({str(k): (None if _isna(v) else v) for k, v in rec.items()})
    return out


def _isna(v: object) -> bool:
    try:
        return bool(pd.isna(v))  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return False


@main.command("formats")
def formats_cmd() -> None:
    """List the log formats the ingester recognises, with an example line each.

    Example:

        forensics formats
    """
    for name, fmt in formats.REGISTRY.items():
        click.echo(f"{name:<16} {fmt.description}")
        click.echo(f"{'':<16} e.g. {fmt.example}")


@main.command("demo")
@click.option(
    "--case",
    "case_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("demo-case.duckdb"),
    show_default=True,
)
def demo_cmd(case_path: Path) -> None:
    """Ingest the bundled sample_logs/ into a case and print what was read.

    Example:

        forensics demo
    """
    if not SAMPLE_LOGS.is_dir():
        raise click.ClickException(f"sample logs not found at {SAMPLE_LOGS}")
    ctx = click.get_current_context()
    ctx.invoke(
        ingest_cmd,
        case_path=case_path,
        evidence=(str(SAMPLE_LOGS),),
        fmt=None,
        log_format=None,
        tz=None,
        fields=(),
    )
    ctx.invoke(sources_cmd, case_path=case_path, as_json=False)
    click.echo(
        f"case written to {case_path}; open it with "
        f"`python -c \"from forensics import Case; print(Case.open('{case_path}').sql("
        f"'select status, count(*) from events group by all'))\"`"
    )
