"""H7/H12: responses carrying many records — list endpoints asked for big pages, oversized bodies.

A route's typical record size is the median body of 2xx answers on record endpoints: the
record route under it (``/referrals`` -> ``/referrals/{id}``), else all record routes. A 2xx
answer to an untrusted, unauthenticated-or-unknown caller is bulk when either

* it estimates at least ``min_records`` records: bytes / typical record size, or the page-size
  parameter it asked for (``limit``, ``page_size``, ``per_page``, ``size``, ``count``, ``top``,
  ``max``) when the body is at least that many records' worth of ``min_fill`` (an empty page is
  not bulk); or
* on a record endpoint, its body is at least ``oversize_factor`` x the route's median.

Estimated records are reported apart (``estimated_records``): the ids inside are not in the logs.
Findings on unauthenticated callers are unauthorised acquisitions (of unknown records).
"""

from __future__ import annotations

from collections.abc import Mapping

from forensics.detectors.base import SAMPLE_SQL, Detector, Threshold, num

PAGE_PARAM_RE = r"(?:^|[&;])(?:limit|page_?size|per_?page|size|count|top|max|\$top)=(\d{1,9})(?:[&;#]|$)"


def sql(t: Mapping[str, float]) -> str:
    return f"""
    WITH rec AS (
      SELECT route, split_part(route, ' ', 1) AS method,
        regexp_replace(split_part(route, ' ', 2), '/[^/]*$', '') AS parent,
        median(bytes_sent) AS med
      FROM detect_requests WHERE record_route AND ok AND bytes_sent > 0 GROUP BY route),
    overall AS (SELECT median(med) AS med FROM rec),
    cand AS (
      SELECT d.*, TRY_CAST(regexp_extract(d.query, '{PAGE_PARAM_RE}', 1) AS BIGINT) AS page
      FROM detect_requests d
      WHERE d.ok AND d.auth_state IN ('unauthenticated', 'unknown') AND d.bytes_sent > 0),
    sized AS (
      SELECT c.*, coalesce(
          (SELECT max(r.med) FROM rec r WHERE r.route = c.route),
          (SELECT max(r.med) FROM rec r
           WHERE r.parent = split_part(c.route, ' ', 2) AND r.method = split_part(c.route, ' ', 1)),
          (SELECT med FROM overall)) AS record_bytes
      FROM cand c),
    est AS (
      SELECT *, CASE
          WHEN record_route THEN NULL
          WHEN page >= {num(t["min_records"])} AND bytes_sent >= page * record_bytes * {num(t["min_fill"])}
            THEN page
          ELSE floor(bytes_sent / record_bytes)::BIGINT END AS est_records
      FROM sized WHERE record_bytes > 0),
    hits AS (
      SELECT * FROM est
      WHERE (NOT record_route AND est_records >= {num(t["min_records"])})
         OR (record_route AND bytes_sent >= {num(t["oversize_factor"])} * record_bytes))
    SELECT actor_id, route,
      CASE WHEN count_if(auth_state = 'unauthenticated') = 0 THEN 'medium' END AS severity,
      count_if(auth_state = 'unauthenticated') > 0 AS unauthorised,
      min(ts) AS first_seen, max(ts) AS last_seen, count(*) AS requests,
      count(DISTINCT record_id) AS records, sum(bytes_sent) AS bytes,
      sum(est_records)::BIGINT AS estimated_records,
      coalesce(list(DISTINCT record_id ORDER BY record_id) FILTER (WHERE record_id IS NOT NULL), [])
        AS record_ids, {SAMPLE_SQL} AS sample,
      to_json({{'typical_record_bytes': round(any_value(record_bytes)), 'max_bytes': max(bytes_sent),
               'max_page_param': max(page), 'max_estimated_records': max(est_records),
               'oversized_record_responses': count_if(record_route)}}) AS metrics
    FROM hits GROUP BY actor_id, route"""


DETECTOR = Detector(
    id="bulk",
    title="Bulk and oversized responses",
    severity="high",
    signals=("H7", "H12"),
    meaning=(
        "One response carried many records (a large page from a list endpoint, or a body far "
        "above the route's record size): records are counted, not requests."
    ),
    references=(
        "API3:2023 Broken Object Property Level Authorization",
        "API4:2023 Unrestricted Resource Consumption",
        "OAT-011 Scraping",
    ),
    false_positives=(
        "Exports by callers whose authentication the logs do not show; attachments on record routes."
    ),
    thresholds=(
        Threshold("min_records", 20, "estimated records in one response"),
        Threshold("min_fill", 0.5, "body at least this share of page x record size to trust the page size"),
        Threshold("oversize_factor", 10, "record-route body this many times the route median"),
    ),
    sql=sql,
)
