"""The tables a Sigma run leaves in the case (empty until ``forensics sigma`` runs).

* ``sigma_rules`` — one row per rule loaded: run or skipped (with the reason), its metadata,
  file and SHA-256, the SQL it ran as and its matches;
* ``sigma_matches`` — one row per (event, rule) that matched, by (source_id, line_no).

The detector ``sigma`` and actor classification read them on every detection run, so the
tables exist (empty) in every case: ``ensure_tables``. No pySigma import here.
"""

from __future__ import annotations

import duckdb

SIGMA_RULES = (
    "rule_key VARCHAR, rule_id VARCHAR, title VARCHAR, level VARCHAR, severity VARCHAR, "
    "description VARCHAR, tags VARCHAR[], falsepositives VARCHAR[], path VARCHAR, sha256 VARCHAR, "
    "status VARCHAR, reason VARCHAR, keyword BOOLEAN, sql VARCHAR, matches BIGINT"
)
SIGMA_MATCHES = "source_id INTEGER, line_no BIGINT, rule_key VARCHAR"


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"CREATE TABLE IF NOT EXISTS sigma_rules ({SIGMA_RULES})")
    con.execute(f"CREATE TABLE IF NOT EXISTS sigma_matches ({SIGMA_MATCHES})")
