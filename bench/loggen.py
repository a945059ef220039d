"""Deterministic, realistic Apache/nginx ``combined`` access logs for benchmarks.

Lines look like a small clinical web app behind nginx: a skewed mix of IPv4 and some IPv6
clients, API paths with record ids and query strings, static assets, scanners, real user
agents of very different lengths (bots, curl, in-app browsers), statuses and byte counts
that fit the path, and local timestamps in Europe/London that cross the March DST change so
both ``+0000`` and ``+0100`` occur. The same seed gives byte-identical output.

Generation is vectorised with numpy per chunk; one Python f-string per line.
"""

from __future__ import annotations

import gzip
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import numpy as np

CHUNK = 200_000
DST_SWITCH_UTC = 1711846800  # 2024-03-31 01:00:00 UTC: Europe/London goes from +0000 to +0100

BROWSERS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/{a}.0.{b}.{c} Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.{a2} Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:{a}.0) Gecko/20100101 Firefox/{a}.0",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{a}.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_{a2} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.{a2} Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/{a}.0.{b}.{c} Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/{a}.0.0.0 Safari/537.36 Edg/{a}.0.{b}.{c}",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_{a2} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Mobile/21E236 [FBAN/FBIOS;FBAV/{a}.0.0.{b}.{c};FBBV/{b}{c};FBDV/iPhone15,3;FBMD/iPhone;FBSN/iOS;"
    "FBSV/17.{a2};FBSS/3;FBID/phone;FBLC/en_GB;FBOP/5;FBRV/{c}{b}]",
]
AGENTS = [
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0; "
    "+http://www.bing.com/bingbot.htm) Chrome/116.0.1938.76 Safari/537.36",
    "curl/8.{a2}.1",
    "python-requests/2.3{a2}.0",
    "okhttp/4.{a2}.0",
    "Go-http-client/1.1",
    "Zabbix",
    "-",
    'Mozilla/5.0 zgrab/0.x \\"probe\\"',
    "Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; rv:11.0) like Gecko",
]
PATHS = [  # (template, weight, kind)
    ("/api/v2/referrals/{i}?x={t}&include=documents", 18, "api"),
    ("/api/v2/referrals/{i}", 12, "api"),
    ("/api/v2/referrals/{i}/documents/{h}", 6, "api"),
    ("/api/v2/patients/{i}?fields=name,dob,nhs_number&page={p}", 8, "api"),
    ("/api/v2/search?q=ref{t}&page={p}&size=50", 4, "api"),
    ("/api/v2/session", 4, "api"),
    ("/static/js/app.{h}.js", 10, "static"),
    ("/static/css/main.{h}.css", 6, "static"),
    ("/static/img/logo-{p}.png", 5, "static"),
    ("/favicon.ico", 3, "static"),
    ("/", 4, "page"),
    ("/login?next=%2Freferrals%2F{i}", 3, "page"),
    ("/referrals/{i}", 8, "page"),
    ("/healthz", 5, "health"),
    ("/wp-login.php", 1, "scan"),
    ("/.env", 1, "scan"),
    ("/cgi-bin/luci/;stok=/locale?form=country&operation=write&country=$(id)", 1, "scan"),
]
STATUS_BY_KIND = {
    "api": ([200, 201, 204, 304, 400, 401, 403, 404, 429, 500, 502], [70, 3, 2, 6, 2, 5, 2, 5, 1, 1, 1]),
    "static": ([200, 304, 404], [60, 38, 2]),
    "page": ([200, 302, 304, 404], [70, 15, 10, 5]),
    "health": ([200, 503], [99, 1]),
    "scan": ([404, 403, 400], [85, 10, 5]),
}
METHODS = (["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS"], [82, 9, 4, 1, 2, 2])
PROTOCOLS = (["HTTP/1.1", "HTTP/2.0", "HTTP/1.0"], [60, 38, 2])
USERS = ["-"] * 30 + ["alice", "bob", "svc-integration", "j.smith@example.org"]
REFERERS = [
    "-",
    "https://app.example.org/",
    "https://app.example.org/referrals/{i}",
    "https://www.google.com/",
    "https://app.example.org/search?q=ref{t}",
]
REF_WEIGHTS = [55, 15, 20, 5, 5]
ODD_REQUESTS = ["-", "\\x16\\x03\\x01\\x00\\xa5\\x01\\x00\\x00\\xa1\\x03\\x03", "GET /", "PRI * HTTP/2.0"]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def _probs(weights: list[int]) -> np.ndarray:
    w = np.asarray(weights, dtype=float)
    out: np.ndarray = w / w.sum()
    return out


class Generator:
    """Streams lines in chunks; state (time, rng) carries across chunks."""

    def __init__(self, seed: int, n_lines: int, mean_step_s: float = 0.06) -> None:
        self.rng = np.random.default_rng(seed)
        self.mean_step = mean_step_s
        self.t = DST_SWITCH_UTC - n_lines * mean_step_s / 2  # both offsets appear
        self.ips = self._ips(25_000)
        self.uas = self._uas(3_000)
        self._ts_cache: dict[int, str] = {}

    def _ips(self, n: int) -> list[str]:
        r = self.rng
        v4 = [f"{a}.{b}.{c}.{d}" for a, b, c, d in r.integers(1, 255, size=(n, 4)).tolist()]
        v6 = [
            "2001:db8:{:x}:{:x}::{:x}".format(*g) for g in r.integers(0, 0xFFFF, size=(n // 12, 3)).tolist()
        ]
        v6 += [f"2a02:c7f:{g:x}:2e00:{h:x}:9c1:ab2:{k:x}" for g, h, k in r.integers(0, 0xFFFF, (n // 25, 3))]
        ips = v4 + v6
        order = r.permutation(len(ips))
        return [ips[i] for i in order]

    def _uas(self, n: int) -> list[str]:
        r = self.rng
        out = []
        for _ in range(n):
            pool = BROWSERS if r.random() < 0.85 else AGENTS
            tpl = pool[int(r.integers(len(pool)))]
            out.append(
                tpl.format(
                    a=int(r.integers(100, 125)),
                    a2=int(r.integers(0, 6)),
                    b=int(r.integers(1000, 6500)),
                    c=int(r.integers(0, 250)),
                )
            )
        return out

    def _ts(self, local_s: int, off: str) -> str:
        s = self._ts_cache.get(local_s)
        if s is None:
            tm = time.gmtime(local_s)
            s = (
                f"{tm.tm_mday:02d}/{MONTHS[tm.tm_mon - 1]}/{tm.tm_year}:"
                f"{tm.tm_hour:02d}:{tm.tm_min:02d}:{tm.tm_sec:02d} {off}"
            )
            if len(self._ts_cache) > 100_000:
                self._ts_cache.clear()
            self._ts_cache[local_s] = s
        return s

    @staticmethod
    def _statuses(path_idx: np.ndarray, u: np.ndarray) -> np.ndarray:
        out = np.empty(len(u), dtype=np.int64)
        for kind, (values, weights) in STATUS_BY_KIND.items():
            mask = np.isin(path_idx, [k for k, p in enumerate(PATHS) if p[2] == kind])
            pick = np.searchsorted(np.cumsum(_probs(weights)), u[mask]).clip(0, len(values) - 1)
            out[mask] = np.asarray(values)[pick]
        return out

    def chunk(self, n: int) -> str:
        """The next ``n`` lines, each ending in a newline."""
        r = self.rng
        utc = self.t + np.cumsum(r.exponential(self.mean_step, n))
        self.t = float(utc[-1])
        utc_s = utc.astype(np.int64)
        summer = utc_s >= DST_SWITCH_UTC
        local_s = (utc_s + np.where(summer, 3600, 0)).tolist()
        summer_l = summer.tolist()
        ip_i = (len(self.ips) * r.random(n) ** 3).astype(np.int64).tolist()  # skewed: few heavy clients
        ua_i = (len(self.uas) * r.random(n) ** 2).astype(np.int64).tolist()
        p_i = r.choice(len(PATHS), n, p=_probs([w for _, w, _ in PATHS])).tolist()
        m_i = r.choice(len(METHODS[0]), n, p=_probs(METHODS[1])).tolist()
        pr_i = r.choice(len(PROTOCOLS[0]), n, p=_probs(PROTOCOLS[1])).tolist()
        ref_i = r.choice(len(REFERERS), n, p=_probs(REF_WEIGHTS)).tolist()
        u_i = r.integers(0, len(USERS), n).tolist()
        ids = r.integers(100_000, 9_999_999, n).tolist()
        toks = r.integers(0, 1 << 40, n).tolist()
        pages = r.integers(1, 40, n).tolist()
        sizes = np.exp(r.normal(7.5, 1.6, n)).astype(np.int64).tolist()
        stat_u = r.random(n)
        odd = r.random(n).tolist()
        statuses = self._statuses(np.asarray(p_i), stat_u).tolist()
        out = []
        for j in range(n):
            i, t, status = ids[j], toks[j], statuses[j]
            path = PATHS[p_i[j]][0].format(i=i, t=t, h=f"{t:010x}", p=pages[j])
            if odd[j] < 0.0005:  # scanners, TLS on the HTTP port, HTTP/2 preface
                request, status = ODD_REQUESTS[int(odd[j] * 8000) % 4], 400
            else:
                request = f"{METHODS[0][m_i[j]]} {path} {PROTOCOLS[0][pr_i[j]]}"
            nbytes = "-" if status in (204, 304) else str(sizes[j] if status < 300 else 150 + sizes[j] % 400)
            ref = REFERERS[ref_i[j]].format(i=i, t=t)
            ts = self._ts(local_s[j], "+0100" if summer_l[j] else "+0000")
            out.append(
                f'{self.ips[ip_i[j]]} - {USERS[u_i[j]]} [{ts}] "{request}" {status} {nbytes} '
                f'"{ref}" "{self.uas[ua_i[j]]}"\n'
            )
        return "".join(out)

    def lines(self, n: int) -> Iterator[str]:
        """Chunks of text totalling ``n`` lines."""
        done = 0
        while done < n:
            k = min(CHUNK, n - done)
            yield self.chunk(k)
            done += k


def write_big(workdir: Path, n: int, seed: int) -> tuple[Path, Path]:
    """``combined-<n>-s<seed>.log`` and ``.log.gz`` in ``workdir``; reused when present."""
    workdir.mkdir(parents=True, exist_ok=True)
    plain = workdir / f"combined-{n}-s{seed}.log"
    gz = plain.with_suffix(".log.gz")
    if plain.exists() and gz.exists():
        return plain, gz
    tmp_plain, tmp_gz = plain.with_suffix(".log.tmp"), gz.with_suffix(".gz.tmp")
    gzip_bin = shutil.which("gzip")
    with open(tmp_plain, "wb") as out, open(tmp_gz, "wb") as gz_out:
        # gzip -6 (logrotate's default) in a second process, fed as we go: uses the 2nd core
        proc = (
            subprocess.Popen([gzip_bin, "-6", "-c"], stdin=subprocess.PIPE, stdout=gz_out)
            if gzip_bin
            else None
        )
        sink: IO[bytes] | gzip.GzipFile = (
            proc.stdin if proc and proc.stdin else gzip.GzipFile(fileobj=gz_out, mode="wb")
        )
        for text in Generator(seed, n).lines(n):
            data = text.encode()
            out.write(data)
            sink.write(data)
        sink.close()
        if proc and proc.wait() != 0:
            raise RuntimeError("gzip failed")
    tmp_plain.rename(plain)
    tmp_gz.rename(gz)
    return plain, gz


def write_small(workdir: Path, files: int, per_file: int, seed: int) -> Path:
    """``files`` hourly gzip files of ``per_file`` lines in a host/YYYY/MM/DD tree; reused."""
    root = workdir / f"small-{files}x{per_file}-s{seed}"
    done = root.with_name(root.name + ".complete")  # outside the tree that gets ingested
    if done.exists():
        return root
    if root.exists():
        shutil.rmtree(root)
    gen = Generator(seed, files * per_file, mean_step_s=3600 / per_file)
    for k in range(files):
        host = f"web{k % 2 + 1}"
        tm = time.gmtime(DST_SWITCH_UTC - files * 1800 + k * 3600)
        folder = root / host / f"{tm.tm_year}" / f"{tm.tm_mon:02d}" / f"{tm.tm_mday:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        name = f"access.log-{tm.tm_year}{tm.tm_mon:02d}{tm.tm_mday:02d}{tm.tm_hour:02d}.gz"
        (folder / name).write_bytes(gzip.compress(gen.chunk(per_file).encode(), 6, mtime=0))
    done.write_text(f"{files} {per_file}\n")
    return root


class AlbGenerator(Generator):
    """AWS Application Load Balancer lines over the same clients, paths and agents.

    A realistic mix: https and h2 (some http, ws), IPv6 clients written unbracketed, Lambda and
    WAF-blocked requests without a target, ``-1`` processing times, ``"- - - "`` requests from
    clients that sent nothing, 1-in-20 lines from an older ALB without the fields after
    error_reason, long trace ids and conn_trace_id. Times are UTC with ``Z``.
    """

    def chunk(self, n: int) -> str:
        r = self.rng
        utc = self.t + np.cumsum(r.exponential(self.mean_step, n))
        self.t = float(utc[-1])
        ip_i = (len(self.ips) * r.random(n) ** 3).astype(np.int64).tolist()
        ua_i = (len(self.uas) * r.random(n) ** 2).astype(np.int64).tolist()
        p_i = r.choice(len(PATHS), n, p=_probs([w for _, w, _ in PATHS])).tolist()
        m_i = r.choice(len(METHODS[0]), n, p=_probs(METHODS[1])).tolist()
        ty_i = r.choice(4, n, p=_probs([30, 60, 8, 2])).tolist()
        ids = r.integers(100_000, 9_999_999, n).tolist()
        toks = r.integers(0, 1 << 62, n).tolist()
        ports = r.integers(1024, 65535, n).tolist()
        sizes = np.exp(r.normal(7.5, 1.6, n)).astype(np.int64).tolist()
        lat = r.exponential(0.04, n).tolist()
        odd = r.random(n).tolist()
        statuses = self._statuses(np.asarray(p_i), r.random(n)).tolist()
        out = []
        for j in range(n):
            t, status, ty = toks[j], statuses[j], ("http", "h2", "https", "ws")[ty_i[j]]
            sec = utc[j]
            tm = time.gmtime(int(sec))
            us = int((sec % 1) * 1e6)
            ts = time.strftime("%Y-%m-%dT%H:%M:%S", tm) + f".{us:06d}Z"
            path = PATHS[p_i[j]][0].format(i=ids[j], t=t % 10**9, h=f"{t % (1 << 40):010x}", p=ids[j] % 40)
            scheme, port = ("http", 80) if ty in ("http", "ws") else ("https", 443)
            proto = "HTTP/2.0" if ty == "h2" else "HTTP/1.1"
            request = f"{METHODS[0][m_i[j]]} {scheme}://api.example.com:{port}{path} {proto}"
            ip = self.ips[ip_i[j]]
            target, tstat, times_ = f"10.0.{t % 8}.{t % 200}:8080", str(status), f"0.001 {lat[j]:.3f} 0.000"
            if odd[j] < 0.002:  # connected, sent nothing usable
                request, status, tstat, target, times_ = "- - - ", 400, "-", "-", "-1 -1 -1"
            elif odd[j] < 0.01:  # WAF-blocked / Lambda target: no target:port
                target, tstat = "-", "-" if odd[j] < 0.006 else tstat
                status = 403 if odd[j] < 0.006 else status
            tls = "- -" if scheme == "http" else "ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2"
            line = (
                f"{ty} {ts} app/prod-api/50dc6c495c0c9188 {ip}:{ports[j]} {target} {times_} {status} {tstat} "
                f'{200 + sizes[j] % 900} {sizes[j]} "{request}" "{self.uas[ua_i[j]]}" {tls} '
                "arn:aws:elasticloadbalancing:eu-west-2:123456789012:targetgroup/api/73e2d6bc24d8a067 "
                f'"Root=1-{int(sec):08x}-{t:024x}" "api.example.com" '
                '"arn:aws:acm:eu-west-2:123456789012:certificate/12345678-1234-1234-1234-123456789012" '
                f'1 {ts} "waf,forward" "-" "-"'
            )
            if odd[j] > 0.05:  # newer ALBs: target lists, classification, conn_trace_id
                line += f' "{target}" "{tstat}" "-" "-" TID_{t:032x}'
            out.append(line + "\n")
        return "".join(out)


def write_alb_tree(workdir: Path, files: int, per_file: int, seed: int) -> Path:
    """``files`` gzip files as ALB delivers them (AWSLogs/<account>/elasticloadbalancing/…)."""
    root = workdir / f"alb-{files}x{per_file}-s{seed}"
    done = root.with_name(root.name + ".complete")
    if done.exists():
        return root
    if root.exists():
        shutil.rmtree(root)
    gen = AlbGenerator(seed, files * per_file, mean_step_s=3600 / per_file)
    start = DST_SWITCH_UTC - files * 1800
    for k in range(files):
        tm = time.gmtime(start + k * 3600)
        folder = root / "AWSLogs/123456789012/elasticloadbalancing/eu-west-2" / time.strftime("%Y/%m/%d", tm)
        folder.mkdir(parents=True, exist_ok=True)
        name = (
            "123456789012_elasticloadbalancing_eu-west-2_app.prod-api.50dc6c495c0c9188_"
            f"{time.strftime('%Y%m%dT%H%MZ', tm)}_10.0.1.{k % 250}_{k:08x}.log.gz"
        )
        (folder / name).write_bytes(gzip.compress(gen.chunk(per_file).encode(), 6, mtime=0))
    done.write_text(f"{files} {per_file}\n")
    return root
