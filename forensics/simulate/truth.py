"""The ground truth of a simulated case: what really happened.

Per actor: the requests that made it into at least one log, its IPs, user agents and principals
as logged, and the record ids it received without being entitled to them, split into those
received in logged time and those received while nothing was logging (before retention or in
the gap). The evaluation compares what the detectors say with this.

The base case writes schema ``forensics.truth/1`` (unchanged, byte for byte). A case with topology
scenarios (``--scenario``) writes ``forensics.truth/2``, the same document plus: ``scenarios`` (name and
summary), per actor ``kind`` (``attacker`` or ``benign``), ``scenario`` (``""`` for the base case's
actors) and ``team``; ``records.taken_by`` (every logged unauthorised record -> the actors that took it);
``shared_addresses`` (every address more than one actor used -> those actors); and ``ownership``: the
data owner's map of records to owners written beside truth.json (``ownership.csv``: ``record_id,owner``,
the owner a care team or a principal; ``teams.csv``: ``principal,team``), or null.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from forensics.simulate.model import (
    ACTOR,
    IP,
    LOGIN,
    MS,
    RID,
    TAKEN,
    UA,
    USER,
    ZONE_NAME,
    Actor,
    Day,
    Partner,
    Req,
    Staff,
    Tester,
    Timeline,
    World,
    utc_iso,
)
from forensics.simulate.writers import Written, is_app

SCHEMA = "forensics.truth/1"
SCHEMA_TOPOLOGIES = "forensics.truth/2"
OWNERSHIP_FILE = "ownership.csv"
TEAMS_FILE = "teams.csv"
ENDPOINTS = [
    "GET /api/v2/referrals/{id}",
    "GET /api/v2/referrals/{id}/documents/{doc}",
    "GET /api/v2/referrals",
]
TRUSTED = [f"partner={Partner.IPS[0].rsplit('.', 1)[0]}.32/29", f"tester={Tester.IP}/32"]


@dataclass
class ActorTruth:
    name: str
    klass: str
    unauthorised: bool
    scenario: str = ""
    team: str = ""
    requests: int = 0
    ips: set[str] = field(default_factory=set)
    user_agents: set[str] = field(default_factory=set)
    principals: set[str] = field(default_factory=set)
    records: set[int] = field(default_factory=set)
    unlogged: set[int] = field(default_factory=set)
    bulk: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "class": self.klass,
            "unauthorised": self.unauthorised,
            "ips": sorted(self.ips),
            "user_agents": sorted(self.user_agents),
            "principals": sorted(self.principals),
            "requests": self.requests,
            "records_unauthorised": [str(r) for r in sorted(self.records)],
            "records_unauthorised_unlogged": [str(r) for r in sorted(self.unlogged)],
            "bulk_records": self.bulk,
        }


class Truth:
    """Accumulates the truth day by day while the writers write the same requests."""

    def __init__(
        self,
        seed: int,
        days: int,
        scale: float,
        timeline: Timeline,
        actors: list[Actor],
        scenarios: list[tuple[str, str]] | None = None,
    ) -> None:
        self.seed = seed
        self.days = days
        self.scale = scale
        self.timeline = timeline
        self.actors = [ActorTruth(a.name, a.klass, a.unauthorised, a.scenario, a.team) for a in actors]
        self.written = Written()
        self.scenarios = scenarios  # (name, summary); None: the base case (schema 1)
        self.ownership: dict[str, Any] | None = None

    def add(self, logged: list[Req], unlogged: list[Req]) -> None:
        actors = self.actors
        for r in logged:
            a = actors[r[ACTOR]]
            a.requests += 1
            a.ips.add(r[IP])
            a.user_agents.add(r[UA])
            if r[USER]:
                a.principals.add(r[USER])
            if r[TAKEN]:
                if r[RID] >= 0:
                    a.records.add(r[RID])
                else:
                    a.bulk += r[TAKEN]
        for r in unlogged:
            if r[TAKEN]:
                a = actors[r[ACTOR]]
                if r[RID] >= 0:
                    a.unlogged.add(r[RID])
                else:
                    a.bulk += r[TAKEN]

    def split(self, day: Day, reqs: list[Req]) -> tuple[list[Req], list[Req]]:
        """(logged, unlogged) requests of one day."""
        tl = self.timeline
        lo, hi = day.t0, day.t1
        if tl.logs_start <= lo and hi <= tl.end and (hi <= tl.gap_start or lo >= tl.gap_end):
            return reqs, []
        if hi <= tl.logs_start or (tl.gap_start <= lo and hi <= tl.gap_end):
            return [], reqs
        logged: list[Req] = []
        unlogged: list[Req] = []
        for r in reqs:
            (logged if tl.logged(r[MS] / 1000) else unlogged).append(r)
        return logged, unlogged

    def lost(self, reqs: list[Req]) -> None:
        """Requests whose only log line was lost (the truncated file's tail, outside the app log)."""
        for r in reqs:
            if not is_app(r):
                self.actors[r[ACTOR]].requests -= 1

    def coverage(self) -> float:
        tl = self.timeline
        span = tl.window_end - tl.window_start
        logged = max(0, min(tl.window_end, tl.end) - max(tl.window_start, tl.logs_start))
        gap = max(0, min(tl.window_end, tl.gap_end) - max(tl.window_start, tl.gap_start))
        return round((logged - gap) / span, 6)

    def as_json(self) -> dict[str, Any]:
        tl = self.timeline
        w = self.written
        records = set().union(*(a.records for a in self.actors))
        unlogged = set().union(*(a.unlogged for a in self.actors))
        trunc = w.truncation
        doc = {
            "schema": SCHEMA,
            "seed": self.seed,
            "days": self.days,
            "scale": self.scale,
            "timezone": ZONE_NAME,
            "period": {"start": utc_iso(tl.start), "end": utc_iso(tl.end)},
            "window": {"start": utc_iso(tl.window_start), "end": utc_iso(tl.window_end)},
            "logs": {"start": utc_iso(tl.logs_start), "end": utc_iso(tl.end)},
            "gaps": [{"start": utc_iso(tl.gap_start), "end": utc_iso(tl.gap_end)}],
            "coverage": {"ratio": self.coverage()},
            "endpoints": ENDPOINTS,
            "login": LOGIN,
            "trusted": TRUSTED,
            "actors": [a.as_json() for a in self.actors],
            "records": {
                "unauthorised": [str(r) for r in sorted(records)],
                "unlogged": [str(r) for r in sorted(unlogged)],
                "bulk": sum(a.bulk for a in self.actors),
            },
            "evidence": {
                "files": sorted(w.files),
                "lines": {"nginx": w.nginx_lines, "app": w.app_lines},
                "duplicates": [{"copy": c, "of": o} for c, o in w.duplicates],
                "odd_lines": [{"file": f, "kind": k, "line": line} for f, k, line in w.odd],
                "truncated": None
                if trunc is None
                else {
                    "file": trunc.path,
                    "lines": trunc.lines,
                    "lines_kept": trunc.kept,
                    "partial_line": trunc.partial,
                    "lost_from": utc_iso(trunc.lost[0][MS] / 1000) if trunc.lost else None,
                    "lost_to": utc_iso(trunc.lost[-1][MS] / 1000) if trunc.lost else None,
                    "note": "lost nginx lines of /api/ requests are still in the app log",
                },
            },
        }
        return doc if self.scenarios is None else self.topologies(doc)

    def topologies(self, doc: dict[str, Any]) -> dict[str, Any]:
        """Schema 2: the base document plus what a mixed network's evaluation needs."""
        doc["schema"] = SCHEMA_TOPOLOGIES
        doc["scenarios"] = [{"name": n, "summary": s} for n, s in self.scenarios or []]
        for a, out in zip(self.actors, doc["actors"], strict=True):
            out["kind"] = "attacker" if a.unauthorised else "benign"
            out["scenario"] = a.scenario
            out["team"] = a.team or None
        taken: dict[int, list[str]] = {}
        users: dict[str, list[str]] = {}
        for a in self.actors:
            for r in a.records:
                taken.setdefault(r, []).append(a.name)
            for ip in a.ips:
                users.setdefault(ip, []).append(a.name)
        doc["records"]["taken_by"] = {str(r): taken[r] for r in sorted(taken)}
        doc["shared_addresses"] = {ip: users[ip] for ip in sorted(users) if len(users[ip]) > 1}
        doc["ownership"] = self.ownership
        return doc

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.as_json(), indent=1) + "\n", encoding="utf-8")


def write_ownership(out_dir: Path, world: World, actors: list[Actor]) -> dict[str, Any]:
    """The data owner's map: every referral that exists at the end -> its owner (the care team when its
    principal is in one, else the principal), and the teams' members. Returns truth's ``ownership``."""
    teams = {a.principal: a.team for a in actors if a.team and isinstance(a, Staff)}
    owner = {rid: teams.get(p, p) for p, ids in world.owners.items() for rid in ids}
    last = world.days[-1].max_id
    rows = [f"{rid},{owner[rid]}" for rid in sorted(owner) if rid <= last]
    (out_dir / OWNERSHIP_FILE).write_text("record_id,owner\n" + "\n".join(rows) + "\n", encoding="utf-8")
    members = [f"{p},{t}" for p, t in sorted(teams.items())]
    (out_dir / TEAMS_FILE).write_text("principal,team\n" + "\n".join(members) + "\n", encoding="utf-8")
    return {
        "file": OWNERSHIP_FILE,
        "columns": ["record_id", "owner"],
        "records": len(rows),
        "teams_file": TEAMS_FILE,
        "teams": sorted(set(teams.values())),
        "note": "owner is a care team (members in teams_file) or a principal; a team's members may read "
        "every record the team owns",
    }
