"""The fast paths give exactly what the regexes give, on real lines and mutated ones.

splitplan.py (quote/space splitting) must accept only lines the strict regex accepts, with the
same field values; base.py's request split must equal REQUEST_RE. Mutations insert the bytes
that make parsing hard (quotes, backslashes, blanks, brackets) at random places.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import duckdb
import pytest

from forensics import formats
from forensics.formats.base import REQUEST_RE, _request_parts
from forensics.formats.linefmt import LineFormat
from forensics.formats.splitplan import plan_sql
from forensics.formats.sqltext import sql_list, sql_str
from forensics.store.db import connect
from forensics.store.schema import PARSED_COLUMNS
from tests.conftest import COMBINED
from tests.fuzzkit import with_insertions

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
    "- 10.3.0.1:80 10.4.0.{i}:5{j}123 - default",
]


def corpus(seed: int = 7, per_line: int = 3) -> list[str]:
    lines = list(COMBINED)
    lines += [t.format(i=i, j=j) for t in CUSTOM_LINES for i in range(1, 8) for j in range(1, 4)]
    for path in sorted(DATA.glob("*/*.log")):
        lines += path.read_text(encoding="utf-8", errors="replace").splitlines()[:80]
    return lines + with_insertions(lines, random.Random(seed), per_line, 3, NASTY)


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
    reqs = [
        "GET / HTTP/1.1",
        "GET /a b c HTTP/1.0",
        "GET  HTTP/1.1",
        "GET HTTP/1.1",
        "-",
        "GET",
        "GET /x HTTP/1.1 HTTP/1.1",
        "\\x16\\x03\\x01",
        "PROPFIND /dav/ HTTP/2.0",
        "get /x",
        "GET /x HTTP/",
        "GET /x HTTP/1.1 ",
        "X" * 40 + " /too-long-method HTTP/1.1",
        "",
    ]
    rng = random.Random(3)
    for r in list(reqs):
        for _ in range(5):
            chars = list(r)
            chars.insert(rng.randrange(len(chars) + 1), rng.choice(NASTY))
            reqs.append("".join(chars))
    got = con.execute(
        f"""
        SELECT req, _rq_m, _rq_t, _rq_p,
               regexp_extract(req, {sql_str(REQUEST_RE)}, ['m', 't', 'p']) AS rx
        FROM (SELECT req, {_request_parts("req")} FROM (SELECT unnest(?) AS req))""",
        [reqs],
    ).fetchall()
    assert len(got) == len(reqs)
    for req, m, t, p, rx in got:
        expect = (rx["m"] or None, rx["t"] if rx["m"] else None, rx["p"] if rx["m"] else None)
        assert (m, t, p) == expect, req


# HAProxy (haproxy.py): the string-function head/body/tail split against the regexes alone.
HAPROXY_NASTY = [*NASTY, "{", "}", "/", ":", ">", "<", ' "', " [", "] ", "+", "\n", "/1/2", " {a b}"]


def haproxy_corpus(seed: int = 11, per_line: int = 8) -> list[str]:
    from tests.test_proxy import BARE, ERROR_DOC, HTTP_DOC, HTTPS_DOC, TCP_DOC

    prefixes = ["", "<134>", "<134>1 2009-02-06T12:14:14.700+01:00 lb1 haproxy 14389 - - ",
                '<134>1 2009-02-06T12:14:14.700+01:00 lb1 haproxy 14389 HTTP [meta x="1"] ',
                "2009-02-06T12:14:14.700123+01:00 lb1 haproxy[14389]: ", "<134>Feb  6 12:14:14 haproxy[14389]: ",
                "Feb 16 01:02:03 lb haproxy: ", "Feb 16 01:02:03 lb1 "]  # fmt: skip
    bodies = [
        BARE,
        BARE.replace("10.0.1.2:33317", "2001:db8::17:40112"),
        BARE.replace("10.0.1.2:33317", "unix:1"),
        BARE.replace('0/0 "GET', '0/0 {Mozilla/5.0 (X11)|example.org} "GET'),
        BARE.replace('0/0 "GET', '0/0 {a} {b} {c} "GET'),
        BARE.replace('0/0 "GET', '0/0 {a "GET'),
        BARE.replace("/a?b=1", '/a"b'),
        BARE.replace("/a?b=1", "/a/b/c"),
        BARE.replace(" HTTP/1.1", ""),
        BARE.replace(" HTTP/1.1", " a/b/c/d/e x/y/z"),
        BARE[:-10],
        BARE.replace(" 200 2750", " 200"),
        "10.0.1.3:1 [06/Feb/2009:12:14:14.655] http-in http-in/<NOSRV> -1/-1/-1/-1/+3 400 +187 - - CR-- "
        '1/1/0/0/0 0/0 "<BADREQ>"',
        "10.0.1.2:33313 [06/Feb/2009:12:12:51.443] fnt bck/srv1 0/0/+5007 +212 -- 0/0/0/0/+3 0/0",
    ]
    lines = [HTTP_DOC, TCP_DOC, HTTPS_DOC, ERROR_DOC, HTTPS_DOC.replace(" 1wt.eu/", ' "1wt.eu/')]
    lines += [p + b for p in prefixes for b in bodies]
    lines += (DATA / "haproxy" / "lnav_haproxy.0.log").read_text(encoding="utf-8").splitlines()
    rng = random.Random(seed)
    mutated = []
    for line in lines:
        for _ in range(per_line):
            chars = list(line)
            for _ in range(rng.randint(1, 3)):
                if rng.random() < 0.3 and chars:
                    del chars[rng.randrange(len(chars))]
                else:
                    chars.insert(rng.randrange(len(chars) + 1), rng.choice(HAPROXY_NASTY))
            mutated.append("".join(chars))
    return lines + mutated


def test_haproxy_fast_path_equals_regexes() -> None:
    from forensics.formats.haproxy import HaproxyParser

    lines = haproxy_corpus()
    c = connect(":memory:")
    c.execute(
        "CREATE TABLE src AS SELECT generate_subscripts($l, 1) AS line_no, unnest($l) AS line", {"l": lines}
    )
    fast, slow = (
        c.execute(
            f"SELECT * FROM ({HaproxyParser('haproxy', 'UTC', f).select_sql('src')}) ORDER BY line_no"
        ).fetchall()
        for f in (True, False)
    )
    assert len(fast) == len(slow) == len(lines)
    events = [r for r in slow if r[-2] is None]
    assert len(events) > len(lines) // 5, "the corpus must exercise the parser"
    assert len({r[-2] for r in slow}) >= 4, "and its rejects"
    for f, s in zip(fast, slow, strict=True):
        assert f == s, lines[s[0] - 1]


def test_json_object_sql_equals_to_json_of_a_map() -> None:
    from forensics.formats.sqltext import json_members_sql, json_object_sql

    values = [
        "a",
        "-",
        "",
        None,
        'q"uote',
        "back\\slash",
        "tab\there",
        "\x01ctl",
        "é ü",
        "\u2028",
        "</x>",
        "{}",
    ]
    rng = random.Random(5)
    rows = [[rng.choice(values) for _ in range(4)] for _ in range(300)]
    keys = ["k1", 'k"2', "k\\3", "k 4"]
    c = connect(":memory:")
    c.execute("CREATE TABLE t AS SELECT unnest($r) AS v", {"r": rows})
    entries = [(sql_str(k), f"v[{i + 1}]") for i, k in enumerate(keys)]
    new = json_object_sql([json_members_sql(entries[:2]), json_members_sql(entries[2:])])
    items = ", ".join(f"{{'k': {k}, 'v': {v}}}" for k, v in entries)
    old = f"nullif(to_json(map_from_entries(list_filter([{items}], lambda x: x.v NOT IN ('-', '')))), '{{}}')"
    got = c.execute(f"SELECT v, {new}, {old} FROM t").fetchall()
    assert any(o is None for _, _, o in got) and any(o is not None and "\\" in o for _, _, o in got)
    for v, n, o in got:
        assert n == o, v


def jsonmap_records(seed: int = 13) -> dict[str, list[str]]:
    """Per fixed-mapping JSON format: its example and records with keys dropped, emptied, or
    with an object the mapping reaches into absent or not an object."""
    from forensics.formats.jsonmap import JsonMapFormat

    rng = random.Random(seed)
    out = {}
    for fmt in formats.REGISTRY.values():
        if not isinstance(fmt, JsonMapFormat):
            continue
        base = json.loads(fmt.example)
        recs = [base]
        for _ in range(250):
            rec = json.loads(fmt.example)
            for _ in range(rng.randint(1, 4)):
                node, parent, key = rec, None, None
                while isinstance(node, dict) and node and rng.random() < 0.7:
                    parent, key = node, rng.choice(list(node))
                    node = node[key]
                if parent is None or key is None:
                    continue
                parent[key] = rng.choice([None, "", "-", "x", 7, [], {}, "DELETE"])
                if parent[key] == "DELETE":
                    del parent[key]
            recs.append(rec)
        out[fmt.name] = [json.dumps(r) for r in recs]
    return out


def test_jsonmap_constant_patch_equals_built_patch() -> None:
    from forensics.formats.base import ParseOptions
    from forensics.formats.jsonmap import JsonMapParser

    c = connect(":memory:")
    for name, lines in jsonmap_records().items():
        fmt = formats.REGISTRY[name]
        c.execute(
            "CREATE OR REPLACE TABLE src AS SELECT generate_subscripts($l, 1) AS line_no, unnest($l) AS line",
            {"l": lines},
        )
        fast, slow = (
            c.execute(
                f"SELECT * FROM ({JsonMapParser(fmt, ParseOptions(tz='UTC'), f).select_sql('src')}) "
                "ORDER BY line_no"
            ).fetchall()
            for f in (True, False)
        )
        assert sum(r[-2] is None for r in slow) > len(lines) // 4, name
        x = PARSED_COLUMNS.index("extra")
        for f, s in zip(fast, slow, strict=True):
            fx, sx = (json.loads(r[x]) if r[x] else None for r in (f, s))  # extra, compared as JSON
            assert (f[:x], fx, f[x + 1 :]) == (s[:x], sx, s[x + 1 :]), (name, lines[s[0] - 1])
