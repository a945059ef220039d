"""One ingest command over a mixed evidence folder: an AWSLogs ALB tree, application JSON logs
and rotated nginx files (plain, gzip, bz2), as a responder receives them."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

from click.testing import CliRunner

from forensics import Case
from forensics.cli import main
from tests.conftest import SAMPLE_EVIDENCE, sample_truth
from tests.test_aws import alb


def test_mixed_folder_in_one_command(tmp_path: Path) -> None:
    evidence = tmp_path / "evidence"
    shutil.copytree(SAMPLE_EVIDENCE / "edge", evidence / "edge")  # nginx: access.log, .1, .N.gz, one bz2
    shutil.copytree(SAMPLE_EVIDENCE / "app", evidence / "app")  # JSON lines, gzip and zstd
    files = sample_truth()["evidence"]["files"]
    alb_lines = 0
    for hour in range(24):
        d = evidence / "lb" / "AWSLogs/123456789012/elasticloadbalancing/eu-west-2/2024/03/30"
        d.mkdir(parents=True, exist_ok=True)
        lines = [
            alb("https", client=f"198.51.100.{j}:40{j:03d}").replace(
                "2018-07-02T22:23:00.186641Z", f"2024-03-30T{hour:02d}:{j:02d}:00.000000Z"
            )
            for j in range(3)
        ]
        name = f"123456789012_elasticloadbalancing_eu-west-2_app.api.1_20240330T{hour:02d}00Z_10.0.0.1_x.log.gz"
        (d / name).write_bytes(gzip.compress(("\n".join(lines) + "\n").encode(), mtime=0))
        alb_lines += len(lines)
    case_path = tmp_path / "case.duckdb"
    res = CliRunner().invoke(main, ["ingest", str(case_path), str(evidence)])
    assert res.exit_code == 0, res.output
    with Case.open(case_path, read_only=True) as case:
        by_format = case.sql(
            "SELECT format, count(*) AS files, sum(lines) AS lines, sum(events) AS events, "
            "sum(rejects) AS rejects FROM sources WHERE status = 'ingested' GROUP BY ALL"
        ).set_index("format")
        assert set(by_format.index) == {"combined", "jsonl", "alb"}
        assert by_format.loc["alb", "files"] == 24 and by_format.loc["alb", "events"] == alb_lines
        nginx = [f for f in files if f.startswith("evidence/edge/")]
        assert by_format.loc["combined", "files"] == len(nginx) > 20
        assert by_format.loc["jsonl", "files"] == len([f for f in files if f.startswith("evidence/app/")])
        assert (by_format["events"] + by_format["rejects"] == by_format["lines"]).all()
        stored = case.sql("SELECT count(*) AS n FROM events")["n"][0]
        assert stored == by_format["events"].sum()
