"""The report writers: an Assessment (assessment.py) rendered into files in an output folder.

``WRITERS`` maps each output file name to the function that writes it; ``write_report`` runs
them all. Rendering reads nothing but the Assessment (no case, no clock), so output is
deterministic.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from forensics.assessment import Assessment
from forensics.report.html import render_html
from forensics.report.markdown import render_markdown


def _write_html(assessment: Assessment, path: Path) -> None:
    path.write_text(render_html(assessment), encoding="utf-8", newline="\n")


def _write_markdown(assessment: Assessment, path: Path) -> None:
    path.write_text(render_markdown(assessment), encoding="utf-8", newline="\n")


# output file name -> writer(assessment, path)
WRITERS: dict[str, Callable[[Assessment, Path], None]] = {
    "report.html": _write_html,
    "report.md": _write_markdown,
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


__all__ = ["WRITERS", "render_html", "render_markdown", "write_report"]
