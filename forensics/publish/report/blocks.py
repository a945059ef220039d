"""The report's building blocks and how its values are written (numbers with units, UTC times).

content.py builds the sections from these; html.py and markdown.py lay them out. Every string in
a block is plain text (log text is NOT escaped yet; each renderer escapes for its medium).
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from forensics.assess.document import FindingsDocument, Source

# How long a log string may be in a table cell / excerpt before it is cut (the full text is in
# findings.json and the evidence file).
CELL_CHARS = 160
LINE_CHARS = 2000
CELL_ITEMS = 5

VERDICT_WORDS = {
    "cannot_tell": "Cannot tell: the logs cannot answer for this window",
    "excluded": "Unauthorised access excluded",
    "no_evidence": "No evidence of unauthorised access found (coverage-limited)",
    "possible": "Unauthorised access possible",
    "likely": "Unauthorised access likely",
    "confirmed": "Unauthorised access confirmed",
}
VERDICT_SCALE = (
    "cannot tell: the logs do not cover enough of the window to judge (no event in it, grade D or "
    "less than half of it covered) · "
    "excluded: full coverage, every record-bearing response attributed, nothing unexplained · "
    "no evidence found: nothing found in the logs that exist, which is limited by coverage · "
    "possible: signals that do not rule access out · likely: strong signals, no record-level proof · "
    "confirmed: record-level proof of records sent to an unauthorised caller"
)
GRADE_WORDS = {
    "A": "complete and field-sufficient",
    "B": "complete but missing a key field",
    "C": "partial",
    "D": "none",
}
GDPR_FIELDS = (
    ("nature", "Nature of the breach"),
    ("categories_and_numbers", "Categories and approximate numbers of data subjects and records"),
    ("consequences", "Likely consequences"),
    ("measures", "Measures taken or proposed"),
)
HIPAA_FIELDS = (
    ("nature_and_extent", "1. Nature and extent of the PHI involved"),
    ("unauthorised_person", "2. The unauthorised person who used or received it"),
    ("acquired_or_viewed", "3. Whether the PHI was actually acquired or viewed"),
    ("mitigation", "4. The extent to which the risk has been mitigated"),
)


# --- blocks -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """A table cell: from … to …, UTC (said in the column header)."""

    first: str
    last: str
    kind: str = "period"


Cell = str | list[str] | Period  # a list is shown as one line per item


@dataclass(frozen=True)
class Para:
    text: str
    kind: str = "para"
    style: str = ""  # "" | "note"


@dataclass(frozen=True)
class Verdict:
    verdict: str  # the document's code, used for colour
    headline: str
    text: str
    kind: str = "verdict"


@dataclass(frozen=True)
class Facts:
    """Label → value pairs (a definition list / two-column table)."""

    pairs: list[tuple[str, Cell]]
    kind: str = "facts"


@dataclass(frozen=True)
class Items:
    items: list[str]
    kind: str = "items"


@dataclass(frozen=True)
class Table:
    columns: list[str]
    rows: list[list[Cell]]
    numeric: frozenset[int] = frozenset()  # right-aligned column indexes
    text: frozenset[int] = frozenset()  # columns of long log text (may wrap anywhere)
    mono: frozenset[int] = frozenset()  # hashes and other fixed-width values
    nowrap: frozenset[int] = frozenset()  # times: one line each
    caption: str = ""
    empty: str = "none"
    more: str = ""  # what is not shown and where it is (a file beside the report)
    kind: str = "table"

    def widths(self) -> list[float]:
        """Each column's share of the table width in percent (print lays tables out fixed).

        A column gets room for its longest word (header or cell, in characters, at most
        ``WORD``), so print breaks no short word; long log text (``text``, ``mono``) gets at least
        ``LONG`` and wraps anywhere."""
        weights = []
        for i, header in enumerate(self.columns):
            words = [len(w) for w in header.split()]
            for row in self.rows[:WIDTH_ROWS]:
                words.extend(len(w) for w in _words(row[i]) if i < len(row))
            longest = min(max(words, default=1), WORD)
            weights.append(PAD + (max(longest, LONG) if i in self.text or i in self.mono else longest))
        total = sum(weights) or 1.0
        return [math.floor(1000 * w / total) / 10 for w in weights]  # never more than 100% in all


WORD = 15  # characters: the longest word a column makes room for (an IPv4 address)
LONG = 14  # characters: the least room for a column of long log text
PAD = 1.5  # characters: a cell's padding
WIDTH_ROWS = 200  # rows looked at for the widths


def _words(cell: Cell) -> list[str]:
    if isinstance(cell, Period):
        return [*cell.first.split(), *cell.last.split()]
    if isinstance(cell, str):
        return cell.split()
    return [w for item in cell for w in str(item).split()]


@dataclass(frozen=True)
class Numbers:
    """A few large figures side by side: (value, label, what it means)."""

    figures: list[tuple[str, str, str]]
    caption: str = ""
    kind: str = "numbers"


@dataclass(frozen=True)
class Figure:
    name: str  # key of plots.PLOTS
    caption: str
    kind: str = "figure"


@dataclass(frozen=True)
class Pre:
    """Verbatim text (raw evidence lines, a command line), one entry per line."""

    lines: list[str]
    caption: str = ""
    kind: str = "pre"


@dataclass(frozen=True)
class Details:
    """A collapsed block of verbatim text (the SQL behind a number)."""

    summary: str
    text: str
    kind: str = "details"


@dataclass(frozen=True)
class Heading:
    text: str
    kind: str = "heading"


Block = Para | Verdict | Facts | Items | Table | Numbers | Figure | Pre | Details | Heading


@dataclass(frozen=True)
class Section:
    number: int
    title: str
    blocks: list[Block] = field(default_factory=list)

    @property
    def anchor(self) -> str:
        return f"s{self.number}"


@dataclass(frozen=True)
class Content:
    title: str
    subtitle: str
    verdict: str
    verdict_headline: str
    answer: list[Block]  # page 1: the answer (answer.py)
    footer: str  # the document's identity on every printed page: case and findings.json SHA-256
    sections: list[Section]


# --- formatting ---------------------------------------------------------------------------------


def num(value: Any, unknown: str = "unknown") -> str:
    """An integer with thousands separators; None → ``unknown``."""
    if value is None:
        return unknown
    return f"{int(value):,}"


def count(value: Any, unit: str, plural: str | None = None) -> str:
    """``1,203 requests`` / ``1 request``."""
    if value is None:
        return f"unknown number of {plural or unit + 's'}"
    return f"{num(value)} {unit if int(value) == 1 else plural or unit + 's'}"


def percent(ratio: Any) -> str:
    return "unknown" if ratio is None else f"{float(ratio) * 100:.1f}%"


def when(iso: Any, suffix: str = " UTC") -> str:
    """The document's ISO 8601 UTC time as ``2023-03-14 16:20:00 UTC``; None → ``—``."""
    if iso is None or iso == "":
        return "—"
    text = str(iso)
    try:
        ts = datetime.fromisoformat(text)
    except ValueError:
        return text
    if ts.tzinfo is None:
        return text
    return ts.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") + suffix


def duration(seconds: Any) -> str:
    """``443 days 17 h 20 min`` (no seconds unless under a minute)."""
    if seconds is None:
        return "unknown"
    s = round(float(seconds))
    if s < 60:
        return f"{s} s"
    days, rest = divmod(s, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = []
    if days:
        parts.append(count(days, "day"))
    if hours:
        parts.append(f"{hours} h")
    if minutes:
        parts.append(f"{minutes} min")
    return " ".join(parts) or "0 min"


def size(nbytes: Any) -> str:
    """``12.4 MB`` (decimal units), None → unknown."""
    if nbytes is None:
        return "unknown"
    n = float(nbytes)
    for unit in ("bytes", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{int(n):,} bytes" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1000
    raise AssertionError("unreachable")


def cut(text: Any, limit: int = CELL_CHARS) -> str:
    """Log text shortened for display, saying how long it was."""
    s = "—" if text is None else str(text)
    if len(s) <= limit:
        return s
    return f"{s[:limit]}… ({len(s):,} characters)"


def cell_list(values: Iterable[Any] | None, limit: int = CELL_ITEMS) -> list[str]:
    vals = [cut(v) for v in (values or [])]
    if not vals:
        return ["—"]
    if len(vals) > limit:
        return [*vals[:limit], f"+{len(vals) - limit:,} more"]
    return vals


def span(start: Any, end: Any) -> str:
    """``<start> \N{EN DASH} <end>``, both as :func:`when` writes them."""
    return f"{when(start)} \N{EN DASH} {when(end)}"


def period(first: Any, last: Any) -> Cell:
    """A table cell: first and last time, UTC (said in the column header)."""
    if not first and not last:
        return "—"
    return Period(when(first, ""), when(last, ""))


def yes_no(flag: Any) -> str:
    return "yes" if flag else "no"


def verified(flag: Any) -> str:
    if flag is None:
        return "— (file no longer there)"
    return "✓ unchanged" if flag else "✗ CHANGED since ingest"


def natural_key(text: Any) -> tuple[tuple[int, int | str], ...]:
    """Sort key putting ``access.log.2`` before ``access.log.10`` (digit runs compare as numbers)."""
    parts = re.split(r"(\d+)", str(text))
    return tuple((1, int(p)) if i % 2 else (0, p) for i, p in enumerate(parts))


def evidence_digest(sources: Sequence[Source]) -> str:
    """SHA-256 over the sorted ``"<sha256>  <path>"`` lines of the evidence files (a manifest)."""
    lines = sorted(f"{s.get('sha256') or '-'}  {s.get('path')}\n" for s in sources)
    return hashlib.sha256("".join(lines).encode("utf-8", "backslashreplace")).hexdigest()


def headline(doc: FindingsDocument) -> str:
    """The verdict's words, and how little of the window the logs cover when they cover it in part."""
    words = VERDICT_WORDS.get(str(doc["verdict"]), str(doc["verdict"]))
    ratio = float(doc["coverage"]["ratio"])
    if doc["verdict"] != "cannot_tell" and ratio < 0.99:
        words += f" — the logs cover {ratio:.0%} of the window"
    return words
