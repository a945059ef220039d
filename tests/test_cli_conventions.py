"""CLI conventions a responder's scripts rely on: the README's exit-code table (checked against the
code and against real runs), --json purity, --quiet/--verbose, shell completion."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from forensics.cli import VERDICT_EXIT, main
from tests.conftest import ROOT, SAMPLE_EVIDENCE, sample_truth

ENDPOINT = "GET /api/v2/referrals/{id}"
LOGIN = "POST /api/v2/auth/login"


def readme_exit_codes() -> list[tuple[int, str, str]]:
    """The rows of the README's exit-code table: (code, command, meaning)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n### Exit codes\n", 1)[1].split("\n## ", 1)[0].split("\n### ", 1)[0]
    rows = []
    for line in section.splitlines():
        m = re.fullmatch(r"\|\s*(\d+)\s*\|([^|]*)\|(.*)\|", line.strip())
        if m:
            rows.append((int(m.group(1)), m.group(2).strip(), m.group(3).strip()))
    return rows


def readme_code(word: str) -> int:
    """The one code whose row's meaning names ``word`` (a verdict in backticks, or a phrase)."""
    hits = [code for code, _, meaning in readme_exit_codes() if word in meaning]
    assert len(hits) == 1, (word, hits)
    return hits[0]


def verdict_codes_in_readme() -> dict[str, int]:
    out = {}
    for code, _, meaning in readme_exit_codes():
        for verdict in re.findall(r"`([a-z_]+)`", meaning):
            if verdict in VERDICT_EXIT:
                out[verdict] = code
    return out


def test_readme_exit_table_matches_the_code() -> None:
    rows = readme_exit_codes()
    codes = [code for code, _, _ in rows]
    assert codes == sorted(set(codes)), "one row per code, in order"
    assert verdict_codes_in_readme() == VERDICT_EXIT  # every verdict, each with the code's number
    assert readme_code("usage error") == 2  # click's own code for usage errors
    assert readme_code("error or refusal") == 1  # click.ClickException's code
    assert {1, 2}.isdisjoint(VERDICT_EXIT.values())


@pytest.fixture(scope="module")
def sample_case(tmp_path_factory: pytest.TempPathFactory) -> Path:
    case = tmp_path_factory.mktemp("conv") / "case.duckdb"
    res = CliRunner().invoke(main, ["-q", "ingest", str(case), str(SAMPLE_EVIDENCE)])
    assert res.exit_code == 0, res.output
    return case


def investigate(case: Path, out: Path, *extra: str) -> Result:
    return CliRunner().invoke(
        main, ["investigate", str(case), "--endpoint", ENDPOINT, "--out", str(out), *extra]
    )


def test_a_confirmed_case_exits_with_the_confirmed_code(sample_case: Path, tmp_path: Path) -> None:
    window = sample_truth()["window"]
    res = investigate(
        sample_case,
        tmp_path / "r",
        "--login",
        LOGIN,
        "--window",
        f"{window['start']}/{window['end']}",
        "--json",
    )
    answer = json.loads(res.stdout)
    assert answer["verdict"] == "confirmed"  # the sample's truth: records were taken
    assert res.exit_code == readme_code("`confirmed`") == answer["exit_code"], res.output
    on_disk = json.loads((tmp_path / "r" / "findings.json").read_text())
    assert (on_disk["verdict"], on_disk["records"]) == (answer["verdict"], answer["records"])


def test_a_window_the_logs_barely_cover_exits_cannot_tell(sample_case: Path, tmp_path: Path) -> None:
    """The logs end 2024-04-10 23:00; a window running on for seven weeks is 0.2% covered."""
    res = investigate(
        sample_case, tmp_path / "r", "--login", LOGIN, "--window", "2024-04-10T20:00:00Z/2024-05-31"
    )
    assert "verdict: cannot_tell" in res.stdout, res.output
    assert res.exit_code == readme_code("`cannot_tell`"), res.output


def test_a_typod_login_is_refused_with_the_refusal_code(sample_case: Path, tmp_path: Path) -> None:
    res = investigate(sample_case, tmp_path / "r", "--login", "POST /api/v2/auth/logni")
    assert res.exit_code == readme_code("error or refusal"), res.output
    assert "POST /api/v2/auth/login" in res.stderr  # the refusal names the login the logs suggest
    assert res.stdout == "" and not list((tmp_path / "r").glob("*"))  # nothing written


def test_a_missing_file_exits_with_the_error_code(tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["investigate", str(tmp_path / "no-such.duckdb"), "--json"])
    assert res.exit_code == readme_code("error or refusal")
    assert res.stdout == "" and "no case file" in res.stderr


def test_an_unknown_option_exits_with_the_usage_code(sample_case: Path) -> None:
    res = CliRunner().invoke(main, ["sources", str(sample_case), "--jsno"])
    assert res.exit_code == readme_code("usage error")


def test_json_stdout_is_one_document_and_messages_go_to_stderr(tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["ingest", str(tmp_path / "c.duckdb"), str(SAMPLE_EVIDENCE), "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["totals"]["events"] == sum(f["events"] for f in doc["files"]) > 0
    assert doc["statuses"] == {"ingested": 29, "duplicate": 1}  # sample_logs/: one file is a copy
    assert "case log head" in res.stderr and doc["log_head"] in res.stderr
    assert "truncated" in res.stderr  # the warnings are still said, on stderr


def test_json_escapes_control_characters(tmp_path: Path) -> None:
    """A user agent carrying an ANSI escape and a bidi override reaches --json escaped."""
    ev = tmp_path / "ev" / "access.log"
    ev.parent.mkdir()
    ev.write_text(
        '203.0.113.9 - - [12/Mar/2024:10:00:00 +0000] "GET /r/1 HTTP/1.1" 200 5 "-" "x\\x1b[2Jy\u202ez"\n'
        '203.0.113.9 - - [12/Mar/2024:10:00:01 +0000] "GET /r/2 HTTP/1.1" 200 5 "-" "\x1b[31mred\u202e"\n',
        encoding="utf-8",
    )
    case = str(tmp_path / "c.duckdb")
    assert CliRunner().invoke(main, ["-q", "ingest", case, str(ev)]).exit_code == 0
    res = CliRunner().invoke(main, ["actors", case, "--json"])
    assert res.exit_code == 0, res.output
    assert "\x1b" not in res.stdout and "\u202e" not in res.stdout and res.stdout.isascii()
    agents = [ua for actor in json.loads(res.stdout) for ua in actor["user_agents"]]
    assert len(agents) == 2 and all(isinstance(ua, str) for ua in agents)  # a JSON list, not its repr
    assert "\x1b[31mred\u202e" in agents  # escaped on the wire only: the decoded value is exact


def test_quiet_leaves_the_result_warnings_and_errors(tmp_path: Path) -> None:
    case = tmp_path / "c.duckdb"
    loud = CliRunner().invoke(main, ["ingest", str(case), str(SAMPLE_EVIDENCE)])
    quiet = CliRunner().invoke(main, ["--quiet", "ingest", str(tmp_path / "q.duckdb"), str(SAMPLE_EVIDENCE)])
    assert loud.exit_code == quiet.exit_code == 0
    assert quiet.stdout == loud.stdout and "events:" in quiet.stdout  # the result, unchanged
    assert "note:" in loud.stderr and "case log head" in loud.stderr
    kept = [line for line in loud.stderr.splitlines() if line.startswith(("warning:", "error:"))]
    assert kept and quiet.stderr.splitlines() == kept
    res = CliRunner().invoke(main, ["-q", "sources", str(tmp_path / "none.duckdb")])
    assert res.exit_code == 1 and "no case file" in res.stderr  # errors are never quiet


def test_quiet_investigate_prints_the_verdict_and_no_notes(sample_case: Path, tmp_path: Path) -> None:
    res = CliRunner().invoke(
        main, ["-q", "investigate", str(sample_case), "--endpoint", ENDPOINT, "--out", str(tmp_path / "r")]
    )
    assert res.exit_code in VERDICT_EXIT.values(), res.output
    assert res.stdout.startswith("verdict: ")
    assert not [line for line in res.stderr.splitlines() if not line.startswith("warning:")], res.stderr


def test_verbose_adds_a_line_per_file_and_the_run_time(tmp_path: Path) -> None:
    case = tmp_path / "c.duckdb"
    res = CliRunner().invoke(main, ["--verbose", "ingest", str(case), str(SAMPLE_EVIDENCE), "--json"])
    assert res.exit_code == 0, res.output
    files = json.loads(res.stdout)["files"]
    for f in files:
        assert f"{f['status']}: {f['path']}" in res.stderr, f["path"]
    assert re.search(r"^forensics ingest: \d+\.\d s$", res.stderr, re.M)
    res = CliRunner().invoke(main, ["-v", "verify", str(case)])
    assert res.exit_code == 0, res.output
    checked = [line for line in res.stderr.splitlines() if line.startswith("evidence source ")]
    assert len(checked) == len(files) and all(": ok — " in line for line in checked)
    normal = CliRunner().invoke(main, ["verify", str(case)])
    assert "evidence source " not in normal.stderr and "forensics verify:" not in normal.stderr


def test_quiet_and_verbose_together_is_a_usage_error() -> None:
    res = CliRunner().invoke(main, ["-q", "-v", "formats"])
    assert res.exit_code == 2 and "--quiet and --verbose" in res.output


def forensics_script() -> Path:
    script = Path(sys.executable).parent / "forensics"
    assert script.is_file(), f"the `forensics` console script is not installed beside {sys.executable}"
    return script


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_shell_completion_prints_a_bash_script_that_completes() -> None:
    script = forensics_script()
    env = {**os.environ, "_FORENSICS_COMPLETE": "bash_source"}
    source = subprocess.run([script], env=env, capture_output=True, text=True, check=True).stdout
    assert (
        "_forensics_completion()" in source
        and "complete -o nosort -F _forensics_completion forensics" in source
    )
    # what bash then asks the script: complete "forensics inv"
    env = {
        **os.environ,
        "_FORENSICS_COMPLETE": "bash_complete",
        "COMP_WORDS": "forensics inv",
        "COMP_CWORD": "1",
    }
    done = subprocess.run([script], env=env, capture_output=True, text=True, check=True).stdout
    assert done.split() == ["plain,investigate"]
    env["COMP_WORDS"], env["COMP_CWORD"] = "forensics simulate x --scenario office", "4"
    done = subprocess.run([script], env=env, capture_output=True, text=True, check=True).stdout
    assert done.split() == ["plain,office-nat"]
    # and bash itself accepts the script
    subprocess.run(["bash", "-c", source + "\ncomplete -p forensics"], check=True, capture_output=True)
