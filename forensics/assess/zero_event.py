"""The zero-event bound for uncovered time ("rule of three"), with the sentence the report prints.

When no qualifying event is observed in covered time ``T_c``, the one-sided 95% upper bound on a
Poisson rate is ``-ln(0.05) / T_c ≈ 3 / T_c``; a detector that finds a true event with
probability ``s`` (sensitivity, measured by injecting known attacks) weakens it to
``3 / (s·T_c)``. Carried to the uncovered time ``T_u`` — assuming the rate there was the same,
which nobody can check — the expected count is at most ``3·T_u / (s·T_c)`` and the chance of at
least one event there at most ``1 - exp(-3·T_u / (s·T_c))``. One year of logs for a six-year
window bounds the uncovered five years at 15 events: no reassurance at all, and the sentence says
so. Without covered time no statement is possible; without uncovered time there is nothing to
carry over.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from forensics.errors import CoverageError

RULE_OF_THREE = 3.0  # -ln(0.05) = 2.996: the 95% upper bound on a Poisson count after zero events
DAY_S = 86400.0
MAX_NAMED_GAPS = 3  # the sentence names the longest gaps; the rest are counted
DASH = " \u2013 "  # en dash between the ends of a period
NO_REASSURANCE_EXPECTED = 1.0  # a bound of >= 1 event in uncovered time reassures nobody


class Period(Protocol):
    @property
    def start(self) -> datetime: ...
    @property
    def end(self) -> datetime: ...


@dataclass(frozen=True)
class ZeroEventBound:
    """The numbers behind the statement; the rate and counts are None when ``T_c`` is 0."""

    covered_s: float
    uncovered_s: float
    sensitivity: float
    rate_per_day: float | None  # 95% upper bound on qualifying events per day of covered time
    expected_uncovered: float | None  # upper bound on the expected count in uncovered time
    p_any_uncovered: float | None  # upper bound on P(at least one event in uncovered time)
    statement: str

    def to_dict(self) -> dict[str, object]:
        return {
            "covered_s": self.covered_s,
            "uncovered_s": self.uncovered_s,
            "sensitivity": self.sensitivity,
            "rate_per_day": self.rate_per_day,
            "expected_uncovered": self.expected_uncovered,
            "p_any_uncovered": self.p_any_uncovered,
            "statement": self.statement,
        }


def zero_event_bound(
    covered_s: float, uncovered_s: float, sensitivity: float = 1.0, gaps: Sequence[Period] = ()
) -> ZeroEventBound:
    """Rule-of-three bound for ``covered_s`` seconds without a qualifying event (see module doc).

    ``gaps`` (objects with ``start``/``end``) only name the uncovered periods in the sentence.
    """
    if covered_s < 0 or uncovered_s < 0:
        raise CoverageError(f"durations cannot be negative (covered {covered_s}, uncovered {uncovered_s})")
    if not 0 < sensitivity <= 1:
        raise CoverageError(f"detector sensitivity must be in (0, 1], got {sensitivity}")
    unknown = _unknown(gaps, uncovered_s)
    if covered_s == 0:
        statement = unknown + " Without covered time no statistical statement about the window is possible."
        return ZeroEventBound(covered_s, uncovered_s, sensitivity, None, None, None, statement)
    rate = RULE_OF_THREE / (sensitivity * covered_s)
    expected = rate * uncovered_s
    p_any = -math.expm1(-expected)
    assumption = "" if sensitivity == 1 else f" at detector sensitivity {sensitivity:g}"
    observed = (
        f"With no qualifying event in the {human_duration(covered_s)} of covered time, the 95% upper "
        f"bound on their rate is {_num(rate * DAY_S)} per day (rule of three{assumption})."
    )
    if uncovered_s == 0:
        statement = "The logs cover the whole window. " + observed
    else:
        carried = (
            f" Assuming the same rate in the uncovered {human_duration(uncovered_s)}, up to "
            f"{_num(expected)} events could have happened there unseen (chance of at least one: "
            f"up to {_percent(p_any)})"
        )
        verdict = (
            " — the covered time gives no reassurance about the uncovered time."
            if expected >= NO_REASSURANCE_EXPECTED
            else "."
        )
        statement = f"{unknown} {observed}{carried}{verdict}"
    return ZeroEventBound(covered_s, uncovered_s, sensitivity, rate * DAY_S, expected, p_any, statement)


def events_observed(covered_s: float, uncovered_s: float, gaps: Sequence[Period] = ()) -> ZeroEventBound:
    """The statement when qualifying events *were* observed: the zero-event bound does not apply
    (it bounds what could have gone unseen when nothing was seen), so no rate or count is given."""
    if covered_s < 0 or uncovered_s < 0:
        raise CoverageError(f"durations cannot be negative (covered {covered_s}, uncovered {uncovered_s})")
    observed = (
        "Qualifying events were observed in covered time (see the verdict and the findings), so the "
        "zero-event bound (rule of three) does not apply: it bounds what could have gone unseen only "
        "when nothing was seen."
    )
    if uncovered_s == 0:
        statement = f"The logs cover the whole window. {observed}"
    else:
        statement = (
            f"{_unknown(gaps, uncovered_s)} {observed} Time without logs can only add to what the logs show."
        )
    return ZeroEventBound(covered_s, uncovered_s, 1.0, None, None, None, statement)


def human_duration(seconds: float) -> str:
    """'5.2 years', '323 days', '10.0 hours', '45 minutes' — rounded for prose (exact numbers go in JSON)."""
    if seconds >= 730 * DAY_S:
        return f"{seconds / DAY_S / 365.25:.1f} years"
    if seconds >= 2 * DAY_S:
        return f"{seconds / DAY_S:.0f} days"
    if seconds >= 7200:
        return f"{seconds / 3600:.1f} hours"
    return f"{seconds / 60:.0f} minutes"


def period_text(start: datetime, end: datetime) -> str:
    """'2023-03-14 to 2024-02-01' for long periods, '2024-01-05 12:00 to 22:00 UTC' for short (en dash)."""
    if end - start >= timedelta(days=2):
        return f"{start:%Y-%m-%d}{DASH}{end:%Y-%m-%d}"
    tail = f"{end:%H:%M}" if end.date() == start.date() else f"{end:%Y-%m-%d %H:%M}"
    return f"{start:%Y-%m-%d %H:%M}{DASH}{tail} UTC"


def _unknown(gaps: Sequence[Period], uncovered_s: float) -> str:
    """'No logs exist for …' — and for gaps of kind ``unparsed`` (coverage.py), that logs exist there
    but were not parsed, with the count of rejected lines and what to do."""
    unparsed = [g for g in gaps if getattr(g, "kind", None) == "unparsed"]
    if not unparsed:
        where = _periods(gaps, uncovered_s)
        return f"No logs exist for {where}; we can neither confirm nor exclude access then."
    silent = [g for g in gaps if getattr(g, "kind", None) != "unparsed"]
    lines = sum(int(getattr(g, "rejected_lines", 0)) for g in unparsed)
    parts = [f"No logs exist for {_periods(silent, _length(silent))}."] if silent else []
    there = "that period" if len(unparsed) == 1 else "those periods"
    parts.append(
        f"For {_periods(unparsed, _length(unparsed))} logs exist but were not parsed: {lines:,} "
        f"rejected log line{'s' if lines != 1 else ''} fall in {there} "
        "(a changed layout or corrupt lines; see `forensics sources`, then `forensics forget` the file "
        "and ingest it again with --log-format or --format)."
    )
    return " ".join(parts) + " We can neither confirm nor exclude access then."


def _length(gaps: Sequence[Period]) -> float:
    return sum((g.end - g.start).total_seconds() for g in gaps)


def _periods(gaps: Sequence[Period], uncovered_s: float) -> str:
    total = human_duration(uncovered_s)
    if not gaps:
        return f"{total} of the window"
    if len(gaps) == 1:
        return f"{period_text(gaps[0].start, gaps[0].end)} ({total})"
    longest = sorted(gaps, key=lambda g: (-(g.end - g.start), g.start))[:MAX_NAMED_GAPS]
    named = ", ".join(
        f"{period_text(g.start, g.end)} ({human_duration((g.end - g.start).total_seconds())})"
        for g in sorted(longest, key=lambda g: g.start)
    )
    rest = len(gaps) - len(longest)
    more = f" and {rest} shorter gap{'s' if rest > 1 else ''}" if rest else ""
    return f"{named}{more} — {total} in all"


def _num(x: float) -> str:
    return f"{x:.3g}" if x < 1000 else f"{x:,.0f}"


def _percent(p: float) -> str:
    if p > 0.999:
        return "more than 99.9%"
    if p < 0.001:
        return "less than 0.1%"
    return f"{p:.1%}"
