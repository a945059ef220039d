"""One story in every file: every number the report prints agrees with findings.json, and
findings.json agrees with affected_records.csv, timeline.jsonl and the plots' data.

Each scenario is investigated once (module-scoped): the committed demo evidence with the demo's
parameters, and simulator cases (small, so the whole module stays well under a minute) with and
without attackers. The expected numbers are derived from findings.json only; the other files
must say the same.
"""

from __future__ import annotations

import csv
import html
import json
import re
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime
from html.parser import HTMLParser
from typing import Any

import pytest

from forensics import Case, ingest
from forensics.assess.assessment import Assessment
from forensics.assess.compute import InvestigateOptions
from forensics.assess.window import Window
from forensics.derive.actors import ActorOptions
from forensics.derive.auth import AuthOptions
from forensics.derive.network import Trusted
from forensics.derive.routes import Endpoint, RouteOptions
from forensics.detectors.run import DetectOptions
from forensics.publish.investigate import investigate
from forensics.publish.pseudonymise import Pseudonymisation
from forensics.simulate import simulate
from tests.conftest import SAMPLE_LOGS

# name -> simulate parameters (None: the committed demo evidence), whether the login endpoint is
# given (without it authentication is 'unknown' and records are 'probable'), pseudonymised or not
SCENARIOS: dict[str, tuple[dict[str, Any] | None, bool, bool]] = {
    "demo": (None, True, False),
    "demo-no-login": (None, False, False),
    "sim-seed1": ({"seed": 1, "days": 30, "scale": 0.3, "attackers": True}, True, False),
    "sim-seed2-pseudonymised": (
        {"seed": 2, "days": 21, "scale": 0.5, "attackers": True, "start": date(2024, 2, 1)},
        True,
        True,
    ),
    "sim-quiet": ({"seed": 3, "days": 21, "scale": 0.3, "attackers": False}, True, False),
}
EVENT_VERDICTS = ("possible", "likely", "confirmed")  # a qualifying event was observed


@dataclass
class Run:
    name: str
    assessment: Assessment
    doc: dict[str, Any]
    md: str  # report.md with Markdown's escapes removed
    html_text: str  # report.html's visible text
    csv_rows: list[dict[str, str]]
    timeline: list[dict[str, Any]]
    lists: dict[str, list[dict[str, str]]]  # actors.csv, findings.csv, evidence.csv


def _options(truth: dict[str, Any], login: bool) -> InvestigateOptions:
    start = datetime.fromisoformat(truth["window"]["start"].replace("Z", "+00:00"))
    end = datetime.fromisoformat(truth["window"]["end"].replace("Z", "+00:00"))
    detect = DetectOptions(
        routes=RouteOptions(tuple(Endpoint.parse(e) for e in truth["endpoints"])),
        actors=ActorOptions(
            AuthOptions(
                logins=(Endpoint.parse(truth["login"]),) if login else (),
                trusted=tuple(Trusted.parse(t) for t in truth["trusted"]),
            )
        ),
    )
    return InvestigateOptions(detect=detect, window=Window(start, end), command="test_consistency")


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("style", "script"):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def _html_text(page: str) -> str:
    p = _Text()
    p.feed(page)
    return re.sub(r"\s+", " ", html.unescape(" ".join(p.parts)))


def _unmd(text: str) -> str:
    return re.sub(r"\\([\\`*_\[\]()<>#|~!&$])", r"\1", text)


@pytest.fixture(scope="module", params=list(SCENARIOS))
def run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Run:
    name = str(request.param)
    params, login, pseudonymised = SCENARIOS[name]
    work = tmp_path_factory.mktemp(name)
    if params is None:
        folder = SAMPLE_LOGS
    else:
        folder = work / "sim"
        simulate(folder, **params)
    truth = json.loads((folder / "truth.json").read_text())
    out = work / "report"
    pz = Pseudonymisation.for_case(work / "case.duckdb", out)[0] if pseudonymised else None
    with Case.create(work / "case.duckdb") as case:
        ingest(case, [folder / "evidence"])
        result = investigate(case, _options(truth, login), out, pseudonymise=pz)
    doc = json.loads((out / "findings.json").read_text())
    assert bool(doc["pseudonymisation"]) == pseudonymised
    with (out / "affected_records.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    timeline = [json.loads(line) for line in (out / "timeline.jsonl").read_text().splitlines() if line]
    lists = {}
    for listed in ("actors.csv", "findings.csv", "evidence.csv"):
        with (out / listed).open(newline="", encoding="utf-8") as f:
            lists[listed] = list(csv.DictReader(f))
    return Run(
        name,
        result.assessment,
        doc,
        _unmd((out / "report.md").read_text()),
        _html_text((out / "report.html").read_text()),
        rows,
        timeline,
        lists,
    )


# --- what findings.json says ---------------------------------------------------------------------


def finding_actors(doc: dict[str, Any]) -> set[int]:
    return {f["actor"] for f in doc["findings"] if f["actor"] is not None}


def unauthorised_by_findings(doc: dict[str, Any]) -> set[int]:
    return {f["actor"] for f in doc["findings"] if f["actor"] is not None and f["unauthorised"]}


def csv_by_basis(r: Run) -> dict[str, list[dict[str, str]]]:
    out: dict[str, list[dict[str, str]]] = {"confirmed": [], "probable": []}
    for row in r.csv_rows:
        out.setdefault(row["basis"], []).append(row)
    return out


def csv_actors(rows: list[dict[str, str]]) -> set[int]:
    return {int(a) for row in rows for a in row["actors"].split()}


def num(text: str) -> int:
    return int(text.replace(",", ""))


def section(md: str, number: int) -> str:
    m = re.search(rf"^## {number}\. .*?(?=^## {number + 1}\. |\Z)", md, re.S | re.M)
    assert m, f"section {number} missing"
    return m.group(0)


def test_nothing_truncated(run: Run) -> None:
    """The checks below compare whole lists; the scenarios are small enough to list everything."""
    listed = run.doc["listed"]
    assert listed["actors_total"] == len(run.doc["actors"])
    assert listed["findings_total"] == len(run.doc["findings"])


# --- the zero-event bound --------------------------------------------------------------------------


def test_zero_event_bound_only_without_events(run: Run) -> None:
    doc, bounds = run.doc, run.doc["bounds"]
    if doc["verdict"] in EVENT_VERDICTS:
        assert "no qualifying event" not in bounds["statement"], (doc["verdict"], bounds["statement"])
        assert bounds["expected_max"] is None and bounds["p_any_max"] is None
        for text in (run.md, run.html_text):
            assert "With no qualifying event" not in text
            assert "Upper bound on expected events" not in text
    elif bounds["covered_s"] and bounds["uncovered_s"]:
        assert bounds["expected_max"] is not None
        assert "no qualifying event" in bounds["statement"]
        assert "Upper bound on expected events" in run.md


# --- actors: verdict, summary, actors table, findings ----------------------------------------------


def _verdict_actors(text: str) -> tuple[int | None, int | None, int, int]:
    """The actor numbers the verdict sentence states: (received confirmed records, of how many
    unauthorised, more with only bulk responses, more with no identified record)."""
    m = re.search(r"delivered to (?:([\d,]+) of )?the ([\d,]+) unauthorised actor", text)
    with_confirmed = num(m.group(1) or m.group(2)) if m else None
    total = num(m.group(2)) if m else None
    bulk = re.search(r"in bulk responses \(ids not logged\) to ([\d,]+) (?:more )?unauthorised actor", text)
    bulk_only = num(bulk.group(1)) if bulk and (" more unauthorised" in bulk.group(0) or not m) else 0
    if bulk is None:
        bulk = re.search(r"in bulk responses \(ids not logged\) to [\d,]+ of them, ([\d,]+) with no", text)
        bulk_only = num(bulk.group(1)) if bulk else 0
    rest = re.search(r"([\d,]+) more unauthorised actors?\(?s?\)? received no record", text)
    return with_confirmed, total, bulk_only, num(rest.group(1)) if rest else 0


def test_verdict_counts_the_actors_that_received_confirmed_records(run: Run) -> None:
    confirmed = csv_by_basis(run)["confirmed"]
    with_confirmed, _, _, _ = _verdict_actors(run.doc["verdict_text"])
    if not confirmed:
        assert with_confirmed is None
        return
    assert with_confirmed == len(csv_actors(confirmed)), run.doc["verdict_text"]
    assert with_confirmed == run.doc["actor_counts"]["with_confirmed_records"]


def test_verdict_and_page_one_count_the_same_unauthorised_actors(run: Run) -> None:
    """The verdict sentence accounts for every actor page 1 lists under "Who", each number
    saying what it counts (records confirmed, bulk only, nothing identified)."""
    text, counts = run.doc["verdict_text"], run.doc["actor_counts"]
    answer = run.md.split("\n## 1. ")[0]
    assert text in " ".join(answer.split()) or text in answer, text
    who = re.search(r"Who: ([\d,]+) unauthorised actor", answer)
    listed = len(re.findall(r"^- Actor \d+ \(", answer, flags=re.M))
    more = re.search(r"… and ([\d,]+) more unauthorised actor", answer)
    on_page = listed + (num(more.group(1)) if more else 0)
    assert on_page == counts["unauthorised"]
    if run.doc["verdict"] != "confirmed":
        return
    assert who and num(who.group(1)) == on_page, answer
    with_confirmed, total, bulk_only, rest = _verdict_actors(text)
    if total is not None:
        assert total == on_page, text
    assert (with_confirmed or 0) + bulk_only + rest == on_page, text
    assert bulk_only == counts["with_only_estimated_records"], text
    bad = [a for a in run.doc["actors"] if a["unauthorised"]]
    if len(bad) == on_page:  # every one listed in the document: the split per actor agrees too
        assert sum(1 for a in bad if a["confirmed_records"]) == (with_confirmed or 0)
        assert sum(1 for a in bad if not a["confirmed_records"] and a.get("estimated_records")) == bulk_only


def test_summary_actor_counts_match_findings(run: Run) -> None:
    line = next(x for x in section(run.md, 2).splitlines() if x.startswith("- **Actors:**"))
    with_findings = re.search(r"([\d,]+) (?:actors? )?with findings", line)
    unauthorised = re.search(r"([\d,]+) of them (?:shown )?unauthorised", line)
    assert with_findings and unauthorised, line
    assert num(with_findings.group(1)) == len(finding_actors(run.doc)), line
    assert num(unauthorised.group(1)) == len(unauthorised_by_findings(run.doc)), line
    assert line.removeprefix("- **Actors:** ") in run.html_text


def test_actor_unauthorised_iff_an_unauthorised_finding(run: Run) -> None:
    table = {a["id"]: a["unauthorised"] for a in run.doc["actors"]}
    assert {a for a, u in table.items() if u} == unauthorised_by_findings(run.doc)
    assert finding_actors(run.doc) <= set(table), "an actor with findings is missing from the table"
    for a in run.doc["actors"]:
        if a["detectors"]:  # the detectors column names findings that are listed
            mine = {f["detector"] for f in run.doc["findings"] if f["actor"] == a["id"]}
            assert set(a["detectors"]) == mine, a["id"]


def _md_table(text: str, first_column: str) -> list[dict[str, str]]:
    lines = text.splitlines()
    start = next(i for i, x in enumerate(lines) if x.startswith(f"| {first_column} |"))
    head = [c.strip() for c in lines[start].strip("|").split(" | ")]
    rows = []
    for x in lines[start + 2 :]:
        if not x.startswith("|"):
            break
        rows.append(dict(zip(head, (c.strip() for c in x.strip().strip("|").split(" | ")), strict=False)))
    return rows


def test_report_unauthorised_agrees_per_actor_and_per_finding(run: Run) -> None:
    status = {a["id"]: a["unauthorised"] for a in run.doc["actors"]}
    for row in _md_table(section(run.md, 7), "Actor"):
        assert row["Unauthorised"].split()[0] == ("yes" if status[int(row["Actor"])] else "no"), row
    current: int | None = None
    for line in section(run.md, 9).splitlines():
        if line.startswith("### "):
            m = re.match(r"### Actor (\d+)", line)
            current = int(m.group(1)) if m else None
        elif line.startswith("- **Unauthorised caller:**") and current is not None:
            said = line.removeprefix("- **Unauthorised caller:** ").split()[0]
            assert said == ("yes" if status[current] else "no"), (current, line)


def test_actor_figures_cover_their_findings(run: Run) -> None:
    """The actors table counts, for every actor, what its findings in the window count."""
    start, end = run.doc["window"]["start"], run.doc["window"]["end"]
    by_basis = csv_by_basis(run)
    est = 0
    for a in run.doc["actors"]:
        inside = [
            f
            for f in run.doc["findings"]
            if f["actor"] == a["id"] and f["first_seen"] >= start and f["last_seen"] < end
        ]
        for f in inside:
            assert a["requests"] >= (f["count"] or 0), (a["id"], f["id"], f["detector"])
            if f["detector"] != "bulk":
                assert a["records"] >= (f["records"] or 0), (a["id"], f["id"], f["detector"])
        for basis in ("confirmed", "probable"):
            mine = sum(1 for row in by_basis[basis] if a["id"] in csv_actors([row]))
            assert a[f"{basis}_records"] == mine, (a["id"], basis)
        est += a["estimated_records"] or 0
    assert est == run.doc["records"]["estimated_bulk"]


# --- records: summary, estimate, CSV, timeline -----------------------------------------------------


def test_csv_rows_are_the_record_counts(run: Run) -> None:
    by_basis, records = csv_by_basis(run), run.doc["records"]
    assert len(by_basis["confirmed"]) == records["confirmed"]
    assert len(by_basis["probable"]) == records["probable"]
    assert set(by_basis) == {"confirmed", "probable"}
    assert sum(int(r["requests"]) for r in by_basis["confirmed"]) == run.doc["requests"]["unauthorised"]
    line = next(x for x in section(run.md, 2).splitlines() if x.startswith("- **Records:**"))
    assert f"{records['confirmed']:,} record" in line and f"{records['probable']:,} record" in line


def test_timeline_flags_are_the_listed_records(run: Run) -> None:
    """A timeline row flagged as delivering a listed record is one of the CSV's requests, and
    together the flagged rows are exactly the CSV's requests, per basis."""
    ids = {b: {row["record_id"] for row in rows} for b, rows in csv_by_basis(run).items()}
    per_basis: Counter[str] = Counter()
    records: dict[str, set[str]] = {"confirmed": set(), "probable": set()}
    for row in run.timeline:
        flag = row.get("affected_record", row.get("unauthorised"))  # the per-request flag
        basis = row.get("basis") or ("confirmed" if flag else None)
        if not flag:
            assert basis is None, row
            continue
        assert 200 <= int(row["status"]) < 300, row
        assert row["record_id"] in ids[basis], (basis, row["message"])
        per_basis[basis] += 1
        records[basis].add(row["record_id"])
    for basis, rows in csv_by_basis(run).items():
        assert per_basis[basis] == sum(int(r["requests"]) for r in rows), basis
        assert records[basis] == ids[basis], basis
    unauth = unauthorised_by_findings(run.doc)
    for row in run.timeline:
        if "actor_unauthorised" in row:
            assert row["actor_unauthorised"] == (row["actor_id"] in unauth), row["message"]


def test_plot_data_agrees_with_the_actors(run: Run) -> None:
    status = {a["id"]: a["unauthorised"] for a in run.doc["actors"]}
    scatter = run.assessment.scatter
    for actor_id, part in scatter.groupby("actor_id"):
        assert bool(part["unauthorised"].iloc[0]) == status.get(int(actor_id), False), actor_id


EXPECTED = {  # what each scenario exercises (so the checks above are not vacuous)
    "demo": ("confirmed", "estimated_bulk"),
    "demo-no-login": ("probable",),
    "sim-seed1": ("confirmed", "estimated_bulk"),
    "sim-seed2-pseudonymised": ("confirmed",),
    "sim-quiet": (),
}


def test_scenario_exercises(run: Run) -> None:
    records = run.doc["records"]
    for key in EXPECTED[run.name]:
        assert records[key] > 0, (run.name, key, records)
    if not EXPECTED[run.name]:
        assert run.doc["verdict"] not in EVENT_VERDICTS and run.doc["bounds"]["applies"]


# --- the full lists beside the report (actors.csv, findings.csv, evidence.csv) ----------------------


def _natural(text: str) -> list[Any]:
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", text)]


def test_actors_csv_is_the_documents_actors(run: Run) -> None:
    rows = run.lists["actors.csv"]
    assert [int(r["actor_id"]) for r in rows] == [a["id"] for a in run.doc["actors"]]
    for row, a in zip(rows, run.doc["actors"], strict=True):
        assert row["unauthorised"] == ("yes" if a["unauthorised"] else "no"), a["id"]
        for key in ("requests", "records", "confirmed_records", "probable_records", "bytes"):
            assert int(row[key]) == a[key], (a["id"], key)
        assert row["ips"].split() == [str(ip).lstrip("=+-@") for ip in a["ips"]] or row["ips"].startswith("'")
        assert row["first_seen"] == a["first_seen"] and row["last_seen"] == a["last_seen"]
    by_basis = csv_by_basis(run)
    for basis in ("confirmed", "probable"):
        assert sum(int(r[f"{basis}_records"]) for r in rows) == sum(
            len(row["actors"].split()) for row in by_basis[basis]
        )


def test_report_shows_every_unauthorised_actor_and_counts_the_rest(run: Run) -> None:
    shown = _md_table(section(run.md, 7), "Actor") if run.doc["actors"] else []
    bad = [a["id"] for a in run.doc["actors"] if a["unauthorised"]]
    assert [int(r["Actor"]) for r in shown][: len(bad)] == bad
    m = re.search(r"([\d,]+) more actors? not shown here", section(run.md, 7))
    rest = num(m.group(1)) if m else 0
    assert len(shown) + rest == run.doc["listed"]["actors_total"]
    answer = run.md.split("\n## 1. ")[0]
    for actor in bad:
        assert f"- Actor {actor} (" in answer, actor  # page 1 names each one on a line
    assert f"Who: {run.doc['actor_counts']['unauthorised']:,} unauthorised actor" in answer or not bad


def test_page_one_records_are_the_documents(run: Run) -> None:
    answer = run.md.split("\n## 1. ")[0]
    records = run.doc["records"]
    assert f"- **{records['confirmed']:,} confirmed**" in answer
    assert f"- **{records['probable']:,} probable**" in answer
    at_risk = "unknown" if records["at_risk"] is None else f"{records['at_risk']:,}"
    assert f"- **{at_risk} at risk**" in answer
    html_answer = run.html_text.split("1 Document control")[0]
    assert f"{records['confirmed']:,} confirmed" in html_answer


def test_findings_csv_is_the_documents_findings(run: Run) -> None:
    rows = run.lists["findings.csv"]
    assert [int(r["finding_id"]) for r in rows] == [f["id"] for f in run.doc["findings"]]
    for row, f in zip(rows, run.doc["findings"], strict=True):
        assert (row["detector"], row["severity"]) == (f["detector"], f["severity"])
        assert int(row["requests"]) == f["count"] and row["unauthorised"] == (
            "yes" if f["unauthorised"] else "no"
        )
        assert row["actor_id"] == ("" if f["actor"] is None else str(f["actor"]))
        samples = [f"{e['path']}:{e['line_no']}" for e in f["evidence"].get("sample") or []]
        assert row["sample_lines"] == " | ".join(samples)


def test_report_findings_shown_and_summed_are_all_findings(run: Run) -> None:
    text = section(run.md, 9)
    detailed = len(re.findall(r"^- \*\*Finding:\*\* #(\d+)", text, re.M))
    summary = _md_table(text, "Detector") if "| Detector |" in text else []
    assert detailed + sum(num(r["Findings"]) for r in summary) == len(run.doc["findings"])
    low = [r for r in summary if r["Severity"] == "low"]
    assert len(low) == len({f["detector"] for f in run.doc["findings"] if f["severity"] == "low"})
    assert text.count("raw lines not read back") <= detailed  # at most one line per finding


def test_evidence_csv_is_every_file_in_natural_order(run: Run) -> None:
    rows = run.lists["evidence.csv"]
    paths = [r["path"] for r in rows]
    assert sorted(paths) == sorted(s["path"] for s in run.doc["sources"])
    assert paths == sorted(paths, key=_natural)
    sha = {s["path"]: s["sha256"] for s in run.doc["sources"]}
    assert all(r["sha256"] == sha[r["path"]] for r in rows)
    fields = run.doc["coverage"]["fields"]
    for r in rows:
        for name, share in fields.get(r["path"], {}).items():
            assert (float(r[f"field_{name}"]) if r[f"field_{name}"] else None) == share, (r["path"], name)
    inventory = section(run.md, 4)
    shown = _md_table(inventory, "File")
    m = re.search(r"([\d,]+) more files?, each re-verified unchanged", inventory)
    assert len(shown) + (num(m.group(1)) if m else 0) == len(rows)
