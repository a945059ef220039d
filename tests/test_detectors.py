"""Each detector on a small case where it must fire and a benign one where it must stay silent.

Expected values are what the rows were built to contain (record ids, counts, times), never
copied from a run.
"""

from __future__ import annotations

import json
import random
from datetime import timedelta
from typing import Any

import pytest

from forensics import Case
from forensics.derive.actors import ActorOptions
from forensics.derive.auth import AuthOptions
from forensics.derive.network import Trusted
from forensics.derive.routes import Endpoint, RouteOptions
from forensics.detectors import REGISTRY
from forensics.detectors.run import DetectOptions, findings, flagged_actors, parse_threshold, run_detectors
from forensics.errors import DetectorError, ForensicsError
from tests.eventrows import T0, add_events

LOGIN = Endpoint.parse("POST /api/v2/auth/login")
READ = Endpoint.parse("GET /api/v2/referrals/{id}")
LIST = Endpoint.parse("GET /api/v2/referrals")
CHROME = "Mozilla/5.0 (Windows NT 10.0) Chrome/122.0"
OPTS = DetectOptions(
    routes=RouteOptions((READ, LIST)),
    actors=ActorOptions(AuthOptions(logins=(LOGIN,), trusted=(Trusted.parse("partner=51.140.12.32/29"),))),
)


def at(minutes: float) -> Any:
    return T0 + timedelta(minutes=minutes)


def read(ip: str, minutes: float, rid: int, ua: str = CHROME, **kw: Any) -> dict[str, Any]:
    return {
        "path": f"/api/v2/referrals/{rid}",
        "client_ip": ip,
        "user_agent": ua,
        "ts": at(minutes),
        "bytes_sent": 4000,
        **kw,
    }


def login(ip: str, minutes: float, ua: str = CHROME) -> dict[str, Any]:
    return {
        "method": "POST",
        "path": "/api/v2/auth/login",
        "client_ip": ip,
        "user_agent": ua,
        "ts": at(minutes),
    }


def run(case: Case, rows: list[dict[str, Any]], opts: DetectOptions = OPTS) -> Any:
    add_events(case, rows)
    run_detectors(case, opts)
    return findings(case)


def of(df: Any, detector: str) -> Any:
    return df[df["detector"] == detector].reset_index(drop=True)


def ids(values: Any) -> list[str]:
    return sorted(str(v) for v in values)


def background(rng: random.Random, days: int = 3) -> list[dict[str, Any]]:
    """Clinicians who log in and read a few of their own records: benign for every detector."""
    rows: list[dict[str, Any]] = []
    for day in range(days):
        for n in range(6):
            ip = f"10.20.1.{n + 1}"
            t = day * 1440 + 9 * 60 + n
            rows.append(login(ip, t))
            for k in range(8):
                rows.append(read(ip, t + 5 + k * 7, 1000 + n * 20 + rng.randint(0, 9), principal=None))
    return rows


# 1 unauthenticated record reads -------------------------------------------------------------


def test_unauth_read_fires_on_records_given_to_a_caller_without_authentication(case: Case) -> None:
    rows = [
        *background(random.Random(1)),
        read("198.51.100.7", 3000, 51),
        read("198.51.100.7", 3001, 52),
        read("198.51.100.7", 3002, 51),
        read("198.51.100.7", 3003, 53, status=404),
        read("198.51.100.7", 3004, 54, status=401),
    ]
    f = of(run(case, rows), "unauth_read")
    assert len(f) == 1
    assert ids(f["record_ids"][0]) == ["51", "52"] and f["records"][0] == 2 and f["requests"][0] == 3
    assert bool(f["unauthorised"][0]) and f["severity"][0] == "high"
    assert f["first_seen"][0] == at(3000) and f["last_seen"][0] == at(3002)
    assert f["route"][0] == "GET /api/v2/referrals/{id}"
    assert len(f["sample"][0]) == 3 and {s["line_no"] for s in f["sample"][0]} == {
        len(rows) - 4,
        len(rows) - 3,
        len(rows) - 2,
    }


def test_unauth_read_silent_for_logged_in_trusted_refused_and_empty_answers(case: Case) -> None:
    rows = [
        *background(random.Random(2)),
        read("51.140.12.34", 100, 7, ua="PartnerSync/3.2"),  # trusted partner
        read("198.51.100.8", 200, 8, status=401),  # refused
        read("198.51.100.8", 201, 9, status=204),  # no content
        read("198.51.100.9", 202, 10, principal="dr.who"),  # logged principal
    ]
    assert of(run(case, rows), "unauth_read").empty


# 2 out of scope -----------------------------------------------------------------------------


def own_reads(principal: str, panel: list[int], days: int, rng: random.Random) -> list[dict[str, Any]]:
    rows = []
    for day in range(days):
        panel.append(panel[-1] + 1)  # one new patient a day
        for k in range(10):
            rows.append(read("10.0.0.5", day * 1440 + 600 + k, rng.choice(panel), principal=principal))
    return rows


def test_out_of_scope_fires_on_a_day_far_outside_the_callers_own_records(case: Case) -> None:
    rng = random.Random(3)
    panel = list(range(100, 110))
    rows = own_reads("nurse.x", panel, 12, rng)
    strangers = list(range(9000, 9040))
    rows += [
        read("10.0.0.5", 12 * 1440 + 600 + i, rid, principal="nurse.x") for i, rid in enumerate(strangers)
    ]
    rows += [read("10.0.0.5", 12 * 1440 + 700, panel[0], principal="nurse.x")]  # an own record that day
    f = of(run(case, rows), "out_of_scope")
    assert len(f) == 1 and bool(f["unauthorised"][0])
    assert ids(f["record_ids"][0]) == ids(strangers)
    m = json.loads(f["metrics"][0])
    assert m["caller"] == "principal nurse.x" and m["max_one_off_records_per_day"] == 40


def test_out_of_scope_silent_for_steady_work_and_a_new_callers_first_day(case: Case) -> None:
    rng = random.Random(4)
    rows = own_reads("nurse.y", list(range(100, 110)), 12, rng)
    rows += own_reads("dr.z", list(range(200, 210)), 12, rng)
    # a new clinician's first day: 40 records new to them, which they keep coming back to
    caseload = [7000 + i for i in range(40)]
    rows += [read("10.0.0.6", 1440 + 600 + i, rid, principal="dr.new") for i, rid in enumerate(caseload)]
    for day in range(2, 12):
        rows += [
            read("10.0.0.6", day * 1440 + 600 + k, rng.choice(caseload), principal="dr.new")
            for k in range(40)
        ]
    rows += [read("10.0.0.6", 12 * 1440 + 600 + i, rid, principal="dr.new") for i, rid in enumerate(caseload)]
    assert of(run(case, rows), "out_of_scope").empty


# 3 distinct-record outliers -----------------------------------------------------------------


def test_distinct_outlier_fires_on_a_burst_far_above_the_routes_callers(case: Case) -> None:
    rng = random.Random(5)
    rows = []
    for n in range(40):  # 40 unauthenticated callers reading 1-3 records per 10 minutes
        for k in range(3):
            rows.append(read(f"192.0.2.{n}", n * 30 + k, rng.randint(1, 99999), ua=f"App/{n}"))
    burst = rng.sample(range(1, 99999), 25)
    rows += [read("203.0.113.77", 5000 + i / 5, rid, ua="Harvester/1") for i, rid in enumerate(burst)]
    f = of(run(case, rows), "distinct_outlier")
    assert len(f) == 1
    assert ids(f["record_ids"][0]) == ids(burst)
    m = json.loads(f["metrics"][0])
    assert m["max_distinct_per_bucket"] == 25 and m["distinct_per_request"] == 1.0
    assert f["severity"][0] == "high"


def test_distinct_outlier_of_an_authenticated_caller_is_medium(case: Case) -> None:
    rng = random.Random(5)
    rows = [
        read(f"192.0.2.{n}", n * 30 + k, rng.randint(1, 99999), ua=f"App/{n}")
        for n in range(40)
        for k in range(3)
    ]
    burst = rng.sample(range(1, 99999), 25)
    rows += [read("203.0.113.77", 5000 + i / 5, rid, principal="dr.who") for i, rid in enumerate(burst)]
    f = of(run(case, rows), "distinct_outlier")
    assert len(f) == 1 and f["severity"][0] == "medium"


def test_distinct_outlier_silent_below_the_floor(case: Case) -> None:
    rng = random.Random(6)
    rows = [read("203.0.113.78", i, rng.randint(1, 99999), ua="Busy/1") for i in range(14)]
    rows += [read(f"192.0.2.{n}", 300 + n, n) for n in range(40)]
    assert of(run(case, rows), "distinct_outlier").empty


# 4 enumeration ------------------------------------------------------------------------------


def test_enumeration_fires_on_a_sequential_walk_and_counts_its_probes(case: Case) -> None:
    walk = [
        read("203.0.113.9", i * 0.5, 5000 + i, ua="python-requests/2.31", status=404 if i % 10 == 9 else 200)
        for i in range(40)
    ]
    f = of(run(case, background(random.Random(7)) + walk), "enumeration")
    assert len(f) == 1
    m = json.loads(f["metrics"][0])
    assert (m["min_id"], m["max_id"], m["ids_requested"]) == (5000, 5039, 40)
    assert (m["s2xx"], m["s404"], m["small_steps"], m["longest_run"]) == (36, 4, 1.0, 40)
    assert ids(f["record_ids"][0]) == ids(str(5000 + i) for i in range(40) if i % 10 != 9)


def test_enumeration_distributed_over_one_networks_rotating_addresses(case: Case) -> None:
    ua = "Mozilla/5.0 (X11; Linux x86_64; rv:124.0) Gecko/20100101 Firefox/124.0"
    walk = [read(f"185.220.101.{10 + i % 8}", 1000 + i, 7000 + i, ua=ua) for i in range(48)]
    f = of(run(case, walk), "enumeration")
    assert len(f) == 1
    m = json.loads(f["metrics"][0])
    assert m["ips"] == 8 and m["distributed"] is True and m["max_ip_share"] == 0.125


def test_enumeration_silent_for_random_reads(case: Case) -> None:
    rng = random.Random(8)
    rows = [read("203.0.113.10", i * 3, rng.randint(1, 10**6)) for i in range(60)]
    assert of(run(case, rows), "enumeration").empty


# 5 bulk -------------------------------------------------------------------------------------


def page(ip: str, minutes: float, limit: int, nbytes: int, **kw: Any) -> dict[str, Any]:
    return {
        "path": "/api/v2/referrals",
        "query": f"limit={limit}&page=1",
        "client_ip": ip,
        "user_agent": CHROME,
        "ts": at(minutes),
        "bytes_sent": nbytes,
        **kw,
    }


def test_bulk_estimates_records_in_a_big_page(case: Case) -> None:
    rows = [read("10.1.1.1", i, 100 + i, principal="dr.a") for i in range(20)]  # 4000-byte records
    rows += [page("198.51.100.20", 100, 500, 2_000_000)]
    f = of(run(case, rows), "bulk")
    assert len(f) == 1 and f["estimated_records"][0] == 500 and bool(f["unauthorised"][0])
    assert f["route"][0] == "GET /api/v2/referrals"


def test_bulk_without_page_parameter_estimates_from_bytes(case: Case) -> None:
    rows = [read("10.1.1.1", i, 100 + i, principal="dr.a") for i in range(20)]
    rows += [{"path": "/api/v2/referrals", "client_ip": "198.51.100.21", "ts": at(50), "bytes_sent": 400_000}]
    f = of(run(case, rows), "bulk")
    assert len(f) == 1 and f["estimated_records"][0] == 100


def test_bulk_silent_for_small_pages_and_logged_in_callers(case: Case) -> None:
    rows = [read("10.1.1.1", i, 100 + i, principal="dr.a") for i in range(20)]
    rows += [page("198.51.100.22", 60, 500, 300)]  # an empty page
    rows += [page("198.51.100.23", 61, 10, 40_000)]  # 10 records
    rows += [page("10.1.1.1", 62, 500, 2_000_000, principal="dr.a")]  # a clinician's export
    assert of(run(case, rows), "bulk").empty


# 6 scanners ---------------------------------------------------------------------------------


def test_scanner_noise_is_low_unless_it_also_got_records(case: Case) -> None:
    rows = [
        {
            "path": "/.env",
            "client_ip": "45.155.205.1",
            "user_agent": "Mozilla/5.0 zgrab/0.x",
            "status": 404,
            "ts": at(1),
        },
        {
            "path": "/search",
            "query": "q=1%27%20OR%201=1",
            "client_ip": "45.155.205.2",
            "user_agent": "curl/8",
            "status": 400,
            "ts": at(2),
        },
        {
            "path": "/wp-login.php",
            "client_ip": "45.155.205.3",
            "user_agent": "Go-http-client/1.1",
            "status": 404,
            "ts": at(3),
        },
        read("45.155.205.3", 4, 777, ua="Go-http-client/1.1"),
    ]
    f = of(run(case, rows + background(random.Random(9), days=1)), "scanner")
    got = {
        tuple(ips): (sev, list(recs))
        for ips, sev, recs in zip(f["ips"], f["severity"], f["record_ids"], strict=True)
    }
    assert got == {
        ("45.155.205.1",): ("low", []),
        ("45.155.205.2",): ("low", []),
        ("45.155.205.3",): ("high", ["777"]),
    }
    assert json.loads(f["metrics"][1])["payloads"] == 1


def test_scanner_sample_is_its_first_five_requests_in_time(case: Case) -> None:
    # eight probes logged out of time order: the sample is the five earliest, earliest first
    minutes = [50, 10, 70, 30, 20, 80, 40, 60]
    rows = [
        {
            "path": f"/.env{k}",
            "client_ip": "45.155.205.9",
            "user_agent": "zgrab/0.x",
            "status": 404,
            "ts": at(m),
        }
        for k, m in enumerate(minutes)
    ]
    f = of(run(case, rows), "scanner")
    assert len(f) == 1 and f["requests"][0] == 8
    line_of = {m: n for n, m in enumerate(minutes, 1)}  # line numbers follow the rows
    assert [s["line_no"] for s in f["sample"][0]] == [line_of[m] for m in (10, 20, 30, 40, 50)]


def test_scanner_silent_for_ordinary_browsing(case: Case) -> None:
    assert of(run(case, background(random.Random(10))), "scanner").empty


# 7 status flip ------------------------------------------------------------------------------


def test_status_flip_finds_when_unauthenticated_reads_opened_and_closed(case: Case) -> None:
    day = 1440
    rows = [
        read("198.51.100.30", 10, 1, status=401),
        read("198.51.100.31", day + 10, 2, status=403),
        read("198.51.100.32", 2 * day, 3),
        read("198.51.100.33", 3 * day, 4),
        read("198.51.100.34", 4 * day, 5, status=401),
        read("198.51.100.35", 5 * day, 6, status=401),
    ]
    f = of(run(case, rows), "status_flip")
    assert len(f) == 1 and pd_isna(f["actor_id"][0])
    m = json.loads(f["metrics"][0])
    iso = "%Y-%m-%dT%H:%M:%SZ"
    assert m["last_denied_before"] == at(day + 10).strftime(iso)
    assert m["first_allowed"] == at(2 * day).strftime(iso)
    assert m["last_allowed"] == at(3 * day).strftime(iso)
    assert m["first_denied_after"] == at(4 * day).strftime(iso)
    assert (m["allowed"], m["denied"], m["denied_between"]) == (2, 4, 0)


def test_status_flip_silent_when_unauthenticated_reads_are_always_refused(case: Case) -> None:
    rows = [read(f"198.51.100.{i}", i * 60, i, status=401) for i in range(10)]
    assert of(run(case, rows + background(random.Random(11), 1)), "status_flip").empty


def pd_isna(v: object) -> bool:
    import pandas as pd

    return bool(pd.isna(v))


# the framework ------------------------------------------------------------------------------


def test_every_detector_has_metadata_and_runs_with_overrides(case: Case) -> None:
    for det in REGISTRY.values():
        assert det.title and det.meaning and det.references and det.false_positives and det.signals
        assert det.severity in ("high", "medium", "low", "info")
    walk = [read("203.0.113.9", i, 5000 + i, ua="curl/8") for i in range(30)]
    add_events(case, walk)
    run_detectors(case, OPTS)
    assert "enumeration" in set(findings(case)["detector"])
    strict = DetectOptions(OPTS.routes, OPTS.actors, thresholds={"enumeration": {"min_requests": 31}})
    run_detectors(case, strict)
    assert "enumeration" not in set(findings(case)["detector"])
    runs = case.sql("SELECT detector, thresholds, sql FROM detector_runs WHERE detector = 'enumeration'")
    assert json.loads(runs["thresholds"][0])["min_requests"] == 31 and ">= 31" in runs["sql"][0]


def test_flagged_actors_unions_records_and_orders_unauthorised_first(case: Case) -> None:
    rows = [read("203.0.113.9", i, 5000 + i, ua="curl/8") for i in range(30)]
    rows += [
        {"path": "/.env", "client_ip": "45.155.205.1", "user_agent": "zgrab", "status": 404, "ts": at(99)}
    ]
    add_events(case, rows)
    run_detectors(case, OPTS)
    fa = flagged_actors(case)
    assert list(fa["unauthorised"]) == [True, False]
    assert fa["unauthorised_records_n"][0] == 30 and set(fa["detectors"][0]) >= {"unauth_read", "enumeration"}
    # findings counts findings (not findings times the records they name)
    per_actor = case.sql("SELECT actor_id, count(*) AS n FROM findings GROUP BY actor_id")
    n = dict(zip(per_actor["actor_id"], per_actor["n"], strict=True))
    assert [int(x) for x in fa["findings"]] == [n[a] for a in fa["actor_id"]]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("enumeraton.min_requests=3", "did you mean enumeration"),
        ("enumeration.min_request=3", "did you mean min_requests"),
        ("enumeration.min_requests=lots", "not a number"),
        ("enumeration=3", "DETECTOR.THRESHOLD=NUMBER"),
    ],
)
def test_threshold_errors_say_what_to_type(text: str, message: str) -> None:
    with pytest.raises(DetectorError, match=message):
        parse_threshold(text)


def test_findings_before_detection_is_a_clear_error(case: Case) -> None:
    with pytest.raises(ForensicsError, match="forensics detect"):
        findings(case)


def test_cli_detect_groups_by_actor_escapes_log_text_and_explains_errors(tmp_path: Any) -> None:
    from click.testing import CliRunner

    from forensics.cli import main

    path = tmp_path / "case.duckdb"
    evil = "curl/8 \x1b[2J\x1b]0;pwned\x07"
    with Case.create(path) as case:
        add_events(case, [read("203.0.113.9", i, 5000 + i, ua=evil) for i in range(25)])
    runner = CliRunner()
    args = [
        "detect",
        str(path),
        "--endpoint",
        "GET /api/v2/referrals/{id}",
        "--login",
        "POST /api/v2/auth/login",
    ]
    res = runner.invoke(main, args)
    assert res.exit_code == 0, res.output
    assert "actor 1 — UNAUTHORISED" in res.output and "25 records received unauthorised" in res.output
    assert "\x1b" not in res.output and "\\x1b[2J" in res.output
    assert "enumeration" in res.output and "unauth_read" in res.output
    res = runner.invoke(main, [*args, "--json"])
    got = json.loads(res.stdout)
    assert {f["detector"] for f in got} == {
        "unauth_read",
        "enumeration",
        "status_flip",
    }  # 10 per 10 min: no outlier
    res = runner.invoke(main, [*args, "--threshold", "enumeration.min_request=3"])
    assert res.exit_code == 1 and "did you mean min_requests" in res.output
    res = runner.invoke(main, ["detect", str(path), "--list"])
    assert all(f"{d}." in res.output for d in REGISTRY)
