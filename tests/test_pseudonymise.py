"""investigate --pseudonymise: a shareable report with keyed pseudonyms and nothing raw left.

The case is ingested from an nginx ``main`` log this file writes (client address, remote user,
X-Forwarded-For), so the report's raw evidence lines are real lines read back from evidence.
Every record id, address and principal in it is known here; pseudonyms are recomputed here with
``hmac`` from the key to check each file independently.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import hmac
import json
import re
import struct
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pypdf
import pytest
from click.testing import CliRunner

from forensics import Case
from forensics.assess.compute import InvestigateOptions, assess
from forensics.assess.window import Window
from forensics.cli import main
from forensics.derive.actors import ActorOptions
from forensics.derive.auth import AuthOptions
from forensics.derive.routes import Endpoint, RouteOptions
from forensics.detectors.run import DetectOptions
from forensics.errors import PseudonymError
from forensics.ingest.run import IngestOptions, ingest
from forensics.publish.pseudonym_key import Pseudonymiser, PseudonymKey, scrub
from forensics.publish.pseudonymise import Pseudonymisation, prepare, pseudonymise_assessment
from forensics.publish.writers import write_outputs

T0 = datetime(2024, 5, 6, tzinfo=UTC)
WINDOW = Window(T0, T0 + timedelta(days=3))
WINDOW_ARG = "2024-05-06T00:00:00Z/2024-05-09T00:00:00Z"
ENDPOINT = "GET /api/v2/referrals/{id}"
LOGIN = "POST /api/v2/auth/login"
DETECT = DetectOptions(
    routes=RouteOptions((Endpoint.parse(ENDPOINT),)),
    actors=ActorOptions(AuthOptions(logins=(Endpoint.parse(LOGIN),))),
)
ATTACKER, XFF = "203.0.113.77", ("198.51.100.23", "10.9.8.7")
STAFF, STAFF_USER = "10.20.1.5", "dr.alice.w"
ODD, ODD_USER = "192.0.2.44", "=cmd|evil"  # a principal a spreadsheet would run
MONITOR = "69.162.124.230"
STOLEN = [str(4810001 + i) for i in range(40)]
OWN = [str(4820001 + i) for i in range(5)]
ODD_RECORD = "4830001"
IPS = {ATTACKER, *XFF, STAFF, ODD, MONITOR}
USERS = {STAFF_USER, ODD_USER}
RECORDS = {*STOLEN, *OWN, ODD_RECORD}
KEY = PseudonymKey(bytes(range(32)))
OTHER_KEY = PseudonymKey(bytes(range(1, 33)))


def line(
    ts: datetime,
    ip: str,
    path: str,
    *,
    user: str = "-",
    method: str = "GET",
    status: int = 200,
    ua: str = "Mozilla/5.0 Firefox/124.0",
    xff: str = "-",
    size: int = 4000,
) -> str:
    stamp = ts.strftime("%d/%b/%Y:%H:%M:%S +0000")
    return (
        f'{ip} - {user} [{stamp}] "{method} {path} HTTP/1.1" {status} {size} '
        f'"https://app.example/referrals" "{ua}" "{xff}"'
    )


def evidence(folder: Path) -> Path:
    at = lambda minutes: T0 + timedelta(minutes=minutes)  # noqa: E731
    rows = [
        (at(m), line(at(m), MONITOR, "/api/v2/health", ua="UptimeRobot/2.0", size=20))
        for m in range(0, 3 * 1440, 5)
    ]
    rows.append((at(540), line(at(540), STAFF, "/api/v2/auth/login", method="POST", status=302)))
    rows += [
        (at(541 + i), line(at(541 + i), STAFF, f"/api/v2/referrals/{rid}", user=STAFF_USER))
        for i, rid in enumerate(OWN)
    ]
    rows += [
        (
            at(1500 + i),
            line(at(1500 + i), ATTACKER, f"/api/v2/referrals/{rid}", ua="curl/8.4.0", xff=", ".join(XFF)),
        )
        for i, rid in enumerate(STOLEN)
    ]
    rows += [
        (at(2000 + i), line(at(2000 + i), ODD, f"/api/v2/referrals/{ODD_RECORD}", user=ODD_USER))
        for i in range(3)
    ]
    path = folder / "evidence" / "access.log"
    path.parent.mkdir(parents=True)
    path.write_text("\n".join(text for _, text in sorted(rows)) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def built(tmp_path: Path) -> Case:
    case = Case.create(tmp_path / "case.duckdb")
    ingest(case, [evidence(tmp_path)], IngestOptions(format="nginx_main"))
    yield case
    case.close()


def expected(kind: str, value: str, key: PseudonymKey = KEY) -> str:
    digest = hmac.new(key.secret, kind.encode() + b"\x00" + value.encode(), hashlib.sha256).hexdigest()
    return f"{kind}_{digest[:16]}"


def write(case: Case, tmp_path: Path, name: str, key: PseudonymKey = KEY) -> dict[str, Path]:
    result = assess(case, InvestigateOptions(detect=DETECT, window=WINDOW, command="forensics investigate x"))
    settings = Pseudonymisation(key, tmp_path / f"{name}.map.csv", tmp_path / f"{name}.key")
    return write_outputs(case, result, tmp_path / name, pseudonymise=settings)


def text_of(path: Path) -> str:
    """A written file's text (report.pdf's as its pages give it back)."""
    if path.suffix == ".pdf":
        return "\n".join(p.extract_text() or "" for p in pypdf.PdfReader(path).pages)
    return path.read_text()


def png_texts(html: str) -> list[bytes]:
    """The text chunks (tEXt, zTXt, iTXt) of every data: PNG in the page."""
    out = []
    for b64 in re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", html):
        png, pos = base64.b64decode(b64), 8
        while pos < len(png):
            (size,), kind = struct.unpack(">I", png[pos : pos + 4]), png[pos + 4 : pos + 8]
            body = png[pos + 8 : pos + 8 + size]
            if kind in (b"tEXt", b"iTXt"):
                out.append(body)
            elif kind == b"zTXt":
                out.append(zlib.decompress(body.split(b"\x00", 1)[1][1:]))
            pos += 12 + size
    return out


def test_the_case_holds_exactly_the_values_this_test_planted(built: Case) -> None:
    assess(built, InvestigateOptions(detect=DETECT, window=WINDOW))
    con = built.con
    records = {
        r[0]
        for r in con.execute("SELECT DISTINCT record_id FROM requests WHERE record_id IS NOT NULL").fetchall()
    }
    ips = {
        r[0]
        for r in con.execute(
            "SELECT client_ip FROM events UNION SELECT trim(unnest(string_split(forwarded_for, ','))) FROM events "
            "WHERE forwarded_for <> '-'"
        ).fetchall()
    }
    users = {
        r[0]
        for r in con.execute("SELECT DISTINCT principal FROM events WHERE principal IS NOT NULL").fetchall()
    }
    assert (records, ips, users) == (RECORDS, IPS, USERS)


def test_no_record_id_address_or_principal_survives_in_any_file(built: Case, tmp_path: Path) -> None:
    written = write(built, tmp_path, "shared")
    assert sorted(p.name for p in (tmp_path / "shared").iterdir()) == sorted(written)
    html = written["report.html"].read_text()
    chunks = png_texts(html)
    assert len(re.findall("data:image/png", html)) == 4
    for path in written.values():
        data = path.read_bytes()
        for value in RECORDS | IPS | USERS:
            assert value.encode() not in data, (path.name, value)
    for chunk in chunks:
        for value in RECORDS | IPS | USERS:
            assert value.encode() not in chunk
    # report.pdf's streams are compressed: read its text back (and the CSVs beside it are checked above)
    pdf = "\n".join(p.extract_text() or "" for p in pypdf.PdfReader(written["report.pdf"]).pages)
    assert expected("ip", ATTACKER) in re.sub(r"\s+", "", pdf)  # the text was read, pseudonyms and all
    for value in RECORDS | IPS | USERS:
        assert value not in pdf and value not in re.sub(r"\s+", "", pdf), value
    assert {"actors.csv", "findings.csv", "evidence.csv", "report.pdf"} <= set(written)
    # the raw evidence lines are there, with pseudonyms where the values were
    md = written["report.md"].read_text()
    assert (
        f'{expected("ip", ATTACKER)} - - [07/May/2024:01:00:00 +0000] "GET /api/v2/referrals/'
        f'{expected("rec", STOLEN[0])} HTTP/1.1" 200 4000' in md
    )
    assert f'"curl/8.4.0" "{expected("ip", XFF[0])}, {expected("ip", XFF[1])}"' in md


def test_pseudonyms_are_the_keyed_hmac_and_consistent_across_files(built: Case, tmp_path: Path) -> None:
    written = write(built, tmp_path, "shared")
    attacker, first = expected("ip", ATTACKER), expected("rec", STOLEN[0])
    doc = json.loads(written["findings.json"].read_text())
    listed = {a["ips"][0]: a for a in doc["actors"]}
    assert listed[attacker]["unauthorised"] and listed[attacker]["records"] == 40
    assert listed[expected("ip", STAFF)]["principals"] == [expected("user", STAFF_USER)]
    assert listed[expected("ip", ODD)]["principals"] == [expected("user", ODD_USER)]
    with written["affected_records.csv"].open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    # in the pseudonyms' order (the ids' order would say something about them)
    assert [r["record_id"] for r in rows] == sorted(expected("rec", r) for r in STOLEN)
    timeline = [json.loads(t) for t in written["timeline.jsonl"].read_text().splitlines()]
    assert len(timeline) == 40
    assert {e["client_ip"] for e in timeline} == {attacker}
    assert timeline[0]["record_id"] == first and timeline[0]["path"] == f"/api/v2/referrals/{first}"
    assert (
        timeline[0]["message"]
        == f"GET /api/v2/referrals/{first} -> 200 (actor {timeline[0]['actor_id']}, {attacker})"
    )
    for name in ("report.html", "report.md"):
        text = written[name].read_text()
        assert attacker in text and first in text, name
    assert doc["records"]["id_range"] == {
        "min": expected("rec", STOLEN[0]),
        "max": expected("rec", ODD_RECORD),
    }
    assert doc["pseudonymisation"]["key_fingerprint"] == KEY.fingerprint
    assert KEY.secret.hex() not in written["report.html"].read_text()


def test_pseudonyms_are_made_a_batch_of_values_at_a_time(
    built: Case, monkeypatch: pytest.MonkeyPatch
) -> None:
    """prepare never holds every distinct value in Python: PSEUDONYM_BATCH values at a time, and
    the table it builds is the same keyed HMAC of every value, once each."""
    from forensics.publish import pseudonymise

    sizes: list[int] = []
    real = Pseudonymiser.many

    def many(self: Pseudonymiser, kind: str, values: Any) -> list[str]:
        values = list(values)
        sizes.append(len(values))
        return real(self, kind, values)

    monkeypatch.setattr(pseudonymise, "PSEUDONYM_BATCH", 3)
    monkeypatch.setattr(Pseudonymiser, "many", many)
    assess(built, InvestigateOptions(detect=DETECT, window=WINDOW))  # routes, detect_requests
    prepare(built, Pseudonymiser(KEY))
    rows = built.con.execute("SELECT kind, value, pseudonym FROM _pseudonyms").fetchall()
    values = {(k, v) for k, v, _ in rows}
    assert len(values) == len(rows) > 3 * 4  # each value once, over several batches
    assert all(p == expected(k, v) for k, v, p in rows)
    assert max(sizes) <= 3 and sum(sizes) == len(rows)
    assert {(k, v) for k, v in values if k == "ip"} >= {("ip", ATTACKER), ("ip", STAFF)}


def test_the_report_says_it_is_pseudonymised(built: Case, tmp_path: Path) -> None:
    written = write(built, tmp_path, "shared")
    for name in ("report.html", "report.md"):
        text = written[name].read_text()
        assert "HMAC-SHA256" in text and KEY.fingerprint in text, name
        assert re.search(r"Access-log forensic assessment \\?\(pseudonymised\\?\)", text), name


def test_same_key_same_bytes_other_key_other_pseudonyms(built: Case, tmp_path: Path) -> None:
    a, b = write(built, tmp_path, "a"), write(built, tmp_path, "b")
    for name in a:
        assert a[name].read_bytes() == b[name].read_bytes(), name
    c = write(built, tmp_path, "c", key=OTHER_KEY)
    mine = set(re.findall(r"(?:rec|ip|user)_[0-9a-f]{16}", "".join(text_of(p) for p in a.values())))
    theirs = set(re.findall(r"(?:rec|ip|user)_[0-9a-f]{16}", "".join(text_of(p) for p in c.values())))
    assert expected("ip", ATTACKER, OTHER_KEY) in theirs and len(mine) == len(theirs) > 40
    assert not mine & theirs


def test_scatter_plots_ranks_and_labels_pseudonyms(built: Case) -> None:
    result = assess(built, InvestigateOptions(detect=DETECT, window=WINDOW))
    pz = Pseudonymiser(KEY)
    prepare(built, pz)
    shared = pseudonymise_assessment(built, result, pz)
    attacker = shared.scatter[shared.scatter["label"].str.contains(expected("ip", ATTACKER))]
    assert list(attacker["y"]) == [float(i) for i in range(1, 41)]  # ids read in order: a diagonal of ranks
    assert list(attacker["record_id"]) == [expected("rec", r) for r in STOLEN]
    frames = " ".join(f.to_csv() for f in (shared.scatter, shared.endpoint_daily, shared.response_sizes))
    assert not [v for v in RECORDS | IPS | USERS if v in frames]
    assert result.document["pseudonymisation"] is None  # the original is untouched


def test_mapping_file_maps_every_pseudonym_back_owner_only(built: Case, tmp_path: Path) -> None:
    write(built, tmp_path, "shared")
    mapping = tmp_path / "shared.map.csv"
    assert mapping.stat().st_mode & 0o777 == 0o600
    with mapping.open(newline="") as fh:
        rows = {(r["kind"], r["value"]): r["pseudonym"] for r in csv.DictReader(fh)}
    planted = {("ip", v) for v in IPS} | {("user", v) for v in USERS} | {("rec", v) for v in RECORDS}
    assert set(rows) == (planted - {("user", ODD_USER)}) | {("user", "'" + ODD_USER)}
    assert rows[("ip", ATTACKER)] == expected("ip", ATTACKER)
    assert rows[("user", "'" + ODD_USER)] == expected("user", ODD_USER)  # neutralised in the CSV only


def test_key_and_mapping_are_refused_inside_the_report_folder(built: Case, tmp_path: Path) -> None:
    out = tmp_path / "shared"
    with pytest.raises(PseudonymError, match="inside the report folder"):
        Pseudonymisation.for_case(built.path, out, key_file=out / "key")
    assert not out.exists()  # refused before anything was written
    settings = Pseudonymisation(KEY, out / "sub" / "map.csv", tmp_path / "k")
    result = assess(built, InvestigateOptions(detect=DETECT, window=WINDOW))
    with pytest.raises(PseudonymError, match="mapping file"):
        write_outputs(built, result, out, pseudonymise=settings)


def test_key_is_created_owner_only_beside_the_case_and_reused(tmp_path: Path) -> None:
    case_path, out = tmp_path / "c.duckdb", tmp_path / "r"
    first, created = Pseudonymisation.for_case(case_path, out)
    assert created and first.key_path == tmp_path / "c.duckdb.pseudonym-key"
    assert first.mapping == tmp_path / "c.duckdb.pseudonym-map.csv"
    assert first.key_path.stat().st_mode & 0o777 == 0o600 and len(first.key.secret) == 32
    again, created = Pseudonymisation.for_case(case_path, out)
    assert not created and again.key == first.key
    first.key_path.chmod(0o644)
    with pytest.raises(PseudonymError, match="chmod 600"):
        PseudonymKey.read(first.key_path)
    bad = tmp_path / "bad-key"
    bad.write_text("not hex\n")
    bad.chmod(0o600)
    with pytest.raises(PseudonymError, match="not a pseudonym key"):
        PseudonymKey.read(bad)


def test_scrub_finds_values_inside_log_text() -> None:
    known = {
        "500": "rec_a",
        "203.0.113.9": "ip_b",
        "b64id==": "rec_c",
        "alice": "user_d",
        "2001:db8::1": "ip_e",
    }
    text = (
        '203.0.113.9:51234 - alice "GET /r/500?id=500&x=b64id== HTTP/1.1" 5000 "/r/b64id==" [2001:db8::1]:8'
    )
    assert (
        scrub(text, known)
        == 'ip_b:51234 - user_d "GET /r/rec_a?id=rec_a&x=rec_c HTTP/1.1" 5000 "/r/rec_c" [ip_e]:8'
    )
    assert scrub("by Alice Smith today", {}, {"Alice Smith": "user_f"}) == "by user_f today"


def test_cli_pseudonymise(built: Case, tmp_path: Path) -> None:
    built.close()
    case_path = str(tmp_path / "case.duckdb")
    base = ["investigate", case_path, "--endpoint", ENDPOINT, "--login", LOGIN, "--window", WINDOW_ARG]
    runner = CliRunner()
    first = runner.invoke(main, [*base, "--pseudonymise", "--out", str(tmp_path / "out")])
    assert first.exit_code == 6, first.output  # verdict confirmed
    key = tmp_path / "case.duckdb.pseudonym-key"
    assert "new key" in first.output and key.stat().st_mode & 0o777 == 0o600
    second = runner.invoke(main, [*base, "--pseudonymise", "--out", str(tmp_path / "out2")])
    assert second.exit_code == 6 and "new key" not in second.output
    assert (tmp_path / "out" / "findings.json").read_bytes() == (
        tmp_path / "out2" / "findings.json"
    ).read_bytes()
    secret = PseudonymKey.read(key)
    assert expected("ip", ATTACKER, secret) in (tmp_path / "out" / "report.md").read_text()
    inside = runner.invoke(
        main,
        [
            *base,
            "--pseudonymise",
            "--key-file",
            str(tmp_path / "out3" / "k"),
            "--out",
            str(tmp_path / "out3"),
        ],
    )
    assert inside.exit_code == 1 and "inside the report folder" in inside.output
    lone = runner.invoke(main, [*base, "--key-file", str(key), "--out", str(tmp_path / "out4")])
    assert lone.exit_code == 2 and "--key-file is used with --pseudonymise" in lone.output
