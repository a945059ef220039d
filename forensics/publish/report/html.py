"""report.html: one self-contained page (inline CSS, plots as data: URIs, no script, no network).

Jinja2 with autoescaping renders the blocks of content.py through
``templates/report.html.j2``; every value is escaped on output, and ``finalize`` first shows
control and invisible formatting characters escaped (text.printable: ``\\x1b``, ``\\u202e``; a
value is one line, multi-line text is given line by line). Log text appears as element text, and
in attributes only in the figures' alt text (plots.py: routes and actor labels; escaped, quotes too).
A Content-Security-Policy ``<meta>`` forbids everything but inline styles and data: images, so
even a rendering mistake could not load or run anything.
"""

from __future__ import annotations

import base64
from typing import Any

import jinja2
from markupsafe import Markup

from forensics.assess.assessment import Assessment
from forensics.publish.report import content
from forensics.store.printable import printable

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def _finalize(value: Any) -> Any:
    if isinstance(value, Markup) or not isinstance(value, str):
        return value
    return printable(value)


_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("forensics.publish.report", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    finalize=_finalize,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def render_html(assessment: Assessment, figures: dict[str, bytes] | None = None) -> str:
    """The report page. ``figures`` (name → PNG, as ``plots.render_all``) is drawn when not given."""
    # matplotlib is imported here, not with the module: it cost ~1 s of every command's start-up
    from forensics.publish.report import plots

    drawn = (
        plots.render(assessment)
        if figures is None
        else {n: plots.Rendered(p, "") for n, p in figures.items()}
    )
    return _ENV.get_template("report.html.j2").render(
        report=content.build(assessment),
        images={name: data_uri(r.png) for name, r in drawn.items()},
        alts={name: r.alt for name, r in drawn.items()},  # what each plot shows, in words
        csp=CSP,
    )
