"""Quoting for the few literals (regexes, zone names, JSON paths) formats write into SQL."""

from __future__ import annotations


def sql_str(value: str) -> str:
    """A DuckDB string literal. Standard SQL strings have no backslash escapes: only ' doubles."""
    return "'" + value.replace("'", "''") + "'"


def sql_list(values: list[str]) -> str:
    return "[" + ", ".join(sql_str(v) for v in values) + "]"
