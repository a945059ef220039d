"""Named stages (issue 19): the library marks its steps, the CLI shows long ones live on a terminal
and prints every stage's wall time, rows and spill with --profile; without a watcher, silence."""

from __future__ import annotations

import io
import re
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from forensics.cli import main
from forensics.cli_output import StageDisplay
from forensics.store.stages import Stage, stage, watching
from tests.conftest import SAMPLE_LOGS

SAMPLE_EVIDENCE = SAMPLE_LOGS / "evidence"


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, int]] = []
        self.ended: list[Stage] = []

    def begin(self, s: Stage) -> None:
        self.events.append(("begin", s.name, s.depth))

    def tick(self, s: Stage) -> None:
        pass

    def end(self, s: Stage) -> None:
        self.events.append(("end", s.name, s.depth))
        self.ended.append(s)


def test_stages_nest_and_report_rows_and_time() -> None:
    con = duckdb.connect()
    rec = Recorder()
    with watching(rec), stage(con, "outer") as outer:
        with stage(con, "inner") as inner:
            inner.rows = con.execute("SELECT count(*) FROM range(1000)").fetchone()[0]  # type: ignore[index]
        outer.rows = 7
    assert rec.events == [
        ("begin", "outer", 0),
        ("begin", "inner", 1),
        ("end", "inner", 1),
        ("end", "outer", 0),
    ]
    inner_s, outer_s = rec.ended
    assert (inner_s.rows, outer_s.rows) == (1000, 7)
    assert outer_s.wall_s >= inner_s.wall_s >= 0


def test_without_a_watcher_a_stage_only_times() -> None:
    with stage(duckdb.connect(), "alone") as s:
        pass
    assert s.wall_s >= 0 and s.rows is None


def test_a_live_display_shows_the_running_query_its_progress_and_eta(monkeypatch: pytest.MonkeyPatch) -> None:
    err = io.StringIO()
    monkeypatch.setattr("sys.stderr", err)
    display = StageDisplay(live=True, profile=True)
    s = Stage("derive: authentication", 0)
    display.begin(s)
    s.started -= 10  # it has run 10 s
    s.progress = 20.0
    display.tick(s)
    s.started -= 5
    s.progress = 40.0
    s.spill_peak = 2_500_000_000
    display.tick(s)
    s.wall_s, s.rows = 15.0, 3_000_000
    display.end(s)
    out = err.getvalue()
    assert "derive: authentication: 10 s, query 20%" in out
    assert re.search(r"query 40% \(~\d+ s left\), spilled 2\.5 GB", out)
    assert out.rstrip().endswith("derive: authentication: 15.0 s, 3,000,000 rows")
    assert "derive: authentication" in display.table() and "3,000,000" in display.table()
    idle = Stage("write: report.pdf", 0)  # Python work: DuckDB reports 0 between queries
    idle.started -= 5
    idle.progress = 0.0
    display.tick(idle)
    assert err.getvalue().endswith("write: report.pdf: 5 s")


def test_a_piped_display_draws_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    err = io.StringIO()
    monkeypatch.setattr("sys.stderr", err)
    display = StageDisplay(live=False, profile=False)
    s = Stage("derive: routes", 0)
    s.started -= 30
    display.begin(s)
    display.tick(s)
    display.end(s)
    assert err.getvalue() == "" and display.done == []


def test_profile_prints_every_stage_of_an_investigation(tmp_path: Path) -> None:
    case = tmp_path / "case.duckdb"
    assert CliRunner().invoke(main, ["-q", "ingest", str(case), str(SAMPLE_EVIDENCE)]).exit_code == 0
    args = [
        "investigate",
        str(case),
        "--endpoint",
        "GET /api/v2/referrals/{id}",
        "--out",
        str(tmp_path / "r"),
    ]
    plain = CliRunner().invoke(main, ["-q", *args])
    profiled = CliRunner().invoke(main, ["-q", "--profile", *args])
    assert plain.exit_code == profiled.exit_code
    assert "derive: authentication" not in plain.stderr
    table = profiled.stderr
    for name in ("derive: routes", "derive: authentication", "detect: unauth_read", "assess: coverage",
                 "write: findings.json"):  # fmt: skip
        assert re.search(rf"^\s*{re.escape(name)}\s+\d+\.\d\d", table, re.M), name
    events = int(
        duckdb.connect(str(case), read_only=True).execute("SELECT count(*) FROM events").fetchone()[0]
    )  # type: ignore[index]
    assert re.search(rf"^derive: authentication\s+\d+\.\d\d\s+{events:,}\b", table, re.M)
