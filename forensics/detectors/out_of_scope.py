"""H2: an authenticated caller reading records outside its own set (BOLA by a logged-in user).

The *caller* is the logged principal (from either log, see twins.py), or the actor when only a
login shows it. Only record-bearing 2xx to authenticated requests on record endpoints count.

**With an ownership map** (``--ownership``, loaded by ownership.py into tables ``ownership`` and
``ownership_teams``) the judgement is exact: a read by a caller the map names (an owner or a team
member) is out of scope when neither the caller nor a team it belongs to owns the record — a
record the map does not list is owned by nobody it names, and the reason says which. Callers the
map does not name are not judged. Every finding's metrics say ``basis: ownership map``.

**Without one** (``basis: inferred from the logs``) a caller's own set is what it keeps coming
back to. A record is a *stranger* to a caller when

1. the caller read it on one UTC day only (a *one-off*: clinicians re-open their own patients
   on other days), and
2. no *returning reader* — another caller who read it on at least two days — read it within
   ``consult_days`` days of that day. A consult leaves that trace: the patient's own clinician
   works on the record around the time a colleague is asked to look at it. Several callers
   who each open a record once (a celebrity's record snooped by many) do not make it anyone's.

Each stranger carries its reason: ``nobody else read it`` or ``others read it, no returning
reader within N days``. A caller's strangers are listed when either rule holds:

* **steady excess** (low and slow) — over the whole case, the caller's strangers per active day
  against its peers' (callers with at least ``min_days`` active days; at least ``min_peers`` of
  them), both counted on the days no burst (below) explains: robust z of the rate against the
  peers' median/MAD (the spread floored at the Poisson spread of the median rate over the
  caller's days) at least ``min_rate_z``, at least ``min_ratio`` times the peers' median rate
  (an effect size: peers differ more than their MAD says — a bigger panel has more patients seen
  once), and at least ``min_excess`` strangers above what the peers' median rate predicts for its
  days. All its strangers on those days are listed.
* **burst day** (a spree) — a day with at least ``min_strangers`` one-off records and a robust
  z of at least ``min_z`` against all callers' days (median/MAD, MAD at least 1). All that day's
  one-off records are listed, also those a returning reader came near: dozens of records never
  opened again are their own evidence, and a colleague's patient snooped on a day its clinician
  worked on it is still snooped (the reason says which they are).

Not caught: an insider who re-reads the strangers' records on another day, whose strangers' own
clinicians happen to work on them within a day, or whose peers read as many strangers; listed
by mistake: the flagged caller's own patients read once and consults no returning reader
touched within the days (the peers' median rate estimates how many).
"""

from __future__ import annotations

from collections.abc import Mapping

from forensics.detectors.base import SAMPLE_SQL, Detector, Threshold, num

BASIS_MAP = "ownership map"
BASIS_INFERRED = "inferred from the logs"
REASON_NOBODY = "nobody else read it"
REASON_NOT_NEAR = "others read it, no returning reader within {days} day(s)"
REASON_BURST_NEAR = "one-off record of a burst day (a returning reader read it within {days} day(s))"
REASON_NOT_OWNED = "owned by others, not by the caller or its team (ownership map)"
REASON_UNLISTED = "not in the ownership map: owned by nobody it names"


def _reads() -> str:
    return """
    r AS (
      SELECT *, coalesce('principal ' || principal, 'actor ' || actor_id) AS who,
        date_trunc('day', ts) AS day
      FROM detect_requests WHERE record_route AND ok AND auth_state = 'authenticated'),
    has_map AS (SELECT count(*) > 0 AS m FROM ownership)"""


def _map_hits() -> str:
    """Reads judged by the ownership map: known caller, listed record, not the caller's or its team's."""
    return f"""
    known AS (
      SELECT owner AS principal FROM ownership UNION SELECT principal FROM ownership_teams),
    mine AS (  -- (principal, record) pairs the map entitles
      SELECT o.owner AS principal, o.record_id FROM ownership o
      UNION SELECT t.principal, o.record_id FROM ownership o JOIN ownership_teams t ON t.team = o.owner),
    judged AS (SELECT r.* FROM r, has_map WHERE has_map.m AND r.principal IN (SELECT principal FROM known)),
    map_hits AS (
      SELECT j.*, '{BASIS_MAP}' AS basis, NULL AS rule_,
        CASE WHEN j.record_id IN (SELECT record_id FROM ownership) THEN '{REASON_NOT_OWNED}'
             ELSE '{REASON_UNLISTED}' END AS reason
      FROM judged j
      WHERE NOT EXISTS (
        SELECT 1 FROM mine m WHERE m.principal = j.principal AND m.record_id = j.record_id))"""


def _strangers(t: Mapping[str, float]) -> str:
    """Per caller and record: one-off reads, and the strangers among them (inferred basis)."""
    days = num(t["consult_days"])
    return f"""
    rd AS (SELECT DISTINCT who, record_id, day FROM r, has_map WHERE NOT has_map.m),
    pr AS (SELECT who, record_id, min(day) AS day, count(*) AS days FROM rd GROUP BY ALL),
    back AS (SELECT rd.* FROM rd JOIN pr USING (who, record_id) WHERE pr.days >= 2),
    others AS (SELECT record_id, count(DISTINCT who) AS callers FROM rd GROUP BY record_id),
    one_off AS (
      SELECT p.who, p.record_id, p.day, o.callers, EXISTS (
          SELECT 1 FROM back x WHERE x.record_id = p.record_id AND x.who <> p.who
            AND x.day BETWEEN p.day - INTERVAL '{days} days' AND p.day + INTERVAL '{days} days') AS near
      FROM pr p JOIN others o USING (record_id) WHERE p.days = 1),
    reasoned AS (
      SELECT *, CASE WHEN near THEN '{REASON_BURST_NEAR.format(days=days)}'
                     WHEN callers = 1 THEN '{REASON_NOBODY}'
                     ELSE '{REASON_NOT_NEAR.format(days=days)}' END AS reason
      FROM one_off),
    stranger AS (SELECT * FROM reasoned WHERE NOT near)"""


def _rules(t: Mapping[str, float]) -> str:
    """Callers with a steady excess of strangers, and callers' burst days."""
    return f"""
    daily AS (  -- every caller-day, with its one-off records (0 when none)
      SELECT a.who, a.day, count(s.record_id) AS strangers
      FROM (SELECT DISTINCT who, day FROM rd) a
      LEFT JOIN one_off s ON s.who = a.who AND s.day = a.day
      GROUP BY ALL),
    dmed AS (SELECT median(strangers) AS med FROM daily),
    dmad AS (SELECT any_value(med) AS med, greatest(1.4826 * median(abs(strangers - med)), 1) AS mad
             FROM daily, dmed),
    burst AS (
      SELECT d.who, d.day, d.strangers, (d.strangers - m.med) / m.mad AS z, m.med
      FROM daily d, dmad m
      WHERE d.strangers >= {num(t["min_strangers"])} AND (d.strangers - m.med) / m.mad >= {num(t["min_z"])}),
    callers AS (  -- the days no burst explains, and their strangers
      SELECT a.who, count(DISTINCT a.day) AS days,
        (SELECT count(*) FROM stranger s WHERE s.who = a.who
           AND NOT EXISTS (SELECT 1 FROM burst b WHERE b.who = s.who AND b.day = s.day)) AS n
      FROM rd a WHERE NOT EXISTS (SELECT 1 FROM burst b WHERE b.who = a.who AND b.day = a.day)
      GROUP BY a.who),
    peers AS (SELECT * , n / days AS rate FROM callers WHERE days >= {num(t["min_days"])}),
    pmed AS (SELECT median(rate) AS med, count(*) AS pop FROM peers),
    pmad AS (SELECT any_value(med) AS med, any_value(pop) AS pop, 1.4826 * median(abs(rate - med)) AS mad
             FROM peers, pmed),
    steady AS (
      SELECT p.who, p.n, p.days, p.rate, m.med, p.n - m.med * p.days AS excess,
        (p.rate - m.med) / greatest(m.mad, sqrt(greatest(m.med, 1.0 / p.days) / p.days)) AS z
      FROM peers p, pmad m WHERE m.pop >= {num(t["min_peers"])}),
    steady_flag AS (
      SELECT * FROM steady WHERE z >= {num(t["min_rate_z"])} AND excess >= {num(t["min_excess"])}
        AND rate >= {num(t["min_ratio"])} * med),
    listed AS (  -- (who, record) listed, with the rule that listed it
      SELECT s.who, s.record_id, s.reason, 'steady excess' AS rule_
      FROM stranger s JOIN steady_flag USING (who)
      WHERE NOT EXISTS (SELECT 1 FROM burst b WHERE b.who = s.who AND b.day = s.day)
      UNION ALL
      SELECT s.who, s.record_id, s.reason, 'burst day' FROM reasoned s JOIN burst b USING (who, day)),
    inferred_hits AS (
      SELECT r.*, '{BASIS_INFERRED}' AS basis, l.rule_, l.reason
      FROM r JOIN (SELECT who, record_id, any_value(reason) AS reason,
                     string_agg(DISTINCT rule_, ', ' ORDER BY rule_) AS rule_
                   FROM listed GROUP BY ALL) l USING (who, record_id))"""


def sql(t: Mapping[str, float]) -> str:
    return f"""
    WITH {_reads()}, {_map_hits()}, {_strangers(t)}, {_rules(t)},
    hits AS (
      SELECT who, actor_id, route, ts, source_id, line_no, record_id, bytes_sent, basis, rule_, reason
      FROM map_hits
      UNION ALL
      SELECT who, actor_id, route, ts, source_id, line_no, record_id, bytes_sent, basis, rule_, reason
      FROM inferred_hits),
    why AS (  -- per finding: the records listed for each reason
      SELECT who, route, map_from_entries(list({{'k': reason, 'v': ids}} ORDER BY reason)) AS by_reason
      FROM (SELECT who, route, reason, list(DISTINCT record_id ORDER BY record_id) AS ids
            FROM hits GROUP BY ALL)
      GROUP BY ALL)
    SELECT any_value(h.actor_id) AS actor_id, h.route, NULL AS severity, true AS unauthorised,
      min(h.ts) AS first_seen, max(h.ts) AS last_seen, count(*) AS requests,
      count(DISTINCT h.record_id) AS records, sum(h.bytes_sent) AS bytes, NULL AS estimated_records,
      list(DISTINCT h.record_id ORDER BY h.record_id) AS record_ids, {SAMPLE_SQL} AS sample,
      to_json({{'caller': h.who, 'basis': any_value(h.basis),
               'rules': list(DISTINCT h.rule_ ORDER BY h.rule_) FILTER (WHERE h.basis = '{BASIS_INFERRED}'),
               'days': count(DISTINCT date_trunc('day', h.ts)),
               'strangers_per_active_day': round(any_value(sf.rate), 3),
               'peers_median_per_active_day': round(any_value(sf.med), 3),
               'active_days': any_value(sf.days), 'excess_records': round(any_value(sf.excess), 1),
               'rate_z': round(any_value(sf.z), 2),
               'rate_ratio': round(any_value(sf.rate) / nullif(any_value(sf.med), 0), 1),
               'max_one_off_records_per_day': (SELECT max(b.strangers) FROM burst b WHERE b.who = h.who),
               'typical_one_off_records_per_day': (SELECT any_value(med) FROM dmed),
               'max_z': (SELECT round(max(b.z), 2) FROM burst b WHERE b.who = h.who),
               'records_by_reason': any_value(w.by_reason)}}) AS metrics
    FROM hits h JOIN why w USING (who, route) LEFT JOIN steady_flag sf USING (who)
    GROUP BY h.who, h.route"""


DETECTOR = Detector(
    id="out_of_scope",
    title="Authenticated reads outside the caller's own records",
    severity="high",
    signals=("H2", "H3"),
    meaning=(
        "A logged-in caller read records outside its own set: by the ownership map, or — inferred "
        "from the logs — records it opened once that nobody working on them came near, many more "
        "than its peers over the whole case, or a burst of them in one day (broken object-level "
        "authorisation or insider misuse)."
    ),
    references=("API1:2023 Broken Object Level Authorization", "OAT-011 Scraping"),
    false_positives=(
        "Audit, triage or reporting roles that look at many records once; a one-off caseload "
        "review; a clinician whose patients are rarely seen twice. Compare with the roles the data "
        "owner knows, or give an ownership map (--ownership)."
    ),
    thresholds=(
        Threshold(
            "consult_days", 1, "days around a one-off read within which a returning reader makes it a consult"
        ),
        Threshold("min_days", 5, "active days a caller needs to be judged against its peers"),
        Threshold("min_peers", 5, "callers with min_days active days needed for the peer comparison"),
        Threshold("min_rate_z", 5, "robust z of a caller's strangers per active day against its peers'"),
        Threshold("min_excess", 10, "strangers above the peers' median rate times the caller's active days"),
        Threshold("min_ratio", 4, "the caller's strangers per active day as a multiple of the peers' median"),
        Threshold("min_strangers", 10, "one-off records read by the caller on one day (burst day)"),
        Threshold("min_z", 5, "robust z of that day's count against all callers' days"),
    ),
    sql=sql,
)
