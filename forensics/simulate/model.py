"""Who does what, when: the traffic model of a small healthcare-referrals API.

Every actor has its own ``random.Random`` (seeded from the run's seed and the actor's name), so
adding an actor or changing one's behaviour leaves the others' traffic unchanged. Time is in
epoch milliseconds (UTC); each actor plans its day in Europe/London local time through
:class:`Day`. The model knows nothing about log files: it yields request records (:data:`Req`)
for one local day at a time, and says which records each response delivered to a caller not
entitled to them (``taken``).
"""

from __future__ import annotations

import bisect
import functools
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from forensics.errors import SimulationError

ZONE_NAME = "Europe/London"
ZONE = ZoneInfo(ZONE_NAME)
HOUR = 3600
DAY = 86400
ID0 = 50000  # the first referral id
LOGIN = "POST /api/v2/auth/login"
RECORD_ROUTE = "/api/v2/referrals/"
LIST_ROUTE = "/api/v2/referrals"
SITE = "https://referrals.example.org"
MIN_DAYS = 21

# A request: (ms, actor, ip, user_agent, principal, method, target, status, bytes, referer,
# record id or -1, records taken unauthorised by this response). Plain tuples: millions of them.
Req = tuple[int, int, str, str, str, str, str, int, int, str, int, int]
MS: Final = 0
ACTOR: Final = 1
IP: Final = 2
UA: Final = 3
USER: Final = 4
METHOD: Final = 5
TARGET: Final = 6
STATUS: Final = 7
SIZE: Final = 8
REFERER: Final = 9
RID: Final = 10
TAKEN: Final = 11


def record_size(rid: int) -> int:
    """A referral's JSON body: fixed per record, 2-6 kB."""
    return 2000 + (rid * 2654435761) % 4001


def document_size(rid: int, doc: int) -> int:
    """An attached document (a PDF letter or scan), 40-340 kB."""
    return 40_000 + (rid * 7919 + doc * 104_729) % 300_000


@functools.lru_cache(maxsize=256)
def list_size(n: int, page: int) -> int:
    """A list response: n records' bodies plus the paging envelope."""
    return 96 + sum(record_size(ID0 + (page * n + i) * 37) for i in range(n))


ERR_401 = 118  # {"error":"unauthorized","message":"authentication required",...}
ERR_404_API = 97
ERR_404_HTML = 153  # nginx's own 404 page
ERR_400 = 181


@dataclass(frozen=True)
class Day:
    """One local calendar day: its UTC bounds and a local-time -> epoch conversion."""

    index: int
    date: date
    t0: int  # epoch seconds of local midnight
    t1: int  # epoch seconds of the next local midnight
    max_id: int  # the newest referral id that exists this day

    @property
    def working(self) -> bool:
        return self.date.weekday() < 5

    def at(self, local_seconds: float) -> int:
        """Epoch milliseconds of a local time of day (seconds after midnight), clipped to the day."""
        shift = (self.t1 - self.t0 - DAY) if local_seconds >= 2 * HOUR else 0
        t = int((self.t0 + local_seconds + shift) * 1000)
        return min(max(t, self.t0 * 1000), self.t1 * 1000 - 1)


def local_midnight(d: date) -> int:
    return int(datetime.combine(d, time(0), tzinfo=ZONE).timestamp())


@dataclass(frozen=True)
class Timeline:
    """The case's story in epoch seconds: period, exposure window, retention, the gap."""

    start: int
    end: int
    window_start: int
    window_end: int
    logs_start: int
    gap_start: int
    gap_end: int
    gap_day: int  # index of the local day the gap starts on

    @classmethod
    def build(cls, start: date, days: int, seed: int) -> Timeline:
        if days < MIN_DAYS:
            raise SimulationError(f"--days {days}: a case needs at least {MIN_DAYS} days")
        rng = random.Random(f"{seed}:timeline")

        def at(day: int, hours: float) -> int:
            return local_midnight(start + timedelta(days=day)) + int(hours * HOUR)

        gap_day = int(days * 0.45)
        return cls(
            start=at(0, 0),
            end=at(days, 0),
            window_start=at(max(1, round(days * 0.04)), rng.uniform(9.5, 17)),
            window_end=at(days - max(2, round(days * 0.08)), rng.uniform(13, 16)),
            logs_start=at(max(3, round(days * 0.12)), 0),
            gap_start=at(gap_day, rng.uniform(15, 18)),
            gap_end=at(gap_day + 3, rng.uniform(9, 11)),
            gap_day=gap_day,
        )

    def logged(self, t: float) -> bool:
        return self.logs_start <= t < self.end and not self.gap_start <= t < self.gap_end

    def exposed(self, t: float) -> bool:
        return self.window_start <= t < self.window_end


@dataclass
class World:
    """What every actor may look at: the timeline, the days and the referrals that exist."""

    seed: int
    scale: float
    timeline: Timeline
    days: list[Day]
    owners: dict[str, list[int]] = field(default_factory=dict)  # principal -> panel, oldest first
    created: dict[str, list[int]] = field(default_factory=dict)  # principal -> day index per id

    def panel(self, principal: str, day: Day) -> list[int]:
        ids = self.owners[principal]
        return ids[: bisect.bisect_right(self.created[principal], day.index)]

    def unauth_record(self, t_ms: int, rid: int, day: Day) -> int:
        """The status an unauthenticated record request gets: the flaw answers 200 in the window."""
        if not self.timeline.exposed(t_ms / 1000):
            return 401
        return 200 if rid <= day.max_id else 404

    def day_of(self, t: int) -> Day:
        i = bisect.bisect_right([d.t0 for d in self.days], t) - 1
        return self.days[max(0, i)]


def build_world(seed: int, scale: float, start: date, days: int, principals: list[str]) -> World:
    tl = Timeline.build(start, days, seed)
    rng = random.Random(f"{seed}:records")
    initial = max(200, int(2000 * scale))
    growth = max(1, round(8 * scale))
    out: list[Day] = []
    max_id = ID0 + initial - 1
    owners: dict[str, list[int]] = {p: [] for p in principals}
    created: dict[str, list[int]] = {p: [] for p in principals}
    for rid in range(ID0, max_id + 1):
        p = rng.choice(principals)
        owners[p].append(rid)
        created[p].append(-1)
    for i in range(days):
        d = start + timedelta(days=i)
        if d.weekday() < 5:
            for rid in range(max_id + 1, max_id + 1 + growth):
                p = rng.choice(principals)
                owners[p].append(rid)
                created[p].append(i)
            max_id += growth
        out.append(Day(i, d, local_midnight(d), local_midnight(d + timedelta(days=1)), max_id))
    return World(seed, scale, tl, out, owners, created)


class Actor:
    """One who in the case: a name, a truth class, and a day-by-day request plan."""

    klass = ""
    unauthorised = False
    scenario = ""  # the topology scenario that planted it ("" for the base case's actors)
    team = ""  # the care team whose records it may read, when the data owner's map names one

    def __init__(self, world: World, index: int, name: str) -> None:
        self.world = world
        self.index = index
        self.name = name
        self.rng = random.Random(f"{world.seed}:{name}")

    def day(self, day: Day) -> list[Req]:
        raise NotImplementedError

    def req(
        self,
        ms: int,
        ip: str,
        ua: str,
        method: str,
        target: str,
        status: int,
        size: int,
        *,
        user: str = "",
        referer: str = "-",
        rid: int = -1,
        taken: int = 0,
    ) -> Req:
        return (ms, self.index, ip, ua, user, method, target, status, size, referer, rid, taken)

    def read_unauth(self, ms: int, ip: str, ua: str, rid: int, day: Day, doc: int = 0) -> Req:
        """An unauthenticated read of a record (or one of its documents)."""
        status = self.world.unauth_record(ms, rid, day)
        target = f"{RECORD_ROUTE}{rid}" + (f"/documents/{doc}" if doc else "")
        ok = status == 200
        if ok:
            size = document_size(rid, doc) if doc else record_size(rid)
        else:
            size = ERR_401 if status == 401 else ERR_404_API
        taken = 1 if ok and self.unauthorised else 0
        return self.req(ms, ip, ua, "GET", target, status, size, rid=rid if ok else -1, taken=taken)


def chrome(day: Day, platform: str) -> str:
    version = 120 + day.index // 35  # browsers update every few weeks
    return (
        f"Mozilla/5.0 ({platform}) AppleWebKit/537.36 (KHTML, like Gecko) "
        f"Chrome/{version}.0.0.0 Safari/537.36"
    )


PLATFORMS = ["Windows NT 10.0; Win64; x64", "Macintosh; Intel Mac OS X 10_15_7", "X11; Linux x86_64"]
STATIC = [("/app/", 2143), ("/static/js/app.js", 184_322), ("/static/css/app.css", 23_118)]


class Staff(Actor):
    """A clinician or clerk: logs in on working days and reads their own patients' referrals."""

    klass = "staff"

    def __init__(self, world: World, index: int, name: str, principal: str, ip: str) -> None:
        super().__init__(world, index, name)
        self.principal = principal
        self.ip = ip
        self.platform = PLATFORMS[index % len(PLATFORMS)]
        self.seen_version = ""

    def present(self, day: Day) -> bool:
        return day.working and self.rng.random() < 0.9

    def day(self, day: Day) -> list[Req]:
        if not self.present(day):
            return []
        return self.session(day, self.rng.randint(30, 90))

    def user_agent(self, day: Day) -> str:
        return chrome(day, self.platform)

    def session(
        self, day: Day, reads: int, extra: list[int] | None = None, consults: list[int] | None = None
    ) -> list[Req]:
        """A working day in the web app; ``extra``: records read without entitlement (taken),
        ``consults``: one-off reads of records the caller may legitimately open (not taken)."""
        rng = self.rng
        ua = self.user_agent(day)
        login_s = rng.uniform(7.75, 9.5) * HOUR
        t = day.at(login_s)
        out: list[Req] = []
        fresh = ua != self.seen_version
        self.seen_version = ua
        for path, size in STATIC:
            status, body = (200, size) if fresh or path == "/app/" else (304, 0)
            out.append(self.req(t, self.ip, ua, "GET", path, status, body, referer=f"{SITE}/"))
            t += rng.randint(20, 400)
        t += rng.randint(3000, 20_000)
        out.append(self.req(t, self.ip, ua, "POST", "/api/v2/auth/login", 200, 312, referer=f"{SITE}/app/"))
        user = self.principal
        ref = f"{SITE}/app/referrals"
        t += rng.randint(300, 1500)
        out.append(
            self.req(
                t,
                self.ip,
                ua,
                "GET",
                f"{LIST_ROUTE}?limit=20&page=1",
                200,
                list_size(20, 1),
                user=user,
                referer=ref,
            )
        )
        panel = self.world.panel(self.principal, day)
        span = rng.uniform(5.5, 7.9) * HOUR * 1000
        rand, expo, ip, i = rng.random, rng.expovariate, self.ip, self.index
        times = sorted(t + 1000 + int(rand() * span) for _ in range(reads))
        n = len(panel)
        for ms in times:
            rid = panel[n - 1 - min(n - 1, int(expo(1 / 40)))]
            out.append(
                (ms, i, ip, ua, user, "GET", f"{RECORD_ROUTE}{rid}", 200, record_size(rid), ref, rid, 0)
            )
            u = rand()
            if u < 0.25:
                doc = 1 + int(rand() * 3)
                out.append(
                    (
                        ms + 4000 + int(rand() * 36_000),
                        i,
                        ip,
                        ua,
                        user,
                        "GET",
                        f"{RECORD_ROUTE}{rid}/documents/{doc}",
                        200,
                        document_size(rid, doc),
                        f"{SITE}/app/referrals/{rid}",
                        rid,
                        0,
                    )
                )
            elif u < 0.29:
                page = 2 + int(rand() * 3)
                out.append(
                    (
                        ms + 2000 + int(rand() * 7000),
                        i,
                        ip,
                        ua,
                        user,
                        "GET",
                        f"{LIST_ROUTE}?limit=20&page={page}",
                        200,
                        list_size(20, page),
                        ref,
                        -1,
                        0,
                    )
                )
        for ms, rid in zip(
            sorted(t + 1000 + int(rng.random() * span) for _ in extra or []), extra or [], strict=True
        ):
            out.append(
                self.req(
                    ms,
                    self.ip,
                    ua,
                    "GET",
                    f"{RECORD_ROUTE}{rid}",
                    200,
                    record_size(rid),
                    user=user,
                    referer=ref,
                    rid=rid,
                    taken=1,
                )
            )
        for rid in consults or []:
            ms = t + 1000 + int(rng.random() * span)
            out.append(
                self.req(
                    ms,
                    self.ip,
                    ua,
                    "GET",
                    f"{RECORD_ROUTE}{rid}",
                    200,
                    record_size(rid),
                    user=user,
                    referer=ref,
                    rid=rid,
                )
            )
        return out


class Insider(Staff):
    """A member of staff who logs in normally and, on some days, reads far outside their panel."""

    klass = "insider"
    unauthorised = True

    def __init__(self, world: World, index: int, name: str, principal: str, ip: str) -> None:
        super().__init__(world, index, name, principal, ip)
        tl = world.timeline
        logged = [
            d.index
            for d in world.days
            if d.working
            and tl.logged(d.t0 + 9 * HOUR)
            and tl.logged(d.t0 + 18 * HOUR)
            and tl.exposed(d.t0 + 7 * HOUR)
            and tl.exposed(d.t1 + 2 * DAY)
        ]
        pick = random.Random(f"{world.seed}:{name}:days")
        self.bad = set(pick.sample(logged, min(4, len(logged))))
        self.bad.add(tl.gap_day + 1)  # one spree while nothing was logging

    def day(self, day: Day) -> list[Req]:
        if day.index not in self.bad:
            return super().day(day)
        own = set(self.world.panel(self.principal, day))
        k = max(5, int(self.rng.randint(40, 80) * self.world.scale))
        extra: list[int] = []
        while len(extra) < k:
            rid = self.rng.randint(ID0, day.max_id)
            if rid not in own and rid not in extra:
                extra.append(rid)
        return self.session(day, self.rng.randint(30, 90), extra)


class Partner(Actor):
    """The partner's nightly sync at 02:00 local: never logs in (an API key, not logged)."""

    klass = "partner"
    UA = "PartnerSync/3.2 (+https://partner.example)"
    IPS = tuple(f"51.140.12.{i}" for i in range(33, 39))

    def day(self, day: Day) -> list[Req]:
        rng = self.rng
        ip = rng.choice(self.IPS)
        t = day.at(2 * HOUR + rng.uniform(0, 90))
        out = [self.req(t, ip, self.UA, "GET", "/api/v2/health", 200, 15)]
        recent = max(ID0, day.max_id - int(1500 * self.world.scale))
        for _ in range(max(10, int(rng.randint(120, 220) * self.world.scale))):
            t += rng.randint(300, 2500)
            rid = rng.randint(recent, day.max_id)
            out.append(
                self.req(t, ip, self.UA, "GET", f"{RECORD_ROUTE}{rid}", 200, record_size(rid), rid=rid)
            )
            if rng.random() < 0.1:
                t += rng.randint(300, 2500)
                out.append(
                    self.req(
                        t,
                        ip,
                        self.UA,
                        "GET",
                        f"{RECORD_ROUTE}{rid}/documents/1",
                        200,
                        document_size(rid, 1),
                        rid=rid,
                    )
                )
        return out


class Monitor(Actor):
    """An uptime monitor on the health endpoint every five minutes, day and night."""

    klass = "monitor"
    UA = "Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)"
    IPS = ("69.162.124.226", "69.162.124.229", "69.162.124.235", "63.143.42.244", "216.144.250.150")

    def day(self, day: Day) -> list[Req]:
        rng = self.rng
        first = (day.t0 + 299) // 300 * 300
        ips, n, rand, i = self.IPS, len(self.IPS), rng.random, self.index
        return [
            (
                s * 1000 + int(rand() * 2500),
                i,
                ips[int(rand() * n)],
                self.UA,
                "",
                "GET",
                "/api/v2/health",
                200,
                15,
                "-",
                -1,
                0,
            )
            for s in range(first, day.t1, 300)
        ]


class Crawler(Actor):
    """A search crawler on robots.txt and the public pages (robots.txt keeps it off /api/)."""

    klass = "crawler"
    UA = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
    PAGES = (("/robots.txt", 68), ("/", 6120), ("/about", 8433), ("/privacy", 9381), ("/contact", 5248))

    def day(self, day: Day) -> list[Req]:
        rng = self.rng
        out = []
        for _ in range(rng.randint(3, 12)):
            path, size = rng.choice(self.PAGES)
            out.append(
                self.req(
                    day.at(rng.uniform(0, DAY)),
                    f"66.249.66.{rng.randint(1, 40)}",
                    self.UA,
                    "GET",
                    path,
                    200,
                    size,
                )
            )
        return out


PROBES = [
    ("/.env", 404, ERR_404_HTML),
    ("/wp-login.php", 404, ERR_404_HTML),
    ("/.git/config", 404, ERR_404_HTML),
    ("/phpmyadmin/", 404, ERR_404_HTML),
    ("/actuator/health", 404, ERR_404_HTML),
    ("/server-status", 404, ERR_404_HTML),
    ("/cgi-bin/luci/;stok=/locale", 404, ERR_404_HTML),
    ("/config.json", 404, ERR_404_HTML),
    ("/api/.env", 404, ERR_404_HTML),
    ("/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php", 404, ERR_404_HTML),
    ("/", 200, 6120),
    ("/favicon.ico", 200, 1150),
    ("/api/v2/health", 200, 15),
    ("/api/v2/users", 404, ERR_404_API),
    ("/api/v2/referrals/1%27%20OR%20%271%27=%271", 400, ERR_400),
    ("/api/v2/referrals/..%2f..%2f..%2fetc%2fpasswd", 400, ERR_400),
]


class Scanner(Actor):
    """Internet background noise: one tool's visits, each a short burst of probes from one IP."""

    klass = "scanner"

    def __init__(
        self,
        world: World,
        index: int,
        name: str,
        ua: str,
        nets: list[str],
        rate: float,
        probes: list[tuple[str, int, int]],
    ) -> None:
        super().__init__(world, index, name)
        self.ua = ua
        self.nets = nets
        self.rate = rate
        self.probes = probes

    def visit(self, day: Day) -> list[Req]:
        rng = self.rng
        ip = f"{rng.choice(self.nets)}.{rng.randint(2, 250)}"
        t = day.at(rng.uniform(0, DAY))
        out = []
        for path, status, size in rng.sample(self.probes, min(len(self.probes), rng.randint(1, 6))):
            t += rng.randint(80, 3000)
            if path.startswith(RECORD_ROUTE) and status == 404:  # the API answers 401 before it looks
                status, size = (status, size) if self.world.timeline.exposed(t / 1000) else (401, ERR_401)
            out.append(self.req(t, ip, self.ua, "GET", path, status, size))
        return out

    def day(self, day: Day) -> list[Req]:
        out: list[Req] = []
        k = int(self.rate) + (1 if self.rng.random() < self.rate % 1 else 0)
        for _ in range(k):
            out += self.visit(day)
        return out


class LuckyScanner(Scanner):
    """A template scanner that tries a record id from the public API docs: once, in the window, it
    is answered with the record; after the fix the same probe gets 401."""

    unauthorised = True

    def __init__(
        self,
        world: World,
        index: int,
        name: str,
        ua: str,
        nets: list[str],
        rate: float,
        probes: list[tuple[str, int, int]],
    ) -> None:
        super().__init__(world, index, name, ua, nets, rate, probes)
        tl = world.timeline
        self.lucky_day = world.day_of(tl.logs_start + (tl.window_end - tl.logs_start) // 3).index
        self.rid = ID0 + 17

    def day(self, day: Day) -> list[Req]:
        out = super().day(day)
        tl = self.world.timeline
        after = day.t0 >= tl.window_end
        if day.index == self.lucky_day or (after and self.rng.random() < 0.5):
            ip = f"{self.rng.choice(self.nets)}.{self.rng.randint(2, 250)}"
            t = day.at(self.rng.uniform(0, 6) * HOUR)
            out.append(self.read_unauth(t, ip, self.ua, self.rid, day))
        return out


class Tester(Actor):
    """The authorised tester (declared trusted): reads records unauthenticated in the last days of the
    window to confirm the flaw, then re-tests after the fix (401)."""

    klass = "tester"
    IP = "203.0.113.50"
    UAS = ("curl/8.5.0", "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0")

    def day(self, day: Day) -> list[Req]:
        tl = self.world.timeline
        before = tl.window_end - 4 * DAY <= day.t0 and day.t1 <= tl.window_end
        after = tl.window_end <= day.t1 and day.t0 < tl.window_end + 2 * DAY
        if not day.working or not (before or after):
            return []
        rng = self.rng
        n = max(3, int(rng.randint(8, 20) * self.world.scale)) if before else 5
        lo = tl.window_end + 600 if after and day.t0 < tl.window_end else day.t0 + 10 * HOUR
        out = []
        for _ in range(n):
            t = int(lo * 1000 + rng.uniform(0, 5 * HOUR) * 1000)
            rid = rng.randint(ID0, day.max_id)
            out.append(
                self.read_unauth(
                    t, self.IP, rng.choice(self.UAS), rid, day, doc=1 if rng.random() < 0.2 else 0
                )
            )
        return out


class Enumerator(Actor):
    """A script from one cloud IP walking sequential ids in a night-time burst; back after the fix."""

    klass = "enumerator"
    unauthorised = True
    IP = "159.65.3.7"
    UA = "python-requests/2.31.0"

    def __init__(self, world: World, index: int, name: str) -> None:
        super().__init__(world, index, name)
        tl = world.timeline
        self.burst_day = world.day_of(tl.logs_start + (tl.window_end - tl.logs_start) * 7 // 10).index
        self.retry_day = world.day_of(tl.window_end + DAY).index
        self.first = ID0 + int(len(range(ID0, world.days[0].max_id)) * 0.6)

    def day(self, day: Day) -> list[Req]:
        if day.index not in (self.burst_day, self.retry_day):
            return []
        rng = self.rng
        t = day.at(rng.uniform(1, 2.5) * HOUR)
        n = max(20, int(rng.randint(250, 350) * self.world.scale)) if day.index == self.burst_day else 30
        out = []
        for rid in range(self.first, self.first + n):
            t += rng.randint(400, 2200)
            out.append(self.read_unauth(t, self.IP, self.UA, rid, day))
        return out


class DistributedEnumerator(Actor):
    """A slow enumerator on rotating cloud addresses with a browser user agent: a contiguous id range
    walked over several nights, each address used for a short run of ids (about one a minute)
    before the next address takes over."""

    klass = "distributed_enumerator"
    unauthorised = True
    NETS = ("138.68.12", "165.227.86", "104.248.31", "178.62.44")
    UA = "Mozilla/5.0 (X11; Linux x86_64; rv:124.0) Gecko/20100101 Firefox/124.0"

    def __init__(self, world: World, index: int, name: str) -> None:
        super().__init__(world, index, name)
        g = world.timeline.gap_day
        self.nights = [g - 4, g - 2, g - 1, g + 1, g + 4]  # g+1 falls in the gap
        self.next = ID0 + int(len(range(ID0, world.days[0].max_id)) * 0.2)

    def day(self, day: Day) -> list[Req]:
        if day.index not in self.nights:
            return []
        rng = self.rng
        scale = self.world.scale
        t = day.at(rng.uniform(0.3, 1.2) * HOUR)
        out: list[Req] = []
        n = max(20, int(rng.randint(150, 250) * scale))
        while len(out) < n:
            ip = f"{rng.choice(self.NETS)}.{rng.randint(2, 250)}"
            for _ in range(min(n - len(out), rng.randint(3, 8))):
                t += int(rng.randint(30_000, 75_000) / max(1.0, scale))
                out.append(self.read_unauth(t, ip, self.UA, self.next, day))
                self.next += 1
        return out


class Bulk(Actor):
    """One unauthenticated list request with a large page size, answered with 500 records."""

    klass = "bulk"
    unauthorised = True
    IP = "45.141.84.120"
    UA = "curl/8.4.0"
    N = 500

    def day(self, day: Day) -> list[Req]:
        tl = self.world.timeline
        if day.index != self.world.day_of(tl.logs_start + (tl.window_end - tl.logs_start) * 3 // 5).index:
            return []
        t = day.at(self.rng.uniform(21, 23) * HOUR)
        out = [self.req(t, self.IP, self.UA, "GET", "/api/v2/health", 200, 15)]
        t += self.rng.randint(5000, 60_000)
        if not tl.exposed(t / 1000):
            raise SimulationError("the bulk request fell outside the exposure window")
        out.append(
            self.req(
                t,
                self.IP,
                self.UA,
                "GET",
                f"{LIST_ROUTE}?limit={self.N}",
                200,
                list_size(self.N, 0),
                taken=self.N,
            )
        )
        return out


SURNAMES = [
    "jones",
    "patel",
    "lee",
    "okafor",
    "smith",
    "khan",
    "evans",
    "murphy",
    "taylor",
    "nowak",
    "brown",
    "ahmed",
    "wilson",
    "garcia",
    "davies",
    "chen",
    "walker",
    "singh",
    "hughes",
    "price",
]
ROLES = ["dr", "nurse", "admin", "sec"]


def staff_names(n: int) -> list[str]:
    return [
        f"{ROLES[i % len(ROLES)]}.{SURNAMES[i % len(SURNAMES)]}"
        + (str(i // len(SURNAMES) + 1) if i >= len(SURNAMES) else "")
        for i in range(n)
    ]


def build_actors(
    seed: int, scale: float, start: date, days: int, attackers: bool = True, others: list[str] | None = None
) -> tuple[World, list[Actor]]:
    """The world and the base case's actors, in a fixed order (an actor's index is its position).

    ``others``: principals that other actors (the topology scenarios') bring; they own referrals too.

    Without ``attackers`` the same API has only its benign traffic and background scanning: the
    insider is an ordinary member of staff, the nuclei scanner is not lucky, and there are no
    enumerators and no bulk download (the case where the verdict must be ``no_evidence``).
    """
    n_staff = max(2, round(12 * scale))
    names = staff_names(n_staff + 1)
    world = build_world(seed, scale, start, days, names + (others or []))
    actors: list[Actor] = []
    for k, p in enumerate(names[:-1]):
        ip = f"10.20.{1 + k // 200}.{10 + k % 200}"
        actors.append(Staff(world, len(actors), f"staff-{p}", p, ip))
    insider_ip = f"10.20.9.{10 + n_staff % 200}"
    if attackers:
        actors.append(Insider(world, len(actors), "insider", names[-1], insider_ip))
    else:
        actors.append(Staff(world, len(actors), f"staff-{names[-1]}", names[-1], insider_ip))
    actors.append(Partner(world, len(actors), "partner"))
    actors.append(Monitor(world, len(actors), "monitor"))
    actors.append(Crawler(world, len(actors), "crawler"))
    front = [p for p in PROBES if p[0] in ("/", "/favicon.ico")]
    censys = "Mozilla/5.0 (compatible; CensysInspect/1.1; +https://about.censys.io/)"
    nuclei = "Nuclei - Open-source project (github.com/projectdiscovery/nuclei)"
    scanners = [
        ("scanner-zgrab", "Mozilla/5.0 zgrab/0.x", ["45.155.205"], 2.5, front),
        ("scanner-censys", censys, ["167.94.138", "167.94.145"], 1.5, front),
        ("scanner-python", "python-requests/2.28.1", ["193.142.146", "45.148.10"], 3.0, PROBES[:10]),
    ]
    for name, ua, nets, rate, probes in scanners:
        actors.append(Scanner(world, len(actors), name, ua, nets, rate, probes))
    nuclei_kind = LuckyScanner if attackers else Scanner
    actors.append(
        nuclei_kind(world, len(actors), "scanner-nuclei", nuclei, ["185.191.171", "89.248.165"], 1.0, PROBES)
    )
    actors.append(Tester(world, len(actors), "tester"))
    if attackers:
        actors.append(Enumerator(world, len(actors), "enumerator"))
        actors.append(DistributedEnumerator(world, len(actors), "enumerator-distributed"))
        actors.append(Bulk(world, len(actors), "bulk"))
    return world, actors


def day_requests(actors: list[Actor], day: Day) -> list[Req]:
    """Every actor's requests on one local day, in time order (ties by actor order)."""
    out: list[Req] = []
    for a in actors:
        out += a.day(day)
    out.sort(key=lambda r: r[0])
    return out


def iter_days(world: World, actors: list[Actor]) -> Iterator[tuple[Day, list[Req]]]:
    for day in world.days:
        yield day, day_requests(actors, day)


def utc_iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")
