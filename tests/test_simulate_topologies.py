"""The simulator's topology scenarios: each writes the network it claims, and truth (schema 2) agrees.

Checked from the written logs (nginx lines re-read with test_simulate's regex, the app log's JSON),
not from the simulator's own objects.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from forensics.cli import SIMULATE_SCENARIOS, main
from forensics.errors import SimulationError
from forensics.simulate import REGISTRY, simulate
from forensics.simulate.scenarios import CARRIER_POOL, CLINIC_NAT, OFFICE_NAT, PROXY
from tests.test_simulate import RECORD, decompress, nginx_rows, utc

PARAMS: dict[str, Any] = {"seed": 2, "days": 30, "scale": 0.3}
LOGIN = "/api/v2/auth/login"


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("topo") / "case"
    simulate(out, scenarios=["all"], **PARAMS)
    return out, json.loads((out / "truth.json").read_text())


@pytest.fixture(scope="module")
def app(mixed: tuple[Path, dict[str, Any]]) -> list[dict[str, Any]]:
    out, _ = mixed
    rows: list[dict[str, Any]] = []
    for f in sorted((out / "evidence" / "app").iterdir()):
        rows += [json.loads(x) for x in decompress(f).decode().splitlines()]
    return rows


def actors(truth: dict[str, Any], scenario: str) -> list[dict[str, Any]]:
    return [a for a in truth["actors"] if a["scenario"] == scenario]


def digest(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(decompress(p)).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_cli_offers_the_registry_and_writes_schema_2(tmp_path: Path) -> None:
    assert list(SIMULATE_SCENARIOS) == [*REGISTRY, "all"]
    res = CliRunner().invoke(
        main,
        [
            "simulate",
            str(tmp_path / "s"),
            "--days",
            "25",
            "--scale",
            "0.2",
            "--scenario",
            "rotating-cloud",
            "--scenario",
            "low-slow-insider",
        ],
    )
    assert res.exit_code == 0, res.output
    truth = json.loads((tmp_path / "s" / "truth.json").read_text())
    assert truth["schema"] == "forensics.truth/2"
    assert [s["name"] for s in truth["scenarios"]] == ["rotating-cloud", "low-slow-insider"]
    assert "ownership.csv" in res.output
    res = CliRunner().invoke(main, ["simulate", str(tmp_path / "t"), "--scenario", "office"])
    assert res.exit_code == 2 and "office-nat" in res.output
    with pytest.raises(SimulationError, match="unknown"):
        simulate(tmp_path / "u", days=25, scenarios=["nope"])


def test_default_output_unchanged(tmp_path: Path) -> None:
    """The base case's bytes (decompressed) as they were before scenarios existed."""
    simulate(tmp_path / "base", seed=3, days=25, scale=0.2)
    got = hashlib.sha256(json.dumps(digest(tmp_path / "base"), sort_keys=True).encode()).hexdigest()
    assert got == BASE_DIGEST
    assert json.loads((tmp_path / "base" / "truth.json").read_text())["schema"] == "forensics.truth/1"


BASE_DIGEST = "f3161311b60e108718afcc0a2f46bd96ab898cca56822d83dfc5b7b53e75a4eb"  # computed at 23ab370


def test_deterministic_and_order_free(tmp_path: Path) -> None:
    simulate(tmp_path / "a", scenarios=["pausing-scraper", "office-nat"], **PARAMS)
    simulate(tmp_path / "b", scenarios=["office-nat", "pausing-scraper", "office-nat"], **PARAMS)
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    simulate(tmp_path / "c", scenarios=["office-nat", "pausing-scraper"], **{**PARAMS, "seed": 5})
    assert (
        digest(tmp_path / "c")["evidence/edge/nginx/access.log"]
        != digest(tmp_path / "a")["evidence/edge/nginx/access.log"]
    )


def test_truth_taken_by_and_shared_addresses(mixed: tuple[Path, dict[str, Any]]) -> None:
    _, truth = mixed
    by_name = {a["name"]: a for a in truth["actors"]}
    taken = truth["records"]["taken_by"]
    assert sorted(taken, key=int) == truth["records"]["unauthorised"]
    for rid, names in taken.items():
        assert names and all(rid in by_name[n]["records_unauthorised"] for n in names)
    kinds = {a["name"]: a["kind"] for a in truth["actors"]}
    assert {n for n, k in kinds.items() if k == "attacker"} == {
        "scanner-nuclei", "enumerator", "enumerator-distributed", "insider", "bulk",
        "scraper", "rotating-cloud", "clinic-insider",
    }  # fmt: skip
    for ip, names in truth["shared_addresses"].items():
        assert len(names) > 1 and all(ip in by_name[n]["ips"] for n in names)
    assert {OFFICE_NAT, PROXY, CLINIC_NAT, *CARRIER_POOL} <= set(truth["shared_addresses"])


def test_office_nat_many_people_one_address_and_browser(
    mixed: tuple[Path, dict[str, Any]], app: list[dict[str, Any]]
) -> None:
    out, truth = mixed
    rows = [m for _, m in nginx_rows(out, truth) if m["ip"] == OFFICE_NAT]
    assert len({m["ua"] for m in rows}) <= 2
    logins = Counter(
        (ts.date(), m["ua"])
        for ts, m in nginx_rows(out, truth)
        if m["ip"] == OFFICE_NAT and m["target"] == LOGIN and m["status"] == "200"
    )
    assert max(logins.values()) >= 3  # three people log in from one address+browser on one day
    readers = {r["user_id"] for r in app if r["request"]["client_ip"] == OFFICE_NAT and r["user_id"]}
    assert len(readers) >= 5 and readers == {p for a in actors(truth, "office-nat") for p in a["principals"]}


def test_proxy_and_carrier_carry_unrelated_traffic(
    mixed: tuple[Path, dict[str, Any]], app: list[dict[str, Any]]
) -> None:
    out, truth = mixed
    rows = [m for _, m in nginx_rows(out, truth)]
    proxy_paths = {m["target"] for m in rows if m["ip"] == PROXY}
    assert {"/about", LOGIN} <= proxy_paths and any(RECORD.match(p) for p in proxy_paths)
    assert any(m["ip"] == PROXY and m["target"] == LOGIN and m["status"] == "401" for m in rows)
    for ip in CARRIER_POOL:
        users = {r["user_id"] for r in app if r["request"]["client_ip"] == ip and r["user_id"]}
        assert len(users) >= 2, ip
        assert any(m["ip"] == ip and m["target"] == "/" for m in rows), ip  # unrelated subscribers


def test_roaming_tokens_outlive_addresses(
    mixed: tuple[Path, dict[str, Any]], app: list[dict[str, Any]]
) -> None:
    _, truth = mixed
    login_ips = {r["request"]["client_ip"] for r in app if r["request"]["path"] == LOGIN}
    users = actors(truth, "roaming-app")
    assert users
    for a in users:
        (p,) = a["principals"]
        ips = {r["request"]["client_ip"] for r in app if r["user_id"] == p}
        assert len(ips) >= 3, a["name"]
        never_logged_in = ips - login_ips
        reads = [
            r
            for r in app
            if r["user_id"] == p
            and r["request"]["client_ip"] in never_logged_in
            and RECORD.match(r["request"]["path"])
        ]
        assert never_logged_in and reads, a["name"]


def test_monitor_behind_the_clinic_nat(mixed: tuple[Path, dict[str, Any]], app: list[dict[str, Any]]) -> None:
    out, truth = mixed
    end = utc(truth["window"]["end"])
    rows = [(ts, m) for ts, m in nginx_rows(out, truth) if m["ip"] == CLINIC_NAT]
    monitor = [(ts, m) for ts, m in rows if "Blackbox" in m["ua"]]
    canary = {m["target"] for _, m in monitor if RECORD.match(m["target"])}
    assert len(canary) == 1 and any(ts > end and m["status"] == "200" for ts, m in monitor)
    staff = {r["user_id"] for r in app if r["request"]["client_ip"] == CLINIC_NAT and r["user_id"]}
    assert len(staff) >= 2 and any(m["target"] == LOGIN for _, m in rows)
    assert all(a["kind"] == "benign" for a in actors(truth, "monitor-nat"))


def test_pausing_scraper_pauses_and_resumes_its_walk(mixed: tuple[Path, dict[str, Any]]) -> None:
    out, truth = mixed
    (a,) = actors(truth, "pausing-scraper")
    reads = sorted(
        (
            (ts, m)
            for ts, m in nginx_rows(out, truth)
            if m["ua"] in a["user_agents"] and RECORD.match(m["target"])
        ),
        key=lambda x: x[0],
    )
    ids = [int(RECORD.match(m["target"])[1]) for _, m in reads]  # type: ignore[index]
    assert ids == list(range(ids[0], ids[0] + len(ids)))  # one walk, continued after every pause
    pauses = [b[0] - a_[0] for a_, b in pairwise(reads) if b[0] - a_[0] > timedelta(days=1)]
    assert len(pauses) >= 2 and all(p >= timedelta(days=2) for p in pauses)
    assert len({m["ip"] for _, m in reads}) >= 2
    assert sorted(a["records_unauthorised"], key=int) == [str(i) for i in ids]


def test_rotating_cloud_many_addresses_one_range_short_time(mixed: tuple[Path, dict[str, Any]]) -> None:
    out, truth = mixed
    (a,) = actors(truth, "rotating-cloud")
    ips = set(a["ips"])
    reads = sorted(
        ((ts, m) for ts, m in nginx_rows(out, truth) if m["ip"] in ips and RECORD.match(m["target"])),
        key=lambda x: x[0],
    )
    ids = sorted(int(RECORD.match(m["target"])[1]) for _, m in reads)  # type: ignore[index]
    assert ids == list(range(ids[0], ids[0] + len(ids))) and len(ids) >= 30
    assert len(ips) >= len(ids) // 3 and len(a["user_agents"]) >= 4
    per_ip = Counter(m["ip"] for _, m in reads)
    assert max(per_ip.values()) <= 3  # every caller is low-rate
    assert reads[-1][0] - reads[0][0] < timedelta(hours=2)


def test_low_slow_insider_and_the_ownership_map(
    mixed: tuple[Path, dict[str, Any]], app: list[dict[str, Any]]
) -> None:
    out, truth = mixed
    own = truth["ownership"]
    assert own["file"] == "ownership.csv"
    with (out / own["file"]).open() as f:
        owner = {r["record_id"]: r["owner"] for r in csv.DictReader(f)}
    with (out / own["teams_file"]).open() as f:
        team_of = {r["principal"]: r["team"] for r in csv.DictReader(f)}
    assert len(owner) == own["records"] and set(team_of.values()) == set(own["teams"])
    clinic = actors(truth, "low-slow-insider")
    (insider,) = [a for a in clinic if a["kind"] == "attacker"]
    (p,) = insider["principals"]
    bad = set(insider["records_unauthorised"])
    reads: dict[str, set[str]] = defaultdict(set)
    per_day: Counter[Any] = Counter()
    for r in app:
        m = RECORD.match(r["request"]["path"])
        if m and r["user_id"] and r["response"]["status"] == 200:
            reads[r["user_id"]].add(m[1])
            if r["user_id"] == p and m[1] in bad:
                per_day[datetime.fromisoformat(r["timestamp"].replace("Z", "+00:00")).date()] += 1
    # a handful of strangers' records every working day for weeks, each opened once
    assert len(per_day) >= 8 and all(3 <= n <= 8 for n in per_day.values())
    assert sum(per_day.values()) == len(bad) and bad <= reads[p]
    # the map agrees with truth: everything else a clinician read is their team's; the insider's are not
    for a in clinic:
        (q,) = a["principals"]
        mine = reads[q] - bad if q == p else reads[q]
        assert a["team"] == team_of[q] and all(owner[r] == team_of[q] for r in mine), a["name"]
    assert all(owner[r] != team_of[p] for r in bad)
    # legitimate consults exist: a record of the team read by two of its members (panels are disjoint)
    for team in own["teams"]:
        members = [q for q, t in team_of.items() if t == team]
        shared = [r for r in owner if owner[r] == team and sum(r in reads[q] for q in members) > 1]
        assert shared, team


def test_every_logged_caller_is_a_truth_actor(
    mixed: tuple[Path, dict[str, Any]], app: list[dict[str, Any]]
) -> None:
    """Each nginx line's address+browser, and each app-log principal, belongs to a truth actor."""
    out, truth = mixed
    odd = {"198.51.100.23", "2001:db8::7"}
    pairs = {(ip, ua) for a in truth["actors"] for ip in a["ips"] for ua in a["user_agents"]}
    rows = [m for _, m in nginx_rows(out, truth) if m["ip"] not in odd]
    assert rows and all((m["ip"], m["ua"]) in pairs for m in rows)
    principals = {p for a in truth["actors"] for p in a["principals"]}
    assert {r["user_id"] for r in app if r["user_id"]} == principals
