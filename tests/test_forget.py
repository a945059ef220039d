"""`forensics forget`: undo a source's ingest, custody-logged, so the file can be ingested again."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from forensics import Case, IngestOptions, forget, ingest
from forensics.assess.compute import InvestigateOptions, assess
from forensics.assess.window import Window
from forensics.cli import main
from forensics.derive.routes import derive_routes, route_summary
from forensics.errors import ForensicsError
from forensics.ingest.forget import DERIVED_TABLES, DERIVED_VIEWS, UnknownSourceError
from forensics.ingest.verify import verify
from forensics.store.custody import check_chain
from tests.conftest import COMBINED, ROOT, write_lines

# nginx main lines (combined plus "$http_x_forwarded_for") forced as combined: every line parses,
# but the forwarded address is read into the user agent. (A format that reads fewer than half of a
# file's entry lines is refused at ingest, so this is the kind of wrong ingest forget undoes.)
LINES = [line + ' "198.51.100.7"' for line in COMBINED]
WRONG = IngestOptions(format="combined")
RIGHT = IngestOptions(format="nginx_main")


@pytest.fixture
def wrong(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A case where access.log (and its copy) was ingested with the wrong --format."""
    log = write_lines(tmp_path / "ev" / "access.log", LINES)
    copy = write_lines(tmp_path / "copy" / "access.log", LINES)
    case_path = tmp_path / "case.duckdb"
    with Case.create(case_path) as case:
        report = ingest(case, [log, copy], WRONG)
        assert report.statuses() == {"ingested": 1, "duplicate": 1}
        assert report.total("events") == len(LINES) and report.total("rejects") == 0
        again = ingest(case, [log], RIGHT)
        assert again.statuses() == {"already-ingested": 1}  # the problem forget solves
    return case_path, log, copy


def _statuses(case: Case) -> list[tuple[int, str, int | None]]:
    rows = case.con.execute("SELECT source_id, status, duplicate_of FROM sources ORDER BY 1").fetchall()
    return [(int(a), str(b), c) for a, b, c in rows]


def test_forget_then_reingest_with_the_right_format(wrong: tuple[Path, Path, Path]) -> None:
    case_path, log, copy = wrong
    with Case.open(case_path) as case:
        report = forget(case, [str(log)], reason="wrong --format")
        assert [(s.source_id, s.why) for s in report.sources] == [(1, "asked"), (2, "duplicate of source 1")]
        assert (report.events, report.rejects) == (len(LINES), 0)
        assert case.con.execute("SELECT count(*) FROM events").fetchone() == (0,)
        assert _statuses(case) == [(1, "forgotten", None), (2, "forgotten", 1)]
        assert verify(case).ok

        again = ingest(case, [log, copy], RIGHT)
        assert again.statuses() == {"ingested": 1, "duplicate": 1}
        assert again.total("events") == len(LINES) and again.total("rejects") == 0
        assert set(case.sql("SELECT forwarded_for FROM events")["forwarded_for"]) == {"198.51.100.7"}
        assert _statuses(case)[2:] == [(3, "ingested", None), (4, "duplicate", 3)]
        # the forgotten rows stay: the file's hash and history
        kept = case.con.execute("SELECT sha256, path FROM sources WHERE status = 'forgotten' ORDER BY 1")
        assert len(kept.fetchall()) == 2
        # re-running is still idempotent
        assert ingest(case, [log, copy]).statuses() == {"already-ingested": 2}
        result = verify(case)
        assert result.ok, (result.digests, result.accounting, result.chain)
        assert {e.source_id for e in result.evidence} == {3, 4}  # forgotten files are not re-hashed


def test_forget_a_duplicate_alone_and_a_retry_after_an_error_keeps_the_forgotten_row(
    wrong: tuple[Path, Path, Path],
) -> None:
    case_path, log, copy = wrong
    with Case.open(case_path) as case:
        report = forget(case, [2])
        assert [s.source_id for s in report.sources] == [2]
        assert _statuses(case) == [(1, "ingested", None), (2, "forgotten", 1)]
        assert ingest(case, [copy]).statuses() == {"duplicate": 1}  # read again: a copy of source 1
        forget(case, [1])  # source 1 and its new copy 3
        assert _statuses(case) == [(1, "forgotten", None), (2, "forgotten", 1), (3, "forgotten", 1)]
        # a failed retry (recorded as an error with the same path and hash), then a good one:
        # the good one replaces the error record, never the forgotten one
        assert ingest(case, [log], IngestOptions(format="haproxy")).statuses() == {"error": 1}
        assert ingest(case, [log]).statuses() == {"ingested": 1}
        assert [s for _, s, _ in _statuses(case)] == ["forgotten"] * 3 + ["ingested"]
        assert verify(case).ok


def test_the_case_log_has_one_entry_with_ids_paths_hashes_and_counts(wrong: tuple[Path, Path, Path]) -> None:
    case_path, log, copy = wrong
    with Case.open(case_path) as case:
        before = check_chain(case.con).entries
        report = forget(case, [str(log)], reason="wrong --format")
        rows = case.con.execute(
            "SELECT seq, command, parameters FROM case_log WHERE seq > ?", [before]
        ).fetchall()
        assert [(r[0], r[1]) for r in rows] == [(report.log_seq, "forget")]
        doc = json.loads(rows[0][2])
        assert doc["asked"] == [str(log)] and doc["reason"] == "wrong --format"
        assert doc["rejects_removed"] == 0 and doc["events_removed"] == len(LINES)
        by_id = {s["source_id"]: s for s in doc["sources"]}
        assert by_id[1]["path"] == str(log) and by_id[2]["path"] == str(copy)
        assert by_id[1]["sha256"] == by_id[2]["sha256"] and len(by_id[1]["sha256"]) == 64
        assert (by_id[1]["status"], by_id[1]["format"], by_id[1]["lines"]) == ("ingested", "combined", 3)
        chain = check_chain(case.con)
        assert not chain.problems and not chain.unfinished  # one entry, never "started"
        assert case.log_head() == report.log_head


def test_unknown_sources_are_refused_with_candidates_and_nothing_changes(
    wrong: tuple[Path, Path, Path],
) -> None:
    case_path, log, _ = wrong
    with Case.open(case_path) as case:
        entries = check_chain(case.con).entries
        with pytest.raises(UnknownSourceError, match=re.escape(f"close candidates: 1 {log}")):
            forget(case, ["access.log"])
        with pytest.raises(UnknownSourceError, match="source ids run from 1 to 2"):
            forget(case, [1, "99"])  # all or nothing: source 1 is not forgotten either
        with pytest.raises(UnknownSourceError, match="no source given"):
            forget(case, [])
        assert _statuses(case) == [(1, "ingested", None), (2, "duplicate", 1)]
        assert check_chain(case.con).entries == entries
        forget(case, [1])
        with pytest.raises(UnknownSourceError, match="already forgotten"):
            forget(case, [str(log)])


def test_a_source_that_was_not_ingested_is_refused(tmp_path: Path, case: Case) -> None:
    bad = write_lines(tmp_path / "ev" / "syslog", ["Mar 12 10:00:00 host kernel: nothing to see"] * 3)
    ingest(case, [bad])
    with pytest.raises(UnknownSourceError, match="was not ingested \\(status unrecognised\\)"):
        forget(case, [str(bad)])


def test_forged_forgotten_row_fails_verify(wrong: tuple[Path, Path, Path]) -> None:
    """Marking a row forgotten (and deleting its lines) by hand, without the logged forget, shows."""
    case_path, _, _ = wrong
    with Case.open(case_path) as case:
        case.con.execute("DELETE FROM events WHERE source_id = 1")
        case.con.execute("UPDATE sources SET status = 'forgotten', events = 0 WHERE source_id = 1")
        result = verify(case)
        assert not result.ok and result.digests


def test_derived_tables_are_dropped_and_investigate_derives_them_again(tmp_path: Path, case: Case) -> None:
    t0 = datetime(2024, 3, 12, 10, 0, tzinfo=UTC)
    lines = [
        f"203.0.113.{i % 7} - - [{(t0 + timedelta(minutes=i)):%d/%b/%Y:%H:%M:%S} +0000] "
        f'"GET /api/v2/referrals/{i} HTTP/1.1" 200 1832 "-" "curl/8.4.0"'
        for i in range(200)
    ]
    good = write_lines(tmp_path / "ev" / "good.log", lines)
    other = write_lines(tmp_path / "ev" / "other.log", COMBINED)
    ingest(case, [good, other])
    opts = InvestigateOptions(window=Window(t0, t0 + timedelta(minutes=200)))
    assess(case, opts)
    derived = {
        str(r[0])
        for r in case.con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE NOT temporary "
            "UNION ALL SELECT view_name FROM duckdb_views() WHERE NOT temporary AND NOT internal"
        ).fetchall()
    } - {"meta", "sources", "events", "rejects", "case_log", "asn_ranges"}  # the network database stays
    assert derived and derived <= {*DERIVED_TABLES, *DERIVED_VIEWS}
    report = forget(case, [str(other)])
    assert set(report.dropped) == derived
    with pytest.raises(ForensicsError, match="no routes derived"):
        route_summary(case)
    doc = assess(case, opts).document  # investigate derives everything again
    assert doc["coverage"]["events"] == len(lines)
    derive_routes(case)
    assert int(route_summary(case)["requests"].sum()) == len(lines)


def test_every_persistent_derived_table_is_known() -> None:
    """Every non-TEMP table or view the package creates is one forget drops (or a core table)."""
    made = set()
    for path in (ROOT / "forensics").rglob("*.py"):
        text = path.read_text()
        made |= set(re.findall(r"CREATE OR REPLACE (?:TABLE|VIEW) (\w+)", text))
    staging = {"staged", "staged_all", "parsed", "alt"}  # batch.py, dropped in the same transaction
    staging |= {"asn_ranges", "_asn_stage"}  # asndb.py: the user's network database, not from events
    assert made - staging <= {*DERIVED_TABLES, *DERIVED_VIEWS}, made - staging


def test_cli_forget_then_ingest_and_verify(wrong: tuple[Path, Path, Path]) -> None:
    case_path, log, copy = wrong
    runner = CliRunner()
    out = runner.invoke(main, ["forget", str(case_path), "nope.log"])
    assert out.exit_code == 1 and "no source 'nope.log'" in out.output
    out = runner.invoke(main, ["forget", str(case_path), "access.log"])
    assert out.exit_code == 1 and f"close candidates: 1 {log}" in out.output
    out = runner.invoke(main, ["forget", str(case_path), str(log), "--reason", "wrong format"])
    assert out.exit_code == 0, out.output
    assert f"forgot source 1: 3 events, 0 rejects removed — {log}" in out.output
    assert f"forgot source 2 (duplicate of source 1): 0 events, 0 rejects removed — {copy}" in out.output
    assert "case log head:" in out.output
    out = runner.invoke(main, ["ingest", str(case_path), str(log), "--format", "nginx_main"])
    assert out.exit_code == 0 and "1 ingested" in out.output and "events: 3" in out.output
    out = runner.invoke(main, ["sources", str(case_path)])
    assert "forgotten" in out.output and "wrong format" in out.output
    out = runner.invoke(main, ["verify", str(case_path)])
    assert out.exit_code == 0 and "OK: verified" in out.output, out.output
