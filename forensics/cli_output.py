"""How the `forensics` command talks: help whose examples paste, the result on stdout (text, or one
JSON document with ``--json``) and everything else on stderr, as loud as ``--quiet``/``--verbose`` say.

Only the CLI imports this module (the library raises and never prints).
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable

import click
from click.decorators import FC

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
