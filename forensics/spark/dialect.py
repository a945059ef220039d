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
  truncates them: ``unix_micros(ts) / 1e6``;
* ``INT128``/``HUGEINT`` — ``DECIMAL(38, 0)``;
* ``len(list)`` — ``size``: the project writes ``len`` for lists and ``length`` for strings;
* ``[f(x) FOR x IN list IF p(x)]`` — ``transform(filter(…))``; ``AS MATERIALIZED`` is dropped.

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


def _rewrite(node: exp.Expr) -> exp.Expr:
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
        return exp.Div(
            this=exp.Anonymous(this="UNIX_MICROS", expressions=[node.this]),
            expression=exp.Literal.number("1000000.0"),
        )
    if isinstance(node, exp.Anonymous):
        name = node.name.upper()
        if name == "EPOCH_US":
            return exp.Anonymous(this="UNIX_MICROS", expressions=list(node.expressions))
        if name == "LIST_POSITION":
            found = exp.Anonymous(this="ARRAY_POSITION", expressions=list(node.expressions))
            return exp.Nullif(this=found, expression=exp.Literal.number(0))
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
