"""Route templates and record ids, derived from the events table inside DuckDB.

``GET /api/v2/referrals/51234/documents/9f1c…`` becomes the route
``GET /api/v2/referrals/{int}/documents/{uuid}`` with record id ``51234``. Everything here is
derived (table ``routes``, view ``requests``) and can be re-run with other settings; nothing
is re-ingested.

How a path segment becomes a placeholder (``SEGMENT_KINDS``, first match wins):

* typed identifiers: UUID, NHS-number-like 10 digits, integer, hex (8+ hex digits with a digit
  and a letter), e-mail, opaque token (16+ URL-safe characters mixing letters and digits);
* version segments (``v2``) and file names with a static-asset extension stay literal;
* any other literal becomes ``{str}`` when, at that position under the same surrounding
  template, at least ``min_distinct`` different values were requested (slugs, user names):
  low-cardinality words (``referrals``, ``documents``) stay literal.

Declared endpoints (``GET /api/v2/referrals/{id}``) win over inferred templates. The record id
of a request is its route's ``{id}`` placeholder if there is one, else the first placeholder,
else the first id-like query parameter (``?patient_id=…``, ``?id=…``, ``?uuid=…``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import duckdb
import pandas as pd

from forensics.errors import EndpointError, ForensicsError, closest
from forensics.store.case import Case, apply_comments
from forensics.store.db import sql_str, transaction
from forensics.store.entry import logs
from forensics.store.stages import stage

# (kind, SQL condition over the segment text ``s``), tried in order. Cheap length/character
# guards come first so most segments never reach a regex (millions of distinct paths).
SEGMENT_KINDS: list[tuple[str, str]] = [
    (
        "uuid",
        "length(s) = 36 AND regexp_full_match(s, "
        "'[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}')",
    ),
    ("nhs", "length(s) = 10 AND regexp_full_match(s, '\\d{10}')"),
    ("int", "regexp_full_match(s, '\\d+')"),
    (
        "hex",
        "length(s) >= 8 AND regexp_full_match(s, '[0-9A-Fa-f]+') AND regexp_matches(s, '\\d') "
        "AND regexp_matches(s, '[A-Fa-f]')",
    ),
    (
        "email",
        "(contains(s, '@') OR contains(s, '%40')) "
        "AND regexp_full_match(url_decode(s), '[^@\\s]+@[^@\\s]+\\.[A-Za-z]{2,}')",
    ),
    (
        "token",
        "length(s) >= 16 AND regexp_full_match(s, '[A-Za-z0-9_~.=%-]+') "
        "AND regexp_matches(s, '\\d') AND regexp_matches(s, '[A-Za-z]')",
    ),
]
# A plain word (no digit, no dot): literal at once, without trying the kinds.
PLAIN_WORD = "regexp_full_match(s, '[A-Za-z_-]+')"


def keep_literal(seg: str) -> str:
    """SQL: segment ``seg`` stays literal whatever its cardinality (version, static file)."""
    return (
        f"(regexp_full_match({seg}, 'v\\d+(\\.\\d+)*') OR regexp_full_match(lower({seg}), "
        f"'.+\\.(js|mjs|css|map|png|jpe?g|gif|svg|ico|webp|woff2?|ttf|eot|html?|txt|xml|pdf)'))"
    )


# Query parameters that carry record ids: id, *_id, *-id, camelCase *Id, uuid.
QUERY_ID_RE = r"(?:^|[&;])(id|ID|Id|uuid|[A-Za-z0-9]+[_-](?:id|ID|Id)|[a-z0-9]+(?:Id|ID))=([^&;#]+)"
PLACEHOLDER = re.compile(r"\{([^{}/]*)\}")
DEFAULT_MIN_DISTINCT = 50


@dataclass(frozen=True)
class Endpoint:
    """A user-declared route, e.g. ``GET /api/v2/referrals/{id}`` (method optional: any)."""

    text: str
    method: str | None
    template: str
    names: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> Endpoint:
        words = text.split()
        if len(words) == 2:
            method, template = words
        elif len(words) == 1:
            method, template = None, words[0]
        else:
            raise EndpointError(f"endpoint {text!r}: expected 'METHOD /path/{{id}}' or '/path/{{id}}'")
        if not template.startswith("/"):
            raise EndpointError(f"endpoint {text!r}: the path must start with '/'")
        if method is not None and (method == "*" or method.upper() == "ANY"):
            method = None
        if method is not None and not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]{0,31}", method):
            raise EndpointError(f"endpoint {text!r}: {method!r} is not an HTTP method")
        names = tuple(PLACEHOLDER.findall(template))
        if re.search(r"[{}]", PLACEHOLDER.sub("", template)):
            raise EndpointError(f"endpoint {text!r}: unbalanced braces")
        return cls(text, method.upper() if method else None, template, names)

    @property
    def regex(self) -> str:
        """RE2 pattern for the path: each placeholder is one non-empty segment."""
        parts = PLACEHOLDER.split(self.template)
        out = ""
        for i, part in enumerate(parts):
            out += re.escape(part) if i % 2 == 0 else "([^/]+)"
        return out

    def match_sql(self, path: str = "path", method: str = "method") -> str:
        """SQL: the request in columns ``path`` and ``method`` is this endpoint."""
        cond = f"regexp_full_match({path}, {sql_str(self.regex)})"
        return cond + (f" AND {method} = {sql_str(self.method)}" if self.method else "")

    @property
    def id_group(self) -> int | None:
        """1-based capture group of the record id: ``{id}`` if present, else the first."""
        if not self.names:
            return None
        return self.names.index("id") + 1 if "id" in self.names else 1


@dataclass(frozen=True)
class RouteOptions:
    endpoints: tuple[Endpoint, ...] = ()
    min_distinct: int = DEFAULT_MIN_DISTINCT

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    def to_dict(self) -> dict[str, object]:
        return {"endpoints": [e.text for e in self.endpoints], "min_distinct": self.min_distinct}


@dataclass
class RoutesResult:
    paths: int  # distinct (method, path) pairs classified
    routes: int  # distinct routes
    unmatched: dict[str, list[str]] = field(default_factory=dict)  # endpoint -> close routes


@logs("routes", RouteOptions, RouteOptions.to_dict, rows=("routes",))
def derive_routes(case: Case, options: RouteOptions | None = None) -> RoutesResult:
    """(Re)build table ``routes`` and view ``requests`` in the case."""
    opts = options or RouteOptions()
    con = case.con
    with stage(con, "derive: routes") as s, transaction(con):
        _build(con, opts)
        con.execute("INSERT OR REPLACE INTO meta VALUES ('routes_options', ?)", [opts.to_json()])
        apply_comments(con)
        row = con.execute("SELECT count(*), count(DISTINCT route) FROM routes").fetchone()
        paths, n_routes = (int(row[0]), int(row[1])) if row else (0, 0)
        s.rows = paths
    return RoutesResult(paths, n_routes, _unmatched(con, opts.endpoints))


def _build(con: duckdb.DuckDBPyConnection, opts: RouteOptions) -> None:
    """Typed template, record id and id kind per distinct path in one pass of scalar results
    (list functions, no per-segment rows, no stored lists); the ``{str}`` test then runs on the
    distinct typed templates only (few), and only paths under such a template are redone."""
    kind = f"CASE WHEN s = '' OR {PLAIN_WORD} OR {keep_literal('s')} THEN NULL "
    kind += " ".join(f"WHEN {cond} THEN '{k}'" for k, cond in SEGMENT_KINDS) + " END"
    # a literal brace in a path is written %7B/%7D in its template: '{' marks placeholders only
    literal = "replace(replace(parts[i], '{', '%7B'), '}', '%7D')"
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _route_p AS
        SELECT m, path,
          array_to_string(list_transform(range(1, array_length(parts) + 1),
            lambda i: coalesce('{{' || kinds[i] || '}}', {literal})), '/') AS typed,
          list_position(list_transform(kinds, lambda k: k IS NOT NULL), true) AS id_pos,
          parts[id_pos] AS rid, kinds[id_pos] AS rkind
        FROM (
          SELECT m, path, parts, list_transform(parts, lambda s: {kind}) AS kinds
          -- split after DISTINCT: with the list in the key, 17M distinct paths (of 100M events)
          -- ran DuckDB out of memory instead of spilling
          FROM (SELECT m, path, string_split(path, '/') AS parts
                FROM (SELECT DISTINCT coalesce(method, '') AS m, path FROM events WHERE path IS NOT NULL)))"""
    )
    # A literal position of a typed template varies when, with that position masked, it takes
    # at least min_distinct values (compared on the distinct typed templates).
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _route_t AS
        WITH t AS (SELECT DISTINCT m, typed, string_split(typed, '/') AS tl FROM _route_p),
        lit AS (
          SELECT m, typed, i, tl[i] AS s,
            array_to_string(list_transform(range(1, array_length(tl) + 1),
              lambda j: CASE WHEN j = i THEN '*' ELSE tl[j] END), '/') AS masked
          FROM (SELECT *, unnest(list_filter(range(1, array_length(tl) + 1), lambda j: tl[j] <> ''
                  AND NOT regexp_full_match(tl[j], '\\{{[a-z]+\\}}')
                  AND NOT {keep_literal("tl[j]")})) AS i
                FROM t)),
        vary AS (SELECT m, masked, i FROM lit GROUP BY ALL
                 HAVING count(DISTINCT s) >= {int(opts.min_distinct)})
        SELECT l.m, l.typed, any_value(l.tl) AS tl, list(l.i) AS str_pos
        FROM (SELECT lit.*, t.tl FROM lit JOIN t USING (m, typed)) l JOIN vary v USING (m, masked, i)
        GROUP BY l.m, l.typed"""
    )
    # Paths under a template with {str} positions: template and first placeholder redone.
    # (positions, not list_zip's structs: Spark names a zipped struct's members, DuckDB numbers them)
    is_ph = "regexp_full_match(tl[j], '\\{[a-z]+\\}') OR list_contains(str_pos, j)"
    first = f"list_filter(range(1, array_length(tl) + 1), lambda j: {is_ph})[1]"
    final_tpl = (
        "CASE WHEN str_pos IS NULL THEN typed ELSE array_to_string(list_transform("
        "range(1, array_length(tl) + 1), lambda j: CASE WHEN list_contains(str_pos, j) "
        "THEN '{str}' ELSE tl[j] END), '/') END"
    )
    final_rid = f"CASE WHEN str_pos IS NULL THEN rid ELSE string_split(path, '/')[{first}] END"
    final_kind = (
        f"CASE WHEN str_pos IS NULL THEN rkind WHEN list_contains(str_pos, {first}) THEN 'str' "
        f"ELSE trim(tl[{first}], '{{}}') END"
    )
    declared_tpl, declared_id, declared_label = _declared_sql(opts.endpoints)
    con.execute(
        f"""
        CREATE OR REPLACE TABLE routes AS
        SELECT nullif(m, '') AS method, path,
          coalesce({declared_tpl}, {final_tpl}) AS template,
          {declared_label} AS label,
          CASE WHEN {declared_label} IS NOT NULL THEN {declared_id} ELSE {final_rid} END AS record_id,
          CASE WHEN {declared_label} IS NOT NULL THEN NULL ELSE {final_kind} END AS id_kind,
          CASE WHEN {declared_label} IS NOT NULL THEN 'declared' ELSE 'inferred' END AS origin,
          coalesce(nullif(m, ''), '-') || ' ' || template AS route
        FROM _route_p LEFT JOIN _route_t USING (m, typed)"""
    )
    for t in ("_route_p", "_route_t"):
        con.execute(f"DROP TABLE {t}")
    con.execute(
        f"""
        CREATE OR REPLACE VIEW requests AS
        SELECT e.*, r.route, r.template, r.label, r.origin AS route_origin,
          coalesce(r.record_id, nullif(regexp_extract(e.query, {sql_str(QUERY_ID_RE)}, 2), ''))
            AS record_id,
          CASE WHEN r.record_id IS NOT NULL THEN 'path'
               WHEN regexp_extract(e.query, {sql_str(QUERY_ID_RE)}, 2) <> ''
               THEN 'query ' || regexp_extract(e.query, {sql_str(QUERY_ID_RE)}, 1) END
            AS record_id_from
        FROM events e LEFT JOIN routes r
          ON r.path = e.path AND r.method IS NOT DISTINCT FROM e.method"""
    )


def _declared_sql(endpoints: tuple[Endpoint, ...]) -> tuple[str, str, str]:
    """SQL (template, record id, label) of the first declared endpoint a row matches, or NULLs."""
    if not endpoints:
        return "NULL", "NULL", "NULL::VARCHAR"
    tpl, rid, label = "CASE", "CASE", "CASE"
    for ep in endpoints:
        cond = ep.match_sql(method="m")
        group = ep.id_group
        tpl += f" WHEN {cond} THEN {sql_str(ep.template)}"
        rid += f" WHEN {cond} THEN " + (
            f"regexp_extract(path, {sql_str(ep.regex)}, {group})" if group else "NULL"
        )
        label += f" WHEN {cond} THEN {sql_str(ep.text)}"
    return tpl + " END", rid + " END", label + " END"


def _unmatched(con: duckdb.DuckDBPyConnection, endpoints: tuple[Endpoint, ...]) -> dict[str, list[str]]:
    """Declared endpoints no request matched, each with the closest inferred routes."""
    if not endpoints:
        return {}
    hit = {r[0] for r in con.execute("SELECT DISTINCT label FROM routes WHERE label IS NOT NULL").fetchall()}
    known = [
        r[0] for r in con.execute("SELECT DISTINCT route FROM routes WHERE origin = 'inferred'").fetchall()
    ]
    out = {}
    for ep in endpoints:
        if ep.text not in hit:
            probe = f"{ep.method or '-'} {ep.template}"
            out[ep.text] = closest(probe, known, n=3, cutoff=0.5)
    return out


def route_summary(case: Case) -> pd.DataFrame:
    """One row per route: requests, distinct record ids, status mix, bytes, first/last seen.

    Needs ``derive_routes`` to have run on the case.
    """
    if not _has_routes(case.con):
        raise ForensicsError("no routes derived yet: run derive_routes (CLI: forensics routes)")
    return case.sql(
        """
        SELECT route, any_value(method) AS method, any_value(template) AS template,
          any_value(label) AS label, any_value(route_origin) AS origin,
          count(*) AS requests, count(DISTINCT record_id) AS records,
          count_if(status BETWEEN 200 AND 299)::BIGINT AS s2xx,
          count_if(status BETWEEN 300 AND 399)::BIGINT AS s3xx,
          count_if(status BETWEEN 400 AND 499)::BIGINT AS s4xx,
          count_if(status >= 500)::BIGINT AS s5xx,
          median(bytes_sent) AS bytes_median, min(ts) AS first_seen, max(ts) AS last_seen
        FROM requests WHERE route IS NOT NULL
        GROUP BY route ORDER BY requests DESC, route"""
    )


def ensure_routes(case: Case) -> None:
    """Derive routes with default settings unless the case already has them."""
    if not _has_routes(case.con):
        derive_routes(case)


def _has_routes(con: duckdb.DuckDBPyConnection) -> bool:
    row = con.execute(
        "SELECT count(*) FROM duckdb_views() WHERE view_name = 'requests' AND NOT temporary"
    ).fetchone()
    return bool(row and row[0])
