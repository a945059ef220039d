"""Generation time of `forensics simulate` for a year at scale 1 and 10.

python bench/simulate_bench.py [--scales 1 10]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from forensics.simulate import simulate


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scales", type=float, nargs="+", default=[1.0, 10.0])
    ap.add_argument("--days", type=int, default=365)
    args = ap.parse_args()
    for scale in args.scales:
        with tempfile.TemporaryDirectory() as tmp:
            began = time.perf_counter()
            truth = simulate(Path(tmp) / "case", seed=1, days=args.days, scale=scale).as_json()
            took = time.perf_counter() - began
            lines = truth["evidence"]["lines"]
            size = sum(p.stat().st_size for p in Path(tmp).rglob("*") if p.is_file())
            n = lines["nginx"] + lines["app"]
            print(
                f"--days {args.days} --scale {scale:g}: {n:,} lines ({lines['nginx']:,} nginx + "
                f"{lines['app']:,} app), {size / 1e6:.0f} MB, {took:.1f}s ({n / took:,.0f} lines/s)"
            )


if __name__ == "__main__":
    main()
