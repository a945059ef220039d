"""Actors of real networks (``forensics simulate --scenario``): shared addresses, roaming tokens, patient
attackers.

Each class is one way real traffic defeats "one address = one caller": many people behind one NAT or
proxy with identical browsers, app users whose token outlives their address, a scraper that pauses for
days, an enumerator on a new cloud address per request, an insider who reads a few strangers' records a
day among many legitimate reads. Like the base model's actors, each has its own seeded RNG, so adding one
leaves every other actor's traffic unchanged; which of them a scenario plants is ``scenarios.py``'s job.
"""

from __future__ import annotations

from forensics.simulate.model import (
    DAY,
    HOUR,
    ID0,
    LIST_ROUTE,
    LOGIN,
    RECORD_ROUTE,
    SITE,
    STATIC,
    Actor,
    Day,
    Req,
    Staff,
    World,
    chrome,
    list_size,
    record_size,
)

PUBLIC = (("/", 6120), ("/about", 8433), ("/privacy", 9381), ("/contact", 5248), ("/favicon.ico", 1150))
LOGIN_FAIL = 96  # {"error":"invalid_credentials"}
APP_UAS = (
    "ReferralsApp/4.2.1 (iPhone; iOS 17.2; Scale/3.00)",
    "ReferralsApp/4.2.1 (Android 14; SM-S911B) okhttp/4.12.0",
)
MOBILE_UAS = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.2 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Mobile Safari/537.36",
)


def open_days(world: World) -> list[Day]:
    """Days wholly inside logged time and the exposure window (what an attacker does there is seen)."""
    tl = world.timeline
    return [
        d
        for d in world.days
        if tl.logged(d.t0) and tl.logged(d.t1 - 1) and tl.exposed(d.t0) and tl.exposed(d.t1 - 1)
    ]


class SharedStaff(Staff):
    """Staff whose address and browser string are the site's: an office NAT, a proxy, a clinic NAT."""

    klass = "staff"

    def __init__(
        self, world: World, index: int, name: str, principal: str, ip: str, platform: str, edge: bool
    ) -> None:
        super().__init__(world, index, name, principal, ip)
        self.platform = platform
        self.edge = edge

    def user_agent(self, day: Day) -> str:
        ua = chrome(day, self.platform)
        return ua + f" Edg/{ua.split('Chrome/')[1].split('.')[0]}.0.0.0" if self.edge else ua


class Bystanders(Actor):
    """Unrelated people behind the same shared addresses: public pages, the app's assets, failed logins,
    and (on a carrier) the app's health check before anyone signs in. Never a record."""

    klass = "bystander"

    def __init__(self, world: World, index: int, name: str, ips: tuple[str, ...], uas: tuple[str, ...],
                 per_day: int) -> None:  # fmt: skip
        super().__init__(world, index, name)
        self.ips = ips
        self.uas = uas
        self.per_day = per_day

    def day(self, day: Day) -> list[Req]:
        rng = self.rng
        out: list[Req] = []
        for _ in range(rng.randint(self.per_day // 2, self.per_day)):
            ip, ua = rng.choice(self.ips), rng.choice(self.uas)
            t = day.at(rng.uniform(6.5, 23) * HOUR)
            if ua in APP_UAS:  # someone else's phone opening the app, not signed in
                out.append(self.req(t, ip, ua, "GET", "/api/v2/health", 200, 15))
                continue
            for path, size in rng.sample(PUBLIC, rng.randint(1, 3)):
                out.append(self.req(t, ip, ua, "GET", path, 200, size, referer="-"))
                t += rng.randint(2000, 40_000)
            if rng.random() < 0.15:  # a staff member of another service trying their own password here
                for path, size in STATIC:
                    out.append(self.req(t, ip, ua, "GET", path, 200, size, referer=f"{SITE}/"))
                    t += rng.randint(20, 400)
                out.append(self.req(t + 8000, ip, ua, "POST", LOGIN.split()[1], 401, LOGIN_FAIL,
                                    referer=f"{SITE}/app/"))  # fmt: skip
        return out


class AppUser(Actor):
    """A mobile-app user: a bearer token from one login, kept for ``TOKEN_DAYS`` across every address
    the phone gets. Sessions: the app's health check, a login when the token has expired, the list,
    then a few of the user's own referrals (revisits), all as the principal in the app log."""

    klass = "app_user"
    TOKEN_DAYS = 7

    def __init__(self, world: World, index: int, name: str, principal: str, ua: str) -> None:
        super().__init__(world, index, name)
        self.principal = principal
        self.ua = ua
        self.token_until = -1  # epoch ms

    def address(self, day: Day, t: int, login: bool) -> str:
        raise NotImplementedError

    def day(self, day: Day) -> list[Req]:
        rng = self.rng
        if rng.random() < 0.3:
            return []
        out: list[Req] = []
        for hour in sorted(rng.uniform(7, 22.5) for _ in range(rng.randint(1, 3))):
            out += self.session(day, day.at(hour * HOUR))
        return out

    def session(self, day: Day, t: int) -> list[Req]:
        rng, ua, user = self.rng, self.ua, self.principal
        login = t >= self.token_until
        ip = self.address(day, t, login)
        out = [self.req(t, ip, ua, "GET", "/api/v2/health", 200, 15)]
        if login:
            t += rng.randint(4000, 30_000)
            out.append(self.req(t, ip, ua, "POST", LOGIN.split()[1], 200, 412))
            self.token_until = t + self.TOKEN_DAYS * DAY * 1000
        t += rng.randint(500, 3000)
        out.append(
            self.req(t, ip, ua, "GET", f"{LIST_ROUTE}?limit=20&page=1", 200, list_size(20, 1), user=user)
        )
        panel = self.world.panel(self.principal, day)
        n = len(panel)
        for _ in range(rng.randint(3, 12) if n else 0):
            t += rng.randint(5000, 40_000)
            rid = panel[n - 1 - min(n - 1, int(rng.expovariate(1 / 15)))]
            out.append(self.req(t, ip, ua, "GET", f"{RECORD_ROUTE}{rid}", 200, record_size(rid), user=user,
                                rid=rid))  # fmt: skip
        return out


class CarrierAppUser(AppUser):
    """An app user on a mobile carrier: every session (the login included) from one of the carrier's few
    NAT addresses, which thousands of unrelated subscribers share."""

    def __init__(self, world: World, index: int, name: str, principal: str, ua: str,
                 pool: tuple[str, ...]) -> None:  # fmt: skip
        super().__init__(world, index, name, principal, ua)
        self.pool = pool

    def address(self, day: Day, t: int, login: bool) -> str:
        return self.rng.choice(self.pool)


class RoamingAppUser(AppUser):
    """An app user who logs in at home and then moves: a carrier address, a foreign carrier while
    roaming, a VPN exit, each for a day or three; only the home address ever sees a login."""

    TOKEN_DAYS = 14
    STINTS = (("carrier", "92.40.{}.{}"), ("roaming", "176.12.{}.{}"), ("vpn", "146.70.{}.{}"))

    def __init__(self, world: World, index: int, name: str, principal: str, ua: str) -> None:
        super().__init__(world, index, name, principal, ua)
        self.home = f"86.{150 + index % 80}.{self.rng.randint(1, 254)}.{self.rng.randint(1, 254)}"
        self.stint = (-1, self.home)  # (until ms, address)

    def address(self, day: Day, t: int, login: bool) -> str:
        rng = self.rng
        if login:
            self.stint = (t + rng.randint(4, 20) * HOUR * 1000, self.home)
        elif t >= self.stint[0]:
            _, pattern = rng.choice(self.STINTS)
            ip = pattern.format(rng.randint(1, 254), rng.randint(1, 254))
            self.stint = (t + rng.randint(1, 3) * DAY * 1000, ip)
        return self.stint[1]


class NatMonitor(Actor):
    """An in-house monitor behind the clinic's NAT: the health endpoint every five minutes and a canary
    referral (a test patient) every fifteen, with an API key the logs do not show. Entitled to it: the
    canary still answers 200 after the fix."""

    klass = "monitor"
    UA = "Blackbox-Exporter/0.25.0"
    CANARY = ID0 + 1

    def __init__(self, world: World, index: int, name: str, ip: str) -> None:
        super().__init__(world, index, name)
        self.ip = ip

    def day(self, day: Day) -> list[Req]:
        rand, ip, ua, rid = self.rng.random, self.ip, self.UA, self.CANARY
        out: list[Req] = []
        for s in range((day.t0 + 299) // 300 * 300, day.t1, 300):
            t = s * 1000 + int(rand() * 2500)
            out.append(self.req(t, ip, ua, "GET", "/api/v2/health", 200, 15))
            if s % 900 == 0:
                out.append(self.req(t + 150, ip, ua, "GET", f"{RECORD_ROUTE}{rid}", 200, record_size(rid),
                                    rid=rid))  # fmt: skip
        return out


class PausingScraper(Actor):
    """An unauthenticated scraper (one tool, a few addresses of one host) walking ids at night; it
    stops for days, then resumes where it left off."""

    klass = "scraper"
    unauthorised = True
    UA = "Scrapy/2.11.0 (+https://scrapy.org)"
    IPS = ("5.188.62.21", "5.188.62.76", "5.188.62.140")

    def __init__(self, world: World, index: int, name: str) -> None:
        super().__init__(world, index, name)
        days = open_days(world)
        self.bursts: list[int] = []
        for d in days[len(days) // 6 :]:
            if not self.bursts or d.index >= self.bursts[-1] + self.rng.randint(3, 6):
                self.bursts.append(d.index)
            if len(self.bursts) == 4:
                break
        self.next = ID0 + int(len(range(ID0, world.days[0].max_id)) * 0.35)

    def day(self, day: Day) -> list[Req]:
        if day.index not in self.bursts:
            return []
        rng = self.rng
        ip = self.IPS[self.bursts.index(day.index) % len(self.IPS)]
        t = day.at(rng.uniform(0.5, 4) * HOUR)
        out = [self.req(t, ip, self.UA, "GET", "/robots.txt", 200, 68)]
        for _ in range(max(15, int(rng.randint(60, 120) * self.world.scale))):
            t += rng.randint(1500, 6000)
            out.append(self.read_unauth(t, ip, self.UA, self.next, day))
            self.next += 1
        return out


class RotatingCloud(Actor):
    """Distributed enumeration at speed: a contiguous id range in well under an hour, every request
    (or every two) from a new cloud or hosting address with a new browser string (METHOD.md H11)."""

    klass = "rotating_enumerator"
    unauthorised = True
    NETS = ("3.8", "18.130", "35.176", "34.89", "20.68", "65.21", "51.38", "143.198")
    UAS = (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:123.0) Gecko/20100101 Firefox/123.0",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_3) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.3 Safari/605.1.15",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/121.0.0.0 Safari/537.36",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/119.0.0.0 Safari/537.36",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/122.0.0.0 Safari/537.36 Edg/122.0.0.0",
        "Mozilla/5.0 (iPad; CPU OS 17_3 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.3 Mobile/15E148 Safari/604.1",
    )

    def __init__(self, world: World, index: int, name: str) -> None:
        super().__init__(world, index, name)
        days = open_days(world)
        self.night = days[len(days) * 3 // 4].index
        self.first = ID0 + int(len(range(ID0, world.days[0].max_id)) * 0.8)

    def day(self, day: Day) -> list[Req]:
        if day.index != self.night:
            return []
        rng = self.rng
        t = day.at(rng.uniform(1, 3) * HOUR)
        out: list[Req] = []
        ip = ua = ""
        for k in range(max(30, int(rng.randint(150, 250) * self.world.scale))):
            if k % rng.randint(1, 2) == 0 or not ip:
                ip = f"{rng.choice(self.NETS)}.{rng.randint(1, 254)}.{rng.randint(1, 254)}"
                ua = rng.choice(self.UAS)
            t += rng.randint(2000, 12_000)
            out.append(self.read_unauth(t, ip, ua, self.first + k, day))
        return out


class Clinician(Staff):
    """A clinician in a care team: their own panel (many revisits) and now and then a one-off consult of
    a teammate's patient (legitimate: the owner's map gives the record to the team)."""

    klass = "clinician"

    def __init__(self, world: World, index: int, name: str, principal: str, ip: str, team: str,
                 mates: list[str]) -> None:  # fmt: skip
        super().__init__(world, index, name, principal, ip)
        self.team = team
        self.mates = mates
        self.consulted: set[int] = set()

    def team_records(self, day: Day) -> set[int]:
        return {r for p in [self.principal, *self.mates] for r in self.world.panel(p, day)}

    def consults(self, day: Day) -> list[int]:
        rng = self.rng
        if rng.random() >= 0.25:
            return []
        own = set(self.world.panel(self.principal, day))
        pool = [r for r in self.world.panel(rng.choice(self.mates), day) if r not in own | self.consulted]
        if not pool:
            return []
        rid = rng.choice(pool)
        self.consulted.add(rid)
        return [rid]

    def day(self, day: Day) -> list[Req]:
        if not self.present(day):
            return []
        reads = self.rng.randint(20, 50)
        return self.session(day, reads, None, self.consults(day))


class LowSlowInsider(Clinician):
    """A clinician who, every working day for weeks, also opens a handful (3-8) of strangers' records:
    never their team's, never one they opened before. Everything else is an ordinary clinician's day."""

    klass = "insider"
    unauthorised = True

    def __init__(self, world: World, index: int, name: str, principal: str, ip: str, team: str,
                 mates: list[str]) -> None:  # fmt: skip
        super().__init__(world, index, name, principal, ip, team, mates)
        days = [d for d in open_days(world) if d.working]
        self.bad = {d.index for d in days[len(days) // 8 :][:25]}
        self.snooped: set[int] = set()

    def day(self, day: Day) -> list[Req]:
        if day.index not in self.bad:
            return super().day(day)
        rng = self.rng
        team = self.team_records(day)
        extra: list[int] = []
        for _ in range(rng.randint(3, 8)):
            rid = rng.randint(ID0, day.max_id)
            while rid in team or rid in self.snooped:
                rid = rng.randint(ID0, day.max_id)
            self.snooped.add(rid)
            extra.append(rid)
        return self.session(day, rng.randint(20, 50), extra, self.consults(day))
