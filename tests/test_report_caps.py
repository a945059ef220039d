"""Section 7 of the report shows at most ``UNAUTHORISED_ROWS`` unauthorised actors and says how many
more there are (actors.csv lists them all): 1,500 of them made a 110-page PDF that took 21 s."""

from __future__ import annotations

from typing import Any, cast

from forensics.assess.document import FindingsDocument
from forensics.publish.report.blocks import Table
from forensics.publish.report.sections.actors import actors_section, shown_actors
from forensics.publish.report.sections.common import ACTOR_ROWS, UNAUTHORISED_ROWS


def _actor(i: int, bad: bool) -> dict[str, Any]:
    return {
        "id": i, "classification": "unknown", "hosting": [], "unauthorised": bad, "unauthorised_by": [1] if bad else [],
        "ips": [f"203.0.113.{i % 250}"], "user_agents": ["curl/8"], "principals": [], "requests": 10, "records": 3,
        "confirmed_records": 3, "probable_records": 0, "estimated_records": None, "bytes": 1000,
        "first_seen": "2024-01-01T00:00:00+00:00", "last_seen": "2024-01-02T00:00:00+00:00",
    }  # fmt: skip


def _doc(bad: int, good: int) -> FindingsDocument:
    actors = [_actor(i, True) for i in range(bad)] + [_actor(bad + i, False) for i in range(good)]
    return cast(FindingsDocument, {
        "actors": actors, "actor_counts": {"unauthorised": bad},
        "listed": {"max": 5000, "actors_total": len(actors), "findings_total": 0},
    })  # fmt: skip


def _table(doc: FindingsDocument) -> Table:
    return next(b for b in actors_section(doc).blocks if isinstance(b, Table))


def test_many_unauthorised_actors_are_capped_and_counted() -> None:
    doc = _doc(UNAUTHORISED_ROWS + 50, 20)
    shown = shown_actors(doc)
    assert sum(a["unauthorised"] for a in shown) == UNAUTHORISED_ROWS
    assert [a["id"] for a in shown[:UNAUTHORISED_ROWS]] == list(range(UNAUTHORISED_ROWS))  # the doc's order
    table = _table(doc)
    assert len(table.rows) == UNAUTHORISED_ROWS + ACTOR_ROWS
    assert "50 of them unauthorised" in table.more
    assert "actors.csv" in table.more


def test_a_few_unauthorised_actors_are_all_shown() -> None:
    doc = _doc(12, 20)
    table = _table(doc)
    assert len(table.rows) == 12 + ACTOR_ROWS
    assert "none of them shown unauthorised" in table.more
