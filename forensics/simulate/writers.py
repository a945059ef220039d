"""Rendering request records into the server's log files, rotated and compressed as logrotate leaves them.

Two sources see the same requests: the edge nginx (``combined``, local time with the UTC offset of
the day: +0000 in winter, +0100 in summer) rotated daily with ``delaycompress`` and
``notifempty`` (``access.log``, ``access.log.1``, ``access.log.2.gz``, ...; one file bz2), and the
application's JSON lines (UTC, ``user_id`` of the logged-in principal, only ``/api/`` requests)
rotated weekly (``api.jsonl``, ``api.jsonl.1.gz``, ...; one file zstd). Realism the tool must
cope with: a backup copy of one rotated file (a duplicate by hash), one gzip cut mid-stream (its
tail is lost), and a few odd lines (TLS bytes on the HTTP port, a ``"-"`` request, an nginx error
message). Everything is deterministic: gzip without a timestamp, fixed zstd level.
"""

from __future__ import annotations

import bz2
import gzip
import shutil
import zlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import zstandard

from forensics.simulate.model import (
    IP,
    METHOD,
    MS,
    REFERER,
    SIZE,
    STATUS,
    TARGET,
    UA,
    USER,
    ZONE,
    Day,
    Req,
)

EVIDENCE_DIR = Path("evidence")  # beside truth.json, so the evidence folder holds only logs
NGINX_DIR = EVIDENCE_DIR / "edge" / "nginx"
APP_DIR = EVIDENCE_DIR / "app"
BACKUP_DIR = EVIDENCE_DIR / "backup" / "edge-nginx"
ZSTD_LEVEL = 3
GZIP_LEVEL = 1  # logrotate's default is 6; the level changes nothing the reader sees, 1 is 4x faster
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


HMS = [f"{h:02d}:{m:02d}:{s:02d}" for h in range(24) for m in range(60) for s in range(60)]


class Clock:
    """Fast timestamp text: offsets cached per UTC hour, date prefixes per day, a table of HH:MM:SS."""

    def __init__(self) -> None:
        self._off: dict[int, int] = {}
        self._clf_day: dict[int, str] = {}
        self._iso_day: dict[int, str] = {}

    def offset(self, t: int) -> int:
        h = t // 3600
        off = self._off.get(h)
        if off is None:
            delta = ZONE.utcoffset(datetime.fromtimestamp(h * 3600, UTC).replace(tzinfo=None))
            off = self._off[h] = int(delta.total_seconds()) if delta else 0
        return off

    def clf_day(self, d: int) -> str:
        prefix = self._clf_day.get(d)
        if prefix is None:
            day = date.fromordinal(EPOCH_ORDINAL + d)
            prefix = self._clf_day[d] = f"{day.day:02d}/{MONTHS[day.month - 1]}/{day.year}:"
        return prefix

    def iso_day(self, d: int) -> str:
        prefix = self._iso_day.get(d)
        if prefix is None:
            prefix = self._iso_day[d] = date.fromordinal(EPOCH_ORDINAL + d).isoformat() + "T"
        return prefix

    def clf(self, ms: int) -> str:
        """``12/Mar/2024:10:00:00 +0000`` in local time."""
        t = ms // 1000
        off = self.offset(t)
        d, r = divmod(t + off, 86400)
        return f"{self.clf_day(d)}{HMS[r]} {offset_text(off)}"

    def iso(self, ms: int) -> str:
        """``2024-03-12T10:00:00.123Z`` (UTC)."""
        t, frac = divmod(ms, 1000)
        d, r = divmod(t, 86400)
        return f"{self.iso_day(d)}{HMS[r]}.{frac:03d}Z"

    def clf_column(self, reqs: list[Req]) -> list[str]:
        """``clf`` for a day's requests, the offset looked up once unless it changes within them."""
        if not reqs:
            return []
        off = self.offset(reqs[0][MS] // 1000)
        if off != self.offset(reqs[-1][MS] // 1000):
            return [self.clf(r[MS]) for r in reqs]
        tail = " " + offset_text(off)
        days = self._clf_day
        out = []
        for r in reqs:
            d, s = divmod(r[MS] // 1000 + off, 86400)
            out.append((days.get(d) or self.clf_day(d)) + HMS[s] + tail)
        return out

    def iso_column(self, reqs: list[Req]) -> list[str]:
        days = self._iso_day
        out = []
        for r in reqs:
            t, frac = divmod(r[MS], 1000)
            d, s = divmod(t, 86400)
            out.append(f"{days.get(d) or self.iso_day(d)}{HMS[s]}.{frac:03d}Z")
        return out


EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def offset_text(off: int) -> str:
    sign = "+" if off >= 0 else "-"
    oh, om = divmod(abs(off) // 60, 60)
    return f"{sign}{oh:02d}{om:02d}"


def nginx_lines(clock: Clock, reqs: list[Req]) -> list[str]:
    return [
        f'{r[IP]} - - [{stamp}] "{r[METHOD]} {r[TARGET]} HTTP/1.1" {r[STATUS]} {r[SIZE]} '
        f'"{r[REFERER]}" "{r[UA]}"'
        for r, stamp in zip(reqs, clock.clf_column(reqs), strict=True)
    ]


def app_lines(clock: Clock, reqs: list[Req], first_id: int) -> list[str]:
    """The application's JSON lines for its own (``/api/``) requests; targets are the model's own
    constants (no quotes or backslashes), so no JSON escaping is needed."""
    return [
        f'{{"timestamp":"{stamp}","level":"{"info" if r[STATUS] < 400 else "warn"}",'
        f'"request_id":"r{rid:09d}","request":{{"method":"{r[METHOD]}","path":"{r[TARGET]}",'
        f'"client_ip":"{r[IP]}"}},"response":{{"status":{r[STATUS]},"bytes":{r[SIZE]}}},'
        f'"duration_ms":{3 + r[SIZE] // 4000 + r[MS] % 17},"user_id":{user}}}'
        for rid, r, stamp, user in zip(
            range(first_id, first_id + len(reqs)),
            reqs,
            clock.iso_column(reqs),
            ['"' + r[USER] + '"' if r[USER] else "null" for r in reqs],
            strict=True,
        )
    ]


def is_app(r: Req) -> bool:
    return r[TARGET].startswith("/api/")


def odd_lines(clock: Clock, ms: int) -> list[tuple[str, str]]:
    """(kind, line): what real nginx writes besides well-formed requests."""
    t = ms - ms % 1000
    stamp = datetime.fromtimestamp(t / 1000, UTC).astimezone(ZONE).strftime("%Y/%m/%d %H:%M:%S")
    return [
        (
            "tls",
            f'198.51.100.23 - - [{clock.clf(t)}] "\\x16\\x03\\x01\\x00\\xF7\\x01\\x00\\x00\\xF3\\x03" '
            f'400 157 "-" "-"',
        ),
        ("dash", f'2001:db8::7 - - [{clock.clf(t + 4000)}] "-" 408 0 "-" "-"'),
        (
            "not_a_log_line",
            f'{stamp} [alert] 812#812: *1 write() to "/var/log/nginx/access.log" failed '
            f"(28: No space left on device) while logging request",
        ),
    ]


@dataclass
class Truncation:
    """The one gzip cut mid-stream: which of its lines survive and which requests are lost."""

    path: str
    lines: int
    kept: int
    partial: bool
    lost: list[Req]


@dataclass
class Written:
    """What the writers put on disk, for the ground truth."""

    files: list[str] = field(default_factory=list)
    duplicates: list[tuple[str, str]] = field(default_factory=list)  # (copy, original)
    odd: list[tuple[str, str, str]] = field(default_factory=list)  # (file, kind, line)
    truncation: Truncation | None = None
    nginx_lines: int = 0
    app_lines: int = 0


@dataclass
class Plan:
    """Which logged day gets which treatment (decided before any line is written)."""

    bz2_day: int
    truncated_day: int
    backup_day: int
    odd_day: int
    odd_ms: int


class NginxWriter:
    """One file per local day with lines, numbered from the newest like logrotate."""

    def __init__(self, out: Path, plan: Plan, clock: Clock, written: Written) -> None:
        self.out = out
        self.plan = plan
        self.clock = clock
        self.written = written
        # (day, kind, compressed bytes, the day's requests if it is the one to truncate)
        self.days: list[tuple[int, str, bytes, list[Req]]] = []
        self.recent: list[tuple[int, bytes]] = []  # the newest two days' text (they stay plain)
        self.odd: list[tuple[str, str]] = []

    def add(self, day: Day, reqs: list[Req]) -> None:
        if not reqs:
            return  # notifempty: nothing to rotate
        lines = nginx_lines(self.clock, reqs)
        if day.index == self.plan.odd_day:
            at = sum(1 for r in reqs if r[MS] < self.plan.odd_ms)
            self.odd = odd_lines(self.clock, self.plan.odd_ms)
            lines[at:at] = [line for _, line in self.odd]
        self.written.nginx_lines += len(lines)
        data = ("\n".join(lines) + "\n").encode()
        self.recent = [*self.recent[-1:], (day.index, data)]
        if day.index == self.plan.bz2_day:
            self.days.append((day.index, "bz2", bz2.compress(data, 9), []))
        else:
            keep = reqs if day.index == self.plan.truncated_day else []
            self.days.append((day.index, "gz", gzip.compress(data, GZIP_LEVEL, mtime=0), keep))

    def finish(self) -> None:
        plain = dict(self.recent)
        (self.out / NGINX_DIR).mkdir(parents=True, exist_ok=True)
        for pos, (index, kind, data, reqs) in enumerate(reversed(self.days)):
            name = "access.log" + ("" if pos == 0 else ".1" if pos == 1 else f".{pos}.{kind}")
            blob = plain[index] if pos < 2 else data
            rel = (NGINX_DIR / name).as_posix()
            if index == self.plan.truncated_day and pos > 1:
                blob = self._truncate(rel, data, reqs)
            (self.out / rel).write_bytes(blob)
            self.written.files.append(rel)
            if index == self.plan.odd_day:
                self.written.odd = [(rel, kind_, line) for kind_, line in self.odd]
            if index == self.plan.backup_day:
                copy = (BACKUP_DIR / name).as_posix()
                (self.out / BACKUP_DIR).mkdir(parents=True, exist_ok=True)
                shutil.copyfile(self.out / rel, self.out / copy)
                self.written.files.append(copy)
                self.written.duplicates.append((copy, rel))

    def _truncate(self, rel: str, data: bytes, reqs: list[Req]) -> bytes:
        cut = data[: len(data) * 2 // 3]
        text = zlib.decompressobj(wbits=31).decompress(cut)
        kept = text.count(b"\n")
        self.written.truncation = Truncation(
            path=rel, lines=len(reqs), kept=kept, partial=not text.endswith(b"\n"), lost=reqs[kept:]
        )
        return cut


class AppWriter:
    """One file per ISO week (rotated weekly), numbered from the newest; one zstd among the gzip."""

    def __init__(self, out: Path, clock: Clock, written: Written) -> None:
        self.out = out
        self.clock = clock
        self.written = written
        self.weeks: list[tuple[tuple[int, int], list[str]]] = []
        self.next_id = 1

    def add(self, day: Day, reqs: list[Req]) -> None:
        mine = [r for r in reqs if r[TARGET].startswith("/api/")]
        if not mine:
            return
        week = day.date.isocalendar()[:2]
        if not self.weeks or self.weeks[-1][0] != week:
            self._seal()
            self.weeks.append((week, []))
        self.weeks[-1][1].extend(app_lines(self.clock, mine, self.next_id))
        self.next_id += len(mine)
        self.written.app_lines += len(mine)

    def _seal(self) -> None:
        """Compress the week that just ended (text kept only for the newest)."""
        if self.weeks:
            week, lines = self.weeks[-1]
            self.weeks[-1] = (week, [("\n".join(lines) + "\n")])

    def finish(self) -> None:
        self._seal()
        (self.out / APP_DIR).mkdir(parents=True, exist_ok=True)
        n = len(self.weeks)
        zst = n // 2 if n > 2 else -1
        for pos, (_, (text,)) in enumerate(reversed(self.weeks)):
            data = text.encode()
            if pos == 0:
                name = "api.jsonl"
            elif pos == zst:
                name, data = f"api.jsonl.{pos}.zst", zstandard.ZstdCompressor(level=ZSTD_LEVEL).compress(data)
            else:
                name, data = f"api.jsonl.{pos}.gz", gzip.compress(data, GZIP_LEVEL, mtime=0)
            rel = (APP_DIR / name).as_posix()
            (self.out / rel).write_bytes(data)
            self.written.files.append(rel)
