"""Small explicit event tables for the derivation tests (routes, auth, actors)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd

from forensics import Case
from forensics.store.schema import EVENT_COLUMNS

T0 = datetime(2024, 3, 12, 10, 0, tzinfo=UTC)
COLUMNS = ("method", "path", "query", "status", "bytes_sent", "client_ip", "user_agent", "principal")
DEFAULTS: dict[str, Any] = {"method": "GET", "status": 200, "bytes_sent": 100}


def add_events(case: Case, rows: list[dict[str, Any]], source_id: int = 1) -> None:
    """Insert events; line numbers continue the source's, ``ts`` defaults to T0 + line seconds."""
    row = case.con.execute(
        "SELECT coalesce(max(line_no), 0) FROM events WHERE source_id = ?", [source_id]
    ).fetchall()[0]
    start = int(row[0]) if row else 0
    if not rows:
        return
    # one INSERT from a DataFrame (a row-by-row INSERT took ~9 ms per row)
    frame = pd.DataFrame(
        {
            "source_id": [source_id] * len(rows),
            "line_no": range(start + 1, start + 1 + len(rows)),
            "ts": [r.get("ts", T0 + timedelta(seconds=i)) for i, r in enumerate(rows, start + 1)],
            **{c: pd.Series([r.get(c, DEFAULTS.get(c)) for r in rows], dtype=object) for c in COLUMNS},
        }
    )
    names = ("source_id", "line_no", "ts", *COLUMNS)
    casts = ", ".join(f"CAST({c} AS {EVENT_COLUMNS[c].removesuffix(' NOT NULL')})" for c in names)
    case.con.register("_eventrows", frame)
    case.con.execute(f"INSERT INTO events ({', '.join(names)}) SELECT {casts} FROM _eventrows")
    case.con.unregister("_eventrows")
