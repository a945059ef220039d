"""The same SQL on Spark: every statement investigate runs is carried to Spark SQL, and what runs
there answers as DuckDB does (forensics/spark/).

The transpile test needs sqlglot only; the others start a local-mode SparkSession (PySpark, the
``[spark]`` extra, and a Java runtime) and are skipped, saying which is missing, without them.
"""

from __future__ import annotations

import importlib.util
import math
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest

from forensics import Case, IngestOptions, ingest
from forensics.cli import DEMO_ENDPOINTS, main
from forensics.derive import routes
from forensics.spark.dialect import SparkDialectError, parse, to_spark
from tests.conftest import SAMPLE_EVIDENCE, SAMPLE_LOGS, sample_truth, write_lines

EVIDENCE_TABLES = ("events", "sources", "rejects", "meta", "case_log")


def _spark_missing() -> str | None:
    if importlib.util.find_spec("pyspark") is None:
        return "PySpark is not installed (pip install -e '.[spark]')"
    if shutil.which("java") is None:
        return "no Java runtime on PATH (Spark needs Java 17 or 21)"
    return None


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    reason = _spark_missing()
    if reason:
        pytest.skip(reason)
    from forensics.spark.session import local_session

    session = local_session(cores=2, memory="1g")
    yield session
    session.stop()


class _Capture:
    """A DuckDB connection that notes every statement run on it (and on its cursors)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, seen: list[tuple[str, Any]]) -> None:
        object.__setattr__(self, "_con", con)
        object.__setattr__(self, "_seen", seen)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)

    def execute(self, query: str, parameters: Any = None) -> Any:
        self._seen.append((query, parameters))
        return self._con.execute(query, parameters)

    def cursor(self) -> _Capture:
        return _Capture(self._con.cursor(), self._seen)

    def __enter__(self) -> _Capture:
        return self

    def __exit__(self, *exc: object) -> None:
        self._con.__exit__(*exc)


def _investigate_statements(tmp: Path, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any]]:
    """Every statement `forensics investigate` runs on the sample case (its ingest not included)."""
    case_path = tmp / "case.duckdb"
    with Case.create(case_path) as case:
        ingest(case, [str(SAMPLE_EVIDENCE)], IngestOptions())
    import forensics.store.case as case_module
    import forensics.store.db as db

    seen: list[tuple[str, Any]] = []
    real = db.connect

    def capturing(*args: Any, **kwargs: Any) -> Any:
        return _Capture(real(*args, **kwargs), seen)

    monkeypatch.setattr(db, "connect", capturing)
    monkeypatch.setattr(case_module, "connect", capturing)
    window = sample_truth()["window"]
    args = ["-q", "investigate", str(case_path), "--window", f"{window['start']}/{window['end']}"]
    for ep in DEMO_ENDPOINTS:
        args += ["--endpoint", ep]
    args += ["--login", "POST /api/v2/auth/login", "--trusted", "partner=51.140.12.32/29"]
    args += ["--out", str(tmp / "out")]
    with pytest.raises(SystemExit):
        main(args)
    return seen


def test_every_statement_investigate_runs_is_carried_to_spark_sql(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    statements = _investigate_statements(tmp_path, monkeypatch)
    distinct = {q: p for q, p in statements}
    assert len(distinct) > 100, "the capture saw too few statements to mean anything"
    failed = {}
    for query, params in distinct.items():
        try:
            to_spark(parse(query, params if isinstance(params, list | tuple) else None))
        except SparkDialectError as exc:
            failed[query[:120]] = str(exc)
    assert failed == {}


def test_a_construct_without_a_spark_form_is_refused_not_mistranslated() -> None:
    with pytest.raises(SparkDialectError, match="list_zip"):
        to_spark(parse("SELECT list_zip(a, b)[1] FROM t"))
    with pytest.raises(SparkDialectError, match="literal bounds"):
        to_spark(parse("SELECT x[1:n] FROM t"))
    # Spark reads ASOF as a table alias: an inequality join with every earlier row
    with pytest.raises(SparkDialectError, match="ASOF"):
        to_spark(parse("SELECT * FROM a ASOF LEFT JOIN b ON a.k = b.k AND a.t >= b.t"))
    # a string already JSON, or a value to serialise: not known from the text
    with pytest.raises(SparkDialectError, match="JSON"):
        to_spark(parse("SELECT CAST(x AS JSON) FROM t"))
    with pytest.raises(SparkDialectError, match="time_bucket"):
        to_spark(parse("SELECT time_bucket(INTERVAL '1 month', ts) FROM t"))
    with pytest.raises(SparkDialectError, match="strftime"):
        to_spark(parse("SELECT strftime(ts, '%j') FROM t"))
    with pytest.raises(SparkDialectError, match="unnest"):
        to_spark(parse("SELECT * FROM t LEFT JOIN unnest(t.l) AS u(x) ON u.x = t.y"))


# Each expression: DuckDB's answer must be Spark's answer for the rewritten text.
SEMANTICS = [
    "[10, 20, 30][1]",  # 1-based
    "[10, 20, 30][3]",
    "[10, 20, 30][4]",  # out of range: NULL, not an error
    "list_position(['a', 'b'], 'c')",  # absent: NULL, not 0
    "list_position(['a', 'b'], 'b')",
    "regexp_full_match('abc', 'b')",  # a search would say true
    "regexp_full_match('abc', 'a.c')",
    "regexp_full_match('ab' || chr(10), 'ab')",  # Java's $ would match before the newline
    "epoch(TIMESTAMPTZ '2024-03-01 10:00:00.250+00')",  # the microseconds kept
    # a DOUBLE, as DuckDB's: '49.0 min' (a DECIMAL division read '49 min')
    "round((epoch(TIMESTAMPTZ '2024-03-01 10:49:00+00') - epoch(TIMESTAMPTZ '2024-03-01 10:00:00+00')) / 60)"
    " || ' min'",
    "[1, 2, 3, 4, 5, 6][2:4]",
    "array_length(string_split('/a/b/', '/'))",  # empty strings kept at both ends
    "to_json({'a': 1, 'b': NULL::INTEGER, 'c': ['x', NULL]})",  # Spark would leave b out
    "CAST(to_json({'a': 1}) AS JSON)",
    "strftime(TIMESTAMPTZ '2024-03-01 10:00:05+00', '%Y-%m-%dT%H:%M:%SZ')",  # T and Z stay letters
    "strftime(TIMESTAMPTZ '2024-03-01 10:00:05.012+00', '%Y-%m-%d %H:%M:%S.%f')",  # microseconds
]


# Each query: DuckDB's rows must be the rows of the rewritten text on a SparkConnection.
ROWS = [
    # DuckDB's origin 2000-01-03 (a Monday): 5-hour and 7-day buckets, before and after it
    "SELECT time_bucket(INTERVAL '5 hours', t) AS h, time_bucket(INTERVAL '7 days', t) AS w, "
    "time_bucket(INTERVAL 10 MINUTE, t) AS m FROM (VALUES (TIMESTAMPTZ '1999-12-31 23:59:59.5+00'), "
    "(TIMESTAMPTZ '2024-03-01 10:07:00+00'), (TIMESTAMPTZ '2000-01-03 00:00:00+00')) v(t)",
    # an average is a DOUBLE (Spark's of a DECIMAL is a DECIMAL: 1.000 to 3 places, not 1.0)
    "SELECT round(avg(CASE WHEN x > 0 THEN 1.0 ELSE 0.0 END), 3) AS a, avg(x) AS b, "
    "avg(DISTINCT x) AS c, to_json({'a': round(avg(CASE WHEN x > 0 THEN 1.0 ELSE 0.0 END), 3)}) AS j "
    "FROM (VALUES (1), (2), (2)) v(x)",
    # a length of time in a link reason (linking._shown): no negative zero, halves away from zero
    "SELECT p, 'after ' || (round(p / 3600, 1) + 0.0) || ' h' AS r FROM (SELECT CAST(x AS DOUBLE) AS p "
    "FROM (VALUES (-144), (-180), (-360), (0), (180), (1800), (-1), (-54)) v(x)) ORDER BY p",
    # a row whose list is empty or NULL stays, with NULL (an inner explode drops it)
    "SELECT t.k, u.x FROM (VALUES (1, ['a', 'b']), (2, []), (3, NULL)) t(k, l) "
    "LEFT JOIN LATERAL unnest(t.l) AS u(x) ON true ORDER BY t.k, u.x",
]


def test_rewritten_queries_answer_as_duckdb_does(spark: Any, tmp_path: Path) -> None:
    from forensics.spark.session import SparkConnection

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    on_spark = SparkConnection(spark, tmp_path)  # its tables in pytest's folder, not left in /tmp
    for query in ROWS:
        want = con.execute(query).fetchall()
        assert on_spark.execute(query).fetchall() == want, query


def test_a_list_parameter_is_a_spark_array(spark: Any, tmp_path: Path) -> None:
    from forensics.spark.session import SparkConnection

    on_spark = SparkConnection(spark, tmp_path)
    on_spark.execute("CREATE TABLE runs (signals VARCHAR[], thresholds JSON)")
    on_spark.execute("INSERT INTO runs VALUES (?, ?)", [["H1", "H2"], '{"a": 1}'])
    assert on_spark.execute("SELECT signals[2], thresholds FROM runs").fetchall() == [("H2", '{"a": 1}')]


def test_rewritten_expressions_answer_as_duckdb_does(spark: Any) -> None:
    con = duckdb.connect()
    for expr in SEMANTICS:
        want = con.execute(f"SELECT {expr}").fetchone()
        got = spark.sql(to_spark(parse(f"SELECT {expr} AS v"))).collect()[0][0]
        assert want is not None
        expected = want[0]
        if isinstance(expected, float):
            assert math.isclose(float(got), expected, rel_tol=0, abs_tol=1e-9), expr
        else:
            assert (list(got) if isinstance(got, list | tuple) else got) == expected, expr


def test_ordered_lists_keep_duckdbs_order_and_nulls(spark: Any) -> None:
    rows = "VALUES (1, 'c', 3), (1, NULL, 1), (1, 'a', NULL), (1, 'b', 2), (2, 'z', 1)"
    query = (
        f"SELECT g, list(v ORDER BY k) AS up, list(v ORDER BY k DESC) AS down, "
        f"list(DISTINCT v ORDER BY v) AS uniq, list(k ORDER BY k)[1:2] AS firsts "
        f"FROM ({rows}) t(g, v, k) GROUP BY g ORDER BY g"
    )
    want = duckdb.connect().execute(query).fetchall()
    got = [
        tuple(list(x) if isinstance(x, list) else x for x in r)
        for r in spark.sql(to_spark(parse(query))).collect()
    ]
    assert got == [tuple(list(x) if isinstance(x, list) else x for x in r) for r in want]


def _export(case_path: Path, folder: Path) -> None:
    """The evidence tables as `forensics export --parquet` writes them (events by UTC day)."""
    from forensics import export_parquet

    folder.parent.mkdir(parents=True, exist_ok=True)
    with Case.open(case_path) as case:
        export_parquet(case, folder)


def duckdb_from(folder: Path) -> duckdb.DuckDBPyConnection:
    """A fresh DuckDB holding the export's evidence tables."""
    con = duckdb.connect()
    for table in EVIDENCE_TABLES:
        source = (
            f"read_parquet('{folder}/{table}/*/*.parquet', hive_partitioning = false)"
            if (folder / table).is_dir()
            else f"'{folder / table}.parquet'"
        )
        con.execute(f"CREATE TABLE {table} AS SELECT * FROM {source}")
    # meta's key is its primary key in a case (INSERT OR REPLACE needs it)
    con.execute("CREATE TABLE _meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
    con.execute("INSERT INTO _meta SELECT * FROM meta")
    con.execute("DROP TABLE meta")
    con.execute("ALTER TABLE _meta RENAME TO meta")
    return con


def _routes_on_both(spark: Any, case_path: Path, tmp: Path, opts: routes.RouteOptions) -> None:
    from forensics.spark.session import SparkConnection

    folder = tmp / "parquet"
    _export(case_path, folder)
    on_spark = SparkConnection(spark, tmp / "tables")
    on_spark.load_parquet(folder, EVIDENCE_TABLES)
    routes._build(on_spark, opts)  # type: ignore[arg-type]
    got = on_spark.execute("SELECT * FROM routes").df()
    con = duckdb_from(folder)
    routes._build(con, opts)
    want = con.execute("SELECT * FROM routes").df()
    assert len(want) > 0

    def rows(frame: pd.DataFrame) -> list[tuple[Any, ...]]:
        return sorted(
            (tuple(None if pd.isna(v) else v for v in r) for r in frame.itertuples(index=False)),
            key=repr,
        )

    assert list(got.columns) == list(want.columns)
    assert rows(got) == rows(want)
    per_route = "SELECT route, record_id, record_id_from, count(*) FROM requests GROUP BY ALL ORDER BY ALL"
    assert sorted(on_spark.execute(per_route).fetchall(), key=repr) == sorted(
        con.execute(per_route).fetchall(), key=repr
    )


def test_routes_on_spark_equal_duckdbs_on_the_sample(spark: Any, tmp_path: Path) -> None:
    case_path = tmp_path / "case.duckdb"
    with Case.create(case_path) as case:
        ingest(case, [str(SAMPLE_EVIDENCE)], IngestOptions())
    endpoints = tuple(routes.Endpoint.parse(e) for e in DEMO_ENDPOINTS)
    assert (SAMPLE_LOGS / "truth.json").exists()
    _routes_on_both(spark, case_path, tmp_path, routes.RouteOptions(endpoints=endpoints))


def test_routes_on_spark_equal_duckdbs_for_every_segment_kind(spark: Any, tmp_path: Path) -> None:
    """Ids of every kind, literal segments that vary enough to be {str}, braces, encoded e-mails,
    query-string ids, a method-less line, and a declared endpoint with two placeholders."""
    ids = [
        "12345",
        "3f2b8c9e-1d4a-4b7e-9c2d-5e6f7a8b9c0d",
        "9434765919",
        "deadbeef42",
        "ann%40example.org",
        "tok_9fK2mQ7xZp4LrT8w",
        "%7Bx%7D",
    ]
    lines = []
    for i in range(60):
        for j, rid in enumerate(ids):
            lines.append(
                f"198.51.100.{i % 250} - - [12/Mar/2024:10:{i % 60:02d}:{j:02d} +0000] "
                f'"GET /api/v1/users/user{i}/files/{rid} HTTP/1.1" 200 10 "-" "curl/8"'
            )
        lines.append(
            f"198.51.100.{i % 250} - - [12/Mar/2024:11:{i % 60:02d}:00 +0000] "
            f'"GET /search?id={i}&q=x HTTP/1.1" 200 10 "-" "curl/8"'
        )
        lines.append(
            f"198.51.100.{i % 250} - - [12/Mar/2024:12:{i % 60:02d}:00 +0000] "
            f'"GET /static/app.{i}.js HTTP/1.1" 200 10 "-" "Mozilla/5.0"'
        )
    lines.append('198.51.100.1 - - [12/Mar/2024:13:00:00 +0000] "-" 400 0 "-" "-"')
    log = write_lines(tmp_path / "logs" / "access.log", lines)
    case_path = tmp_path / "case.duckdb"
    with Case.create(case_path) as case:
        ingest(case, [str(log)], IngestOptions())
    declared = (routes.Endpoint.parse("GET /api/v1/users/{user}/files/{id}"),)
    _routes_on_both(spark, case_path, tmp_path, routes.RouteOptions())
    _routes_on_both(spark, case_path, tmp_path / "declared", routes.RouteOptions(endpoints=declared))


def _evidence_on_both(spark: Any, case_path: Path, folder: Path) -> tuple[Any, duckdb.DuckDBPyConnection]:
    """The case's evidence tables on a SparkConnection and on a fresh DuckDB, both from Parquet."""
    from forensics.spark.session import SparkConnection

    _export(case_path, folder)
    on_spark = SparkConnection(spark, folder.parent / "tables")
    on_spark.load_parquet(folder, EVIDENCE_TABLES)
    return on_spark, duckdb_from(folder)


def test_ip_info_on_spark_equals_duckdbs(spark: Any, tmp_path: Path) -> None:
    """Addresses of every kind the networks step tells apart, two trusted networks of which one
    holds the other (the first declared wins), and the Python classification of what is not IPv4."""
    from types import SimpleNamespace

    from forensics.derive.network import Trusted, derive_ip_info

    samples = [
        "10.20.1.15",
        "159.65.3.7",
        "159.65.3.1",
        "127.0.0.1",
        "100.64.3.4",
        "192.0.0.9",
        "203.0.113.5",
    ]
    samples += ["224.0.0.1", "255.255.255.255", "0.1.2.3", "::ffff:8.8.8.8", "8.8.8.8", "2001:41d0:8:f69::1"]
    samples += ["::1", "999.1.1.1", "www-c3.proxy.aol.com", "1.2.3", "08.8.8.8"]
    lines = [
        f'{ip} - - [12/Mar/2024:10:00:{i:02d} +0000] "GET /a HTTP/1.1" 200 1 "-" "curl/8"'
        for i, ip in enumerate(samples)
    ]
    log = write_lines(tmp_path / "logs" / "access.log", lines)
    case_path = tmp_path / "case.duckdb"
    with Case.create(case_path) as case:
        ingest(case, [str(log)], IngestOptions())
        addresses = case.con.execute("SELECT count(DISTINCT client_ip) FROM events").fetchone()
    assert addresses is not None and addresses[0] >= len(samples) - 2  # the format may refuse junk
    on_spark, con = _evidence_on_both(spark, case_path, tmp_path / "parquet")
    trusted = (
        Trusted.parse("partner=159.65.3.0/29"),
        Trusted.parse("wide=159.65.0.0/16"),
        Trusted.parse("v6=2001:41d0::/32"),
    )
    n = derive_ip_info(SimpleNamespace(con=on_spark), trusted)  # type: ignore[arg-type]
    assert n == derive_ip_info(SimpleNamespace(con=con), trusted) == addresses[0]  # type: ignore[arg-type]
    query = (
        "SELECT client_ip, ip_version, scope, net, trusted, CAST(ip_num AS VARCHAR), asn, as_org, hosting, "
        "link_net FROM ip_info"
    )
    want = sorted(con.execute(query).fetchall(), key=repr)
    assert sorted(on_spark.execute(query).fetchall(), key=repr) == want
    by_ip = {r[0]: r for r in want}
    assert by_ip["159.65.3.1"][:5] == ("159.65.3.1", 4, "public", "159.65.3.0/24", "partner")
    assert by_ip["159.65.3.7"][4] == "partner" and by_ip["2001:41d0:8:f69::1"][4] == "v6"


def test_authentication_on_spark_equals_duckdbs_on_the_sample(spark: Any, tmp_path: Path) -> None:
    """request_facts — networks, twin requests (the sample's edge and application logs), every
    authentication rule with a login endpoint, a trusted network and the window's end — row for row."""
    from datetime import datetime
    from types import SimpleNamespace

    from forensics.derive import auth
    from forensics.derive.network import Trusted

    case_path = tmp_path / "case.duckdb"
    with Case.create(case_path) as case:
        ingest(case, [str(SAMPLE_EVIDENCE)], IngestOptions())
    on_spark, con = _evidence_on_both(spark, case_path, tmp_path / "parquet")
    window_end = datetime.fromisoformat(sample_truth()["window"]["end"].replace("Z", "+00:00"))
    opts = auth.AuthOptions(
        logins=(routes.Endpoint.parse("POST /api/v2/auth/login"),),
        trusted=(Trusted.parse("partner=51.140.12.32/29"),),
        answered_after=window_end,
    )
    endpoints = routes.RouteOptions(endpoints=tuple(routes.Endpoint.parse(e) for e in DEMO_ENDPOINTS))
    results = []
    for engine in (con, on_spark):
        routes._build(engine, endpoints)
        results.append(auth.derive_auth(SimpleNamespace(con=engine), opts))  # type: ignore[arg-type]
    assert results[0] == results[1]
    query = (
        "SELECT source_id, line_no, ts, client_key, principal, status, bytes_sent, route, record_id, probe, "
        "auth_state, auth_evidence, auth_trusted, auth_login_ts, auth_shared, auth_ambiguous, twin_principal, "
        "is_copy FROM request_facts"
    )
    want = sorted(con.execute(query).fetchall(), key=repr)
    got = sorted(on_spark.execute(query).fetchall(), key=repr)
    assert len(want) == 25_288 and got == want
    # the sample exercises the rules that matter here: logins, twins, refusals, trusted
    evidence = {r[11] for r in want}
    assert {"login", "principal in another log", "trusted", auth.NO_LOGIN} <= evidence


# What run_detectors derives before its detectors (authentication and actors: linking does not run
# on Spark yet), handed to both engines as Parquet; routes and detect_requests are built on each.
DERIVED_TABLES = (
    "request_facts",
    "clients",
    "request_session",
    "sessions",
    "actors",
    "actor_links",
    "ip_info",
    "ownership",
    "ownership_teams",
    "sigma_rules",
    "sigma_matches",
)


def canonical(value: Any) -> Any:
    """A value as both engines' rows can be compared: instants as UTC text, structs as pairs, lists
    as tuples, NaN as None."""
    from datetime import UTC, datetime

    if isinstance(value, datetime):
        return ("naive", value.isoformat()) if value.tzinfo is None else value.astimezone(UTC).isoformat()
    if isinstance(value, dict):
        return tuple((k, canonical(v)) for k, v in value.items())
    if isinstance(value, list | tuple):
        return tuple(canonical(v) for v in value)
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def table_rows(con: Any, table: str, columns: str = "*") -> list[Any]:
    """A table's rows, canonical and sorted (row order is no part of a table)."""
    return sorted((canonical(r) for r in con.execute(f"SELECT {columns} FROM {table}").fetchall()), key=repr)


def derived_on_both(spark: Any, case_path: Path, folder: Path) -> tuple[Any, duckdb.DuckDBPyConnection]:
    """An investigated case (``forensics demo``'s) on a SparkConnection and on a fresh DuckDB, both
    from Parquet: its evidence tables as `forensics export --parquet` writes them, its derived
    tables (DERIVED_TABLES) as DuckDB made them; the demo's routes and detect_requests built on each."""
    from types import SimpleNamespace

    from forensics.derive.detect_requests import build_detect_requests
    from forensics.spark.session import SparkConnection

    with Case.open(case_path) as case:
        for table in DERIVED_TABLES:
            folder.mkdir(parents=True, exist_ok=True)
            case.con.execute(f"COPY {table} TO '{folder / table}.parquet' (FORMAT parquet)")
    _export(case_path, folder / "evidence")
    on_spark = SparkConnection(spark, folder.parent / "tables")
    on_spark.load_parquet(folder / "evidence", EVIDENCE_TABLES)
    on_spark.load_parquet(folder, DERIVED_TABLES)
    con = duckdb_from(folder / "evidence")
    con.execute("SET TimeZone = 'UTC'")  # as a case's connection (store/db.py)
    for table in DERIVED_TABLES:
        con.execute(f"CREATE TABLE {table} AS SELECT * FROM '{folder / table}.parquet'")
    endpoints = routes.RouteOptions(endpoints=tuple(routes.Endpoint.parse(e) for e in DEMO_ENDPOINTS))
    for engine in (con, on_spark):
        routes._build(engine, endpoints)  # type: ignore[arg-type]
        build_detect_requests(SimpleNamespace(con=engine))  # type: ignore[arg-type]
    return on_spark, con


class _Handover:
    def __init__(self, on_spark: Any, con: duckdb.DuckDBPyConnection, found: list[dict[str, int]]) -> None:
        self.spark, self.duckdb, self.found = on_spark, con, found

    def cases(self) -> list[Any]:
        """Each engine as the case the assessment's functions take (``con``, ``sql``, ``path``)."""
        from types import SimpleNamespace

        return [
            SimpleNamespace(con=c, sql=lambda q, p=None, c=c: c.execute(q, p).df(), path=Path("case.duckdb"))
            for c in (self.duckdb, self.spark)
        ]


@pytest.fixture(scope="module")
def handover(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> _Handover:
    """The demo case investigated in DuckDB, its derived tables handed to both engines, and every
    detector run on each (detect: the step of run_detectors after its derivations)."""
    from forensics.detectors import REGISTRY
    from forensics.detectors.run import detect

    tmp = tmp_path_factory.mktemp("handover")
    with pytest.raises(SystemExit):
        main(["-q", "demo", "--case", str(tmp / "demo.duckdb"), "--out", str(tmp / "out")])
    on_spark, con = derived_on_both(spark, tmp / "demo.duckdb", tmp / "parquet")
    settings = {d: REGISTRY[d].settings() for d in REGISTRY}
    found = [detect(c, settings)[0] for c in _Handover(on_spark, con, []).cases()]
    return _Handover(on_spark, con, found)


def test_detectors_on_spark_equal_duckdbs_given_the_same_derived_tables(handover: _Handover) -> None:
    """Every detector's findings, the actors' findings and the runs' SQL, row for row."""
    duck, spark_found = handover.found
    assert duck == spark_found
    assert sum(duck.values()) >= 50 and sum(1 for n in duck.values() if n) >= 7  # the sample fires most
    for table in ("detect_requests", "findings", "actor_findings", "detector_runs"):
        columns = ", ".join(r[0] for r in handover.duckdb.execute(f"DESCRIBE {table}").fetchall())
        want = table_rows(handover.duckdb, table, columns)
        assert table_rows(handover.spark, table, columns) == want, table


def test_the_assessment_on_spark_equals_duckdbs_given_the_same_findings(handover: _Handover) -> None:
    """Coverage, the window tables, affected_records.csv's rows, and every number and table of the
    document that the assessment computes in SQL."""
    from forensics.assess import compute
    from forensics.assess.coverage import CoverageOptions, compute_coverage
    from forensics.assess.window import parse_window
    from forensics.assess.window_tables import affected_sql
    from forensics.cli import DEMO_LOGIN

    window = parse_window(f"{sample_truth()['window']['start']}/{sample_truth()['window']['end']}")
    options = CoverageOptions(logins=tuple(routes.Endpoint.parse(e) for e in DEMO_LOGIN))
    results = []
    for case in handover.cases():
        coverage = compute_coverage(case, window, options)
        compute.make_window_tables(case, window.start, window.end)
        records = compute._records(case, None)
        counts = compute._actor_counts(case, 0)
        frames = (compute._daily_volume, compute._endpoint_daily, compute._scatter, compute._response_sizes)
        results.append(
            {
                "coverage": (coverage.to_dict(), canonical(list(coverage.daily.itertuples(index=False)))),
                # (_w's window, not its token: which making of the tables it is differs by design)
                "windows": [table_rows(case.con, "_w", "ws, we")]
                + [table_rows(case.con, t) for t in ("_wf", "_wa", "_delivered")],
                "affected": table_rows(case.con, f"({affected_sql()})"),
                "records": records,
                "counts": counts,
                "verdict": compute._verdict(case, coverage, records, counts),
                "actors": canonical(compute._actors(case)),
                "findings": canonical(compute._findings(case)),
                "events": compute._event_counts(case),
                "limits": compute._attribution_limits(case),
                "frames": [canonical(list(f(case).itertuples(index=False))) for f in frames],
            }
        )
    want, got = results
    assert want["records"]["confirmed"] > 0 and want["verdict"][0] == "confirmed"
    for key in want:
        assert got[key] == want[key], key
