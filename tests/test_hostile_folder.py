"""One hostile evidence folder through `forensics ingest` and `forensics investigate`: links out of
it, a pipe, a device, deep JSON, a huge first line, and control characters in file names, user
agents, principals and record ids. No byte of the outside file reaches any output or table, the
other files are ingested, and every face shows the control characters escaped."""

from __future__ import annotations

import json
import os
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pypdf
import pytest
from click.testing import CliRunner

from forensics import Case
from forensics.cli import main

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX links and FIFOs")

SECRET = "root:$6$SECRET-HASH-NEVER-READ:19000:0:99999:7:::"
T0 = datetime(2024, 5, 6, tzinfo=UTC)
WINDOW = "2024-05-06T00:00:00Z/2024-05-09T00:00:00Z"
ENDPOINT = "GET /api/v2/referrals/{id}"
LOGIN = "POST /api/v2/auth/login"
RLO, ZWSP, LS, ESC, BEL = "\u202e", "\u200b", "\u2028", "\x1b", "\x07"
EVIL_UA = f"curl/8.4.0 {RLO}gpj.exe{ZWSP} {ESC}[31mred{ESC}[0m {LS}x {BEL}"
EVIL_USER = f"mallory{RLO}{ESC}]0;title{BEL}"
EVIL_ID = f"4810000{ESC}[2J{BEL}"
EVIL_FILE = f"access{RLO}gol.log"
# raw characters that must not reach a face shown to people (newline aside: files have lines)
RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060\u2066-\u2069\ufeff]")


def _line(ts: datetime, ip: str, path: str, *, user: str = "-", method: str = "GET", status: int = 200,
          ua: str = "Mozilla/5.0 Firefox/124.0") -> str:  # fmt: skip
    stamp = ts.strftime("%d/%b/%Y:%H:%M:%S +0000")
    return f'{ip} - {user} [{stamp}] "{method} {path} HTTP/1.1" {status} 4000 "-" "{ua}"'


def _evidence(tmp_path: Path) -> Path:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "shadow").write_text(SECRET + "\n")
    ev = tmp_path / "ev"
    ev.mkdir()
    at = lambda minutes: T0 + timedelta(minutes=minutes)  # noqa: E731
    rows = [
        _line(at(m), "69.162.124.230", "/api/v2/health", ua="UptimeRobot/2.0") for m in range(0, 4000, 10)
    ]
    rows.append(_line(at(500), "10.20.1.5", "/api/v2/auth/login", method="POST", status=302, user=EVIL_USER))
    rows += [
        _line(at(501 + i), "10.20.1.5", f"/api/v2/referrals/{4820001 + i}", user=EVIL_USER) for i in range(3)
    ]
    rows += [
        _line(at(1500 + i), "203.0.113.77", f"/api/v2/referrals/{4810001 + i}", ua=EVIL_UA) for i in range(40)
    ]
    rows.append(_line(at(1550), "203.0.113.77", f"/api/v2/referrals/{EVIL_ID}", ua=EVIL_UA))
    (ev / "access.log").write_text("\n".join(rows) + "\n")
    (ev / EVIL_FILE).write_text(
        _line(at(2000), "198.51.100.9", "/api/v2/referrals/4830001", ua=EVIL_UA) + "\n"
    )
    (ev / "huge.log").write_text(
        "z" * (3 << 20) + "\n" + _line(at(3000), "198.51.100.10", "/api/v2/health") + "\n"
    )
    (ev / "deep.jsonl").write_text('{"a":' * 5000 + "1" + "}" * 5000 + "\n")
    (ev / "shadow-link").symlink_to(outside / "shadow")
    (ev / "outside-dir").symlink_to(outside, target_is_directory=True)
    (ev / "null").symlink_to("/dev/null")
    os.mkfifo(ev / "pipe")
    return ev


def _text(path: Path) -> str:
    if path.suffix == ".pdf":  # what a reader of report.pdf sees
        return "\n".join(page.extract_text() or "" for page in pypdf.PdfReader(path).pages)
    return path.read_text(encoding="utf-8")


def _faces(out: Path) -> dict[str, str]:
    return {p.name: _text(p) for p in sorted(out.iterdir()) if p.is_file()}


def test_a_hostile_evidence_folder(tmp_path: Path) -> None:
    ev = _evidence(tmp_path)
    case_path = tmp_path / "case.duckdb"
    runner = CliRunner()
    ingested = runner.invoke(main, ["ingest", str(case_path), str(ev)])
    assert ingested.exit_code == 1, ingested.output  # deep.jsonl is unrecognised: named, the rest ingested
    assert "Traceback" not in ingested.output
    assert "files: 3 ingested, 4 skipped, 1 unrecognised" in ingested.output

    with Case.open(case_path, read_only=True) as case:
        rows = case.sql("SELECT path, status, warnings FROM sources")
        status = {Path(p).name: s for p, s in zip(rows["path"], rows["status"], strict=True)}
        assert status == {
            "access.log": "ingested",
            EVIL_FILE: "ingested",
            "huge.log": "ingested",
            "deep.jsonl": "unrecognised",
            "shadow-link": "skipped",
            "outside-dir": "skipped",
            "null": "skipped",
            "pipe": "skipped",
        }
        tables = "\n".join(
            case.sql(f"SELECT * FROM {t}").to_csv() for t in ("sources", "events", "rejects", "case_log")
        )
        # the stored evidence keeps what the logs hold, as logged
        uas = set(case.sql("SELECT DISTINCT user_agent FROM events")["user_agent"])
        assert EVIL_UA in uas
    assert "SECRET" not in tables

    listed = runner.invoke(main, ["sources", str(case_path)])
    base = ["investigate", str(case_path), "--endpoint", ENDPOINT, "--login", LOGIN, "--window", WINDOW]
    plain = runner.invoke(main, [*base, "--out", str(tmp_path / "out")])
    assert plain.exit_code == 6, plain.output  # confirmed
    shared = runner.invoke(main, [*base, "--pseudonymise", "--out", str(tmp_path / "shared")])
    assert shared.exit_code == 6, shared.output
    faces = {
        "terminal: ingest": ingested.output,
        "terminal: sources": listed.output,
        "terminal: investigate": plain.output + shared.output,
        **{f"out/{k}": v for k, v in _faces(tmp_path / "out").items()},
        **{f"shared/{k}": v for k, v in _faces(tmp_path / "shared").items()},
        "pseudonym map": (tmp_path / "case.duckdb.pseudonym-map.csv").read_text(encoding="utf-8"),
    }
    for name, text in faces.items():
        assert "SECRET" not in text, name
        assert not RAW.search(text), (name, RAW.findall(text)[:5])

    # every face that shows the hostile values shows them escaped
    out = faces["out/report.html"]
    assert "\\u202egpj.exe\\u200b \\x1b[31mred\\x1b[0m \\u2028x \\x07" in out
    assert EVIL_FILE.replace(RLO, "\\u202e") in out  # the file name in the evidence inventory
    assert "mallory\\u202e\\x1b]0;title\\x07" in out
    md = faces["out/report.md"]
    assert "\\\\u202egpj.exe\\\\u200b" in md and "\\\\x1b\\[31mred" in md
    csv = faces["out/affected_records.csv"]
    assert "4810000\\x1b[2J\\x07" in csv
    assert "\\u202e" in faces["terminal: sources"]  # the file name
    assert "skipped:" in ingested.output and "shadow-link is a symbolic link to" in ingested.output
    assert "\\u2028" in faces["out/timeline.jsonl"]  # JSON escapes, same values to a JSON reader
    assert "mallory\\u202e\\x1b]0;title\\x07" in faces["pseudonym map"]
    # the report's evidence inventory does not re-read what ingest skipped (it is not re-hashed)
    inventory = {Path(x["path"]).name: x for x in json.loads(faces["out/findings.json"])["sources"]}
    assert inventory["shadow-link"]["sha256_verified"] is None
    assert inventory["access.log"]["sha256_verified"] is True
