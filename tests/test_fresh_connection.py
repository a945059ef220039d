"""Writers take everything from the Assessment (issue 18): a fresh connection, or a later assess
with another window, writes the same files."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from forensics import Case
from forensics.assess.compute import InvestigateOptions, assess
from forensics.assess.window import Window
from forensics.publish.writers import write_outputs
from tests.eventrows import add_events
from tests.test_assess import DETECT, T0, WINDOW, monitor, read, staff

SAME = ("findings.json", "affected_records.csv", "actors.csv", "findings.csv", "evidence.csv", "timeline.jsonl",
        "report.md")  # fmt: skip


def _rows() -> list[dict[str, object]]:
    attack = [read("203.0.113.9", 2000 + i, 500 + i, ua="curl/8") for i in range(30)]
    return sorted(monitor() + staff() + attack, key=lambda r: r["ts"])  # type: ignore[arg-type,return-value]


def test_outputs_on_a_fresh_connection_are_the_same(tmp_path: Path) -> None:
    path = tmp_path / "case.duckdb"
    with Case.create(path) as case:
        add_events(case, _rows())
        assessment = assess(case, InvestigateOptions(detect=DETECT, window=WINDOW))
        first = write_outputs(case, assessment, tmp_path / "a")
    with Case.open(path) as fresh:  # no temp table of assess's on this connection
        second = write_outputs(fresh, assessment, tmp_path / "b")
    assert first["timeline.jsonl"].read_text().count("\n") > 0
    for name in SAME:
        assert first[name].read_bytes() == second[name].read_bytes(), name


def test_a_later_assessment_does_not_leak_into_an_earlier_ones_timeline(tmp_path: Path) -> None:
    with Case.create(tmp_path / "case.duckdb") as case:
        add_events(case, _rows())
        wide = assess(case, InvestigateOptions(detect=DETECT, window=WINDOW))
        first = write_outputs(case, wide, tmp_path / "a")
        narrow = Window(T0, T0 + timedelta(hours=1))  # before the attack: no finding in it
        assess(case, InvestigateOptions(detect=DETECT, window=narrow))
        again = write_outputs(case, wide, tmp_path / "b")
    assert first["timeline.jsonl"].read_bytes() == again["timeline.jsonl"].read_bytes()
    assert first["timeline.jsonl"].read_text().count("\n") > 0
