"""out_of_scope against insiders with ground truth: the low-and-slow case and the simulator's.

Run on demand (it is not a test)::

    python bench/insider_eval.py --seeds 1 2 3 4 5 --clinicians 10 20 40 \\
        --sim-seeds 1 2 3 --sim-scales 0.5 1 2 --sim-days 120

* generated cases (tests/insider_case.py): clinicians with panels, revisits and consults, one
  insider opening 3 to 8 strangers' records every working day for four weeks; strangers drawn
  from the whole patient population (``population``) or only from other clinicians' panels
  (``panels``, harder). Scored from the logs alone and with the ownership map the generator
  writes (panels + consult grants);
* simulated cases (``forensics simulate``): the Insider's records (truth.json, logged time)
  against out_of_scope's records for its principal, from the logs alone and with a map built
  from the simulator's panels (``build_actors(...).world.owners``).

Per case: recall and precision of the insider's records, and any benign caller out_of_scope
flagged; then the micro-averaged totals per kind and basis.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from forensics import Case, ingest
from forensics.derive.ownership import OwnershipMap
from forensics.derive.routes import Endpoint, RouteOptions
from forensics.detectors.run import DetectOptions, findings, run_detectors
from tests import insider_case

GEN_OPTS = DetectOptions(routes=RouteOptions((Endpoint.parse("GET /api/v2/patients/{id}"),)))
Totals = dict[str, list[int]]  # key -> [true positives, listed, truth, benign flagged]


def score(case: Case, opts: DetectOptions, insider: str, truth: set[str]) -> tuple[int, int, list[str]]:
    run_detectors(case, opts)
    f = findings(case)
    f = f[f["detector"] == "out_of_scope"]
    listed: set[str] = set()
    benign: set[str] = set()
    for metrics, ids in zip(f["metrics"], f["record_ids"], strict=True):
        caller = json.loads(metrics)["caller"].removeprefix("principal ")
        if caller == insider:
            listed |= {str(r) for r in ids}
        else:
            benign.add(caller)
    return len(listed & truth), len(listed), sorted(benign)


def line(label: str, tp: int, listed: int, truth: int, benign: list[str]) -> str:
    recall = tp / truth if truth else float("nan")
    precision = tp / listed if listed else float("nan")
    return (
        f"{label:<44} truth {truth:>4}  listed {listed:>4}  right {tp:>4}  recall {recall:.3f}  "
        f"precision {precision:.3f}  benign flagged {benign or '-'}"
    )


def generated(args: argparse.Namespace, work: Path, totals: Totals) -> None:
    for mode in args.modes:
        for n in args.clinicians:
            for seed in args.seeds:
                built = insider_case.build(seed, clinicians=n, strangers_from=mode)
                folder = work / f"gen-{mode}-{n}-{seed}"
                built.write(folder / "evidence")
                omap = built.write_ownership(folder / "ownership.csv")
                with Case.create(folder / "case.duckdb") as case:
                    ingest(case, [str(folder / "evidence")])
                    for basis, opts in (
                        ("logs", GEN_OPTS),
                        ("map", DetectOptions(routes=GEN_OPTS.routes, ownership=OwnershipMap.open(omap))),
                    ):
                        tp, listed, benign = score(case, opts, built.insider, built.strangers)
                        key = f"generated {mode} / {basis}"
                        t = totals[key]
                        t[0] += tp
                        t[1] += listed
                        t[2] += len(built.strangers)
                        t[3] += len(benign)
                        print(
                            line(
                                f"{mode} n={n} seed={seed} {basis}", tp, listed, len(built.strangers), benign
                            )
                        )
                shutil.rmtree(folder)


def without_insider(args: argparse.Namespace, work: Path, totals: Totals) -> None:
    """The same clinics without an insider: any out_of_scope finding is a benign caller flagged."""
    for n in args.clinicians:
        for seed in args.seeds:
            built = insider_case.build(seed, clinicians=n, insider=False)
            folder = work / f"gen-none-{n}-{seed}"
            built.write(folder / "evidence")
            with Case.create(folder / "case.duckdb") as case:
                ingest(case, [str(folder / "evidence")])
                _, _, benign = score(case, GEN_OPTS, "", set())
            totals["generated, no insider / logs"][3] += len(benign)
            print(line(f"no insider n={n} seed={seed} logs", 0, 0, 0, benign), flush=True)
            shutil.rmtree(folder)


def simulated(args: argparse.Namespace, work: Path, totals: Totals) -> None:
    from bench.evaluate import options
    from forensics.simulate import DEFAULT_START, simulate
    from forensics.simulate.model import build_actors

    for scale in args.sim_scales:
        for seed in args.sim_seeds:
            folder = work / f"sim-{scale}-{seed}"
            simulate(folder, seed=seed, days=args.sim_days, scale=scale)
            truth: dict[str, Any] = json.loads((folder / "truth.json").read_text())
            ins = next(a for a in truth["actors"] if a["class"] == "insider")
            want = {str(r) for r in ins["records_unauthorised"]}
            principal = ins["principals"][0]
            world, _ = build_actors(seed, scale, DEFAULT_START, args.sim_days)  # simulate's panels
            omap = folder / "ownership.csv"
            omap.write_text(
                "record_id,owner\n" + "".join(f"{r},{p}\n" for p, ids in world.owners.items() for r in ids),
                encoding="utf-8",
            )
            with Case.create(folder / "case.duckdb") as case:
                ingest(case, [str(folder / "evidence")])
                base = options(truth)
                for basis, opts in (
                    ("logs", base),
                    ("map", replace(base, ownership=OwnershipMap.open(omap))),
                ):
                    tp, listed, benign = score(case, opts, principal, want)
                    t = totals[f"simulator / {basis}"]
                    t[0] += tp
                    t[1] += listed
                    t[2] += len(want)
                    t[3] += len(benign)
                    label = f"simulate scale={scale} seed={seed} {basis}"
                    print(line(label, tp, listed, len(want), benign), flush=True)
            shutil.rmtree(folder)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, nargs="*", default=[1, 2, 3, 4, 5])
    ap.add_argument("--clinicians", type=int, nargs="*", default=[10, 20, 40])
    ap.add_argument("--modes", nargs="*", default=["population", "panels"])
    ap.add_argument("--sim-seeds", type=int, nargs="*", default=[1, 2, 3])
    ap.add_argument("--sim-scales", type=float, nargs="*", default=[0.5, 1, 2])
    ap.add_argument("--sim-days", type=int, default=120)
    args = ap.parse_args()
    totals: Totals = defaultdict(lambda: [0, 0, 0, 0])
    with tempfile.TemporaryDirectory(prefix="insider-eval.") as tmp:
        generated(args, Path(tmp), totals)
        without_insider(args, Path(tmp), totals)
        if args.sim_seeds:
            simulated(args, Path(tmp), totals)
    print("\ntotals (micro-averaged)")
    for key, (tp, listed, truth, benign) in totals.items():
        print(line(key, tp, listed, truth, [f"{benign} caller(s)"] if benign else []))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
