"""One attacker, one actor: link rules on small nginx logs written in tmp_path, with their reasons."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from forensics import Case, ingest
from forensics.derive.actors import ActorOptions, derive_actors
from forensics.derive.auth import AuthOptions
from forensics.derive.routes import Endpoint

T0 = datetime(2024, 3, 12, 1, tzinfo=UTC)
LOGIN = Endpoint.parse("POST /api/v2/auth/login")
OPTS = ActorOptions(AuthOptions(logins=(LOGIN,)))
SCRIPT = "python-requests/2.31.0"
CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36"


def line(ip: str, t: datetime, target: str, ua: str, method: str = "GET", referer: str = "-") -> str:
    return f'{ip} - - [{t:%d/%b/%Y:%H:%M:%S} +0000] "{method} {target} HTTP/1.1" 200 2000 "{referer}" "{ua}"'


def staff_login() -> str:  # a login endpoint that works: the readers below are unauthenticated
    return line("10.20.1.5", T0, "/api/v2/auth/login", CHROME, method="POST")


def actors(tmp_path: Path, lines: list[str]) -> list[dict[str, object]]:
    log = tmp_path / "access.log"
    log.write_text("\n".join([staff_login(), *lines]) + "\n", encoding="utf-8")
    case = Case.create(tmp_path / "case.duckdb")
    ingest(case, [log])
    derive_actors(case, OPTS)
    rows = case.sql(
        "SELECT actor_id, ips, user_agents, records, sessions, link_reasons FROM actors "
        "WHERE NOT list_contains(ips, '10.20.1.5') ORDER BY actor_id"
    ).to_dict(orient="records")
    case.close()
    return rows


def test_scraper_pausing_three_days_is_one_actor_with_the_reason(tmp_path: Path) -> None:
    rows = [
        line("159.65.3.7", T0 + timedelta(seconds=10 * k), f"/api/v2/referrals/{1000 + k}", SCRIPT)
        for k in range(100)
    ]
    later = T0 + timedelta(days=3, hours=2)
    rows += [
        line("159.65.3.7", later + timedelta(seconds=10 * k), f"/api/v2/referrals/{1100 + k}", SCRIPT)
        for k in range(100)
    ]
    got = actors(tmp_path, rows)
    assert len(got) == 1
    assert got[0]["records"] == 200 and got[0]["sessions"] == 2
    reasons = list(got[0]["link_reasons"])  # type: ignore[call-overload]
    assert len(reasons) == 1 and reasons[0].startswith("resumed an id walk where another stopped")
    assert "at id 1100, 1 after where the earlier walk stopped (1099), 3.1 days later" in reasons[0]
    assert SCRIPT in reasons[0]  # the fingerprint it matched on


def test_slow_scraper_rotating_over_30_addresses_is_one_actor(tmp_path: Path) -> None:
    rng = random.Random(5)
    addresses = [f"{45 + k}.{10 + k}.{k}.7" for k in range(30)]  # 30 different networks
    rows = [
        line(rng.choice(addresses), T0 + timedelta(minutes=15 * k), f"/api/v2/referrals/{5000 + k}", SCRIPT)
        for k in range(90)
    ]  # one read every 15 minutes: slower than the adjacency rule's 10
    got = actors(tmp_path, rows)
    assert len(got) == 1
    assert len(got[0]["ips"]) == 30 and got[0]["records"] == 90  # type: ignore[arg-type]
    reasons = list(got[0]["link_reasons"])  # type: ignore[call-overload]
    assert any(r.startswith("same tool fingerprint walking consecutive ids") for r in reasons)
    assert any("ids 5000-5089 of GET /api/v2/referrals/{int}" in r for r in reasons), reasons


def test_two_callers_with_one_common_browser_reading_random_ids_stay_apart(tmp_path: Path) -> None:
    rng = random.Random(11)
    rows = []
    for k in range(60):  # interleaved in one evening, ids from one small range: many near misses
        for ip in ("81.2.69.1", "90.1.2.3"):
            t = T0 + timedelta(minutes=k * 2 + rng.random())
            rows.append(line(ip, t, f"/api/v2/referrals/{rng.randint(50000, 50300)}", CHROME))
    rows.sort(key=lambda s: s.split("[")[1])
    got = actors(tmp_path, rows)
    assert sorted(len(a["ips"]) for a in got) == [1, 1], got  # type: ignore[arg-type]
    assert [list(a["link_reasons"]) for a in got] == [[], []]  # type: ignore[call-overload]


def test_retry_after_the_fix_from_the_same_address_is_the_same_actor(tmp_path: Path) -> None:
    rows = [
        line("159.65.3.7", T0 + timedelta(seconds=5 * k), f"/api/v2/referrals/{600 + k}", SCRIPT)
        for k in range(60)
    ]
    later = T0 + timedelta(days=8)  # the same ids again, now refused (401): the walk is still the tool's
    rows += [
        line("159.65.3.7", later + timedelta(seconds=5 * k), f"/api/v2/referrals/{600 + k}", SCRIPT).replace(
            '" 200 2000', '" 401 118'
        )
        for k in range(30)
    ]
    got = actors(tmp_path, rows)
    assert len(got) == 1 and got[0]["sessions"] == 2
    reasons = list(got[0]["link_reasons"])  # type: ignore[call-overload]
    assert reasons == [reasons[0]] and reasons[0].startswith(
        "walked the ids again from the same address with the same tool: 1 link(s), e.g. walked "
        "GET /api/v2/referrals/{int} again from 159.65.3.7 (ids 600-629, earlier 600-659), 8.0 days later"
    )


def test_staff_behind_one_nat_walking_their_lists_are_not_merged(tmp_path: Path) -> None:
    """Two colleagues behind one office address with one browser, both logged in, each working
    through consecutive ids: the walk rules never merge people who logged in."""
    nat = "81.2.69.160"
    rows = [
        line(nat, T0 + timedelta(minutes=1), "/api/v2/auth/login", CHROME, method="POST"),
        line(
            nat, T0 + timedelta(minutes=2), "/api/v2/auth/login", CHROME.replace("122", "121"), method="POST"
        ),
    ]
    for k in range(40):
        t = T0 + timedelta(minutes=3 + k)
        rows.append(line(nat, t, f"/api/v2/referrals/{700 + k}", CHROME))
        rows.append(
            line(nat, t + timedelta(seconds=20), f"/api/v2/referrals/{741 + k}", CHROME.replace("122", "121"))
        )
    got = actors(tmp_path, rows)
    assert len(got) == 2 and [list(a["link_reasons"]) for a in got] == [[], []]  # type: ignore[call-overload]


def test_components_in_sql_match_union_find(case: Case) -> None:
    """The DuckDB connected components (min-label propagation, hooking, pointer jumping) against
    a plain union-find, on random graphs with long chains and stars."""
    from forensics.derive.linking import _components

    rng = random.Random(7)
    for _ in range(5):
        n = 400
        edges = [(k, k + 1) for k in range(0, 150)]  # a long chain
        edges += [(200, k) for k in range(201, 260)]  # a star
        edges += [(rng.randrange(260, n), rng.randrange(260, n)) for _ in range(120)]
        rng.shuffle(edges)
        case.con.execute("CREATE OR REPLACE TEMP TABLE _t_edges (a BIGINT, b BIGINT)")
        case.con.executemany("INSERT INTO _t_edges VALUES (?, ?)", edges)
        _components(case, "_t_edges", "_t_cc")
        got = dict(case.con.execute("SELECT node, comp FROM _t_cc").fetchall())
        parent = {v: v for e in edges for v in e}

        def find(x: int, parent: dict[int, int] = parent) -> int:
            while parent[x] != x:
                x = parent[x]
            return x

        for a, b in edges:
            ra, rb = find(a), find(b)
            parent[max(ra, rb)] = min(ra, rb)
        assert got == {v: find(v) for v in parent}


def test_components_of_a_chain_in_few_rounds(case: Case) -> None:
    """A chain of 3,000 sessions whose ids are not in chain order (one scraper's sessions linked
    one to the next): one component in a dozen rounds. Without hooking a label moved one edge
    toward its root per round: about a thousand rounds here."""
    from forensics.derive.linking import _components

    ids = list(range(1, 3001))
    random.Random(11).shuffle(ids)
    case.con.execute("CREATE OR REPLACE TEMP TABLE _t_edges (a BIGINT, b BIGINT)")
    case.con.executemany("INSERT INTO _t_edges VALUES (?, ?)", list(itertools.pairwise(ids)))
    rounds = _components(case, "_t_edges", "_t_cc")
    got = dict(case.con.execute("SELECT node, comp FROM _t_cc").fetchall())
    assert got == {v: 1 for v in ids}
    assert rounds <= 20, rounds
