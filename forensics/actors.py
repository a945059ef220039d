"""Sessions and actors: who is behind the requests, tied together only by evidence.

* A session is a principal's requests (when the log names one), else one IP + user agent's,
  split where the client was idle longer than ``session_gap``.
* Sessions join into one actor when the evidence ties them (``_link_actors``; each link's
  reason is kept: ``actors.links``):
  - the same principal (logged on the line, or by the other log's copy of the request);
  - one request logged by two servers (twins.py): both copies' sessions;
  - one *login fingerprint* — a client (address + user agent) that logged in and whose logins
    never overlapped (``auth.py``: overlapping logins mean several people) — across days, back
    within ``CLIENT_LINK_GAP``: when the log names no user, a member of staff alone on her
    address keeps one history (a new actor every day would make every record she reads look
    new to ``out_of_scope``). A *shared* client (overlapping logins: an office NAT with
    identical browsers) is never linked: its sessions are not one person, and its actor's
    class is ``shared``;
  - the same user agent from one network (/24, IPv6 /48), with no pause longer than
    ``NET_LINK_GAP`` between its sessions, for sessions where nobody logged in and whose
    client never logged in (colleagues behind one office NAT with the same browser are not
    merged; a trusted partner's addresses are);
  - consecutive record ids of one route read within minutes by different unauthenticated
    sessions with the same user agent, when it happened repeatedly or both sessions walk the
    ids themselves (distributed enumeration from rotating IPs). Not caught: an enumerator
    that changes address on every request across many networks.
* Every actor gets a class from ``CLASS_RULES`` (data, first match wins, with the reason the
  report prints).

Tables: ``sessions``, ``request_session`` (source_id, line_no, session_id), ``actors``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta

import pandas as pd

from forensics.auth import SCANNER_UA as SCANNER_UA  # the scanner detector reads it here
from forensics.auth import AuthOptions, AuthResult, derive_auth
from forensics.case import Case, apply_comments, registered
from forensics.formats.sqltext import sql_str

DEFAULT_SESSION_GAP = timedelta(minutes=30)
# Unauthenticated sessions with one user agent in one network are one actor while they keep
# coming back within this pause (a nightly job stays one actor; a month-long silence splits).
NET_LINK_GAP = timedelta(hours=26)
# The sessions of one login fingerprint (address + user agent) whose logins never overlapped are
# one caller across days while it keeps coming back within this pause: weekends and a fortnight's
# leave stay one history; an address handed to someone else with the same browser months later
# does not inherit it.
CLIENT_LINK_GAP = timedelta(days=15)
# Link reasons (sessions.link_reasons, actors.links): what tied the sessions into one actor.
LINK_PRINCIPAL = "the same principal"
LINK_TWIN = "one request logged by two servers"
LINK_CLIENT = "one login fingerprint (address + browser, logins never overlapping) across days"
LINK_NETWORK = "the same user agent from one network without a long pause, nobody logged in"
LINK_ENUM = "consecutive record ids read within minutes with one user agent (distributed enumeration)"
ENUM_MAX_ID_STEP = 2  # record ids this close count as consecutive
ENUM_MAX_GAP = timedelta(minutes=10)
# Two sessions that touched consecutive ids are one enumerator only when that happened this
# often, or when both sessions' own reads walk the ids (share of small steps at least this):
# one chance adjacency between two clinicians' random reads must not merge them.
ENUM_MIN_ADJACENT = 3
ENUM_MIN_WALK = 0.8

MONITOR_UA = (
    r"(?i)(uptimerobot|pingdom|statuscake|site24x7|kube-probe|elb-healthchecker|googlehc|"
    r"datadog|newrelicpinger|betteruptime|uptime-kuma|nagios|zabbix|blackbox[_-]exporter|"
    r"health-?check)"
)
CRAWLER_UA = (
    r"(?i)(googlebot|bingbot|yandex(bot)?|baiduspider|duckduckbot|applebot|slurp|ahrefsbot|"
    r"semrushbot|mj12bot|petalbot|facebookexternalhit|gptbot|ccbot|bytespider|amazonbot)"
)
PROBE_PATH = (
    r"(?i)(/\.env|/\.git|/\.aws|/\.ssh|wp-login|wp-admin|xmlrpc\.php|phpmyadmin|/cgi-bin/|"
    r"/actuator|/server-status|/vendor/phpunit|/boaform|/HNAP1|\.php$|\.asp$|/config\.json)"
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


def derive_actors(case: Case, options: ActorOptions | None = None) -> ActorsResult:
    """Authentication state, sessions, actors and their classes (all re-derived)."""
    opts = options or ActorOptions()
    result = ActorsResult(derive_auth(case, opts.auth))
    con = case.con
    gap = int(opts.session_gap.total_seconds())
    con.execute(
        f"""
        CREATE OR REPLACE TABLE request_session AS
        SELECT source_id, line_no,
          dense_rank() OVER (ORDER BY skey, sno) AS session_id
        FROM (
          SELECT *, sum(new) OVER (PARTITION BY skey ORDER BY ts, source_id, line_no) AS sno FROM (
            SELECT source_id, line_no, ts, skey,
              CASE WHEN epoch(ts) - epoch(lag(ts) OVER (PARTITION BY skey ORDER BY ts, source_id, line_no))
                        <= {gap} THEN 0 ELSE 1 END AS new
            FROM (SELECT source_id, line_no, ts,
                    CASE WHEN coalesce(principal, twin_principal) IS NOT NULL
                         THEN 'p:' || coalesce(principal, twin_principal)
                         ELSE 'c:' || coalesce(client_ip, '?') || ' ' || coalesce(user_agent, '') END AS skey
                  FROM request_facts)))"""
    )
    con.execute(
        """
        CREATE OR REPLACE TABLE sessions AS
        SELECT s.session_id,
          min(coalesce(e.principal, e.twin_principal)) AS principal,
          list(DISTINCT e.client_ip) FILTER (WHERE e.client_ip IS NOT NULL) AS ips,
          list(DISTINCT e.user_agent) FILTER (WHERE e.user_agent IS NOT NULL) AS user_agents,
          min(e.ts) AS first_seen, max(e.ts) AS last_seen, count(*) AS requests,
          count_if(e.auth_state = 'authenticated')::BIGINT AS logged_in,
          count_if(e.auth_shared)::BIGINT AS shared_requests,
          count_if(e.auth_ambiguous)::BIGINT AS ambiguous_requests,
          CASE WHEN min(coalesce(e.principal, e.twin_principal)) IS NULL
               THEN min(coalesce(e.client_ip, '?') || ' ' || coalesce(e.user_agent, '')) END AS client
        FROM request_session s JOIN request_facts e USING (source_id, line_no)
        GROUP BY s.session_id"""
    )
    _link_actors(case)
    result.classes = _classify(case)
    row = con.execute("SELECT (SELECT count(*) FROM sessions), (SELECT count(*) FROM actors)").fetchone()
    if row:
        result.sessions, result.actors = int(row[0]), int(row[1])
    con.execute("INSERT OR REPLACE INTO meta VALUES ('actor_options', ?)", [json.dumps(opts.to_dict())])
    apply_comments(con)  # ip_info, request_twins, request_facts, sessions, actors: re-created
    return result


def _link_actors(case: Case) -> None:
    """Connected components of sessions over the link rules -> ``sessions.actor_id``."""
    con = case.con
    step, max_gap = ENUM_MAX_ID_STEP, int(ENUM_MAX_GAP.total_seconds())
    net_gap, client_gap = int(NET_LINK_GAP.total_seconds()), int(CLIENT_LINK_GAP.total_seconds())
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _actor_edges AS
        WITH s AS (SELECT * FROM sessions),
        clients AS (  -- clients (address + user agent) that logged in; one_login: never overlapping
          SELECT client, sum(shared_requests) = 0 AS one_login FROM s
          WHERE client IS NOT NULL GROUP BY client HAVING sum(logged_in) > 0),
        client_chain AS (  -- one login fingerprint, back within CLIENT_LINK_GAP
          SELECT session_id, lag(session_id) OVER w AS prev_session,
            epoch(first_seen) - epoch(lag(last_seen) OVER w) AS pause
          FROM s WHERE client IN (SELECT client FROM clients WHERE one_login)
          WINDOW w AS (PARTITION BY client ORDER BY first_seen, session_id)),
        by_key AS (
          SELECT session_id, min(session_id) OVER (PARTITION BY principal) AS root
          FROM s WHERE principal IS NOT NULL),
        net_ua AS (
          SELECT DISTINCT s.session_id, i.net, ua, s.first_seen, s.last_seen
          FROM s, unnest(s.user_agents) AS u(ua), unnest(s.ips) AS p(ip)
          JOIN ip_info i ON i.client_ip = p.ip
          WHERE s.principal IS NULL AND s.logged_in = 0
            AND s.client NOT IN (SELECT client FROM clients)),  -- a login fingerprint is one caller
        net_chain AS (  -- one network + user agent, active without a long pause
          SELECT session_id, lag(session_id) OVER w AS prev_session,
            epoch(first_seen) - epoch(max(last_seen) OVER (w ROWS BETWEEN UNBOUNDED PRECEDING
                                                           AND 1 PRECEDING)) AS pause
          FROM net_ua WINDOW w AS (PARTITION BY net, ua ORDER BY first_seen, session_id)),
        reads AS (
          SELECT rs.session_id, r.route, TRY_CAST(r.record_id AS BIGINT) AS rid, r.ts,
                 coalesce(r.user_agent, '') AS ua
          FROM request_facts r JOIN request_session rs USING (source_id, line_no)
          WHERE r.auth_state IN ('unauthenticated', 'unknown') AND r.status BETWEEN 200 AND 299
            AND TRY_CAST(r.record_id AS BIGINT) IS NOT NULL),
        own AS (  -- a session's own reads walk the ids: mostly small steps, in time order
          SELECT session_id, count(*) AS n,
            avg(CASE WHEN abs(rid - prev) <= {step} THEN 1 ELSE 0 END) AS walk
          FROM (SELECT session_id, rid, lag(rid) OVER (PARTITION BY session_id ORDER BY ts) AS prev
                FROM reads)
          WHERE prev IS NOT NULL GROUP BY session_id),
        seq AS (
          SELECT session_id, rid, ts,
            lag(session_id) OVER w AS prev_session, lag(rid) OVER w AS prev_rid, lag(ts) OVER w AS prev_ts
          FROM reads WINDOW w AS (PARTITION BY route, ua ORDER BY rid, ts)),
        adjacent AS (
          SELECT session_id, prev_session, count(*) AS times FROM seq
          WHERE prev_session IS NOT NULL AND prev_session <> session_id
            AND rid - prev_rid <= {step} AND abs(epoch(ts) - epoch(prev_ts)) <= {max_gap}
          GROUP BY ALL)
        SELECT session_id, root, {sql_str(LINK_PRINCIPAL)} AS reason FROM by_key WHERE session_id <> root
        UNION
        SELECT a.session_id, b.session_id, {sql_str(LINK_TWIN)} FROM request_twins t  -- one request, two logs
        JOIN request_session a ON a.source_id = t.source_id AND a.line_no = t.line_no
        JOIN request_session b ON b.source_id = t.copy_source_id AND b.line_no = t.copy_line_no
        WHERE a.session_id <> b.session_id
        UNION
        SELECT session_id, prev_session, {sql_str(LINK_CLIENT)} FROM client_chain
        WHERE prev_session IS NOT NULL AND pause <= {client_gap}
        UNION
        SELECT session_id, prev_session, {sql_str(LINK_NETWORK)} FROM net_chain
        WHERE prev_session IS NOT NULL AND pause <= {net_gap}
        UNION
        SELECT a.session_id, a.prev_session, {sql_str(LINK_ENUM)} FROM adjacent a
        LEFT JOIN own o1 ON o1.session_id = a.session_id
        LEFT JOIN own o2 ON o2.session_id = a.prev_session
        WHERE a.times >= {ENUM_MIN_ADJACENT}
           OR (o1.n >= 2 AND o1.walk >= {ENUM_MIN_WALK} AND o2.n >= 2 AND o2.walk >= {ENUM_MIN_WALK})"""
    )
    edges = con.execute("SELECT session_id, root FROM _actor_edges").fetchall()
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        root = x
        while parent.get(root, root) != root:
            root = parent[root]
        while parent.get(x, x) != root:  # path compression
            parent[x], x = root, parent[x]
        return root

    for a, b in edges:
        ra, rb = find(int(a)), find(int(b))
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    roots = pd.DataFrame({"session_id": list(parent), "root": [find(s) for s in parent]}, dtype="int64")
    with registered(con, "_actor_roots", roots):
        con.execute(
            """
            CREATE OR REPLACE TABLE sessions AS
            SELECT s.*, dense_rank() OVER (ORDER BY coalesce(r.root, s.session_id)) AS actor_id
            FROM sessions s LEFT JOIN _actor_roots r USING (session_id)"""
        )
    con.execute(  # per actor, the reasons its sessions were tied together
        """
        CREATE OR REPLACE TEMP TABLE _actor_links AS
        SELECT s.actor_id, list(DISTINCT e.reason ORDER BY e.reason) AS links
        FROM _actor_edges e JOIN sessions s USING (session_id) GROUP BY s.actor_id"""
    )


def _classify(case: Case) -> dict[str, int]:
    con = case.con
    rules = " ".join(f"WHEN {cond} THEN {sql_str(cls)}" for cls, _, cond in CLASS_RULES)
    reasons = " ".join(f"WHEN {cond} THEN {sql_str(why)}" for _, why, cond in CLASS_RULES)
    con.execute(
        f"""
        CREATE OR REPLACE TABLE actors AS
        WITH ua AS (  -- user-agent patterns once per distinct user agent, not per request
          SELECT user_agent, regexp_matches(user_agent, {sql_str(MONITOR_UA)}) AS monitor,
            regexp_matches(user_agent, {sql_str(CRAWLER_UA)}) AS crawler,
            regexp_matches(user_agent, {sql_str(SCANNER_UA)}) AS scanner
          FROM (SELECT DISTINCT user_agent FROM request_facts WHERE user_agent IS NOT NULL)),
        probe AS (
          SELECT path, regexp_matches(path, {sql_str(PROBE_PATH)}) AS probe
          FROM (SELECT DISTINCT path FROM request_facts WHERE path IS NOT NULL)),
        agg AS (
          SELECT s.actor_id,
            list(DISTINCT e.client_ip ORDER BY e.client_ip) FILTER (WHERE e.client_ip IS NOT NULL) AS ips,
            list(DISTINCT e.user_agent ORDER BY e.user_agent) FILTER (WHERE e.user_agent IS NOT NULL)
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
            avg(CASE WHEN p.probe THEN 1 ELSE 0 END) AS probe_share,
            count_if(u.monitor) AS ua_monitor,
            count_if(u.crawler) AS ua_crawler,
            count_if(u.scanner) AS ua_scanner
          FROM request_session rs JOIN request_facts e USING (source_id, line_no)
          JOIN sessions s USING (session_id)
          LEFT JOIN ua u USING (user_agent) LEFT JOIN probe p USING (path)
          GROUP BY s.actor_id)
        SELECT agg.*, coalesce(l.links, []) AS links,
          CASE {rules} END AS class, CASE {reasons} END AS class_reason
        FROM agg LEFT JOIN _actor_links l USING (actor_id) ORDER BY actor_id"""
    )
    return {
        str(c): int(n)
        for c, n in con.execute("SELECT class, count(*) FROM actors GROUP BY ALL ORDER BY ALL").fetchall()
    }
