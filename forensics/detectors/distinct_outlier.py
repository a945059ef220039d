"""H3/H4: far more distinct records in a short time than callers of that route normally read.

Per actor, route and time bucket (``bucket_minutes``), count distinct record ids received (2xx). A
bucket is an outlier when it reaches the fixed floor ``min_distinct`` (published practice: ~15
distinct ids in 10 minutes) and its robust z against all buckets of the route (median/MAD) is at
least ``min_z``; when the MAD is 0 (most buckets read one record) or fewer than ``min_population``
buckets exist, the floor alone decides. The distinct/requests ratio (H4: harvesters rarely re-read,
real users do) is reported beside it. Trusted callers are left out. Severity high; medium when every
read of the finding was authenticated (a logged-in user's burst: an insider question, not a breach).
"""

from __future__ import annotations

from collections.abc import Mapping

from forensics.detectors.base import RECORD_IDS_SQL, SAMPLE_SQL, Detector, Threshold, num


def sql(t: Mapping[str, float]) -> str:
    return f"""
    WITH r AS (  -- the columns used below only (r is read twice, so DuckDB materialises it)
      SELECT actor_id, route, ts, source_id, line_no, record_id, ok, auth_state, bytes_sent,
        time_bucket(INTERVAL '{num(t["bucket_minutes"])} minutes', ts) AS bucket
      FROM detect_requests WHERE record_route AND ok AND auth_state <> 'trusted'),
    b AS (
      SELECT actor_id, route, bucket, count(*) AS n, count(DISTINCT record_id) AS d FROM r GROUP BY ALL),
    med AS (SELECT route, median(d) AS med, count(*) AS pop FROM b GROUP BY route),
    mad AS (
      SELECT route, any_value(med) AS med, any_value(pop) AS pop, 1.4826 * median(abs(d - med)) AS mad
      FROM b JOIN med USING (route) GROUP BY route),
    flagged AS (
      SELECT b.*, m.med, CASE WHEN m.mad > 0 THEN (b.d - m.med) / m.mad END AS z
      FROM b JOIN mad m USING (route)
      WHERE b.d >= {num(t["min_distinct"])}
        AND (m.mad = 0 OR m.pop < {num(t["min_population"])} OR (b.d - m.med) / m.mad >= {num(t["min_z"])})),
    hits AS (SELECT r.*, f.d, f.z, f.med FROM r JOIN flagged f USING (actor_id, route, bucket))
    SELECT actor_id, route, CASE WHEN bool_and(auth_state = 'authenticated') THEN 'medium' END AS severity,
      false AS unauthorised,
      min(ts) AS first_seen, max(ts) AS last_seen, count(*) AS requests,
      count(DISTINCT record_id) AS records, sum(bytes_sent) AS bytes, NULL AS estimated_records,
      {RECORD_IDS_SQL} AS record_ids, {SAMPLE_SQL} AS sample,
      to_json({{'buckets': count(DISTINCT bucket), 'max_distinct_per_bucket': max(d),
               'route_median_per_bucket': any_value(med), 'max_z': round(max(z), 2),
               'distinct_per_request': round(count(DISTINCT record_id) / count(*), 3)}}) AS metrics
    FROM hits GROUP BY actor_id, route"""


DETECTOR = Detector(
    id="distinct_outlier",
    title="Distinct-record outlier against the route's callers",
    severity="high",
    signals=("H3", "H4"),
    meaning="A caller read many more distinct records in a short time than callers of the route normally do.",
    references=(
        "API1:2023 Broken Object Level Authorization",
        "API4:2023 Unrestricted Resource Consumption",
        "OAT-011 Scraping",
    ),
    false_positives="Partner syncs and reporting jobs (declare them with --trusted); bulk work by staff.",
    thresholds=(
        Threshold("bucket_minutes", 10, "time bucket length"),
        Threshold("min_distinct", 15, "distinct records in one bucket (fixed floor)"),
        Threshold("min_z", 3.5, "robust z against the route's buckets"),
        Threshold("min_population", 30, "buckets a route needs before its median/MAD is used"),
    ),
    sql=sql,
)
