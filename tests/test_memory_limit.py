"""--memory-limit / $FORENSICS_MEMORY_LIMIT: DuckDB's memory for every connection of the run,
checked as DuckDB reads it (a typo is refused before anything runs); when not given, a quarter of
the machine's (or container's) memory between 1 and 3 GiB."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from forensics.cli import main
from forensics.store import db
from forensics.store.case import Case
from forensics.store.db import MEMORY_LIMIT_ENV, check_memory_limit, default_memory_limit


def _limit(case: Case) -> str:
    row = case.con.execute("SELECT current_setting('memory_limit')").fetchone()
    assert row
    return str(row[0])


def test_default_and_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MEMORY_LIMIT_ENV, raising=False)
    case = Case.create(tmp_path / "a.duckdb")
    assert _limit(case) == check_memory_limit(default_memory_limit())
    case.con.close()
    monkeypatch.setenv(MEMORY_LIMIT_ENV, "3GB")
    case = Case.open(tmp_path / "a.duckdb")
    assert _limit(case) == "2.7 GiB"
    case.con.close()


def test_cli_option_reaches_the_connections(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MEMORY_LIMIT_ENV, raising=False)
    Case.create(tmp_path / "a.duckdb").con.close()
    result = CliRunner().invoke(main, ["--memory-limit", "2GiB", "sources", str(tmp_path / "a.duckdb")])
    assert result.exit_code == 0, result.output
    assert os.environ[MEMORY_LIMIT_ENV] == "2GiB"  # worker processes inherit it too
    case = Case.open(tmp_path / "a.duckdb")
    assert _limit(case) == "2.0 GiB"
    case.con.close()


@pytest.mark.parametrize("bad", ["4gigs", "lots", "4.5.6GB", "-1", "1KB"])
def test_a_limit_duckdb_cannot_read_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bad: str
) -> None:
    monkeypatch.delenv(MEMORY_LIMIT_ENV, raising=False)
    result = CliRunner().invoke(main, ["--memory-limit", bad, "sources", str(tmp_path / "none.duckdb")])
    assert result.exit_code == 2
    assert "--memory-limit" in result.stderr and repr(bad) in result.stderr
    assert MEMORY_LIMIT_ENV not in os.environ


GIB = 2**30


@pytest.mark.parametrize(
    ("total", "expected"),
    [
        (24 * GIB, "3.0 GiB"),  # this 24 GiB machine: the cap
        (8 * GIB, "2.0 GiB"),  # a laptop: a quarter
        (2 * GIB, "1.0 GiB"),  # a small container: the floor
    ],
)
def test_default_is_a_quarter_of_the_memory_between_1_and_3_gib(total: int, expected: str) -> None:
    assert check_memory_limit(default_memory_limit(total)) == expected


def test_memory_unknown_gives_the_floor(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db, "machine_memory", lambda: None)  # Windows: no sysconf, no cgroup
    assert check_memory_limit(default_memory_limit()) == "1.0 GiB"


def test_a_container_limit_below_the_machine_counts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    v2, v1 = tmp_path / "memory.max", tmp_path / "memory.limit_in_bytes"
    v2.write_text("max\n")  # cgroup v2 without a limit
    v1.write_text(f"{6 * GIB}\n")
    monkeypatch.setattr(db, "_CGROUP_LIMITS", (str(v2), str(v1)))
    total = db.machine_memory()
    assert total is not None and total <= 6 * GIB
    v2.write_text(f"{3 * GIB}\n")
    assert db.machine_memory() == 3 * GIB
    assert check_memory_limit(default_memory_limit()) == "1.0 GiB"  # a quarter is 768 MiB: the floor
