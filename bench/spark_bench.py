"""`investigate --engine spark` against the default engine: wall time, and whether the outputs agree.

Run on demand (it is not a test; it needs the ``[spark]`` extra and Java)::

    python bench/spark_bench.py --sample --simulate 0.125 1 --masters 'local[2]' 'local[1]'

For the sample case (``--sample``: sample_logs/ ingested, the demo's endpoints, login, trusted
networks and window), for each ``--simulate`` scale (a year of ``forensics simulate`` at that
scale, ingested, the same parameters with its own window; scale 1 is about 750,000 events) and for
each ``--events`` size (bench/derive_bench.py's synthetic case with investigate_bench's
parameters — refused on Spark: it records no row digests, and the export handed to Spark checks
them) it runs, each as a whole child
process under bench/ingest_bench.py's wrapper: ``forensics investigate`` on DuckDB, then
``forensics investigate --engine spark --spark-master M`` for each master, into fresh report
folders, and prints each run's wall time and whether its outputs equal DuckDB's: findings.json
with the engine, the command line and the case path left out, and affected_records.csv,
actors.csv, findings.csv, evidence.csv and timeline.jsonl byte for byte.

Only wall time is printed: Spark's JVM is a process PySpark starts and stops, not one the wrapper
waits for, so the wrapper's CPU and peak-memory figures would leave it out. Note the machine's
state (idle or not) beside the figures.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from derive_bench import build_case  # noqa: E402
from ingest_bench import FORENSICS, measure  # noqa: E402
from investigate_bench import INVESTIGATE, VERDICT_CODES  # noqa: E402

SAME_BYTES = ("affected_records.csv", "actors.csv", "findings.csv", "evidence.csv", "timeline.jsonl")


def _sample_args(truth: Path = ROOT / "sample_logs" / "truth.json") -> list[str]:
    from forensics.cli import DEMO_ENDPOINTS, DEMO_LOGIN, DEMO_TRUSTED

    window = json.loads(truth.read_text())["window"]
    args = ["investigate"]
    for flag, values in (
        ("--endpoint", DEMO_ENDPOINTS),
        ("--login", DEMO_LOGIN),
        ("--trusted", DEMO_TRUSTED),
    ):
        for v in values:
            args += [flag, v]
    return [*args, "--window", f"{window['start']}/{window['end']}"]


def _normalised(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(path.read_text())
    doc["case"] = {}
    doc["parameters"].pop("command", None)
    doc["reproduce"].pop("command", None)
    return doc


def _agrees(base: Path, other: Path) -> str:
    differ = [n for n in SAME_BYTES if (base / n).read_bytes() != (other / n).read_bytes()]
    if _normalised(base / "findings.json") != _normalised(other / "findings.json"):
        differ.insert(0, "findings.json")
    return "identical outputs" if not differ else "DIFFER: " + ", ".join(differ)


def run_case(
    label: str, case: Path, args: list[str], masters: list[str], work: Path, in_place: bool = False
) -> None:
    forensics = FORENSICS or "forensics"
    base = work / f"out-{label}-duckdb"
    shutil.rmtree(base, ignore_errors=True)
    res = measure(
        [forensics, *args, str(case), "--out", str(base)], work / f"{label}-duckdb.log", VERDICT_CODES
    )
    print(f"{label:<14} {'duckdb':<12} {res['wall']:>8.1f}", flush=True)
    if in_place:  # the case exported to a Parquet case folder, investigated there by DuckDB
        folder = work / f"parquet-{label}".replace(" ", "-").replace(",", "")
        shutil.rmtree(folder, ignore_errors=True)
        res = measure([forensics, "-q", "export", str(case), "--parquet", str(folder)], work / "export.log")
        print(f"{label:<14} {'export':<12} {res['wall']:>8.1f}", flush=True)
        out = work / f"out-{label}-parquet"
        shutil.rmtree(out, ignore_errors=True)
        cmd = [forensics, *args, str(folder), "--out", str(out)]
        res = measure(cmd, work / f"{label}-parquet.log", VERDICT_CODES)
        print(f"{label:<14} {'duckdb on parquet':<12} {res['wall']:>8.1f}   {_agrees(base, out)}", flush=True)
        shutil.rmtree(folder)
    for master in masters:
        out = work / f"out-{label}-{master.replace('[', '').replace(']', '')}"
        shutil.rmtree(out, ignore_errors=True)
        cmd = [forensics, *args, str(case), "--out", str(out), "--engine", "spark", "--spark-master", master]
        res = measure(cmd, work / f"{label}-{master}.log", VERDICT_CODES)
        print(f"{label:<14} {'spark ' + master:<12} {res['wall']:>8.1f}   {_agrees(base, out)}", flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--sample", action="store_true", help="the sample case (sample_logs/, the demo's parameters)"
    )
    ap.add_argument("--events", type=int, nargs="*", default=[], help="synthetic cases of these sizes")
    ap.add_argument(
        "--simulate",
        type=float,
        nargs="*",
        default=[],
        metavar="SCALE",
        help="simulated cases (forensics simulate --days 365 --scale SCALE, ingested; the demo's parameters "
        "with the simulation's window): derive_bench's cases record no row digests, which the export "
        "handed to Spark checks, so only ingested cases go to Spark",
    )
    ap.add_argument("--masters", nargs="*", default=["local[1]", "local[2]"])
    ap.add_argument(
        "--in-place",
        action="store_true",
        help="also export each case to a Parquet case folder and investigate the folder on DuckDB",
    )
    ap.add_argument("--work", type=Path, default=HERE / "work")
    args = ap.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    print(f"{'case':<14} {'engine':<12} {'wall s':>8}", flush=True)
    if args.sample:
        case = args.work / "spark-sample.duckdb"
        if not case.exists():
            forensics = FORENSICS or "forensics"
            subprocess.run(
                [forensics, "-q", "ingest", str(case), str(ROOT / "sample_logs" / "evidence")],
                check=True,
                stdout=subprocess.DEVNULL,
            )
        run_case("sample", case, _sample_args(), args.masters, args.work, args.in_place)
    forensics = FORENSICS or "forensics"
    for scale in args.simulate:
        folder = args.work / f"sim-{scale}"
        case = args.work / f"sim-{scale}.duckdb"
        if not case.exists():
            shutil.rmtree(folder, ignore_errors=True)
            subprocess.run(
                [forensics, "simulate", str(folder), "--days", "365", "--scale", str(scale)],
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            subprocess.run(
                [forensics, "-q", "ingest", str(case), str(folder / "evidence")],
                check=True,
                stdout=subprocess.DEVNULL,
            )
        import duckdb

        with duckdb.connect(str(case), read_only=True) as con:
            row = con.execute("SELECT count(*) FROM events").fetchone()
        events = int(row[0]) if row else 0
        run_case(
            f"{events:,} sim",
            case,
            _sample_args(folder / "truth.json"),
            args.masters,
            args.work,
            args.in_place,
        )
    for n in args.events:
        cached = args.work / f"derive-{n}.duckdb"
        if not cached.exists():
            print(f"building a {n:,}-event case …", flush=True)
            build_case(cached, n)
        case = args.work / "spark-run.duckdb"
        shutil.copyfile(cached, case)
        try:
            run_case(f"{n:,} events", case, list(INVESTIGATE), args.masters, args.work)
        finally:
            case.unlink()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
