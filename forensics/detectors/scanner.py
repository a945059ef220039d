"""H9: scanner and attack-payload traffic — noise unless it also received records.

Per actor: requests with a scanner/attack-tool user agent (actors.SCANNER_UA), to probe paths
(actors.PROBE_PATH: /.env, /wp-login.php, …) or carrying injection payloads in the path or query
(``PAYLOAD_RE``: SQL injection, traversal, script tags, JNDI lookups). Severity ``low`` — the
internet's background — unless the same actor also received record-bearing 2xx answers on a
record endpoint (``record_hits``): then ``high`` (and unauthenticated ones are also H1 findings).
"""

from __future__ import annotations

from collections.abc import Mapping

from forensics.derive.actors import PROBE_PATH, SCANNER_UA
from forensics.detectors.base import SAMPLE_SIZE, SAMPLE_STRUCT, Detector, Threshold, num
from forensics.store.db import sql_str

PAYLOAD_RE = (
    r"(?i)(union(\s|%20|\+|/\*\*/)+(all(\s|%20|\+)+)?select|'(\s|%20|\+)*or(\s|%20|\+)+'?1'?='?1|"
    r"%27(%20|\+)*or|\.\./|%2e%2e(/|%2f)|<script|%3cscript|\$\{jndi:|%24%7bjndi|/etc/passwd|"
    r"sleep\(\d|benchmark\(|waitfor(\s|%20)+delay|xp_cmdshell)"
)


def sql(t: Mapping[str, float]) -> str:
    return f"""
    WITH ua AS (
      SELECT user_agent, regexp_matches(user_agent, {sql_str(SCANNER_UA)}) AS tool
      FROM (SELECT DISTINCT user_agent FROM detect_requests WHERE user_agent IS NOT NULL)),
    p AS (
      SELECT path, query, regexp_matches(path, {sql_str(PROBE_PATH)}) AS probe,
        regexp_matches(coalesce(path, '') || '?' || coalesce(query, ''), {sql_str(PAYLOAD_RE)}) AS payload
      FROM (SELECT DISTINCT path, query FROM detect_requests)),
    r AS (  -- the columns used below only: r is read twice, so DuckDB materialises it
      SELECT d.actor_id, d.ts, d.source_id, d.line_no, d.client_ip, d.status, d.bytes_sent, d.record_id,
        d.record_route, d.ok, coalesce(u.tool, false) AS tool, coalesce(p.probe, false) AS probe,
        coalesce(p.payload, false) AS payload
      FROM detect_requests d LEFT JOIN ua u USING (user_agent)
      LEFT JOIN p ON p.path IS NOT DISTINCT FROM d.path AND p.query IS NOT DISTINCT FROM d.query
      WHERE d.auth_state <> 'trusted'),
    noisy AS (
      SELECT actor_id FROM r GROUP BY actor_id
      HAVING count_if(tool OR probe OR payload) >= {num(t["min_requests"])}),
    hits AS (
      SELECT r.* FROM r JOIN noisy USING (actor_id)
      WHERE tool OR probe OR payload OR (record_route AND ok)),
    sampled AS (  -- the first requests (as SAMPLE_SQL), apart: min(x, n) next to the DISTINCT
      SELECT actor_id,  -- aggregates below ran out of memory at 10M events; a list of every hit, 12 s
        min({SAMPLE_STRUCT}, {SAMPLE_SIZE}) AS sample
      FROM hits GROUP BY actor_id)
    SELECT actor_id, NULL AS route,
      CASE WHEN count_if(record_route AND ok) > 0 THEN 'high' END AS severity, false AS unauthorised,
      min(ts) AS first_seen, max(ts) AS last_seen, count(*) AS requests,
      count(DISTINCT record_id) FILTER (WHERE record_route AND ok) AS records, sum(bytes_sent) AS bytes,
      NULL AS estimated_records,
      coalesce(list(DISTINCT record_id ORDER BY record_id) FILTER (WHERE record_route AND ok), [])
        AS record_ids, any_value(sampled.sample) AS sample,
      to_json({{'tool_user_agent': count_if(tool), 'probe_paths': count_if(probe),
               'payloads': count_if(payload), 'record_hits': count_if(record_route AND ok),
               's404': count_if(status = 404), 'ips': count(DISTINCT client_ip)}}) AS metrics
    FROM hits JOIN sampled USING (actor_id) GROUP BY actor_id"""


DETECTOR = Detector(
    id="scanner",
    title="Scanner and attack-payload traffic",
    severity="low",
    signals=("H9",),
    meaning=(
        "Automated probing (tool user agents, probe paths, injection strings). Background noise "
        "on any internet-facing API — unless it also received records."
    ),
    references=(
        "API8:2023 Security Misconfiguration",
        "OAT-014 Vulnerability Scanning",
        "OAT-004 Fingerprinting",
    ),
    false_positives=(
        "An authorised penetration test (declare its addresses with --trusted); security monitoring services."
    ),
    thresholds=(Threshold("min_requests", 1, "scanner-like requests an actor needs"),),
    sql=sql,
)
