"""The report's content, once: the METHOD.md sections as typed blocks of plain text.

Both renderers (html.py, markdown.py) lay out the same blocks, so the HTML page and the Markdown
text never say different things. Every string here is plain text: log text is NOT escaped yet
(each renderer escapes for its medium) and nothing here is markup. Numbers are formatted with
their units; times are the document's ISO strings shown as ``YYYY-MM-DD HH:MM:SS UTC``.
No wall-clock time is read: the same assessment gives the same content.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from forensics.assessment import Assessment

# How long a log string may be in a table cell / excerpt before it is cut (the full text is in
# findings.json and the evidence file).
CELL_CHARS = 160
LINE_CHARS = 2000
CELL_ITEMS = 5

VERDICT_WORDS = {
    "cannot_tell": "Cannot tell: the logs cannot answer for this window",
    "excluded": "Unauthorised access excluded",
    "no_evidence": "No evidence of unauthorised access found (coverage-limited)",
    "possible": "Unauthorised access possible",
    "likely": "Unauthorised access likely",
    "confirmed": "Unauthorised access confirmed",
}
VERDICT_SCALE = (
    "cannot tell: the logs do not cover enough of the window to judge (no event in it, grade D or "
    "less than half of it covered) · "
    "excluded: full coverage, every record-bearing response attributed, nothing unexplained · "
    "no evidence found: nothing found in the logs that exist, which is limited by coverage · "
    "possible: signals that do not rule access out · likely: strong signals, no record-level proof · "
    "confirmed: record-level proof of records sent to an unauthorised caller"
)
GRADE_WORDS = {
    "A": "complete and field-sufficient",
    "B": "complete but missing a key field",
    "C": "partial",
    "D": "none",
}
GDPR_FIELDS = (
    ("nature", "Nature of the breach"),
    ("categories_and_numbers", "Categories and approximate numbers of data subjects and records"),
    ("consequences", "Likely consequences"),
    ("measures", "Measures taken or proposed"),
)
HIPAA_FIELDS = (
    ("nature_and_extent", "1. Nature and extent of the PHI involved"),
    ("unauthorised_person", "2. The unauthorised person who used or received it"),
    ("acquired_or_viewed", "3. Whether the PHI was actually acquired or viewed"),
    ("mitigation", "4. The extent to which the risk has been mitigated"),
)


# --- blocks -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """A table cell: from … to …, UTC (said in the column header)."""

    first: str
    last: str
    kind: str = "period"


Cell = str | list[str] | Period  # a list is shown as one line per item


@dataclass(frozen=True)
class Para:
    text: str
    kind: str = "para"
    style: str = ""  # "" | "note"


@dataclass(frozen=True)
class Verdict:
    verdict: str  # the document's code, used for colour
    headline: str
    text: str
    kind: str = "verdict"


@dataclass(frozen=True)
class Facts:
    """Label → value pairs (a definition list / two-column table)."""

    pairs: list[tuple[str, Cell]]
    kind: str = "facts"


@dataclass(frozen=True)
class Items:
    items: list[str]
    kind: str = "items"


@dataclass(frozen=True)
class Table:
    columns: list[str]
    rows: list[list[Cell]]
    numeric: frozenset[int] = frozenset()  # right-aligned column indexes
    text: frozenset[int] = frozenset()  # columns of long log text (may wrap anywhere)
    mono: frozenset[int] = frozenset()  # hashes and other fixed-width values
    nowrap: frozenset[int] = frozenset()  # times: one line each
    caption: str = ""
    empty: str = "none"
    kind: str = "table"


@dataclass(frozen=True)
class Figure:
    name: str  # key of plots.PLOTS
    caption: str
    kind: str = "figure"


@dataclass(frozen=True)
class Pre:
    """Verbatim text (raw evidence lines, a command line), one entry per line."""

    lines: list[str]
    caption: str = ""
    kind: str = "pre"


@dataclass(frozen=True)
class Details:
    """A collapsed block of verbatim text (the SQL behind a number)."""

    summary: str
    text: str
    kind: str = "details"


@dataclass(frozen=True)
class Heading:
    text: str
    kind: str = "heading"


Block = Para | Verdict | Facts | Items | Table | Figure | Pre | Details | Heading


@dataclass(frozen=True)
class Section:
    number: int
    title: str
    blocks: list[Block] = field(default_factory=list)

    @property
    def anchor(self) -> str:
        return f"s{self.number}"


@dataclass(frozen=True)
class Content:
    title: str
    subtitle: str
    verdict: str
    verdict_headline: str
    sections: list[Section]


# --- formatting ---------------------------------------------------------------------------------


def num(value: Any, unknown: str = "unknown") -> str:
    """An integer with thousands separators; None → ``unknown``."""
    if value is None:
        return unknown
    return f"{int(value):,}"


def count(value: Any, unit: str, plural: str | None = None) -> str:
    """``1,203 requests`` / ``1 request``."""
    if value is None:
        return f"unknown number of {plural or unit + 's'}"
    return f"{num(value)} {unit if int(value) == 1 else plural or unit + 's'}"


def percent(ratio: Any) -> str:
    return "unknown" if ratio is None else f"{float(ratio) * 100:.1f}%"


def when(iso: Any, suffix: str = " UTC") -> str:
    """The document's ISO 8601 UTC time as ``2023-03-14 16:20:00 UTC``; None → ``—``."""
    if iso is None or iso == "":
        return "—"
    text = str(iso)
    try:
        ts = datetime.fromisoformat(text)
    except ValueError:
        return text
    if ts.tzinfo is None:
        return text
    return ts.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") + suffix


def duration(seconds: Any) -> str:
    """``443 days 17 h 20 min`` (no seconds unless under a minute)."""
    if seconds is None:
        return "unknown"
    s = round(float(seconds))
    if s < 60:
        return f"{s} s"
    days, rest = divmod(s, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = []
    if days:
        parts.append(count(days, "day"))
    if hours:
        parts.append(f"{hours} h")
    if minutes:
        parts.append(f"{minutes} min")
    return " ".join(parts) or "0 min"


def size(nbytes: Any) -> str:
    """``12.4 MB`` (decimal units), None → unknown."""
    if nbytes is None:
        return "unknown"
    n = float(nbytes)
    for unit in ("bytes", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{int(n):,} bytes" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1000
    raise AssertionError("unreachable")


def cut(text: Any, limit: int = CELL_CHARS) -> str:
    """Log text shortened for display, saying how long it was."""
    s = "—" if text is None else str(text)
    if len(s) <= limit:
        return s
    return f"{s[:limit]}… ({len(s):,} characters)"


def cell_list(values: Iterable[Any] | None, limit: int = CELL_ITEMS) -> list[str]:
    vals = [cut(v) for v in (values or [])]
    if not vals:
        return ["—"]
    if len(vals) > limit:
        return [*vals[:limit], f"+{len(vals) - limit:,} more"]
    return vals


def span(start: Any, end: Any) -> str:
    """``<start> \N{EN DASH} <end>``, both as :func:`when` writes them."""
    return f"{when(start)} \N{EN DASH} {when(end)}"


def period(first: Any, last: Any) -> Cell:
    """A table cell: first and last time, UTC (said in the column header)."""
    if not first and not last:
        return "—"
    return Period(when(first, ""), when(last, ""))


def yes_no(flag: Any) -> str:
    return "yes" if flag else "no"


def verified(flag: Any) -> str:
    if flag is None:
        return "— (file no longer there)"
    return "✓ unchanged" if flag else "✗ CHANGED since ingest"


def evidence_digest(sources: Sequence[dict[str, Any]]) -> str:
    """SHA-256 over the sorted ``"<sha256>  <path>"`` lines of the evidence files (a manifest)."""
    lines = sorted(f"{s.get('sha256') or '-'}  {s.get('path')}\n" for s in sources)
    return hashlib.sha256("".join(lines).encode("utf-8", "backslashreplace")).hexdigest()


# --- sections -----------------------------------------------------------------------------------


def build(assessment: Assessment) -> Content:
    doc = assessment.document
    sections = [
        _document_control(doc),
        _summary(doc),
        _scope(doc),
        _inventory(doc),
        _coverage(doc),
        _method(doc),
        _actors(doc),
        _access(doc),
        _findings(doc, assessment.excerpts),
        _estimate(doc),
        _statistics(doc),
        _verdict(doc),
        _regulatory(doc),
        _limitations(doc),
        _reproduce(doc),
    ]
    for i, sec in enumerate(sections, start=1):
        assert sec.number == i, (sec.title, i)
    window = doc["window"]
    return Content(
        title="Access-log forensic assessment" + (" (pseudonymised)" if doc.get("pseudonymisation") else ""),
        subtitle=f"Exposure window {span(window['start'], window['end'])}",
        verdict=str(doc["verdict"]),
        verdict_headline=_headline(doc),
        sections=sections,
    )


def _pseudonymised(doc: dict[str, Any]) -> list[tuple[str, Cell]]:
    pz = doc.get("pseudonymisation")
    if not pz:
        return []
    kinds = ", ".join(f"{prefix}_… = {meaning}" for prefix, meaning in pz["kinds"].items())
    return [
        ("Pseudonymised", f"yes: {pz['scope']} Pseudonyms: {kinds}."),
        ("Pseudonym algorithm", f"{pz['algorithm']}, keyed"),
        ("Pseudonym key fingerprint", str(pz["key_fingerprint"])),
    ]


def _document_control(doc: dict[str, Any]) -> Section:
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


def _records_interval(records: dict[str, Any]) -> str:
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


def _requests_line(requests: dict[str, Any]) -> str:
    probable = requests.get("probable") or 0
    return (
        f"{count(requests['to_endpoints'], 'request')} to the exposed endpoints in the window; "
        f"{num(requests['unauthorised'])} of them delivered a confirmed record"
        + (f" and {num(probable)} a probable one" if probable else "")
        + " (the requests behind affected_records.csv, flagged in timeline.jsonl)"
    )


def _actors_line(doc: dict[str, Any]) -> str:
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


def _summary(doc: dict[str, Any]) -> Section:
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
                _headline(doc),
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


def _scope(doc: dict[str, Any]) -> Section:
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


def _ownership_basis(params: dict[str, Any]) -> str:
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


def _inventory(doc: dict[str, Any]) -> Section:
    events = doc["events"]
    rows: list[list[Cell]] = [
        [
            str(s["path"]),
            str(s.get("format") or "—"),
            period(s.get("first_ts"), s.get("last_ts")),
            str(s.get("sha256") or "—"),
            num(s.get("events"), "—"),
            num(s.get("rejected"), "—"),
            str(s.get("duplicate_of") or "—"),
            [cut(w) for w in s.get("warnings") or []] or ["—"],
            verified(s.get("sha256_verified")),
        ]
        for s in doc["sources"]
    ]
    return Section(
        4,
        "Evidence inventory and chain of custody",
        [
            Para(
                f"{count(len(doc['sources']), 'evidence file')}: {count(events['total'], 'event')} "
                f"parsed, {count(events['rejected'], 'line')} rejected (kept in the case with their "
                f"reason); {count(events['in_window'], 'event')} fall in the window, "
                f"{num(events['to_endpoints_in_window'])} of them to the exposed endpoints. Evidence "
                "is read-only: every file was hashed (SHA-256) as delivered and re-hashed for this "
                "report; exact duplicates are recorded and not read twice."
            ),
            Table(
                [
                    "File",
                    "Format",
                    "Events from (UTC)",
                    "SHA-256",
                    "Events",
                    "Rejected",
                    "Duplicate of",
                    "Warnings",
                    "Re-verified",
                ],
                rows,
                numeric=frozenset({4, 5}),
                text=frozenset({0, 6, 7}),
                mono=frozenset({3}),
                nowrap=frozenset({2}),
                empty="no evidence files",
            ),
        ],
    )


def _coverage(doc: dict[str, Any]) -> Section:
    cov = doc["coverage"]
    unparsed = [g for g in cov["gaps"] if g.get("kind") == "unparsed"]
    gaps: list[list[Cell]] = []
    for g in cov["gaps"]:
        row: list[Cell] = [when(g["start"]), when(g["end"]), duration(_seconds_between(g["start"], g["end"]))]
        if unparsed:  # a column saying which periods have logs that were not parsed
            row.append(
                f"logs not parsed: {num(g['rejected_lines'])} rejected lines" if g in unparsed else "no logs"
            )
        gaps.append(row)
    lines = sum(int(g.get("rejected_lines") or 0) for g in unparsed)
    fields: dict[str, dict[str, Any]] = cov.get("fields") or {}
    names = sorted({f for per in fields.values() for f in per})
    matrix: list[list[Cell]] = [
        [str(path), *(percent(per.get(f)) if per.get(f) is not None else "—" for f in names)]
        for path, per in sorted(fields.items())
    ]
    grade = str(cov["grade"])
    return Section(
        5,
        "Coverage",
        [
            Facts(
                [
                    ("Grade", f"{grade} — {GRADE_WORDS.get(grade, '?')}"),
                    ("Share of the window with logs", percent(cov["ratio"])),
                    ("Covered", duration(cov["covered_s"])),
                    ("Without logs", duration(cov["uncovered_s"])),
                    ("Why this grade", list(cov["grade_reasons"]) or ["—"]),
                ]
            ),
            Figure(
                "coverage",
                "Coverage timeline: the window (pale band), periods without logs (hatched), events per "
                "day and source.",
            ),
            Heading("Periods without logs"),
            Table(
                ["Start", "End", "Length", *(["What"] if unparsed else [])],
                gaps,
                empty="no period without logs in the window",
            ),
            *(
                [Para("For these periods no logs exist; we can neither confirm nor exclude access then.")]
                if len(gaps) > len(unparsed)
                else []
            ),
            *(
                [
                    Para(
                        f"For {count(len(unparsed), 'period')} marked \u201clogs not parsed\u201d logs exist "
                        f"but were not parsed: {num(lines)} rejected log lines fall in them (a changed "
                        "layout or corrupt lines). Until they are read we can neither confirm nor exclude "
                        "access then: see `forensics sources` and the rejects table, then `forensics "
                        "forget` the file and ingest it again with --log-format (its layout) or --format."
                    )
                ]
                if unparsed
                else []
            ),
            Heading("Field availability (share of events carrying each field)"),
            Table(
                ["Source", *names],
                matrix,
                numeric=frozenset(range(1, len(names) + 1)),
                text=frozenset({0}),
                empty="not measured",
            ),
        ],
    )


def _flat(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(_flat(v) for v in value) or "—"
    if isinstance(value, dict):
        return "; ".join(f"{k} = {_flat(v)}" for k, v in sorted(value.items())) or "—"
    if value is None:
        return "—"
    if isinstance(value, bool):
        return yes_no(value)
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    """A finding's metrics for reading: record lists per reason become counts (findings.json and
    affected_records.csv hold the ids)."""
    why = metrics.get("records_by_reason")
    if not isinstance(why, dict):
        return metrics
    counts = {reason: count(len(ids), "record") for reason, ids in why.items()}
    return {**metrics, "records_by_reason": counts}


def _method(doc: dict[str, Any]) -> Section:
    opts: dict[str, Any] = doc["parameters"].get("detect_options") or {}
    per_detector: dict[str, dict[str, Any]] = {}
    for f in doc["findings"]:
        per_detector.setdefault(str(f["detector"]), {}).update(f["evidence"].get("thresholds") or {})
    return Section(
        6,
        "Method and thresholds",
        [
            Para(
                "Every request in the window to an exposed endpoint is attributed to a caller: "
                "authenticated (a logged principal, or a successful login from the same address and "
                "user agent within the session lifetime), trusted (a declared partner network), "
                "unauthenticated, or unknown. Requests are grouped into sessions and sessions into "
                "actors on evidence only. Detectors (SQL over the case) flag actors and routes; a "
                "record counts as confirmed only when a record-bearing 2xx response went to an actor "
                "shown to be unauthorised. Estimated records (bulk responses) are kept apart."
            ),
            Heading("Detector options"),
            Facts([(str(k), _flat(v)) for k, v in sorted(opts.items())] or [("options", "defaults")]),
            Heading("Thresholds of the detectors that fired"),
            Table(
                ["Detector", "Thresholds"],
                [[name, _flat(th)] for name, th in sorted(per_detector.items())],
                empty="no detector fired",
            ),
        ],
    )


def _unauthorised(actor: dict[str, Any]) -> str:
    """The actor's status, with the findings that show it (the same words everywhere)."""
    if not actor["unauthorised"]:
        return "no"
    return "yes (" + ", ".join(f"#{i}" for i in actor.get("unauthorised_by") or []) + ")"


def _listed(actor: dict[str, Any]) -> str:
    return f"{num(actor['confirmed_records'])} / {num(actor['probable_records'])}"


def _actors(doc: dict[str, Any]) -> Section:
    rows: list[list[Cell]] = [
        [
            str(a["id"]),
            str(a["classification"])
            + ("; hosting provider: " + ", ".join(a["hosting"]) if a.get("hosting") else ""),
            _unauthorised(a),
            cell_list(a["ips"]),
            cell_list(a["user_agents"]),
            cell_list(a["principals"]),
            num(a["requests"]),
            num(a["records"]),
            _listed(a),
            num(a["estimated_records"], "—"),
            size(a["bytes"]),
            period(a["first_seen"], a["last_seen"]),
            cell_list(a["detectors"]),
            cell_list(a.get("link_reasons", [])),
        ]
        for a in doc["actors"]
    ]
    listed, total = len(doc["actors"]), doc["actor_counts"]["listed"]
    more = (
        f" The first {num(listed)} of {num(total)} are listed; findings.json's case keeps all."
        if total > listed
        else ""
    )
    return Section(
        7,
        "Actors",
        [
            Para(
                "Actors that reached the exposed endpoints in the window or have findings in it, "
                "unauthorised first. Unauthorised: a finding in the window shows it (the findings are "
                "named; section 9). Every number counts the window only: requests are all the actor's "
                "requests (every route, so a bulk read of a list endpoint counts); records received are "
                "distinct record ids in record-bearing answers on the exposed endpoints; listed are its "
                "records in affected_records.csv (confirmed / probable); estimated are records inside its "
                "bulk responses (ids not logged, not in the CSV). Seen is the actor's first and last "
                "request in all the logs. Classes are claims checked against the evidence (a crawler "
                "user agent is unverified offline). Linked because: the evidence that tied the actor's "
                "sessions together, per link rule (empty: one session)." + more
            ),
            Table(
                [
                    "Actor",
                    "Class",
                    "Unauthorised",
                    "Addresses",
                    "User agents",
                    "Principals",
                    "Requests",
                    "Records received",
                    "Listed (confirmed / probable)",
                    "Estimated (bulk)",
                    "Bytes",
                    "Seen (UTC)",
                    "Detectors",
                    "Linked because",
                ],
                rows,
                numeric=frozenset({6, 7, 8, 9, 10}),
                text=frozenset({4, 5, 13}),
                nowrap=frozenset({11}),
                empty="no actor reached the endpoints or has a finding in the window",
            ),
        ],
    )


def _access(doc: dict[str, Any]) -> Section:
    return Section(
        8,
        "Access to the exposed endpoints",
        [
            Figure(
                "endpoint_daily",
                "Requests per day to each exposed endpoint (list and bulk endpoints too) by response "
                "status; the dashed line is unauthenticated requests.",
            ),
            Figure(
                "scatter",
                "Record id against time, one panel per attacker session, each zoomed to its own span: "
                "an enumeration shows as a diagonal.",
            ),
            Figure(
                "response_sizes",
                "Response sizes per endpoint (log scales), list and bulk endpoints too: bulk responses "
                "stand out on the right; the largest is marked.",
            ),
        ],
    )


def _excerpt_lines(finding: dict[str, Any], excerpts: dict[int, list[dict[str, Any]]]) -> list[str]:
    raw = excerpts.get(int(finding["id"]))
    if raw:
        return [f"{e['path']}:{e['line_no']}: {cut(e.get('line'), LINE_CHARS)}" for e in raw]
    sample = finding["evidence"].get("sample") or []
    return [f"{e['path']}:{e['line_no']} (raw line not read back)" for e in sample]


def _actor_status(actor: dict[str, Any]) -> str:
    if not actor["unauthorised"]:
        status = "Not shown unauthorised: none of its findings in the window shows it."
    else:
        by = ", ".join(f"#{i}" for i in actor.get("unauthorised_by") or [])
        status = f"Unauthorised: shown by finding {by}."
    return status + _actor_identity(actor)


def _actor_identity(actor: dict[str, Any]) -> str:
    """Who the actor is and why: its class's reason, what tied its sessions, its authentication."""
    out = ""
    if actor.get("class_reason"):
        out += f" Class {actor['classification']}: {actor['class_reason']}."
    links = actor.get("link_reasons") or []
    out += (
        " Sessions tied by: " + "; ".join(links) + "."
        if links
        else " One session (nothing tied it to other sessions)."
    )
    if actor.get("auth_evidence"):
        out += " Authentication evidence: " + "; ".join(actor["auth_evidence"]) + "."
    return out


def _finding_status(finding: dict[str, Any], actor: dict[str, Any] | None) -> str:
    """The caller's status beside each finding: the actor's, saying whether this finding shows it."""
    if finding["actor"] is None:
        return "— (a finding about an endpoint, not a caller)"
    if actor is None:  # not listed (more than MAX_LISTED actors): the finding's own flag
        return "yes (this finding shows it)" if finding["unauthorised"] else "not shown by this finding"
    if not actor["unauthorised"]:
        return "no (no finding in the window shows it)"
    if finding["unauthorised"]:
        return "yes (this finding shows it)"
    by = ", ".join(f"#{i}" for i in actor.get("unauthorised_by") or [])
    return f"yes (shown by {by}; this finding alone does not show it)"


def _findings(doc: dict[str, Any], excerpts: dict[int, list[dict[str, Any]]]) -> Section:
    blocks: list[Block] = []
    order = {a["id"]: i for i, a in enumerate(doc["actors"])}
    actors = {a["id"]: a for a in doc["actors"]}
    by_actor = sorted(
        doc["findings"],
        key=lambda f: (f["actor"] is None, order.get(f["actor"], len(order)), str(f["actor"]), f["id"]),
    )
    if not by_actor:
        blocks.append(Para("No detector produced a finding in the window."))
    current: object = object()
    for f in by_actor:
        if f["actor"] != current:
            current = f["actor"]
            blocks.append(Heading("Unattributed" if current is None else f"Actor {current}"))
            if current in actors:
                blocks.append(Para(_actor_status(actors[current])))
        est = f.get("estimated_records")
        blocks.append(
            Facts(
                [
                    ("Finding", f"#{f['id']} {f['detector']}: {f['title']}"),
                    ("Severity", str(f["severity"])),
                    ("Route", str(f["route"] or "—")),
                    ("Period", span(f["first_seen"], f["last_seen"])),
                    (
                        "Scale",
                        f"{count(f['count'], 'request')}, {count(f['records'], 'record')} (distinct ids)"
                        + (f", about {count(est, 'record')} estimated from bulk responses" if est else ""),
                    ),
                    ("Unauthorised caller", _finding_status(f, actors.get(f["actor"]))),
                    ("Caller's authentication", str(f["evidence"].get("caller") or "—")),
                    *([("Caveat", str(f["evidence"]["caveat"]))] if f["evidence"].get("caveat") else []),
                    ("Metrics", _flat(_metrics(f["evidence"].get("metrics") or {}))),
                ]
            )
        )
        lines = _excerpt_lines(f, excerpts)
        if lines:
            blocks.append(Pre(lines, caption="Raw evidence lines (file:line)"))
    return Section(9, "Findings per actor, with raw evidence", blocks)


def _estimate(doc: dict[str, Any]) -> Section:
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


def _statistics(doc: dict[str, Any]) -> Section:
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
    if b.get("expected_max") is not None:
        facts.append(("Upper bound on expected events", f"{float(b['expected_max']):,.2f}"))
    if b.get("p_any_max") is not None:
        facts.append(("Upper bound on the chance of any event", percent(b["p_any_max"])))
    return Section(11, "Statistical statements", [Para(str(b["statement"])), Facts(facts)])


def _headline(doc: dict[str, Any]) -> str:
    """The verdict's words, and how little of the window the logs cover when they cover it in part."""
    words = VERDICT_WORDS.get(str(doc["verdict"]), str(doc["verdict"]))
    ratio = float(doc["coverage"]["ratio"])
    if doc["verdict"] != "cannot_tell" and ratio < 0.99:
        words += f" — the logs cover {ratio:.0%} of the window"
    return words


def _verdict(doc: dict[str, Any]) -> Section:
    return Section(
        12,
        "Verdict and reasoning",
        [
            Verdict(
                str(doc["verdict"]),
                _headline(doc),
                str(doc["verdict_text"]),
            ),
            Heading("Reasoning"),
            Items([str(x) for x in doc["reasoning"]] or ["—"]),
            Heading("Alternative explanations considered"),
            Items([str(x) for x in doc["alternatives"]] or ["none recorded"]),
            Para(f"Verdict scale: {VERDICT_SCALE}.", style="note"),
        ],
    )


def _regulatory(doc: dict[str, Any]) -> Section:
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


def _limitations(doc: dict[str, Any]) -> Section:
    return Section(14, "Limitations", [Items([str(x) for x in doc["limitations"]] or ["none recorded"])])


def _reproduce(doc: dict[str, Any]) -> Section:
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
