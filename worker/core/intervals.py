"""Time ranges and weekly working hours: the vocabulary every stage shares.

Graph's free/busy (observed), the slot finder and the nudge policy (planned) all speak of
half-open UTC intervals and of a person's working hours read in their own zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, tzinfo


@dataclass(frozen=True)
class Interval:
    """A half-open time range [start, end); both ends aware, stored in UTC."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("Interval needs timezone-aware datetimes")
        if self.end < self.start:
            raise ValueError(f"Interval ends before it starts: {self.start} > {self.end}")
        object.__setattr__(self, "start", self.start.astimezone(UTC))
        object.__setattr__(self, "end", self.end.astimezone(UTC))

    def overlaps(self, other: Interval) -> bool:
        return self.start < other.end and other.start < self.end


@dataclass(frozen=True)
class WorkingHours:
    """The same hours on each working day (0 = Monday), read in `zone`.

    An `end` at or before `start` means the span runs past midnight into the next day.
    """

    days: frozenset[int]
    start: time
    end: time
    zone: tzinfo
