"""Sections 4-5: the evidence inventory with its chain of custody, and the coverage."""

from __future__ import annotations

import posixpath
from typing import Any

from forensics.assess.document import FindingsDocument, Source
from forensics.publish.report.blocks import (
    GRADE_WORDS,
    Cell,
    Facts,
    Figure,
    Heading,
    Para,
    Section,
    Table,
    count,
    cut,
    duration,
    natural_key,
    num,
    percent,
    period,
    verified,
    when,
)
from forensics.publish.report.sections.common import EVIDENCE_ROWS, GAP_ROWS
from forensics.publish.report.sections.front import _seconds_between


def evidence_root(doc: FindingsDocument) -> str:
    """The folder every evidence file is in (paths in the report are shown relative to it)."""
    folders = [posixpath.dirname(str(src["path"])) for src in doc["sources"]]
    if not folders:
        return ""
    try:
        root = posixpath.commonpath(folders)
    except ValueError:  # absolute and relative paths mixed
        return ""
    return "" if root in ("", "/") else root


def relative(path: Any, root: str) -> str:
    text = str(path)
    return text[len(root) + 1 :] if root and text.startswith(root + "/") else text


def sorted_sources(doc: FindingsDocument) -> list[Source]:
    """Evidence files in natural order (``access.log.2`` before ``access.log.10``)."""
    return sorted(doc["sources"], key=lambda src: natural_key(src["path"]))


def _notable(src: Source) -> bool:
    """A file a reader must see: changed or gone since ingest, lines rejected, warnings, a duplicate."""
    return bool(
        src.get("sha256_verified") is not True
        or src.get("rejected")
        or src.get("warnings")
        or src.get("duplicate_of")
    )


def shown_sources(doc: FindingsDocument) -> list[Source]:
    """The files section 4 lists, in natural order: every notable one, then the others up to
    ``EVIDENCE_ROWS`` rows."""
    files = sorted_sources(doc)
    notable = [src for src in files if _notable(src)]
    quiet = [src for src in files if not _notable(src)][: max(0, EVIDENCE_ROWS - len(notable))]
    chosen = {id(src) for src in notable + quiet}
    return [src for src in files if id(src) in chosen]


def inventory_section(doc: FindingsDocument) -> Section:
    events, root = doc["events"], evidence_root(doc)
    shown = shown_sources(doc)
    rows: list[list[Cell]] = [
        [
            relative(s["path"], root),
            str(s.get("format") or "—"),
            period(s.get("first_ts"), s.get("last_ts")),
            str(s.get("sha256") or "—"),
            num(s.get("events"), "—"),
            num(s.get("rejected"), "—"),
            [f"duplicate of {relative(s['duplicate_of'], root)}"] * bool(s.get("duplicate_of"))
            + [cut(w) for w in s.get("warnings") or []]
            or ["—"],
            verified(s.get("sha256_verified")),
        ]
        for s in shown
    ]
    chosen = {id(s) for s in shown}
    quiet = [s for s in doc["sources"] if id(s) not in chosen]
    more = ""
    if quiet:
        more = (
            f"{count(len(quiet), 'more file')}, each re-verified unchanged with no rejected line, warning "
            f"or duplicate ({count(sum(int(s.get('events') or 0) for s in quiet), 'event')}): "
            "evidence.csv lists every file with its SHA-256."
        )
    return Section(
        4,
        "Evidence inventory and chain of custody",
        [
            Para(
                f"{count(len(doc['sources']), 'evidence file')}: {count(events['total'], 'event')} "
                f"parsed, {count(events['rejected'], 'line')} rejected (kept in the case with their "
                f"reason); {count(events['in_window'], 'event')} fall in the window, "
                f"{num(events['to_endpoints_in_window'])} of them to the exposed endpoints. Evidence "
                "is read-only: every file was hashed (SHA-256) as delivered and re-hashed for this "
                "report; exact duplicates are recorded and not read twice. Files that changed, have "
                "rejected lines, warnings or duplicates are always listed."
            ),
            Facts([("Evidence folder", root or "— (paths as given)")]),
            Table(
                [
                    "File",
                    "Format",
                    "Events from (UTC)",
                    "SHA-256",
                    "Events",
                    "Rejected",
                    "Notes",
                    "Re-verified",
                ],
                rows,
                numeric=frozenset({4, 5}),
                text=frozenset({0, 6}),
                mono=frozenset({3}),
                nowrap=frozenset({2}),
                empty="no evidence files",
                more=more,
            ),
        ],
    )


def coverage_section(doc: FindingsDocument) -> Section:
    cov = doc["coverage"]
    unparsed = [g for g in cov["gaps"] if g.get("kind") == "unparsed"]
    gaps: list[list[Cell]] = []
    longest = sorted(cov["gaps"], key=lambda g: -(_seconds_between(g["start"], g["end"]) or 0))[:GAP_ROWS]
    hidden = [g for g in cov["gaps"] if all(g is not x for x in longest)]
    for g in [g for g in cov["gaps"] if any(g is x for x in longest)]:
        row: list[Cell] = [when(g["start"]), when(g["end"]), duration(_seconds_between(g["start"], g["end"]))]
        if unparsed:  # a column saying which periods have logs that were not parsed
            row.append(
                f"logs not parsed: {num(g['rejected_lines'])} rejected lines" if g in unparsed else "no logs"
            )
        gaps.append(row)
    lines = sum(int(g.get("rejected_lines") or 0) for g in unparsed)
    fields: dict[str, dict[str, Any]] = cov.get("fields") or {}
    names = sorted({f for per in fields.values() for f in per})
    root, paths = evidence_root(doc), sorted(fields, key=natural_key)
    matrix: list[list[Cell]] = [
        [
            relative(path, root),
            *(percent(fields[path].get(f)) if fields[path].get(f) is not None else "—" for f in names),
        ]
        for path in paths[:EVIDENCE_ROWS]
    ]
    more_fields = (
        f"{count(len(paths) - EVIDENCE_ROWS, 'more file')}: evidence.csv gives every file's field shares."
        if len(paths) > EVIDENCE_ROWS
        else ""
    )
    more_gaps = (
        f"{count(len(hidden), 'shorter period')} without logs not listed "
        f"({duration(sum(_seconds_between(g['start'], g['end']) or 0 for g in hidden))} in all): "
        "findings.json lists every one (coverage.gaps)."
        if hidden
        else ""
    )
    grade = str(cov["grade"])
    return Section(
        5,
        "Coverage",
        [
            Facts(
                [
                    ("Grade", f"{grade} — {GRADE_WORDS.get(grade, '?')}"),
                    ("Share of the window with logs", percent(cov["ratio"])),
                    ("Covered", duration(cov["covered_s"])),
                    ("Without logs", duration(cov["uncovered_s"])),
                    ("Why this grade", list(cov["grade_reasons"]) or ["—"]),
                ]
            ),
            Figure(
                "coverage",
                "Coverage timeline: the window (pale band), periods without logs (hatched), events per "
                "day and source.",
            ),
            Heading("Periods without logs"),
            Table(
                ["Start", "End", "Length", *(["What"] if unparsed else [])],
                gaps,
                empty="no period without logs in the window",
                more=more_gaps,
            ),
            *(
                [Para("For these periods no logs exist; we can neither confirm nor exclude access then.")]
                if len(gaps) > len(unparsed)
                else []
            ),
            *(
                [
                    Para(
                        f"For {count(len(unparsed), 'period')} marked \u201clogs not parsed\u201d logs exist "
                        f"but were not parsed: {num(lines)} rejected log lines fall in them (a changed "
                        "layout or corrupt lines). Until they are read we can neither confirm nor exclude "
                        "access then: see `forensics sources` and the rejects table, then `forensics "
                        "forget` the file and ingest it again with --log-format (its layout) or --format."
                    )
                ]
                if unparsed
                else []
            ),
            Heading("Field availability (share of events carrying each field)"),
            Table(
                ["Source", *names],
                matrix,
                numeric=frozenset(range(1, len(names) + 1)),
                text=frozenset({0}),
                empty="not measured",
                more=more_fields,
            ),
        ],
    )
