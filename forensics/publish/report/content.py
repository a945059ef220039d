"""The report's content, once: the METHOD.md sections as typed blocks of plain text (each
group of sections is built in its module under ``sections/``; this puts them in order).

Both renderers (html.py, markdown.py) lay out the same blocks, so the HTML page and the Markdown
text never say different things. Every string here is plain text: log text is NOT escaped yet
(each renderer escapes for its medium) and nothing here is markup. Numbers are formatted with
their units; times are the document's ISO strings shown as ``YYYY-MM-DD HH:MM:SS UTC``.
No wall-clock time is read: the same assessment gives the same content.
"""

from __future__ import annotations

from forensics.assess.assessment import Assessment
from forensics.publish.report.answer import answer
from forensics.publish.report.blocks import (
    Block,
    Cell,
    Content,
    Details,
    Facts,
    Figure,
    Heading,
    Items,
    Numbers,
    Para,
    Period,
    Pre,
    Section,
    Table,
    Verdict,
    headline,
    span,
)
from forensics.publish.report.sections.actors import access_section, actors_section
from forensics.publish.report.sections.closing import (
    estimate_section,
    limitations_section,
    regulatory_section,
    reproduce_section,
    statistics_section,
    verdict_section,
)
from forensics.publish.report.sections.common import case_name, document_sha256
from forensics.publish.report.sections.evidence import coverage_section, inventory_section
from forensics.publish.report.sections.findings import findings_section
from forensics.publish.report.sections.front import document_control_section, scope_section, summary_section
from forensics.publish.report.sections.method import method_section

__all__ = [
    "Block",
    "Cell",
    "Content",
    "Details",
    "Facts",
    "Figure",
    "Heading",
    "Items",
    "Numbers",
    "Para",
    "Period",
    "Pre",
    "Section",
    "Table",
    "Verdict",
    "build",
]


def build(assessment: Assessment) -> Content:
    doc = assessment.doc
    sections = [
        document_control_section(doc, document_sha256(assessment)),
        summary_section(doc),
        scope_section(doc),
        inventory_section(doc),
        coverage_section(doc),
        method_section(doc),
        actors_section(doc),
        access_section(doc),
        findings_section(doc, assessment.excerpts),
        estimate_section(doc),
        statistics_section(doc),
        verdict_section(doc),
        regulatory_section(doc),
        limitations_section(doc),
        reproduce_section(doc),
    ]
    for i, sec in enumerate(sections, start=1):
        assert sec.number == i, (sec.title, i)
    window = doc["window"]
    return Content(
        title="Access-log forensic assessment" + (" (pseudonymised)" if doc.get("pseudonymisation") else ""),
        subtitle=f"Exposure window {span(window['start'], window['end'])}",
        verdict=str(doc["verdict"]),
        verdict_headline=headline(doc),
        answer=answer(doc),
        footer=f"Case {case_name(doc)} · findings.json SHA-256 {document_sha256(assessment)}",
        sections=sections,
    )
