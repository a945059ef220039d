"""Section 6: the method and the thresholds of the detectors that fired."""

from __future__ import annotations

from typing import Any

from forensics.assess.document import FindingsDocument
from forensics.publish.report.blocks import (
    Facts,
    Heading,
    Para,
    Section,
    Table,
    count,
    yes_no,
)


def _flat(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(_flat(v) for v in value) or "—"
    if isinstance(value, dict):
        return "; ".join(f"{k} = {_flat(v)}" for k, v in sorted(value.items())) or "—"
    if value is None:
        return "—"
    if isinstance(value, bool):
        return yes_no(value)
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    """A finding's metrics for reading: record lists per reason become counts (findings.json and
    affected_records.csv hold the ids)."""
    why = metrics.get("records_by_reason")
    if not isinstance(why, dict):
        return metrics
    counts = {reason: count(len(ids), "record") for reason, ids in why.items()}
    return {**metrics, "records_by_reason": counts}


def method_section(doc: FindingsDocument) -> Section:
    opts: dict[str, Any] = doc["parameters"].get("detect_options") or {}
    per_detector: dict[str, dict[str, Any]] = {}
    for f in doc["findings"]:
        per_detector.setdefault(str(f["detector"]), {}).update(f["evidence"].get("thresholds") or {})
    return Section(
        6,
        "Method and thresholds",
        [
            Para(
                "Every request in the window to an exposed endpoint is attributed to a caller: "
                "authenticated (a logged principal, or a successful login from the same address and "
                "user agent within the session lifetime), trusted (a declared partner network), "
                "unauthenticated, or unknown. Requests are grouped into sessions and sessions into "
                "actors on evidence only. Detectors (SQL over the case) flag actors and routes; a "
                "record counts as confirmed only when a record-bearing 2xx response went to an actor "
                "shown to be unauthorised. Estimated records (bulk responses) are kept apart."
            ),
            Heading("Detector options"),
            Facts([(str(k), _flat(v)) for k, v in sorted(opts.items())] or [("options", "defaults")]),
            Heading("Thresholds of the detectors that fired"),
            Table(
                ["Detector", "Thresholds"],
                [[name, _flat(th)] for name, th in sorted(per_detector.items())],
                empty="no detector fired",
            ),
        ],
    )
