"""H2: an authenticated caller reading records outside its own set (BOLA by a logged-in user).

Without an ownership map, a caller's own set is what it keeps coming back to: clinicians re-open
their patients' referrals on other days; an insider browsing strangers' records opens each once.
Per caller (the logged principal — from either log, see twins.py — or the actor when only a
login shows it) and UTC day, ``strangers`` counts the records the caller read that day and on no
other day. A day is out of scope when it has at least ``min_strangers`` of them and a robust z
of at least ``min_z`` against all callers' days (median/MAD, MAD at least 1): far more one-off
records than anyone's normal day. Records in the finding are those one-off records.
Not caught: an insider who re-reads the strangers' records on another day, or whose normal days
already look like that.
"""

from __future__ import annotations

from collections.abc import Mapping

from forensics.detectors.base import SAMPLE_SQL, Detector, Threshold, num


def sql(t: Mapping[str, float]) -> str:
    return f"""
    WITH r AS (
      SELECT *, coalesce('principal ' || principal, 'actor ' || actor_id) AS who,
        date_trunc('day', ts) AS day
      FROM detect_requests WHERE record_route AND ok AND auth_state = 'authenticated'),
    per_record AS (
      SELECT who, record_id, min(day) AS day, count(DISTINCT day) AS days FROM r GROUP BY ALL),
    daily AS (  -- every caller-day, with its one-off records (0 when none)
      SELECT a.who, a.day, count(p.record_id) AS strangers
      FROM (SELECT DISTINCT who, day FROM r) a
      LEFT JOIN per_record p ON p.who = a.who AND p.day = a.day AND p.days = 1
      GROUP BY ALL),
    med AS (SELECT median(strangers) AS med FROM daily),
    mad AS (SELECT any_value(med) AS med, greatest(1.4826 * median(abs(strangers - med)), 1) AS mad
            FROM daily, med),
    flagged AS (
      SELECT d.who, d.day, d.strangers, (d.strangers - m.med) / m.mad AS z, m.med
      FROM daily d, mad m
      WHERE d.strangers >= {num(t["min_strangers"])} AND (d.strangers - m.med) / m.mad >= {num(t["min_z"])}),
    hits AS (
      SELECT r.*, f.z, f.med, f.strangers FROM r
      JOIN per_record p ON p.who = r.who AND p.record_id = r.record_id AND p.days = 1
      JOIN flagged f ON f.who = r.who AND f.day = r.day)
    SELECT any_value(actor_id) AS actor_id, route, NULL AS severity, true AS unauthorised,
      min(ts) AS first_seen, max(ts) AS last_seen, count(*) AS requests,
      count(DISTINCT record_id) AS records, sum(bytes_sent) AS bytes, NULL AS estimated_records,
      list(DISTINCT record_id ORDER BY record_id) AS record_ids, {SAMPLE_SQL} AS sample,
      to_json({{'caller': any_value(who), 'days': count(DISTINCT day),
               'max_one_off_records_per_day': max(strangers),
               'typical_one_off_records_per_day': any_value(med), 'max_z': round(max(z), 2)}}) AS metrics
    FROM hits GROUP BY who, route"""


DETECTOR = Detector(
    id="out_of_scope",
    title="Authenticated reads outside the caller's own records",
    severity="high",
    signals=("H2", "H3"),
    meaning=(
        "A logged-in caller opened, on one day, many records it never came back to — far more "
        "than anyone's normal day: records outside its own set (broken object-level "
        "authorisation or insider misuse)."
    ),
    references=("API1:2023 Broken Object Level Authorization", "OAT-011 Scraping"),
    false_positives=(
        "Audit, triage or reporting roles that look at many records once; a one-off caseload "
        "review. Compare with the roles the data owner knows."
    ),
    thresholds=(
        Threshold("min_strangers", 10, "records read that day and on no other day by the caller"),
        Threshold("min_z", 5, "robust z of that count against all callers' days"),
    ),
    sql=sql,
)
