"""The assessment: everything a report shows, computed once (assess.py), rendered many ways.

``Assessment.document`` is the ``findings.json`` document (schema ``forensics.findings/2``,
documented in the README): plain JSON types only, ISO 8601 UTC times ('Z'), deterministic
ordering. The DataFrames are the material behind the report's plots and tables that is too big or
too raw for the JSON. Every string that came from a log (paths, user agents, principals, record
ids, raw lines) is untrusted: renderers escape it for their medium.

Document keys (all present; values may be null where noted):

* ``schema`` "forensics.findings/2"; ``tool`` {name, version}; ``case`` {path}
* ``parameters`` {endpoints [str], login [str], login_proposed [{route, successful}] (no --login
  on logs that name no user: the likely login endpoints), trusted [str], trusted_unmatched [str]
  (declared networks holding no client address), ownership {path, sha256, teams, teams_sha256,
  records, records_read, principals, principals_unseen, case_records_unlisted} | null (the
  --ownership map), out_of_scope_basis ("ownership map" | "inferred from the logs"),
  window_source ("given" | "proposed"),
  detect_options {...}, command str}
* ``window`` {start, end, source, evidence str (how it was established)}
* ``coverage`` {ratio 0..1, grade "A".."D", grade_reasons [str], gaps [{start, end}],
  covered_s, uncovered_s, fields {source path: {field: share}}}
* ``events`` {total, rejected, in_window, to_endpoints_in_window}
* ``sources`` [{path, sha256, sha256_verified (bool|null: file gone), format, events, rejected,
  duplicate_of (path|null), warnings [str], first_ts, last_ts}]
* ``verdict`` one of VERDICTS; ``verdict_text`` one plain-language sentence;
  ``reasoning`` [str]; ``alternatives`` [str] (alternative explanations considered)
* ``records`` {confirmed int, probable int, at_risk int|null, estimated_bulk int,
  id_range {min, max}|null, at_risk_basis str}
* ``requests`` {to_endpoints int, unauthorised int (requests that delivered a confirmed record),
  probable int (requests that delivered a probable one), auth_unknown int (requests to the
  endpoints in the window whose authentication the logs cannot judge), auth_ambiguous int (those
  whose caller behind a shared address cannot be told apart: never confirmed)}
* ``actor_counts`` {listed, with_findings, unauthorised, with_confirmed_records,
  with_probable_records, with_estimated_records, with_only_estimated_records} (ints, from the
  window's findings and affected_records.csv; the verdict names ``with_confirmed_records`` of the
  ``unauthorised``, then ``with_only_estimated_records``: those with bulk responses and no
  confirmed record, then the rest)
* ``actors`` [{id, ips [str], user_agents [str], principals [str], classification, class_reason,
  auth_evidence [str] (the reasons of its
  requests' authentication states), unauthorised bool (a finding in the window shows it),
  unauthorised_by [finding id], requests,
  endpoint_requests, records, confirmed_records, probable_records, estimated_records|null, bytes,
  first_seen, last_seen, detectors [str], link_reasons [str] (why its sessions are one actor),
  hosting [str] (hosting providers of its addresses)}]
  (actors that reached the endpoints in the window or
  have findings in it, unauthorised first; in the window: requests/bytes every request of the
  actor, endpoint_requests those to the endpoints, records distinct ids received there,
  confirmed/probable_records its rows of affected_records.csv, estimated_records its share of
  records.estimated_bulk; first/last_seen over all logs)
* ``findings`` [{id, detector, title, severity, actor (id|null), route, first_seen, last_seen,
  count (requests), records, estimated_records|null, unauthorised bool (this finding shows it),
  evidence {caller str|null (its requests' authentication states, reasons and counts),
  ambiguous_requests int, caveat str|null (why it shows no unauthorised caller despite its
  detector: ambiguous requests), metrics {...}, sample [{path, line_no}], thresholds {...}}}]
* ``listed`` {max, actors_total, findings_total}: ``actors`` and ``findings`` list at most
  ``max`` entries each (most severe first); the case keeps them all
* ``bounds`` {applies bool, statement str, covered_s, uncovered_s, expected_max|null,
  p_any_max|null}: the zero-event bound applies only without a qualifying event (verdict not in
  EVENT_VERDICTS); otherwise the statement says it does not and the numbers are null
* ``regulatory`` {gdpr_art33_3 {nature, categories_and_numbers, consequences, measures} (str
  each), hipaa_four_factors {nature_and_extent, unauthorised_person, acquired_or_viewed,
  mitigation} (str each)}
* ``limitations`` [str]
* ``reproduce`` {command str, tool_version str, sql {number name: SQL text}}
* ``pseudonymisation`` null, or in a pseudonymised (shareable) report {algorithm,
  key_fingerprint, kinds {prefix: meaning}, scope}: record ids, IP addresses and principals
  are then pseudonyms ``rec_…``/``ip_…``/``user_…`` (strings, also ``records.id_range`` and
  the findings' ``min_id``/``max_id`` metrics), see pseudonymise.py
* ``sigma`` null before ``forensics sigma`` ran on the case, else {loaded, run, skipped int,
  rule_files [{path, sha256}], versions {distribution: version}, keyword_lines_read int,
  skipped_rules [{path, rule_id|null, title|null, reason}]}: the rule files and pySigma version
  that repeat the run; the findings of detector ``sigma`` carry their rule in ``metrics``
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

import pandas as pd

from forensics.assess.document import SCHEMA as SCHEMA
from forensics.assess.document import FindingsDocument
from forensics.store.printable import printable
from forensics.store.reprs import html_table

# "cannot_tell": the window's coverage is too poor to judge (no event in it, grade D, or less than
# assess.CANNOT_TELL_RATIO covered) and nothing was found — never "no_evidence" or "excluded" then.
VERDICTS = ("cannot_tell", "excluded", "no_evidence", "possible", "likely", "confirmed")
# Verdicts that rest on observed qualifying events: the zero-event bound does not apply to them.
EVENT_VERDICTS = ("possible", "likely", "confirmed")
STATUS_CLASSES = ("2xx", "3xx", "401/403", "404", "other 4xx", "5xx")


@dataclass(repr=False)  # the frames would print whole
class Assessment:
    document: dict[str, Any]
    # per source and UTC day, events (whole logged period): source (path), day (UTC midnight), events
    daily_volume: pd.DataFrame = field(default_factory=pd.DataFrame)
    # requests to the endpoints per UTC day: route, day, status_class (STATUS_CLASSES),
    # auth_state ('authenticated' | 'trusted' | 'unauthenticated' | 'unknown'), requests
    endpoint_daily: pd.DataFrame = field(default_factory=pd.DataFrame)
    # record reads in the window by the top actors: actor_id, label (str), ts, record_id (str),
    # y (float: the integer id, else the id's rank), unauthorised (bool: the actor's status, as in
    # the actors table), basis ('confirmed' | 'probable' | None: the read delivered a record of
    # affected_records.csv on that basis)
    scatter: pd.DataFrame = field(default_factory=pd.DataFrame)
    # response sizes on the endpoints (a sample): route, status_class, bytes
    response_sizes: pd.DataFrame = field(default_factory=pd.DataFrame)
    # finding id -> raw evidence lines [{path, line_no, line}] (untrusted text)
    excerpts: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    # findings.json's text once made (publish.machine.findings_json): the report names its SHA-256
    # in each page it builds; serialising the document again each time took 2 s of the five at 10M
    # events. (A copy made by dataclasses.replace, as pseudonymisation's, starts without it.)
    json_text: str | None = field(default=None, init=False, repr=False, compare=False)
    # the token of the window tables made for it on a connection (compute.make_window_tables):
    # a writer finding them there, unreplaced, does not make them again (window_tables.rebuild)
    window_tables: str | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def doc(self) -> FindingsDocument:
        """``document`` typed (assess/document.py): mypy checks every key a reader uses."""
        return cast(FindingsDocument, self.document)

    def _facts(self) -> list[tuple[str, str]]:
        doc = self.document
        get = doc.get
        window, cov, rec = get("window") or {}, get("coverage") or {}, get("records") or {}
        ratio = cov.get("ratio")
        at_risk = rec.get("at_risk")
        counts = get("actor_counts") or {}
        return [
            ("verdict", f"{get('verdict')}: {get('verdict_text') or ''}".strip()),
            ("window (UTC)", f"{window.get('start') or '?'} to {window.get('end') or '?'}"),
            (
                "coverage",
                f"grade {cov.get('grade', '?')}, "
                + (f"{100 * float(ratio):.1f}% of the window with logs" if ratio is not None else "unknown"),
            ),
            (
                "records",
                f"{int(rec.get('confirmed') or 0):,} confirmed, {int(rec.get('probable') or 0):,} probable, "
                + (f"{int(at_risk):,} at risk" if at_risk is not None else "at risk unknown"),
            ),
            ("unauthorised actors", f"{int(counts.get('unauthorised') or 0):,}"),
            ("findings", f"{int((get('listed') or {}).get('findings_total', len(get('findings') or []))):,}"),
        ]

    def __repr__(self) -> str:
        facts = dict(self._facts())
        return printable(
            f"<Assessment {facts['verdict']} | {facts['records']} | window {facts['window (UTC)']} | "
            f"coverage {facts['coverage']}>"
        )

    def _repr_html_(self) -> str:
        """The answer in a notebook: verdict, window, coverage, records; every value escaped."""
        return html_table("Assessment", self._facts())
