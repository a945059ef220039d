"""JSON lines application/access logs, with common key names mapped automatically.

The mapping is chosen per file from its first lines: for each event column, the first key
(at any depth, compared case- and punctuation-insensitively) from that column's synonym list.
``--field column=dotted.path`` overrides it. Values are extracted by DuckDB in one pass.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import duckdb

from forensics.errors import FieldMappingError, TimezoneRequiredError
from forensics.formats import jsonmap, times
from forensics.formats.base import ParseOptions, assemble_sql
from forensics.formats.sqltext import sql_list

# column -> key synonyms, best first (normalised: lower case, letters and digits only).
SYNONYMS: dict[str, list[str]] = {
    "ts": [
        "timestamp",
        "time",
        "ts",
        "datetime",
        "date",
        "timelocal",
        "timeiso8601",
        "eventtime",
        "logtime",
        "starttime",
        "receivedat",
    ],
    "client_ip": [
        "clientip",
        "remoteaddr",
        "remoteip",
        "clientaddr",
        "clientaddress",
        "ip",
        "sourceip",
        "srcip",
        "client",
        "remote",
        "realip",
        "cip",
    ],
    "forwarded_for": ["xforwardedfor", "httpxforwardedfor", "forwardedfor", "xff"],
    "method": ["method", "requestmethod", "httpmethod", "verb"],
    "_target": ["path", "uri", "requesturi", "url", "requesturl", "requestpath", "target"],
    "_request": ["request", "requestline"],
    "query": ["query", "querystring", "args", "qs"],
    "host": ["host", "httphost", "servername", "hostname", "vhost"],
    "protocol": ["protocol", "proto", "serverprotocol", "httpversion"],
    "status": ["status", "statuscode", "httpstatus", "responsecode", "responsestatus", "code"],
    "bytes_sent": [
        "bytessent",
        "bodybytessent",
        "bytes",
        "responsesize",
        "responsebytes",
        "size",
        "sentbytes",
        "respbytes",
        "contentlength",
    ],
    "bytes_received": [
        "bytesreceived",
        "bytesread",
        "requestlength",
        "requestsize",
        "receivedbytes",
        "reqbytes",
    ],
    "duration_ms": [
        "durationms",
        "latencyms",
        "elapsedms",
        "responsetimems",
        "took",
        "duration",
        "requesttime",
        "latency",
        "elapsed",
        "responsetime",
    ],
    "user_agent": ["useragent", "httpuseragent", "agent", "ua"],
    "referer": ["referer", "referrer", "httpreferer"],
    "principal": [
        "user",
        "userid",
        "username",
        "principal",
        "principalid",
        "remoteuser",
        "sub",
        "account",
        "accountid",
        "login",
    ],
    "request_id": ["requestid", "reqid", "xrequestid", "correlationid", "traceid"],
}
# Duration keys whose unit is milliseconds; the others are taken as seconds.
MS_KEYS = {"durationms", "latencyms", "elapsedms", "responsetimems", "took"}
SAMPLE = 50


def norm(key: str) -> str:
    return re.sub(r"[^a-z0-9]", "", key.lower())


MAX_DEPTH = 32  # keys nested deeper are not considered for the mapping (hostile lines nest 1,000s)


def flatten(obj: Any, prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    """Leaf values by key path; a list of scalars counts as a leaf (its first item is used).

    Iterative, and blind below MAX_DEPTH keys: a line's nesting is the attacker's choice.
    """
    out: dict[tuple[str, ...], Any] = {}
    stack: list[tuple[tuple[str, ...], Any]] = [(prefix, obj)]
    while stack:
        keys, value = stack.pop()
        if isinstance(value, dict):
            if len(keys) < MAX_DEPTH:
                stack.extend(((*keys, str(k)), v) for k, v in reversed(list(value.items())))
        elif keys:
            out[keys] = value
    return out


def json_path(keys: tuple[str, ...], value: Any) -> str:
    """A DuckDB JSON path for a key path (quoted members; [0] for a list of scalars)."""
    path = "$" + "".join("." + json.dumps(k) for k in keys)
    return path + "[0]" if isinstance(value, list) else path


def choose_mapping(lines: list[str]) -> dict[str, tuple[str, ...]]:
    """For each column, the best-matching key path seen in the sample objects."""
    seen: dict[tuple[str, ...], Any] = {}
    for line in lines[:SAMPLE]:
        obj = jsonmap.load(line)
        if obj is None:
            continue
        for path, value in flatten(obj).items():
            seen.setdefault(path, value)
    mapping: dict[str, tuple[str, ...]] = {}
    used: set[tuple[str, ...]] = set()
    for column, synonyms in SYNONYMS.items():
        for syn in synonyms:
            hits = [p for p in seen if norm(p[-1]) == syn and p not in used and not isinstance(seen[p], dict)]
            if hits:
                best = min(hits, key=len)
                mapping[column] = best
                used.add(best)
                break
    return mapping


def _is_object(line: str) -> bool:
    return isinstance(jsonmap.load(line), dict)


@dataclass(frozen=True)
class JsonFormat:
    name: str = "jsonl"
    description: str = (
        "JSON lines (application logs): common keys mapped automatically, "
        "nested keys, ISO or epoch times; --field overrides."
    )
    example: str = (
        '{"ts": "2024-03-12T10:00:00Z", "client_ip": "203.0.113.9", "method": "GET", '
        '"path": "/api/v2/referrals/51234", "status": 200, "bytes": 1832, '
        '"user": "dr.jones", "request_id": "r-1"}'
    )
    priority: int = 0

    def matches(
        self, con: duckdb.DuckDBPyConnection, lines: list[str], strict_only: bool = False
    ) -> list[bool]:
        if not any("{" in ln[:200] for ln in lines):
            return [False] * len(lines)  # cheap pre-check before parsing JSON
        mapping = choose_mapping(lines)
        if "ts" not in mapping or not ({"_target", "_request"} & set(mapping)):
            return [False] * len(lines)  # JSON, but not an access log we can place in time
        return [_is_object(ln) for ln in lines]

    def bind(self, lines: list[str], options: ParseOptions) -> JsonParser:
        mapping = choose_mapping([ln for ln in lines if ln.strip()])
        samples: dict[tuple[str, ...], Any] = {}
        for line in lines[:SAMPLE]:
            obj = jsonmap.load(line)
            if obj is not None:
                samples.update({k: v for k, v in flatten(obj).items() if k not in samples})
        for column, dotted in options.fields.items():
            target = {"path": "_target", "request": "_request"}.get(column, column)
            if target not in SYNONYMS:
                raise FieldMappingError(
                    f"--field {column}=…: unknown column; use one of "
                    f"{', '.join(sorted(c.lstrip('_') for c in SYNONYMS))}"
                )
            mapping[target] = tuple(dotted.removeprefix("$.").split("."))
        if "ts" not in mapping:
            raise FieldMappingError("no time key found in the JSON lines; name it with --field ts=your.key")
        paths = {c: json_path(p, samples.get(p)) for c, p in mapping.items()}
        ts_sample = samples.get(mapping["ts"])
        if jsonmap.naive_time(ts_sample) and not options.tz:
            raise TimezoneRequiredError(
                f"JSON time values like {ts_sample!r} have no UTC offset; give the zone the "
                "application logged in with --tz (e.g. --tz Europe/London)"
            )
        ms = norm(mapping["duration_ms"][-1]) in MS_KEYS if "duration_ms" in mapping else True
        return JsonParser(self.name, paths, ms, options)


@dataclass(frozen=True)
class JsonParser:
    format_name: str
    paths: dict[str, str]  # column -> JSON path
    duration_is_ms: bool
    options: ParseOptions

    @property
    def description(self) -> str:
        return "json keys " + json.dumps(self.paths, sort_keys=True)

    def select_sql(self, src: str) -> str:
        cols = list(self.paths)
        # a docker-compose "name  | " prefix is cut off (jsonmap.prefixed_sql)
        inner = (
            f"SELECT line_no, line, json_valid(j) AND starts_with(ltrim(j), '{{') AS ok, "
            f"CASE WHEN ok THEN json_extract_string(j, "
            f"{sql_list([self.paths[c] for c in cols])}) END AS v FROM ({jsonmap.prefixed_sql(src)})"
        )
        ref = {c: f"v[{i + 1}]" for i, c in enumerate(cols)}
        out: dict[str, str] = {}
        for c in cols:
            r = ref[c]
            if c == "ts":
                out["ts"], out["ts_offset_min"] = times.any_time(r, self.options.tz)
            elif c == "status":
                out[c] = f"TRY_CAST(TRY_CAST({r} AS DOUBLE) AS SMALLINT)"
            elif c in ("bytes_sent", "bytes_received"):
                out[c] = f"TRY_CAST(TRY_CAST({r} AS DOUBLE) AS BIGINT)"
            elif c == "duration_ms":
                secs = f"TRY_CAST(rtrim({r}, 's') AS DOUBLE)"
                out[c] = secs if self.duration_is_ms else f"{secs} * 1000.0"
            else:
                out[c] = f"nullif(nullif({r}, ''), '-')"
        why = "CASE WHEN json_valid(line) THEN 'JSON value is not an object' ELSE 'invalid JSON' END"
        return assemble_sql(inner, out, "ok", self.format_name, why)


FORMAT = JsonFormat()
