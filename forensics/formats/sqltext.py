"""Quoting for the few literals (regexes, zone names, JSON paths) formats write into SQL."""

from __future__ import annotations

# the quoting itself is the store's (one home for every stage); formats keep their names for it
from forensics.store.db import sql_list as sql_list
from forensics.store.db import sql_str as sql_str


def json_members_sql(entries: list[tuple[str, str]], absent: tuple[str, ...] = ("-", "")) -> str:
    """SQL: the members ``"key":"value",...`` of a JSON object, for the entries whose value is set.

    ``entries``: (SQL giving the key, SQL giving the VARCHAR value). A value that is NULL or one
    of ``absent`` leaves its member out; none left gives ''. Wrap with ``json_object_sql``.
    """
    drop = ", ".join(sql_str(a) for a in absent)
    members = []
    for key, value in entries:
        member = f"to_json({key}) || ':' || to_json({value})"
        # NOT IN is NULL for a NULL value: left out as well
        members.append(f"CASE WHEN {value} NOT IN ({drop}) THEN {member} END" if absent else member)
    return f"concat_ws(',', {', '.join(members)})"


def json_object_sql(members: list[str]) -> str:
    """SQL: the JSON object of ``json_members_sql`` parts (NULL or '' parts add nothing), or
    NULL when it would be empty.

    The same text as ``to_json(map_from_entries(list_filter(...)))`` at a fraction of its cost
    (measured on HAProxy's 30 members: 3.0 s vs 0.7 s CPU per 100k rows): no list of structs,
    no map, one string built by concatenation.
    """
    parts = ", ".join(f"nullif({m}, '')" for m in members)
    return f"nullif('{{' || concat_ws(',', {parts}) || '}}', '{{}}')::JSON"
