"""Writes sample_logs/: a small, deterministic evidence folder for the demo and the tests.

    python tests/sample_gen.py sample_logs

An API with record endpoints behind nginx (combined layout, Europe/London local time, so the
offset changes from +0000 to +0100 at the end of March) and an application JSON log (UTC).
Rotated like logrotate leaves it: plain, gzip, bz2, xz, zstd; a backup copy of one rotated file
(a duplicate by hash); one rotated file cut mid-stream (truncated gzip); a few odd lines real
servers write (TLS bytes on the HTTP port, a "-" request, a line that is not a log line).
Who is in it: clinicians who log in (POST /api/v2/auth/login) and read referrals; a partner's
nightly sync from 51.140.12.32/29 that never logs in; an uptime monitor; a crawler; scanners
probing /.env and friends; a night-time enumerator from one IP; a distributed enumerator
rotating addresses across three networks.
Issue 5's simulator will replace this with a full case with ground truth.
"""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import random
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import zstandard

LONDON = ZoneInfo("Europe/London")
START = datetime(2024, 3, 25, 0, 0, tzinfo=UTC)  # DST starts 2024-03-31 01:00 UTC
DAYS = 12
UAS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/122.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_3) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.3 Safari/605.1.15",
]
STAFF = [("dr.jones", "10.20.1.15"), ("nurse.patel", "10.20.1.22"), ("admin.lee", "10.20.2.9")]


def clf(ts: datetime, ip: str, user: str, request: str, status: int, size: int | str,
        referer: str, ua: str) -> str:
    local = ts.astimezone(LONDON)
    stamp = local.strftime("%d/%b/%Y:%H:%M:%S %z")
    return f'{ip} - {user} [{stamp}] "{request}" {status} {size} "{referer}" "{ua}"'


def traffic(rng: random.Random) -> list[tuple[datetime, str, dict[str, object]]]:
    """(time, nginx line, app JSON record) for every request, in time order."""
    out = []
    for day in range(DAYS):
        base = START + timedelta(days=day)
        for user, ip in STAFF:
            t = base + timedelta(hours=8, minutes=rng.randint(0, 59))
            out.append(_req(t, ip, user, "POST", "/api/v2/auth/login", 200, 312, UAS[day % 2]))
            for _ in range(rng.randint(20, 40)):
                t += timedelta(seconds=rng.randint(30, 600))  # within an 8 h session
                rid = rng.randint(50000, 50400)
                out.append(_req(t, ip, user, "GET", f"/api/v2/referrals/{rid}", 200,
                                rng.randint(1500, 2600), UAS[day % 2]))
        for _ in range(rng.randint(5, 15)):  # scanners
            t = base + timedelta(seconds=rng.randint(0, 86399))
            probe = rng.choice(["/.env", "/wp-login.php", "/phpmyadmin/", "/.git/config"])
            out.append(_req(t, f"45.155.205.{rng.randint(1, 254)}", "-", "GET", probe, 404, 153,
                            "Mozilla/5.0 zgrab/0.x"))
        t = base + timedelta(hours=2)  # the partner's nightly sync (never logs in)
        for _ in range(rng.randint(15, 25)):
            t += timedelta(seconds=rng.randint(1, 20))
            out.append(_req(t, f"51.140.12.{rng.randint(33, 38)}", "-", "GET",
                            f"/api/v2/referrals/{rng.randint(50000, 50400)}", 200,
                            rng.randint(1500, 2600), "PartnerSync/3.2 (+https://partner.example)"))
        for slot in range(48):  # an uptime monitor
            t = base + timedelta(minutes=30 * slot, seconds=rng.randint(0, 9))
            out.append(_req(t, f"69.162.124.{rng.randint(226, 238)}", "-", "GET", "/api/v2/health",
                            200, 17, "Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)"))
        for _ in range(3):  # a crawler
            t = base + timedelta(seconds=rng.randint(0, 86399))
            out.append(_req(t, f"66.249.66.{rng.randint(1, 200)}", "-", "GET", "/robots.txt", 404, 153,
                            "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"))
    t = START + timedelta(days=9, hours=1, minutes=40)  # a distributed enumerator, rotating IPs
    nets = ["185.220.101", "193.32.162", "45.134.26"]
    for k, rid in enumerate(range(50200, 50400)):
        t += timedelta(seconds=rng.randint(1, 4))
        ip = f"{nets[(k // 5) % 3]}.{10 + (k // 15)}"  # a new address every 5 reads
        out.append(_req(t, ip, "-", "GET", f"/api/v2/referrals/{rid}", 200, rng.randint(1500, 2600),
                        "Mozilla/5.0 (X11; Linux x86_64; rv:124.0) Gecko/20100101 Firefox/124.0"))
    t = START + timedelta(days=7, hours=2, minutes=13)  # a night-time enumerator
    for rid in range(50100, 50160):
        t += timedelta(seconds=rng.randint(2, 6))
        out.append(_req(t, "159.65.3.7", "-", "GET", f"/api/v2/referrals/{rid}", 200,
                        rng.randint(1500, 2600), "python-requests/2.31.0"))
    out.sort(key=lambda r: r[0])
    return out


def _req(t: datetime, ip: str, user: str, method: str, path: str, status: int, size: int,
         ua: str) -> tuple[datetime, str, dict[str, object]]:
    line = clf(t, ip, "-", f"{method} {path} HTTP/1.1", status, size, "-", ua)
    app = {"timestamp": t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z", "level": "info",
           "request": {"method": method, "path": path, "client_ip": ip},
           "response": {"status": status, "bytes": size},
           "user_id": None if user == "-" else user, "request_id": f"req-{t.timestamp():.0f}"}
    return t, line, app


def oddities(day: datetime) -> list[str]:
    t = day + timedelta(hours=3)
    return [
        clf(t, "198.51.100.23", "-", "\\x16\\x03\\x01\\x00\\xF7\\x01\\x00\\x00\\xF3\\x03", 400, 157,
            "-", "-"),
        clf(t + timedelta(seconds=5), "2001:db8::7", "-", "-", 408, 0, "-", "-"),
        "[Mon Mar 25 03:00:09 2024] nginx: worker process 1234 exited on signal 9",
    ]


def write(out: Path) -> None:
    rng = random.Random(20240325)
    rows = traffic(rng)
    out.mkdir(parents=True, exist_ok=True)
    nginx = out / "edge" / "nginx"
    nginx.mkdir(parents=True, exist_ok=True)
    per_file = 3  # days per rotated file, newest = access.log
    chunks: list[list[str]] = [[] for _ in range(DAYS // per_file)]
    for t, line, _ in rows:
        chunks[(t - START).days // per_file].append(line)
    chunks[1][10:10] = oddities(START + timedelta(days=3))
    chunks.reverse()  # index 0 = newest
    names = ["access.log", "access.log.1", "access.log.2.gz", "access.log.3.bz2"]
    for name, lines in zip(names, chunks, strict=True):
        _write(nginx / name, ("\n".join(lines) + "\n").encode())
    backup = out / "backup" / "edge-nginx"
    backup.mkdir(parents=True, exist_ok=True)
    (backup / "access.log.2.gz").write_bytes((nginx / "access.log.2.gz").read_bytes())
    cut = gzip.compress(("\n".join(chunks[0][:200]) + "\n").encode(), mtime=0)
    (backup / "access.log.truncated.gz").write_bytes(cut[: len(cut) * 2 // 3])
    app = out / "app"
    app.mkdir(parents=True, exist_ok=True)
    records = [json.dumps(r, sort_keys=True) for _, _, r in rows]
    half = len(records) // 2
    _write(app / "api.jsonl.1.xz", ("\n".join(records[:half]) + "\n").encode())
    _write(app / "api.jsonl.zst", ("\n".join(records[half:]) + "\n").encode())


def _write(path: Path, data: bytes) -> None:
    if path.suffix == ".gz":
        data = gzip.compress(data, mtime=0)
    elif path.suffix == ".bz2":
        data = bz2.compress(data)
    elif path.suffix == ".xz":
        data = lzma.compress(data)
    elif path.suffix == ".zst":
        data = zstandard.ZstdCompressor(level=10).compress(data)
    path.write_bytes(data)


if __name__ == "__main__":
    write(Path(sys.argv[1] if len(sys.argv) > 1 else "sample_logs"))
