"""Busy time held compactly: one person's sorted, merged busy spans as two arrays of seconds.

A full executive calendar over a run's free/busy window is a few hundred spans, and a program
of 10,000 pairs reads 20,000 of them. As `Interval` objects (two datetimes each) that is about
200 bytes a span; here it is 8: two unsigned 32-bit offsets in seconds from the person's first
busy moment (136 years of range). The slot finder asks only for the few spans near the days it
searches (`between`, a binary search), and gets datetimes back for just those.

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

__all__ = ["BusyTime", "moment"]

Span = tuple[datetime, datetime]


def moment(seconds: int) -> datetime:
    """Unix seconds as an aware UTC datetime."""
    return datetime.fromtimestamp(seconds, UTC)


class BusyTime:
    """Sorted, merged (overlapping or touching spans joined), half-open UTC busy spans."""

    __slots__ = ("_base", "_ends", "_starts")

    def __init__(self, pairs: Iterable[tuple[float, float]] = ()) -> None:
        """From (start, end) Unix seconds in any order; empty spans are dropped."""
        spans = sorted((math.floor(s), math.ceil(e)) for s, e in pairs if e > s)
        self._base = spans[0][0] if spans else 0
        starts = array("I")
        ends = array("I")
        base = self._base
        last = -1
        for start, end in spans:
            if ends and start <= last:
                if end > last:
                    ends[-1] = end - base
                    last = end
            else:
                starts.append(start - base)
                ends.append(end - base)
                last = end
        self._starts = starts
        self._ends = ends

    @classmethod
    def of(cls, busy: Iterable[Interval] | BusyTime) -> BusyTime:
        if isinstance(busy, BusyTime):
            return busy
        return cls((i.start.timestamp(), i.end.timestamp()) for i in busy)

    def between(self, lo: datetime, hi: datetime) -> list[Span]:
        """The spans overlapping [lo, hi), whole (not clipped), as aware UTC datetimes."""
        return [(moment(a), moment(b)) for a, b in self.seconds_between(
            math.floor(lo.timestamp()), math.ceil(hi.timestamp()))]

    def seconds_between(self, lo: int, hi: int) -> list[tuple[int, int]]:
        """The spans overlapping [lo, hi) (Unix seconds), whole, as (start, end) seconds."""
        base = self._base
        first = bisect.bisect_right(self._ends, lo - base) if lo > base else 0
        if hi <= base:
            return []
        last = bisect.bisect_left(self._starts, hi - base, lo=first)
        return [(a + base, b + base) for a, b in zip(self._starts[first:last],
                                                     self._ends[first:last], strict=True)]

    def cells(self, cell: int, first: int, count: int) -> int:
        """The busy time as a bit mask of `count` cells of `cell` seconds, cell 0 starting at
        Unix second `first * cell`: bit i is set when a busy span overlaps cell i at all
        (touching its edge does not count)."""
        base = self._base
        lo, hi = first * cell - base, (first + count) * cell - base
        if hi <= 0:
            return 0
        starts, ends = self._starts, self._ends
        index = bisect.bisect_right(ends, lo) if lo > 0 else 0
        stop = bisect.bisect_left(starts, hi, lo=index)
        # Cell numbers counted from the person's first busy second, as `first` is from 0.
        first -= base // cell
        shift = base % cell
        mask = 0
        while index < stop:
            low = (starts[index] + shift) // cell - first
            high = -(-(ends[index] + shift) // cell) - first
            if low < 0:
                low = 0
            if high > count:
                high = count
            mask |= ((1 << (high - low)) - 1) << low
            index += 1
        return mask

    def without(self, start: datetime, end: datetime) -> BusyTime:
        """The same busy time less a span exactly [start, end) (a session's own event)."""
        s, e = math.floor(start.timestamp()), math.ceil(end.timestamp())
        return BusyTime(pair for pair in self.seconds_between(-(1 << 62), 1 << 62)
                        if pair != (s, e))

    def __iter__(self) -> Iterator[Interval]:
        for start, end in self.seconds_between(-(1 << 62), 1 << 62):
            yield Interval(moment(start), moment(end))

    def __len__(self) -> int:
        return len(self._starts)

    def __bool__(self) -> bool:
        return bool(self._starts)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, BusyTime):
            return (self._base, self._starts, self._ends) == (
                other._base, other._starts, other._ends)
        if isinstance(other, tuple | list):
            return tuple(self) == tuple(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self._base, self._starts.tobytes(), self._ends.tobytes()))

    def __repr__(self) -> str:
        return f"BusyTime({len(self)} spans)"
