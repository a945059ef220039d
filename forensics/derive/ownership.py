"""The ownership map (``--ownership``): which principal or team each record belongs to.

Two CSV files with a header row (UTF-8, comma-separated, quoted as CSV quotes):

* ``--ownership FILE`` — ``record_id,owner``: the record's owner is a principal (as the logs name
  it) or a team. A record may have several rows (shared care, a consult that granted access);
* ``--ownership-teams FILE`` (optional) — ``principal,team``: who belongs to which team; a team
  owning a record entitles every member.

With a map, out_of_scope judges exactly (a read of a listed record by a known principal that
neither it nor its team owns). Both files are read by DuckDB (``read_csv``) into tables
``ownership`` and ``ownership_teams`` (both always exist; empty without a map), hashed
(SHA-256) and recorded with the detection options (case log, findings.json).

Checked against the evidence like --endpoint and --login: a map none of whose record ids is a
record id read in the case is refused (``OwnershipError``) with what the case holds; principals
the map names that never appear in the case are returned for a warning.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from forensics.errors import OwnershipError
from forensics.ingest.evidence import sha256_file
from forensics.store.case import Case

COLUMNS = {"ownership": ("record_id", "owner"), "ownership_teams": ("principal", "team")}
EXAMPLES = 5


@dataclass(frozen=True)
class OwnershipMap:
    path: Path
    sha256: str
    teams: Path | None = None
    teams_sha256: str | None = None

    @classmethod
    def open(cls, path: Path, teams: Path | None = None) -> OwnershipMap:
        """Hash the files as given (they are evidence-adjacent); refused when missing."""
        for p in (path, teams):
            if p is not None and not p.is_file():
                raise OwnershipError(f"ownership file {str(p)!r} does not exist or is not a file")
        return cls(path, sha256_file(path), teams, sha256_file(teams) if teams else None)

    def to_dict(self) -> dict[str, object]:
        return {
            "path": str(self.path),
            "sha256": self.sha256,
            "teams": str(self.teams) if self.teams else None,
            "teams_sha256": self.teams_sha256,
        }


@dataclass(frozen=True)
class OwnershipCheck:
    records: int  # distinct record ids in the map
    records_read: int  # of them, read in the case
    principals: int  # principals the map names (owners that are not teams, team members)
    principals_unseen: list[str]  # of them, never in the case's requests
    case_records_unlisted: int  # record ids read in the case that the map does not list

    def to_dict(self) -> dict[str, object]:
        return {
            "records": self.records,
            "records_read": self.records_read,
            "principals": self.principals,
            "principals_unseen": self.principals_unseen,
            "case_records_unlisted": self.case_records_unlisted,
        }


def load_ownership(case: Case, omap: OwnershipMap | None) -> OwnershipCheck | None:
    """Create ``ownership`` and ``ownership_teams`` (empty without a map) and check the map.

    Needs ``detect_requests`` (facts.py). Raises ``OwnershipError`` when the map's ids match no
    record id read in the case.
    """
    con = case.con
    for table, (a, b) in COLUMNS.items():
        con.execute(f"CREATE OR REPLACE TABLE {table} ({a} VARCHAR, {b} VARCHAR)")
    if omap is None:
        return None
    _read(case, "ownership", omap.path)
    if omap.teams is not None:
        _read(case, "ownership_teams", omap.teams)
    return _check(case, omap)


def _read(case: Case, table: str, path: Path) -> None:
    a, b = COLUMNS[table]
    con = case.con
    try:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _own_raw AS "
            "SELECT * FROM read_csv(?, header = true, all_varchar = true)",
            [str(path)],
        )
    except Exception as exc:  # DuckDB's own message says what was wrong with the file
        raise OwnershipError(f"cannot read {str(path)!r} as CSV: {str(exc).splitlines()[0]}") from None
    names = [str(r[0]) for r in con.execute("DESCRIBE _own_raw").fetchall()]
    lower = {n.strip().lower(): n for n in names}
    if a not in lower or b not in lower:
        raise OwnershipError(
            f"{str(path)!r}: expected a header row with columns {a},{b}; found {','.join(names)}"
        )
    qa, qb = ('"' + lower[c].replace('"', '""') + '"' for c in (a, b))
    con.execute(
        f"""INSERT INTO {table} SELECT DISTINCT trim({qa}), trim({qb}) FROM _own_raw
            WHERE nullif(trim({qa}), '') IS NOT NULL AND nullif(trim({qb}), '') IS NOT NULL"""
    )
    con.execute("DROP TABLE _own_raw")


def _check(case: Case, omap: OwnershipMap) -> OwnershipCheck:
    con = case.con
    row = con.execute(
        """SELECT count(DISTINCT o.record_id),
             count(DISTINCT o.record_id) FILTER (WHERE o.record_id IN
               (SELECT record_id FROM detect_requests WHERE record_route AND record_id IS NOT NULL))
           FROM ownership o"""
    ).fetchone()
    records, read = (int(row[0]), int(row[1])) if row else (0, 0)
    if not read:
        raise OwnershipError(_nothing_matches(case, omap, records))
    names = [
        str(r[0])
        for r in con.execute(
            """SELECT DISTINCT owner FROM ownership WHERE owner NOT IN (SELECT team FROM ownership_teams)
               UNION SELECT principal FROM ownership_teams ORDER BY 1"""
        ).fetchall()
    ]
    unseen = [
        str(r[0])
        for r in con.execute(
            """SELECT p FROM (SELECT DISTINCT owner AS p FROM ownership
                              WHERE owner NOT IN (SELECT team FROM ownership_teams)
                              UNION SELECT principal FROM ownership_teams)
               WHERE p NOT IN (SELECT principal FROM detect_requests WHERE principal IS NOT NULL)
               ORDER BY p"""
        ).fetchall()
    ]
    row = con.execute(
        """SELECT count(DISTINCT record_id) FROM detect_requests WHERE record_route AND record_id IS NOT NULL
             AND record_id NOT IN (SELECT record_id FROM ownership)"""
    ).fetchone()
    return OwnershipCheck(records, read, len(names), unseen, int(row[0]) if row else 0)


def _nothing_matches(case: Case, omap: OwnershipMap, records: int) -> str:
    con = case.con
    row = con.execute(
        "SELECT count(DISTINCT record_id) FROM detect_requests WHERE record_route AND record_id IS NOT NULL"
    ).fetchone()
    held = int(row[0]) if row else 0
    case_ids = [
        str(r[0])
        for r in con.execute(
            f"""SELECT DISTINCT record_id FROM detect_requests WHERE record_route AND record_id IS NOT NULL
                ORDER BY record_id LIMIT {EXAMPLES}"""
        ).fetchall()
    ]
    map_ids = [
        str(r[0])
        for r in con.execute(
            f"SELECT DISTINCT record_id FROM ownership ORDER BY 1 LIMIT {EXAMPLES}"
        ).fetchall()
    ]
    if not records:
        return (
            f"the ownership map {str(omap.path)!r} "
            "holds no rows (expected a header record_id,owner, then rows)"
        )
    return (
        f"none of the {records:,} record ids in the ownership map {str(omap.path)!r} "
        f"(e.g. {', '.join(map_ids)}) "
        f"is a record id read in the case: the case holds {held:,} record ids on its record endpoints"
        + (f" (e.g. {', '.join(case_ids)})" if case_ids else "")
        + "; check the map's id column (and --endpoint: a record id is the endpoint's {id})"
    )
