"""Parameters checked against the evidence, the 'cannot tell' verdict and investigate's exit codes.

A typo in --login, a window in the wrong year, an empty case or a missing --login must never
become a verdict that reads as an answer (issue 14)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from forensics import Case
from forensics.assess.compute import InvestigateOptions, assess
from forensics.assess.window import Window
from forensics.cli import VERDICT_EXIT, main
from forensics.derive.actors import ActorOptions
from forensics.derive.auth import AuthOptions
from forensics.derive.network import Trusted
from forensics.derive.routes import Endpoint
from forensics.errors import EmptyCaseError, LoginEndpointError, WindowError
from forensics.publish.report.content import build
from forensics.publish.writers import write_outputs
from tests.eventrows import add_events
from tests.test_assess import DETECT, T0, WINDOW, at, monitor, partner, read, staff

NO_LOGIN = replace(DETECT, actors=ActorOptions(AuthOptions(trusted=DETECT.actors.auth.trusted)))
ENDPOINT = "GET /api/v2/referrals/{id}"
LOGIN = "POST /api/v2/auth/login"


def attack(n: int = 30, start: float = 2000) -> list[dict[str, Any]]:
    return [read("203.0.113.9", start + i, 500 + i, ua="curl/8") for i in range(n)]


def assess_rows(case: Case, rows: list[dict[str, Any]], window: Window | None = WINDOW, **kw: Any) -> Any:
    add_events(case, sorted(rows, key=lambda r: r["ts"]))
    return assess(case, InvestigateOptions(detect=kw.pop("detect", DETECT), window=window, **kw))


# --- parameters against the evidence ------------------------------------------------------------


def test_a_login_no_successful_request_matches_is_refused_with_the_proposed_login(case: Case) -> None:
    typo = replace(
        DETECT, actors=ActorOptions(AuthOptions(logins=(Endpoint.parse("POST /api/v2/auth/logn"),)))
    )
    add_events(case, sorted(monitor() + staff() + attack(), key=lambda r: r["ts"]))
    with pytest.raises(
        LoginEndpointError,
        match=r"'POST /api/v2/auth/logn'.*likely login endpoints: "
        r"POST /api/v2/auth/login \(3 successful\)",
    ):
        assess(case, InvestigateOptions(detect=typo, window=WINDOW))
    # only failed logins (401) are no evidence either
    failed = [{**r, "status": 401} if r.get("method") == "POST" else r for r in staff()]
    fresh = Case.create(case.path.with_name("failed.duckdb"))
    try:
        add_events(fresh, sorted(monitor(1) + failed, key=lambda r: r["ts"]))
        with pytest.raises(LoginEndpointError, match="no successful"):
            assess(fresh, InvestigateOptions(detect=DETECT, window=WINDOW))
    finally:
        fresh.close()


def test_a_window_no_evidence_overlaps_is_refused_with_the_logs_range(case: Case) -> None:
    last_year = Window(WINDOW.start.replace(year=2023), WINDOW.end.replace(year=2023))
    with pytest.raises(
        WindowError,
        match=r"no evidence overlaps the window 2023-05-06T00:00:00Z/.*"
        r"run from 2024-05-06T00:00:00Z to 2024-05-08T23:55:00Z\. "
        r"Did you mean 2024-05-06T00:00:00Z/2024-05-09T00:00:00Z\?",
    ):
        assess_rows(case, monitor() + staff(), window=last_year)


def test_an_empty_case_is_refused(case: Case) -> None:
    with pytest.raises(EmptyCaseError, match="the case holds no events"):
        assess(case, InvestigateOptions(detect=DETECT, window=WINDOW))
    with pytest.raises(EmptyCaseError):
        assess(case, InvestigateOptions(detect=DETECT))  # no window: the same answer, not "give --window"


def test_a_trusted_network_holding_no_client_is_named(case: Case) -> None:
    typo = replace(
        DETECT,
        actors=ActorOptions(
            AuthOptions(logins=DETECT.actors.auth.logins, trusted=(Trusted.parse("partner=51.140.21.32/29"),))
        ),
    )
    doc = assess_rows(case, monitor() + staff() + partner(), detect=typo).document
    assert doc["parameters"]["trusted_unmatched"] == ["partner=51.140.21.32/29"]
    assert any("partner=51.140.21.32/29 (--trusted) holds no client address" in x for x in doc["limitations"])
    good = assess(case, InvestigateOptions(detect=DETECT, window=WINDOW)).document
    assert good["parameters"]["trusted_unmatched"] == []


def test_a_window_covered_in_part_says_so_in_the_verdict(case: Case) -> None:
    wide = Window(T0 - timedelta(days=1), T0 + timedelta(days=3))  # the logs start a day late
    result = assess_rows(case, monitor() + staff() + attack(), window=wide)
    doc = result.document
    assert doc["verdict"] == "confirmed"
    assert "The logs cover only 75.0% of the window (grade C)" in doc["verdict_text"]
    assert "the logs cover 75% of the window" in build(result).verdict_headline


def test_without_login_on_logs_without_users_the_login_is_proposed_and_nothing_confirmed(case: Case) -> None:
    doc = assess_rows(case, monitor() + staff() + attack(), detect=NO_LOGIN).document
    assert doc["parameters"]["login_proposed"] == [{"route": LOGIN, "successful": 3}]
    assert doc["requests"]["auth_unknown"] == 60  # 30 staff + 30 attacker reads
    assert doc["verdict"] not in ("confirmed", "no_evidence", "excluded")
    assert doc["records"]["confirmed"] == 0
    assert "Authentication cannot be judged for 60 request(s)" in doc["verdict_text"]
    assert "likely login endpoints: POST /api/v2/auth/login (3 successful)" in doc["verdict_text"]
    assert any("Authentication cannot be judged" in x for x in doc["limitations"])


def test_without_login_no_window_is_proposed_and_the_login_is(case: Case) -> None:
    rows = monitor() + staff() + [read("198.51.100.1", 100, 1, status=401), read("198.51.100.2", 1500, 2)]
    with pytest.raises(
        WindowError,
        match=r"no --login was given and the logs name no user.*"
        r"likely login endpoints: POST /api/v2/auth/login",
    ):
        assess_rows(case, rows, window=None, detect=NO_LOGIN)


def test_requests_whose_authentication_is_unknown_are_never_confirmed(case: Case) -> None:
    # one source logs users (so its anonymous reads are unauthenticated), another never does
    # and no --login is given: the same caller's read of record 500 there, inside the window, is
    # 'unknown' — proof from before the window must not confirm it.
    add_events(
        case,
        [{**read("10.1.1.1", -600, 9), "principal": "dr.jones"}, read("203.0.113.9", -5, 500, ua="curl/8")],
        source_id=1,
    )
    add_events(
        case,
        sorted([*monitor(), read("203.0.113.9", 5, 500, ua="curl/8")], key=lambda r: r["ts"]),
        source_id=2,
    )
    doc = assess(case, InvestigateOptions(detect=NO_LOGIN, window=WINDOW)).document
    assert doc["records"]["confirmed"] == 0
    assert doc["verdict"] != "confirmed"


# --- cannot tell ---------------------------------------------------------------------------------


def test_a_window_without_events_cannot_tell_never_no_evidence(case: Case, tmp_path: Path) -> None:
    rows = [r for r in monitor() + staff() if not at(1440) <= r["ts"] < at(2 * 1440)]  # day 2 lost
    day2 = Window(at(1440 + 60), at(2 * 1440 - 60))
    result = assess_rows(case, rows, window=day2)
    doc = result.document
    assert doc["verdict"] == "cannot_tell"
    assert (
        "cannot tell" in doc["verdict_text"]
        and "no event in the case falls inside the window" in doc["verdict_text"]
    )
    assert "No evidence" not in doc["verdict_text"]
    written = write_outputs(case, result, tmp_path / "out")
    assert json.loads(written["findings.json"].read_text())["verdict"] == "cannot_tell"
    md = written["report.md"].read_text()
    assert "Cannot tell: the logs cannot answer for this window" in md
    assert "No evidence of unauthorised access" not in md
    assert "Cannot tell" in written["report.html"].read_text()


def test_less_than_half_of_the_window_covered_cannot_tell(case: Case) -> None:
    # three days of logs in a seven-day window, nothing found: 43% covered
    doc = assess_rows(
        case, monitor() + staff() + partner(), window=Window(T0 - timedelta(days=4), T0 + timedelta(days=3))
    ).document
    assert doc["coverage"]["ratio"] < 0.5
    assert doc["verdict"] == "cannot_tell"
    assert "less than the 50% needed to judge" in doc["verdict_text"]
    assert "Cannot be determined" in doc["regulatory"]["hipaa_four_factors"]["acquired_or_viewed"]


def test_findings_stand_whatever_the_coverage(case: Case) -> None:
    doc = assess_rows(
        case, monitor() + staff() + attack(), window=Window(T0 - timedelta(days=4), T0 + timedelta(days=3))
    ).document
    assert doc["verdict"] == "confirmed" and doc["records"]["confirmed"] == 30
    assert "The logs cover only 42.9% of the window" in doc["verdict_text"]


# --- exit codes ----------------------------------------------------------------------------------


def _case_file(tmp_path: Path, rows: list[dict[str, Any]], name: str = "c.duckdb") -> Path:
    path = tmp_path / name
    with Case.create(path) as c:
        add_events(c, sorted(rows, key=lambda r: r["ts"]))
    return path


def _investigate(case_path: Path, *args: str) -> Any:
    out = case_path.with_suffix(".out")
    return CliRunner().invoke(
        main, ["investigate", str(case_path), "--endpoint", ENDPOINT, *args, "--out", str(out)]
    )


def test_investigate_exits_with_its_verdict(tmp_path: Path) -> None:
    assert VERDICT_EXIT == {
        "excluded": 0,
        "no_evidence": 0,
        "cannot_tell": 3,
        "possible": 4,
        "likely": 5,
        "confirmed": 6,
    }
    window = "2024-05-06T00:00Z/2024-05-09T00:00Z"
    attacked = _case_file(tmp_path, monitor() + staff() + attack(), "attacked.duckdb")
    res = _investigate(attacked, "--window", window, "--login", LOGIN)
    assert res.exit_code == 6 and "verdict: confirmed" in res.output, res.output
    quiet = _case_file(tmp_path, monitor() + staff(), "quiet.duckdb")
    res = _investigate(quiet, "--window", "2024-05-03T00:00Z/2024-05-09T00:00Z", "--login", LOGIN)
    assert res.exit_code == 0 and "verdict: no_evidence" in res.output, res.output
    res = _investigate(quiet, "--window", "2024-04-01T00:00Z/2024-05-09T00:00Z", "--login", LOGIN)
    assert res.exit_code == 3 and "verdict: cannot_tell" in res.output, res.output
    res = _investigate(attacked, "--window", window)  # no --login: authentication unknown
    assert res.exit_code in (4, 5) and "verdict: confirmed" not in res.output, res.output
    assert "note: no --login given and the logs name no user" in res.output
    assert "likely login endpoints: POST /api/v2/auth/login" in res.output
    few = _case_file(tmp_path, monitor() + staff() + attack(3), "few.duckdb")
    res = _investigate(few, "--window", window)
    assert res.exit_code == 4 and "verdict: possible" in res.output, res.output


def test_refusals_exit_1_and_usage_errors_2(tmp_path: Path) -> None:
    case_path = _case_file(tmp_path, monitor() + staff() + attack())
    res = _investigate(case_path, "--window", "2023-05-06/2023-05-08", "--login", LOGIN)
    assert res.exit_code == 1 and "no evidence overlaps the window" in res.output
    assert "run from 2024-05-06T00:00:00Z to 2024-05-08T23:55:00Z" in res.output
    res = _investigate(case_path, "--window", "2024-05-06/2024-05-08", "--login", "POST /api/v2/auth/logn")
    assert res.exit_code == 1
    assert "likely login endpoints: POST /api/v2/auth/login (3 successful)" in res.output
    assert not (tmp_path / "c.out" / "findings.json").exists()
    res = _investigate(
        case_path,
        "--window",
        "2024-05-06/2024-05-08",
        "--login",
        LOGIN,
        "--trusted",
        "partner=51.140.21.32/29",
    )
    assert (
        res.exit_code == 6
        and "warning: trusted network 'partner=51.140.21.32/29' holds no client" in res.output
    )
    empty = tmp_path / "empty.duckdb"
    Case.create(empty).close()
    res = _investigate(empty, "--window", "2024-05-06/2024-05-08")
    assert res.exit_code == 1 and "the case holds no events" in res.output
    res = CliRunner().invoke(main, ["investigate", str(case_path), "--records-total", "-1"])
    assert res.exit_code == 2


def test_actors_and_detect_warn_about_a_login_no_successful_request_matches(tmp_path: Path) -> None:
    case_path = _case_file(tmp_path, monitor(1) + staff())
    for command in ("actors", "detect"):
        res = CliRunner().invoke(main, [command, str(case_path), "--login", "POST /api/v2/auth/logn"])
        assert res.exit_code == 0, res.output
        assert (
            "warning: no successful request matches the login endpoint 'POST /api/v2/auth/logn'" in res.output
        )
        assert "likely login endpoints: POST /api/v2/auth/login (3 successful)" in res.output


def test_unmatched_trusted_networks_by_the_range_test_that_trusts(case: Case) -> None:
    """Overlapping ranges each hold the address (the first name wins in ip_info, yet the second
    is not 'unmatched'); IPv6 ranges and IPv4-mapped IPv6 clients count; only the empty one is named."""
    from forensics.derive.network import derive_ip_info, unmatched_trusted

    add_events(
        case,
        [
            read("51.140.12.34", 10, 1),
            read("2001:db8:5::7", 11, 2),
            read("::ffff:198.51.100.9", 12, 3),
        ],
    )
    nets = tuple(
        Trusted.parse(t)
        for t in (
            "wide=51.140.0.0/16",
            "narrow=51.140.12.32/29",
            "v6=2001:db8:5::/48",
            "mapped=198.51.100.0/24",
            "typo=51.141.12.32/29",
            "v6typo=2001:db8:6::/48",
        )
    )
    derive_ip_info(case, nets)
    assert unmatched_trusted(case, nets) == ["typo=51.141.12.32/29", "v6typo=2001:db8:6::/48"]
    assert unmatched_trusted(case, ()) == []
