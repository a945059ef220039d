"""Apache ``%{format}t`` pieces combined into one timestamp.

mod_log_config "Custom Log Formats", row ``%{format}t``: an extended strftime(3) format, or one
of the tokens ``sec``, ``msec``, ``usec`` (since the Epoch), ``msec_frac``, ``usec_frac``
(fraction of the second); tokens cannot be combined in one format string, "You can use
multiple %{format}t tokens instead", e.g. ``%{%d/%b/%Y %T}t.%{msec_frac}t %{%z}t``. A
``begin:`` prefix (the default) is the time the request was received, ``end:`` the time the
log entry was written (close to the end of the request).

Every piece of the layout is read; one instant is made of them: the ``begin:`` pieces when
they give a full instant, else the ``end:`` ones (ts then holds the end of the request). In
the chosen group a ``%t``-style or epoch piece is the instant; otherwise the strftime pieces
together must give year, month, day, hour and minute (a ``%z`` among them makes the instant
exact; without one the zone comes from ``--tz``). A fraction piece adds to a whole-second
instant. Pieces not used go to ``extra`` under their directive. A layout whose pieces give no
full instant is refused.
"""

from __future__ import annotations

from dataclasses import replace

from forensics.errors import LogFormatError
from forensics.formats import times
from forensics.formats.layoutspec import (
    Field,
    FieldSpec,
    strftime_fixed_width,
    strftime_regex,
    strftime_tells,
)
from forensics.formats.sqltext import sql_str

EPOCH = ("sec", "msec", "usec")
FRACTIONS = ("usec_frac", "msec_frac")  # the finer one first
NEEDED = "ymdHM"  # year, month, day, hour, minute (seconds default to 0)


def _when(arg: str) -> tuple[bool, str]:
    """(end?, the format after a begin:/end: prefix); "begin"/"end" alone is the CLF form."""
    for word in ("begin", "end"):
        if arg == word:
            return word == "end", ""
        if arg.startswith(word + ":"):
            return word == "end", arg[len(word) + 1 :]
    return False, arg


def time_field(name: str, arg: str, text: str) -> Field:
    """The Field of ``%{arg}t`` (column ``ts``; ``plan`` decides how it is used)."""
    _, fmt = _when(arg)
    if fmt == "":
        return Field(name, FieldSpec("ts", "clf_time"))
    if fmt in EPOCH:
        return Field(name, FieldSpec("ts", "epoch"), fmt)
    if fmt in FRACTIONS:
        return Field(name, FieldSpec("ts", fmt))
    try:
        strftime_regex(fmt)
    except LogFormatError as exc:
        raise LogFormatError(f"layout {text!r}: {name}: {exc}") from exc
    return Field(name, FieldSpec("ts", "strftime"), fmt)


def is_end(field: Field) -> bool:
    """An ``end:`` piece: the time the log entry was written, not the request received."""
    arg = field.name[field.name.find("{") + 1 : field.name.rfind("}")] if "{" in field.name else ""
    return _when(arg)[0]


def fixed_width(field: Field) -> bool:
    """A time piece whose text always has the same length: another field may touch it."""
    kind = field.spec.kind
    return kind in FRACTIONS or (kind == "strftime" and strftime_fixed_width(field.arg))


def plan(tokens: list[str | Field], text: str) -> tuple[list[str | Field], tuple[Field, ...]]:
    """Tokens with the chosen time pieces marked (the first ``ts``, the others ``ts_part``)
    and the pieces not used moved to ``extra``; and the chosen pieces, in layout order."""
    pieces = [t for t in tokens if isinstance(t, Field) and t.spec.column == "ts"]
    begin = [f for f in pieces if not is_end(f)]
    end = [f for f in pieces if is_end(f)]
    chosen = _choose(begin) or _choose(end)
    if chosen is None:
        names = " ".join(f.name for f in pieces)
        raise LogFormatError(
            f"layout {text!r}: the time pieces {names} do not make a full date and time "
            "(year, month, day, hour and minute, taken at the same begin:/end: moment); "
            "add the missing part, e.g. %{%Y-%m-%d}t, or log %t"
        )
    out: list[str | Field] = []
    marked: list[Field] = []
    for tok in tokens:
        if isinstance(tok, Field) and tok in pieces:
            column = ("ts" if not marked else "ts_part") if tok in chosen else "extra"
            tok = replace(tok, spec=replace(tok.spec, column=column))
            if column != "extra":
                marked.append(tok)
        out.append(tok)
    return out, tuple(marked)


def _choose(group: list[Field]) -> list[Field] | None:
    fracs = [f for k in FRACTIONS for f in group if f.spec.kind == k][:1]
    whole = [f for f in group if f.spec.kind in ("clf_time", "epoch")][:1]
    if whole:
        exact = whole[0].spec.kind == "clf_time" or whole[0].arg == "sec"
        return whole + (fracs if exact else [])
    parts = [f for f in group if f.spec.kind == "strftime"]
    told = {c for f in parts for c in strftime_tells(f.arg)}
    if not parts or not set(NEEDED) <= told:
        return None
    return parts + fracs


def naive(parts: tuple[Field, ...]) -> bool:
    """True when the chosen pieces are local time with no UTC offset (--tz needed)."""
    return parts[0].spec.kind == "strftime" and not any("%z" in f.arg for f in parts)


def time_sql(parts: tuple[Field, ...], refs: list[str], tz: str | None) -> tuple[str, str]:
    """(UTC TIMESTAMPTZ, offset minutes) SQL from the chosen pieces' texts ``refs``."""
    kinds = [f.spec.kind for f in parts]
    base = [(f, r) for f, r in zip(parts, refs, strict=True) if f.spec.kind not in FRACTIONS]
    if kinds[0] == "clf_time":
        ts, off = times.clf_time(refs[0])
    elif kinds[0] == "epoch":
        ts, off = times.epoch_time(refs[0])
    else:
        text = " || '|' || ".join(r for _, r in base)
        fmt = "|".join(f.arg for f, _ in base)
        zoned = [(f, r) for f, r in base if "%z" in f.arg][:1]
        offset = None
        if zoned:
            f, r = zoned[0]
            offset = f"regexp_extract({r}, {sql_str('^' + strftime_regex(f.arg, '%z') + '$')}, 1)"
        ts, off = times.strftime_time(text, fmt, tz, offset)
    for f, r in zip(parts, refs, strict=True):
        if f.spec.kind in FRACTIONS:
            unit = 1000 if f.spec.kind == "msec_frac" else 1
            ts = f"({ts} + to_microseconds(TRY_CAST({r} AS BIGINT) * {unit}))"
    return ts, off
