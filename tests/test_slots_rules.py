"""The slot finder keeps every rule and picks the time nearest to the target."""

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from worker.core.intervals import Interval, WorkingHours
from worker.plan.slots import (
    Participant,
    SlotRequest,
    explain_no_slot,
    find_slot,
    violations,
)

NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
KOLKATA = ZoneInfo("Asia/Kolkata")
WEEKDAYS = frozenset(range(5))


def person(
    email: str,
    zone: ZoneInfo,
    start: time = time(9),
    end: time = time(17),
    busy: tuple[Interval, ...] = (),
    holidays: frozenset[date] = frozenset(),
) -> Participant:
    return Participant(email, zone, WorkingHours(WEEKDAYS, start, end, zone), busy, holidays)


def request(people: tuple[Participant, ...], target: date, **changes: object) -> SlotRequest:
    base = SlotRequest(
        people=people,
        target=target,
        tolerance=timedelta(days=3),
        duration=timedelta(minutes=60),
        earliest=time(7),
        latest=time(20),
        not_before=datetime(2027, 1, 1, tzinfo=UTC),
        blackout=frozenset(),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def found(req: SlotRequest) -> Interval:
    slot = find_slot(req)
    assert slot is not None, explain_no_slot(req)
    assert violations(req, slot) == []
    return slot


AVA = person("ava@contoso.com", NEW_YORK)
LENA = person("lena@contoso.com", BERLIN)


def test_eastern_and_india_with_a_narrow_overlap_meet_inside_it() -> None:
    ava = person("ava@contoso.com", NEW_YORK, time(8), time(17))
    arjun = person("arjun@contoso.com", KOLKATA, time(10), time(19, 30))
    # Overlap on Tue 2027-04-06 (EDT): 12:00-14:00 UTC = 08:00-10:00 New York, 17:30-19:30 India.
    slot = found(request((arjun, ava), date(2027, 4, 6), tolerance=timedelta(0)))
    assert slot == Interval(utc(2027, 4, 6, 13), utc(2027, 4, 6, 14))  # an hour into Ava's day


def test_no_common_working_hours_gives_none_and_says_why() -> None:
    ava = person("ava@contoso.com", NEW_YORK)
    arjun = person("arjun@contoso.com", KOLKATA, time(9), time(18))
    req = request((arjun, ava), date(2027, 4, 6))
    assert find_slot(req) is None
    reason = explain_no_slot(req)
    assert reason.startswith("no common working hours")
    assert "ava@contoso.com 09:00-17:00 America/New_York" in reason
    assert "arjun@contoso.com 09:00-18:00 Asia/Kolkata" in reason


def test_the_us_daylight_saving_week_widens_the_common_window_with_berlin() -> None:
    three_hours = timedelta(hours=3)
    # Before 03-14: New York 14-22 UTC, Berlin 08-16 UTC: two hours in common.
    before = request((AVA, LENA), date(2027, 3, 10), tolerance=timedelta(0), duration=three_hours)
    assert find_slot(before) is None
    assert "shorter than the 3 h 00 min session" in explain_no_slot(before)
    # 03-15..03-26: New York already on EDT (13-21 UTC), Berlin not yet: three hours.
    during = replace(before, target=date(2027, 3, 17))
    assert found(during) == Interval(utc(2027, 3, 17, 13), utc(2027, 3, 17, 16))
    # From 03-29 Berlin is on CEST (07-15 UTC): two hours again.
    assert find_slot(replace(before, target=date(2027, 3, 31))) is None


def test_within_a_day_the_slot_starts_an_hour_into_both_working_days_when_it_can() -> None:
    for day in (date(2027, 3, 10), date(2027, 3, 17), date(2027, 3, 31)):
        slot = found(request((AVA, LENA), day, tolerance=timedelta(0)))
        assert slot.start.astimezone(NEW_YORK).time() == time(10)


def test_a_public_holiday_of_one_persons_country_is_avoided() -> None:
    target = date(2027, 4, 6)
    holiday = replace(LENA, holidays=frozenset({target}))
    slot = found(request((AVA, holiday), target))
    assert slot.start.date() == date(2027, 4, 5)  # the day before: nearest, earlier on a tie


def test_a_blackout_day_is_avoided() -> None:
    target = date(2027, 4, 6)
    slot = found(request((AVA, LENA), target, blackout=frozenset({target, date(2027, 4, 5)})))
    assert slot.start.date() == date(2027, 4, 7)


def test_the_slot_is_on_the_target_day_when_possible_and_otherwise_the_nearest() -> None:
    target = date(2027, 4, 7)  # Wednesday
    assert found(request((AVA, LENA), target)).start.date() == target
    busy_all_day = Interval(utc(2027, 4, 7), utc(2027, 4, 8))
    busy_ava = replace(AVA, busy=(busy_all_day,))
    assert found(request((busy_ava, LENA), target)).start.date() == date(2027, 4, 6)


def test_days_beyond_the_tolerance_are_never_used() -> None:
    target = date(2027, 4, 7)
    week = Interval(utc(2027, 4, 5), utc(2027, 4, 10))
    req = request((replace(AVA, busy=(week,)), LENA), target, tolerance=timedelta(days=2))
    assert find_slot(req) is None
    assert explain_no_slot(req).startswith("everyone is busy")
    wider = found(replace(req, tolerance=timedelta(days=5)))
    # Fri 04-02 and Mon 04-12 are both five days away: the earlier one wins the tie.
    assert wider.start.date() == date(2027, 4, 2)


def test_one_mentor_with_two_mentees_gets_two_sessions_that_do_not_overlap() -> None:
    mentor, half_hour = AVA, timedelta(minutes=30)
    first = found(
        request((mentor, LENA), date(2027, 4, 7), tolerance=timedelta(0), duration=half_hour)
    )
    other_mentee = person("noor@contoso.com", BERLIN)
    second_req = request(
        (mentor, other_mentee),
        date(2027, 4, 7),
        tolerance=timedelta(0),
        duration=half_hour,
        also_busy=(first,),
    )
    second = found(second_req)
    assert not second.overlaps(first)
    assert second.start == first.end  # back to back is fine: touching edges do not overlap


def test_preferred_weekdays_win_when_any_fits_within_tolerance() -> None:
    target = date(2027, 4, 7)  # Wednesday
    slot = found(request((AVA, LENA), target, preferred_weekdays=frozenset({4})))
    assert slot.start.date() == date(2027, 4, 9)  # Friday, two days away
    far = request((AVA, LENA), target, preferred_weekdays=frozenset({0}), tolerance=timedelta(1))
    assert found(far).start.date() == target  # no Monday in reach: the preference yields


def test_preferred_time_window_wins_over_the_settling_in_hour() -> None:
    slot = found(
        request(
            (AVA, LENA),
            date(2027, 4, 7),
            preferred_earliest=time(9),
            preferred_latest=time(10),
        )
    )
    assert slot.start.astimezone(NEW_YORK).time() == time(9)


def test_minimum_notice_is_respected() -> None:
    notice = utc(2027, 4, 7, 14, 5)
    half_hour = timedelta(minutes=30)
    slot = found(request((AVA, LENA), date(2027, 4, 7), not_before=notice, duration=half_hour))
    assert slot.start == utc(2027, 4, 7, 14, 15)
    late = request((AVA, LENA), date(2027, 4, 7), not_before=utc(2027, 5, 1))
    assert find_slot(late) is None
    assert "minimum notice" in explain_no_slot(late)


def test_an_avoided_time_is_never_proposed_again() -> None:
    first = found(request((AVA, LENA), date(2027, 4, 7)))
    again = found(request((AVA, LENA), date(2027, 4, 7), avoid=(first,)))
    assert not again.overlaps(first)


def test_program_hours_apply_in_each_persons_local_time() -> None:
    # Lena works late, but the program ends at 17:00 for her too.
    lena = person("lena@contoso.com", BERLIN, time(9), time(22))
    req = request((AVA, lena), date(2027, 4, 7), tolerance=timedelta(0), latest=time(17))
    slot = found(req)
    assert slot.end.astimezone(BERLIN).time() <= time(17)


def test_starts_fall_on_the_step() -> None:
    busy = (Interval(utc(2027, 4, 7, 13), utc(2027, 4, 7, 14, 10)),)
    req = request(
        (replace(AVA, busy=busy), LENA),
        date(2027, 4, 7),
        tolerance=timedelta(0),
        duration=timedelta(minutes=30),
    )
    assert found(req).start == utc(2027, 4, 7, 14, 15)


def test_violations_names_every_broken_rule() -> None:
    target = date(2027, 4, 7)
    req = request(
        (replace(AVA, busy=(Interval(utc(2027, 4, 7, 3), utc(2027, 4, 7, 4)),)), LENA),
        target,
        blackout=frozenset({target}),
        not_before=utc(2027, 4, 8),
    )
    problems = violations(req, Interval(utc(2027, 4, 7, 3, 7), utc(2027, 4, 7, 4)))
    text = " | ".join(problems)
    for expected in (
        "lasts 0:53:00",
        "minimum notice",
        "boundary",
        "outside ava@contoso.com's working hours",
        "outside program hours in ava@contoso.com's time zone",
        "blackout day",
        "ava@contoso.com is busy",
    ):
        assert expected in text
