"""Kill-and-rerun harness shared by tests/test_crash.py (a few kills, in CI) and
bench/reliability_soak.py (many kills, on demand).

A command runs as a real subprocess and gets SIGKILL at a chosen moment; the case is then
checked (every stored line once, counts as recorded, the log's chain intact) and the same
command is run again, until one run completes. The result is compared with a clean run's.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from forensics import Case
from forensics.ingest.verify import verify

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_EVIDENCE = ROOT / "sample_logs" / "evidence"
INVESTIGATE_ARGS = [
    "--endpoint",
    "GET /api/v2/referrals/{id}",
    "--login",
    "POST /api/v2/auth/login",
    "--trusted",
    "partner=51.140.12.32/29",
    "--window",
    "2024-03-13T12:00:00Z/2024-04-09T14:00:00Z",
]
COMPARED_OUTPUTS = ("findings.json", "affected_records.csv", "timeline.jsonl")


def forensics(*args: str | Path) -> list[str]:
    return [sys.executable, "-m", "forensics", *map(str, args)]


def run(cmd: list[str]) -> tuple[int, float, str]:
    start = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, cwd=ROOT)
    return proc.returncode, time.monotonic() - start, proc.stderr


def run_killed(cmd: list[str], after: float) -> bool:
    """Start ``cmd`` and SIGKILL it ``after`` seconds later; False when it finished first."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    try:
        proc.wait(timeout=after)
        return False
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        return True


def case_problems(case_path: Path) -> list[str]:
    """What is wrong with a case after a kill (an interrupted command is not a problem): verify's
    every check, including the row digests (a kill must never leave a digest that disagrees
    with the rows, nor rows without their digest). The case is opened read-only."""
    if not case_path.exists():
        return []
    try:
        case = Case.open(case_path, read_only=True)
    except Exception as exc:  # a kill during creation may leave a file without all tables
        if "missing tables" in str(exc):
            return []
        return [f"cannot open: {exc}"]
    with case:
        result = verify(case)
    return [
        *result.chain.problems,
        *(str(e) for e in result.evidence_problems),
        *result.digests,
        *result.accounting,
        *result.rows,
        *result.structure,
    ]


def case_state(case_path: Path) -> list[tuple[object, ...]]:
    """Per evidence path: status, lines, events, rejects, and a digest of its stored rows."""
    with Case.open(case_path, read_only=True) as case:
        rows = case.con.execute("""
            WITH e AS (SELECT source_id, count(*) AS n, bit_xor(hash(line_no, ts, path, status)) AS h
                       FROM events GROUP BY ALL),
                 r AS (SELECT source_id, count(*) AS n, bit_xor(hash(line_no, line)) AS h
                       FROM rejects GROUP BY ALL)
            SELECT s.path, s.status, s.lines, s.events, s.rejects,
                   coalesce(e.n, 0), coalesce(r.n, 0), e.h, r.h
            FROM sources s LEFT JOIN e USING (source_id) LEFT JOIN r USING (source_id)
            ORDER BY s.path""").fetchall()
    return [tuple(r) for r in rows]


def output_hashes(out_dir: Path, workdir: Path) -> dict[str, str]:
    """Hashes of the machine-readable outputs, with the run's own folder (in paths) masked."""
    return {
        n: hashlib.sha256((out_dir / n).read_bytes().replace(str(workdir).encode(), b"<dir>")).hexdigest()
        for n in COMPARED_OUTPUTS
    }


@dataclass
class KillReport:
    command: str
    kills: int = 0
    finished_before_kill: int = 0
    problems: list[str] = field(default_factory=list)


# investigate exits with its verdict: the sample's is confirmed (README, "Exit codes")
INVESTIGATE_EXIT = 6


def kill_and_rerun(
    cmd: list[str], delays: list[float], case_path: Path, report: KillReport, ok: int = 0
) -> None:
    """Kill ``cmd`` after each delay in turn (checking the case after each), then run it to the end
    (it must exit ``ok``)."""
    for delay in delays:
        if run_killed(cmd, delay):
            report.kills += 1
        else:
            report.finished_before_kill += 1
        report.problems.extend(f"after a kill at {delay:.2f} s: {p}" for p in case_problems(case_path))
    code, _, err = run(cmd)
    if code != ok:
        report.problems.append(f"the run after the kills failed ({code}): {err[-500:]}")
