"""H9 by community rules: requests matching a Sigma webserver rule (``forensics sigma``).

One finding per actor, route and rule, from ``sigma_matches`` (left by ``forensics sigma``; empty
otherwise, so this detector then finds nothing). Severity is the rule's level (critical/high ->
high, medium, low, informational -> info), or ``high`` when the matched requests themselves got
records back (record-bearing 2xx on a record endpoint): the exploit attempt answered "did it
get data?". Records are counted only then — the record ids the same actor received in the
matched requests — so rule hits never inflate record counts (as the scanner detector). Requests
from trusted networks are left out (an authorised test), as the scanner detector does.

The rule's metadata (id, title, level, ATT&CK tags, false-positive notes, file and SHA-256) is in
the finding's metrics, from table ``sigma_rules``.
"""

from __future__ import annotations

from collections.abc import Mapping

from forensics.detectors.base import SAMPLE_SQL, Detector, Threshold, num


def sql(t: Mapping[str, float]) -> str:
    return f"""
    WITH r AS (
      SELECT d.*, m.rule_key FROM detect_requests d
      JOIN (SELECT DISTINCT source_id, line_no, rule_key FROM sigma_matches) m USING (source_id, line_no)
      WHERE d.auth_state <> 'trusted')
    SELECT r.actor_id, r.route,
      CASE WHEN count_if(record_route AND ok) > 0 THEN 'high' ELSE any_value(s.severity) END AS severity,
      false AS unauthorised, min(ts) AS first_seen, max(ts) AS last_seen, count(*) AS requests,
      count(DISTINCT record_id) FILTER (WHERE record_route AND ok) AS records, sum(bytes_sent) AS bytes,
      NULL AS estimated_records,
      coalesce(list(DISTINCT record_id ORDER BY record_id) FILTER (WHERE record_route AND ok), [])
        AS record_ids, {SAMPLE_SQL} AS sample,
      to_json({{'rule_key': r.rule_key, 'rule_id': any_value(s.rule_id), 'title': any_value(s.title),
               'level': any_value(s.level), 'tags': any_value(s.tags),
               'falsepositives': any_value(s.falsepositives), 'rule_path': any_value(s.path),
               'rule_sha256': any_value(s.sha256), 'record_hits': count_if(record_route AND ok),
               'ips': count(DISTINCT client_ip)}}) AS metrics
    FROM r JOIN sigma_rules s ON s.rule_key = r.rule_key AND s.status = 'run'
    GROUP BY r.actor_id, r.route, r.rule_key
    HAVING count(*) >= {num(t["min_requests"])}"""


DETECTOR = Detector(
    id="sigma",
    title="Sigma webserver rule matches",
    severity="medium",
    signals=("H9",),
    meaning=(
        "Requests matching a community detection rule (Sigma, run with forensics sigma): known exploit "
        "attempts. Noise on an internet-facing API unless they got records back."
    ),
    references=("API8:2023 Security Misconfiguration", "OAT-014 Vulnerability Scanning"),
    false_positives="Each rule's own falsepositives notes (in the finding); an authorised test (--trusted).",
    thresholds=(Threshold("min_requests", 1, "matched requests an actor needs on a route for a finding"),),
    sql=sql,
)
