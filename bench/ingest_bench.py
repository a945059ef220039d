"""Ingest benchmark: whole-process wall time and peak RSS of `forensics ingest` and rivals.

Run on demand (it is not a test)::

    python bench/ingest_bench.py --lines 2000000
    python bench/ingest_bench.py --lines 10000000 --skip-baseline --small-files 0 --json out.json

Generates deterministic combined logs (bench/loggen.py: plain and .gz, cached in the work dir by
size and seed), then runs each case as a child process under a tiny wrapper that reports the
child's wall time, CPU time and peak RSS (``RUSAGE_CHILDREN`` of the wrapper = that one
command). Each run gets a fresh case file; input files are in the page cache. Cases: forensics
on the plain and the .gz file, the naive Python ``re`` ingest (bench/baseline_python_re.py),
GoAccess when it is on PATH, one ingest of a tree of many small .gz files, and (``--alb-files K``)
one ingest of an ALB ``AWSLogs/…/elasticloadbalancing`` tree of .log.gz files.

After each run the case is checked: events + rejects must equal the lines generated, the
sources table must agree, and 300 sampled line numbers must hold those lines' ip/status/bytes.
The machine is shared? ``--wait-idle S`` waits for quiet before each run, and the "other load"
column shows how many CPUs other processes used during the run (anything above ~0.1 skews it).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loggen import write_alb_tree, write_big, write_small

IDLE_WAIT = 0.0  # --wait-idle
HERE = Path(__file__).resolve().parent
PY = sys.executable
FORENSICS = shutil.which("forensics", path=str(Path(PY).parent)) or shutil.which("forensics")
WRAPPER = """
import json, resource, subprocess, sys, time
t = time.perf_counter()
rc = subprocess.call(sys.argv[2:])
wall = time.perf_counter() - t
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
with open(sys.argv[1], "w") as fh:
    json.dump({"rc": rc, "wall": wall, "cpu": ru.ru_utime + ru.ru_stime, "maxrss_kb": ru.ru_maxrss}, fh)
"""


@dataclass
class Result:
    case: str
    lines: int
    files: int
    seconds: float
    cpu_seconds: float
    peak_rss_mb: float
    check: str
    output_mb: float | None = None
    other_cpus: float = 0.0  # average CPUs used by other processes during the median run
    runs: list[float] = field(default_factory=list)
    code: str = ""  # git state of the package when the median run ran

    @property
    def lines_per_s(self) -> float:
        return self.lines / self.seconds


def cpu_ticks() -> tuple[int, int]:
    """(all ticks, busy ticks) of the machine since boot, from /proc/stat; zeros elsewhere."""
    try:
        with open("/proc/stat") as fh:
            vals = [int(v) for v in fh.readline().split()[1:]]
    except OSError:
        return 0, 0
    return sum(vals), sum(vals) - vals[3] - vals[4]  # minus idle and iowait


def cpu_busy(seconds: float = 1.0) -> float:
    """Share of all CPUs busy over ``seconds`` (other work on the machine skews timings)."""
    t0, b0 = cpu_ticks()
    time.sleep(seconds)
    t1, b1 = cpu_ticks()
    return (b1 - b0) / max(t1 - t0, 1)


def wait_idle(max_wait: float) -> float:
    """Wait (up to ``max_wait`` s) until the machine is idle; returns the last busy share."""
    deadline = time.monotonic() + max_wait
    busy = cpu_busy()
    while busy > 0.10 and time.monotonic() < deadline:
        busy = cpu_busy(2.0)
    return busy


def measure(cmd: list[str], log: Path, ok: tuple[int, ...] = (0,)) -> dict[str, float]:
    """Run ``cmd`` under the wrapper; its output goes to ``log``; an exit code not in ``ok`` fails."""
    stats = log.with_suffix(".json")
    _, busy0 = cpu_ticks()
    with open(log, "w") as out:
        subprocess.run(
            [PY, "-c", WRAPPER, str(stats), *cmd], stdout=out, stderr=subprocess.STDOUT, check=True
        )
    _, busy1 = cpu_ticks()
    res: dict[str, float] = json.loads(stats.read_text())
    if res["rc"] not in ok:
        raise RuntimeError(f"{cmd[0]} exited {res['rc']}; see {log}")
    # CPUs kept busy by anything else meanwhile (another job on the machine skews the timing)
    res["other_cpus"] = max((busy1 - busy0) / os.sysconf("SC_CLK_TCK") - res["cpu"], 0.0) / res["wall"]
    return res


RAW = re.compile(r'^(\S+) .*?" (\d{3}) (\d+|-) "')


def sample_lines(plain: Path, n: int, k: int = 300, seed: int = 7) -> dict[int, str]:
    """``k`` random lines of the file by number (1-based), to check stored line numbers."""
    want = set(random.Random(seed).sample(range(1, n + 1), min(k, n)))
    out = {}
    with open(plain, "rb") as fh:
        for i, raw in enumerate(fh, 1):
            if i in want:
                out[i] = raw.decode("utf-8", "backslashreplace").rstrip("\r\n")
    return out


def spot_check(con: duckdb.DuckDBPyConnection, sample: dict[int, str]) -> str:
    """Do the events stored under the sampled line numbers carry those lines' ip/status/bytes?"""
    got = {
        r[0]: r[1:]
        for r in con.execute(
            "SELECT line_no, client_ip, status, bytes_sent FROM events WHERE line_no IN "
            f"({', '.join(map(str, sample))})"
        ).fetchall()
    }
    bad = 0
    for no, line in sample.items():
        m = RAW.match(line)
        want = (m[1], int(m[2]), None if m[3] == "-" else int(m[3])) if m else None
        bad += got.get(no) != want
    return f", line_no spot check {'ok' if not bad else f'MISMATCH {bad}'}/{len(sample)}"


def check_case(case: Path, expected: int, files: int, sample: dict[int, str] | None = None) -> str:
    """events + rejects == lines generated (and sources agree), line numbers right, or FAIL."""
    con = duckdb.connect(str(case), read_only=True)
    try:
        ev, rj = (
            (con.execute(f"SELECT count(*) FROM {t}").fetchone() or (0,))[0] for t in ("events", "rejects")
        )
        tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        src = ""
        if "sources" in tables:
            row = con.execute(
                "SELECT count(*), sum(lines), string_agg(DISTINCT reader, '+'), "
                "string_agg(DISTINCT status, '+') FROM sources"
            ).fetchone()
            assert row is not None
            n_src, src_lines, readers, statuses = row
            src = f" reader={readers} status={statuses}"
            if n_src != files or src_lines != expected:
                src += f" SOURCES MISMATCH ({n_src} files, {src_lines} lines)"
        if sample:
            src += spot_check(con, sample)
    finally:
        con.close()
    ok = "ok" if ev + rj == expected and "MISMATCH" not in src else "FAIL"
    return f"{ok}: {ev:,} events + {rj:,} rejects = {ev + rj:,} / {expected:,}{src}"


def run_case(name: str, cmd_for: list[str], case: Path | None, n: int, files: int, repeat: int,
             logdir: Path, sample: dict[int, str] | None = None) -> Result:  # fmt: skip
    runs, rss, cpu, other, code, check, size = [], [], [], [], [], "", None
    for k in range(repeat):
        busy = wait_idle(IDLE_WAIT)
        if busy > 0.10:
            print(f"  warning: machine {busy:.0%} busy before this run; timings are skewed", flush=True)
        if case is not None:
            for p in (case, case.with_name(case.name + ".wal")):
                p.unlink(missing_ok=True)
        res = measure(cmd_for, logdir / f"{name.replace(' ', '_')}.{k}.log")
        runs.append(res["wall"])
        rss.append(res["maxrss_kb"] / 1024)
        cpu.append(res["cpu"])
        code.append(git_state())
        other.append(res["other_cpus"])
        if case is not None:
            check = check_case(case, n, files, sample)
            size = case.stat().st_size / 1e6
        print(
            f"  {name} run {k + 1}: {res['wall']:.2f} s, {rss[-1]:.0f} MB, "
            f"other load {other[-1]:.2f} CPUs  {check}",
            flush=True,
        )
    mid = runs.index(sorted(runs)[(len(runs) - 1) // 2])
    if len(set(code)) > 1:
        print(f"  warning: the package changed between runs: {sorted(set(code))}", flush=True)
    return Result(name, n, files, runs[mid], cpu[mid], max(rss), check, size, other[mid], runs, code[mid])


def goaccess_case(plain: Path, n: int, repeat: int, work: Path) -> Result | None:
    exe = shutil.which("goaccess")
    if exe is None:
        print("  goaccess not on PATH: skipped")
        return None
    out = work / "goaccess.json"
    cmd = [exe, str(plain), "--log-format=COMBINED", "--no-global-config", "-o", str(out)]
    res = run_case("goaccess (JSON report)", cmd, None, n, 1, repeat, work / "logs")
    general = json.loads(out.read_text()).get("general", {})
    total, failed = general.get("total_requests"), general.get("failed_requests")
    res.check = f"{'ok' if total == n else 'FAIL'}: total_requests={total:,} failed={failed:,}"
    res.output_mb = out.stat().st_size / 1e6
    return res


def table(results: list[Result]) -> str:
    base = next((r for r in results if r.case.startswith("baseline")), None)
    head = ("| case | lines | files | seconds | min s | lines/s | files/s | peak RSS MB | CPU s "
            "| other load | out MB | vs baseline | check |")  # fmt: skip
    rows = [head, "|" + "---|" * 13]
    for r in results:
        speed = f"{r.lines_per_s / base.lines_per_s:.1f}x" if base and base.lines == r.lines else "-"
        files_s = f"{r.files / r.seconds:,.0f}" if r.files > 1 else "-"
        out = f"{r.output_mb:.0f}" if r.output_mb is not None else "-"
        rows.append(
            f"| {r.case} | {r.lines:,} | {r.files:,} | {r.seconds:.2f} | {min(r.runs):.2f} "
            f"| {r.lines_per_s:,.0f} | {files_s} "
            f"| {r.peak_rss_mb:,.0f} | {r.cpu_seconds:.1f} | {r.other_cpus:.2f} | {out} | {speed} "
            f"| {r.check} |"
        )
    return "\n".join(rows)


def calibrate() -> str:
    """A fixed CPU task, to compare runs made at different times on a shared machine."""
    t = time.perf_counter()
    hashlib.sha256(bytes(400_000_000)).hexdigest()
    return f"CPU calibration: sha256 of 400 MB in {time.perf_counter() - t:.2f} s"


def git_state() -> str:
    """The commit measured, and whether the package had uncommitted changes."""
    if os.environ.get("PYTHONPATH"):
        return f"package from PYTHONPATH={os.environ['PYTHONPATH']}"
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True, text=True
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "forensics"],
            cwd=HERE.parent,
            capture_output=True,
            text=True,
        )
    except OSError:
        return "git: unknown"
    changed = [ln[3:] for ln in dirty.stdout.splitlines()]
    return f"git {head.stdout.strip()}" + (f" + uncommitted {', '.join(changed)}" if changed else "")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=2_000_000, help="lines in the big file (0: none)")
    ap.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="runs per case; the median run is reported (lower middle for even R)",
    )
    ap.add_argument("--skip-baseline", action="store_true", help="do not run the Python re baseline")
    ap.add_argument("--skip-gzip", action="store_true", help="do not run the .gz case")
    ap.add_argument("--goaccess", choices=["auto", "no"], default="auto", help="run GoAccess if on PATH")
    ap.add_argument("--small-files", type=int, default=2000, metavar="K", help="K hourly .gz files (0: skip)")
    ap.add_argument("--small-lines", type=int, default=250, help="lines per small file")
    ap.add_argument("--alb-files", type=int, default=0, metavar="K", help="K ALB .log.gz files (0: skip)")
    ap.add_argument("--alb-lines", type=int, default=2500, help="lines per ALB file")
    ap.add_argument("--seed", type=int, default=20240331)
    ap.add_argument("--workdir", type=Path, default=HERE / "work")
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument(
        "--wait-idle",
        type=float,
        default=0.0,
        metavar="S",
        help="before each run wait up to S seconds for other processes to go idle",
    )
    ap.add_argument(
        "--pythonpath",
        type=Path,
        metavar="DIR",
        help="measure the forensics package in DIR (e.g. an unpacked patched tree) instead",
    )
    args = ap.parse_args(argv)
    if args.pythonpath:
        os.environ["PYTHONPATH"] = str(args.pythonpath.resolve())
    global IDLE_WAIT
    IDLE_WAIT = args.wait_idle
    if FORENSICS is None:
        ap.error("the forensics command is not installed next to this Python")
    work: Path = args.workdir.resolve()
    (work / "logs").mkdir(parents=True, exist_ok=True)
    case = work / "bench-case.duckdb"
    results: list[Result] = []
    print(
        f"duckdb {duckdb.__version__}, python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {git_state()}"
    )
    print(calibrate())
    if args.lines:
        print(f"generating/reusing {args.lines:,} lines in {work} …", flush=True)
        plain, gz = write_big(work, args.lines, args.seed)
        sample = sample_lines(plain, args.lines)
        for f in (plain, gz):
            print(f"  {f.name}: {f.stat().st_size / 1e6:,.0f} MB")
        cases = [("forensics plain", plain)] + ([] if args.skip_gzip else [("forensics gzip", gz)])
        for name, path in cases:
            cmd = [FORENSICS, "ingest", str(case), str(path)]
            results.append(run_case(name, cmd, case, args.lines, 1, args.repeat, work / "logs", sample))
        if not args.skip_baseline:
            cmd = [PY, str(HERE / "baseline_python_re.py"), str(case), str(plain)]
            results.insert(
                0,
                run_case("baseline python re", cmd, case, args.lines, 1, args.repeat, work / "logs", sample),
            )
        if args.goaccess == "auto":
            ga = goaccess_case(plain, args.lines, args.repeat, work)
            results += [ga] if ga else []
    if args.small_files:
        k, per = args.small_files, args.small_lines
        print(f"generating/reusing {k:,} x {per} line .gz files …", flush=True)
        root = write_small(work, k, per, args.seed)
        cmd = [FORENSICS, "ingest", str(case), str(root)]
        results.append(
            run_case(f"forensics {k}x{per} .gz tree", cmd, case, k * per, k, args.repeat, work / "logs")
        )
    if args.alb_files:
        k, per = args.alb_files, args.alb_lines
        print(f"generating/reusing {k:,} x {per} line ALB .log.gz files …", flush=True)
        root = write_alb_tree(work, k, per, args.seed)
        cmd = [FORENSICS, "ingest", str(case), str(root)]
        results.append(
            run_case(
                f"forensics ALB {k}x{per} .gz AWSLogs tree", cmd, case, k * per, k, args.repeat, work / "logs"
            )
        )
    print()
    print(f"code measured: {', '.join(sorted({r.code for r in results if r.code}))}")
    print("seconds = median of runs (whole process); other load = CPUs busy with other work meanwhile")
    print(table(results))
    if args.json:
        args.json.write_text(
            json.dumps([asdict(r) | {"lines_per_s": r.lines_per_s} for r in results], indent=2) + "\n"
        )
    for p in (case, case.with_name(case.name + ".wal")):
        p.unlink(missing_ok=True)
    return 1 if any(r.check.startswith("FAIL") for r in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
