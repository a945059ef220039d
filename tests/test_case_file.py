"""The case file itself: readable by DuckDB 1.x, every table and column described."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from forensics import Case
from forensics.cli import main
from forensics.store.db import STORAGE_VERSION
from forensics.store.schema import COMMENTS, DERIVED_COMMENTS, TABLES


@pytest.fixture(scope="module")
def investigated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A case after ingest and investigate of the bundled sample (what `forensics demo` leaves)."""
    tmp = tmp_path_factory.mktemp("demo")
    case_path = tmp / "demo.duckdb"
    res = CliRunner().invoke(main, ["demo", "--case", str(case_path), "--out", str(tmp / "report")])
    assert res.exit_code == 0, res.output
    return case_path


def _storage_tag(path: Path) -> str:
    con = duckdb.connect(str(path), read_only=True)
    try:
        row = con.execute(
            "SELECT tags['storage_version'] FROM duckdb_databases() WHERE database_name = current_database()"
        ).fetchone()
    finally:
        con.close()
    assert row is not None
    return str(row[0])


def test_new_case_is_written_in_a_storage_format_duckdb_1x_reads(tmp_path: Path) -> None:
    Case.create(tmp_path / "c.duckdb").close()
    # DuckDB 2.0's own format is tagged v2.0.0+; the 1.x-readable one (storage version 64) v1.0.0+
    assert _storage_tag(tmp_path / "c.duckdb") == "v1.0.0+"
    assert STORAGE_VERSION.startswith("v1.")


def test_a_case_written_in_duckdb_2_format_still_opens_and_keeps_its_format(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    duckdb.connect(str(path)).close()  # as this tool wrote cases before: DuckDB 2.0's default
    assert _storage_tag(path) == "v2.0.0+"
    Case.create(path).close()
    with Case.open(path) as case:
        assert case.sql("SELECT count(*) AS n FROM events")["n"].iloc[0] == 0
    assert _storage_tag(path) == "v2.0.0+"


def _duckdb_cli() -> list[str]:
    """The DuckDB CLI that `pip install duckdb-cli` brings (a console script `duckdb`, module
    duckdb_cli); skipped when it is not installed."""
    if importlib.util.find_spec("duckdb_cli") is None:
        pytest.skip("duckdb-cli is not installed (it is in the test extra: pip install -e '.[test]')")
    return [sys.executable, "-m", "duckdb_cli"]


def test_duckdb_1x_cli_opens_a_case_the_tool_wrote(investigated: Path) -> None:
    cli = _duckdb_cli()
    version = subprocess.run([*cli, "-version"], capture_output=True, text=True, timeout=60)
    assert version.returncode == 0 and version.stdout.startswith("v1."), version
    sql = (
        "SELECT count(*) FROM events; "
        "SELECT comment FROM duckdb_columns() WHERE table_name = 'events' AND column_name = 'ts'; "
        "SELECT count(*) FROM findings; SELECT max(extra->>'x') FROM events;"
    )
    res = subprocess.run(
        [*cli, "-readonly", "-list", "-noheader", str(investigated), "-c", sql],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    with Case.open(investigated, read_only=True) as case:
        events = int(case.sql("SELECT count(*) AS n FROM events")["n"].iloc[0])
        findings = int(case.sql("SELECT count(*) AS n FROM findings")["n"].iloc[0])
    lines = res.stdout.splitlines()
    assert lines[0] == str(events) and events > 0
    assert lines[1] == COMMENTS["events"][1]["ts"]
    assert lines[2] == str(findings)


def test_every_table_and_column_of_an_investigated_case_is_described(investigated: Path) -> None:
    con = duckdb.connect(str(investigated), read_only=True)
    try:
        tables = con.execute(
            "SELECT table_name, comment FROM duckdb_tables() "
            "WHERE database_name = current_database() AND NOT temporary ORDER BY 1"
        ).fetchall()
        columns = con.execute(
            "SELECT table_name, column_name, comment FROM duckdb_columns() "
            "WHERE database_name = current_database() AND table_name IN "
            "(SELECT table_name FROM duckdb_tables() WHERE database_name = current_database())"
        ).fetchall()
    finally:
        con.close()
    names = {t for t, _ in tables}
    assert set(TABLES) | {"routes", "findings", "actors", "coverage_hourly", "detector_runs"} <= names
    assert [t for t, comment in tables if not comment] == []
    assert [(t, c) for t, c, comment in columns if not comment] == []
    # the registry names no column that the code does not create (descriptions kept in step)
    described = {(t, c) for t, (_, cols) in DERIVED_COMMENTS.items() for c in cols}
    assert described <= {(t, c) for t, c, _ in columns}


def test_a_case_without_comments_gets_them_when_opened(tmp_path: Path) -> None:
    path = tmp_path / "c.duckdb"
    Case.create(path).close()
    con = duckdb.connect(str(path))
    con.execute("COMMENT ON TABLE events IS NULL")
    con.execute("COMMENT ON COLUMN events.ts IS NULL")
    con.close()
    with Case.open(path) as case:
        table = case.sql("SELECT comment FROM duckdb_tables() WHERE table_name = 'events'")
        column = case.sql(
            "SELECT comment FROM duckdb_columns() WHERE table_name = 'events' AND column_name = 'ts'"
        )
    assert table["comment"].iloc[0] == COMMENTS["events"][0]
    assert column["comment"].iloc[0] == COMMENTS["events"][1]["ts"]
