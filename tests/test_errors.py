"""Errors a notebook can read (issue 18): an unknown name's closest known names are data on the
exception (``candidates``), from the one did-you-mean helper (``errors.closest``)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from forensics import Case, IngestOptions, forget, ingest
from forensics.detectors.run import DetectOptions, parse_threshold, run_detectors
from forensics.errors import DetectorError, ForensicsError, UnknownFormatError, closest
from forensics.formats import get_format
from tests.conftest import COMBINED, write_lines

PACKAGE = Path(__file__).resolve().parents[1] / "forensics"


def test_closest_is_the_one_did_you_mean() -> None:
    assert closest("enumeraton", ["enumeration", "bulk", "scanner"]) == ["enumeration"]
    assert closest("zzz", ["enumeration"]) == []
    users = sorted(
        str(p.relative_to(PACKAGE))
        for p in PACKAGE.rglob("*.py")
        for node in ast.walk(ast.parse(p.read_text()))
        if isinstance(node, ast.Import | ast.ImportFrom)
        and any(a.name == "difflib" for a in node.names) | (getattr(node, "module", None) == "difflib")
    )
    assert users == ["errors.py"]


def test_unknown_format_carries_the_closest() -> None:
    with pytest.raises(UnknownFormatError, match="Did you mean 'combined'") as exc:
        get_format("combind")
    assert exc.value.candidates == {"combind": ["combined"]}


def test_unknown_detector_and_threshold_carry_the_closest(case: Case) -> None:
    with pytest.raises(DetectorError, match="did you mean enumeration") as exc:
        parse_threshold("enumeraton.min_requests=3")
    assert exc.value.candidates == {"enumeraton": ["enumeration"]}
    with pytest.raises(DetectorError) as exc:
        parse_threshold("enumeration.min_request=3")
    assert exc.value.candidates == {"min_request": ["min_requests"]}
    with pytest.raises(DetectorError) as exc:
        run_detectors(case, DetectOptions(detectors=("scaner",)))
    assert exc.value.candidates == {"scaner": ["scanner"]}


def test_unknown_source_and_zone_carry_the_closest(case: Case, tmp_path: Path) -> None:
    log = write_lines(tmp_path / "ev" / "access.log", COMBINED)
    ingest(case, [log])
    with pytest.raises(ForensicsError, match="close candidates") as exc:
        forget(case, [str(tmp_path / "ev" / "acess.log")])
    assert exc.value.candidates == {str(tmp_path / "ev" / "acess.log"): [f"1 {log}"]}
    with pytest.raises(ForensicsError, match="Did you mean Europe/London") as exc:
        ingest(case, [log], IngestOptions(tz="BST"))
    assert exc.value.candidates == {"BST": ["Europe/London"]}


def test_other_errors_have_no_candidates() -> None:
    assert ForensicsError("anything").candidates == {}
