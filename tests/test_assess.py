"""The assessment's semantics on small explicit cases: what counts, what never mixes, determinism."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from forensics import Case, affected_records
from forensics.assess.compute import InvestigateOptions, assess
from forensics.assess.window import Window
from forensics.derive.actors import ActorOptions
from forensics.derive.auth import AuthOptions
from forensics.derive.network import Trusted
from forensics.derive.routes import Endpoint, RouteOptions
from forensics.detectors.run import DetectOptions
from forensics.errors import WindowError
from forensics.publish.writers import write_outputs
from tests.eventrows import add_events

T0 = datetime(2024, 5, 6, 0, 0, tzinfo=UTC)  # a Monday
CHROME = "Mozilla/5.0 (Windows NT 10.0) Chrome/122.0"
DETECT = DetectOptions(
    routes=RouteOptions(
        (Endpoint.parse("GET /api/v2/referrals/{id}"), Endpoint.parse("GET /api/v2/referrals"))
    ),
    actors=ActorOptions(
        AuthOptions(
            logins=(Endpoint.parse("POST /api/v2/auth/login"),),
            trusted=(Trusted.parse("partner=51.140.12.32/29"),),
        )
    ),
)
WINDOW = Window(T0, T0 + timedelta(days=3))


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def read(ip: str, minutes: float, rid: int | str, ua: str = CHROME, **kw: Any) -> dict[str, Any]:
    return {
        "path": f"/api/v2/referrals/{rid}",
        "client_ip": ip,
        "user_agent": ua,
        "ts": at(minutes),
        "bytes_sent": 4000,
        **kw,
    }


def monitor(days: int = 3) -> list[dict[str, Any]]:
    """A health check every 5 minutes: the logs are continuous unless a test cuts them."""
    return [
        {
            "path": "/api/v2/health",
            "client_ip": "69.162.124.230",
            "user_agent": "UptimeRobot/2.0",
            "ts": at(m),
            "bytes_sent": 20,
        }
        for m in range(0, days * 1440, 5)
    ]


def staff() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for day in range(3):
        t = day * 1440 + 9 * 60
        rows.append(
            {
                "method": "POST",
                "path": "/api/v2/auth/login",
                "client_ip": "10.20.1.5",
                "user_agent": CHROME,
                "ts": at(t),
            }
        )
        rows += [read("10.20.1.5", t + 1 + k, 100 + k % 5) for k in range(10)]
    return rows


def partner() -> list[dict[str, Any]]:
    return [read("51.140.12.34", 1440 + 120 + i / 10, 300 + i, ua="PartnerSync/3.2") for i in range(50)]


def run(case: Case, rows: list[dict[str, Any]], window: Window | None = WINDOW, **kw: Any) -> Any:
    add_events(case, sorted(rows, key=lambda r: r["ts"]))
    return assess(case, InvestigateOptions(detect=DETECT, window=window, **kw))


def test_confirmed_records_are_distinct_ids_delivered_to_unauthorised_callers(case: Case) -> None:
    attack = [read("203.0.113.9", 2000 + i, 500 + i, ua="curl/8") for i in range(30)]
    attack += [read("198.51.100.4", 2500 + i, 500 + i, ua="python-requests/2") for i in range(5)]  # same ids
    attack += [read("203.0.113.9", 2600, 999, ua="curl/8", status=404)]  # no record delivered
    result = run(case, monitor() + staff() + partner() + attack)
    doc = result.document
    assert doc["verdict"] == "confirmed"
    assert doc["records"]["confirmed"] == 30  # one record read by two actors is one record
    assert doc["records"]["probable"] == 0 and doc["records"]["estimated_bulk"] == 0
    assert doc["requests"]["unauthorised"] == 35
    rows = affected_records(case, result)
    assert sorted(rows["record_id"]) == sorted(str(500 + i) for i in range(30))
    assert set(rows["basis"]) == {"confirmed"}
    both = rows[rows["record_id"] == "500"].iloc[0]
    assert int(both["requests"]) == 2 and len(str(both["actors"]).split()) == 2
    # partners and clinicians reading their own records are not affected records
    benign = {str(300 + i) for i in range(50)} | {str(100 + k) for k in range(5)}
    assert not set(rows["record_id"]) & benign
    unauthorised = [a for a in doc["actors"] if a["unauthorised"]]
    assert sorted(a["ips"][0] for a in unauthorised) == ["198.51.100.4", "203.0.113.9"]


def test_reads_outside_the_window_do_not_count(case: Case) -> None:
    attack = [read("203.0.113.9", 2000 + i, 500 + i, ua="curl/8") for i in range(10)]
    late = [
        read("203.0.113.9", 3 * 1440 + 60 + i, 700 + i, ua="curl/8") for i in range(10)
    ]  # after the window
    doc = run(case, monitor(4) + staff() + attack + late).document
    assert doc["records"]["confirmed"] == 10


def test_bulk_records_are_estimated_apart_never_added_to_confirmed(case: Case) -> None:
    page = {
        "path": "/api/v2/referrals",
        "query": "limit=500",
        "client_ip": "198.51.100.20",
        "user_agent": CHROME,
        "ts": at(3000),
        "bytes_sent": 2_000_000,
    }
    doc = run(case, [*monitor(), *staff(), page]).document
    assert doc["records"]["confirmed"] == 0 and doc["records"]["estimated_bulk"] == 500
    assert doc["verdict"] == "confirmed"


def test_no_attacker_gives_no_evidence_with_the_limits_named(case: Case) -> None:
    rows = monitor() + staff() + partner()
    late_window = Window(T0 - timedelta(days=3), T0 + timedelta(days=3))  # logs start halfway
    doc = run(case, rows, window=late_window).document
    assert doc["verdict"] == "no_evidence"
    assert "does not show that no data was accessed" in doc["verdict_text"]
    assert doc["records"]["confirmed"] == 0
    assert doc["coverage"]["ratio"] == pytest.approx(0.5, abs=0.01)
    assert "we can neither confirm nor exclude access then" in doc["bounds"]["statement"]
    assert doc["coverage"]["gaps"][0]["start"] == "2024-05-03T00:00:00Z"


def test_window_is_proposed_from_the_status_flip_or_asked_for(case: Case) -> None:
    rows = monitor() + staff()
    rows += [
        read("198.51.100.1", 100, 1, status=401),
        read("198.51.100.2", 1500, 2),
        read("198.51.100.3", 1600, 3),
        read("198.51.100.4", 2000, 4, status=401),
    ]
    doc = run(case, rows, window=None).document
    assert doc["window"]["source"] == "proposed"
    assert (doc["window"]["start"], doc["window"]["end"]) == ("2024-05-06T01:40:00Z", "2024-05-07T09:20:00Z")
    assert doc["records"]["confirmed"] == 2


def test_without_window_or_flip_evidence_the_user_is_asked(case: Case) -> None:
    with pytest.raises(WindowError, match="give --window"):
        run(case, monitor(1) + staff(), window=None)


def test_outputs_are_deterministic_and_spreadsheet_safe(case: Case, tmp_path: Path) -> None:
    evil = "=cmd|' -C calc'!A0"  # a record id from the path: no slash
    rows = [
        *monitor(),
        *staff(),
        *[read("203.0.113.9", 2000 + i, 500 + i, ua="curl/8") for i in range(5)],
        read("203.0.113.9", 2100, evil, ua="<script>alert(1)</script>"),
    ]
    result = run(case, rows)
    first = write_outputs(case, result, tmp_path / "a")
    again = assess(case, InvestigateOptions(detect=DETECT, window=WINDOW))
    second = write_outputs(case, again, tmp_path / "b")
    for name in ("findings.json", "affected_records.csv", "timeline.jsonl"):
        assert first[name].read_bytes() == second[name].read_bytes(), name
    with first["affected_records.csv"].open(newline="") as fh:
        cells = [row["record_id"] for row in csv.DictReader(fh)]
    assert "'" + evil in cells and evil not in cells
    doc = json.loads(first["findings.json"].read_text())
    assert doc["schema"] == "forensics.findings/2" and doc["records"]["confirmed"] == 6
    assert (tmp_path / "a").stat().st_mode & 0o777 == 0o700
    assert first["findings.json"].stat().st_mode & 0o777 == 0o600
    lines = first["timeline.jsonl"].read_text().splitlines()
    event = json.loads(lines[0])
    assert {"message", "datetime", "timestamp_desc"} <= event.keys() and event["datetime"].endswith("Z")
    assert len(lines) == 6


def test_endpoints_matching_nothing_are_named_with_close_routes(case: Case) -> None:
    from dataclasses import replace

    from forensics.errors import EndpointError

    add_events(case, monitor(1) + staff())
    typo = replace(DETECT, routes=RouteOptions((Endpoint.parse("GET /api/v2/referal/{id}"),)))
    with pytest.raises(
        EndpointError, match=r"'GET /api/v2/referal/\{id\}' \(closest routes: GET /api/v2/refer"
    ) as refused:
        assess(case, InvestigateOptions(detect=typo, window=WINDOW))
    assert refused.value.candidates["GET /api/v2/referal/{id}"][0].startswith(
        "GET /api/v2/referrals/"
    )  # as data
    doc = assess(case, InvestigateOptions(detect=DETECT, window=WINDOW)).document  # one of two matches
    assert list(doc["parameters"]["endpoints_unmatched"]) == ["GET /api/v2/referrals"]
    assert any("GET /api/v2/referrals matched no request" in x for x in doc["limitations"])


def test_affected_records_are_written_in_bounded_batches(
    case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """affected_records.csv never sits whole in Python: the writer reads a batch (here one DuckDB
    vector, 2,048 rows) at a time, and the file is the same list in the same order."""
    from forensics.assess import window_tables

    stolen = 5000
    attack = [read("203.0.113.9", 2000 + i / 10, 10_000 + i, ua="curl/8") for i in range(stolen)]
    result = run(case, monitor() + staff() + attack)
    assert result.document["records"]["confirmed"] == stolen
    seen: list[int] = []
    real = window_tables.affected_batches

    def counted(*args: Any, **kw: Any) -> Any:
        for batch in real(*args, **kw):
            seen.append(len(batch))
            yield batch

    monkeypatch.setattr(window_tables, "AFFECTED_BATCH_VECTORS", 1)
    monkeypatch.setattr(window_tables, "affected_batches", counted)
    written = write_outputs(case, result, tmp_path / "r")
    assert len(seen) == 3 and max(seen) == 2048 and sum(seen) == stolen
    with written["affected_records.csv"].open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    # numeric order, once each
    assert [r["record_id"] for r in rows] == [str(10_000 + i) for i in range(stolen)]
    assert {r["basis"] for r in rows} == {"confirmed"} and {r["requests"] for r in rows} == {"1"}
    whole = affected_records(case, result)
    assert list(whole["record_id"]) == [r["record_id"] for r in rows]


def test_writers_reuse_the_window_tables_made_for_the_assessment(
    case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The report's writers read the window tables again: on the connection that made them for
    this assessment they are reused, not made again; once another window replaced them (a second
    assessment), the first assessment's rows are made again from its own window."""
    from forensics.assess import compute, window_tables

    attack = [read("203.0.113.9", 2000 + i, 500 + i, ua="curl/8") for i in range(10)]
    late = [read("203.0.113.9", 3 * 1440 + 60 + i, 700 + i, ua="curl/8") for i in range(10)]
    first = run(case, monitor(4) + staff() + attack + late)
    made: list[object] = []
    real = compute.make_window_tables

    def counted(*args: Any) -> str:
        made.append(args[1:])
        return real(*args)

    monkeypatch.setattr(window_tables, "make_window_tables", counted)
    write_outputs(case, first, tmp_path / "a")
    assert made == []
    ids = sorted(affected_records(case, first)["record_id"])
    assert ids == sorted(str(500 + i) for i in range(10)) and made == []
    wide = Window(WINDOW.start, WINDOW.start + timedelta(days=4))
    second = assess(case, InvestigateOptions(detect=DETECT, window=wide))
    assert second.document["records"]["confirmed"] == 20
    assert sorted(affected_records(case, first)["record_id"]) == ids  # the first window's again
    assert len(made) == 1
    assert len(affected_records(case, second)) == 20 and len(made) == 2
