"""Derivation benchmark: routes, authentication, sessions and actors on a large case.

Run on demand (it is not a test)::

    python bench/derive_bench.py --events 10000000

Builds (once, cached in the work dir by size) a case whose events table is synthetic but shaped
like an API's traffic: 60% record reads on ``/api/v2/referrals/{int}`` (ids up to 2M), nested
document reads with UUIDs, logins, static files, probe paths; one client per 200 events, 300 user
agents, a principal on 20% of clients; each client makes bursts of 40 requests. Then runs,
each as a child process measured for wall time, CPU time and peak RSS (bench/ingest_bench.py's
wrapper):

* baseline — one full scan of events grouping by (client_ip, user_agent) and by path, the floor
  any derivation pays to read the table;
* ``forensics routes CASE``;
* ``forensics actors CASE --login … --trusted …`` (routes again, auth, sessions, actors);
* ``forensics detect CASE --login … --trusted …`` (all of the above, then every detector).
* ``compute_coverage`` over the whole year (hourly table, gaps, field matrix, grade), on events
  without routes (the field matrix then reads ``events``, not the ``requests`` view).

The case file is copied fresh for each run, so no run sees another's derived tables.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest_bench import FORENSICS, PY, measure

from forensics import Case

HERE = Path(__file__).resolve().parent

BASELINE = """
import sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
con.execute("SET memory_limit = '1GB'")
for keys in ("client_ip, user_agent", "method, path"):
    print(con.execute(f"SELECT count(*) FROM (SELECT {keys}, count(*) FROM events GROUP BY ALL)").fetchone())
"""


COVERAGE = """
import sys
from forensics import Case, compute_coverage, parse_window
with Case.open(sys.argv[1]) as case:
    cov = compute_coverage(case, parse_window("2024-01-01/2024-12-31"))
    print(cov.events, cov.ratio, cov.grade, len(cov.gaps))
"""


def build_case(path: Path, n: int) -> None:
    """A case with ``n`` synthetic events (deterministic: hash-based pseudo-randomness)."""
    with Case.create(path) as case:
        case.con.execute(
            f"""
            INSERT INTO events (source_id, line_no, ts, client_ip, method, path, status, bytes_sent,
                                user_agent, principal)
            SELECT 1, i,
              TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_seconds(i * (31536000.0 / {n})),
              CASE WHEN c % 10 = 0 THEN '10.20.' || (c // 7 % 8) || '.' || (c // 11 % 250)
                   ELSE (c // 13 % 200 + 20) || '.' || (c // 17 % 250) || '.' || (c // 19 % 250) || '.'
                        || (c // 23 % 4 + 1) END,
              CASE WHEN k < 3 THEN 'POST' ELSE 'GET' END,
              CASE WHEN k < 3 THEN '/api/v2/auth/login'
                   WHEN k < 63 THEN '/api/v2/referrals/' || (h // 29 % 2000000)
                   WHEN k < 78 THEN '/api/v2/referrals/' || (h // 29 % 2000000) || '/documents/'
                                    || uuid_from_h
                   WHEN k < 90 THEN '/static/app.' || (h // 31 % 40) || '.js'
                   WHEN k < 95 THEN '/api/v2/health'
                   ELSE (['/.env', '/wp-login.php', '/.git/config', '/phpmyadmin/'])[h // 37 % 4 + 1] END,
              CASE WHEN k >= 95 THEN 404 WHEN h % 50 = 0 THEN 401 ELSE 200 END,
              1000 + h % 3000,
              'Mozilla/5.0 agent-' || (c // 41 % 300),
              CASE WHEN c % 5 = 0 THEN 'user' || (c // 43 % 5000) END
            FROM (
              SELECT i, (hash(i) // 2)::BIGINT AS h, (hash(i) % 100)::BIGINT AS k,
                     -- a client makes bursts of 40 requests; clients: one per 200 events
                     (hash(i // 40) % greatest({n} // 200, 1000))::BIGINT AS c,
                     md5(i::VARCHAR)[:8] || '-' || md5(i::VARCHAR)[9:12] || '-4' || md5(i::VARCHAR)[14:16]
                       || '-8' || md5(i::VARCHAR)[18:20] || '-' || md5(i::VARCHAR)[21:32] AS uuid_from_h
              FROM range(1, {n} + 1) t(i))"""
        )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=2_000_000)
    ap.add_argument("--work", type=Path, default=HERE / "work")
    args = ap.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    cached = args.work / f"derive-{args.events}.duckdb"
    if not cached.exists():
        print(f"building a {args.events:,}-event case …", flush=True)
        build_case(cached, args.events)
    runs = {
        "baseline: one scan, two group-bys": [PY, "-c", BASELINE],
        "forensics routes": [FORENSICS or "forensics", "routes"],
        "forensics actors": [
            FORENSICS or "forensics",
            "actors",
            "--login",
            "POST /api/v2/auth/login",
            "--trusted",
            "office=10.20.0.0/16",
        ],
        "forensics detect": [
            FORENSICS or "forensics",
            "detect",
            "--login",
            "POST /api/v2/auth/login",
            "--trusted",
            "office=10.20.0.0/16",
        ],
        "coverage (one year window)": [PY, "-c", COVERAGE],
    }
    print(f"{'run':<36} {'seconds':>8} {'cpu s':>7} {'peak MB':>8} {'other CPUs':>10}")
    for name, cmd in runs.items():
        case = args.work / "derive-run.duckdb"
        shutil.copyfile(cached, case)
        tail = [] if name.startswith(("baseline", "coverage")) else ["--limit", "10"]
        res = measure([*cmd, str(case), *tail], args.work / "derive-run.log")
        print(
            f"{name:<36} {res['wall']:>8.1f} {res['cpu']:>7.1f} {res['maxrss_kb'] / 1024:>8.0f} "
            f"{res['other_cpus']:>10.2f}",
            flush=True,
        )
        case.unlink()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
