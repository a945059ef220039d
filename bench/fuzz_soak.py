"""Fuzz soak: the fuzz properties with many more examples, and whole files through the CLI.

Run on demand (not in CI)::

    python bench/fuzz_soak.py --examples 20000 --minutes 10
    python bench/fuzz_soak.py --examples 500 --minutes 2 --skip-lines   # only the file phase

Phase 1 (lines): for every registered format, hypothesis draws hostile lines (tests/fuzzkit.py:
example lines mutated, random text, other formats' lines spliced) until ``--examples`` per
format or the phase's share of the time is used; the sniffer and ``bind`` run per example, the
parser once per bound parser over all lines; every line is checked (fuzzkit.row_problems).

Phase 2 (files): real files (../shared/realdata, tests/data/realdata, sample_logs) mutated as
bytes — flips, truncation, inserted NUL / invalid UTF-8 / CR, and for compressed files the
stream cut or corrupted — each batch ingested by ``forensics ingest`` in a subprocess. The exit
status must be 0 or 1, stderr must not hold a traceback, and for every ingested source
lines = events + rejects = its rows in the events and rejects tables, for an uncompressed
file lines = the lines counted here, and ``forensics verify`` passes on the fresh case (the row
digests written at ingest agree with the stored rows).

Prints the figures for the closing note: inputs tried, crashes, accounting violations.
Exits 1 when any crash or violation was seen (the first few are printed).
"""

from __future__ import annotations

import argparse
import bz2
import gzip
import io
import lzma
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import duckdb  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.errors import HypothesisException  # noqa: E402

from forensics import formats  # noqa: E402
from forensics.store.db import connect  # noqa: E402
from tests.fuzzkit import FUZZ, TZ, Collector, bind_any, line_lists, parse_keyed, row_problems  # noqa: E402
from tests.test_fuzz_ingest import count_lines  # noqa: E402

REAL_DIRS = [
    ROOT.parent / "shared" / "realdata",
    ROOT / "tests" / "data" / "realdata",
    ROOT / "sample_logs",
]
BAD_BYTES = [
    b"\x00",
    b"\xff",
    b"\xc3\x28",
    b"\r",
    b"\n",
    b'"',
    b"\\",
    b"\x1b[31m",
    b"\xed\xa0\x80",
    b" " * 5000,
]
CLI = str(Path(sys.executable).with_name("forensics"))  # the venv's console script
COMPRESS = {"gz": gzip.compress, "bz2": bz2.compress, "xz": lzma.compress}


class Tally:
    def __init__(self) -> None:
        self.n: Counter[str] = Counter()
        self.problems: list[str] = []
        self.errors: list[str] = []  # messages of files recorded as errors (not failures)

    def problem(self, kind: str, text: str) -> None:
        self.n[kind] += 1
        if len(self.problems) < 20:
            self.problems.append(f"[{kind}] {text[:1500]}")


def lines_phase(examples: int, deadline: float, tally: Tally) -> None:
    con = connect(":memory:")
    names = sorted(formats.REGISTRY)
    per_format_s = max(1.0, (deadline - time.monotonic()) / len(names))
    for name in names:
        fmt = formats.REGISTRY[name]
        seen = Collector()
        stop = time.monotonic() + per_format_s * 0.8  # leave time for the parse

        # in chunks with fresh seeds, so the time share is kept (generation costs too)
        while seen.examples < examples and time.monotonic() < stop:
            chunk = min(20, examples - seen.examples)
            try:
                _gatherer(con, fmt, seen, stop, chunk, tally)()
            except HypothesisException as exc:
                tally.problem("crash", f"{name}: hypothesis: {exc}")
                break
        tally.n["examples"] += seen.examples
        for parser, keyed in seen.groups.values():
            tally.n["lines"] += len(keyed)
            try:
                rows = parse_keyed(con, parser, keyed)
            except duckdb.Error as exc:
                tally.problem("crash", f"{name} parse {type(exc).__name__}: {exc}")
                continue
            for p in row_problems(name, keyed, rows):
                tally.problem("violation", p)
        print(f"  {name:16} {seen.examples:6} examples {seen.lines:8} lines", flush=True)
    con.close()


def _gatherer(
    con: duckdb.DuckDBPyConnection,
    fmt: formats.LogFormat,
    seen: Collector,
    stop: float,
    examples: int,
    tally: Tally,
) -> Any:
    @settings(FUZZ, max_examples=examples, derandomize=False)
    @given(lines=line_lists(fmt.example), cuts=st.lists(st.integers(0, 30), max_size=3))
    def gather(lines: list[str], cuts: list[int]) -> None:
        if time.monotonic() > stop:
            return
        try:
            fmt.matches(con, lines)
            seen.add(bind_any(fmt, lines), lines, cuts)
        except Exception as exc:  # a crash: counted, the lines kept for the report
            tally.problem("crash", f"{fmt.name} sniff/bind {type(exc).__name__}: {exc} on {lines[:3]!r}")

    return gather


def real_files() -> list[Path]:
    out = []
    for d in REAL_DIRS:
        if d.is_dir():
            out += [
                p for p in sorted(d.rglob("*")) if p.is_file() and p.suffix not in (".md", ".json", ".txt")
            ]
    return [p for p in out if "licenses" not in p.parts and p.stat().st_size < 20 << 20]


def mutate(data: bytes, rng: random.Random) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        kind = rng.choice(["flip", "insert", "insert", "cut", "drop", "dup"])
        pos = rng.randrange(len(buf) + 1)
        if kind == "flip" and buf:
            buf[min(pos, len(buf) - 1)] = rng.randrange(256)
        elif kind == "insert":
            buf[pos:pos] = rng.choice(BAD_BYTES)
        elif kind == "cut":
            del buf[pos:]
        elif kind == "drop":
            del buf[pos : pos + rng.randint(1, 200)]
        elif kind == "dup":
            buf[pos:pos] = buf[pos : pos + rng.randint(1, 2000)]
    return bytes(buf)


def head(path: Path, limit: int = 4 << 20) -> bytes:
    with path.open("rb") as fh:
        return fh.read(limit)


def files_phase(deadline: float, max_runs: int, seed: int, tally: Tally) -> None:
    rng = random.Random(seed)
    sources = real_files()
    if not sources:
        print("  no real files found", flush=True)
        return
    runs = 0
    while time.monotonic() < deadline and runs < max_runs:
        runs += 1
        with tempfile.TemporaryDirectory(prefix="fuzz-soak-") as tmp:
            ev = Path(tmp) / "evidence"
            ev.mkdir()
            plain: dict[str, bytes] = {}
            for i, src in enumerate(rng.sample(sources, min(len(sources), rng.randint(1, 6)))):
                raw = head(src)
                if raw[:2] == b"\x1f\x8b":  # a real .gz: fuzz its text (read to where it ends)
                    raw = gzip.GzipFile(fileobj=io.BytesIO(raw)).read1(4 << 20)
                data = mutate(raw, rng)
                how = rng.choice(["plain", "plain", "gz", "bz2", "xz", "gz-cut", "gz-corrupt"])
                name = ev / f"{i}-{src.name}"
                if how == "plain":
                    name.write_bytes(data)
                    plain[str(name)] = data
                else:
                    packed = bytearray(COMPRESS[how.split("-")[0]](data))
                    if how.endswith("cut"):
                        del packed[rng.randrange(10, max(11, len(packed))) :]
                    elif how.endswith("corrupt"):
                        for _ in range(rng.randint(1, 5)):
                            packed[rng.randrange(10, max(11, len(packed)))] = rng.randrange(256)
                    name.with_suffix(name.suffix + "." + how.split("-")[0]).write_bytes(bytes(packed))
                tally.n["files"] += 1
            case = Path(tmp) / "case.duckdb"
            args = [CLI, "ingest", str(case), str(ev), "--tz", TZ]
            if rng.random() < 0.2:
                args += ["--format", rng.choice(sorted(formats.REGISTRY))]
            proc = subprocess.run(args, capture_output=True, text=True, timeout=600, cwd=ROOT, check=False)
            tally.n["ingest runs"] += 1
            if proc.returncode not in (0, 1) or "Traceback" in proc.stderr:
                tally.problem("crash", f"exit {proc.returncode}: {proc.stderr[-1200:]}")
                continue
            if proc.returncode == 1 and not proc.stderr.strip():
                tally.problem("crash", "exit 1 without a message")
            if case.exists():
                check_case(case, plain, tally)
                check_verify(case, tally)


def check_verify(case: Path, tally: Tally) -> None:
    """A fresh ingest must verify: its row digests agree with its rows, the evidence is unchanged."""
    proc = subprocess.run(
        [CLI, "verify", str(case)], capture_output=True, text=True, timeout=600, cwd=ROOT, check=False
    )
    tally.n["verify runs"] += 1
    if proc.returncode != 0 or "Traceback" in proc.stderr:
        tally.problem("violation", f"verify exit {proc.returncode}: {(proc.stdout + proc.stderr)[-1200:]}")


def check_case(case: Path, plain: dict[str, bytes], tally: Tally) -> None:
    con = duckdb.connect(str(case), read_only=True)
    try:
        rows = con.execute("""
            SELECT s.path, s.status, s.lines, s.events, s.rejects,
                   (SELECT count(*) FROM events e WHERE e.source_id = s.source_id),
                   (SELECT count(*) FROM rejects j WHERE j.source_id = s.source_id),
                   s.warnings
            FROM sources s""").fetchall()
    finally:
        con.close()
    for path, status, lines, events, rejects, n_ev, n_rej, warn in rows:
        tally.n[f"sources {status}"] += 1
        if status == "error" and len(tally.errors) < 5:
            tally.errors.append(f"{Path(path).name}: {warn}")
        if status != "ingested":
            continue
        tally.n["lines ingested"] += lines
        if lines != events + rejects or (n_ev, n_rej) != (events, rejects):
            tally.problem(
                "violation",
                f"{path}: lines {lines} events {events}/{n_ev} rejects {rejects}/{n_rej}",
            )
        if path in plain and lines != count_lines(plain[path]):
            tally.problem(
                "violation",
                f"{path}: {lines} lines recorded, {count_lines(plain[path])} in the file",
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--examples", type=int, default=2000, help="hypothesis examples per format (phase 1)")
    ap.add_argument("--minutes", type=float, default=10.0, help="total time budget")
    ap.add_argument("--file-runs", type=int, default=10_000, help="at most this many ingest subprocesses")
    ap.add_argument("--seed", type=int, default=int(time.time()))
    ap.add_argument("--skip-lines", action="store_true")
    ap.add_argument("--skip-files", action="store_true")
    a = ap.parse_args()
    os.environ.setdefault("FORENSICS_FUZZ_EXAMPLES", str(a.examples))
    start = time.monotonic()
    end = start + a.minutes * 60
    tally = Tally()
    if not a.skip_lines:
        share = end if a.skip_files else start + (end - start) * 0.6
        print(f"lines phase: up to {a.examples} examples per format", flush=True)
        lines_phase(a.examples, share, tally)
    if not a.skip_files:
        print(f"files phase (seed {a.seed})", flush=True)
        files_phase(end, a.file_runs, a.seed, tally)
    took = time.monotonic() - start
    print(f"\nfigures ({took / 60:.1f} min):")
    for key in ("examples", "lines", "files", "ingest runs", "lines ingested"):
        print(f"  {key:22} {tally.n[key]:,}")
    for key in sorted(k for k in tally.n if k.startswith("sources ")):
        print(f"  {key:22} {tally.n[key]:,}")
    print(f"  {'crashes':22} {tally.n['crash']:,}")
    print(f"  {'accounting violations':22} {tally.n['violation']:,}")
    for e in tally.errors:
        print(f"  (file recorded as error: {e[:300]})")
    for p in tally.problems:
        print(p)
    sys.exit(1 if tally.n["crash"] or tally.n["violation"] else 0)


if __name__ == "__main__":
    main()
