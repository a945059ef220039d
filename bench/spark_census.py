"""How far investigate runs on Spark: each stage on both engines, its tables compared.

Run on demand (it is not a test; it needs the ``[spark]`` extra and Java)::

    python bench/spark_census.py [--evidence sample_logs/evidence] [--work /tmp/spark-census]

It ingests the evidence into a fresh case, writes it with ``forensics export --parquet``, and
reads that export into a fresh DuckDB and into a local SparkSession
(``forensics.spark.session.SparkConnection``). Then it runs the stages in investigate's order on
both — routes, authentication (networks, twin requests, request facts), actors (sessions,
links, classes) — with the demo's endpoints, login, trusted networks and window, and for each
prints the wall time on each engine and whether every table the stage makes holds the same rows
(or where Spark stopped). The first stage that fails or differs is the next to carry over; the
stages after it are not tried.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

EVIDENCE_TABLES = ("events", "sources", "rejects", "meta", "case_log")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--evidence", type=Path, default=ROOT / "sample_logs" / "evidence")
    ap.add_argument("--work", type=Path, default=Path("/tmp/spark-census"))
    args = ap.parse_args()
    from forensics import Case, IngestOptions, export_parquet, ingest
    from forensics.cli import DEMO_ENDPOINTS, DEMO_LOGIN, DEMO_TRUSTED
    from forensics.derive import actors, auth, routes
    from forensics.derive.network import Trusted
    from forensics.spark.session import SparkConnection, local_session
    from tests.test_spark import duckdb_from  # the export read into DuckDB, as the tests read it

    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    case_path = args.work / "case.duckdb"
    with Case.create(case_path) as case:
        ingest(case, [str(args.evidence)], IngestOptions())
        export_parquet(case, args.work / "parquet")
    truth = args.evidence.parent / "truth.json"
    window_end = (
        datetime.fromisoformat(json.loads(truth.read_text())["window"]["end"].replace("Z", "+00:00"))
        if truth.exists()
        else None
    )
    duck = duckdb_from(args.work / "parquet")
    started = time.monotonic()
    spark = SparkConnection(local_session())
    spark.load_parquet(args.work / "parquet", EVIDENCE_TABLES)
    print(f"Spark session and the export's tables: {time.monotonic() - started:.1f} s")
    auth_opts = auth.AuthOptions(
        logins=tuple(routes.Endpoint.parse(e) for e in DEMO_LOGIN),
        trusted=tuple(Trusted.parse(t) for t in DEMO_TRUSTED),
        answered_after=window_end,
    )
    route_opts = routes.RouteOptions(endpoints=tuple(routes.Endpoint.parse(e) for e in DEMO_ENDPOINTS))
    derive_actors = getattr(actors.derive_actors, "__wrapped__", actors.derive_actors)  # no case log here
    stages: list[tuple[str, Callable[[Any], object], tuple[str, ...]]] = [
        ("routes", lambda con: routes._build(con, route_opts), ("routes",)),
        (
            "authentication",
            lambda con: auth.derive_auth(SimpleNamespace(con=con), auth_opts),  # type: ignore[arg-type]
            ("ip_info", "request_twins", "request_facts"),
        ),
        (
            "actors",
            lambda con: derive_actors(SimpleNamespace(con=con), actors.ActorOptions(auth=auth_opts)),
            ("request_session", "sessions", "actor_links", "actors"),
        ),
    ]
    print(f"{'stage':<16} {'DuckDB s':>9} {'Spark s':>9}  result")
    for name, run, tables in stages:
        t0 = time.monotonic()
        run(duck)
        t1 = time.monotonic()
        try:
            run(spark)
        except Exception as exc:  # the point of the census: where Spark stops, and why
            message = re.sub(r"\s+", " ", str(exc)).split("JVM stacktrace")[0][:300]
            print(f"{name:<16} {t1 - t0:>9.1f} {'—':>9}  failed: {message}", flush=True)
            return 1
        t2 = time.monotonic()
        verdicts = []
        for table in tables:
            cols = ", ".join(r[0] for r in duck.execute(f"DESCRIBE {table}").fetchall())
            want = sorted(duck.execute(f"SELECT {cols} FROM {table}").fetchall(), key=repr)
            got = sorted(spark.execute(f"SELECT {cols} FROM {table}").fetchall(), key=repr)
            verdicts.append(f"{table} {len(want):,} rows " + ("identical" if got == want else "DIFFER"))
        print(f"{name:<16} {t1 - t0:>9.1f} {t2 - t1:>9.1f}  {'; '.join(verdicts)}", flush=True)
        if any(v.endswith("DIFFER") for v in verdicts):
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
