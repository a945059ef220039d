"""The simulator: deterministic output, ingestible evidence, and a truth.json that the logs bear out.

The truth is checked against the written files independently of the simulator's code: nginx lines
are re-read with a small regex here, times parsed with the standard library.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import json
import lzma
import re
import zlib
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
import zstandard
from click.testing import CliRunner

from forensics import Case, ingest
from forensics.cli import main
from forensics.errors import SimulationError
from forensics.simulate import simulate
from tests.conftest import SAMPLE_LOGS, SAMPLE_PARAMS

NGINX = re.compile(
    r'^(?P<ip>\S+) - (?P<user>\S+) \[(?P<ts>[^\]]+)\] "(?P<method>[A-Z]+) (?P<target>\S+) HTTP/1\.1" '
    r'(?P<status>\d{3}) (?P<size>\d+) "(?P<ref>[^"]*)" "(?P<ua>[^"]*)"$'
)
RECORD = re.compile(r"^/api/v2/referrals/(\d+)(/documents/\d+)?$")
PARAMS = {"seed": 3, "days": 40, "scale": 0.3, "start": date(2024, 3, 1)}


def decompress(path: Path) -> bytes:
    """Whole content by magic bytes; a truncated gzip gives what precedes the break."""
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        return zlib.decompressobj(wbits=31).decompress(data)
    if data[:3] == b"BZh":
        return bz2.decompress(data)
    if data[:6] == b"\xfd7zXZ\x00":
        return lzma.decompress(data)
    if data[:4] == b"\x28\xb5\x2f\xfd":
        return zstandard.ZstdDecompressor().decompressobj().decompress(data)
    return data


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:  # type: ignore[type-arg]
    out = tmp_path_factory.mktemp("sim") / "case"
    simulate(out, **PARAMS)  # type: ignore[arg-type]
    return out, json.loads((out / "truth.json").read_text())


def nginx_rows(out: Path, truth: dict) -> list[tuple[datetime, re.Match[str]]]:  # type: ignore[type-arg]
    """Every parsed nginx line of the unique files (the backup copy skipped)."""
    copies = {d["copy"] for d in truth["evidence"]["duplicates"]}
    rows = []
    for f in sorted((out / "evidence" / "edge" / "nginx").iterdir()):
        if f.relative_to(out).as_posix() in copies:
            continue
        for line in decompress(f).decode().split("\n"):
            m = NGINX.match(line)
            if m:
                rows.append((datetime.strptime(m["ts"], "%d/%b/%Y:%H:%M:%S %z"), m))
    return rows


def test_same_parameters_same_bytes_other_seed_differs(tmp_path: Path, sim: tuple[Path, dict]) -> None:  # type: ignore[type-arg]
    out, _ = sim

    def digest(root: Path) -> dict[str, str]:
        return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(root.rglob("*")) if p.is_file()}

    simulate(tmp_path / "again", **PARAMS)  # type: ignore[arg-type]
    assert digest(tmp_path / "again") == digest(out)
    simulate(tmp_path / "other", **{**PARAMS, "seed": 4})  # type: ignore[arg-type]
    other = digest(tmp_path / "other")
    assert other.keys() == digest(out).keys()
    assert other["evidence/edge/nginx/access.log"] != digest(out)["evidence/edge/nginx/access.log"]


def test_ingest_parses_every_entry_line_odd_lines_are_the_only_rejects(tmp_path: Path, sim: tuple[Path, dict]) -> None:  # type: ignore[type-arg]
    out, truth = sim
    case = Case.create(tmp_path / "c.duckdb")
    report = ingest(case, [out / "evidence"])
    assert report.problems == []
    ev = truth["evidence"]
    statuses = Counter(r.status for r in report.results)
    assert statuses == {"ingested": len(ev["files"]) - len(ev["duplicates"]), "duplicate": len(ev["duplicates"])}
    assert set(case.sources()["format"].dropna()) == {"combined", "jsonl"}
    rejects = case.rejects()
    # the nginx error message, and the truncated file's cut last line
    odd = [o["line"] for o in ev["odd_lines"] if o["kind"] == "not_a_log_line"]
    assert ev["truncated"]["partial_line"] is True
    assert len(rejects) == len(odd) + 1
    assert odd[0] in set(rejects["line"])
    total = case.sql("select sum(lines) n, sum(events) e from sources where status = 'ingested'")
    # every line written is read once: nginx (less the truncated tail; the backup copy is skipped) + app
    lost = ev["truncated"]["lines"] - ev["truncated"]["lines_kept"] - 1  # the cut line is read, rejected
    assert int(total["n"][0]) == ev["lines"]["nginx"] - lost + ev["lines"]["app"]
    assert int(total["e"][0]) == int(total["n"][0]) - len(rejects)
    tls = case.sql("select status from events where client_ip = '198.51.100.23'")
    assert tls["status"].tolist() == [400]


def test_truth_matches_the_written_logs(sim: tuple[Path, dict]) -> None:  # type: ignore[type-arg]
    out, truth = sim
    rows = nginx_rows(out, truth)
    owner = {}
    for a in truth["actors"]:
        for ip in a["ips"]:
            assert ip not in owner, f"{ip} belongs to two truth actors"
            owner[ip] = a["name"]
    by_name = {a["name"]: a for a in truth["actors"]}
    seen: Counter[str] = Counter()
    taken: dict[str, set[str]] = defaultdict(set)
    w0, w1 = utc(truth["window"]["start"]), utc(truth["window"]["end"])
    for ts, m in rows:
        name = owner.get(m["ip"])
        if name is None:
            continue  # the odd lines' addresses
        seen[name] += 1
        a = by_name[name]
        assert m["ua"] in a["user_agents"]
        rec = RECORD.match(m["target"])
        if rec and m["status"] == "200" and m["method"] == "GET":
            in_window = w0 <= ts < w1
            if a["class"] in ("enumerator", "distributed_enumerator", "scanner") and a["unauthorised"]:
                assert in_window
                taken[name].add(rec[1])
    lost = truth["evidence"]["truncated"]["lines"] - truth["evidence"]["truncated"]["lines_kept"]
    # the nginx lines per actor are its logged requests, less what the truncated file lost
    diff = {n: by_name[n]["requests"] - seen[n] for n in by_name}
    assert all(d >= 0 for d in diff.values()), diff
    assert 0 < sum(diff.values()) <= lost
    for name in ("enumerator", "enumerator-distributed", "scanner-nuclei"):
        assert sorted(taken[name]) == sorted(by_name[name]["records_unauthorised"]), name
    assert len(by_name["scanner-nuclei"]["records_unauthorised"]) == 1  # the one lucky hit
    assert by_name["bulk"]["bulk_records"] == 500 == truth["records"]["bulk"]
    union = set().union(*(set(a["records_unauthorised"]) for a in truth["actors"]))
    assert truth["records"]["unauthorised"] == sorted(union, key=int)
    unauthorised = {a["name"] for a in truth["actors"] if a["unauthorised"]}
    assert unauthorised == {"scanner-nuclei", "enumerator", "enumerator-distributed", "insider", "bulk"}


def test_insider_reads_outside_own_panel_and_staff_stay_inside(sim: tuple[Path, dict]) -> None:  # type: ignore[type-arg]
    out, truth = sim
    lines = []
    for f in sorted((out / "evidence" / "app").iterdir()):
        lines += [json.loads(x) for x in decompress(f).decode().splitlines()]
    reads: dict[str, set[str]] = defaultdict(set)
    for r in lines:
        rec = RECORD.match(r["request"]["path"])
        if rec and r["user_id"] and r["response"]["status"] == 200:
            reads[r["user_id"]].add(rec[1])
    insider = next(a for a in truth["actors"] if a["class"] == "insider")
    staff = [a for a in truth["actors"] if a["class"] == "staff"]
    (principal,) = insider["principals"]
    out_of_panel = set(insider["records_unauthorised"])
    assert out_of_panel and out_of_panel <= reads[principal]
    own = reads[principal] - out_of_panel
    others = [reads[a["principals"][0]] for a in staff]
    for i, a in enumerate(staff):
        assert a["records_unauthorised"] == [] and not a["unauthorised"] and others[i]
        for j in range(i):  # panels are disjoint: no two members of staff read the same referral
            assert not others[i] & others[j]
        assert not own & others[i]
    assert out_of_panel & set().union(*others)  # the insider read other people's patients


def test_window_flip_gap_dst_and_retention(sim: tuple[Path, dict]) -> None:  # type: ignore[type-arg]
    out, truth = sim
    rows = nginx_rows(out, truth)
    trusted_or_staff = {ip for a in truth["actors"] if a["class"] in ("staff", "insider", "partner")
                        for ip in a["ips"]}
    unauth = [(ts, m["status"]) for ts, m in rows
              if RECORD.match(m["target"]) and m["ip"] not in trusted_or_staff and m["status"] in ("200", "401")]
    end = utc(truth["window"]["end"])
    assert max(ts for ts, s in unauth if s == "200") < end <= min(ts for ts, s in unauth if s == "401")
    assert all(s == "401" for ts, s in unauth if ts >= end) and any(ts >= end for ts, _ in unauth)
    (gap,) = truth["gaps"]
    g0, g1 = utc(gap["start"]), utc(gap["end"])
    assert (g1 - g0).total_seconds() > 36 * 3600
    assert not [ts for ts, _ in rows if g0 <= ts < g1]
    times = sorted(ts for ts, _ in rows)
    logs0 = utc(truth["logs"]["start"])
    assert logs0 <= times[0] < logs0 + timedelta(minutes=10) and utc(truth["window"]["start"]) < logs0
    offsets = {ts.utcoffset().total_seconds() for ts in times}  # type: ignore[union-attr]
    assert offsets == {0, 3600}  # the sample period crosses the last Sunday of March
    w0 = utc(truth["window"]["start"])
    covered = (end - logs0) - (g1 - g0)
    assert truth["coverage"]["ratio"] == pytest.approx(covered / (end - w0), abs=1e-5)


def test_scale_multiplies_volume(tmp_path: Path, sim: tuple[Path, dict]) -> None:  # type: ignore[type-arg]
    _, small = sim
    big = simulate(tmp_path / "big", **{**PARAMS, "scale": 0.9}).as_json()  # type: ignore[arg-type]

    def volume(t: dict, cls: str) -> int:  # type: ignore[type-arg]
        return sum(a["requests"] for a in t["actors"] if a["class"] == cls)

    for cls in ("staff", "partner", "enumerator", "distributed_enumerator"):
        assert 2.2 < volume(big, cls) / volume(small, cls) < 3.8, cls
    assert volume(big, "monitor") == volume(small, "monitor")  # the monitor does not scale


def test_refuses_a_non_empty_folder_and_too_few_days(tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "f").write_text("")
    with pytest.raises(SimulationError, match="not empty"):
        simulate(tmp_path / "x", days=30)
    with pytest.raises(SimulationError, match="at least"):
        simulate(tmp_path / "y", days=5)


def test_cli_simulate(tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["simulate", str(tmp_path / "s"), "--seed", "2", "--days", "25",
                                    "--scale", "0.2", "--start", "2024-10-01"])
    assert res.exit_code == 0, res.output
    truth = json.loads((tmp_path / "s" / "truth.json").read_text())
    assert truth["schema"] == "forensics.truth/1" and truth["seed"] == 2 and truth["days"] == 25
    assert truth["period"]["start"] == "2024-09-30T23:00:00Z"  # local midnight in BST
    assert f"{len(truth['records']['unauthorised'])} logged" in res.output
    res = CliRunner().invoke(main, ["simulate", str(tmp_path / "s")])
    assert res.exit_code == 1 and "not empty" in res.output


def test_committed_sample_is_the_simulator_output(tmp_path: Path) -> None:
    """sample_logs/ is what the simulator writes (compared decompressed: another zlib may differ)."""
    simulate(tmp_path / "s", **SAMPLE_PARAMS)  # type: ignore[arg-type]
    made = {p.relative_to(tmp_path / "s"): decompress(p) for p in (tmp_path / "s").rglob("*") if p.is_file()}
    committed = {p.relative_to(SAMPLE_LOGS): decompress(p) for p in SAMPLE_LOGS.rglob("*") if p.is_file()}
    assert made.keys() == committed.keys()
    for rel, data in made.items():
        assert data == committed[rel], rel
    assert sum(p.stat().st_size for p in SAMPLE_LOGS.rglob("*") if p.is_file()) < 1_500_000


def test_gzip_has_no_timestamp(sim: tuple[Path, dict]) -> None:  # type: ignore[type-arg]
    out, _ = sim
    gz = sorted((out / "evidence" / "edge" / "nginx").glob("*.gz"))
    assert gz and all(f.read_bytes()[4:8] == b"\0\0\0\0" for f in gz)
    assert gzip.decompress((out / "evidence" / "edge" / "nginx" / "access.log.2.gz").read_bytes())
