"""The same traffic written by different servers gives the same findings."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest

from forensics import Case, ingest
from forensics.detectors.run import findings, run_detectors
from tests.test_detectors import OPTS

T0 = datetime(2024, 6, 3, 9, 0, tzinfo=UTC)
CHROME = "Mozilla/5.0 (Windows NT 10.0) Chrome/122.0"
Request = tuple[
    datetime, str, str, str, str, int, int, str, str
]  # ts ip user method path query status bytes ua


def traffic() -> list[Request]:
    rng = random.Random(42)
    out: list[Request] = []
    for n in range(4):  # clinicians: log in, read their own records
        ip = f"10.20.1.{n + 1}"
        t = T0 + timedelta(minutes=n)
        out.append((t, ip, "-", "POST", "/api/v2/auth/login", "", 200, 312, CHROME))
        for k in range(10):
            out.append(
                (
                    t + timedelta(minutes=2 + k),
                    ip,
                    "-",
                    "GET",
                    f"/api/v2/referrals/{1000 + n * 10 + k % 4}",
                    "",
                    200,
                    4100,
                    CHROME,
                )
            )
    for i in range(40):  # a night-time enumerator with probes
        out.append(
            (
                T0 + timedelta(hours=15, seconds=20 * i),
                "203.0.113.9",
                "-",
                "GET",
                f"/api/v2/referrals/{5000 + i}",
                "",
                404 if i % 7 == 6 else 200,
                120 if i % 7 == 6 else 4000,
                "python-requests/2.31",
            )
        )
    out.append(
        (
            T0 + timedelta(hours=16),
            "198.51.100.20",
            "-",
            "GET",
            "/api/v2/referrals",
            "limit=500&page=1",
            200,
            2_000_000,
            CHROME,
        )
    )
    out.append(
        (T0 + timedelta(hours=17), "45.155.205.1", "-", "GET", "/.env", "", 404, 150, "Mozilla/5.0 zgrab/0.x")
    )
    for i in range(30):  # an insider-free, authenticated principal in the remote-user field
        out.append(
            (
                T0 + timedelta(hours=2, minutes=i),
                "10.30.0.5",
                "dr.jones",
                "GET",
                f"/api/v2/referrals/{2000 + rng.randint(0, 5)}",
                "",
                200,
                3900,
                CHROME,
            )
        )
    return sorted(out)


def combined(r: Request) -> str:
    ts, ip, user, method, path, query, status, nbytes, ua = r
    local = ts.astimezone(timezone(timedelta(hours=1)))
    target = path + (f"?{query}" if query else "")
    return (
        f'{ip} - {user} [{local.strftime("%d/%b/%Y:%H:%M:%S %z")}] "{method} {target} HTTP/1.1" {status} '
        f'{nbytes} "-" "{ua}"'
    )


def jsonl(r: Request) -> str:
    ts, ip, user, method, path, query, status, nbytes, ua = r
    rec = {
        "time": ts.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "remote_addr": ip,
        "method": method,
        "uri": path + (f"?{query}" if query else ""),
        "status": status,
        "bytes": nbytes,
        "user_agent": ua,
    }
    if user != "-":
        rec["user"] = user
    return json.dumps(rec)


def comparable(case: Case) -> list[tuple[object, ...]]:
    df = findings(case)
    return sorted(
        (
            r.detector,
            r.severity,
            bool(r.unauthorised),
            str(r.route),
            r.first_seen,
            r.last_seen,
            r.requests,
            None if pd.isna(r.records) else int(r.records),
            tuple(r.record_ids),
            tuple(r.ips) if r.ips is not None and not pd.isna(r.actor_id) else (),
            r.metrics,
        )
        for r in df.itertuples()
    )


@pytest.mark.parametrize("render", [jsonl])
def test_same_traffic_in_two_formats_gives_the_same_findings(tmp_path: Path, render: object) -> None:
    rows = traffic()
    results = []
    for name, fn in (("combined", combined), ("other", render)):
        path = tmp_path / name / "access.log"
        path.parent.mkdir()
        path.write_text("\n".join(fn(r) for r in rows) + "\n")  # type: ignore[operator]
        case = Case.create(tmp_path / f"{name}.duckdb")
        ingest(case, [path])
        assert case.sql("SELECT count(*) AS n FROM events")["n"][0] == len(rows)
        run_detectors(case, OPTS)
        results.append(comparable(case))
        case.close()
    assert results[0] == results[1]
    detectors = {r[0] for r in results[0]}
    assert detectors >= {"unauth_read", "enumeration", "bulk", "scanner"}
