"""The one contract: tables of a case and their DuckDB column types.

Every format produces rows for ``EVENT_COLUMNS`` (minus ``source_id``, added by ingest).
Timestamps are stored as ``TIMESTAMPTZ`` in UTC; ``ts_offset_min`` keeps the offset the
source wrote (NULL when the source wrote UTC or epoch times without an offset).
"""

from __future__ import annotations

SCHEMA_VERSION = 2  # 2: case_log is hash-chained (prev_hash, entry_hash)

EVENT_COLUMNS: dict[str, str] = {
    "source_id": "INTEGER NOT NULL",
    "line_no": "BIGINT NOT NULL",
    "ts": "TIMESTAMPTZ NOT NULL",
    "ts_offset_min": "SMALLINT",
    "client_ip": "VARCHAR",
    "forwarded_for": "VARCHAR",
    "method": "VARCHAR",
    "host": "VARCHAR",
    "path": "VARCHAR",
    "query": "VARCHAR",
    "protocol": "VARCHAR",
    "request_raw": "VARCHAR",
    "status": "SMALLINT",
    "bytes_sent": "BIGINT",
    "bytes_received": "BIGINT",
    "duration_ms": "DOUBLE",
    "user_agent": "VARCHAR",
    "referer": "VARCHAR",
    "principal": "VARCHAR",
    "request_id": "VARCHAR",
    # fields without a column of their own, as a JSON object (a MAP column cost ~1 s per
    # 2M rows to store even when NULL); query with extra->>'name'
    "extra": "JSON",
}

# Columns a format's parser SQL must produce, in this order (source_id is added by ingest).
PARSED_COLUMNS: list[str] = [c for c in EVENT_COLUMNS if c != "source_id"]

SOURCE_COLUMNS: dict[str, str] = {
    "source_id": "INTEGER PRIMARY KEY",
    "path": "VARCHAR NOT NULL",
    "size": "BIGINT NOT NULL",
    "mtime": "TIMESTAMPTZ",
    "sha256": "VARCHAR NOT NULL",
    "compression": "VARCHAR NOT NULL",
    "status": "VARCHAR NOT NULL",  # ingested | duplicate | unrecognised | empty | skipped | error | forgotten
    "duplicate_of": "INTEGER",
    "format": "VARCHAR",
    "format_score": "DOUBLE",
    "reader": "VARCHAR",  # duckdb | python (fallback for odd bytes, bz2/xz, truncation)
    "lines": "BIGINT",
    "events": "BIGINT",
    "rejects": "BIGINT",
    "first_ts": "TIMESTAMPTZ",
    "last_ts": "TIMESTAMPTZ",
    "warnings": "VARCHAR[]",
    "parse_options": "VARCHAR",  # JSON text: format, tz, log_format, field overrides
    "ingested_at": "TIMESTAMPTZ",
}

REJECT_COLUMNS: dict[str, str] = {
    "source_id": "INTEGER NOT NULL",
    "line_no": "BIGINT NOT NULL",
    "line": "VARCHAR",
    "reason": "VARCHAR NOT NULL",
}

CASE_LOG_COLUMNS: dict[str, str] = {
    "seq": "INTEGER PRIMARY KEY",
    "logged_at": "TIMESTAMPTZ NOT NULL",
    "tool_version": "VARCHAR NOT NULL",
    "command": "VARCHAR NOT NULL",
    "parameters": "VARCHAR NOT NULL",  # JSON text
    "prev_hash": "VARCHAR",  # the entry before's entry_hash (custody.py)
    "entry_hash": "VARCHAR",  # SHA-256 of this entry's fields and prev_hash
}

META_COLUMNS: dict[str, str] = {"key": "VARCHAR PRIMARY KEY", "value": "VARCHAR NOT NULL"}

TABLES: dict[str, dict[str, str]] = {
    "meta": META_COLUMNS,
    "sources": SOURCE_COLUMNS,
    "events": EVENT_COLUMNS,
    "rejects": REJECT_COLUMNS,
    "case_log": CASE_LOG_COLUMNS,
}


def create_table_sql(name: str) -> str:
    """``CREATE TABLE IF NOT EXISTS`` statement for one of ``TABLES``."""
    cols = ",\n  ".join(f"{col} {typ}" for col, typ in TABLES[name].items())
    return f"CREATE TABLE IF NOT EXISTS {name} (\n  {cols}\n)"
