"""Public holidays come from the holidays library, per country, and unknown countries are loud."""

from datetime import date

import pytest

from worker.core.holidays import UnknownCountry, holidays_for


def test_holidays_of_several_countries_and_years_are_combined() -> None:
    days = holidays_for(["in", "US"], range(2027, 2029))
    assert date(2027, 1, 26) in days  # Republic Day, India
    assert date(2028, 7, 4) in days  # Independence Day, United States
    assert date(2027, 3, 9) not in days


def test_the_same_question_is_answered_from_the_cache() -> None:
    assert holidays_for(["DE"], [2027]) is holidays_for(["de", "DE"], (2027,))


def test_an_unknown_country_is_reported() -> None:
    with pytest.raises(UnknownCountry, match="'XX'"):
        holidays_for(["XX"], [2027])


def test_no_countries_means_no_holidays() -> None:
    assert holidays_for([], [2027]) == frozenset()
