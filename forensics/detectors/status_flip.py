"""H6 over time: when unauthenticated requests to an endpoint started and stopped getting records.

Per record route, over unauthenticated requests: the first and last record-bearing 2xx, the last
401/403 before the first 2xx and the first 401/403 after the last 2xx. The exposure window as the
logs show it opened between ``last_denied_before`` and ``first_allowed`` and closed between
``last_allowed`` and ``first_denied_after`` (NULL: the logs do not show that side — retention
started, or ended, inside the window). A route that answered 2xx and 401/403 to unauthenticated
callers in the same period (``denied_between``) has partial authorisation. A finding needs at
least ``min_allowed`` unauthenticated 2xx answers; it is about the endpoint (no actor).
"""

from __future__ import annotations

from collections.abc import Mapping

from forensics.detectors.base import SAMPLE_SQL, Detector, Threshold, num


def iso(column: str) -> str:
    return f"strftime({column}, '%Y-%m-%dT%H:%M:%SZ')"


def sql(t: Mapping[str, float]) -> str:
    return f"""
    WITH r AS (
      SELECT *, status IN (401, 403) AS denied FROM detect_requests
      WHERE record_route AND auth_state = 'unauthenticated'),
    span AS (
      SELECT route, min(ts) FILTER (WHERE ok) AS first_allowed, max(ts) FILTER (WHERE ok) AS last_allowed,
        count_if(ok) AS allowed
      FROM r GROUP BY route HAVING count_if(ok) >= {num(t["min_allowed"])}),
    edges AS (
      SELECT s.route, any_value(s.first_allowed) AS first_allowed, any_value(s.last_allowed) AS last_allowed,
        any_value(s.allowed) AS allowed,
        max(r.ts) FILTER (WHERE r.denied AND r.ts < s.first_allowed) AS last_denied_before,
        min(r.ts) FILTER (WHERE r.denied AND r.ts > s.last_allowed) AS first_denied_after,
        count_if(r.denied AND r.ts BETWEEN s.first_allowed AND s.last_allowed) AS denied_between,
        count_if(r.denied) AS denied
      FROM span s JOIN r USING (route) GROUP BY s.route),
    samples AS (  -- the requests either side of each edge
      SELECT r.route, {SAMPLE_SQL} AS sample FROM r JOIN edges e USING (route)
      WHERE r.ts IN (e.first_allowed, e.last_allowed, e.last_denied_before, e.first_denied_after)
      GROUP BY r.route)
    SELECT NULL::BIGINT AS actor_id, route,
      CASE WHEN last_denied_before IS NULL AND first_denied_after IS NULL THEN 'medium' END AS severity,
      false AS unauthorised,
      first_allowed AS first_seen, last_allowed AS last_seen, allowed + denied AS requests,
      NULL AS records, NULL AS bytes, NULL AS estimated_records, []::VARCHAR[] AS record_ids, sample,
      to_json({{'last_denied_before': {iso("last_denied_before")}, 'first_allowed': {iso("first_allowed")},
               'last_allowed': {iso("last_allowed")}, 'first_denied_after': {iso("first_denied_after")},
               'allowed': allowed, 'denied': denied, 'denied_between': denied_between}}) AS metrics
    FROM edges LEFT JOIN samples USING (route)"""


DETECTOR = Detector(
    id="status_flip",
    title="Unauthenticated access to an endpoint opened or closed",
    severity="high",
    signals=("H6",),
    meaning=(
        "Unauthenticated requests to a record endpoint got records during a period and were "
        "refused before or after it: the exposure window as the logs show it."
    ),
    references=("API2:2023 Broken Authentication", "API5:2023 Broken Function Level Authorization"),
    false_positives="A login the logs do not show makes an authenticated 2xx look unauthenticated.",
    thresholds=(Threshold("min_allowed", 1, "unauthenticated 2xx answers the route needs"),),
    sql=sql,
)
