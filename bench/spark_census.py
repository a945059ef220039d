"""How much of investigate runs on Spark: replay its statements on a local SparkSession.

Run on demand (it is not a test; it needs the ``[spark]`` extra and Java)::

    python bench/spark_census.py [--evidence sample_logs/evidence] [--work /tmp/spark-census]

It ingests the evidence into a fresh case, runs ``forensics investigate`` on it (the demo's
window, endpoints, login and trusted networks) noting every statement the case connection runs,
writes the evidence tables as Parquet, then replays the statements in order on
``forensics.spark.session.SparkConnection`` and prints how many ran and, grouped by Spark's error,
the first statement each kind of failure stopped. A statement fails there either because it is
not carried yet or because a table it reads did not get made: the first failures are the ones to
fix. It replays SQL only (the Python between the statements is not run again), so "ran" is an
upper bound of what ``--engine spark`` would do today, not a result comparison (tests/test_spark.py
compares results).
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import duckdb

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

EVIDENCE_TABLES = ("events", "sources", "rejects", "meta", "case_log")
SKIP = ("COMMENT", "SET", "PRAGMA", "BEGIN", "COMMIT", "CHECKPOINT", "ROLLBACK")


class Capture:
    def __init__(self, con: duckdb.DuckDBPyConnection, seen: list[tuple[str, Any]]) -> None:
        object.__setattr__(self, "_con", con)
        object.__setattr__(self, "_seen", seen)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)

    def execute(self, query: str, parameters: Any = None) -> Any:
        self._seen.append((query, parameters))
        return self._con.execute(query, parameters)

    def cursor(self) -> Capture:
        return Capture(self._con.cursor(), self._seen)

    def __enter__(self) -> Capture:
        return self

    def __exit__(self, *exc: object) -> None:
        self._con.__exit__(*exc)


def capture(evidence: Path, work: Path) -> list[tuple[str, Any]]:
    import forensics.store.case as case_module
    import forensics.store.db as db
    from forensics import Case, IngestOptions, ingest
    from forensics.cli import DEMO_ENDPOINTS, DEMO_LOGIN, DEMO_TRUSTED, main

    case_path = work / "case.duckdb"
    with Case.create(case_path) as case:
        ingest(case, [str(evidence)], IngestOptions())
    truth = evidence.parent / "truth.json"
    window = json.loads(truth.read_text())["window"] if truth.exists() else None
    seen: list[tuple[str, Any]] = []
    real = db.connect
    db.connect = lambda *a, **k: Capture(real(*a, **k), seen)  # type: ignore[assignment]
    case_module.connect = db.connect  # type: ignore[attr-defined]
    args = ["-q", "investigate", str(case_path), "--out", str(work / "out")]
    if window:
        args += ["--window", f"{window['start']}/{window['end']}"]
    for ep in DEMO_ENDPOINTS:
        args += ["--endpoint", ep]
    for login in DEMO_LOGIN:
        args += ["--login", login]
    for trusted in DEMO_TRUSTED:
        args += ["--trusted", trusted]
    try:
        main(args)
    except SystemExit:
        pass
    finally:
        db.connect = real  # type: ignore[assignment]
        case_module.connect = real  # type: ignore[attr-defined]
    folder = work / "parquet"
    folder.mkdir()
    con = duckdb.connect(str(case_path), read_only=True)
    for table in EVIDENCE_TABLES:
        con.execute(f"COPY {table} TO '{folder / table}.parquet' (FORMAT parquet)")
    con.close()
    return seen


def replay(statements: list[tuple[str, Any]], folder: Path) -> None:
    from forensics.spark.session import SparkConnection, local_session

    spark = local_session()
    con = SparkConnection(spark)
    con.load_parquet(folder, EVIDENCE_TABLES)
    ran, total = 0, 0
    fails: collections.Counter[str] = collections.Counter()
    first: dict[str, tuple[str, str]] = {}
    started = time.monotonic()
    for query, params in statements:
        if query.strip().upper().startswith(SKIP):
            continue
        total += 1
        try:
            con.execute(query, list(params) if isinstance(params, list | tuple) else None).fetchall()
            ran += 1
        except Exception as exc:  # every failure is counted and shown
            message = re.sub(r"\s+", " ", str(exc)).split("JVM stacktrace")[0][:200]
            key = re.sub(r"`[^`]*`|'[^']*'|\"[^\"]*\"|\d+", "_", message)[:90]
            fails[key] += 1
            first.setdefault(key, (message, re.sub(r"\s+", " ", query)[:200]))
    print(f"{total} statements replayed in order, {ran} ran on Spark ({time.monotonic() - started:.0f} s)")
    for key, n in fails.most_common(20):
        message, query = first[key]
        print(f"{n:>5}  {message}\n       first: {query}")
    spark.stop()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--evidence", type=Path, default=ROOT / "sample_logs" / "evidence")
    ap.add_argument("--work", type=Path, default=Path("/tmp/spark-census"))
    args = ap.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    statements = capture(args.evidence, args.work)
    replay(statements, args.work / "parquet")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
