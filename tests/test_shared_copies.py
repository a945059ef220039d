"""Copies of one request in a second log (the app log, without a user agent) must not tie together the
callers behind one address: a clinic's NAT carries two logged-in GPs and a monitor; before copies
joined their original's session, the app log's address-only session merged all three into one actor
and the monitor's unauthenticated canary reads made the GPs unauthorised."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from forensics import Case, ingest
from forensics.assess.compute import InvestigateOptions, assess
from forensics.assess.window import Window
from forensics.derive.actors import ActorOptions
from forensics.derive.auth import AuthOptions
from forensics.derive.network import Trusted
from forensics.derive.routes import Endpoint, RouteOptions
from forensics.detectors.run import DetectOptions
from forensics.simulate import simulate
from forensics.simulate.scenarios import CLINIC_NAT


def _options(truth: dict[str, Any]) -> InvestigateOptions:
    detect = DetectOptions(
        routes=RouteOptions(tuple(Endpoint.parse(e) for e in truth["endpoints"])),
        actors=ActorOptions(
            AuthOptions(
                logins=(Endpoint.parse(truth["login"]),),
                trusted=tuple(Trusted.parse(t) for t in truth["trusted"]),
            )
        ),
    )
    start, end = (datetime.fromisoformat(truth["window"][k].replace("Z", "+00:00")) for k in ("start", "end"))
    return InvestigateOptions(detect=detect, window=Window(start, end))


def test_staff_behind_a_clinic_nat_are_not_merged_with_its_monitor(tmp_path: Path) -> None:
    sim = tmp_path / "sim"
    simulate(sim, seed=1, days=30, scale=0.5, scenarios=["monitor-nat"])
    truth = json.loads((sim / "truth.json").read_text())
    staff = [a for a in truth["actors"] if a.get("scenario") == "monitor-nat" and a.get("principals")]
    assert len(staff) >= 2
    staff_agents = {ua for a in staff for ua in a["user_agents"]}
    with Case.create(tmp_path / "c.duckdb") as case:
        ingest(case, [sim / "evidence"])
        doc = assess(case, _options(truth)).document
    behind = [a for a in doc["actors"] if CLINIC_NAT in a["ips"]]
    assert behind, "the clinic's address reached the endpoints"
    for actor in behind:
        browsers = staff_agents & set(actor["user_agents"])
        if browsers:  # an actor holding a GP's browser is that GP alone, and not unauthorised
            assert not actor["unauthorised"], actor
            assert not any("Exporter" in ua for ua in actor["user_agents"]), actor
            assert len(browsers) == 1, actor


def test_an_enumerator_on_a_new_cloud_address_and_browser_per_request_is_one_actor(tmp_path: Path) -> None:
    """Nothing but the walk ties its callers: their first unauthenticated reads together walk the ids
    in minutes (linking rule crowd_walk)."""
    sim = tmp_path / "sim"
    simulate(sim, seed=1, days=30, scale=0.5, scenarios=["rotating-cloud"])
    truth = json.loads((sim / "truth.json").read_text())
    (rotating,) = [a for a in truth["actors"] if a.get("scenario") == "rotating-cloud"]
    assert len(rotating["ips"]) >= 20
    with Case.create(tmp_path / "c.duckdb") as case:
        ingest(case, [sim / "evidence"])
        doc = assess(case, _options(truth)).document
    holders = {a["id"] for a in doc["actors"] if set(a["ips"]) & set(rotating["ips"])}
    assert len(holders) == 1, holders
    (actor,) = [a for a in doc["actors"] if a["id"] in holders]
    assert actor["unauthorised"] and any(
        r.startswith("many unauthenticated callers") for r in actor["link_reasons"]
    )
    # nobody else was pulled in: every address of the actor is the enumerator's
    assert set(actor["ips"]) <= set(rotating["ips"])
