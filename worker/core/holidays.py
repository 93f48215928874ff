"""Public holidays per country, so no session lands on a day off for either person.

The `holidays` library knows national holidays for ISO 3166 alpha-2 country codes; subdivisions
(states, cantons) are deliberately not used: the directory only tells us a country
(`usageLocation`). The planner asks for the same few countries and years for every pair, so the
answer is cached.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from functools import lru_cache

import holidays

__all__ = ["UnknownCountry", "holidays_for"]


class UnknownCountry(ValueError):
    """A country code the holidays library has no calendar for."""

    def __init__(self, country: str) -> None:
        super().__init__(f"no public holiday calendar for country {country!r}")
        self.country = country


def holidays_for(countries: Iterable[str], years: Iterable[int]) -> frozenset[date]:
    """Every national public holiday of any of `countries` in any of `years`."""
    country_key = tuple(sorted({c.strip().upper() for c in countries if c and c.strip()}))
    year_key = tuple(sorted(set(years)))
    return _holidays_for(country_key, year_key)


@lru_cache(maxsize=256)
def _holidays_for(countries: tuple[str, ...], years: tuple[int, ...]) -> frozenset[date]:
    days: set[date] = set()
    for country in countries:
        days |= _country(country, years)
    return frozenset(days)


@lru_cache(maxsize=256)
def _country(country: str, years: tuple[int, ...]) -> frozenset[date]:
    if not years:
        return frozenset()
    try:
        calendar = holidays.country_holidays(country, years=years)
    except NotImplementedError as error:  # the library's way of saying "unknown country"
        raise UnknownCountry(country) from error
    return frozenset(calendar.keys())
