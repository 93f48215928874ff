"""Busy time held compactly: one person's sorted, merged busy spans as two arrays of seconds.

A full executive calendar over a run's free/busy window is a few hundred spans, and a program
of 10,000 pairs reads 20,000 of them. As `Interval` objects (two datetimes each) that is about
200 bytes a span; here it is 16 (two signed 64-bit Unix seconds). The slot finder asks only for
the few spans near the days it searches (`between`, a binary search), and gets datetimes back
for just those.

Ends are whole seconds: a start is rounded down and an end up, so a span is never shorter than
what Graph reported (free/busy in Outlook is kept to the minute anyway).
"""

from __future__ import annotations

import bisect
import math
from array import array
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

from worker.core.intervals import Interval

__all__ = ["BusyTime", "seconds"]

Span = tuple[datetime, datetime]


def seconds(moment: datetime) -> float:
    """Unix seconds of an aware datetime."""
    return moment.timestamp()


def _moment(value: int) -> datetime:
    return datetime.fromtimestamp(value, UTC)


class BusyTime:
    """Sorted, merged (overlapping or touching spans joined), half-open UTC busy spans."""

    __slots__ = ("_ends", "_starts")

    def __init__(self, pairs: Iterable[tuple[float, float]] = ()) -> None:
        """From (start, end) Unix seconds in any order; empty spans are dropped."""
        starts = array("q")
        ends = array("q")
        for start, end in sorted((math.floor(s), math.ceil(e)) for s, e in pairs if e > s):
            if ends and start <= ends[-1]:
                if end > ends[-1]:
                    ends[-1] = end
            else:
                starts.append(start)
                ends.append(end)
        self._starts = starts
        self._ends = ends

    @classmethod
    def of(cls, busy: Iterable[Interval] | BusyTime) -> BusyTime:
        if isinstance(busy, BusyTime):
            return busy
        return cls((i.start.timestamp(), i.end.timestamp()) for i in busy)

    def between(self, lo: datetime, hi: datetime) -> list[Span]:
        """The spans overlapping [lo, hi), whole (not clipped), as aware UTC datetimes."""
        first = bisect.bisect_right(self._ends, math.floor(lo.timestamp()))
        last = bisect.bisect_left(self._starts, math.ceil(hi.timestamp()), lo=first)
        return [(_moment(self._starts[i]), _moment(self._ends[i])) for i in range(first, last)]

    def seconds_between(self, lo: int, hi: int) -> list[tuple[int, int]]:
        """The spans overlapping [lo, hi) (Unix seconds), whole, as (start, end) seconds."""
        first = bisect.bisect_right(self._ends, lo)
        last = bisect.bisect_left(self._starts, hi, lo=first)
        return list(zip(self._starts[first:last], self._ends[first:last], strict=True))

    def without(self, start: datetime, end: datetime) -> BusyTime:
        """The same busy time less a span exactly [start, end) (a session's own event)."""
        s, e = math.floor(start.timestamp()), math.ceil(end.timestamp())
        kept = BusyTime()
        for a, b in zip(self._starts, self._ends, strict=True):
            if not (a == s and b == e):
                kept._starts.append(a)
                kept._ends.append(b)
        return kept

    def __iter__(self) -> Iterator[Interval]:
        for start, end in zip(self._starts, self._ends, strict=True):
            yield Interval(_moment(start), _moment(end))

    def __len__(self) -> int:
        return len(self._starts)

    def __bool__(self) -> bool:
        return bool(self._starts)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, BusyTime):
            return self._starts == other._starts and self._ends == other._ends
        if isinstance(other, tuple | list):
            return tuple(self) == tuple(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self._starts.tobytes(), self._ends.tobytes()))

    def __repr__(self) -> str:
        return f"BusyTime({len(self)} spans)"
