"""Sections 7-8: the actors, and the access to the exposed endpoints."""

from __future__ import annotations

from forensics.assess.document import Actor, FindingsDocument
from forensics.publish.report.blocks import (
    Cell,
    Figure,
    Para,
    Section,
    Table,
    cell_list,
    count,
    cut,
    num,
    period,
    size,
)
from forensics.publish.report.sections.common import ACTOR_ROWS, UNAUTHORISED_ROWS, listed_total


def _unauthorised(actor: Actor) -> str:
    """The actor's status, with the findings that show it (the same words everywhere)."""
    if not actor["unauthorised"]:
        return "no"
    return "yes (" + ", ".join(f"#{i}" for i in actor.get("unauthorised_by") or []) + ")"


def _listed(actor: Actor) -> str:
    return f"{num(actor['confirmed_records'])} / {num(actor['probable_records'])}"


def shown_actors(doc: FindingsDocument) -> list[Actor]:
    """The actors section 7 shows: the first ``UNAUTHORISED_ROWS`` unauthorised ones (most severe
    first, as findings.json lists them), then the first ``ACTOR_ROWS`` others."""
    bad = [a for a in doc["actors"] if a["unauthorised"]]
    others = [a for a in doc["actors"] if not a["unauthorised"]]
    return bad[:UNAUTHORISED_ROWS] + others[:ACTOR_ROWS]


def _actor_row(a: Actor) -> list[Cell]:
    return [
        str(a["id"]),
        str(a["classification"])
        + ("; hosting provider: " + ", ".join(a["hosting"]) if a.get("hosting") else ""),
        _unauthorised(a),
        cell_list(a["ips"], 3),
        cell_list([cut(u, 60) for u in a["user_agents"]], 2),
        cell_list(a["principals"], 3),
        num(a["requests"]),
        num(a["records"]),
        _listed(a),
        num(a["estimated_records"], "—"),
        size(a["bytes"]),
        period(a["first_seen"], a["last_seen"]),
    ]


def actors_section(doc: FindingsDocument) -> Section:
    shown = shown_actors(doc)
    total = listed_total(doc, "actors")
    rest = total - len(shown)
    hidden_bad = int(doc["actor_counts"]["unauthorised"]) - sum(1 for a in shown if a["unauthorised"])
    which = (
        "every unauthorised one"
        if not hidden_bad
        else f"the first {num(UNAUTHORISED_ROWS)} unauthorised ones"
    )
    more = ""
    if rest > 0:
        more = (
            f"{count(rest, 'more actor')} not shown here"
            + (
                ", none of them shown unauthorised"
                if not hidden_bad
                else f", {num(hidden_bad)} of them unauthorised"
            )
            + ": actors.csv lists "
            f"every actor of findings.json ({num(len(doc['actors']))}"
            + (f" of {num(total)}; the case keeps all" if total > len(doc["actors"]) else "")
            + ") with its detectors and why its sessions were linked."
        )
    return Section(
        7,
        "Actors",
        [
            Para(
                f"Actors that reached the exposed endpoints in the window or have findings in it: {which}, "
                "then the busiest others. Unauthorised: a finding in the window shows it "
                "(the findings are named; section 9). Every number counts the window only: requests are all "
                "the actor's requests (every route, so a bulk read of a list endpoint counts); records "
                "received are distinct record ids in record-bearing answers on the exposed endpoints; listed "
                "are its records in affected_records.csv (confirmed / probable); estimated are records "
                "inside its bulk responses (ids not logged, not in the CSV). Seen is the actor's first and "
                "last request in all the logs. Classes are claims checked against the evidence (a crawler "
                "user agent is unverified offline)."
            ),
            Table(
                [
                    "Actor",
                    "Class",
                    "Unauthorised",
                    "Addresses",
                    "User agents",
                    "Principals",
                    "Requests",
                    "Records received",
                    "Listed (confirmed / probable)",
                    "Estimated (bulk)",
                    "Bytes",
                    "Seen (UTC)",
                ],
                [_actor_row(a) for a in shown],
                numeric=frozenset({6, 7, 8, 9, 10}),
                text=frozenset({3, 4, 5}),
                nowrap=frozenset({11}),
                empty="no actor reached the endpoints or has a finding in the window",
                more=more,
            ),
        ],
    )


def access_section(doc: FindingsDocument) -> Section:
    return Section(
        8,
        "Access to the exposed endpoints",
        [
            Figure(
                "endpoint_daily",
                "Requests per day to each exposed endpoint (list and bulk endpoints too) by response "
                "status; the dashed line is unauthenticated requests.",
            ),
            Figure(
                "scatter",
                "Record id against time, one panel per attacker session, each zoomed to its own span: "
                "an enumeration shows as a diagonal.",
            ),
            Figure(
                "response_sizes",
                "Response sizes per endpoint (log scales), list and bulk endpoints too: bulk responses "
                "stand out on the right; the largest is marked.",
            ),
        ],
    )
