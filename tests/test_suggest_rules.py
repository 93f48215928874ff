"""The rules of match suggestions, on small hand-made inputs: job levels read from titles,
shared working hours across zones (a far zone's neighbouring day included), and an executive
placed by moving an earlier suggestion along."""

from __future__ import annotations

from datetime import date, time, timedelta
from zoneinfo import ZoneInfo

from worker.config.program import MatchingSettings
from worker.core.freebusy import BusyTime
from worker.core.intervals import WorkingHours
from worker.observe.availability import PersonSchedule
from worker.observe.state import Member
from worker.plan.matching import _Overlaps, job_level, suggest

WEEK = date(2027, 1, 11)  # a Monday
WEEKDAYS = frozenset(range(5))
SETTINGS = MatchingSettings(executives_group="execs@contoso.com",
                            mentors_group="mentors@contoso.com")


def hours(zone: str, start: str = "09:00", end: str = "17:00") -> WorkingHours:
    return WorkingHours(WEEKDAYS, time.fromisoformat(start), time.fromisoformat(end),
                        ZoneInfo(zone))


def shared(one: WorkingHours, other: WorkingHours) -> float:
    return _Overlaps([WEEK + timedelta(days=n) for n in range(7)]).median(one, other)


def test_job_levels_are_read_from_titles_and_unknown_titles_say_nothing() -> None:
    assert job_level("Chief Financial Officer") == 7
    assert job_level("Senior Vice President, Claims") == 6
    assert job_level("Director of Finance") == 4
    assert job_level("Software Engineer") == 1
    assert job_level("Graduate trainee") == 0
    assert job_level("Wizard") is None and job_level(None) is None


def test_shared_hours_are_counted_in_each_persons_own_zone() -> None:
    london, new_york = hours("Europe/London"), hours("America/New_York")
    assert shared(london, new_york) == 3.0
    assert shared(london, hours("Asia/Kolkata")) == 2.5
    assert shared(new_york, hours("Asia/Kolkata")) == 0.0


def test_a_zone_a_day_ahead_shares_the_evening_of_the_day_before() -> None:
    # Sydney's Tuesday morning is San Francisco's Monday afternoon: 3 h on four days of
    # five (the Friday afternoon in San Francisco is Saturday in Sydney): the median is 3.
    assert shared(hours("America/Los_Angeles"), hours("Australia/Sydney")) == 3.0


def person(email: str, **labels: str) -> Member:
    return Member(email=email, names=frozenset({email}), name=email, **labels)


def schedule(member: Member, working: WorkingHours) -> PersonSchedule:
    return PersonSchedule(member.email, working.zone, working, BusyTime.of([]))


def test_the_executive_with_fewest_fitting_mentors_is_placed_first() -> None:
    # ann fits both mentors (and would rank the London one first); bob fits only London.
    ann = person("ann@contoso.com", department="Finance", office="London")
    bob = person("bob@contoso.com", department="Claims", office="London")
    near = person("near@contoso.com", department="Technology", office="London")
    far = person("far@contoso.com", department="Technology", office="New York")
    london = hours("Europe/London")
    late = hours("Europe/London", "13:00", "21:00")
    schedules = {p.email: schedule(p, w) for p, w in
                 ((ann, london), (bob, hours("Europe/London", "08:00", "12:00")),
                  (near, london), (far, late))}
    result = suggest([ann, bob], [near, far], schedules=schedules, schedule_errors={},
                     pairings=[], history={}, settings=SETTINGS, week_start=WEEK)
    chosen = {s.mentee.email: s.mentor.email for s in result.suggestions}
    assert chosen == {"bob@contoso.com": "near@contoso.com", "ann@contoso.com": "far@contoso.com"}
    assert result.unmatched == ()


def test_a_pair_from_the_history_is_never_suggested_even_as_the_only_fit() -> None:
    ann, mentor = person("ann@contoso.com"), person("m@contoso.com")
    london = hours("Europe/London")
    result = suggest([ann], [mentor], schedules={"ann@contoso.com": schedule(ann, london),
                                                 "m@contoso.com": schedule(mentor, london)},
                     schedule_errors={}, pairings=[],
                     history={frozenset({"ann@contoso.com", "m@contoso.com"}): "old"},
                     settings=SETTINGS, week_start=WEEK)
    assert result.suggestions == ()
    assert "paired with them before" in result.unmatched[0].reason


def test_a_junior_or_senior_modifier_outranks_the_role_it_qualifies() -> None:
    assert job_level("Junior Analyst") == 0
    assert job_level("Senior Software Engineer") == 2
    assert job_level("President") == 7 and job_level("Vice President") == 5


def test_an_executive_left_over_is_placed_by_moving_an_earlier_suggestion_along() -> None:
    # Everyone shares London hours; the history rules out ann-z, bob-x and cat-x. ann ranks y
    # first (same office) and takes it, bob takes z, and cat, who fits only y and z, is placed
    # by moving ann on to x.
    ann, bob, cat = (person(f"{n}@contoso.com", office="Leeds" if n == "ann" else "York")
                     for n in ("ann", "bob", "cat"))
    x, y, z = (person(f"{n}@contoso.com", office="Leeds" if n == "y" else "Hull")
               for n in ("x", "y", "z"))
    london = hours("Europe/London")
    history = {frozenset({a.email, b.email}): "old" for a, b in ((ann, z), (bob, x), (cat, x))}
    result = suggest([ann, bob, cat], [x, y, z],
                     schedules={p.email: schedule(p, london) for p in (ann, bob, cat, x, y, z)},
                     schedule_errors={}, pairings=[], history=history, settings=SETTINGS,
                     week_start=WEEK)
    chosen = {s.mentee.email[:3]: s.mentor.email[0] for s in result.suggestions}
    assert chosen == {"ann": "x", "bob": "z", "cat": "y"}
