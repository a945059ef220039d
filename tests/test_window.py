"""Exposure window parsing: every accepted form with exact datetimes, every error."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from forensics.assess.window import Window, parse_window, unknown_zone_message, zone_suggestions
from forensics.errors import WindowError

LONDON = ZoneInfo("Europe/London")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        # Z and offsets (the example, end at +01:00 = 08:40 UTC)
        (
            "2023-03-14T16:20:00Z/2024-11-21T09:40:00+01:00",
            utc(2023, 3, 14, 16, 20),
            utc(2024, 11, 21, 8, 40),
        ),
        ("2024-01-01T10:00:00-05:00/2024-01-02T00:00Z", utc(2024, 1, 1, 15), utc(2024, 1, 2)),
        # basic format, reduced precision, space separator, fractions
        ("20240101T102000Z/20240101T1100Z", utc(2024, 1, 1, 10, 20), utc(2024, 1, 1, 11)),
        ("2024-01-01T10Z/2024-01-01 12:30+00:00", utc(2024, 1, 1, 10), utc(2024, 1, 1, 12, 30)),
        (
            "2024-01-01T00:00:00.25Z/2024-01-01T00:00:01Z",
            utc(2024, 1, 1, 0, 0, 0, 250000),
            utc(2024, 1, 1, 0, 0, 1),
        ),
        # dates only: whole UTC days, the end day included
        ("2024-01-01/2024-02-01", utc(2024, 1, 1), utc(2024, 2, 2)),
        ("2024-02-29/2024-02-29", utc(2024, 2, 29), utc(2024, 3, 1)),
        ("2024-01-01/2024-01-01T06:00Z", utc(2024, 1, 1), utc(2024, 1, 1, 6)),
        # durations after the start, before the end
        ("2024-01-01T00:00Z/P3DT12H", utc(2024, 1, 1), utc(2024, 1, 4, 12)),
        ("2024-01-01T00:00Z/PT90M", utc(2024, 1, 1), utc(2024, 1, 1, 1, 30)),
        ("2024-01-01T00:00Z/P2W", utc(2024, 1, 1), utc(2024, 1, 15)),
        ("2024-01-01T00:00Z/PT0.5H", utc(2024, 1, 1), utc(2024, 1, 1, 0, 30)),
        ("2024-01-01T00:00Z/P1DT1H1M1S", utc(2024, 1, 1), utc(2024, 1, 2, 1, 1, 1)),
        ("PT30M/2024-01-01T00:00Z", utc(2023, 12, 31, 23, 30), utc(2024, 1, 1)),
        ("2024-01-01/P1D", utc(2024, 1, 1), utc(2024, 1, 2)),
        # ISO 8601-2 double hyphen, surrounding blanks
        ("  2024-01-01T00:00Z--2024-01-02T00:00Z ", utc(2024, 1, 1), utc(2024, 1, 2)),
    ],
)
def test_accepted_forms(text: str, start: datetime, end: datetime) -> None:
    w = parse_window(text)
    assert (w.start, w.end) == (start, end)
    assert w.start.utcoffset() == timedelta(0) and w.end.utcoffset() == timedelta(0)


def test_default_zone_for_local_times() -> None:
    # London is UTC+0 in January and UTC+1 (BST) in July
    w = parse_window("2024-01-10T09:00/2024-07-10T09:00", tz=LONDON)
    assert (w.start, w.end) == (utc(2024, 1, 10, 9), utc(2024, 7, 10, 8))
    # explicit offsets win over tz
    w = parse_window("2024-07-10T09:00Z/2024-07-10T12:00", tz=LONDON)
    assert (w.start, w.end) == (utc(2024, 7, 10, 9), utc(2024, 7, 10, 11))


def test_tz_dates_are_local_days() -> None:
    # 2024-07-10 in London is 2024-07-09T23:00Z .. 2024-07-10T23:00Z
    w = parse_window("2024-07-10/2024-07-10", tz=LONDON)
    assert (w.start, w.end) == (utc(2024, 7, 9, 23), utc(2024, 7, 10, 23))


def test_ambiguous_local_time_takes_first_occurrence() -> None:
    # 2024-10-27 01:30 happens twice in London (BST then GMT); the first is 00:30 UTC
    w = parse_window("2024-10-27T01:30/PT1H", tz=LONDON)
    assert (w.start, w.end) == (utc(2024, 10, 27, 0, 30), utc(2024, 10, 27, 1, 30))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("2024-01-01T00:00Z", "not START/END"),
        ("2024-01-01T00:00Z/", "not START/END"),
        ("a/b/c", "not START/END"),
        ("2024-02-01/2024-01-01", "ends before it starts"),
        ("2024-01-01T10:00Z/2024-01-01T10:00Z", "ends before it starts"),
        ("2024-01-01T10:00Z/2024-01-01T09:00Z", "ends before it starts"),
        ("yesterday/2024-01-01T00:00Z", "window start 'yesterday'"),
        ("2024-01-01T00:00Z/2024-13-01T00:00Z", "window end '2024-13-01T00:00Z'"),
        ("2024-01-01T10:00/2024-01-02T00:00Z", "window start '2024-01-01T10:00' has no time zone: add Z"),
        ("2024-01-01T00:00Z/2024-01-02T10:00", "window end '2024-01-02T10:00' has no time zone"),
        ("2024-01-01T00:00Z/P1M", "years and months"),
        ("2024-01-01T00:00Z/P1Y", "years and months"),
        ("2024-01-01T00:00Z/P", "cannot read the duration 'P'"),
        ("2024-01-01T00:00Z/PT", "cannot read the duration 'PT'"),
        ("2024-01-01T00:00Z/P3X", "cannot read the duration"),
        ("P1D/P2D", "two durations"),
    ],
)
def test_errors(text: str, message: str) -> None:
    with pytest.raises(WindowError, match=message.replace("(", r"\(")):
        parse_window(text)


def test_nonexistent_local_time() -> None:
    # 01:30 on 2024-03-31 is skipped in London (clocks go 01:00 -> 02:00)
    with pytest.raises(WindowError, match="does not exist in Europe/London"):
        parse_window("2024-03-31T01:30/P1D", tz=LONDON)


def test_window_object() -> None:
    w = Window(datetime(2024, 1, 1, 1, tzinfo=timezone(timedelta(hours=1))), utc(2024, 1, 2, 0, 0, 0, 500))
    assert w.start == utc(2024, 1, 1) and w.start.tzinfo is UTC
    assert w.duration == timedelta(days=1, microseconds=500)
    assert w.to_dict() == {"start": "2024-01-01T00:00:00Z", "end": "2024-01-02T00:00:00.000500Z"}
    assert str(w) == "2024-01-01T00:00:00Z/2024-01-02T00:00:00.000500Z"
    assert w.contains(utc(2024, 1, 1)) and w.contains(utc(2024, 1, 2))
    assert not w.contains(utc(2024, 1, 2, 0, 0, 0, 500)) and not w.contains(utc(2023, 12, 31, 23, 59, 59))
    with pytest.raises(WindowError, match="no time zone"):
        w.contains(datetime(2024, 1, 1, 12))  # noqa: DTZ001
    with pytest.raises(WindowError, match="no time zone"):
        Window(datetime(2024, 1, 1), utc(2024, 1, 2))  # noqa: DTZ001
    with pytest.raises(WindowError, match="before or when it starts"):
        Window(utc(2024, 1, 2), utc(2024, 1, 1))


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("BST", ["Europe/London"]),
        ("bst", ["Europe/London"]),
        ("GMT", ["Europe/London", "UTC"]),
        ("CEST", ["Europe/Paris", "Europe/Berlin"]),
        ("EDT", ["America/New_York"]),
        ("PST", ["America/Los_Angeles"]),
        ("IST", ["Asia/Kolkata", "Europe/Dublin", "Asia/Jerusalem"]),
        ("europe/london", ["Europe/London"]),
        ("Europe/Londn", ["Europe/London"]),
        ("America/NewYork", ["America/New_York"]),
        ("London", ["Europe/London"]),
        ("utc", ["UTC"]),
        ("Mars/Olympus", []),
    ],
)
def test_zone_suggestions_are_iana_zones_that_match(typed: str, meant: list[str]) -> None:
    assert zone_suggestions(typed) == meant
    for zone in meant:
        ZoneInfo(zone)  # a real zone


def test_unknown_zone_message_names_the_suggestion() -> None:
    assert unknown_zone_message("BST") == (
        "unknown time zone 'BST'. Did you mean Europe/London? Use an IANA name such as Europe/London"
    )
    assert "Did you mean" not in unknown_zone_message("Mars/Olympus")
