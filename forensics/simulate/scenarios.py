"""Named network topologies a simulated case can add (``forensics simulate --scenario NAME``).

A scenario names the principals it brings (they get referrals in the world like everyone else) and
plants its actors after the base case's, so the base actors keep their indices and their own RNGs.
``all`` is every scenario at once: a realistic mixed network. ``scenario_names`` resolves a user's list
to the registry's order, so the same set in any order writes the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from forensics.errors import SimulationError
from forensics.simulate.model import PLATFORMS, Actor, World, staff_names
from forensics.simulate.topologies import (
    APP_UAS,
    MOBILE_UAS,
    Bystanders,
    CarrierAppUser,
    Clinician,
    LowSlowInsider,
    NatMonitor,
    PausingScraper,
    RoamingAppUser,
    RotatingCloud,
    SharedStaff,
)

Build = Callable[[World, int, list[str]], list[Actor]]
OFFICE_NAT = "81.2.69.142"
PROXY = "194.66.82.11"
CARRIER_POOL = ("82.132.219.10", "82.132.219.11", "82.132.219.12", "82.132.219.13")
CLINIC_NAT = "212.58.244.20"
TEAMS = ("cardiology", "oncology")
CORPORATE = PLATFORMS[0]  # Windows: the managed desktop


@dataclass(frozen=True)
class Scenario:
    name: str
    summary: str
    people: Callable[[float], list[str]]  # the principals it brings, for a scale
    build: Build  # (world, index of its first actor, its principals) -> its actors


def _staff(prefix: str, n: int) -> Callable[[float], list[str]]:
    return lambda scale: [f"{prefix}-{p}" for p in staff_names(max(2, n // 3, round(n * scale)))]


def _office(world: World, i: int, people: list[str]) -> list[Actor]:
    return [
        SharedStaff(world, i + k, f"office-{p}", p, OFFICE_NAT, CORPORATE, edge=k % 3 == 2)
        for k, p in enumerate(people)
    ]


def _proxy(world: World, i: int, people: list[str]) -> list[Actor]:
    out: list[Actor] = [
        SharedStaff(world, i + k, f"proxy-{p}", p, PROXY, CORPORATE, edge=k % 2 == 0)
        for k, p in enumerate(people)
    ]
    browsers = (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0",
    )
    out.append(Bystanders(world, i + len(out), "proxy-bystanders", (PROXY,), browsers, 40))
    return out


def _carrier(world: World, i: int, people: list[str]) -> list[Actor]:
    out: list[Actor] = [
        CarrierAppUser(world, i + k, f"carrier-{p}", p, APP_UAS[k % 2], CARRIER_POOL)
        for k, p in enumerate(people)
    ]
    out.append(Bystanders(world, i + len(out), "carrier-bystanders", CARRIER_POOL, MOBILE_UAS + APP_UAS, 80))
    return out


def _roaming(world: World, i: int, people: list[str]) -> list[Actor]:
    return [RoamingAppUser(world, i + k, f"roaming-{p}", p, APP_UAS[k % 2]) for k, p in enumerate(people)]


def _monitor_nat(world: World, i: int, people: list[str]) -> list[Actor]:
    out: list[Actor] = [
        SharedStaff(world, i + k, f"clinic-{p}", p, CLINIC_NAT, PLATFORMS[k % 2], edge=False)
        for k, p in enumerate(people)
    ]
    out.append(NatMonitor(world, i + len(out), "clinic-monitor", CLINIC_NAT))
    return out


def _clinic_people(scale: float) -> list[str]:
    n = max(3, round(4 * scale))
    return [f"{t[:4]}-{p}" for t in TEAMS for p in staff_names(n)]


def _clinic(world: World, i: int, people: list[str]) -> list[Actor]:
    """Two care teams; the last member of the first team is the insider."""
    out: list[Actor] = []
    half = len(people) // 2
    for k, p in enumerate(people):
        team = TEAMS[k // half]
        mates = [m for m in people[(k // half) * half : (k // half + 1) * half] if m != p]
        kind = LowSlowInsider if k == half - 1 else Clinician
        name = "clinic-insider" if kind is LowSlowInsider else f"clinician-{p}"
        out.append(kind(world, i + k, name, p, f"10.30.{1 + k // half}.{10 + k % half}", team, mates))
    return out


REGISTRY: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("office-nat", "staff log in and read their panels behind one office NAT address with "
                 "two corporate browser strings", _staff("hq", 20), _office),
        Scenario("corporate-proxy", "a partner hospital's staff behind a proxy address that also carries "
                 "its other users' traffic", _staff("stel", 8), _proxy),
        Scenario("carrier-nat", "mobile-app users on a carrier's few NAT addresses, shared with unrelated "
                 "subscribers", _staff("app", 12), _carrier),
        Scenario("roaming-app", "app users who log in at home and keep their token across carrier, "
                 "roaming and VPN addresses that never log in", _staff("roam", 6), _roaming),
        Scenario("monitor-nat", "an in-house monitor reading a canary record behind the clinic NAT its "
                 "staff share", _staff("gp", 4), _monitor_nat),
        Scenario("pausing-scraper", "an unauthenticated scraper walking ids, pausing for days and resuming "
                 "from a few addresses", lambda scale: [], lambda w, i, _: [PausingScraper(w, i, "scraper")]),
        Scenario("rotating-cloud", "an enumerator on a new cloud address and browser string per request or "
                 "two", lambda scale: [], lambda w, i, _: [RotatingCloud(w, i, "rotating-cloud")]),
        Scenario("low-slow-insider", "two care teams (principals in the app log, an ownership map); one "
                 "clinician opens 3-8 strangers' records a day for weeks", _clinic_people, _clinic),
    )
}  # fmt: skip
ALL = "all"


def scenario_names(names: Iterable[str]) -> list[str]:
    """The registry's names for a user's list (``all`` = every one), in registry order."""
    wanted = set()
    for n in names:
        if n == ALL:
            wanted |= set(REGISTRY)
        elif n in REGISTRY:
            wanted.add(n)
        else:
            raise SimulationError(f"--scenario {n}: unknown; choose from {', '.join([*REGISTRY, ALL])}")
    return [n for n in REGISTRY if n in wanted]


def people(names: list[str], scale: float) -> list[list[str]]:
    return [REGISTRY[n].people(scale) for n in names]


def plant(world: World, first: int, names: list[str], people: list[list[str]]) -> list[Actor]:
    """The scenarios' actors, numbered from ``first``, each tagged with its scenario."""
    out: list[Actor] = []
    for name, who in zip(names, people, strict=True):
        for a in REGISTRY[name].build(world, first + len(out), who):
            a.scenario = name
            out.append(a)
    return out
