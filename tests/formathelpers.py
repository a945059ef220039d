"""Helpers for the format tests: parse lines with a format's SQL, or ingest them end to end."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from forensics import Case, IngestOptions, IngestReport, formats, ingest
from forensics.formats.base import LogFormat, ParseOptions
from forensics.store.db import connect
from forensics.store.schema import PARSED_COLUMNS

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden"


def fmt_of(fmt: str | LogFormat) -> LogFormat:
    """A registered format by name, a pasted layout, or a format object as it is."""
    if not isinstance(fmt, str):
        return fmt
    return formats.REGISTRY[fmt] if fmt in formats.REGISTRY else formats.custom_format(fmt)


def parse_lines(
    fmt: str | LogFormat,
    lines: list[str],
    tz: str | None = None,
    fields: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Run the format's parser SQL over ``lines`` (numbered from 1) in an in-memory DuckDB.

    Every row has PARSED_COLUMNS plus ``reject_reason`` and ``line`` (raw text, rejects only).
    """
    f = fmt_of(fmt)
    parser = f.bind(lines, ParseOptions(tz=tz, fields=dict(fields or {})))
    con = connect(":memory:")
    try:
        con.execute(
            "CREATE TEMP TABLE src AS SELECT unnest(range(1, $n + 1)) AS line_no, "
            "unnest($lines::VARCHAR[]) AS line",
            {"n": len(lines), "lines": lines},
        )
        cur = con.execute(f"SELECT * FROM ({parser.select_sql('src')}) ORDER BY line_no")
        names = [d[0] for d in cur.description]
        rows = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
        for row in rows:  # extra is JSON text in the case; compare it as a dict
            if isinstance(row.get("extra"), str):
                row["extra"] = json.loads(row["extra"])
        return rows
    finally:
        con.close()


def parse_one(fmt: str | LogFormat, line: str, tz: str | None = None) -> dict[str, Any]:
    """The parsed row for one line; fails when the line is rejected."""
    (row,) = parse_lines(fmt, [line], tz=tz)
    assert row["reject_reason"] is None, f"{row['reject_reason']}: {line[:200]}"
    return row


def event_values(row: Mapping[str, Any]) -> dict[str, Any]:
    """The event columns of a parsed row that are not NULL (line_no left out)."""
    return {c: row[c] for c in PARSED_COLUMNS if c != "line_no" and row[c] is not None}


def present(fields: list[Mapping[str, Any]] | None) -> dict[str, Any]:
    """The members of an AWS format's typed fields (a list of one struct) that are not NULL."""
    (one,) = fields or [{}]
    return {k: v for k, v in one.items() if v is not None}


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, micro: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)


def write_lines(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def ingest_lines(
    tmp_path: Path, name: str, lines: list[str], **options: Any
) -> tuple[Case, IngestReport]:
    """Write ``lines`` to a file, ingest it into a new case, return the case and the report."""
    path = write_lines(tmp_path / "evidence" / name, lines)
    case = Case.create(tmp_path / "case.duckdb")
    return case, ingest(case, [path], IngestOptions(**options))
