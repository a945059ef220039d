"""A batch of files parsed together: events go straight into the case, rejects keep their lines.

Events are inserted from the parse before the batch's sources are recorded, so these tests pin
what that must not change: line numbers and reject reasons per file in a batch whose source ids
are not consecutive, and nothing left behind when the batch fails half way.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from forensics import Case, ingest
from forensics.ingest import batch
from tests.conftest import COMBINED, write_lines


def test_batch_keeps_each_files_events_and_rejects_apart(case: Case, tmp_path: Path) -> None:
    a = [COMBINED[0], "", "garbage here", COMBINED[1], COMBINED[0], COMBINED[2]]
    c = [COMBINED[2], COMBINED[1], "not a log line", COMBINED[0]]
    write_lines(tmp_path / "ev" / "a.log", a)
    write_lines(tmp_path / "ev" / "b.log", a)  # a's copy: takes source id 2 between a and c
    write_lines(tmp_path / "ev" / "c.log", c)
    report = ingest(case, [tmp_path / "ev"])
    assert [(r.path.name, r.status, r.source_id) for r in report.results] == [
        ("a.log", "ingested", 1),
        ("b.log", "duplicate", 2),
        ("c.log", "ingested", 3),
    ]
    assert [(r.lines, r.events, r.rejects) for r in report.results] == [(6, 4, 2), (0, 0, 0), (4, 3, 1)]
    events = case.con.execute(
        "SELECT source_id, line_no, client_ip, status FROM events ORDER BY ALL"
    ).fetchall()
    assert events == [
        (1, 1, "203.0.113.9", 200),
        (1, 4, "203.0.113.9", 200),
        (1, 5, "203.0.113.9", 200),
        (1, 6, "2001:db8::1", 302),
        (3, 1, "2001:db8::1", 302),
        (3, 2, "203.0.113.9", 200),
        (3, 4, "203.0.113.9", 200),
    ]
    rejects = case.con.execute("SELECT source_id, line_no, line, reason FROM rejects ORDER BY ALL").fetchall()
    assert rejects == [
        (1, 2, "", "empty line"),
        (1, 3, "garbage here", "not a combined line"),
        (3, 3, "not a log line", "not a combined line"),
    ]
    src = case.con.execute(
        "SELECT source_id, lines, events, rejects, first_ts, last_ts FROM sources "
        "WHERE status = 'ingested' ORDER BY 1"
    ).fetchall()
    # COMBINED[0] is 2024-03-12 10:00:00 UTC; COMBINED[2] is 10:00:02 +0100 on 12 July = 09:00:02 UTC
    assert [(r[0], r[1], r[2], r[3]) for r in src] == [(1, 6, 4, 2), (3, 4, 3, 1)]
    assert [(r[4].isoformat(), r[5].isoformat()) for r in src] == [
        ("2024-03-12T10:00:00+00:00", "2024-07-12T09:00:02+00:00"),
        ("2024-03-12T10:00:00+00:00", "2024-07-12T09:00:02+00:00"),
    ]


def test_a_batch_failing_after_its_events_were_inserted_leaves_nothing(
    case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_lines(tmp_path / "a.log", [*COMBINED, "garbage"])

    def boom(*a: object, **k: object) -> None:
        raise duckdb.InvalidInputException("simulated failure after the events insert")

    monkeypatch.setattr(batch, "_format_warnings", boom)
    (res,) = ingest(case, [path]).results
    assert res.status == "error"
    assert "simulated failure" in (res.message or "")
    counts = case.con.execute(
        "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM rejects)"
    ).fetchone()
    assert counts == (0, 0)
    assert case.sources()["status"].tolist() == ["error"]
    settings = case.con.execute(
        "SELECT current_setting('preserve_insertion_order'), current_setting('disabled_optimizers')"
    ).fetchone()
    assert settings == (True, "")
    # the failed file ingests whole on a retry once the failure is gone
    monkeypatch.undo()
    (again,) = ingest(case, [path]).results
    assert (again.status, again.lines, again.events, again.rejects) == ("ingested", 4, 3, 1)


def test_a_sql_error_inside_the_parse_is_reported_as_itself(
    case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DuckDB aborts the transaction on a query error; restoring settings must not replace that
    error with "Current transaction is aborted" (DuckDB 2.0.1 refused `FROM (alt)` that way)."""
    path = write_lines(tmp_path / "a.log", [*COMBINED, "garbage"])

    def bad_sql(con: duckdb.DuckDBPyConnection, items: object, options: object) -> None:
        con.execute("SELECT * FROM (no_such_table_here)")

    monkeypatch.setattr(batch, "_second_chance", bad_sql)
    (res,) = ingest(case, [path]).results
    assert res.status == "error"
    assert "no_such_table_here" in (res.message or "") and "aborted" not in (res.message or "")
    settings = case.con.execute(
        "SELECT current_setting('preserve_insertion_order'), current_setting('disabled_optimizers')"
    ).fetchone()
    assert settings == (True, "")
    monkeypatch.undo()
    (again,) = ingest(case, [path]).results
    assert (again.status, again.events, again.rejects) == ("ingested", 3, 1)
