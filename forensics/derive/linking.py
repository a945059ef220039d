"""Which sessions are one actor: the link rules, each link with its reason (table ``actor_links``).

Rules (``RULES``: name -> the title a report prints); every link is between two sessions:

* ``principal`` — the same principal (logged on the line, or by the other log's copy);
* ``twin`` — one request logged by two servers (twins.py): both copies' sessions, when the copy's
  session holds copies of one original session only (an app log's copies carry no user agent:
  its session on an address shared by several callers must not tie them together);
* ``client`` — one *login fingerprint*: a client (address + user agent) that logged in and whose
  logins never overlapped (auth.py: overlapping logins on one client mean several people), back
  within ``CLIENT_LINK_GAP`` — when the log names no user, a member of staff alone on her address
  keeps one history across days. A *shared* client (overlapping logins) is never linked;
* ``network_ua`` — the same user agent from one network (/24, IPv6 /48, or the same
  hosting provider's AS when an ``--asn-db`` was given), no pause longer than ``NET_LINK_GAP``;
* ``adjacent_ids`` — consecutive record ids of one route read within ``ENUM_MAX_GAP`` by two
  sessions with the same user agent, when it happened ``ENUM_MIN_ADJACENT`` times and for at
  least ``ENUM_MIN_ADJACENT_SHARE`` of the smaller session's reads, or both sessions walk the
  ids themselves;
* ``fingerprint_walk`` — the same tool fingerprint (user agent, method, query-parameter names,
  referer absence, path casing: ``FINGERPRINT_SQL``) reading at least ``WALK_MIN_IDS``
  consecutive ids of a route in increasing time order, each next id within ``WALK_MAX_GAP``
  (a slow scraper rotating addresses: each address may read a single id);
* ``crowd_walk`` — callers with nothing else in common (a new address and browser per request)
  whose *unauthenticated* 2xx reads of a route, together, walk at least ``CROWD_MIN_IDS``
  consecutive ids in time order, each within ``CROWD_MAX_GAP`` — a path of reads each the
  other's nearest neighbour in id and time (``_crowd_walks``), so ids someone else read before
  never break it — over at least ``CROWD_MIN_SESSIONS`` sessions, none holding more than
  ``CROWD_MAX_SHARE`` of the ids (H11: one enumerator spread over rotating cloud addresses).
  Reads whose authentication is unknown never count, so staff on logs without logins are never
  tied by it;
* ``resumed_walk`` — across pauses of days: an actor (after the rules above) that walks a route's
  ids resumes where another with the same fingerprint stopped: its first id is 1 to
  max(``RESUME_MIN_ID_GAP``, ``RESUME_ID_GAP_FACTOR`` times the ids the earlier one walked) above the
  other's last (a logging gap or an unlogged night in between), at most ``RESUME_MAX_PAUSE``
  later, both walking (share of small forward steps ≥ ``ENUM_MIN_WALK`` over at least
  ``RESUME_MIN_READS`` reads); the nearest such predecessor wins.
* ``repeated_walk`` — two such walking actors with the same fingerprint share an address and walk
  overlapping id ranges, the later at most ``RESUME_MAX_PAUSE`` after the earlier (a script run
  again from the same host, e.g. a retry after the fix that is refused: walks count requests
  answered 2xx-4xx, the tool's behaviour whatever the answer).

All rules but ``principal``, ``twin`` and ``client`` link only sessions where nobody logged in
(no principal, no authenticated request; ``network_ua`` also never takes a client that logged in
at another time — staff would merge through their pre-login static requests) and only their
unauthenticated/unknown 2xx reads: staff who logged in behind one office NAT with the same
browser are never merged by them. Random reads by unrelated callers with the same common
browser string do not walk, so they never link.

Connected components run in DuckDB (``_components``: min-label propagation with hooking and
pointer jumping, a dozen rounds on chains of thousands of sessions), so nothing in Python grows
with the sessions.
"""

from __future__ import annotations

from datetime import timedelta

import duckdb

from forensics.store.case import Case
from forensics.store.stages import stage

# Unauthenticated sessions with one user agent in one network are one actor while they keep
# coming back within this pause (a nightly job stays one actor; a month-long silence splits).
NET_LINK_GAP = timedelta(hours=26)
# The sessions of one login fingerprint (address + user agent) whose logins never overlapped are
# one caller across days while it keeps coming back within this pause: weekends and a fortnight's
# leave stay one history; an address handed to someone else with the same browser months later
# does not inherit it.
CLIENT_LINK_GAP = timedelta(days=15)
ENUM_MAX_ID_STEP = 2  # record ids this close count as consecutive
ENUM_MAX_GAP = timedelta(minutes=10)
# Two sessions that touched consecutive ids are one enumerator only when that happened this
# often, or when both sessions' own reads walk the ids (share of small steps at least this):
# one chance adjacency between two clinicians' random reads must not merge them.
ENUM_MIN_ADJACENT = 3
# ... and those adjacencies are at least this share of the smaller session's reads: two people
# reading random ids of one small range with the same browser meet by chance a few times, a
# round-robin rotation meets on every read.
ENUM_MIN_ADJACENT_SHARE = 0.5
ENUM_MIN_WALK = 0.8
WALK_MIN_IDS = 20
WALK_MAX_GAP = timedelta(minutes=60)
# crowd_walk: callers with nothing else in common (a new address and browser string per request)
# whose first unauthenticated reads of a route's ids, together, walk at least CROWD_MIN_IDS
# consecutive ids in time order, each within CROWD_MAX_GAP of the previous, spread over at least
# CROWD_MIN_SESSIONS sessions with none holding more than CROWD_MAX_SHARE of the ids (also the
# defaults of the route-level distributed_walk finding, which reads them here; METHOD.md H11). Only
# reads with positive evidence of no authentication: staff whose authentication is unknown are never tied.
CROWD_MIN_IDS = 50
CROWD_MIN_SESSIONS = 10
CROWD_MAX_SHARE = 0.5
CROWD_MAX_GAP = timedelta(minutes=10)
RESUME_MAX_PAUSE = timedelta(days=14)
RESUME_MIN_READS = 10
RESUME_MIN_ID_GAP = 50
RESUME_ID_GAP_FACTOR = 2

RULES: dict[str, str] = {
    "principal": "same principal",
    "twin": "one request logged by two servers",
    "client": "one login fingerprint (address + browser, logins never overlapping) across days",
    "network_ua": "same user agent from one network without a long pause",
    "adjacent_ids": "consecutive record ids read within minutes, same user agent",
    "fingerprint_walk": "same tool fingerprint walking consecutive ids in time order",
    "crowd_walk": "many unauthenticated callers whose reads together walk consecutive ids in minutes",
    "resumed_walk": "resumed an id walk where another stopped, same tool fingerprint",
    "repeated_walk": "walked the ids again from the same address with the same tool",
}

# A read's tool fingerprint: traits a script keeps and that the logs hold (header order is not
# logged). Over events e.
FINGERPRINT_SQL = (
    "coalesce(e.user_agent, '') || ' | ' || coalesce(e.method, '?') || ' | query ' || "
    "coalesce(array_to_string(list_sort(list_distinct(regexp_extract_all(coalesce(e.query, ''), "
    "'(?:^|&)([^&=]+)', 1))), ','), '') || ' | ' || "
    "CASE WHEN e.referer IS NULL OR e.referer IN ('', '-') THEN 'no referer' ELSE 'referer' END || ' | ' || "
    "CASE WHEN e.path <> lower(e.path) THEN 'mixed-case path' ELSE 'lower-case path' END"
)


def link_sessions(case: Case) -> None:
    """Tables ``actor_links`` (one row per link, with rule and reason) and ``sessions.actor_id``."""
    con = case.con
    with stage(con, "linking: unauthenticated reads"):
        _reads(case)
    with stage(con, "linking: crowd walks"):
        _crowd_walks(case)
    with stage(con, "linking: links between sessions"):
        con.execute(f"CREATE OR REPLACE TEMP TABLE _links AS {_base_links_sql()}")
    with stage(con, "linking: components"):
        _components(case, "_links", "_cc1")
    with stage(con, "linking: resumed sessions"):
        con.execute(f"INSERT INTO _links {_resume_sql()}")
        _components(case, "_links", "_cc2")
    con.execute(
        """
        CREATE OR REPLACE TABLE sessions AS
        SELECT s.*, dense_rank() OVER (ORDER BY coalesce(c.comp, s.session_id)) AS actor_id
        FROM sessions s LEFT JOIN _cc2 c ON c.node = s.session_id"""
    )
    con.execute(
        """
        CREATE OR REPLACE TABLE actor_links AS
        SELECT s.actor_id, l.a AS session_id, l.b AS other_session_id, l.rule, l.reason
        FROM _links l JOIN sessions s ON s.session_id = l.a
        ORDER BY s.actor_id, l.rule, l.a, l.b"""
    )
    for t in ("_links", "_cc1", "_cc2", "_link_reads", "_link_keys", "_crowd_links"):
        con.execute(f"DROP TABLE IF EXISTS {t}")


def _shown(hours: str) -> str:
    """A length of time as a reason shows it, to 0.1: ``+ 0.0`` turns DuckDB's negative zero (a
    pause of -0.04 h, overlapping sessions, reads "-0.0") into the "0.0" Spark's rounding gives, so
    the reason text, and the smallest of them an actor's line shows, is one on both engines."""
    return f"(round({hours}, 1) + 0.0)"


def link_reasons_sql() -> str:
    """Per actor: one line per rule that tied its sessions (count and one example reason)."""
    titles = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in RULES.items())
    return f"""
        SELECT actor_id, list(line ORDER BY rule) AS link_reasons FROM (
          SELECT actor_id, rule, (CASE rule {titles} ELSE rule END) || ': ' || count(*) || ' link(s), e.g. '
                 || min(reason) AS line
          FROM actor_links GROUP BY actor_id, rule)
        GROUP BY actor_id"""


def _reads(case: Case) -> None:
    """Record requests (any answer below 500: a walk is the tool's behaviour, refused or not) of
    sessions where nobody logged in, with their fingerprint."""
    con = case.con
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _link_reads AS
        SELECT rs.session_id, r.route, TRY_CAST(r.record_id AS BIGINT) AS rid, r.ts,
          coalesce(e.user_agent, '') AS ua, {FINGERPRINT_SQL} AS fp,
          r.auth_state = 'unauthenticated' AND r.status BETWEEN 200 AND 299 AND NOT r.auth_ambiguous
            AS unauth_read
        FROM request_facts r JOIN request_session rs USING (source_id, line_no)
        JOIN sessions s USING (session_id)
        JOIN events e USING (source_id, line_no)
        WHERE NOT r.is_copy  -- one request logged twice is one read (its copy's session is a twin)
          AND r.auth_state IN ('unauthenticated', 'unknown') AND r.status BETWEEN 200 AND 499
          AND TRY_CAST(r.record_id AS BIGINT) IS NOT NULL AND s.principal IS NULL AND s.logged_in = 0"""
    )
    number_keys(con)


def number_keys(con: duckdb.DuckDBPyConnection) -> None:
    """``_link_reads`` gets each read's route, user agent and fingerprint also as a number
    (``route_key``, ``ua_key``, ``fp_key``, in each one's sort order); ``_link_keys`` (kind, k, v)
    maps them back. As a window's partition or sort key a string costs two to three times an
    integer: routes and browser strings share long prefixes, so they are compared whole."""
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _link_keys AS
        SELECT 'route' AS kind, row_number() OVER (ORDER BY route) AS k, route AS v
        FROM (SELECT DISTINCT route FROM _link_reads)
        UNION ALL
        SELECT 'ua', row_number() OVER (ORDER BY ua), ua FROM (SELECT DISTINCT ua FROM _link_reads)
        UNION ALL
        SELECT 'fp', row_number() OVER (ORDER BY fp), fp FROM (SELECT DISTINCT fp FROM _link_reads)"""
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _link_reads AS
        SELECT r.*, kr.k AS route_key, ku.k AS ua_key, kf.k AS fp_key FROM _link_reads r
        JOIN _link_keys kr ON kr.kind = 'route' AND kr.v IS NOT DISTINCT FROM r.route
        JOIN _link_keys ku ON ku.kind = 'ua' AND ku.v = r.ua
        JOIN _link_keys kf ON kf.kind = 'fp' AND kf.v = r.fp"""
    )


def _crowd_walks(case: Case) -> None:
    """Temp table ``_crowd_links`` (a, b, reason): the ``crowd_walk`` links.

    Over the unauthenticated 2xx reads (each session's first read of each id), a read's
    *predecessor* is the latest read of one of the ``ENUM_MAX_ID_STEP`` ids below it, at most
    ``CROWD_MAX_GAP`` earlier; its *successor* the earliest read of one of the ids above it, at
    most that much later. Two reads are one step of a walk when each is the other's (mutual): the
    steps form simple paths, so an id read by someone else days before (another attacker, a
    member of staff) never breaks a walk, and random readers — whose reads have several
    candidates, none of them mutual for long — never chain into one. A path of at least
    ``CROWD_MIN_IDS`` ids over at least ``CROWD_MIN_SESSIONS`` sessions, none holding more than
    ``CROWD_MAX_SHARE`` of its ids, links its sessions (the components run in SQL, ``_components``).
    """
    con, gap = case.con, int(CROWD_MAX_GAP.total_seconds())
    # the reads' routes by number (route_key, in the routes' order; _link_keys maps them back)
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _cr AS
        SELECT row_number() OVER (ORDER BY route_key, rid, ts, session_id) AS node, * FROM (
          SELECT route_key, rid, session_id, min(ts) AS ts FROM _link_reads WHERE unauth_read GROUP BY ALL)"""
    )

    # each id's read instants, the lowest node of each (what a tie at one instant goes to)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _cr_at AS "
        "SELECT route_key, rid, ts, min(node) AS n FROM _cr GROUP BY ALL"
    )

    def nearest(direction: str) -> str:
        """Per read and id step, the latest read of the id below (earliest of the id above) at or
        before (after) it, ties to the lowest node: a window over the reads and the wanted ids in
        time order finds the instant — the running maximum (minimum, in descending time) of the
        reads' times, equal times included — and ``_cr_at`` the read. Not an ASOF join, which Spark
        has not; not ``last_value(… IGNORE NULLS)``, which scanned back over every row between
        (quadratic in a neighbour's run of reads with none of the id itself)."""
        sign, pick, agg, order = (
            ("-", "arg_max", "max", "ts") if direction == "pred" else ("+", "arg_min", "min", "ts DESC")
        )
        window = (
            f"{agg}(CASE WHEN kind = 0 THEN ts END) OVER (PARTITION BY route_key, id ORDER BY {order} "
            "RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)"
        )
        # one window for every id step: a read's ask for id ± d lies in that id's partition, so
        # the steps need no window of their own (one sort of the reads and asks, not one per step)
        asks = " UNION ALL ".join(
            f"SELECT route_key, rid {sign} {d}, ts, 1, node FROM _cr" for d in range(1, ENUM_MAX_ID_STEP + 1)
        )
        parts = f"""SELECT w.node, a.n AS other, a.ts AS other_ts FROM (
                  SELECT route_key, id, kind, node, ts, {window} AS hit_ts FROM (
                    SELECT route_key, rid AS id, ts, 0 AS kind, node FROM _cr UNION ALL {asks})) w
                JOIN _cr_at a ON a.route_key = w.route_key AND a.rid = w.id AND a.ts = w.hit_ts
                WHERE w.kind = 1 AND abs(epoch(a.ts) - epoch(w.ts)) <= {gap}"""
        # equal times of two ids go to the lowest node too (arg_max over the time alone left the tie to
        # the threads: two runs on one case could link different sessions)
        key = "{'t': other_ts, 'n': -other}" if direction == "pred" else "{'t': other_ts, 'n': other}"
        return f"SELECT node, {pick}(other, {key}) AS other FROM ({parts}) GROUP BY node"

    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _cr_e AS
        WITH pred AS ({nearest("pred")}), succ AS ({nearest("succ")})
        SELECT p.other AS a, p.node AS b FROM pred p JOIN succ s ON s.node = p.other AND s.other = p.node"""
    )
    _components(case, "_cr_e", "_cr_c")
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _crowd_links AS
        WITH r AS (
          SELECT c.comp, x.node, k.v AS route, x.rid, x.session_id, x.ts
          FROM _cr_c c JOIN _cr x ON x.node = c.node
          JOIN _link_keys k ON k.kind = 'route' AND k.k = x.route_key),
        per_session AS (SELECT comp, session_id, count(DISTINCT rid) AS n FROM r GROUP BY ALL),
        crowds AS (
          SELECT comp, any_value(route) AS route, count(DISTINCT rid) AS ids, min(rid) AS lo,
            max(rid) AS hi, min(session_id) AS hub, count(DISTINCT session_id) AS sessions,
            (epoch(max(ts)) - epoch(min(ts))) / 60 AS minutes
          FROM r GROUP BY comp
          HAVING count(DISTINCT rid) >= {CROWD_MIN_IDS}
            AND count(DISTINCT session_id) >= {CROWD_MIN_SESSIONS}),
        top AS (SELECT comp, max(n) AS top FROM per_session GROUP BY comp)
        SELECT DISTINCT p.session_id AS a, c.hub AS b,
          'ids ' || c.lo || '-' || c.hi || ' of ' || c.route || ' read in order within '
          || round(c.minutes) || ' min by ' || c.sessions || ' unauthenticated sessions, none over '
          || {int(CROWD_MAX_SHARE * 100)} || '% of them' AS reason
        FROM crowds c JOIN top t USING (comp) JOIN per_session p USING (comp)
        WHERE t.top <= {CROWD_MAX_SHARE} * c.ids AND p.session_id <> c.hub"""
    )
    for t in ("_cr", "_cr_at", "_cr_e", "_cr_c"):
        con.execute(f"DROP TABLE IF EXISTS {t}")


def _base_links_sql() -> str:
    step, max_gap = ENUM_MAX_ID_STEP, int(ENUM_MAX_GAP.total_seconds())
    net_gap = int(NET_LINK_GAP.total_seconds())
    client_gap = int(CLIENT_LINK_GAP.total_seconds())
    walk_gap = int(WALK_MAX_GAP.total_seconds())
    return f"""
        WITH s AS (SELECT * FROM sessions),
        clients AS (  -- clients (address + user agent) that logged in; one_login: never overlapping
          SELECT client, sum(shared_requests) = 0 AS one_login FROM s
          WHERE client IS NOT NULL GROUP BY client HAVING sum(logged_in) > 0),
        client_chain AS (  -- one login fingerprint, back within CLIENT_LINK_GAP
          SELECT session_id, client, lag(session_id) OVER w AS prev_session,
            epoch(first_seen) - epoch(lag(last_seen) OVER w) AS pause
          FROM s WHERE client IN (SELECT client FROM clients WHERE one_login)
          WINDOW w AS (PARTITION BY client ORDER BY first_seen, session_id)),
        by_key AS (
          SELECT session_id, principal, min(session_id) OVER (PARTITION BY principal) AS root
          FROM s WHERE principal IS NOT NULL),
        net_ua AS (
          SELECT DISTINCT s.session_id, i.link_net AS net, s.ua, s.first_seen, s.last_seen
          FROM (SELECT *, unnest(user_agents) AS ua FROM s) s  -- (lists unnested in a select list:
          JOIN (SELECT session_id, unnest(ips) AS ip FROM s) p USING (session_id)  -- both engines)
          JOIN ip_info i ON i.client_ip = p.ip
          WHERE s.principal IS NULL AND s.logged_in = 0
            AND NOT EXISTS (SELECT 1 FROM clients c WHERE c.client = s.client)),  -- a login fingerprint
        net_chain AS (  -- one network + user agent, active without a long pause
          SELECT session_id, net, ua, lag(session_id) OVER w AS prev_session,
            epoch(first_seen) - epoch(max(last_seen) OVER (  -- (the window written out: Spark
              PARTITION BY net, ua ORDER BY first_seen, session_id  -- extends no named window)
              ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)) AS pause
          FROM net_ua WINDOW w AS (PARTITION BY net, ua ORDER BY first_seen, session_id)),
        own AS (  -- a session's own reads walk the ids: mostly small steps, in time order
          SELECT session_id, count(*) AS n,
            avg(CASE WHEN abs(rid - prev) <= {step} THEN 1 ELSE 0 END) AS walk
          FROM (SELECT session_id, rid, lag(rid) OVER (PARTITION BY session_id ORDER BY ts) AS prev
                FROM _link_reads)
          WHERE prev IS NOT NULL GROUP BY session_id),
        n_reads AS (SELECT session_id, count(*) AS n FROM _link_reads GROUP BY session_id),
        route_text AS (SELECT k AS route_key, v AS route FROM _link_keys WHERE kind = 'route'),
        seq AS (  -- (routes, user agents and fingerprints by number: _reads)
          SELECT session_id, route_key, rid, ts,
            lag(session_id) OVER w AS prev_session, lag(rid) OVER w AS prev_rid, lag(ts) OVER w AS prev_ts
          FROM _link_reads WINDOW w AS (PARTITION BY route_key, ua_key ORDER BY rid, ts)),
        adjacent AS (
          SELECT session_id, prev_session, route_key, count(*) AS times FROM seq
          WHERE prev_session IS NOT NULL AND prev_session <> session_id
            AND rid - prev_rid <= {step} AND abs(epoch(ts) - epoch(prev_ts)) <= {max_gap}
          GROUP BY ALL),
        first_read AS (  -- per fingerprint: each id's first read
          SELECT route_key, fp_key, rid, min(ts) AS ts, arg_min(session_id, ts) AS session_id
          FROM _link_reads GROUP BY route_key, fp_key, rid),
        walk_steps AS (
          SELECT *, CASE WHEN rid - lag(rid) OVER w <= {step}
                          AND epoch(ts) - epoch(lag(ts) OVER w) BETWEEN 0 AND {walk_gap}
                         THEN 0 ELSE 1 END AS new_segment
          FROM first_read WINDOW w AS (PARTITION BY route_key, fp_key ORDER BY rid)),
        walk_seg AS (
          SELECT *, sum(new_segment) OVER (PARTITION BY route_key, fp_key ORDER BY rid) AS segment
          FROM walk_steps),
        walks AS (
          SELECT w.*, r.route, f.v AS fp FROM (
            SELECT route_key, fp_key, segment, count(*) AS ids, min(rid) AS lo, max(rid) AS hi,
              min(session_id) AS hub, count(DISTINCT session_id) AS sessions,
              (epoch(max(ts)) - epoch(min(ts))) / 3600 AS hours
            FROM walk_seg GROUP BY ALL
            HAVING count(*) >= {WALK_MIN_IDS} AND count(DISTINCT session_id) >= 2) w
          JOIN route_text r USING (route_key) JOIN _link_keys f ON f.kind = 'fp' AND f.k = w.fp_key)
        SELECT session_id AS a, root AS b, 'principal' AS rule, 'principal ' || principal AS reason
        FROM by_key WHERE session_id <> root
        UNION
        SELECT a, b, 'twin', reason FROM (
          SELECT a.session_id AS a, b.session_id AS b,
            'request ' || t.source_id || ':' || t.line_no || ' also logged as ' || t.copy_source_id || ':'
            || t.copy_line_no AS reason,
            -- the copies' session is one person only when its copies' originals are one session:
            -- an app log's copies carry no user agent, so a copy session of an address where
            -- several people (and a monitor) call from would tie them all together
            -- (one original: the least and the greatest are one; Spark has no DISTINCT window)
            min(a.session_id) OVER (PARTITION BY b.session_id)
              = max(a.session_id) OVER (PARTITION BY b.session_id) AS one_original
          FROM request_twins t  -- one request, two logs
          JOIN request_session a ON a.source_id = t.source_id AND a.line_no = t.line_no
          JOIN request_session b ON b.source_id = t.copy_source_id AND b.line_no = t.copy_line_no
          WHERE a.session_id <> b.session_id)
        WHERE one_original
        UNION
        SELECT session_id, prev_session, 'client',
          'client ' || client || ' (it logged in, never two logins at once) back after '
          || {_shown("pause / 3600")} || ' h'
        FROM client_chain WHERE prev_session IS NOT NULL AND pause <= {client_gap}
        UNION
        SELECT session_id, prev_session, 'network_ua',
          'user agent ' || ua || ' from ' || net || ' again after ' || {_shown("pause / 3600")} || ' h'
        FROM net_chain WHERE prev_session IS NOT NULL AND pause <= {net_gap}
        UNION
        SELECT a.session_id, a.prev_session, 'adjacent_ids',
          a.times || ' consecutive id(s) of ' || rt.route || ' read within '
          || {max_gap // 60} || ' min of each other'
        FROM adjacent a JOIN route_text rt USING (route_key)
        LEFT JOIN own o1 ON o1.session_id = a.session_id
        LEFT JOIN own o2 ON o2.session_id = a.prev_session
        LEFT JOIN n_reads r1 ON r1.session_id = a.session_id
        LEFT JOIN n_reads r2 ON r2.session_id = a.prev_session
        WHERE (a.times >= {ENUM_MIN_ADJACENT}
               AND a.times >= {ENUM_MIN_ADJACENT_SHARE} * least(r1.n, r2.n))
           OR (o1.n >= 2 AND o1.walk >= {ENUM_MIN_WALK} AND o2.n >= 2 AND o2.walk >= {ENUM_MIN_WALK})
        UNION
        SELECT DISTINCT g.session_id, w.hub, 'fingerprint_walk',
          'ids ' || w.lo || '-' || w.hi || ' of ' || w.route || ' read in order over ' || round(w.hours, 1)
          || ' h by ' || w.sessions || ' sessions; fingerprint: ' || w.fp
        FROM walk_seg g JOIN walks w USING (route_key, fp_key, segment) WHERE g.session_id <> w.hub
        UNION
        SELECT a, b, 'crowd_walk', reason FROM _crowd_links"""


def _resume_sql() -> str:
    step = ENUM_MAX_ID_STEP
    pause = int(RESUME_MAX_PAUSE.total_seconds())
    return f"""
        WITH cr AS (
          SELECT coalesce(c.comp, r.session_id) AS comp, r.* FROM _link_reads r
          LEFT JOIN _cc1 c ON c.node = r.session_id),
        mixed AS (  -- components holding a session where somebody logged in: never resumed
          SELECT DISTINCT coalesce(c.comp, s.session_id) AS comp FROM sessions s
          LEFT JOIN _cc1 c ON c.node = s.session_id WHERE s.principal IS NOT NULL OR s.logged_in > 0),
        seq AS (
          SELECT *, lag(rid) OVER (PARTITION BY comp, route ORDER BY ts, rid) AS prev FROM cr
          WHERE comp NOT IN (SELECT comp FROM mixed)),
        segs AS (
          SELECT comp, route, any_value(fp) AS fp, count(DISTINCT rid) AS ids,
            arg_min(rid, ts) AS first_rid, arg_max(rid, ts) AS last_rid, min(ts) AS t0, max(ts) AS t1
          FROM seq GROUP BY comp, route
          HAVING count(DISTINCT fp) = 1 AND count(*) >= {RESUME_MIN_READS}
            AND avg(CASE WHEN rid - prev BETWEEN 1 AND {step} THEN 1.0 ELSE 0.0 END)
                  FILTER (WHERE prev IS NOT NULL) >= {ENUM_MIN_WALK}),
        comp_ips AS (
          SELECT DISTINCT coalesce(c.comp, s.session_id) AS comp, p.ip FROM sessions s
          LEFT JOIN _cc1 c ON c.node = s.session_id, unnest(s.ips) AS p(ip)
          WHERE coalesce(c.comp, s.session_id) IN (SELECT comp FROM segs)),
        pairs AS (
          SELECT b.comp AS b_comp, a.comp AS a_comp, b.route, b.fp, a.last_rid, b.first_rid,
            epoch(b.t0) - epoch(a.t1) AS pause,
            row_number() OVER (PARTITION BY b.comp, b.route
                               ORDER BY b.first_rid - a.last_rid, a.t1 DESC, a.comp) AS k
          FROM segs b JOIN segs a ON a.route = b.route AND a.fp = b.fp AND a.comp <> b.comp
            AND a.t1 < b.t0 AND epoch(b.t0) - epoch(a.t1) <= {pause}
            AND b.first_rid - a.last_rid BETWEEN 1 AND greatest({RESUME_MIN_ID_GAP},
                                                                {RESUME_ID_GAP_FACTOR} * a.ids))
        SELECT DISTINCT b_comp, a_comp, 'resumed_walk',
          'resumed ' || route || ' at id ' || first_rid || ', ' || (first_rid - last_rid)
          || ' after where the earlier walk stopped (' || last_rid || '), '
          || {_shown("pause / 86400")} || ' days later; fingerprint: ' || fp
        FROM pairs WHERE k = 1
        UNION  -- the same address walking again with the same tool (a retry after the fix)
        SELECT DISTINCT b.comp, a.comp, 'repeated_walk',
          'walked ' || b.route || ' again from ' || ia.ip || ' (ids ' || b.first_rid || '-' || b.last_rid
          || ', earlier ' || a.first_rid || '-' || a.last_rid || '), '
          || {_shown("(epoch(b.t0) - epoch(a.t1)) / 86400")} || ' days later; fingerprint: ' || b.fp
        FROM segs b JOIN segs a ON a.route = b.route AND a.fp = b.fp AND a.comp < b.comp
          AND a.t1 < b.t0 AND epoch(b.t0) - epoch(a.t1) <= {pause}
          AND b.first_rid <= a.last_rid AND b.last_rid >= a.first_rid  -- ids read again, not resumed
        JOIN comp_ips ia ON ia.comp = a.comp JOIN comp_ips ib ON ib.comp = b.comp AND ib.ip = ia.ip"""


def _components(case: Case, edges: str, out: str) -> int:
    """Temp table ``out`` (node, comp): each linked session and its component's smallest session
    id; returns the rounds it took. Each round every node takes the smallest label among its own
    and its neighbours' (propagation), every label's root takes the smallest any of its nodes took
    (hooking: the news reaches the whole tree, not only the nodes next to the edge), and every
    node then the label of its label (pointer jumping). Propagation and jumping alone moved a
    label one edge back toward its root per round: a chain of n sessions whose ids are not in
    chain order took about n/3 rounds (2,689 rounds of about 15 ms for a path of 8,000 shuffled
    ids; 115 rounds on a simulated year's links), with hooking 10 to 12."""
    con = case.con
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _cc_e AS
        SELECT a AS x, b AS y FROM {edges} UNION SELECT b, a FROM {edges}"""
    )
    con.execute(f"CREATE OR REPLACE TEMP TABLE {out} AS SELECT DISTINCT x AS node, x AS comp FROM _cc_e")
    rounds = 0
    while True:
        rounds += 1
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE _cc_next AS
            WITH hop AS (
              SELECT c.node, c.comp AS old, least(c.comp, min(n.comp)) AS comp FROM {out} c
              JOIN _cc_e e ON e.x = c.node JOIN {out} n ON n.node = e.y GROUP BY c.node, c.comp),
            hook AS (SELECT old AS root, min(comp) AS comp FROM hop GROUP BY old),
            hooked AS (SELECT h.node, least(h.comp, k.comp) AS comp FROM hop h JOIN hook k ON k.root = h.old)
            SELECT h.node, least(h.comp, j.comp) AS comp FROM hooked h JOIN hooked j ON j.node = h.comp"""
        )
        row = con.execute(
            f"SELECT count(*) FROM _cc_next n JOIN {out} c USING (node) WHERE n.comp <> c.comp"
        ).fetchone()
        con.execute(f"CREATE OR REPLACE TEMP TABLE {out} AS SELECT * FROM _cc_next")
        if not row or not row[0]:
            break
    con.execute("DROP TABLE IF EXISTS _cc_e")
    con.execute("DROP TABLE IF EXISTS _cc_next")
    return rounds
