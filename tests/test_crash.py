"""Crash safety: SIGKILL during ingest and investigate, and a full disk, leave a consistent case
and report folder; the next run completes with the same result as a run never interrupted."""

from __future__ import annotations

import errno
import random
import resource
import shutil
import subprocess
from pathlib import Path

import pytest

from forensics import Case
from forensics.ingest.verify import verify
from tests.reliability import (
    INVESTIGATE_ARGS,
    INVESTIGATE_EXIT,
    SAMPLE_EVIDENCE,
    KillReport,
    case_state,
    forensics,
    kill_and_rerun,
    output_hashes,
    run,
)

KILLS = 3


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, float, float]:
    """A case and report made without interruption, and how long each command took."""
    d = tmp_path_factory.mktemp("ref")
    code, t_ingest, err = run(forensics("ingest", d / "case.duckdb", SAMPLE_EVIDENCE))
    assert code == 0, err
    code, t_inv, err = run(forensics("investigate", d / "case.duckdb", *INVESTIGATE_ARGS, "--out", d / "out"))
    assert code == INVESTIGATE_EXIT, err
    return d / "case.duckdb", d / "out", t_ingest, t_inv


def test_ingest_killed_then_rerun_matches_a_clean_ingest(
    reference: tuple[Path, Path, float, float], tmp_path: Path
) -> None:
    ref_case, _, t_ingest, _ = reference
    rng = random.Random(7)
    delays = sorted(rng.uniform(0.35, 0.95) * t_ingest for _ in range(KILLS))
    report = KillReport("ingest")
    case_path = tmp_path / "case.duckdb"
    kill_and_rerun(forensics("ingest", case_path, SAMPLE_EVIDENCE), delays, case_path, report)
    assert report.problems == []
    assert report.kills >= 1
    assert case_state(case_path) == case_state(ref_case)  # nothing lost, nothing twice


def test_investigate_killed_then_rerun_writes_the_same_report(
    reference: tuple[Path, Path, float, float], tmp_path: Path
) -> None:
    ref_case, ref_out, _, t_inv = reference
    case_path = tmp_path / "case.duckdb"
    shutil.copy(ref_case, case_path)
    out = tmp_path / "out"
    rng = random.Random(11)
    delays = sorted(rng.uniform(0.35, 0.95) * t_inv for _ in range(KILLS))
    report = KillReport("investigate")
    cmd = forensics("investigate", case_path, *INVESTIGATE_ARGS, "--out", out)
    kill_and_rerun(cmd, delays, case_path, report, ok=INVESTIGATE_EXIT)
    assert report.problems == []
    assert report.kills >= 1
    assert output_hashes(out, tmp_path) == output_hashes(ref_out, ref_out.parent)
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in ref_out.iterdir())  # no leftovers


def _run_with_file_limit(cmd: list[str], max_bytes: int) -> subprocess.CompletedProcess[str]:
    """Run with RLIMIT_FSIZE: a write past ``max_bytes`` fails with EFBIG, as on a full disk."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, max_bytes))

    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, preexec_fn=limit)


def test_disk_full_during_ingest_is_a_clear_error_and_the_case_survives(
    reference: tuple[Path, Path, float, float], tmp_path: Path
) -> None:
    ref_case, _, _, _ = reference
    case_path = tmp_path / "case.duckdb"
    code, _, err = run(forensics("ingest", case_path, SAMPLE_EVIDENCE / "edge" / "nginx" / "access.log"))
    assert code == 0, err
    before = case_state(case_path)
    full = _run_with_file_limit(forensics("ingest", case_path, SAMPLE_EVIDENCE), 300_000)
    assert full.returncode == 1
    assert "cannot write to" in full.stderr and "File too large" in full.stderr
    assert "Traceback" not in full.stderr
    with Case.open(case_path) as case:
        assert verify(case).ok
    assert set(before) <= set(case_state(case_path))  # what was committed is still there
    code, _, err = run(forensics("ingest", case_path, SAMPLE_EVIDENCE))
    assert code == 0, err
    assert case_state(case_path) == case_state(ref_case)


def test_disk_full_while_writing_the_report_keeps_the_previous_report(
    reference: tuple[Path, Path, float, float], tmp_path: Path
) -> None:
    ref_case, ref_out, _, _ = reference
    case_path = tmp_path / "case.duckdb"
    shutil.copy(ref_case, case_path)
    out = tmp_path / "out"
    shutil.copytree(ref_out, out)
    marker = out / "findings.json"
    marker.write_text('{"previous": true}\n')
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    cmd = forensics("investigate", case_path, *INVESTIGATE_ARGS, "--out", out)
    full = _run_with_file_limit(cmd, 2_000)  # nothing past 2 kB: neither the case nor the report
    assert full.returncode == 1, full.stderr
    assert "Traceback" not in full.stderr
    assert "cannot write" in full.stderr
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # untouched, no partial files
    with Case.open(case_path) as case:
        assert verify(case).ok


def test_report_writer_failing_midway_leaves_the_previous_files(
    reference: tuple[Path, Path, float, float], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from forensics.assess.compute import InvestigateOptions, assess
    from forensics.errors import ForensicsError
    from forensics.publish import writers as outputs

    ref_case, ref_out, _, _ = reference
    out = tmp_path / "out"
    shutil.copytree(ref_out, out)
    (out / ".report.md.partial").write_text("left by a killed run")
    before = {p.name: p.read_bytes() for p in out.iterdir() if not p.name.endswith(".partial")}

    def no_space(case: object, assessment: object, path: Path) -> None:
        path.write_text("half")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setitem(outputs.WRITERS, "timeline.jsonl", no_space)  # the last file fails
    shutil.copy(ref_case, tmp_path / "case.duckdb")
    with Case.open(tmp_path / "case.duckdb") as case:
        result = assess(case, InvestigateOptions())
        with pytest.raises(
            ForensicsError, match=r"No space left on device.*files already there are unchanged"
        ):
            outputs.write_outputs(case, result, out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
