"""H5/H6/H11: a caller walking through record ids (sequential or range-covering), alone or from many IPs.

Per actor, route and time bucket (``bucket_hours``), over all requests with integer record ids
(any status: probing shows as 404s): the share of consecutive requests whose id moved by at most
``max_step`` (``small_steps``), the rank correlation of time and id (``spearman``), the longest
run of small steps, the share of the id range covered, and the 2xx/401-403/404 mix. A bucket is
enumeration when it has at least ``min_requests`` requests and ``min_distinct`` ids and either
small steps dominate (≥ ``min_small_steps``) or time and id are strongly rank-correlated
(|rho| ≥ ``min_spearman``) while covering at least ``min_coverage`` of the id range walked. The
actor groups IPs (actors.py), so the distributed form shows as one actor with many IPs
(``ips``, ``max_ip_share``). Trusted callers are left out.
"""

from __future__ import annotations

from collections.abc import Mapping

from forensics.detectors.base import RECORD_IDS_SQL, SAMPLE_SQL, Detector, Threshold, num


def sql(t: Mapping[str, float]) -> str:
    step = num(t["max_step"])
    return f"""
    WITH r AS (  -- the columns used below only (r is read twice, so DuckDB materialises it)
      SELECT actor_id, route, route_key, ts, source_id, line_no, rid, record_id, ok, status, client_ip,
        bytes_sent, time_bucket(INTERVAL '{num(t["bucket_hours"])} hours', ts) AS bucket
      FROM detect_requests WHERE record_route AND rid IS NOT NULL AND auth_state <> 'trusted'),
    d AS (
      SELECT *, rid - lag(rid) OVER w AS delta,
        rank() OVER (PARTITION BY actor_id, route_key, bucket ORDER BY ts) AS rank_ts,
        rank() OVER (PARTITION BY actor_id, route_key, bucket ORDER BY rid) AS rank_id
      FROM r WINDOW w AS (PARTITION BY actor_id, route_key, bucket ORDER BY ts, source_id, line_no)),
    b AS (
      SELECT actor_id, route, bucket, count(*) AS n, count(DISTINCT rid) AS ids,
        avg(CASE WHEN abs(delta) <= {step} THEN 1.0 ELSE 0.0 END) FILTER (WHERE delta IS NOT NULL)
          AS small_steps,
        corr(rank_ts, rank_id) AS spearman,
        count(DISTINCT rid) / (max(rid) - min(rid) + 1) AS coverage
      FROM d GROUP BY ALL),
    flagged0 AS (
      SELECT * FROM b
      WHERE n >= {num(t["min_requests"])} AND ids >= {num(t["min_distinct"])}
        AND (small_steps >= {num(t["min_small_steps"])}
             OR (abs(spearman) >= {num(t["min_spearman"])} AND coverage >= {num(t["min_coverage"])}))),
    runs AS (  -- the longest run of small steps, a metric: in the flagged buckets only (another sort)
      SELECT *, sum(CASE WHEN abs(delta) BETWEEN 1 AND {step} THEN 0 ELSE 1 END)
                  OVER (PARTITION BY actor_id, route_key, bucket ORDER BY ts, source_id, line_no) AS run_no
      FROM d SEMI JOIN flagged0 USING (actor_id, route, bucket)),
    longest AS (
      SELECT actor_id, route, bucket, max(len) AS longest_run FROM (
        SELECT actor_id, route, bucket, run_no, count(*) AS len FROM runs GROUP BY ALL) GROUP BY ALL),
    flagged AS (SELECT f.*, l.longest_run FROM flagged0 f JOIN longest l USING (actor_id, route, bucket)),
    hits AS (SELECT r.*, f.small_steps, f.spearman, f.coverage, f.longest_run
             FROM r JOIN flagged f USING (actor_id, route, bucket)),
    per_ip AS (SELECT actor_id, route, client_ip, count(*) AS n FROM hits GROUP BY ALL),
    ip_share AS (SELECT actor_id, route, max(n) / sum(n) AS max_ip_share FROM per_ip GROUP BY ALL)
    SELECT h.actor_id, h.route, NULL AS severity, false AS unauthorised,
      min(ts) AS first_seen, max(ts) AS last_seen, count(*) AS requests,
      count(DISTINCT record_id) FILTER (WHERE ok) AS records, sum(bytes_sent) AS bytes,
      NULL AS estimated_records, {RECORD_IDS_SQL} AS record_ids, {SAMPLE_SQL} AS sample,
      to_json({{'buckets': count(DISTINCT bucket), 'ids_requested': count(DISTINCT rid),
               'min_id': min(rid), 'max_id': max(rid),
               'small_steps': round(max(small_steps), 3), 'spearman': round(max(abs(spearman)), 3),
               'coverage': round(max(coverage), 3), 'longest_run': max(longest_run),
               's2xx': count_if(ok), 's401_403': count_if(status IN (401, 403)),
               's404': count_if(status = 404), 'ips': count(DISTINCT client_ip),
               'max_ip_share': round(any_value(s.max_ip_share), 3),
               'distributed': count(DISTINCT client_ip) >= {num(t["distributed_min_ips"])}}}) AS metrics
    FROM hits h JOIN ip_share s USING (actor_id, route) GROUP BY h.actor_id, h.route"""


DETECTOR = Detector(
    id="enumeration",
    title="Record-id enumeration",
    severity="high",
    signals=("H5", "H6", "H11"),
    meaning=(
        "A caller requested record ids in sequence or swept an id range: it was harvesting "
        "records rather than following the application's own links."
    ),
    references=("API1:2023 Broken Object Level Authorization", "OAT-011 Scraping", "OAT-004 Fingerprinting"),
    false_positives=(
        "Partner or migration jobs that walk ids (declare them with --trusted); id-ordered exports."
    ),
    thresholds=(
        Threshold("bucket_hours", 24, "time bucket length"),
        Threshold("min_requests", 20, "requests in a bucket"),
        Threshold("min_distinct", 20, "distinct ids in a bucket"),
        Threshold("max_step", 2, "an id step this small counts as sequential"),
        Threshold("min_small_steps", 0.5, "share of sequential steps"),
        Threshold("min_spearman", 0.8, "|rank correlation| of time and id"),
        Threshold("min_coverage", 0.3, "share of the walked id range requested"),
        Threshold("distributed_min_ips", 5, "IPs from which the actor enumerated to call it distributed"),
    ),
    sql=sql,
)
