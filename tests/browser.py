"""A report page measured in headless Chromium, as a reader's screen shows it.

The page goes into an ``<iframe srcdoc>`` of the given width inside a probe page: the iframe's
viewport is that width (Chromium's headless window cannot be narrower than about 500 px), its
media queries apply, and the report keeps its own Content-Security-Policy (no script runs inside
it). The probe's script, outside the report, measures the report's DOM after load and writes the
result into the probe's DOM, which ``--dump-dom`` prints.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
)  # fmt: skip

PROBE = """<!DOCTYPE html><html><body style="margin:0">
<iframe id="f" width="{width}" height="{height}" style="border:0" srcdoc="{page}"></iframe>
<script>
document.getElementById("f").addEventListener("load", function () {{
  var d = this.contentDocument, vw = d.documentElement.clientWidth, bad = [];
  d.querySelectorAll("body *").forEach(function (el) {{
    var r = el.getBoundingClientRect();
    if (r.width > 0 && r.right > vw + 1) bad.push(el.tagName + "." + el.className + " right=" + Math.round(r.right));
    else if (el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1)  // content spills out of (or scrolls in) its box
      bad.push(el.tagName + "." + el.className + " content " + el.scrollWidth + " > " + el.clientWidth);
  }});
  var lines = [];  // how many lines each headline figure takes
  d.querySelectorAll(".numbers .big").forEach(function (el) {{
    lines.push(Math.round(el.getBoundingClientRect().height / parseFloat(getComputedStyle(el).lineHeight)));
  }});
  function bottom(sel) {{ var e = d.querySelector(sel); return e ? e.getBoundingClientRect().bottom : null; }}
  var out = document.createElement("output");
  out.id = "probe";
  out.textContent = JSON.stringify({{
    viewport: vw, scroll_width: d.documentElement.scrollWidth, overflowing: bad.slice(0, 20),
    count: bad.length, verdict_bottom: bottom(".verdict-headline"), numbers_bottom: bottom(".numbers"),
    title: d.title, figure_lines: lines
  }});
  document.body.appendChild(out);
}});
</script></body></html>"""


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def measure(page: str, width: int, height: int = 800) -> dict[str, Any]:
    """Lay out ``page`` (report.html's text) ``width`` CSS px wide and measure it."""
    exe = chromium()
    assert exe is not None
    with tempfile.TemporaryDirectory(prefix="probe-") as tmp:
        probe = Path(tmp) / "probe.html"
        probe.write_text(PROBE.format(width=width, height=height, page=html.escape(page, quote=True)))
        done = subprocess.run(
            [exe, *FLAGS, f"--user-data-dir={tmp}/profile", f"--window-size={width + 120},{height + 100}",
             "--virtual-time-budget=10000", "--dump-dom", probe.as_uri()],
            capture_output=True, text=True, timeout=180, check=False,
        )  # fmt: skip
    m = re.search(r'<output id="probe">(.*?)</output>', done.stdout, re.S)
    assert m, f"chromium printed no measurement: {done.stderr[-500:]}"
    result: dict[str, Any] = json.loads(html.unescape(m.group(1)))
    return result
