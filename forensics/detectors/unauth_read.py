"""H1: record-bearing 2xx answers on a record endpoint to requests without authentication evidence.

The strongest signal there is: the caller showed no principal, no prior login and no trusted
network, and there is positive evidence it had no credentials (auth.py: nobody logged in from its
address or with its user agent within the session lifetime, a 401/403 to it, an attack tool, a
log that names principals and none for it), and still received a record. Every record id in
the finding is one the caller got; the finding's ``evidence.caller`` says which reason held.
Requests whose authentication could not be judged (``auth_state = 'unknown'``: a source that
never logs a principal while no login endpoint was given, or a logged-in session that may
continue there — a token client on a new address) are not used.
"""

from __future__ import annotations

from collections.abc import Mapping

from forensics.detectors.base import RECORD_IDS_SQL, SAMPLE_SQL, Detector, Threshold, num


def sql(t: Mapping[str, float]) -> str:
    return f"""
    SELECT actor_id, route, NULL AS severity, true AS unauthorised,
      min(ts) AS first_seen, max(ts) AS last_seen, count(*) AS requests,
      count(DISTINCT record_id) AS records, sum(bytes_sent) AS bytes, NULL AS estimated_records,
      {RECORD_IDS_SQL} AS record_ids, {SAMPLE_SQL} AS sample,
      to_json({{'days': count(DISTINCT date_trunc('day', ts)), 'ips': count(DISTINCT client_ip),
               'actor_class': any_value(actor_class)}}) AS metrics
    FROM detect_requests
    WHERE record_route AND ok AND auth_state = 'unauthenticated'
    GROUP BY actor_id, route
    HAVING count(DISTINCT record_id) >= {num(t["min_records"])}"""


DETECTOR = Detector(
    id="unauth_read",
    title="Unauthenticated record reads",
    severity="high",
    signals=("H1",),
    meaning="A caller with no authentication evidence received records from a record endpoint.",
    references=(
        "API1:2023 Broken Object Level Authorization",
        "API2:2023 Broken Authentication",
        "API5:2023 Broken Function Level Authorization",
    ),
    false_positives=(
        "A login the logs do not show (before retention, in a gap, from another address); an "
        "undeclared partner or internal job (declare it with --trusted); a session longer than "
        "--session-lifetime."
    ),
    thresholds=(Threshold("min_records", 1, "distinct records an actor must have received on the route"),),
    sql=sql,
)
