"""out_of_scope (issue 15 part 3): the low-and-slow insider, consults, and the ownership map.

Rules on small hand-built cases (expected values are what the rows were built to contain);
then the generated case of tests/insider_case.py (clinicians, consults, one insider reading a few
strangers a day for four weeks) from the logs alone and with an ownership map.
"""

from __future__ import annotations

import json
import random
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from forensics import Case, ingest
from forensics.cli import main
from forensics.derive.ownership import OwnershipMap
from forensics.derive.routes import Endpoint, RouteOptions
from forensics.detectors.run import DetectOptions, findings, run_detectors
from forensics.errors import OwnershipError
from forensics.ingest.evidence import sha256_file
from tests import insider_case
from tests.eventrows import T0, add_events

ENDPOINT = "GET /api/v2/patients/{id}"
OPTS = DetectOptions(routes=RouteOptions((Endpoint.parse(ENDPOINT),)))
STRANGER = "nobody else read it"
OTHERS = "others read it too, this caller on one day only"


def read(who: str, day: int, rid: int, minute: int = 0) -> dict[str, Any]:
    return {
        "path": f"/api/v2/patients/{rid}",
        "client_ip": f"10.0.0.{int(who[1:]) + 1}",
        "user_agent": "Mozilla/5.0",
        "principal": who,
        "ts": T0 + timedelta(days=day, minutes=minute),
        "bytes_sent": 3000,
    }


def clinic(days: int = 20, insider: bool = True) -> tuple[list[dict[str, Any]], set[str]]:
    """Eight clinicians (c0..c7) reading their own ten patients on every day (every one revisited);
    c7 also opens three strangers' records a day (ids 90000…) when ``insider``."""
    rng = random.Random(5)
    rows: list[dict[str, Any]] = []
    strangers: set[str] = set()
    for day in range(days):
        for c in range(8):
            panel = [1000 + c * 10 + k for k in range(10)]
            rows += [read(f"c{c}", day, rid, 60 * 8 + k) for k, rid in enumerate(panel)]
            rows += [read(f"c{c}", day, rng.choice(panel), 60 * 9 + k) for k in range(5)]
        if insider:
            for k in range(3):
                rid = 90000 + day * 3 + k
                strangers.add(str(rid))
                rows.append(read("c7", day, rid, 60 * 10 + k))
    return rows, strangers


def run(case: Case, rows: list[dict[str, Any]], opts: DetectOptions = OPTS) -> Any:
    add_events(case, sorted(rows, key=lambda r: r["ts"]))
    run_detectors(case, opts)
    f = findings(case)
    return f[f["detector"] == "out_of_scope"].reset_index(drop=True)


# --- inferred from the logs ----------------------------------------------------------------------


def test_a_steady_few_strangers_a_day_stand_out_against_the_peers(case: Case) -> None:
    rows, strangers = clinic()
    f = run(case, rows)
    assert len(f) == 1 and bool(f["unauthorised"][0])
    assert set(f["record_ids"][0]) == strangers  # 3 a day: no day alone stands out
    m = json.loads(f["metrics"][0])
    assert m["caller"] == "principal c7" and m["basis"] == "inferred from the logs"
    assert m["rules"] == ["steady excess"]
    [excess] = m["steady_excess"]
    assert excess["records"] == "nobody else read them" and excess["active_days"] == 20
    assert excess["per_active_day"] == 3.0 and excess["peers_median_per_active_day"] == 0.0
    assert excess["excess_records"] == 60.0
    assert m["records_by_reason"] == {STRANGER: sorted(strangers)}


def test_a_clinic_without_an_insider_gives_no_finding(case: Case) -> None:
    rows, _ = clinic(insider=False)
    rows += [read("c3", 4, 5555), read("c5", 9, 6666)]  # a one-off each: the peers' normal
    assert run(case, rows).empty


def test_the_kind_in_excess_is_listed_the_other_kind_is_background(case: Case) -> None:
    rows, strangers = clinic()
    # c7's consults: a colleague's patient it opens once, as every clinician now and then does
    rows += [read("c2", d, 7001) for d in (5, 6, 9)] + [read("c7", 6, 7001, 700)]
    rows += [read("c0", d, 7002) for d in (2, 3)] + [read("c7", 4, 7002, 700)]
    rows += [read("c3", 1, 7003), read("c7", 15, 7003, 700)]
    # and the other clinicians' consults: one each, of a colleague's patient
    rows += [read(f"c{c}", 8 + c, 1000 + (c + 1) * 10, 700) for c in range(6)]
    f = run(case, rows)
    assert len(f) == 1
    # c7 reads three records nobody else reads a day: that kind is listed, its consults are not
    assert set(f["record_ids"][0]) == strangers
    m = json.loads(f["metrics"][0])
    assert m["records_by_reason"] == {STRANGER: sorted(strangers)}
    assert [e["records"] for e in m["steady_excess"]] == ["nobody else read them"]


def test_an_insider_browsing_colleagues_patients_while_they_work_on_them(case: Case) -> None:
    """Its records are read by their own clinicians the same day: nearness would excuse every one
    of them as a consult; the rate of others' records against the peers' does not."""
    rows, _ = clinic(insider=False)
    rng = random.Random(9)
    snooped: set[str] = set()
    for day in range(20):
        for rid in rng.sample([1000 + c * 10 + k for c in range(7) for k in range(10)], 3):
            if str(rid) not in snooped:
                snooped.add(str(rid))
                rows.append(read("c7", day, rid, 700))
    rows += [read(f"c{c}", 3 + c, 1000 + (c + 1) * 10 + 1, 720) for c in range(7)]  # one consult each
    f = run(case, rows)
    assert len(f) == 1 and json.loads(f["metrics"][0])["caller"] == "principal c7"
    assert set(f["record_ids"][0]) == snooped
    m = json.loads(f["metrics"][0])
    assert m["records_by_reason"] == {OTHERS: sorted(snooped)}
    [excess] = m["steady_excess"]
    assert excess["records"] == "others read them too" and excess["excess_records"] >= len(snooped) - 1


def test_a_burst_day_is_still_found_when_the_peers_are_too_few(case: Case) -> None:
    rows, _ = clinic(days=12, insider=False)
    rows = [r for r in rows if r["principal"] in ("c0", "c1", "c7")]  # three callers: no peers
    burst = {str(95000 + k) for k in range(30)}
    rows += [read("c7", 11, int(rid), 700 + k) for k, rid in enumerate(sorted(burst))]
    f = run(case, rows)
    assert len(f) == 1 and set(f["record_ids"][0]) == burst
    m = json.loads(f["metrics"][0])
    assert m["rules"] == ["burst day"] and m["max_one_off_records_per_day"] == 30


def test_a_spree_is_judged_by_its_day_and_leaves_the_other_days_alone(case: Case) -> None:
    rows, _ = clinic(insider=False)
    spree = {str(96000 + k) for k in range(30)}
    rows += [read("c7", 10, int(rid), 700 + k) for k, rid in enumerate(sorted(spree))]
    rows += [read("c7", 3, 8001, 700), read("c7", 5, 8002, 700)]  # its own patients, seen once
    f = run(case, rows)
    # with the spree's day counted, 32 strangers in 20 days would make a steady excess too
    assert len(f) == 1 and set(f["record_ids"][0]) == spree
    m = json.loads(f["metrics"][0])
    assert m["rules"] == ["burst day"]
    # its ordinary days show 2 one-off records in 19 days: about 0.1 of the listed may be its own
    assert m["expected_own_among_listed"] == round(2 / 19, 1)


def test_a_spree_of_two_days_lists_the_records_it_picked_twice(case: Case) -> None:
    """A spree over several days picks some records on two of them: read on spree days only, they
    are the spree's, while the caller's own patients, read on its ordinary days too, are not."""
    rows, _ = clinic(insider=False)
    first = [96000 + k for k in range(30)]
    second = [96100 + k for k in range(25)] + first[:5]  # five picked again on the second day
    rows += [read("c7", 10, rid, 700 + k) for k, rid in enumerate(first)]
    rows += [read("c7", 14, rid, 700 + k) for k, rid in enumerate(second)]
    f = run(case, rows)
    assert len(f) == 1 and set(f["record_ids"][0]) == {str(r) for r in first + second}
    reasons = json.loads(f["metrics"][0])["records_by_reason"]
    assert reasons["read on burst days only (more than one)"] == sorted(str(r) for r in first[:5])
    assert not any(r.startswith("107") for ids in reasons.values() for r in ids)  # c7's own panel


def test_a_caller_seen_on_one_day_has_no_history_to_judge(case: Case) -> None:
    """A login session the logs cannot tie to a person (no user names): on its only day every
    record it reads is a one-off. That is no burst; with three days of history it is."""
    rows, _ = clinic(insider=False)
    rows += [read("c8", 10, 97000 + k, 700 + k) for k in range(30)]
    assert run(case, rows).empty
    rows += [read("c8", d, 1000 + k, 600 + k) for d in (3, 4) for k in range(5)]
    f = run(case, rows)
    assert len(f) == 1 and json.loads(f["metrics"][0])["rules"] == ["burst day"]


def test_consulting_clinicians_are_compared_with_those_who_consult(case: Case) -> None:
    """Eight administrators never open a colleague's patient; five clinicians each consult one every
    other day. Against everyone (median 0) every clinician would stand out; against the callers who
    consult at all, none does — and an insider browsing colleagues' patients still does."""
    rows, _ = clinic(days=40, insider=False)
    rng = random.Random(3)
    for d in range(5):
        for day in range(40):
            rows += [read(f"d{d}", day, 5000 + d * 10 + k, 480 + k) for k in range(10)]  # own panel
            if day % 2 == 0:
                rows.append(read(f"d{d}", day, 1000 + rng.randrange(80), 700))  # a colleague's patient
    assert run(case, rows).empty
    consulted = {r["path"] for r in rows if r["principal"] == "d4"}
    pool = [r for r in [*range(1000, 1080), *range(5000, 5040)] if f"/api/v2/patients/{r}" not in consulted]
    snooped = rng.sample(pool, 60)
    more = [  # d4 also opens three more colleagues' patients a day for four weeks
        read("d4", 10 + day, rid, 720 + k)
        for day in range(20)
        for k, rid in enumerate(snooped[3 * day : 3 * day + 3])
    ]
    f = run(case, more)
    assert len(f) == 1 and json.loads(f["metrics"][0])["caller"] == "principal d4"
    assert set(f["record_ids"][0]) >= {str(r) for r in snooped}


def test_a_caller_only_a_little_above_tightly_grouped_peers_is_not_flagged(case: Case) -> None:
    rows, _ = clinic(days=40, insider=False)
    for c in range(7):  # every peer: 8 own patients seen once in 40 days (0.2 a day)
        rows += [read(f"c{c}", 4 * k, 80000 + c * 100 + k, 700) for k in range(8)]
    rows += [read("c7", k + k // 2, 80700 + k, 700) for k in range(24)]  # 0.6 a day: 3 times
    assert run(case, rows).empty  # z 5.7 and 16 above the median rate, but only 3 times it
    run_detectors(case, DetectOptions(routes=OPTS.routes, thresholds={"out_of_scope": {"min_ratio": 2.5}}))
    f = findings(case)
    f = f[f["detector"] == "out_of_scope"].reset_index(drop=True)
    assert len(f) == 1 and json.loads(f["metrics"][0])["steady_excess"][0]["rate_ratio"] == 3.0


# --- the generated case: several seeds, logs alone and with the map -------------------------------


def _generated(tmp_path: Path, seed: int, **kw: Any) -> tuple[insider_case.InsiderCase, Path]:
    built = insider_case.build(seed, **kw)
    built.write(tmp_path / "evidence")
    path = tmp_path / "case.duckdb"
    with Case.create(path) as c:
        ingest(c, [str(tmp_path / "evidence")])
    return built, path


def _score(case: Case, built: insider_case.InsiderCase, opts: DetectOptions) -> tuple[float, float, set[str]]:
    run_detectors(case, opts)
    f = findings(case)
    f = f[f["detector"] == "out_of_scope"]
    flagged = {json.loads(m)["caller"].removeprefix("principal ") for m in f["metrics"]}
    listed = {str(r) for ids in f["record_ids"] for r in ids}
    right = len(listed & built.strangers)
    return right / max(1, len(built.strangers)), right / max(1, len(listed)), flagged


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_low_and_slow_insider_from_the_logs_alone(tmp_path: Path, seed: int) -> None:
    built, path = _generated(tmp_path, seed, clinicians=12, weeks=8)
    with Case.open(path) as case:
        recall, precision, flagged = _score(case, built, OPTS)
    assert flagged == {built.insider}, flagged  # no benign clinician
    assert recall >= 0.9 and precision >= 0.85, (recall, precision)


def test_the_insider_with_an_ownership_map(tmp_path: Path) -> None:
    built, path = _generated(tmp_path, 4, clinicians=12, weeks=8)
    omap = built.write_ownership(tmp_path / "ownership.csv")
    with Case.open(path) as case:
        opts = DetectOptions(routes=OPTS.routes, ownership=OwnershipMap.open(omap))
        recall, precision, flagged = _score(case, built, opts)
        metrics = [json.loads(m) for m in findings(case)["metrics"]]
    assert flagged == {built.insider} and recall == 1.0 and precision == 1.0, (recall, precision, flagged)
    assert {m["basis"] for m in metrics} == {"ownership map"}


def test_no_insider_no_finding_in_the_generated_case(tmp_path: Path) -> None:
    built, path = _generated(tmp_path, 5, clinicians=12, weeks=8, insider=False)
    with Case.open(path) as case:
        _, _, flagged = _score(case, built, OPTS)
    assert not flagged


# --- the ownership map against the evidence --------------------------------------------------------


def _map(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_a_map_whose_ids_match_nothing_is_refused_with_what_the_case_holds(
    case: Case, tmp_path: Path
) -> None:
    rows, _ = clinic(days=3, insider=False)
    add_events(case, rows)
    wrong = _map(tmp_path / "own.csv", "record_id,owner\nP-1000,c0\nP-1001,c0\n")
    with pytest.raises(
        OwnershipError,
        match=r"none of the 2 record ids.*\(e\.g\. P-1000, P-1001\).*holds 80 record ids.*e\.g\. 1000,",
    ):
        run_detectors(case, DetectOptions(routes=OPTS.routes, ownership=OwnershipMap.open(wrong)))
    header = _map(tmp_path / "bad.csv", "record,user\n1000,c0\n")
    with pytest.raises(
        OwnershipError, match="expected a header row with columns record_id,owner; found record,user"
    ):
        run_detectors(case, DetectOptions(routes=OPTS.routes, ownership=OwnershipMap.open(header)))
    with pytest.raises(OwnershipError, match="does not exist"):
        OwnershipMap.open(tmp_path / "missing.csv")


def test_teams_entitle_their_members_and_unseen_principals_are_named(case: Case, tmp_path: Path) -> None:
    rows, _ = clinic(days=3, insider=False)
    rows += [read("c1", 2, 1005, 600), read("c7", 2, 1005, 601), read("c7", 2, 4242, 602)]
    lines = ["record_id,owner"] + [
        f"{1000 + c * 10 + k},{'ward-a' if c < 2 else f'c{c}'}" for c in range(8) for k in range(10)
    ]
    own = _map(tmp_path / "own.csv", "\n".join(lines) + "\n")
    teams = _map(tmp_path / "teams.csv", "principal,team\nc0,ward-a\nc1,ward-a\ndr.ghost,ward-a\n")
    add_events(case, sorted(rows, key=lambda r: r["ts"]))
    result = run_detectors(case, DetectOptions(routes=OPTS.routes, ownership=OwnershipMap.open(own, teams)))
    assert result.ownership is not None and result.ownership.principals_unseen == ["dr.ghost"]
    f = findings(case)
    f = f[f["detector"] == "out_of_scope"].reset_index(drop=True)
    # c1 reads ward-a's 1005 (its team's): in scope; c7 reads it and an unlisted record: out
    assert len(f) == 1 and sorted(f["record_ids"][0]) == ["1005", "4242"]
    reasons = json.loads(f["metrics"][0])["records_by_reason"]
    assert reasons == {
        "not in the ownership map: owned by nobody it names": ["4242"],
        "owned by others, not by the caller or its team (ownership map)": ["1005"],
    }


def test_investigate_records_the_basis_the_map_and_its_hash(tmp_path: Path) -> None:
    rows, strangers = clinic()
    path = tmp_path / "c.duckdb"
    with Case.create(path) as c:
        add_events(c, sorted(rows, key=lambda r: r["ts"]))
    window = f"{T0.date()}/{(T0 + timedelta(days=20)).date()}"
    base = ["investigate", str(path), "--endpoint", ENDPOINT, "--window", window]
    res = CliRunner().invoke(main, [*base, "--out", str(tmp_path / "inferred")])
    assert res.exit_code == 6, res.output
    doc = json.loads((tmp_path / "inferred" / "findings.json").read_text())
    assert doc["parameters"]["out_of_scope_basis"] == "inferred from the logs"
    assert doc["parameters"]["ownership"] is None
    assert doc["records"]["confirmed"] == len(strangers)
    report = (tmp_path / "inferred" / "report.md").read_text()
    assert "inferred from the logs" in report and "nobody else read it = 60 records" in report
    own = _map(
        tmp_path / "own.csv",
        "record_id,owner\n"
        + "".join(f"{1000 + c * 10 + k},c{c}\n" for c in range(8) for k in range(10))
        + "1000,dr.ghost\n",
    )
    res = CliRunner().invoke(main, [*base, "--ownership", str(own), "--out", str(tmp_path / "mapped")])
    assert res.exit_code == 6, res.output
    assert "warning: principal 'dr.ghost' in the ownership map is not in the case" in res.output
    doc = json.loads((tmp_path / "mapped" / "findings.json").read_text())
    params = doc["parameters"]
    assert params["out_of_scope_basis"] == "ownership map"
    assert params["ownership"]["sha256"] == sha256_file(own) and params["ownership"]["principals_unseen"] == [
        "dr.ghost"
    ]
    assert params["detect_options"]["ownership"]["sha256"] == sha256_file(own)
    assert doc["records"]["confirmed"] == len(strangers)
    assert "ownership map" in (tmp_path / "mapped" / "report.md").read_text()
    with Case.open(path) as c:
        logged = c.sql("SELECT * FROM case_log")
    assert sha256_file(own) in " ".join(str(v) for v in logged.astype(str).to_numpy().ravel())
    res = CliRunner().invoke(main, [*base, "--ownership-teams", str(own), "--out", str(tmp_path / "x")])
    assert res.exit_code == 2 and "--ownership-teams is used with --ownership" in res.output
    wrong = _map(tmp_path / "wrong.csv", "record_id,owner\nP-1,c0\n")
    res = CliRunner().invoke(main, ["detect", str(path), "--endpoint", ENDPOINT, "--ownership", str(wrong)])
    assert res.exit_code == 1 and "none of the 1 record ids in the ownership map" in res.output
