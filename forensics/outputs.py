"""Write an assessment's files into the report folder (created owner-only: it holds personal data).

The registry ``WRITERS`` names every file and the function that writes it; each writes to a
temporary name and renames, so an interrupted run never leaves a half-written file under the
final name. With ``pseudonymise`` (pseudonymise.py) every file is the shareable version and the
mapping file is written outside the folder.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

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
    written = {}
    for name, write in WRITERS.items():
        final = out_dir / name
        tmp = out_dir / f".{name}.partial"
        try:
            write(case, assessment, tmp)
            os.chmod(tmp, 0o600)
            os.replace(tmp, final)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise ForensicsError(f"cannot write {final}: {exc}") from exc
        written[name] = final
    return written
