"""What a detector is: metadata a report can print, named thresholds, and one SQL query.

A detector's SQL reads table ``detect_requests`` (one row per event, see ``facts.py``) and
returns one row per finding with exactly ``FINDING_COLUMNS``. Thresholds are named numbers
with defaults; the SQL is built from them (never from log content), and both are stored with
the findings so every number in a report can be reproduced.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

SEVERITIES = ("high", "medium", "low", "info")

# Columns (and DuckDB types) every detector query returns, in this order.
FINDING_COLUMNS: dict[str, str] = {
    "actor_id": "BIGINT",  # NULL for findings about an endpoint rather than a caller
    "route": "VARCHAR",
    "severity": "VARCHAR",  # NULL: the detector's default
    "unauthorised": "BOOLEAN",  # the finding shows the caller was not entitled to what it got
    "first_seen": "TIMESTAMPTZ",
    "last_seen": "TIMESTAMPTZ",
    "requests": "BIGINT",
    "records": "BIGINT",  # distinct record ids the finding is about
    "bytes": "BIGINT",
    "estimated_records": "BIGINT",  # records inside bulk responses (ids not logged); else NULL
    "record_ids": "VARCHAR[]",  # record ids received (2xx) in the finding's requests
    "sample": "STRUCT(ts TIMESTAMPTZ, source_id INTEGER, line_no BIGINT)[]",
    "metrics": "JSON",  # the detector's own numbers (rates, shares, z-scores, ...)
}

# Snippets detector SQL shares (over detect_requests columns).
SAMPLE_SIZE = 5
# The first requests in time (the same list as ``min(struct, n)``, whose top-n state next to the
# DISTINCT aggregates ran DuckDB out of memory at 140k groups of 10M requests; a sorted list spills,
# but beside the scanner's other aggregates did not fit 3 GB at 10M: it takes them by a window)
SAMPLE_STRUCT = "{'ts': ts, 'source_id': source_id, 'line_no': line_no}"  # sorts as ts, source_id, line_no
SAMPLE_SQL = f"list({SAMPLE_STRUCT} ORDER BY ts, source_id, line_no)[1:{SAMPLE_SIZE}]"
RECORD_IDS_SQL = (
    "coalesce(list(DISTINCT record_id ORDER BY record_id) FILTER (WHERE ok AND record_id IS NOT NULL), [])"
)


@dataclass(frozen=True)
class Threshold:
    name: str
    default: float
    meaning: str


@dataclass(frozen=True)
class Detector:
    id: str
    title: str
    severity: str  # default severity of its findings
    signals: tuple[str, ...]  # METHOD.md signal ids (H1..H13)
    meaning: str  # what a finding means, in a sentence a report can print
    references: tuple[str, ...]  # OWASP API Security 2023 / OWASP automated threats ids
    false_positives: str  # known benign causes
    thresholds: tuple[Threshold, ...]
    sql: Callable[[Mapping[str, float]], str]  # thresholds -> query returning FINDING_COLUMNS

    def settings(self, overrides: Mapping[str, float] | None = None) -> dict[str, float]:
        """Threshold values: defaults, with ``overrides`` for the names this detector has."""
        values = {t.name: t.default for t in self.thresholds}
        for name, value in (overrides or {}).items():
            if name not in values:
                raise KeyError(name)
            values[name] = value
        return values


def num(value: float) -> str:
    """A threshold as SQL literal (ints stay ints)."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))
