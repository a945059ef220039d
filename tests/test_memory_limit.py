"""--memory-limit / $FORENSICS_MEMORY_LIMIT: DuckDB's memory for every connection of the run,
checked as DuckDB reads it (a typo is refused before anything runs), 1GB when not given."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from forensics.cli import main
from forensics.store.case import Case
from forensics.store.db import MEMORY_LIMIT_ENV


def _limit(case: Case) -> str:
    row = case.con.execute("SELECT current_setting('memory_limit')").fetchone()
    assert row
    return str(row[0])


def test_default_and_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MEMORY_LIMIT_ENV, raising=False)
    case = Case.create(tmp_path / "a.duckdb")
    assert _limit(case) == "953.6 MiB"  # 1GB
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
