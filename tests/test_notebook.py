"""The walkthrough notebook runs top to bottom against the public API."""

from __future__ import annotations

import json
import os
from pathlib import Path

import matplotlib
import pytest

from tests.conftest import ROOT, SAMPLE_LOGS


def test_notebook_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    matplotlib.use("Agg")
    nb = json.loads((ROOT / "notebooks" / "investigation.ipynb").read_text())
    (tmp_path / "sample_logs").symlink_to(SAMPLE_LOGS)
    monkeypatch.chdir(tmp_path)
    ns: dict[str, object] = {}
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            exec(compile("".join(cell["source"]), "notebook", "exec"), ns)
    assert os.path.exists("notebook-case.duckdb")
    enum = ns["case"].sql(  # type: ignore[attr-defined]
        "select count(*) n, count(distinct e.path) d from events e join sources using (source_id) "
        "where client_ip = '159.65.3.7' and format = 'combined'")
    # the sample's enumerator read 60 ids once each (the app log records the same 60 again)
    assert (enum["n"][0], enum["d"][0]) == (60, 60)
    assert ns["wide"].shape[0] >= 12  # type: ignore[attr-defined]  # one row per day
    reads = ns["reads"]
    # the largest unauthenticated reader is the distributed enumerator: 200 ids from 40 addresses
    assert reads["records"].iloc[0] == 200  # type: ignore[index]
