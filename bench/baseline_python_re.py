"""The "obvious" ingest, for comparison: a Python ``re`` per line, rows in pandas, into DuckDB.

    python bench/baseline_python_re.py CASE.duckdb LOGFILE[.gz]

Reads combined-format lines (gzip by magic bytes), one compiled regex per line, request split
into method/path/query/protocol, CLF time turned into UTC epoch + offset (cached per distinct
time text, as anyone would), ints converted; batches of rows go to DuckDB through a pandas
DataFrame into the same ``events``/``rejects`` tables and connection settings as the tool.
A simple, fair implementation, not a tuned one.
"""

from __future__ import annotations

import gzip
import re
import sys
from calendar import timegm
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pandas as pd

from forensics.store.db import connect
from forensics.store.schema import create_table_sql

BATCH = 100_000
LINE = re.compile(r"^(\S+) (\S+) (\S+) \[([^\]]*)\] \"(.*?)\" (\d{3}|-) (\d+|-) \"(.*?)\" \"(.*?)\"?$")
REQUEST = re.compile(r"^([A-Za-z][A-Za-z0-9_-]{0,31}) (.*?)(?: (HTTP/\S+))?$")
MONTHS = {
    m: i
    for i, m in enumerate(
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], 1
    )
}
EVENT_COLS = [
    "line_no", "epoch", "off", "client_ip", "principal", "method", "path", "query",
    "protocol", "request_raw", "status", "bytes_sent", "referer", "user_agent",
]  # fmt: skip


def lines(path: Path) -> Iterator[str]:
    with open(path, "rb") as fh:
        gz = fh.read(2) == b"\x1f\x8b"
    opener = gzip.open if gz else open
    with opener(path, "rt", encoding="utf-8", errors="backslashreplace", newline="\n") as fh:
        for line in fh:
            yield line.rstrip("\r\n")


def clf_time(text: str, cache: dict[str, tuple[int, int] | None]) -> tuple[int, int] | None:
    """``10/Oct/2000:13:55:36 -0700`` → (UTC epoch seconds, offset minutes)."""
    if text in cache:
        return cache[text]
    try:
        day, mon, rest = text.split("/", 2)
        year, hh, mm, rest2 = rest.split(":", 3)
        ss, off = rest2.split(" ")
        sign = -1 if off[0] == "-" else 1
        off_min = sign * (int(off[1:3]) * 60 + int(off[3:5]))
        local = timegm((int(year), MONTHS[mon], int(day), int(hh), int(mm), int(ss)))
        value: tuple[int, int] | None = (local - off_min * 60, off_min)
    except (ValueError, KeyError, IndexError):
        value = None
    if len(cache) > 100_000:
        cache.clear()
    cache[text] = value
    return value


def dash(s: str) -> str | None:
    return None if s in ("-", "") else s


def parse(line_no: int, line: str, cache: dict[str, tuple[int, int] | None]) -> tuple[object, ...] | str:
    """A row for ``events`` or a reject reason."""
    if not line.strip():
        return "empty line"
    m = LINE.match(line)
    if m is None:
        return "not a combined line"
    ip, _ident, user, ts_text, request, status, nbytes, referer, agent = m.groups()
    ts = clf_time(ts_text, cache)
    if ts is None:
        return "missing or unparseable timestamp"
    rq = REQUEST.match(request)
    if rq:
        method, target, protocol, raw = rq.group(1), rq.group(2), rq.group(3), None
        path, _, query = target.partition("?")
    else:
        method = path = query = protocol = None
        raw = request
    return (
        line_no, ts[0], ts[1], dash(ip), dash(user), method, path, query or None, protocol, raw,
        None if status == "-" else int(status), None if nbytes == "-" else int(nbytes),
        dash(referer), dash(agent),
    )  # fmt: skip


def flush(
    con: duckdb.DuckDBPyConnection, rows: list[tuple[object, ...]], rejects: list[tuple[int, str, str]]
) -> None:
    if rows:
        batch = pd.DataFrame(rows, columns=EVENT_COLS)
        con.register("batch", batch)
        con.execute(
            "INSERT INTO events (source_id, line_no, ts, ts_offset_min, client_ip, principal, method, path, "
            "query, protocol, request_raw, status, bytes_sent, referer, user_agent) "
            "SELECT 1, line_no, to_timestamp(epoch), off, client_ip, principal, method, path, query, "
            "protocol, request_raw, status, bytes_sent, referer, user_agent FROM batch"
        )
        con.unregister("batch")
    if rejects:
        con.executemany("INSERT INTO rejects VALUES (1, ?, ?, ?)", rejects)


def main(case_path: str, log_path: str) -> None:
    con = connect(case_path)
    for table in ("events", "rejects"):
        con.execute(create_table_sql(table))
    cache: dict[str, tuple[int, int] | None] = {}
    rows: list[tuple[object, ...]] = []
    rejects: list[tuple[int, str, str]] = []
    n = 0
    con.execute("BEGIN TRANSACTION")
    for n, line in enumerate(lines(Path(log_path)), 1):
        out = parse(n, line, cache)
        if isinstance(out, str):
            rejects.append((n, line, out))
        else:
            rows.append(out)
        if len(rows) >= BATCH:
            flush(con, rows, rejects)
            rows, rejects = [], []
    flush(con, rows, rejects)
    con.execute("COMMIT")
    con.close()
    print(f"lines: {n:,}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
