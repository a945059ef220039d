"""H2: an authenticated caller reading records outside its own set (BOLA by a logged-in user).

Without an ownership map, a caller's own set is its history: the records it read before. Per
caller (the logged principal, or the actor when only a login shows it) and UTC day, count the
records it read that day for the first time ever. A day is out of scope when that count is at
least ``min_new_records`` and far above the caller's own typical day (median + ``min_z`` x
1.4826·MAD, with MAD at least 1): clinicians take on a few new patients a day; an insider
reading a hundred strangers' referrals does not look like that. The caller's first
``learning_days`` active days only build the history (everything is new then).
Records in the finding are the ones first read on the flagged days.
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
    first_read AS (SELECT who, record_id, min(day) AS day FROM r GROUP BY ALL),
    daily AS (
      SELECT who, day, count(*) AS new_records FROM first_read GROUP BY ALL),
    series AS (
      SELECT a.who, a.day, coalesce(d.new_records, 0) AS n,
        row_number() OVER (PARTITION BY a.who ORDER BY a.day) AS k
      FROM (SELECT DISTINCT who, day FROM r) a LEFT JOIN daily d USING (who, day)),
    med AS (
      SELECT who, median(n) AS med FROM series WHERE k > {num(t["learning_days"])} GROUP BY who),
    mad AS (
      SELECT who, any_value(med) AS med, greatest(1.4826 * median(abs(n - med)), 1) AS mad
      FROM series JOIN med USING (who) WHERE k > {num(t["learning_days"])} GROUP BY who),
    flagged AS (
      SELECT s.who, s.day, s.n, (s.n - m.med) / m.mad AS z, m.med
      FROM series s JOIN mad m USING (who)
      WHERE s.k > {num(t["learning_days"])} AND s.n >= {num(t["min_new_records"])}
        AND (s.n - m.med) / m.mad >= {num(t["min_z"])}),
    hits AS (
      SELECT r.*, f.z, f.med, f.n AS day_new FROM r
      JOIN first_read fr USING (who, record_id) JOIN flagged f ON f.who = r.who AND f.day = fr.day
      WHERE r.day = fr.day)
    SELECT any_value(actor_id) AS actor_id, route, NULL AS severity, true AS unauthorised,
      min(ts) AS first_seen, max(ts) AS last_seen, count(*) AS requests,
      count(DISTINCT record_id) AS records, sum(bytes_sent) AS bytes, NULL AS estimated_records,
      list(DISTINCT record_id ORDER BY record_id) AS record_ids, {SAMPLE_SQL} AS sample,
      to_json({{'caller': any_value(who), 'days': count(DISTINCT day),
               'max_new_records_per_day': max(day_new), 'typical_new_records_per_day': any_value(med),
               'max_z': round(max(z), 2)}}) AS metrics
    FROM hits GROUP BY who, route"""


DETECTOR = Detector(
    id="out_of_scope",
    title="Authenticated reads outside the caller's own records",
    severity="high",
    signals=("H2", "H3"),
    meaning=(
        "A logged-in caller read, on one day, far more records it had never read before than "
        "it ever does: records outside its own set (broken object-level authorisation or "
        "insider misuse)."
    ),
    references=("API1:2023 Broken Object Level Authorization", "OAT-011 Scraping"),
    false_positives=(
        "A reassignment of patients or a caseload hand-over; a reporting or audit role; the "
        "first days of a caller whose history starts in the logs (see learning_days)."
    ),
    thresholds=(
        Threshold("learning_days", 7, "first active days per caller used only to build its history"),
        Threshold("min_new_records", 20, "never-before-read records on one day to consider the day"),
        Threshold("min_z", 5, "robust z of that count against the caller's own days"),
    ),
    sql=sql,
)
