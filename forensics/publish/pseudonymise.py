"""A shareable report: record ids, IP addresses and principals replaced by keyed pseudonyms.

``Pseudonymisation`` says which key to use and where the mapping file goes (both outside the
report folder); ``outputs.write_outputs(..., pseudonymise=...)`` uses this module to

1. ``prepare``: build, in the case's temporary tables, the pseudonym of every distinct known
   value — record ids (routes, id query parameters), client and forwarded-for addresses,
   principals — once per distinct value, a batch of values at a time (HMAC in Python: DuckDB has
   none; a Python UDF would run once per event), and the scrubbed form of every distinct path,
   query, user agent and route of ``detect_requests`` (the timeline's free text), tokenised and
   joined in SQL;
2. ``pseudonymise_assessment``: a copy of the assessment with values replaced by kind in their
   fields, free log text scrubbed (pseudonym.scrub), the record-id scatter plotted by rank;
3. ``TIMELINE_SHOWN``/``TIMELINE_JOINS``: the timeline's columns from those tables (DuckDB COPY);
4. ``write_mapping``: pseudonym → kind → original value, CSV, mode 0600, for the case owner.

The same key gives the same pseudonyms in every file and on every run.
"""

from __future__ import annotations

import copy
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, cast

import pandas as pd

from forensics.assess.assessment import Assessment
from forensics.assess.document import FindingsDocument
from forensics.derive.routes import QUERY_ID_RE
from forensics.errors import PseudonymError
from forensics.publish.pseudonym_key import (
    ALGORITHM,
    KINDS,
    LEVELS,
    PHRASE,
    Pseudonymiser,
    PseudonymKey,
    candidates,
    level_sql,
    scrub,
)
from forensics.store.case import Case
from forensics.store.db import registered, sql_str
from forensics.store.printable import INVISIBLE_RE2, printable

KEY_SUFFIX = ".pseudonym-key"
MAPPING_SUFFIX = ".pseudonym-map.csv"
NOT_VALUES = ("", "-")  # log placeholders for "no value": never pseudonymised
WORK_TABLES = ("_pz_values", "_pz_t0", "_pz_t1", "_pz_t2", "_pz_t3", "_pz_p")
TEMP_TABLES = ("_pseudonyms", "_pz_lookup", "_pz_text", *WORK_TABLES)


@dataclass(frozen=True)
class Pseudonymisation:
    key: PseudonymKey
    mapping: Path  # pseudonym -> original value (CSV) for the case owner
    key_path: Path | None = None  # where the key is kept (checked against the report folder)

    @classmethod
    def for_case(
        cls, case_path: Path, out_dir: Path, key_file: Path | None = None, mapping: Path | None = None
    ) -> tuple[Pseudonymisation, bool]:
        """The key in ``key_file`` (default ``<case>.pseudonym-key`` beside the case), created
        when missing, and the mapping file (default ``<case>.pseudonym-map.csv`` beside the key);
        ``(settings, key created)``. Neither may be inside the report folder ``out_dir``."""
        key_path = key_file or case_path.with_name(case_path.name + KEY_SUFFIX)
        where = mapping or key_path.with_name(case_path.name + MAPPING_SUFFIX)
        _check_outside(out_dir, key_path, where)
        key, created = PseudonymKey.load_or_create(key_path)
        return cls(key, where, key_path), created

    def check_outside(self, out_dir: Path) -> None:
        """Refuse a key or mapping file inside the report folder (it is what gets shared)."""
        _check_outside(out_dir, self.key_path, self.mapping)


def _check_outside(out_dir: Path, key_path: Path | None, mapping: Path) -> None:
    folder = out_dir.resolve()
    for what, path in (("key", key_path), ("mapping", mapping)):
        if path is not None and path.resolve().is_relative_to(folder):
            raise PseudonymError(
                f"the pseudonym {what} file {path} is inside the report folder {out_dir}, which is "
                "meant to be shared: keep it elsewhere (e.g. beside the case)"
            )


# --- the tables ---------------------------------------------------------------------------------

PSEUDONYM_BATCH = 100_000  # distinct values hashed per batch (prepare)
# Every distinct value to pseudonymise, numbered (``n``) so prepare can take them a batch at a time.
VALUES_SQL = f"""
    CREATE OR REPLACE TEMP TABLE _pz_values AS
    SELECT kind, value, row_number() OVER (ORDER BY kind, value) AS n FROM (SELECT DISTINCT kind, value FROM (
      SELECT 'rec' AS kind, record_id AS value FROM routes
      UNION ALL SELECT 'rec', regexp_extract(q, {sql_str(QUERY_ID_RE)}, 2)
        FROM (SELECT DISTINCT query AS q FROM events WHERE query IS NOT NULL)
      UNION ALL SELECT 'ip', client_ip FROM events
      UNION ALL SELECT 'ip', trim(unnest(string_split(forwarded_for, ',')))
        FROM events WHERE forwarded_for IS NOT NULL
      UNION ALL SELECT 'user', principal FROM events)
    WHERE value IS NOT NULL AND value NOT IN ({", ".join(sql_str(v) for v in NOT_VALUES)}))
    ORDER BY n"""
# One pseudonym per value for free text: an address before a user name before a record id.
LOOKUP_SQL = """
    CREATE OR REPLACE TEMP TABLE _pz_lookup AS
    SELECT value, arg_min(pseudonym, CASE kind WHEN 'ip' THEN 0 WHEN 'user' THEN 1 ELSE 2 END)
      AS pseudonym FROM _pseudonyms GROUP BY value"""
TEXTS_SQL = """
    CREATE OR REPLACE TEMP TABLE _pz_t0 AS SELECT DISTINCT v FROM (
      SELECT path AS v FROM detect_requests UNION ALL SELECT query FROM detect_requests
      UNION ALL SELECT user_agent FROM detect_requests UNION ALL SELECT route FROM detect_requests)
    WHERE v IS NOT NULL"""


def _pass_sql(src: str, out: str, pattern: str) -> list[str]:
    """SQL: ``out(v, s)`` — each text ``v`` of ``src(v)`` with its known tokens replaced."""
    return [
        f"""CREATE OR REPLACE TEMP TABLE _pz_p AS
            SELECT v, unnest(parts) AS part, unnest(range(len(parts))) AS i
            FROM (SELECT v, regexp_extract_all(v, {sql_str(pattern)}) AS parts FROM {src})""",
        f"""CREATE OR REPLACE TEMP TABLE {out} AS
            WITH hit AS (SELECT DISTINCT v FROM _pz_p SEMI JOIN _pz_lookup k ON k.value = _pz_p.part)
            SELECT v, v AS s FROM {src} ANTI JOIN hit USING (v)
            UNION ALL
            SELECT p.v, string_agg(coalesce(k.pseudonym, p.part), '' ORDER BY p.i)
            FROM _pz_p p SEMI JOIN hit USING (v) LEFT JOIN _pz_lookup k ON k.value = p.part
            GROUP BY p.v""",
    ]


def prepare(case: Case, pz: Pseudonymiser) -> None:
    """Build ``_pseudonyms`` (kind, value, pseudonym), ``_pz_lookup`` and ``_pz_text``."""
    con = case.con
    con.execute(VALUES_SQL)
    con.execute("CREATE OR REPLACE TEMP TABLE _pseudonyms (kind VARCHAR, value VARCHAR, pseudonym VARCHAR)")
    row = con.execute("SELECT count(*) FROM _pz_values").fetchone()
    total = int(row[0]) if row else 0
    for lo in range(1, total + 1, PSEUDONYM_BATCH):  # bounded: a batch of values in Python at a time
        rows = con.execute(
            "SELECT kind, value FROM _pz_values WHERE n >= ? AND n < ? ORDER BY n", [lo, lo + PSEUDONYM_BATCH]
        ).fetchall()
        frames = []
        for kind in KINDS:
            values = [str(v) for k, v in rows if k == kind]
            frames.append(pd.DataFrame({"kind": kind, "value": values, "pseudonym": pz.many(kind, values)}))
        with registered(con, "_pz_frame", pd.concat(frames, ignore_index=True)):
            con.execute("INSERT INTO _pseudonyms SELECT kind, value, pseudonym FROM _pz_frame")
    con.execute(LOOKUP_SQL)
    con.execute(TEXTS_SQL)
    (token1, delims1), (token2, delims2) = LEVELS
    for sql in [*_pass_sql("_pz_t0", "_pz_t1", level_sql(token1, delims1)),
                "CREATE OR REPLACE TEMP TABLE _pz_t2 AS SELECT DISTINCT s AS v FROM _pz_t1",
                *_pass_sql("_pz_t2", "_pz_t3", level_sql(token2, delims2))]:  # fmt: skip
        con.execute(sql)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _pz_text AS "
        "SELECT a.v, b.s AS scrubbed FROM _pz_t1 a JOIN _pz_t3 b ON b.v = a.s"
    )
    for t in WORK_TABLES:
        con.execute(f"DROP TABLE IF EXISTS {t}")


def cleanup(case: Case) -> None:
    for t in TEMP_TABLES:
        case.con.execute(f"DROP TABLE IF EXISTS {t}")


# The timeline's columns when pseudonymised (export.write_timeline): a value missing from the
# tables comes out NULL, never raw.
TIMELINE_SHOWN = {
    "client_ip": "pz_ip.pseudonym",
    "principal": "pz_user.pseudonym",
    "record_id": "pz_rec.pseudonym",
    "path": "pz_path.scrubbed",
    "query": "pz_query.scrubbed",
    "user_agent": "pz_ua.scrubbed",
    "route": "pz_route.scrubbed",
}
TIMELINE_JOINS = """
    LEFT JOIN _pseudonyms pz_ip ON pz_ip.kind = 'ip' AND pz_ip.value = d.client_ip
    LEFT JOIN _pseudonyms pz_user ON pz_user.kind = 'user' AND pz_user.value = d.principal
    LEFT JOIN _pseudonyms pz_rec ON pz_rec.kind = 'rec' AND pz_rec.value = d.record_id
    LEFT JOIN _pz_text pz_path ON pz_path.v = d.path
    LEFT JOIN _pz_text pz_query ON pz_query.v = d.query
    LEFT JOIN _pz_text pz_ua ON pz_ua.v = d.user_agent
    LEFT JOIN _pz_text pz_route ON pz_route.v = d.route"""


# --- the assessment ----------------------------------------------------------------------------


def pseudonymise_assessment(case: Case, assessment: Assessment, pz: Pseudonymiser) -> Assessment:
    """A copy of ``assessment`` fit to share (needs ``prepare`` first)."""
    texts: set[str] = set()

    def collect(text: str) -> str:
        texts.add(text)
        return text

    _transform(assessment, pz, collect)  # first pass: which free texts are there
    known, phrases = _lookup(case, texts)
    return _transform(assessment, pz, lambda t: scrub(t, known, phrases))


def _lookup(case: Case, texts: set[str]) -> tuple[dict[str, str], dict[str, str]]:
    tokens = sorted({tok for t in texts for tok in candidates(t)})
    rows = case.con.execute(
        "SELECT value, pseudonym FROM _pz_lookup WHERE value IN (SELECT unnest(?::VARCHAR[]))", [tokens]
    ).fetchall()
    everything = "\x00".join(texts)
    phrases = case.con.execute(
        "SELECT value, pseudonym FROM _pz_lookup WHERE regexp_matches(value, ?)", [PHRASE.pattern]
    ).fetchall()
    return dict(rows), {v: p for v, p in phrases if v in everything}


def _transform(a: Assessment, pz: Pseudonymiser, text: Callable[[str], str]) -> Assessment:
    doc = _document(a.doc, pz, text)
    scatter = a.scatter.copy()
    if not scatter.empty:
        scatter["record_id"] = _per_value(scatter["record_id"], lambda v: pz("rec", v))
        scatter["label"] = _per_value(scatter["label"], text)
        scatter["y"] = scatter["y"].rank(method="dense").astype(float)  # order kept, ids not shown
    return replace(
        a,
        document=cast(dict[str, Any], doc),
        endpoint_daily=_routes(a.endpoint_daily, text),
        scatter=scatter,
        response_sizes=_routes(a.response_sizes, text),
        excerpts={
            k: [{**e, "line": text(str(e.get("line") or ""))} for e in lines]
            for k, lines in a.excerpts.items()
        },
    )


def _per_value(column: pd.Series, fn: Callable[[str], str]) -> pd.Series:
    """``fn`` once per distinct value of ``column`` (rows are many, values few), mapped back."""
    text = column.astype(str)
    return text.map({v: fn(v) for v in text.unique()})


def _routes(frame: pd.DataFrame, text: Callable[[str], str]) -> pd.DataFrame:
    if frame.empty or "route" not in frame:
        return frame
    return frame.assign(route=_per_value(frame["route"], text))


ID_METRICS = ("min_id", "max_id")  # detector metrics holding a record id (as an integer)
ID_LIST_METRICS = ("records_by_reason",)  # detector metrics holding {reason: [record ids]}


def _document(source: FindingsDocument, pz: Pseudonymiser, text: Callable[[str], str]) -> FindingsDocument:
    doc = copy.deepcopy(source)
    params = doc["parameters"]
    params["endpoints"] = [text(e) for e in params["endpoints"]]
    params["trusted"] = [text(t) for t in params["trusted"]]
    params["trusted_unmatched"] = [text(t) for t in params.get("trusted_unmatched", [])]
    params["command"] = text(params["command"])
    own = params.get("ownership")
    if own:
        own["principals_unseen"] = [pz("user", p) for p in own["principals_unseen"]]
    params["detect_options"] = _strings(params["detect_options"], text)  # trusted networks, endpoints
    doc["reproduce"]["command"] = text(doc["reproduce"]["command"])
    doc["window"]["evidence"] = text(doc["window"]["evidence"])
    for s in doc["sources"]:
        s["warnings"] = [text(w) for w in s["warnings"]]
    records = doc["records"]
    id_range = records.get("id_range")
    if id_range:
        lo, hi = str(id_range["min"]), str(id_range["max"])
        records["id_range"] = {"min": pz("rec", lo), "max": pz("rec", hi)}
        # the range as assess.py words it in the at-risk basis, which the regulatory texts repeat
        said, now = f"({lo} to {hi})", f"({pz('rec', lo)} to {pz('rec', hi)})"
        records["at_risk_basis"] = records["at_risk_basis"].replace(said, now)
        doc["regulatory"] = _strings(doc["regulatory"], lambda t: t.replace(said, now))
    for actor in doc["actors"]:
        actor["ips"] = [pz("ip", ip) for ip in actor["ips"]]
        actor["principals"] = [pz("user", p) for p in actor["principals"]]
        actor["user_agents"] = [text(ua) for ua in actor["user_agents"]]
        # the examples name networks, principals and record ids: keep the rule and count only
        actor["link_reasons"] = [r.split(", e.g. ")[0] for r in actor.get("link_reasons", [])]
    for f in doc["findings"]:
        f["route"] = None if f["route"] is None else text(f["route"])
        metrics = f["evidence"]["metrics"]
        for k, v in metrics.items():
            if k in ID_METRICS and v is not None:
                metrics[k] = pz("rec", str(v))
            elif k in ID_LIST_METRICS and isinstance(v, dict):
                metrics[k] = {why: [pz("rec", str(r)) for r in ids] for why, ids in v.items()}
            elif isinstance(v, str):
                metrics[k] = text(v)
    doc["pseudonymisation"] = {
        "algorithm": ALGORITHM,
        "key_fingerprint": pz.key.fingerprint,
        "kinds": dict(KINDS),
        "scope": "record ids, IP addresses and principals are replaced in their fields by kind, and "
        "in log text (raw lines, user agents, paths, queries, routes) wherever a token equals one; "
        "the record-id scatter plots ranks. The key and the mapping to the original values stay "
        "with the case owner.",
    }
    return doc


def _strings(value: Any, text: Callable[[str], str]) -> Any:
    """``value`` (JSON) with every string passed through ``text``."""
    if isinstance(value, str):
        return text(value)
    if isinstance(value, list):
        return [_strings(v, text) for v in value]
    if isinstance(value, dict):
        return {k: _strings(v, text) for k, v in value.items()}
    return value


# --- the mapping file ---------------------------------------------------------------------------


def write_mapping(case: Case, pz: Pseudonymiser, path: Path) -> int:
    """pseudonym, kind, value (CSV, mode 0600 from creation). Values are shown as the report shows
    log text: control and invisible formatting characters escaped (text.printable); formula-like
    cells get a leading '."""
    con = case.con
    extra = pd.DataFrame(
        [(k, v, p) for (k, v), p in sorted(pz.made.items())], columns=["kind", "value", "pseudonym"]
    )
    every = (
        "SELECT kind, value, pseudonym FROM _pseudonyms UNION SELECT kind, value, pseudonym FROM _pz_extra"
    )
    safe = "CASE WHEN regexp_matches(v, '^[=+\\-@\\t\\r]') THEN '''' || v ELSE v END"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with (
            registered(con, "_pz_extra", extra.astype(str)),
            tempfile.TemporaryDirectory(dir=path.parent, prefix=".pseudonym-map.") as tmp,  # 0700
        ):
            odd = con.execute(
                f"SELECT DISTINCT value FROM ({every}) WHERE regexp_matches(value, ?)", [INVISIBLE_RE2]
            ).fetchall()
            shown = pd.DataFrame(
                {"value": [str(r[0]) for r in odd], "shown": [printable(r[0]) for r in odd]}, dtype=object
            )
            part = Path(tmp) / "map.csv"
            with registered(con, "_pz_shown", shown):
                con.execute(
                    f"""COPY (SELECT pseudonym, kind, {safe} AS value FROM (
                            SELECT u.kind, u.pseudonym, coalesce(s.shown, u.value) AS v
                            FROM ({every}) u LEFT JOIN _pz_shown s ON s.value = u.value)
                          ORDER BY kind, pseudonym, value)
                        TO {sql_str(str(part))} (HEADER, DELIMITER ',')"""
                )
            os.chmod(part, 0o600)
            os.replace(part, path)
    except OSError as exc:
        raise PseudonymError(f"cannot write the pseudonym mapping {path}: {exc}") from exc
    row = con.execute("SELECT count(*) FROM _pseudonyms").fetchone()
    return int(row[0]) if row else 0
