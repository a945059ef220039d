"""The seed case's shape at scale: one caller scraping tens of thousands of records. A finding then
names every id it read; matching its requests by a list search per request was quadratic (300,000
ids: DuckDB asked for 16 GiB and the investigation stopped). Now an equi-join: it runs in a small
memory limit, and gives the requests the list search gave."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from forensics import Case
from forensics.cli import main
from forensics.detectors.run import finding_requests
from forensics.store.db import MEMORY_LIMIT_ENV

READS = 30_000


def scraped(path: Path) -> Path:
    """One address reads READS records in turn (20 a second) among staff reading their own."""
    with Case.create(path) as case:
        case.con.execute(
            f"""
            INSERT INTO events (source_id, line_no, ts, client_ip, method, path, status, bytes_sent,
                                user_agent, principal)
            SELECT 1, i, TIMESTAMPTZ '2024-03-05 00:00:00+00' + to_seconds(i * 0.05), '203.0.113.9', 'GET',
              '/api/v2/referrals/' || (100000 + i), 200, 4000, 'python-requests/2.31', NULL
            FROM range(1, {READS} + 1) t(i)
            UNION ALL
            SELECT 1, {READS} + i, TIMESTAMPTZ '2024-03-01 00:00:00+00' + to_seconds(i * 60),
              '10.20.1.' || (i % 50), 'GET', '/api/v2/referrals/' || (i % 5000), 200, 4000,
              'Mozilla/5.0 staff', 'user' || (i % 50)
            FROM range(1, 20000) t(i)"""
        )
    return path


def test_a_mass_scrape_is_assessed_in_a_small_memory_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(MEMORY_LIMIT_ENV, raising=False)
    case = scraped(tmp_path / "case.duckdb")
    result = CliRunner().invoke(
        main,
        [
            "-q",
            "--memory-limit",
            "200MB",  # the list search needed over 1 GB here
            "investigate",
            str(case),
            "--endpoint",
            "GET /api/v2/referrals/{id}",
            "--window",
            "2024-03-01T00:00:00Z/2024-04-01T00:00:00Z",
            "--json",
            "--out",
            str(tmp_path / "r"),
        ],
    )
    assert result.exit_code == 6, result.stderr  # confirmed
    rows = (tmp_path / "r" / "affected_records.csv").read_text().splitlines()
    assert len(rows) == READS + 1


def test_finding_requests_are_the_list_search(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same (finding, request) pairs as the list search it replaced, on every finding of the case."""
    monkeypatch.delenv(MEMORY_LIMIT_ENV, raising=False)
    path = scraped(tmp_path / "case.duckdb")
    assert (
        CliRunner()
        .invoke(main, ["-q", "detect", str(path), "--endpoint", "GET /api/v2/referrals/{id}"])
        .exit_code
        == 0
    )
    with Case.open(path) as case:
        con = case.con
        # every finding, its ids cut to 50 (the list search is quadratic on the whole lists)
        con.execute(
            "CREATE TEMP TABLE few AS SELECT * REPLACE (record_ids[1:50] AS record_ids) FROM findings"
        )
        listed = con.execute("SELECT count(*), count_if(len(record_ids) = 0) FROM few").fetchone()
        assert listed and listed[0] >= 3 and listed[1] >= 1  # findings naming ids, and one naming none
        new = con.execute(
            f"SELECT finding_id, source_id, line_no FROM ({finding_requests('few')}) ORDER BY ALL"
        ).fetchall()
        old = con.execute(
            """
            SELECT f.finding_id, d.source_id, d.line_no FROM few f
            JOIN detect_requests d ON d.actor_id = f.actor_id AND d.ts BETWEEN f.first_seen AND f.last_seen
              AND (f.route IS NULL OR d.route = f.route)
              AND (len(f.record_ids) = 0 OR list_contains(f.record_ids, d.record_id))
            ORDER BY ALL"""
        ).fetchall()
    assert new == old and len(old) >= 50
