"""The login a request rests on, computed by window passes over integer client keys (issue 19),
against a brute-force reading of the rule: the client's (address + user agent) latest successful
login at or before the request — logins at the same instant included — within the session
lifetime; a request with no address never rests on one. Random cases with missing user agents,
missing addresses, identical timestamps and logins answered 401."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest

from forensics import Case
from forensics.derive.actors import ActorOptions, derive_actors
from forensics.derive.auth import REFUSED, ROAMING, SHARED_ADDRESS, AuthOptions
from forensics.derive.routes import Endpoint, RouteOptions, derive_routes
from tests.eventrows import T0, add_events

LOGIN = "/api/v2/auth/login"
LIFE = timedelta(hours=1)


def _rows(rng: random.Random, n: int, login_rate: float = 0.2, browsers: int = 2) -> list[dict[str, Any]]:
    ips = ["198.51.100.1", "198.51.100.2", "2001:db8::7", None]
    uas = [*(f"Mozilla/5.0 {chr(97 + i)}" for i in range(browsers)), None, ""]
    rows = []
    t = T0
    for _ in range(n):
        t += timedelta(seconds=rng.choice([0, 0, 1, 60, 600, 1800, 5400]))  # many identical instants
        login = rng.random() < login_rate
        rows.append(
            {
                "ts": t,
                "method": "POST" if login else "GET",
                "path": LOGIN if login else f"/api/v2/referrals/{rng.randint(1, 40)}",
                "status": rng.choice([200, 200, 200, 401]) if login else rng.choice([200, 200, 403, 404]),
                "client_ip": rng.choice(ips),
                "user_agent": rng.choice(uas),
            }
        )
    return rows


def _expected(rows: list[dict[str, Any]]) -> dict[int, Any]:
    """line_no -> the login ts it rests on (None: no login in effect)."""
    out = {}
    for i, r in enumerate(rows, 1):
        best = None
        if r["client_ip"] is not None:
            for q in rows:
                same = q["client_ip"] == r["client_ip"] and (q["user_agent"] or "") == (r["user_agent"] or "")
                ok_login = q["method"] == "POST" and q["path"] == LOGIN and 200 <= q["status"] <= 399
                if same and ok_login and q["ts"] <= r["ts"] and (best is None or q["ts"] > best):
                    best = q["ts"]
        out[i] = best if best is not None and r["ts"] - best <= LIFE else None
    return out


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_the_login_a_request_rests_on_matches_the_rule(case: Case, seed: int) -> None:
    rows = _rows(random.Random(seed), 300)
    add_events(case, rows)
    login = (Endpoint.parse(f"POST {LOGIN}"),)
    derive_routes(case, RouteOptions(endpoints=(Endpoint.parse("GET /api/v2/referrals/{id}"),)))
    derive_actors(case, ActorOptions(auth=AuthOptions(logins=login, session_lifetime=LIFE)))
    got = {
        int(n): (ev, ts)
        for n, ev, ts in case.con.execute(
            "SELECT line_no, auth_evidence, auth_login_ts FROM request_facts ORDER BY line_no"
        ).fetchall()
    }
    want = _expected(rows)
    assert len(got) == len(rows)
    resting = 0
    for n, login_ts in want.items():
        evidence, auth_login_ts = got[n]
        if login_ts is None:
            assert evidence != "login", (n, rows[n - 1])
        else:
            resting += 1
            assert evidence == "login", (n, rows[n - 1], evidence)
            assert auth_login_ts == login_ts, (n, rows[n - 1])
    assert 20 < resting < len(rows) - 20  # the cases exercise both sides


def _expected_refused(rows: list[dict[str, Any]], life: timedelta = LIFE) -> set[int]:
    """Line numbers the rule calls REFUSED, read naively: a request with an address, no login of
    its client in effect, not itself answered 401, whose user agent logged in nowhere within the
    lifetime (else ROAMING), and whose client was refused (401/403 to a request that was not a
    login, with no login of the client in effect then) within the lifetime before — at or before
    it, the request itself included — after the client's last login."""

    def key(r: dict[str, Any]) -> tuple[Any, str]:
        return r["client_ip"], r["user_agent"] or ""

    def is_login(r: dict[str, Any]) -> bool:
        return bool(r["method"] == "POST" and r["path"] == LOGIN)

    def ok_login(r: dict[str, Any]) -> bool:
        return is_login(r) and 200 <= r["status"] <= 399 and r["client_ip"] is not None

    def last_login(r: dict[str, Any]) -> Any:
        times = [q["ts"] for q in rows if ok_login(q) and key(q) == key(r) and q["ts"] <= r["ts"]]
        return max(times, default=None)

    out = set()
    for i, r in enumerate(rows, 1):
        if r["client_ip"] is None or r["status"] == 401:
            continue
        own = last_login(r)
        if own is not None and r["ts"] - own <= life:
            continue  # login
        ua = r["user_agent"] or ""
        roaming = [
            q["ts"]
            for q in rows
            if ok_login(q) and ua and (q["user_agent"] or "") == ua and r["ts"] - life <= q["ts"] <= r["ts"]
        ]
        if roaming:
            continue
        refusals = []
        for q in rows:
            if key(q) != key(r) or q["ts"] > r["ts"] or q["status"] not in (401, 403) or is_login(q):
                continue
            at = last_login(q)
            if at is None or q["ts"] - at > life:
                refusals.append(q["ts"])
        last = max(refusals, default=None)
        if last is not None and r["ts"] - last <= life and (own is None or last > own):
            out.add(i)
    return out


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5, 6])
@pytest.mark.parametrize("login_rate", [0.2, 0.05])
def test_refused_matches_the_rule(case: Case, seed: int, login_rate: float) -> None:
    rows = _rows(random.Random(100 + seed), 300, login_rate)
    add_events(case, rows)
    login = (Endpoint.parse(f"POST {LOGIN}"),)
    derive_routes(case, RouteOptions(endpoints=(Endpoint.parse("GET /api/v2/referrals/{id}"),)))
    derive_actors(case, ActorOptions(auth=AuthOptions(logins=login, session_lifetime=LIFE)))
    got = {
        int(n)
        for (n,) in case.con.execute(
            "SELECT line_no FROM request_facts WHERE auth_evidence = ? ORDER BY line_no", [REFUSED]
        ).fetchall()
    }
    want = _expected_refused(rows)
    assert got == want, (sorted(got - want), sorted(want - got))
    assert len(want) >= 3  # the cases exercise the rule


def test_a_401_while_logged_in_is_no_refusal(case: Case) -> None:
    """Two browsers-less clients log in, are answered 403 once — one within the lifetime of its
    login (the login was in effect: no refusal), one after it — and read again later."""

    def row(minutes: int, ip: str, login: bool = False, status: int = 200) -> dict[str, Any]:
        path = LOGIN if login else "/api/v2/referrals/7"
        return {
            "ts": T0 + timedelta(minutes=minutes),
            "method": "POST" if login else "GET",
            "path": path,
            "status": status,
            "client_ip": ip,
            "user_agent": None,
        }

    rows = [
        row(0, "198.51.100.1", login=True),
        row(50, "198.51.100.1", status=403),
        row(70, "198.51.100.1"),
        row(0, "198.51.100.2", login=True),
        row(90, "198.51.100.2", status=403),
        row(100, "198.51.100.2"),
    ]
    rows.sort(key=lambda r: r["ts"])
    add_events(case, rows)
    derive_routes(case, RouteOptions(endpoints=(Endpoint.parse("GET /api/v2/referrals/{id}"),)))
    login = (Endpoint.parse(f"POST {LOGIN}"),)
    derive_actors(case, ActorOptions(auth=AuthOptions(logins=login, session_lifetime=LIFE)))
    got = dict(case.con.execute("SELECT line_no, auth_evidence FROM request_facts").fetchall())
    want = _expected_refused(rows)
    assert {n for n, ev in got.items() if ev == REFUSED} == want
    by_minute = {
        (r["client_ip"], int((r["ts"] - T0).total_seconds() // 60)): n for n, r in enumerate(rows, 1)
    }
    assert got[by_minute[("198.51.100.1", 70)]] != REFUSED
    assert got[by_minute[("198.51.100.2", 100)]] == REFUSED


def _expected_roaming_shared(rows: list[dict[str, Any]], life: timedelta) -> dict[int, str]:
    """Line numbers the rule calls ROAMING or SHARED_ADDRESS, read naively: a request with an
    address, not answered 401, with no login of its client in effect, whose user agent (not an
    empty one) logged in from any address within the lifetime before — at or before it — is
    ROAMING; else, when its client never logged in before and it is no refusal, a login from its
    address by any user agent within the lifetime before makes it SHARED_ADDRESS."""

    def ok_login(r: dict[str, Any]) -> bool:
        return (
            r["method"] == "POST"
            and r["path"] == LOGIN
            and 200 <= r["status"] <= 399
            and bool(r["client_ip"])
        )

    refused = _expected_refused(rows, life)
    out = {}
    for i, r in enumerate(rows, 1):
        if r["client_ip"] is None or r["status"] == 401:
            continue
        ua = r["user_agent"] or ""
        before = [q for q in rows if ok_login(q) and q["ts"] <= r["ts"]]
        own = [q["ts"] for q in before if q["client_ip"] == r["client_ip"] and (q["user_agent"] or "") == ua]
        if own and r["ts"] - max(own) <= life:
            continue  # login
        if ua and any((q["user_agent"] or "") == ua and r["ts"] - q["ts"] <= life for q in before):
            out[i] = ROAMING
        elif (
            i not in refused
            and not own
            and any(q["client_ip"] == r["client_ip"] and r["ts"] - q["ts"] <= life for q in before)
        ):
            out[i] = SHARED_ADDRESS
    return out


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
@pytest.mark.parametrize("life", [LIFE, timedelta(minutes=47, seconds=13)])
def test_roaming_and_shared_address_match_the_rule(case: Case, seed: int, life: timedelta) -> None:
    """A login by the same user agent anywhere, or at the same address by any, within the lifetime
    before the request (one on a time bucket's edge included: lifetimes that do and do not divide
    the hour)."""
    rows = _rows(random.Random(200 + seed), 600, 0.1, browsers=8)
    add_events(case, rows)
    login = (Endpoint.parse(f"POST {LOGIN}"),)
    derive_routes(case, RouteOptions(endpoints=(Endpoint.parse("GET /api/v2/referrals/{id}"),)))
    derive_actors(case, ActorOptions(auth=AuthOptions(logins=login, session_lifetime=life)))
    got = {
        int(n): str(ev)
        for n, ev in case.con.execute(
            "SELECT line_no, auth_evidence FROM request_facts WHERE auth_evidence IN (?, ?)",
            [ROAMING, SHARED_ADDRESS],
        ).fetchall()
    }
    want = _expected_roaming_shared(rows, life)
    assert got == want, (
        sorted(set(got.items()) - set(want.items())),
        sorted(set(want.items()) - set(got.items())),
    )
    # the cases exercise both rules
    assert sum(ev == ROAMING for ev in want.values()) >= 3
    assert sum(ev == SHARED_ADDRESS for ev in want.values()) >= 3
