"""Authentication state of every request, and the evidence for it.

A request is ``authenticated`` when the evidence says so, in this order:

1. ``principal`` — the log names a principal (remote user, JSON user, authorizer principal),
   or ``principal in another log`` — the other server's copy of the same request does (twins.py);
2. ``trusted`` — the client address is in a network the user declared (``--trusted``);
3. ``login`` — a successful (2xx/3xx) request to a declared login endpoint came earlier from
   the same IP and user agent, within the session lifetime. On an IP that showed several user
   agents that day (a shared NAT) the inference is weaker: ``auth_ambiguous`` says so;

otherwise ``unauthenticated`` — or ``unknown`` when the evidence could not have shown
authentication (no client address; or a source that never logs principals while no login
endpoint was given). Login endpoints are never guessed into evidence: without ``--login``,
likely ones are proposed (``AuthResult.proposed_logins``) for the user to confirm.

Table ``request_facts`` holds one row per event: (source_id, line_no), the event columns the
later derivations read (ts, client_ip, user_agent, principal, method, path, query, status,
bytes_sent, route, record_id) and auth_state, auth_evidence, auth_trusted, auth_login_ts,
auth_ambiguous, twin_principal (the principal the twin copy logged) and is_copy (this event is
the second log's copy of a request) — so sessions and actors scan one table instead of
re-joining events.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta

from forensics.case import Case
from forensics.formats.sqltext import sql_str
from forensics.network import Trusted, derive_ip_info
from forensics.routes import Endpoint, ensure_routes
from forensics.twins import derive_twins

DEFAULT_SESSION_LIFETIME = timedelta(hours=8)
# Route templates that look like login endpoints (for proposals only).
LOGIN_HINT_RE = r"(?i)(log-?in|sign-?in|auth|token|oauth|session)"


@dataclass(frozen=True)
class AuthOptions:
    logins: tuple[Endpoint, ...] = ()
    trusted: tuple[Trusted, ...] = ()
    session_lifetime: timedelta = DEFAULT_SESSION_LIFETIME

    def to_dict(self) -> dict[str, object]:
        return {
            "logins": [e.text for e in self.logins],
            "trusted": [str(t) for t in self.trusted],
            "session_lifetime_s": self.session_lifetime.total_seconds(),
        }


@dataclass
class AuthResult:
    counts: dict[str, int] = field(default_factory=dict)  # auth_state -> requests
    ambiguous: int = 0  # login-inferred requests on an IP shared by several user agents
    proposed_logins: list[tuple[str, int]] = field(default_factory=list)  # route, 2xx/3xx count
    unused_logins: list[str] = field(default_factory=list)  # given logins no 2xx/3xx request matches


def login_condition(logins: tuple[Endpoint, ...]) -> str:
    """SQL over ``requests`` rows: the request hit one of the login endpoints."""
    if not logins:
        return "false"
    return " OR ".join(f"({ep.match_sql()})" for ep in logins)


def derive_auth(case: Case, options: AuthOptions | None = None) -> AuthResult:
    """(Re)build ``ip_info`` and ``request_facts``."""
    opts = options or AuthOptions()
    ensure_routes(case)
    derive_ip_info(case, opts.trusted)
    derive_twins(case)
    lifetime_s = int(opts.session_lifetime.total_seconds())
    has_logins = "true" if opts.logins else "false"
    case.con.execute(
        f"""
        CREATE OR REPLACE TABLE request_facts AS
        WITH logins AS (
          SELECT client_ip, coalesce(user_agent, '') AS ua, ts AS login_ts FROM requests
          WHERE ({login_condition(opts.logins)}) AND status BETWEEN 200 AND 399
            AND client_ip IS NOT NULL),
        src AS (SELECT source_id, bool_or(principal IS NOT NULL) AS logs_principal
                FROM events GROUP BY source_id),
        tw AS (  -- the principal the other log wrote for the same request (twins.py)
          SELECT t.source_id, t.line_no, c.principal AS twin_principal, false AS is_copy
          FROM request_twins t JOIN events c ON c.source_id = t.copy_source_id AND c.line_no = t.copy_line_no
          UNION ALL
          SELECT t.copy_source_id, t.copy_line_no, p.principal, true
          FROM request_twins t JOIN events p ON p.source_id = t.source_id AND p.line_no = t.line_no),
        twin AS (SELECT source_id, line_no, min(twin_principal) AS twin_principal, bool_or(is_copy) AS is_copy
                 FROM tw GROUP BY ALL),
        shared AS (SELECT client_ip, ts::DATE AS day, count(DISTINCT user_agent) AS uas
                   FROM events WHERE client_ip IS NOT NULL GROUP BY ALL),
        j AS (
          SELECT e.source_id, e.line_no, e.ts, e.client_ip, e.user_agent, e.principal, e.method,
            e.path, e.query, e.status, e.bytes_sent, e.route, e.record_id, l.login_ts
          FROM requests e ASOF LEFT JOIN logins l
            ON e.client_ip = l.client_ip AND coalesce(e.user_agent, '') = l.ua AND e.ts >= l.login_ts),
        k AS (
          SELECT j.*, i.trusted, s.logs_principal, sh.uas, tw.twin_principal,
            coalesce(tw.is_copy, false) AS is_copy,
            CASE WHEN j.principal IS NOT NULL THEN 'principal'
                 WHEN tw.twin_principal IS NOT NULL THEN 'principal in another log'
                 WHEN i.trusted IS NOT NULL THEN 'trusted'
                 WHEN j.login_ts IS NOT NULL
                      AND epoch(j.ts) - epoch(j.login_ts) <= {lifetime_s} THEN 'login'
                 WHEN j.client_ip IS NULL THEN 'no client address'
                 WHEN NOT {has_logins} AND NOT s.logs_principal
                   THEN 'source logs no principal and no login endpoint given'
                 ELSE 'none' END AS auth_evidence
          FROM j LEFT JOIN ip_info i USING (client_ip) LEFT JOIN src s USING (source_id)
          LEFT JOIN twin tw USING (source_id, line_no)
          LEFT JOIN shared sh ON sh.client_ip = j.client_ip AND sh.day = j.ts::DATE)
        SELECT source_id, line_no, ts, client_ip, user_agent, principal, method, path, query,
          status, bytes_sent, route, record_id,
          CASE auth_evidence WHEN 'principal' THEN 'authenticated' WHEN 'login' THEN 'authenticated'
               WHEN 'principal in another log' THEN 'authenticated'
               WHEN 'trusted' THEN 'trusted' WHEN 'none' THEN 'unauthenticated'
               ELSE 'unknown' END AS auth_state,
          auth_evidence,
          trusted AS auth_trusted,
          CASE WHEN auth_evidence = 'login' THEN login_ts END AS auth_login_ts,
          (auth_evidence = 'login' AND coalesce(uas, 1) > 1) AS auth_ambiguous,
          twin_principal, is_copy
        FROM k"""
    )
    result = AuthResult()
    for state, n in case.con.execute(
        "SELECT auth_state, count(*) FROM request_facts GROUP BY ALL ORDER BY ALL"
    ).fetchall():
        result.counts[str(state)] = int(n)
    row = case.con.execute("SELECT count_if(auth_ambiguous) FROM request_facts").fetchone()
    result.ambiguous = int(row[0]) if row and row[0] is not None else 0
    result.unused_logins = unused_logins(case, opts.logins)
    if not opts.logins or result.unused_logins:
        result.proposed_logins = propose_logins(case)
    case.con.execute(
        "INSERT OR REPLACE INTO meta VALUES ('auth_options', ?)",
        [json.dumps(opts.to_dict())],
    )
    return result


def propose_logins(case: Case) -> list[tuple[str, int]]:
    """Routes that look like login endpoints: POST, login-like template, successful answers."""
    rows = case.con.execute(
        f"""
        SELECT route, count_if(status BETWEEN 200 AND 399) AS ok FROM requests
        WHERE method = 'POST' AND regexp_matches(template, {sql_str(LOGIN_HINT_RE)})
        GROUP BY route HAVING ok > 0 ORDER BY ok DESC, route LIMIT 5"""
    ).fetchall()
    return [(str(r), int(n)) for r, n in rows]


def unused_logins(case: Case, logins: tuple[Endpoint, ...]) -> list[str]:
    """The declared login endpoints that no successful (2xx/3xx) request in the case matches.

    Such a login is evidence of nothing: every caller would look unauthenticated (a typo in
    ``--login`` turned a whole API's users into attackers), so investigate refuses it.
    """
    out = []
    for ep in logins:
        row = case.con.execute(
            f"SELECT count(*) FROM events WHERE ({ep.match_sql()}) AND status BETWEEN 200 AND 399"
        ).fetchone()
        if not row or not int(row[0]):
            out.append(ep.text)
    return out


def principals_missing(case: Case) -> bool:
    """True when some source never logs a principal: without a login endpoint its requests'
    authentication cannot be judged (``auth_state = 'unknown'``)."""
    row = case.con.execute(
        "SELECT count(*) FROM (SELECT source_id FROM events GROUP BY source_id "
        "HAVING NOT bool_or(principal IS NOT NULL))"
    ).fetchone()
    return bool(row and int(row[0]))


def proposals_text(proposed: list[tuple[str, int]]) -> str:
    """The proposed login endpoints as a phrase for messages."""
    if not proposed:
        return (
            "no route looks like one (a POST to a path with login, sign-in, auth, token or session "
            "answered 2xx/3xx); `forensics routes CASE` lists the routes"
        )
    return "likely login endpoints: " + ", ".join(f"{r} ({n:,} successful)" for r, n in proposed)
