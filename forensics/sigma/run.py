"""Run compiled Sigma rules inside the case: ``sigma_rules``, ``sigma_matches``, custody.

Field rules run together over the view ``sigma_requests`` (fields.py): one scan of the events
evaluates every rule per row and keeps only (event, rule) matches, so memory is bounded by the
matches, not the case (one scan per rule cost ~0.2 s per rule on 1M events). Each rule's SQL is
first bound alone (EXPLAIN): a rule DuckDB refuses is listed as skipped with DuckDB's message
and the others still run.

Keyword rules (values without a field: "``.git/`` anywhere in the line") need the raw line, which
the case does not store. Every ingested evidence file is re-read (after re-checking its SHA-256),
line-numbered exactly as ingest numbered it (the DuckDB line reader, or the Python one for the
files ingest read in Python), into a temporary table joined to the events by (source_id,
line_no); the keyword rules then run over it together, in one scan. Every line is a candidate
(a keyword may be anywhere in the line, so no stored column can pre-filter without missing
some): the cost is one read of the evidence per run, whatever the number of keyword rules,
measured in ``KeywordScan``. Lines that were rejects (not events) are not requests and are not matched.

Custody: the rule files (path, SHA-256), the pySigma version and the counts are in the case log
entry ``sigma`` and in meta ``sigma_run`` (which findings.json shows).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from forensics.errors import EvidenceError
from forensics.ingest.linereader import duckdb_lines_sql, stage_python
from forensics.sigma.compile import CompiledRule, RuleSet, SkippedRule, compile_rules
from forensics.sigma.fields import RAW_LINE, VIEW_SQL
from forensics.sigma.tables import SIGMA_MATCHES, SIGMA_RULES
from forensics.store.case import Case
from forensics.store.db import transaction
from forensics.store.entry import logged
from forensics.store.stages import stage


@dataclass
class KeywordScan:
    sources: int = 0  # evidence files re-read
    lines: int = 0  # lines read back (every line of those files)
    seconds: float = 0.0


@dataclass
class SigmaResult:
    ruleset: RuleSet
    run: list[CompiledRule] = field(default_factory=list)
    skipped: list[SkippedRule] = field(default_factory=list)  # compile's and DuckDB's
    matches: dict[str, int] = field(default_factory=dict)  # rule key -> matched events
    keyword: KeywordScan = field(default_factory=KeywordScan)
    seconds: float = 0.0

    def counts(self) -> dict[str, int]:
        return {"loaded": self.ruleset.loaded, "run": len(self.run), "skipped": len(self.skipped)}

    def custody(self) -> dict[str, object]:
        """What repeats the run exactly: the rule files and their hashes, the pySigma version."""
        return {
            "rule_files": [{"path": f.path, "sha256": f.sha256} for f in self.ruleset.files],
            "versions": self.ruleset.versions,
        }


def run_sigma(case: Case, rules: list[str]) -> SigmaResult:
    """Compile the rules under ``rules`` (files or folders) and run them on the case."""
    started = time.perf_counter()
    ruleset = compile_rules(rules)
    result = SigmaResult(ruleset, skipped=list(ruleset.skipped))
    params = {"rules": list(rules), **result.custody()}
    with logged(case, "sigma", params) as entry:
        _run(case, result)
        result.seconds = time.perf_counter() - started
        entry.result = {
            **result.counts(),
            "matches": sum(result.matches.values()),
            "keyword_scan": {
                "sources": result.keyword.sources,
                "lines": result.keyword.lines,
                "seconds": round(result.keyword.seconds, 3),
            },
        }
    return result


def _run(case: Case, result: SigmaResult) -> None:
    con = case.con
    con.execute(VIEW_SQL)
    con.execute(f"CREATE OR REPLACE TEMP TABLE _sigma_matches ({SIGMA_MATCHES})")
    field_rules = _checked(
        con, result, [r for r in result.ruleset.rules if not r.keyword], "SELECT * FROM sigma_requests"
    )
    with stage(con, f"sigma: {len(field_rules)} field rules") as st:
        st.rows = _insert(con, result, field_rules, "sigma_requests")
    keyword_rules = _checked(
        con,
        result,
        [r for r in result.ruleset.rules if r.keyword],
        f"SELECT *, NULL::VARCHAR AS {RAW_LINE} FROM sigma_requests",
    )
    if keyword_rules:
        _keyword_rules(case, result, keyword_rules)
    with transaction(con):
        con.execute(f"CREATE OR REPLACE TABLE sigma_rules ({SIGMA_RULES})")
        con.execute(
            "CREATE OR REPLACE TABLE sigma_matches AS SELECT DISTINCT * FROM _sigma_matches ORDER BY ALL"
        )
        for r in result.run:
            con.execute(
                "INSERT INTO sigma_rules VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'run', NULL, ?, ?, ?)",
                [r.key, r.rule_id, r.title, r.level, r.severity, r.description, list(r.tags),
                 list(r.falsepositives), r.path, r.sha256, r.keyword, r.sql, result.matches.get(r.key, 0)],
            )  # fmt: skip
        sha = {f.path: f.sha256 for f in result.ruleset.files}
        for s in result.skipped:
            con.execute(
                "INSERT INTO sigma_rules (rule_id, title, path, sha256, status, reason) "
                "VALUES (?, ?, ?, ?, 'skipped', ?)",
                [s.rule_id, s.title, s.path, sha.get(s.path), s.reason],
            )
        doc = {**result.counts(), **result.custody(), "keyword_lines_read": result.keyword.lines}
        con.execute("INSERT OR REPLACE INTO meta VALUES ('sigma_run', ?)", [json.dumps(doc)])
    con.execute("DROP TABLE _sigma_matches")
    con.execute("DROP VIEW sigma_requests")


def _checked(
    con: duckdb.DuckDBPyConnection, result: SigmaResult, rules: list[CompiledRule], rows: str
) -> list[CompiledRule]:
    """The rules DuckDB accepts (bound, not run: EXPLAIN); the others are skipped with its message."""
    ok = []
    for rule in rules:
        try:
            con.execute(f"EXPLAIN SELECT 1 FROM ({rows}) WHERE {rule.sql}")
        except duckdb.Error as exc:
            first = str(exc).splitlines()[0]
            result.skipped.append(
                SkippedRule(rule.path, rule.rule_id, rule.title, f"DuckDB cannot run it: {first}")
            )
            continue
        ok.append(rule)
        result.run.append(rule)
        result.matches[rule.key] = 0
    return ok


def _insert(con: duckdb.DuckDBPyConnection, result: SigmaResult, rules: list[CompiledRule], rows: str) -> int:
    """Every rule over ``rows`` in one scan: per row, the keys of the rules it matches."""
    if not rules:
        return 0
    cases = ", ".join(f"CASE WHEN {r.sql} THEN {i} END" for i, r in enumerate(rules))
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _sigma_hits AS
        SELECT source_id, line_no, unnest(list_filter([{cases}], lambda x: x IS NOT NULL)) AS k FROM {rows}"""
    )
    keys = [r.key for r in rules]
    con.execute(
        "INSERT INTO _sigma_matches SELECT source_id, line_no, (?::VARCHAR[])[k + 1] FROM _sigma_hits",
        [keys],
    )
    total = 0
    for k, n in con.execute("SELECT k, count(*) FROM _sigma_hits GROUP BY k").fetchall():
        result.matches[keys[int(k)]] += int(n)
        total += int(n)
    con.execute("DROP TABLE _sigma_hits")
    return total


def _keyword_rules(case: Case, result: SigmaResult, rules: list[CompiledRule]) -> None:
    from forensics.ingest.evidence import describe

    con = case.con
    started = time.perf_counter()
    sources = con.execute(
        "SELECT source_id, path, compression, sha256, reader FROM sources "
        "WHERE status = 'ingested' AND events > 0 ORDER BY source_id"
    ).fetchall()
    for source_id, path_text, compression, sha256, reader in sources:
        path = Path(path_text)
        if not path.is_file():
            raise EvidenceError(
                f"evidence file {path} (source {source_id}) is no longer there: keyword rules read it"
            )
        if describe(path).sha256 != sha256:
            raise EvidenceError(f"evidence file {path} changed since ingest (SHA-256 differs)")
        with stage(con, f"sigma: read back {path.name}") as s:
            fast = duckdb_lines_sql(path, compression) if reader == "duckdb" else None
            if fast is not None:
                con.execute(f"CREATE OR REPLACE TEMP TABLE _sigma_lines AS {fast}")
            else:
                stage_python(con, path, compression, "_sigma_lines")
            row = con.execute("SELECT count(*) FROM _sigma_lines").fetchone()
            lines = s.rows = int(row[0]) if row else 0
        result.keyword.sources += 1
        result.keyword.lines += lines
        con.execute(
            f"""CREATE OR REPLACE TEMP VIEW _sigma_keyword AS
            SELECT r.*, l.line AS {RAW_LINE} FROM sigma_requests r
            JOIN _sigma_lines l ON r.source_id = {int(source_id)} AND r.line_no = l.line_no"""
        )
        with stage(con, f"sigma: {len(rules)} keyword rules on {path.name}"):
            _insert(con, result, rules, "_sigma_keyword")
        con.execute("DROP VIEW _sigma_keyword")
        con.execute("DROP TABLE _sigma_lines")
    result.keyword.seconds = time.perf_counter() - started


def sigma_matches_by_rule(case: Case, samples: int = 3) -> list[dict[str, Any]]:
    """Per rule with matches (most first): its metadata, matched requests, clients and the first
    matched lines as (source_id, line_no)."""
    rows = case.con.execute(
        f"""
        SELECT s.rule_key, s.rule_id, s.title, s.level, s.tags, count(*) AS matches,
          count(DISTINCT e.client_ip) AS clients,
          list({{'source_id': m.source_id, 'line_no': m.line_no}}
               ORDER BY m.source_id, m.line_no)[1:{int(samples)}]
        FROM sigma_matches m JOIN sigma_rules s USING (rule_key)
        JOIN events e ON e.source_id = m.source_id AND e.line_no = m.line_no
        GROUP BY ALL ORDER BY matches DESC, s.rule_key"""
    ).fetchall()
    keys = ("rule_key", "rule_id", "title", "level", "tags", "matches", "clients", "samples")
    return [dict(zip(keys, r, strict=True)) for r in rows]
