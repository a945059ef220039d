"""Parser benchmark: `forensics ingest --format X` on N generated lines, this code vs a git ref.

Run on demand (it is not a test)::

    python bench/parser_bench.py --format haproxy --lines 200000 --ref HEAD~3
    python bench/parser_bench.py --format caddy --format gcp_lb --lines 100000 --ref main

Each format gets a deterministic file of realistic lines (HAProxy HTTP lines behind an RFC 3164
syslog header; Caddy access records as Caddy writes them; for the other fixed-mapping JSON
formats the format's example record with varied numbers). Each case runs as a child process
under bench/ingest_bench.py's wrapper (wall, CPU, peak RSS; other load on the machine), with a
fresh case file. ``--ref`` also runs the package as it was at that git ref (``git archive`` into
the work dir, imported instead of the editable install), in the same run, for a before/after.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest_bench import PY, measure

HERE = Path(__file__).resolve().parent
# run forensics' CLI, optionally from an exported package dir instead of the editable install
CHILD = """
import sys
old = sys.argv.pop(1)
if old:
    sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in getattr(f, "__module__", "")
                        and "editable" not in getattr(f, "__name__", "")]
    sys.path.insert(0, old)
import forensics.cli
assert not old or forensics.cli.__file__.startswith(old), forensics.cli.__file__
sys.argv[0] = "forensics"
forensics.cli.main()
"""
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
PATHS = [
    "/",
    "/index.html",
    "/api/v2/users/{n}",
    "/api/v2/orders?id={n}&full=1",
    "/static/app.{n}.js",
    "/login",
    "/search?q=a+b&page={n}",
]
TERM = ["----", "----", "----", "--NI", "CD--", "SD--", "cD--"]


def haproxy_lines(n: int, rng: random.Random) -> list[str]:
    out = []
    for i in range(n):
        s, ms = divmod(i, 1000)
        hh, mm, ss = (s // 3600) % 24, (s // 60) % 60, s % 60
        day = 1 + (s // 86400) % 28
        mon = MONTHS[(s // (86400 * 28)) % 12]
        ip = f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        path = rng.choice(PATHS).format(n=rng.randrange(100000))
        method = rng.choice(["GET", "GET", "GET", "POST", "PUT"])
        tr, tw, tc, tres = rng.randrange(50), 0, rng.randrange(5), rng.randrange(500)
        status = rng.choice([200, 200, 200, 304, 404, 302, 500])
        conn = "/".join(str(rng.randrange(1, k)) for k in (300, 300, 100, 50)) + "/0"
        cap = rng.choice(["", " {api.example.com} {}", " {api.example.com|curl/8.4.0}"])
        out.append(
            f"{mon} {day:2d} {hh:02d}:{mm:02d}:{ss:02d} lb-{i % 3} haproxy[{1000 + i % 7}]: "
            f"{ip}:{rng.randrange(1024, 65535)} [{day:02d}/{mon}/2024:{hh:02d}:{mm:02d}:{ss:02d}.{ms:03d}] "
            f"http-in{'~' if i % 2 else ''} api/srv{i % 4} {tr}/{tw}/{tc}/{tres}/{tr + tc + tres} {status} "
            f"{rng.randrange(100, 90000)} - - {rng.choice(TERM)} "
            f'{conn} 0/0{cap} "{method} {path} HTTP/1.1"'
        )
    return out


def caddy_lines(n: int, rng: random.Random) -> list[str]:
    out = []
    for i in range(n):
        ip = f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        rec = {
            "level": "info",
            "ts": 1716723772.6014807 + i * 0.37,
            "logger": "http.log.access.log17",
            "msg": "handled request",
            "request": {
                "remote_ip": "10.5.1.1",
                "remote_port": str(rng.randrange(1024, 65535)),
                "client_ip": ip,
                "proto": "HTTP/2.0",
                "method": rng.choice(["GET", "GET", "POST"]),
                "host": "mirrors.example.net",
                "uri": rng.choice(PATHS).format(n=rng.randrange(100000)),
                "headers": {
                    "Accept": ["*/*"],
                    "User-Agent": [f"Mozilla/5.0 (X11; Linux x86_64) Firefox/{rng.randrange(100, 130)}.0"],
                    "X-Forwarded-For": [ip],
                    "X-Forwarded-Proto": ["https"],
                    "Accept-Encoding": ["gzip"],
                },
                "tls": {
                    "resumed": False,
                    "version": 772,
                    "cipher_suite": 4865,
                    "proto": "h2",
                    "server_name": "mirrors.example.net",
                },
            },
            "bytes_read": 0,
            "user_id": "",
            "duration": rng.random() / 10,
            "size": rng.randrange(100, 90000),
            "status": rng.choice([200, 200, 304, 404]),
            "resp_headers": {
                "Content-Type": ["text/html; charset=utf-8"],
                "Server": ["Caddy"],
                "Content-Length": [str(rng.randrange(100, 90000))],
                "Etag": [f'"{rng.randrange(10**12):x}"'],
            },
        }
        out.append(json.dumps(rec, separators=(",", ":")))
    return out


def varied(obj: Any, rng: random.Random) -> Any:
    """The example record with its numbers varied (ints and digit strings stay that shape)."""
    if isinstance(obj, dict):
        return {k: varied(v, rng) for k, v in obj.items()}
    if isinstance(obj, list):
        return [varied(v, rng) for v in obj]
    if isinstance(obj, bool) or not isinstance(obj, int | float):
        return obj
    return obj + rng.randrange(100) if isinstance(obj, int) else obj * (1 + rng.random() / 1000)


def example_lines(name: str, n: int, rng: random.Random) -> list[str]:
    from forensics import formats

    rec = json.loads(formats.REGISTRY[name].example)
    return [json.dumps(varied(rec, rng), separators=(",", ":")) for _ in range(n)]


def generate(name: str, n: int, work: Path) -> Path:
    path = work / f"{name}-{n}.log"
    if not path.exists():
        rng = random.Random(11)
        make = {"haproxy": haproxy_lines, "caddy": caddy_lines}.get(name)
        lines = make(n, rng) if make else example_lines(name, n, rng)
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def export(ref: str, work: Path) -> Path:
    """The package as it was at ``ref``, unpacked under ``work``."""
    sha = subprocess.run(
        ["git", "rev-parse", "--short", ref], cwd=HERE, capture_output=True, text=True, check=True
    ).stdout.strip()
    dest = work / f"pkg-{sha}"
    if not dest.exists():
        dest.mkdir(parents=True)
        tar = subprocess.run(
            ["git", "archive", sha, "forensics"], cwd=HERE.parent, capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(dest)], input=tar, check=True)
    return dest


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--format", action="append", required=True)
    ap.add_argument("--lines", type=int, default=200_000)
    ap.add_argument("--ref", help="also run the package at this git ref (before)")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--work", type=Path, default=Path("/tmp/parser-bench"))
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    variants = [("now", "")]
    if args.ref:
        variants.insert(0, (args.ref, str(export(args.ref, args.work))))
    rows = []
    for name in args.format:
        data = generate(name, args.lines, args.work)
        for label, pkg in variants:
            for k in range(args.repeat):
                case = args.work / f"case-{name}.duckdb"
                for p in (case, case.with_name(case.name + ".wal")):
                    p.unlink(missing_ok=True)
                cmd = [PY, "-c", CHILD, pkg, "ingest", str(case), str(data), "--format", name, "--tz", "UTC"]
                res = measure(cmd, args.work / f"{name}-{label.replace('/', '_')}-{k}.log")
                con = duckdb.connect(str(case), read_only=True)
                ev, rj = (
                    (con.execute(f"SELECT count(*) FROM {t}").fetchone() or (0,))[0]
                    for t in ("events", "rejects")
                )
                con.close()
                row = (
                    f"| {name} | {label} | {args.lines:,} | {res['wall']:.2f} "
                    f"| {args.lines / res['wall']:,.0f} "
                    f"| {res['cpu']:.1f} | {args.lines / res['cpu']:,.0f} | {res['maxrss_kb'] / 1024:.0f} "
                    f"| {case.stat().st_size / 1e6:.1f} | {res['other_cpus']:.2f} | {ev:,} + {rj:,} |"
                )
                print(row, flush=True)
                rows.append(row)
    print(
        "| format | code | lines | wall s | lines/s | CPU s | lines/CPU s | peak RSS MB | case MB "
        "| other load | events + rejects |"
    )
    print("|" + "---|" * 11)
    print("\n".join(rows))


if __name__ == "__main__":
    main()
