"""One getSchedule answer becomes a person's zone, working hours and busy time."""

from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from worker.core.intervals import Interval
from worker.observe.availability import PersonSchedule, ScheduleError, parse_schedule_item

WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday"]


def _at(text: str) -> dict[str, str]:
    return {"dateTime": text, "timeZone": "UTC"}


def _item(status: str, start: str, end: str) -> dict[str, Any]:
    return {"status": status, "start": _at(start), "end": _at(end)}


def _schedule(items: list[dict[str, Any]], view: str = "", zone: Any = None) -> dict[str, Any]:
    return {
        "scheduleId": "Ava@Contoso.com",
        "availabilityView": view,
        "scheduleItems": items,
        "workingHours": {
            "daysOfWeek": WEEKDAYS,
            "startTime": "08:00:00.0000000",
            "endTime": "17:00:00.0000000",
            "timeZone": zone or {"name": "Eastern Standard Time"},
        },
    }


def _parsed(raw: dict[str, Any], **kwargs: Any) -> PersonSchedule:
    result = parse_schedule_item(raw, **kwargs)
    assert isinstance(result, PersonSchedule), result
    return result


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_working_hours_and_zone_come_from_the_schedule() -> None:
    schedule = _parsed(_schedule([]))
    assert schedule.email == "Ava@Contoso.com"
    assert schedule.zone == ZoneInfo("America/New_York")
    assert schedule.working.days == frozenset(range(5))
    assert (schedule.working.start, schedule.working.end) == (time(8), time(17))
    assert schedule.busy == ()


def test_busy_oof_tentative_and_unknown_block_but_free_and_working_elsewhere_do_not() -> None:
    schedule = _parsed(
        _schedule(
            [
                _item("busy", "2027-03-01T14:00:00.0000000", "2027-03-01T15:00:00.0000000"),
                _item("Tentative", "2027-03-02T14:00:00.0000000", "2027-03-02T15:00:00.0000000"),
                _item("oof", "2027-03-03T00:00:00.0000000", "2027-03-04T00:00:00.0000000"),
                _item("unknown", "2027-03-05T09:00:00.0000000", "2027-03-05T09:30:00.0000000"),
                _item("free", "2027-03-08T14:00:00.0000000", "2027-03-08T15:00:00.0000000"),
                _item(
                    "workingElsewhere", "2027-03-09T00:00:00.0000000", "2027-03-10T00:00:00.0000000"
                ),
            ]
        )
    )
    assert [b.start.day for b in schedule.busy] == [1, 2, 3, 5]


def test_overlapping_and_touching_busy_items_are_merged() -> None:
    schedule = _parsed(
        _schedule(
            [
                _item("busy", "2027-03-01T15:00:00", "2027-03-01T16:00:00"),
                _item("busy", "2027-03-01T14:00:00", "2027-03-01T15:00:00"),
                _item("busy", "2027-03-01T15:30:00", "2027-03-01T17:00:00"),
            ]
        )
    )
    assert schedule.busy == (Interval(_utc("2027-03-01T14:00"), _utc("2027-03-01T17:00")),)


def test_item_times_are_read_in_the_zone_each_item_names() -> None:
    item = {
        "status": "Busy",
        "start": {"dateTime": "2018-08-06T11:00:00.0000000", "timeZone": "Pacific Standard Time"},
        "end": {"dateTime": "2018-08-06T13:00:00.0000000", "timeZone": "Pacific Standard Time"},
    }
    schedule = _parsed(_schedule([item]))
    assert schedule.busy == (Interval(_utc("2018-08-06T18:00"), _utc("2018-08-06T20:00")),)


def test_the_free_busy_guide_sample_with_a_custom_pacific_zone() -> None:
    custom = {
        "@odata.type": "#microsoft.graph.customTimeZone",
        "bias": 480,
        "name": "Customized Time Zone",
        "standardOffset": {
            "time": "02:00:00.0000000",
            "dayOccurrence": 1,
            "dayOfWeek": "sunday",
            "month": 11,
            "year": 0,
        },
        "daylightOffset": {
            "daylightBias": -60,
            "time": "02:00:00.0000000",
            "dayOccurrence": 2,
            "dayOfWeek": "sunday",
            "month": 3,
            "year": 0,
        },
    }
    schedule = _parsed(_schedule([], zone=custom))
    nine_pacific = datetime(2018, 8, 6, 9, tzinfo=schedule.working.zone)
    assert nine_pacific.astimezone(UTC) == _utc("2018-08-06T16:00")


def test_an_error_item_becomes_a_schedule_error() -> None:
    # Shape as Graph answers an address it cannot resolve (microsoft-graph-docs issue 11225).
    raw = {
        "scheduleId": "ghost@contoso.com",
        "error": {
            "message": "Unable to resolve e-mail address ghost@contoso.com to an Active "
            "Directory object.",
            "responseCode": "5009",
        },
    }
    result = parse_schedule_item(raw)
    assert result == ScheduleError(
        "ghost@contoso.com",
        "5009",
        "Unable to resolve e-mail address ghost@contoso.com to an Active Directory object.",
    )


def test_availability_view_is_the_fallback_when_there_are_no_items() -> None:
    start = _utc("2027-03-01T13:00")
    schedule = _parsed(_schedule([], view="0022004000001"), window_start=start)
    assert schedule.busy == (
        Interval(_utc("2027-03-01T13:30"), _utc("2027-03-01T14:00")),
        Interval(_utc("2027-03-01T16:00"), _utc("2027-03-01T16:15")),
    )


def test_an_all_free_view_without_items_means_free() -> None:
    assert _parsed(_schedule([], view="0000")).busy == ()


def test_a_busy_view_that_cannot_be_placed_is_an_error_not_free_time() -> None:
    result = parse_schedule_item(_schedule([], view="0220"))
    assert isinstance(result, ScheduleError)
    assert result.code == "AvailabilityViewUnplaced"


def test_missing_working_hours_or_unknown_zones_are_reported() -> None:
    raw = _schedule([])
    del raw["workingHours"]
    missing = parse_schedule_item(raw)
    assert isinstance(missing, ScheduleError) and "workingHours" in missing.message
    strange = parse_schedule_item(_schedule([], zone={"name": "Atlantis Standard Time"}))
    assert isinstance(strange, ScheduleError) and strange.code == "MalformedSchedule"


def test_windows_zone_names_in_working_hours_are_understood() -> None:
    schedule = _parsed(_schedule([], zone={"name": "India Standard Time"}))
    moment = datetime(2027, 3, 1, 9, tzinfo=schedule.zone)
    assert moment.utcoffset() == timedelta(hours=5, minutes=30)
