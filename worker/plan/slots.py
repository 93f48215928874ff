"""Find a time for one mentoring session that suits both people: the slot finder.

A pure function of calendars and rules, so the planner can call it for every pair and tests can
pin every rule without Microsoft Graph. All arithmetic is on aware UTC datetimes; each person's
local rules (working hours, program hours, holidays, blackout days) become UTC spans through that
person's zone, which is what makes daylight saving time changes (US and EU switch on different
Sundays) come out right.

How a slot is chosen (deterministic):

1. Hard rules, all of them, for every person: the whole slot inside one working-hours span
   (in the zone of the person's working hours), inside the program's earliest/latest (in the
   person's zone), on no blackout day and no public holiday of the person (local dates; a slot
   touching such a day at all is refused), free of `busy`, `also_busy` and `avoid` (touching
   edges are fine), starting at or after `not_before`, starting on a `step` boundary counted from
   the Unix epoch (so :00 :15 :30 :45 for 15 minutes), and starting on a day within
   `target ± tolerance`.
2. "Day" always means the local date of `people[0]` (the anchor: put the person whose week the
   cadence follows first). `tolerance` counts whole days; a datetime `target` is reduced to its
   anchor-local date.
3. Among the allowed starts, the best is the smallest key:
   (misses a preferred weekday, misses the preferred time window, |day - target|,
   day after target, starts less than one hour into someone's working day, start time).
   So preferences win whenever they can be met within tolerance, then the day nearest the target
   (the earlier day on a tie), then, within a day, the earliest start that is at least an hour
   into everyone's working day, else the earliest start at all. Preferred weekdays and the
   preferred time window are read in the anchor's zone too.

Two searches give the same answer: on bit masks of step-long cells when the session is a
whole number of them (the default 15-minute step and any session of whole quarter hours: the
planner's bookings), else on spans of seconds (a proposed time at any minute).

`violations(req, slot)` re-checks the hard rules slot by slot with independent, direct code, so
tests (and the end-to-end suite) can verify any booked session without trusting the finder.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from itertools import pairwise

from worker.core.freebusy import BusyTime, moment
from worker.core.intervals import Interval, WorkingHours
from worker.core.timezones import zone_label

__all__ = [
    "Participant",
    "SlotRequest",
    "explain_no_slot",
    "find_slot",
    "violations",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SETTLE_IN = 3600  # seconds: "at least an hour into the working day" tie-break
_DAY = timedelta(days=1)
_DAY_S = 86_400
_FAR = 1 << 62  # after any moment, in seconds
_WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

Span = tuple[int, int]  # half-open [start, end), Unix seconds


@dataclass(frozen=True)
class Participant:
    email: str
    zone: tzinfo
    working: WorkingHours
    busy: BusyTime  # any iterable of `Interval` is turned into one
    holidays: frozenset[date]  # public holidays of the person's country, local dates

    def __post_init__(self) -> None:
        if not isinstance(self.busy, BusyTime):
            object.__setattr__(self, "busy", BusyTime.of(self.busy))


@dataclass(frozen=True)
class SlotRequest:
    people: tuple[Participant, ...]  # people[0] is the anchor for days and preferences
    target: date | datetime
    tolerance: timedelta
    duration: timedelta
    earliest: time
    latest: time
    not_before: datetime
    blackout: frozenset[date]
    preferred_weekdays: frozenset[int] | None = None
    preferred_earliest: time | None = None
    preferred_latest: time | None = None
    also_busy: tuple[Interval, ...] = ()
    step: timedelta = timedelta(minutes=15)
    avoid: tuple[Interval, ...] = ()

    def __post_init__(self) -> None:
        if not self.people:
            raise ValueError("a slot request needs at least one person")
        if self.duration <= timedelta(0):
            raise ValueError("duration must be positive")
        if self.step <= timedelta(0) or self.step.microseconds:
            raise ValueError("step must be a positive whole number of seconds")
        if self.tolerance < timedelta(0):
            raise ValueError("tolerance must not be negative")
        if self.not_before.tzinfo is None:
            raise ValueError("not_before must be timezone-aware")


# --- small span algebra on sorted, half-open spans of Unix seconds --------------------------
#
# The search works in whole Unix seconds (ints): comparing aware datetimes costs a zone lookup
# each time, and a program of thousands of pairs makes millions of comparisons. Busy time is
# already held that way (`worker.core.freebusy`); rules' spans come from local times of day,
# which are whole seconds. Only the chosen slot becomes a datetime again.


def _merge(spans: Iterable[Span]) -> list[Span]:
    """Sort and merge overlapping or touching spans (used for busy time only)."""
    merged: list[Span] = []
    last_end = 0
    for start, end in sorted(spans):
        if start >= end:
            continue
        if merged and start <= last_end:
            if end > last_end:
                merged[-1] = (merged[-1][0], end)
                last_end = end
        else:
            merged.append((start, end))
            last_end = end
    return merged


def _intersect(a: Sequence[Span], b: Sequence[Span]) -> list[Span]:
    """Pairwise overlaps; touching spans stay separate, so "inside one span" is preserved."""
    out: list[Span] = []
    i = j = 0
    len_a, len_b = len(a), len(b)
    while i < len_a and j < len_b:
        a_start, a_end = a[i]
        b_start, b_end = b[j]
        start = a_start if a_start > b_start else b_start
        end = a_end if a_end < b_end else b_end
        if start < end:
            out.append((start, end))
        if a_end <= b_end:
            i += 1
        else:
            j += 1
    return out


def _subtract(spans: Sequence[Span], holes: Sequence[Span]) -> list[Span]:
    """`spans` minus merged, sorted `holes`."""
    out: list[Span] = []
    j = 0
    count = len(holes)
    for start, end in spans:
        while j < count and holes[j][1] <= start:
            j += 1
        k = j
        cursor = start
        while k < count and holes[k][0] < end:
            if holes[k][0] > cursor:
                out.append((cursor, holes[k][0]))
            if holes[k][1] > cursor:
                cursor = holes[k][1]
            k += 1
        if cursor < end:
            out.append((cursor, end))
    return out


def _seconds(moment: datetime) -> int:
    """Unix seconds of an aware datetime, rounded up (a rule's start, a notice's end)."""
    return math.ceil(moment.timestamp())


def _local(day: date, at: time, zone: tzinfo) -> int:
    return _seconds(datetime.combine(day, at, tzinfo=zone))


@lru_cache(maxsize=1 << 16)
def _day_span(day: date, start: time, end: time, zone: tzinfo) -> Span:
    """One local day's [start, end) in Unix seconds (past midnight when `end` is not after
    `start`). Remembered: the pairs of a program share a few zones, hours and weeks, and
    turning local times into UTC through a zone's rules is most of a search's work."""
    end_day = day if end > start else day + _DAY
    return _local(day, start, zone), _local(end_day, end, zone)


def _daily_spans(
    first: date, last: date, start: time, end: time, zone: tzinfo, days: frozenset[int] | None
) -> list[Span]:
    """One span per local day in [first, last] whose weekday is in `days` (None: all)."""
    spans: list[Span] = []
    day = first
    while day <= last:
        if days is None or day.weekday() in days:
            spans.append(_day_span(day, start, end, zone))
        day += _DAY
    return spans


def _day_spans(dates: Iterable[date], zone: tzinfo) -> list[Span]:
    return _merge(_day_span(d, time(0), time(0), zone) for d in dates)


@lru_cache(maxsize=1 << 12)
def _rules_spans(lo: date, hi: date, wh: WorkingHours, zone: tzinfo, earliest: time,
                 latest: time, holidays: frozenset[date], blackout: frozenset[date],
                 ) -> tuple[list[Span], list[Span]]:
    """A person's working-hours spans on local days [lo, hi], and those spans within the
    program's hours less holidays and blackout days. Remembered, as most people of a program
    share their rules and weeks with many others (callers never change the lists)."""
    work = _daily_spans(lo, hi, wh.start, wh.end, wh.zone, wh.days)
    program = _daily_spans(lo, hi, earliest, latest, zone, None)
    excluded = _day_spans((d for d in holidays | blackout if lo <= d <= hi), zone)
    return work, _subtract(_intersect(work, program), excluded)


@lru_cache(maxsize=1 << 14)
def _local_date(at: int, zone: tzinfo) -> date:
    """The local date at a moment (Unix seconds) in `zone`; remembered like `_day_span`."""
    return moment(at).astimezone(zone).date()


def _ceil_to_step(moment: int, step: int) -> int:
    """The first `step` boundary (counted from the Unix epoch) at or after `moment`."""
    return -(-moment // step) * step


def _whole_seconds(delta: timedelta) -> int:
    """A duration in seconds, rounded up (a session never shorter than asked)."""
    return math.ceil(delta.total_seconds())


# --- the search ----------------------------------------------------------------------------


def _target_day(req: SlotRequest) -> date:
    target = req.target
    if isinstance(target, datetime):
        if target.tzinfo is None:
            return target.date()
        return target.astimezone(req.people[0].zone).date()
    return target


@dataclass(frozen=True)
class _Plan:
    """The pieces of the search every diagnosis needs, computed once per request."""

    target: date
    first_day: date
    last_day: date
    window: Span  # the anchor's allowed days
    horizon: Span  # window widened so spans of people in other zones are fully covered
    working: tuple[list[Span], ...]  # per person: working-hours spans
    allowed: tuple[list[Span], ...]  # per person: working ∩ program hours − excluded days
    busy: list[Span]  # everyone's busy + also_busy + avoid, merged
    not_before: int
    duration: int


def _plan(req: SlotRequest) -> _Plan:
    anchor = req.people[0].zone
    target = _target_day(req)
    slack = timedelta(days=req.tolerance.days)
    first_day, last_day = target - slack, target + slack
    window = (_day_span(first_day, time(0), time(0), anchor)[0],
              _day_span(last_day, time(0), time(0), anchor)[1])
    horizon = (window[0] - 2 * _DAY_S, window[1] + 2 * _DAY_S)
    working: list[list[Span]] = []
    allowed: list[list[Span]] = []
    busy: list[Span] = [(math.floor(i.start.timestamp()), _seconds(i.end))
                        for i in (*req.also_busy, *req.avoid)]
    for person in req.people:
        lo = _local_date(horizon[0], person.zone) - _DAY
        hi = _local_date(horizon[1], person.zone) + _DAY
        work, allowed_spans = _rules_spans(lo, hi, person.working, person.zone, req.earliest,
                                           req.latest, person.holidays, req.blackout)
        working.append(work)
        allowed.append(allowed_spans)
        # Only busy time near the days searched: the rest cannot touch a span of the horizon.
        busy.extend(person.busy.seconds_between(*horizon))
    return _Plan(target, first_day, last_day, window, horizon, tuple(working), tuple(allowed),
                 _merge(busy), _seconds(req.not_before), _whole_seconds(req.duration))


def _common(plan: _Plan) -> list[Span]:
    spans = [plan.horizon]
    for person_spans in plan.allowed:
        spans = _intersect(spans, person_spans)
    return spans


def _free(plan: _Plan) -> list[Span]:
    spans = _intersect(_common(plan), [(max(plan.not_before, plan.horizon[0]), plan.horizon[1])])
    return _subtract(spans, plan.busy)


def _span_start_containing(spans: list[Span], moment: int) -> int:
    index = bisect.bisect_right(spans, (moment, _FAR)) - 1
    return spans[index][0]


def find_slot(req: SlotRequest) -> Interval | None:
    """The best slot for `req` (see the module docstring for the order), or None."""
    found = _find_by_cells(req)
    if isinstance(found, _Spans):
        return _find_by_spans(req)
    return found


def _find_by_spans(req: SlotRequest) -> Interval | None:
    """The search on spans of seconds: any step, any duration."""
    plan = _plan(req)
    anchor = req.people[0].zone
    duration = plan.duration
    step = _whole_seconds(req.step)
    midnight = time(0)
    preferred = req.preferred_earliest is not None or req.preferred_latest is not None
    best: tuple[tuple[bool, bool, int, bool, bool, int], int] | None = None
    for free_start, free_end in _free(plan):
        last_start = free_end - duration  # closed: a slot may end exactly at free_end
        if last_start < free_start:
            continue
        day = _local_date(max(free_start, plan.window[0]), anchor)
        if best is not None and not best[0][0] and not best[0][1] and (
                (day - plan.target).days > best[0][2]):
            # Spans come in time order: from here every day is further past the target than
            # the best found, which meets every preference already. Nothing later can win.
            break
        settled = max(_span_start_containing(w, free_start) for w in plan.working) + _SETTLE_IN
        while day <= plan.last_day:
            day_start, next_day = _day_span(day, midnight, midnight, anchor)
            if day_start > last_start:
                break
            lo = free_start if free_start > day_start else day_start
            hi = last_start if last_start < next_day - 1 else next_day - 1
            weekday_miss = (
                req.preferred_weekdays is not None and day.weekday() not in req.preferred_weekdays
            )
            distance = (day - plan.target).days
            ranges = [(lo, hi, True)]
            if preferred:
                p_lo = _local(day, req.preferred_earliest or midnight, anchor)
                p_hi = (
                    _local(day, req.preferred_latest, anchor)
                    if req.preferred_latest is not None
                    else next_day
                ) - duration
                ranges = [(max(lo, p_lo), min(hi, p_hi), False), (lo, hi, True)]
            for r_lo, r_hi, time_miss in ranges:
                for threshold, unsettled in ((max(r_lo, settled), False), (r_lo, True)):
                    start = _ceil_to_step(threshold, step)
                    if start > r_hi:
                        continue
                    key = (
                        weekday_miss,
                        time_miss,
                        abs(distance),
                        distance > 0,
                        unsettled,
                        start,
                    )
                    if best is None or key < best[0]:
                        best = (key, start)
            day += _DAY
    if best is None:
        return None
    found = moment(best[1])
    return Interval(found, found + req.duration)


# --- the same search on cells of the step ---------------------------------------------------
#
# When the step divides the day into cells (15 minutes by default) and the session is a whole
# number of them, every candidate start is a cell boundary, so the search can run on bit masks
# over the horizon's cells (Python's integers do the and-ing and shifting in C) instead of on
# lists of spans: a cell is free when no busy span overlaps it at all, allowed when it lies
# wholly inside a person's allowed span, and a start is possible when the session's cells all
# are. That is the span search's rule exactly, with one exception: two allowed spans that
# touch (round-the-clock hours) would look like one, so such requests use the span search.
# The order of starts is the module docstring's; tests hold both searches to the same answers.

class _Spans:
    """The answer "use the span search": the cell search does not apply."""


_SPANS = _Spans()


def _lowest(mask: int) -> int:
    return (mask & -mask).bit_length() - 1


def _span_cells(spans: Iterable[Span], cell: int, first: int, count: int) -> int:
    """Cells wholly inside one of `spans` (sorted, not touching), as a mask."""
    mask = 0
    for start, end in spans:
        low = max(-(-start // cell) - first, 0)
        high = min(end // cell - first, count)
        if high > low:
            mask |= ((1 << (high - low)) - 1) << low
    return mask


def _overlap_cells(spans: Iterable[Span], cell: int, first: int, count: int) -> int:
    """Cells any of `spans` (in any order, overlapping or not) overlaps at all, as a mask:
    `BusyTime(spans).cells(...)` for the few spans of a request, without building one."""
    mask = 0
    for start, end in spans:
        low = start // cell - first
        high = -(-end // cell) - first
        if low < 0:
            low = 0
        if high > count:
            high = count
        if high > low:
            mask |= ((1 << (high - low)) - 1) << low
    return mask


def _touching(spans: Sequence[Span]) -> bool:
    return any(a[1] >= b[0] for a, b in pairwise(spans))


@lru_cache(maxsize=1 << 12)
def _rule_cells(lo: date, hi: date, wh: WorkingHours, zone: tzinfo, earliest: time,
                latest: time, holidays: frozenset[date], blackout: frozenset[date],
                cell: int, first: int, count: int) -> tuple[int, int] | None:
    """A person's allowed cells and settled cells (at least an hour into a working span) over
    the horizon, or None when spans touch. Remembered like `_rules_spans`."""
    work, allowed = _rules_spans(lo, hi, wh, zone, earliest, latest, holidays, blackout)
    if _touching(work) or _touching(allowed):
        return None
    working = _span_cells(work, cell, first, count)
    settled = working
    for back in range(1, -(-_SETTLE_IN // cell) + 1):
        settled &= working << back
    return _span_cells(allowed, cell, first, count), settled


@lru_cache(maxsize=1 << 10)
def _day_order(weekday: int, preferred: frozenset[int] | None, slack: int,
               ) -> tuple[tuple[bool, int, bool, timedelta], ...]:
    """The days around a target on `weekday`, as (weekday missed, distance, after, offset)
    in the order of the ranking key's first parts."""
    return tuple(sorted(
        (preferred is not None and (weekday + offset) % 7 not in preferred,
         abs(offset), offset > 0, timedelta(days=offset))
        for offset in range(-slack, slack + 1)))


def _find_by_cells(req: SlotRequest) -> Interval | _Spans | None:
    cell = _whole_seconds(req.step)
    duration = _whole_seconds(req.duration)
    if duration % cell or _SETTLE_IN % cell:
        return _SPANS
    anchor = req.people[0].zone
    target = _target_day(req)
    slack = timedelta(days=req.tolerance.days)
    first_day, last_day = target - slack, target + slack
    midnight = time(0)
    window = (_day_span(first_day, midnight, midnight, anchor)[0],
              _day_span(last_day, midnight, midnight, anchor)[1])
    horizon = (window[0] - 2 * _DAY_S, window[1] + 2 * _DAY_S)
    first = -(-horizon[0] // cell)  # the cells wholly inside the horizon
    count = horizon[1] // cell - first
    full = (1 << count) - 1
    free = full
    settled = full
    for person in req.people:
        lo = _local_date(horizon[0], person.zone) - _DAY
        hi = _local_date(horizon[1], person.zone) + _DAY
        rules = _rule_cells(lo, hi, person.working, person.zone, req.earliest, req.latest,
                            person.holidays, req.blackout, cell, first, count)
        if rules is None:
            return _SPANS
        free &= rules[0]
        settled &= rules[1]
    # Not before the notice, and the whole session inside the horizon.
    notice = -(-max(_seconds(req.not_before), horizon[0]) // cell) - first
    free &= full & ~((1 << max(notice, 0)) - 1)
    # Busy time is read per day examined (most searches stop at the first or second day):
    # the request's own few spans here, each person's calendar in `day_starts`.
    free &= ~_overlap_cells(((math.floor(i.start.timestamp()), _seconds(i.end))
                             for i in (*req.also_busy, *req.avoid)), cell, first, count)
    if not free:
        return None
    session_cells = duration // cell

    def day_starts(low: int, high: int) -> int:
        """The possible starts in cells [low, high] (bit 0 is cell `low`)."""
        width = high - low + session_cells
        day_free = free >> low & ((1 << width) - 1)
        if not day_free:
            return 0
        busy = 0
        for person in req.people:
            busy |= person.busy.cells(cell, first + low, width)
        day_free &= ~busy
        starts = day_free
        for ahead in range(1, session_cells):
            starts &= day_free >> ahead
        return starts & ((1 << (high - low + 1)) - 1)

    preferred = req.preferred_earliest is not None or req.preferred_latest is not None
    best: tuple[tuple[bool, bool, int, bool, bool], int] | None = None
    # Days in the order of the key's first parts, so the search can stop at the first day
    # whose best start no later day can beat.
    for weekday_miss, distance, after, offset in _day_order(
            target.weekday(), req.preferred_weekdays, slack.days):
        if best is not None and best[0] < (weekday_miss, not preferred, distance, after, False):
            break
        day = target + offset
        day_start, next_day = _day_span(day, midnight, midnight, anchor)
        low = -(-day_start // cell) - first
        high = (next_day - 1) // cell - first  # the day's last start, inclusive
        found = day_starts(low, high) if high >= low else 0
        if not found:
            continue
        options = [(True, found)]
        if preferred:
            p_lo = _local(day, req.preferred_earliest or midnight, anchor)
            p_hi = (_local(day, req.preferred_latest, anchor)
                    if req.preferred_latest is not None else next_day) - duration
            a = max(-(-p_lo // cell) - first - low, 0)
            b = min(p_hi // cell - first - low, high - low)
            if b >= a:
                options.insert(0, (False, found & (((1 << (b - a + 1)) - 1) << a)))
        day_settled = settled >> low
        for time_miss, mask in options:
            chosen = mask & day_settled
            unsettled = not chosen
            chosen = chosen or mask
            if chosen:
                key = (weekday_miss, time_miss, distance, after, unsettled)
                start = _lowest(chosen) + low
                if best is None or (key, start) < best:
                    best = (key, start)
                break
    if best is None:
        return None
    chosen_start = moment((best[1] + first) * cell)
    return Interval(chosen_start, chosen_start + req.duration)


# --- explaining failure --------------------------------------------------------------------


def _fmt_minutes(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


def _describe_hours(person: Participant) -> str:
    wh = person.working
    days = ",".join(_WEEKDAY_NAMES[d] for d in sorted(wh.days)) or "no days"
    return f"{person.email} {wh.start:%H:%M}-{wh.end:%H:%M} {zone_label(wh.zone)} ({days})"


def _longest(spans: Iterable[Span]) -> timedelta:
    return timedelta(seconds=max((end - start for start, end in spans), default=0))


def explain_no_slot(req: SlotRequest) -> str:
    """Why `find_slot(req)` finds nothing, as one sentence for the run report."""
    plan = _plan(req)
    days = f"{plan.first_day.isoformat()}..{plan.last_day.isoformat()}"
    window = [plan.window]
    if plan.not_before >= plan.window[1]:
        return (
            f"the whole search window {days} ends before the minimum notice allows "
            f"(not before {req.not_before.isoformat()})"
        )
    for person, work, allowed in zip(req.people, plan.working, plan.allowed, strict=True):
        if not _intersect(work, window):
            return f"{_describe_hours(person)} has no working hours on {days}"
        if not _intersect(allowed, window):
            return (
                f"{person.email} has no working time inside program hours "
                f"{req.earliest:%H:%M}-{req.latest:%H:%M} {zone_label(person.zone)} on {days} "
                "once holidays and blackout days are removed"
            )
    common = _intersect(_common(plan), window)
    if not common:
        hours = " vs ".join(_describe_hours(p) for p in req.people)
        return f"no common working hours on {days}: {hours}"
    if _longest(common) < req.duration:
        return (
            f"common working time on {days} is at most {_longest(common)} at a stretch, "
            f"shorter than the {_fmt_minutes(req.duration)} session"
        )
    after_notice = _intersect(common, [(plan.not_before, plan.horizon[1])])
    if _longest(after_notice) < req.duration:
        return (
            f"the common working time on {days} that is long enough lies before the minimum "
            f"notice (not before {req.not_before.isoformat()})"
        )
    free = _subtract(after_notice, plan.busy)
    if _longest(free) < req.duration:
        total = timedelta(seconds=sum(end - start for start, end in after_notice))
        return (
            f"everyone is busy: no free {_fmt_minutes(req.duration)} in the "
            f"{_fmt_minutes(total)} of common working time on {days}"
        )
    return (
        f"free common time exists on {days}, but none of it fits a "
        f"{_fmt_minutes(req.duration)} session starting on a {_fmt_minutes(req.step)} boundary"
    )


# --- independent checker -------------------------------------------------------------------


def _inside_daily(
    slot: Interval, zone: tzinfo, start: time, end: time, days: frozenset[int] | None
) -> bool:
    """Whether one local day's [start, end) span (in `zone`) holds the whole slot."""
    local_start = slot.start.astimezone(zone).date()
    for day in (local_start - _DAY, local_start):
        if days is not None and day.weekday() not in days:
            continue
        end_day = day if end > start else day + _DAY
        span_start = datetime.combine(day, start, tzinfo=zone)
        span_end = datetime.combine(end_day, end, tzinfo=zone)
        if span_start <= slot.start and slot.end <= span_end:
            return True
    return False


def _local_dates(slot: Interval, zone: tzinfo) -> set[date]:
    first = slot.start.astimezone(zone).date()
    last = (slot.end - timedelta(microseconds=1)).astimezone(zone).date()
    dates = {first}
    while first < last:
        first += _DAY
        dates.add(first)
    return dates


def violations(req: SlotRequest, slot: Interval) -> list[str]:
    """Every hard rule of `req` that `slot` breaks, as readable sentences; empty means valid.

    Written separately from the search on purpose: it is the oracle for the finder's tests and
    for end-to-end checks of booked sessions. Soft preferences are not rules and not checked.
    """
    problems: list[str] = []
    if slot.end - slot.start != req.duration:
        problems.append(f"lasts {slot.end - slot.start}, not {req.duration}")
    if slot.start < req.not_before:
        problems.append(f"starts before the minimum notice ({req.not_before.isoformat()})")
    if (slot.start - _EPOCH) % req.step:
        problems.append(f"start {slot.start:%H:%M:%S} UTC is not on a {req.step} boundary")
    anchor = req.people[0]
    day = slot.start.astimezone(anchor.zone).date()
    distance = abs((day - _target_day(req)).days)
    if distance > req.tolerance.days:
        problems.append(f"starts on {day} ({anchor.email}), {distance} days from the target")
    for other in (*req.also_busy, *req.avoid):
        if slot.overlaps(other):
            problems.append(f"overlaps a booked or avoided time {other.start}..{other.end}")
    for person in req.people:
        who = person.email
        wh = person.working
        if not _inside_daily(slot, wh.zone, wh.start, wh.end, wh.days):
            problems.append(f"outside {who}'s working hours")
        if not _inside_daily(slot, person.zone, req.earliest, req.latest, None):
            problems.append(f"outside program hours in {who}'s time zone")
        dates = _local_dates(slot, person.zone)
        for holiday in sorted(dates & person.holidays):
            problems.append(f"on a public holiday of {who} ({holiday})")
        for blackout in sorted(dates & req.blackout):
            problems.append(f"on a blackout day for {who} ({blackout})")
        for start, end in person.busy.between(slot.start, slot.end):
            busy = Interval(start, end)
            if slot.overlaps(busy):
                problems.append(f"{who} is busy {busy.start}..{busy.end}")
    return problems
