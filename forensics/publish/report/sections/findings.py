"""Section 9: the findings per actor, with raw evidence, and a summary of the rest."""

from __future__ import annotations

from typing import Any

from forensics.assess.document import Actor, Finding, FindingsDocument
from forensics.detectors import REGISTRY
from forensics.publish.report.blocks import (
    LINE_CHARS,
    Block,
    Cell,
    Facts,
    Heading,
    Para,
    Pre,
    Section,
    Table,
    count,
    cut,
    natural_key,
    num,
    period,
    span,
)
from forensics.publish.report.sections.common import (
    EXCERPT_FILES,
    EXCERPT_LINES,
    FINDING_DETAILS,
    listed_total,
)
from forensics.publish.report.sections.evidence import evidence_root, relative
from forensics.publish.report.sections.method import _flat, _metrics


def _excerpt_lines(finding: Finding, excerpts: dict[int, list[dict[str, Any]]], root: str) -> list[str]:
    raw = excerpts.get(int(finding["id"]))
    if raw:
        shown = [f"{relative(e['path'], root)}:{e['line_no']}: {cut(e.get('line'), LINE_CHARS)}" for e in raw]
        if len(shown) > EXCERPT_LINES:
            rest = len(shown) - EXCERPT_LINES
            shown = [*shown[:EXCERPT_LINES], f"… {count(rest, 'more line')} of the sample: findings.csv"]
        return shown
    lines: dict[str, list[str]] = {}
    for e in finding["evidence"].get("sample") or []:
        lines.setdefault(relative(e["path"], root), []).append(num(e["line_no"]))
    files = sorted(lines, key=natural_key)
    said = [f"{path}: line {', '.join(lines[path])}" for path in files[:EXCERPT_FILES]]
    if len(files) > EXCERPT_FILES:
        said.append(f"and {count(len(files) - EXCERPT_FILES, 'more file')}")
    return [f"Sample (raw lines not read back): {'; '.join(said)}"] if said else []


def _actor_status(actor: Actor) -> str:
    if not actor["unauthorised"]:
        status = "Not shown unauthorised: none of its findings in the window shows it."
    else:
        by = ", ".join(f"#{i}" for i in actor.get("unauthorised_by") or [])
        status = f"Unauthorised: shown by finding {by}."
    return status + _actor_identity(actor)


def _actor_identity(actor: Actor) -> str:
    """Who the actor is and why: its class's reason, what tied its sessions, its authentication."""
    out = ""
    if actor.get("class_reason"):
        out += f" Class {actor['classification']}: {actor['class_reason']}."
    # the rule only: its examples (networks, ids, fingerprints) are in actors.csv
    links = [str(r).split(", e.g. ")[0] for r in actor.get("link_reasons") or []]
    out += (
        " Sessions tied by: " + "; ".join(links) + " (examples: actors.csv)."
        if links
        else " One session (nothing tied it to other sessions)."
    )
    if actor.get("auth_evidence"):
        out += " Authentication evidence: " + "; ".join(actor["auth_evidence"]) + "."
    return out


def _finding_status(finding: Finding, actor: Actor | None) -> str:
    """The caller's status beside each finding: the actor's, saying whether this finding shows it."""
    if finding["actor"] is None:
        return "— (a finding about an endpoint, not a caller)"
    if actor is None:  # not listed (more than MAX_LISTED actors): the finding's own flag
        return "yes (this finding shows it)" if finding["unauthorised"] else "not shown by this finding"
    if not actor["unauthorised"]:
        return "no (no finding in the window shows it)"
    if finding["unauthorised"]:
        return "yes (this finding shows it)"
    by = ", ".join(f"#{i}" for i in actor.get("unauthorised_by") or [])
    return f"yes (shown by {by}; this finding alone does not show it)"


SEVERITY_RANK = {"high": 0, "medium": 1, "low": 2}


def detailed_findings(doc: FindingsDocument) -> list[Finding]:
    """The findings section 9 shows in full: the most severe (high, then medium), those that show a
    caller unauthorised first, at most ``FINDING_DETAILS``."""
    order: dict[int | None, int] = {a["id"]: i for i, a in enumerate(doc["actors"])}
    serious = [f for f in doc["findings"] if f["severity"] in ("high", "medium")]
    serious.sort(
        key=lambda f: (
            SEVERITY_RANK[f["severity"]],
            not f["unauthorised"],
            order.get(f["actor"], len(order)),
            f["id"],
        )
    )
    return serious[:FINDING_DETAILS]


def _finding_facts(f: Finding, actors: dict[int | None, Actor]) -> Facts:
    est = f.get("estimated_records")
    return Facts(
        [
            ("Finding", f"#{f['id']} {f['detector']}: {f['title']}"),
            ("Severity", str(f["severity"])),
            ("Route", str(f["route"] or "—")),
            ("Period", span(f["first_seen"], f["last_seen"])),
            (
                "Scale",
                f"{count(f['count'], 'request')}, {count(f['records'], 'record')} (distinct ids)"
                + (f", about {count(est, 'record')} estimated from bulk responses" if est else ""),
            ),
            ("Unauthorised caller", _finding_status(f, actors.get(f["actor"]))),
            ("Caller's authentication", str(f["evidence"].get("caller") or "—")),
            *([("Caveat", str(f["evidence"]["caveat"]))] if f["evidence"].get("caveat") else []),
            ("Metrics", _flat(_metrics(f["evidence"].get("metrics") or {}))),
        ]
    )


def findings_section(doc: FindingsDocument, excerpts: dict[int, list[dict[str, Any]]]) -> Section:
    root = evidence_root(doc)
    blocks: list[Block] = []
    order: dict[int | None, int] = {a["id"]: i for i, a in enumerate(doc["actors"])}
    actors: dict[int | None, Actor] = {a["id"]: a for a in doc["actors"]}
    shown = detailed_findings(doc)
    total = listed_total(doc, "findings")
    blocks.append(
        Para(
            f"{count(total, 'finding')} in the window. The {count(len(shown), 'most severe finding')} "
            "(high, then medium; those showing a caller unauthorised first) are shown in full with raw "
            "evidence lines (file:line, paths relative to the evidence folder of section 4); the others "
            "are summed up one row per detector and severity below. findings.csv lists every finding."
            if total
            else "No detector produced a finding in the window."
        )
    )
    by_actor = sorted(
        shown, key=lambda f: (f["actor"] is None, order.get(f["actor"], len(order)), str(f["actor"]), f["id"])
    )
    current: object = object()
    for f in by_actor:
        if f["actor"] != current:
            current = f["actor"]
            blocks.append(Heading("Unattributed" if current is None else f"Actor {current}"))
            if current in actors:
                blocks.append(Para(_actor_status(actors[current])))
        blocks.append(_finding_facts(f, actors))
        lines = _excerpt_lines(f, excerpts, root)
        if lines:
            blocks.append(Pre(lines, caption="Raw evidence lines (file:line)"))
    rest = [f for f in doc["findings"] if f not in shown]
    if rest:
        blocks += [
            Heading("The other findings, one row per detector and severity"),
            _finding_summary(doc, rest),
        ]
    if doc.get("sigma"):
        blocks += _sigma_blocks(doc)
    return Section(9, "Findings per actor, with raw evidence", blocks)


def _sigma_blocks(doc: FindingsDocument) -> list[Block]:
    """The Sigma run (counts, what repeats it) and its findings grouped by rule."""
    run = doc["sigma"]
    if run is None:
        return []
    versions = ", ".join(f"{k} {v}" for k, v in sorted(run["versions"].items()))
    blocks: list[Block] = [
        Heading("Sigma rules: findings per rule"),
        Para(
            f"forensics sigma loaded {count(run['loaded'], 'rule')} from "
            f"{count(len(run['rule_files']), 'file')} ({versions}): {num(run['run'])} ran, "
            f"{num(run['skipped'])} were skipped (each with its reason, and every rule file with its "
            "SHA-256, in findings.json under sigma). A rule match counts records only when the matched "
            "requests themselves got records back."
        ),
    ]
    groups: dict[str, list[Finding]] = {}
    for f in doc["findings"]:
        if f["detector"] == "sigma":
            groups.setdefault(str(f["evidence"]["metrics"].get("rule_key")), []).append(f)
    rows: list[list[Cell]] = []
    for key, fs in sorted(groups.items(), key=lambda kv: (-sum(int(f["count"] or 0) for f in kv[1]), kv[0])):
        m = fs[0]["evidence"]["metrics"]
        rows.append(
            [
                f"{m.get('title')} ({key})",
                str(m.get("level") or "-"),
                ", ".join(str(t) for t in m.get("tags") or []),
                num(len(fs)),
                num(len({f["actor"] for f in fs if f["actor"] is not None})),
                num(sum(int(f["count"] or 0) for f in fs)),
                num(sum(int(f["records"] or 0) for f in fs)),
                "; ".join(str(t) for t in m.get("falsepositives") or []),
            ]
        )
    blocks.append(
        Table(
            [
                "Rule",
                "Level",
                "Tags",
                "Findings",
                "Actors",
                "Requests",
                "Records received",
                "False positives",
            ],
            rows,
            numeric=frozenset({3, 4, 5, 6}),
            text=frozenset({0, 7}),
            empty="no rule matched a request in the window",
        )
    )
    return blocks


def _group_title(detector: str, fs: list[Finding]) -> str:
    """The findings' title when they share one, else the detector's (a Sigma finding names its rule:
    one rule's title must not stand for another's findings)."""
    titles = {str(f["title"]) for f in fs}
    return titles.pop() if len(titles) == 1 else REGISTRY[detector].title


def _finding_summary(doc: FindingsDocument, rest: list[Finding]) -> Table:
    groups: dict[tuple[str, str], list[Finding]] = {}
    for f in rest:
        groups.setdefault((str(f["severity"]), str(f["detector"])), []).append(f)
    rows: list[list[Cell]] = []
    for (sev, det), fs in sorted(groups.items(), key=lambda kv: (SEVERITY_RANK.get(kv[0][0], 9), kv[0][1])):
        callers = {f["actor"] for f in fs if f["actor"] is not None}
        rows.append(
            [
                f"{det}: {_group_title(det, fs)}",
                sev,
                num(len(fs)),
                num(len(callers)),
                num(sum(1 for f in fs if f["unauthorised"])),
                num(sum(int(f["count"] or 0) for f in fs)),
                period(min(str(f["first_seen"]) for f in fs), max(str(f["last_seen"]) for f in fs)),
            ]
        )
    unlisted = listed_total(doc, "findings") - len(doc["findings"])
    more = "findings.csv lists each of these findings with its actor, route, counts and sample lines."
    if unlisted > 0:
        more += f" {count(unlisted, 'further finding')} beyond findings.json's list stay in the case."
    return Table(
        ["Detector", "Severity", "Findings", "Actors", "Showing unauthorised", "Requests", "Period (UTC)"],
        rows,
        numeric=frozenset({2, 3, 4, 5}),
        nowrap=frozenset({6}),
        more=more,
    )
