"""Turn the time zones Microsoft Graph speaks into Python `tzinfo` objects.

Graph names time zones three ways, and the slot finder must understand all of them to know when a
person's working day starts:

* Windows names ("Pacific Standard Time", "W. Europe Standard Time"): mapped to IANA through the
  CLDR table that `tzlocal` maintains (`tzlocal.windows_tz.win_tz`), never a hand-written table;
* IANA names ("Europe/Berlin") and "UTC";
* a `customTimeZone` object (in `workingHours.timeZone`) that carries the raw Windows rule: a bias
  and two yearly transitions ("second Sunday of March at 02:00").
  https://learn.microsoft.com/en-us/graph/api/resources/customtimezone
  https://learn.microsoft.com/en-us/graph/api/resources/standardtimezoneoffset
  https://learn.microsoft.com/en-us/graph/api/resources/daylighttimezoneoffset

The sign of `bias`: the customTimeZone reference page says zones ahead of UTC have a positive
bias, but the getSchedule walk-through shows a real response for a Pacific user with
`"bias": 480, "daylightBias": -60`
(https://learn.microsoft.com/en-us/graph/outlook-get-free-busy-schedule). That is the Windows
TIME_ZONE_INFORMATION convention the value comes from: UTC = local + bias (+ daylightBias during
daylight time). We follow the observed response: Pacific is bias 480, India would be -330.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tzlocal.windows_tz import win_tz

__all__ = ["CustomTimeZone", "UnknownTimeZone", "zone_for", "zone_label"]

_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_UTC_NAMES = frozenset({"utc", "etc/utc", "z", "gmt", "coordinated universal time"})


class UnknownTimeZone(ValueError):
    """A time zone name or object that cannot be turned into a tzinfo."""

    def __init__(self, zone: object, reason: str) -> None:
        super().__init__(f"unknown time zone {zone!r}: {reason}")
        self.zone = zone
        self.reason = reason


def zone_for(graph_zone: str | Mapping[str, Any]) -> tzinfo:
    """Return the tzinfo for a Graph time zone: a Windows or IANA name, or a timeZoneBase object.

    Raises `UnknownTimeZone` for anything that is not a known zone.
    """
    if isinstance(graph_zone, str):
        return _zone_for_name(graph_zone)
    if isinstance(graph_zone, Mapping):
        odata_type = str(graph_zone.get("@odata.type", ""))
        if odata_type.endswith("customTimeZone") or "bias" in graph_zone:
            return _shared(CustomTimeZone.from_graph(graph_zone))
        name = graph_zone.get("name")
        if isinstance(name, str):
            return _zone_for_name(name)
        raise UnknownTimeZone(graph_zone, "neither a name nor a customTimeZone")
    raise UnknownTimeZone(graph_zone, "expected a name or a timeZoneBase object")


# Custom zones read so far, one object per distinct zone: thousands of people of a program
# share a few zones, and the slot finder's caches compare and hash them all the time.
_CUSTOM: dict[tuple[object, str], CustomTimeZone] = {}
_CUSTOM_KEPT = 1024


def _shared(zone: CustomTimeZone) -> CustomTimeZone:
    key = (zone._key, zone.name)
    found = _CUSTOM.get(key)
    if found is not None:
        return found
    if len(_CUSTOM) < _CUSTOM_KEPT:
        _CUSTOM[key] = zone
    return zone


@lru_cache(maxsize=512)
def _zone_for_name(name: str) -> tzinfo:
    key = name.strip()
    if not key:
        raise UnknownTimeZone(name, "empty name")
    if key.lower() in _UTC_NAMES:
        return UTC
    iana = win_tz.get(key)
    if iana is not None:
        return _iana(name, iana)
    return _iana(name, key)


def _iana(original: str, key: str) -> ZoneInfo:
    try:
        return ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError) as error:
        # ValueError: keys like "../etc" that zoneinfo refuses outright.
        raise UnknownTimeZone(original, "not a Windows or IANA time zone name") from error


def abbreviation(local: datetime) -> str:
    """A short name for the zone of an aware local time ("EST", "CEST"); a custom zone's long
    name ("Customized Time Zone") reads worse than its offset, so that becomes "UTC-0500"."""
    name = local.tzname() or ""
    return name if 0 < len(name) <= 5 else local.strftime("UTC%z")


def zone_label(zone: tzinfo) -> str:
    """A short human name for a zone, for reports ("America/New_York", "UTC")."""
    if isinstance(zone, ZoneInfo):
        return zone.key
    if isinstance(zone, CustomTimeZone):
        return zone.name
    return zone.tzname(None) or repr(zone)


# --- customTimeZone -------------------------------------------------------------------------


_TIME_RE = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?$")


def _parse_time(value: object, where: str) -> time:
    match = _TIME_RE.match(str(value)) if value is not None else None
    if match is None:
        raise UnknownTimeZone(value, f"{where}: time must look like 02:00:00.0000000")
    hour, minute, second = int(match[1]), int(match[2]), int(match[3] or 0)
    if hour > 23 or minute > 59 or second > 59:
        raise UnknownTimeZone(value, f"{where}: time out of range")
    return time(hour, minute, second)


class _Rule:
    """One yearly transition: the n-th (5 = last) weekday of a month at a local wall time."""

    __slots__ = ("at", "month", "occurrence", "weekday")

    def __init__(self, spec: Mapping[str, Any], where: str) -> None:
        try:
            self.month = int(spec["month"])
            self.occurrence = int(spec["dayOccurrence"])
            self.weekday = _WEEKDAYS.index(str(spec["dayOfWeek"]).lower())
        except (KeyError, TypeError, ValueError) as error:
            raise UnknownTimeZone(
                dict(spec), f"{where}: needs month, dayOccurrence and dayOfWeek"
            ) from error
        if not 1 <= self.month <= 12 or not 1 <= self.occurrence <= 5:
            raise UnknownTimeZone(dict(spec), f"{where}: month 1-12 and dayOccurrence 1-5")
        self.at = _parse_time(spec.get("time", "00:00:00"), where)

    def key(self) -> tuple[int, int, int, time]:
        return (self.month, self.occurrence, self.weekday, self.at)

    def wall(self, year: int) -> datetime:
        """The naive local wall time of this transition in `year`."""
        first = date(year, self.month, 1)
        day = first + timedelta(days=(self.weekday - first.weekday()) % 7)
        day += timedelta(weeks=self.occurrence - 1)
        while day.month != self.month:  # occurrence 5 means "last": step back into the month
            day -= timedelta(weeks=1)
        return datetime.combine(day, self.at)


class CustomTimeZone(tzinfo):
    """A Graph customTimeZone as a real tzinfo (PEP 495 folds included).

    Offsets: standard = -bias, daylight = -(bias + daylightBias) minutes. The daylight rule's
    wall time is read on the standard clock and the standard rule's on the daylight clock, as
    Windows does (US: 02:00 EST jumps to 03:00 EDT; 02:00 EDT falls back to 01:00 EST).
    `year` in the offsets is treated as "every year" (0 is the only value the docs explain).
    """

    def __init__(
        self,
        name: str,
        bias_minutes: int,
        daylight_bias_minutes: int = 0,
        to_daylight: _Rule | None = None,
        to_standard: _Rule | None = None,
    ) -> None:
        self.name = name
        self.std_offset = timedelta(minutes=-bias_minutes)
        has_dst = daylight_bias_minutes != 0 and to_daylight is not None and to_standard is not None
        self._to_daylight = to_daylight if has_dst else None
        self._to_standard = to_standard if has_dst else None
        self.dst_offset = timedelta(minutes=-(bias_minutes + daylight_bias_minutes))
        if not has_dst:
            self.dst_offset = self.std_offset
        self._delta = self.dst_offset - self.std_offset
        self._years: dict[int, tuple[datetime, datetime]] = {}
        self._key = (
            self.std_offset,
            self.dst_offset,
            to_daylight.key() if self._to_daylight and to_daylight else None,
            to_standard.key() if self._to_standard and to_standard else None,
        )
        self._hash = hash(self._key)
        for offset in (self.std_offset, self.dst_offset):
            if abs(offset) >= timedelta(hours=24):
                raise UnknownTimeZone(name, "offset must be under 24 hours")

    @classmethod
    def from_graph(cls, spec: Mapping[str, Any]) -> CustomTimeZone:
        try:
            bias = int(spec["bias"])
        except (KeyError, TypeError, ValueError) as error:
            raise UnknownTimeZone(dict(spec), "customTimeZone needs an integer bias") from error
        name = str(spec.get("name") or "Customized Time Zone")
        daylight = spec.get("daylightOffset")
        standard = spec.get("standardOffset")
        if not isinstance(daylight, Mapping) or not isinstance(standard, Mapping):
            return cls(name, bias)
        if not daylight.get("month") or not standard.get("month"):
            return cls(name, bias)  # month 0: Windows' way of saying "no daylight saving time"
        try:
            daylight_bias = int(daylight.get("daylightBias", 0))
        except (TypeError, ValueError) as error:
            raise UnknownTimeZone(dict(spec), "daylightBias must be an integer") from error
        return cls(
            name,
            bias,
            daylight_bias,
            _Rule(daylight, "daylightOffset"),
            _Rule(standard, "standardOffset"),
        )

    # Transitions, both expressed on the standard clock so one comparison tells the period.
    def _transitions(self, year: int) -> tuple[datetime, datetime]:
        """The year's start and end of daylight time on the standard clock, remembered (a
        plan converts hundreds of thousands of times; a zone sees a handful of years)."""
        found = self._years.get(year)
        if found is None:
            assert self._to_daylight is not None and self._to_standard is not None
            found = (self._to_daylight.wall(year), self._to_standard.wall(year) - self._delta)
            self._years[year] = found
        return found

    def _in_dst_standard_clock(self, std_wall: datetime) -> bool:
        if self._to_daylight is None or self._to_standard is None:
            return False
        start, end = self._transitions(std_wall.year)
        if start <= end:
            return start <= std_wall < end
        return std_wall >= start or std_wall < end  # southern hemisphere: DST spans new year

    def _offset_for_wall(self, wall: datetime, fold: int) -> timedelta:
        if self._delta == timedelta(0):
            return self.std_offset
        valid_std = not self._in_dst_standard_clock(wall)
        valid_dst = self._in_dst_standard_clock(wall - self._delta)
        if valid_std and valid_dst:  # repeated hour: fold 0 is the earlier instant
            larger, smaller = sorted((self.std_offset, self.dst_offset), reverse=True)
            return larger if fold == 0 else smaller
        if valid_std:
            return self.std_offset
        if valid_dst:
            return self.dst_offset
        # Skipped hour: fold 0 uses the offset in force before the jump (PEP 495).
        smaller, larger = sorted((self.std_offset, self.dst_offset))
        return smaller if fold == 0 else larger

    def utcoffset(self, dt: datetime | None) -> timedelta:
        if dt is None:
            return self.std_offset
        return self._offset_for_wall(dt.replace(tzinfo=None), dt.fold)

    def dst(self, dt: datetime | None) -> timedelta:
        return self.utcoffset(dt) - self.std_offset

    def tzname(self, dt: datetime | None) -> str:
        return self.name

    def fromutc(self, dt: datetime) -> datetime:
        if dt.tzinfo is not self:
            raise ValueError("fromutc: dt.tzinfo is not self")
        utc = dt.replace(tzinfo=None)
        in_dst = self._in_dst_standard_clock(utc + self.std_offset)
        offset, other = (
            (self.dst_offset, self.std_offset) if in_dst else (self.std_offset, self.dst_offset)
        )
        wall = utc + offset
        # The same wall time is also valid under the other offset and that reading is an earlier
        # instant: this is the second pass through a repeated hour.
        other_valid = (
            self._in_dst_standard_clock(wall - self._delta)
            if other == self.dst_offset
            else not self._in_dst_standard_clock(wall)
        )
        fold = 1 if other != offset and other_valid and wall - other < utc else 0
        return wall.replace(tzinfo=self, fold=fold)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CustomTimeZone) and self._key == other._key

    def __hash__(self) -> int:
        return self._hash  # remembered: zones are keys of the slot finder's caches

    def __repr__(self) -> str:
        return f"CustomTimeZone({self.name!r}, std={self.std_offset}, dst={self.dst_offset})"
