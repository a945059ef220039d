"""Reading a report.pdf as a printer would: pages, and boxes that stick out of the page's text area."""

from __future__ import annotations

from typing import Any


def overflowing(document: Any, tolerance: float = 0.5) -> list[tuple[int, str, float, str]]:
    """Boxes of a WeasyPrint layout (pdf.layout) whose right edge passes the page's content area:
    (page number, box type, points too far, its text). Footers (margin boxes) are not content."""
    from weasyprint.formatting_structure import boxes

    bad = []
    for number, page in enumerate(document.pages, start=1):
        page_box = page._page_box
        right = page_box.content_box_x() + page_box.width
        for child in page_box.children:
            if isinstance(child, boxes.MarginBox):
                continue
            for box in child.descendants():
                if box.width is None:
                    continue
                edge = box.border_box_x() + box.border_width()
                if edge > right + tolerance:
                    bad.append(
                        (number, type(box).__name__, round(edge - right, 1), getattr(box, "text", "")[:40])
                    )
    return bad


def broken_words(document: Any, shorter_than: int = 12) -> list[tuple[int, str, str]]:
    """Words under ``shorter_than`` characters that a data table's cell breaks across lines (the
    columns of long log text, ``td.text`` and ``td.mono``, may wrap anywhere): (page number, the
    fragment printed on a line, the cell's text)."""
    from weasyprint.formatting_structure import boxes

    bad = []
    for number, page in enumerate(document.pages, start=1):
        for box in page._page_box.descendants():
            if not isinstance(box, boxes.TableCellBox) or box.element is None:
                continue
            if box.element_tag not in ("td", "th") or box.element.get("class") in ("text", "mono"):
                continue
            source = {w for part in box.element.itertext() for w in part.split()}
            for line in box.descendants():
                if not isinstance(line, boxes.LineBox):
                    continue
                text = "".join(t.text for t in line.descendants() if isinstance(t, boxes.TextBox))
                for word in text.split():
                    whole = [w for w in source if word in w and w != word]
                    if word not in source and whole and min(len(w) for w in whole) < shorter_than:
                        bad.append((number, word, " ".join(sorted(source))[:60]))
    return bad
