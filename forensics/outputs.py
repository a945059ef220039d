"""Write an assessment's files into the report folder (created owner-only: it holds personal data).

The registry ``WRITERS`` names every file and the function that writes it; all are written
under temporary names and then renamed, so an interrupted run never leaves a half-written file
or a mix of two runs' files. With ``pseudonymise`` (pseudonymise.py) every file is the shareable
version and the mapping file is written outside the folder.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import duckdb

from forensics import report
from forensics.assessment import Assessment
from forensics.case import Case
from forensics.errors import ForensicsError
from forensics.export import findings_json, write_affected_csv, write_timeline
from forensics.pseudonym import Pseudonymiser
from forensics.pseudonymise import (
    TIMELINE_JOINS,
    TIMELINE_SHOWN,
    Pseudonymisation,
    cleanup,
    prepare,
    pseudonymise_assessment,
    write_mapping,
)


def _text(render: Callable[[Assessment], str]) -> Callable[[Case, Assessment, Path], object]:
    def write(case: Case, assessment: Assessment, path: Path) -> None:
        path.write_text(render(assessment), encoding="utf-8")

    return write


def _rendered(writer: Callable[[Assessment, Path], None]) -> Callable[[Case, Assessment, Path], object]:
    return lambda case, assessment, path: writer(assessment, path)


PARTIAL = ".partial"

WRITERS: dict[str, Callable[[Case, Assessment, Path], object]] = {
    **{name: _rendered(writer) for name, writer in report.WRITERS.items()},  # report.html, report.md
    "findings.json": _text(findings_json),
    "affected_records.csv": lambda case, a, path: write_affected_csv(a, path),
    "timeline.jsonl": lambda case, a, path: _timeline(case, a, path),
}


def _timeline(case: Case, assessment: Assessment, path: Path) -> int:
    if assessment.document.get("pseudonymisation"):  # made by pseudonymise_assessment, after prepare
        return write_timeline(case, path, TIMELINE_SHOWN, TIMELINE_JOINS)
    return write_timeline(case, path)


def write_outputs(
    case: Case, assessment: Assessment, out_dir: Path, pseudonymise: Pseudonymisation | None = None
) -> dict[str, Path]:
    """Every file of ``WRITERS`` in ``out_dir``; ``{file name: path}``.

    With ``pseudonymise``, record ids, addresses and principals are pseudonyms in every file and
    the mapping (pseudonym → value) goes to ``pseudonymise.mapping``, outside ``out_dir``.
    """
    if pseudonymise is not None:
        pseudonymise.check_outside(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        for stale in out_dir.glob(f".*{PARTIAL}"):
            stale.unlink()
    except OSError as exc:
        raise ForensicsError(f"cannot create the report folder {out_dir}: {exc}") from exc
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


def _write_all(case: Case, assessment: Assessment, out_dir: Path) -> dict[str, Path]:
    """Write every file under a temporary name, then rename them all into place.

    A run that fails (disk full) or is killed leaves the folder's previous files as they were:
    nothing is renamed until every file is written, and leftovers of a killed run are removed.
    """
    staged: dict[str, tuple[Path, Path]] = {}
    try:
        for name, write in WRITERS.items():
            final, tmp = out_dir / name, out_dir / f".{name}{PARTIAL}"
            staged[name] = (tmp, final)
            write(case, assessment, tmp)
            os.chmod(tmp, 0o600)
    except (OSError, duckdb.IOException) as exc:
        for tmp, _ in staged.values():
            tmp.unlink(missing_ok=True)
        raise ForensicsError(
            f"cannot write the report in {out_dir} ({exc}); the files already there are unchanged"
        ) from exc
    for tmp, final in staged.values():
        os.replace(tmp, final)
    return {name: final for name, (_, final) in staged.items()}
