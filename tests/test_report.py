"""The report renderers (forensics/report): content, escaping, self-containment, determinism.

The Assessment is built by hand here (a small realistic document and frames) with hostile log
text in every place a log string can reach: user agents, paths, principals, record ids, routes,
raw lines.
"""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from matplotlib.text import Text

from forensics.assess.assessment import Assessment
from forensics.publish.report import content, plots, render_html, render_markdown, write_report
from forensics.publish.report.blocks import Table
from forensics.publish.report.markdown import md

SCRIPT = "<script>document.title='pwned'</script>"
IMG = "\"><img src=x onerror=document.title='pwned2'>"
FORMULA = "=cmd|' /C calc'!A0"
MATH = "$\\alpha$ $\\frac{$"  # the second one is malformed mathtext: parsing it would raise
ANSI = "\x1b[31mred\x1b[0m"
JSURL = "javascript:document.title='pwned3'"
MDLINK = "[x](http://evil)"
HOSTILE = (SCRIPT, IMG, FORMULA, MATH, ANSI, JSURL, MDLINK)
TITLE = "Access-log forensic assessment"

SECTIONS = (
    "Document control",
    "Executive summary",
    "Scope",
    "Evidence inventory and chain of custody",
    "Coverage",
    "Method and thresholds",
    "Actors",
    "Access to the exposed endpoints",
    "Findings per actor, with raw evidence",
    "The estimate",
    "Statistical statements",
    "Verdict and reasoning",
    "Regulatory mapping",
    "Limitations",
    "How to reproduce",
)

EVIL_UA = f"Mozilla/5.0 {SCRIPT} {MATH} {ANSI}"
EVIL_PATH = f"/evidence/edge/{MDLINK}{IMG}.log"
EVIL_ROUTE = "GET /api/v2/referrals/{id}"
RAW_LINE = (
    f'203.0.113.9 - {FORMULA} [14/Mar/2023:16:21:00 +0000] "GET /api/v2/referrals/{SCRIPT} HTTP/1.1" '
    f'200 5120 "{JSURL}" "{EVIL_UA}" {MDLINK}'
)


def document(verdict: str = "confirmed") -> dict:
    """A findings.json document as assess.py writes it (schema forensics.findings/2)."""
    return {
        "schema": "forensics.findings/2",
        "tool": {"name": "forensics", "version": "0.1.0"},
        "case": {"path": "/cases/referrals.duckdb"},
        "parameters": {
            "endpoints": [EVIL_ROUTE, "GET /api/v2/referrals/{id}/documents/{doc}"],
            "login": ["POST /api/v2/auth/login"],
            "trusted": ["partner=51.140.12.32/29"],
            "window_source": "given",
            "detect_options": {"enumeration_min_records": 50, "bulk_bytes": 1_000_000},
            "command": "forensics investigate /cases/referrals.duckdb --window 2023-03-14T16:20:00Z/2024-11-21T09:40:00Z",
        },
        "window": {
            "start": "2023-03-14T16:20:00Z",
            "end": "2024-11-21T09:40:00Z",
            "source": "given",
            "evidence": "given with --window (deploy of the faulty release to its fix)",
        },
        "coverage": {
            "ratio": 0.9963,
            "grade": "C",
            "grade_reasons": ["2 periods without logs inside the window"],
            "gaps": [
                {"start": "2023-07-01T00:00:00Z", "end": "2023-07-03T06:00:00Z"},
                {"start": "2024-02-10T12:00:00Z", "end": "2024-02-10T12:45:00Z"},
            ],
            "covered_s": 53174100,
            "uncovered_s": 197100,
            "fields": {
                EVIL_PATH: {"principal": 0.0, "user_agent": 1.0, "bytes_sent": 0.998},
                "/evidence/app/app.jsonl": {"principal": 0.61, "user_agent": 0.0, "bytes_sent": 1.0},
            },
        },
        "events": {
            "total": 2_345_678,
            "rejected": 321,
            "in_window": 2_000_001,
            "to_endpoints_in_window": 54_321,
        },
        "sources": [
            {
                "path": EVIL_PATH,
                "sha256": "a" * 64,
                "sha256_verified": True,
                "format": "combined",
                "events": 2_000_000,
                "rejected": 300,
                "duplicate_of": None,
                "warnings": [f"{ANSI} odd line ends"],
                "first_ts": "2023-01-01T00:00:03Z",
                "last_ts": "2024-12-31T23:59:58Z",
            },
            {
                "path": "/evidence/app/app.jsonl",
                "sha256": "b" * 64,
                "sha256_verified": False,
                "format": "jsonl",
                "events": 345_678,
                "rejected": 21,
                "duplicate_of": None,
                "warnings": [],
                "first_ts": "2023-02-01T00:00:00Z",
                "last_ts": "2024-12-01T00:00:00Z",
            },
            {
                "path": "/evidence/app/copy.jsonl",
                "sha256": "b" * 64,
                "sha256_verified": None,
                "format": "jsonl",
                "events": 0,
                "rejected": 0,
                "duplicate_of": "/evidence/app/app.jsonl",
                "warnings": [],
                "first_ts": None,
                "last_ts": None,
            },
        ],
        "verdict": verdict,
        "verdict_text": "Records were sent to a caller shown to be unauthorised between 2023-03-14 and 2024-11-21.",
        "reasoning": [f"Actor 7 ({EVIL_UA}) read 412 distinct referral ids without authentication."],
        "alternatives": ["A monitoring probe: ruled out, it reads one fixed id."],
        "records": {
            "confirmed": 412,
            "probable": 430,
            "at_risk": 5000,
            "estimated_bulk": 120,
            "id_range": {"min": SCRIPT, "max": "104999"},
            "at_risk_basis": "record ids 100000-104999 seen on the endpoint",
        },
        "requests": {"to_endpoints": 1203, "unauthorised": 700, "probable": 0},
        "actor_counts": {
            "listed": 2,
            "with_findings": 2,
            "unauthorised": 1,
            "with_confirmed_records": 1,
            "with_probable_records": 0,
            "with_estimated_records": 0,
            "with_only_estimated_records": 0,
        },
        "actors": [
            {
                "id": 7,
                "ips": ["203.0.113.9", "203.0.113.10"],
                "user_agents": [EVIL_UA],
                "principals": [FORMULA],
                "classification": "unknown",
                "unauthorised": True,
                "unauthorised_by": [1],
                "requests": 1203,
                "endpoint_requests": 1203,
                "records": 412,
                "confirmed_records": 412,
                "probable_records": 0,
                "estimated_records": None,
                "bytes": 2_109_440,
                "first_seen": "2023-03-14T16:21:00Z",
                "last_seen": "2023-03-15T02:00:00Z",
                "detectors": ["unauth_read", "enumeration"],
            },
            {
                "id": 3,
                "ips": ["51.140.12.33"],
                "user_agents": ["partner-sync/2.1"],
                "principals": [],
                "classification": "trusted",
                "unauthorised": False,
                "unauthorised_by": [],
                "requests": 88,
                "endpoint_requests": 80,
                "records": 80,
                "confirmed_records": 0,
                "probable_records": 0,
                "estimated_records": None,
                "bytes": 90_000,
                "first_seen": "2023-04-01T00:00:00Z",
                "last_seen": "2024-10-01T00:00:00Z",
                "detectors": ["bulk"],
            },
        ],
        "findings": [
            {
                "id": 1,
                "detector": "enumeration",
                "title": f"sequential ids read by {SCRIPT}",
                "severity": "high",
                "actor": 7,
                "route": EVIL_ROUTE,
                "first_seen": "2023-03-14T16:21:00Z",
                "last_seen": "2023-03-15T02:00:00Z",
                "count": 1203,
                "records": 412,
                "estimated_records": None,
                "unauthorised": True,
                "evidence": {
                    "metrics": {"sequential_share": 0.97},
                    "sample": [{"path": EVIL_PATH, "line_no": 1017}],
                    "thresholds": {"min_records": 50, "min_sequential_share": 0.8},
                },
            },
            {
                "id": 2,
                "detector": "bulk",
                "title": "large responses",
                "severity": "low",
                "actor": 3,
                "route": EVIL_ROUTE,
                "first_seen": "2023-04-01T00:00:00Z",
                "last_seen": "2024-10-01T00:00:00Z",
                "count": 3,
                "records": 3,
                "estimated_records": 120,
                "unauthorised": False,
                "evidence": {
                    "metrics": {"max_bytes": 3_000_000},
                    "sample": [{"path": "/evidence/app/app.jsonl", "line_no": 5}],
                    "thresholds": {"bulk_bytes": 1_000_000},
                },
            },
        ],
        "bounds": {
            "applies": True,
            "statement": "No logs exist for 2 days 6 h 45 min of the window; we can neither confirm nor exclude access then.",
            "covered_s": 53174100,
            "uncovered_s": 197100,
            "expected_max": 3.5,
            "p_any_max": 0.25,
        },
        "regulatory": {
            "gdpr_art33_3": {
                "nature": "Unauthenticated read access to referral records.",
                "categories_and_numbers": "412 records confirmed; up to 5,000 at risk.",
                "consequences": "Disclosure of health referral details.",
                "measures": "Endpoint fixed on 2024-11-21.",
            },
            "hipaa_four_factors": {
                "nature_and_extent": "Referral documents (PHI).",
                "unauthorised_person": f"Unknown actor using {EVIL_UA}.",
                "acquired_or_viewed": "Acquired: 2xx responses with record bodies.",
                "mitigation": "None possible for data already taken.",
            },
        },
        "limitations": ["The application log has no user agents.", f"Source {EVIL_PATH} has odd line ends."],
        "reproduce": {
            "command": "forensics investigate /cases/referrals.duckdb --endpoint 'GET /api/v2/referrals/{id}'",
            "tool_version": "0.1.0",
            "sql": {
                "records.confirmed": "SELECT count(DISTINCT record_id) FROM affected WHERE basis = 'confirmed'",
                "requests.to_endpoints": "SELECT count(*) FROM request_facts WHERE route IN (...)",
            },
        },
    }


def frames() -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(7)
    days = pd.date_range("2023-03-01", "2024-12-01", freq="D", tz="UTC")
    days = days[(days < "2023-07-01") | (days >= "2023-07-04")]  # the July gap has no events
    daily_volume = pd.concat(
        [
            pd.DataFrame({"source": EVIL_PATH, "day": days, "events": rng.integers(2000, 4000, len(days))}),
            pd.DataFrame(
                {
                    "source": "/evidence/app/app.jsonl",
                    "day": days,
                    "events": rng.integers(400, 900, len(days)),
                }
            ),
        ],
        ignore_index=True,
    )
    rows = []
    for day in days[::7]:
        for cls, auth, n in (
            ("2xx", "authenticated", 30),
            ("401/403", "unauthenticated", 5),
            ("404", "unknown", 2),
        ):
            rows.append(
                {"route": EVIL_ROUTE, "day": day, "status_class": cls, "auth_state": auth, "requests": n}
            )
    rows.append({"route": EVIL_ROUTE, "day": pd.Timestamp("2023-03-14", tz="UTC"), "status_class": "2xx",
                 "auth_state": "unauthenticated", "requests": 1203})  # fmt: skip
    endpoint_daily = pd.DataFrame(rows)
    start = pd.Timestamp("2023-03-14T16:21:00Z")
    enum = pd.DataFrame(
        {
            "actor_id": 7,
            "label": f"{MATH} {ANSI} actor 7 {SCRIPT}",
            "ts": [start + pd.Timedelta(seconds=60 * i) for i in range(412)],
            "record_id": [str(100000 + i) for i in range(412)],
            "y": [float(100000 + i) for i in range(412)],
            "unauthorised": True,
        }
    )
    partner = pd.DataFrame(
        {
            "actor_id": 3,
            "label": "actor 3 partner-sync/2.1",
            "ts": [pd.Timestamp("2023-04-01T00:00:00Z") + pd.Timedelta(days=6 * i) for i in range(80)],
            "record_id": [str(v) for v in rng.integers(100000, 105000, 80)],
            "y": rng.integers(100000, 105000, 80).astype(float),
            "unauthorised": False,
        }
    )
    scatter = pd.concat([enum, partner], ignore_index=True)
    response_sizes = pd.DataFrame(
        {
            "route": EVIL_ROUTE,
            "status_class": ["2xx"] * 300 + ["401/403"] * 50 + ["2xx"] * 3,
            "bytes": [*rng.integers(3000, 8000, 300), *([120] * 49), 0, 3_000_000, 2_500_000, 2_900_000],
        }
    )
    return {
        "daily_volume": daily_volume,
        "endpoint_daily": endpoint_daily,
        "scatter": scatter,
        "response_sizes": response_sizes,
    }


def excerpts() -> dict[int, list[dict]]:
    return {1: [{"path": EVIL_PATH, "line_no": 1017, "line": RAW_LINE}]}


@pytest.fixture(scope="module")
def assessment() -> Assessment:
    return Assessment(document(), excerpts=excerpts(), **frames())


@pytest.fixture(scope="module")
def empty() -> Assessment:
    doc = document("no_evidence")
    doc.update(actors=[], findings=[], sources=[], limitations=[], reasoning=[], alternatives=[])
    doc["coverage"].update(gaps=[], fields={})
    doc["records"].update(confirmed=0, probable=0, at_risk=None, estimated_bulk=0, id_range=None)
    doc["reproduce"]["sql"] = {}
    return Assessment(doc)


@pytest.fixture(scope="module")
def page(assessment: Assessment) -> str:
    return render_html(assessment)


@pytest.fixture(scope="module")
def markdown(assessment: Assessment) -> str:
    return render_markdown(assessment)


# --- HTML structure --------------------------------------------------------------------------

# what the template itself writes; anything else would have been injected
TEMPLATE_TAGS = {
    "html", "head", "meta", "title", "style", "body", "main", "header", "h1", "p", "span", "nav",
    "ol", "li", "a", "section", "h2", "h3", "div", "table", "tbody", "thead", "tr", "th", "td",
    "caption", "ul", "figure", "img", "figcaption", "pre", "details", "summary", "br", "footer",
    "colgroup", "col",
}  # fmt: skip
TEMPLATE_ATTRS = {"lang", "charset", "http-equiv", "content", "name", "class", "id", "href", "src",
                  "alt", "scope", "colspan", "data-label", "style"}  # fmt: skip


class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str, str]] = []
        self.text: list[str] = []
        self.title = ""
        self._in: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += [(tag, k, v or "") for k, v in attrs]
        if tag not in ("meta", "img", "br"):
            self._in.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if self._in and self._in[-1] == tag:
            self._in.pop()

    def handle_data(self, data: str) -> None:
        if self._in and self._in[-1] == "title":
            self.title += data
        if not self._in or self._in[-1] != "style":
            self.text.append(data)


def parse(html: str) -> Page:
    p = Page()
    p.feed(html)
    p.close()
    return p


def column_names() -> set[str]:
    """Every table column the report's content names (constants, and the field names of section 5)."""
    report = content.build(Assessment(document(), excerpts=excerpts(), **frames()))
    return {c for sec in report.sections for b in sec.blocks if isinstance(b, Table) for c in b.columns}


def check_only_template_markup(p: Page) -> None:
    names = column_names()
    assert set(p.tags) <= TEMPLATE_TAGS, set(p.tags) - TEMPLATE_TAGS
    assert "script" not in p.tags
    for tag, name, value in p.attrs:
        assert name in TEMPLATE_ATTRS, (tag, name, value)
        assert not name.startswith("on")
        if name == "href":
            assert re.fullmatch(r"#s\d+", value), value
        if name == "src":
            assert tag == "img" and value.startswith("data:image/png;base64,"), value[:60]
        if name == "class":
            assert re.fullmatch(r"[a-z0-9_ -]+", value), value
        if name == "style":  # column widths only, numbers the template computes
            assert tag == "col" and re.fullmatch(r"width: \d+(\.\d+)?%", value), (tag, value)
        if name == "data-label":  # the column's name, for the narrow-screen layout
            assert tag == "td" and value in names, value
        if name == "alt":  # a figure's alt text may quote the log, as text (escaped, quotes too)
            assert tag == "img", (tag, value)
            continue
        assert not any(h in value for h in HOSTILE), (tag, name, value)


def test_every_section_heading(page: str, markdown: str) -> None:
    p = parse(page)
    text = "".join(p.text)
    for i, title in enumerate(SECTIONS, start=1):
        assert f"{i}{title}" in text  # <h2><span class="n">i</span>title</h2>
        assert f"\n## {i}. {md(title)}\n" in markdown
    assert p.tags.count("section") == 16  # the answer (page 1) and the 15 numbered sections
    assert text.index("The answer") < text.index("1Document control")
    assert markdown.index("\n## The answer\n") < markdown.index("\n## 1. Document control\n")
    assert p.title == TITLE


def test_numbers_with_units(page: str, markdown: str) -> None:
    text = " ".join(parse(page).text)
    for expected in (
        "412 records confirmed (distinct record ids), 430 records probable, up to 5,000 records at risk.",
        "1,203 requests to the exposed endpoints in the window; 700 of them delivered a confirmed record",
        "logs cover 99.6% of the window",
        "2 days 6 h 45 min without logs",  # 197,100 s
        "617 days 17 h 20 min",  # 2023-03-14T16:20Z .. 2024-11-21T09:40Z, counted by hand
        "2,345,678 events parsed, 321 lines rejected",
        "For these periods no logs exist; we can neither confirm nor exclude access then.",
        "2023-03-14 16:21:00 to 2023-03-15 02:00:00",  # actor 7's period cell (HTML: a <br> between)
        "2.1 MB",  # actor 7's 2,109,440 bytes
        "about 120 records more; these are estimates and are not counted as confirmed",
        "2023-03-14 16:20:00 UTC \N{EN DASH} 2024-11-21 09:40:00 UTC",
        "2 days 6 h",  # the July gap
        "45 min",  # the February gap
        "25.0%",  # p_any_max
    ):
        assert expected in text, expected
        assert md(expected) in markdown, expected
    assert "✓ unchanged" in text and "✗ CHANGED since ingest" in text and "file no longer there" in text


def test_hostile_text_is_escaped_in_html(page: str) -> None:
    p = parse(page)
    check_only_template_markup(p)
    text = "".join(p.text)
    # every hostile string is visible as text, exactly (control bytes shown as \xNN)
    for s in (SCRIPT, IMG, FORMULA, "$\\alpha$", JSURL, MDLINK, RAW_LINE.replace("\x1b", "\\x1b")):
        assert s.replace("\x1b", "\\x1b") in text, s
    assert "\x1b" not in page
    assert "\\x1b[31mred\\x1b[0m" in text
    assert "<script" not in page.lower()
    assert "onerror=" not in page.replace("onerror=document", "")  # only as escaped text
    assert "&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;" in page
    assert "&#34;&gt;&lt;img src=x onerror=" in page


def test_html_is_self_contained(page: str) -> None:
    p = parse(page)
    assert ("meta", "content", "default-src 'none'; img-src data:; style-src 'unsafe-inline'") in p.attrs
    for tag, name, value in p.attrs:
        if name in ("src", "href"):
            assert not re.match(r"\s*(https?:|//|javascript:)", value, re.I), (tag, value)
    style = page[page.index("<style>") : page.index("</style>")]
    assert "url(" not in style and "@import" not in style
    assert not re.search(r"(src|href)\s*=\s*[\"']?\s*(https?:|//)", page, re.I)
    imgs = [v for t, n, v in p.attrs if n == "src"]
    assert len(imgs) == 4
    for uri in imgs:
        assert base64.b64decode(uri.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"


def test_markdown_neutralises_log_text(markdown: str) -> None:
    outside, fenced = split_fences(markdown)
    prose = "\n".join(outside)
    # no active character from a log survives unescaped outside code blocks
    for pattern in (r"(?<!\\)<", r"(?<!\\)\[x(?<!\\)\]", r"(?<!\\)\]\(", r"(?<!\\)\$\\alpha", "\x1b"):
        assert not re.search(pattern, prose), pattern
    assert md(SCRIPT) == "\\<script\\>document.title='pwned'\\</script\\>"
    assert md(MDLINK) == "\\[x\\]\\(http://evil\\)"
    assert md(FORMULA) == "=cmd\\|' /C calc'\\!A0"
    assert md("a\nb\r\n# c") == "a\\\\x0ab\\\\x0d\\\\x0a\\# c"  # newlines shown, not collapsed
    assert md(ANSI) == "\\\\x1b\\[31mred\\\\x1b\\[0m"
    assert md(MATH) == r"\$\\alpha\$ \$\\frac{\$"
    # table rows have exactly as many unescaped cell borders as the header
    for block in table_blocks(outside):
        widths = {len(re.findall(r"(?<!\\)\|", row)) for row in block}
        assert len(widths) == 1, block
    # the raw line is shown verbatim (control bytes visible) inside a fence it cannot close
    assert any(RAW_LINE.replace("\x1b", "\\x1b") in line for line in fenced)
    assert "\x1b" not in markdown


def split_fences(text: str) -> tuple[list[str], list[str]]:
    outside: list[str] = []
    fenced: list[str] = []
    fence = ""
    for line in text.split("\n"):
        m = re.match(r"(`{3,})", line)
        if fence:
            if line == fence:
                fence = ""
            else:
                fenced.append(line)
        elif m:
            fence = m.group(1)
        else:
            outside.append(line)
    assert not fence, "unclosed code fence"
    return outside, fenced


def table_blocks(lines: list[str]) -> list[list[str]]:
    blocks: list[list[str]] = []
    current: list[str] = []
    for line in [*lines, ""]:
        if line.startswith("|"):
            current.append(line)
        elif current:
            blocks.append(current)
            current = []
    return blocks


def test_markdown_fence_outlasts_backticks() -> None:
    doc = document()
    ex = {1: [{"path": "/x.log", "line_no": 3, "line": "GET /```\n# not a heading ````` end"}]}
    text = render_markdown(Assessment(doc, excerpts=ex))
    _, fenced = split_fences(text)
    assert "/x.log:3: GET /```\\x0a# not a heading ````` end" in fenced  # the newline shown


def test_deterministic(assessment: Assessment, page: str, markdown: str) -> None:
    again = Assessment(document(), excerpts=excerpts(), **frames())
    assert render_html(again) == page
    assert render_markdown(again) == markdown
    for name, plot in plots.PLOTS.items():
        first, second = plot(assessment), plot(again)
        assert plots.png(first) == plots.png(second) and first.alt == second.alt, name


def test_empty_frames_render(empty: Assessment) -> None:
    page = render_html(empty)
    p = parse(page)
    check_only_template_markup(p)
    text = " ".join(p.text)
    assert "No evidence of unauthorised access found (coverage-limited)" in text
    assert "an upper bound that is unknown" in text
    assert "no detector fired" in text and "no evidence files" in text
    assert "no period without logs in the window" in text
    assert "we can neither confirm nor exclude" not in text.replace(empty.document["bounds"]["statement"], "")
    assert len([v for t, n, v in p.attrs if n == "src"]) == 4
    text_md = render_markdown(empty)
    assert "\n## 15. How to reproduce\n" in text_md
    # the wording rule: below 'excluded' the report never says that no data was accessed
    for out in (page, text_md):
        assert "no data was accessed" not in out.lower()


def test_no_data_plots_are_small_pngs(empty: Assessment) -> None:
    for name, plot in plots.PLOTS.items():
        png = plots.png(plot(empty))
        assert png[:8] == b"\x89PNG\r\n\x1a\n", name
        if name != "coverage":  # the coverage plot still draws the window
            height = int.from_bytes(png[20:24], "big")  # IHDR height
            assert height == 120, (name, height)


def drawn_texts(monkeypatch: pytest.MonkeyPatch, assessment: Assessment) -> list[str]:
    """Every text of every plot, as drawn (tick labels exist only once a figure is drawn)."""
    texts: list[str] = []
    save = plots._png

    def capture(fig: Figure) -> bytes:
        png = save(fig)
        texts.extend(t.get_text() for t in fig.findobj(Text))
        return png

    monkeypatch.setattr(plots, "_png", capture)
    for plot in plots.PLOTS.values():
        plots.png(plot(assessment))
    return texts


def test_plot_text_is_not_mathtext(assessment: Assessment, monkeypatch: pytest.MonkeyPatch) -> None:
    texts = drawn_texts(monkeypatch, assessment)
    # "$\frac{$" is malformed mathtext: had it been parsed, drawing the legend would have raised
    assert any(t.startswith(r"$\alpha$ $\frac{$ \x1b[31mred\x1b[0m actor 7 <script>") for t in texts)
    assert not [t for t in texts if "mathdefault" in t or "\x1b" in t]
    assert {"1 kB", "10 kB", "1 MB"} <= set(texts)  # the log x-axis of response sizes
    assert {"100000", "100400"} <= set(texts)  # record ids as themselves, no offset
    assert plots.label(f"a{ANSI}\nb") == "a\\x1b[31mred\\x1b[0m\\x0ab"
    assert plots.label("x" * 100) == "x" * 59 + "…"


def test_coverage_plot_groups_small_sources(monkeypatch: pytest.MonkeyPatch) -> None:
    day = pd.Timestamp("2023-03-20", tz="UTC")
    vol = pd.DataFrame(
        {"source": [f"/ev/host{i}/access.log" for i in range(9)], "day": day, "events": range(10, 19)}
    )
    texts = drawn_texts(monkeypatch, Assessment(document(), daily_volume=vol))
    # the six biggest sources by name (folder/file), the other three as one series
    assert {f"host{i}/access.log" for i in range(3, 9)} <= set(texts)
    assert "host2/access.log" not in texts
    assert "3 other sources" in texts


def test_write_report(tmp_path: Path, assessment: Assessment, page: str, markdown: str) -> None:
    out = write_report(assessment, tmp_path / "out")
    assert out == {name: tmp_path / "out" / name for name in ("report.html", "report.md", "report.pdf")}
    assert out["report.pdf"].read_bytes().startswith(b"%PDF-")
    assert out["report.html"].read_text(encoding="utf-8") == page
    assert out["report.md"].read_text(encoding="utf-8") == markdown


def test_template_is_package_data() -> None:
    from importlib.resources import files

    assert files("forensics.publish.report").joinpath("templates/report.html.j2").is_file()


# --- a real browser --------------------------------------------------------------------------


def chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.skip("chromium is not installed")
    return exe


def test_browser_runs_nothing_from_logs(tmp_path: Path, page: str) -> None:
    exe = chromium()
    report = tmp_path / "report.html"
    report.write_text(page, encoding="utf-8")
    args = ["--headless", "--disable-gpu", "--no-sandbox", "--no-first-run", "--virtual-time-budget=2000"]
    done = subprocess.run(
        [exe, *args, f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", report.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    dom = parse(done.stdout)
    assert dom.title == TITLE  # the log's <script>/onerror would have set it to pwned
    check_only_template_markup(dom)
    text = "".join(dom.text)
    assert SCRIPT in text and IMG in text and MDLINK in text
    assert "pwned" not in dom.title


def test_screenshot_helper(tmp_path: Path, page: str) -> None:
    chromium()
    report = tmp_path / "report.html"
    report.write_text(page, encoding="utf-8")
    helper = Path(__file__).resolve().parent.parent / "bench" / "screenshot_report.py"
    subprocess.run(
        [sys.executable, str(helper), str(report), str(tmp_path / "shot.png"), "--height", "1200"],
        check=True,
        timeout=180,
    )
    data = (tmp_path / "shot.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert int.from_bytes(data[16:20], "big") == 1280


def test_unparsed_gap_says_logs_exist_but_were_not_parsed() -> None:
    doc = document()
    doc["coverage"]["gaps"] = [
        {"start": "2023-07-01T00:00:00Z", "end": "2023-07-03T06:00:00Z", "kind": "between", "rejected_lines": 0},
        {"start": "2024-02-10T12:00:00Z", "end": "2024-02-10T15:45:00Z", "kind": "unparsed",
         "rejected_lines": 1234},
    ]  # fmt: skip
    text = render_markdown(Assessment(doc, excerpts=excerpts(), **frames()))
    assert "logs not parsed: 1,234 rejected lines" in text and "| no logs" in text
    assert "For these periods no logs exist" in text
    assert "logs exist but were not parsed: 1,234 rejected log lines" in text
    assert "--log-format" in text and "forensics sources" in text
