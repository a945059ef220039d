"""Write an assessment's files into the report folder (created owner-only: it holds personal data).

The registry ``WRITERS`` names every file and the function that writes it; all are written
under temporary names and then renamed, so an interrupted run never leaves a half-written file
or a mix of two runs' files. With ``pseudonymise`` (pseudonymise.py) every file is the shareable
version and the mapping file is written outside the folder.

Two runs into one folder: the folder is locked (``locked_folder``) for the duration of a run; a
second run is refused at once, naming the process that holds it, and nothing of it is written.
Temporary names carry the process id and a random token (``.report.html.<pid>-<token>.partial``);
a run removes the temporary files of processes that no longer exist (a killed run). The SHA-256
of each file is taken from the temporary file this run wrote, before it is renamed into place.
A folder that others may read (group/other permission bits) is tightened to 0700.
"""

from __future__ import annotations

import fcntl
import os
import re
import secrets
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb

from forensics.assess.assessment import Assessment
from forensics.errors import ForensicsError
from forensics.ingest.evidence import sha256_file
from forensics.publish import report
from forensics.publish.machine import (
    findings_json,
    write_actors_csv,
    write_affected_csv,
    write_evidence_csv,
    write_findings_csv,
    write_timeline,
)
from forensics.publish.pseudonym_key import Pseudonymiser
from forensics.publish.pseudonymise import (
    TIMELINE_JOINS,
    TIMELINE_SHOWN,
    Pseudonymisation,
    cleanup,
    prepare,
    pseudonymise_assessment,
    write_mapping,
)
from forensics.store.case import Case, is_disk_full
from forensics.store.stages import stage


def _text(render: Callable[[Assessment], str]) -> Callable[[Case, Assessment, Path], object]:
    def write(case: Case, assessment: Assessment, path: Path) -> None:
        path.write_text(render(assessment), encoding="utf-8")

    return write


def _rendered(writer: Callable[[Assessment, Path], None]) -> Callable[[Case, Assessment, Path], object]:
    return lambda case, assessment, path: writer(assessment, path)


PARTIAL = ".partial"
LOCK = ".forensics-out.lock"
# .<file>.<pid>-<token>.partial (and the timeline's .partial.slice); older versions: .<file>.partial
PARTIAL_RE = re.compile(r"^\.(?P<name>.+?)(?:\.(?P<pid>\d+)-[0-9a-f]+)?\.partial(?:\.slice)?$")
_HELD: set[Path] = set()  # folders this process holds the lock of


@dataclass(frozen=True)
class Written:
    path: Path
    sha256: str  # of the bytes this run wrote (hashed before the rename)


WRITERS: dict[str, Callable[[Case, Assessment, Path], object]] = {
    **{name: _rendered(writer) for name, writer in report.WRITERS.items()},  # report.html/.md/.pdf
    "findings.json": _text(findings_json),
    "affected_records.csv": write_affected_csv,
    "actors.csv": lambda case, a, path: write_actors_csv(a, path),
    "findings.csv": lambda case, a, path: write_findings_csv(a, path),
    "evidence.csv": lambda case, a, path: write_evidence_csv(a, path),
    "timeline.jsonl": lambda case, a, path: _timeline(case, a, path),
}


def _timeline(case: Case, assessment: Assessment, path: Path) -> int:
    if assessment.doc.get("pseudonymisation"):  # made by pseudonymise_assessment, after prepare
        return write_timeline(case, assessment, path, TIMELINE_SHOWN, TIMELINE_JOINS)
    return write_timeline(case, assessment, path)


def write_outputs(
    case: Case, assessment: Assessment, out_dir: Path, pseudonymise: Pseudonymisation | None = None
) -> dict[str, Path]:
    """Every file of ``WRITERS`` in ``out_dir``; ``{file name: path}`` (``write_outputs_hashed``
    also gives the SHA-256 of the bytes this run wrote)."""
    return {name: w.path for name, w in write_outputs_hashed(case, assessment, out_dir, pseudonymise).items()}


def write_outputs_hashed(
    case: Case, assessment: Assessment, out_dir: Path, pseudonymise: Pseudonymisation | None = None
) -> dict[str, Written]:
    """Every file of ``WRITERS`` in ``out_dir``; ``{file name: Written(path, sha256)}``.

    With ``pseudonymise``, record ids, addresses and principals are pseudonyms in every file and
    the mapping (pseudonym → value) goes to ``pseudonymise.mapping``, outside ``out_dir``.
    """
    if pseudonymise is not None:
        pseudonymise.check_outside(out_dir)
    with locked_folder(out_dir):
        if pseudonymise is None:
            return _write_all(case, assessment, out_dir)
        pz = Pseudonymiser(pseudonymise.key)
        try:
            prepare(case, pz)
            written = _write_all(case, pseudonymise_assessment(case, assessment, pz), out_dir)
            write_mapping(case, pz, pseudonymise.mapping)
        finally:
            cleanup(case)
        return written


@contextmanager
def locked_folder(out_dir: Path, notes: list[str] | None = None) -> Iterator[None]:
    """Hold ``out_dir`` (created 0700, or tightened to 0700) for one run; refuse when another holds it.

    Re-entrant within a process. ``notes`` receives what was changed (a tightened mode, leftovers
    of killed runs removed)."""
    key = out_dir.absolute()
    if key in _HELD:
        yield
        return
    notes = notes if notes is not None else []
    created = _missing(key)
    fd = _lock(out_dir, notes)
    _HELD.add(key)
    try:
        _remove_leftovers(out_dir, notes)
        yield
    finally:
        _HELD.discard(key)
        (out_dir / LOCK).unlink(missing_ok=True)  # while still held: a waiting run re-checks the inode
        os.close(fd)
        _remove_empty(created)


def _missing(folder: Path) -> list[Path]:
    """``folder`` and those of its parents that do not exist yet, deepest first."""
    missing = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    return missing


def _remove_empty(created: list[Path]) -> None:
    """The folders this run created and left empty (a refused run writes nothing): removed, deepest
    first, so a refusal leaves no trace; a folder another run has begun to use is not empty."""
    for folder in created:
        try:
            folder.rmdir()
        except OSError:  # not empty (written, or taken by another run), or gone
            return


def _lock(out_dir: Path, notes: list[str]) -> int:
    try:
        for _ in range(5):
            out_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            mode = stat.S_IMODE(out_dir.stat().st_mode)
            if mode & 0o077:
                os.chmod(out_dir, 0o700)
                notes.append(
                    f"the report folder {out_dir} was readable by others (mode {mode:04o}): tightened to "
                    "0700, since the report holds personal data"
                )
            try:
                fd = os.open(out_dir / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
            except FileNotFoundError:  # a refused run removed the folder it had created: retry
                continue
            if _take(fd, out_dir):
                return fd
            os.close(fd)
    except OSError as exc:
        raise ForensicsError(_cannot_write(f"cannot create the report folder {out_dir}", exc)) from exc
    raise ForensicsError(f"cannot lock the report folder {out_dir}: other runs keep replacing its lock")


def _take(fd: int, out_dir: Path) -> bool:
    """Lock ``fd``; False when the file was removed meanwhile (retry), an error when another holds it."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 32).decode("ascii", "replace").strip()
        os.close(fd)
        raise ForensicsError(
            f"the report folder {out_dir} is being written by another run"
            + (f" (process {holder})" if holder.isdigit() else "")
            + "; wait for it to finish or give another --out. Nothing was written."
        ) from None
    try:
        if os.fstat(fd).st_ino != os.stat(out_dir / LOCK).st_ino:
            return False
    except FileNotFoundError:  # the run before removed it after we opened it
        return False
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    return True


def _remove_leftovers(out_dir: Path, notes: list[str]) -> None:
    """Temporary files of runs whose process is gone (killed), and of older versions."""
    removed = 0
    for path in out_dir.glob(".*.partial*"):
        m = PARTIAL_RE.match(path.name)
        if m is None or (m["pid"] is not None and pid_alive(int(m["pid"]))):
            continue
        path.unlink(missing_ok=True)
        removed += 1
    if removed:
        notes.append(f"removed {removed} temporary file(s) a killed run left in {out_dir}")


def pid_alive(pid: int) -> bool:
    """A process with this id runs (one of ours, or another user's: not ours to remove)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _write_all(case: Case, assessment: Assessment, out_dir: Path) -> dict[str, Written]:
    """Write every file under a temporary name, then rename them all into place.

    A run that fails (disk full) or is killed leaves the folder's previous files as they were:
    nothing is renamed until every file is written, and leftovers of a killed run are removed.
    """
    token = f"{os.getpid()}-{secrets.token_hex(4)}"
    staged: dict[str, tuple[Path, Path]] = {}
    hashes: dict[str, str] = {}
    try:
        for name, write in WRITERS.items():
            final, tmp = out_dir / name, out_dir / f".{name}.{token}{PARTIAL}"
            staged[name] = (tmp, final)
            with stage(case.con, f"write: {name}"):
                write(case, assessment, tmp)
            os.chmod(tmp, 0o600)
            hashes[name] = sha256_file(tmp)
    except (OSError, duckdb.IOException) as exc:
        for tmp, _ in staged.values():
            tmp.unlink(missing_ok=True)
        where = f"cannot write the report in {out_dir}"
        raise ForensicsError(_cannot_write(where, exc) + "; the files already there are unchanged") from exc
    for tmp, final in staged.values():
        os.replace(tmp, final)
    return {name: Written(final, hashes[name]) for name, (_, final) in staged.items()}


def _cannot_write(where: str, exc: BaseException) -> str:
    detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if is_disk_full(exc):
        return (
            f"{where}: the disk is full ({detail}). Free space on that disk, or give --out a folder "
            "on another disk, and run again"
        )
    return f"{where} ({detail})"
