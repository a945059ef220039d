"""JSON access-log formats with a FIXED key mapping (cloud load balancers, proxies, gateways).

A registered JSON format is data: name, description, example, the signature keys that make a
record one of its access entries, and for each event column the key path(s) to read (first
non-empty wins) with the kind of value found there. Everything runs in one DuckDB pass:
``json_extract_string`` with the list of every path, typed SQL per column, and ``extra`` = the
record with the mapped keys removed (a JSON merge patch), so nothing the source logged is lost.

``extra`` was most of the parse (Caddy, 100k records: 7.7 s with it vs 1.6 s without, by its
author). The merge itself is cheap; building the patch per record was not. Records that have
every object the mapped paths go through (nearly all) get a constant patch (one per combination
of which path each ``drop="used"`` field took); the others get the per-record patch. Measured
alternative, not taken: ``extra`` = the record as logged (mapped keys kept twice) costs ~40%
less parse CPU but made the Caddy case 61% larger (32.5 vs 20.2 MB per 100k records).

Records of the same source that are not access entries (Caddy start-up messages, other Azure
diagnostic categories, Cloud Logging entries without ``httpRequest``) are rejects whose reason
starts with ``base.NOT_AN_ENTRY``. Lines may carry a docker-compose prefix (``caddy  | {…}``);
the prefix is stripped and the service name kept in ``extra.compose_service``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import duckdb

from forensics.errors import TimezoneRequiredError
from forensics.formats import times
from forensics.formats.base import NOT_AN_ENTRY, ParseOptions, assemble_sql
from forensics.formats.sqltext import sql_list, sql_str

SAMPLE = 50
# ``name  | {…}``: what `docker compose logs` / `docker-compose up` put before each line
PREFIX_RE = r"^(\S+)\s+\|\s(.*)$"
_PREFIX = re.compile(PREFIX_RE)
INT_TYPES = {"status": "SMALLINT"}
# duration kinds -> factor to milliseconds
DURATION_MS = {"s": 1000.0, "ms": 1.0, "us": 0.001, "ns": 0.000001}


@dataclass(frozen=True)
class Field:
    """Where one event column comes from.

    ``paths``: dotted key paths, first non-empty wins; ``[0]`` after a key takes a list's first
    item (Caddy header lists). ``kind``: text | int | time (epoch, ISO or CLF text) | s | ms |
    us | ns (durations) | gdur (protobuf Duration text ``"0.123s"``) | ip (an address that may
    carry ``:port``; the port is cut off). ``column`` may be ``extra.NAME``: the value goes to
    extra under NAME. ``drop``: which paths leave ``extra`` once mapped — all (spelling
    variants of one key), used (the path the value came from; the others are different facts,
    e.g. the proxy's remote_ip after client_ip) or none (the raw value holds more than the
    column, e.g. ``ip:port``).
    """

    column: str
    paths: tuple[str, ...]
    kind: str = "text"
    drop: str = "all"
    # (path, kind): use that kind instead when the record has no such key (older schema)
    kind_if_absent: tuple[str, str] | None = None


def split_path(path: str) -> tuple[list[str], bool]:
    """Keys of a dotted path and whether it ends in ``[0]``."""
    first = path.endswith("[0]")
    return path.removesuffix("[0]").split("."), first


def json_path(path: str) -> str:
    keys, first = split_path(path)
    return "$" + "".join("." + json.dumps(k) for k in keys) + ("[0]" if first else "")


def lookup(obj: Any, path: str) -> Any:
    """The value at ``path`` in a parsed record (None when absent)."""
    keys, first = split_path(path)
    for k in keys:
        if not isinstance(obj, dict) or k not in obj:
            return None
        obj = obj[k]
    if first:
        return obj[0] if isinstance(obj, list) and obj else None
    return obj


def strip_prefix(line: str) -> str:
    """The JSON part of a line, without a docker-compose ``name  | `` prefix."""
    if line.startswith("{"):
        return line
    m = _PREFIX.match(line)
    return m.group(2) if m and m.group(2).lstrip().startswith("{") else line


def load(line: str) -> Any:
    """The JSON value of a line, or None when it is not JSON or is nested too deeply for Python
    (a hostile line: DuckDB's parser, which reads the file, takes any depth)."""
    try:
        return json.loads(strip_prefix(line))
    except (ValueError, RecursionError):
        return None


def prefixed_sql(src: str) -> str:
    """``line_no, line, j`` (the JSON text) and ``svc`` (compose service name or NULL)."""
    parts = f"regexp_extract(line, {sql_str(PREFIX_RE)}, ['svc', 'body'])"
    return (
        "SELECT line_no, line, CASE WHEN _p IS NULL THEN line ELSE _p.body END AS j, _p.svc AS svc FROM ("
        f"SELECT line_no, line, CASE WHEN starts_with(line, '{{') OR NOT contains(line, '|') THEN NULL "
        f"WHEN regexp_matches(line, '^\\S+\\s+\\|\\s+\\{{') THEN {parts} END AS _p FROM {src})"
    )


def naive_time(value: Any) -> bool:
    """True for a time text that has neither an offset nor is an epoch number."""
    return (
        isinstance(value, str)
        and not re.fullmatch(r"-?\d+(\.\d+)?", value)
        and not re.search(times.OFFSET_RE, value)
        and not re.search(r"[+-]\d{4}$", value)
    )


def _patch_sql(node: dict[str, Any], at: list[str], jt: dict[str, str]) -> str:
    """A merge patch deleting the leaves of ``node``, built per record: a nested part only
    where the record has that object (a patch member for an absent key would create it)."""
    parts = []
    for key, sub in node.items():
        if not isinstance(sub, dict):  # a leaf: NULL deletes it, an expression keeps a value
            parts.append(f"{sql_str(key)}, {sub or 'NULL'}")
        else:
            path = json_path(".".join([*at, key]))
            inner = _patch_sql(sub, [*at, key], jt)
            parts.append(f"{sql_str(key)}, CASE WHEN {jt[path]} = 'OBJECT' THEN {inner} END")
    return f"json_object({', '.join(parts)})"


@dataclass(frozen=True)
class JsonMapFormat:
    name: str
    description: str
    example: str
    # groups of paths; a record is an entry when every group has one path present
    signature: tuple[tuple[str, ...], ...]
    fields: tuple[Field, ...]
    # paths that mark a record of this source that is not an access entry (counted by the
    # sniffer only in a sample that also has entries); ``what`` names it in the reject reason
    member: tuple[str, ...] = ()
    what: str = ""
    detail: tuple[str, ...] = ()  # paths whose values the NOT_AN_ENTRY reason quotes
    # an entry's value at entry_key must start with one of entry_values (absent: allowed
    # when entry_key_optional)
    entry_key: str | None = None
    entry_values: tuple[str, ...] = ()
    entry_key_optional: bool = False
    # a one-line {"records": [...]} wrapper (Azure Event Hub / pre-2018 blob exports)
    wrapper_hint: str = ""
    priority: int = 10
    warnings: Callable[[str, str], str] | None = field(default=None, compare=False, repr=False)

    # -- sniffing (Python, on the sample) ---------------------------------------------------

    def is_entry(self, obj: Any) -> bool:
        if not isinstance(obj, dict):
            return False
        if not all(any(lookup(obj, p) is not None for p in group) for group in self.signature):
            return False
        if self.entry_key is None:
            return True
        v = lookup(obj, self.entry_key)
        if v is None:
            return self.entry_key_optional
        return isinstance(v, str) and v.startswith(self.entry_values)

    def is_member(self, obj: Any) -> bool:
        return (
            bool(self.member)
            and isinstance(obj, dict)
            and all(lookup(obj, p) is not None for p in self.member)
        )

    def is_wrapper(self, obj: Any) -> bool:
        recs = obj.get("records") if self.wrapper_hint and isinstance(obj, dict) else None
        return isinstance(recs, list) and bool(recs) and self.is_entry(recs[0])

    def matches(
        self, con: duckdb.DuckDBPyConnection, lines: list[str], strict_only: bool = False
    ) -> list[bool]:
        if not any("{" in ln[:200] for ln in lines):
            return [False] * len(lines)  # cheap pre-check before parsing JSON
        objs = [load(ln) for ln in lines]
        entries = [self.is_entry(o) or self.is_wrapper(o) for o in objs]
        if not any(entries):
            return [False] * len(lines)  # none of our access records: not our file
        return [e or self.is_member(o) for e, o in zip(entries, objs, strict=True)]

    def bind(self, lines: list[str], options: ParseOptions) -> JsonMapParser:
        ts = next(f for f in self.fields if f.column == "ts")
        for obj in (load(ln) for ln in lines[:SAMPLE]):
            if not self.is_entry(obj):
                continue
            value = next((v for p in ts.paths if (v := lookup(obj, p)) not in (None, "", "-")), None)
            if naive_time(value) and not options.tz:
                raise TimezoneRequiredError(
                    f"{self.name} time values like {value!r} have no UTC offset; give the zone "
                    "they were written in with --tz (e.g. --tz Europe/London)"
                )
            break
        return JsonMapParser(self, options)


@dataclass(frozen=True)
class JsonMapParser:
    fmt: JsonMapFormat
    options: ParseOptions
    fast: bool = True  # False: the patch is always built per record (the constant one's spec)

    @property
    def description(self) -> str:
        return f"{self.fmt.name} fixed JSON mapping"

    def file_warnings_sql(self, table: str, file_key: str) -> str | None:
        """SQL giving ``(file index, warning)`` rows over parsed ``table`` (see batch.py)."""
        return self.fmt.warnings(table, file_key) if self.fmt.warnings else None

    def select_sql(self, src: str) -> str:
        f = self.fmt
        paths: list[str] = []

        def ref(path: str) -> str:
            if path not in paths:
                paths.append(path)
            return f"v[{paths.index(path) + 1}]"

        def first(fld: Field) -> str:
            refs = [f"nullif(nullif({ref(p)}, ''), '-')" for p in fld.paths]
            return refs[0] if len(refs) == 1 else f"coalesce({', '.join(refs)})"

        sig = " AND ".join(
            "(" + " OR ".join(f"{ref(p)} IS NOT NULL" for p in group) + ")" for group in f.signature
        )
        if f.entry_key:
            ek = ref(f.entry_key)
            starts = " OR ".join(f"starts_with({ek}, {sql_str(v)})" for v in f.entry_values)
            cond = f"({ek} IS NULL)" if f.entry_key_optional else "false"
            sig = f"{sig} AND ({cond} OR {starts})"

        out: dict[str, str] = {}
        renamed: list[tuple[str, str]] = []
        for fld in f.fields:
            raw = first(fld)
            typed = self._typed(fld, raw, ref)
            if fld.column.startswith("extra."):
                renamed.append((fld.column.removeprefix("extra."), typed))
            elif fld.column == "ts":
                out["ts"], out["ts_offset_min"] = times.any_time(raw, self.options.tz)
            else:
                out[fld.column] = typed
        patched, out["extra"], parents = self._extra_sql(renamed, ref)
        # the types of the objects extra's patch reaches into, read once per record
        jt = f"json_type(j, {sql_list(parents)})" if parents else "NULL"
        why = self._why()

        inner = (
            f"SELECT *, CASE WHEN ok THEN {patched} END AS _xp FROM ("
            f"SELECT line_no, line, svc, j, ok, CASE WHEN ok THEN {jt} END AS jt, "
            f"CASE WHEN ok THEN json_extract_string(j, "
            f"{sql_list([json_path(p) for p in paths])}) END AS v FROM ("
            f"SELECT *, json_valid(j) AND starts_with(ltrim(j), '{{') AS ok FROM ({prefixed_sql(src)})))"
        )
        return assemble_sql(inner, out, f"ok AND {sig}", f.name, why)

    @staticmethod
    def _typed(fld: Field, raw: str, ref: Callable[[str], str]) -> str:
        kind = fld.kind
        if kind in ("text", "time"):
            return raw
        if kind == "int":
            return f"TRY_CAST(TRY_CAST({raw} AS DOUBLE) AS {INT_TYPES.get(fld.column, 'BIGINT')})"
        if kind == "ip":  # [v6]:port, v4:port -> address; a bare IPv6 has several colons
            return (
                f"CASE WHEN starts_with({raw}, '[') THEN regexp_extract({raw}, '^\\[([^\\]]*)\\]', 1) "
                f"WHEN length({raw}) - length(replace({raw}, ':', '')) = 1 THEN split_part({raw}, ':', 1) "
                f"ELSE {raw} END"
            )
        if kind == "gdur":
            return f"TRY_CAST(rtrim({raw}, 's') AS DOUBLE) * 1000.0"
        ms = f"TRY_CAST({raw} AS DOUBLE) * {DURATION_MS[kind]!r}"
        if fld.kind_if_absent:
            path, alt = fld.kind_if_absent
            alt_ms = f"TRY_CAST({raw} AS DOUBLE) * {DURATION_MS[alt]!r}"
            return f"CASE WHEN {ref(path)} IS NULL THEN {alt_ms} ELSE {ms} END"
        return ms

    def _extra_sql(
        self, renamed: list[tuple[str, str]], ref: Callable[[str], str]
    ) -> tuple[str, str, list[str]]:
        """The record minus mapped keys, plus renamed values and the compose service name.

        The keys leave by a JSON merge patch of nulls. A patch over a key whose parent is not
        an object would replace that parent with ``{}``; such (odd) records keep every key.
        """
        patch: dict[str, Any] = {}
        parents: set[str] = set()
        for fld in self.fmt.fields:
            if fld.drop == "none":
                continue
            for i, p in enumerate(fld.paths):
                keys, _ = split_path(p)
                # "used": a path leaves extra when no earlier path had a value (it is the one
                # used, or empty); later ones keep their value (a merge patch of itself)
                leaf = None
                if fld.drop == "used" and i > 0:
                    earlier = ", ".join(f"nullif(nullif({ref(q)}, ''), '-')" for q in fld.paths[:i])
                    value = f"json_extract(j, {sql_str(json_path('.'.join(keys)))})"
                    leaf = f"CASE WHEN coalesce({earlier}, NULL) IS NOT NULL THEN {value} END"
                node = patch
                for k in keys[:-1]:
                    node = node.setdefault(k, {})
                node[keys[-1]] = leaf
                for n in range(1, len(keys)):
                    parents.add(json_path(".".join(keys[:n])))
        # the parents' types come from one json_type call per record (column jt): each JSON
        # function parses the record again
        order = sorted(parents)
        jt = {p: f"jt[{i + 1}]" for i, p in enumerate(order)}
        fixed = f"json_merge_patch(j, {self._constant_patch_sql(ref)})"
        patched = fixed
        if order:
            # usual records: every object the patch reaches into is there, so the patch is a
            # constant (per combination of "used" paths); else it is built for the record
            objects = " AND ".join(f"{t} = 'OBJECT'" for t in jt.values())
            safe = " AND ".join(f"({t} IS NULL OR {t} = 'OBJECT')" for t in jt.values())
            built = f"json_merge_patch(j, {_patch_sql(patch, [], jt)})"
            first = f"WHEN {objects} THEN {fixed} " if self.fast else ""
            patched = f"CASE {first}WHEN {safe} THEN {built} ELSE j::JSON END"
        adds = [("compose_service", "svc"), *renamed]
        add_obj = "json_object(" + ", ".join(f"{sql_str(k)}, {v}" for k, v in adds) + ")"
        # json_object keeps NULL members; drop them so absent facts stay absent
        none = " AND ".join(f"{v} IS NULL" for _, v in adds)
        # ``_xp`` (the patched record) is a column of its own: written twice in one expression,
        # DuckDB would compute its common parts for every record, the built patch included
        merged = (
            f"CASE WHEN {none} THEN _xp ELSE json_merge_patch(_xp, json_merge_patch('{{}}', {add_obj})) END"
        )
        return patched, f"CASE WHEN ok THEN nullif({merged}::VARCHAR, '{{}}') END", order

    def _constant_patch_sql(self, ref: Callable[[str], str]) -> str:
        """The merge patch deleting the mapped keys, as constants, for records that have every
        object the paths go through (a patch into an absent object would create it).

        A "used" field's later paths stay when an earlier one had the value: one patch per
        combination of which path each such field used, picked from a list by index. Building
        the patch per record (json_object) cost twice the merge itself (measured on Caddy).
        """
        used = [fld for fld in self.fmt.fields if fld.drop == "used" and len(fld.paths) > 1]
        index, stride = [], 1
        for fld in used:
            has = [f"nullif(nullif({ref(p)}, ''), '-') IS NOT NULL" for p in fld.paths[:-1]]
            whens = " ".join(f"WHEN {h} THEN {i * stride}" for i, h in enumerate(has))
            index.append(f"CASE {whens} ELSE {(len(fld.paths) - 1) * stride} END")
            stride *= len(fld.paths)
        patches = []
        for n in range(stride):
            tree: dict[str, Any] = {}
            rest = n
            for fld in self.fmt.fields:
                if fld.drop == "none":
                    continue
                paths = fld.paths
                if any(fld is f for f in used):  # paths up to the one used (or all, when none had a value)
                    rest, u = divmod(rest, len(paths))
                    paths = paths[: u + 1]
                for p in paths:
                    keys, _ = split_path(p)
                    node = tree
                    for k in keys[:-1]:
                        node = node.setdefault(k, {})
                    node[keys[-1]] = None
            patches.append(sql_str(json.dumps(tree, separators=(",", ":"))) + "::JSON")
        if len(patches) == 1:
            return patches[0]
        return f"[{', '.join(patches)}][{' + '.join(index)} + 1]"

    def _why(self) -> str:
        """Why a line is not an entry: SQL over ``line`` alone (assemble_sql's outer layer).

        Runs for rejected lines only, so it re-reads the few keys it needs on its own.
        """
        f = self.fmt
        j = (
            "(CASE WHEN starts_with(line, '{') THEN line ELSE coalesce(nullif(regexp_extract("
            f"line, {sql_str(PREFIX_RE)}, 2), ''), line) END)"
        )

        def ref(path: str) -> str:
            return f"json_extract_string({j}, {sql_str(json_path(path))})"

        whens = [
            f"WHEN NOT json_valid({j}) THEN 'invalid JSON'",
            f"WHEN NOT starts_with(ltrim({j}), '{{') THEN 'JSON value is not an object'",
        ]
        if f.wrapper_hint:
            whens.append(
                f"WHEN json_type({j}, '$.records') = 'ARRAY' THEN "
                + sql_str(
                    f'a {{"records": [...]}} wrapper holding many {f.name} records on one line; '
                    f"{f.wrapper_hint}"
                )
            )
        if f.member:
            present = " AND ".join(f"{ref(p)} IS NOT NULL" for p in f.member)
            detail = " || ".join(f"coalesce(' {k.rsplit('.', 1)[-1]}=' || {ref(k)}, '')" for k in f.detail)
            reason = sql_str(NOT_AN_ENTRY + f.what) + (f" || {detail}" if detail else "")
            whens.append(f"WHEN {present} THEN {reason}")
        keys = " and ".join("/".join(g) for g in f.signature)
        whens.append(f"ELSE {sql_str(f'not a {f.name} access record (needs {keys})')}")
        return "CASE " + " ".join(whens) + " END"
