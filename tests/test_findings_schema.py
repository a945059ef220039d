"""The findings.json document against its published JSON Schema (issue 18).

The schema is made from the TypedDicts in forensics/assess/document.py and shipped as package
data (forensics/assess/findings.schema.json); it is versioned with the document (``SCHEMA``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from forensics import Case
from forensics.assess import assessment, document
from forensics.assess.compute import InvestigateOptions, assess
from forensics.publish.pseudonymise import Pseudonymisation
from forensics.publish.writers import write_outputs
from tests.eventrows import add_events
from tests.test_assess import DETECT, WINDOW, monitor, read, staff

SHIPPED = Path(document.__file__).with_name(document.SCHEMA_FILE)


def _validator() -> jsonschema.Draft202012Validator:
    schema = document.shipped_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _errors(doc: dict[str, Any]) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in _validator().iter_errors(doc)]


def test_the_shipped_schema_is_what_the_types_give() -> None:
    regenerate = 'python -c "from forensics.assess.document import write_schema; write_schema()"'
    assert SHIPPED.read_text() == document.schema_text(), regenerate
    assert document.shipped_schema() == document.json_schema()


def test_the_schema_is_versioned_with_the_document() -> None:
    schema = document.shipped_schema()
    assert assessment.SCHEMA == document.SCHEMA == "forensics.findings/2"
    assert document.SCHEMA in schema["title"] and document.SCHEMA.replace("/", "-") in schema["$id"]
    root = schema["$defs"][schema["$ref"].rsplit("/", 1)[1]]
    assert root["properties"]["schema"] == {"enum": [document.SCHEMA]}


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """findings.json of a small case, plain and pseudonymised."""
    tmp = tmp_path_factory.mktemp("schema")
    attack = [read("203.0.113.9", 2000 + i, 500 + i, ua="curl/8") for i in range(30)]
    with Case.create(tmp / "case.duckdb") as case:
        add_events(case, sorted(monitor() + staff() + attack, key=lambda r: r["ts"]))
        done = assess(case, InvestigateOptions(detect=DETECT, window=WINDOW, command="forensics investigate"))
        plain = write_outputs(case, done, tmp / "plain")["findings.json"]
        pz, _ = Pseudonymisation.for_case(tmp / "case.duckdb", tmp / "shared", None)
        shared = write_outputs(case, done, tmp / "shared", pz)["findings.json"]
    return plain, shared


def test_findings_json_validates(written: tuple[Path, Path]) -> None:
    for path in written:
        doc = json.loads(path.read_text())
        assert _errors(doc) == [], path
    assert json.loads(written[1].read_text())["pseudonymisation"] is not None


def test_the_schema_catches_a_wrong_document(written: tuple[Path, Path]) -> None:
    doc = json.loads(written[0].read_text())
    doc["verdict"] = "maybe"
    doc["records"]["confirmd"] = 1  # a typo in a key
    del doc["window"]["start"]
    doc["actors"][0]["requests"] = "many"
    errors = _errors(doc)
    assert any("'maybe' is not one of" in e for e in errors)
    assert any("'confirmd' was unexpected" in e for e in errors)
    assert any("'start' is a required property" in e for e in errors)
    assert any("'many' is not valid" in e for e in errors)
