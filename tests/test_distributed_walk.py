"""H11 at route level: an enumerator that changes address AND user agent on every request.

Nginx combined logs written in tmp_path, ingested, then detected/assessed: the path a responder
takes. The probe that found this gap sent 1M requests from 1M addresses and browser strings
reading ids 0..999,999 and got no finding at all; this is that probe at 2,000 lines.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from forensics import Case, ingest
from forensics.assess.compute import InvestigateOptions, assess
from forensics.assess.window import Window
from forensics.derive.actors import ActorOptions
from forensics.derive.auth import AuthOptions
from forensics.derive.routes import Endpoint, RouteOptions
from forensics.detectors import REGISTRY
from forensics.detectors.run import DetectOptions, run_detectors

T0 = datetime(2024, 3, 12, 10, tzinfo=UTC)
READ = Endpoint.parse("GET /api/v2/referrals/{id}")
LOGIN = Endpoint.parse("POST /api/v2/auth/login")
WINDOW = Window(T0 - timedelta(hours=1), T0 + timedelta(days=1))


def line(ip: str, t: datetime, target: str, ua: str, status: int = 200, method: str = "GET") -> str:
    return f'{ip} - - [{t:%d/%b/%Y:%H:%M:%S} +0000] "{method} {target} HTTP/1.1" {status} 2000 "-" "{ua}"'


def rotating_probe(n: int) -> list[str]:
    """One login by a member of staff, then n reads of ids 0..n-1, each from a new address and
    a new browser string, n per hour."""
    out = [line("198.51.100.7", T0, "/api/v2/auth/login", "Mozilla/5.0 staff", method="POST")]
    for i in range(n):
        ip = f"{11 + i // 65536}.{(i // 256) % 256}.{i % 256}.7"
        ua = f"Mozilla/5.0 (X11; Linux x86_64; rv:{100 + i}) Gecko/20100101 Firefox/{100 + i % 40}.0"
        out.append(line(ip, T0 + timedelta(seconds=1 + i * 3600 / n), f"/api/v2/referrals/{i}", ua))
    return out


def random_readers(n: int, seed: int = 3) -> list[str]:
    """n unrelated callers, each reading 2 random ids of 0..n-1 within the same hour."""
    import random

    rng = random.Random(seed)
    out = []
    for i in range(n):
        ip, ua = f"81.2.{i // 250}.{1 + i % 250}", f"Mozilla/5.0 Chrome/{90 + i % 30}.0 u{i}"
        for k in range(2):
            t = T0 + timedelta(seconds=rng.uniform(0, 3600))
            out.append(line(ip, t + timedelta(seconds=k), f"/api/v2/referrals/{rng.randrange(n)}", ua))
    return out


def ingested(tmp_path: Path, lines: list[str]) -> Case:
    log = tmp_path / "access.log"
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    case = Case.create(tmp_path / "case.duckdb")
    ingest(case, [log])
    return case


def options(login: bool) -> DetectOptions:
    return DetectOptions(
        routes=RouteOptions((READ,)), actors=ActorOptions(AuthOptions(logins=(LOGIN,) if login else ()))
    )


def test_rotating_every_request_is_a_route_level_finding(tmp_path: Path) -> None:
    """Without a login endpoint nothing says the callers were unauthenticated, so nothing links
    them (crowd_walk needs unauthenticated reads): the route itself speaks."""
    case = ingested(tmp_path, rotating_probe(2000))
    run_detectors(case, options(False))
    rows = case.sql("SELECT * FROM findings WHERE detector = 'distributed_walk'").to_dict(orient="records")
    assert len(rows) == 1
    f = rows[0]
    assert f["actor_id"] is None or f["actor_id"] != f["actor_id"]  # NULL: about the endpoint
    assert f["route"] == "GET /api/v2/referrals/{id}" and f["records"] == 2000 and f["requests"] == 2000
    metrics = json.loads(f["metrics"])
    assert metrics["min_id"] == 0 and metrics["max_id"] == 1999 and metrics["callers"] == 2000
    assert not bool(f["unauthorised"])  # unauthorised only on positive evidence
    case.close()


def test_rotating_unauthenticated_reads_become_one_actor(tmp_path: Path) -> None:
    """With a login endpoint nobody used, the 2,000 callers' unauthenticated reads are one crowd
    walk (linking.py rule crowd_walk): one unauthorised actor, so no route-level finding."""
    case = ingested(tmp_path, rotating_probe(2000))
    run_detectors(case, options(True))
    unauth = case.sql("SELECT * FROM findings WHERE detector = 'unauth_read'").to_dict(orient="records")
    assert len(unauth) == 1 and unauth[0]["records"] == 2000 and bool(unauth[0]["unauthorised"])
    actor = unauth[0]["actor_id"]
    links = case.sql(f"SELECT rule, count(*) AS n FROM actor_links WHERE actor_id = {int(actor)} GROUP BY 1")
    assert links.to_dict(orient="records") == [{"rule": "crowd_walk", "n": 1999}]
    assert case.sql("SELECT count(*) AS n FROM findings WHERE detector = 'distributed_walk'")["n"][0] == 0
    case.close()


def test_route_level_records_confirmed_only_with_authentication_evidence(tmp_path: Path) -> None:
    case = ingested(tmp_path, rotating_probe(600))
    with_login = assess(case, InvestigateOptions(detect=options(True), window=WINDOW)).document
    assert with_login["records"]["confirmed"] == 600 and with_login["verdict"] == "confirmed"
    without = assess(case, InvestigateOptions(detect=options(False), window=WINDOW)).document
    assert without["records"]["confirmed"] == 0 and without["records"]["probable"] == 600
    case.close()


def test_many_random_readers_are_not_a_walk(tmp_path: Path) -> None:
    case = ingested(tmp_path, random_readers(1500))
    run_detectors(case, options(True))
    assert "distributed_walk" in REGISTRY  # the detector ran, and found nothing
    assert case.sql("SELECT count(*) AS n FROM findings WHERE detector = 'distributed_walk'")["n"][0] == 0
    case.close()


def test_a_crowd_walk_over_ids_read_days_before_is_still_one_actor(tmp_path: Path) -> None:
    """Two days before, another caller read every 7th id of the same range: each of those ids'
    *first* read is not the crowd's, yet the crowd's own reads still walk the range in order."""
    early = T0 - timedelta(days=2)
    before = [
        line(
            "203.0.113.9", early + timedelta(seconds=2 * k), f"/api/v2/referrals/{i}", "python-requests/2.31"
        )
        for k, i in enumerate(range(0, 600, 7))
    ]
    case = ingested(tmp_path, before + rotating_probe(600))
    run_detectors(case, options(True))
    actors = case.sql(
        "SELECT count(DISTINCT actor_id) AS n FROM detect_requests WHERE client_ip <> '203.0.113.9'"
        " AND route = 'GET /api/v2/referrals/{id}'"
    )["n"][0]
    assert actors == 1
    case.close()


def test_random_readers_are_never_linked_by_a_crowd_walk(tmp_path: Path) -> None:
    case = ingested(tmp_path, random_readers(1500))
    run_detectors(case, options(True))
    assert case.sql("SELECT count(*) AS n FROM actor_links WHERE rule = 'crowd_walk'")["n"][0] == 0
    assert case.sql("SELECT count(DISTINCT actor_id) AS n FROM detect_requests")["n"][0] == 1500
    case.close()
