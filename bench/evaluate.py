"""Detector evaluation against simulated cases with ground truth.

Run on demand (it is not a test)::

    python bench/evaluate.py --seeds 1 2 3 --scales 0.5 1 --days 120

For each seed x scale: ``forensics simulate`` writes an evidence folder and ``truth.json``; the
folder is ingested and investigated (``assess``: every detector, coverage, the assessment) with
the parameters a responder would give (the truth's window, endpoints, login endpoint and trusted
networks). The first two seeds also run without any attacker (``--no-attackers``), where the
verdict must be ``no_evidence``. Then, inside the exposure window:

* records — per detector, the record ids its findings say were received (2xx) in the window,
  against ``truth.records.unauthorised`` (records unauthorised actors received in logged time);
  ``overall`` is the records of actors shown unauthorised (actor_findings.unauthorised);
* actors — a truth actor is flagged by a detector when a case actor sharing one of its IPs (or
  its principal, for logged-in actors) has a finding of that detector; ``overall`` counts case
  actors shown unauthorised. Precision is over flagged truth actors, recall over unauthorised
  ones; every benign truth actor (staff, partner, monitor, crawler, tester) flagged
  unauthorised is listed by name;
* bulk — estimated records in unauthorised bulk findings against ``truth.records.bulk``;
* the investigation — ``affected_records.csv`` rows against the truth's records (precision and
  recall >= 0.95), ``coverage.ratio`` within 0.02 of the truth's, verdict ``confirmed`` with
  attackers and ``no_evidence`` without.

Then the parameter mistakes (``scenarios``), on one small simulated case (the first seed and
scale, ``--scenario-days`` days), each checking the refusal or verdict it must give:

* ``login typo`` — ``--login "POST /api/v2/auth/logn"``: refused (LoginEndpointError) naming the
  real login endpoint, never a verdict built on every caller looking unauthenticated;
* ``wrong year`` — the truth's window a year early: refused (WindowError) with the logs' range;
* ``empty case`` — a case with no evidence ingested: refused (EmptyCaseError), never no_evidence;
* ``missing login`` — only the nginx logs (no user names) and no ``--login``: the login endpoint
  is proposed, no record is confirmed and the verdict is neither no_evidence nor excluded;
* ``window in a gap`` — a window inside the simulated logging gap: ``cannot_tell``.

Prints one table per case and the totals over all cases (micro-averaged), then one line per
scenario; exits 1 when a target is missed or a scenario goes wrong, saying which.
``--scenarios-only`` runs only the scenarios (a few seconds).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from forensics import Case, ingest
from forensics.actors import ActorOptions
from forensics.assess import InvestigateOptions, assess
from forensics.auth import AuthOptions
from forensics.detect import DetectOptions
from forensics.detectors import REGISTRY
from forensics.errors import EmptyCaseError, ForensicsError, LoginEndpointError, WindowError
from forensics.network import Trusted
from forensics.routes import Endpoint, RouteOptions
from forensics.window import Window

HERE = Path(__file__).resolve().parent
BENIGN = {"staff", "partner", "monitor", "crawler", "tester"}


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, got: set[Any], want: set[Any]) -> None:
        self.tp += len(got & want)
        self.fp += len(got - want)
        self.fn += len(want - got)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


@dataclass
class Result:
    records: dict[str, Counts] = field(default_factory=lambda: defaultdict(Counts))
    actors: dict[str, Counts] = field(default_factory=lambda: defaultdict(Counts))
    benign_flagged: list[str] = field(default_factory=list)
    actors_per_attacker: dict[str, int] = field(default_factory=dict)  # truth name -> case actors
    missed: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    bulk_estimated: int = 0
    bulk_truth: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    events: int = 0
    verdict: str = ""
    coverage: tuple[float, float] = (0.0, 0.0)  # (measured, truth)


def options(truth: dict[str, Any]) -> DetectOptions:
    return DetectOptions(
        routes=RouteOptions(tuple(Endpoint.parse(e) for e in truth["endpoints"])),
        actors=ActorOptions(
            AuthOptions(
                logins=(Endpoint.parse(truth["login"]),),
                trusted=tuple(Trusted.parse(t) for t in truth["trusted"]),
            )
        ),
    )


def evaluate_case(evidence: Path, work: Path) -> Result:
    """``evidence``: a simulate() output folder (logs in evidence/, truth.json beside them)."""
    truth = json.loads((evidence / "truth.json").read_text())
    res = Result()
    case_path = work / "eval.duckdb"
    case_path.unlink(missing_ok=True)
    with Case.create(case_path) as case:
        t = time.monotonic()
        ingest(case, [evidence / "evidence"])
        res.seconds["ingest"] = time.monotonic() - t
        start = datetime.fromisoformat(truth["window"]["start"].replace("Z", "+00:00"))
        end = datetime.fromisoformat(truth["window"]["end"].replace("Z", "+00:00"))
        t = time.monotonic()  # investigate = detectors + coverage + the assessment
        assessment = assess(case, InvestigateOptions(detect=options(truth), window=Window(start, end)))
        res.seconds["investigate"] = time.monotonic() - t
        res.events = int(case.sql("SELECT count(*) AS n FROM events")["n"][0])
        doc = assessment.document
        res.verdict = doc["verdict"]
        res.coverage = (float(doc["coverage"]["ratio"]), float(truth["coverage"]["ratio"]))
        res.records["affected_records.csv"].add(
            set(assessment.affected_records["record_id"]), set(truth["records"]["unauthorised"])
        )
        # records each finding says were received, inside the window
        got = case.con.execute(
            """
            SELECT f.detector, f.unauthorised, list(DISTINCT d.record_id)
            FROM findings f JOIN detect_requests d
              ON d.actor_id = f.actor_id AND (f.route IS NULL OR d.route = f.route)
             AND list_contains(f.record_ids, d.record_id)
            WHERE d.ok AND d.ts BETWEEN ? AND ? GROUP BY ALL""",
            [start, end],
        ).fetchall()
        unauth_actor_records = case.con.execute(
            """
            SELECT list(DISTINCT d.record_id) FROM actor_findings af
            JOIN detect_requests d ON d.actor_id = af.actor_id
             AND list_contains(af.unauthorised_records, d.record_id)
            WHERE af.unauthorised AND d.ok AND d.ts BETWEEN ? AND ?""",
            [start, end],
        ).fetchone()
        actor_rows = case.con.execute(
            """
            SELECT a.actor_id, a.ips, a.principals, af.unauthorised,
              (SELECT list(DISTINCT detector) FROM findings f WHERE f.actor_id = a.actor_id
                 AND f.severity IN ('high', 'medium')) AS detectors
            FROM actors a JOIN actor_findings af USING (actor_id)"""
        ).fetchall()
        all_actors = case.con.execute("SELECT ips, principals FROM actors").fetchall()
        bulk = case.con.execute(
            "SELECT coalesce(sum(estimated_records), 0) FROM findings "
            "WHERE detector = 'bulk' AND unauthorised"
        ).fetchone()
    want_records = set(truth["records"]["unauthorised"])
    by_det: dict[str, set[str]] = defaultdict(set)
    for det, _unauth, recs in got:
        by_det[det] |= set(recs)
    for det in REGISTRY:
        res.records[det].add(by_det.get(det, set()), want_records)
    overall = set(unauth_actor_records[0] or []) if unauth_actor_records else set()
    res.records["overall"].add(overall, want_records)
    res.missed["records"] = sorted(want_records - overall)[:20]
    # actors: match case actors to truth actors by IP or principal
    truth_actors = truth["actors"]
    want_actors = {a["name"] for a in truth_actors if a["unauthorised"]}
    flagged: dict[str, set[str]] = defaultdict(set)
    for _actor_id, ips, principals, unauthorised, detectors in actor_rows:
        names = match(truth_actors, set(ips or []), set(principals or []))
        for det in detectors or []:
            flagged[det] |= names
        if unauthorised:
            flagged["overall"] |= names
            res.benign_flagged += [n for n in names if kind(truth_actors, n) in BENIGN]
    for det in [*REGISTRY, "overall"]:
        res.actors[det].add(flagged.get(det, set()), want_actors)
    res.missed["actors"] = sorted(want_actors - flagged.get("overall", set()))
    for name in sorted(want_actors):  # how many case actors one attacker became (1 is right)
        res.actors_per_attacker[name] = sum(
            1 for ips, prs in all_actors if name in match(truth_actors, set(ips or []), set(prs or []))
        )
    res.bulk_estimated = int(bulk[0]) if bulk else 0
    res.bulk_truth = int(truth["records"].get("bulk", 0))
    return res


def match(truth_actors: list[dict[str, Any]], ips: set[str], principals: set[str]) -> set[str]:
    out = set()
    for a in truth_actors:
        mine = principals & set(a["principals"]) if a.get("principals") else ips & set(a["ips"])
        if mine:
            out.add(a["name"])
    return out


def kind(truth_actors: list[dict[str, Any]], name: str) -> str:
    return next(str(a["class"]) for a in truth_actors if a["name"] == name)


def table(title: str, rows: Iterable[tuple[str, Counts, Counts]]) -> None:
    print(title)
    head = ("detector", "rec P", "rec R", "rec TP", "rec FP", "act P", "act R")
    print(f"  {head[0]:<18} " + " ".join(f"{h:>7}" for h in head[1:]))
    for name, rec, act in rows:
        print(
            f"  {name:<18} {rec.precision:>7.3f} {rec.recall:>7.3f} {rec.tp:>7} {rec.fp:>7} "
            f"{act.precision:>7.3f} {act.recall:>7.3f}"
        )


@dataclass(frozen=True)
class Scenario:
    name: str
    evidence: str  # under the simulated folder: "evidence" (all logs) or "evidence/edge" (nginx only)
    login: str | None  # None: no --login
    window: str  # "truth", "year_early" or "gap"
    refused: type[ForensicsError] | None  # the refusal it must give, or None for a verdict
    expect: str  # a fragment of the refusal's message, or the verdicts allowed ("a|b")


SCENARIOS = (
    Scenario("login typo", "evidence", "POST /api/v2/auth/logn", "truth", LoginEndpointError,
             "likely login endpoints: POST /api/v2/auth/login"),
    Scenario("wrong year", "evidence", "truth", "year_early", WindowError, "the logs in the case run from"),
    Scenario("empty case", "", "truth", "truth", EmptyCaseError, "the case holds no events"),
    Scenario("missing login", "evidence/edge", None, "truth", None, "possible|likely"),
    Scenario("window in a gap", "evidence", "truth", "gap", None, "cannot_tell"),
)  # fmt: skip


def run_scenario(sc: Scenario, sim: Path, truth: dict[str, Any], work: Path) -> tuple[str, str | None]:
    """Run one parameter mistake; returns (what happened, the failure or None)."""
    case_path = work / "scenario.duckdb"
    case_path.unlink(missing_ok=True)

    def when(key: str) -> datetime:
        return datetime.fromisoformat(key.replace("Z", "+00:00"))

    if sc.window == "gap":
        gap = truth["gaps"][0]
        start, end = when(gap["start"]) + timedelta(hours=1), when(gap["end"]) - timedelta(hours=1)
    else:
        start, end = when(truth["window"]["start"]), when(truth["window"]["end"])
        if sc.window == "year_early":
            start, end = start.replace(year=start.year - 1), end.replace(year=end.year - 1)
    login = truth["login"] if sc.login == "truth" else sc.login
    detect = DetectOptions(
        routes=RouteOptions(tuple(Endpoint.parse(e) for e in truth["endpoints"])),
        actors=ActorOptions(
            AuthOptions(
                logins=(Endpoint.parse(login),) if login else (),
                trusted=tuple(Trusted.parse(t) for t in truth["trusted"]),
            )
        ),
    )
    with Case.create(case_path) as case:
        if sc.evidence:
            ingest(case, [sim / sc.evidence])
        try:
            doc = assess(case, InvestigateOptions(detect=detect, window=Window(start, end))).document
        except ForensicsError as exc:
            got = f"refused ({type(exc).__name__}): {exc}"
            if sc.refused is None:
                return got, f"{sc.name}: refused, expected a verdict in {sc.expect}"
            if not isinstance(exc, sc.refused) or sc.expect not in str(exc):
                return got, f"{sc.name}: wrong refusal, expected {sc.refused.__name__} saying {sc.expect!r}"
            return got, None
    proposed = [p["route"] for p in doc["parameters"]["login_proposed"]]
    got = (
        f"verdict {doc['verdict']}; records confirmed {doc['records']['confirmed']:,}, probable "
        f"{doc['records']['probable']:,}; login proposed {proposed}"
    )
    if sc.refused is not None:
        return got, f"{sc.name}: {doc['verdict']}, expected a refusal ({sc.refused.__name__})"
    if doc["verdict"] not in sc.expect.split("|"):
        return got, f"{sc.name}: verdict {doc['verdict']}, expected {sc.expect}"
    if sc.login is None:
        if doc["records"]["confirmed"] or truth["login"] not in [
            p["route"] for p in doc["parameters"]["login_proposed"]
        ]:
            return got, f"{sc.name}: records confirmed without --login, or the login endpoint not proposed"
        if "Authentication cannot be judged" not in doc["verdict_text"]:
            return got, f"{sc.name}: the verdict does not say authentication cannot be judged"
    return got, None


def run_scenarios(work: Path, seed: int, scale: float, days: int) -> list[str]:
    """The parameter mistakes on one simulated case; returns the failures."""
    from forensics.simulate import simulate

    sim = work / f"scenarios-{seed}-{scale}"
    shutil.rmtree(sim, ignore_errors=True)
    simulate(sim, seed=seed, days=days, scale=scale)
    truth = json.loads((sim / "truth.json").read_text())
    print(f"parameter mistakes (seed {seed}, scale {scale}, {days} days):")
    failures = []
    for sc in SCENARIOS:
        t = time.monotonic()
        got, failed = run_scenario(sc, sim, truth, work)
        print(f"  {sc.name:<16} {'ok  ' if failed is None else 'FAIL'} {time.monotonic() - t:5.1f}s  {got}")
        if failed:
            failures.append(failed)
    shutil.rmtree(sim, ignore_errors=True)
    return failures


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--scales", type=float, nargs="+", default=[0.5, 1.0])
    ap.add_argument("--days", type=int, default=120)
    ap.add_argument("--work", type=Path, default=HERE / "work" / "evaluate")
    ap.add_argument("--scenario-days", type=int, default=30, help="days of the parameter-mistake case")
    ap.add_argument("--scenarios-only", action="store_true", help="run only the parameter mistakes")
    args = ap.parse_args(argv)
    from forensics.simulate import simulate

    args.work.mkdir(parents=True, exist_ok=True)
    if args.scenarios_only:
        failures = run_scenarios(args.work, args.seeds[0], args.scales[0], args.scenario_days)
        print("scenarios:", "as expected" if not failures else "NOT as expected")
        for f in failures:
            print("  -", f)
        return 0 if not failures else 1

    total = Result()
    names = [*REGISTRY, "overall", "affected_records.csv"]
    failures: list[str] = []
    cases = [(seed, scale, True) for seed in args.seeds for scale in args.scales]
    cases += [(seed, args.scales[0], False) for seed in args.seeds[:2]]  # no attacker at all
    for seed, scale, attackers in cases:
        out = args.work / f"sim-{seed}-{scale}-{'a' if attackers else 'none'}"
        shutil.rmtree(out, ignore_errors=True)
        t = time.monotonic()
        simulate(out, seed=seed, days=args.days, scale=scale, attackers=attackers)
        sim_s = time.monotonic() - t
        res = evaluate_case(out, args.work)
        label = f"seed {seed} scale {scale}" + ("" if attackers else " (no attacker)")
        table(
            f"{label}: {res.events:,} events; simulate {sim_s:.1f}s, ingest "
            f"{res.seconds['ingest']:.1f}s, investigate {res.seconds['investigate']:.1f}s",
            ((n, res.records[n], res.actors[n]) for n in names),
        )
        measured, true_ratio = res.coverage
        print(f"  verdict: {res.verdict}; coverage.ratio {measured:.4f} vs truth {true_ratio:.4f}")
        print(f"  bulk: estimated {res.bulk_estimated} records, truth {res.bulk_truth}")
        print(f"  benign flagged unauthorised: {res.benign_flagged or 'none'}")
        print(f"  case actors per attacker: {res.actors_per_attacker or 'none'}")
        print(
            f"  missed actors: {res.missed['actors'] or 'none'}; missed records (first 20): "
            f"{res.missed['records'] or 'none'}"
        )
        want_verdict = "confirmed" if attackers else "no_evidence"
        if res.verdict != want_verdict:
            failures.append(f"{label}: verdict {res.verdict}, expected {want_verdict}")
        if abs(measured - true_ratio) > 0.02:
            failures.append(f"{label}: coverage.ratio {measured:.4f} vs truth {true_ratio:.4f}")
        for n in names:
            for attr in ("records", "actors"):
                c, t_ = getattr(res, attr)[n], getattr(total, attr)[n]
                t_.tp, t_.fp, t_.fn = t_.tp + c.tp, t_.fp + c.fp, t_.fn + c.fn
        total.benign_flagged += res.benign_flagged
        shutil.rmtree(out, ignore_errors=True)
    table("all cases", ((n, total.records[n], total.actors[n]) for n in names))
    print(f"  benign flagged unauthorised, all cases: {total.benign_flagged or 'none'}")
    for key in ("overall", "affected_records.csv"):
        c = total.records[key]
        if c.precision < 0.95 or c.recall < 0.95:
            failures.append(
                f"{key}: records precision {c.precision:.3f}, recall {c.recall:.3f} (target 0.95)"
            )
    if total.benign_flagged:
        failures.append(f"benign actors flagged unauthorised: {total.benign_flagged}")
    failures += run_scenarios(args.work, args.seeds[0], args.scales[0], args.scenario_days)
    print("targets:", "met" if not failures else "NOT met")
    for f in failures:
        print("  -", f)
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
