"""The report's content, once: the METHOD.md sections as typed blocks of plain text.

Both renderers (html.py, markdown.py) lay out the same blocks, so the HTML page and the Markdown
text never say different things. Every string here is plain text: log text is NOT escaped yet
(each renderer escapes for its medium) and nothing here is markup. Numbers are formatted with
their units; times are the document's ISO strings shown as ``YYYY-MM-DD HH:MM:SS UTC``.
No wall-clock time is read: the same assessment gives the same content.
"""

from __future__ import annotations

import hashlib
import posixpath
from datetime import datetime
from pathlib import PurePath
from typing import Any

from forensics.assessment import Assessment
from forensics.report.answer import answer
from forensics.report.blocks import (
    GDPR_FIELDS,
    GRADE_WORDS,
    HIPAA_FIELDS,
    LINE_CHARS,
    VERDICT_SCALE,
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
    cell_list,
    count,
    cut,
    duration,
    evidence_digest,
    headline,
    natural_key,
    num,
    percent,
    period,
    size,
    span,
    verified,
    when,
    yes_no,
)

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

FILES_BESIDE = (
    "findings.json: the assessment document every number here comes from",
    "affected_records.csv: every record id delivered to an unauthorised caller",
    "actors.csv: every actor (section 7 shows the ones that matter)",
    "findings.csv: every finding (section 9 shows the most severe)",
    "evidence.csv: every evidence file with its SHA-256 and field shares (sections 4 and 5)",
    "timeline.jsonl: the requests behind the findings, for a timeline tool",
    "report.pdf: this report on A4",
)
ACTOR_ROWS = 6  # actors in section 7 besides the unauthorised ones (all of which are shown)
FINDING_DETAILS = 6  # high/medium findings shown in full in section 9
EVIDENCE_ROWS = 8  # evidence files in sections 4 and 5
GAP_ROWS = 12  # periods without logs in section 5
EXCERPT_LINES = 3  # raw evidence lines shown per finding (findings.csv names the whole sample)
EXCERPT_FILES = 3  # files whose line numbers are named for a finding whose raw lines were not read back

# --- sections -----------------------------------------------------------------------------------


def build(assessment: Assessment) -> Content:
    doc = assessment.document
    sections = [
        _document_control(doc, document_sha256(assessment)),
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
        verdict_headline=headline(doc),
        answer=answer(doc),
        footer=f"Case {case_name(doc)} · findings.json SHA-256 {document_sha256(assessment)}",
        sections=sections,
    )


def listed_total(doc: dict[str, Any], kind: str) -> int:
    """How many actors/findings the case has (findings.json lists at most ``listed.max``)."""
    listed = doc.get("listed") or {}
    return int(listed.get(f"{kind}_total", len(doc[kind])))


def case_name(doc: dict[str, Any]) -> str:
    """The case file's name (its folder is the investigator's, not the report's business)."""
    return PurePath(str(doc["case"]["path"])).name


def document_sha256(assessment: Assessment) -> str:
    """SHA-256 of findings.json as written beside the report: the report names the document it shows."""
    from forensics.export import findings_json  # export.py imports this package's helpers

    return hashlib.sha256(findings_json(assessment).encode("utf-8")).hexdigest()


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


def _document_control(doc: dict[str, Any], digest: str) -> Section:
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


def evidence_root(doc: dict[str, Any]) -> str:
    """The folder every evidence file is in (paths in the report are shown relative to it)."""
    folders = [posixpath.dirname(str(src["path"])) for src in doc["sources"]]
    if not folders:
        return ""
    try:
        root = posixpath.commonpath(folders)
    except ValueError:  # absolute and relative paths mixed
        return ""
    return "" if root in ("", "/") else root


def relative(path: Any, root: str) -> str:
    text = str(path)
    return text[len(root) + 1 :] if root and text.startswith(root + "/") else text


def sorted_sources(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Evidence files in natural order (``access.log.2`` before ``access.log.10``)."""
    return sorted(doc["sources"], key=lambda src: natural_key(src["path"]))


def _notable(src: dict[str, Any]) -> bool:
    """A file a reader must see: changed or gone since ingest, lines rejected, warnings, a duplicate."""
    return bool(
        src.get("sha256_verified") is not True
        or src.get("rejected")
        or src.get("warnings")
        or src.get("duplicate_of")
    )


def shown_sources(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The files section 4 lists, in natural order: every notable one, then the others up to
    ``EVIDENCE_ROWS`` rows."""
    files = sorted_sources(doc)
    notable = [src for src in files if _notable(src)]
    quiet = [src for src in files if not _notable(src)][: max(0, EVIDENCE_ROWS - len(notable))]
    chosen = {id(src) for src in notable + quiet}
    return [src for src in files if id(src) in chosen]


def _inventory(doc: dict[str, Any]) -> Section:
    events, root = doc["events"], evidence_root(doc)
    shown = shown_sources(doc)
    rows: list[list[Cell]] = [
        [
            relative(s["path"], root),
            str(s.get("format") or "—"),
            period(s.get("first_ts"), s.get("last_ts")),
            str(s.get("sha256") or "—"),
            num(s.get("events"), "—"),
            num(s.get("rejected"), "—"),
            [f"duplicate of {relative(s['duplicate_of'], root)}"] * bool(s.get("duplicate_of"))
            + [cut(w) for w in s.get("warnings") or []]
            or ["—"],
            verified(s.get("sha256_verified")),
        ]
        for s in shown
    ]
    chosen = {id(s) for s in shown}
    quiet = [s for s in doc["sources"] if id(s) not in chosen]
    more = ""
    if quiet:
        more = (
            f"{count(len(quiet), 'more file')}, each re-verified unchanged with no rejected line, warning "
            f"or duplicate ({count(sum(int(s.get('events') or 0) for s in quiet), 'event')}): "
            "evidence.csv lists every file with its SHA-256."
        )
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
                "report; exact duplicates are recorded and not read twice. Files that changed, have "
                "rejected lines, warnings or duplicates are always listed."
            ),
            Facts([("Evidence folder", root or "— (paths as given)")]),
            Table(
                [
                    "File",
                    "Format",
                    "Events from (UTC)",
                    "SHA-256",
                    "Events",
                    "Rejected",
                    "Notes",
                    "Re-verified",
                ],
                rows,
                numeric=frozenset({4, 5}),
                text=frozenset({0, 6}),
                mono=frozenset({3}),
                nowrap=frozenset({2}),
                empty="no evidence files",
                more=more,
            ),
        ],
    )


def _coverage(doc: dict[str, Any]) -> Section:
    cov = doc["coverage"]
    unparsed = [g for g in cov["gaps"] if g.get("kind") == "unparsed"]
    gaps: list[list[Cell]] = []
    longest = sorted(cov["gaps"], key=lambda g: -(_seconds_between(g["start"], g["end"]) or 0))[:GAP_ROWS]
    hidden = [g for g in cov["gaps"] if all(g is not x for x in longest)]
    for g in [g for g in cov["gaps"] if any(g is x for x in longest)]:
        row: list[Cell] = [when(g["start"]), when(g["end"]), duration(_seconds_between(g["start"], g["end"]))]
        if unparsed:  # a column saying which periods have logs that were not parsed
            row.append(
                f"logs not parsed: {num(g['rejected_lines'])} rejected lines" if g in unparsed else "no logs"
            )
        gaps.append(row)
    lines = sum(int(g.get("rejected_lines") or 0) for g in unparsed)
    fields: dict[str, dict[str, Any]] = cov.get("fields") or {}
    names = sorted({f for per in fields.values() for f in per})
    root, paths = evidence_root(doc), sorted(fields, key=natural_key)
    matrix: list[list[Cell]] = [
        [
            relative(path, root),
            *(percent(fields[path].get(f)) if fields[path].get(f) is not None else "—" for f in names),
        ]
        for path in paths[:EVIDENCE_ROWS]
    ]
    more_fields = (
        f"{count(len(paths) - EVIDENCE_ROWS, 'more file')}: evidence.csv gives every file's field shares."
        if len(paths) > EVIDENCE_ROWS
        else ""
    )
    more_gaps = (
        f"{count(len(hidden), 'shorter period')} without logs not listed "
        f"({duration(sum(_seconds_between(g['start'], g['end']) or 0 for g in hidden))} in all): "
        "findings.json lists every one (coverage.gaps)."
        if hidden
        else ""
    )
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
                more=more_gaps,
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
                more=more_fields,
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


def shown_actors(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The actors section 7 shows: every unauthorised one, then the first ``ACTOR_ROWS`` others."""
    bad = [a for a in doc["actors"] if a["unauthorised"]]
    others = [a for a in doc["actors"] if not a["unauthorised"]]
    return bad + others[:ACTOR_ROWS]


def _actor_row(a: dict[str, Any]) -> list[Cell]:
    return [
        str(a["id"]),
        str(a["classification"])
        + ("; hosting provider: " + ", ".join(a["hosting"]) if a.get("hosting") else ""),
        _unauthorised(a),
        cell_list(a["ips"], 3),
        cell_list([cut(u, 60) for u in a["user_agents"]], 2),
        cell_list(a["principals"], 3),
        num(a["requests"]),
        num(a["records"]),
        _listed(a),
        num(a["estimated_records"], "—"),
        size(a["bytes"]),
        period(a["first_seen"], a["last_seen"]),
    ]


def _all_bad_listed(doc: dict[str, Any]) -> bool:
    listed = sum(1 for a in doc["actors"] if a["unauthorised"])
    return listed == int(doc["actor_counts"]["unauthorised"])


def _actors(doc: dict[str, Any]) -> Section:
    shown = shown_actors(doc)
    total = listed_total(doc, "actors")
    rest = total - len(shown)
    more = ""
    if rest > 0:
        more = (
            f"{count(rest, 'more actor')} not shown here"
            + (", none of them shown unauthorised" if _all_bad_listed(doc) else "")
            + ": actors.csv lists "
            f"every actor of findings.json ({num(len(doc['actors']))}"
            + (f" of {num(total)}; the case keeps all" if total > len(doc["actors"]) else "")
            + ") with its detectors and why its sessions were linked."
        )
    return Section(
        7,
        "Actors",
        [
            Para(
                "Actors that reached the exposed endpoints in the window or have findings in it: every "
                "unauthorised one, then the busiest others. Unauthorised: a finding in the window shows it "
                "(the findings are named; section 9). Every number counts the window only: requests are all "
                "the actor's requests (every route, so a bulk read of a list endpoint counts); records "
                "received are distinct record ids in record-bearing answers on the exposed endpoints; listed "
                "are its records in affected_records.csv (confirmed / probable); estimated are records "
                "inside its bulk responses (ids not logged, not in the CSV). Seen is the actor's first and "
                "last request in all the logs. Classes are claims checked against the evidence (a crawler "
                "user agent is unverified offline)."
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
                ],
                [_actor_row(a) for a in shown],
                numeric=frozenset({6, 7, 8, 9, 10}),
                text=frozenset({3, 4, 5}),
                nowrap=frozenset({11}),
                empty="no actor reached the endpoints or has a finding in the window",
                more=more,
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


def _excerpt_lines(
    finding: dict[str, Any], excerpts: dict[int, list[dict[str, Any]]], root: str
) -> list[str]:
    raw = excerpts.get(int(finding["id"]))
    if raw:
        shown = [f"{relative(e['path'], root)}:{e['line_no']}: {cut(e.get('line'), LINE_CHARS)}" for e in raw]
        if len(shown) > EXCERPT_LINES:
            rest = len(shown) - EXCERPT_LINES
            shown = [*shown[:EXCERPT_LINES], f"… {count(rest, 'more line')} of the sample: findings.csv"]
        return shown
    lines: dict[str, list[str]] = {}
    for e in finding["evidence"].get("sample") or []:
        lines.setdefault(relative(e["path"], root), []).append(num(e["line_no"]))
    files = sorted(lines, key=natural_key)
    said = [f"{path}: line {', '.join(lines[path])}" for path in files[:EXCERPT_FILES]]
    if len(files) > EXCERPT_FILES:
        said.append(f"and {count(len(files) - EXCERPT_FILES, 'more file')}")
    return [f"Sample (raw lines not read back): {'; '.join(said)}"] if said else []


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
    # the rule only: its examples (networks, ids, fingerprints) are in actors.csv
    links = [str(r).split(", e.g. ")[0] for r in actor.get("link_reasons") or []]
    out += (
        " Sessions tied by: " + "; ".join(links) + " (examples: actors.csv)."
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


SEVERITY_RANK = {"high": 0, "medium": 1, "low": 2}


def detailed_findings(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The findings section 9 shows in full: the most severe (high, then medium), those that show a
    caller unauthorised first, at most ``FINDING_DETAILS``."""
    order = {a["id"]: i for i, a in enumerate(doc["actors"])}
    serious = [f for f in doc["findings"] if f["severity"] in ("high", "medium")]
    serious.sort(
        key=lambda f: (
            SEVERITY_RANK[f["severity"]],
            not f["unauthorised"],
            order.get(f["actor"], len(order)),
            f["id"],
        )
    )
    return serious[:FINDING_DETAILS]


def _finding_facts(f: dict[str, Any], actors: dict[Any, dict[str, Any]]) -> Facts:
    est = f.get("estimated_records")
    return Facts(
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


def _findings(doc: dict[str, Any], excerpts: dict[int, list[dict[str, Any]]]) -> Section:
    root = evidence_root(doc)
    blocks: list[Block] = []
    order = {a["id"]: i for i, a in enumerate(doc["actors"])}
    actors = {a["id"]: a for a in doc["actors"]}
    shown = detailed_findings(doc)
    total = listed_total(doc, "findings")
    blocks.append(
        Para(
            f"{count(total, 'finding')} in the window. The {count(len(shown), 'most severe finding')} "
            "(high, then medium; those showing a caller unauthorised first) are shown in full with raw "
            "evidence lines (file:line, paths relative to the evidence folder of section 4); the others "
            "are summed up one row per detector and severity below. findings.csv lists every finding."
            if total
            else "No detector produced a finding in the window."
        )
    )
    by_actor = sorted(
        shown, key=lambda f: (f["actor"] is None, order.get(f["actor"], len(order)), str(f["actor"]), f["id"])
    )
    current: object = object()
    for f in by_actor:
        if f["actor"] != current:
            current = f["actor"]
            blocks.append(Heading("Unattributed" if current is None else f"Actor {current}"))
            if current in actors:
                blocks.append(Para(_actor_status(actors[current])))
        blocks.append(_finding_facts(f, actors))
        lines = _excerpt_lines(f, excerpts, root)
        if lines:
            blocks.append(Pre(lines, caption="Raw evidence lines (file:line)"))
    rest = [f for f in doc["findings"] if f not in shown]
    if rest:
        blocks += [
            Heading("The other findings, one row per detector and severity"),
            _finding_summary(doc, rest),
        ]
    return Section(9, "Findings per actor, with raw evidence", blocks)


def _finding_summary(doc: dict[str, Any], rest: list[dict[str, Any]]) -> Table:
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for f in rest:
        groups.setdefault((str(f["severity"]), str(f["detector"])), []).append(f)
    rows: list[list[Cell]] = []
    for (sev, det), fs in sorted(groups.items(), key=lambda kv: (SEVERITY_RANK.get(kv[0][0], 9), kv[0][1])):
        callers = {f["actor"] for f in fs if f["actor"] is not None}
        rows.append(
            [
                f"{det}: {fs[0]['title']}",
                sev,
                num(len(fs)),
                num(len(callers)),
                num(sum(1 for f in fs if f["unauthorised"])),
                num(sum(int(f["count"] or 0) for f in fs)),
                period(min(str(f["first_seen"]) for f in fs), max(str(f["last_seen"]) for f in fs)),
            ]
        )
    unlisted = listed_total(doc, "findings") - len(doc["findings"])
    more = "findings.csv lists each of these findings with its actor, route, counts and sample lines."
    if unlisted > 0:
        more += f" {count(unlisted, 'further finding')} beyond findings.json's list stay in the case."
    return Table(
        ["Detector", "Severity", "Findings", "Actors", "Showing unauthorised", "Requests", "Period (UTC)"],
        rows,
        numeric=frozenset({2, 3, 4, 5}),
        nowrap=frozenset({6}),
        more=more,
    )


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


def _verdict(doc: dict[str, Any]) -> Section:
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
