"""The CLI through click's CliRunner: it calls the library and talks; errors are one clear line."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from forensics import Case, formats
from forensics.cli import main, safe
from tests.conftest import COMBINED, SAMPLE_LOGS, write_lines


def test_ingest_then_sources_json(tmp_path: Path) -> None:
    ev = write_lines(tmp_path / "ev" / "access.log", COMBINED)
    runner = CliRunner()
    res = runner.invoke(main, ["ingest", str(tmp_path / "c.duckdb"), str(ev)])
    assert res.exit_code == 0, res.output
    assert "events: 3" in res.output
    res = runner.invoke(main, ["sources", str(tmp_path / "c.duckdb"), "--json"])
    assert res.exit_code == 0, res.output
    (src,) = json.loads(res.output)
    assert src["path"] == str(ev) and src["format"] == "combined" and src["events"] == 3
    assert len(src["sha256"]) == 64


def test_unknown_format_suggests(tmp_path: Path) -> None:
    ev = write_lines(tmp_path / "a.log", COMBINED)
    res = CliRunner().invoke(main, ["ingest", str(tmp_path / "c.duckdb"), str(ev),
                                    "--format", "combinde"])
    assert res.exit_code == 1
    assert "Did you mean 'combined'?" in res.output


def test_unrecognised_file_fails_loudly_but_keeps_the_rest(tmp_path: Path) -> None:
    write_lines(tmp_path / "ev" / "a.log", COMBINED)
    write_lines(tmp_path / "ev" / "syslog", ["Mar 12 10:00:00 host sshd[1]: Accepted key"] * 3)
    res = CliRunner().invoke(main, ["ingest", str(tmp_path / "c.duckdb"), str(tmp_path / "ev")])
    assert res.exit_code == 1
    assert "syslog" in res.output and "Accepted key" in res.output and "--log-format" in res.output
    assert "events: 3" in res.output


def test_log_format_option(tmp_path: Path) -> None:
    ev = write_lines(tmp_path / "a.log", [
        '198.51.100.7 [12/Mar/2024:10:00:00 +0000] "GET /r/5 HTTP/1.1" 200 0.250 req-1'])
    layout = '$remote_addr [$time_local] "$request" $status $request_time $request_id'
    res = CliRunner().invoke(main, ["ingest", str(tmp_path / "c.duckdb"), str(ev),
                                    "--log-format", layout])
    assert res.exit_code == 0, res.output
    from forensics import Case
    with Case.open(tmp_path / "c.duckdb") as case:
        row = case.sql("select path, status, duration_ms, request_id from events").iloc[0]
    assert (row["path"], row["status"], row["duration_ms"], row["request_id"]) == (
        "/r/5", 200, 250.0, "req-1")


def test_bad_field_option(tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["ingest", str(tmp_path / "c.duckdb"), str(tmp_path),
                                    "--field", "nonsense"])
    assert res.exit_code == 2 and "NAME=json.path" in res.output


def test_sources_on_missing_case(tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["sources", str(tmp_path / "none.duckdb")])
    assert res.exit_code == 1 and "no case file" in res.output


def test_formats_lists_every_registered_format() -> None:
    res = CliRunner().invoke(main, ["formats"])
    assert res.exit_code == 0
    for name, fmt in formats.REGISTRY.items():
        assert name in res.output and fmt.example[:40] in res.output


def test_every_command_has_help_with_example() -> None:
    for name in main.commands:
        res = CliRunner().invoke(main, [name, "--help"])
        assert res.exit_code == 0, name
        assert "Example:" in res.output, name


def test_terminal_output_neutralises_escape_sequences() -> None:
    assert safe("evil\x1b[2J\x07name") == "evil\\x1b[2J\\x07name"


def test_demo_runs_on_sample_logs(tmp_path: Path) -> None:
    out = tmp_path / "report"
    res = CliRunner().invoke(main, ["demo", "--case", str(tmp_path / "d.duckdb"), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert SAMPLE_LOGS.name in res.output and "duplicate" in res.output and "truncated" in res.output
    assert "verdict: confirmed" in res.output and str((out / "report.html").resolve()) in res.output
    for name in ("report.html", "report.md", "findings.json", "affected_records.csv", "timeline.jsonl"):
        assert (out / name).stat().st_size > 0, name


def test_ingest_of_a_missing_path_leaves_no_case_file(tmp_path: Path) -> None:
    case_path = tmp_path / "case.duckdb"
    res = CliRunner().invoke(main, ["ingest", str(case_path), str(tmp_path / "no" / "such")])
    assert res.exit_code == 1
    assert f"evidence path {tmp_path / 'no' / 'such'} does not exist" in res.output
    assert list(tmp_path.iterdir()) == []  # no case file, no WAL


def test_ingest_of_an_empty_folder_is_an_error_like_an_empty_glob(tmp_path: Path) -> None:
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    case_path = tmp_path / "case.duckdb"
    res = CliRunner().invoke(main, ["ingest", str(case_path), str(tmp_path / "empty")])
    assert res.exit_code == 1
    assert f"no evidence in folder '{tmp_path / 'empty'}' (it holds no files); check the path" in res.output
    assert not case_path.exists()
    glob = CliRunner().invoke(main, ["ingest", str(case_path), str(tmp_path / "empty" / "*.log")])
    assert glob.exit_code == 1 and "no evidence matches" in glob.output and not case_path.exists()


def test_an_abbreviated_zone_is_refused_with_the_iana_zone_it_means(tmp_path: Path) -> None:
    ev = write_lines(tmp_path / "access.log", COMBINED)
    case_path = tmp_path / "case.duckdb"
    res = CliRunner().invoke(main, ["ingest", str(case_path), str(ev), "--tz", "BST"])
    assert res.exit_code == 1
    assert "unknown time zone 'BST'. Did you mean Europe/London?" in res.output
    assert "MST" not in res.output and not case_path.exists()
    inv = CliRunner().invoke(
        main, ["investigate", str(case_path), "--window", "2024-01-01/2024-01-02", "--tz", "CEST"]
    )
    assert inv.exit_code == 2
    assert "Did you mean Europe/Paris or Europe/Berlin?" in inv.output


def test_a_refused_investigate_leaves_no_new_out_folder(tmp_path: Path) -> None:
    """A refusal (exit 1, nothing written) removes the --out folders it created; a folder that
    existed before stays, and so do its contents."""
    ev = write_lines(tmp_path / "access.log", COMBINED)
    case_path = tmp_path / "case.duckdb"
    assert CliRunner().invoke(main, ["ingest", str(case_path), str(ev)]).exit_code == 0
    empty = tmp_path / "empty.duckdb"
    Case.create(empty).close()
    before = tmp_path / "before"
    before.mkdir()
    (before / "keep.txt").write_text("mine")
    refusals = [
        [str(case_path), "--endpoint", "GET /no/such/{id}"],
        [str(empty), "--window", "2024-05-06/2024-05-08"],
    ]
    for args in refusals:
        out = tmp_path / "new" / "deeper"
        res = CliRunner().invoke(main, ["investigate", *args, "--out", str(out)])
        assert res.exit_code == 1, res.output
        assert not (tmp_path / "new").exists(), res.output  # nor the parent it created
        res = CliRunner().invoke(main, ["investigate", *args, "--out", str(before)])
        assert res.exit_code == 1, res.output
        assert sorted(p.name for p in before.iterdir()) == ["keep.txt"]
    empty_before = tmp_path / "empty-before"
    empty_before.mkdir()
    res = CliRunner().invoke(main, ["investigate", *refusals[0], "--out", str(empty_before)])
    assert res.exit_code == 1 and empty_before.is_dir() and not any(empty_before.iterdir())
