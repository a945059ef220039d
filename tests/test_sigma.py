"""forensics sigma (issue 21): rules compiled by pySigma through our pipeline and DuckDB backend.

The rules here are small ones written for these tests (SigmaHQ's are under the Detection Rule
License and are not shipped); ``test_sigmahq_web_rules`` runs SigmaHQ's own rules/web when a
checkout is given in ``FORENSICS_SIGMAHQ`` (its folder holding rules/web).

Escaping is checked by running the converted SQL in DuckDB on a case and comparing which lines
matched with the lines written to match: %, _, quotes, backslashes, * and ? wildcards, |re,
|contains|all, |cased, keywords.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from forensics import Case
from forensics.cli import main
from forensics.detectors.run import DetectOptions, findings, run_detectors
from forensics.ingest.run import ingest
from forensics.sigma.compile import compile_rules
from forensics.sigma.run import run_sigma
from tests.conftest import write_lines

UA = "Mozilla/5.0 (Windows NT 10.0) Chrome/122.0"


def line(ip: str, target: str, ua: str = UA, status: int = 200, minute: int = 0, referer: str = "-") -> str:
    return (
        f'{ip} - - [10/Mar/2024:12:{minute:02d}:00 +0000] "GET {target} HTTP/1.1" {status} 512 '
        f'"{referer}" "{ua}"'
    )


def rule(title: str, detection: str, rid: str, level: str = "high", category: str = "webserver") -> str:
    return f"""title: {title}
id: {rid}
status: test
description: written for tests/test_sigma.py
logsource:
  category: {category}
detection:
{detection}
level: {level}
tags:
  - attack.initial-access
  - attack.t1190
falsepositives:
  - Test traffic
"""


def rid(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


# line number (1-based) -> text; each escaping rule below names the lines it must match
LINES = [
    line("10.0.0.1", "/a/100%25done"),  # 1: a literal % (as %25 in the target)
    line("10.0.0.2", "/a/100X25done"),  # 2: what a % wildcard would match too
    line("10.0.0.3", "/a/snake_case"),  # 3: a literal _
    line("10.0.0.4", "/a/snakeXcase"),  # 4: what a _ wildcard would match too
    line("10.0.0.5", "/a/it's"),  # 5: a quote
    line("10.0.0.6", "/a/back\\slash"),  # 6: one backslash
    line("10.0.0.7", "/a/star-anything-end"),  # 7: Sigma * wildcard
    line("10.0.0.8", "/a/q1z"),  # 8: Sigma ? wildcard
    line("10.0.0.9", "/a/regex-12345"),  # 9: |re
    line("10.0.0.10", "/a/one?two=three"),  # 10: |contains|all (both in the target)
    line("10.0.0.11", "/a/one"),  # 11: only one of |contains|all
    line("10.0.0.12", "/a/CasedWord"),  # 12: |cased
    line("10.0.0.13", "/a/casedword"),  # 13: |cased must not match
    line("10.0.0.14", "/a/x", ua="Mozilla/5.0 KEYWORD-in-ua"),  # 14: keyword anywhere in the line
    line("10.0.0.15", "/a/x", referer="https://example.test/%252f"),  # 15: %252f literally
    line("10.0.0.16", "/a/x", referer="https://example.test/x252f"),  # 16: %252f as wildcard would match
]

ESCAPING: dict[str, tuple[str, set[int]]] = {
    "percent": ("  s:\n    cs-uri-query|contains: '100%25done'\n  condition: s", {1}),
    "underscore": ("  s:\n    cs-uri-stem|endswith: 'snake_case'\n  condition: s", {3}),
    "quote": ('  s:\n    cs-uri-stem: "/a/it\'s"\n  condition: s', {5}),
    "backslash": ("  s:\n    cs-uri-stem|contains: 'back\\\\slash'\n  condition: s", {6}),
    "star": ("  s:\n    cs-uri-stem: '/a/star*end'\n  condition: s", {7}),
    "question": ("  s:\n    cs-uri-stem: '/a/q?z'\n  condition: s", {8}),
    "regex": ("  s:\n    cs-uri-stem|re: '/a/regex-\\d{5}$'\n  condition: s", {9}),
    "contains_all": (
        "  s:\n    cs-uri-query|contains|all:\n      - 'one'\n      - 'two=three'\n  condition: s",
        {10},
    ),
    "cased": ("  s:\n    cs-uri-stem|cased: '/a/CasedWord'\n  condition: s", {12}),
    "keyword": ("  keywords:\n    - 'keyword-IN-UA'\n  condition: keywords", {14}),
    "percent_encoded": ("  s:\n    cs-referer|contains: '%252f'\n  condition: s", {15}),
}


@pytest.fixture
def escaping_case(tmp_path: Path) -> Case:
    log = write_lines(tmp_path / "ev" / "access.log", LINES)
    rules = tmp_path / "rules"
    rules.mkdir()
    for n, (name, (detection, _)) in enumerate(ESCAPING.items(), 1):
        (rules / f"{name}.yml").write_text(rule(f"escaping {name}", detection, rid(n)))
    case = Case.create(tmp_path / "case.duckdb")
    ingest(case, [log])
    run_sigma(case, [str(rules)])
    return case


def _matched(case: Case) -> dict[str, set[int]]:
    rows = case.con.execute(
        "SELECT r.title, m.line_no FROM sigma_matches m JOIN sigma_rules r USING (rule_key)"
    ).fetchall()
    out: dict[str, set[int]] = {}
    for title, n in rows:
        out.setdefault(str(title).removeprefix("escaping "), set()).add(int(n))
    return out


@pytest.mark.parametrize("name", list(ESCAPING))
def test_values_are_escaped_in_duckdb(escaping_case: Case, name: str) -> None:
    """Each rule matches exactly its lines when the SQL runs in DuckDB: a % or _ in a rule value
    is no wildcard, quotes and backslashes are literal, * and ? are Sigma's wildcards."""
    ran = escaping_case.con.execute("SELECT count(*) FROM sigma_rules WHERE status = 'run'").fetchone()
    assert ran is not None and ran[0] == len(ESCAPING)
    assert _matched(escaping_case).get(name, set()) == ESCAPING[name][1]
    escaping_case.close()


PLANTED = {
    # line -> rule title it must be reported under
    301: "Path traversal",
    302: "SQL injection",
    303: "Attack tool user agent",
    304: "Git folder keyword",
}


def _planted_log(tmp_path: Path) -> Path:
    normal = [
        line(f"10.1.0.{i % 20 + 1}", f"/api/v2/referrals/{1000 + i}?page={i % 3}", minute=i % 50)
        for i in range(300)
    ]
    planted = [
        line("203.0.113.5", "/api/v2/files?name=../../../../etc/passwd", status=400, minute=51),
        line(
            "203.0.113.6",
            "/api/v2/referrals?id=1%27%20UNION%20SELECT%20password%20FROM%20users--",
            status=500,
            minute=52,
        ),
        line("203.0.113.7", "/api/v2/referrals/1", ua="sqlmap/1.7.2#stable (https://sqlmap.org)", minute=53),
        line("203.0.113.8", "/.git/config", status=404, minute=54),
    ]
    return write_lines(tmp_path / "ev" / "access.log", normal + planted)


def _planted_rules(tmp_path: Path) -> Path:
    rules = tmp_path / "rules"
    (rules / "more").mkdir(parents=True)
    (rules / "traversal.yml").write_text(
        rule(
            "Path traversal",
            "  s:\n    cs-uri-query|contains:\n      - '../'\n      - '%2e%2e'\n  condition: s",
            rid(1),
            "medium",
        )
    )
    (rules / "sqli.yml").write_text(
        rule(
            "SQL injection",
            "  s:\n    cs-uri-query|contains:\n      - 'union%20select'\n      - \"' or '1'='1\"\n  condition: s",
            rid(2),
        )
    )
    (rules / "more" / "tools.yaml").write_text(
        rule(
            "Attack tool user agent",
            "  s:\n    c-useragent|contains:\n      - 'sqlmap'\n      - 'nikto'\n  condition: s",
            rid(3),
        )
    )
    (rules / "more" / "git.yml").write_text(
        rule("Git folder keyword", "  keywords:\n    - '.git/'\n  condition: keywords", rid(4), "low")
    )
    (rules / "cookie.yml").write_text(
        rule("Cookie rule", "  s:\n    cs-cookie|contains: 'x'\n  condition: s", rid(5))
    )
    (rules / "proxy.yml").write_text(
        rule("Proxy rule", "  s:\n    c-uri|contains: 'x'\n  condition: s", rid(6), category="proxy")
    )
    (rules / "broken.yml").write_text("title: no detection\nlogsource:\n  category: webserver\n")
    return rules


def test_planted_lines_under_their_rules_and_nothing_on_normal_lines(tmp_path: Path) -> None:
    case = Case.create(tmp_path / "case.duckdb")
    ingest(case, [_planted_log(tmp_path)])
    result = run_sigma(case, [str(_planted_rules(tmp_path))])
    got = dict(
        case.con.execute(
            "SELECT m.line_no, r.title FROM sigma_matches m JOIN sigma_rules r USING (rule_key)"
        ).fetchall()
    )
    assert got == PLANTED
    assert result.counts() == {"loaded": 7, "run": 4, "skipped": 3}
    reasons = {s.title: s.reason for s in result.skipped}
    assert "cs-cookie" in reasons["Cookie rule"]
    assert "not category: webserver" in reasons["Proxy rule"]
    assert any(s.path.endswith("broken.yml") for s in result.skipped)
    assert result.keyword.lines == 304 and result.keyword.sources == 1  # every line read back once

    # matches become findings of detector sigma, per actor, route and rule, with file:line samples
    run_detectors(case, DetectOptions())
    f = findings(case)
    sig = f[f["detector"] == "sigma"]
    assert sorted(json.loads(m)["title"] for m in sig["metrics"]) == sorted(PLANTED.values())
    lines = sorted(int(s[0]["line_no"]) for s in sig["sample"])
    assert lines == sorted(PLANTED)
    meta = {json.loads(m)["title"]: json.loads(m) for m in sig["metrics"]}
    assert meta["SQL injection"]["tags"] == ["attack.initial-access", "attack.t1190"]
    assert meta["SQL injection"]["falsepositives"] == ["Test traffic"]
    sev = dict(zip((json.loads(m)["title"] for m in sig["metrics"]), sig["severity"], strict=True))
    # rule levels, except the sqlmap request that got record 1 back: high (records received)
    assert sev == {"Path traversal": "medium", "SQL injection": "high", "Attack tool user agent": "high",
                   "Git folder keyword": "low"}  # fmt: skip
    records = dict(zip((json.loads(m)["title"] for m in sig["metrics"]), sig["records"], strict=True))
    assert records == {
        "Path traversal": 0,
        "SQL injection": 0,
        "Attack tool user agent": 1,
        "Git folder keyword": 0,
    }
    # actor classification: the matching actors are scanners
    classes = case.con.execute(
        "SELECT DISTINCT a.class FROM detect_requests d JOIN actors a USING (actor_id) "
        "WHERE d.line_no IN (301, 302, 304)"
    ).fetchall()
    assert classes == [("scanner",)]
    case.close()


def test_custody_in_case_log_and_findings_json(tmp_path: Path) -> None:
    import hashlib

    log = _planted_log(tmp_path)
    rules = _planted_rules(tmp_path)
    case_path = tmp_path / "case.duckdb"
    r = CliRunner().invoke(main, ["-q", "ingest", str(case_path), str(log)])
    assert r.exit_code == 0, r.output
    out = tmp_path / "out"
    r = CliRunner().invoke(
        main,
        ["-q", "investigate", str(case_path), "--sigma", str(rules), "--window",
         "2024-03-10T00:00Z/2024-03-11T00:00Z", "--out", str(out)],
    )  # fmt: skip
    assert r.exit_code in (0, 3, 4, 5, 6), r.output
    expected = sorted(
        (
            {"path": str(p), "sha256": hashlib.sha256(p.read_bytes()).hexdigest()}
            for p in rules.rglob("*")
            if p.suffix in (".yml", ".yaml")
        ),
        key=lambda d: d["path"],
    )
    doc = json.loads((out / "findings.json").read_text())
    assert sorted(doc["sigma"]["rule_files"], key=lambda d: d["path"]) == sorted(
        expected, key=lambda d: d["path"]
    )
    assert doc["sigma"]["versions"]["pysigma"]
    assert (doc["sigma"]["loaded"], doc["sigma"]["run"], doc["sigma"]["skipped"]) == (7, 4, 3)
    assert len(doc["sigma"]["skipped_rules"]) == 3 and all(s["reason"] for s in doc["sigma"]["skipped_rules"])
    titles = {f["title"] for f in doc["findings"] if f["detector"] == "sigma"}
    assert titles == {f"Sigma rule: {t}" for t in PLANTED.values()}
    report = (out / "report.html").read_text()
    assert "Sigma rules: findings per rule" in report and "Git folder keyword" in report
    timeline = (out / "timeline.jsonl").read_text()
    assert "sigma" in timeline
    with Case.open(case_path, read_only=True) as case:
        rows = case.con.execute(
            "SELECT command, parameters FROM case_log WHERE command LIKE 'sigma%'"
        ).fetchall()
    started = json.loads(rows[0][1])
    assert sorted(started["rule_files"], key=lambda d: d["path"]) == sorted(expected, key=lambda d: d["path"])
    assert started["versions"]["pysigma"] == doc["sigma"]["versions"]["pysigma"]
    finished = json.loads(rows[1][1])
    assert (finished["loaded"], finished["run"], finished["skipped"]) == (7, 4, 3)


def test_cli_prints_counts_skipped_reasons_and_escapes_rule_text(tmp_path: Path) -> None:
    log = _planted_log(tmp_path)
    rules = _planted_rules(tmp_path)
    (rules / "raw-escape.yml").write_text(
        rule("Raw \x1b[31m", "  s:\n    cs-method: GET\n  condition: s", rid(8))
    )
    (rules / "hostile.yml").write_text(
        rule(
            '"Evil \\e[31mred\\e[0m title"',  # YAML's \e: an ESC in the title
            "  s:\n    cs-uri-stem|contains: '/.git/'\n  condition: s",
            rid(7),
        )
    )
    case_path = tmp_path / "case.duckdb"
    assert CliRunner().invoke(main, ["-q", "ingest", str(case_path), str(log)]).exit_code == 0
    r = CliRunner().invoke(main, ["sigma", str(case_path), str(rules)])
    assert r.exit_code == 0, r.output
    assert "9 rules loaded, 5 run, 4 skipped; 5 matches by 5 rules" in r.output
    assert "raw-escape.yml: not a Sigma rule file" in r.output  # PyYAML refuses the raw ESC
    assert "cs-cookie has no column" in r.output and "not category: webserver" in r.output
    assert "\x1b" not in r.output and "Evil \\x1b[31mred" in r.output
    assert "access.log:304" in r.output
    r = CliRunner().invoke(main, ["sigma", str(case_path), str(rules), "--json"])
    doc = json.loads(r.output)
    assert (doc["loaded"], doc["run"], doc["skipped"]) == (9, 5, 4)


def test_missing_extra_says_how_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    case_path = tmp_path / "case.duckdb"
    assert (
        CliRunner().invoke(main, ["-q", "ingest", str(case_path), str(_planted_log(tmp_path))]).exit_code == 0
    )
    for name in [m for m in sys.modules if m == "sigma" or m.startswith("sigma.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "sigma", None)  # import sigma raises ImportError
    r = CliRunner().invoke(main, ["sigma", str(case_path), str(tmp_path)])
    assert r.exit_code == 1
    assert 'pip install "access-log-forensics[sigma]"' in r.output


def test_a_rule_path_that_is_not_there(tmp_path: Path) -> None:
    from forensics.errors import SigmaError

    with pytest.raises(SigmaError, match="no such file"):
        compile_rules([str(tmp_path / "nope")])


SIGMAHQ = os.environ.get("FORENSICS_SIGMAHQ")


@pytest.mark.skipif(not SIGMAHQ, reason="FORENSICS_SIGMAHQ (a SigmaHQ checkout) not given")
def test_sigmahq_web_rules(tmp_path: Path) -> None:
    """SigmaHQ's rules/web on the planted log: each planted line under the SigmaHQ rule for it,
    nothing on the normal lines, the skipped rules listed with reasons."""
    case = Case.create(tmp_path / "case.duckdb")
    ingest(case, [_planted_log(tmp_path)])
    result = run_sigma(case, [str(Path(str(SIGMAHQ)) / "rules" / "web")])
    got: dict[int, set[Any]] = {}
    for n, title in case.con.execute(
        "SELECT m.line_no, r.title FROM sigma_matches m JOIN sigma_rules r USING (rule_key)"
    ).fetchall():
        got.setdefault(int(n), set()).add(title)
    assert set(got) == set(PLANTED)  # nothing on the 300 normal lines
    assert "Path Traversal Exploitation Attempts" in got[301]
    assert "SQL Injection Strings In URI" in got[302]
    assert any("User-Agent" in t for t in got[303])
    assert any("Source Code Enumeration" in t for t in got[304])
    assert result.skipped and all(s.reason for s in result.skipped)
    case.close()


def test_the_summary_row_of_several_rules_names_the_detector_not_one_rule() -> None:
    """'The other findings' sums one row per detector and severity: Sigma findings of two rules
    must not be listed under the first rule's title; findings sharing a title keep it."""
    from typing import Any, cast

    from forensics.publish.report.sections.findings import _finding_summary

    def finding(detector: str, title: str, actor: int) -> dict[str, Any]:
        return {"detector": detector, "title": title, "severity": "medium", "actor": actor,
                "unauthorised": False, "count": 2, "first_seen": "2024-03-01T00:00:00Z",
                "last_seen": "2024-03-02T00:00:00Z"}  # fmt: skip

    rest = [
        finding("sigma", "Sigma rule: Recon tools", 1),
        finding("sigma", "Sigma rule: Source code enumeration", 2),
        finding("bulk", "Bulk and oversized responses", 3),
    ]
    doc = cast(Any, {"findings": rest, "listed": {"findings_total": 3}})
    labels = sorted(str(r[0]) for r in _finding_summary(doc, cast(Any, rest)).rows)
    assert labels == ["bulk: Bulk and oversized responses", "sigma: Sigma webserver rule matches"]
