"""Time zones as Outlook speaks them.

Graph names zones the Windows way ("Pacific Standard Time") and also accepts IANA names; a
mailbox may even carry a *custom* zone (bias plus standard/daylight transition rules) in its
working hours. Every calendar computation in the sandbox (rendering `Prefer: outlook.timezone`,
free/busy slots, working hours) goes through this one module so they agree.

Windows names are mapped with `tzlocal.windows_tz.win_tz`, a table generated from the Unicode
CLDR `windowsZones.xml`, never a hand-written list.

Sources:
- dateTimeTimeZone and the supported names:
  https://learn.microsoft.com/en-us/graph/api/resources/datetimetimezone
- customTimeZone, standardTimeZoneOffset, daylightTimeZoneOffset:
  https://learn.microsoft.com/en-us/graph/api/resources/customtimezone
- an unknown zone is 400 ``TimeZoneNotSupportedException`` "A valid TimeZone value must be
  specified. The following TimeZone value is not supported: '...'."
  (https://github.com/microsoftgraph/microsoft-graph-docs/issues/4758)
"""

from __future__ import annotations

import calendar as _calendar
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, tzinfo
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tzlocal.windows_tz import tz_win, win_tz

from graph.sandbox.core import GraphError

_DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_UTC_NAMES = {"utc", "coordinated universal time", "etc/utc", "etc/gmt", "gmt"}


def unsupported(name: str) -> GraphError:
    return GraphError(
        400,
        "TimeZoneNotSupportedException",
        "A valid TimeZone value must be specified. The following TimeZone value is not "
        f"supported: '{name}'.",
    )


@lru_cache(maxsize=512)
def _lookup(name: str) -> tzinfo | None:
    if name.lower() in _UTC_NAMES:
        return UTC
    iana = win_tz.get(name)
    if iana is None:
        # Windows names are matched case-insensitively by Exchange.
        for win_name, zone in win_tz.items():
            if win_name.lower() == name.lower():
                iana = zone
                break
    candidate = iana or name
    if "/" not in candidate and iana is None:
        return None
    try:
        return ZoneInfo(candidate)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def zone(name: str | None) -> tzinfo:
    """The tzinfo for a Windows or IANA zone name; Graph's 400 for anything else."""
    if not name:
        raise unsupported(name or "")
    found = _lookup(name.strip())
    if found is None:
        raise unsupported(name)
    return found


def is_supported(name: str) -> bool:
    return _lookup(name.strip()) is not None


def windows_name(iana: str) -> str | None:
    """The Windows name for an IANA zone (for data generation and display)."""
    return tz_win.get(iana)


class CustomZone(tzinfo):
    """A Graph `customTimeZone`: ``UTC = local + bias`` minutes, with optional DST rules.

    Transitions are given as "the Nth <weekday> of <month> at <time>" (N=5 meaning the last),
    in local standard time for the start of daylight time and local daylight time for its end,
    as Windows TIME_ZONE_INFORMATION defines them.
    """

    def __init__(self, spec: Mapping[str, Any]) -> None:
        self.spec = dict(spec)
        self.name = str(spec.get("name") or "Customized Time Zone")
        try:
            self.bias = int(spec.get("bias", 0))
            self.standard = _Transition.parse(spec.get("standardOffset"))
            self.daylight = _Transition.parse(spec.get("daylightOffset"))
            daylight_raw = spec.get("daylightOffset") or {}
            self.daylight_bias = int(daylight_raw.get("daylightBias", -60))
            self.standard_bias = int((spec.get("standardOffset") or {}).get("standardBias", 0))
        except (TypeError, ValueError) as exc:
            raise GraphError(
                400, "ErrorInvalidRequest", f"The custom time zone is invalid: {exc}"
            ) from exc

    def _is_dst(self, local: datetime) -> bool:
        if self.standard is None or self.daylight is None:
            return False
        naive = local.replace(tzinfo=None, fold=0)
        start = self.daylight.on(naive.year)
        end = self.standard.on(naive.year)
        # The hour before the end of daylight time happens twice; fold=1 is the second one.
        repeated = timedelta(minutes=self.standard_bias - self.daylight_bias)
        if local.fold == 1 and end - repeated <= naive < end:
            return False
        if start < end:  # northern hemisphere
            return start <= naive < end
        return not (end <= naive < start)

    def utcoffset(self, dt: datetime | None) -> timedelta:
        base = -self.bias - self.standard_bias
        if dt is not None and self._is_dst(dt):
            return timedelta(minutes=-self.bias - self.daylight_bias)
        return timedelta(minutes=base)

    def dst(self, dt: datetime | None) -> timedelta:
        if dt is not None and self._is_dst(dt):
            return timedelta(minutes=-self.daylight_bias)
        return timedelta(0)

    def tzname(self, dt: datetime | None) -> str:
        return self.name

    def fromutc(self, dt: datetime) -> datetime:
        # Standard-time transitions are stated in standard wall time and daylight ones in
        # daylight wall time, so test each boundary against the wall clock it is stated in.
        naive = dt.replace(tzinfo=None)
        standard = naive + timedelta(minutes=-self.bias - self.standard_bias)
        if self.daylight is None or self.standard is None:
            return standard.replace(tzinfo=self)
        daylight = naive + timedelta(minutes=-self.bias - self.daylight_bias)
        start = self.daylight.on(standard.year)
        end = self.standard.on(standard.year)
        if start < end:
            is_dst = start <= standard and daylight < end
        else:
            is_dst = not (end <= daylight and standard < start)
        if is_dst:
            return daylight.replace(tzinfo=self)
        repeated = timedelta(minutes=self.standard_bias - self.daylight_bias)
        fold = 1 if end - repeated <= standard < end else 0
        return standard.replace(tzinfo=self, fold=fold)


class _Transition:
    def __init__(self, month: int, occurrence: int, weekday: int, at: timedelta) -> None:
        self.month = month
        self.occurrence = occurrence
        self.weekday = weekday
        self.at = at

    @classmethod
    def parse(cls, raw: Any) -> _Transition | None:
        if not raw or not int(raw.get("month", 0) or 0):
            return None
        day = str(raw.get("dayOfWeek", "sunday")).lower()
        if day not in _DAYS:
            raise ValueError(f"unknown dayOfWeek '{day}'")
        return cls(
            int(raw["month"]),
            int(raw.get("dayOccurrence", 1)),
            _DAYS.index(day),
            parse_time_of_day(str(raw.get("time", "02:00:00"))),
        )

    def on(self, year: int) -> datetime:
        days_in_month = _calendar.monthrange(year, self.month)[1]
        first = datetime(year, self.month, 1)
        offset = (self.weekday - first.weekday()) % 7
        day = 1 + offset + 7 * (self.occurrence - 1)
        while day > days_in_month:  # occurrence 5 means "the last one"
            day -= 7
        return datetime(year, self.month, day) + self.at


_TIME = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?$")


def parse_time_of_day(text: str) -> timedelta:
    """``"08:30:00.0000000"`` -> 8h30m."""
    match = _TIME.match(text.strip())
    if not match:
        raise ValueError(f"invalid time of day '{text}'")
    hours, minutes, seconds = int(match[1]), int(match[2]), int(match[3] or 0)
    return timedelta(hours=hours, minutes=minutes, seconds=seconds)


def zone_from_graph(value: Any) -> tzinfo:
    """A zone from what Graph puts in `timeZone`: a name, or a customTimeZone object."""
    if isinstance(value, Mapping):
        odata_type = str(value.get("@odata.type", ""))
        if "customTimeZone" in odata_type or "bias" in value:
            return CustomZone(value)
        return zone(str(value.get("name", "")))
    return zone(str(value) if value is not None else "")


def mailbox_zone(mailbox_settings: Mapping[str, Any]) -> tzinfo:
    """A mailbox's own zone: a custom working-hours zone wins, else `timeZone`, else UTC."""
    working = mailbox_settings.get("workingHours") or {}
    wh_zone = working.get("timeZone") if isinstance(working, Mapping) else None
    if isinstance(wh_zone, Mapping) and ("bias" in wh_zone or "customTimeZone" in str(wh_zone)):
        return CustomZone(wh_zone)
    name = mailbox_settings.get("timeZone")
    if isinstance(name, str) and name and is_supported(name):
        return zone(name)
    if isinstance(wh_zone, Mapping) and wh_zone.get("name") and is_supported(wh_zone["name"]):
        return zone(str(wh_zone["name"]))
    return UTC


# --- dateTimeTimeZone -------------------------------------------------------------------------

_FRACTION = re.compile(r"(\.\d{6})\d+")
# Graph's own form, seven fraction digits and no offset: read without the general rewrites.
_GRAPH_FORM = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}")


def parse_local(text: str) -> datetime:
    """A Graph `dateTime` string (``2026-12-01T09:00:00.0000000``), offset dropped if given."""
    if _GRAPH_FORM.fullmatch(text):
        return datetime.fromisoformat(text[:26])
    raw = text.strip().replace("Z", "")
    raw = _FRACTION.sub(r"\1", raw)
    raw = re.sub(r"[+-]\d{2}:\d{2}$", "", raw)
    try:
        return datetime.fromisoformat(raw)
    except ValueError as exc:
        raise GraphError(
            400, "ErrorInvalidRequest", f"Cannot convert the literal '{text}' to a DateTime."
        ) from exc


def parse_dtz(value: Any, *, field: str = "dateTime") -> datetime:
    """A `dateTimeTimeZone` object -> an aware UTC datetime (400 if malformed)."""
    if not isinstance(value, Mapping) or "dateTime" not in value:
        raise GraphError(400, "ErrorInvalidRequest", f"The {field} property is required.")
    tz = zone(str(value.get("timeZone") or "UTC"))
    local = parse_local(str(value["dateTime"]))
    if local.tzinfo is None:
        local = local.replace(tzinfo=tz)
    return local.astimezone(UTC)


def format_local(instant: datetime, tz: tzinfo) -> str:
    """Graph's seven-digit fraction, no offset: ``2026-12-01T14:00:00.0000000``."""
    local = instant.astimezone(tz).replace(tzinfo=None)
    return local.isoformat(timespec="microseconds") + "0"


def to_dtz(instant: datetime, zone_name: str) -> dict[str, str]:
    return {"dateTime": format_local(instant, zone(zone_name)), "timeZone": zone_name}


_PREFER_TZ = re.compile(r'outlook\.timezone\s*=\s*"?([^"]+)"?', re.IGNORECASE)


def preferred_zone(prefer_values: list[str]) -> str | None:
    """The zone named by a ``Prefer: outlook.timezone="..."`` value, validated."""
    for value in prefer_values:
        match = _PREFER_TZ.search(value)
        if match:
            name = match.group(1).strip()
            zone(name)
            return name
    return None
