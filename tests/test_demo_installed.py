"""`forensics demo` without a source checkout (an installed wheel): the sample is simulated anew
with the committed seed, and the answer is the checkout's (issue 18). The wheel itself: .ci/wheel-demo."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from forensics.assess import document
from forensics.cli import main
from forensics.simulate import sample


def _demo(folder: Path) -> dict:  # type: ignore[type-arg]
    res = CliRunner().invoke(main, ["demo", "--case", str(folder / "d.duckdb"), "--out", str(folder / "r")])
    assert res.exit_code == 0, res.output
    assert "verdict: confirmed" in res.output
    doc = json.loads((folder / "r" / "findings.json").read_text())
    jsonschema.validate(doc, document.shipped_schema(), cls=jsonschema.Draft202012Validator)
    return doc  # type: ignore[no-any-return]


def test_demo_without_sample_logs_simulates_the_same_sample(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "checkout").mkdir()
    (tmp_path / "wheel").mkdir()
    checkout = _demo(tmp_path / "checkout")
    monkeypatch.setattr(sample, "CHECKOUT_SAMPLE", tmp_path / "no-checkout" / "sample_logs")
    wheel = _demo(tmp_path / "wheel")
    made = tmp_path / "wheel" / "d-sample-logs"
    assert (made / "truth.json").is_file() and (made / "evidence").is_dir()
    for key in ("verdict", "verdict_text", "records", "actor_counts", "window"):
        assert wheel[key] == checkout[key], key
    for key in ("ratio", "grade", "events"):  # the coverage's sources name other paths
        assert wheel["coverage"][key] == checkout["coverage"][key], key
    assert len(wheel["findings"]) == len(checkout["findings"])
    again = sample.sample_logs(made)  # a later run reuses the simulated sample
    assert again == made
