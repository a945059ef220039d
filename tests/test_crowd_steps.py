"""The steps of a crowd walk (linking._crowd_walks), against a brute-force reading of the rule: over
each session's first unauthenticated 2xx read of each id, a read's predecessor is the latest read of
one of the ``ENUM_MAX_ID_STEP`` ids below it at or before it, at most ``CROWD_MAX_GAP`` earlier; its
successor the earliest read of one of the ids above at or after it, as far; equal times go to the
lowest node (reads numbered by route, id, time, session). Two reads are a step when each is the
other's. Random cases with many identical instants, where the tie rule decides (it had been left
to the threads across id steps), and a long run of one id's reads next to one read of its neighbour
(the window form had been quadratic in such a run)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import pytest

from forensics.derive import linking

T0 = datetime(2024, 3, 1, tzinfo=UTC)


class _Case:
    """What _crowd_walks reads of a case: its connection."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con


def _steps(reads: list[tuple[str, int, str, datetime]]) -> tuple[set[tuple[int, int]], set[tuple[int, int]]]:
    """(steps _crowd_walks found, steps by the rule), as (node, node) pairs."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(
        "CREATE TEMP TABLE _link_reads (route VARCHAR, rid BIGINT, session_id VARCHAR, ts TIMESTAMPTZ, "
        "unauth_read BOOLEAN, ua VARCHAR, fp VARCHAR)"
    )
    con.executemany("INSERT INTO _link_reads VALUES (?, ?, ?, ?, true, '', '')", reads)
    linking.number_keys(con)
    seen: list[list[tuple[Any, ...]]] = []
    components = linking._components

    def spy(case: Any, edges: str, out: str) -> int:
        seen.append(case.con.execute(f"SELECT a, b FROM {edges}").fetchall())
        return components(case, edges, out)

    linking._components = spy
    try:
        linking._crowd_walks(_Case(con))  # type: ignore[arg-type]
    finally:
        linking._components = components
    got = {(int(a), int(b)) for a, b in seen[0]}

    first: dict[tuple[str, int, str], datetime] = {}
    for route, rid, session, ts in reads:
        key = (route, rid, session)
        first[key] = min(ts, first.get(key, ts))
    nodes = {k: i for i, k in enumerate(sorted(first, key=lambda k: (k[0], k[1], first[k], k[2])), 1)}
    rows = [(n, k[0], k[1], first[k]) for k, n in nodes.items()]
    gap, step = linking.CROWD_MAX_GAP, linking.ENUM_MAX_ID_STEP

    def nearest(node: int, route: str, rid: int, ts: datetime, below: bool) -> int | None:
        best: tuple[Any, ...] | None = None
        for n, r, i, t in rows:
            near = 1 <= (rid - i if below else i - rid) <= step and r == route
            if not near or (t > ts if below else t < ts) or abs(t - ts) > gap:
                continue
            rank = (-(t - T0).total_seconds() if below else (t - T0).total_seconds(), n)
            if best is None or rank < best:
                best = rank
        return None if best is None else int(best[1])

    pred = {n: nearest(n, r, i, t, True) for n, r, i, t in rows}
    succ = {n: nearest(n, r, i, t, False) for n, r, i, t in rows}
    want = {(p, n) for n, p in pred.items() if p is not None and succ.get(p) == n}
    return got, want


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5, 6, 7, 8])
def test_walk_steps_are_the_mutual_nearest_reads(seed: int) -> None:
    rng = random.Random(seed)
    reads = []
    for walk in range(rng.randint(1, 3)):
        sessions = [f"w{walk}-{k}" for k in range(rng.randint(2, 6))]
        rid, t = rng.randint(1, 40), T0 + timedelta(minutes=rng.randint(0, 300))
        for _ in range(rng.randint(5, 40)):
            rid += rng.choice([1, 1, 1, 2, 3, -1, 0])
            t += timedelta(seconds=rng.choice([0, 0, 1, 5, 30, 400, 700]))  # ties, and gaps over 10 min
            reads.append(
                (rng.choice(["GET /r/{id}", "GET /r/{id}", "GET /s/{id}"]), rid, rng.choice(sessions), t)
            )
    for _ in range(rng.randint(0, 60)):  # random readers
        t = T0 + timedelta(minutes=rng.randint(0, 400))
        reads.append(("GET /r/{id}", rng.randint(1, 80), f"x{rng.randint(0, 20)}", t))
    got, want = _steps(reads)
    assert got == want
    assert want  # the case has walk steps


def test_a_long_run_of_one_id_next_to_one_read_of_its_neighbour() -> None:
    """3,000 sessions read id 2, a second apart; one session read id 1 at the start: the first read
    of id 2 is its successor, and only that pair is a step."""
    reads = [("GET /r/{id}", 1, "first", T0)]
    reads += [("GET /r/{id}", 2, f"s{i:04d}", T0 + timedelta(seconds=i)) for i in range(3000)]
    got, want = _steps(reads)
    assert got == want == {(1, 2)}
