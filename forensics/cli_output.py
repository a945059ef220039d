"""How the `forensics` command talks: help whose examples paste, the result on stdout (text, or one
JSON document with ``--json``) and everything else on stderr, as loud as ``--quiet``/``--verbose`` say.

Only the CLI imports this module (the library raises and never prints).
"""

from __future__ import annotations

import inspect
import json
import time
from collections.abc import Callable

import click
from click.decorators import FC

from forensics.store.stages import Stage

QUIET, NORMAL, VERBOSE = 0, 1, 2
_LEVEL = "forensics.verbosity"  # key in the root context's meta
EXAMPLE_HEADING = "Example:"
JSON_HELP = "Print the result as one JSON document on stdout (messages go to stderr)."


def set_verbosity(ctx: click.Context, quiet: bool, verbose: bool) -> None:
    """Keep the group's --quiet/--verbose where every command finds them."""
    if quiet and verbose:
        raise click.UsageError("--quiet and --verbose cannot be used together")
    ctx.find_root().meta[_LEVEL] = QUIET if quiet else VERBOSE if verbose else NORMAL


def verbosity() -> int:
    """QUIET, NORMAL or VERBOSE: the group's choice (NORMAL outside a command)."""
    ctx = click.get_current_context(silent=True)
    return int(ctx.find_root().meta.get(_LEVEL, NORMAL)) if ctx is not None else NORMAL


def note(message: str) -> None:
    """An informational message (stderr): progress, notes, the case log head. Not with --quiet."""
    if verbosity() >= NORMAL:
        click.echo(message, err=True)


def detail(message: str) -> None:
    """More detail (stderr), only with --verbose: per-file lines, timings, the reasoning."""
    if verbosity() >= VERBOSE:
        click.echo(message, err=True)


def warn(message: str) -> None:
    """A warning or per-file error (stderr): shown even with --quiet (it names something to act on)."""
    click.echo(message, err=True)


def emit_json(doc: object) -> None:
    """The one JSON document of a --json run, on stdout. ASCII only: control and invisible
    characters of attacker-controlled text come out as \\u escapes, never raw."""
    click.echo(json.dumps(doc, indent=2, default=str, ensure_ascii=True))


def json_option(help_text: str = JSON_HELP) -> Callable[[FC], FC]:
    """The ``--json`` flag every command that prints results has (parameter ``as_json``)."""
    return click.option("--json", "as_json", is_flag=True, help=help_text)


def _write_verbatim(formatter: click.HelpFormatter, text: str) -> None:
    """Help text whose ``Example:`` block is printed line for line (click re-wraps paragraphs,
    which joins a continued command into one line ending in ``\\ ``: not pasteable)."""
    prose, sep, examples = text.partition(f"\n{EXAMPLE_HEADING}\n")
    if prose.strip():
        formatter.write_paragraph()
        with formatter.indentation():
            formatter.write_text(prose)
    if not sep:
        return
    formatter.write_paragraph()
    with formatter.indentation():
        formatter.write_text(EXAMPLE_HEADING)
        pad = " " * formatter.current_indent
        for line in examples.strip("\n").splitlines():
            formatter.write(f"{pad}{line}\n" if line.strip() else "\n")


class VerbatimCommand(click.Command):
    """A command whose help keeps its ``Example:`` lines as written."""

    def format_help_text(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        _write_verbatim(formatter, inspect.cleandoc(self.help or "").partition("\f")[0])


class VerbatimGroup(click.Group):
    """A group whose help, and whose commands' help, keep their ``Example:`` lines as written."""

    command_class = VerbatimCommand

    def format_help_text(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        _write_verbatim(formatter, inspect.cleandoc(self.help or "").partition("\f")[0])


def example_lines(help_text: str) -> list[str]:
    """The commands of a printed help page's ``Example:`` block, continuation lines (``\\``)
    joined and comments kept: what a reader pastes, one entry per command."""
    lines = help_text.splitlines()
    starts = [i for i, line in enumerate(lines) if line.strip() == EXAMPLE_HEADING]
    if not starts:
        return []
    indent = len(lines[starts[0]]) - len(lines[starts[0]].lstrip())
    commands: list[str] = []
    pending = ""
    for raw in lines[starts[0] + 1 :]:
        if raw.strip() and len(raw) - len(raw.lstrip()) <= indent:  # the next section ("Options:")
            break
        pending += raw.strip()
        if pending.endswith("\\"):
            pending = pending[:-1]
        elif pending:
            commands.append(pending)
            pending = ""
    return commands


SHOW_AFTER_S = 2.0  # a stage is drawn on the terminal once it has run this long


class StageDisplay:
    """Hears the library's stages (``forensics.store.stages``): on a terminal, the name, the
    running query's progress and ETA, and spill, of any stage running longer than
    ``SHOW_AFTER_S``, then its rows and time when it ends (nothing when stderr is piped or with
    --quiet); with ``profile``, every stage's wall time, rows and peak spill, for ``table()``."""

    def __init__(self, *, live: bool, profile: bool) -> None:
        self.live = live
        self.profile = profile
        self.done: list[Stage] = []
        self._drawn = False
        self._base: tuple[float, float] | None = None  # (progress, time) the ETA counts from

    def begin(self, s: Stage) -> None:
        self._base = None

    def tick(self, s: Stage) -> None:
        if not self.live:
            return
        now = time.monotonic()
        elapsed = now - s.started
        if elapsed < SHOW_AFTER_S:
            return
        text = f"{s.name}: {elapsed:.0f} s"
        if 0 < s.progress < 100:  # a query is running (between queries DuckDB reports 0 or -1)
            if self._base is None or s.progress < self._base[0]:
                self._base = (s.progress, now)  # a new query began: count its rate afresh
            done, since = s.progress - self._base[0], now - self._base[1]
            eta = since / done * (100 - s.progress) if done > 0 and since > 0 else None
            text += f", query {s.progress:.0f}%" + (f" (~{eta:.0f} s left)" if eta is not None else "")
        if s.spill_peak:
            text += f", spilled {_size(s.spill_peak)}"
        click.echo("\r\x1b[2K" + text, nl=False, err=True)
        self._drawn = True

    def end(self, s: Stage) -> None:
        if self.profile:
            self.done.append(s)
        if self._drawn:
            rows = f", {s.rows:,} rows" if s.rows is not None else ""
            click.echo(f"\r\x1b[2K{s.name}: {s.wall_s:.1f} s{rows}", err=True)
            self._drawn = False

    def table(self) -> str:
        """The per-stage profile: wall time, rows and peak spill, nested stages indented."""
        lines = [f"{'stage':<44} {'seconds':>8} {'rows':>13} {'spill':>9}"]
        for s in sorted(self.done, key=lambda s: s.started):
            name = "  " * s.depth + s.name
            rows = f"{s.rows:,}" if s.rows is not None else ""
            spill = _size(s.spill_peak) if s.spill_peak else ""
            lines.append(f"{name:<44} {s.wall_s:>8.2f} {rows:>13} {spill:>9}")
        return "\n".join(lines)


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KB", "MB"):
        if value < 1000:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"
