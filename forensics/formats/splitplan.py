"""A faster way into the same fields: split on quotes and spaces instead of running the regex.

For layouts like combined (``%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"``) a line
is quote-separated segments whose unquoted parts are space-separated words. DuckDB's
``string_split`` does that ~3x faster than RE2 with capture groups (measured: 0.42 s against
1.4 s for 500k lines). The plan only accepts a line when the split leaves no doubt — exact
segment and word counts, literals equal, each value valid for its kind, no quoted value ending
in a backslash (an escaped quote) — so an accepted line yields
exactly what the strict regex would (tests compare them on mutated real lines). Every other
line goes to the regexes.
"""

from __future__ import annotations

from dataclasses import dataclass

from forensics.formats.layout import KIND_RE, Field
from forensics.formats.sqltext import sql_str

SPLITTABLE_KINDS = {"token", "int", "status", "number", "epoch", "iso_time", "clf_time", "addr_port"}


@dataclass(frozen=True)
class Word:
    """One space-separated word of an unquoted segment: a literal, or a field with affixes."""

    prefix: str
    field: Field | None
    suffix: str


def _segments(tokens: tuple[str | Field, ...]) -> list[list[str | Field]]:
    """Tokens split at every double quote in the literals."""
    segs: list[list[str | Field]] = [[]]
    for tok in tokens:
        if isinstance(tok, Field):
            segs[-1].append(tok)
            continue
        pieces = tok.split('"')
        for i, piece in enumerate(pieces):
            if i:
                segs.append([])
            if piece:
                segs[-1].append(piece)
    return segs


def _words(seg: list[str | Field]) -> list[Word] | None:
    """Words of an unquoted segment, or None when a word holds two fields."""
    words: list[list[str | Field]] = [[]]
    for tok in seg:
        if isinstance(tok, Field):
            words[-1].append(tok)
            continue
        for i, piece in enumerate(tok.split(" ")):
            if i:
                words.append([])
            if piece:
                words[-1].append(piece)
    out = []
    for parts in words:
        fields = [p for p in parts if isinstance(p, Field)]
        if len(fields) > 1:
            return None
        if not fields:
            out.append(Word("".join(str(p) for p in parts), None, ""))
            continue
        at = parts.index(fields[0])
        out.append(
            Word("".join(str(p) for p in parts[:at]), fields[0], "".join(str(p) for p in parts[at + 1 :]))
        )
    return out


def plan_sql(tokens: tuple[str | Field, ...], names: list[str]) -> tuple[str, str, str] | None:
    """(relation columns, acceptance condition, struct of field values), or None if unsuitable.

    The first element lists extra columns to compute from ``line`` (``_q``, ``_w1`` …); the
    condition and struct refer to them.
    """
    segs = _segments(tokens)
    fields = [t for t in tokens if isinstance(t, Field)]
    values: dict[int, str] = {}
    conds = [f"len(_q) = {len(segs)}"]
    cols = ["string_split(line, '\"') AS _q"]
    for s, seg in enumerate(segs):
        q = f"_q[{s + 1}]"
        if s % 2:  # inside quotes: exactly one field
            if len(seg) != 1 or not isinstance(seg[0], Field):
                return None
            values[fields.index(seg[0])] = q
            conds.append(_quoted_ok(seg[0], q))
            continue
        words = _words(seg)
        if words is None:
            return None
        cols.append(f"string_split({q}, ' ') AS _w{s}")
        got = _word_values(words, f"_w{s}", fields, values, conds)
        if got is None:
            return None
        conds.append(f"len(_w{s}) = {got}")
    struct = "struct_pack(" + ", ".join(f"{n} := {values[i]}" for i, n in enumerate(names)) + ")"
    return ", ".join(cols), " AND ".join(conds), struct


def _word_values(
    words: list[Word], arr: str, fields: list[Field], values: dict[int, str], conds: list[str]
) -> int | None:
    """Fill values/conds for one segment's words; returns how many actual words it spans."""
    pos = 1
    for w in words:
        if w.field is None:
            conds.append(f"{arr}[{pos}] = {sql_str(w.prefix)}")
            pos += 1
            continue
        kind = w.field.spec.kind
        if kind not in SPLITTABLE_KINDS:
            return None
        if kind == "clf_time":  # "[10/Oct/2000:13:55:36 -0700]" is two words
            first, second = f"{arr}[{pos}]", f"{arr}[{pos + 1}]"
            conds += [f"starts_with({first}, {sql_str(w.prefix)})", f"suffix({second}, {sql_str(w.suffix)})"]
            v = (
                f"substr({first}, {len(w.prefix) + 1}) || ' ' || "
                f"left({second}, length({second}) - {len(w.suffix)})"
            )
            conds.append(f"NOT contains({v}, ']')")
            pos += 2
        else:
            word = f"{arr}[{pos}]"
            v = word
            if w.prefix or w.suffix:
                conds += [f"starts_with({word}, {sql_str(w.prefix)})", f"suffix({word}, {sql_str(w.suffix)})"]
                v = f"substr({word}, {len(w.prefix) + 1}, length({word}) - {len(w.prefix) + len(w.suffix)})"
            if kind != "token":
                conds.append(f"regexp_full_match({v}, {sql_str(KIND_RE[kind])})")
            pos += 1
        values[fields.index(w.field)] = v
    return pos - 1


def _quoted_ok(field: Field, v: str) -> str:
    if field.spec.kind in ("int", "status", "number", "epoch"):
        return f"regexp_full_match({v}, {sql_str(KIND_RE[field.spec.kind])})"
    return f"NOT suffix({v}, '\\')"
