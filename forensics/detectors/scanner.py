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


# A request's flags: its user agent among the tool ones (u), its path and query among the probes and
# payloads (p); joined in both readings of the requests below.
_FLAGS = (
    "LEFT JOIN ua u ON u.user_agent = d.user_agent "
    "LEFT JOIN p ON p.path IS NOT DISTINCT FROM d.path AND p.query IS NOT DISTINCT FROM d.query"
)


def sql(t: Mapping[str, float]) -> str:
    return f"""
    WITH uas AS MATERIALIZED (SELECT DISTINCT user_agent FROM detect_requests WHERE user_agent IS NOT NULL),
    pq AS MATERIALIZED (SELECT DISTINCT path, query FROM detect_requests),
    ua AS (  -- the attack-tool user agents (the patterns once per distinct user agent: the distinct
      -- values materialised, else the optimizer pushes the filter below the DISTINCT, to every request)
      SELECT user_agent FROM uas WHERE regexp_matches(user_agent, {sql_str(SCANNER_UA)})),
    p AS (  -- the probe paths and payloads (per distinct path and query); small, so the joins
      SELECT * FROM (  -- below probe a small table instead of building one of every path
        SELECT path, query, regexp_matches(path, {sql_str(PROBE_PATH)}) AS probe,
          regexp_matches(coalesce(path, '') || '?' || coalesce(query, ''), {sql_str(PAYLOAD_RE)}) AS payload
        FROM pq)
      WHERE probe OR payload),
    noisy AS (  -- the requests read once for the actors, once for their hits: no materialised table
      SELECT d.actor_id FROM detect_requests d  -- of every request (it spilled tens of GB at 100M)
      {_FLAGS}
      WHERE d.auth_state <> 'trusted' AND (u.user_agent IS NOT NULL OR p.probe OR p.payload)
      GROUP BY d.actor_id HAVING count(*) >= {num(t["min_requests"])}),
    hits AS (
      SELECT * FROM (
        SELECT d.actor_id, d.ts, d.source_id, d.line_no, d.client_ip, d.status, d.bytes_sent, d.record_id,
          d.record_route, d.ok, u.user_agent IS NOT NULL AS tool, coalesce(p.probe, false) AS probe,
          coalesce(p.payload, false) AS payload
        FROM detect_requests d
        {_FLAGS}
        WHERE d.auth_state <> 'trusted' AND d.actor_id IN (SELECT actor_id FROM noisy))
      WHERE tool OR probe OR payload OR (record_route AND ok)),
    recs AS (  -- the records and addresses made distinct apart, then counted per actor: DISTINCT and
      SELECT actor_id, count(*) AS records, list_sort(list(record_id)) AS record_ids  -- ordered
      FROM (SELECT DISTINCT actor_id, record_id FROM hits  -- aggregates keep every value per group
            WHERE record_route AND ok AND record_id IS NOT NULL)
      GROUP BY actor_id),
    ips AS (
      SELECT actor_id, count(*) AS ips
      FROM (SELECT DISTINCT actor_id, client_ip FROM hits WHERE client_ip IS NOT NULL) GROUP BY actor_id),
    agg AS (
      SELECT actor_id, count_if(record_route AND ok) AS record_hits,
        min(ts) AS first_seen, max(ts) AS last_seen, count(*) AS requests, sum(bytes_sent) AS bytes,
        count_if(tool) AS tool_user_agent, count_if(probe) AS probe_paths, count_if(payload) AS payloads,
        count_if(status = 404) AS s404
      FROM hits GROUP BY actor_id),
    first AS (  -- the first requests in time (SAMPLE_SQL's list), by a window, which spills: with a
      -- top-n aggregate per actor (min(struct, n)) the query needed over 400MB at 10M events, now 300MB
      SELECT actor_id, list({SAMPLE_STRUCT} ORDER BY ts, source_id, line_no) AS sample
      FROM (SELECT * FROM hits QUALIFY row_number() OVER (PARTITION BY actor_id
                                                          ORDER BY ts, source_id, line_no) <= {SAMPLE_SIZE})
      GROUP BY actor_id)
    SELECT actor_id, NULL AS route, CASE WHEN record_hits > 0 THEN 'high' END AS severity,
      false AS unauthorised, first_seen, last_seen, requests, coalesce(recs.records, 0) AS records,
      bytes, NULL AS estimated_records, coalesce(recs.record_ids, []) AS record_ids, sample,
      to_json({{'tool_user_agent': tool_user_agent, 'probe_paths': probe_paths, 'payloads': payloads,
               'record_hits': record_hits, 's404': s404, 'ips': coalesce(ips.ips, 0)}}) AS metrics
    FROM agg JOIN first USING (actor_id) LEFT JOIN recs USING (actor_id) LEFT JOIN ips USING (actor_id)"""


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
