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

``--handover`` runs the detectors and the assessment instead, from the same derived tables on
both engines (the case investigated in DuckDB, its authentication and actor tables handed to
Spark as Parquet: tests/test_spark.py's ``derived_on_both``), and prints each detector's wall time
on each engine and whether every table and number is the same.
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
    ap.add_argument("--handover", action="store_true", help="the detectors and the assessment (see above)")
    args = ap.parse_args()
    if args.handover:
        return handover(args.evidence, args.work)
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


def handover(evidence: Path, work: Path) -> int:
    from forensics import Case, IngestOptions, ingest
    from forensics.assess import compute
    from forensics.assess.compute import InvestigateOptions, assess
    from forensics.assess.coverage import CoverageOptions, compute_coverage
    from forensics.assess.window import parse_window
    from forensics.assess.window_tables import affected_sql
    from forensics.cli import DEMO_ENDPOINTS, DEMO_LOGIN, DEMO_TRUSTED
    from forensics.derive import auth, routes
    from forensics.derive.actors import ActorOptions
    from forensics.derive.network import Trusted
    from forensics.detectors import REGISTRY
    from forensics.detectors.run import DetectOptions, detect
    from forensics.spark.session import local_session
    from tests.test_spark import canonical, derived_on_both, table_rows

    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    case_path = work / "case.duckdb"
    window = parse_window(
        "{start}/{end}".format(**json.loads((evidence.parent / "truth.json").read_text())["window"])
    )
    logins = tuple(routes.Endpoint.parse(e) for e in DEMO_LOGIN)
    options = InvestigateOptions(
        detect=DetectOptions(
            routes=routes.RouteOptions(endpoints=tuple(routes.Endpoint.parse(e) for e in DEMO_ENDPOINTS)),
            actors=ActorOptions(
                auth=auth.AuthOptions(logins=logins, trusted=tuple(Trusted.parse(t) for t in DEMO_TRUSTED))
            ),
        ),
        window=window,
    )
    with Case.create(case_path) as case:
        ingest(case, [str(evidence)], IngestOptions())
        assess(case, options)  # every derived table, in DuckDB
    started = time.monotonic()
    on_spark, duck = derived_on_both(local_session(), case_path, work / "parquet")
    print(f"handover, routes and detect_requests on both: {time.monotonic() - started:.1f} s")
    engines = [
        SimpleNamespace(con=c, sql=lambda q, p=None, c=c: c.execute(q, p).df(), path=case_path)
        for c in (duck, on_spark)
    ]
    settings = {d: REGISTRY[d].settings() for d in REGISTRY}
    runs = [detect(e, settings) for e in engines]  # type: ignore[arg-type]
    print(f"{'detector':<18} {'findings':>8} {'DuckDB s':>9} {'Spark s':>9}")
    for d in settings:
        print(f"{d:<18} {runs[0][0][d]:>8} {runs[0][1][d]:>9.2f} {runs[1][1][d]:>9.1f}")
    same = True
    for table in ("detect_requests", "findings", "actor_findings", "detector_runs"):
        columns = ", ".join(r[0] for r in duck.execute(f"DESCRIBE {table}").fetchall())
        ok = table_rows(duck, table, columns) == table_rows(on_spark, table, columns)
        same &= ok
        print(f"{table}: {'identical' if ok else 'DIFFER'}")
    cov_opts = CoverageOptions(logins=logins)
    pieces: list[tuple[str, Callable[[Any], object]]] = [
        ("coverage", lambda e: compute_coverage(e, window, cov_opts).to_dict()),
        ("window tables", lambda e: compute.make_window_tables(e, window.start, window.end)),
        ("affected records", lambda e: table_rows(e.con, f"({affected_sql()})")),
        ("records", lambda e: compute._records(e, None)),
        ("actors", lambda e: canonical(compute._actors(e))),
        ("findings", lambda e: canonical(compute._findings(e))),
        ("event counts", lambda e: compute._event_counts(e)),
        ("scatter", lambda e: canonical(list(compute._scatter(e).itertuples(index=False)))),
    ]
    print(f"{'assessment':<18} {'DuckDB s':>9} {'Spark s':>9}  result")
    for name, run in pieces:
        answers, seconds = [], []
        for e in engines:
            t0 = time.monotonic()
            answers.append(run(e))
            seconds.append(time.monotonic() - t0)
        same &= answers[0] == answers[1]
        verdict = "identical" if answers[0] == answers[1] else "DIFFER"
        print(f"{name:<18} {seconds[0]:>9.2f} {seconds[1]:>9.1f}  {verdict}", flush=True)
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
