"""One investigation as the case log records it: log the start, assess, write the outputs, log
what was produced (the verdict, the counts, each output file's SHA-256). The CLI's
``investigate`` and notebooks use the same function, so both leave the same custody trail."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from forensics.assess.assessment import Assessment
from forensics.assess.compute import InvestigateOptions, assess
from forensics.publish.pseudonymise import Pseudonymisation
from forensics.publish.writers import locked_folder, write_outputs_hashed
from forensics.store.case import Case
from forensics.store.entry import logged as custody_entry


@dataclass(frozen=True)
class Investigation:
    assessment: Assessment
    written: dict[str, Path]  # file name -> path
    log_head: str  # the case log's head hash after the run: note it outside the case
    notes: list[str] = field(default_factory=list)  # the report folder tightened, leftovers removed


def investigate(
    case: Case,
    options: InvestigateOptions,
    out_dir: Path,
    pseudonymise: Pseudonymisation | None = None,
    logged: dict[str, Any] | None = None,
) -> Investigation:
    """Assess ``case`` and write the report files into ``out_dir``, logging both ends.

    ``logged`` adds what the caller wants in the log entry (the CLI: the window as typed).
    The report folder is locked for the whole run (a second run into it is refused), and the
    log records the SHA-256 of the files this run wrote, hashed before they were renamed.
    """
    notes: list[str] = []
    with locked_folder(out_dir, notes):
        return _investigate(case, options, out_dir, pseudonymise, logged, notes)


def _investigate(
    case: Case,
    options: InvestigateOptions,
    out_dir: Path,
    pseudonymise: Pseudonymisation | None,
    logged: dict[str, Any] | None,
    notes: list[str],
) -> Investigation:
    parameters = {
        **options.detect.to_dict(),
        "window": options.window.to_dict() if options.window else None,
        "records_total": options.records_total,
        "out": str(out_dir),
        "pseudonymise": pseudonymise is not None,
        **(logged or {}),
    }
    with custody_entry(case, "investigate", parameters) as entry:  # what runs inside logs nothing more
        result = assess(case, options)
        with case.writing() as source:  # on Spark: a DuckDB over the tables Spark wrote
            written = write_outputs_hashed(source, result, out_dir, pseudonymise=pseudonymise)
        doc = result.doc
        entry.result = {
            "verdict": doc["verdict"],
            "window": [doc["window"]["start"], doc["window"]["end"]],
            "records": {k: doc["records"][k] for k in ("confirmed", "probable", "estimated_bulk")},
            "outputs": {name: {"path": str(w.path), "sha256": w.sha256} for name, w in written.items()},
        }
        if pseudonymise is not None:
            entry.result["pseudonym_key_fingerprint"] = pseudonymise.key.fingerprint
    paths = {name: w.path for name, w in written.items()}
    return Investigation(result, paths, case.log_head(), notes)
