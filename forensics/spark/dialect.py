"""DuckDB SQL to Spark SQL: sqlglot's transpiler plus the rewrites that keep the meaning.

sqlglot carries syntax across; these rewrites carry semantics where the two engines differ on the
same text (each has a test in tests/test_spark_dialect.py that runs both engines):

* ``list[a:b]`` — ``slice(list, a, b - a + 1)``;
* ``list[i]`` — DuckDB lists are 1-based and answer NULL out of range; Spark arrays are 0-based and
  (ANSI mode) fail out of range: ``try_element_at(list, i)`` (1-based, NULL out of range);
* ``regexp_full_match(s, re)`` — no such function in Spark; ``RLIKE`` searches, so the pattern is
  anchored: ``^(?:re)\\z``. The project's patterns use the part of RE2 that Java's regex shares;
* ``list_position(list, v)`` — Spark's ``array_position`` answers 0 for "absent", DuckDB NULL;
* ``list(x ORDER BY y)`` and ``list(DISTINCT x ORDER BY x)`` — Spark's ``collect_list`` and
  ``collect_set`` have no ORDER BY and drop NULLs: the values travel in structs (kept when NULL)
  sorted by the ORDER BY keys, NULL keys last as DuckDB sorts them;
* ``epoch(ts)`` — DuckDB's seconds keep the microseconds (a DOUBLE); Spark's ``unix_timestamp``
  truncates them: ``CAST(unix_micros(ts) AS DOUBLE) / 1000000`` (a DOUBLE, as DuckDB's: with
  ``1000000.0``, a DECIMAL in Spark, ``round(minutes) || ' min'`` read ``49 min``, not ``49.0 min``);
* ``INT128``/``HUGEINT`` — ``DECIMAL(38, 0)``;
* ``LEFT JOIN LATERAL unnest(list) AS r(x) ON true`` — ``LATERAL VIEW OUTER explode`` (sqlglot's
  ``LATERAL VIEW explode`` drops the rows whose list is empty);
* ``avg(x)`` — ``avg(CAST(x AS DOUBLE))``: DuckDB's average is a DOUBLE, Spark's of a DECIMAL a
  DECIMAL (``avg(CASE … THEN 1.0 ELSE 0.0 END)`` rounded to 3 places: ``1.0`` against ``1.000``);
* ``ASOF`` joins are refused (Spark has none, and reads the word as a table alias: an inequality
  join with every earlier row, not the nearest);
* ``len(list)`` — ``size``: the project writes ``len`` for lists and ``length`` for strings;
* ``[f(x) FOR x IN list IF p(x)]`` — ``transform(filter(…))``; ``AS MATERIALIZED`` is dropped;
* ``to_json(x)`` — Spark's leaves out NULL members, DuckDB's writes them (``"k":null``): the
  option ``ignoreNullFields`` is false. (Numbers are spelled as each engine spells them: a
  DOUBLE of 1e7 or more, or below 1e-3, is ``1.0E7`` in Spark's text, ``10000000.0`` in DuckDB's —
  the same number to a JSON reader);
* ``CAST(x AS JSON)`` — Spark has no JSON type (sqlglot writes ``to_json(x)``, which fails on a
  string): a NULL or a string literal is a STRING, a ``to_json(…)`` stays as it is; any other value
  is refused (its type, a string already JSON or a value to serialise, is not known here);
* ``strftime(ts, fmt)`` — ``date_format`` with the format's letters quoted (sqlglot leaves the
  ``T`` and ``Z`` of ``%Y-%m-%dT%H:%M:%SZ`` unquoted: an error and a zone offset in Spark);
* ``time_bucket(INTERVAL n unit, ts)`` (fixed units: microseconds to weeks) — buckets counted from
  DuckDB's origin, 2000-01-03 00:00:00 UTC, on the microseconds (Spark has no ``time_bucket``;
  sqlglot's ``date_bin`` is not a Spark function). Months and years are refused.

What cannot be carried (a construct with no Spark form) raises ``SparkDialectError`` naming it,
never a statement that runs and answers differently.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel

from forensics.errors import ForensicsError

LIST_LEN = re.compile(r"\blen\s*\(", re.IGNORECASE)


class SparkDialectError(ForensicsError):
    """A statement uses a construct this module cannot carry to Spark SQL with its meaning."""


def _element_at(node: exp.Bracket) -> exp.Expr:
    # what the subscript applies to is rewritten here: the new node's children are not visited again
    node = node.copy()
    node.set("this", node.this.transform(_rewrite))
    node.set("expressions", [e.transform(_rewrite) for e in node.expressions])
    index = node.expressions[0]
    if len(node.expressions) != 1:
        raise SparkDialectError(f"{node.sql('duckdb')!r}: several subscripts are not carried to Spark")
    if isinstance(index, exp.Slice):
        return _slice(node.this, index)
    if isinstance(index, exp.Literal) and index.is_string:
        return node  # a map or struct looked up by key
    if isinstance(index, exp.Literal):
        # sqlglot's DuckDB parser already made a literal index 0-based
        index = exp.Literal.number(int(index.this) + 1)
    # Spark's element_at takes an INT position (DuckDB's positions are BIGINT)
    return exp.Anonymous(this="TRY_ELEMENT_AT", expressions=[node.this, exp.cast(index, "INT")])


def _slice(target: exp.Expr, bounds: exp.Slice) -> exp.Expr:
    """``list[a:b]`` (1-based, both ends in) as ``slice(list, a, b - a + 1)``: literal bounds only."""
    start, end = bounds.this, bounds.expression
    if (
        not (isinstance(start, exp.Literal) and isinstance(end, exp.Literal))
        or start.is_string
        or end.is_string
    ):
        raise SparkDialectError(
            f"list slice [{bounds.sql('duckdb')}]: only literal bounds are carried to Spark"
        )
    first, last = int(start.this), int(end.this)
    if first < 1 or last < first:
        raise SparkDialectError(f"list slice [{first}:{last}]: only 1 <= start <= end is carried to Spark")
    length = exp.Literal.number(last - first + 1)
    return exp.Anonymous(this="SLICE", expressions=[target, exp.Literal.number(first), length])


def _full_match(node: exp.RegexpFullMatch) -> exp.Expr:
    pattern = node.expression
    if isinstance(pattern, exp.Literal) and pattern.is_string:
        anchored: exp.Expr = exp.Literal.string(f"^(?:{pattern.this})\\z")
    else:
        anchored = exp.Concat(expressions=[exp.Literal.string("^(?:"), pattern, exp.Literal.string(")\\z")])
    return exp.RegexpLike(this=node.this, expression=anchored)


def _ordered_list(node: exp.ArrayAgg, where: exp.Expr | None = None) -> exp.Expr:
    """(``where``: the aggregate's FILTER clause, which stays on the collecting aggregate.)"""
    inner = node.this
    if not isinstance(inner, exp.Order):
        value = inner
        keys: list[exp.Ordered] = []
    else:
        value = inner.this
        keys = list(inner.expressions)
    if isinstance(value, exp.Distinct):
        values = value.expressions
        if (
            len(values) != 1
            or any(k.this != values[0] for k in keys)
            or any(k.args.get("desc") for k in keys)
        ):
            raise SparkDialectError(f"{node.sql('duckdb')!r}: list(DISTINCT …) ordered by other keys")
        # a set, sorted, NULL last and kept (DuckDB's list(DISTINCT) keeps it; collect_set drops a
        # bare NULL, not a struct holding one)
        member = exp.Struct(
            expressions=[
                exp.alias_(exp.Is(this=values[0].copy(), expression=exp.null()), "n0"),
                exp.alias_(values[0], "v"),
            ]
        )
        collected = exp.Anonymous(
            this="SORT_ARRAY",
            expressions=[
                _filtered(exp.Anonymous(this="COLLECT_SET", expressions=[member]), where),
                exp.true(),
            ],
        )
        return _values(collected)
    if any(k.args.get("desc") for k in keys) and any(not k.args.get("desc") for k in keys):
        raise SparkDialectError(f"{node.sql('duckdb')!r}: mixed ASC/DESC in an ordered list")
    # DuckDB puts NULL keys last either way; sort_array puts them first ascending: a flag sorts them
    fields: list[exp.Expr] = []
    for i, k in enumerate(keys):
        flag = exp.Is(this=k.this.copy(), expression=exp.null())
        fields.append(exp.alias_(exp.not_(flag) if k.args.get("desc") else flag, f"n{i}"))
        fields.append(exp.alias_(k.this, f"k{i}"))
    fields.append(exp.alias_(value, "v"))
    ordered: exp.Expr = _filtered(
        exp.Anonymous(this="COLLECT_LIST", expressions=[exp.Struct(expressions=fields)]), where
    )
    if keys:
        ascending = exp.true() if not keys[0].args.get("desc") else exp.false()
        ordered = exp.Anonymous(this="SORT_ARRAY", expressions=[ordered, ascending])
    return _values(ordered)


def _values(structs: exp.Expr) -> exp.Expr:
    """The ``v`` member of each struct of a list (the values an ordered list carried in structs)."""
    member = exp.Dot(this=exp.column("s"), expression=exp.to_identifier("v"))
    return exp.Transform(
        this=structs, expression=exp.Lambda(this=member, expressions=[exp.to_identifier("s")])
    )


def _filtered(aggregate: exp.Expr, where: exp.Expr | None) -> exp.Expr:
    return aggregate if where is None else exp.Filter(this=aggregate, expression=where)


def _wrap(node: exp.Expr) -> exp.Expr:
    """The rewrites that wrap an expression (second pass: what they wrap is rewritten already)."""
    if isinstance(node, exp.Filter) and isinstance(node.this, exp.ArrayAgg):
        return _ordered_list(node.this, node.expression)
    if isinstance(node, exp.RegexpFullMatch):
        return _full_match(node)
    if isinstance(node, exp.ArrayAgg):
        return _ordered_list(node)
    return node


def _comprehension(node: exp.Array) -> exp.Expr:
    """``[f(x) FOR x IN list IF p(x)]`` as ``transform(filter(list, x -> p(x)), x -> f(x))``."""
    inner = node.expressions[0]
    var = inner.expression
    source = inner.args["iterator"].transform(_rewrite)
    condition = inner.args.get("condition")
    if condition is not None:
        source = exp.ArrayFilter(
            this=source, expression=exp.Lambda(this=condition.transform(_rewrite), expressions=[var.copy()])
        )
    return exp.Transform(
        this=source, expression=exp.Lambda(this=inner.this.transform(_rewrite), expressions=[var.copy()])
    )


# DuckDB's time_bucket origin for buckets without months or years: Monday 2000-01-03 00:00:00 UTC
BUCKET_ORIGIN_US = 946_857_600 * 1_000_000
BUCKET_UNITS_US = {
    "MICROSECOND": 1,
    "MILLISECOND": 1_000,
    "SECOND": 1_000_000,
    "MINUTE": 60_000_000,
    "HOUR": 3_600_000_000,
    "DAY": 86_400_000_000,
    "WEEK": 604_800_000_000,
}
# strftime specifiers carried to Java's DateTimeFormatter (the rest are refused)
STRFTIME = {"Y": "yyyy", "m": "MM", "d": "dd", "H": "HH", "M": "mm", "S": "ss", "f": "SSSSSS"}


def _bucket(node: exp.DateBin) -> exp.Expr:
    """``time_bucket(INTERVAL n unit, ts)``: ``ts`` less its distance past the last bucket start."""
    width = node.this
    unit = width.args.get("unit") if isinstance(width, exp.Interval) else None
    amount = width.this if isinstance(width, exp.Interval) else None
    name = unit.name.upper().rstrip("S") if unit is not None else ""
    if (
        node.args.get("zone") is not None
        or len(node.expressions if hasattr(node, "expressions") else []) > 0
        or not isinstance(amount, exp.Literal)
        or name not in BUCKET_UNITS_US
    ):
        raise SparkDialectError(
            f"{node.sql('duckdb')!r}: time_bucket is carried to Spark with a fixed literal width and "
            "DuckDB's default origin only"
        )
    try:
        width_us = int(float(amount.this) * BUCKET_UNITS_US[name])
    except ValueError:
        raise SparkDialectError(f"{node.sql('duckdb')!r}: the bucket width is not a number") from None
    micros = exp.Anonymous(this="UNIX_MICROS", expressions=[node.expression.transform(_rewrite)])
    past = exp.Anonymous(
        this="PMOD",
        expressions=[
            exp.Sub(this=micros, expression=exp.Literal.number(BUCKET_ORIGIN_US)),
            exp.Literal.number(width_us),
        ],
    )
    return exp.Anonymous(this="TIMESTAMP_MICROS", expressions=[exp.Sub(this=micros.copy(), expression=past)])


def _strftime(node: exp.TimeToStr) -> exp.Expr:
    fmt = node.args.get("format")
    if not (isinstance(fmt, exp.Literal) and fmt.is_string) or node.args.get("zone") is not None:
        raise SparkDialectError(f"{node.sql('duckdb')!r}: strftime with a literal format only")
    out, text, i = [], fmt.this, 0
    while i < len(text):
        if text[i] == "%":
            spec = text[i + 1 : i + 2]
            if spec not in STRFTIME:
                raise SparkDialectError(f"strftime %{spec}: not carried to Spark")
            out.append(STRFTIME[spec])
            i += 2
            continue
        j = i
        while j < len(text) and text[j] != "%":
            j += 1
        literal = text[i:j]
        # Java's pattern letters are A-Z and a-z; the rest stands for itself
        out.append("'" + literal.replace("'", "''") + "'" if any(c.isalpha() for c in literal) else literal)
        i = j
    value = node.this.transform(_rewrite)
    return exp.Anonymous(this="DATE_FORMAT", expressions=[value, exp.Literal.string("".join(out))])


def _json_cast(value: exp.Expr, node: exp.Cast) -> exp.Expr:
    """``CAST(value AS JSON)`` (``node``; ``value`` rewritten already)."""
    if isinstance(value, exp.Null) or (isinstance(value, exp.Literal) and value.is_string):
        return exp.cast(value, "STRING")
    if isinstance(value, exp.Anonymous) and value.name.upper() == "TO_JSON":
        return value
    raise SparkDialectError(
        f"{node.sql('duckdb')!r}: CAST AS JSON of a value whose type is not known here (Spark has no "
        "JSON type: a string already JSON and a value to serialise need different forms)"
    )


def _outer_unnests(node: exp.Select) -> exp.Select:
    """``LEFT JOIN [LATERAL] unnest(list) AS r(x) ON true`` as ``LATERAL VIEW OUTER explode``: a row
    whose list is empty or NULL stays, with x NULL (sqlglot writes every unnest join as an inner
    ``LATERAL VIEW explode``, which drops it)."""
    for join in list(node.args.get("joins") or []):
        lateral = join.this
        unnest = lateral.this if isinstance(lateral, exp.Lateral) else lateral
        if not isinstance(unnest, exp.Unnest) or not join.side:
            continue
        alias = lateral.args.get("alias") if isinstance(lateral, exp.Lateral) else unnest.args.get("alias")
        on = join.args.get("on")
        if (
            join.side.upper() != "LEFT"
            or (on is not None and not (isinstance(on, exp.Boolean) and on.this))
            or len(unnest.expressions) != 1
            or unnest.args.get("offset")
            or alias is None
            or len(alias.columns) != 1
        ):
            raise SparkDialectError(
                f"{join.sql('duckdb')!r}: only LEFT JOIN unnest(one list) AS t(x) ON true is carried to Spark"
            )
        join.pop()
        node.append(
            "laterals",
            exp.Lateral(
                this=exp.Explode(this=unnest.expressions[0]),
                view=True,
                outer=True,
                alias=exp.TableAlias(this=alias.this, columns=list(alias.columns)),
            ),
        )
    return node


def _rewrite(node: exp.Expr) -> exp.Expr:
    if isinstance(node, exp.Select) and any(
        j.side and isinstance(j.this.this if isinstance(j.this, exp.Lateral) else j.this, exp.Unnest)
        for j in node.args.get("joins") or []
    ):
        return _outer_unnests(node)
    if isinstance(node, exp.Join) and str(node.args.get("method") or "").upper() == "ASOF":
        # Spark has no ASOF join, and would read the word as an alias: a plain inequality join
        raise SparkDialectError(
            "ASOF joins are not carried to Spark (write the nearest row by a window: see request_twins.py)"
        )
    if isinstance(node, exp.Cast) and node.to.this == exp.DataType.Type.JSON:
        return _json_cast(node.this.transform(_rewrite), node)
    if isinstance(node, exp.Avg):
        # DuckDB's avg is a DOUBLE whatever it averages; Spark's of a DECIMAL (a literal such as
        # 1.0 is one) is a DECIMAL, which rounds and prints otherwise (1.000 against 1.0)
        value = node.this
        if isinstance(value, exp.Distinct):  # the distinct values (not their doubles) averaged
            if len(value.expressions) != 1:
                raise SparkDialectError(f"{node.sql('duckdb')!r}: avg of several values")
            distinct = exp.Distinct(
                expressions=[exp.cast(value.expressions[0].transform(_rewrite), "DOUBLE")]
            )
            return exp.Avg(this=distinct)
        return exp.Avg(this=exp.cast(value.transform(_rewrite), "DOUBLE"))
    if isinstance(node, exp.DateBin):
        return _bucket(node)
    if isinstance(node, exp.TimeToStr):
        return _strftime(node)
    if (
        isinstance(node, exp.Array)
        and len(node.expressions) == 1
        and isinstance(node.expressions[0], exp.Comprehension)
    ):
        return _comprehension(node)
    if isinstance(node, exp.CTE) and node.args.get("materialized"):
        node = node.copy()
        node.set("materialized", None)  # a hint to DuckDB's planner; Spark has no such clause
        return node
    if isinstance(node, exp.Bracket):
        return _element_at(node)
    if isinstance(node, exp.TimeToUnix):
        return exp.Div(  # a DOUBLE, as DuckDB's (Spark's 1000000.0 is a DECIMAL: round(x) || '' is '49')
            this=exp.cast(exp.Anonymous(this="UNIX_MICROS", expressions=[node.this]), "DOUBLE"),
            expression=exp.Literal.number(1000000),
        )
    if isinstance(node, exp.Anonymous):
        name = node.name.upper()
        if name == "EPOCH_US":
            return exp.Anonymous(this="UNIX_MICROS", expressions=list(node.expressions))
        if name == "LIST_POSITION":
            found = exp.Anonymous(this="ARRAY_POSITION", expressions=list(node.expressions))
            return exp.Nullif(this=found, expression=exp.Literal.number(0))
        if name == "TO_JSON" and len(node.expressions) == 1:
            options = exp.Anonymous(
                this="MAP", expressions=[exp.Literal.string("ignoreNullFields"), exp.Literal.string("false")]
            )
            return exp.Anonymous(
                this="TO_JSON", expressions=[node.expressions[0].transform(_rewrite), options]
            )
        if name == "LIST_ZIP":
            raise SparkDialectError(f"{name.lower()}: positional struct members are not carried to Spark")
    if isinstance(node, exp.DataType) and node.this == exp.DataType.Type.INT128:
        return exp.DataType.build("DECIMAL(38, 0)")
    return node


def _literal(value: Any) -> exp.Expr:
    if value is None:
        return exp.null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, int | float):
        return exp.Literal.number(value)
    if isinstance(value, list | tuple):
        return exp.Array(expressions=[_literal(v) for v in value])
    if isinstance(value, datetime) and value.tzinfo is not None:
        return exp.cast(exp.Literal.string(value.isoformat()), "TIMESTAMP")  # an instant (UTC session)
    if isinstance(value, date | datetime):
        return exp.Literal.string(value.isoformat())
    return exp.Literal.string(str(value))


def parse(sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> exp.Expr:
    """One DuckDB statement as a sqlglot tree, its ``?`` (or ``$name``) placeholders bound to
    ``params`` (a sequence, or a mapping by name)."""
    # The project's SQL writes len() for a list's length and length() for a string's (sqlglot reads
    # both as one LENGTH, which Spark takes for strings only)
    sql = LIST_LEN.sub("array_length(", sql)
    try:
        tree = sqlglot.parse_one(sql, read="duckdb", error_level=ErrorLevel.RAISE)
    except sqlglot.errors.ParseError as exc:
        raise SparkDialectError(f"cannot parse as DuckDB SQL: {exc}") from exc
    if params:
        positional = iter(params) if not isinstance(params, Mapping) else iter(())

        def bind(node: exp.Expr) -> exp.Expr:
            if not isinstance(node, exp.Placeholder):
                return node
            if isinstance(params, Mapping):
                if node.name not in params:
                    raise SparkDialectError(f"no value for the parameter ${node.name}")
                return _literal(params[node.name])
            return _literal(next(positional))

        tree = tree.transform(bind)
    return tree


def to_spark(tree: exp.Expr) -> str:
    """Spark SQL for a (DuckDB-dialect) sqlglot tree, with the rewrites above."""
    rewritten = tree.transform(_rewrite, copy=True).transform(_wrap, copy=False)
    try:
        return rewritten.sql(dialect="spark", unsupported_level=ErrorLevel.RAISE)
    except sqlglot.errors.UnsupportedError as exc:
        raise SparkDialectError(str(exc)) from exc
