"""Authentication state, sessions and actors from small explicit event tables."""

from __future__ import annotations

from datetime import timedelta

import pytest

from forensics import Case
from forensics.derive.actors import ActorOptions, derive_actors
from forensics.derive.auth import (
    ANSWERED_401,
    EXPIRED,
    NO_LOGIN,
    REFUSED,
    ROAMING,
    SHARED_ADDRESS,
    TOOL,
    AuthOptions,
    derive_auth,
)
from forensics.derive.network import Trusted, classify_ip
from forensics.derive.routes import Endpoint
from forensics.errors import TrustedNetworkError
from tests.eventrows import T0, add_events

LOGIN = Endpoint.parse("POST /api/v2/auth/login")
CHROME = "Mozilla/5.0 (Windows NT 10.0) Chrome/122.0"
SAFARI = "Mozilla/5.0 (Macintosh) Version/17.3 Safari/605.1.15"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:124.0) Gecko/20100101 Firefox/124.0"


def at(minutes: float) -> object:
    return T0 + timedelta(minutes=minutes)


def login(ip: str, ua: str, minutes: float, status: int = 200) -> dict[str, object]:
    return {
        "method": "POST",
        "path": "/api/v2/auth/login",
        "client_ip": ip,
        "user_agent": ua,
        "status": status,
        "ts": at(minutes),
    }


def read(ip: str, ua: str, minutes: float, rid: int = 1, **kw: object) -> dict[str, object]:
    return {"path": f"/api/v2/referrals/{rid}", "client_ip": ip, "user_agent": ua, "ts": at(minutes), **kw}


def auth_rows(case: Case) -> list[tuple[object, ...]]:
    return case.con.execute(
        "SELECT line_no, auth_state, auth_evidence, nullif(source_id, 1), auth_trusted, auth_ambiguous "
        "FROM request_facts ORDER BY source_id, line_no"
    ).fetchall()


def test_auth_evidence_in_order_principal_trusted_login_none(case: Case) -> None:
    """Without authentication evidence a request is unauthenticated only on positive evidence;
    where a logged-in session plausibly continues (the same browser string logged in elsewhere,
    this client's login expired, another browser on the address logged in) it is unknown."""
    add_events(
        case,
        [
            read("51.140.12.34", "PartnerSync/3.2", 1),  # 1 trusted network
            login("198.51.100.7", CHROME, 2),  # 2 the login itself
            read("198.51.100.7", CHROME, 10),  # 3 after a login
            read("198.51.100.7", CHROME, 2 + 8 * 60 + 1),  # 4 session lifetime over
            read("198.51.100.8", CHROME, 11),  # 5 no login here; Chrome logged in at .7
            read("198.51.100.7", SAFARI, 12),  # 6 same IP, other browser
            read("198.51.100.9", FIREFOX, 20, status=401),  # 7 a record refused (a failed login is not)
            read("198.51.100.9", FIREFOX, 21),  # 8 after the refusal
            {"path": "/api/v2/referrals/1", "client_ip": None, "ts": at(30)},  # 9 no address
            read("198.51.100.20", "sqlmap/1.8", 31),  # 10 attack tool
            read("198.51.100.21", "python-requests/2.31.0", 32),  # 11 never logged in
        ],
    )
    add_events(case, [read("203.0.113.5", CHROME, 0, principal="dr.jones")], source_id=2)  # logged principal
    opts = AuthOptions(logins=(LOGIN,), trusted=(Trusted.parse("partner=51.140.12.32/29"),))
    result = derive_auth(case, opts)
    assert auth_rows(case) == [
        (1, "trusted", "trusted", None, "partner", False),
        (2, "authenticated", "login", None, None, True),  # 198.51.100.7 showed two browsers that day
        (3, "authenticated", "login", None, None, True),
        (4, "unknown", EXPIRED, None, None, False),
        (5, "unknown", ROAMING, None, None, False),
        (6, "unknown", SHARED_ADDRESS, None, None, False),
        (7, "unauthenticated", ANSWERED_401, None, None, False),
        (8, "unauthenticated", REFUSED, None, None, False),
        (9, "unknown", "no client address", None, None, False),
        (10, "unauthenticated", TOOL, None, None, False),
        (11, "unauthenticated", NO_LOGIN, None, None, False),
        (1, "authenticated", "principal", 2, None, False),
    ]
    assert result.counts == {"authenticated": 3, "trusted": 1, "unauthenticated": 4, "unknown": 4}
    assert result.ambiguous == 2 and result.shared == 0
    assert result.proposed_logins == []  # a login endpoint was given


def test_shared_nat_one_user_logged_in_the_other_did_not(case: Case) -> None:
    """Two people behind one NAT address: the one who logged in is authenticated (flagged as
    ambiguous, because the address showed two user agents that day); the other is unknown — a
    browser on an address where someone logged in is no proof of an unauthenticated caller."""
    nat = "81.2.69.160"
    add_events(case, [login(nat, CHROME, 0), read(nat, CHROME, 5, rid=10), read(nat, SAFARI, 6, rid=11)])
    derive_auth(case, AuthOptions(logins=(LOGIN,)))
    assert [(r[1], r[5]) for r in auth_rows(case)] == [
        ("authenticated", True),
        ("authenticated", True),
        ("unknown", False),
    ]


def test_overlapping_logins_on_one_client_are_several_people(case: Case) -> None:
    """Two logins less than a session lifetime apart on one address + browser: shared; one login
    a day on another client is not."""
    office, home = "81.2.69.160", "90.1.2.3"
    add_events(
        case,
        [
            login(office, CHROME, 0),
            read(office, CHROME, 1),
            login(office, CHROME, 5),
            read(office, CHROME, 6),
            login(home, CHROME, 0),
            read(home, CHROME, 1),
            login(home, CHROME, 24 * 60),
            read(home, CHROME, 24 * 60 + 1),
        ],
    )
    derive_auth(case, AuthOptions(logins=(LOGIN,)))
    rows = case.con.execute(
        "SELECT client_ip, bool_and(auth_shared), bool_and(auth_ambiguous) FROM request_facts "
        "JOIN clients USING (client_key) GROUP BY 1 ORDER BY 1"
    ).fetchall()
    assert rows == [(office, True, True), (home, False, False)]


def test_without_login_endpoint_nothing_is_guessed_but_one_is_proposed(case: Case) -> None:
    add_events(case, [login("198.51.100.7", CHROME, 0), read("198.51.100.7", CHROME, 1)])
    result = derive_auth(case)
    # the source never logs principals and no login endpoint was given: cannot tell
    assert [r[1:3] for r in auth_rows(case)] == [
        ("unknown", "source logs no principal and no login endpoint given"),
    ] * 2
    assert result.proposed_logins == [("POST /api/v2/auth/login", 1)]


def test_partner_is_trusted_only_when_declared(case: Case) -> None:
    add_events(
        case, [read(f"51.140.12.{33 + i % 6}", "PartnerSync/3.2", i * 60 * 24, rid=i) for i in range(10)]
    )
    add_events(case, [read("203.0.113.5", CHROME, 0, principal="dr.jones")], source_id=2)
    undeclared = derive_actors(case, ActorOptions(AuthOptions(logins=(LOGIN,))))
    partner = case.sql("SELECT * FROM actors WHERE list_contains(user_agents, 'PartnerSync/3.2')")
    assert len(partner) == 1 and partner["class"][0] == "unknown" and len(partner["ips"][0]) == 6
    assert undeclared.auth.counts["unauthenticated"] == 10
    trusted = (Trusted.parse("partner=51.140.12.32/29"),)
    derive_actors(case, ActorOptions(AuthOptions(logins=(LOGIN,), trusted=trusted)))
    partner = case.sql("SELECT * FROM actors WHERE list_contains(user_agents, 'PartnerSync/3.2')")
    assert partner["class"].tolist() == ["trusted"]


@pytest.mark.parametrize("bad", ["partner=51.140.12.300/29", "10.0.0.0/33", "partner=", "nonsense"])
def test_malformed_trusted_network_is_a_clear_error(bad: str) -> None:
    with pytest.raises(TrustedNetworkError, match="expected CIDR or NAME=CIDR"):
        Trusted.parse(bad)


def test_ip_scope_and_network_keys() -> None:
    assert classify_ip("10.20.1.15")["scope"] == "private"
    assert classify_ip("159.65.3.7") == {
        "client_ip": "159.65.3.7",
        "ip_version": 4,
        "scope": "public",
        "net": "159.65.3.0/24",
        "trusted": None,
    }
    assert classify_ip("2001:41d0:8:f69::1")["net"] == "2001:41d0:8::/48"
    assert classify_ip("::ffff:8.8.8.8")["net"] == "8.8.8.0/24"
    assert classify_ip("www-c3.proxy.aol.com")["scope"] == "not an ip"


def test_sessions_split_on_inactivity_and_principal_wins(case: Case) -> None:
    add_events(
        case,
        [
            read("203.0.113.5", CHROME, 0),
            read("203.0.113.5", CHROME, 20),
            read("203.0.113.5", CHROME, 80),
            read("203.0.113.6", CHROME, 1, principal="dr.jones"),
            read("198.51.100.1", SAFARI, 2, principal="dr.jones"),
        ],
    )
    result = derive_actors(case, ActorOptions(session_gap=timedelta(minutes=30)))
    assert result.sessions == 3  # ip+ua split by the 60-minute pause; dr.jones's two addresses: one session
    jones = case.sql("SELECT * FROM actors WHERE list_contains(principals, 'dr.jones')")
    assert sorted(jones["ips"][0]) == ["198.51.100.1", "203.0.113.6"]
    assert jones["class"][0] == "authenticated"


def test_sessions_are_numbered_by_their_key_and_no_user_agent_is_an_empty_one(case: Case) -> None:
    """Sessions are keyed by client numbers (clients.client_key) but keep the order of their key
    strings ('c:' address + user agent, 'p:' principal) and start; a request logged without a user
    agent and one with an empty user agent from the same address are one client and one session."""
    add_events(
        case,
        [
            read("203.0.113.9", SAFARI, 0),
            read("203.0.113.9", SAFARI, 90),  # the same client after a pause: its second session
            read("198.51.100.7", "", 5),
            read("198.51.100.7", None, 10),  # no user agent, five minutes later: the same session
            read("198.51.100.7", CHROME, 6),
            read("203.0.113.9", CHROME, 1, principal="zoe"),
            read("192.0.2.1", CHROME, 2, principal="adam"),
        ],
    )
    derive_actors(case, ActorOptions(session_gap=timedelta(minutes=30)))
    per_event = case.con.execute("SELECT count(*), count(DISTINCT (source_id, line_no)) FROM request_facts")
    assert per_event.fetchone() == (7, 7)  # one row per event (two rows of clients are one client)
    rows = case.con.execute(
        "SELECT s.session_id, list(e.line_no ORDER BY e.line_no) FROM request_session s "
        "JOIN events e USING (source_id, line_no) GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    # 'c:198.51.100.7 ' < 'c:198.51.100.7 Mozilla…Chrome' < 'c:203.0.113.9 Mozilla…Safari' (two)
    # < 'p:adam' < 'p:zoe'
    assert rows == [(1, [3, 4]), (2, [5]), (3, [1]), (4, [2]), (5, [7]), (6, [6])]
    clients = case.con.execute("SELECT count(*) FROM clients WHERE client_ip = '198.51.100.7'").fetchone()
    assert clients == (3,)  # as logged: none, empty and Chrome are three rows of clients


def test_distributed_enumerator_on_rotating_ips_is_one_actor(case: Case) -> None:
    ua = "Mozilla/5.0 (X11; Linux x86_64; rv:124.0) Gecko/20100101 Firefox/124.0"
    nets = ["185.220.101", "193.32.162", "45.134.26"]
    rows = [
        read(f"{nets[(k // 5) % 3]}.{10 + k // 15}", ua, 600 + k * 0.05, rid=50200 + k) for k in range(60)
    ]
    # two clinicians-like readers with the same browser reading random ids: must stay apart
    rows += [read("81.2.69.1", CHROME, 600 + k, rid=rid) for k, rid in enumerate([50301, 50207, 50412])]
    rows += [read("90.1.2.3", CHROME, 600.5 + k, rid=rid) for k, rid in enumerate([50302, 50100, 50413])]
    add_events(case, rows)
    derive_actors(case)
    enum = case.sql(f"SELECT * FROM actors WHERE list_contains(user_agents, '{ua}')")
    assert len(enum) == 1
    assert len(enum["ips"][0]) == 12 and enum["records"][0] == 60 and enum["requests"][0] == 60
    others = case.sql(f"SELECT ips FROM actors WHERE list_contains(user_agents, '{CHROME}')")
    assert sorted(len(x) for x in others["ips"]) == [1, 1]


def test_scanners_monitors_and_crawlers_are_classed(case: Case) -> None:
    add_events(
        case,
        [
            {
                "path": p,
                "status": 404,
                "client_ip": f"45.155.205.{i}",
                "user_agent": "Mozilla/5.0",
                "ts": at(i),
            }
            for i, p in enumerate(["/.env", "/wp-login.php", "/.git/config", "/phpmyadmin/", "/x.php", "/"])
        ],
    )
    add_events(
        case,
        [
            {
                "path": "/api/v2/health",
                "client_ip": "69.162.124.230",
                "ts": at(30 * k),
                "user_agent": "Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)",
            }
            for k in range(5)
        ],
    )
    add_events(
        case,
        [
            {
                "path": "/robots.txt",
                "status": 404,
                "client_ip": "66.249.66.1",
                "ts": at(3),
                "user_agent": "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
            },
            {"path": "/", "client_ip": "192.0.2.77", "user_agent": "sqlmap/1.7", "ts": at(4)},
            read("192.0.2.99", CHROME, 5),
        ],
    )
    derive_actors(case)
    got = case.sql("SELECT ips[1] AS ip, class, class_reason FROM actors ORDER BY ip")
    classes = dict(zip(got["ip"], got["class"], strict=True))
    assert classes == {
        "45.155.205.0": "scanner",
        "69.162.124.230": "monitor",
        "66.249.66.1": "crawler",
        "192.0.2.77": "scanner",
        "192.0.2.99": "unknown",
    }
    reasons = dict(zip(got["ip"], got["class_reason"], strict=True))
    assert "unverified" in reasons["66.249.66.1"] and "404" in reasons["45.155.205.0"]


@pytest.fixture(scope="module")
def sample_case(tmp_path_factory: pytest.TempPathFactory) -> Case:
    from forensics import ingest
    from tests.conftest import SAMPLE_EVIDENCE

    case = Case.create(tmp_path_factory.mktemp("sample") / "case.duckdb")
    ingest(case, [SAMPLE_EVIDENCE])
    return case


def _actors_of(case: Case, ips: list[str], ua: str | None = None) -> list[str]:
    """Classes of the actors that hold nginx events (with a user agent) from these IPs."""
    df = case.con.execute(
        "SELECT DISTINCT a.actor_id, a.class FROM events e JOIN request_session USING (source_id, line_no) "
        "JOIN sessions s USING (session_id) JOIN actors a USING (actor_id) "
        "WHERE list_contains(?::VARCHAR[], e.client_ip) AND e.user_agent IS NOT NULL "
        "AND (? IS NULL OR e.user_agent = ?)",
        [ips, ua, ua],
    ).df()
    return list(df["class"])


def test_sample_case_actors(sample_case: Case) -> None:
    """Expectations from the sample's ground truth (sample_logs/truth.json), not constants."""
    from tests.conftest import sample_truth

    case = sample_case
    truth = {a["name"]: a for a in sample_truth()["actors"]}
    gap_end = sample_truth()["gaps"][0]["end"]
    derive_actors(case, ActorOptions(AuthOptions(logins=(LOGIN,))))
    for a in truth.values():
        if a["class"] not in ("staff", "insider"):
            continue
        # staff log in, then read: every record read from their address is authenticated, except
        # on the day the logs resume after the gap (that morning's logins fell in the gap)
        states = case.con.execute(
            "SELECT f.auth_state, e.ts::DATE = ?::TIMESTAMPTZ::DATE AS resumed, count(*) "
            "FROM events e JOIN request_facts f USING (source_id, line_no) "
            "WHERE list_contains(?::VARCHAR[], e.client_ip) AND e.path LIKE '/api/v2/referrals/%' "
            "GROUP BY ALL ORDER BY ALL",
            [gap_end, a["ips"]],
        ).fetchall()
        assert [(s, r) for s, r, _ in states if not r] == [("authenticated", False)], a["name"]
        principals = case.con.execute(
            "SELECT DISTINCT unnest(principals) FROM actors WHERE list_has_any(ips, ?::VARCHAR[])", [a["ips"]]
        ).fetchall()
        assert principals == [(a["principals"][0],)], a["name"]  # one person per workstation
    partner = truth["partner"]
    (ua,) = partner["user_agents"]
    assert set(_actors_of(case, partner["ips"], ua)) == {"unknown"}  # no login, not yet declared
    span = case.con.execute("SELECT max(ts) - min(ts) FROM events WHERE user_agent = ?", [ua]).fetchone()
    assert span is not None and span[0] >= timedelta(days=10)  # a long history
    states = case.con.execute(
        "SELECT DISTINCT a.auth_state FROM events e JOIN request_facts a USING (source_id, line_no) "
        "WHERE e.user_agent = ?",
        [ua],
    ).fetchall()
    assert states == [("unauthenticated",)]
    # the distributed enumerator rotates addresses within a night: each night's addresses are one actor
    enum = truth["enumerator-distributed"]
    nights = case.con.execute(
        "SELECT date_trunc('day', e.ts - INTERVAL 12 HOUR) AS night, list(DISTINCT e.client_ip), "
        "count(DISTINCT s.actor_id) FROM events e JOIN request_session USING (source_id, line_no) "
        "JOIN sessions s USING (session_id) WHERE e.user_agent = ? GROUP BY ALL",
        [enum["user_agents"][0]],
    ).fetchall()
    assert len(nights) >= 3 and set().union(*(ips for _, ips, _ in nights)) == set(enum["ips"])
    for night, ips, actors in nights:
        assert len(ips) >= 3 and actors == 1, night
    for a in truth.values():
        if a["class"] in ("scanner", "monitor") and a["name"] != "scanner-python":
            # python-requests probes are not told from other scripts by their user agent alone
            assert set(_actors_of(case, a["ips"], a["user_agents"][0])) == {a["class"]}, a["name"]
    trusted = tuple(Trusted.parse(t) for t in sample_truth()["trusted"])
    derive_actors(case, ActorOptions(AuthOptions(logins=(LOGIN,), trusted=trusted)))
    assert set(_actors_of(case, partner["ips"], ua)) == {"trusted"}
    assert set(_actors_of(case, truth["tester"]["ips"])) == {"trusted"}


def test_cli_actors_on_sample(tmp_path: object) -> None:
    import json
    from pathlib import Path

    from click.testing import CliRunner

    from forensics.cli import main
    from tests.conftest import SAMPLE_EVIDENCE

    path = Path(str(tmp_path)) / "case.duckdb"
    runner = CliRunner()
    assert runner.invoke(main, ["ingest", str(path), str(SAMPLE_EVIDENCE)]).exit_code == 0
    res = runner.invoke(main, ["actors", str(path)])
    assert res.exit_code == 0, res.output
    assert "likely login endpoints: POST /api/v2/auth/login" in res.stderr
    res = runner.invoke(
        main,
        [
            "actors",
            str(path),
            "--json",
            "--login",
            "POST /api/v2/auth/login",
            "--trusted",
            "partner=51.140.12.32/29",
            "--session-gap",
            "45m",
        ],
    )
    assert res.exit_code == 0, res.output
    actors = json.loads(res.stdout)
    assert {"trusted", "authenticated", "monitor", "scanner"} <= {a["class"] for a in actors}
    res = runner.invoke(main, ["actors", str(path), "--trusted", "partner=10.0.0.0/33"])
    assert res.exit_code == 1 and "expected CIDR or NAME=CIDR" in res.output
    res = runner.invoke(main, ["actors", str(path), "--session-gap", "soon"])
    assert res.exit_code == 2 and "expected a duration" in res.output
