"""A pySigma backend writing DuckDB SQL: one boolean expression per rule, over ``sigma_requests``.

A small subclass of pySigma's ``TextQueryBackend`` rather than pysigma-backend-duckdb, which did
not escape ``%`` inside rule values (``%252f`` became a wildcard). Every string comparison is a
``LIKE`` pattern with an explicit ``ESCAPE '\\'``:

* Sigma is case-insensitive by default -> ``ILIKE``; ``|cased`` -> ``LIKE``;
* the rule's literal ``%``, ``_`` and ``\\`` are escaped with ``\\`` (so they match only
  themselves), Sigma's ``*``/``?`` wildcards become ``%``/``_``;
* a quote is doubled (SQL's own escape; a backslash does not escape a quote in DuckDB);
* ``|re`` -> ``regexp_matches`` (RE2, flags as an ``(?i)`` prefix);
* numbers compare as numbers (``TRY_CAST``), ``|cidr`` expands to address prefixes;
* keyword values (no field) are substrings of ``raw_line`` (run.py reads lines back).

Values never reach the SQL unescaped: they come from rule files, which are user input.
"""

from __future__ import annotations

from typing import Any, ClassVar

from sigma.conditions import ConditionFieldEqualsValueExpression, ConditionValueExpression
from sigma.conversion.base import TextQueryBackend
from sigma.conversion.state import ConversionState
from sigma.exceptions import SigmaFeatureNotSupportedByBackendError
from sigma.types import (
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaRegularExpression,
    SigmaString,
    SpecialChars,
)

from forensics.sigma.fields import RAW_LINE

ESCAPE = "\\"


def like_literal(value: SigmaString) -> str:
    """``value`` as a quoted LIKE pattern for ``ESCAPE '\\'``."""
    pattern = value.convert(escape_char=ESCAPE, wildcard_multi="%", wildcard_single="_", add_escaped=ESCAPE)
    return "'" + pattern.replace("'", "''") + "'"


def quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class DuckDBBackend(TextQueryBackend):
    """Sigma rules to DuckDB boolean expressions (``WHERE`` clauses)."""

    name: ClassVar[str] = "forensics DuckDB backend"
    formats: ClassVar[dict[str, str]] = {"default": "DuckDB WHERE expression"}
    requires_pipeline: ClassVar[bool] = True

    group_expression: ClassVar[str] = "({expr})"
    token_separator: str = " "
    or_token: ClassVar[str] = "OR"
    and_token: ClassVar[str] = "AND"
    not_token: ClassVar[str] = "NOT"
    eq_token: ClassVar[str] = " = "
    field_quote: ClassVar[str] = '"'
    str_quote: ClassVar[str] = "'"
    escape_char: ClassVar[str] = ESCAPE
    wildcard_multi: ClassVar[str] = "%"
    wildcard_single: ClassVar[str] = "_"
    add_escaped: ClassVar[str] = ESCAPE
    compare_op_expression: ClassVar[str] = "TRY_CAST({field} AS DOUBLE) {operator} {value}"
    compare_operators: ClassVar[dict[Any, str]] = {
        SigmaCompareExpression.CompareOperators.LT: "<",
        SigmaCompareExpression.CompareOperators.LTE: "<=",
        SigmaCompareExpression.CompareOperators.GT: ">",
        SigmaCompareExpression.CompareOperators.GTE: ">=",
    }
    field_null_expression: ClassVar[str] = "{field} IS NULL"
    field_exists_expression: ClassVar[str] = "{field} IS NOT NULL"
    field_not_exists_expression: ClassVar[str] = "{field} IS NULL"

    def convert_condition_field_eq_val_str(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> Any:
        return self._like(self.escape_and_quote_field(cond.field), cond.value, "ILIKE")

    def convert_condition_field_eq_val_str_case_sensitive(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> Any:
        return self._like(self.escape_and_quote_field(cond.field), cond.value, "LIKE")

    def _like(self, column: str, value: object, op: str) -> str:
        if not isinstance(value, SigmaString):
            raise SigmaFeatureNotSupportedByBackendError(f"string comparison with {type(value).__name__}")
        # coalesce: a missing value (NULL) does not match, also under NOT
        return f"coalesce({column} {op} {like_literal(value)} ESCAPE '{ESCAPE}', false)"

    def convert_condition_field_eq_val_num(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> Any:
        return (
            f"coalesce(TRY_CAST({self.escape_and_quote_field(cond.field)} AS DOUBLE) = {cond.value}, false)"
        )

    def convert_condition_field_eq_val_re(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> Any:
        return self._regex(self.escape_and_quote_field(cond.field), cond.value)

    def _regex(self, column: str, value: object) -> str:
        if not isinstance(value, SigmaRegularExpression):
            raise SigmaFeatureNotSupportedByBackendError(f"regular expression with {type(value).__name__}")
        flags = "".join(sorted(SigmaRegularExpression.sigma_to_re_flag[f] for f in value.flags))
        regex = (f"(?{flags})" if flags else "") + value.to_plain()
        return f"coalesce(regexp_matches({column}, {quoted(regex)}), false)"

    def convert_condition_field_eq_val_cidr(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> Any:
        value = cond.value
        if not isinstance(value, SigmaCIDRExpression):
            raise SigmaFeatureNotSupportedByBackendError("cidr with a non-CIDR value")
        column = self.escape_and_quote_field(cond.field)
        parts = [self._like(column, SigmaString(p), "ILIKE") for p in value.expand(wildcard="*")]
        return "(" + " OR ".join(parts) + ")"

    def convert_condition_val_str(self, cond: ConditionValueExpression, state: ConversionState) -> Any:
        value = cond.value
        if not isinstance(value, SigmaString):
            raise SigmaFeatureNotSupportedByBackendError("keyword of an unknown type")
        op = "LIKE" if isinstance(value, SigmaCasedString) else "ILIKE"
        if not value.startswith(SpecialChars.WILDCARD_MULTI):
            value = SigmaString("*") + value
        if not value.endswith(SpecialChars.WILDCARD_MULTI):
            value = value + SigmaString("*")
        return self._like(RAW_LINE, value, op)

    def convert_condition_val_num(self, cond: ConditionValueExpression, state: ConversionState) -> Any:
        return self._like(RAW_LINE, SigmaString(f"*{cond.value}*"), "ILIKE")

    def convert_condition_val_re(self, cond: ConditionValueExpression, state: ConversionState) -> Any:
        return self._regex(RAW_LINE, cond.value)
