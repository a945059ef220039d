"""Small explicit event tables for the derivation tests (routes, auth, actors)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from forensics import Case

T0 = datetime(2024, 3, 12, 10, 0, tzinfo=UTC)
COLUMNS = ("method", "path", "query", "status", "bytes_sent", "client_ip", "user_agent", "principal")
DEFAULTS: dict[str, Any] = {"method": "GET", "status": 200, "bytes_sent": 100}


def add_events(case: Case, rows: list[dict[str, Any]], source_id: int = 1) -> None:
    """Insert events; line numbers continue the source's, ``ts`` defaults to T0 + line seconds."""
    row = case.con.execute("SELECT coalesce(max(line_no), 0) FROM events WHERE source_id = ?", [source_id]).fetchone()
    start = int(row[0]) if row else 0
    for i, r in enumerate(rows, start + 1):
        values = [r.get(c, DEFAULTS.get(c)) for c in COLUMNS]
        case.con.execute(
            f"INSERT INTO events (source_id, line_no, ts, {', '.join(COLUMNS)}) "
            f"VALUES (?, ?, ?, {', '.join('?' for _ in COLUMNS)})",
            [source_id, i, r.get("ts", T0 + timedelta(seconds=i)), *values],
        )
