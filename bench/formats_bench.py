"""Every registered format's ingest against a bare DuckDB read of the same files' lines.

Run on demand (it is not a test)::

    python bench/formats_bench.py                      # every format, 1M lines each
    python bench/formats_bench.py --formats alb combined jsonl --lines 200000

For each format it generates ``--lines`` realistic lines (cached in the work dir by format, size
and seed) from the format's documented example line (``LogFormat.example``): each line gets its
own client address (one in ten IPv6), time (seconds apart, in the example's own time notation),
path with record ids and query strings, user agent (encoded as the format encodes it), status and
request/trace ids (hex runs and UUIDs of the example are drawn anew). Combined lines come from
bench/loggen.py (its tested generator); ALB lines from loggen's ALB generator. AWS formats (alb,
elb, nlb, s3) and CloudFront are written as AWS delivers them: many small gzip files (ALB: 400 x
2,500 lines for 1M); the others as one gzip file.

Then, as whole child processes (bench/ingest_bench.py's ``measure``: wall, CPU, peak RSS):

* floor: a bare ``python -c`` that imports duckdb and counts the files' lines with the
  ``read_csv`` call forensics reads raw lines with (linereader.read_lines_call);
* ingest: ``forensics ingest`` into a fresh case.

Printed per format: lines, ingest seconds, floor seconds, their ratio, the case's bytes per
event (after ingest; the file DuckDB leaves, checkpointed on close; in brackets its used blocks
only, without free blocks the commits left), the gzip evidence's bytes per line, and the
machine load (/proc/loadavg's 1-minute figure before the pair, and the CPUs other processes
used during the ingest). Each ingest is checked: events + rejects = lines, and no rejects for
these generated lines.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import re
import shutil
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest_bench import FORENSICS, PY, git_state, measure
from loggen import PATHS, AlbGenerator, Generator

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# ingest options a format needs (HAProxy writes local times without an offset: --tz is required)
INGEST_ARGS: dict[str, list[str]] = {"haproxy": ["--tz", "UTC"]}
AWS_MANY_FILES = {"alb": 2500, "elb": 2500, "nlb": 2500, "s3": 2500, "cloudfront": 10_000}
START = 1710237600.0  # 2024-03-12 10:00:00 UTC

FLOOR = """
import glob, sys
import duckdb
from forensics.ingest.linereader import read_lines_call
from forensics.store.db import sql_list
files = sorted(glob.glob(sys.argv[1] + "/**/*.gz", recursive=True))
con = duckdb.connect()
n = con.execute(f"SELECT count(*) FROM {read_lines_call(sql_list(files), 'gzip')}").fetchone()[0]
print(n)
"""

# time notations found in examples: (regex, renderer of an epoch time given the matched text)
_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def _frac(text: str, t: float) -> str:
    m = re.search(r"\.(\d+)", text)
    if not m:
        return ""
    digits = len(m[1])
    return "." + f"{t % 1:.{digits}f}"[2:]


def _clf(text: str, t: float) -> str:
    g = time.gmtime(t)
    return f"{g.tm_mday:02d}/{_MONTHS[g.tm_mon - 1]}/{g.tm_year}:{time.strftime('%H:%M:%S', g)}" + _frac(
        text, t
    )


def _iso(sep: str) -> Callable[[str, float], str]:
    def render(text: str, t: float) -> str:
        return time.strftime(f"%Y-%m-%d{sep}%H:%M:%S", time.gmtime(t)) + _frac(text, t)

    return render


def _syslog(text: str, t: float) -> str:
    g = time.gmtime(t)
    return f"{_MONTHS[g.tm_mon - 1]} {g.tm_mday:2d} {time.strftime('%H:%M:%S', g)}"


TIMES: list[tuple[str, Callable[[str, float], str]]] = [
    (r"\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d(?:\.\d+)?", _clf),
    (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?", _iso("T")),
    (r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?", _iso(" ")),
    (r"\d{4}-\d\d-\d\d\t\d\d:\d\d:\d\d(?:\.\d+)?", _iso("\t")),
    (r"\b[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d\b", _syslog),
    (r"(?<![\d.])1[67]\d{11}(?![\d.])", lambda _, t: str(int(t * 1000))),
    (r"(?<![\d.])1[67]\d{8}\.\d+(?![\d.])", lambda x, t: f"{t:.{len(x.split('.')[1])}f}"),
    (r"(?<![\d.])1[67]\d{8}(?![\d.])", lambda _, t: str(int(t))),
]
HEX_RE = r"(?<![0-9A-Za-z])[0-9a-f]{16,40}(?![0-9A-Za-z])"
UUID_RE = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


@dataclass
class Template:
    """An example line with placeholders where a generated value goes."""

    parts: list[tuple[str, str]]  # (literal text, slot after it: '' for none)
    renderers: dict[str, Callable[[str, float], str]]
    originals: dict[str, str]
    ua_style: str  # raw | url | plus | json


def _parse_example(name: str) -> dict[str, object]:
    from forensics import formats
    from forensics.formats.base import ParseOptions
    from forensics.store.db import connect

    fmt = formats.REGISTRY[name]
    con = connect(":memory:")
    sql = fmt.bind([fmt.example], ParseOptions(tz="UTC")).select_sql(
        "(SELECT 1::BIGINT AS line_no, ? AS line)"
    )
    cur = con.execute(f"SELECT * FROM ({sql})", [fmt.example])
    row = dict(zip([d[0] for d in cur.description], cur.fetchone() or (), strict=True))
    con.close()
    if row.get("reject_reason"):
        raise SystemExit(f"{name}: its own example is rejected ({row['reject_reason']})")
    return row


def template(name: str) -> Template:
    from forensics import formats

    line = formats.REGISTRY[name].example
    row = _parse_example(name)
    slots: list[tuple[int, int, str]] = []  # (start, end, slot name)
    renderers: dict[str, Callable[[str, float], str]] = {}
    originals: dict[str, str] = {}

    def add(pattern: str, slot: str) -> None:
        for m in re.finditer(pattern, line):
            if any(s < m.end() and m.start() < e for s, e, _ in slots):
                continue
            key = f"{slot}{len(slots)}"
            slots.append((m.start(), m.end(), key))
            originals[key] = m[0]

    for i, (rx, render) in enumerate(TIMES):
        before = len(slots)
        add(rx, f"t{i}_")
        for _, _, key in slots[before:]:
            renderers[key] = render
    ua_style = "raw"
    ua = str(row.get("user_agent") or "")
    if ua and ua != "-":
        for style, text in (
            ("raw", ua),
            ("json", json.dumps(ua)[1:-1]),
            ("url", quote(ua, safe="/;:,=+()")),
            ("plus", ua.replace(" ", "+")),
        ):
            if text in line:
                ua_style = style
                add(re.escape(text), "ua")
                break
    path = str(row.get("path") or "")
    if path not in ("", "/"):
        add(re.escape(path) + r"(?:\?[^\s\"\t]*)?", "path")
    ip = str(row.get("client_ip") or row.get("forwarded_for") or "")
    if ip:
        add(r"(?<![\d.])" + re.escape(ip) + r"(?![\d.])", "ip")
    status = row.get("status")
    if status:
        add(r"(?<![\w./-])" + str(status) + r"(?![\w./-])", "st")
    add(UUID_RE, "uuid")
    add(HEX_RE, "hex")
    slots.sort()
    parts, pos = [], 0
    for s, e, key in slots:
        parts.append((line[pos:s], key))
        pos = e
    parts.append((line[pos:], ""))
    return Template(parts, renderers, originals, ua_style)


class LineMaker:
    """Lines from a template: values drawn per line (deterministic for a seed)."""

    def __init__(self, tpl: Template, seed: int, ipv6: bool = True) -> None:
        self.tpl, self.rng = tpl, random.Random(seed)
        gen = Generator(seed, 1000)
        self.ips = gen.ips if ipv6 else [ip for ip in gen.ips if ":" not in ip]
        self.uas = [ua for ua in gen.uas if '"' not in ua and "\\" not in ua]
        self.t = START

    def _ua(self) -> str:
        ua = self.rng.choice(self.uas)
        style = self.tpl.ua_style
        if style == "url":
            return quote(ua, safe="/;:,=+()")
        if style == "plus":
            return ua.replace(" ", "+")
        return ua

    def _path(self) -> str:
        r = self.rng
        tpl = PATHS[r.randrange(len(PATHS) - 3)][0]  # not the scanners' odd requests
        orig = self.tpl.originals
        ids = {"i": r.randrange(100_000, 9_999_999), "t": r.randrange(10**9), "p": r.randrange(40)}
        path = tpl.format(h=f"{r.getrandbits(40):010x}", **ids)
        has_query = any(k.startswith("path") and "?" in v for k, v in orig.items())
        if not has_query and "?" not in path and r.random() < 0.3:
            path += f"?page={r.randrange(40)}"
        return path

    def line(self) -> str:
        r = self.rng
        self.t += r.expovariate(1 / 0.05)
        status = r.choice((200, 200, 200, 200, 200, 304, 404, 401, 500, 201))
        out = []
        ip, ua, path = r.choice(self.ips), self._ua(), self._path()
        for text, key in self.tpl.parts:
            out.append(text)
            if not key:
                continue
            if key.startswith("t"):
                out.append(self.tpl.renderers[key](self.tpl.originals[key], self.t))
            elif key.startswith("ua"):
                out.append(ua)
            elif key.startswith("path"):
                out.append(path)
            elif key.startswith("ip"):
                out.append(ip)
            elif key.startswith("st"):
                out.append(str(status))
            elif key.startswith("uuid"):
                out.append(str(uuid.UUID(int=r.getrandbits(128))))
            elif key.startswith("hex"):
                n = len(self.tpl.originals[key])
                out.append(f"{r.getrandbits(4 * n):0{n}x}")
        return "".join(out)


def header(name: str) -> str:
    """A file's header lines for formats that write one (W3C, CloudFront)."""
    if name == "cloudfront":
        from forensics.formats.cloudfront import STANDARD_HEADER

        return f"#Version: 1.0\n#Fields: {STANDARD_HEADER}\n"
    return ""


def generate(name: str, n: int, seed: int, work: Path) -> tuple[Path, int]:
    """The evidence folder for ``name`` (cached) and its line count."""
    per = AWS_MANY_FILES.get(name, n)
    root = work / f"{name}-{n}-s{seed}"
    done = root.with_name(root.name + ".complete")
    if done.exists():
        return root, int(done.read_text().split()[0])
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    files = max(1, n // per)
    total = 0
    if name == "combined":
        gen = Generator(seed, n)
        for k in range(files):
            text = gen.chunk(per) if per <= 200_000 else "".join(gen.lines(per))
            (root / f"access-{k:05d}.log.gz").write_bytes(gzip.compress(text.encode(), 6, mtime=0))
            total += per
    elif name == "alb":
        alb = AlbGenerator(seed, n, mean_step_s=300 / per)
        for k in range(files):
            tm = time.gmtime(START + k * 300)
            folder = (
                root / "AWSLogs/123456789012/elasticloadbalancing/eu-west-2" / time.strftime("%Y/%m/%d", tm)
            )
            folder.mkdir(parents=True, exist_ok=True)
            fname = (
                "123456789012_elasticloadbalancing_eu-west-2_app.prod-api.50dc6c495c0c9188_"
                f"{time.strftime('%Y%m%dT%H%MZ', tm)}_10.0.1.{k % 250}_{k:08x}.log.gz"
            )
            (folder / fname).write_bytes(gzip.compress(alb.chunk(per).encode(), 6, mtime=0))
            total += per
    else:
        maker = LineMaker(template(name), seed, ipv6=name not in NO_IPV6)
        head = header(name)
        for k in range(files):
            text = head + "".join(maker.line() + "\n" for _ in range(per))
            (root / f"{name}-{k:05d}.log.gz").write_bytes(gzip.compress(text.encode(), 6, mtime=0))
            total += per + head.count("\n")
    done.write_text(f"{total} {files}\n")
    return root, total


# formats whose documented layout cannot carry an unbracketed IPv6 client next to a port
NO_IPV6: set[str] = set()


def case_check(case: Path, lines: int) -> tuple[str, int, int, int]:
    """(check, events, rejects, bytes of the case file's used blocks: free blocks left over from
    the batches' commits vary between runs of the same ingest)."""
    con = duckdb.connect(str(case), read_only=True)
    try:
        size = con.execute("SELECT block_size * used_blocks FROM pragma_database_size()").fetchone()
        used = int(size[0]) if size else 0
        ev = int((con.execute("SELECT count(*) FROM events").fetchone() or (0,))[0])
        rows = con.execute(
            "SELECT reason, count(*) FROM rejects GROUP BY 1 ORDER BY 2 DESC LIMIT 3"
        ).fetchall()
    finally:
        con.close()
    rj = sum(int(r[1]) for r in rows)
    not_entries = sum(int(n) for reason, n in rows if str(reason).startswith("not an access-log entry"))
    ok = ev + rj == lines and rj == not_entries
    why = "" if ok else f" rejects: {rows}"
    return ("ok" if ok else "FAIL") + why, ev, rj, used


def loadavg() -> float:
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except OSError:
        return float("nan")


def main(argv: list[str] | None = None) -> int:
    from forensics import formats

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--formats", nargs="*", default=list(formats.REGISTRY), help="formats to run (default: all)"
    )
    ap.add_argument("--lines", type=int, default=1_000_000, help="lines per format")
    ap.add_argument("--seed", type=int, default=20240312)
    ap.add_argument("--workdir", type=Path, default=HERE / "work" / "formats")
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument(
        "--pythonpath",
        type=Path,
        metavar="DIR",
        help="measure the forensics package in DIR (e.g. `git archive <commit>` unpacked) instead",
    )
    args = ap.parse_args(argv)
    if args.pythonpath:
        os.environ["PYTHONPATH"] = str(args.pythonpath.resolve())
    unknown = set(args.formats) - set(formats.REGISTRY)
    if unknown:
        ap.error(f"unknown formats {sorted(unknown)}; known: {', '.join(formats.REGISTRY)}")
    if FORENSICS is None:
        ap.error("the forensics command is not installed next to this Python")
    work: Path = args.workdir.resolve()
    (work / "logs").mkdir(parents=True, exist_ok=True)
    case = work / "bench-case.duckdb"
    print(f"duckdb {duckdb.__version__}, {git_state()}, lines per format {args.lines:,}", flush=True)
    head = (
        "| format | lines | files | ingest s | floor s | ratio | ingest CPU s | peak RSS MB "
        "| case B/event (used) | gzip B/line | load 1m | other CPUs | check |"
    )
    rows, results, failed = [head, "|" + "---|" * 13], [], False
    for name in args.formats:
        root, lines = generate(name, args.lines, args.seed, work)
        files = sorted(root.rglob("*.gz"))
        gz_bytes = sum(f.stat().st_size for f in files)
        load = loadavg()
        floor = measure([PY, "-c", FLOOR, str(root)], work / "logs" / f"{name}.floor.log")
        for p in (case, case.with_name(case.name + ".wal")):
            p.unlink(missing_ok=True)
        try:
            cmd = [FORENSICS, "ingest", *INGEST_ARGS.get(name, []), str(case), str(root)]
            ing = measure(cmd, work / "logs" / f"{name}.ingest.log")
        except RuntimeError as exc:
            print(f"{name}: {exc}", flush=True)
            failed = True
            continue
        check, events, _, used = case_check(case, lines)
        failed |= not check.startswith("ok")
        size = case.stat().st_size
        res = {
            "format": name,
            "lines": lines,
            "files": len(files),
            "ingest_s": ing["wall"],
            "floor_s": floor["wall"],
            "ratio": ing["wall"] / floor["wall"],
            "ingest_cpu_s": ing["cpu"],
            "peak_rss_mb": ing["maxrss_kb"] / 1024,
            "case_bytes_per_event": size / max(events, 1),
            "case_used_bytes_per_event": used / max(events, 1),
            "gzip_bytes_per_line": gz_bytes / lines,
            "load_1m": load,
            "other_cpus": ing["other_cpus"],
            "check": check,
        }
        results.append(res)
        row = (
            f"| {name} | {lines:,} | {len(files):,} | {ing['wall']:.2f} | {floor['wall']:.2f} | "
            f"{res['ratio']:.1f}x | {ing['cpu']:.1f} | {res['peak_rss_mb']:,.0f} | "
            f"{res['case_bytes_per_event']:.0f} ({res['case_used_bytes_per_event']:.0f}) | "
            f"{res['gzip_bytes_per_line']:.0f} | {load:.2f} | "
            f"{ing['other_cpus']:.2f} | {check} |"
        )
        rows.append(row)
        print(row, flush=True)
    for p in (case, case.with_name(case.name + ".wal")):
        p.unlink(missing_ok=True)
    print()
    print("\n".join(rows))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
