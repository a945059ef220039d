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
from forensics.derive.auth import AuthOptions
from forensics.derive.routes import Endpoint, RouteOptions, derive_routes
from tests.eventrows import T0, add_events

LOGIN = "/api/v2/auth/login"
LIFE = timedelta(hours=1)


def _rows(rng: random.Random, n: int) -> list[dict[str, Any]]:
    ips = ["198.51.100.1", "198.51.100.2", "2001:db8::7", None]
    uas = ["Mozilla/5.0 a", "Mozilla/5.0 b", None, ""]
    rows = []
    t = T0
    for _ in range(n):
        t += timedelta(seconds=rng.choice([0, 0, 1, 60, 600, 1800, 5400]))  # many identical instants
        login = rng.random() < 0.2
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
