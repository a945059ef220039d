"""A simulated evidence folder with ground truth: ``simulate(out_dir, ...)`` (``forensics simulate``).

The case: a small healthcare-referrals API whose record endpoints answered unauthenticated requests
with 200 during an exposure window that opened before log retention began and was fixed near the
end of the simulated period. ``model`` says who did what and when, ``writers`` renders the logs,
``truth`` records what really happened (``truth.json``). Same parameters, same bytes.
``scenarios`` (``topologies``) add real networks' callers: shared NAT and proxy addresses, roaming
app tokens, a pausing scraper, rotating cloud addresses, a low-and-slow insider with the owner's map.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

from forensics.errors import SimulationError
from forensics.simulate.model import HOUR, Timeline, World, build_actors, iter_days
from forensics.simulate.scenarios import REGISTRY, people, plant, scenario_names
from forensics.simulate.truth import SCHEMA, SCHEMA_TOPOLOGIES, Truth, write_ownership
from forensics.simulate.writers import AppWriter, Clock, NginxWriter, Plan

DEFAULT_START = date(2024, 1, 1)
TRUTH_FILE = "truth.json"

__all__ = ["DEFAULT_START", "REGISTRY", "SCHEMA", "SCHEMA_TOPOLOGIES", "TRUTH_FILE", "Truth", "simulate"]


def plan(world: World) -> Plan:
    """Which logged days get the bz2 file, the truncated gzip, the backup copy and the odd lines."""
    tl: Timeline = world.timeline
    first = next(d.index for d in world.days if d.t0 >= tl.logs_start)
    fix = world.day_of(tl.window_end).index
    after_gap = world.day_of(tl.gap_end).index
    return Plan(
        bz2_day=(first + tl.gap_day) // 2,
        truncated_day=tl.gap_day,  # logrotate compressed it while the disk was full
        backup_day=fix - 1,
        odd_day=after_gap,
        odd_ms=(tl.gap_end + HOUR // 4) * 1000,
    )


def simulate(
    out_dir: Path,
    seed: int = 1,
    days: int = 365,
    scale: float = 1.0,
    start: date = DEFAULT_START,
    attackers: bool = True,
    scenarios: Sequence[str] = (),
) -> Truth:
    """Write the evidence folder and ``truth.json`` into ``out_dir`` (which must be empty or absent).

    ``scenarios``: topology scenarios to add (names of ``REGISTRY`` or ``all``); with none, the base
    case is written exactly as before (truth schema 1), with any, truth schema 2."""
    if scale <= 0:
        raise SimulationError(f"--scale {scale}: must be positive")
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()):
        raise SimulationError(f"{out_dir} is not empty: simulate writes into a new folder")
    names = scenario_names(scenarios)
    who = people(names, scale)
    world, actors = build_actors(seed, scale, start, days, attackers, [p for ps in who for p in ps])
    actors += plant(world, len(actors), names, who)
    summaries = [(n, REGISTRY[n].summary) for n in names] if names else None
    truth = Truth(seed, days, scale, world.timeline, actors, summaries)
    clock = Clock()
    nginx = NginxWriter(out_dir, plan(world), clock, truth.written)
    app = AppWriter(out_dir, clock, truth.written)
    out_dir.mkdir(parents=True, exist_ok=True)
    for day, reqs in iter_days(world, actors):
        logged, unlogged = truth.split(day, reqs)
        truth.add(logged, unlogged)
        nginx.add(day, logged)
        app.add(day, logged)
    nginx.finish()
    app.finish()
    if "low-slow-insider" in names:
        truth.ownership = write_ownership(out_dir, world, actors)
    if truth.written.truncation is not None:
        truth.lost(truth.written.truncation.lost)
    truth.write(out_dir / TRUTH_FILE)
    return truth
