"""Shared fixtures: a fresh case per test and the committed sample evidence."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from forensics import Case
from forensics.simulate import sample

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_LOGS = ROOT / "sample_logs"  # forensics simulate output: truth.json + evidence/
SAMPLE_EVIDENCE = SAMPLE_LOGS / "evidence"
SAMPLE_PARAMS = sample.SAMPLE_PARAMS  # what sample_logs/ was simulated with (the demo of a wheel too)


def sample_truth() -> dict:  # type: ignore[type-arg]
    """The committed sample's ground truth (truth.json)."""
    return json.loads((SAMPLE_LOGS / "truth.json").read_text())  # type: ignore[no-any-return]


@pytest.fixture
def case(tmp_path: Path) -> Iterator[Case]:
    c = Case.create(tmp_path / "case.duckdb")
    yield c
    c.close()


def write_lines(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


COMBINED = [
    '203.0.113.9 - - [12/Mar/2024:10:00:00 +0000] "GET /api/v2/referrals/1 HTTP/1.1" 200 1832 "-" "curl/8.4.0"',
    '203.0.113.9 - - [12/Jul/2024:10:00:01 +0100] "GET /api/v2/referrals/2?full=1 HTTP/1.1" 200 1900 "-" "curl/8.4.0"',
    '2001:db8::1 - alice [12/Jul/2024:10:00:02 +0100] "POST /api/v2/auth/login HTTP/1.1" 302 - "https://x/" "Mozilla/5.0"',
]
