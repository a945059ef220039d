"""Offline network context for client addresses: private vs public, network keys, trust.

Computed once per distinct client address with Python's ``ipaddress`` (a case has far fewer
addresses than events) into table ``ip_info``; everything else joins on it in DuckDB. No
lookup ever leaves the machine. Country / ASN / hosting data would need an offline database
this tool does not ship: actors are grouped by /24 (IPv4) or /48 (IPv6) networks instead.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import pandas as pd

from forensics.case import Case, registered
from forensics.errors import TrustedNetworkError

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


def derive_ip_info(case: Case, trusted: tuple[Trusted, ...] = ()) -> int:
    """(Re)build table ``ip_info``: one row per distinct client address. Returns the count."""
    ips = [
        r[0]
        for r in case.con.execute(
            "SELECT DISTINCT client_ip FROM events WHERE client_ip IS NOT NULL"
        ).fetchall()
    ]
    df = pd.DataFrame(
        [classify_ip(ip, trusted) for ip in ips],
        columns=["client_ip", "ip_version", "scope", "net", "trusted"],
    ).astype({"ip_version": "Int8", "client_ip": object, "scope": object, "net": object, "trusted": object})
    with registered(case.con, "_ip_info_df", df):
        case.con.execute(
            "CREATE OR REPLACE TABLE ip_info AS SELECT client_ip::VARCHAR AS client_ip, "
            "ip_version::TINYINT AS ip_version, scope::VARCHAR AS scope, net::VARCHAR AS net, "
            "trusted::VARCHAR AS trusted FROM _ip_info_df"
        )
    return len(ips)


def unmatched_trusted(case: Case, trusted: tuple[Trusted, ...]) -> list[str]:
    """The declared trusted networks that hold no client address of the case (``str(t)`` each):
    a mistyped partner range trusts nobody, and that partner then looks like an attacker."""
    if not trusted:
        return []
    left = list(trusted)
    rows = case.con.execute("SELECT DISTINCT client_ip FROM events WHERE client_ip IS NOT NULL").fetchall()
    for (text,) in rows:
        try:
            ip = ipaddress.ip_address(str(text).strip("[]"))
        except ValueError:
            continue
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        left = [t for t in left if ip not in t.network]
        if not left:
            break
    return [str(t) for t in left]
