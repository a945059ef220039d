"""The committed sample_logs/ are what the generator writes (nothing hand-edited).

Compared after decompression, so a different zlib/zstd build in CI cannot fail it.
"""

from __future__ import annotations

from pathlib import Path

from forensics.evidence import TruncatedError, describe, iter_chunks
from tests import sample_gen
from tests.conftest import SAMPLE_LOGS


def content(path: Path) -> tuple[str, bytes]:
    ev = describe(path)
    data = b""
    try:
        for chunk in iter_chunks(path, ev.compression):
            data += chunk
    except TruncatedError:
        data += b"<truncated>"
    return ev.compression, data


def test_sample_logs_regenerate_identically(tmp_path: Path) -> None:
    sample_gen.write(tmp_path)
    made = {p.relative_to(tmp_path): content(p) for p in tmp_path.rglob("*") if p.is_file()}
    committed = {p.relative_to(SAMPLE_LOGS): content(p)
                 for p in SAMPLE_LOGS.rglob("*") if p.is_file()}
    assert made.keys() == committed.keys()
    for rel, data in made.items():
        assert data == committed[rel], rel
