"""The walkthrough notebook runs top to bottom in a real Jupyter kernel (nbclient + ipykernel,
the ``[notebook]`` extra), as a reader would run it: no ipywidgets installed, nothing executed
with ``exec()`` in the test's own process."""

from __future__ import annotations

import json
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

from tests.conftest import ROOT, SAMPLE_LOGS, sample_truth

NOTEBOOK = ROOT / "notebooks" / "investigation.ipynb"
KERNEL = "forensics-test"  # a kernel spec of our own: this venv's Python, whatever else is installed

# Appended to the executed copy only: reads the kernel's state after the walkthrough.
CHECK = """
import json as _json
_enum_ip = {enum_ip!r}
_got = case.sql(
    "select count(*) n, count(distinct e.path) d from events e join sources using (source_id) "
    "where client_ip = ? and format = 'combined'", [_enum_ip])
print(_json.dumps({{
    "enum": [int(_got["n"][0]), int(_got["d"][0])],
    "top_reads": int(reads["records"].iloc[0]),
    "read_classes": sorted(set(reads["class"])),
    "verdict": doc["verdict"],
    "affected": sorted(map(str, affected_records(case, result)["record_id"])),
    "gaps_hours": [int(h) for h in gaps["hours"]],
    "endpoints_plotted": sorted(set(result.endpoint_daily["route"])),
    "sizes_plotted": sorted(set(result.response_sizes["route"])),
    "report": Path("notebook-report/report.html").exists(),
}}))
"""


@pytest.fixture
def kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    spec = tmp_path / "jupyter" / "kernels" / KERNEL
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": KERNEL, "language": "python"})
    )
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))  # searched before any other folder
    return KERNEL


def outputs(cell: Any) -> list[Any]:
    return list(cell.get("outputs", []))


def text_of(cell: Any) -> str:
    parts = []
    for o in outputs(cell):
        parts.append(o.get("text", ""))
        parts.extend(str(v) for k, v in o.get("data", {}).items() if k.startswith("text/"))
    return "\n".join(parts)


def test_notebook_runs_in_a_real_kernel(tmp_path: Path, kernel: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nbformat warns (MissingIDFieldWarning) when cells lack ids
        nb = nbformat.read(NOTEBOOK, as_version=4)
        nbformat.validate(nb)
    assert (nb.nbformat, nb.nbformat_minor) >= (4, 5) and all(c.get("id") for c in nb.cells)
    names = [c.id for c in nb.cells]
    truth = {a["name"]: a for a in sample_truth()["actors"]}
    enum = truth["enumerator"]
    nb.cells.append(nbformat.v4.new_code_cell(CHECK.format(enum_ip=enum["ips"][0]), id="test-check"))
    work = tmp_path / "run"
    work.mkdir()
    (work / "sample_logs").symlink_to(SAMPLE_LOGS)
    started = time.monotonic()
    NotebookClient(nb, timeout=180, kernel_name=kernel, resources={"metadata": {"path": str(work)}}).execute()
    print(f"notebook executed in {time.monotonic() - started:.1f} s")  # shown with -s
    cells = dict(zip([*names, "test-check"], nb.cells, strict=True))

    errors = [o for c in nb.cells for o in outputs(c) if o["output_type"] == "error"]
    assert not errors  # nbclient raises first; this keeps the reason if allow_errors is ever set
    everything = "\n".join(text_of(c) for c in nb.cells)
    assert "ipywidgets" not in everything and "Traceback" not in everything
    # the rich reprs: the case and the assessment as escaped HTML tables
    case_html = [o["data"]["text/html"] for o in outputs(cells["ingest"]) if "text/html" in o.get("data", {})]
    assert case_html and "evidence files" in case_html[0] and "events" in case_html[0]
    answer = [o["data"]["text/html"] for o in outputs(cells["assess"]) if "text/html" in o.get("data", {})]
    assert answer and "confirmed" in answer[0] and "grade" in answer[0]
    # tqdm's bar ran to the end in text (no ipywidgets here)
    assert "100%" in text_of(cells["ingest"]) and "done" in text_of(cells["ingest"])
    # images: the coverage chart and the record-id panels
    for name in ("coverage", "scatter"):
        assert any("image/png" in o.get("data", {}) for o in outputs(cells[name])), name
    assert "a walk up the ids" in text_of(cells["scatter"])

    got = json.loads(text_of(cells["test-check"]))
    # the single-IP enumerator: its burst (one id each, all answered) and its retry after the fix
    assert got["enum"] == [enum["requests"], len(enum["records_unauthorised"])]
    # the largest unauthenticated reader is the distributed enumerator, one actor across its nights
    dist = len(truth["enumerator-distributed"]["records_unauthorised"])
    assert len(enum["records_unauthorised"]) <= got["top_reads"] and got["top_reads"] >= dist
    assert set(got["read_classes"]) <= {"unknown", "scanner"}
    assert got["verdict"] == "confirmed"
    got_ids, want = set(got["affected"]), set(sample_truth()["records"]["unauthorised"])
    assert len(got_ids & want) >= 0.95 * len(want) and len(got_ids & want) >= 0.95 * len(got_ids)
    assert got["report"]
    # the coverage chart's gaps: the sample's 2.7-day outage (truth.json) is one of them
    gap = sample_truth()["gaps"][0]
    assert any(60 <= h <= 68 for h in got["gaps_hours"]), (got["gaps_hours"], gap)
    # the list endpoint of the bulk download is in the requests and response-size plots
    for key in ("endpoints_plotted", "sizes_plotted"):
        assert "GET /api/v2/referrals" in got[key], got[key]
