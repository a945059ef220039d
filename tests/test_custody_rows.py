"""Row-level custody: row digests of events and rejects, and a verify that never crashes nor
writes to a case it finds damaged (issue 16)."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from forensics import Case, ingest
from forensics.cli import main
from forensics.ingest import rowdigest
from forensics.ingest.forget import forget
from forensics.ingest.rowdigest import BATCH_COMMAND, compute
from forensics.ingest.verify import verify
from forensics.store.case import ROW_DIGESTS_FROM
from forensics.store.custody import rechain
from forensics.store.schema import EVENT_COLUMNS, REJECT_COLUMNS
from tests.conftest import COMBINED, write_lines

REJECTED = "this is not a log line"


@pytest.fixture
def ingested(tmp_path: Path) -> Path:
    write_lines(tmp_path / "ev" / "access.log", [*COMBINED, REJECTED])
    write_lines(tmp_path / "ev" / "other.log", COMBINED[:2])
    case_path = tmp_path / "case.duckdb"
    with Case.create(case_path) as case:
        ingest(case, [tmp_path / "ev"])
    return case_path


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def _tamper(case_path: Path, *sql: str) -> None:
    con = duckdb.connect(str(case_path))
    for statement in sql:
        con.execute(statement)
    con.close()


def _log(case_path: Path) -> list[tuple[int, str, str]]:
    con = duckdb.connect(str(case_path), read_only=True)
    rows = con.execute("SELECT seq, command, entry_hash FROM case_log ORDER BY seq").fetchall()
    con.close()
    return [(int(a), str(b), str(c)) for a, b, c in rows]


def test_ingest_records_row_digests_in_the_batch_transaction(ingested: Path) -> None:
    with Case.open(ingested, read_only=True) as case:
        (params,) = case.con.execute(
            "SELECT parameters FROM case_log WHERE command = ?", [BATCH_COMMAND]
        ).fetchone()  # type: ignore[misc]
        doc = json.loads(params)
        assert doc["algorithm"] == "sha256-merkle-json/1"
        assert sorted(doc["sources"]) == ["1", "2"]
        assert doc["sources"]["1"]["events"][0] == 3 and doc["sources"]["1"]["rejects"][0] == 1
        now = compute(case.con, [1, 2])
        assert doc["sources"]["1"]["events"][1] == now[1]["events"].sha256
    code, out = _run("verify", str(ingested))
    assert code == 0, out
    assert "rows: match the row digests ingest recorded" in out


def test_probe_an_update_of_statuses_is_caught(ingested: Path) -> None:
    """The probe: `update events set status = 401 where ...` passed verify."""
    with Case.open(ingested) as case:
        head = case.log_head()
    _tamper(
        ingested,
        "UPDATE events SET status = 401 WHERE status BETWEEN 200 AND 299 AND path LIKE '/api/v2/referrals/%'",
    )
    code, out = _run("verify", str(ingested), "--head", head)
    assert code == 1, out
    assert "OK: verified" not in out
    assert "MISMATCH source 1 (" in out and "its events differ from what ingest recorded" in out
    assert "MISMATCH source 2 (" in out
    assert "same count but changed content" in out


@pytest.mark.parametrize(
    ("statement", "source", "table"),
    [
        ("UPDATE events SET client_ip = '198.51.100.7' WHERE source_id = 2 AND line_no = 1", 2, "events"),
        ("UPDATE rejects SET line = 'something else' WHERE source_id = 1", 1, "rejects"),
        ("UPDATE rejects SET reason = 'empty line' WHERE source_id = 1", 1, "rejects"),
        ("UPDATE events SET principal = '' WHERE source_id = 1 AND principal IS NULL", 1, "events"),
        ("UPDATE events SET ts = ts + INTERVAL 1 SECOND WHERE source_id = 2 AND line_no = 2", 2, "events"),
        ("UPDATE events SET line_no = 9 WHERE source_id = 2 AND line_no = 2", 2, "events"),
        ("UPDATE events SET extra = '{}' WHERE source_id = 1 AND line_no = 1", 1, "events"),
    ],
)
def test_one_edited_value_names_its_source_and_table(
    ingested: Path, statement: str, source: int, table: str
) -> None:
    _tamper(ingested, statement)
    with Case.open(ingested, read_only=True) as case:
        result = verify(case)
    assert not result.ok
    assert len(result.rows) == 1, result.rows
    assert result.rows[0].startswith(f"source {source} (") and f"its {table} differ" in result.rows[0]


def test_null_and_empty_string_differ_in_the_digest(tmp_path: Path) -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE events AS SELECT 1 AS source_id, 1::BIGINT AS line_no, NULL::VARCHAR AS path")
    con.execute("CREATE TABLE rejects (source_id INTEGER, line_no BIGINT, line VARCHAR, reason VARCHAR)")
    cols = {"events": ("source_id", "line_no", "path"), "rejects": ("source_id", "line_no", "line", "reason")}
    before = compute(con, [1], cols)[1]["events"]
    con.execute("UPDATE events SET path = ''")
    after = compute(con, [1], cols)[1]["events"]
    con.execute("UPDATE events SET path = 'null'")
    text = compute(con, [1], cols)[1]["events"]
    assert len({before.sha256, after.sha256, text.sha256}) == 3


def test_forget_keeps_the_digests_right(ingested: Path) -> None:
    with Case.open(ingested) as case:
        forget(case, ["2"])
    code, out = _run("verify", str(ingested))
    assert code == 0, out


def test_a_case_ingested_before_row_digests_verifies_with_a_note(ingested: Path) -> None:
    _tamper(
        ingested,
        f"DELETE FROM case_log WHERE command = '{BATCH_COMMAND}'",
        f"DELETE FROM meta WHERE key = '{ROW_DIGESTS_FROM}'",
        "UPDATE case_log SET seq = seq - 1 WHERE seq > 1",
    )
    con = duckdb.connect(str(ingested))
    rechain(con)  # the log an older version wrote: no `ingest batch` entry
    con.close()
    code, out = _run("verify", str(ingested))
    assert code == 0, out
    assert "note: row digests not recorded for sources 1 to 2 (ingested before this tool recorded" in out
    assert "OK: verified" in out
    with Case.open(ingested) as case:  # opened for writing: later sources get digests
        ingest(case, [write_lines(ingested.parent / "new.log", COMBINED[1:])])
        result = verify(case)
    assert result.ok and result.notes == [result.notes[0]] and "sources 1 to 2" in result.notes[0]


def test_probe_a_log_that_lost_its_tail_is_a_mismatch_and_is_not_written(ingested: Path) -> None:
    """The probe: verify crashed appending to a log that lost its tail (Duplicate key)."""
    with Case.open(ingested) as case:
        head = case.log_head()
    _tamper(ingested, "DELETE FROM case_log WHERE seq > 1")
    before = _log(ingested)
    code, out = _run("verify", str(ingested))
    assert code == 1, out
    assert "the case log records no row digest for it" in out
    assert "nothing was written to the case" in out
    code, out = _run("verify", str(ingested), "--head", head)
    assert code == 1 and "HEAD NOT FOUND" in out
    assert _log(ingested) == before


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        (["UPDATE case_log SET parameters = '{not json' WHERE seq = 2"], "its parameters are not valid JSON"),
        (["UPDATE case_log SET seq = 7 WHERE seq = 3"], "expected entry 3 here"),
        (["DROP TABLE rejects"], "table rejects is missing"),
        (["ALTER TABLE events DROP COLUMN status"], "table events lacks column(s) status"),
        (["DROP TABLE case_log"], "table case_log is missing"),
        (["DELETE FROM meta"], "its events differ"),  # row digests still recorded: no note instead
        (["DELETE FROM sources WHERE source_id = 2"], "source 2: its rows were recorded"),
    ],
)
def test_a_damaged_case_is_named_never_a_crash_and_never_written(
    ingested: Path, sql: list[str], expected: str
) -> None:
    if sql[0].startswith("DELETE FROM meta"):
        sql = [*sql, "UPDATE events SET status = 500 WHERE source_id = 1"]
    _tamper(ingested, *sql)
    with open(ingested, "rb") as fh:
        before = fh.read()
    code, out = _run("verify", str(ingested))
    assert code == 1, out
    assert "Traceback" not in out
    assert expected in out, out
    assert "VERIFICATION FAILED" in out
    with open(ingested, "rb") as fh:
        assert fh.read() == before


def test_reparse_shows_which_rows_differ(ingested: Path) -> None:
    _tamper(ingested, "UPDATE events SET status = 401 WHERE source_id = 1 AND line_no = 2")
    code, out = _run("verify", str(ingested), "--reparse", "1", "--reparse", "2")
    assert code == 1, out
    assert "reparse of source 1" in out
    assert "events: 3 stored, 3 from the evidence now — DIFFER in 1 line(s)" in out
    assert "line 2: stored" in out and '"401"' in out and '"200"' in out
    assert "rejects: 1 stored, 1 from the evidence now — same" in out
    assert "reparse of source 2" in out
    code, out = _run("verify", str(ingested), "--reparse", "2", "--json")
    doc, _ = json.JSONDecoder().raw_decode(out[out.index("{") :])
    assert doc["reparse"][0]["same"] is True
    assert doc["row_problems"] and not doc["logged"]


def test_probe_a_log_that_refuses_appends_is_reported_not_a_crash(
    ingested: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The probe's crash: `ConstraintException: Duplicate key "seq: 3"` raised from custody.append."""
    from forensics.store import custody

    def refuse(*args: object, **kwargs: object) -> int:
        raise duckdb.ConstraintException('Constraint Error: Duplicate key "seq: 3" violates primary key')

    monkeypatch.setattr(custody, "append", refuse)
    result = CliRunner().invoke(main, ["verify", str(ingested)])
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert "its log cannot be appended to" in result.output and "Duplicate key" in result.output


def test_a_large_source_is_digested_in_slices_with_the_same_digest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    many = COMBINED * (16_384 // len(COMBINED) + 1)
    lines = [*many[:8_000], REJECTED, *many[:8_381], REJECTED, many[0]]  # 16,384: the last opens a slice
    write_lines(tmp_path / "ev" / "big.log", lines)
    write_lines(tmp_path / "ev" / "small.log", COMBINED[:2])
    case_path = tmp_path / "case.duckdb"
    monkeypatch.setattr(rowdigest, "SLICE_LINES", 1 << rowdigest.CHUNK_BITS)  # 4096: 5 slices
    with Case.create(case_path) as case:
        ingest(case, [tmp_path / "ev"])
    with Case.open(case_path) as case:
        assert verify(case).ok
        con = case.con
        sids = [int(r[0]) for r in con.execute("SELECT source_id FROM sources ORDER BY 1").fetchall()]

        def whole(table: str) -> dict[int, tuple[int, str]]:  # one query, as small sources are digested
            cols = rowdigest.TABLES[table]
            types = {c: (EVENT_COLUMNS | REJECT_COLUMNS)[c] for c in cols}
            sql = rowdigest.digest_sql(table, cols, types, "true")
            return {int(s): (int(n), str(h)) for s, n, h in con.execute(sql).fetchall()}

        def sliced() -> dict[str, dict[int, tuple[int, str]]]:
            got = compute(con, sids)
            return {
                t: {s: (d[t].rows, d[t].sha256) for s, d in got.items() if d[t].rows}
                for t in rowdigest.TABLES
            }

        big = con.execute("SELECT source_id FROM events GROUP BY 1 ORDER BY count(*) DESC LIMIT 1").fetchone()
        assert big is not None and whole("events")[int(big[0])][0] > 3 * rowdigest.SLICE_LINES
        assert sliced() == {t: whole(t) for t in rowdigest.TABLES}
        # rows without a line number (a case whose NOT NULL was dropped) are their own chunk, last
        for table in rowdigest.TABLES:
            con.execute(f"ALTER TABLE {table} ALTER line_no DROP NOT NULL")
        con.execute("INSERT INTO events SELECT * REPLACE (NULL AS line_no) FROM events LIMIT 3")
        con.execute("INSERT INTO rejects SELECT * REPLACE (NULL AS line_no) FROM rejects LIMIT 1")
        assert sliced() == {t: whole(t) for t in rowdigest.TABLES}
