"""report.pdf: the report page (html.py) printed to A4 by WeasyPrint.

Why WeasyPrint: it is a maintained HTML/CSS-to-PDF library in Python (BSD), driven by the same
page the browser shows, with CSS Paged Media (``@page`` margin boxes for page numbers and the
document's identity in every footer, ``string-set``, repeated table headers); it needs Pango, a
system library, and no browser. A headless browser's print-to-PDF would need a browser binary on
every machine that writes a report, and its footers cannot carry the document's hash.

The print rules are in the page's own ``@media print`` / ``@page`` CSS. Nothing is fetched: the
page's images are ``data:`` URIs, and the URL fetcher refuses every other scheme (a file:, http:
or any other reference is left out, never read). The PDF carries no creation or modification
date (the page has no ``dcterms`` dates), and its identifier is derived from its content, so the
same assessment gives the same bytes.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # WeasyPrint (and Pango) load only when a PDF is made
    import weasyprint

# CSS the page carries for browsers that WeasyPrint does not know; its warnings about them are noise
_QUIET = ("Ignored", "Invalid or unsupported", "Unsupported", "Expected a media type", "Invalid media type")


class _Quiet(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(_QUIET)


def _fetcher() -> Any:
    import weasyprint.urls

    class DataOnly(weasyprint.urls.URLFetcher):  # type: ignore[misc]
        """Only ``data:`` URLs; anything else is refused (and so left out of the PDF)."""

        def __init__(self) -> None:
            # the scheme is checked in fetch(): WeasyPrint 68's own check (allowed_protocols) splits
            # on '://' and so refuses every data: URL, leaving the report's plots out of the PDF
            super().__init__(timeout=1, allow_redirects=False)

        def fetch(self, url: str, headers: Any = None) -> Any:
            if not url.lower().startswith("data:"):
                raise ValueError(f"report.pdf fetches nothing but data: URLs, not {url[:40]!r}")
            return super().fetch(url, headers)

    return DataOnly()


def layout(page: str) -> weasyprint.Document:
    """The page laid out on A4 pages (WeasyPrint's document: pages and their boxes)."""
    import weasyprint

    logger = logging.getLogger("weasyprint")
    quiet = _Quiet()
    logger.addFilter(quiet)
    try:
        return weasyprint.HTML(string=page, url_fetcher=_fetcher(), media_type="print").render()
    finally:
        logger.removeFilter(quiet)


def pdf_bytes(page: str) -> bytes:
    """The page as a PDF: A4, tagged off, no dates, content-derived identifier."""
    data = layout(page).write_pdf(pdf_identifier=None, custom_metadata=False)
    assert data is not None
    return bytes(data)
