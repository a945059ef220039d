"""A small case with ground truth: clinicians, their panels, legitimate consults and one
low-and-slow insider, written as a JSON lines application log (the user is logged).

The world (all choices from one ``random.Random(seed)``):

* a population of ``POPULATION`` patient records (ids 100000…); ``clinicians`` clinicians in
  teams of four, each with a panel of patients under their care (60 at the start, one or two
  admitted most working days). A present clinician reads 15 to 40 of their own panel's records a
  working day, recent admissions most often (many revisits over the weeks);
* consults: on about a third of their working days a clinician is asked to look at a colleague's
  patient: the colleague (the patient's clinician, any team) reads the record that day or the
  working day before, and the consultant opens it once (sometimes twice the same day). In one
  consult of ten the colleague does not read it around then (asked by phone, or weeks before);
* the insider: an ordinary clinician who, on every working day of ``insider_weeks`` weeks in
  the middle of the case, also opens 3 to 8 strangers' records — drawn from the whole population
  outside their own panel (``strangers_from="population"``), or from the other clinicians'
  panels only (``"panels"``, harder: their owners may read them the same days). One stranger in
  twenty is opened again on a later day.

``entitlements`` is what an ownership map would say: each panel record → its clinician, and each
consult → the consultant (the consult grants access). ``strangers`` is the ground truth: the
records the insider read without entitlement.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

POPULATION = 20000
ID0 = 100000
START = date(2025, 3, 3)  # a Monday
ROUTE = "/api/v2/patients/"
SITE = "https://ehr.example.org"


@dataclass
class InsiderCase:
    lines: list[str]
    insider: str
    clinicians: list[str]
    teams: dict[str, str]  # clinician -> team
    strangers: set[str]  # ground truth: records the insider read without entitlement
    entitlements: list[tuple[str, str]] = field(default_factory=list)  # (record_id, clinician)

    def write(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "app.jsonl"
        path.write_text("\n".join(self.lines) + "\n", encoding="utf-8")
        return path

    def write_ownership(self, path: Path) -> Path:
        rows = sorted(set(self.entitlements))
        path.write_text("record_id,owner\n" + "".join(f"{r},{o}\n" for r, o in rows), encoding="utf-8")
        return path


def build(
    seed: int = 1,
    clinicians: int = 20,
    weeks: int = 10,
    insider_weeks: int = 4,
    strangers_from: str = "population",
    insider: bool = True,
) -> InsiderCase:
    rng = random.Random(f"insider-case:{seed}")
    names = [f"dr.{chr(97 + i % 26)}{i:02d}" for i in range(clinicians)]
    teams = {n: f"team-{i // 4}" for i, n in enumerate(names)}
    pool = list(range(ID0, ID0 + POPULATION))
    rng.shuffle(pool)
    panels = {n: [pool.pop() for _ in range(60)] for n in names}
    owner = {r: n for n, p in panels.items() for r in p}
    bad = names[rng.randrange(clinicians)] if insider else ""
    days = [START + timedelta(days=i) for i in range(weeks * 7)]
    work = [d for d in days if d.weekday() < 5]
    first = (weeks - insider_weeks) // 2 * 5
    bad_days = set(work[first : first + insider_weeks * 5])
    events: list[tuple[datetime, str, int, str]] = []  # (ts, principal, record, referer)
    entitled: set[tuple[str, str]] = set()
    strangers: set[str] = set()
    later: list[tuple[int, int]] = []  # (record, not before day index) to be re-read by the insider
    read_on: dict[tuple[date, str], set[int]] = {}

    def at(d: date, rng: random.Random) -> datetime:
        return datetime(d.year, d.month, d.day, 8, tzinfo=UTC) + timedelta(seconds=rng.uniform(0, 9.5 * 3600))

    def add(d: date, who: str, rid: int, referer: str) -> None:
        events.append((at(d, rng), who, rid, referer))
        read_on.setdefault((d, who), set()).add(rid)

    for di, d in enumerate(work):
        present = [n for n in names if rng.random() < 0.92]
        for n in present:
            if rng.random() < 0.8:
                for _ in range(rng.choice((1, 1, 2))):
                    rid = pool.pop()
                    panels[n].append(rid)
                    owner[rid] = n
            panel = panels[n]
            for _ in range(rng.randint(15, 40)):
                rid = panel[len(panel) - 1 - min(len(panel) - 1, int(rng.expovariate(1 / 25)))]
                add(d, n, rid, f"{SITE}/app/panel")
        for n in present:
            if rng.random() >= 0.33:
                continue
            q = rng.choice([m for m in names if m != n])
            rid = rng.choice(panels[q][-30:])
            entitled.add((str(rid), n))
            u = rng.random()
            if u < 0.65 and q in present:
                add(d, q, rid, f"{SITE}/app/panel")
            elif u < 0.9 and di > 0:
                add(work[di - 1], q, rid, f"{SITE}/app/panel")
            for _ in range(rng.choice((1, 1, 1, 2))):
                add(d, n, rid, f"{SITE}/app/messages")
        if bad and d in bad_days and bad in present:
            own = set(panels[bad])
            for _ in range(rng.randint(3, 8)):
                if strangers_from == "panels":
                    rid = rng.choice([r for m in names if m != bad for r in panels[m]])
                else:
                    rid = rng.choice(pool)
                if rid in own or str(rid) in strangers:
                    continue
                strangers.add(str(rid))
                add(d, bad, rid, f"{SITE}/app/search")
                if rng.random() < 0.05:
                    later.append((rid, di + rng.randint(1, 10)))
        for rid, _ in [x for x in later if x[1] == di]:
            if bad in present:
                add(d, bad, rid, f"{SITE}/app/search")
    for n, p in panels.items():
        entitled.update((str(r), n) for r in p)
    # a consult of a record the insider read as a stranger is not an entitlement for that read
    strangers -= {r for r, n in entitled if n == bad}
    events.sort()
    lines = [_line(i, ts, who, rid, ref) for i, (ts, who, rid, ref) in enumerate(events)]
    return InsiderCase(lines, bad, names, teams, strangers, sorted(entitled))


def _line(i: int, ts: datetime, who: str, rid: int, referer: str) -> str:
    ip = f"10.30.1.{10 + int(who[-2:])}"
    return json.dumps(
        {
            "timestamp": ts.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": "info",
            "request_id": f"q{i:07d}",
            "request": {"method": "GET", "path": f"{ROUTE}{rid}", "client_ip": ip, "referer": referer},
            "response": {"status": 200, "bytes": 3000 + rid % 1000},
            "user_id": who,
        }
    )
