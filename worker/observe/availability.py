"""Read one `getSchedule` answer into the slot finder's terms: a zone, working hours, busy time.

Graph returns one `scheduleInformation` per requested address
(https://learn.microsoft.com/en-us/graph/api/resources/scheduleinformation): `scheduleItems`
(status, start, end as dateTimeTimeZone), a merged `availabilityView` string, the person's
`workingHours` (days, start/end times, a Windows/IANA-named or custom time zone), or an `error`
(freeBusyError: message, responseCode) when the address cannot be resolved
(https://learn.microsoft.com/en-us/graph/api/resources/freebusyerror,
https://learn.microsoft.com/en-us/graph/outlook-get-free-busy-schedule).

Choices, each the conservative reading where the docs are silent:

* Blocking statuses: `busy`, `oof`, `tentative` and `unknown`. Tentative blocks because an
  executive's tentative hold is usually a real commitment; unknown blocks because we cannot tell.
  `workingElsewhere` does not block: the person is working (Teams sessions are online), and Graph
  itself folds it into "0 = free" in availabilityView
  (https://learn.microsoft.com/en-us/graph/api/resources/scheduleinformation). Callers can pass
  their own `blocking` set. Status values are matched case-insensitively: the free/busy guide's
  sample shows "Busy"/"Tentative", the scheduleItem reference lists lower camel case.
* Busy time comes from `scheduleItems`. Only when there are none but the availabilityView shows
  non-free slots is the view used: digit i covers [window_start + i*interval, + interval);
  digits 0 free, 1 tentative, 2 busy, 3 oof, 4 working elsewhere, any other digit blocks. Without
  `window_start` such a view cannot be placed, so the person is reported as an error rather than
  treated as free.
* What cannot be read is the person's `ScheduleError` ("MalformedSchedule"), never free time
  and never a crash: `scheduleItems` that is not a list (null included: busy time unknown), an
  item that is not an object or has no readable start/end, a view with anything but digits,
  working hours without days, times or zone.
* Item times are read in the time zone each item names (the worker asks for UTC with
  `Prefer: outlook.timezone`), falling back to `response_zone` when an item names none.
* The person's zone is the working-hours zone: getSchedule returns no other.
* A schedule without `workingHours` is an error: guessing hours could book someone at night.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo
from typing import Any

from worker.core.freebusy import BusyTime
from worker.core.intervals import WorkingHours
from worker.core.timezones import UnknownTimeZone, zone_for

__all__ = [
    "DEFAULT_BLOCKING",
    "PersonSchedule",
    "ScheduleError",
    "parse_schedule_item",
]

DEFAULT_BLOCKING = frozenset({"busy", "oof", "tentative", "unknown"})
_VIEW_STATUS = {"0": "free", "1": "tentative", "2": "busy", "3": "oof", "4": "workingelsewhere"}
_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass(frozen=True)
class PersonSchedule:
    email: str
    zone: tzinfo
    working: WorkingHours
    busy: BusyTime  # sorted, merged, UTC (any iterable of `Interval` is turned into one)

    def __post_init__(self) -> None:
        if not isinstance(self.busy, BusyTime):
            object.__setattr__(self, "busy", BusyTime.of(self.busy))


@dataclass(frozen=True)
class ScheduleError:
    email: str
    code: str
    message: str


class _Malformed(ValueError):
    """Part of the item is not in the shape Graph documents."""


def parse_schedule_item(
    item: Mapping[str, Any],
    *,
    window_start: datetime | None = None,
    interval: timedelta = timedelta(minutes=15),
    response_zone: tzinfo = UTC,
    blocking: Iterable[str] = DEFAULT_BLOCKING,
) -> PersonSchedule | ScheduleError:
    """One `scheduleInformation` JSON object -> `PersonSchedule`, or `ScheduleError`.

    `window_start` and `interval` are the request's startTime and availabilityViewInterval; they
    are only needed to place an availabilityView that comes without scheduleItems.
    """
    email = str(item.get("scheduleId") or "")
    error = item.get("error")
    if error:
        details = error if isinstance(error, Mapping) else {"message": str(error)}
        return ScheduleError(
            email,
            str(details.get("responseCode") or "error"),
            str(details.get("message") or "free/busy not available"),
        )
    blocking_statuses = frozenset(s.lower() for s in blocking)
    try:
        working = _working_hours(item.get("workingHours"))
        items = item.get("scheduleItems")
        if not isinstance(items, list):
            raise _Malformed("scheduleItems is not a list: this person's busy time is unknown")
        busy = _busy_from_items(items, response_zone, blocking_statuses)
        view = item.get("availabilityView") or ""
        if not isinstance(view, str) or (view and not (view.isascii() and view.isdigit())):
            raise _Malformed("availabilityView is not a string of digits")
        if not busy and _view_blocks(view, blocking_statuses):
            if window_start is None:
                return ScheduleError(
                    email,
                    "AvailabilityViewUnplaced",
                    "availabilityView shows busy time but no scheduleItems, and the request "
                    "start is unknown",
                )
            busy = _busy_from_view(view, window_start, interval, blocking_statuses)
    except (_Malformed, UnknownTimeZone) as problem:
        return ScheduleError(email, "MalformedSchedule", str(problem))
    except (TypeError, ValueError, KeyError, AttributeError) as problem:
        # A part of the answer in a shape no check above foresaw (a custom zone's rules of
        # the wrong types, say): still this person's unreadable schedule, not a crash.
        return ScheduleError(email, "MalformedSchedule",
                             f"unreadable schedule ({type(problem).__name__})")
    return PersonSchedule(email, working.zone, working, BusyTime(busy))


def _working_hours(raw: object) -> WorkingHours:
    if not isinstance(raw, Mapping):
        raise _Malformed("no workingHours in the schedule")
    days = set()
    names = raw.get("daysOfWeek") or []
    if not isinstance(names, list):
        raise _Malformed("workingHours.daysOfWeek is not a list")
    for name in names:
        try:
            days.add(_DAYS.index(str(name).lower()))
        except ValueError as error:
            raise _Malformed(f"unknown day of week {name!r}") from error
    zone_spec = raw.get("timeZone")
    if not isinstance(zone_spec, str | Mapping):
        raise _Malformed("workingHours has no timeZone")
    hours = WorkingHours(
        days=frozenset(days),
        start=_time(raw.get("startTime"), "startTime"),
        end=_time(raw.get("endTime"), "endTime"),
        zone=zone_for(zone_spec),
    )
    # One object per distinct working hours: most people of a program share theirs.
    shared = _HOURS.setdefault(hours, hours) if len(_HOURS) < _HOURS_KEPT else _HOURS.get(hours)
    return shared or hours


_HOURS: dict[WorkingHours, WorkingHours] = {}
_HOURS_KEPT = 4096


def _time(value: object, field: str) -> time:
    try:
        return time.fromisoformat(str(value))
    except ValueError as error:
        raise _Malformed(f"workingHours.{field} {value!r} is not a time of day") from error


# Graph's own rendering of a UTC time (the worker asks for UTC): read without the checks.
_UTC_NAMES = frozenset({"UTC", "utc", "Etc/UTC"})


def _seconds(raw: object, default_zone: tzinfo, field: str) -> float:
    """A scheduleItem's start or end (a dateTimeTimeZone) as Unix seconds."""
    if type(raw) is dict:
        text = raw.get("dateTime")
        if type(text) is str and raw.get("timeZone") in _UTC_NAMES:
            known = _UTC_SECONDS.get(text)
            if known is not None:
                return known
            if len(text) == 27 and text[19] == ".":
                try:
                    seconds = datetime.fromisoformat(text[:26]).replace(tzinfo=UTC).timestamp()
                except ValueError:
                    pass  # the general reading below names the problem
                else:
                    if len(_UTC_SECONDS) >= _UTC_SECONDS_KEPT:
                        _UTC_SECONDS.clear()
                    _UTC_SECONDS[text] = seconds
                    return seconds
    return _moment(raw, default_zone, field).timestamp()


# UTC times already read: meetings start and end on a few thousand quarter hours of a run's
# window, shared by everyone's calendar (a program of 10,000 pairs reads millions of them).
_UTC_SECONDS: dict[str, float] = {}
_UTC_SECONDS_KEPT = 1 << 16


def _moment(raw: object, default_zone: tzinfo, field: str) -> datetime:
    if not isinstance(raw, Mapping) or "dateTime" not in raw:
        raise _Malformed(f"scheduleItem.{field} is not a dateTimeTimeZone")
    try:
        local = datetime.fromisoformat(str(raw["dateTime"]))
    except ValueError as error:
        raise _Malformed(f"scheduleItem.{field} {raw['dateTime']!r} is not a date-time") from error
    if local.tzinfo is not None:
        return local.astimezone(UTC)
    zone_name = raw.get("timeZone")
    zone = zone_for(zone_name) if isinstance(zone_name, str) and zone_name else default_zone
    return local.replace(tzinfo=zone).astimezone(UTC)


def _busy_from_items(
    items: Iterable[Any], zone: tzinfo, blocking: frozenset[str]
) -> list[tuple[float, float]]:
    busy: list[tuple[float, float]] = []
    for raw in items:
        if not isinstance(raw, Mapping):
            raise _Malformed("scheduleItems holds something that is not an object")
        status = raw.get("status") or "unknown"
        if status not in blocking and str(status).lower() not in blocking:
            continue
        start = _seconds(raw.get("start"), zone, "start")
        end = _seconds(raw.get("end"), zone, "end")
        if end > start:
            busy.append((start, end))
    return busy


def _view_blocks(view: str, blocking: frozenset[str]) -> bool:
    return any(_VIEW_STATUS.get(digit, "unknown") in blocking for digit in view)


def _busy_from_view(
    view: str, window_start: datetime, interval: timedelta, blocking: frozenset[str]
) -> list[tuple[float, float]]:
    if window_start.tzinfo is None:
        raise _Malformed("window_start must be timezone-aware")
    first = window_start.timestamp()
    step = interval.total_seconds()
    return [
        (first + i * step, first + (i + 1) * step)
        for i, digit in enumerate(view)
        if _VIEW_STATUS.get(digit, "unknown") in blocking
    ]
