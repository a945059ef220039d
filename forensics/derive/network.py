"""Offline network context for client addresses: private vs public, network keys, trust, AS.

Table ``ip_info`` has one row per distinct client address. IPv4 addresses (the bulk) are
classified inside DuckDB: the dotted quad becomes an integer, its scope comes from a range
table built from Python's ``ipaddress`` rules at the boundaries of the special-purpose blocks
(``_ipv4_scopes``), trusted networks are a range join. Other values (IPv6, hostnames, junk) go
through ``classify_ip`` in fixed-size batches, so memory never grows with the addresses. No
lookup ever leaves the machine.

When the case holds a network database (``asn_ranges``, loaded from a file by asndb.py) every
address also gets its autonomous system (``asn``, ``as_org``) and ``hosting`` (a hosting or
cloud provider: asndb.HOSTING_ASNS or the AS name), by an ASOF join on the range start.
``link_net`` is the key the linking rule "same user agent from one network" uses: the /24
(IPv4) or /48 (IPv6), or for hosting-provider addresses the provider's AS (rotating cloud
addresses of one provider are one network). IP ownership data is current, not historical: the
report says which database and date were used.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import pandas as pd

from forensics.errors import TrustedNetworkError
from forensics.store.case import Case
from forensics.store.db import registered

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Trusted:
    """A network the user declares trusted (a partner's egress range, the office NAT…)."""

    name: str
    network: IPNetwork

    @classmethod
    def parse(cls, text: str) -> Trusted:
        name, sep, cidr = text.partition("=")
        if not sep:
            name, cidr = "", text
        try:
            net = ipaddress.ip_network(cidr.strip(), strict=False)
        except ValueError as exc:
            raise TrustedNetworkError(
                f"--trusted {text!r}: {exc}; expected CIDR or NAME=CIDR, e.g. partner=51.140.12.32/29"
            ) from exc
        return cls(name.strip() or str(net), net)

    def __str__(self) -> str:
        return f"{self.name}={self.network}"


def classify_ip(text: str, trusted: tuple[Trusted, ...] = ()) -> dict[str, object]:
    """Scope, network key and trusted name for one address as logged (may not be an IP)."""
    try:
        ip = ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return {"client_ip": text, "ip_version": None, "scope": "not an ip", "net": text, "trusted": None}
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    prefix = 24 if ip.version == 4 else 48
    net = ipaddress.ip_network(f"{ip}/{prefix}", strict=False)
    if ip.is_loopback:
        scope = "loopback"
    elif ip.is_private:
        scope = "private"
    elif not ip.is_global:
        scope = "reserved"
    else:
        scope = "public"
    trusted_name = next((t.name for t in trusted if ip in t.network), None)
    return {
        "client_ip": text,
        "ip_version": ip.version,
        "scope": scope,
        "net": str(net),
        "trusted": trusted_name,
    }


_IPV4_SPECIAL = (  # blocks Python's ipaddress treats specially (the scope is constant between bounds)
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
    "192.0.0.0/24", "192.0.0.0/29", "192.0.0.8/32", "192.0.0.9/32", "192.0.0.10/32", "192.0.0.170/31",
    "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24",
    "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4", "255.255.255.255/32",
)  # fmt: skip
IPV4_SQL = r"^(?:::ffff:)?(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$"
BATCH = 50_000
ASN_RANGES_COLUMNS = "ip_version TINYINT, lo HUGEINT, hi HUGEINT, asn BIGINT, as_org VARCHAR, hosting BOOLEAN"
_COLUMNS = ["client_ip", "ip_version", "scope", "net", "trusted", "ip_num"]


def _ipv4_scopes() -> pd.DataFrame:
    """(lo, hi, scope) covering all IPv4, split at the special blocks' bounds, each part's scope
    asked of ``classify_ip`` (so SQL and Python agree on the running Python's rules)."""
    bounds = {0, 2**32}
    for text in _IPV4_SPECIAL:
        net = ipaddress.ip_network(text)
        bounds |= {int(net.network_address), int(net.broadcast_address) + 1}
    edges = sorted(bounds)
    scopes = [str(classify_ip(str(ipaddress.IPv4Address(lo)))["scope"]) for lo in edges[:-1]]
    return pd.DataFrame({"lo": edges[:-1], "hi": [e - 1 for e in edges[1:]], "scope": scopes})


def _trusted_ranges(trusted: tuple[Trusted, ...]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "k": range(len(trusted)),
            "name": [t.name for t in trusted],
            "ip_version": [t.network.version for t in trusted],
            "lo": [str(int(t.network.network_address)) for t in trusted],
            "hi": [str(int(t.network.broadcast_address)) for t in trusted],
        },
        dtype=object,
    )


def derive_ip_info(case: Case, trusted: tuple[Trusted, ...] = ()) -> int:
    """(Re)build table ``ip_info``: one row per distinct client address. Returns the count."""
    con = case.con
    # one group per call, not a struct of named groups: Spark has no such form
    parts = ", ".join(f"regexp_extract(client_ip, '{IPV4_SQL}', {i}) AS {k}" for i, k in enumerate("abcd", 1))
    con.execute(
        f"""
        CREATE OR REPLACE TABLE _ip_parts AS  -- not TEMP: a cursor (its own connection) reads it
        SELECT client_ip, {parts}
        FROM (SELECT DISTINCT client_ip FROM events WHERE client_ip IS NOT NULL)"""
    )
    v4 = "coalesce(" + " AND ".join(f"TRY_CAST({k} AS INT) <= 255" for k in "abcd") + ", false)"
    with registered(con, "_v4_scopes", _ipv4_scopes()):
        con.execute(
            f"""
            CREATE OR REPLACE TABLE ip_info AS
            WITH v AS (
              SELECT client_ip,  -- TRY_CAST: DuckDB 2.0.0 may cast before the filter
                TRY_CAST(a AS INT) AS a, TRY_CAST(b AS INT) AS b, TRY_CAST(c AS INT) AS c,
                TRY_CAST(d AS INT) AS d
              FROM _ip_parts WHERE {v4}),
            n AS (SELECT *, a::BIGINT * 16777216 + b * 65536 + c * 256 + d AS num FROM v)
            SELECT n.client_ip::VARCHAR AS client_ip, 4::TINYINT AS ip_version, s.scope::VARCHAR AS scope,
              (a || '.' || b || '.' || c || '.0/24')::VARCHAR AS net, NULL::VARCHAR AS trusted,
              num::HUGEINT AS ip_num
            FROM n JOIN _v4_scopes s ON n.num BETWEEN s.lo AND s.hi"""
        )
    cursor = con.cursor()  # the rest (IPv6, hostnames, junk) in batches through Python
    cursor.execute(f"SELECT client_ip FROM _ip_parts WHERE NOT ({v4})")
    while batch := cursor.fetchmany(BATCH):
        rows = [{**classify_ip(str(r[0])), "ip_num": _ip_num(str(r[0]))} for r in batch]
        df = pd.DataFrame(rows, columns=_COLUMNS, dtype=object)
        with registered(con, "_ip_batch", df):
            con.execute(
                "INSERT INTO ip_info SELECT client_ip::VARCHAR, ip_version::TINYINT, scope::VARCHAR, "
                "net::VARCHAR, NULL::VARCHAR, ip_num::HUGEINT FROM _ip_batch"
            )
    cursor.close()
    con.execute("DROP TABLE _ip_parts")
    if trusted:
        with registered(con, "_trusted", _trusted_ranges(trusted)):
            con.execute(  # the table again, not an UPDATE … FROM (Spark has none)
                """
                CREATE OR REPLACE TABLE ip_info AS
                SELECT i.client_ip, i.ip_version, i.scope, i.net, t.name AS trusted, i.ip_num
                FROM ip_info i LEFT JOIN (
                  SELECT i.client_ip, arg_min(t.name, t.k::INT) AS name FROM ip_info i
                  JOIN _trusted t ON t.ip_version::TINYINT = i.ip_version
                   AND i.ip_num BETWEEN t.lo::HUGEINT AND t.hi::HUGEINT
                  GROUP BY i.client_ip) t ON t.client_ip = i.client_ip"""
            )
    add_network_owner(case)
    count = con.execute("SELECT count(*) FROM ip_info").fetchone()
    return int(count[0]) if count else 0


def _ip_num(text: str) -> str | None:
    """The address as an integer (decimal text: IPv6 needs 128 bits), None when not an address."""
    try:
        ip = ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return str(int(ip))


def add_network_owner(case: Case) -> None:
    """Columns asn, as_org, hosting and link_net of ``ip_info`` from ``asn_ranges`` (if loaded)."""
    con = case.con
    con.execute(f"CREATE TABLE IF NOT EXISTS asn_ranges ({ASN_RANGES_COLUMNS})")  # empty: no database
    # Each address's range is the one with the greatest start at or below it: a window over the
    # addresses and the range starts in order (an ASOF join in DuckDB; Spark has no ASOF join)
    cols = "CASE WHEN i.ip_num <= r.hi THEN r.asn END AS asn, CASE WHEN i.ip_num <= r.hi THEN r.as_org END"
    hosting = "coalesce(i.ip_num <= r.hi AND r.hosting, false)"
    con.execute(
        f"""
        CREATE OR REPLACE TABLE ip_info AS
        WITH u AS (
          SELECT ip_version, ip_num AS pos, 1 AS kind, client_ip, NULL::HUGEINT AS lo FROM ip_info
          WHERE ip_num IS NOT NULL
          UNION ALL SELECT ip_version, lo, 0, NULL, lo FROM asn_ranges),
        starts AS (
          SELECT client_ip, max(lo) OVER (  -- (a range's lo is its row's pos: the last one is the
              PARTITION BY ip_version ORDER BY pos, kind  -- largest; last_value(… IGNORE NULLS) scanned
              ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS lo  -- back over every address between)
          FROM u),
        r AS (  -- one range per start (ranges do not overlap; a database with two at one start keeps
          SELECT ip_version, lo, arg_max(hi, hi) AS hi, arg_max(asn, hi) AS asn,  -- the wider)
            arg_max(as_org, hi) AS as_org, arg_max(hosting, hi) AS hosting
          FROM asn_ranges GROUP BY ip_version, lo)
        SELECT i.client_ip, i.ip_version, i.scope, i.net, i.trusted, i.ip_num,
          {cols} AS as_org, {hosting} AS hosting
        FROM ip_info i LEFT JOIN (SELECT * FROM starts WHERE client_ip IS NOT NULL) s USING (client_ip)
          LEFT JOIN r ON r.ip_version = i.ip_version AND r.lo = s.lo"""
    )
    con.execute(
        "CREATE OR REPLACE TABLE ip_info AS SELECT *, CASE WHEN hosting THEN 'AS' || asn || ' (hosting)' "
        "ELSE net END AS link_net FROM ip_info ORDER BY client_ip"
    )


def unmatched_trusted(case: Case, trusted: tuple[Trusted, ...]) -> list[str]:
    """The declared trusted networks that hold no client address of the case (``str(t)`` each):
    a mistyped partner range trusts nobody, and that partner then looks like an attacker.

    Read from ``ip_info`` (derive_ip_info: one row per distinct address, the same range test that
    trusts them), in SQL: the addresses never come into Python."""
    if not trusted:
        return []
    with registered(case.con, "_trusted", _trusted_ranges(trusted)):
        rows = case.con.execute(
            """
            SELECT t.k::INT FROM _trusted t WHERE NOT EXISTS (
              SELECT 1 FROM ip_info i WHERE i.ip_version = t.ip_version::TINYINT
                AND i.ip_num BETWEEN t.lo::HUGEINT AND t.hi::HUGEINT)
            ORDER BY t.k::INT"""
        ).fetchall()
    return [str(trusted[int(r[0])]) for r in rows]
