"""Sessions and actors: who is behind the requests, tied together only by evidence.

* A session is a principal's requests (when the log names one), else one IP + user agent's,
  split where the client was idle longer than ``session_gap``.
* Sessions join into one actor when the evidence ties them (``_link_actors``: the rules and
  their thresholds are in linking.py; every link is stored with its rule and reason in table
  ``actor_links``, and each actor's ``link_reasons`` summarise them for the report). A *login
  fingerprint* — a client (address + user agent) that logged in and whose logins never
  overlapped (auth.py: overlapping logins mean several people) — is one caller across days
  (rule ``client``), so a member of staff alone on her address keeps one history when the log
  names no user. A *shared* client (overlapping logins: an office NAT with identical browsers)
  is never linked: its sessions are not one person, and its actor's class is ``shared``. Rules
  that tie callers without a principal (same network + user agent, consecutive ids, the same
  tool fingerprint walking the ids, a walk resumed days later) apply only where nobody logged
  in and to clients that never logged in.
* Every actor gets a class from ``CLASS_RULES`` (data, first match wins, with the reason the
  report prints).

Tables: ``sessions``, ``request_session`` (source_id, line_no, session_id), ``actors``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta

from forensics.derive.auth import PROBE_PATH as PROBE_PATH  # the scanner detector reads them here
from forensics.derive.auth import SCANNER_UA as SCANNER_UA
from forensics.derive.auth import AuthOptions, AuthResult, derive_auth
from forensics.derive.linking import link_reasons_sql, link_sessions
from forensics.sigma.tables import ensure_tables as ensure_sigma_tables
from forensics.store.case import Case, apply_comments
from forensics.store.db import sql_str
from forensics.store.entry import logs
from forensics.store.stages import stage

DEFAULT_SESSION_GAP = timedelta(minutes=30)
MONITOR_UA = (
    r"(?i)(uptimerobot|pingdom|statuscake|site24x7|kube-probe|elb-healthchecker|googlehc|"
    r"datadog|newrelicpinger|betteruptime|uptime-kuma|nagios|zabbix|blackbox[_-]exporter|"
    r"health-?check)"
)
CRAWLER_UA = (
    r"(?i)(googlebot|bingbot|yandex(bot)?|baiduspider|duckduckbot|applebot|slurp|ahrefsbot|"
    r"semrushbot|mj12bot|petalbot|facebookexternalhit|gptbot|ccbot|bytespider|amazonbot)"
)

# (class, reason, SQL condition over the per-actor aggregates built in _classify)
CLASS_RULES: list[tuple[str, str, str]] = [
    ("trusted", "every request came from a declared trusted network", "trusted_share = 1"),
    (
        "shared",
        "several people behind one address and browser (their logins overlapped): who made which "
        "request cannot be told without application logs with user ids",
        "shared_share >= 0.5",
    ),
    (
        "authenticated",
        "requests carry authentication evidence (logged principal or a prior login)",
        "len(principals) > 0 OR authed_share >= 0.5",
    ),
    ("monitor", "uptime/health-check user agent", "ua_monitor > 0"),
    ("crawler", "search-engine user agent (claimed by the user agent; unverified offline)", "ua_crawler > 0"),
    ("scanner", "scanner/attack-tool user agent", "ua_scanner > 0"),
    ("scanner", "requests matching a Sigma webserver rule (forensics sigma)", "sigma_hits > 0"),
    (
        "scanner",
        "mostly 404s on probe paths (/.env, /wp-login.php, …)",
        "requests >= 5 AND s404_share >= 0.8 AND probe_share >= 0.5",
    ),
    ("unknown", "no rule matched", "true"),
]


@dataclass(frozen=True)
class ActorOptions:
    auth: AuthOptions = field(default_factory=AuthOptions)
    session_gap: timedelta = DEFAULT_SESSION_GAP

    def to_dict(self) -> dict[str, object]:
        return {**self.auth.to_dict(), "session_gap_s": self.session_gap.total_seconds()}


@dataclass
class ActorsResult:
    auth: AuthResult
    sessions: int = 0
    actors: int = 0
    classes: dict[str, int] = field(default_factory=dict)


@logs("actors", ActorOptions, ActorOptions.to_dict, rows=("actors",))
def derive_actors(case: Case, options: ActorOptions | None = None) -> ActorsResult:
    """Authentication state, sessions, actors and their classes (all re-derived)."""
    opts = options or ActorOptions()
    result = ActorsResult(derive_auth(case, opts.auth))
    con = case.con
    gap = int(opts.session_gap.total_seconds())
    with stage(con, "derive: sessions") as s:
        con.execute(_request_session_sql(gap))
        con.execute(
            """
            CREATE OR REPLACE TABLE sessions AS
            WITH per_client AS (  -- a session's requests per client first: their strings once
              SELECT s.session_id, e.client_key, min(coalesce(e.principal, e.twin_principal)) AS principal,
                min(e.ts) AS first_seen, max(e.ts) AS last_seen, count(*) AS requests,
                count_if(e.auth_state = 'authenticated') AS logged_in,
                count_if(e.auth_shared) AS shared_requests, count_if(e.auth_ambiguous) AS ambiguous_requests
              FROM request_session s JOIN request_facts e USING (source_id, line_no)
              GROUP BY ALL)
            SELECT p.session_id, min(p.principal) AS principal,
              list(DISTINCT c.client_ip) FILTER (WHERE c.client_ip IS NOT NULL) AS ips,
              list(DISTINCT c.user_agent) FILTER (WHERE c.user_agent IS NOT NULL) AS user_agents,
              min(p.first_seen) AS first_seen, max(p.last_seen) AS last_seen,
              sum(p.requests)::BIGINT AS requests,
              sum(p.logged_in)::BIGINT AS logged_in, sum(p.shared_requests)::BIGINT AS shared_requests,
              sum(p.ambiguous_requests)::BIGINT AS ambiguous_requests,
              CASE WHEN min(p.principal) IS NULL
                   THEN min(coalesce(c.client_ip, '?') || ' ' || coalesce(c.user_agent, '')) END AS client
            FROM per_client p JOIN clients c USING (client_key)
            GROUP BY p.session_id"""
        )
        s.rows = _count(case, "sessions")
    with stage(con, "derive: actors (linking)") as s:
        _link_actors(case)
        s.rows = _count(case, "(SELECT DISTINCT actor_id FROM sessions)")
    with stage(con, "derive: actors (classes)") as s:
        result.classes = _classify(case)
        _add_link_reasons(case)
        s.rows = sum(result.classes.values())
    row = con.execute("SELECT (SELECT count(*) FROM sessions), (SELECT count(*) FROM actors)").fetchone()
    if row:
        result.sessions, result.actors = int(row[0]), int(row[1])
    con.execute("INSERT OR REPLACE INTO meta VALUES ('actor_options', ?)", [json.dumps(opts.to_dict())])
    apply_comments(con)  # ip_info, request_twins, request_facts, sessions, actors: re-created
    return result


def _request_session_sql(gap: int) -> str:
    """``request_session``: a principal's requests, or one client's (a copy's: its original's
    client), split where idle longer than ``gap`` seconds; sessions are numbered in the order of
    their key ('p:' principal or 'c:' address and user agent) and start. The windows run over
    integer client keys: clients whose key strings are equal (no user agent and an empty one) are
    one."""
    return f"""
        CREATE OR REPLACE TABLE request_session AS
        WITH ck AS (  -- the client's key string, and one number per distinct string
          SELECT client_key, ckey, dense_rank() OVER (ORDER BY ckey) AS k FROM (
            SELECT client_key, 'c:' || coalesce(client_ip, '?') || ' ' || coalesce(user_agent, '') AS ckey
            FROM clients)),
        copy_client AS (  -- a copy (the app log's, without a user agent) is in its original's session: its
          SELECT t.copy_source_id AS source_id, t.copy_line_no AS line_no,  -- address alone would put
            arg_min(r.client_key, t.skew_ms) AS client_key  -- every caller behind one address into one
          FROM request_twins t JOIN request_facts r USING (source_id, line_no) GROUP BY ALL),
        keyed AS (
          SELECT f.source_id, f.line_no, f.ts, coalesce(f.principal, f.twin_principal) AS p,
            CASE WHEN coalesce(f.principal, f.twin_principal) IS NULL THEN ck.k END AS k
          FROM request_facts f LEFT JOIN copy_client o USING (source_id, line_no)
          JOIN ck ON ck.client_key = coalesce(o.client_key, f.client_key)),
        numbered AS (
          SELECT *, sum(new) OVER (PARTITION BY p, k ORDER BY ts, source_id, line_no) AS sno FROM (
            SELECT *, CASE WHEN epoch(ts)
                                - epoch(lag(ts) OVER (PARTITION BY p, k ORDER BY ts, source_id, line_no))
                              <= {gap} THEN 0 ELSE 1 END AS new
            FROM keyed)),
        ids AS (  -- sessions in the order of their key string and start
          SELECT p, k, sno, row_number() OVER (ORDER BY skey, sno) AS session_id FROM (
            SELECT p, k, sno, CASE WHEN p IS NOT NULL THEN 'p:' || p ELSE ck.ckey END AS skey
            FROM (SELECT DISTINCT p, k, sno FROM numbered) d
            LEFT JOIN (SELECT DISTINCT k, ckey FROM ck) ck USING (k)))
        SELECT n.source_id, n.line_no, i.session_id
        FROM numbered n JOIN ids i
          ON i.p IS NOT DISTINCT FROM n.p AND i.k IS NOT DISTINCT FROM n.k AND i.sno = n.sno"""


def _count(case: Case, table: str) -> int:
    row = case.con.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(row[0]) if row else 0


def _link_actors(case: Case) -> None:
    """Connected components of sessions over the link rules -> ``sessions.actor_id`` and
    ``actor_links`` (linking.py)."""
    link_sessions(case)


def _add_link_reasons(case: Case) -> None:
    """``actors.link_reasons``: why the actor's sessions are one actor (empty: one session);
    ``actors.hosting``: the hosting providers its addresses belong to (network.py, asndb.py)."""
    case.con.execute(
        f"""
        CREATE OR REPLACE TABLE actors AS
        WITH h AS (
          SELECT s.actor_id, list(DISTINCT 'AS' || i.asn || ' ' || coalesce(i.as_org, '')
                                  ORDER BY 'AS' || i.asn || ' ' || coalesce(i.as_org, '')) AS hosting
          FROM (SELECT actor_id, unnest(ips) AS ip FROM sessions) s JOIN ip_info i ON i.client_ip = s.ip
          WHERE i.hosting GROUP BY s.actor_id)
        SELECT a.*, coalesce(l.link_reasons, []::VARCHAR[]) AS link_reasons,
          coalesce(h.hosting, []::VARCHAR[]) AS hosting
        FROM actors a LEFT JOIN ({link_reasons_sql()}) l USING (actor_id)
        LEFT JOIN h USING (actor_id) ORDER BY a.actor_id"""
    )


def _classify(case: Case) -> dict[str, int]:
    con = case.con
    ensure_sigma_tables(con)  # sigma_hits: requests a Sigma rule matched (forensics sigma)
    rules = " ".join(f"WHEN {cond} THEN {sql_str(cls)}" for cls, _, cond in CLASS_RULES)
    reasons = " ".join(f"WHEN {cond} THEN {sql_str(why)}" for _, why, cond in CLASS_RULES)
    con.execute(
        f"""
        CREATE OR REPLACE TABLE actors AS
        WITH ua AS (  -- user-agent patterns once per distinct user agent, not per request
          SELECT user_agent, regexp_matches(user_agent, {sql_str(MONITOR_UA)}) AS monitor,
            regexp_matches(user_agent, {sql_str(CRAWLER_UA)}) AS crawler,
            regexp_matches(user_agent, {sql_str(SCANNER_UA)}) AS scanner
          FROM (SELECT DISTINCT user_agent FROM clients WHERE user_agent IS NOT NULL)),
        cl AS (SELECT c.*, u.monitor, u.crawler, u.scanner FROM clients c LEFT JOIN ua u USING (user_agent)),
        agg AS (
          SELECT s.actor_id,
            list(DISTINCT c.client_ip ORDER BY c.client_ip) FILTER (WHERE c.client_ip IS NOT NULL) AS ips,
            list(DISTINCT c.user_agent ORDER BY c.user_agent) FILTER (WHERE c.user_agent IS NOT NULL)
              AS user_agents,
            coalesce(list(DISTINCT coalesce(e.principal, e.twin_principal)
                          ORDER BY coalesce(e.principal, e.twin_principal))
              FILTER (WHERE coalesce(e.principal, e.twin_principal) IS NOT NULL), []) AS principals,
            min(e.ts) AS first_seen, max(e.ts) AS last_seen, count(*) AS requests,
            count(DISTINCT s.session_id) AS sessions,
            count(DISTINCT e.record_id) AS records, sum(e.bytes_sent) AS bytes,
            avg(CASE WHEN e.auth_state = 'trusted' THEN 1 ELSE 0 END) AS trusted_share,
            avg(CASE WHEN e.auth_state = 'authenticated' THEN 1 ELSE 0 END) AS authed_share,
            avg(CASE WHEN e.auth_shared THEN 1 ELSE 0 END) AS shared_share,
            count_if(e.auth_ambiguous) AS ambiguous_requests,
            list(DISTINCT e.auth_evidence ORDER BY e.auth_evidence) AS auth_evidence,
            avg(CASE WHEN e.status = 404 THEN 1 ELSE 0 END) AS s404_share,
            avg(CASE WHEN e.probe THEN 1 ELSE 0 END) AS probe_share,
            count_if(c.monitor) AS ua_monitor,
            count_if(c.crawler) AS ua_crawler,
            count_if(c.scanner) AS ua_scanner,
            count_if(sm.line_no IS NOT NULL AND e.auth_state <> 'trusted') AS sigma_hits
          FROM request_session rs JOIN request_facts e USING (source_id, line_no)
          JOIN sessions s USING (session_id)
          JOIN cl c USING (client_key)
          LEFT JOIN (SELECT DISTINCT source_id, line_no FROM sigma_matches) sm
            ON sm.source_id = e.source_id AND sm.line_no = e.line_no
          GROUP BY s.actor_id)
        SELECT agg.*, CASE {rules} END AS class, CASE {reasons} END AS class_reason
        FROM agg ORDER BY actor_id"""
    )
    return {
        str(c): int(n)
        for c, n in con.execute("SELECT class, count(*) FROM actors GROUP BY ALL ORDER BY ALL").fetchall()
    }
