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
