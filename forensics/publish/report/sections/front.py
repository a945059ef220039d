"""Sections 1-3: document control, the executive summary and the scope."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from forensics.assess.document import FindingsDocument, Parameters, Records, Requests
from forensics.publish.report.blocks import (
    GRADE_WORDS,
    Cell,
    Facts,
    Para,
    Section,
    Verdict,
    count,
    duration,
    evidence_digest,
    headline,
    num,
    percent,
    span,
    when,
)
from forensics.publish.report.sections.common import FILES_BESIDE


def _pseudonymised(doc: FindingsDocument) -> list[tuple[str, Cell]]:
    pz = doc.get("pseudonymisation")
    if not pz:
        return []
    kinds = ", ".join(f"{prefix}_… = {meaning}" for prefix, meaning in pz["kinds"].items())
    return [
        ("Pseudonymised", f"yes: {pz['scope']} Pseudonyms: {kinds}."),
        ("Pseudonym algorithm", f"{pz['algorithm']}, keyed"),
        ("Pseudonym key fingerprint", str(pz["key_fingerprint"])),
    ]


def document_control_section(doc: FindingsDocument, digest: str) -> Section:
    tool, window, sources = doc["tool"], doc["window"], doc["sources"]
    return Section(
        1,
        "Document control",
        [
            Facts(
                [
                    ("Tool", f"{tool['name']} {tool['version']}"),
                    ("Output schema", str(doc["schema"])),
                    ("Case", str(doc["case"]["path"])),
                    ("Assessed window", span(window["start"], window["end"])),
                    ("Evidence files", count(len(sources), "file")),
                    ("Evidence manifest SHA-256", evidence_digest(sources)),
                    ("findings.json SHA-256", digest),
                    ("Files beside this report", list(FILES_BESIDE)),
                    *_pseudonymised(doc),
                ]
            ),
            Para(
                "This report is generated from the case and the parameters in section 15; it carries "
                "no wall-clock date, so the same evidence and parameters give the same report. The "
                "manifest hash is the SHA-256 of the sorted lines “<file SHA-256>  <path>” of the "
                "evidence files listed in section 4.",
                style="note",
            ),
        ],
    )


def _records_interval(records: Records) -> str:
    confirmed, probable, at_risk = records["confirmed"], records["probable"], records["at_risk"]
    upper = (
        f"up to {count(at_risk, 'record')} at risk"
        if at_risk is not None
        else "an upper bound that is unknown (it needs the record count from the data owner)"
    )
    return (
        f"{count(confirmed, 'record')} confirmed (distinct record ids), "
        f"{count(probable, 'record')} probable, {upper}."
    )


def _requests_line(requests: Requests) -> str:
    probable = requests.get("probable") or 0
    return (
        f"{count(requests['to_endpoints'], 'request')} to the exposed endpoints in the window; "
        f"{num(requests['unauthorised'])} of them delivered a confirmed record"
        + (f" and {num(probable)} a probable one" if probable else "")
        + " (the requests behind affected_records.csv, flagged in timeline.jsonl)"
    )


def _actors_line(doc: FindingsDocument) -> str:
    c = doc["actor_counts"]
    received = [
        f"{num(c['with_confirmed_records'])} received confirmed records",
        *(
            [f"{num(c['with_probable_records'])} received probable ones"]
            if c["with_probable_records"]
            else []
        ),
        *(
            [f"{num(c['with_estimated_records'])} received bulk responses"]
            if c["with_estimated_records"]
            else []
        ),
    ]
    return (
        f"{num(c['with_findings'])} with findings in the window, {num(c['unauthorised'])} of them shown "
        f"unauthorised by a finding; {', '.join(received)}; "
        f"{count(c['listed'], 'actor')} in the actors table (section 7)"
    )


def summary_section(doc: FindingsDocument) -> Section:
    cov, records, requests = doc["coverage"], doc["records"], doc["requests"]
    grade = str(cov["grade"])
    facts: list[tuple[str, Cell]] = [
        (
            "Coverage",
            f"grade {grade} ({GRADE_WORDS.get(grade, '?')}): logs cover {percent(cov['ratio'])} of the "
            f"window ({duration(cov['covered_s'])} covered, {duration(cov['uncovered_s'])} without logs; "
            f"{count(len(cov['gaps']), 'gap')})",
        ),
        ("Records", _records_interval(records)),
        ("Requests", _requests_line(requests)),
        ("Actors", _actors_line(doc)),
        (
            "Data subjects",
            "not determined: records are not people; mapping record ids to data subjects needs a "
            "map from the data owner",
        ),
    ]
    if records.get("estimated_bulk"):
        facts.append(
            (
                "Estimated (bulk)",
                f"bulk responses may have carried about {count(records['estimated_bulk'], 'record')} "
                "more; these are estimates and are not counted as confirmed",
            )
        )
    return Section(
        2,
        "Executive summary",
        [
            Verdict(
                str(doc["verdict"]),
                headline(doc),
                str(doc["verdict_text"]),
            ),
            Facts(facts),
            Para(
                "Requests, records and data subjects are counted separately: one record read many "
                "times is one record; one request may carry many records.",
                style="note",
            ),
        ],
    )


def scope_section(doc: FindingsDocument) -> Section:
    window, params = doc["window"], doc["parameters"]
    how = "given by the investigator" if window["source"] == "given" else "proposed by the tool"
    return Section(
        3,
        "Scope",
        [
            Facts(
                [
                    ("Window start", when(window["start"])),
                    ("Window end", when(window["end"])),
                    ("Length", duration(_seconds_between(window["start"], window["end"]))),
                    ("Window", how),
                    ("How it was established", str(window["evidence"] or "—")),
                    ("Exposed endpoints", list(params["endpoints"]) or ["—"]),
                    ("Login endpoints", list(params["login"]) or ["none given"]),
                    ("Trusted networks", list(params["trusted"]) or ["none given"]),
                    ("Out-of-scope reads judged by", _ownership_basis(params)),
                ]
            )
        ],
    )


def _ownership_basis(params: Parameters) -> str:
    """The out_of_scope basis, and the map's file and SHA-256 when one was given."""
    basis = str(params.get("out_of_scope_basis") or "inferred from the logs")
    own = params.get("ownership")
    if not own:
        return basis
    teams = f"; teams {own['teams']} (SHA-256 {own['teams_sha256']})" if own.get("teams") else ""
    return (
        f"{basis}: {own['path']} (SHA-256 {own['sha256']}){teams}; {own['records_read']:,} of its "
        f"{own['records']:,} record ids read in the case"
    )


def _seconds_between(start: Any, end: Any) -> float | None:
    try:
        return (datetime.fromisoformat(str(end)) - datetime.fromisoformat(str(start))).total_seconds()
    except (ValueError, TypeError):
        return None
