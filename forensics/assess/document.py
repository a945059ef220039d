"""The findings.json document, typed: TypedDicts for every part, and the JSON Schema made from them.

``Assessment.document`` is built by ``compute.assess`` as plain JSON values; these types say what
it holds (the prose in assessment.py's docstring, checked). ``Assessment.doc`` gives the same
dict typed as ``FindingsDocument``, so mypy checks every key a reader uses. ``json_schema()``
turns the types into a JSON Schema (draft 2020-12) whose ``$id`` carries the document's version
(``SCHEMA``); the package ships it as ``findings.schema.json`` beside this module, and the tests
check that the shipped file is what the types give and that documents validate against it.

Values that may be absent as JSON ``null`` are ``X | None``. Objects whose members are data (a
detector's metrics, the SQL per number) are ``dict[str, ...]``. A pseudonymised document (see
publish/pseudonymise.py) holds pseudonyms (strings) where record ids were integers: the record
id range and the findings' id metrics.
"""

from __future__ import annotations

import json
import types
import typing
from importlib.resources import files
from pathlib import Path
from typing import Any, Literal, NotRequired, TypedDict, Union, get_args, get_origin, get_type_hints

SCHEMA = "forensics.findings/2"
SCHEMA_FILE = "findings.schema.json"
SCHEMA_ID = "https://access-log-forensics.invalid/schema/forensics.findings-2.schema.json"

Verdict = Literal["cannot_tell", "excluded", "no_evidence", "possible", "likely", "confirmed"]
Severity = Literal["high", "medium", "low"]
RecordId = int | str  # an integer id, or a pseudonym (or a non-integer id) as text


class Tool(TypedDict):
    name: str
    version: str


class CaseRef(TypedDict):
    path: str  # the case file, or the Parquet case folder
    engine: str  # where the SQL ran: "duckdb" or "spark" (the same findings either way)


class LoginProposal(TypedDict):
    route: str
    successful: int


class Ownership(TypedDict):
    path: str
    sha256: str
    teams: str | None
    teams_sha256: str | None
    records: int
    records_read: int
    principals: int
    principals_unseen: list[str]
    case_records_unlisted: int


class Parameters(TypedDict):
    endpoints: list[str]
    endpoints_source: Literal["given", "proposed"]
    endpoints_unmatched: dict[str, list[str]]  # endpoint -> the closest routes
    login: list[str]
    login_proposed: list[LoginProposal]
    trusted: list[str]
    trusted_unmatched: list[str]
    ownership: Ownership | None
    out_of_scope_basis: str
    window_source: str
    records_total: int | None
    detect_options: dict[str, Any]
    command: str


class WindowDoc(TypedDict):
    start: str
    end: str
    source: str
    evidence: str


class Gap(TypedDict):
    start: str
    end: str
    kind: str
    expected_events: float | None
    rejected_lines: int
    note: NotRequired[str]  # unparsed gaps: what to do


class CoverageSource(TypedDict):
    source_id: int
    path: str | None
    format: str | None
    events: int
    first_ts: str | None
    last_ts: str | None
    warnings: list[str]


class CoverageDoc(TypedDict):
    ratio: float
    grade: str
    gaps: list[Gap]
    grade_reasons: list[str]
    covered_s: float
    uncovered_s: float
    events: int
    fields: dict[str, dict[str, float | None]]  # source path -> field -> share of events
    sources: list[CoverageSource]


class Events(TypedDict):
    total: int
    rejected: int
    in_window: int
    to_endpoints_in_window: int


class Source(TypedDict):
    path: str
    sha256: str | None
    sha256_verified: bool | None
    format: str | None
    status: str
    events: int | None
    rejected: int | None
    duplicate_of: str | None
    warnings: list[str]
    first_ts: str | None
    last_ts: str | None


class IdRange(TypedDict):
    min: RecordId
    max: RecordId


class Records(TypedDict):
    confirmed: int
    probable: int
    at_risk: int | None
    at_risk_basis: str
    estimated_bulk: int
    id_range: IdRange | None


class Requests(TypedDict):
    to_endpoints: int
    unauthorised: int
    probable: int
    auth_unknown: int
    auth_ambiguous: int


class ActorCounts(TypedDict):
    listed: int
    with_findings: int
    unauthorised: int
    with_confirmed_records: int
    with_probable_records: int
    with_estimated_records: int
    with_only_estimated_records: int


class Actor(TypedDict):
    id: int
    ips: list[str]
    user_agents: list[str]
    principals: list[str]
    classification: str
    class_reason: str
    auth_evidence: list[str]
    unauthorised: bool
    unauthorised_by: list[int]
    requests: int | None
    endpoint_requests: int | None
    records: int | None
    confirmed_records: int | None
    probable_records: int | None
    estimated_records: int | None
    bytes: int | None
    first_seen: str | None
    last_seen: str | None
    detectors: list[str]
    link_reasons: list[str]
    hosting: list[str]


class SampleLine(TypedDict):
    path: str | None
    line_no: int


class FindingEvidence(TypedDict):
    caller: str | None
    ambiguous_requests: int | None
    caveat: str | None
    metrics: dict[str, Any]
    sample: list[SampleLine]
    thresholds: dict[str, Any]


class Finding(TypedDict):
    id: int
    detector: str
    title: str
    severity: Severity
    actor: int | None
    route: str | None
    first_seen: str | None
    last_seen: str | None
    count: int | None
    records: int | None
    estimated_records: int | None
    unauthorised: bool
    evidence: FindingEvidence


class Listed(TypedDict):
    max: int
    actors_total: int
    findings_total: int


class Bounds(TypedDict):
    applies: bool
    statement: str
    covered_s: float
    uncovered_s: float
    expected_max: float | None
    p_any_max: float | None


class Gdpr(TypedDict):
    nature: str
    categories_and_numbers: str
    consequences: str
    measures: str


class Hipaa(TypedDict):
    nature_and_extent: str
    unauthorised_person: str
    acquired_or_viewed: str
    mitigation: str


class Regulatory(TypedDict):
    gdpr_art33_3: Gdpr
    hipaa_four_factors: Hipaa


class Reproduce(TypedDict):
    command: str
    tool_version: str
    sql: dict[str, str]


class PseudonymisationDoc(TypedDict):
    algorithm: str
    key_fingerprint: str
    kinds: dict[str, str]
    scope: str


class SigmaRuleFile(TypedDict):
    path: str
    sha256: str


class SigmaSkipped(TypedDict):
    path: str
    rule_id: str | None
    title: str | None
    reason: str


class SigmaRun(TypedDict):
    """The last ``forensics sigma`` run: what repeats it (rule files with SHA-256, pySigma's
    version) and what did not run (each skipped rule with its reason)."""

    loaded: int
    run: int
    skipped: int
    rule_files: list[SigmaRuleFile]
    versions: dict[str, str]
    keyword_lines_read: int
    skipped_rules: list[SigmaSkipped]


class FindingsDocument(TypedDict):
    schema: Literal["forensics.findings/2"]
    tool: Tool
    case: CaseRef
    parameters: Parameters
    window: WindowDoc
    coverage: CoverageDoc
    events: Events
    sources: list[Source]
    verdict: Verdict
    verdict_text: str
    reasoning: list[str]
    alternatives: list[str]
    records: Records
    requests: Requests
    actor_counts: ActorCounts
    actors: list[Actor]
    findings: list[Finding]
    listed: Listed
    bounds: Bounds
    regulatory: Regulatory
    limitations: list[str]
    reproduce: Reproduce
    pseudonymisation: PseudonymisationDoc | None
    sigma: SigmaRun | None  # None: forensics sigma has not run on the case


# --- the JSON Schema ------------------------------------------------------------------------------

_SCALARS: dict[Any, dict[str, Any]] = {
    str: {"type": "string"},
    int: {"type": "integer"},
    float: {"type": "number"},
    bool: {"type": "boolean"},
    type(None): {"type": "null"},
}


def _is_typeddict(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, dict) and hasattr(tp, "__required_keys__")


def _schema_of(tp: Any, defs: dict[str, Any]) -> dict[str, Any]:
    """The JSON Schema of one annotation (TypedDicts go to ``$defs``, referenced by name)."""
    if tp is Any:
        return {}
    if tp in _SCALARS:
        return dict(_SCALARS[tp])
    origin = get_origin(tp)
    if origin is typing.NotRequired:
        return _schema_of(get_args(tp)[0], defs)
    if origin is Literal:
        return {"enum": list(get_args(tp))}
    if origin in (Union, types.UnionType):
        return {"anyOf": [_schema_of(a, defs) for a in get_args(tp)]}
    if origin is list:
        return {"type": "array", "items": _schema_of(get_args(tp)[0], defs)}
    if origin is dict:
        return {"type": "object", "additionalProperties": _schema_of(get_args(tp)[1], defs)}
    if _is_typeddict(tp):
        name = tp.__name__
        if name not in defs:
            defs[name] = {}  # placeholder: recursion stops here
            hints = get_type_hints(tp, include_extras=True)
            defs[name] = {
                "type": "object",
                "properties": {key: _schema_of(hint, defs) for key, hint in hints.items()},
                # not __required_keys__: with postponed annotations Python 3.11 misses NotRequired
                "required": sorted(k for k, h in hints.items() if get_origin(h) is not typing.NotRequired),
                "additionalProperties": False,
            }
        return {"$ref": f"#/$defs/{name}"}
    raise TypeError(f"no JSON Schema for {tp!r}")


def json_schema() -> dict[str, Any]:
    """The JSON Schema of ``FindingsDocument`` (what ``findings.schema.json`` holds)."""
    defs: dict[str, Any] = {}
    root = _schema_of(FindingsDocument, defs)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": f"findings.json ({SCHEMA})",
        "description": "What access-log-forensics found: forensics/assess/document.py is its source.",
        "$ref": root["$ref"],
        "$defs": dict(sorted(defs.items())),
    }


def schema_text() -> str:
    """``json_schema()`` as the shipped file holds it."""
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"


def shipped_schema() -> dict[str, Any]:
    """The schema file the package ships (package data)."""
    loaded: dict[str, Any] = json.loads(files("forensics.assess").joinpath(SCHEMA_FILE).read_text("utf-8"))
    return loaded


def write_schema() -> Path:
    """Regenerate the shipped schema file from the types (after changing them)."""
    path = Path(__file__).with_name(SCHEMA_FILE)
    path.write_text(schema_text(), encoding="utf-8")
    return path
