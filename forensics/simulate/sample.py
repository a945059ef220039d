"""The demo's sample: ``sample_logs/`` of a source checkout, or the same evidence simulated anew.

``sample_logs/`` at the top of the repository is what ``simulate(out, **SAMPLE_PARAMS)`` writes
(tests/test_simulate.py compares them, decompressed). An installed wheel carries no
``sample_logs/``; ``sample_logs`` then writes the same simulation into a folder of its own and
reuses it on the next run. The evidence is the same line for line, so the demo's verdict is too;
compressed files may differ in bytes (another zlib), so their SHA-256s may.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from forensics.simulate import TRUTH_FILE, simulate

SAMPLE_PARAMS: dict[str, Any] = {"seed": 7, "days": 30, "scale": 0.25, "start": date(2024, 3, 12)}
CHECKOUT_SAMPLE = Path(__file__).resolve().parents[2] / "sample_logs"


def sample_logs(generate_into: Path, checkout: Path | None = None) -> Path:
    """The sample's folder (``truth.json`` + ``evidence/``): ``checkout`` (``CHECKOUT_SAMPLE``) when
    it holds one, else ``generate_into``, simulated there with ``SAMPLE_PARAMS`` unless an earlier
    run did."""
    checkout = CHECKOUT_SAMPLE if checkout is None else checkout
    if (checkout / TRUTH_FILE).is_file():
        return checkout
    if not (generate_into / TRUTH_FILE).is_file():
        simulate(generate_into, **SAMPLE_PARAMS)
    return generate_into
