"""The exposure assessment: was data taken in the window, which records, by whom, how sure.

``assess(case, options)`` runs the detectors (detect.py), establishes the window (given, or
proposed from the status-flip evidence), measures coverage (coverage.py) and computes, only
from the window and only from covered time:

* the window's findings (``_wf``: findings overlapping it) and per actor over them (``_wa``): an
  actor is unauthorised when one of them shows it — the one definition every file uses;
* records — ``confirmed``: distinct record ids a record-bearing 2xx delivered, inside the window,
  to an actor a finding in the window shows unauthorised (H1 unauthenticated reads, H2 reads outside the
  caller's own records), only the records those findings name; ``probable``: records delivered in
  the window to actors with high-severity enumeration/outlier findings whose authentication the
  logs could not judge (``auth_state = 'unknown'``), not already confirmed; ``estimated_bulk``:
  records inside unauthorised bulk responses (ids not in the logs — never added to the others);
  ``at_risk``: everything reachable through the flaw — the owner's record count when given
  (``records_total``), else the integer id range seen on the endpoints, else the distinct ids seen;
  the requests that delivered them are ``_delivered`` (with their basis): affected_records.csv,
  ``requests``, the actors' confirmed/probable counts and the timeline's per-request flags;
* the verdict (assessment.VERDICTS) with its reasoning, and the zero-event bound for uncovered
  time where no qualifying event was observed.

Parameters are checked against the evidence before anything is judged (a typo must not become a
verdict): a case without events, a window no evidence overlaps, endpoints that match no request
and a ``--login`` that no successful request matches are refused (``ForensicsError`` subclasses
naming what the logs do hold); a ``--trusted`` network that holds no client address is named in
the limitations (``parameters.trusted_unmatched``). Without ``--login`` on logs that name no user
the likely login endpoints are proposed (``parameters.login_proposed``) and the verdict says the
authentication of those requests cannot be judged.

**Cannot tell.** When the window's coverage is too poor to judge — no event in the window,
grade D, or less than ``CANNOT_TELL_RATIO`` (half) of the window covered — a verdict that would
have said "nothing found" (``no_evidence``/``excluded``) is ``cannot_tell`` instead: the logs
cannot answer. Why half: below it the logs leave more of the window unseen than they show, and
the zero-event bound for the uncovered time (rule of three, coverage.bound) exceeds 3 expected
events with P(≥1) above 95% — an absence of findings then says nothing about the window.
Findings in covered time (possible/likely/confirmed) stand whatever the coverage: they are
observations, and their text says how little of the window the logs cover.

The document and frames go into ``Assessment`` (assessment.py); writers render it. Nothing here
depends on the wall clock: the same evidence and parameters give the same document.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from forensics.assess.assessment import EVENT_VERDICTS, SCHEMA, Assessment
from forensics.assess.coverage import Coverage, CoverageOptions, compute_coverage
from forensics.assess.window import Window, iso_z
from forensics.assess.zero_event import ZeroEventBound, events_observed, human_duration, period_text
from forensics.derive.auth import (
    EXPIRED,
    NETWORK,
    RESUMED,
    ROAMING,
    SETTLES,
    SHARED_ADDRESS,
    STILL_ANSWERED,
    principals_missing,
    proposals_text,
    propose_logins,
    unused_logins,
)
from forensics.derive.network import unmatched_trusted
from forensics.derive.ownership import OwnershipCheck
from forensics.derive.routes import ensure_routes
from forensics.detectors import REGISTRY
from forensics.detectors.base import SEVERITIES
from forensics.detectors.out_of_scope import BASIS_INFERRED, BASIS_MAP
from forensics.detectors.run import DetectOptions, finding_requests, run_detectors
from forensics.errors import EmptyCaseError, EndpointError, ForensicsError, LoginEndpointError, WindowError
from forensics.ingest.evidence import describe
from forensics.store.case import Case, apply_comments, tool_version
from forensics.store.stages import stage

TOP_ACTORS = 8  # actors in the record-id scatter
EXCERPT_LINES = 3  # raw lines shown per finding
SIZE_SAMPLE = 20000  # response sizes per route for the histogram
SUSPICIOUS = ("enumeration", "distinct_outlier")  # detectors whose records can be 'probable'
# Route-level findings (no actor, e.g. distributed_walk) with one row per record id they name:
# hash-joined to the reads (a list_contains over a million-id list per read would not finish; the
# actors' unauthorised_records are joined the same way in confirmed_reads).
ROUTE_IDS = """
    SELECT f.route, f.unauthorised, f.severity, f.first_seen, f.last_seen, u.record_id
    FROM _wf f, unnest(f.record_ids) AS u(record_id)
    WHERE f.actor_id IS NULL AND f.detector IN ('distributed_walk')"""
# Actors and findings listed in the document (most severe first); the rest are counted in
# ``listed`` and stay in the case (tables actors, findings): bounded memory on huge cases.
MAX_LISTED = 5000
# Below this share of the window covered by logs, "nothing found" becomes "cannot tell" (see above).
CANNOT_TELL_RATIO = 0.5
# At or above this share the window is covered completely (coverage.py's grade A/B line).
COMPLETE_RATIO = 0.99


@dataclass(frozen=True)
class InvestigateOptions:
    detect: DetectOptions = field(default_factory=DetectOptions)
    window: Window | None = None  # None: proposed from the status-flip evidence
    records_total: int | None = None  # the owner's count of records reachable through the flaw
    command: str = ""  # the command line, for "how to reproduce"


def assess(case: Case, options: InvestigateOptions | None = None) -> Assessment:
    opts = options or InvestigateOptions()
    first_log, last_log = _evidence_span(case)
    if opts.window is not None:
        _check_window(opts.window, first_log, last_log)
        opts = _answered_after(opts, opts.window.end)
    logins = opts.detect.actors.auth.logins
    unused = unused_logins(case, logins)
    if unused:
        ensure_routes(case)
        raise LoginEndpointError(_unused_logins_text(unused, propose_logins(case)))
    detected = run_detectors(case, opts.detect)
    unmatched = detected.routes.unmatched
    if unmatched and len(unmatched) == len(opts.detect.routes.endpoints):
        raise EndpointError(
            _unmatched_text(unmatched, "no endpoint given matched any request"), candidates=unmatched
        )
    # without --login, requests of sources that name no user cannot be judged (auth_state unknown)
    unjudgeable = not logins and principals_missing(case)
    proposed_logins = detected.actors.auth.proposed_logins if unjudgeable else []
    window, window_source, window_evidence = _window(
        case, opts.window, proposals_text(proposed_logins) if unjudgeable else None
    )
    trusted_unmatched = unmatched_trusted(case, opts.detect.actors.auth.trusted)
    con = case.con
    with stage(con, "assess: coverage") as s:
        coverage = compute_coverage(case, window, CoverageOptions(logins=logins))
        apply_comments(con)  # coverage_hourly was re-created
        s.rows = coverage.events
    with stage(con, "assess: the window's numbers"):
        made = make_window_tables(case, window.start, window.end)
        records = _records(case, opts.records_total)
    unknown = _scalar(
        case,
        f"""SELECT count(*) FROM detect_requests d WHERE d.record_route AND d.auth_state = 'unknown'
            AND {IN_WINDOW}""",
    )
    auth_note = _auth_note(unknown, proposed_logins) if unjudgeable and unknown else None
    with stage(con, "assess: actors") as s:
        actors, actors_total = _actors(case)
        actor_counts = _actor_counts(case, actors_total)
        s.rows = actors_total
    verdict, text, reasoning, alternatives = _verdict(case, coverage, records, actor_counts, auth_note)
    bound = _bounds(coverage, verdict)
    endpoints = [e.text for e in opts.detect.routes.endpoints] or _proposed_endpoints(case)
    events = _event_counts(case)
    found, found_total = _findings(case)
    doc: dict[str, Any] = {
        "schema": SCHEMA,
        "tool": {"name": "access-log-forensics", "version": tool_version()},
        "case": {"path": str(case.path), "engine": case.engine},
        "parameters": {
            "endpoints": endpoints,
            "endpoints_source": "given" if opts.detect.routes.endpoints else "proposed",
            "endpoints_unmatched": unmatched,
            "login": [e.text for e in logins],
            "login_proposed": [{"route": r, "successful": n} for r, n in proposed_logins],
            "trusted": [str(t) for t in opts.detect.actors.auth.trusted],
            "trusted_unmatched": trusted_unmatched,
            "ownership": _ownership(opts, detected.ownership),
            "out_of_scope_basis": BASIS_MAP if detected.ownership else BASIS_INFERRED,
            "window_source": window_source,
            "records_total": opts.records_total,
            "detect_options": opts.detect.to_dict(),
            "command": opts.command,
        },
        "window": {**window.to_dict(), "source": window_source, "evidence": window_evidence},
        "coverage": _coverage_doc(coverage),
        "events": events,
        "sources": _sources(case),
        "verdict": verdict,
        "verdict_text": text,
        "reasoning": reasoning,
        "alternatives": alternatives,
        "records": records,
        "requests": {
            "to_endpoints": events["to_endpoints_in_window"],
            "unauthorised": _scalar(case, "SELECT count(*) FROM _delivered WHERE basis = 'confirmed'"),
            "probable": _scalar(case, "SELECT count(*) FROM _delivered WHERE basis = 'probable'"),
            "auth_unknown": unknown,
            "auth_ambiguous": _scalar(
                case,
                "SELECT count(*) FROM detect_requests d WHERE d.record_route AND d.auth_ambiguous "
                f"AND {IN_WINDOW}",
            ),
        },
        "actor_counts": actor_counts,
        "actors": actors,
        "findings": found,
        "listed": {"max": MAX_LISTED, "actors_total": actors_total, "findings_total": found_total},
        "bounds": {
            "applies": verdict not in EVENT_VERDICTS,
            "statement": bound.statement,
            "covered_s": bound.covered_s,
            "uncovered_s": bound.uncovered_s,
            "expected_max": bound.expected_uncovered,
            "p_any_max": bound.p_any_uncovered,
        },
        "regulatory": _regulatory(window, records, verdict, coverage, actor_counts),
        "limitations": [
            *(f"The endpoint {ep} matched no request in the case{_close(c)}." for ep, c in unmatched.items()),
            *(
                f"The trusted network {t} (--trusted) holds no client address in the case: it trusted "
                "nobody; check the range (a partner it was meant to cover may show as unauthorised)."
                for t in trusted_unmatched
            ),
            *([auth_note] if auth_note else []),
            *_attribution_limits(case),
            *_ownership_limitations(detected.ownership, detected.findings.get("out_of_scope", 0)),
            *_limitations(case, coverage),
        ],
        "reproduce": {"command": opts.command, "tool_version": tool_version(), "sql": dict(NUMBER_SQL)},
        "pseudonymisation": None,  # set when written pseudonymised (pseudonymise.py)
        "sigma": _sigma_run(case),
    }
    assessment = Assessment(
        document=doc,
        daily_volume=_daily_volume(case),
        endpoint_daily=_endpoint_daily(case),
        scatter=_scatter(case),
        response_sizes=_response_sizes(case),
        excerpts=_excerpts(case, doc["findings"]),
    )
    assessment.window_tables = made
    return assessment


def _ownership(opts: InvestigateOptions, check: OwnershipCheck | None) -> dict[str, Any] | None:
    """parameters.ownership: the map's files and hashes, and how it met the case (None: no map)."""
    omap = opts.detect.ownership
    if omap is None or check is None:
        return None
    return {**omap.to_dict(), **check.to_dict()}


def _ownership_limitations(check: OwnershipCheck | None, found: int) -> list[str]:
    if check is None:
        return (
            []
            if not found
            else [
                "Out-of-scope reads were inferred from the logs (no ownership map was given): records a "
                "logged-in caller opened on one day only, of a kind (others' records, or records nobody "
                "else read) it opened many more of than its peers, or on a burst day, count as outside its "
                "own records. Its own patients seen once and its consults look the same record by record "
                "(the peers' rate estimates how many are listed by mistake); an ownership map "
                "(--ownership) makes it exact."
            ]
        )
    out = []
    if check.principals_unseen:
        out.append(
            f"{len(check.principals_unseen):,} principal(s) named in the ownership map never appear in the "
            "case (parameters.ownership.principals_unseen): check the map's spelling of user names "
            "against the logs'."
        )
    if check.case_records_unlisted:
        out.append(
            f"{check.case_records_unlisted:,} record id(s) read in the case are not in the ownership map: "
            "a principal the map names reading one is out of scope (it is owned by nobody the map names); "
            "if the map is partial, such findings say so in their reasons."
        )
    return out


def _unmatched_text(unmatched: dict[str, list[str]], lead: str) -> str:
    """Endpoints that match no request are typos more often than unused APIs: a "no evidence"
    verdict built only on them would be wrong, so when none matches it is an error, and when
    some do the others are named in the report's limitations."""
    parts = [
        f"{ep!r} (closest routes: {', '.join(close)})" if close else f"{ep!r} (no route is close)"
        for ep, close in unmatched.items()
    ]
    return (
        f"{lead}: " + "; ".join(parts) + ". Fix --endpoint (`forensics routes CASE` lists the "
        "routes) or leave it out to have endpoints with unauthenticated record reads proposed"
    )


def _close(routes: list[str]) -> str:
    return f" (closest routes: {', '.join(routes)})" if routes else ""


def _coverage_doc(coverage: Coverage) -> dict[str, Any]:
    """Coverage in the document: ``fields`` keyed by source path (share of events per field)."""
    doc = coverage.to_dict()
    paths = {s["source_id"]: s["path"] or f"source {s['source_id']}" for s in coverage.sources}
    doc["fields"] = {
        paths.get(f["source_id"], f"source {f['source_id']}"): {
            k: v for k, v in f.items() if k not in ("source_id", "events")
        }
        for f in coverage.fields
        if f["events"]
    }
    return doc


# --- the parameters against the evidence ------------------------------------------------------


def _evidence_span(case: Case) -> tuple[datetime, datetime]:
    """The first and last event of the case; a case without events is refused."""
    row = case.con.execute("SELECT count(*), min(ts), max(ts) FROM events").fetchone()
    if not row or not row[0]:
        files = _scalar(case, "SELECT count(*) FROM sources")
        rejected = _scalar(case, "SELECT count(*) FROM rejects")
        raise EmptyCaseError(
            f"the case holds no events ({files} evidence file(s), {rejected:,} rejected line(s)): the "
            "logs cannot answer anything; ingest the logs of the window (`forensics sources CASE` "
            "shows what was read and why lines were rejected)"
        )
    return _aware(row[1]), _aware(row[2])


def _check_window(window: Window, first_log: datetime, last_log: datetime) -> None:
    """A window no event of the case overlaps is a mistake (the year, the zone) or the wrong logs:
    refused with the evidence's time range, never judged as "nothing found"."""
    if window.start <= last_log and window.end > first_log:
        return
    hint = ""
    for year in sorted({first_log.year, last_log.year}):
        try:
            moved = Window(
                window.start.replace(year=window.start.year + year - window.end.year),
                window.end.replace(year=year),
            )
        except ValueError:  # 29 February
            continue
        if moved.start <= last_log and moved.end > first_log:
            hint = f" Did you mean {moved}?"
            break
    raise WindowError(
        f"no evidence overlaps the window {window}: the logs in the case run from {iso_z(first_log)} "
        f"to {iso_z(last_log)}.{hint} Check the window (year, time zone) or ingest the logs for that "
        "time"
    )


def _unused_logins_text(unused: list[str], proposed: list[tuple[str, int]]) -> str:
    return (
        f"no successful (2xx/3xx) request in the case matches the login endpoint "
        f"{', '.join(repr(u) for u in unused)}: as evidence it would make every caller look "
        f"unauthenticated; {proposals_text(proposed)}. Fix --login or leave it out"
    )


def _auth_note(unknown: int, proposed: list[tuple[str, int]]) -> str:
    return (
        f"Authentication cannot be judged for {unknown:,} request(s) to the endpoints in the window: no "
        f"--login was given and their logs name no user; {proposals_text(proposed)}. Give --login so "
        "that a login from the same address and browser counts as authentication; until then none of "
        "these requests counts as a confirmed unauthorised read."
    )


def _aware(value: Any) -> datetime:
    return pd.Timestamp(value).tz_convert("UTC").to_pydatetime()


# --- the window --------------------------------------------------------------------------------


def _window(case: Case, given: Window | None, unjudgeable: str | None = None) -> tuple[Window, str, str]:
    """The given window, or one proposed from the status-flip evidence. ``unjudgeable``: the
    login proposals when no --login was given on logs without principals (nothing can be
    judged unauthenticated, so no window can be proposed)."""
    if given is not None:
        return given, "given", "given by the investigator (--window)"
    rows = case.con.execute(
        "SELECT route, metrics FROM findings WHERE detector = 'status_flip' ORDER BY route"
    ).fetchall()
    if not rows and unjudgeable is not None:
        raise WindowError(
            "no --window given, and none can be proposed: no --login was given and the logs name no "
            f"user, so no answer can be judged unauthenticated; {unjudgeable}. Give --login, and "
            "--window START/END (ISO 8601) if the exposure window is known"
        )
    if not rows:
        raise WindowError(
            "no --window given, and the logs show no unauthenticated record-bearing answer on the "
            "endpoints to propose one from; give --window START/END (ISO 8601)"
        )
    span = case.con.execute("SELECT min(ts), max(ts) FROM events").fetchone()
    assert span is not None
    first_log, last_log = span
    starts, ends, notes = [], [], []
    for route, metrics in rows:
        m = json.loads(metrics)
        opened = m["last_denied_before"] or iso_z(first_log)
        closed = m["first_denied_after"] or iso_z(last_log)
        starts.append(opened)
        ends.append(closed)
        notes.append(
            f"{route}: first unauthenticated 2xx {m['first_allowed']}, last {m['last_allowed']}; "
            + (
                f"refused before until {m['last_denied_before']}"
                if m["last_denied_before"]
                else "no refusal before it in the logs (the flaw may predate them)"
            )
            + "; "
            + (
                f"refused again from {m['first_denied_after']}"
                if m["first_denied_after"]
                else "no refusal after it in the logs"
            )
        )
    start = datetime.fromisoformat(min(starts).replace("Z", "+00:00"))
    end = datetime.fromisoformat(max(ends).replace("Z", "+00:00"))
    if end <= start:
        end = start + timedelta(seconds=1)
    evidence = (
        "proposed from the status-flip evidence (widest plausible: from the last refusal before the "
        "first unauthenticated 2xx, or the first log, to the first refusal after the last one, or the "
        "last log): " + " | ".join(notes)
    )
    return Window(start, end), "proposed", evidence


def _proposed_endpoints(case: Case) -> list[str]:
    rows = case.con.execute(
        "SELECT DISTINCT route FROM findings WHERE detector = 'unauth_read' ORDER BY route"
    ).fetchall()
    return [str(r[0]) for r in rows]


# --- the numbers (each one's SQL is in the document's reproduce.sql) ---------------------------

IN_WINDOW = "d.ts >= (SELECT ws FROM _w) AND d.ts < (SELECT we FROM _w)"
SEVERITY_RANK = (
    "CASE f.severity " + " ".join(f"WHEN '{s}' THEN {i}" for i, s in enumerate(SEVERITIES)) + " END"
)
# Bulk findings counted in ``estimated_bulk``: unauthorised, starting in the window (one row each).
BULK_SQL = """
        SELECT f.actor_id, f.estimated_records AS est FROM findings f
        WHERE f.detector = 'bulk' AND f.unauthorised AND f.estimated_records IS NOT NULL
          AND f.first_seen >= (SELECT ws FROM _w) AND f.first_seen < (SELECT we FROM _w)"""
# Clients (address + browser) several people share: overlapping logins somewhere in the case. The
# volume of their requests is several people's together, so a volume finding (SUSPICIOUS) on them
# makes none of their unknown reads probable.
SHARED_CLIENTS = """
        SELECT DISTINCT client_ip, coalesce(user_agent, '') AS ua FROM detect_requests WHERE auth_shared"""
# affected_records.csv: one row per record id and basis over ``_delivered`` (window_tables.py reads
# it in batches: the list is as long as the records taken, so it never sits whole in Python).
AFFECTED_SQL = """
        SELECT record_id, basis, min(ts) AS first_seen, max(ts) AS last_seen,
          string_agg(DISTINCT actor_id::VARCHAR, ' ' ORDER BY actor_id::VARCHAR) AS actors,
          count(*) AS requests, sum(bytes_sent)::BIGINT AS bytes
        FROM _delivered
        GROUP BY record_id, basis"""
AFFECTED_ORDER = "basis, TRY_CAST(record_id AS BIGINT) NULLS LAST, record_id"
# Every number below is computed once from these temp tables: ``_wf`` the findings overlapping
# the window (the document's ``findings``), ``_wa`` per actor over them (an actor is unauthorised
# when one of its findings in the window is), ``_confirmed``/``_probable`` the requests that
# delivered a listed record (affected_records.csv), ``_delivered`` both with their basis.
NUMBER_SQL: dict[str, str] = {
    "window_findings": """
        SELECT * FROM findings d
        WHERE d.last_seen >= (SELECT ws FROM _w) AND d.first_seen < (SELECT we FROM _w)""",
    "window_actors": f"""
        SELECT f.actor_id, bool_or(f.unauthorised) AS unauthorised, min({SEVERITY_RANK}) AS severity_rank,
          list(DISTINCT f.detector ORDER BY f.detector) AS detectors,
          coalesce(list(DISTINCT f.finding_id ORDER BY f.finding_id) FILTER (WHERE f.unauthorised), [])
            AS unauthorised_by,
          coalesce(list(DISTINCT r.record_id ORDER BY r.record_id)
                   FILTER (WHERE f.unauthorised AND r.record_id IS NOT NULL), []) AS unauthorised_records,
          count(DISTINCT r.record_id) AS records_in_findings
        FROM _wf f LEFT JOIN LATERAL unnest(f.record_ids) AS r(record_id) ON true
        WHERE f.actor_id IS NOT NULL GROUP BY f.actor_id""",
    "confirmed_reads": f"""
        SELECT d.source_id, d.line_no, d.record_id, d.actor_id, d.ts, d.bytes_sent FROM detect_requests d
        JOIN (SELECT af.actor_id, u.record_id FROM _wa af, unnest(af.unauthorised_records) AS u(record_id)
              WHERE af.unauthorised) ur ON ur.actor_id = d.actor_id AND ur.record_id = d.record_id
        WHERE d.ok AND d.record_route AND {IN_WINDOW}
          AND d.auth_state IN ('unauthenticated', 'authenticated') AND NOT d.auth_ambiguous
        UNION  -- a route-level finding (no actor): its unauthenticated reads of the ids it names
        SELECT d.source_id, d.line_no, d.record_id, d.actor_id, d.ts, d.bytes_sent FROM detect_requests d
        JOIN ({ROUTE_IDS}) f ON f.unauthorised AND f.route = d.route AND f.record_id = d.record_id
          AND d.ts BETWEEN f.first_seen AND f.last_seen
        WHERE d.ok AND d.record_route AND {IN_WINDOW} AND d.auth_state = 'unauthenticated'
          AND NOT d.auth_ambiguous""",
    "probable_reads": f"""
        SELECT d.source_id, d.line_no, d.record_id, d.actor_id, d.ts, d.bytes_sent FROM detect_requests d
        JOIN (SELECT DISTINCT actor_id, route FROM _wf
              WHERE detector IN {SUSPICIOUS} AND severity = 'high') f
          ON f.actor_id = d.actor_id AND f.route = d.route
        WHERE d.ok AND d.record_route AND d.auth_state = 'unknown' AND {IN_WINDOW}
          AND NOT EXISTS (SELECT 1 FROM ({SHARED_CLIENTS}) s
                          WHERE s.client_ip = d.client_ip AND s.ua = coalesce(d.user_agent, ''))
        UNION  -- a route-level high finding: its reads whose authentication is unknown
        SELECT d.source_id, d.line_no, d.record_id, d.actor_id, d.ts, d.bytes_sent FROM detect_requests d
        JOIN ({ROUTE_IDS}) f ON f.severity = 'high' AND f.route = d.route AND f.record_id = d.record_id
          AND d.ts BETWEEN f.first_seen AND f.last_seen
        WHERE d.ok AND d.record_route AND d.auth_state = 'unknown' AND {IN_WINDOW}""",
    "estimated_bulk": f"SELECT coalesce(sum(est), 0) FROM ({BULK_SQL})",
    "endpoint_ids": f"""
        SELECT count(DISTINCT d.record_id), min(d.rid), max(d.rid), count(d.rid), count(*)
        FROM detect_requests d WHERE d.record_route AND {IN_WINDOW}""",
    "unattributed_reads": f"""
        SELECT count(*) FROM detect_requests d
        WHERE d.record_route AND d.ok AND d.auth_state IN ('unauthenticated', 'unknown') AND {IN_WINDOW}""",
}


def make_window_tables(case: Case, start: datetime, end: datetime) -> str:
    """The window temp tables every number reads (window_tables.py says which): the one place
    that makes them, for ``assess`` and for a writer rebuilding them on a fresh connection.
    Returns the token ``_w.made`` holds: which making of them these are (window_tables.rebuild)."""
    con = case.con
    token = secrets.token_hex(8)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _w AS "
        "SELECT CAST(? AS TIMESTAMPTZ) AS ws, CAST(? AS TIMESTAMPTZ) AS we, CAST(? AS VARCHAR) AS made",
        [start, end, token],
    )
    con.execute(f"CREATE OR REPLACE TEMP TABLE _wf AS {NUMBER_SQL['window_findings']}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE _wa AS {NUMBER_SQL['window_actors']}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE _confirmed AS {NUMBER_SQL['confirmed_reads']}")
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _probable AS SELECT * FROM ({NUMBER_SQL['probable_reads']}) "
        "WHERE record_id NOT IN (SELECT record_id FROM _confirmed)"
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _delivered AS SELECT *, 'confirmed' AS basis FROM _confirmed "
        "UNION ALL SELECT *, 'probable' AS basis FROM _probable"
    )
    return token


def _records(case: Case, records_total: int | None) -> dict[str, Any]:
    con = case.con
    confirmed = _scalar(case, "SELECT count(DISTINCT record_id) FROM _confirmed")
    probable = _scalar(case, "SELECT count(DISTINCT record_id) FROM _probable")
    bulk = _scalar(case, NUMBER_SQL["estimated_bulk"])
    row = con.execute(NUMBER_SQL["endpoint_ids"]).fetchone()
    distinct, lo, hi, ints, total = row if row else (0, None, None, 0, 0)
    if records_total is not None:
        at_risk, basis = records_total, "the record count given by the data owner (--records-total)"
    elif lo is not None and ints == total:
        at_risk, basis = int(hi) - int(lo) + 1, f"the integer id range seen on the endpoints ({lo} to {hi})"
    elif distinct:
        at_risk, basis = (
            int(distinct),
            "the distinct record ids seen on the endpoints (a floor: ids are not ranges)",
        )
    else:
        at_risk, basis = None, "unknown: no record ids seen on the endpoints; give --records-total"
    return {
        "confirmed": confirmed,
        "probable": probable,
        "at_risk": at_risk,
        "at_risk_basis": basis,
        "estimated_bulk": bulk,
        "id_range": {"min": int(lo), "max": int(hi)} if lo is not None else None,
    }


def _bounds(coverage: Coverage, verdict: str) -> ZeroEventBound:
    """The zero-event bound when no qualifying event was observed; otherwise the statement that
    it does not apply (it bounds what went unseen when nothing was seen)."""
    if verdict in EVENT_VERDICTS:
        return events_observed(coverage.covered_s, coverage.uncovered_s, coverage.gaps)
    return coverage.bound()


def _actor_counts(case: Case, listed: int) -> dict[str, int]:
    """The actor numbers the verdict and the summary print (see ``_actors`` for the table)."""
    row = case.con.execute(
        """SELECT (SELECT count(*) FROM _wa), (SELECT count(*) FROM _wa WHERE unauthorised),
             (SELECT count(DISTINCT actor_id) FROM _delivered WHERE basis = 'confirmed'),
             (SELECT count(DISTINCT actor_id) FROM _delivered WHERE basis = 'probable')"""
    ).fetchone()
    findings, unauthorised, confirmed, probable = (int(v) for v in row) if row else (0, 0, 0, 0)
    return {
        "listed": listed,
        "with_findings": findings,
        "unauthorised": unauthorised,
        "with_confirmed_records": confirmed,
        "with_probable_records": probable,
        "with_estimated_records": _scalar(case, f"SELECT count(DISTINCT actor_id) FROM ({BULK_SQL})"),
        "with_only_estimated_records": _scalar(
            case,
            f"""SELECT count(DISTINCT actor_id) FROM ({BULK_SQL}) b WHERE b.actor_id NOT IN
                  (SELECT actor_id FROM _delivered WHERE basis = 'confirmed' AND actor_id IS NOT NULL)""",
        ),
    }


def _scalar(case: Case, sql: str) -> int:
    row = case.con.execute(sql).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


# --- the verdict -------------------------------------------------------------------------------


def _acquired(records: dict[str, Any], counts: dict[str, int]) -> str:
    """What the unauthorised actors received, each actor number named for what it counts (the
    same numbers as ``actor_counts``, so the sentence and page 1's list of actors agree)."""
    confirmed, bulk = records["confirmed"], records["estimated_bulk"]
    total, with_confirmed = counts["unauthorised"], counts["with_confirmed_records"]
    bulk_only = counts["with_only_estimated_records"]

    def actors(n: int, what: str = "unauthorised actor") -> str:
        return f"{n:,} {what}" + ("" if n == 1 else "s")

    parts = []
    if confirmed:
        to = (
            f"the {actors(total)}"
            if with_confirmed == total
            else f"{with_confirmed:,} of the {total:,} unauthorised actors"
        )
        parts.append(f"{confirmed:,} distinct records were delivered to {to}")
    if bulk:
        more = " more" if confirmed else ""
        text = f"about {bulk:,}{more} records were returned in bulk responses (ids not logged)"
        with_bulk = counts["with_estimated_records"]
        if not confirmed:
            text += f" to {actors(with_bulk)}"
        elif bulk_only == with_bulk:
            text += f" to {actors(bulk_only, 'more unauthorised actor')}"
        elif bulk_only:
            text += f" to {with_bulk:,} of them, {bulk_only:,} with no confirmed record"
        else:
            text += f" to {with_bulk:,} of those {with_confirmed:,}"
        parts.append(text)
    rest = total - with_confirmed - bulk_only
    if rest > 0 and parts:
        parts.append(f"{actors(rest, 'more unauthorised actor')} received no record the logs identify")
    return "; ".join(parts)


def _verdict(
    case: Case,
    coverage: Coverage,
    records: dict[str, Any],
    actor_counts: dict[str, int],
    auth_note: str | None = None,
) -> tuple[str, str, list[str], list[str]]:
    """The verdict code, its sentence, the reasoning and the alternatives considered.

    ``auth_note``: set when requests' authentication could not be judged (no --login on logs
    that name no user); it is said in the text, and such requests are never confirmed."""
    con = case.con
    suspicious = con.execute(
        """SELECT detector, count(*) FROM findings d
            WHERE severity IN ('high', 'medium') AND NOT unauthorised AND actor_id IS NOT NULL
              AND d.last_seen >= (SELECT ws FROM _w) AND d.first_seen < (SELECT we FROM _w)
              AND d.actor_id IN (  -- the actor did something in the window: a finding whose span only
                SELECT r.actor_id FROM detect_requests r  -- straddles it (one actor over days) is not
                WHERE r.ts >= (SELECT ws FROM _w) AND r.ts < (SELECT we FROM _w))  -- evidence there
            GROUP BY ALL ORDER BY ALL"""
    ).fetchall()
    unattributed = _scalar(case, NUMBER_SQL["unattributed_reads"])
    period = period_text(coverage.window.start, coverage.window.end)
    covered = f"{coverage.ratio:.1%} of the window is covered by logs (grade {coverage.grade})"
    reasoning = [covered + "."]
    confirmed, probable, bulk = records["confirmed"], records["probable"], records["estimated_bulk"]
    if confirmed or bulk:
        verdict = "confirmed"
        text = (
            f"Unauthorised acquisition is confirmed: in the window {period}, "
            + _acquired(records, actor_counts)
            + "."
        )
        reasoning.append(
            "Record-level proof: record-bearing 2xx responses went to callers with no authentication "
            "evidence or outside their own records (see the findings)."
        )
    elif probable:
        verdict = "likely"
        text = (
            f"Unauthorised acquisition is likely: in the window {period}, {probable:,} records went to "
            "callers showing enumeration signals whose authentication the logs cannot establish."
        )
        reasoning.append("Strong signals without record-level proof of missing authentication.")
    elif suspicious or unattributed:
        verdict = "possible"
        what = ", ".join(f"{n} {d}" for d, n in suspicious) or "no suspicious findings"
        text = (
            f"Unauthorised acquisition is possible but not shown: in the window {period} there were "
            f"{unattributed:,} record-bearing responses whose caller's authentication the logs do not "
            f"establish ({what})."
        )
        reasoning.append("Unexplained access exists but no finding shows it unauthorised.")
    elif coverage.grade == "A" and not unattributed:
        verdict = "excluded"
        text = (
            f"Unauthorised acquisition is excluded for {period}: the logs cover the whole window with "
            "every field needed, and every record-bearing response went to an authenticated or trusted "
            "caller."
        )
        reasoning.append("Full coverage, every record-bearing response attributed, nothing unexplained.")
    else:
        verdict = "no_evidence"
        text = (
            f"No evidence of unauthorised acquisition was found for {period}, within the limits of the "
            f"logs: {covered}; this does not show that no data was accessed."
        )
        reasoning.append("No finding shows an unauthorised caller receiving records in covered time.")
    shared = _scalar(case, "SELECT count(*) FROM _wf WHERE caveat IS NOT NULL")
    if shared:
        reasoning.append(
            f"{shared:,} finding(s) rest on requests from shared addresses (several people behind one "
            "address and browser): they show no unauthorised caller, only that someone there read the "
            "records (see their caveats)."
        )
    in_window = _scalar(case, f"SELECT count(*) FROM events d WHERE {IN_WINDOW}")
    too_poor = not in_window or coverage.grade == "D" or coverage.ratio < CANNOT_TELL_RATIO
    if verdict in ("no_evidence", "excluded") and too_poor:
        verdict = "cannot_tell"
        if not in_window:
            why = "no event in the case falls inside the window"
        else:
            why = (
                f"the logs cover only {coverage.ratio:.1%} of the window (grade {coverage.grade}), less "
                f"than the {CANNOT_TELL_RATIO:.0%} needed to judge"
            )
        text = (
            f"The logs cannot tell whether data was taken in {period}: {why}. This is not evidence "
            "that no data was accessed, nor that it was; obtain logs covering the window (or check "
            "the window) before concluding."
        )
        reasoning.append(
            f"Cannot tell: below {CANNOT_TELL_RATIO:.0%} coverage the zero-event bound for the uncovered "
            "time exceeds 3 expected events (P(at least one) above 95%), so finding nothing in the "
            "covered time says nothing about the window."
        )
    elif verdict in ("confirmed", "likely", "possible") and coverage.ratio < COMPLETE_RATIO:
        text += (
            f" The logs cover only {coverage.ratio:.1%} of the window (grade {coverage.grade}): the counts "
            "are lower bounds, and nothing can be said about the uncovered time."
        )
    if auth_note:
        text += " " + auth_note
        reasoning.append(auth_note)
    if coverage.uncovered_s > 0:
        reasoning.append(
            f"{human_duration(coverage.uncovered_s)} of the window has no logs: the numbers are lower bounds "
            "and the at-risk figure stands for that time."
        )
    alternatives = [
        "A login the logs do not show (before retention, in a gap, from another address) would make "
        "authenticated reads look unauthenticated; declared logins and trusted networks are used as "
        "evidence.",
        "Partner integrations, monitors and authorised testers are excluded only when declared (--trusted) "
        "or recognised (user agent classes); an undeclared one would appear as an unauthorised actor.",
        "Cross-source copies of one request (load balancer and application logs) count as one record but "
        "may show as two actors.",
    ]
    return verdict, text, reasoning, alternatives


# --- document parts ----------------------------------------------------------------------------


def _event_counts(case: Case) -> dict[str, int]:
    return {
        "total": _scalar(case, "SELECT count(*) FROM events"),
        "rejected": _scalar(case, "SELECT count(*) FROM rejects"),
        "in_window": _scalar(case, f"SELECT count(*) FROM events d WHERE {IN_WINDOW}"),
        "to_endpoints_in_window": _scalar(
            case, f"SELECT count(*) FROM detect_requests d WHERE d.record_route AND {IN_WINDOW}"
        ),
    }


def _sources(case: Case) -> list[dict[str, Any]]:
    rows = case.sql(
        """
        SELECT s.source_id, s.path, s.sha256, s.format, s.status, s.events, s.rejects, d.path AS duplicate_of,
          coalesce(s.warnings, []) AS warnings, s.first_ts, s.last_ts
        FROM sources s LEFT JOIN sources d ON d.source_id = s.duplicate_of ORDER BY s.path, s.source_id"""
    )
    out = []
    for r in rows.to_dict(orient="records"):
        path = Path(str(r["path"]))
        verified: bool | None = None
        if r["sha256"] and path.is_file():  # never re-read what ingest did not (a link out: skipped)
            verified = describe(path).sha256 == r["sha256"]
        out.append(
            {
                "path": str(r["path"]),
                "sha256": r["sha256"],
                "sha256_verified": verified,
                "format": None if pd.isna(r["format"]) else r["format"],
                "status": r["status"],
                "events": _int(r["events"]),
                "rejected": _int(r["rejects"]),
                "duplicate_of": None if pd.isna(r["duplicate_of"]) else r["duplicate_of"],
                "warnings": [str(w) for w in r["warnings"]],
                "first_ts": _iso(r["first_ts"]),
                "last_ts": _iso(r["last_ts"]),
            }
        )
    return out


def _actors(case: Case) -> tuple[list[dict[str, Any]], int]:
    """Actors that reached the endpoints in the window or have findings in it (the first
    MAX_LISTED, and how many there are), unauthorised first.

    All counts are inside the window: ``requests`` and ``bytes`` every request of the actor (all
    routes: a bulk read of a list endpoint counts), ``endpoint_requests`` those to the endpoints,
    ``records`` the distinct record ids received there in record-bearing 2xx answers,
    ``confirmed_records``/``probable_records`` its rows of affected_records.csv (by basis),
    ``estimated_records`` its share of ``records.estimated_bulk``. ``unauthorised``: one of its
    findings in the window shows it (``unauthorised_by`` lists them).
    """
    rows = case.sql(
        f"""
        WITH w AS (
          SELECT actor_id, count(*) AS requests, count(*) FILTER (WHERE d.record_route) AS endpoint_requests,
            count(DISTINCT record_id) FILTER (WHERE d.record_route AND d.ok) AS records,
            coalesce(sum(bytes_sent), 0) AS bytes
          FROM detect_requests d WHERE {IN_WINDOW} GROUP BY actor_id),
        l AS (
          SELECT actor_id, count(DISTINCT record_id) FILTER (WHERE basis = 'confirmed') AS confirmed,
            count(DISTINCT record_id) FILTER (WHERE basis = 'probable') AS probable
          FROM _delivered GROUP BY actor_id),
        b AS (SELECT actor_id, sum(est) AS est FROM ({BULK_SQL}) GROUP BY actor_id)
        SELECT a.actor_id, a.ips, a.user_agents, a.principals, a.class, a.class_reason, a.link_reasons,
          a.hosting, a.auth_evidence,
          coalesce(af.unauthorised, false) AS unauth, coalesce(af.unauthorised_by, []) AS unauthorised_by,
          coalesce(w.requests, 0) AS requests, coalesce(w.endpoint_requests, 0) AS endpoint_requests,
          coalesce(w.records, 0) AS records, coalesce(l.confirmed, 0) AS confirmed,
          coalesce(l.probable, 0) AS probable, b.est AS estimated,
          coalesce(w.bytes, 0) AS bytes, a.first_seen, a.last_seen,
          coalesce(af.detectors, []) AS detectors, coalesce(af.severity_rank, 9) AS sev,
          count(*) OVER () AS total
        FROM actors a LEFT JOIN _wa af USING (actor_id) LEFT JOIN w USING (actor_id)
          LEFT JOIN l USING (actor_id) LEFT JOIN b USING (actor_id)
        WHERE coalesce(w.endpoint_requests, 0) > 0 OR af.actor_id IS NOT NULL
        ORDER BY unauth DESC, sev, confirmed DESC, records DESC, a.actor_id
        LIMIT {MAX_LISTED}"""
    )
    records = rows.to_dict(orient="records")
    total = int(records[0]["total"]) if records else 0
    return [
        {
            "id": int(r["actor_id"]),
            "ips": [str(x) for x in r["ips"]] if r["ips"] is not None else [],
            "user_agents": [str(x) for x in r["user_agents"]] if r["user_agents"] is not None else [],
            "principals": [str(x) for x in r["principals"]],
            "classification": r["class"],
            "class_reason": str(r["class_reason"]),
            "auth_evidence": [str(x) for x in r["auth_evidence"]],
            "unauthorised": bool(r["unauth"]),
            "unauthorised_by": [int(x) for x in r["unauthorised_by"]],
            "requests": _int(r["requests"]),
            "endpoint_requests": _int(r["endpoint_requests"]),
            "records": _int(r["records"]),
            "confirmed_records": _int(r["confirmed"]),
            "probable_records": _int(r["probable"]),
            "estimated_records": _int(r["estimated"]),
            "bytes": _int(r["bytes"]),
            "first_seen": _iso(r["first_seen"]),
            "last_seen": _iso(r["last_seen"]),
            "detectors": [str(x) for x in r["detectors"]],
            "link_reasons": [str(x) for x in r["link_reasons"]],
            "hosting": [str(x) for x in r["hosting"]],
        }
        for r in records
    ], total


def _findings(case: Case) -> tuple[list[dict[str, Any]], int]:
    """Findings overlapping the window, most severe first (the first MAX_LISTED, and how many)."""
    runs = {
        str(d): json.loads(t)
        for d, t in case.con.execute("SELECT detector, thresholds FROM detector_runs").fetchall()
    }
    paths = dict(case.con.execute("SELECT source_id, path FROM sources").fetchall())
    callers = _finding_callers(case)
    rows = case.sql(
        f"""SELECT * EXCLUDE (record_ids), count(*) OVER () AS total FROM _wf
           ORDER BY CASE severity WHEN 'high' THEN 0 WHEN 'medium' THEN 1 ELSE 2 END, finding_id
           LIMIT {MAX_LISTED}"""
    )
    records = rows.to_dict(orient="records")
    total = int(records[0]["total"]) if records else 0
    return [
        {
            "id": int(r["finding_id"]),
            "detector": r["detector"],
            "title": _finding_title(r),
            "severity": r["severity"],
            "actor": None if pd.isna(r["actor_id"]) else int(r["actor_id"]),
            "route": None if pd.isna(r["route"]) else r["route"],
            "first_seen": _iso(r["first_seen"]),
            "last_seen": _iso(r["last_seen"]),
            "count": _int(r["requests"]),
            "records": _int(r["records"]),
            "estimated_records": None if pd.isna(r["estimated_records"]) else int(r["estimated_records"]),
            "unauthorised": bool(r["unauthorised"]),
            "evidence": {
                "caller": _caller_text(r, callers),
                "ambiguous_requests": _int(r["ambiguous_requests"]),
                "caveat": None if pd.isna(r["caveat"]) else str(r["caveat"]),
                "metrics": json.loads(r["metrics"]),
                "sample": [
                    {"path": paths.get(int(s["source_id"])), "line_no": int(s["line_no"])}
                    for s in r["sample"]
                ],
                "thresholds": runs.get(r["detector"], {}),
            },
        }
        for r in records
    ], total


def _finding_title(row: Mapping[Any, Any]) -> str:
    """The detector's title; a Sigma finding's names its rule (rule files are user input: shown
    escaped like log text)."""
    if row["detector"] == "sigma":
        return f"Sigma rule: {json.loads(row['metrics']).get('title')}"
    return REGISTRY[str(row["detector"])].title


def _sigma_run(case: Case) -> dict[str, Any] | None:
    """meta ``sigma_run`` (sigma/run.py) with the skipped rules and their reasons; None before any
    run (or after forget dropped its tables)."""
    row = case.con.execute("SELECT value FROM meta WHERE key = 'sigma_run'").fetchone()
    rules = case.con.execute("SELECT count(*) FROM sigma_rules").fetchone()
    if row is None or not (rules and rules[0]):  # never run, or dropped by forensics forget
        return None
    doc: dict[str, Any] = json.loads(row[0])
    skipped = case.con.execute(
        "SELECT path, rule_id, title, reason FROM sigma_rules WHERE status = 'skipped' ORDER BY path, rule_id"
    ).fetchall()
    keys = ("path", "rule_id", "title", "reason")
    return {**doc, "skipped_rules": [dict(zip(keys, r, strict=True)) for r in skipped]}


def _finding_callers(case: Case) -> dict[int, list[tuple[str, str, int]]]:
    """Per finding in the window: its requests' authentication (state, reason, requests) — the
    reason a caller counts as unauthenticated (or cannot be judged) travels with the finding."""
    rows = case.con.execute(
        f"""
        SELECT finding_id, auth_state, auth_evidence, count(*) FROM ({finding_requests("_wf")})
        GROUP BY ALL ORDER BY 1, 4 DESC, 2, 3"""
    ).fetchall()
    out: dict[int, list[tuple[str, str, int]]] = {}
    for fid, state, why, n in rows:
        out.setdefault(int(fid), []).append((str(state), str(why), int(n)))
    return out


def _caller_text(row: Any, callers: dict[int, list[tuple[str, str, int]]]) -> str | None:
    parts = [f"{n:,} {state} ({why})" for state, why, n in callers.get(int(row["finding_id"]), [])]
    return "; ".join(parts) or None


def _answered_after(opts: InvestigateOptions, end: datetime) -> InvestigateOptions:
    """The options with the window's end given to the authentication evidence (auth.STILL_ANSWERED)."""
    actors = opts.detect.actors
    auth = replace(actors.auth, answered_after=end)
    return replace(opts, detect=replace(opts.detect, actors=replace(actors, auth=auth)))


def _attribution_limits(case: Case) -> list[str]:
    """What the logs could not attribute in the window: requests to the endpoints whose caller
    cannot be told apart (shared addresses) or whose authentication cannot be judged because a
    logged-in session may continue there — with the reasons and what would settle them."""
    out = []
    amb, shared = case.con.execute(
        f"""SELECT count_if(d.auth_ambiguous), count_if(d.auth_shared) FROM detect_requests d
                WHERE d.record_route AND {IN_WINDOW}"""
    ).fetchone() or (0, 0)
    if amb:
        out.append(
            f"{int(amb):,} request(s) to the endpoints in the window rest on a login from a shared address "
            f"({int(shared or 0):,} on an address and browser with overlapping logins — several people —, "
            "the rest on an address that showed several browsers that day): someone there logged in, but who "
            "made each request cannot be told, so none of them counts as a confirmed record and a finding "
            f"on them shows no unauthorised caller. {SETTLES[0].upper() + SETTLES[1:]} would settle them."
        )
    still = case.con.execute(
        f"""SELECT count(*), count(DISTINCT (d.client_ip, d.user_agent)) FROM detect_requests d
            WHERE d.record_route AND d.auth_evidence = ? AND {IN_WINDOW}""",
        [STILL_ANSWERED],
    ).fetchone() or (0, 0)
    if still[0]:
        out.append(
            f"{int(still[0]):,} request(s) to the endpoints in the window come from {int(still[1]):,} "
            "client(s) (address and browser) that the server still answered with records after the window "
            "ended, without visible authentication, while it refused callers without credentials: they "
            "hold credentials the logs do not show (an API key, a client certificate: monitors, "
            "integrations), or the fix did not cover them. They count as unknown — at most possible or "
            "probable, never confirmed. The owner's list of API keys and their clients, or the fix's "
            "deployment time, would settle them."
        )
    rows = case.con.execute(
        f"""SELECT d.auth_evidence, count(*) FROM detect_requests d
            WHERE d.record_route AND d.auth_state = 'unknown' AND d.auth_evidence IN (?, ?, ?, ?, ?)
              AND {IN_WINDOW}
            GROUP BY ALL ORDER BY 2 DESC, 1""",
        [ROAMING, EXPIRED, SHARED_ADDRESS, RESUMED, NETWORK],
    ).fetchall()
    if rows:
        why = "; ".join(f"{int(n):,}: {ev}" for ev, n in rows)
        out.append(
            "Requests to the endpoints in the window whose authentication cannot be judged, because a "
            f"logged-in session may continue there ({why}): without positive evidence of a caller without "
            "credentials they count as unknown — at most possible or probable, never confirmed. "
            f"{SETTLES[0].upper() + SETTLES[1:]}, or the application's token lifetime (--session-lifetime), "
            "would settle them."
        )
    return out


def _regulatory(
    window: Window, records: dict[str, Any], verdict: str, coverage: Coverage, actor_counts: dict[str, int]
) -> dict[str, Any]:
    period = period_text(window.start, window.end)
    numbers = (
        f"{records['confirmed']:,} records confirmed, {records['probable']:,} probable, "
        f"about {records['estimated_bulk']:,} in bulk responses (ids unknown); "
        f"at risk: {records['at_risk'] if records['at_risk'] is not None else 'unknown'} "
        f"({records['at_risk_basis']}). Data subjects: not derivable from access logs; map record ids "
        "to subjects with the data owner."
    )
    return {
        "gdpr_art33_3": {
            "nature": f"Unauthorised access to records through the API endpoints in scope, {period} "
            f"(verdict: {verdict}; log coverage {coverage.ratio:.1%}, grade {coverage.grade}).",
            "categories_and_numbers": numbers,
            "consequences": "To be assessed by the controller from the record contents; the logs show which "
            "records were delivered, not what was done with them afterwards.",
            "measures": f"The exposure ends {iso_z(window.end)} as established ({'see scope'}); further "
            "measures are outside the logs.",
        },
        "hipaa_four_factors": {
            "nature_and_extent": numbers,
            "unauthorised_person": (
                f"The {actor_counts['unauthorised']:,} actor(s) the findings show unauthorised, marked in "
                "the actors table (IP addresses, user agents; identity unknown unless a principal was "
                "logged)."
            ),
            "acquired_or_viewed": (
                f"Yes: {records['confirmed']:,} records were delivered in record-bearing 2xx responses."
                if records["confirmed"]
                else "Cannot be determined: the logs do not cover enough of the window."
                if verdict == "cannot_tell"
                else "Not shown by the logs."
            ),
            "mitigation": "Not visible in access logs (e.g. assurances obtained, data recovered).",
        },
    }


def _limitations(case: Case, coverage: Coverage) -> list[str]:
    out = [
        "Access logs show requests and responses, not what a caller did with the data afterwards "
        "(exfiltration/misuse is outside the logs).",
        "Responses served from a CDN cache, ids sent in POST bodies and sampled logs are not visible.",
        "IP ownership and user-agent classes are claims of the caller or current data, not historical facts.",
    ]
    unparsed = [g for g in coverage.gaps if g.kind == "unparsed"]
    if len(coverage.gaps) > len(unparsed):
        out.append(
            f"{len(coverage.gaps) - len(unparsed)} gap(s) without logs inside the window: see coverage."
        )
    if unparsed:
        lines = sum(g.rejected_lines for g in unparsed)
        out.append(
            f"{len(unparsed)} gap(s) where logs exist but were not parsed ({lines:,} rejected log lines): "
            "see coverage and `forensics sources`; forget the file and ingest it again with --log-format "
            "or --format."
        )
    out += [f"{reason}." for reason in coverage.grade_reasons]
    warned = _scalar(case, "SELECT count(*) FROM sources WHERE len(warnings) > 0")
    if warned:
        out.append(
            f"{warned} source file(s) carry warnings (truncated, odd bytes, …): see the evidence inventory."
        )
    return out


# --- report material ---------------------------------------------------------------------------


def _daily_volume(case: Case) -> pd.DataFrame:
    return case.sql(
        """SELECT s.path AS source, date_trunc('day', e.ts) AS day, count(*) AS events
           FROM events e JOIN sources s USING (source_id) GROUP BY ALL ORDER BY day, source"""
    )


# The plots' endpoints: every record-bearing route, not only those with an id in the path: the
# declared endpoints (a list endpoint such as GET /referrals has none) and the routes where the
# bulk detector found responses carrying many records.
RECORD_BEARING = """(d.record_route OR d.route IN (SELECT route FROM routes WHERE origin = 'declared')
  OR d.route IN (SELECT route FROM findings WHERE detector = 'bulk' AND route IS NOT NULL))"""


def _endpoint_daily(case: Case) -> pd.DataFrame:
    return case.sql(
        f"""SELECT route, date_trunc('day', ts) AS day,
             CASE WHEN status BETWEEN 200 AND 299 THEN '2xx' WHEN status BETWEEN 300 AND 399 THEN '3xx'
                  WHEN status IN (401, 403) THEN '401/403' WHEN status = 404 THEN '404'
                  WHEN status BETWEEN 400 AND 499 THEN 'other 4xx' ELSE '5xx' END AS status_class,
             auth_state, count(*) AS requests
           FROM detect_requests d WHERE {RECORD_BEARING} GROUP BY ALL ORDER BY ALL"""
    )


def _scatter(case: Case) -> pd.DataFrame:
    return case.sql(
        f"""
        WITH top AS (
          SELECT af.actor_id, af.unauthorised FROM _wa af
          WHERE af.severity_rank <= 1
          ORDER BY af.unauthorised DESC, af.records_in_findings DESC, af.actor_id
          LIMIT {TOP_ACTORS})
        SELECT d.actor_id, 'actor ' || d.actor_id || ' (' || coalesce(a.ips[1], '?')
                 || CASE WHEN len(a.ips) > 1 THEN ' +' || (len(a.ips) - 1) ELSE '' END || ')' AS label,
          d.ts, d.record_id,
          coalesce(d.rid::DOUBLE, dense_rank() OVER (ORDER BY d.record_id)::DOUBLE) AS y, t.unauthorised,
          l.basis
        FROM detect_requests d JOIN top t USING (actor_id) JOIN actors a USING (actor_id)
          LEFT JOIN _delivered l USING (source_id, line_no)
        WHERE d.record_route AND d.ok AND {IN_WINDOW}
        ORDER BY d.actor_id, d.ts, d.source_id, d.line_no"""
    )


# The response-size sample's order: a multiplicative hash of the request's (source_id, line_no) in
# BIGINT arithmetic that cannot overflow, which both engines compute alike (hash() is each engine's
# own function: the sample of a route with more than SIZE_SAMPLE requests would differ)
SAMPLE_ORDER = (
    "(((source_id::BIGINT * 1000003 + line_no) % 2147483648) * 2654435761) % 4294967296, source_id, line_no"
)


def _response_sizes(case: Case) -> pd.DataFrame:
    return case.sql(
        f"""SELECT route, bytes_sent AS bytes,
              CASE WHEN status BETWEEN 200 AND 299 THEN '2xx' WHEN status IN (401, 403) THEN '401/403'
                   WHEN status = 404 THEN '404' ELSE 'other' END AS status_class
            FROM (SELECT route, bytes_sent, status,  -- (the route's number: a string key sorts slower)
                    row_number() OVER (PARTITION BY route_key ORDER BY {SAMPLE_ORDER}) AS k
                  FROM detect_requests d WHERE {RECORD_BEARING} AND bytes_sent IS NOT NULL)
            WHERE k <= {SIZE_SAMPLE} ORDER BY route, status_class, bytes"""
    )


def _excerpts(case: Case, findings: list[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    """Raw lines behind the high/medium findings' samples, read once per evidence file."""
    ids = {str(p): int(i) for p, i in case.con.execute("SELECT path, source_id FROM sources").fetchall()}
    shown = [f for f in findings if f["severity"] in ("high", "medium")]
    wanted: dict[int, set[int]] = {}
    for f in shown:
        for s in f["evidence"]["sample"][:EXCERPT_LINES]:
            if s["path"] in ids:
                wanted.setdefault(ids[s["path"]], set()).add(int(s["line_no"]))
    text: dict[tuple[int, int], str] = {}
    for source_id, line_nos in sorted(wanted.items()):
        try:
            got = case.raw_lines(source_id, sorted(line_nos), verify=False)
        except ForensicsError as exc:  # a file gone or unreadable is reported, not fatal
            got = {n: f"<line not readable: {exc}>" for n in line_nos}
        text.update({(source_id, n): line for n, line in got.items()})
    return {
        int(f["id"]): [
            {
                "path": s["path"],
                "line_no": s["line_no"],
                "line": text.get((ids.get(s["path"], -1), s["line_no"]), ""),
            }
            for s in f["evidence"]["sample"][:EXCERPT_LINES]
        ]
        for f in shown
    }


def _iso(value: Any) -> str | None:
    if value is None or pd.isna(value):
        return None
    return iso_z(pd.Timestamp(value).to_pydatetime())


def _int(value: Any) -> int | None:
    return None if value is None or pd.isna(value) else int(value)
