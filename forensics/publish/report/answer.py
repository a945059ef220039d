"""Page 1 of the report: the answer, before any method.

A reader with five minutes gets, in this order: the verdict, the records as an interval
(confirmed / probable / at risk), the window and how much of it the logs cover, who (the
unauthorised actors, one line each) and what to do next. Every number is the Assessment
document's (findings.json); the next steps are chosen by rules over the same document.
"""

from __future__ import annotations

from datetime import datetime

from forensics.assess.document import Actor, FindingsDocument, Records, WindowDoc
from forensics.publish.report.blocks import (
    GRADE_WORDS,
    Block,
    Facts,
    Items,
    Numbers,
    Para,
    Verdict,
    count,
    cut,
    duration,
    headline,
    num,
    percent,
    span,
    when,
)

WHO_LINES = 10  # unauthorised actors named on page 1; the rest are counted (section 7, actors.csv)
WHO_ADDRESSES = 2


def answer(doc: FindingsDocument) -> list[Block]:
    """The blocks of page 1."""
    records, cov, window = doc["records"], doc["coverage"], doc["window"]
    grade = str(cov["grade"])
    return [
        Verdict(str(doc["verdict"]), headline(doc), str(doc["verdict_text"])),
        Numbers(_numbers(records), caption="Records (distinct record ids; records are not people)"),
        Facts(
            [
                ("Window", f"{span(window['start'], window['end'])} ({_length(window)})"),
                (
                    "Coverage",
                    f"grade {grade} ({GRADE_WORDS.get(grade, '?')}): logs cover {percent(cov['ratio'])} "
                    f"of the window, {duration(cov['uncovered_s'])} without logs",
                ),
                ("Requests", f"{count(doc['requests']['to_endpoints'], 'request')} to the exposed endpoints"),
            ]
        ),
        *_who(doc),
        Para("What to do next", style="lead"),
        Items(next_steps(doc)),
    ]


def _length(window: WindowDoc) -> str:
    try:
        s = datetime.fromisoformat(str(window["end"])) - datetime.fromisoformat(str(window["start"]))
    except (TypeError, ValueError):
        return "length unknown"
    return duration(s.total_seconds())


def _numbers(records: Records) -> list[tuple[str, str, str]]:
    at_risk = records["at_risk"]
    out = [
        (num(records["confirmed"]), "confirmed", "record-bearing responses to callers shown unauthorised"),
        (num(records["probable"]), "probable", "adds callers whose authentication is unknown"),
        (
            num(at_risk),
            "at risk",
            str(records.get("at_risk_basis") or "needs the record count from the data owner")
            if at_risk is not None
            else "unknown: needs the record count from the data owner",
        ),
    ]
    if records.get("estimated_bulk"):
        out.append(
            (
                f"≈ {num(records['estimated_bulk'])}",
                "estimated (bulk)",
                "inside bulk responses, ids not logged; not counted as confirmed",
            )
        )
    return out


def actor_line(a: Actor) -> str:
    """One line about an unauthorised actor: what it received, from where, when, and why."""
    ips = [str(ip) for ip in a.get("ips") or []]
    where = ", ".join(ips[:WHO_ADDRESSES]) + (f" +{len(ips) - WHO_ADDRESSES:,} more" if len(ips) > 2 else "")
    who = [f"{count(len(ips), 'address', 'addresses')} ({where})" if ips else "no address logged"]
    if a.get("principals"):
        who.append("principal " + ", ".join(cut(p, 40) for p in a["principals"][:2]))
    uas = a.get("user_agents") or []
    if uas:
        who.append("user agent " + cut(uas[0], 60) + (f" +{len(uas) - 1} more" if len(uas) > 1 else ""))
    got = f"{count(a['confirmed_records'], 'record')} confirmed"
    if a.get("probable_records"):
        got += f", {num(a['probable_records'])} probable"
    if a.get("estimated_records"):
        got += f", about {num(a['estimated_records'])} in bulk responses"
    by = ", ".join(f"#{i}" for i in a.get("unauthorised_by") or [])
    seen = f"{when(a.get('first_seen'), '')} to {when(a.get('last_seen'), '')} UTC"
    return f"Actor {a['id']} ({a['classification']}): {got}; {'; '.join(who)}; {seen}; shown by {by}."


def _who(doc: FindingsDocument) -> list[Block]:
    bad = [a for a in doc["actors"] if a["unauthorised"]]
    total = int(doc["actor_counts"]["unauthorised"])
    if not total:
        return [
            Para("Who", style="lead"),
            Para("No actor is shown unauthorised by a finding in the window."),
        ]
    lines = [actor_line(a) for a in bad[:WHO_LINES]]
    rest = total - len(lines)
    if rest > 0:
        lines.append(f"… and {count(rest, 'more unauthorised actor')}: section 7 and actors.csv list them.")
    return [Para(f"Who: {count(total, 'unauthorised actor')}", style="lead"), Items(lines)]


def next_steps(doc: FindingsDocument) -> list[str]:
    """What to do next, in order of urgency, from the verdict, the records and the coverage."""
    verdict, records, cov = str(doc["verdict"]), doc["records"], doc["coverage"]
    c = doc["actor_counts"]
    steps: list[str] = []
    if verdict in ("confirmed", "likely", "possible"):
        steps.append(
            "Treat this as a personal-data breach under assessment: record it, and decide on notifying "
            "the supervisory authority (GDPR Art. 33: within 72 hours of becoming aware) and the people "
            "affected (Art. 34); section 13 maps the facts to the notification fields."
        )
    if c["unauthorised"]:
        steps.append(
            f"Contain the {count(c['unauthorised'], 'unauthorised actor')}: block their addresses and "
            "revoke any tokens or accounts they used (actors.csv lists every address and user agent)."
        )
    if records["confirmed"] or records["probable"]:
        steps.append(
            "Give affected_records.csv to the data owner to map record ids to the people concerned "
            "(data subjects are not counted here)."
        )
    if records.get("probable"):
        steps.append(
            f"Settle the {count(records['probable'], 'probable record')}: application logs with user "
            "ids or session cookies would show whether their callers were entitled."
        )
    if records.get("estimated_bulk"):
        steps.append(
            f"Establish what the bulk responses carried (about {count(records['estimated_bulk'], 'record')}"
            "): the application's export or query logs name the records."
        )
    if records["at_risk"] is None:
        steps.append(
            "Ask the data owner how many records the exposed endpoints serve (--records-total) to bound "
            "the records at risk."
        )
    gaps = len(cov["gaps"])
    if gaps or float(cov["ratio"]) < 0.99:
        steps.append(
            f"Find the missing logs ({count(gaps, 'period')} without logs, {duration(cov['uncovered_s'])}; "
            "section 5): until they are read, access then can be neither confirmed nor excluded."
        )
    if verdict == "cannot_tell":
        steps.append("Collect logs that reach the window, then run the investigation again.")
    steps.append(
        "Keep the case file and the evidence read-only: the hashes in sections 1 and 4 (evidence.csv) "
        "let anyone re-verify this report."
    )
    if not doc.get("pseudonymisation"):
        steps.append(
            "Share outside the response team only the pseudonymised version (investigate --pseudonymise)."
        )
    return steps
