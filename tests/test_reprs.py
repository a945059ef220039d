"""Case and Assessment show themselves in a notebook (escaped HTML) and in a console (one line);
a case opens in a Jupyter kernel without ipywidgets (tests/test_notebook.py runs one)."""

from __future__ import annotations

import threading
from pathlib import Path

import duckdb
import pytest

from forensics import Case
from forensics.assess.assessment import Assessment
from forensics.store.db import _track_progress, connect
from tests.conftest import SAMPLE_LOGS

HOSTILE = "<script>alert(1)</script>\x1b[31m"


def test_case_reprs_escape_and_count(tmp_path: Path) -> None:
    path = tmp_path / "<b>case&.duckdb"
    with Case.create(path) as case:
        from forensics import IngestOptions, ingest

        ingest(case, [SAMPLE_LOGS / "evidence" / "edge"], IngestOptions())
        n = case.sql("select count(*) n from events")["n"][0]
        pending = case.con.execute("select 42")  # a result not fetched yet survives the repr
        page = case._repr_html_()
        text = repr(case)
        assert pending.fetchone() == (42,)
    assert "<b>case" not in page and "&lt;b&gt;case&amp;.duckdb" in page
    assert f"{n:,}" in page and f"{n:,} events" in text
    assert "UTC" in text and text.startswith("<Case ")
    assert repr(case).endswith("(closed)>") and "closed" in case._repr_html_()


def test_assessment_reprs_escape() -> None:
    doc = {
        "verdict": "confirmed",
        "verdict_text": HOSTILE,
        "window": {"start": "2024-03-13T12:09:36Z", "end": "2024-04-09T13:23:56Z"},
        "coverage": {"grade": "B", "ratio": 0.9731},
        "records": {"confirmed": 1234, "probable": 5, "at_risk": 9000},
        "actor_counts": {"unauthorised": 2},
        "listed": {"findings_total": 17},
    }
    a = Assessment(doc)
    page = a._repr_html_()
    assert "<script>" not in page and "&lt;script&gt;" in page and "\x1b" not in page
    assert "1,234 confirmed, 5 probable, 9,000 at risk" in page and "97.3%" in page
    text = repr(a)
    assert "\x1b" not in text and "confirmed" in text and len(text.splitlines()) == 1
    assert "Assessment" in repr(Assessment({}))  # an empty document does not break it


def test_query_progress_is_tracked_outside_jupyter(tmp_path: Path) -> None:
    con = connect(tmp_path / "c.duckdb")
    seen: list[float] = []
    stop = threading.Event()

    def poll() -> None:
        while not stop.wait(0.005):
            seen.append(con.query_progress())

    t = threading.Thread(target=poll)
    t.start()
    try:
        con.execute("select count(*) from range(60000000) r where hash(r.range) % 7 = 0").fetchall()
    finally:
        stop.set()
        t.join()
    assert max(seen) > 0  # ingest's per-batch progress depends on it
    assert con.execute("select current_setting('enable_progress_bar_print')").fetchone() == (False,)


def test_progress_settings_refused_leave_the_case_usable() -> None:
    class Refusing:  # DuckDB in a Jupyter kernel without ipywidgets refuses every progress setting
        def __init__(self) -> None:
            self.calls: list[str] = []

        def execute(self, sql: str) -> None:
            self.calls.append(sql)
            raise duckdb.InvalidInputException(
                "Invalid Input Error: Could not change the progress bar setting because: "
                "'required package 'ipywidgets' is missing, which is needed to render progress bars in Jupyter'"
            )

    con = Refusing()
    _track_progress(con)  # type: ignore[arg-type]
    assert con.calls[0] == "SET enable_progress_bar = true"

    class Other(Refusing):
        def execute(self, sql: str) -> None:
            raise duckdb.InvalidInputException("something else")

    with pytest.raises(duckdb.InvalidInputException):
        _track_progress(Other())  # type: ignore[arg-type]
