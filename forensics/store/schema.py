"""The one contract: tables of a case, their DuckDB column types and what each column holds.

Every format produces rows for ``EVENT_COLUMNS`` (minus ``source_id``, added by ingest).
Timestamps are stored as ``TIMESTAMPTZ`` in UTC; ``ts_offset_min`` keeps the offset the
source wrote (NULL when the source wrote UTC or epoch times without an offset).

Each column is declared as (type, description); the descriptions become the case file's
``COMMENT``s, so someone opening a case with any DuckDB client reads what a column holds.
Tables derived by investigation (routes, actors, findings, ...) are created by the modules
that compute them; their descriptions are kept here too, in ``DERIVED_COMMENTS``.
"""

from __future__ import annotations

# 2: case_log is hash-chained (prev_hash, entry_hash); 3: sources.entry_rejects, format_lines;
# 4: events.alb/elb/nlb/s3, the AWS formats' own fields as typed structs (were in extra)
SCHEMA_VERSION = 4

# Reject reasons for lines that are not access-log entries at all (W3C ``#Fields:`` and other
# directives, server start-up messages, non-request JSON log records) start with this: they are
# rejects like any other (events + rejects = lines), but a file's parse rate is measured over
# the lines that are entries. Say what the line is after the prefix.
NOT_AN_ENTRY = "not an access-log entry: "

# column -> (DuckDB type, what the column holds)
Columns = dict[str, tuple[str, str]]

# The fields every line of an AWS format carries that have no column of their own, typed, one
# column per format (NULL for other formats' events): format -> field -> type. A field named
# ``x:port`` in AWS's docs is ``x_port`` here; ``client_port`` is the port of client:port.
# Values AWS writes for "none" (``-``, a ``-1`` processing time) are NULL. Typed, the fields
# cost a few bytes an event (a JSON object of them cost ~750 bytes an ALB event). The column is
# a list holding the one struct of the event's fields (``alb[1].elb``, ``s3[1].operation``): a
# NULL list costs nothing to store, while a NULL struct column cost every other format's
# ingest ~1.5 CPU-s per 1M events (its members are stored for every row). Fields AWS adds
# after these stay in extra->>'trailing'.
_V, _SECONDS, _CODE, _TIME = "VARCHAR", "DOUBLE", "SMALLINT", "TIMESTAMPTZ"
AWS_FIELDS: dict[str, dict[str, str]] = {
    "alb": {
        "type": _V,
        "elb": _V,
        "client_port": "INTEGER",
        "target_port": _V,  # target:port as logged (address:port, or - )
        "request_processing_time": _SECONDS,  # seconds, as logged
        "target_processing_time": _SECONDS,
        "response_processing_time": _SECONDS,
        "target_status_code": _CODE,
        "ssl_cipher": _V,
        "ssl_protocol": _V,
        "target_group_arn": _V,
        "domain_name": _V,
        "chosen_cert_arn": _V,
        "matched_rule_priority": _V,
        "request_creation_time": _TIME,
        "actions_executed": _V,
        "redirect_url": _V,
        "error_reason": _V,
        "target_port_list": _V,
        "target_status_code_list": _V,
        "classification": _V,
        "classification_reason": _V,
        "conn_trace_id": _V,
        "transformed_host": _V,
        "transformed_uri": _V,
        "request_transform_status": _V,
    },
    "elb": {
        "elb": _V,
        "client_port": "INTEGER",
        "backend_port": _V,
        "request_processing_time": _SECONDS,
        "backend_processing_time": _SECONDS,
        "response_processing_time": _SECONDS,
        "backend_status_code": _CODE,
        "ssl_cipher": _V,
        "ssl_protocol": _V,
    },
    "nlb": {
        "type": _V,
        "version": _V,
        "elb": _V,
        "listener": _V,
        "client_port": "INTEGER",
        "destination_port": _V,
        "tls_handshake_time": "DOUBLE",  # milliseconds, as logged
        "incoming_tls_alert": _V,
        "chosen_cert_arn": _V,
        "chosen_cert_serial": _V,
        "tls_cipher": _V,
        "tls_protocol_version": _V,
        "tls_named_group": _V,
        "alpn_fe_protocol": _V,
        "alpn_be_protocol": _V,
        "alpn_client_preference_list": _V,
        "tls_connection_creation_time": _TIME,
    },
    "s3": {
        "bucket_owner": _V,
        "bucket": _V,
        "operation": _V,
        "key": _V,
        "error_code": _V,
        "object_size": "BIGINT",
        "turn_around_time": "DOUBLE",  # milliseconds, as logged
        "version_id": _V,
        "host_id": _V,
        "signature_version": _V,
        "cipher_suite": _V,
        "authentication_type": _V,
        "tls_version": _V,
        "access_point_arn": _V,
        "acl_required": _V,
        "source_region": _V,
    },
}


def struct_type(fields: dict[str, str]) -> str:
    """DuckDB ``STRUCT(name type, ...)`` of ``fields``."""
    return "STRUCT(" + ", ".join(f"{n} {t}" for n, t in fields.items()) + ")"


def aws_type(fmt: str) -> str:
    """The events column type of an AWS format's fields: a list of (one) struct."""
    return struct_type(AWS_FIELDS[fmt]) + "[]"


_AWS_TEXT = {
    "alb": "Application Load Balancer",
    "elb": "Classic Load Balancer",
    "nlb": "Network Load Balancer",
    "s3": "S3 server access log",
}

_EVENTS: Columns = {
    "source_id": ("INTEGER NOT NULL", "evidence file the line came from (sources.source_id)"),
    "line_no": ("BIGINT NOT NULL", "line number in the evidence file (1-based; the raw line is re-readable)"),
    "ts": ("TIMESTAMPTZ NOT NULL", "when the request was logged, in UTC"),
    "ts_offset_min": (
        "SMALLINT",
        "UTC offset in minutes the source wrote with the time (NULL: UTC or epoch time without offset)",
    ),
    "client_ip": ("VARCHAR", "client address as logged (the peer the server saw)"),
    "forwarded_for": ("VARCHAR", "X-Forwarded-For (or similar) value as logged"),
    "method": ("VARCHAR", "HTTP method"),
    "host": ("VARCHAR", "host name the request was addressed to"),
    "path": ("VARCHAR", "request path, without the query string"),
    "query": ("VARCHAR", "query string, without the leading ?"),
    "protocol": ("VARCHAR", "protocol, e.g. HTTP/1.1"),
    "request_raw": ("VARCHAR", "the request line as logged when it could not be split (else NULL)"),
    "status": ("SMALLINT", "HTTP status code of the response"),
    "bytes_sent": ("BIGINT", "bytes sent to the client (response size as logged)"),
    "bytes_received": ("BIGINT", "bytes received from the client"),
    "duration_ms": ("DOUBLE", "time taken to serve the request, in milliseconds"),
    "user_agent": ("VARCHAR", "User-Agent header"),
    "referer": ("VARCHAR", "Referer header"),
    "principal": ("VARCHAR", "authenticated user or principal the log names (remote user, token subject)"),
    "request_id": ("VARCHAR", "request or trace id the log carries"),
    # fields without a column of their own, as a JSON object (a MAP column cost ~1 s per
    # 2M rows to store even when NULL); query with extra->>'name'
    "extra": ("JSON", "logged fields without a column of their own, as a JSON object (extra->>'name')"),
    **{
        name: (
            aws_type(name),
            f"AWS {_AWS_TEXT[name]} fields without a column of their own, typed, as AWS's docs name "
            f"them (x:port as x_port; '-' is NULL): a list of one struct, e.g. {name}[1].{list(fields)[1]}; "
            "NULL for other formats",
        )
        for name, fields in AWS_FIELDS.items()
    },
}

_SOURCES: Columns = {
    "source_id": ("INTEGER PRIMARY KEY", "number of this evidence file in the case"),
    "path": ("VARCHAR NOT NULL", "where the file was read from"),
    "size": ("BIGINT NOT NULL", "file size in bytes when read"),
    "mtime": ("TIMESTAMPTZ", "file modification time when read"),
    "sha256": ("VARCHAR NOT NULL", "SHA-256 of the file's bytes as read (forensics verify re-checks it)"),
    "compression": ("VARCHAR NOT NULL", "compression of the file: none, gzip, zstd, bz2, xz"),
    "status": (
        "VARCHAR NOT NULL",
        "ingested | duplicate | unrecognised | empty | skipped | error | forgotten (forensics forget)",
    ),
    "duplicate_of": ("INTEGER", "for a duplicate: the source_id with the same SHA-256"),
    "format": ("VARCHAR", "log format the file was parsed as"),
    "format_score": ("DOUBLE", "share of sampled lines the format recognised (0..1)"),
    "reader": ("VARCHAR", "duckdb | python (fallback for odd bytes, bz2/xz, truncation)"),
    "lines": ("BIGINT", "lines read"),
    "events": ("BIGINT", "lines stored as events"),
    "rejects": ("BIGINT", "lines that did not parse (kept in rejects)"),
    "first_ts": ("TIMESTAMPTZ", "earliest event time in the file (UTC)"),
    "last_ts": ("TIMESTAMPTZ", "latest event time in the file (UTC)"),
    "warnings": ("VARCHAR[]", "what the reader noticed about the file (truncation, odd bytes, ...)"),
    "parse_options": ("VARCHAR", "JSON text: format, tz, log_format, field overrides used"),
    "ingested_at": ("TIMESTAMPTZ", "when the file was ingested (UTC)"),
    "entry_rejects": (
        "BIGINT",
        "rejected lines that were log entries (not blank lines, not directives such as #Fields)",
    ),
    "format_lines": (
        "JSON",
        'how many events each format parsed from the file, e.g. {"combined": 2000, "common": 1000}',
    ),
}

_REJECTS: Columns = {
    "source_id": ("INTEGER NOT NULL", "evidence file the line came from (sources.source_id)"),
    "line_no": ("BIGINT NOT NULL", "line number in the evidence file (1-based)"),
    "line": ("VARCHAR", "the line as read (may be cut or cleaned of invalid bytes)"),
    "reason": ("VARCHAR NOT NULL", "why the line was not stored as an event"),
}

_CASE_LOG: Columns = {
    "seq": ("INTEGER PRIMARY KEY", "position of the entry in the log"),
    "logged_at": ("TIMESTAMPTZ NOT NULL", "when the entry was written (UTC)"),
    "tool_version": ("VARCHAR NOT NULL", "version of this tool that wrote the entry"),
    "command": ("VARCHAR NOT NULL", "command run (or '<command> finished' with its result)"),
    "parameters": ("VARCHAR NOT NULL", "JSON text: the command's parameters or results"),
    "prev_hash": ("VARCHAR", "entry_hash of the entry before (the hash chain; custody.py)"),
    "entry_hash": ("VARCHAR", "SHA-256 of this entry's fields and prev_hash"),
}

_META: Columns = {
    "key": ("VARCHAR PRIMARY KEY", "setting name (schema_version, the options of the last derivations)"),
    "value": ("VARCHAR NOT NULL", "setting value (JSON text for options)"),
}

# table -> (what the table holds, its columns)
_TABLES: dict[str, tuple[str, Columns]] = {
    "meta": ("Case settings: schema version and the options of the last derivations", _META),
    "sources": ("One row per evidence file read, with its SHA-256, format and counts", _SOURCES),
    "events": ("One row per parsed log line (a request), times in UTC", _EVENTS),
    "rejects": ("Log lines that did not parse, kept with the reason", _REJECTS),
    "case_log": ("The case log: every command run on the case, hash-chained", _CASE_LOG),
}


def _types(cols: Columns) -> dict[str, str]:
    return {name: typ for name, (typ, _) in cols.items()}


EVENT_COLUMNS: dict[str, str] = _types(_EVENTS)
# Columns a format's parser SQL must produce, in this order (source_id is added by ingest).
PARSED_COLUMNS: list[str] = [c for c in EVENT_COLUMNS if c != "source_id"]
SOURCE_COLUMNS: dict[str, str] = _types(_SOURCES)
REJECT_COLUMNS: dict[str, str] = _types(_REJECTS)
CASE_LOG_COLUMNS: dict[str, str] = _types(_CASE_LOG)
META_COLUMNS: dict[str, str] = _types(_META)

TABLES: dict[str, dict[str, str]] = {name: _types(cols) for name, (_, cols) in _TABLES.items()}

_REQUEST: dict[str, str] = {  # columns several derived tables copy from events
    name: text for name, (_, text) in _EVENTS.items() if name not in ("ts_offset_min", "extra")
}
_ROUTE = "route: method and path template, e.g. GET /api/records/{int}"
_RECORD_ID = "record id the request names (from the path's placeholder or an id-like query parameter)"
_AUTH_STATE = "authenticated | trusted | unauthenticated | unknown"
_AUTH_EVIDENCE = "the reason for the auth state: principal, trusted, login, or a phrase (auth.EVIDENCE_STATE)"

# Derived tables: (re)created by routes, auth, twins, network, actors, detect and coverage;
# table -> (what it holds, column -> what it holds). Applied after they are (re)created.
DERIVED_COMMENTS: dict[str, tuple[str, dict[str, str]]] = {
    "routes": (
        "One row per distinct method and path: its route template and record id (routes.py)",
        {
            "method": "HTTP method (NULL when not logged)",
            "path": "request path",
            "template": "path with identifiers replaced by placeholders, e.g. /records/{int}",
            "label": "name of the declared endpoint (--endpoint) the path matched, else NULL",
            "record_id": "record id in the path, from the template's id placeholder",
            "id_kind": "kind of the record id placeholder (int, uuid, hex, str, ...)",
            "origin": "declared (from --endpoint) | inferred",
            "route": _ROUTE,
        },
    ),
    "ip_info": (
        "One row per distinct client address: scope, network and trusted name (network.py)",
        {
            "client_ip": "client address as logged",
            "ip_version": "4 or 6 (NULL when the logged value is not an address)",
            "scope": "loopback | private | reserved | public | not an ip",
            "net": "the address's network for linking (IPv4 /24, IPv6 /48)",
            "trusted": "name of the --trusted network the address is in, else NULL",
            "ip_num": "the address as an integer (IPv4 and IPv6), NULL when not an address",
            "asn": "autonomous system number from the case's network database, else NULL",
            "as_org": "the autonomous system's name from the network database",
            "hosting": "the AS is a hosting or cloud provider (asndb.HOSTING_ASNS or its name)",
            "link_net": "network key the linking rules use: the /24 or /48, or the hosting AS",
        },
    ),
    "asn_ranges": (
        "The network database loaded with `forensics network-db` (asndb.py): address ranges and their AS",
        {
            "ip_version": "4 or 6",
            "lo": "first address of the range (integer)",
            "hi": "last address of the range (integer)",
            "asn": "autonomous system number",
            "as_org": "autonomous system name",
            "hosting": "the AS is a hosting or cloud provider",
        },
    ),
    "request_twins": (
        "Requests logged by two servers: the primary event and its copy (twins.py)",
        {
            "source_id": "primary event's source_id",
            "line_no": "primary event's line_no",
            "copy_source_id": "the copy's source_id (the later-ranked format)",
            "copy_line_no": "the copy's line_no",
            "skew_ms": "difference between the two logged times, in milliseconds",
        },
    ),
    "clients": (
        "One row per client: an address and user agent as logged (auth.py); request_facts names it by key",
        {
            "client_key": "number of the client (request_facts.client_key)",
            "client_ip": _REQUEST["client_ip"],
            "user_agent": _REQUEST["user_agent"],
        },
    ),
    "request_facts": (
        "One row per event with its client, route, record id and authentication state (auth.py); "
        "the event's strings are in events (by source_id, line_no) and clients",
        {
            **{c: _REQUEST[c] for c in ("source_id", "line_no", "principal", "status", "bytes_sent")},
            "client_key": "the client: address and user agent (clients.client_key)",
            "ts": _REQUEST["ts"],
            "route": _ROUTE,
            "record_id": _RECORD_ID,
            "probe": "request to a well-known probe path (auth.PROBE_PATH: /.env, /wp-login.php, ...)",
            "auth_state": _AUTH_STATE,
            "auth_evidence": _AUTH_EVIDENCE,
            "auth_trusted": "name of the trusted network that made the request trusted",
            "auth_login_ts": "time of the login request the authentication was inferred from",
            "auth_shared": "login inferred from a login that overlapped another on the same address "
            "and browser (several people behind one client)",
            "auth_ambiguous": "login inferred, but who made the request cannot be told: a shared client, "
            "or an address that showed several user agents that day (never a confirmed record)",
            "twin_principal": "principal the other server's copy of the request logged",
            "is_copy": "this event is the second log's copy of a request (not counted twice)",
        },
    ),
    "request_session": (
        "Which session each event belongs to (actors.py)",
        {
            "source_id": _REQUEST["source_id"],
            "line_no": _REQUEST["line_no"],
            "session_id": "the session (sessions.session_id)",
        },
    ),
    "sessions": (
        "One row per session: a principal's or one address + user agent's requests (actors.py)",
        {
            "session_id": "number of the session",
            "principal": "principal of the session's requests, if any was logged",
            "ips": "client addresses seen in the session",
            "user_agents": "user agents seen in the session",
            "first_seen": "first request (UTC)",
            "last_seen": "last request (UTC)",
            "requests": "number of requests",
            "logged_in": "requests in an authenticated state",
            "shared_requests": "requests resting on a login that overlapped another on the same client",
            "ambiguous_requests": "requests whose caller cannot be told apart (request_facts.auth_ambiguous)",
            "client": "address + user agent of a session without a principal (its login fingerprint)",
            "actor_id": "the actor the session belongs to (actors.actor_id)",
        },
    ),
    "actors": (
        "One row per actor: sessions tied together by evidence, with their class (actors.py)",
        {
            "actor_id": "number of the actor",
            "ips": "client addresses the actor used",
            "user_agents": "user agents the actor used",
            "principals": "principals the actor's requests named",
            "first_seen": "first request (UTC)",
            "last_seen": "last request (UTC)",
            "requests": "number of requests (log lines, copies included)",
            "sessions": "number of sessions",
            "records": "distinct record ids requested",
            "bytes": "bytes sent to the actor",
            "trusted_share": "share of requests from trusted networks (0..1)",
            "authed_share": "share of authenticated requests (0..1)",
            "shared_share": "share of requests resting on overlapping logins of one client (0..1)",
            "ambiguous_requests": "requests whose caller cannot be told apart (request_facts.auth_ambiguous)",
            "auth_evidence": "the reasons its requests' authentication states rest on "
            "(request_facts.auth_evidence)",
            "s404_share": "share of 404 answers (0..1)",
            "probe_share": "share of requests to well-known probe paths (0..1)",
            "ua_monitor": "requests with a monitoring user agent",
            "ua_crawler": "requests with a crawler user agent",
            "ua_scanner": "requests with a scanner user agent",
            "sigma_hits": "requests a Sigma rule matched (forensics sigma), not from trusted networks",
            "class": "the actor's class (first matching rule in actors.CLASS_RULES)",
            "class_reason": "why the actor got its class",
            "link_reasons": "why its sessions are one actor: per link rule, count and an example",
            "hosting": "hosting/cloud providers (AS number and name) its addresses belong to (--asn-db)",
        },
    ),
    "actor_links": (
        "One row per link between two sessions of one actor, with its rule and reason (linking.py)",
        {
            "actor_id": "the actor (actors.actor_id)",
            "session_id": "one session (sessions.session_id)",
            "other_session_id": "the session it is linked to",
            "rule": "the link rule (linking.RULES)",
            "reason": "the evidence for the link, in words",
        },
    ),
    "ownership": (
        "The record-ownership map investigate was given (--ownership); empty without one (ownership.py)",
        {
            "record_id": "a record id, as the map lists it",
            "owner": "the principal or team the record belongs to",
        },
    ),
    "ownership_teams": (
        "The team membership investigate was given (--ownership-teams); empty without one",
        {
            "principal": "a principal (an authenticated user name)",
            "team": "a team it belongs to (ownership.owner)",
        },
    ),
    "detect_requests": (
        "One row per request (copies left out) as the detectors read it (detectors/facts.py)",
        {
            **{c: _REQUEST[c] for c in ("source_id", "line_no", "ts", "client_ip", "user_agent")},
            **{c: _REQUEST[c] for c in ("method", "path", "query", "status", "bytes_sent")},
            "principal": "principal logged, or the one the other server's copy logged",
            "actor_id": "the actor (actors.actor_id)",
            "actor_class": "the actor's class",
            "route": _ROUTE,
            "route_key": "the route as a number (in the routes' order), for windows partitioned by route",
            "record_id": _RECORD_ID,
            "rid": "record id as an integer, when it is one",
            "auth_state": _AUTH_STATE,
            "auth_evidence": _AUTH_EVIDENCE,
            "auth_ambiguous": "who made the request cannot be told (shared address; request_facts)",
            "auth_shared": "the login it rests on overlapped another on the same client (request_facts)",
            "record_route": "request to a record endpoint (has a record id; a declared one if any)",
            "ok": "record-bearing success: 2xx except 204/205",
        },
    ),
    "detector_runs": (
        "One row per detector in the last detection run: thresholds, SQL and count (detect.py)",
        {
            "detector": "detector id",
            "title": "detector title",
            "severity": "default severity of its findings",
            "signals": "the method's signal ids the detector looks for (H1..H13)",
            "thresholds": "threshold values used (JSON)",
            "sql": "the query that produced the findings",
            "findings": "number of findings",
        },
    ),
    "sigma_rules": (
        "Sigma rules of the last forensics sigma run: each run or skipped with its reason (sigma/run.py)",
        {
            "rule_key": "the rule's id (or file#n for a rule without one); sigma_matches.rule_key",
            "rule_id": "the rule's id as written in the rule",
            "title": "the rule's title (rule files are user input: shown escaped)",
            "level": "the rule's level: critical | high | medium | low | informational",
            "severity": "the findings' severity from the level (high | medium | low | info)",
            "description": "the rule's description",
            "tags": "the rule's tags (ATT&CK techniques, CVEs, ...)",
            "falsepositives": "the rule's notes on false positives",
            "path": "the rule file",
            "sha256": "SHA-256 of the rule file's bytes as read",
            "status": "run | skipped",
            "reason": "why a skipped rule did not run",
            "keyword": "the rule has keyword (fieldless) values: it read the raw evidence lines back",
            "sql": "the DuckDB expression the rule ran as (over sigma_requests, see sigma/fields.py)",
            "matches": "events the rule matched",
        },
    ),
    "sigma_matches": (
        "Events a Sigma rule matched in the last forensics sigma run (sigma/run.py)",
        {
            "source_id": "evidence file (sources.source_id)",
            "line_no": "line number in the evidence file",
            "rule_key": "the rule (sigma_rules.rule_key)",
        },
    ),
    "findings": (
        "Findings of the last detection run, one row per finding (detect.py)",
        {
            "finding_id": "number of the finding",
            "detector": "detector that found it (detector_runs.detector)",
            "severity": "high | medium | low | info",
            "actor_id": "the actor (NULL for a finding about an endpoint)",
            "route": "the route the finding is about, if one",
            "unauthorised": "the caller was not entitled to what it got",
            "first_seen": "first request of the finding (UTC)",
            "last_seen": "last request of the finding (UTC)",
            "requests": "number of requests",
            "records": "distinct record ids the finding is about",
            "bytes": "bytes sent in the finding's requests",
            "estimated_records": "records inside bulk responses (ids not logged), else NULL",
            "record_ids": "record ids received (2xx) in the finding's requests",
            "sample": "a few of the requests, as (source_id, line_no) of their events",
            "metrics": "the detector's own numbers (JSON: rates, shares, z-scores, ...)",
            "ambiguous_requests": "its requests whose caller cannot be told apart (shared address): when "
            "any, the finding shows no unauthorised caller",
            "caveat": "why the finding shows no unauthorised caller despite its detector, and what "
            "would settle it",
        },
    ),
    "actor_findings": (
        "One row per actor with findings: what was found and which records (detect.py)",
        {
            "actor_id": "the actor (actors.actor_id)",
            "unauthorised": "any of its findings shows unauthorised access",
            "severity_rank": "highest severity of its findings (0 = high)",
            "detectors": "detectors that found something",
            "findings": "number of findings",
            "unauthorised_records": "record ids received in its unauthorised findings",
            "records_in_findings": "record ids received in any of its findings",
        },
    ),
    "coverage_hourly": (
        "Events per evidence file and hour in the exposure window (coverage.py)",
        {
            "source_id": "evidence file (sources.source_id)",
            "hour": "start of the hour (UTC)",
            "events": "events in that hour",
        },
    ),
}

# Every persistent table this tool creates: table -> (what it holds, column -> what it holds).
COMMENTS: dict[str, tuple[str, dict[str, str]]] = {
    **{
        name: (text, {col: desc for col, (_, desc) in cols.items()}) for name, (text, cols) in _TABLES.items()
    },
    **DERIVED_COMMENTS,
}


def create_table_sql(name: str) -> str:
    """``CREATE TABLE IF NOT EXISTS`` statement for one of ``TABLES``."""
    cols = ",\n  ".join(f"{col} {typ}" for col, typ in TABLES[name].items())
    return f"CREATE TABLE IF NOT EXISTS {name} (\n  {cols}\n)"
