"""The report writers: an Assessment (assessment.py) rendered into files in an output folder.

``WRITERS`` maps each output file name to the function that writes it; ``write_report`` runs
them all. Rendering reads nothing but the Assessment (no case, no clock), so output is
deterministic. report.html and report.pdf are one page: it is rendered (plots included) once
per assessment and printed to A4 by pdf.py.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from forensics.assess.assessment import Assessment
from forensics.publish.report.html import render_html
from forensics.publish.report.markdown import render_markdown

_LAST: list[tuple[Assessment, str]] = []  # the last page rendered, kept for the PDF of the same run


def page(assessment: Assessment) -> str:
    """report.html's text, rendered once per assessment (the PDF prints the same page)."""
    if _LAST and _LAST[0][0] is assessment:
        return _LAST[0][1]
    html = render_html(assessment)
    _LAST[:] = [(assessment, html)]
    return html


def _write_html(assessment: Assessment, path: Path) -> None:
    path.write_text(page(assessment), encoding="utf-8", newline="\n")


def _write_markdown(assessment: Assessment, path: Path) -> None:
    path.write_text(render_markdown(assessment), encoding="utf-8", newline="\n")


def _write_pdf(assessment: Assessment, path: Path) -> None:
    from forensics.publish.report.pdf import pdf_bytes  # WeasyPrint loads only when a PDF is made

    path.write_bytes(pdf_bytes(page(assessment)))


# output file name -> writer(assessment, path)
WRITERS: dict[str, Callable[[Assessment, Path], None]] = {
    "report.html": _write_html,
    "report.md": _write_markdown,
    "report.pdf": _write_pdf,
}


def write_report(assessment: Assessment, out_dir: Path) -> dict[str, Path]:
    """Write every output into ``out_dir`` (created if missing); ``{file name: path}``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, writer in WRITERS.items():
        writer(assessment, out / name)
        written[name] = out / name
    return written


__all__ = ["WRITERS", "page", "render_html", "render_markdown", "write_report"]
