"""The exposure window: an ISO 8601 time interval as responders type it.

Accepted forms (``parse_window``):

* ``START/END`` — each a date-time with ``Z`` or an offset
  (``2023-03-14T16:20:00Z/2024-11-21T09:40:00+01:00``); basic format (``20240101T102000Z``),
  reduced precision (``2024-01-01T10Z``), fractions and a space for ``T`` are accepted too;
* dates only (``2024-01-01/2024-02-01``): whole days, the end day included — the window runs
  from the start day's midnight to the midnight after the end day. Days are UTC days, or days
  in ``tz`` when one is given;
* ``START/DURATION`` and ``DURATION/END`` with ``PnW``, ``PnD``, ``TnH``, ``nM``, ``nS``
  (``2024-01-01T00:00Z/P3DT12H``). Years and months are refused: their length is ambiguous;
* ``--`` instead of ``/`` (ISO 8601-2 allows it for file names).

A date-time without an offset is an error unless ``tz`` (a ``ZoneInfo``) is given, then it is a
local time in that zone; a local time that does not exist (skipped by a DST change) is an error,
an ambiguous one (repeated by a DST change) takes its first occurrence.

The window is half-open: ``start <= ts < end``. Everything is stored in UTC.
"""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from forensics.errors import WindowError, closest

_NUM = r"(\d+(?:[.,]\d+)?)"
DURATION_RE = re.compile(
    rf"P(?:{_NUM}W)?(?:{_NUM}D)?(?:T(?:{_NUM}H)?(?:{_NUM}M)?(?:{_NUM}S)?)?", re.IGNORECASE
)
_DURATION_UNITS = ("weeks", "days", "hours", "minutes", "seconds")


# Abbreviations people type for a zone, which are not IANA names (or are legacy fixed-offset ones
# that ignore summer time), and the IANA zones they usually mean; suggested, never applied.
ZONE_ABBREVIATIONS: dict[str, tuple[str, ...]] = {
    "BST": ("Europe/London",),
    "GMT": ("Europe/London", "UTC"),
    "IST": ("Asia/Kolkata", "Europe/Dublin", "Asia/Jerusalem"),
    "WET": ("Europe/Lisbon",),
    "WEST": ("Europe/Lisbon",),
    "CET": ("Europe/Paris", "Europe/Berlin"),
    "CEST": ("Europe/Paris", "Europe/Berlin"),
    "MET": ("Europe/Paris", "Europe/Berlin"),
    "EET": ("Europe/Athens", "Europe/Helsinki"),
    "EEST": ("Europe/Athens", "Europe/Helsinki"),
    "MSK": ("Europe/Moscow",),
    "EST": ("America/New_York",),
    "EDT": ("America/New_York",),
    "CST": ("America/Chicago", "Asia/Shanghai"),
    "CDT": ("America/Chicago",),
    "MST": ("America/Denver", "America/Phoenix"),
    "MDT": ("America/Denver",),
    "PST": ("America/Los_Angeles",),
    "PDT": ("America/Los_Angeles",),
    "AKST": ("America/Anchorage",),
    "AKDT": ("America/Anchorage",),
    "HST": ("Pacific/Honolulu",),
    "JST": ("Asia/Tokyo",),
    "KST": ("Asia/Seoul",),
    "HKT": ("Asia/Hong_Kong",),
    "SGT": ("Asia/Singapore",),
    "AEST": ("Australia/Sydney", "Australia/Brisbane"),
    "AEDT": ("Australia/Sydney",),
    "ACST": ("Australia/Adelaide", "Australia/Darwin"),
    "AWST": ("Australia/Perth",),
    "NZST": ("Pacific/Auckland",),
    "NZDT": ("Pacific/Auckland",),
    "SAST": ("Africa/Johannesburg",),
}
_ZONE_AREAS: tuple[str, ...] = ("Africa/", "America/", "Antarctica/", "Arctic/", "Asia/", "Atlantic/")
_ZONE_AREAS += ("Australia/", "Europe/", "Indian/", "Pacific/")


def zone_suggestions(name: str) -> list[str]:
    """IANA zone names a mistyped or abbreviated ``--tz`` value probably meant (may be empty):
    the usual zones of an abbreviation (BST -> Europe/London), else the closest Area/City names."""
    text = name.strip()
    if text.upper() in ZONE_ABBREVIATIONS:
        return list(ZONE_ABBREVIATIONS[text.upper()])
    zones = {z.lower(): z for z in zoneinfo.available_timezones() if z.startswith(_ZONE_AREAS) or z == "UTC"}
    if text.lower() in zones:
        return [zones[text.lower()]]
    close = closest(text.lower(), zones, n=1, cutoff=0.75)
    if close:
        return [zones[close[0]]]
    cities = {z.rsplit("/", 1)[1].lower(): z for z in sorted(zones.values()) if "/" in z}  # London
    close = closest(text.lower().replace(" ", "_"), cities, n=1, cutoff=0.75)
    return [cities[c] for c in close]


def unknown_zone_message(name: str) -> str:
    """What to say about a ``--tz`` value that is not an IANA zone."""
    close = zone_suggestions(name)
    hint = f" Did you mean {' or '.join(close)}?" if close else ""
    return f"unknown time zone {name!r}.{hint} Use an IANA name such as Europe/London"


def iso_z(ts: datetime) -> str:
    """ISO 8601 in UTC with a 'Z' (seconds precision unless there are microseconds)."""
    u = ts.astimezone(UTC)
    spec = "microseconds" if u.microsecond else "seconds"
    return u.replace(tzinfo=None).isoformat(timespec=spec) + "Z"


@dataclass(frozen=True)
class Window:
    """A half-open UTC interval ``[start, end)``."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            value = getattr(self, name)
            if value.tzinfo is None or value.utcoffset() is None:
                raise WindowError(f"window {name} {value} has no time zone; give an aware datetime")
            object.__setattr__(self, name, value.astimezone(UTC))
        if self.end <= self.start:
            raise WindowError(
                f"the window ends ({iso_z(self.end)}) before or when it starts ({iso_z(self.start)}); "
                "write START/END with the earlier time first"
            )

    @property
    def duration(self) -> timedelta:
        return self.end - self.start

    def contains(self, ts: datetime) -> bool:
        """True when ``start <= ts < end`` (``ts`` must be timezone-aware)."""
        if ts.tzinfo is None or ts.utcoffset() is None:
            raise WindowError(f"{ts} has no time zone; compare aware datetimes only")
        return self.start <= ts < self.end

    def to_dict(self) -> dict[str, str]:
        return {"start": iso_z(self.start), "end": iso_z(self.end)}

    def __str__(self) -> str:
        return f"{iso_z(self.start)}/{iso_z(self.end)}"


def parse_window(text: str, tz: tzinfo | None = None) -> Window:
    """Parse an ISO 8601 interval (see the module docstring) into a UTC ``Window``."""
    s = text.strip()
    if not s:
        raise WindowError("the window is empty; give START/END, e.g. 2024-01-01T00:00Z/2024-02-01T00:00Z")
    parts = s.split("/") if "/" in s else s.split("--")
    if len(parts) != 2 or not all(p.strip() for p in parts):
        raise WindowError(
            f"window {s!r} is not START/END (ISO 8601 interval), e.g. 2023-03-14T16:20:00Z/2024-11-21T09:40Z"
        )
    first, second = (p.strip() for p in parts)
    first_is_duration = first[:1] in "Pp"
    second_is_duration = second[:1] in "Pp"
    if first_is_duration and second_is_duration:
        raise WindowError(f"window {s!r} gives two durations; one end must be a date or date-time")
    if first_is_duration:
        end = _point(second, tz, "end", is_end=True)
        return Window(end - _duration(first), end)
    start = _point(first, tz, "start", is_end=False)
    if second_is_duration:
        return Window(start, start + _duration(second))
    end = _point(second, tz, "end", is_end=True)
    if end <= start:
        raise WindowError(
            f"the window {s!r} ends before it starts; write START/END with the earlier time first"
        )
    return Window(start, end)


def _point(text: str, tz: tzinfo | None, which: str, *, is_end: bool) -> datetime:
    """One end of the interval as an aware UTC datetime."""
    day = _date_only(text)
    if day is not None:
        if is_end:
            day += timedelta(days=1)  # the end day is included: up to the next midnight
        return _localise(datetime.combine(day, time()), tz or UTC, text, which)
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise WindowError(
            f"cannot read the window {which} {text!r}: {exc}; use ISO 8601 such as 2024-01-01T10:20:00Z"
        ) from exc
    if value.tzinfo is not None:
        return value.astimezone(UTC)
    if tz is None:
        raise WindowError(
            f"the window {which} {text!r} has no time zone: add Z (UTC) or an offset such as +01:00, "
            "or give --tz for local times"
        )
    return _localise(value, tz, text, which)


def _date_only(text: str) -> date | None:
    if "T" in text.upper() or " " in text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _localise(naive: datetime, tz: tzinfo, text: str, which: str) -> datetime:
    aware = naive.replace(tzinfo=tz)
    utc = aware.astimezone(UTC)
    if utc.astimezone(tz).replace(tzinfo=None) != naive:
        raise WindowError(f"the window {which} {text!r} does not exist in {tz} (skipped by a DST change)")
    return utc


def _duration(text: str) -> timedelta:
    m = DURATION_RE.fullmatch(text)
    if not m or not any(m.groups()) or text.upper().endswith("T"):
        hint = " (years and months have no fixed length: give days)" if re.search(r"[YM]", text) else ""
        raise WindowError(
            f"cannot read the duration {text!r}{hint}; use ISO 8601 such as P30D, PT12H or P1DT6H30M"
        )
    values = {
        unit: float(v.replace(",", ".")) for unit, v in zip(_DURATION_UNITS, m.groups(), strict=True) if v
    }
    return timedelta(**values)
