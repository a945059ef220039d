"""Route templates and record ids from small explicit event tables."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from forensics import Case, Endpoint, RouteOptions, derive_routes, route_summary
from forensics.cli import main
from forensics.errors import EndpointError, ForensicsError
from tests.eventrows import T0, add_events

UUID = "9f1c2b3a-4d5e-4f60-8a7b-1c2d3e4f5a6b"


def route_of(case: Case) -> dict[tuple[str | None, str], tuple[str, str | None, str | None]]:
    """(method, path) -> (route, record_id, id_kind)."""
    rows = case.con.execute("SELECT method, path, route, record_id, id_kind FROM routes").fetchall()
    return {(m, p): (r, rid, k) for m, p, r, rid, k in rows}


def test_typed_identifiers_become_placeholders(case: Case) -> None:
    paths = {
        f"/api/v2/referrals/51234/documents/{UUID}": (
            "GET /api/v2/referrals/{int}/documents/{uuid}",
            "51234",
            "int",
        ),
        "/api/v2/patients/4857773456": ("GET /api/v2/patients/{nhs}", "4857773456", "nhs"),
        "/api/v2/blobs/5f2b9c0e7a1d4e3f": ("GET /api/v2/blobs/{hex}", "5f2b9c0e7a1d4e3f", "hex"),
        "/api/v2/users/jane.doe%40example.org": (
            "GET /api/v2/users/{email}",
            "jane.doe%40example.org",
            "email",
        ),
        "/share/aZ3kP9qLm2xV7tR1wY": ("GET /share/{token}", "aZ3kP9qLm2xV7tR1wY", "token"),
        "/static/app.3f9c2a1b4d5e6f70a1b2.js": ("GET /static/app.3f9c2a1b4d5e6f70a1b2.js", None, None),
        "/api/v2/health": ("GET /api/v2/health", None, None),
        "/": ("GET /", None, None),
    }
    add_events(case, [{"path": p} for p in paths])
    derive_routes(case)
    got = route_of(case)
    assert got == {("GET", p): want for p, want in paths.items()}


def test_version_segments_and_words_stay_literal_but_many_slugs_vary(case: Case) -> None:
    rows = [{"path": f"/api/v{v}/{word}"} for v in (1, 2) for word in ("referrals", "documents", "audit")]
    rows += [{"path": f"/profiles/{name}/summary"} for name in [f"user{c}{d}" for c in "abcde" for d in "fghij"]]
    rows += [{"path": f"/teams/{name}"} for name in ["red", "blue", "green"]]
    add_events(case, rows)
    derive_routes(case, RouteOptions(min_distinct=25))
    got = {route for route, _, _ in route_of(case).values()}
    assert got == {
        "GET /api/v1/referrals",
        "GET /api/v1/documents",
        "GET /api/v1/audit",
        "GET /api/v2/referrals",
        "GET /api/v2/documents",
        "GET /api/v2/audit",
        "GET /profiles/{str}/summary",
        "GET /teams/red",
        "GET /teams/blue",
        "GET /teams/green",
    }
    # the same data with a higher threshold keeps the 25 profile names literal
    derive_routes(case, RouteOptions(min_distinct=26))
    assert len({r for r, _, _ in route_of(case).values() if r.startswith("GET /profiles/")}) == 25


def test_methods_are_separate_routes_and_null_method_is_kept(case: Case) -> None:
    add_events(
        case,
        [
            {"method": "GET", "path": "/api/orders/7"},
            {"method": "DELETE", "path": "/api/orders/7"},
            {"method": None, "path": "/api/orders/8"},
        ],
    )
    derive_routes(case)
    assert route_of(case) == {
        ("GET", "/api/orders/7"): ("GET /api/orders/{int}", "7", "int"),
        ("DELETE", "/api/orders/7"): ("DELETE /api/orders/{int}", "7", "int"),
        (None, "/api/orders/8"): ("- /api/orders/{int}", "8", "int"),
    }
    n = case.con.execute("SELECT count(*) FROM requests").fetchone()
    assert n == (3,)  # the view neither loses nor duplicates events


def test_declared_endpoints_win_and_pick_the_id_placeholder(case: Case) -> None:
    add_events(
        case,
        [
            {"path": f"/api/v2/referrals/51234/documents/{UUID}"},
            {"path": "/api/v2/referrals/51235"},
            {"method": "POST", "path": "/api/v2/referrals/51236"},
            {"path": "/api/v2/referrals/abc/notes/n-1"},
        ],
    )
    eps = (
        Endpoint.parse("GET /api/v2/referrals/{ref}/documents/{id}"),
        Endpoint.parse("GET /api/v2/referrals/{id}"),
        Endpoint.parse("/api/v2/referrals/{ref}/notes/{note}"),  # any method, first placeholder
    )
    derive_routes(case, RouteOptions(eps))
    got = {
        p: (r, rid, origin, label)
        for p, r, rid, origin, label in case.con.execute(
            "SELECT path, route, record_id, origin, label FROM routes"
        ).fetchall()
    }
    assert got == {
        f"/api/v2/referrals/51234/documents/{UUID}": (
            "GET /api/v2/referrals/{ref}/documents/{id}",
            UUID,
            "declared",
            "GET /api/v2/referrals/{ref}/documents/{id}",
        ),
        "/api/v2/referrals/51235": (
            "GET /api/v2/referrals/{id}",
            "51235",
            "declared",
            "GET /api/v2/referrals/{id}",
        ),
        # POST is not the declared GET: inferred
        "/api/v2/referrals/51236": ("POST /api/v2/referrals/{int}", "51236", "inferred", None),
        "/api/v2/referrals/abc/notes/n-1": (
            "GET /api/v2/referrals/{ref}/notes/{note}",
            "abc",
            "declared",
            "/api/v2/referrals/{ref}/notes/{note}",
        ),
    }


def test_declared_endpoint_that_matches_nothing_is_reported_with_close_routes(case: Case) -> None:
    add_events(case, [{"path": f"/api/v2/referrals/{i}"} for i in range(3)])
    result = derive_routes(case, RouteOptions((Endpoint.parse("GET /api/v2/referral/{id}"),)))
    assert result.unmatched == {"GET /api/v2/referral/{id}": ["GET /api/v2/referrals/{int}"]}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("GET api/v2/x", "must start with '/'"),
        ("GET /a/{id", "unbalanced braces"),
        ("GET /a b", "expected 'METHOD"),
        ("G$T /a", "not an HTTP method"),
    ],
)
def test_bad_endpoints_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(EndpointError, match=message):
        Endpoint.parse(text)


def test_record_ids_from_query_parameters(case: Case) -> None:
    add_events(
        case,
        [
            {"path": "/api/patients", "query": "patient_id=77&fields=all"},
            {"path": "/api/patients", "query": "page=2&id=78"},
            {"path": "/api/patients", "query": "userId=u-9"},
            {"path": "/api/patients", "query": "paid=1&valid=yes"},  # not id parameters
            {"path": "/api/referrals/5", "query": "id=99"},  # the path's id wins
        ],
    )
    derive_routes(case)
    got = case.con.execute(
        "SELECT query, record_id, record_id_from FROM requests ORDER BY line_no"
    ).fetchall()
    assert got == [
        ("patient_id=77&fields=all", "77", "query patient_id"),
        ("page=2&id=78", "78", "query id"),
        ("userId=u-9", "u-9", "query userId"),
        ("paid=1&valid=yes", None, None),
        ("id=99", "5", "path"),
    ]


def test_summary_counts_statuses_bytes_and_times(case: Case) -> None:
    rows = [
        {"path": "/api/referrals/1", "status": 200, "bytes_sent": 1000, "ts": T0},
        {"path": "/api/referrals/2", "status": 200, "bytes_sent": 3000, "ts": T0 + timedelta(hours=1)},
        {"path": "/api/referrals/2", "status": 304, "bytes_sent": 0, "ts": T0 + timedelta(hours=2)},
        {"path": "/api/referrals/3", "status": 404, "bytes_sent": 150, "ts": T0 + timedelta(hours=3)},
        {"path": "/api/referrals/4", "status": 503, "bytes_sent": 90, "ts": T0 + timedelta(hours=4)},
        {"path": "/login", "method": "POST", "status": 401, "bytes_sent": 20, "ts": T0},
    ]
    add_events(case, rows)
    derive_routes(case)
    df = route_summary(case).set_index("route")
    r = df.loc["GET /api/referrals/{int}"]
    assert (r["requests"], r["records"], r["s2xx"], r["s3xx"], r["s4xx"], r["s5xx"]) == (5, 4, 2, 1, 1, 1)
    assert r["bytes_median"] == 150
    assert r["first_seen"] == T0 and r["last_seen"] == T0 + timedelta(hours=4)
    assert list(df.index) == ["GET /api/referrals/{int}", "POST /login"]


def test_summary_before_derivation_says_what_to_run(case: Case) -> None:
    with pytest.raises(ForensicsError, match="forensics routes"):
        route_summary(case)


def test_cli_routes_json_and_table(tmp_path: Path) -> None:
    path = tmp_path / "case.duckdb"
    with Case.create(path) as case:
        add_events(case, [{"path": f"/api/v2/referrals/{i}"} for i in range(5)])
        case.con.execute(  # attacker-chosen path with an ANSI escape
            "INSERT INTO events (source_id, line_no, ts, method, path, status) VALUES (1, 99, ?, 'GET', ?, 404)",
            [T0, "/x\x1b[31m"],
        )
    runner = CliRunner()
    res = runner.invoke(main, ["routes", str(path), "--json", "--endpoint", "GET /api/v2/referrals/{id}"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert [(d["route"], d["requests"], d["records"]) for d in data] == [
        ("GET /api/v2/referrals/{id}", 5, 5),
        ("GET /x\x1b[31m", 1, 0),
    ]
    res = runner.invoke(main, ["routes", str(path)])
    assert res.exit_code == 0, res.output
    assert "GET /api/v2/referrals/{int}" in res.stdout
    assert "\x1b" not in res.stdout and "/x\\x1b[31m" in res.stdout  # escaped for the terminal
    with Case.open(path, read_only=True) as case:
        logged = case.sql("SELECT command FROM case_log")["command"].tolist()
    assert logged.count("routes") == 2


def test_str_placeholder_carries_the_record_id_and_literal_braces_are_not_placeholders(case: Case) -> None:
    add_events(case, [{"path": f"/profiles/user{c}{d}/summary"} for c in "abcde" for d in "fghij"])
    add_events(case, [{"path": "/api/v2/referrals/{int}"}, {"path": "/api/v2/referrals/77"}])
    derive_routes(case, RouteOptions(min_distinct=25))
    got = route_of(case)
    assert got[("GET", "/profiles/useraf/summary")] == ("GET /profiles/{str}/summary", "useraf", "str")
    assert got[("GET", "/api/v2/referrals/{int}")] == ("GET /api/v2/referrals/%7Bint%7D", None, None)
    assert got[("GET", "/api/v2/referrals/77")] == ("GET /api/v2/referrals/{int}", "77", "int")
