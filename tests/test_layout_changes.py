"""Layouts that change anywhere in a file, rejects that are never silent, forced formats that do
not fit (issue 13: items 2-4). Small synthetic files, built here."""

from __future__ import annotations

import gzip
import json
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner

from forensics import Case, IngestOptions, ingest
from forensics.cli import main

T0 = datetime(2023, 10, 10, 10, 0, tzinfo=UTC)


def _clf_time(i: int) -> str:
    return (T0 + timedelta(seconds=i)).strftime("%d/%b/%Y:%H:%M:%S +0000")


def common(i: int) -> str:
    return f'10.0.1.{i % 250} - - [{_clf_time(i)}] "GET /b/{i} HTTP/1.1" 200 12'


def combined(i: int) -> str:
    return f'10.0.0.{i % 250} - alice [{_clf_time(i)}] "GET /a/{i} HTTP/1.1" 200 12 "-" "curl/8.1"'


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def source(case: Case, sid: int | None = None) -> dict[str, object]:
    """The source row ``sid``, or the case's only one."""
    rows = case.sql("SELECT * FROM sources WHERE source_id = ? OR ? IS NULL", [sid, sid])
    assert len(rows) == 1
    row = rows.iloc[0].to_dict()
    return {
        k: row[k] for k in ("status", "format", "lines", "events", "rejects", "entry_rejects", "format_lines")
    }


def test_two_lines_two_layouts_are_both_events(tmp_path: Path) -> None:
    """An Apache config change: one common and one combined line (the whole file was lost)."""
    path = write(tmp_path / "access.log", [common(0), combined(1)])
    case = Case.create(tmp_path / "case.duckdb")
    (res,) = ingest(case, [path]).results
    assert (res.status, res.events, res.rejects) == ("ingested", 2, 0)
    assert sorted(case.sql("SELECT path FROM events")["path"]) == ["/a/1", "/b/0"]


def test_layout_changes_after_the_sniffed_head(tmp_path: Path) -> None:
    """2,000 combined lines then 1,000 common ones: the head never shows the second layout."""
    lines = [combined(i) for i in range(2000)] + [common(2000 + i) for i in range(1000)]
    path = write(tmp_path / "access.log", lines)
    case = Case.create(tmp_path / "case.duckdb")
    (res,) = ingest(case, [path]).results
    assert (res.events, res.rejects, res.entry_rejects) == (3000, 0, 0)
    assert res.format_lines == {"combined": 2000, "common": 1000}
    row = source(case, res.source_id or 0)
    assert json.loads(str(row["format_lines"])) == {"combined": 2000, "common": 1000}
    assert row["entry_rejects"] == 0
    last = case.sql("SELECT max(ts) AS t FROM events")["t"][0].to_pydatetime()
    assert last == T0 + timedelta(seconds=2999)


def test_three_layouts_interleaved_deep_in_a_file(tmp_path: Path) -> None:
    """Blocks of common and vhost_combined lines far from the head, between combined blocks."""
    lines = [combined(i) for i in range(500)]
    lines += [common(500 + i) for i in range(300)]
    lines += [combined(800 + i) for i in range(500)]
    lines += [f"api.example.org:443 {combined(1300 + i)}" for i in range(200)]
    path = write(tmp_path / "access.log", lines)
    case = Case.create(tmp_path / "case.duckdb")
    (res,) = ingest(case, [path]).results
    assert (res.events, res.entry_rejects) == (1500, 0)
    assert res.format_lines == {"combined": 1000, "common": 300, "vhost_combined": 200}


def test_unreadable_lines_stay_rejects_and_are_named(tmp_path: Path) -> None:
    lines = [combined(i) for i in range(300)]
    for i in range(0, 300, 30):
        lines[i] = f"garbage {i} that no access-log format reads"
    lines.insert(100, "")  # a blank line is not an entry line
    path = write(tmp_path / "access.log", lines)
    case_path = tmp_path / "case.duckdb"
    res = CliRunner().invoke(main, ["ingest", str(case_path), str(path)])
    assert res.exit_code == 1
    assert "10 of 300 entry lines rejected (3.3%)" in res.output
    assert "more than 1% of their entry lines rejected" in res.output
    with Case.open(case_path, read_only=True) as case:
        assert source(case)["entry_rejects"] == 10 and source(case)["rejects"] == 11
    listing = CliRunner().invoke(main, ["sources", str(case_path)])
    assert "10 (3.3%)" in listing.output


def test_accept_rejects_and_small_shares(tmp_path: Path) -> None:
    many = [combined(i) for i in range(200)]
    many[5] = many[9] = many[50] = "not a log line"
    few = [combined(1000 + i) for i in range(1000)]
    few[10] = "not a log line either"
    a, b = write(tmp_path / "a.log", many), write(tmp_path / "b.log", few)
    res = CliRunner().invoke(main, ["ingest", str(tmp_path / "c1.duckdb"), str(a), "--accept-rejects"])
    assert res.exit_code == 0 and "3 of 200 entry lines rejected (1.5%)" in res.output
    res = CliRunner().invoke(main, ["ingest", str(tmp_path / "c2.duckdb"), str(b)])
    assert res.exit_code == 0, res.output  # 0.1% is named, below the limit
    assert "note:" in res.output and "1 of 1,000 entry lines rejected (0.1%)" in res.output


def test_forced_format_that_does_not_fit_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "access.log", [combined(i) for i in range(100)])
    case_path = tmp_path / "case.duckdb"
    res = CliRunner().invoke(main, ["ingest", str(case_path), str(path), "--format", "nginx_main"])
    assert res.exit_code == 1
    assert "reads 0 of its 100 entry lines" in res.output
    assert "the sniffer would choose combined" in res.output
    with Case.open(case_path, read_only=True) as case:
        assert case.sql("SELECT count(*) AS n FROM events")["n"][0] == 0
        assert case.sql("SELECT count(*) AS n FROM rejects")["n"][0] == 0
        assert source(case)["status"] == "error"
    # the refusal is not "already ingested": the right choice reads the file
    res = CliRunner().invoke(main, ["ingest", str(case_path), str(path)])
    assert res.exit_code == 0, res.output
    with Case.open(case_path, read_only=True) as case:
        assert case.sql("SELECT count(*) AS n FROM events")["n"][0] == 100


def test_forced_format_reading_most_lines_is_kept(tmp_path: Path) -> None:
    lines = [combined(i) for i in range(90)] + [common(90 + i) for i in range(10)]
    path = write(tmp_path / "access.log", lines)
    case = Case.create(tmp_path / "case.duckdb")
    (res,) = ingest(case, [path], IngestOptions(format="combined")).results
    assert (res.status, res.events) == ("ingested", 100)
    assert res.format_lines == {"combined": 90, "common": 10}


def test_forced_log_format_below_half_is_refused(tmp_path: Path) -> None:
    lines = [combined(i) for i in range(30)] + [f"{i} 10.0.0.1 GET /x" for i in range(70)]
    path = write(tmp_path / "access.log", lines)
    case = Case.create(tmp_path / "case.duckdb")
    layout = '%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"'
    (res,) = ingest(case, [path], IngestOptions(log_format=layout)).results
    assert res.status == "error" and "reads 30 of its 100 entry lines" in (res.message or "")


def test_empty_and_dash_users_are_no_principal(tmp_path: Path) -> None:
    """Apache writes "" for an empty user name; '-', '' and blanks are no user either (item 5)."""
    ev = tmp_path / "ev"
    ev.mkdir()
    clf = [
        f'10.0.0.1 - "" [{_clf_time(0)}] "GET /a/1 HTTP/1.1" 200 12',
        f'10.0.0.1 - - [{_clf_time(1)}] "GET /a/2 HTTP/1.1" 200 12',
        f'10.0.0.1 - bob [{_clf_time(2)}] "GET /a/3 HTTP/1.1" 200 12',
    ]
    write(ev / "access.log", clf)
    write(ev / "combined.log", [c + ' "-" "curl/8"' for c in clf])
    write(
        ev / "app.jsonl",
        [
            json.dumps(
                {
                    "time": "2023-10-10T10:00:00Z",
                    "ip": "10.0.0.2",
                    "method": "GET",
                    "path": "/x",
                    "status": 200,
                    "user": u,
                }
            )
            for u in ("", "  ", "-", '""', "carol")
        ],
    )
    write(
        ev / "u_ex231010.log",
        [
            "#Software: Microsoft Internet Information Services 10.0",
            "#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip "
            "cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken",
            "2023-10-10 10:00:00 10.0.0.9 GET /w - 443 - 10.0.0.3 curl/8 - 200 0 0 5",
            "2023-10-10 10:00:01 10.0.0.9 GET /w - 443 dave 10.0.0.3 curl/8 - 200 0 0 5",
        ],
    )
    case = Case.create(tmp_path / "case.duckdb")
    report = ingest(case, [ev])
    assert {r.status for r in report.results} == {"ingested"}, [r.message for r in report.results]
    got = case.sql("SELECT principal, count(*) AS n FROM events GROUP BY ALL")
    assert dict(zip(got["principal"].fillna("NULL"), got["n"], strict=True)) == {
        "NULL": 2 + 2 + 4 + 1,
        "bob": 2,
        "carol": 1,
        "dave": 1,
    }


def test_a_cut_last_line_is_not_read_by_another_format(tmp_path: Path) -> None:
    """A truncated archive whose last line stops inside a combined line (`... 200 1`): the remains
    look like a common line with a wrong byte count. It stays a reject, counted as an entry line."""
    lines = [combined(i) for i in range(50)]
    cut = combined(50).replace(' 200 12 "-" "curl/8.1"', " 200 1")
    whole = gzip.compress(("\n".join([*lines, combined(50)]) + "\n").encode(), mtime=0)
    body = zlib.compressobj(6, zlib.DEFLATED, -15)
    data = "\n".join([*lines, cut]).encode()
    # a gzip stream cut after the bytes of `cut`: the header, then deflate output flushed there
    truncated = whole[:10] + body.compress(data) + body.flush(zlib.Z_SYNC_FLUSH)
    path = tmp_path / "access.log.gz"
    path.write_bytes(truncated)
    case = Case.create(tmp_path / "case.duckdb")
    (res,) = ingest(case, [path]).results
    assert (res.events, res.rejects, res.entry_rejects) == (50, 1, 1)
    assert case.rejects()["reason"].tolist() == ["cut short: the last line of a truncated file"]
    assert any(w.startswith("truncated") for w in res.warnings)
    # a plain file may end without a newline after a whole line: that line is read as any other
    path = tmp_path / "plain.log"
    path.write_text("\n".join([*lines, common(50)]))
    (res,) = ingest(Case.create(tmp_path / "case2.duckdb"), [path]).results
    assert (res.events, res.rejects) == (51, 0)
