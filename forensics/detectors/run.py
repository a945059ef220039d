"""Run the detectors over a case: tables ``findings``, ``actor_findings`` and ``detector_runs``.

``run_detectors`` re-derives routes, authentication and actors with the given options (they
decide what a record endpoint, an authenticated request and an actor are), builds
``detect_requests`` once, runs every registered detector's SQL and stores

* ``findings`` — one row per finding (detector, severity, actor, route, time span, counts,
  record ids received, a sample of (source_id, line_no) leading to raw lines, metrics), and
  ``ambiguous_requests``/``caveat``: a finding whose requests include ambiguous ones (a login
  on a shared address shows that someone there logged in, not who made them: auth.py) never
  shows an unauthorised caller — its ``unauthorised`` is false whatever the detector said, and
  the caveat says why and what would settle it;
* ``actor_findings`` — per actor with findings: the detectors that fired, whether any finding
  shows it unauthorised, and the records it received in those findings;
* ``detector_runs`` — per detector: its thresholds and the exact SQL used.

Everything is replaced atomically (one transaction); ordering is deterministic.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pandas as pd

from forensics.derive.actors import ActorOptions, ActorsResult, derive_actors
from forensics.derive.auth import SETTLES
from forensics.derive.detect_requests import build_detect_requests
from forensics.derive.ownership import OwnershipCheck, OwnershipMap, load_ownership
from forensics.derive.routes import RouteOptions, RoutesResult, derive_routes
from forensics.detectors import REGISTRY
from forensics.detectors.base import FINDING_COLUMNS, SEVERITIES
from forensics.errors import DetectorError, ForensicsError, closest
from forensics.sigma.tables import ensure_tables as ensure_sigma_tables
from forensics.store.case import Case, apply_comments
from forensics.store.db import sql_str, transaction
from forensics.store.entry import logs
from forensics.store.stages import stage

# Everything a detection run derives again (and views on routes): dropped before it starts, so the
# case reuses their space rather than growing by another copy (Case.reclaim).
RECOMPUTED = (
    "actor_findings",
    "findings",
    "detector_runs",
    "detect_requests",
    "actors",
    "actor_links",
    "sessions",
    "request_session",
    "request_facts",
    "clients",
    "request_twins",
    "routes",
    "ip_info",
)


@dataclass(frozen=True)
class DetectOptions:
    routes: RouteOptions = field(default_factory=RouteOptions)
    actors: ActorOptions = field(default_factory=ActorOptions)
    # detector id -> threshold name -> value (overrides of the defaults)
    thresholds: dict[str, dict[str, float]] = field(default_factory=dict)
    detectors: tuple[str, ...] = ()  # run only these (default: all)
    ownership: OwnershipMap | None = None  # --ownership: out_of_scope judges by the map

    def to_dict(self) -> dict[str, object]:
        return {
            **json.loads(self.routes.to_json()),
            **self.actors.to_dict(),
            "thresholds": {d: dict(sorted(v.items())) for d, v in sorted(self.thresholds.items())},
            "detectors": list(self.detectors or REGISTRY),
            "ownership": self.ownership.to_dict() if self.ownership else None,
        }


@dataclass
class DetectResult:
    routes: RoutesResult
    actors: ActorsResult
    findings: dict[str, int] = field(default_factory=dict)  # detector -> findings
    seconds: dict[str, float] = field(default_factory=dict)  # detector -> run time
    ownership: OwnershipCheck | None = None  # the map checked against the case (None: no map)


def parse_threshold(text: str) -> tuple[str, str, float]:
    """``enumeration.min_requests=30`` -> (detector, name, value), with did-you-mean errors."""
    key, sep, value = text.partition("=")
    det, dot, name = key.strip().partition(".")
    if not sep or not dot:
        raise DetectorError(f"{text!r}: expected DETECTOR.THRESHOLD=NUMBER, e.g. enumeration.min_requests=30")
    if det not in REGISTRY:
        raise _unknown(f"unknown detector {det!r}", det, list(REGISTRY))
    names = [t.name for t in REGISTRY[det].thresholds]
    if name not in names:
        raise _unknown(f"detector {det} has no threshold {name!r}", name, names)
    try:
        number = float(value)
    except ValueError:
        raise DetectorError(f"{text!r}: {value!r} is not a number") from None
    return det, name, number


def _unknown(lead: str, word: str, choices: list[str]) -> DetectorError:
    """``lead``, then the closest names (or every known one); the closest as ``candidates`` too."""
    close = closest(word, choices)
    hint = f"; did you mean {', '.join(close)}?" if close else f"; known: {', '.join(choices)}"
    return DetectorError(lead + hint, candidates={word: close})


@logs("detect", DetectOptions, DetectOptions.to_dict, rows=("findings", "actor_findings"))
def run_detectors(case: Case, options: DetectOptions | None = None) -> DetectResult:
    opts = options or DetectOptions()
    for name in opts.detectors:
        if name not in REGISTRY:
            raise _unknown(f"unknown detector {name!r}", name, list(REGISTRY))
    settings = {}
    for det_id in opts.detectors or tuple(REGISTRY):
        try:
            settings[det_id] = REGISTRY[det_id].settings(opts.thresholds.get(det_id))
        except KeyError as exc:
            raise DetectorError(f"detector {det_id} has no threshold {exc.args[0]!r}") from None
    with stage(case.con, "derive: reclaim the last derivation's space"):
        case.reclaim(RECOMPUTED)
    result = DetectResult(derive_routes(case, opts.routes), derive_actors(case, opts.actors))
    con = case.con
    with stage(con, "derive: requests to judge") as s:
        build_detect_requests(case)
        row = con.execute("SELECT count(*) FROM detect_requests").fetchone()
        s.rows = int(row[0]) if row else 0
    result.ownership = load_ownership(case, opts.ownership)
    ensure_sigma_tables(con)  # the sigma detector reads them (empty until forensics sigma runs)
    with transaction(con):
        result.findings, result.seconds = detect(case, settings)
        con.execute("INSERT OR REPLACE INTO meta VALUES ('detect_options', ?)", [json.dumps(opts.to_dict())])
        apply_comments(con)
    return result


def detect(case: Case, settings: dict[str, dict[str, float]]) -> tuple[dict[str, int], dict[str, float]]:
    """The detectors' SQL (``settings``: detector id -> threshold values, in run order) over
    ``detect_requests`` and the ownership and Sigma tables: tables ``findings``,
    ``actor_findings`` and ``detector_runs``. Returns each detector's findings and run time.
    (run_detectors derives what it reads first; the Spark tests hand it over.)"""
    con = case.con
    found: dict[str, int] = {}
    seconds: dict[str, float] = {}
    cols = ", ".join(f"{c} {t}" for c, t in FINDING_COLUMNS.items())
    # (metrics is to_json's text already: a JSON column takes it as it is — Spark has no JSON type)
    casts = ", ".join(c if t == "JSON" else f"CAST({c} AS {t}) AS {c}" for c, t in FINDING_COLUMNS.items())
    con.execute(f"CREATE OR REPLACE TEMP TABLE _findings (det_order INTEGER, detector VARCHAR, {cols})")
    con.execute(
        "CREATE OR REPLACE TABLE detector_runs (detector VARCHAR, title VARCHAR, severity VARCHAR, "
        "signals VARCHAR[], thresholds JSON, sql VARCHAR, findings BIGINT)"
    )
    for order, (det_id, values) in enumerate(settings.items()):
        det = REGISTRY[det_id]
        query = det.sql(values)
        with stage(con, f"detect: {det_id}") as s:
            con.execute(f"INSERT INTO _findings SELECT {order}, '{det_id}', {casts} FROM ({query})")
            row = con.execute("SELECT count(*) FROM _findings WHERE detector = ?", [det_id]).fetchone()
            s.rows = found[det_id] = int(row[0]) if row else 0
        seconds[det_id] = s.wall_s
        con.execute(
            "INSERT INTO detector_runs VALUES (?, ?, ?, ?, ?, ?, ?)",
            [det_id, det.title, det.severity, list(det.signals), json.dumps(values), query, found[det_id]],
        )
    with stage(con, "detect: store findings"):
        _store(case, {d: REGISTRY[d].severity for d in settings})
    return found, seconds


def _store(case: Case, defaults: dict[str, str]) -> None:
    con = case.con
    default_sev = "CASE detector " + " ".join(f"WHEN '{d}' THEN '{s}'" for d, s in defaults.items()) + " END"
    rank = "CASE severity " + " ".join(f"WHEN '{s}' THEN {i}" for i, s in enumerate(SEVERITIES)) + " END"
    # the sample's ts only ordered it; (source_id, line_no) leads to the raw line
    sample = "[{'source_id': s.source_id, 'line_no': s.line_no} FOR s IN sample] AS sample"
    names = ", ".join(sample if c == "sample" else c for c in FINDING_COLUMNS if c != "severity")
    others = ", ".join(c for c in FINDING_COLUMNS if c != "severity")
    # numbered in a temporary table, the ambiguity caveat added while the table is written once
    # (columns named, not `* REPLACE`: Spark has none)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _numbered AS
        SELECT row_number() OVER (
            ORDER BY det_order, actor_id NULLS LAST, route NULLS FIRST, first_seen)::INTEGER AS finding_id,
          detector, severity, {names}
        FROM (SELECT det_order, detector, coalesce(severity, {default_sev}) AS severity, {others}
              FROM _findings)"""
    )
    con.execute("DROP TABLE _findings")
    _ambiguous(case, "_numbered")
    con.execute("DROP TABLE _numbered")
    # per actor: its findings, then its distinct records (each once, and whether an unauthorised
    # finding named it) before the lists are built — `count(*)` next to the records unnested had
    # counted (finding, record) pairs as findings, and two list(DISTINCT) over every pair took 11 s
    # at 10M events
    con.execute(
        f"""
        CREATE OR REPLACE TABLE actor_findings AS
        WITH per AS (
          SELECT actor_id, bool_or(unauthorised) AS unauthorised, min({rank}) AS severity_rank,
            list(DISTINCT detector ORDER BY detector) AS detectors, count(*) AS findings
          FROM findings WHERE actor_id IS NOT NULL GROUP BY actor_id),
        rec AS (  -- (lists unnested in a select list: a lateral join of each list was twice as slow)
          SELECT actor_id, record_id, bool_or(unauthorised) AS unauthorised FROM (
            SELECT actor_id, unauthorised, unnest(record_ids) AS record_id FROM findings
            WHERE actor_id IS NOT NULL)
          WHERE record_id IS NOT NULL GROUP BY ALL),
        lists AS (
          SELECT actor_id,
            list(record_id ORDER BY record_id) FILTER (WHERE unauthorised) AS unauthorised_records,
            list(record_id ORDER BY record_id) AS records_in_findings
          FROM rec GROUP BY actor_id)
        SELECT p.actor_id, p.unauthorised, p.severity_rank, p.detectors, p.findings,
          coalesce(l.unauthorised_records, []) AS unauthorised_records,
          coalesce(l.records_in_findings, []) AS records_in_findings
        FROM per p LEFT JOIN lists l USING (actor_id) ORDER BY p.actor_id"""
    )


def finding_requests(findings: str, where: str = "true") -> str:
    """SQL: ``finding_id, d.*`` — each finding's requests (``detect_requests d``): its actor's, in
    its time span, on its route when it names one, of the record ids it names when it names any;
    ``where`` filters them (over ``d``).

    The ids are an equi-join on each finding's list unnested once, never a list search per
    request: one scraper's finding naming 300,000 ids over its 300,000 reads made that search
    quadratic (DuckDB asked for 16 GiB and the investigation stopped)."""
    return f"""
        SELECT f.finding_id, d.* FROM {findings} f
        JOIN (SELECT DISTINCT finding_id, record_id
              FROM (SELECT finding_id, unnest(record_ids) AS record_id FROM {findings})) i
          ON i.finding_id = f.finding_id
        JOIN detect_requests d ON d.actor_id = f.actor_id AND d.record_id = i.record_id
          AND d.ts BETWEEN f.first_seen AND f.last_seen AND (f.route IS NULL OR d.route = f.route)
        WHERE {where}
        UNION ALL
        SELECT f.finding_id, d.* FROM {findings} f
        JOIN detect_requests d ON d.actor_id = f.actor_id
          AND d.ts BETWEEN f.first_seen AND f.last_seen AND (f.route IS NULL OR d.route = f.route)
        WHERE len(f.record_ids) = 0 AND {where}"""


AMBIGUOUS_CAVEAT = (
    "{n} of the finding's requests came from a shared address (several people behind one address "
    "and browser, or several browsers on the address that day) after a login there: someone there "
    "logged in, but who made these requests cannot be told, so the finding does not show an "
    "unauthorised caller (at most possible). {settles} would settle it."
)


def _ambiguous(case: Case, numbered: str) -> None:
    """Table ``findings`` from the numbered findings: those with ambiguous requests (same actor,
    route, time span and records) are not unauthorised: ``ambiguous_requests`` counts them,
    ``caveat`` says why."""
    before, after = AMBIGUOUS_CAVEAT.format(n="\0", settles=SETTLES[0].upper() + SETTLES[1:]).split("\0")
    caveat = f"{sql_str(before)} || a.n || {sql_str(after)}"
    # _numbered's columns (see _store), unauthorised replaced — named, not `* REPLACE`: Spark has none
    columns = ", ".join(
        "f.unauthorised AND a.n IS NULL AS unauthorised" if c == "unauthorised" else f"f.{c}"
        for c in ("finding_id", "detector", "severity", *(c for c in FINDING_COLUMNS if c != "severity"))
    )
    # only the findings of actors with an ambiguous request can have one: the others' record lists
    # (10.8M ids over 430k findings at 10M events) are not unnested for nothing
    suspects = (
        f"(SELECT * FROM {numbered} WHERE actor_id IN "
        "(SELECT actor_id FROM detect_requests WHERE auth_ambiguous))"
    )
    case.con.execute(
        f"""
        CREATE OR REPLACE TABLE findings AS
        WITH a AS (
          SELECT finding_id, count(*) AS n FROM ({finding_requests(suspects, "d.auth_ambiguous")})
          GROUP BY finding_id)
        SELECT {columns},
          coalesce(a.n, 0) AS ambiguous_requests,
          CASE WHEN a.n IS NOT NULL THEN {caveat} END AS caveat
        FROM {numbered} f LEFT JOIN a USING (finding_id) ORDER BY finding_id"""
    )


def findings(case: Case, actor_ids: list[int] | None = None, *, endpoints: bool = True) -> pd.DataFrame:
    """The findings of the last detection run, with each actor's IPs, user agents and class.

    ``actor_ids`` restricts them to those actors (plus, with ``endpoints``, the findings about an
    endpoint rather than an actor).
    """
    _require(case)
    where = ""
    if actor_ids is not None:
        ids = ", ".join(str(int(a)) for a in actor_ids) or "NULL"
        where = f"WHERE f.actor_id IN ({ids})" + (" OR f.actor_id IS NULL" if endpoints else "")
    return case.sql(
        f"""
        SELECT f.*, a.class AS actor_class, a.ips, a.user_agents, a.principals
        FROM findings f LEFT JOIN actors a USING (actor_id) {where} ORDER BY f.finding_id"""
    )


def flagged_actors(
    case: Case, limit: int | None = None, *, low: bool = True, with_records: bool = True
) -> pd.DataFrame:
    """Actors with findings: unauthorised first, then by severity and records received.

    ``low=False`` leaves out actors whose findings are all low/info severity (scanner noise);
    ``with_records=False`` leaves out the record id lists (big on big cases).
    """
    _require(case)
    records = "af.unauthorised_records," if with_records else ""
    keep = "" if low else f"WHERE af.severity_rank < {SEVERITIES.index('low')}"
    top = f"LIMIT {int(limit)}" if limit is not None else ""
    return case.sql(
        f"""
        SELECT af.actor_id, af.unauthorised, af.detectors, af.findings,
          len(af.unauthorised_records) AS unauthorised_records_n, {records}
          len(af.records_in_findings) AS records_n, a.class, a.ips, a.user_agents, a.principals,
          a.requests, a.first_seen, a.last_seen
        FROM actor_findings af JOIN actors a USING (actor_id) {keep}
        ORDER BY af.unauthorised DESC, af.severity_rank, records_n DESC, af.actor_id {top}"""
    )


def summary(case: Case) -> dict[str, object]:
    """Counts over the last detection run, computed in SQL (no lists leave DuckDB)."""
    _require(case)
    by_detector = {
        str(d): int(n)
        for d, n in case.con.execute(
            "SELECT detector, count(*) FROM findings GROUP BY detector ORDER BY min(finding_id)"
        ).fetchall()
    }
    row = case.con.execute(
        f"""
        SELECT count(*), count(*) FILTER (WHERE unauthorised),
          count(*) FILTER (WHERE severity_rank >= {SEVERITIES.index("low")}),
          (SELECT count(DISTINCT r) FROM actor_findings, unnest(unauthorised_records) AS u(r)
           WHERE unauthorised)
        FROM actor_findings"""
    ).fetchone()
    actors, unauthorised, quiet, records = (int(v) for v in row) if row else (0, 0, 0, 0)
    return {
        "findings": sum(by_detector.values()),
        "actors": actors,
        "by_detector": by_detector,
        "unauthorised_actors": unauthorised,
        "low_only_actors": quiet,
        "unauthorised_records": records,
    }


def _require(case: Case) -> None:
    row = case.con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'findings' AND NOT temporary"
    ).fetchone()
    if not (row and row[0]):
        raise ForensicsError("no findings yet: run run_detectors (CLI: forensics detect)")
