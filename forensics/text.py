"""Untrusted text made visible: control bytes (ANSI escapes included) shown as ``\\xNN``.

Log text reaches terminals, reports and plots; a control byte must never act on any of them.
"""

from __future__ import annotations

import re

CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: object) -> str:
    """``text`` with control bytes written as ``\\xNN`` (tab and newline kept)."""
    return CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(text))
