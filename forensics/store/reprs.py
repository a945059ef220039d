"""Rich notebook displays (``_repr_html_``) for the Case and the Assessment.

Every value shown may come from a log (a path, a verdict sentence quoting nothing but numbers
today, tomorrow perhaps more), so each is made printable (text.printable: control and invisible
characters as ``\\xNN``) and then HTML-escaped; the markup itself is constant.
"""

from __future__ import annotations

import html
from collections.abc import Iterable

from forensics.store.printable import printable


def html_table(title: str, rows: Iterable[tuple[str, str]]) -> str:
    """A two-column table headed ``title``: one row per (name, value), all text escaped."""
    left = 'style="text-align:left"'
    body = "".join(
        f"<tr><th {left}>{_esc(name)}</th><td {left}>{_esc(value)}</td></tr>" for name, value in rows
    )
    return f'<table class="forensics"><caption {left}><b>{_esc(title)}</b></caption>{body}</table>'


def _esc(text: object) -> str:
    return html.escape(printable(text), quote=True)
