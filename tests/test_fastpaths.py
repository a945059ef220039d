"""The fast paths give exactly what the regexes give, on real lines and mutated ones.

splitplan.py (quote/space splitting) must accept only lines the strict regex accepts, with the
same field values; base.py's request split must equal REQUEST_RE. Mutations insert the bytes
that make parsing hard (quotes, backslashes, blanks, brackets) at random places.
"""

from __future__ import annotations

import random
from pathlib import Path

import duckdb
import pytest

from forensics import formats
from forensics.case import connect
from forensics.formats.base import REQUEST_RE, _request_parts
from forensics.formats.linefmt import LineFormat
from forensics.formats.splitplan import plan_sql
from forensics.formats.sqltext import sql_list, sql_str
from tests.conftest import COMBINED

DATA = Path(__file__).resolve().parent / "data" / "realdata"
NASTY = ['"', "\\", " ", "\t", "]", "[", '\\"', "  ", "-", "\x1b", "é"]
CUSTOM = [
    '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
    '$request_time "$http_x_request_id" $host',
    '%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i" %D',
]


CUSTOM_LINES = [
    '10.0.0.{i} - bob [12/Mar/2024:10:00:0{j} +0000] "GET /r/{i}?a={j} HTTP/1.1" 200 {i}{j} 0.0{j}1 '
    '"req-{i}" api.example.com',
    '10.0.0.{i} - - [12/Mar/2024:10:00:0{j} +0100] "POST /login HTTP/1.1" 302 - "-" "curl/{i}.{j}" 12{j}',
    # traefik_clf, envoy, envoy_istio
    '10.0.0.{i} - - [12/Mar/2024:10:00:0{j} +0000] "GET /r/{i} HTTP/2.0" 200 {i}{j} "-" "curl/{i}" {i}{j} '
    '"api@docker" "http://172.18.0.{j}:80" {j}ms',
    '[2024-03-12T10:00:0{j}.123Z] "GET /r/{i}?a={j} HTTP/1.1" 200 - 0 {i}{j} {j} {i} "10.1.0.{i}" "curl/{i}" '
    '"id-{i}-{j}" "api.example.com" "10.2.0.{j}:8080"',
    '[2024-03-12T10:00:0{j}.123Z] "POST /r/{i} HTTP/2" 503 UF upstream_reset_before_response_started{{connection_failure}} '
    '- "-" {i}{j} 91 {j} - "-" "grpc-go/1.{i}" "id-{i}" "svc:80" "10.2.0.{j}:80" outbound|80||svc.ns.svc.cluster.local '
    '- 10.3.0.1:80 10.4.0.{i}:5{j}123 - default',
]


def corpus(seed: int = 7, per_line: int = 3) -> list[str]:
    lines = list(COMBINED)
    lines += [t.format(i=i, j=j) for t in CUSTOM_LINES for i in range(1, 8) for j in range(1, 4)]
    for path in sorted(DATA.glob("*/*.log")):
        lines += path.read_text(encoding="utf-8", errors="replace").splitlines()[:80]
    rng = random.Random(seed)
    mutated = []
    for line in lines:
        for _ in range(per_line):
            chars = list(line)
            for _ in range(rng.randint(1, 3)):
                chars.insert(rng.randrange(len(chars) + 1), rng.choice(NASTY))
            mutated.append("".join(chars))
    return lines + mutated


def layout_formats() -> list[LineFormat]:
    regs = [f for f in formats.REGISTRY.values() if isinstance(f, LineFormat)]
    return regs + [formats.custom_format(c) for c in CUSTOM]


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    c = connect(":memory:")
    c.execute("CREATE TABLE lines AS SELECT unnest(?) AS line", [corpus()])
    return c


@pytest.mark.parametrize("fmt", layout_formats(), ids=lambda f: f.layout_text[:30])
def test_split_plan_agrees_with_strict_regex(con: duckdb.DuckDBPyConnection, fmt: LineFormat) -> None:
    names = [f"f{i}" for i in range(len(fmt.layout.fields))]
    plan = plan_sql(fmt.layout.tokens, names)
    if plan is None:
        pytest.skip("layout has no split plan (regex only)")
    cols, ok, struct = plan
    ts = names[[f.spec.column for f in fmt.layout.fields].index("ts")]
    rows = con.execute(f"""
        SELECT line, {ok} AS ok, {struct} AS s,
               regexp_extract(line, {sql_str(fmt.layout.fast)}, {sql_list(names)}) AS r
        FROM (SELECT line, {cols} FROM lines)""").fetchall()
    accepted = [(line, s, r) for line, ok_, s, r in rows if ok_]
    assert len(accepted) >= 10, "the corpus must exercise the split plan"
    for line, s, r in accepted:
        assert r[ts] != "", f"split accepted a line the strict regex rejects: {line!r}"
        assert s == r, line


def test_request_split_equals_request_regex(con: duckdb.DuckDBPyConnection) -> None:
    reqs = ["GET / HTTP/1.1", "GET /a b c HTTP/1.0", "GET  HTTP/1.1", "GET HTTP/1.1", "-", "GET",
            "GET /x HTTP/1.1 HTTP/1.1", "\\x16\\x03\\x01", "PROPFIND /dav/ HTTP/2.0", "get /x",
            "GET /x HTTP/", "GET /x HTTP/1.1 ", "X" * 40 + " /too-long-method HTTP/1.1", ""]
    rng = random.Random(3)
    for r in list(reqs):
        for _ in range(5):
            chars = list(r)
            chars.insert(rng.randrange(len(chars) + 1), rng.choice(NASTY))
            reqs.append("".join(chars))
    got = con.execute(f"""
        SELECT req, _rq_m, _rq_t, _rq_p,
               regexp_extract(req, {sql_str(REQUEST_RE)}, ['m', 't', 'p']) AS rx
        FROM (SELECT req, {_request_parts('req')} FROM (SELECT unnest(?) AS req))""",
                      [reqs]).fetchall()
    assert len(got) == len(reqs)
    for req, m, t, p, rx in got:
        expect = (rx["m"] or None, rx["t"] if rx["m"] else None, rx["p"] if rx["m"] else None)
        assert (m, t, p) == expect, req
