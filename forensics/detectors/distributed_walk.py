"""H11, route-level: many callers whose reads, taken together, walk a record-id range.

The per-actor enumeration detector needs one actor to walk the ids; an enumerator that changes
address *and* user agent on every request is a new actor each time (nothing ties the requests),
so it never sees a walk. This detector looks at the route instead of the caller.

Over the reads of a record endpoint by callers without authentication evidence
(``auth_state`` unauthenticated or unknown; trusted and authenticated callers are left out)
with integer record ids: each id's first read (time, caller) is taken; ids in id order form a
*walk segment* while each next id is at most ``max_step`` above the previous one AND was first
read at most ``max_gap_minutes`` after it (never before: the union walks forward in time). A
segment is a finding when it holds at least ``min_ids`` ids, first read by at least
``min_callers`` different actors, none of which first-read more than ``max_caller_share`` of
them (one dominant caller is the per-actor detector's finding). Random reads by many users
almost never put ``min_ids`` consecutive ids in increasing time order within minutes of each
other: 50 ids at 10 minutes each would need 50 chance adjacencies in a row.

The finding has no actor (``actor_id`` NULL): its requests are the walk's reads (every read of
a segment id by such a caller between the segment's first and last read), its records the ids
they received (2xx). **Unauthorised** only when every one of those reads is
``unauthenticated`` (positive evidence: a login endpoint was given, or the source logs
principals, and none applies): then its records count as confirmed. When some reads' state is
``unknown`` (no login endpoint, logs without users) the finding is not unauthorised and its
records are *probable*, never confirmed.
"""

from __future__ import annotations

from collections.abc import Mapping

from forensics.derive.linking import (
    CROWD_MAX_GAP,
    CROWD_MAX_SHARE,
    CROWD_MIN_IDS,
    CROWD_MIN_SESSIONS,
    ENUM_MAX_ID_STEP,
)
from forensics.detectors.base import RECORD_IDS_SQL, SAMPLE_SQL, Detector, Threshold, num


def sql(t: Mapping[str, float]) -> str:
    gap_s = num(t["max_gap_minutes"] * 60)
    return f"""
    WITH r AS (  -- the columns used below only (r is read twice, so DuckDB materialises it)
      SELECT route, route_key, rid, ts, actor_id, auth_state, record_id, ok, bytes_sent, client_ip,
        user_agent, source_id, line_no
      FROM detect_requests
      WHERE record_route AND rid IS NOT NULL AND auth_state IN ('unauthenticated', 'unknown')),
    first_read AS (  -- each id's first read on the route: when and by whom (two actors at one
      SELECT route, route_key, rid, min(ts) AS ts,  -- instant: the lower id, not chance, on either engine)
        arg_min(actor_id, {{'ts': ts, 'actor_id': actor_id}}) AS actor_id
      FROM r GROUP BY route, route_key, rid),
    steps AS (
      SELECT *, CASE WHEN rid - lag(rid) OVER w <= {num(t["max_step"])}
                      AND epoch(ts) - epoch(lag(ts) OVER w) BETWEEN 0 AND {gap_s}
                     THEN 0 ELSE 1 END AS new_segment
      FROM first_read WINDOW w AS (PARTITION BY route_key ORDER BY rid)),
    seg AS (
      SELECT *, sum(new_segment) OVER (PARTITION BY route_key ORDER BY rid) AS segment FROM steps),
    per_caller AS (SELECT route, segment, actor_id, count(*) AS n FROM seg GROUP BY ALL),
    top_caller AS (SELECT route, segment, max(n) AS n FROM per_caller GROUP BY ALL),
    flagged AS (  -- (a join: the correlated form took 28 s over 2.3M first reads)
      SELECT route, segment, min(rid) AS lo, max(rid) AS hi, min(ts) AS t0, max(ts) AS t1,
        count(*) AS ids, count(DISTINCT actor_id) AS callers, any_value(tc.n) / count(*) AS max_caller_share
      FROM seg JOIN top_caller tc USING (route, segment) GROUP BY route, segment
      HAVING count(*) >= {num(t["min_ids"])} AND count(DISTINCT actor_id) >= {num(t["min_callers"])}),
    hits AS (
      SELECT r.*, f.segment, f.lo, f.hi, f.callers, f.max_caller_share FROM r
      JOIN flagged f ON f.route = r.route AND r.rid BETWEEN f.lo AND f.hi AND r.ts BETWEEN f.t0 AND f.t1
      WHERE f.max_caller_share <= {num(t["max_caller_share"])})
    SELECT NULL::BIGINT AS actor_id, route, NULL AS severity,
      bool_and(auth_state = 'unauthenticated') AS unauthorised,
      min(ts) AS first_seen, max(ts) AS last_seen, count(*) AS requests,
      count(DISTINCT record_id) FILTER (WHERE ok) AS records, sum(bytes_sent) AS bytes,
      NULL AS estimated_records, {RECORD_IDS_SQL} AS record_ids, {SAMPLE_SQL} AS sample,
      to_json({{'min_id': any_value(lo), 'max_id': any_value(hi), 'ids_walked': count(DISTINCT rid),
               'callers': count(DISTINCT actor_id), 'max_caller_share': round(any_value(max_caller_share), 3),
               'ips': count(DISTINCT client_ip), 'user_agents': count(DISTINCT user_agent),
               'unauthenticated_reads': count_if(auth_state = 'unauthenticated'),
               'unknown_auth_reads': count_if(auth_state = 'unknown'),
               'minutes': round((epoch(max(ts)) - epoch(min(ts))) / 60, 1)}}) AS metrics
    FROM hits GROUP BY route, segment"""


DETECTOR = Detector(
    id="distributed_walk",
    title="Distributed enumeration across callers (route-level)",
    severity="high",
    signals=("H11",),
    meaning=(
        "Many callers, none of them enough on its own, together read a run of consecutive record "
        "ids in increasing time order: one enumeration spread over rotating addresses and browser "
        "strings. The finding is about the endpoint; its callers are not linked into one actor."
    ),
    references=("API1:2023 Broken Object Level Authorization", "OAT-011 Scraping"),
    false_positives=(
        "A bulk import/export or partner job spread over many workers without authentication "
        "evidence (declare it with --trusted); a newly created batch of records read by many "
        "users as it is created (ids issued and read in order). Records are confirmed only when "
        "every read of the walk was unauthenticated."
    ),
    thresholds=(
        Threshold("min_ids", CROWD_MIN_IDS, "consecutive ids in one walk segment"),
        Threshold("min_callers", CROWD_MIN_SESSIONS, "different actors that first-read the segment's ids"),
        Threshold(
            "max_caller_share", CROWD_MAX_SHARE, "share of the segment's ids one actor may have first-read"
        ),
        Threshold("max_step", ENUM_MAX_ID_STEP, "id step between neighbours in a segment"),
        Threshold(
            "max_gap_minutes",
            CROWD_MAX_GAP.total_seconds() / 60,
            "time from one id's first read to the next id's",
        ),
    ),
    sql=sql,
)
