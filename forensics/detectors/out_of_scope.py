"""H2: an authenticated caller reading records outside its own set (BOLA by a logged-in user).

The *caller* is the logged principal (from either log, see twins.py), or the actor when only a
login shows it. Only record-bearing 2xx to authenticated requests on record endpoints count.

**With an ownership map** (``--ownership``, loaded by ownership.py into tables ``ownership`` and
``ownership_teams``) the judgement is exact: a read by a caller the map names (an owner or a team
member) is out of scope when neither the caller nor a team it belongs to owns the record — a
record the map does not list is owned by nobody it names, and the reason says which. Callers the
map does not name are not judged. Every finding's metrics say ``basis: ownership map``.

**Without one** (``basis: inferred from the logs``) a caller's own set is what it keeps coming
back to. Its *one-off* records — read on one UTC day only (clinicians re-open their own patients
on other days) — are of two kinds, each judged on its own:

* **others' records**: another caller read it too (its clinician, a colleague: a logged-in caller,
  or one whose login may continue — ROAMING, EXPIRED, RESUMED, NETWORK; never an unauthenticated one,
  whose enumeration would make every record someone's). Every caller has some (consults); an
  insider who browses colleagues' patients has many more;
* **records nobody else read**: every caller has some (its own patients seen once); an insider
  who opens strangers' records nobody works on has many more.

A caller's one-off records are listed when either rule holds:

* **steady excess** (low and slow) — over the whole case, per kind, the caller's one-off records
  per active day against its peers' (callers with at least ``min_days`` active days; at least
  ``min_peers`` of them; of those, only the callers that read such records at all when at least
  ``min_peers`` do — a clinician who consults is compared with the clinicians, not with
  administrators who never open a colleague's patient), both counted on the days no burst
  (below) explains: robust z of the
  rate against the peers' median/MAD (the spread floored at the Poisson spread of the median rate
  over the caller's days) at least ``min_rate_z``, at least ``min_ratio`` times the peers' median
  rate (an effect size: peers differ more than their MAD says — a bigger panel has more patients
  seen once), and at least ``min_excess`` records above what the peers' median rate predicts for
  its days. All its one-off records *of that kind* on those days are listed: the kind in excess
  is what the caller did differently, the other kind is its ordinary background.
* **burst day** (a spree) — a day with at least ``min_strangers`` one-off records and a robust
  z of at least ``min_z`` against all callers' days (median/MAD, MAD at least 1), of callers seen
  on at least ``min_history_days`` days (a caller seen on one day — a login session the logs cannot
  tie to a person — reads nothing but one-off records: that is no evidence). All that day's
  one-off records are listed, and the records the caller read on its burst days only (a spree of
  several days picks some records twice; its own patients it reads on other days too).

Each listed record carries its kind as the reason. The finding's ``expected_own_among_listed`` says
how many of the listed records the caller's ordinary rate predicts (its own patients seen once, its
consults): from the logs alone they cannot be told from the rest record by record.

Why not judge each read by whether the record's clinician worked on it nearby (a consult leaves
that trace)? Because an insider who browses the patients on the ward reads records their
clinicians work on every day: nearness explains the snoop away. The rate of others' records
against the peers' does not.

Not caught: an insider who re-reads the strangers' records on another day, or whose peers read as
many one-off records of the same kind; listed by mistake: the flagged caller's own one-off records
of the kind in excess (its consults, when it browses others' records) — the peers' median rate
estimates how many.
"""

from __future__ import annotations

from collections.abc import Mapping

from forensics.derive.auth import EXPIRED, NETWORK, RESUMED, ROAMING
from forensics.detectors.base import SAMPLE_SQL, Detector, Threshold, num
from forensics.store.db import sql_str

BASIS_MAP = "ownership map"
BASIS_INFERRED = "inferred from the logs"
REASON_NOBODY = "nobody else read it"
REASON_OTHERS = "others read it too, this caller on one day only"
REASON_SPREE = "read on burst days only (more than one)"
# unknown callers whose login may continue: they read a record as someone working on it would
CONTINUING = ", ".join(sql_str(ev) for ev in (ROAMING, EXPIRED, RESUMED, NETWORK))
KINDS = {"others": REASON_OTHERS, "nobody": REASON_NOBODY}  # kind of one-off record -> its reason
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


def _kind(callers: str) -> str:
    """SQL: the kind of a one-off record (a key of KINDS) from the count of callers that read it."""
    return f"CASE WHEN {callers} > 1 THEN 'others' ELSE 'nobody' END"


def _reason(kind: str) -> str:
    """SQL: the reason for a one-off record of kind ``kind`` (an SQL expression)."""
    return "CASE " + " ".join(f"WHEN {kind} = '{k}' THEN '{r}'" for k, r in KINDS.items()) + " END"


def _one_offs() -> str:
    """Per caller: the records it read on one day only, of either kind (inferred basis)."""
    return f"""
    rd AS (SELECT DISTINCT who, record_id, day FROM r, has_map WHERE NOT has_map.m),
    pr AS (SELECT who, record_id, min(day) AS day, count(*) AS days FROM rd GROUP BY ALL),
    readers AS (  -- who reads each record: logged-in callers, and callers whose login may continue
      SELECT record_id, count(DISTINCT coalesce('principal ' || principal, 'actor ' || actor_id)) AS callers
      FROM detect_requests
      WHERE record_route AND ok AND (auth_state = 'authenticated' OR auth_evidence IN ({CONTINUING}))
      GROUP BY record_id),
    one_off AS (
      SELECT p.who, p.record_id, p.day, {_kind("o.callers")} AS kind
      FROM pr p JOIN readers o USING (record_id) WHERE p.days = 1),
    reasoned AS (SELECT *, {_reason("kind")} AS reason FROM one_off)"""


def _rules(t: Mapping[str, float]) -> str:
    """Callers with a steady excess of one kind of one-off record, and callers' burst days."""
    kinds = ", ".join(f"('{k}')" for k in KINDS)
    return f"""
    storied AS (  -- callers seen on enough days to have a history: on one day, every record is a one-off
      SELECT who FROM rd GROUP BY who HAVING count(DISTINCT day) >= {num(t["min_history_days"])}),
    daily AS (  -- every caller-day of those, with its one-off records (0 when none)
      SELECT a.who, a.day, count(s.record_id) AS strangers
      FROM (SELECT DISTINCT who, day FROM rd SEMI JOIN storied USING (who)) a
      LEFT JOIN one_off s ON s.who = a.who AND s.day = a.day
      GROUP BY ALL),
    dmed AS (SELECT median(strangers) AS med FROM daily),
    dmad AS (SELECT any_value(med) AS med, greatest(1.4826 * median(abs(strangers - med)), 1) AS mad
             FROM daily, dmed),
    burst AS (
      SELECT d.who, d.day, d.strangers, (d.strangers - m.med) / m.mad AS z, m.med
      FROM daily d, dmad m
      WHERE d.strangers >= {num(t["min_strangers"])} AND (d.strangers - m.med) / m.mad >= {num(t["min_z"])}),
    spree AS (  -- records a caller read only on its burst days (one of them, or several)
      SELECT a.who, a.record_id, count(*) AS days FROM rd a LEFT JOIN burst b USING (who, day)
      GROUP BY ALL HAVING count(b.day) = count(*)),
    quiet AS (  -- the caller-days no burst explains
      SELECT DISTINCT who, day FROM rd a
      WHERE NOT EXISTS (SELECT 1 FROM burst b WHERE b.who = a.who AND b.day = a.day)),
    callers AS (  -- per caller and kind: its one-off records on those days
      SELECT a.who, k.kind, a.days, count(s.record_id) AS n
      FROM (SELECT who, count(*) AS days FROM quiet GROUP BY who) a
      CROSS JOIN (VALUES {kinds}) k(kind)
      LEFT JOIN (SELECT s.* FROM one_off s JOIN quiet USING (who, day)) s
        ON s.who = a.who AND s.kind = k.kind
      GROUP BY ALL),
    peers0 AS (SELECT *, n / days AS rate FROM callers WHERE days >= {num(t["min_days"])}),
    doers AS (  -- per kind: do at least min_peers callers read such records at all?
      SELECT kind, count_if(n > 0) >= {num(t["min_peers"])} AS enough FROM peers0 GROUP BY kind),
    peers AS (  -- the peers: the callers that read such records at all, when enough do; else all
      SELECT p.* FROM peers0 p JOIN doers d USING (kind) WHERE NOT d.enough OR p.n > 0),
    pmed AS (SELECT kind, median(rate) AS med, count(*) AS pop FROM peers GROUP BY kind),
    pmad AS (SELECT kind, any_value(m.med) AS med, any_value(m.pop) AS pop,
               1.4826 * median(abs(p.rate - m.med)) AS mad
             FROM peers p JOIN pmed m USING (kind) GROUP BY kind),
    steady AS (
      SELECT p.who, p.kind, p.n, p.days, p.rate, m.med, p.n - m.med * p.days AS excess,
        (p.rate - m.med) / greatest(m.mad, sqrt(greatest(m.med, 1.0 / p.days) / p.days)) AS z
      FROM peers p JOIN pmad m USING (kind) WHERE m.pop >= {num(t["min_peers"])}),
    steady_flag AS (
      SELECT * FROM steady WHERE z >= {num(t["min_rate_z"])} AND excess >= {num(t["min_excess"])}
        AND rate >= {num(t["min_ratio"])} * med),
    listed AS (  -- (who, record) listed, with the rule that listed it
      SELECT s.who, s.record_id, s.reason, 'steady excess' AS rule_
      FROM reasoned s JOIN steady_flag USING (who, kind) JOIN quiet USING (who, day)
      UNION ALL
      SELECT s.who, s.record_id,
        CASE WHEN s.days > 1 THEN '{REASON_SPREE}' ELSE {_reason(_kind("o.callers"))} END, 'burst day'
      FROM spree s JOIN readers o USING (record_id)),
    quiet_rate AS (  -- a caller's one-off records per day on its ordinary days (both kinds)
      SELECT who, sum(n) / any_value(days) AS rate FROM callers GROUP BY who),
    own AS (  -- how many of a caller's listed records its ordinary rate predicts: likely its own
      SELECT who, sum(e) AS expected FROM (
        SELECT b.who, coalesce(qr.rate, 0) AS e FROM burst b LEFT JOIN quiet_rate qr USING (who)
        UNION ALL SELECT who, n - excess FROM steady_flag) GROUP BY who),
    excess AS (  -- per flagged caller: the kinds in excess, for the finding's metrics
      SELECT who, list({{'records': CASE kind WHEN 'others' THEN 'others read them too'
                                  ELSE 'nobody else read them' END,
                         'per_active_day': round(rate, 3), 'peers_median_per_active_day': round(med, 3),
                         'active_days': days, 'excess_records': round(excess, 1), 'rate_z': round(z, 2),
                         'rate_ratio': round(rate / nullif(med, 0), 1)}} ORDER BY kind) AS kinds
      FROM steady_flag GROUP BY who),
    inferred_hits AS (
      SELECT r.*, '{BASIS_INFERRED}' AS basis, l.rule_, l.reason
      FROM r JOIN (SELECT who, record_id, min(reason) AS reason,  -- (deterministic: a record listed twice)
                     string_agg(DISTINCT rule_, ', ' ORDER BY rule_) AS rule_
                   FROM listed GROUP BY ALL) l USING (who, record_id))"""


def sql(t: Mapping[str, float]) -> str:
    return f"""
    WITH {_reads()}, {_map_hits()}, {_one_offs()}, {_rules(t)},
    bursts AS (  -- per caller: its burst days' largest count and z (joined, not a subquery per finding:
      SELECT who, max(strangers) AS strangers, round(max(z), 2) AS z  -- Spark takes no correlated
      FROM burst GROUP BY who),  -- subquery beside the aggregates)
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
    SELECT min(h.actor_id) AS actor_id, h.route, NULL AS severity, true AS unauthorised,
      min(h.ts) AS first_seen, max(h.ts) AS last_seen, count(*) AS requests,
      count(DISTINCT h.record_id) AS records, sum(h.bytes_sent) AS bytes, NULL AS estimated_records,
      list(DISTINCT h.record_id ORDER BY h.record_id) AS record_ids, {SAMPLE_SQL} AS sample,
      to_json({{'caller': h.who, 'basis': any_value(h.basis),
               'rules': list(DISTINCT h.rule_ ORDER BY h.rule_) FILTER (WHERE h.basis = '{BASIS_INFERRED}'),
               'days': count(DISTINCT date_trunc('day', h.ts)),
               'steady_excess': any_value(ex.kinds),
               'expected_own_among_listed': round(any_value(ow.expected), 1),
               'max_one_off_records_per_day': any_value(bz.strangers),
               'typical_one_off_records_per_day': (SELECT any_value(med) FROM dmed),
               'max_z': any_value(bz.z),
               'records_by_reason': any_value(w.by_reason)}}) AS metrics
    FROM hits h JOIN why w USING (who, route) LEFT JOIN excess ex USING (who) LEFT JOIN own ow USING (who)
      LEFT JOIN bursts bz USING (who)
    GROUP BY h.who, h.route"""


DETECTOR = Detector(
    id="out_of_scope",
    title="Authenticated reads outside the caller's own records",
    severity="high",
    signals=("H2", "H3"),
    meaning=(
        "A logged-in caller read records outside its own set: by the ownership map, or — inferred "
        "from the logs — records it opened once (others' records, or records nobody else read), "
        "many more of one kind than its peers over the whole case, or a burst of them in one day "
        "(broken object-level authorisation or insider misuse)."
    ),
    references=("API1:2023 Broken Object Level Authorization", "OAT-011 Scraping"),
    false_positives=(
        "Audit, triage or reporting roles that look at many records once; a one-off caseload "
        "review; a clinician whose patients are rarely seen twice. Compare with the roles the data "
        "owner knows, or give an ownership map (--ownership)."
    ),
    thresholds=(
        Threshold("min_days", 5, "active days a caller needs to be judged against its peers"),
        Threshold("min_peers", 5, "callers with min_days active days needed for the peer comparison"),
        Threshold(
            "min_rate_z",
            5,
            "robust z of a caller's one-off records of a kind per active day, against its peers'",
        ),
        Threshold(
            "min_excess", 10, "one-off records above the peers' median rate times the caller's active days"
        ),
        Threshold("min_ratio", 4, "the caller's rate of a kind as a multiple of the peers' median rate"),
        Threshold("min_strangers", 10, "one-off records read by the caller on one day (burst day)"),
        Threshold("min_history_days", 3, "active days a caller needs before any day of it is judged a burst"),
        Threshold("min_z", 5, "robust z of that day's count against all callers' days"),
    ),
    sql=sql,
)
