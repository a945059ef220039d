"""On-demand reliability soak: many SIGKILLs during ingest and investigate, and 100,000 tiny files.

    python bench/reliability_soak.py --kills 30 --tiny-files 100000

Each kill is followed by a check of the case (every stored line once, counts as recorded, the
case log's chain intact, every source's row digests agree with its stored rows); after the kills
the command runs to the end and its result is compared
with a run never interrupted (the case: per file status, counts and a digest of the stored rows;
the report: findings.json, affected_records.csv, timeline.jsonl). Prints the figures the issue's
closing note asks for and exits 1 on any problem. Not part of the tests (minutes, not seconds).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.reliability import (  # noqa: E402
    INVESTIGATE_ARGS,
    INVESTIGATE_EXIT,
    SAMPLE_EVIDENCE,
    KillReport,
    case_state,
    forensics,
    kill_and_rerun,
    output_hashes,
    run,
)

LINE = (
    "10.{a}.{b}.{c} - - [12/Mar/2024:10:{m:02d}:{s:02d} +0000] "
    '"GET /api/v2/referrals/{i} HTTP/1.1" 200 {n} "-" "curl/8.4.0"'
)


def soak_ingest(work: Path, kills: int, rng: random.Random) -> dict[str, object]:
    ref = work / "ref" / "case.duckdb"
    ref.parent.mkdir()
    code, seconds, err = run(forensics("ingest", ref, SAMPLE_EVIDENCE))
    assert code == 0, err
    case = work / "killed.duckdb"
    report = KillReport("ingest")
    delays = [rng.uniform(0.05, 1.0) * seconds for _ in range(kills)]
    kill_and_rerun(forensics("ingest", case, SAMPLE_EVIDENCE), delays, case, report)
    want, got = case_state(ref), case_state(case)
    lines_ref = sum(int(r[2] or 0) for r in want)
    lines_got = sum(int(r[5]) + int(r[6]) for r in got)
    return {
        "command": "ingest",
        "kills": report.kills,
        "finished_before_kill": report.finished_before_kill,
        "problems": report.problems + ([] if got == want else ["final case differs from the clean run"]),
        "evidence_lines": lines_ref,
        "lines_lost": lines_ref - lines_got if lines_got <= lines_ref else 0,
        "lines_stored_twice": max(lines_got - lines_ref, 0),
    }


def soak_investigate(work: Path, kills: int, rng: random.Random) -> dict[str, object]:
    ref = work / "ref" / "case.duckdb"
    ref_out = work / "ref" / "out"
    code, seconds, err = run(forensics("investigate", ref, *INVESTIGATE_ARGS, "--out", ref_out))
    assert code == INVESTIGATE_EXIT, err
    case = work / "inv" / "case.duckdb"
    case.parent.mkdir()
    shutil.copy(ref, case)
    out = work / "inv" / "out"
    report = KillReport("investigate")
    delays = [rng.uniform(0.05, 1.0) * seconds for _ in range(kills)]
    cmd = forensics("investigate", case, *INVESTIGATE_ARGS, "--out", out)
    kill_and_rerun(cmd, delays, case, report, ok=INVESTIGATE_EXIT)
    same = output_hashes(out, work / "inv") == output_hashes(ref_out, work / "ref")
    leftovers = sorted(p.name for p in out.iterdir() if p.name.startswith("."))
    problems = report.problems + ([] if same else ["outputs differ from the clean run"])
    problems += [f"left in the report folder: {name}" for name in leftovers]
    return {
        "command": "investigate",
        "kills": report.kills,
        "finished_before_kill": report.finished_before_kill,
        "problems": problems,
    }


def soak_tiny_files(work: Path, n: int) -> dict[str, object]:
    tree = work / "tiny"
    lines = 0
    for k in range(n):
        folder = tree / f"{k // 1000:04d}"
        if k % 1000 == 0:
            folder.mkdir(parents=True)
        rows = [
            LINE.format(a=k % 250, b=j, c=k // 250 % 250, m=j % 60, s=k % 60, i=k * 3 + j, n=100 + j)
            for j in range(1 + k % 3)
        ]
        (folder / f"access-{k:06d}.log").write_text("\n".join(rows) + "\n")
        lines += len(rows)
    case = work / "tiny.duckdb"
    start = time.monotonic()
    code, _, err = run(forensics("ingest", case, tree))
    seconds = time.monotonic() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024
    state = case_state(case)
    problems = [] if code == 0 else [f"ingest failed ({code}): {err[-300:]}"]
    stored = sum(int(r[5]) + int(r[6]) for r in state)
    if stored != lines or len(state) != n:
        problems.append(f"{len(state)} sources / {stored} lines stored, {n} / {lines} expected")
    return {
        "command": f"ingest {n:,} tiny files",
        "files": n,
        "lines": lines,
        "seconds": round(seconds, 1),
        "files_per_second": round(n / seconds),
        "peak_rss_mb_max_child": peak,
        "problems": problems,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=30, help="kills per command")
    ap.add_argument("--tiny-files", type=int, default=100_000, help="0 to skip")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    results = []
    with tempfile.TemporaryDirectory(prefix="forensics-soak-") as tmp:
        work = Path(tmp)
        for step in (
            lambda: soak_ingest(work, args.kills, rng),
            lambda: soak_investigate(work, args.kills, rng),
            *([lambda: soak_tiny_files(work, args.tiny_files)] if args.tiny_files else []),
        ):
            result = step()
            results.append(result)
            print(json.dumps(result), flush=True)
    problems = [p for r in results for p in r["problems"]]  # type: ignore[attr-defined]
    kills = sum(int(r.get("kills", 0)) for r in results)  # type: ignore[call-overload]
    lost = sum(int(r.get("lines_lost", 0)) for r in results)  # type: ignore[call-overload]
    print(f"kills survived: {kills}; lines lost: {lost}; problems: {len(problems)}")
    for p in problems:
        print(f"  {p}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
