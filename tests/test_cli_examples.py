"""Every `Example:` in every `--help` runs as printed, on the bundled sample case.

The rule that makes the examples runnable (README, "Examples in --help"), applied mechanically:
each command's examples run in the order printed, in a fresh folder holding
- ``sample_logs/`` — a copy of the bundled sample (its evidence under ``sample_logs/evidence/``);
- ``case.duckdb`` — that evidence ingested (``forensics ingest case.duckdb sample_logs/evidence/``),
  for every command but ``ingest``, whose examples make it;
- ``GeoLite2-ASN.mmdb`` — a small network database (tests/data/asn-sample.mmdb);
- ``sigma/rules/web/`` — a few Sigma rules written for the tests (tests/data/sigma).
An example exits 0; an ``investigate`` example exits with its verdict's code (findings.json in its
``--out``, default ``report/``). An example with ``--json`` prints one JSON document on stdout.
"""

from __future__ import annotations

import json
import shlex
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from forensics.cli import VERDICT_EXIT, main
from forensics.cli_output import example_lines
from tests.conftest import ROOT, SAMPLE_LOGS

COMMANDS = sorted(main.commands)
NETWORK_DB = ROOT / "tests" / "data" / "asn-sample.mmdb"
SIGMA_RULES = ROOT / "tests" / "data" / "sigma"


def help_text(command: str | None) -> str:
    res = CliRunner().invoke(main, [command, "--help"] if command else ["--help"], terminal_width=80)
    assert res.exit_code == 0, res.output
    return res.stdout


@pytest.fixture(scope="module")
def sample_case(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with sample_logs/ and case.duckdb (the sample ingested), built once."""
    folder = tmp_path_factory.mktemp("sample-case")
    shutil.copytree(SAMPLE_LOGS, folder / "sample_logs")
    res = run_in(folder, "forensics ingest case.duckdb sample_logs/evidence/")
    assert res.exit_code == 0, res.output
    return folder


@pytest.fixture
def workdir(tmp_path: Path, sample_case: Path) -> Iterator[Path]:
    shutil.copytree(sample_case / "sample_logs", tmp_path / "sample_logs")
    shutil.copy(sample_case / "case.duckdb", tmp_path / "case.duckdb")
    shutil.copy(NETWORK_DB, tmp_path / "GeoLite2-ASN.mmdb")
    shutil.copytree(SIGMA_RULES, tmp_path / "sigma")  # small rules of ours (SigmaHQ's are not shipped)
    yield tmp_path


def run_in(folder: Path, line: str) -> Result:
    """Run one pasted command line (``forensics …``) with ``folder`` as the working directory."""
    argv = shlex.split(line, comments=True)
    assert argv[0] == "forensics", line
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(folder)
        return CliRunner().invoke(main, argv[1:])


def expected_exit(folder: Path, argv: list[str], res: Result) -> int:
    """0, or for investigate the code of the verdict it wrote (read back from findings.json)."""
    if "investigate" not in argv:
        return 0
    out = argv[argv.index("--out") + 1] if "--out" in argv else "report"
    verdict = json.loads((folder / out / "findings.json").read_text())["verdict"]
    return VERDICT_EXIT[verdict]


def test_examples_are_printed_verbatim() -> None:
    """A continued line keeps its backslash at the end of the line (click re-wrapped it into the
    middle of one long line: pasted, the shell got `\\ ` and failed with 'unexpected extra argument')."""
    text = help_text("investigate")
    example = text.split("Example:\n", 1)[1]
    assert "\\\n" in example
    assert "\\ " not in example
    for line in example.splitlines():
        if line.rstrip().endswith("\\"):
            assert line.startswith("      forensics ") or line.startswith("          --"), line


def test_example_lines_joins_continuations_and_stops_at_options() -> None:
    text = "Usage: x\n\n  Example:\n      forensics a \\\n          --b 'c d'\n\n      forensics e\n\nOptions:\n  --f\n"
    assert example_lines(text) == ["forensics a --b 'c d'", "forensics e"]


@pytest.mark.parametrize("command", [None, *COMMANDS], ids=["forensics", *COMMANDS])
def test_every_example_runs_as_printed(command: str | None, workdir: Path) -> None:
    examples = example_lines(help_text(command))
    assert examples, f"{command}: no Example: in --help"
    if command == "ingest":
        (workdir / "case.duckdb").unlink()
    for line in examples:
        argv = shlex.split(line, comments=True)
        res = run_in(workdir, line)
        assert res.exit_code == expected_exit(workdir, argv, res), f"{line}\n{res.output}"
        if "--json" in argv:
            json.loads(res.stdout)  # one JSON document, nothing else on stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_prints_json_and_shows_it(command: str) -> None:
    """Every command prints results, so every one takes --json, says so in --help and shows it
    in an example (which the test above runs and parses)."""
    text = help_text(command)
    assert "--json" in text.split("Options:", 1)[1], command
    assert any("--json" in shlex.split(e, comments=True) for e in example_lines(text)), command


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_is_quiet_with_q(command: str, workdir: Path) -> None:
    """`forensics -q` before a command's first example: stderr keeps only warnings and errors."""
    first = example_lines(help_text(command))[0]
    if command == "ingest":
        (workdir / "case.duckdb").unlink()
    argv = shlex.split(first, comments=True)
    res = run_in(workdir, shlex.join(["forensics", "-q", *argv[1:]]))
    assert res.exit_code == expected_exit(workdir, argv, res), res.output
    assert res.stdout.strip(), f"{first}: -q must still print the result"
    said = [line for line in res.stderr.splitlines() if not line.startswith(("warning:", "error:"))]
    assert not said, f"{first}: -q still says {said}"
