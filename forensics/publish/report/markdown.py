"""report.md: the report's content as GitHub-flavoured Markdown, for tickets and e-mail.

The same blocks as the HTML page (content.py), no images (the figures are in report.html; the
text says so). Every value is made inert: control and invisible formatting characters shown
escaped (text.printable: ``\\x1b``, ``\\x0a``, ``\\u202e``) and Markdown's active characters
backslash-escaped, so no log string can become a link, an
image, emphasis, a heading, a table cell border, math or raw HTML. Verbatim blocks (raw evidence
lines, SQL) go in fenced code blocks whose fence is longer than any backtick run inside them,
where nothing is interpreted.
"""

from __future__ import annotations

import re

from forensics.assess.assessment import Assessment
from forensics.publish.report import blocks as content
from forensics.publish.report.blocks import Block, Cell
from forensics.publish.report.content import build
from forensics.store.printable import printable

_ACTIVE = re.compile(r"([\\`*_\[\]()<>#|~!&$])")  # $: GitHub renders $…$ as math


def md(text: object) -> str:
    """One line of inert Markdown text (a newline in it is shown as ``\\x0a``)."""
    return _ACTIVE.sub(r"\\\1", printable(text))


def _cell(value: Cell) -> str:
    if isinstance(value, content.Period):
        return f"{md(value.first)} to {md(value.last)}"
    return "; ".join(md(v) for v in value) if isinstance(value, list) else md(value)


def _fence(lines: list[str], info: str = "") -> list[str]:
    body = [printable(line) for line in lines]
    longest = max((len(run) for line in body for run in re.findall(r"`+", line)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence + info, *body, fence]


def _block(b: Block) -> list[str]:
    if isinstance(b, content.Para):
        if b.style == "lead":
            return [f"**{md(b.text)}**", ""]
        return [f"*{md(b.text)}*" if b.style == "note" else md(b.text), ""]
    if isinstance(b, content.Heading):
        return [f"### {md(b.text)}", ""]
    if isinstance(b, content.Verdict):
        return [f"> **Verdict: {md(b.headline)}**", ">", f"> {md(b.text)}", ""]
    if isinstance(b, content.Facts):
        return [*(f"- **{md(label)}:** {_cell(v)}" for label, v in b.pairs), ""]
    if isinstance(b, content.Items):
        return [*(f"- {md(item)}" for item in b.items), ""]
    if isinstance(b, content.Table):
        return _table(b)
    if isinstance(b, content.Numbers):
        head = [md(b.caption), ""] if b.caption else []
        return [
            *head,
            *(f"- **{md(value)} {md(label)}**: {md(note)}" for value, label, note in b.figures),
            "",
        ]
    if isinstance(b, content.Figure):
        return [f"*Figure ({md(b.name)}): {md(b.caption)} See report.html.*", ""]
    if isinstance(b, content.Pre):
        head = [f"{md(b.caption)}:", ""] if b.caption else []
        return [*head, *_fence(b.lines, "text"), ""]
    if isinstance(b, content.Details):
        return [f"**{md(b.summary)}**", "", *_fence(b.text.splitlines() or [""], "sql"), ""]
    raise TypeError(f"unknown block {type(b).__name__}")


def _table(t: content.Table) -> list[str]:
    out = []
    if t.caption:
        out += [md(t.caption), ""]
    if not t.rows:
        return [*out, f"*{md(t.empty)}*", ""]
    out.append("| " + " | ".join(md(c) for c in t.columns) + " |")
    out.append("|" + "|".join("---:" if i in t.numeric else "---" for i in range(len(t.columns))) + "|")
    out += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in t.rows]
    return [*out, "", *([f"*{md(t.more)}*", ""] if t.more else [])]


def render_markdown(assessment: Assessment) -> str:
    """The report as Markdown text (ends with a newline)."""
    report = build(assessment)
    lines = [
        f"# {md(report.title)}",
        "",
        md(report.subtitle),
        "",
        f"*{md(report.footer)}*",
        "",
        "## The answer",
        "",
    ]
    for b in report.answer:
        lines += _block(b)
    lines += [
        "*Figures are in report.html and report.pdf; this text carries the same numbers and findings.*",
        "",
    ]
    for s in report.sections:
        lines += [f"## {s.number}. {md(s.title)}", ""]
        for b in s.blocks:
            lines += _block(b)
    return "\n".join(lines).rstrip("\n") + "\n"
