"""Sections 10-15: the estimate, statistics, verdict, regulatory mapping, limitations, reproduction."""

from __future__ import annotations

from forensics.assess.document import FindingsDocument
from forensics.publish.report.blocks import (
    GDPR_FIELDS,
    HIPAA_FIELDS,
    VERDICT_SCALE,
    Block,
    Cell,
    Details,
    Facts,
    Heading,
    Items,
    Para,
    Pre,
    Section,
    Table,
    count,
    duration,
    headline,
    num,
    percent,
)
from forensics.publish.report.sections.front import _records_interval


def estimate_section(doc: FindingsDocument) -> Section:
    r = doc["records"]
    rng = r.get("id_range")
    rows: list[list[Cell]] = [
        ["Lower: confirmed", num(r["confirmed"]), "record-bearing 2xx responses to unauthorised callers"],
        ["Central: probable", num(r["probable"]), "adds unattributed actors with enumeration signals"],
        ["Upper: at risk", num(r["at_risk"]), str(r.get("at_risk_basis") or "—")],
    ]
    blocks: list[Block] = [
        Para(_records_interval(r)),
        Table(["Bound", "Records", "Basis"], rows, numeric=frozenset({1})),
    ]
    if r.get("estimated_bulk"):
        blocks.append(
            Para(
                f"Bulk responses may have carried about {count(r['estimated_bulk'], 'record')}; "
                "this estimate is reported separately and is not part of the confirmed count."
            )
        )
    if rng:
        blocks.append(
            Para(f"Record ids seen on the exposed endpoints range from {rng['min']} to {rng['max']}.")
        )
    blocks.append(
        Para("Periods without logs only widen the upper bound; they never add to confirmed.", style="note")
    )
    return Section(10, "The estimate", blocks)


def statistics_section(doc: FindingsDocument) -> Section:
    b = doc["bounds"]
    facts: list[tuple[str, Cell]] = [
        ("Covered time", duration(b["covered_s"])),
        ("Time without logs", duration(b["uncovered_s"])),
        (
            "Zero-event bound",
            "applies (no qualifying event observed)"
            if b.get("applies", True)
            else "does not apply (qualifying events observed)",
        ),
    ]
    expected = b.get("expected_max")
    if expected is not None:
        facts.append(("Upper bound on expected events", f"{float(expected):,.2f}"))
    if b.get("p_any_max") is not None:
        facts.append(("Upper bound on the chance of any event", percent(b["p_any_max"])))
    return Section(11, "Statistical statements", [Para(str(b["statement"])), Facts(facts)])


def verdict_section(doc: FindingsDocument) -> Section:
    return Section(
        12,
        "Verdict and reasoning",
        [
            Para(f"Verdict: {headline(doc)} (the verdict's full text is in section 2).", style="lead"),
            Heading("Reasoning"),
            Items([str(x) for x in doc["reasoning"]] or ["—"]),
            Heading("Alternative explanations considered"),
            Items([str(x) for x in doc["alternatives"]] or ["none recorded"]),
            Para(f"Verdict scale: {VERDICT_SCALE}.", style="note"),
        ],
    )


def regulatory_section(doc: FindingsDocument) -> Section:
    reg = doc["regulatory"]
    gdpr, hipaa = reg["gdpr_art33_3"], reg["hipaa_four_factors"]
    return Section(
        13,
        "Regulatory mapping",
        [
            Heading("UK GDPR / GDPR Article 33(3)"),
            Facts([(label, str(gdpr.get(key) or "—")) for key, label in GDPR_FIELDS]),
            Heading("HIPAA breach risk assessment: the four factors (45 CFR 164.402(2))"),
            Facts([(label, str(hipaa.get(key) or "—")) for key, label in HIPAA_FIELDS]),
        ],
    )


def limitations_section(doc: FindingsDocument) -> Section:
    return Section(14, "Limitations", [Items([str(x) for x in doc["limitations"]] or ["none recorded"])])


def reproduce_section(doc: FindingsDocument) -> Section:
    rep, params = doc["reproduce"], doc["parameters"]
    blocks: list[Block] = [
        Pre([str(rep["command"])], caption="Command line"),
        Facts(
            [
                ("Tool version", str(rep["tool_version"])),
                ("Endpoints", list(params["endpoints"]) or ["—"]),
                ("Login endpoints", list(params["login"]) or ["—"]),
                ("Trusted networks", list(params["trusted"]) or ["—"]),
                ("Window", f"{doc['window']['start']}/{doc['window']['end']} ({params['window_source']})"),
            ]
        ),
        Heading("The SQL behind each number"),
    ]
    sql: dict[str, str] = rep.get("sql") or {}
    blocks.extend(Details(name, text) for name, text in sorted(sql.items()))
    if not sql:
        blocks.append(Para("No SQL recorded."))
    return Section(15, "How to reproduce", blocks)
