"""Who is the caller when the log names no user: shared addresses, one person across days, token
clients that change address, and the scraper that never logged in — each rule on a small nginx
combined log written here, ingested and investigated."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from forensics import Case, affected_records, ingest
from forensics.assess.compute import InvestigateOptions, assess
from forensics.assess.window import Window
from forensics.derive.actors import ActorOptions
from forensics.derive.auth import EXPIRED, NETWORK, NO_LOGIN, RESUMED, ROAMING, STILL_ANSWERED, AuthOptions
from forensics.derive.linking import RULES
from forensics.derive.routes import Endpoint, RouteOptions
from forensics.detectors import REGISTRY
from forensics.detectors.base import RECORD_IDS_SQL, SAMPLE_SQL
from forensics.detectors.run import DetectOptions, run_detectors

T0 = datetime(2024, 5, 6, tzinfo=UTC)  # a Monday
DAYS = 10
DETECT = DetectOptions(
    routes=RouteOptions((Endpoint.parse("GET /api/v2/referrals/{id}"),)),
    actors=ActorOptions(AuthOptions(logins=(Endpoint.parse("POST /api/v2/auth/login"),))),
)
WINDOW = Window(T0, T0 + timedelta(days=DAYS))
CORP = [  # the office's managed browsers: a few identical strings for everybody
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 "
    "Safari/537.36 Edg/122.0.2365.92",
]
HOME_UA = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.3 Safari/605.1.15"
APP_UA = "RefApp/3.1 (iPhone; iOS 17.4) CFNetwork/1490.0.4 Darwin/23.2.0"
SCRAPER_UA = "python-requests/2.31.0"
OFFICE, HOME, SCRAPER = "81.2.69.160", "90.1.2.3", "185.220.101.7"


def line(t: datetime, ip: str, ua: str, method: str, path: str, status: int = 200, size: int = 2048) -> tuple:
    text = f'{ip} - - [{t:%d/%b/%Y:%H:%M:%S} +0000] "{method} {path} HTTP/1.1" {status} {size} "-" "{ua}"'
    return (t, text)


def login(t: datetime, ip: str, ua: str) -> tuple:
    return line(t, ip, ua, "POST", "/api/v2/auth/login", 200, 312)


def read(t: datetime, ip: str, ua: str, rid: int, status: int = 200) -> tuple:
    return line(t, ip, ua, "GET", f"/api/v2/referrals/{rid}", status, 4096 if status == 200 else 90)


def monitor() -> list[tuple]:
    """A health check every 10 minutes: the logs cover the whole window."""
    ua = "Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)"
    return [
        line(T0 + timedelta(minutes=m), "69.162.124.230", ua, "GET", "/api/v2/health", 200, 15)
        for m in range(0, DAYS * 1440, 10)
    ]


def staff_day(
    rng: random.Random, day: int, ip: str, ua: str, panel: list[int], start_min: int, reads: int = 12
) -> list[tuple]:
    """One working day: log in, then read one's own panel over the day."""
    t0 = T0 + timedelta(days=day, minutes=start_min)
    out = [login(t0, ip, ua)]
    for k in sorted(rng.uniform(2, 420) for _ in range(reads)):
        out.append(read(t0 + timedelta(minutes=k), ip, ua, rng.choice(panel)))
    return out


def office(rng: random.Random, people: int = 6) -> list[tuple]:
    """Staff behind one office NAT, on a few identical browser strings, each reading their own
    panel: everyone logs in within minutes of the others every morning."""
    out: list[tuple] = []
    for day in range(DAYS):
        for k in range(people):
            out += staff_day(
                rng,
                day,
                OFFICE,
                CORP[k % len(CORP)],
                list(range(1000 + 20 * k, 1020 + 20 * k)),
                8 * 60 + 3 * k,
            )
    return out


def lone(rng: random.Random) -> list[tuple]:
    """A member of staff alone on her own address: one login a day."""
    return [
        r for day in range(DAYS) for r in staff_day(rng, day, HOME, HOME_UA, list(range(2000, 2015)), 9 * 60)
    ]


def scraper(day: int = 3, n: int = 300) -> list[tuple]:
    """An unauthenticated scraper with its own tool user agent: never logs in, walks the ids."""
    t0 = T0 + timedelta(days=day, hours=2)
    return [read(t0 + timedelta(seconds=2 * i), SCRAPER, SCRAPER_UA, 5000 + i) for i in range(n)]


def investigate(case: Case, tmp_path: Path, rows: list[tuple]) -> Any:
    log = tmp_path / "logs" / "access.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("\n".join(text for _, text in sorted(rows)) + "\n", encoding="utf-8")
    ingest(case, [log.parent])
    return assess(case, InvestigateOptions(detect=DETECT, window=WINDOW))


def actors_of(case: Case, ip: str) -> list[int]:
    rows = case.con.execute(
        "SELECT DISTINCT actor_id FROM detect_requests WHERE client_ip = ? ORDER BY 1", [ip]
    ).fetchall()
    return [int(r[0]) for r in rows]


def evidence_of(case: Case, *ips: str) -> dict[str, str]:
    """Per client address: the auth evidence of (one of) its requests."""
    rows = case.con.execute(
        "SELECT client_ip, any_value(auth_evidence) FROM detect_requests WHERE list_contains(?, client_ip)"
        " GROUP BY ALL",
        [list(ips)],
    ).fetchall()
    return {str(ip): str(ev) for ip, ev in rows}


def test_office_nat_with_several_logins_is_not_one_person_and_confirms_nothing(
    case: Case, tmp_path: Path
) -> None:
    rng = random.Random(1)
    result = investigate(case, tmp_path, monitor() + office(rng) + lone(rng) + scraper())
    doc = result.document
    # every office request after a login is ambiguous: several people logged in on one address+browser
    row = case.con.execute(
        "SELECT count(*), count_if(auth_shared), count_if(auth_ambiguous) FROM detect_requests "
        "WHERE client_ip = ? AND record_route",
        [OFFICE],
    ).fetchone()
    assert row is not None and row[0] == row[1] == row[2] == DAYS * 6 * 12
    # its actors are never linked across days, and are classed as shared, not as one person
    office_actors = actors_of(case, OFFICE)
    assert len(office_actors) >= DAYS
    classes = {a["classification"] for a in doc["actors"] if a["id"] in office_actors}
    assert classes == {"shared"}
    # no finding shows an office actor unauthorised; a finding on them says why and what settles it
    office_findings = [f for f in doc["findings"] if f["actor"] in office_actors]
    assert not any(f["unauthorised"] for f in office_findings)
    for f in office_findings:
        if f["evidence"]["ambiguous_requests"]:
            assert "application logs with user ids" in f["evidence"]["caveat"].lower()
    assert not any(a["unauthorised"] for a in doc["actors"] if a["id"] in office_actors)
    # the verdict rests on the scraper alone: exactly its records are confirmed
    assert doc["verdict"] == "confirmed"
    scraped = {str(5000 + i) for i in range(300)}
    assert set(affected_records(case, result)["record_id"]) == scraped
    assert doc["records"]["confirmed"] == 300
    assert any(
        "shared address" in x and "application logs with user ids" in x.lower() for x in doc["limitations"]
    )
    assert doc["requests"]["auth_ambiguous"] == DAYS * 6 * 12


def test_staff_alone_on_her_address_is_one_actor_across_days(case: Case, tmp_path: Path) -> None:
    rng = random.Random(2)
    result = investigate(case, tmp_path, monitor() + lone(rng) + office(rng, people=4))
    assert len(actors_of(case, HOME)) == 1  # ten days, one login a day: one history
    her = next(a for a in result.document["actors"] if HOME in a["ips"])
    assert her["classification"] == "authenticated" and any(
        r.startswith(RULES["client"]) for r in her["link_reasons"]
    )
    assert her["auth_evidence"] == ["login"] and not her["unauthorised"]
    # two people on each office address+browser, logging in minutes apart: never linked
    assert len(actors_of(case, OFFICE)) >= 2 * DAYS
    assert case.con.execute(
        "SELECT count(*) FROM detect_requests WHERE client_ip = ? AND auth_ambiguous", [HOME]
    ).fetchone() == (0,)


def test_roaming_token_client_is_not_unauthenticated_on_its_new_address(case: Case, tmp_path: Path) -> None:
    """A mobile app logs in once on one carrier address and keeps reading from another: its
    requests there are unknown (a logged-in session plausibly continues), never confirmed."""
    carrier1, carrier2 = "82.132.1.10", "82.132.77.3"
    panel, rng = list(range(3000, 3010)), random.Random(4)
    rows = monitor()
    for day in range(DAYS):
        t0 = T0 + timedelta(days=day, hours=8)
        rows += [login(t0, carrier1, APP_UA)]
        rows += [
            read(t0 + timedelta(minutes=1 + k), carrier1, APP_UA, panel[(day + k) % 10]) for k in range(5)
        ]
        rows += [
            read(t0 + timedelta(minutes=40 + 3 * k), carrier2, APP_UA, rng.choice([*panel, 3010, 3011]))
            for k in range(20)
        ]
    doc = investigate(case, tmp_path, rows).document
    states = case.con.execute(
        "SELECT DISTINCT auth_state, auth_evidence FROM detect_requests WHERE client_ip = ?", [carrier2]
    ).fetchall()
    assert states == [("unknown", ROAMING)]
    assert doc["records"]["confirmed"] == 0 and doc["requests"]["unauthorised"] == 0
    assert not any(f["unauthorised"] for f in doc["findings"])
    assert doc["verdict"] == "possible"
    assert any(ROAMING in x and "application logs with user ids" in x.lower() for x in doc["limitations"])


def test_scraper_that_never_logged_in_is_confirmed_with_its_reason(case: Case, tmp_path: Path) -> None:
    rng = random.Random(3)
    result = investigate(case, tmp_path, monitor() + lone(rng) + scraper(day=5, n=120))
    doc = result.document
    assert doc["verdict"] == "confirmed" and doc["records"]["confirmed"] == 120
    states = case.con.execute(
        "SELECT DISTINCT auth_state, auth_evidence FROM detect_requests WHERE client_ip = ?", [SCRAPER]
    ).fetchall()
    assert states == [("unauthenticated", NO_LOGIN)]
    unauth = [f for f in doc["findings"] if f["detector"] == "unauth_read"]
    assert len(unauth) == 1 and unauth[0]["unauthorised"]
    assert unauth[0]["evidence"]["caller"] == f"120 unauthenticated ({NO_LOGIN})"
    actor = next(a for a in doc["actors"] if SCRAPER in a["ips"])
    assert actor["auth_evidence"] == [NO_LOGIN] and actor["unauthorised"]


def test_a_finding_on_ambiguous_requests_never_shows_an_unauthorised_caller(
    case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever a detector says about the callers behind a shared address, the finding shows no
    unauthorised caller and none of its records is confirmed: a detector that calls every
    logged-in read unauthorised convicts the lone member of staff (one login, one history) but
    nobody behind the office NAT."""

    def everyone(_: Mapping[str, float]) -> str:
        return f"""
        SELECT actor_id, route, NULL AS severity, true AS unauthorised, min(ts) AS first_seen,
          max(ts) AS last_seen, count(*) AS requests, count(DISTINCT record_id) AS records,
          sum(bytes_sent) AS bytes, NULL AS estimated_records, {RECORD_IDS_SQL} AS record_ids,
          {SAMPLE_SQL} AS sample, to_json({{}}) AS metrics
        FROM detect_requests WHERE record_route AND ok AND auth_state = 'authenticated'
        GROUP BY actor_id, route"""

    fake = replace(REGISTRY["out_of_scope"], id="everyone", thresholds=(), sql=everyone)
    monkeypatch.setitem(REGISTRY, "everyone", fake)
    rng = random.Random(5)
    doc = investigate(case, tmp_path, monitor() + office(rng, people=4) + lone(rng)).document
    office_actors, home = actors_of(case, OFFICE), actors_of(case, HOME)
    mine = [f for f in doc["findings"] if f["detector"] == "everyone"]
    flagged = {f["actor"] for f in mine}
    assert flagged <= set(office_actors) | set(home) and set(home) <= flagged and len(flagged) > DAYS
    for f in mine:
        if f["actor"] in office_actors:
            assert not f["unauthorised"] and f["evidence"]["ambiguous_requests"] == f["count"]
            assert "who made these requests cannot be told" in f["evidence"]["caveat"]
        else:
            assert f["unauthorised"] and f["evidence"]["caveat"] is None
    assert doc["verdict"] == "confirmed"  # on the lone caller's records only
    assert any("rest on requests from shared addresses" in x for x in doc["reasoning"])
    confirmed = {int(r) for (r,) in case.con.execute("SELECT DISTINCT record_id FROM _confirmed").fetchall()}
    assert confirmed and confirmed <= set(range(2000, 2015)) and doc["records"]["confirmed"] == len(confirmed)
    assert not any(a["unauthorised"] for a in doc["actors"] if a["id"] in office_actors)


def canary(days: int, ip: str = "81.2.69.161") -> list[tuple]:
    """An in-house integration with an API key the log does not show: a canary record every 15
    minutes, answered before and after the fix alike."""
    ua = "Blackbox-Exporter/0.25.0"
    return [read(T0 + timedelta(minutes=m), ip, ua, 42) for m in range(7, days * 1440, 15)]


def test_a_client_still_answered_after_the_window_is_not_unauthenticated(case: Case, tmp_path: Path) -> None:
    """The canary client is answered with its record after the window ended, when the flaw was
    fixed: it holds credentials the log does not show. Its reads are unknown (never confirmed),
    the limitation says so; the scraper inside the window stays confirmed."""
    rng = random.Random(5)
    after = [read(T0 + timedelta(days=DAYS, hours=h), SCRAPER, SCRAPER_UA, 5000, 401) for h in (3, 30)]
    rows = monitor() + lone(rng) + scraper(day=5, n=120) + canary(DAYS + 3) + after
    doc = investigate(case, tmp_path, rows).document
    states = case.con.execute(
        "SELECT DISTINCT auth_state, auth_evidence FROM detect_requests WHERE client_ip = '81.2.69.161'"
    ).fetchall()
    assert states == [("unknown", STILL_ANSWERED)]
    assert doc["verdict"] == "confirmed" and doc["records"]["confirmed"] == 120
    canary_actor = [a for a in doc["actors"] if "81.2.69.161" in a["ips"]]
    assert canary_actor and not any(a["unauthorised"] for a in canary_actor)
    assert any("still answered with records after the window" in x for x in doc["limitations"])
    scraper_states = case.con.execute(
        "SELECT DISTINCT auth_evidence FROM detect_requests WHERE client_ip = ? AND status = 200", [SCRAPER]
    ).fetchall()
    assert scraper_states == [(NO_LOGIN,)]  # answered 401 after the fix: no credentials


def test_without_a_window_nothing_is_known_about_after_the_fix(case: Case, tmp_path: Path) -> None:
    rows = monitor() + canary(DAYS + 3)
    log = tmp_path / "logs" / "access.log"
    log.parent.mkdir(parents=True)
    log.write_text("\n".join(text for _, text in sorted(rows)) + "\n", encoding="utf-8")
    ingest(case, [log.parent])
    run_detectors(case, DETECT)
    states = case.con.execute(
        "SELECT DISTINCT auth_evidence FROM detect_requests WHERE client_ip = '81.2.69.161'"
    ).fetchall()
    assert states == [(NO_LOGIN,)]


def test_reads_after_the_window_without_a_refusal_say_nothing(case: Case, tmp_path: Path) -> None:
    """Nothing after the window shows the fix (no refusal): a client answered then keeps its
    in-window evidence — the window may simply end before the fix."""
    rows = monitor() + lone(random.Random(6)) + canary(DAYS + 3)
    investigate(case, tmp_path, rows)
    states = case.con.execute(
        "SELECT DISTINCT auth_evidence FROM detect_requests WHERE client_ip = '81.2.69.161'"
    ).fetchall()
    assert states == [(NO_LOGIN,)]


def test_a_token_client_on_new_addresses_days_after_its_login_is_resumed_not_unauthenticated(
    case: Case, tmp_path: Path
) -> None:
    """An app logs in once (its token lives for weeks) and reads its own records from a new
    carrier address every day after: no login there, none by its user agent for days — but it keeps
    returning to the records it read elsewhere. A scraper borrowing the same app user agent walks
    records nobody read, and stays unauthenticated."""
    panel, rng = list(range(3000, 3012)), random.Random(7)
    rows = [*monitor(), login(T0 + timedelta(hours=8), "82.132.1.10", APP_UA)]
    rows += [read(T0 + timedelta(hours=8, minutes=1 + k), "82.132.1.10", APP_UA, panel[k]) for k in range(12)]
    for day in range(1, DAYS):
        ip = f"82.132.{day + 1}.{20 + day}"  # a new /24 each day: not NETWORK, which is tested below
        rows += [
            read(T0 + timedelta(days=day, hours=9, minutes=k), ip, APP_UA, rng.choice(panel))
            for k in range(8)
        ]
    thief = "203.0.113.66"
    rows += [read(T0 + timedelta(days=6, hours=2, seconds=5 * i), thief, APP_UA, 7000 + i) for i in range(60)]
    doc = investigate(case, tmp_path, rows).document
    states = case.con.execute(
        """SELECT DISTINCT auth_state, auth_evidence FROM detect_requests
           WHERE client_ip LIKE '82.132.%' AND ts > ?""",
        [T0 + timedelta(days=1)],
    ).fetchall()
    assert states == [("unknown", RESUMED)]
    thief_states = case.con.execute(
        "SELECT DISTINCT auth_evidence FROM detect_requests WHERE client_ip = ?", [thief]
    ).fetchall()
    assert thief_states == [(NO_LOGIN,)]
    assert doc["records"]["confirmed"] == 60 and doc["verdict"] == "confirmed"


def test_a_short_app_session_on_a_new_address_returning_to_its_own_records_is_resumed(
    case: Case, tmp_path: Path
) -> None:
    """Two records on a new carrier address, both read before by the same app where it logged in
    alone: the app's own records (RESUMED, unknown), not a caller without credentials. Two records
    no logged-in session of that app read, and two read only through a login several people share
    (the office NAT on identical browsers), stay unauthenticated."""
    rng = random.Random(11)
    panel, home = list(range(3000, 3010)), "82.132.7.10"
    rows = [*monitor(), *office(rng), login(T0 + timedelta(hours=7), home, APP_UA)]
    rows += [read(T0 + timedelta(hours=7, minutes=1 + k), home, APP_UA, panel[k]) for k in range(10)]
    app = "82.132.44.9"  # day 5: the same phone on another carrier address, two of its own records
    rows += [read(T0 + timedelta(days=5, hours=9, minutes=k), app, APP_UA, panel[3 + k]) for k in range(2)]
    thief = "203.0.113.70"  # the same app string, two records no logged-in app read
    rows += [read(T0 + timedelta(days=5, hours=2, minutes=k), thief, APP_UA, 7000 + k) for k in range(2)]
    walker = "203.0.113.71"  # the office's browser string, two records its shared login read
    rows += [read(T0 + timedelta(days=5, hours=1, minutes=k), walker, CORP[0], 1000 + k) for k in range(2)]
    investigate(case, tmp_path, rows)
    evidence = evidence_of(case, app, thief, walker)
    assert evidence == {app: RESUMED, thief: NO_LOGIN, walker: NO_LOGIN}


def test_a_token_client_moved_within_its_carrier_pool_is_unknown_not_unauthenticated(
    case: Case, tmp_path: Path
) -> None:
    """A phone logs in once on a carrier address; days later (its token outlives the session
    lifetime) the carrier's NAT pool puts it on a neighbouring address, where it reads one record:
    its user agent logged in from that /24 (NETWORK, unknown). The same app string from another
    network, and another browser string in that /24, stay unauthenticated."""
    home, moved = "82.132.219.10", "82.132.219.11"
    rows = [*monitor(), login(T0 + timedelta(hours=7), home, APP_UA)]
    rows += [read(T0 + timedelta(hours=7, minutes=1 + k), home, APP_UA, 3000 + k) for k in range(5)]
    rows += [read(T0 + timedelta(days=3, hours=21), moved, APP_UA, 3001)]
    thief, neighbour = "203.0.113.72", "82.132.219.12"
    rows += [read(T0 + timedelta(days=3, hours=2), thief, APP_UA, 3002)]
    rows += [read(T0 + timedelta(days=3, hours=3), neighbour, SCRAPER_UA, 3003)]
    investigate(case, tmp_path, rows)
    evidence = evidence_of(case, moved, thief, neighbour)
    assert evidence == {moved: NETWORK, thief: NO_LOGIN, neighbour: NO_LOGIN}


def test_a_failed_login_behind_a_shared_proxy_is_not_a_refusal_of_the_staff_there(
    case: Case, tmp_path: Path
) -> None:
    """A colleague behind the same proxy and browser string mistypes a password (401 on the login
    endpoint): that says nothing about the token the staff there already hold."""
    rng = random.Random(5)
    rows = monitor()
    for day in range(DAYS):
        t0 = T0 + timedelta(days=day, hours=8)
        rows += [login(t0, OFFICE, CORP[0])]
        rows += [
            line(t0 + timedelta(hours=8, minutes=10), OFFICE, CORP[0], "POST", "/api/v2/auth/login", 401, 90)
        ]
        # she keeps working past the session lifetime after the failed attempt
        rows += [
            read(t0 + timedelta(hours=8, minutes=20 + k), OFFICE, CORP[0], rng.randrange(1000, 1020))
            for k in range(5)
        ]
    investigate(case, tmp_path, rows)
    evidence = {
        r[0]
        for r in case.con.execute(
            "SELECT DISTINCT auth_evidence FROM detect_requests WHERE record_id IS NOT NULL"
        ).fetchall()
    }
    assert evidence == {EXPIRED}  # not REFUSED


def test_a_shared_client_without_logins_one_day_makes_no_record_probable(case: Case, tmp_path: Path) -> None:
    """The office's logins of one morning are lost (a logging gap): that day its staff's reads are
    unknown, and their client — several people behind one address and browser — reads many more
    distinct records than one person does. That volume is theirs together, not a suspect's."""
    rng, gap = random.Random(11), (T0 + timedelta(days=4)).date()
    rows = monitor()
    for day in range(DAYS):  # a busy office (20 people, one browser string) and 30 people at home
        for k in range(20):
            panel = list(range(1000 + 20 * k, 1020 + 20 * k))
            rows += staff_day(rng, day, OFFICE, CORP[0], panel, 8 * 60 + k, reads=60)
        for k in range(30):
            panel = list(range(3000 + 20 * k, 3020 + 20 * k))
            rows += staff_day(rng, day, f"90.1.3.{k}", HOME_UA, panel, 9 * 60, reads=10)
    rows = [r for r in rows if not (r[0].date() == gap and "auth/login" in r[1])]
    doc = investigate(case, tmp_path, rows).document
    unknown = case.con.execute(
        "SELECT count(*) FROM detect_requests WHERE client_ip = ? AND auth_state = 'unknown'", [OFFICE]
    ).fetchone()
    assert unknown is not None and unknown[0] > 0
    outliers = [f for f in doc["findings"] if f["detector"] == "distinct_outlier" and f["severity"] == "high"]
    assert outliers  # the office's volume stands out ...
    assert doc["records"]["probable"] == 0 and doc["records"]["confirmed"] == 0  # ... and proves nothing
