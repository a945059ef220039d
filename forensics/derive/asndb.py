"""A network database in the case: which autonomous system (and hosting provider) owns an address.

No PyPI package ships a maintained IP-to-AS database under a licence that allows redistribution
(README "Network database"), so the user supplies one file and ``load_asn_db`` copies it into
the case as table ``asn_ranges`` (ip_version, lo, hi, asn, as_org, hosting), with its name,
SHA-256, format and row count in ``meta`` ('network_db'). Formats (by file name):

* ``*.mmdb`` — MaxMind DB with ``autonomous_system_number``/``autonomous_system_organization``
  (GeoLite2-ASN, DB-IP "IP to ASN Lite"), read with the ``maxminddb`` library;
* ``*.tsv`` / ``*.tsv.gz`` — iptoasn.com's ip2asn files: range_start, range_end, AS_number,
  country_code, AS_description (tab separated; AS 0 = not routed);
* ``*.csv`` / ``*.csv.gz`` — ip-location-db's asn CSV: range_start, range_end, AS number, AS
  organisation.

Text formats are parsed by DuckDB (IPv4 bounds to integers in SQL); IPv6 bounds and MMDB
networks go through Python in fixed-size batches, so memory does not grow with the file.
``hosting`` is true for the AS numbers in ``HOSTING_ASNS`` (well-known cloud and hosting
providers) and for AS names matching ``HOSTING_ORG``. After loading, ``ip_info`` is re-derived
by the next ``actors``/``detect``/``investigate`` run (network.add_network_owner).
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from forensics.derive.network import ASN_RANGES_COLUMNS
from forensics.errors import NetworkDbError
from forensics.ingest.evidence import describe
from forensics.store.case import Case
from forensics.store.db import registered, sql_str
from forensics.store.entry import logged

BATCH = 50_000
# Well-known hosting/cloud autonomous systems (number -> provider). A short, reviewed list; the
# AS name pattern below catches the many smaller ones.
HOSTING_ASNS: dict[int, str] = {
    14061: "DigitalOcean", 16509: "Amazon AWS", 14618: "Amazon AWS", 8987: "Amazon AWS",
    15169: "Google", 396982: "Google Cloud", 19527: "Google Cloud", 8075: "Microsoft Azure",
    16276: "OVH", 24940: "Hetzner", 213230: "Hetzner", 63949: "Akamai Linode", 20473: "Vultr (Choopa)",
    51167: "Contabo", 60781: "Leaseweb", 28753: "Leaseweb", 16265: "Leaseweb", 12876: "Scaleway",
    45102: "Alibaba Cloud", 37963: "Alibaba Cloud", 31898: "Oracle Cloud", 132203: "Tencent Cloud",
    45090: "Tencent Cloud", 9009: "M247", 36352: "ColoCrossing", 46606: "Unified Layer",
    53667: "FranTech (BuyVM)", 40021: "Nodes Direct", 62567: "DigitalOcean", 135340: "DigitalOcean",
    200019: "AlexHost", 47583: "Hostinger", 8560: "IONOS", 197540: "netcup", 212238: "Datacamp",
    398101: "GoDaddy", 26496: "GoDaddy", 13335: "Cloudflare", 54113: "Fastly", 20940: "Akamai",
}  # fmt: skip
HOSTING_ORG = (
    r"(?i)(hosting|host\b|cloud|data ?cent(er|re)|datacamp|server|vps|colo|dedicated|digitalocean|"
    r"amazon|google|azure|ovh|hetzner|linode|vultr|choopa|contabo|leaseweb|scaleway|alibaba|oracle|"
    r"tencent|m247|hostinger|ionos|netcup|frantech|psychz|quadranet|gcore|g-core|selectel|timeweb)"
)
_MMDB_KEYS = ("autonomous_system_number", "autonomous_system_organization")


@dataclass(frozen=True)
class NetworkDb:
    path: str
    sha256: str
    format: str
    ranges: int
    hosting_ranges: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "sha256": self.sha256,
            "format": self.format,
            "ranges": self.ranges,
            "hosting_ranges": self.hosting_ranges,
        }


def load_asn_db(case: Case, path: Path) -> NetworkDb:
    """Copy a network database file into the case (table ``asn_ranges``); see the module doc.
    Logged in the case log (``network-db``) with the file's hash and row counts."""
    with logged(case, "network-db", {"file": str(path)}) as entry:
        db = _load(case, path)
        entry.result = db.to_dict()
    return db


def _load(case: Case, path: Path) -> NetworkDb:
    if not path.is_file():
        raise NetworkDbError(f"--asn-db {path}: no such file")
    name = path.name.lower()
    fmt = (
        "mmdb"
        if name.endswith(".mmdb")
        else "ip2asn-tsv"
        if name.endswith((".tsv", ".tsv.gz"))
        else "asn-csv"
        if name.endswith((".csv", ".csv.gz"))
        else ""
    )
    if not fmt:
        raise NetworkDbError(
            f"{path.name}: unknown network database format; give a GeoLite2-ASN/DB-IP .mmdb, an "
            "iptoasn.com ip2asn .tsv(.gz) or an ip-location-db asn .csv(.gz)"
        )
    con = case.con
    con.execute(f"CREATE OR REPLACE TABLE asn_ranges ({ASN_RANGES_COLUMNS})")
    try:
        if fmt == "mmdb":
            _load_mmdb(case, path)
        else:
            _load_text(case, path, fmt)
    except NetworkDbError:
        raise
    except Exception as exc:  # a malformed file: say which and why, never half a table
        con.execute(f"CREATE OR REPLACE TABLE asn_ranges ({ASN_RANGES_COLUMNS})")
        raise NetworkDbError(f"{path.name}: not a readable {fmt} network database: {exc}") from exc
    hosting_asns = pd.DataFrame({"asn": list(HOSTING_ASNS)}, dtype="int64")
    with registered(con, "_hosting_asns", hosting_asns):
        con.execute(
            f"""
            CREATE OR REPLACE TABLE asn_ranges AS
            SELECT ip_version, lo, hi, asn, as_org,
              asn IN (SELECT asn FROM _hosting_asns)
                OR coalesce(regexp_matches(as_org, {sql_str(HOSTING_ORG)}), false) AS hosting
            FROM asn_ranges WHERE asn IS NOT NULL AND asn > 0 ORDER BY ip_version, lo"""
        )
    row = con.execute("SELECT count(*), count_if(hosting) FROM asn_ranges").fetchone()
    ranges, hosting = (int(row[0]), int(row[1])) if row else (0, 0)
    if not ranges:
        raise NetworkDbError(f"{path.name}: no routed address range in the file")
    db = NetworkDb(str(path), describe(path).sha256, fmt, ranges, hosting)
    con.execute("INSERT OR REPLACE INTO meta VALUES ('network_db', ?)", [json.dumps(db.to_dict())])
    return db


def network_db(case: Case) -> dict[str, Any] | None:
    """The network database the case holds (``NetworkDb.to_dict``), or None."""
    row = case.con.execute("SELECT value FROM meta WHERE key = 'network_db'").fetchone()
    return json.loads(row[0]) if row else None


def _load_text(case: Case, path: Path, fmt: str) -> None:
    con = case.con
    tsv = fmt == "ip2asn-tsv"
    cols = (
        "{'s': 'VARCHAR', 'e': 'VARCHAR', 'asn': 'BIGINT', 'cc': 'VARCHAR', 'org': 'VARCHAR'}"
        if tsv
        else "{'s': 'VARCHAR', 'e': 'VARCHAR', 'asn': 'BIGINT', 'org': 'VARCHAR'}"
    )
    delim = "\\t" if tsv else ","
    con.execute(
        f"""
        CREATE OR REPLACE TABLE _asn_stage AS
        SELECT s, e, asn, org FROM read_csv({sql_str(str(path))}, delim = {sql_str(delim)}, header = false,
          columns = {cols}, quote = '"', auto_detect = false)"""
    )
    parts = "regexp_extract({c}, '^(\\d+)\\.(\\d+)\\.(\\d+)\\.(\\d+)$', ['a', 'b', 'c', 'd'])"

    def num(c: str) -> str:
        p = parts.format(c=c)
        return (
            f"(TRY_CAST(({p}).a AS BIGINT) * 16777216 + TRY_CAST(({p}).b AS BIGINT) * 65536"
            f" + TRY_CAST(({p}).c AS BIGINT) * 256 + TRY_CAST(({p}).d AS BIGINT))::HUGEINT"
        )

    con.execute(
        f"""
        INSERT INTO asn_ranges
        SELECT 4, {num("s")}, {num("e")}, asn, org, NULL FROM _asn_stage
        WHERE {num("s")} IS NOT NULL AND {num("e")} IS NOT NULL"""
    )
    cursor = con.cursor()
    cursor.execute("SELECT s, e, asn, org FROM _asn_stage WHERE contains(s, ':')")
    while batch := cursor.fetchmany(BATCH):
        rows = [(6, _num(s), _num(e), asn, org) for s, e, asn, org in batch]
        _insert(case, [r for r in rows if r[1] is not None and r[2] is not None])
    cursor.close()
    con.execute("DROP TABLE _asn_stage")


def _load_mmdb(case: Case, path: Path) -> None:
    import maxminddb  # only this format needs it

    with maxminddb.open_database(str(path)) as reader:
        batch: list[tuple[int, str, str, int, str]] = []
        for network, record in _networks(reader):
            if not isinstance(record, dict) or _MMDB_KEYS[0] not in record:
                continue
            if isinstance(network, ipaddress.IPv6Network) and network.subnet_of(
                ipaddress.IPv6Network("::ffff:0:0/96")
            ):
                continue  # the IPv4-mapped copy of the IPv4 tree
            batch.append(
                (
                    network.version,
                    str(int(network.network_address)),
                    str(int(network.broadcast_address)),
                    int(record[_MMDB_KEYS[0]]),
                    str(record.get(_MMDB_KEYS[1], "")),
                )
            )
            if len(batch) >= BATCH:
                _insert(case, batch)
                batch = []
        _insert(case, batch)


def _networks(reader: Any) -> Iterator[tuple[Any, Any]]:
    yield from reader


def _num(text: str) -> str | None:
    try:
        return str(int(ipaddress.ip_address(text)))
    except ValueError:
        return None


def _insert(case: Case, rows: list[Any]) -> None:
    if not rows:
        return
    df = pd.DataFrame(rows, columns=["v", "lo", "hi", "asn", "org"], dtype=object)
    with registered(case.con, "_asn_batch", df):
        case.con.execute(
            "INSERT INTO asn_ranges SELECT v::TINYINT, lo::HUGEINT, hi::HUGEINT, asn::BIGINT, org::VARCHAR, "
            "NULL FROM _asn_batch"
        )
