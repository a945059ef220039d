"""Authentication state of every request, and the evidence for it.

Each request gets ``auth_state`` and ``auth_evidence`` (the reason, a phrase the report prints).
The evidence is weighed in this order; the first that holds decides:

1. ``principal`` — the log names a principal (remote user, JSON user, authorizer principal),
   or ``principal in another log`` — the other server's copy of the same request does (twins.py):
   **authenticated**;
2. ``trusted`` — the client address is in a network the user declared (``--trusted``): **trusted**;
3. ``login`` — a successful (2xx/3xx) request to a declared login endpoint came earlier from the
   same *client* (IP and user agent: the login fingerprint) within the session lifetime:
   **authenticated**. Several people can stand behind one client (an office NAT or proxy, with
   identical corporate browsers): when the login it rests on overlapped another login of the same
   client (less than a session lifetime apart) the client is *shared* (``auth_shared``), and the
   request is ``auth_ambiguous`` — as it is when its address showed several user agents that day.
   Someone there logged in; who made this request cannot be told. Ambiguous requests never count
   as confirmed records and give no caller a history (assess.py, actors.py);
4. ``no client address``, or ``source logs no principal and no login endpoint given``: the
   evidence could not have shown authentication: **unknown**.

Otherwise no authentication shows, and that is not by itself proof of an unauthenticated caller:
token clients (mobile apps, single-page apps) log in once and keep their token while their
address changes. **Unauthenticated needs positive evidence**, one of

* ``ANSWERED_401`` — the server answered the request itself 401 (it got nothing, but the status-flip
  evidence of the exposure window counts it);
* ``NAMES_NONE`` — the request's own log names principals, and names none for it (unless its
  user agent logged in elsewhere within the lifetime: ROAMING);
* ``REFUSED`` — the same client was answered 401/403 within the session lifetime before, with no
  login in effect then nor since (the server itself saw no credentials). A failed *login* is not
  such a refusal: it shows someone there tried a password (a colleague behind the same proxy,
  mistyping), not that the client's later requests carried no token;
* ``TOOL`` — an attack-tool user agent (``SCANNER_UA``) that did not log in anywhere within the
  lifetime;
* ``NO_LOGIN`` — no login from this address (any browser) nor by this user agent (any address)
  within the session lifetime, and this client never logged in before: no logged-in session
  can plausibly continue here.

A client with no visible authentication that the server **still answered with a record after
the exposure window ended**, once the server was seen refusing (401/403) a record to a caller
without credentials after the window — the fix shows — (``STILL_ANSWERED``; only when
investigate is given the window, as ``AuthOptions.answered_after``) carries credentials the logs
do not show — an API key, a client certificate — or the fix did not cover it. Either way its requests without
visible authentication are not positive evidence of a caller without credentials: they are
**unknown** (an attack-tool user agent stays ``TOOL``). The report's limitations say which.

Where a logged-in session plausibly continues the state is **unknown**, with the reason:

* ``ROAMING`` — its user agent logged in from another address within the lifetime (a token
  client that moved: carrier NAT, Wi-Fi to mobile, VPN); checked before REFUSED and TOOL;
* ``EXPIRED`` — this client logged in earlier, longer ago than the lifetime (a refreshed or
  long-lived token cannot be excluded);
* ``SHARED_ADDRESS`` — another browser logged in from this address within the lifetime;
* ``NETWORK`` — instead of NO_LOGIN: its user agent logged in from the same network (``ip_info.net``:
  the /24 or /48) at some other time in the case, before or after — a token client that a carrier's
  NAT pool or a VPN moved to a neighbouring address, whose token outlives the session lifetime. An
  attacker needs the same browser string *and* an address in a network where that browser logs in;
* ``RESUMED`` — instead of NO_LOGIN: its user agent logs in somewhere in the case (from any address,
  before or after), and on that day at least half of the records this client read were read by the
  same user agent elsewhere too: from other addresses (any state), at least ``RESUMED_MIN_RECORDS``
  (3) of them; or at *one* address where that user agent's own login was or is in effect (a login
  no other client shares there, or RESUMED there), at least ``RESUMED_MIN_OWN`` (2) of them — a
  token client returning to its own records from a new address (a phone on carrier NAT, roaming, a
  VPN; or a token older than the logs). An enumerator that borrows a logged-in browser's user
  agent mostly reads records no one with it read elsewhere, and stays NO_LOGIN; one that re-walks
  the same ids from rotating addresses in client-days of one or two records stays NO_LOGIN too
  (the minimum), and so does one whose two records a login shared by several people read (an
  office NAT on identical browsers reads most records). An app session of one record on a new
  address stays NO_LOGIN (a known limit: such a session is counted unauthenticated).

``unknown`` can make a finding *possible* (or records *probable*), never a record *confirmed*.
What settles it: application logs with user ids, session or token ids in the access log, or the
token lifetime of the application (``--session-lifetime``). Login endpoints are never guessed into
evidence: without ``--login``, likely ones are proposed (``AuthResult.proposed_logins``) for the
user to confirm; a token refresh endpoint is a login endpoint (declare it too).

Table ``request_facts`` holds one row per event: (source_id, line_no), the event columns the
later derivations read (ts, principal, status, bytes_sent, route, record_id), its client
(``client_key``: address and user agent, in table ``clients``), ``probe`` (a well-known probe
path) and auth_state, auth_evidence, auth_trusted, auth_login_ts, auth_shared, auth_ambiguous,
twin_principal (the principal the twin copy logged) and is_copy (this event is the second log's
copy of a request) — so sessions and actors scan one narrow table instead of re-joining events.
No string of the caller is copied per request: writing the addresses, user agents, paths and
queries of 10M requests again took 12 of the 26 s this step took (they stay in events).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from forensics.derive.network import Trusted, derive_ip_info
from forensics.derive.request_twins import derive_twins
from forensics.derive.routes import Endpoint, ensure_routes
from forensics.store.case import Case
from forensics.store.db import sql_str
from forensics.store.stages import stage

DEFAULT_SESSION_LIFETIME = timedelta(hours=8)
# Route templates that look like login endpoints (for proposals only).
LOGIN_HINT_RE = r"(?i)(log-?in|sign-?in|auth|token|oauth|session)"
# Well-known probe paths (request_facts.probe; actor classes and the scanner detector read it).
PROBE_PATH = (
    r"(?i)(/\.env|/\.git|/\.aws|/\.ssh|wp-login|wp-admin|xmlrpc\.php|phpmyadmin|/cgi-bin/|"
    r"/actuator|/server-status|/vendor/phpunit|/boaform|/HNAP1|\.php$|\.asp$|/config\.json)"
)
SCANNER_UA = (
    r"(?i)(sqlmap|nikto|nmap|masscan|zgrab|nuclei|wpscan|gobuster|dirbuster|ffuf|feroxbuster|"
    r"acunetix|nessus|openvas|burp|owasp[ _-]?zap|wfuzz|censys|shodan|expanse|l9explore)"
)

# The reasons (auth_evidence) the state rests on when no authentication shows (see above).
NAMES_NONE = "its log names principals, and none for this request"
ANSWERED_401 = "the server answered it 401 (no valid credentials)"
ROAMING = (
    "its user agent logged in from another address within the session lifetime (a token client may "
    "have moved)"
)
REFUSED = "the same client was refused (401/403) within the session lifetime before, no login since"
TOOL = "attack-tool user agent, no login by it within the session lifetime"
EXPIRED = (
    "this client logged in earlier, longer ago than the session lifetime (a long-lived token cannot be "
    "excluded)"
)
SHARED_ADDRESS = "another browser logged in from this address within the session lifetime (shared address)"
NO_LOGIN = (
    "no login from this address or by this user agent within the session lifetime, and this client never "
    "logged in before"
)
RESUMED = (
    "its user agent logs in elsewhere in the case, and most records this client read that day were read by "
    "this user agent from other addresses too (three or more), or at one address where it logged in (two "
    "or more): a token client returning to its own records from a new address"
)
NETWORK = (
    "its user agent logged in from the same network (/24 or /48) at another time in the case (a token "
    "client whose carrier or VPN moved it within one address pool)"
)
STILL_ANSWERED = (
    "the server still answered this client (address and browser) with a record after the exposure "
    "window ended, while refusing callers without credentials: it holds credentials the logs do not "
    "show, or the fix did not cover it"
)
# the inferred reasons STILL_ANSWERED overrides (positive evidence drawn from the absence of a login)
OVERRIDDEN_BY_STILL_ANSWERED = (NAMES_NONE, REFUSED, NO_LOGIN)
# auth_evidence -> auth_state
EVIDENCE_STATE: dict[str, str] = {
    "principal": "authenticated",
    "principal in another log": "authenticated",
    "trusted": "trusted",
    "login": "authenticated",
    "no client address": "unknown",
    "source logs no principal and no login endpoint given": "unknown",
    NAMES_NONE: "unauthenticated",
    ANSWERED_401: "unauthenticated",
    ROAMING: "unknown",
    REFUSED: "unauthenticated",
    TOOL: "unauthenticated",
    EXPIRED: "unknown",
    SHARED_ADDRESS: "unknown",
    NO_LOGIN: "unauthenticated",
    RESUMED: "unknown",
    NETWORK: "unknown",
    STILL_ANSWERED: "unknown",
}
# What would settle an ambiguous or unknown request (the report's limitations say it).
SETTLES = "application logs with user ids (or session/token ids in the access log) for the same requests"


@dataclass(frozen=True)
class AuthOptions:
    logins: tuple[Endpoint, ...] = ()
    trusted: tuple[Trusted, ...] = ()
    session_lifetime: timedelta = DEFAULT_SESSION_LIFETIME
    # the end of the exposure window (investigate --window): a record answered after it to a
    # client without visible authentication means credentials the logs do not show (STILL_ANSWERED)
    answered_after: datetime | None = None

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "logins": [e.text for e in self.logins],
            "trusted": [str(t) for t in self.trusted],
            "session_lifetime_s": self.session_lifetime.total_seconds(),
        }
        if self.answered_after is not None:
            out["answered_after"] = self.answered_after.isoformat()
        return out


@dataclass
class AuthResult:
    counts: dict[str, int] = field(default_factory=dict)  # auth_state -> requests
    ambiguous: int = 0  # login-inferred requests whose caller cannot be told apart (auth_ambiguous)
    shared: int = 0  # of them, on a client (address + browser) with overlapping logins (auth_shared)
    proposed_logins: list[tuple[str, int]] = field(default_factory=list)  # route, 2xx/3xx count
    unused_logins: list[str] = field(default_factory=list)  # given logins no 2xx/3xx request matches


# One row per client: address and user agent as logged (NULL apart from empty); request_facts
# names a request's client by its key, so the per-request tables hold no strings of the caller.
CLIENTS_SQL = """
    CREATE OR REPLACE TABLE clients AS
    SELECT row_number() OVER (ORDER BY client_ip, user_agent) AS client_key, client_ip, user_agent
    FROM (SELECT DISTINCT client_ip, user_agent FROM events)"""


def login_condition(logins: tuple[Endpoint, ...]) -> str:
    """SQL over ``requests`` rows: the request hit one of the login endpoints."""
    if not logins:
        return "false"
    return " OR ".join(f"({ep.match_sql()})" for ep in logins)


def derive_auth(case: Case, options: AuthOptions | None = None) -> AuthResult:
    """(Re)build ``ip_info`` and ``request_facts``."""
    opts = options or AuthOptions()
    ensure_routes(case)
    with stage(case.con, "derive: networks") as s:
        s.rows = derive_ip_info(case, opts.trusted)
    with stage(case.con, "derive: twin requests") as s:
        s.rows = derive_twins(case)
    with stage(case.con, "derive: authentication") as s:
        case.con.execute(CLIENTS_SQL)
        for name, sql in PRE_TABLES.items():
            case.con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {sql}")
        case.con.execute(_facts_sql(opts))
        for name in PRE_TABLES:
            case.con.execute(f"DROP TABLE IF EXISTS {name}")
        result = AuthResult()
        for state, n in case.con.execute(
            "SELECT auth_state, count(*) FROM request_facts GROUP BY ALL ORDER BY ALL"
        ).fetchall():
            result.counts[str(state)] = int(n)
        s.rows = sum(result.counts.values())
    row = case.con.execute(
        "SELECT count_if(auth_ambiguous), count_if(auth_shared) FROM request_facts"
    ).fetchone()
    result.ambiguous = int(row[0] or 0) if row else 0
    result.shared = int(row[1] or 0) if row else 0
    result.unused_logins = unused_logins(case, opts.logins)
    if not opts.logins or result.unused_logins:
        result.proposed_logins = propose_logins(case)
    case.con.execute(
        "INSERT OR REPLACE INTO meta VALUES ('auth_options', ?)",
        [json.dumps(opts.to_dict())],
    )
    return result


# Per source, whether its log names principals; per request logged twice, the principal the other
# log wrote (twins.py). Written as small tables before request_facts, not as its CTEs: a table's row
# count is exact, a CTE's is estimated from what it reads, and over a Parquet case folder's events
# (no statistics) the estimates turned these joins around — the hash tables were built from the
# 7.8M wide requests instead of from the sources and twins (authentication needed 7.2 GB instead of
# 4.0 GB, and ran out of the default 3 GiB).
PRE_TABLES = {
    "_auth_src": "SELECT source_id, bool_or(principal IS NOT NULL) AS logs_principal FROM events "
    "GROUP BY source_id",
    "_auth_twin": """WITH tw AS (
      SELECT t.source_id, t.line_no, c.principal AS twin_principal, false AS is_copy
      FROM request_twins t JOIN events c ON c.source_id = t.copy_source_id AND c.line_no = t.copy_line_no
      UNION ALL
      SELECT t.copy_source_id, t.copy_line_no, p.principal, true
      FROM request_twins t JOIN events p ON p.source_id = t.source_id AND p.line_no = t.line_no)
    SELECT source_id, line_no, min(twin_principal) AS twin_principal, bool_or(is_copy) AS is_copy
    FROM tw GROUP BY ALL""",
}


# Inside the query a request's evidence is its 1-based position in EVIDENCE_STATE (a small integer
# sorts and joins far cheaper than a phrase of up to 110 characters); the table stores the phrase.
_EVIDENCE_CODE = {ev: i for i, ev in enumerate(EVIDENCE_STATE, 1)}
EVIDENCE_TEXTS = "[" + ", ".join(sql_str(ev) for ev in EVIDENCE_STATE) + "]"


def _ev(evidence: str) -> str:
    return str(_EVIDENCE_CODE[evidence])


def _facts_sql(opts: AuthOptions) -> str:
    """The query building ``request_facts`` (window passes over narrow rows; see the module docstring)."""
    life = int(opts.session_lifetime.total_seconds())
    bucket_us = max(life, 0) * 1_000_000 or 1  # a lifetime in microseconds (at least one)
    has_logins = "true" if opts.logins else "false"
    ua_buckets, ip_buckets = _buckets("uid", "WHERE has_ua", bucket_us), _buckets("iid", "", bucket_us)
    state = " ".join(f"WHEN {_ev(ev)} THEN {sql_str(st)}" for ev, st in EVIDENCE_STATE.items())

    def within_at(col: str, at: str) -> str:
        return f"({col} IS NOT NULL AND epoch({at}) - epoch({col}) <= {life})"

    def within(col: str) -> str:
        return within_at(col, "ts")

    return f"""
        CREATE OR REPLACE TABLE request_facts AS
        WITH clients AS MATERIALIZED (  -- table clients with integer keys for a client (address + user
          SELECT client_key, client_ip, user_agent, ua,  -- agent; none and an empty one are one), its
            dense_rank() OVER (ORDER BY client_ip, ua) AS cid,  -- user agent and its address: the
            dense_rank() OVER (ORDER BY ua) AS uid,  -- windows and joins below use them
            dense_rank() OVER (ORDER BY client_ip) AS iid
          FROM (SELECT *, coalesce(user_agent, '') AS ua FROM clients)),
        probe_paths AS (SELECT DISTINCT path FROM routes WHERE regexp_matches(path, {sql_str(PROBE_PATH)})),
        base AS MATERIALIZED (  -- what the rules read of each request, narrow
          SELECT r.source_id, r.line_no, r.ts, c.client_key, c.cid, c.uid, c.iid,
            r.client_ip IS NOT NULL AS has_ip, c.ua <> '' AS has_ua, r.principal, r.principal IS NOT NULL
            AS has_principal, r.status, r.bytes_sent, r.route, r.record_id,
            coalesce(r.path IN (SELECT path FROM probe_paths), false) AS probe,
            ({login_condition(opts.logins)}) AS is_login
          FROM requests r JOIN clients c ON c.client_ip IS NOT DISTINCT FROM r.client_ip
            AND c.user_agent IS NOT DISTINCT FROM r.user_agent),
        logins0 AS (
          SELECT cid, uid, iid, has_ua, ts AS login_ts FROM base
          WHERE is_login AND status BETWEEN 200 AND 399 AND has_ip),
        logins AS MATERIALIZED (  -- (read five times) a login less than a lifetime from another of
          -- the same client: several people
          SELECT cid, uid, iid, has_ua, login_ts,
            coalesce(epoch(login_ts) - epoch(lag(login_ts) OVER w) < {life}, false)
              OR coalesce(epoch(lead(login_ts) OVER w) - epoch(login_ts) < {life}, false) AS login_shared
          FROM logins0 WINDOW w AS (PARTITION BY cid ORDER BY login_ts)),
        net_logins AS (  -- (network, user agent) pairs that logged in at some time in the case
          SELECT DISTINCT i.net AS login_net, l.uid AS login_uid
          FROM logins l JOIN clients c USING (cid) JOIN ip_info i ON i.client_ip = c.client_ip
          WHERE l.has_ua AND i.net IS NOT NULL),
        tool AS (SELECT ua, regexp_matches(ua, {sql_str(SCANNER_UA)}) AS tool_ua
                 FROM (SELECT DISTINCT ua FROM clients)),
        client_facts AS MATERIALIZED (  -- per client: trusted network, attack tool, network's logins
          SELECT DISTINCT c.cid, i.trusted, coalesce(t.tool_ua, false) AS tool_ua,  -- (one row per cid:
            -- no user agent and an empty one are two rows of clients, one client)
            nl.login_uid IS NOT NULL AS net_login
          FROM clients c LEFT JOIN ip_info i ON i.client_ip = c.client_ip LEFT JOIN tool t USING (ua)
          LEFT JOIN net_logins nl ON nl.login_net = i.net AND nl.login_uid = c.uid),
        multi_ua AS (  -- the address-days with several user agents (few: an IN below, where a join of
          SELECT a.iid, s.day  -- every request against every address-day took 12 of 104 CPU-s at 10M)
          FROM (SELECT client_ip, ts::DATE AS day FROM events WHERE client_ip IS NOT NULL
                GROUP BY ALL HAVING count(DISTINCT user_agent) > 1) s
          JOIN (SELECT DISTINCT client_ip, iid FROM clients) a USING (client_ip)),
        -- "the client's last login (refusal) at or before the request": a window over the client's
        -- requests and logins in time order (a login sorts before a request at the same instant)
        timeline AS (
          SELECT source_id, line_no, ts, cid, 1 AS kind,
            NULL::TIMESTAMPTZ AS login_ts, NULL::BOOLEAN AS login_shared, status, has_ip, is_login
          FROM base
          UNION ALL
          SELECT NULL, NULL, login_ts, cid, 0, login_ts, login_shared, NULL, NULL, NULL
          FROM logins),
        -- "a login by the same user agent (from the same address) within the lifetime before the
        -- request": only whether there is one, so no window (a sort of every request per key) but
        -- a join on time buckets a lifetime long. If the last login at or before a request in
        -- bucket b is within the lifetime, it is in b or b-1; b's first login, when at or before
        -- the request, is within the lifetime as the last is; else b-1's last login is the last
        -- (ua_login_ts and ip_login_ts in j4: not always the last login, always as near as needed)
        ua_buckets AS ({ua_buckets}),
        ip_buckets AS ({ip_buckets}),
        -- A login's (refusal's) time is its row's own, so the last one at or before a row is the
        -- running maximum: last_value(… IGNORE NULLS) gives the same answer but scans back over every
        -- row without one, quadratic in a client's run of requests (one scraper's 10M requests).
        own AS MATERIALIZED (  -- the client's own last login (and the last of its logins that was
          SELECT source_id, line_no,  -- shared)
            max(login_ts) OVER (PARTITION BY cid ORDER BY ts, kind) AS own_login_ts,
            max(CASE WHEN login_shared THEN login_ts END)
              OVER (PARTITION BY cid ORDER BY ts, kind) AS own_shared_ts,
            max(CASE WHEN status IN (401, 403) AND has_ip AND NOT is_login THEN ts END)  -- the client's
              OVER (PARTITION BY cid ORDER BY ts, kind) AS answered_403_ts,  -- last 401/403 (not a login)
            kind, ts
          FROM timeline),
        -- The client's last refusal after its last login: a 401/403 (a failed login is not one) with no
        -- login in effect then. Only the last 401/403 G can be it: if G is later than the last login L,
        -- L was the login in effect at G too, and any earlier 401/403 after L is nearer L, so within the
        -- lifetime of it whenever G is; if G is not later than L, no refusal is. (A second window
        -- over the requests, re-sorting them, had found the last refusal row by row.)
        refused AS (
          SELECT source_id, line_no, own_login_ts, own_shared_ts,
            CASE WHEN answered_403_ts > coalesce(own_login_ts, answered_403_ts - INTERVAL 1 SECOND)
                  AND NOT {within_at("own_login_ts", "answered_403_ts")}
              THEN answered_403_ts END AS refused_ts
          FROM own),  -- (no filter on kind: the logins' rows have no source_id and join no request
          -- in j4; with one the optimizer guessed the requests few and built the bucket joins on them)
        j4 AS (  -- (two logins of one client at one instant are both shared: the last one's flag is
          SELECT b.*, o.own_login_ts AS login_ts,  -- whether the last shared one is that late)
            CASE WHEN o.own_login_ts IS NOT NULL THEN coalesce(o.own_shared_ts = o.own_login_ts, false)
            END AS login_shared,
            CASE WHEN u.first_ts <= b.ts THEN u.first_ts ELSE u.prev_last_ts END AS ua_login_ts,
            CASE WHEN i.first_ts <= b.ts THEN i.first_ts ELSE i.prev_last_ts END AS ip_login_ts,
            o.refused_ts
          FROM base b JOIN refused o USING (source_id, line_no)
          LEFT JOIN ua_buckets u ON u.uid = b.uid AND u.bucket = epoch_us(b.ts) // {bucket_us}
          LEFT JOIN ip_buckets i ON i.iid = b.iid AND i.bucket = epoch_us(b.ts) // {bucket_us}),
        k AS (
          SELECT j4.*, cf.trusted, s.logs_principal, tw.twin_principal,
            coalesce(tw.is_copy, false) AS is_copy,
            CASE WHEN j4.has_principal THEN {_ev("principal")}
                 WHEN tw.twin_principal IS NOT NULL THEN {_ev("principal in another log")}
                 WHEN cf.trusted IS NOT NULL THEN {_ev("trusted")}
                 WHEN {within("login_ts")} THEN {_ev("login")}
                 WHEN NOT j4.has_ip THEN {_ev("no client address")}
                 WHEN NOT {has_logins} AND NOT s.logs_principal
                   THEN {_ev("source logs no principal and no login endpoint given")}
                 WHEN j4.status = 401 THEN {_ev(ANSWERED_401)}
                 WHEN {within("ua_login_ts")} THEN {_ev(ROAMING)}
                 WHEN s.logs_principal THEN {_ev(NAMES_NONE)}
                 WHEN {within("refused_ts")} THEN {_ev(REFUSED)}  -- (refused: after the last login)
                 WHEN cf.tool_ua THEN {_ev(TOOL)}
                 WHEN login_ts IS NOT NULL THEN {_ev(EXPIRED)}
                 WHEN {within("ip_login_ts")} THEN {_ev(SHARED_ADDRESS)}
                 WHEN cf.net_login THEN {_ev(NETWORK)}
                 ELSE {_ev(NO_LOGIN)} END AS auth_evidence
          FROM j4 LEFT JOIN client_facts cf USING (cid) LEFT JOIN _auth_src s USING (source_id)
          LEFT JOIN _auth_twin tw USING (source_id, line_no)),
        {_resumed_sql()},
        {_still_answered_sql(opts)}
        SELECT source_id, line_no, ts, client_key, principal, status, bytes_sent, route, record_id, probe,
          CASE ev2 {state} ELSE 'unknown' END AS auth_state,
          {EVIDENCE_TEXTS}[ev2] AS auth_evidence,
          trusted AS auth_trusted,
          CASE WHEN ev2 = {_ev("login")} THEN login_ts END AS auth_login_ts,
          (ev2 = {_ev("login")} AND login_shared) AS auth_shared,
          (ev2 = {_ev("login")}
           AND (login_shared OR (iid, ts::DATE) IN (SELECT iid, day FROM multi_ua))) AS auth_ambiguous,
          twin_principal, is_copy
        FROM k2"""


def _buckets(key: str, where: str, bucket_us: int) -> str:
    """Per ``key`` and time bucket ``bucket_us`` long, of ``logins``: the bucket's first login and
    the previous bucket's last (``first_ts``, ``prev_last_ts``)."""
    return f"""
          SELECT {key}, bucket, min(first_ts) AS first_ts, max(prev_last_ts) AS prev_last_ts
          FROM (SELECT {key}, epoch_us(login_ts) // {bucket_us} AS bucket, login_ts AS first_ts,
                  NULL::TIMESTAMPTZ AS prev_last_ts FROM logins {where}
                UNION ALL
                SELECT {key}, epoch_us(login_ts) // {bucket_us} + 1, NULL, login_ts FROM logins {where})
          GROUP BY ALL"""


RESUMED_MIN_RECORDS = 3  # a client-day returns to at least this many records read from elsewhere
RESUMED_MIN_OWN = (
    2  # ... or to at least this many read by the same user agent at one address it logged in from
)


def _resumed_sql() -> str:
    """CTEs ``kn``, ``ua_logins``, ``seen``, ``resumed``, ``logged``, ``own_day``, ``own_hit``,
    ``resumed_own`` and ``resumed_all``: the client-days of ``k`` whose NO_LOGIN becomes RESUMED
    by either branch (see the docstring; the second reads the first's result, so a token client
    chains across addresses). Both read ``kn``, the records answered 2xx, narrow."""
    no_login = _ev(NO_LOGIN)
    return f"""kn AS MATERIALIZED (  -- the requests answered with a record: what both branches read
          SELECT cid, uid, iid, ts, ts::DATE AS day, record_id, auth_evidence,
            coalesce(login_shared, false) AS login_shared, has_ip
          FROM k WHERE record_id IS NOT NULL AND status BETWEEN 200 AND 299),
        ua_logins AS (SELECT DISTINCT uid FROM logins WHERE has_ua),
        seen AS (  -- per user agent and record: from how many addresses it was read
          SELECT uid, record_id, count(DISTINCT iid) FILTER (WHERE has_ip) AS addresses FROM kn
          GROUP BY ALL),
        resumed AS (  -- client-days without a login whose records are mostly read from elsewhere too
          SELECT kn.cid, kn.day
          FROM kn SEMI JOIN ua_logins USING (uid) JOIN seen s USING (uid, record_id)
          WHERE kn.auth_evidence = {no_login}
          GROUP BY ALL
          HAVING count_if(s.addresses >= 2) * 2 >= count(*)
            AND count(DISTINCT kn.record_id) FILTER (WHERE s.addresses >= 2) >= {RESUMED_MIN_RECORDS}),
        logged AS (  -- records a user agent read at an address where its own login there is or was in
          SELECT DISTINCT uid, iid, record_id  -- effect (one client's: not a shared login), or resumed
          FROM kn LEFT JOIN resumed r USING (cid, day)                                     -- there
          WHERE auth_evidence IN ({_ev("login")}, {_ev(EXPIRED)}) AND NOT login_shared
            OR auth_evidence = {no_login} AND r.cid IS NOT NULL),
        still_no_login AS (  -- client-days' reads still without a login
          SELECT * FROM kn ANTI JOIN resumed USING (cid, day) WHERE auth_evidence = {no_login}),
        own_day AS (  -- ... their records
          SELECT cid, day, count(DISTINCT record_id) AS n
          FROM still_no_login SEMI JOIN ua_logins USING (uid) GROUP BY ALL),
        own_hit AS (  -- ... and per other address, how many of them the same user agent read there so
          SELECT s.cid, s.day, g.iid AS there, count(DISTINCT s.record_id) AS hit
          FROM still_no_login s
          JOIN logged g ON g.uid = s.uid AND g.record_id = s.record_id AND g.iid <> s.iid
          GROUP BY ALL),
        resumed_own AS (
          SELECT o.cid, o.day FROM own_day o JOIN own_hit h USING (cid, day)
          GROUP BY ALL HAVING max(h.hit) * 2 >= any_value(o.n) AND max(h.hit) >= {RESUMED_MIN_OWN}),
        resumed_all AS (SELECT * FROM resumed UNION ALL SELECT * FROM resumed_own)"""


def _still_answered_sql(opts: AuthOptions) -> str:
    """CTEs ``k1`` (``k`` with RESUMED from ``resumed_all``), ``still`` and ``k2`` (with
    STILL_ANSWERED where it applies; see the docstring)."""
    overridden = ", ".join(_ev(r) for r in OVERRIDDEN_BY_STILL_ANSWERED)
    no_login = _ev(NO_LOGIN)
    # IN, not a LEFT JOIN: the optimizer built a join's hash table of the 10M wide rows (mark joins
    # build on the small side)
    # the evidence after each step is a column of its own (ev1, ev2), not `* REPLACE`: Spark has none
    k1 = f"""k1 AS (
          SELECT k.*, CASE WHEN k.auth_evidence = {no_login}
                   AND (k.cid, k.ts::DATE) IN (SELECT cid, day FROM resumed_all) THEN {_ev(RESUMED)}
                 ELSE k.auth_evidence END AS ev1
          FROM k)"""
    if opts.answered_after is None:
        return f"{k1}, k2 AS (SELECT *, ev1 AS ev2 FROM k1)"
    after = sql_str(opts.answered_after.isoformat())
    visible = ", ".join(_ev(ev) for ev, st in EVIDENCE_STATE.items() if st in ("authenticated", "trusted"))
    return f"""fixed AS (  -- the first refusal of a record to a caller without credentials after the window
          SELECT min(ts) AS fixed_ts FROM k
          WHERE ts >= {after}::TIMESTAMPTZ AND record_id IS NOT NULL AND status IN (401, 403)
            AND auth_evidence NOT IN ({visible})),
        still AS (  -- clients answered with a record after that, no visible authentication (RESUMED
          SELECT DISTINCT kn.cid FROM kn, fixed  -- is not overridden)
          WHERE kn.ts >= fixed.fixed_ts AND kn.has_ip AND kn.auth_evidence IN ({overridden})
            AND NOT (kn.auth_evidence = {no_login}
                     AND (kn.cid, kn.day) IN (SELECT cid, day FROM resumed_all))),
        {k1},
        k2 AS (
          SELECT k1.*, CASE WHEN ev1 IN ({overridden}) AND cid IN (SELECT cid FROM still)
              THEN {_ev(STILL_ANSWERED)} ELSE ev1 END AS ev2
          FROM k1)"""


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
