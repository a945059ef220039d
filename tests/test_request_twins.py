"""Twins (one request logged by two servers), against a brute-force reading of the rule: each event
of the earlier-named format pairs with the event of the other format that has the same address,
method, path and status and lies nearest in time within ``TWIN_MAX_SKEW``; equal distances go to
the smallest (source_id, line_no). Random cases with many identical instants, two sources of the
second format, missing methods and statuses, and a long run of one key that only one server logged
(a monitor's health check: the window form had been quadratic in such a run)."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest

from forensics import Case
from forensics.derive.request_twins import TWIN_MAX_SKEW, derive_twins
from tests.eventrows import T0, add_events

# source_id -> format: the pairs are made between "combined" (first by name) and "jsonl"
FORMATS = {1: "combined", 2: "jsonl", 3: "jsonl"}


def _add_sources(case: Case, counts: dict[int, int]) -> None:
    for sid, fmt in FORMATS.items():
        case.con.execute(
            "INSERT INTO sources (source_id, path, size, sha256, compression, status, format, events) "
            "VALUES (?, ?, 0, '', 'none', 'ingested', ?, ?)",
            [sid, f"/evidence/{sid}.log", fmt, counts.get(sid, 0)],
        )


def _rows(rng: random.Random, n: int) -> list[dict[str, Any]]:
    rows = []
    for _ in range(n):
        rows.append(
            {
                # many identical instants; half-second steps so the 2 s skew is crossed both ways
                "ts": T0 + timedelta(milliseconds=500 * rng.randint(0, 40)),
                "client_ip": rng.choice(["198.51.100.1", "198.51.100.2", "2001:db8::7"]),
                "method": rng.choice(["GET", "GET", "POST", None]),
                "path": rng.choice(["/api/v2/referrals/1", "/api/v2/referrals/2", "/health"]),
                "status": rng.choice([200, 200, 404, None]),
            }
        )
    return rows


def _expected(by_source: dict[int, list[dict[str, Any]]]) -> set[tuple[int, int, int, int, float]]:
    def key(r: dict[str, Any]) -> tuple[Any, ...]:
        return (r["client_ip"], r["method"] or "", r["path"], r["status"] or 0)

    skew = TWIN_MAX_SKEW.total_seconds()
    seconds = [(sid, n, r) for sid in (2, 3) for n, r in enumerate(by_source.get(sid, []), 1)]
    out = set()
    for n, r in enumerate(by_source.get(1, []), 1):
        best = None
        for sid, m, q in seconds:
            d = abs((q["ts"] - r["ts"]).total_seconds())
            if key(q) == key(r) and d <= skew and (best is None or (d, sid, m) < best):
                best = (d, sid, m)
        if best is not None:
            out.add((1, n, best[1], best[2], best[0] * 1000.0))
    return out


def _check(case: Case, by_source: dict[int, list[dict[str, Any]]]) -> int:
    _add_sources(case, {sid: len(rows) for sid, rows in by_source.items()})
    for sid, rows in by_source.items():
        add_events(case, rows, source_id=sid)
    derive_twins(case)
    got = {
        (int(a), int(b), int(c), int(d), float(e))
        for a, b, c, d, e in case.con.execute("SELECT * FROM request_twins").fetchall()
    }
    want = _expected(by_source)
    assert got == want
    return len(got)


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5, 6])
def test_each_event_pairs_with_the_nearest_copy_as_the_rule_says(case: Case, seed: int) -> None:
    rng = random.Random(seed)
    by_source = {1: _rows(rng, 150), 2: _rows(rng, 100), 3: _rows(rng, 50)}
    assert _check(case, by_source) > 20  # the cases do pair events


def test_a_run_only_one_server_logged_pairs_only_near_the_other_copies(case: Case) -> None:
    """A monitor polling /health every second for 3,000 s, seen by the first server throughout and
    by the second only at the start and the end: only the polls within 2 s of those pair."""
    poll = {"client_ip": "10.0.0.5", "method": "GET", "path": "/health", "status": 200}
    first = [{**poll, "ts": T0 + timedelta(seconds=s)} for s in range(3000)]
    second = [{**poll, "ts": T0 + timedelta(seconds=s)} for s in (0, 2999)]
    assert _check(case, {1: first, 2: second}) == 6  # polls 0, 1, 2 and 2997, 2998, 2999
