"""Investigate at scale: whole-process time, peak memory and case growth against DuckDB's floor.

Run on demand (it is not a test)::

    python bench/investigate_bench.py --events 1000000 3000000 10000000

For each size it builds (once, cached in the work dir) bench/derive_bench.py's synthetic case
(an API's year: record reads, nested documents, logins, static files, probes; one client per
200 events, bursts of 40 requests), then runs, each as a child process under
bench/ingest_bench.py's wrapper (wall, CPU, peak RSS):

* the floor — one window pass over the events (partition by address + user agent, order by
  time), what any sessionisation pays to read and sort the table;
* ``forensics --profile investigate`` on a fresh copy of the case with a one-month window, the
  login route and a trusted office network declared;
* the same investigate again on the same copy, to show whether re-running leaves residue (the
  case file's size after each run).

``--memory-limit 4GB`` gives investigate more of DuckDB's memory (less spill).
``--no-profile`` measures an older tree (``PYTHONPATH=<its checkout>``), which has no --profile.
It prints one row per run and, over the sizes given, the growth exponent of investigate's time
(t ∝ N^k between the smallest and largest size) and the ratio to the floor.
"""

from __future__ import annotations

import argparse
import math
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from derive_bench import build_case
from ingest_bench import FORENSICS, PY, measure

HERE = Path(__file__).resolve().parent

FLOOR = """
import sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
con.execute("SET memory_limit = '1GB'")
print(con.execute(
    "SELECT count(*), max(gap) FROM (SELECT ts - lag(ts) OVER "
    "(PARTITION BY client_ip, user_agent ORDER BY ts) AS gap FROM events)"
).fetchone())
"""

VERDICT_CODES = (0, 3, 4, 5, 6)  # investigate exits with its verdict (README, "Exit codes")
INVESTIGATE = [
    "investigate",
    "--endpoint",
    "GET /api/v2/referrals/{id}",
    "--endpoint",
    "GET /api/v2/referrals/{id}/documents/{doc}",
    "--window",
    "2024-03-01T00:00:00Z/2024-04-01T00:00:00Z",
    "--login",
    "POST /api/v2/auth/login",
    "--trusted",
    "office=10.20.0.0/16",
]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, nargs="+", default=[1_000_000, 3_000_000])
    ap.add_argument("--work", type=Path, default=HERE / "work")
    ap.add_argument("--runs", type=int, default=2, help="investigate runs on the same copy (residue check)")
    ap.add_argument(
        "--no-profile",
        action="store_true",
        help="run without --profile (an older tree, put first on PYTHONPATH, has no such option)",
    )
    ap.add_argument(
        "--memory-limit",
        metavar="SIZE",
        help="forensics --memory-limit for the investigate runs (default: the tool's 1GB; the floor's: 1GB)",
    )
    args = ap.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    forensics = FORENSICS or "forensics"
    head = f"{'events':>11} {'run':<22} {'seconds':>8} {'cpu s':>7} {'peak MB':>8} {'case MB':>8}"
    print(f"{head} {'other CPUs':>10}")
    times: dict[int, tuple[float, float]] = {}
    for n in args.events:
        cached = args.work / f"derive-{n}.duckdb"
        if not cached.exists():
            print(f"building a {n:,}-event case …", flush=True)
            build_case(cached, n)
        res = measure([PY, "-c", FLOOR, str(cached)], args.work / "floor.log")
        floor = res["wall"]
        print(
            f"{n:>11,} {'floor: window pass':<22} {res['wall']:>8.1f} {res['cpu']:>7.1f} "
            f"{res['maxrss_kb'] / 1024:>8.0f} {cached.stat().st_size / 1e6:>8.0f} {res['other_cpus']:>10.2f}",
            flush=True,
        )
        case = args.work / "investigate-run.duckdb"
        shutil.copyfile(cached, case)
        first = 0.0
        for run in range(1, args.runs + 1):
            out = args.work / f"investigate-out-{run}"
            shutil.rmtree(out, ignore_errors=True)
            log = args.work / f"investigate-{n}-{run}.log"
            cmd = [
                forensics,
                *([] if args.no_profile else ["--profile"]),
                *(["--memory-limit", args.memory_limit] if args.memory_limit else []),
                *INVESTIGATE,
                str(case),
                "--out",
                str(out),
            ]
            res = measure(cmd, log, ok=VERDICT_CODES)
            first = first or res["wall"]
            print(
                f"{n:>11,} {f'investigate, run {run}':<22} {res['wall']:>8.1f} {res['cpu']:>7.1f} "
                f"{res['maxrss_kb'] / 1024:>8.0f} {case.stat().st_size / 1e6:>8.0f} "
                f"{res['other_cpus']:>10.2f}   ({res['wall'] / floor:.1f}x floor; profile in {log})",
                flush=True,
            )
        times[n] = (first, floor)
        case.unlink()
    if len(times) > 1:
        lo, hi = min(times), max(times)
        k = math.log(times[hi][0] / times[lo][0]) / math.log(hi / lo)
        kf = math.log(times[hi][1] / times[lo][1]) / math.log(hi / lo)
        print(f"growth {lo:,} -> {hi:,} events: investigate t ∝ N^{k:.2f}; floor t ∝ N^{kf:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
