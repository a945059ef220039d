"""Round trips: generated field values -> a rendered line -> parse -> the same fields back.

The values are generated as a server WRITES them (Apache and nginx escape a quote in a logged
string as ``\\"`` or ``\\x22``, a backslash as ``\\\\``; a parser stores text as logged), so the
expected column value is the generated text itself, ``-`` or empty meaning NULL. Times are
local times in zones with odd offsets and DST (``datetime`` with a zoneinfo zone, ambiguous
and skipped wall-clock times included): the parse must give the same UTC instant and the
offset written in the line, in minutes.

All records of all examples of a layout are parsed in one DuckDB query (fuzzkit.Collector).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import pytest
from hypothesis import given
from hypothesis import strategies as st

from forensics import formats
from forensics.formats.base import ParseOptions
from forensics.store.db import connect
from tests.fuzzkit import fuzz_settings, parse_keyed

ZONES = [
    ZoneInfo(z)
    for z in (
        "UTC",
        "Europe/London",  # +0000 / +0100
        "America/New_York",
        "America/St_Johns",  # -0330 / -0230
        "Asia/Kathmandu",  # +0545
        "Australia/Lord_Howe",  # +1030 / +1100: a 30-minute DST shift
        "Pacific/Chatham",  # +1245 / +1345
        "Pacific/Kiritimati",  # +1400
        "Pacific/Marquesas",  # -0930
        "America/Adak",  # -1000 / -0900
    )
]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

local_times = st.datetimes(  # naive bounds: hypothesis attaches the zones
    min_value=datetime(1971, 1, 1),  # noqa: DTZ001
    max_value=datetime(2099, 12, 31, 23, 59, 59),  # noqa: DTZ001
    timezones=st.sampled_from(ZONES),
)


def clf_time(dt: datetime) -> str:
    """Apache %t / nginx $time_local: 10/Oct/2000:13:55:36 -0700 (English month names)."""
    return f"{dt.day:02d}/{MONTHS[dt.month - 1]}/{dt.year:04d}:{dt:%H:%M:%S} {dt:%z}"


def offset_min(dt: datetime) -> int:
    off = dt.utcoffset()
    assert off is not None
    return int(off.total_seconds() // 60)


ipv4 = st.ip_addresses(v=4).map(str)
ipv6 = st.ip_addresses(v=6).map(str)
hostnames = st.from_regex(r"[a-z][a-z0-9-]{0,15}(\.[a-z][a-z0-9-]{0,15}){0,3}", fullmatch=True)
clients = st.one_of(ipv4, ipv6, hostnames)
methods = st.one_of(
    st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "PROPFIND"]),
    st.from_regex(r"[A-Za-z][A-Za-z0-9_-]{0,12}", fullmatch=True),
)
users = st.one_of(st.just("-"), st.from_regex(r"[A-Za-z0-9._@+=-]{1,24}", fullmatch=True))
# Path text as logged: RFC 3986 pchar, percent escapes, and the escapes servers write for
# bytes they must not log raw (\" and \x22 for a quote, \\ for a backslash, \xNN for others).
PCHARS = "ABCXYZabcxyz0129-._~!$&'()*+,;=:@/"
ESCAPES = ["%20", "%22", "%2F", "%00", '\\"', "\\x22", "\\\\", "\\xE9", "://", "//", "/../"]
path_text = st.lists(
    st.one_of(st.text(PCHARS, min_size=1, max_size=8), st.sampled_from(ESCAPES)), max_size=8
).map(lambda parts: "/" + "".join(parts))
query_text = st.one_of(
    st.just(""),
    st.lists(st.one_of(st.text(PCHARS + "?=&", min_size=1, max_size=8), st.sampled_from(ESCAPES)), max_size=6)
    .map("".join)
    .filter(lambda q: not q.startswith("?")),
)
protocols = st.sampled_from(["HTTP/1.0", "HTTP/1.1", "HTTP/2.0", "HTTP/2", "HTTP/3", ""])
statuses = st.integers(100, 599)
byte_counts = st.one_of(st.just("-"), st.integers(0, 10**12).map(str))
# A quoted header value as logged: any printable text (unicode too), quotes and backslashes
# only escaped. Leading and trailing blanks are kept.
SAFE_TEXT = st.characters(
    codec="utf-8", exclude_categories=["Cc", "Cs", "Zl", "Zp"], exclude_characters='"\\'
)
quoted_text = st.one_of(
    st.just("-"),
    st.just(""),
    st.lists(
        st.one_of(
            st.text(SAFE_TEXT, min_size=1, max_size=12), st.sampled_from(['\\"', "\\\\", "\\x22", "\\x1B"])
        ),
        max_size=10,
    ).map("".join),
)


def nul(v: str) -> str | None:
    return None if v in ("-", "") else v


@st.composite
def clf_records(draw: st.DrawFn) -> dict[str, Any]:
    dt = draw(local_times).replace(microsecond=0)  # CLF times have whole seconds
    path, query = draw(path_text), draw(query_text)
    proto = draw(protocols)
    return {
        "dt": dt,
        "host": draw(hostnames),
        "port": draw(st.integers(1, 65535)),
        "client": draw(clients),
        "user": draw(users),
        "method": draw(methods),
        "path": path,
        "query": query,
        "protocol": proto,
        "status": draw(statuses),
        "bytes": draw(byte_counts),
        "referer": draw(quoted_text),
        "agent": draw(quoted_text),
        "xff": draw(st.one_of(st.just("-"), st.lists(ipv4, min_size=1, max_size=3).map(", ".join))),
    }


def _request(r: dict[str, Any]) -> str:
    return (
        f"{r['method']} {r['path']}"
        + (f"?{r['query']}" if r["query"] else "")
        + (f" {r['protocol']}" if r["protocol"] else "")
    )


def render_common(r: dict[str, Any]) -> str:
    return f'{r["client"]} - {r["user"]} [{clf_time(r["dt"])}] "{_request(r)}" {r["status"]} {r["bytes"]}'


def render_combined(r: dict[str, Any]) -> str:
    return f'{render_common(r)} "{r["referer"]}" "{r["agent"]}"'


def render_vhost(r: dict[str, Any]) -> str:
    return f"{r['host']}:{r['port']} {render_combined(r)}"


def render_nginx_main(r: dict[str, Any]) -> str:
    return f'{render_combined(r)} "{r["xff"]}"'


def want_common(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "ts": r["dt"].astimezone(UTC),
        "ts_offset_min": offset_min(r["dt"]),
        "client_ip": r["client"],
        "principal": nul(r["user"]),
        "method": r["method"],
        "path": r["path"],
        "query": nul(r["query"]),
        "protocol": nul(r["protocol"]),
        "status": r["status"],
        "bytes_sent": None if r["bytes"] == "-" else int(r["bytes"]),
    }


def want_combined(r: dict[str, Any]) -> dict[str, Any]:
    return {**want_common(r), "referer": nul(r["referer"]), "user_agent": nul(r["agent"])}


def want_vhost(r: dict[str, Any]) -> dict[str, Any]:
    return {**want_combined(r), "host": r["host"], "extra": {"server_port": str(r["port"])}}


def want_nginx_main(r: dict[str, Any]) -> dict[str, Any]:
    return {**want_combined(r), "forwarded_for": nul(r["xff"])}


CLF_CASES: dict[str, tuple[Callable[[dict[str, Any]], str], Callable[[dict[str, Any]], dict[str, Any]]]] = {
    "common": (render_common, want_common),
    "combined": (render_combined, want_combined),
    "vhost_combined": (render_vhost, want_vhost),
    "nginx_main": (render_nginx_main, want_nginx_main),
}


@pytest.fixture(scope="module")
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    c = connect(":memory:")
    yield c
    c.close()


def parse_and_compare(
    con: duckdb.DuckDBPyConnection, fmt_name: str, lines: list[str], wants: list[dict[str, Any]]
) -> None:
    """One parse of every line; each row must carry exactly the wanted values."""
    fmt = formats.REGISTRY[fmt_name]
    parser = fmt.bind(lines[:50], ParseOptions())
    rows = parse_keyed(con, parser, list(enumerate(lines, 1)))
    assert len(rows) == len(lines)
    bad = []
    for row, line, want in zip(rows, lines, wants, strict=True):
        if isinstance(row.get("extra"), str):
            row["extra"] = json.loads(row["extra"])
        got = {k: row[k] for k in want}
        if row["reject_reason"] is not None or got != want:
            bad.append(f"{line!r}\n  reject: {row['reject_reason']}\n  got:  {got}\n  want: {want}")
    assert not bad, f"{len(bad)} of {len(lines)} {fmt_name} lines mis-parsed:\n" + "\n".join(bad[:5])


@pytest.mark.parametrize("fmt_name", list(CLF_CASES))
def test_clf_family_round_trip(con: duckdb.DuckDBPyConnection, fmt_name: str) -> None:
    render, want = CLF_CASES[fmt_name]
    records: list[dict[str, Any]] = []

    @fuzz_settings()
    @given(st.lists(clf_records(), min_size=1, max_size=20))
    def gather(batch: list[dict[str, Any]]) -> None:
        records.extend(batch)

    gather()
    parse_and_compare(con, fmt_name, [render(r) for r in records], [want(r) for r in records])


# JSON lines: any text at all (JSON escapes it), numbers as numbers, times as ISO text with an
# offset or epoch seconds/milliseconds.
any_text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=30)


@st.composite
def json_records(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    dt = draw(local_times)
    kind = draw(st.sampled_from(["iso", "iso_micro", "epoch_s", "epoch_ms"]))
    if kind == "iso":
        when: Any = dt.replace(microsecond=0).isoformat()
        ts, off = dt.replace(microsecond=0).astimezone(UTC), offset_min(dt)
    elif kind == "iso_micro":
        when, ts, off = dt.isoformat(timespec="microseconds"), dt.astimezone(UTC), offset_min(dt)
    elif kind == "epoch_s":
        when = int(dt.timestamp())
        ts, off = datetime.fromtimestamp(when, UTC), None
    else:
        when = int(dt.timestamp()) * 1000 + dt.microsecond // 1000
        ts, off = datetime.fromtimestamp(when / 1000, UTC), None
    path = "/" + draw(any_text).replace("?", "")
    query = draw(any_text).lstrip("?")
    status, size = draw(statuses), draw(st.integers(0, 2**53))
    rec = {
        "timestamp": when,
        "client_ip": draw(st.one_of(ipv4, ipv6)),
        "method": draw(methods),
        "path": path,
        "query": query,
        "status": status,
        "bytes": size,
        "user": draw(any_text),
        "request_id": draw(any_text),
        "user_agent": draw(any_text),
        "referer": draw(any_text),
    }
    want = {
        "ts": ts,
        "ts_offset_min": off,
        "client_ip": rec["client_ip"],
        "method": rec["method"],
        "path": path,
        "query": nul(query),
        "status": status,
        "bytes_sent": size,
        "principal": nul(rec["user"]),
        "request_id": nul(rec["request_id"]),
        "user_agent": nul(rec["user_agent"]),
        "referer": nul(rec["referer"]),
    }
    return rec, want


def test_json_lines_round_trip(con: duckdb.DuckDBPyConnection) -> None:
    pairs: list[tuple[dict[str, Any], dict[str, Any]]] = []

    @fuzz_settings()
    @given(st.lists(json_records(), min_size=1, max_size=20))
    def gather(batch: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
        pairs.extend(batch)

    gather()
    lines = [json.dumps(rec, ensure_ascii=i % 2 == 0) for i, (rec, _) in enumerate(pairs)]
    parse_and_compare(con, "jsonl", lines, [w for _, w in pairs])
