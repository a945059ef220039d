"""Custody in the library (issue 18): every entry point logs itself, so a notebook leaves the
CLI's trail; a nested entry point (detect inside investigate) adds nothing of its own."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from forensics import Case, ingest
from forensics.assess.compute import InvestigateOptions
from forensics.assess.window import parse_window
from forensics.cli import main
from forensics.derive.actors import ActorOptions, derive_actors
from forensics.derive.asndb import load_asn_db
from forensics.derive.routes import Endpoint, RouteOptions, derive_routes
from forensics.detectors.run import DetectOptions, run_detectors
from forensics.ingest.verify import verify
from forensics.publish.investigate import investigate
from tests.conftest import COMBINED, write_lines
from tests.test_network_db import write_ip2asn

ENDPOINT = "GET /api/v2/referrals/{id}"
WINDOW = "2024-03-01T00:00:00Z/2024-08-01T00:00:00Z"


def _log(case: Case, after: int = 0) -> list[tuple[str, dict[str, Any]]]:
    rows = case.con.execute("SELECT command, parameters FROM case_log WHERE seq > ? ORDER BY seq", [after])
    return [(str(c), json.loads(p)) for c, p in rows.fetchall()]


def _seq(case: Case) -> int:
    row = case.con.execute("SELECT coalesce(max(seq), 0) FROM case_log").fetchone()
    return int(row[0]) if row else 0


def _ingested(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    with Case.create(path) as case:
        ingest(case, [write_lines(tmp_path / f"{name}-ev" / "access.log", COMBINED)])
    return path


def _without_of(log: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
    """The entries with the seq of their start left out (two cases number them alike, but be sure)."""
    return [(c, {k: v for k, v in p.items() if k != "of"}) for c, p in log]


def test_each_entry_point_leaves_its_entries(tmp_path: Path) -> None:
    with Case.open(_ingested(tmp_path, "case.duckdb")) as case:
        for command, call in [
            ("routes", lambda: derive_routes(case, RouteOptions((Endpoint.parse(ENDPOINT),)))),
            ("actors", lambda: derive_actors(case, ActorOptions())),
            ("detect", lambda: run_detectors(case, DetectOptions())),
            ("network-db", lambda: load_asn_db(case, write_ip2asn(tmp_path / "ip2asn.tsv.gz"))),
            ("verify", lambda: verify(case, log=True)),
        ]:
            before = _seq(case)
            call()
            assert [c for c, _ in _log(case, before)] == [command, f"{command} finished"], command
        before = _seq(case)
        options = InvestigateOptions(detect=DetectOptions(), window=parse_window(WINDOW))
        investigate(case, options, tmp_path / "out")
        # the derivations and detection inside investigate log nothing of their own
        assert [c for c, _ in _log(case, before)] == ["investigate", "investigate finished"]


def test_a_notebook_leaves_the_clis_trail(tmp_path: Path) -> None:
    cli_case, lib_case = _ingested(tmp_path, "cli.duckdb"), _ingested(tmp_path, "lib.duckdb")
    with Case.open(cli_case) as case:
        cli_before = _seq(case)
    runner = CliRunner()
    for args in (["routes", str(cli_case), "--endpoint", ENDPOINT], ["detect", str(cli_case), "--endpoint", ENDPOINT]):
        res = runner.invoke(main, args)
        assert res.exit_code == 0, res.output
    with Case.open(lib_case) as case:
        lib_before = _seq(case)
        routes = RouteOptions((Endpoint.parse(ENDPOINT),))
        derive_routes(case, routes)
        run_detectors(case, DetectOptions(routes=routes))
        lib = _log(case, lib_before)
    with Case.open(cli_case, read_only=True) as case:
        cli = _log(case, cli_before)
    assert [c for c, _ in cli] == ["routes", "routes finished", "detect", "detect finished"]
    assert _without_of(lib) == _without_of(cli)


def test_a_read_only_case_is_not_logged(tmp_path: Path) -> None:
    path = _ingested(tmp_path, "case.duckdb")
    with Case.open(path, read_only=True) as case:
        before = _seq(case)
        assert verify(case, log=True).ok
        assert _seq(case) == before


def test_verify_reads_only_unless_asked_to_log(tmp_path: Path) -> None:
    with Case.open(_ingested(tmp_path, "case.duckdb")) as case:
        before = _seq(case)
        assert verify(case).ok
        assert _seq(case) == before
