"""Two runs into one report folder, leftovers of killed runs, and a full disk (issue 16)."""

from __future__ import annotations

import errno
import hashlib
import importlib
import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from forensics import Case, ingest
from forensics.assess.compute import InvestigateOptions
from forensics.cli import main
from forensics.errors import ForensicsError
from forensics.publish import writers as outputs
from forensics.publish.investigate import investigate
from tests.conftest import COMBINED, write_lines

ARGS = ["--endpoint", "GET /api/v2/referrals/{id}", "--window", "2024-03-01T00:00:00Z/2024-08-01T00:00:00Z"]
HOLD = (
    "import fcntl, os, sys, time\n"
    "fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)\n"
    "fcntl.flock(fd, fcntl.LOCK_EX)\n"
    "os.write(fd, str(os.getpid()).encode())\n"
    "print('locked', flush=True)\n"
    "time.sleep(120)\n"
)


@pytest.fixture
def small_case(tmp_path: Path) -> Path:
    case_path = tmp_path / "case.duckdb"
    with Case.create(case_path) as case:
        ingest(case, [write_lines(tmp_path / "ev" / "access.log", COMBINED)])
    return case_path


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[tuple[Path, subprocess.Popen[str]]]:
    """Another process holding the lock of folder ``out``."""
    out = tmp_path / "out"
    out.mkdir(mode=0o700)
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(out / outputs.LOCK)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    yield out, proc
    proc.kill()
    proc.wait()


def _commands(case_path: Path) -> list[str]:
    with Case.open(case_path, read_only=True) as case:
        return [str(r[0]) for r in case.con.execute("SELECT command FROM case_log ORDER BY seq").fetchall()]


def test_a_second_run_into_a_folder_in_use_is_refused(
    small_case: Path, holder: tuple[Path, subprocess.Popen[str]]
) -> None:
    out, proc = holder
    before = _commands(small_case)
    result = CliRunner().invoke(main, ["investigate", str(small_case), *ARGS, "--out", str(out)])
    assert result.exit_code == 1, result.output
    assert f"is being written by another run (process {proc.pid})" in result.output
    assert "Nothing was written" in result.output
    assert _commands(small_case) == before  # refused before it logged or wrote anything
    assert sorted(p.name for p in out.iterdir()) == [outputs.LOCK]


def test_leftovers_of_dead_runs_are_removed_and_a_live_runs_kept(
    tmp_path: Path, holder: tuple[Path, subprocess.Popen[str]]
) -> None:
    _, live = holder
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    out = tmp_path / "out2"
    out.mkdir(mode=0o700)
    names = [
        f".report.md.{dead.pid}-0a1b2c3d.partial",
        f".timeline.jsonl.{dead.pid}-0a1b2c3d.partial.slice",
        ".findings.json.partial",  # an older version's name
        f".report.html.{live.pid}-deadbeef.partial",
        "report.md",
    ]
    for name in names:
        (out / name).write_text("x")
    notes: list[str] = []
    with outputs.locked_folder(out, notes):
        left = sorted(p.name for p in out.iterdir())
    assert left == sorted([outputs.LOCK, f".report.html.{live.pid}-deadbeef.partial", "report.md"])
    assert notes == [f"removed 3 temporary file(s) a killed run left in {out}"]
    assert not (out / outputs.LOCK).exists()  # released and removed


def test_the_log_records_the_hashes_of_the_files_this_run_wrote(
    small_case: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The probe: another run replacing the files between this run's rename and its hashing made
    the case log record hashes of files this run did not write."""
    out = tmp_path / "out"
    wrote: dict[str, str] = {}
    real_replace = os.replace

    def replace_then_overwrite(src: str | Path, dst: str | Path) -> None:
        wrote[Path(dst).name] = hashlib.sha256(Path(src).read_bytes()).hexdigest()
        real_replace(src, dst)
        if Path(dst).parent == out:
            Path(dst).write_bytes(b"another run's file\n")  # what a concurrent run would do

    monkeypatch.setattr(os, "replace", replace_then_overwrite)
    with Case.open(small_case) as case:
        done = investigate(case, InvestigateOptions(), out)
        (params,) = case.con.execute(
            "SELECT parameters FROM case_log WHERE command = 'investigate finished'"
        ).fetchone()  # type: ignore[misc]
    logged = {name: o["sha256"] for name, o in json.loads(params)["outputs"].items()}
    assert set(logged) == set(outputs.WRITERS) == set(done.written)
    assert logged == {name: wrote[name] for name in logged}


def test_temporary_names_are_unique_per_run(
    small_case: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []
    writer = outputs.WRITERS["report.md"]

    def spy(case: Case, assessment: object, path: Path) -> object:
        seen.append(path.name)
        return writer(case, assessment, path)  # type: ignore[arg-type]

    monkeypatch.setitem(outputs.WRITERS, "report.md", spy)
    with Case.open(small_case) as case:
        investigate(case, InvestigateOptions(), tmp_path / "a")
        investigate(case, InvestigateOptions(), tmp_path / "a")
    assert len(seen) == 2 and seen[0] != seen[1]
    assert all(n.startswith(f".report.md.{os.getpid()}-") and n.endswith(".partial") for n in seen)


def test_a_report_folder_others_can_read_is_tightened(small_case: Path, tmp_path: Path) -> None:
    out = tmp_path / "shared"
    out.mkdir()
    os.chmod(out, 0o755)
    result = CliRunner().invoke(main, ["investigate", str(small_case), *ARGS, "--out", str(out)])
    assert result.exit_code not in (1, 2), result.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    assert "was readable by others (mode 0755): tightened to 0700" in result.output


def test_disk_full_writing_the_report_says_so(
    small_case: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_space(case: object, assessment: object, path: Path) -> None:
        path.write_text("half")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setitem(outputs.WRITERS, "timeline.jsonl", no_space)
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["investigate", str(small_case), *ARGS, "--out", str(out)])
    assert result.exit_code == 1
    assert "the disk is full" in result.output and "--out a folder on another disk" in result.output
    assert not out.exists()  # nothing written, and the folder this run created is removed
    with pytest.raises(ForensicsError, match="the disk is full"), Case.open(small_case) as case:
        investigate(case, InvestigateOptions(), out)


@pytest.mark.parametrize(
    "error",
    [
        duckdb.IOException('IO Error: Could not write file "case.duckdb.wal": No space left on device'),
        duckdb.TransactionException(
            "TransactionContext Error: Current transaction is aborted (please ROLLBACK)"
        ),
    ],
)
def test_disk_full_during_ingest_is_one_clear_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: duckdb.Error
) -> None:
    """The probe: a full disk during ingest said "Current transaction is aborted"."""
    case_module = importlib.import_module("forensics.store.case")
    ingest_module = importlib.import_module("forensics.ingest.run")

    def fail(*args: object, **kwargs: object) -> None:
        raise error

    monkeypatch.setattr(ingest_module, "commit_batch", fail)
    monkeypatch.setattr(case_module, "disk_nearly_full", lambda path: True)  # what ENOSPC leaves
    evidence = write_lines(tmp_path / "ev" / "access.log", COMBINED)
    result = CliRunner().invoke(main, ["ingest", str(tmp_path / "case.duckdb"), str(evidence)])
    assert result.exit_code == 1, result.output
    lines = [ln for ln in result.output.splitlines() if ln.startswith("Error:")]
    assert len(lines) == 1, result.output
    assert "the disk is full" in lines[0] and "put the case on another disk" in lines[0]
    assert "Free space on that disk" in lines[0]


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")
def test_disk_full_during_ingest_on_a_real_full_disk(tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {mounted.stderr!r}")
    try:
        line = COMBINED[0]
        evidence = write_lines(tmp_path / "ev" / "big.log", [line] * 60_000)
        proc = subprocess.run(
            [sys.executable, "-m", "forensics", "ingest", str(disk / "case.duckdb"), str(evidence)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode == 1, proc.stderr
        assert "Traceback" not in proc.stderr and "transaction is aborted" not in proc.stderr
        assert "the disk is full" in proc.stderr and "put the case on another disk" in proc.stderr
    finally:
        subprocess.run(["umount", str(disk)], check=False)
