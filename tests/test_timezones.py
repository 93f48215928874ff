"""Graph time zones become tzinfo objects that agree with the IANA database."""

from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from worker.core.timezones import (
    CustomTimeZone,
    UnknownTimeZone,
    abbreviation,
    zone_for,
    zone_label,
)


def _rule(month: int, occurrence: int, at: str, **extra: Any) -> dict[str, Any]:
    return {
        "time": at,
        "dayOccurrence": occurrence,
        "dayOfWeek": "sunday",
        "month": month,
        "year": 0,
        **extra,
    }


def _custom(
    bias: int, daylight_bias: int, to_dst: dict[str, Any], to_std: dict[str, Any]
) -> dict[str, Any]:
    return {
        "@odata.type": "#microsoft.graph.customTimeZone",
        "bias": bias,
        "name": "Customized Time Zone",
        "standardOffset": to_std,
        "daylightOffset": {**to_dst, "daylightBias": daylight_bias},
    }


US_EASTERN = _custom(300, -60, _rule(3, 2, "02:00:00.0000000"), _rule(11, 1, "02:00:00.0000000"))
# Windows' "W. Europe Standard Time" rule: last Sunday of March / October (dayOccurrence 5).
EU_CENTRAL = _custom(-60, -60, _rule(3, 5, "02:00:00"), _rule(10, 5, "03:00:00"))
# Southern hemisphere: daylight time spans the new year.
SYDNEY = _custom(-600, -60, _rule(10, 1, "02:00:00"), _rule(4, 1, "03:00:00"))


def _assert_same_zone_all_year(custom: tzinfo, reference: ZoneInfo, year: int) -> None:
    moment = datetime(year, 1, 1, tzinfo=UTC)
    while moment.year == year:
        ours, theirs = moment.astimezone(custom), moment.astimezone(reference)
        assert (ours.replace(tzinfo=None), ours.fold) == (theirs.replace(tzinfo=None), theirs.fold)
        assert ours.utcoffset() == theirs.utcoffset()
        wall = moment.replace(tzinfo=None)
        for fold in (0, 1):
            assert (
                wall.replace(tzinfo=custom, fold=fold).utcoffset()
                == wall.replace(tzinfo=reference, fold=fold).utcoffset()
            ), (wall, fold)
        moment += timedelta(minutes=30)


def test_windows_names_map_to_their_iana_zones() -> None:
    assert zone_for("Pacific Standard Time") == ZoneInfo("America/Los_Angeles")
    assert zone_for("W. Europe Standard Time") == ZoneInfo("Europe/Berlin")
    assert zone_for("GMT Standard Time") == ZoneInfo("Europe/London")
    assert zone_for("Central Standard Time") == ZoneInfo("America/Chicago")
    assert zone_for("Eastern Standard Time") == ZoneInfo("America/New_York")
    assert zone_label(zone_for("Singapore Standard Time")) == "Asia/Singapore"


def test_iana_names_and_utc_are_accepted_as_they_are() -> None:
    assert zone_for("Asia/Kolkata") == ZoneInfo("Asia/Kolkata")
    assert zone_for("UTC") is UTC
    assert zone_for({"name": "Pacific Standard Time"}) == ZoneInfo("America/Los_Angeles")


@pytest.mark.parametrize("name", ["Mars Standard Time", "", "../etc/passwd", "Europe/Atlantis"])
def test_unknown_names_raise_a_clear_error(name: str) -> None:
    with pytest.raises(UnknownTimeZone, match="unknown time zone"):
        zone_for(name)


def test_an_object_without_name_or_bias_is_refused() -> None:
    with pytest.raises(UnknownTimeZone):
        zone_for({"@odata.type": "#microsoft.graph.timeZoneBase"})


def test_india_and_singapore_never_change_their_clocks() -> None:
    india, singapore = zone_for("India Standard Time"), zone_for("Singapore Standard Time")
    for month in range(1, 13):
        moment = datetime(2027, month, 15, 12, tzinfo=UTC)
        assert moment.astimezone(india).utcoffset() == timedelta(hours=5, minutes=30)
        assert moment.astimezone(singapore).utcoffset() == timedelta(hours=8)


def test_us_and_eu_change_on_different_sundays() -> None:
    eastern, berlin = zone_for("Eastern Standard Time"), zone_for("W. Europe Standard Time")

    def hours_apart(moment: datetime) -> timedelta:
        return moment.astimezone(berlin).replace(tzinfo=None) - moment.astimezone(eastern).replace(
            tzinfo=None
        )

    assert hours_apart(datetime(2027, 3, 10, 12, tzinfo=UTC)) == timedelta(hours=6)
    assert hours_apart(datetime(2027, 3, 20, 12, tzinfo=UTC)) == timedelta(hours=5)  # US only
    assert hours_apart(datetime(2027, 4, 5, 12, tzinfo=UTC)) == timedelta(hours=6)


def test_custom_zone_equal_to_us_eastern_matches_new_york_every_hour_of_2027() -> None:
    _assert_same_zone_all_year(zone_for(US_EASTERN), ZoneInfo("America/New_York"), 2027)


def test_last_sunday_rules_match_berlin_and_southern_rules_match_sydney() -> None:
    _assert_same_zone_all_year(zone_for(EU_CENTRAL), ZoneInfo("Europe/Berlin"), 2027)
    _assert_same_zone_all_year(zone_for(SYDNEY), ZoneInfo("Australia/Sydney"), 2027)


def test_the_pacific_sample_from_the_getschedule_guide_reads_as_pacific_time() -> None:
    # bias 480 / daylightBias -60, exactly as the free/busy guide's response shows.
    pacific = zone_for(
        _custom(480, -60, _rule(3, 2, "02:00:00.0000000"), _rule(11, 1, "02:00:00.0000000"))
    )
    assert datetime(2027, 1, 10, 12, tzinfo=UTC).astimezone(pacific).hour == 4
    assert datetime(2027, 7, 10, 12, tzinfo=UTC).astimezone(pacific).hour == 5


def test_custom_zone_without_daylight_saving_is_a_fixed_offset() -> None:
    india = zone_for(
        {
            "@odata.type": "#microsoft.graph.customTimeZone",
            "bias": -330,
            "name": "Customized Time Zone",
            "standardOffset": _rule(0, 1, "00:00:00"),
            "daylightOffset": {**_rule(0, 1, "00:00:00"), "daylightBias": 0},
        }
    )
    assert isinstance(india, CustomTimeZone)
    assert datetime(2027, 6, 1, tzinfo=UTC).astimezone(india).utcoffset() == timedelta(
        hours=5, minutes=30
    )
    assert india.tzname(None) == "Customized Time Zone"


def test_equal_custom_zones_compare_equal() -> None:
    assert zone_for(US_EASTERN) == zone_for(dict(US_EASTERN))
    assert zone_for(US_EASTERN) != zone_for(EU_CENTRAL)


def test_a_custom_zone_with_a_broken_rule_is_refused() -> None:
    broken = _custom(300, -60, _rule(3, 9, "02:00:00"), _rule(11, 1, "02:00:00"))
    with pytest.raises(UnknownTimeZone, match="dayOccurrence"):
        zone_for(broken)
    with pytest.raises(UnknownTimeZone, match="bias"):
        zone_for({"@odata.type": "#microsoft.graph.customTimeZone", "bias": "west"})



def test_an_abbreviation_is_the_zone_name_or_the_offset_for_a_long_custom_name() -> None:
    assert abbreviation(datetime(2027, 1, 11, 12, tzinfo=ZoneInfo("America/New_York"))) == "EST"
    assert abbreviation(datetime(2027, 1, 11, 12, tzinfo=zone_for(US_EASTERN))) == "UTC-0500"
    assert abbreviation(datetime(2027, 7, 11, 12, tzinfo=zone_for(US_EASTERN))) == "UTC-0400"
