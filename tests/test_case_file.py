"""The case file itself: readable by DuckDB 1.3 and later, every table and column described."""

from __future__ import annotations

import importlib.util
import os
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


def test_new_case_is_written_in_duckdb_1_3s_storage_format(tmp_path: Path) -> None:
    Case.create(tmp_path / "c.duckdb").close()
    # DuckDB 2.0's own format is tagged v2.0.0+; DuckDB 1.3's (storage version 66, which DuckDB
    # 1.3 and later read, 1.2 does not) v1.3.0+
    assert _storage_tag(tmp_path / "c.duckdb") == "v1.3.0+"
    assert STORAGE_VERSION == "v1.3.0"


# A Python whose duckdb is 1.3.x (the oldest release the case format promises), e.g.
# `python3 -m venv /tmp/duck13 && /tmp/duck13/bin/pip install duckdb==1.3.2 pytz`
OLD_DUCKDB_PYTHON = "FORENSICS_DUCKDB13_PYTHON"
_READ_EVERYTHING = """
import sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
print(duckdb.__version__)
names = con.execute(
    "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
    "UNION ALL SELECT view_name FROM duckdb_views() WHERE database_name = current_database() "
    "AND NOT internal ORDER BY 1").fetchall()
for (name,) in names:  # every row of every table and view, fetched as Python values
    print(name, len(con.execute(f'SELECT * FROM "{name}"').fetchall()))
"""


def test_duckdb_1_3_python_reads_every_table_of_a_case_the_tool_wrote(investigated: Path) -> None:
    python = os.environ.get(OLD_DUCKDB_PYTHON)
    if not python:
        pytest.skip(f"set {OLD_DUCKDB_PYTHON} to a Python with duckdb 1.3.x to run this")
    res = subprocess.run(
        [python, "-c", _READ_EVERYTHING, str(investigated)], capture_output=True, text=True, timeout=300
    )
    assert res.returncode == 0, res.stderr
    version, *counts = res.stdout.splitlines()
    assert version.startswith("1.3."), version
    con = duckdb.connect(str(investigated), read_only=True)
    try:
        names = con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
            "UNION ALL SELECT view_name FROM duckdb_views() WHERE database_name = current_database() "
            "AND NOT internal ORDER BY 1"
        ).fetchall()
        expected = [f"{n} {_count(con, n)}" for (n,) in names]
    finally:
        con.close()
    assert counts == expected and "events" in {c.split()[0] for c in counts}


def _count(con: duckdb.DuckDBPyConnection, name: str) -> int:
    row = con.execute(f'SELECT count(*) FROM "{name}"').fetchone()
    return int(row[0]) if row else -1


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
