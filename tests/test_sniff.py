"""Format detection: every format recognises its own example; other logs and text are refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from forensics import formats
from forensics.errors import TimezoneRequiredError, UnknownFormatError
from forensics.formats.base import ParseOptions
from forensics.store.db import connect
from tests.formathelpers import ingest_lines


def tz_for(name: str) -> str | None:
    """'UTC' for a format that refuses to guess the zone of its local times, else None."""
    fmt = formats.REGISTRY[name]
    try:
        fmt.bind([fmt.example], ParseOptions())
    except TimezoneRequiredError:
        return "UTC"
    return None


@pytest.mark.parametrize("name", sorted(formats.REGISTRY))
def test_each_format_example_is_sniffed_as_that_format(name: str) -> None:
    fmt = formats.REGISTRY[name]
    sniffed = formats.sniff(connect(":memory:"), [fmt.example] * 3)
    assert sniffed.best is fmt
    assert sniffed.score == 1.0


# nlb logs TLS connections (no HTTP request); apigw_http_clf logs a route template, not a path
NO_REQUEST_PATH = {"nlb", "apigw_http_clf"}


@pytest.mark.parametrize("name", sorted(formats.REGISTRY))
def test_each_format_example_parses_to_an_event(name: str) -> None:
    from tests.formathelpers import parse_one

    row = parse_one(name, formats.REGISTRY[name].example, tz=tz_for(name))
    assert row["ts"] is not None and row["ts"].tzinfo is not None
    if name in NO_REQUEST_PATH:
        assert row["client_ip"] and (row["status"] or row["bytes_sent"] is not None)
    else:
        assert row["path"] and row["status"]


@pytest.mark.parametrize("name", sorted(formats.REGISTRY))
def test_each_format_example_file_is_ingested_as_that_format(name: str, tmp_path: Path) -> None:
    example = formats.REGISTRY[name].example
    _, report = ingest_lines(tmp_path, "evidence.log", [example] * 5, tz=tz_for(name))
    (result,) = report.results
    assert (result.status, result.format, result.events) == ("ingested", name, 5)


NOT_ACCESS_LOGS = {
    "apache_error.log": [
        "[Wed Oct 11 14:32:52.123456 2000] [core:error] [pid 1234] [client 1.2.3.4:5678] AH00037: "
        "Symbolic link not allowed or link target not accessible: /usr/local/apache2/htdocs/x",
        "[Wed Oct 11 14:32:53.123456 2000] [authz_core:error] [pid 1235:tid 140] [client 1.2.3.4:5679] "
        'AH01630: client denied by server configuration: /var/www/html/.htaccess, referer: "http://x/"',
        "[Wed Oct 11 14:32:54 2000] [error] [client 1.2.3.4] File does not exist: /var/www/favicon.ico",
    ],
    "nginx_error.log": [
        '2024/03/12 10:00:00 [error] 1234#0: *5 open() "/usr/share/nginx/html/x" failed (2: No such file '
        'or directory), client: 1.2.3.4, server: localhost, request: "GET /x HTTP/1.1", host: "localhost"',
        "2024/03/12 10:00:01 [notice] 1#1: signal process started",
    ],
    "syslog": [
        "Mar 12 10:00:00 web1 sshd[1234]: Accepted publickey for root from 1.2.3.4 port 22 ssh2",
        "Mar 12 10:00:01 web1 CRON[1240]: (root) CMD (run-parts /etc/cron.hourly)",
        'Mar 12 10:00:02 web1 nginx[99]: 1.2.3.4 - - [12/Mar/2024:10:00:02 +0000] "GET / HTTP/1.1" 200 12',
    ],
    "export.csv": [
        "ts,client_ip,method,path,status",
        "2024-03-12T10:00:00Z,1.2.3.4,GET,/a,200",
        "2024-03-12T10:00:01Z,1.2.3.5,GET,/b,404",
    ],
    "README.txt": [
        "Evidence collected from web1 on 12 March 2024.",
        'The nginx logs are in ./nginx ("access.log" and rotated copies).',
        "Contact: ops@example.com",
    ],
    "empty_objects.jsonl": ["{}", "{}", "{}"],
}


@pytest.mark.parametrize("name", sorted(NOT_ACCESS_LOGS))
def test_not_access_logs_are_not_recognised(name: str) -> None:
    sniffed = formats.sniff(connect(":memory:"), NOT_ACCESS_LOGS[name])
    assert sniffed.best is None


@pytest.mark.parametrize("name", sorted(NOT_ACCESS_LOGS))
def test_unrecognised_file_is_recorded_with_name_and_first_line(name: str, tmp_path: Path) -> None:
    lines = NOT_ACCESS_LOGS[name]
    case, report = ingest_lines(tmp_path, name, lines)
    (result,) = report.results
    assert result.status == "unrecognised"
    assert result.message is not None
    assert name in result.message and lines[0][:80] in result.message
    assert "--log-format" in result.message
    src = case.con.execute("select status, format from sources").fetchall()
    assert src == [("unrecognised", None)]
    assert case.sql("select count(*) n from events")["n"][0] == 0


def test_mostly_garbage_file_is_not_recognised() -> None:
    good = formats.REGISTRY["combined"].example
    sample = [good] + [f"garbage line {i}" for i in range(4)]
    sniffed = formats.sniff(connect(":memory:"), sample)
    assert sniffed.best is None and sniffed.score == pytest.approx(0.2)


def test_more_specific_layout_wins_a_tie() -> None:
    # an nginx main line also parses as combined (the XFF field inside the referer); main wins
    line = formats.REGISTRY["nginx_main"].example
    con = connect(":memory:")
    assert formats.REGISTRY["combined"].matches(con, [line]) == [True]  # the overlap is real
    sniffed = formats.sniff(con, [line])
    assert sniffed.ranked[0][0].name == "nginx_main"
    assert sniffed.best is formats.REGISTRY["nginx_main"]


def test_combined_extra_wins_over_combined_which_also_matches() -> None:
    # combined's last quoted field takes the rest of the line, so it parses these lines too
    line = formats.REGISTRY["combined_extra"].example
    con = connect(":memory:")
    assert formats.REGISTRY["combined"].matches(con, [line]) == [True]  # the overlap is real
    sniffed = formats.sniff(con, [line] * 3)
    assert sniffed.ranked[0] == (formats.REGISTRY["combined_extra"], 1.0)
    assert sniffed.best is formats.REGISTRY["combined_extra"]


def test_unknown_format_name_suggests_the_close_one() -> None:
    with pytest.raises(UnknownFormatError) as err:
        formats.get_format("combinde")
    assert "Did you mean 'combined'?" in str(err.value)
    assert formats.get_format("combined") is formats.REGISTRY["combined"]


def test_the_whole_sample_shortcut_gives_the_full_scoring_answer() -> None:
    """sniff() answers early when a format takes every line; the full scoring must agree."""
    import duckdb

    from forensics.formats import SNIFF_LINES, _scored
    from tests.conftest import SAMPLE_EVIDENCE

    con = duckdb.connect()
    samples = [[f.example] for f in formats.REGISTRY.values()]  # every format's own line
    realdata = Path(__file__).parent / "data" / "realdata"
    for path in [*sorted(realdata.rglob("*")), *sorted(SAMPLE_EVIDENCE.rglob("*.jsonl"))]:
        if path.is_file():
            samples.append(path.read_text(errors="replace").splitlines()[:SNIFF_LINES])
    shortcuts = 0
    for lines in samples:
        quick = formats.sniff(con, lines)
        sample = [ln for ln in lines if ln.strip()][:SNIFF_LINES]
        full = _scored(con, sample, dict(formats.REGISTRY))
        assert (quick.best, quick.score, quick.alternates) == (full.best, full.score, full.alternates), lines[:2]
        shortcuts += quick.score == 1.0
    assert shortcuts >= len(formats.REGISTRY)  # the shortcut was taken, not just the slow path
