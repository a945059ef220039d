"""Offline network context: ip_info in SQL agrees with ipaddress; a network database labels
hosting providers and links one provider's rotating addresses."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from forensics import Case, ingest
from forensics.cli import main
from forensics.derive.actors import ActorOptions, derive_actors
from forensics.derive.asndb import load_asn_db
from forensics.derive.auth import AuthOptions
from forensics.derive.network import Trusted, classify_ip, derive_ip_info
from forensics.derive.routes import Endpoint
from forensics.errors import NetworkDbError
from tests.conftest import ROOT
from tests.eventrows import add_events

DATA = ROOT / "tests" / "data"
T0 = datetime(2024, 3, 12, 1, tzinfo=UTC)
UA = "python-requests/2.31.0"
# iptoasn.com's ip2asn layout: start, end, AS number, country, AS name (tab separated)
IP2ASN = [
    ("138.68.0.0", "138.68.255.255", 14061, "US", "DIGITALOCEAN-ASN"),
    ("165.227.0.0", "165.227.255.255", 14061, "US", "DIGITALOCEAN-ASN"),
    ("81.2.64.0", "81.2.127.255", 20712, "GB", "ANDREWS-ARNOLD Andrews & Arnold Ltd"),
    ("2a03:b0c0::", "2a03:b0c0:ffff:ffff:ffff:ffff:ffff:ffff", 14061, "US", "DIGITALOCEAN-ASN"),
    ("90.0.0.0", "90.0.0.255", 0, "None", "Not routed"),
]


def write_ip2asn(path: Path) -> Path:
    text = "\n".join("\t".join(str(v) for v in row) for row in IP2ASN) + "\n"
    path.write_bytes(gzip.compress(text.encode()))
    return path


def test_ip_info_in_sql_agrees_with_ipaddress(case: Case) -> None:
    samples = [
        "10.20.1.15",
        "159.65.3.7",
        "127.0.0.1",
        "100.64.3.4",
        "192.0.0.9",
        "192.0.0.171",
        "203.0.113.5",
        "224.0.0.1",
        "255.255.255.255",
        "0.1.2.3",
        "::ffff:8.8.8.8",
        "8.8.8.8",
        "2001:41d0:8:f69::1",
        "::1",
        "999.1.1.1",
        "www-c3.proxy.aol.com",
        "[2001:db8::1]",
    ]
    add_events(case, [{"path": "/", "client_ip": ip} for ip in samples])
    trusted = (Trusted.parse("partner=159.65.3.0/29"), Trusted.parse("v6=2001:41d0::/32"))
    assert derive_ip_info(case, trusted) == len(samples)
    got = {
        r[0]: r[1:]
        for r in case.con.execute("SELECT client_ip, ip_version, scope, net, trusted FROM ip_info").fetchall()
    }
    for ip in samples:
        want = classify_ip(ip, trusted)
        assert got[ip] == (want["ip_version"], want["scope"], want["net"], want["trusted"]), ip
    assert case.con.execute("SELECT ip_num FROM ip_info WHERE client_ip = '8.8.8.8'").fetchone() == (
        134744072,
    )


def test_hosting_provider_addresses_are_labelled_and_linked(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    lines = [
        '10.20.1.5 - - [12/Mar/2024:01:00:00 +0000] "POST /api/v2/auth/login HTTP/1.1" 200 50 "-" "Chrome"'
    ]
    for k in range(12):  # one scraper, a DigitalOcean address per hour from two of its ranges
        ip = ("138.68.12." if k % 2 else "165.227.86.") + str(10 + k)
        t = T0 + timedelta(hours=k)
        lines.append(
            f'{ip} - - [{t:%d/%b/%Y:%H:%M:%S} +0000] "GET /api/v2/health HTTP/1.1" 200 20 "-" "{UA}"'
        )
    t = T0 + timedelta(minutes=30)
    lines.append(
        f'81.2.69.160 - - [{t:%d/%b/%Y:%H:%M:%S} +0000] "GET /api/v2/health HTTP/1.1" 200 20 "-" "{UA}"'
    )
    log.write_text("\n".join(lines) + "\n")
    case = Case.create(tmp_path / "case.duckdb")
    ingest(case, [log])
    db = load_asn_db(case, write_ip2asn(tmp_path / "ip2asn-combined.tsv.gz"))
    assert (db.format, db.ranges, db.hosting_ranges) == ("ip2asn-tsv", 4, 3)  # AS 0 is not routed
    derive_actors(case, ActorOptions(AuthOptions(logins=(Endpoint.parse("POST /api/v2/auth/login"),))))
    rows = case.sql(
        f"SELECT ips, hosting, link_reasons FROM actors WHERE list_contains(user_agents, '{UA}') "
        "ORDER BY len(ips) DESC"
    ).to_dict(orient="records")
    assert len(rows) == 2  # the scraper's 12 cloud addresses are one actor; the home user is not in it
    assert len(rows[0]["ips"]) == 12 and list(rows[0]["hosting"]) == ["AS14061 DIGITALOCEAN-ASN"]
    assert any("from AS14061 (hosting)" in r for r in rows[0]["link_reasons"])
    assert list(rows[1]["ips"]) == ["81.2.69.160"] and list(rows[1]["hosting"]) == []
    info = case.con.execute(
        "SELECT asn, as_org, hosting FROM ip_info WHERE client_ip = '81.2.69.160'"
    ).fetchone()
    assert info == (20712, "ANDREWS-ARNOLD Andrews & Arnold Ltd", False)
    case.close()


def test_ipv6_ranges_and_the_cli(tmp_path: Path) -> None:
    case_path = tmp_path / "case.duckdb"
    with Case.create(case_path) as case:
        add_events(case, [{"path": "/", "client_ip": "2a03:b0c0:3:d0::1f:1"}])
    db_file = write_ip2asn(tmp_path / "ip2asn.tsv.gz")
    result = CliRunner().invoke(main, ["network-db", str(case_path), str(db_file)])
    assert result.exit_code == 0, result.output
    assert "loaded 4 address ranges (3 of hosting providers)" in result.output
    with Case.open(case_path) as case:
        derive_ip_info(case)
        assert case.con.execute("SELECT asn, hosting, link_net FROM ip_info").fetchone() == (
            14061,
            True,
            "AS14061 (hosting)",
        )
        assert case.con.execute("SELECT count(*) FROM case_log WHERE command = 'network-db'").fetchone() == (
            1,
        )


def test_unknown_network_db_format_is_a_clear_error(case: Case, tmp_path: Path) -> None:
    bad = tmp_path / "asn.json"
    bad.write_text("{}")
    with pytest.raises(NetworkDbError, match="unknown network database format"):
        load_asn_db(case, bad)


def test_mmdb_network_db(case: Case) -> None:
    """tests/data/asn-sample.mmdb: a GeoLite2-ASN-shaped MaxMind DB (IPv6 tree with the IPv4
    space at ::/96) holding 81.2.64.0/18 AS20712 AAISP, 138.68.0.0/16 and 2a03:b0c0::/32 AS14061
    DIGITALOCEAN-ASN. Written once with mmdb-writer 0.2.7 (MMDBWriter(ip_version=6,
    database_type="GeoLite2-ASN", ipv4_compatible=True)); not a dependency of the project."""
    add_events(
        case, [{"path": "/", "client_ip": ip} for ip in ("138.68.12.7", "81.2.69.160", "2a03:b0c0::9")]
    )
    db = load_asn_db(case, DATA / "asn-sample.mmdb")
    assert (db.format, db.ranges, db.hosting_ranges) == ("mmdb", 3, 2)
    derive_ip_info(case)
    assert case.con.execute("SELECT client_ip, asn, hosting FROM ip_info ORDER BY client_ip").fetchall() == [
        ("138.68.12.7", 14061, True),
        ("2a03:b0c0::9", 14061, True),
        ("81.2.69.160", 20712, False),
    ]
