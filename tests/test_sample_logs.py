"""The committed sample_logs/ are exactly what the generator writes (nothing hand-edited)."""

from __future__ import annotations

from pathlib import Path

from tests import sample_gen
from tests.conftest import SAMPLE_LOGS


def test_sample_logs_regenerate_identically(tmp_path: Path) -> None:
    sample_gen.write(tmp_path)
    made = {p.relative_to(tmp_path): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    committed = {p.relative_to(SAMPLE_LOGS): p.read_bytes()
                 for p in SAMPLE_LOGS.rglob("*") if p.is_file()}
    assert made.keys() == committed.keys()
    for rel, data in made.items():
        assert data == committed[rel], rel
