"""The limits on what the sections show, and the case's and document's names."""

from __future__ import annotations

import hashlib
from pathlib import PurePath
from typing import Literal

from forensics.assess.assessment import Assessment
from forensics.assess.document import FindingsDocument

FILES_BESIDE = (
    "findings.json: the assessment document every number here comes from",
    "affected_records.csv: every record id delivered to an unauthorised caller",
    "actors.csv: every actor (section 7 shows the ones that matter)",
    "findings.csv: every finding (section 9 shows the most severe)",
    "evidence.csv: every evidence file with its SHA-256 and field shares (sections 4 and 5)",
    "timeline.jsonl: the requests behind the findings, for a timeline tool",
    "report.pdf: this report on A4",
)
ACTOR_ROWS = 6  # actors in section 7 besides the unauthorised ones
# unauthorised actors in section 7 (most severe first; actors.csv lists them all): a report of
# thousands of rows is read by no one, and its PDF took 21 s for 1,500 of them
UNAUTHORISED_ROWS = 200
FINDING_DETAILS = 6  # high/medium findings shown in full in section 9
EVIDENCE_ROWS = 8  # evidence files in sections 4 and 5
GAP_ROWS = 12  # periods without logs in section 5
EXCERPT_LINES = 3  # raw evidence lines shown per finding (findings.csv names the whole sample)
EXCERPT_FILES = 3  # files whose line numbers are named for a finding whose raw lines were not read back


def listed_total(doc: FindingsDocument, kind: Literal["actors", "findings"]) -> int:
    """How many actors/findings the case has (findings.json lists at most ``listed.max``)."""
    listed = doc.get("listed")
    if kind == "actors":
        return int(listed.get("actors_total", len(doc["actors"])) if listed else len(doc["actors"]))
    return int(listed.get("findings_total", len(doc["findings"])) if listed else len(doc["findings"]))


def case_name(doc: FindingsDocument) -> str:
    """The case file's name (its folder is the investigator's, not the report's business)."""
    return PurePath(str(doc["case"]["path"])).name


def document_sha256(assessment: Assessment) -> str:
    """SHA-256 of findings.json as written beside the report: the report names the document it shows."""
    from forensics.publish.machine import findings_json  # export.py imports this package's helpers

    return hashlib.sha256(findings_json(assessment).encode("utf-8")).hexdigest()
