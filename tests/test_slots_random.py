"""Random calendars: whatever the finder returns keeps every rule, and it misses nothing."""

import random
import time as clock
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

from worker.core.intervals import Interval, WorkingHours
from worker.core.timezones import zone_for
from worker.plan import slots
from worker.plan.slots import (
    Participant,
    SlotRequest,
    explain_no_slot,
    find_slot,
    violations,
)

ZONES: list[tzinfo] = [
    ZoneInfo("America/New_York"),
    ZoneInfo("America/Los_Angeles"),
    ZoneInfo("Europe/Berlin"),
    ZoneInfo("Europe/London"),
    ZoneInfo("Asia/Kolkata"),
    ZoneInfo("Asia/Singapore"),
    ZoneInfo("Australia/Sydney"),
    UTC,
    zone_for(
        {
            "@odata.type": "#microsoft.graph.customTimeZone",
            "bias": 300,
            "name": "Customized Time Zone",
            "standardOffset": {
                "time": "02:00:00",
                "dayOccurrence": 1,
                "dayOfWeek": "sunday",
                "month": 11,
                "year": 0,
            },
            "daylightOffset": {
                "daylightBias": -60,
                "time": "02:00:00",
                "dayOccurrence": 2,
                "dayOfWeek": "sunday",
                "month": 3,
                "year": 0,
            },
        }
    ),
]
BASE = datetime(2027, 3, 1, tzinfo=UTC)  # spans the US and EU daylight saving changes


def _random_person(rng: random.Random, index: int) -> Participant:
    zone = rng.choice(ZONES)
    start = time(rng.randint(5, 11), rng.choice((0, 30)))
    length = timedelta(hours=rng.randint(5, 12))
    end = (datetime.combine(date(2027, 1, 1), start) + length).time()
    days = frozenset(d for d in range(7) if rng.random() < (0.9 if d < 5 else 0.15))
    busy = []
    for _ in range(rng.randint(0, 40)):
        begin = BASE + timedelta(minutes=15 * rng.randint(0, 4 * 24 * 45) + rng.choice((0, 5)))
        busy.append(Interval(begin, begin + timedelta(minutes=rng.choice((15, 30, 60, 120, 480)))))
    holidays = frozenset(
        (BASE + timedelta(days=rng.randint(0, 45))).date() for _ in range(rng.randint(0, 4))
    )
    working_zone = zone if rng.random() < 0.8 else rng.choice(ZONES)
    return Participant(
        f"p{index}@contoso.com",
        zone,
        WorkingHours(days, start, end, working_zone),
        tuple(busy),
        holidays,
    )


def _random_request(rng: random.Random) -> SlotRequest:
    people = (_random_person(rng, 0), _random_person(rng, 1))
    target = (BASE + timedelta(days=rng.randint(3, 38))).date()
    preferred = None
    if rng.random() < 0.3:
        preferred = frozenset(rng.sample(range(5), rng.randint(1, 2)))
    pref_earliest = time(rng.randint(8, 12)) if rng.random() < 0.2 else None
    also = BASE + timedelta(days=rng.randint(0, 40), hours=rng.randint(0, 23))
    return SlotRequest(
        people=people,
        target=target,
        tolerance=timedelta(days=rng.randint(0, 3)),
        duration=timedelta(minutes=rng.choice((30, 45, 60))),
        earliest=time(rng.randint(6, 9)),
        latest=time(rng.randint(17, 21)),
        not_before=BASE + timedelta(days=rng.randint(0, 10), minutes=rng.randint(0, 59)),
        blackout=frozenset(
            (BASE + timedelta(days=rng.randint(0, 45))).date() for _ in range(rng.randint(0, 3))
        ),
        preferred_weekdays=preferred,
        preferred_earliest=pref_earliest,
        also_busy=(Interval(also, also + timedelta(hours=1)),),
        step=timedelta(minutes=rng.choice((15, 30))),
        avoid=(Interval(also + timedelta(days=1), also + timedelta(days=1, hours=2)),),
    )


def _every_valid_start(req: SlotRequest) -> list[datetime]:
    """Brute force: every step-aligned start within tolerance that `violations` accepts."""
    anchor = req.people[0].zone
    target = req.target if not isinstance(req.target, datetime) else req.target.date()
    first = datetime.combine(target - timedelta(days=req.tolerance.days), time(0), tzinfo=anchor)
    last = datetime.combine(target + timedelta(days=req.tolerance.days + 1), time(0), tzinfo=anchor)
    moment = first.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    valid = []
    while moment < last:
        slot = Interval(moment, moment + req.duration)
        if moment >= first and not violations(req, slot):
            valid.append(moment)
        moment += req.step
    return valid


def test_returned_slots_keep_every_rule_and_none_means_nothing_fits() -> None:
    rng = random.Random(20270301)
    found_some = missed = 0
    for _ in range(60):
        req = _random_request(rng)
        slot = find_slot(req)
        valid = _every_valid_start(req)
        if slot is None:
            assert valid == [], (explain_no_slot(req), valid[:3])
            assert explain_no_slot(req)
            missed += 1
            continue
        found_some += 1
        assert violations(req, slot) == []
        assert slot.start in valid
        if req.preferred_weekdays is None and req.preferred_earliest is None:
            anchor, target = req.people[0].zone, req.target
            assert not isinstance(target, datetime)

            days = [abs((v.astimezone(anchor).date() - target).days) for v in valid]
            assert abs((slot.start.astimezone(anchor).date() - target).days) == min(days)
    assert found_some > 10 and missed > 3  # the generator exercises both outcomes


def test_fifty_pairs_times_seven_sessions_take_well_under_a_second() -> None:
    rng = random.Random(7)
    requests = [_random_request(rng) for _ in range(350)]
    requests = [SlotRequest(**{**r.__dict__, "tolerance": timedelta(days=7)}) for r in requests]
    started = clock.perf_counter()
    results = [find_slot(r) for r in requests]
    elapsed = clock.perf_counter() - started
    assert sum(r is not None for r in results) > 100
    assert elapsed < 1.0, f"{elapsed:.2f} s for 350 searches"


def test_the_cell_search_and_the_span_search_choose_the_same_slot() -> None:
    """Sessions of whole cells on a cell step are searched on bit masks of cells; anything
    else (and round-the-clock hours, whose daily spans touch) on spans. Both must choose the
    same start for every request, preferences and tie-breaks included."""
    rng = random.Random(20271201)
    by_cells = 0
    for _ in range(400):
        req = _random_request(rng)
        if rng.random() < 0.3:
            req = replace(req, preferred_latest=time(rng.randint(11, 16), rng.choice((0, 20))))
        if rng.random() < 0.2:
            req = replace(req, tolerance=timedelta(days=rng.randint(4, 9)))
        if rng.random() < 0.1:
            person = req.people[1]
            hours = replace(person.working, start=time(0), end=time(0))
            req = replace(req, people=(req.people[0], replace(person, working=hours)))
        cells = slots._find_by_cells(req)
        spans = slots._find_by_spans(req)
        if not isinstance(cells, slots._Spans):
            by_cells += 1
            assert cells == spans, req
        assert find_slot(req) == spans
    assert by_cells > 250
