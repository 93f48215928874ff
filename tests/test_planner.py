"""The planner as a pure function: config + observed state + now -> plan. No Graph, no sandbox."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import ROOT
from worker.config import DEFAULT_CURRICULUM, Config, Pairing, Program
from worker.config.templates import Templates
from worker.core.intervals import Interval, WorkingHours
from worker.observe.availability import PersonSchedule
from worker.observe.state import AttendeeState, Observed, ObservedSession, Person
from worker.plan import planner
from worker.plan.actions import Book, Cancel, Move
from worker.plan.booking import transaction_id
from worker.plan.plan import Plan, TooMuchChange

TEMPLATES = Templates(ROOT / "templates")


def plan(the_config: Config, state: Observed, now: datetime, **switches: object) -> Plan:
    """The whole plan of a run, as `mentoring plan` computes it."""
    return planner.plan(planner.Desired(the_config, TEMPLATES, **switches),  # type: ignore[arg-type]
                        state, now)

NEW_YORK = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
NOW = datetime(2027, 1, 4, 6, tzinfo=UTC)
MENTOR, MENTEE = "ava@contoso.com", "ceo@contoso.com"


def program(**changes: object) -> Program:
    values: dict[str, object] = {
        "id": "prog", "name": "Program", "organizer": "mentoring@contoso.com",
        "holidays": {"countries": [], "use_participant_location": False},
    }
    values.update(changes)
    return Program.model_validate(values)


def config(*pairings: Pairing, **changes: object) -> Config:
    return Config(program=program(**changes), pairings=list(pairings))


def pairing(pairing_id: str = "p1", mentor: str = MENTOR, mentee: str = MENTEE,
            status: str = "active", start: date = date(2027, 1, 11)) -> Pairing:
    return Pairing.model_validate({"id": pairing_id, "mentor": mentor, "mentee": mentee,
                                   "start": start, "status": status})


def schedule(email: str, zone: ZoneInfo = NEW_YORK) -> PersonSchedule:
    working = WorkingHours(frozenset(range(5)), time(9), time(17), zone)
    return PersonSchedule(email, zone, working, ())


def observed(*emails: str, sessions: list[ObservedSession] | None = None) -> Observed:
    state = Observed()
    for email in emails:
        state.people[email] = Person(email, email, email.split("@")[0])
        state.schedules[email] = schedule(email)
    for session in sessions or []:
        state.sessions.setdefault(session.key, []).append(session)
    return state


def session(number: int, start: datetime, *, pairing_id: str = "p1",
            responses: tuple[str, str] = ("accepted", "accepted"),
            event_id: str | None = None, created: datetime | None = None) -> ObservedSession:
    topic = DEFAULT_CURRICULUM[number - 1].topic if number <= len(DEFAULT_CURRICULUM) else "?"
    return ObservedSession(
        key=f"prog/{pairing_id}/{number}", pairing_id=pairing_id, number=number,
        event_id=event_id or f"evt-{pairing_id}-{number}", organizer="mentoring@contoso.com",
        start=start, end=start + timedelta(minutes=45), is_cancelled=False,
        # As the worker books it (an event from before invite digests: compared on what
        # Outlook shows).
        subject=f"Reverse mentoring {number}/{len(DEFAULT_CURRICULUM)}: {topic}",
        attendees=(AttendeeState(MENTOR, responses[0]), AttendeeState(MENTEE, responses[1])),
        join_url="https://teams.example/x", created=created or NOW - timedelta(days=1),
    )


def test_a_new_pair_gets_keep_booked_sessions_one_cadence_apart() -> None:
    the_plan = plan(config(pairing()), observed(MENTOR, MENTEE), NOW)
    books = [a for a in the_plan.actions if isinstance(a, Book)]
    assert [b.number for b in books] == [1, 2]
    gap = books[1].start.date() - books[0].start.date()
    assert timedelta(days=17) <= gap <= timedelta(days=25)
    assert books[0].start.astimezone(NEW_YORK).date() >= date(2027, 1, 7)
    assert books[0].transaction_id == transaction_id(books[0].key, books[0].start, books[0].end)


def test_nothing_to_do_when_the_upcoming_sessions_are_booked() -> None:
    sessions = [session(1, datetime(2027, 1, 12, 15, tzinfo=UTC)),
                session(2, datetime(2027, 2, 2, 15, tzinfo=UTC))]
    the_plan = plan(config(pairing()), observed(MENTOR, MENTEE, sessions=sessions), NOW)
    assert the_plan.is_empty()
    assert the_plan.counts()["unchanged"] == 2


def test_a_declined_session_moves_to_another_weekday_near_its_date() -> None:
    declined = session(1, datetime(2027, 1, 11, 15, tzinfo=UTC), responses=("accepted", "declined"))
    later = session(2, datetime(2027, 2, 1, 15, tzinfo=UTC))
    the_plan = plan(config(pairing()), observed(MENTOR, MENTEE, sessions=[declined, later]), NOW)
    moves = [a for a in the_plan.actions if isinstance(a, Move)]
    assert len(moves) == 1 and moves[0].event_id == declined.event_id
    assert moves[0].start.astimezone(NEW_YORK).weekday() != 0  # not another Monday
    assert "declined by ceo@contoso.com" in moves[0].reason


def test_a_proposed_time_that_fits_every_rule_is_taken() -> None:
    start = datetime(2027, 1, 12, 15, tzinfo=UTC)
    proposed = ObservedSession(
        key="prog/p1/1", pairing_id="p1", number=1, event_id="evt", organizer="m",
        start=start, end=start + timedelta(minutes=45), subject="s", is_cancelled=False,
        attendees=(AttendeeState(MENTOR, "accepted"),
                   AttendeeState(MENTEE, "tentativelyAccepted", start + timedelta(hours=1),
                                 start + timedelta(hours=1, minutes=45))),
        join_url="x",
    )
    the_plan = plan(config(pairing()), observed(MENTOR, MENTEE, sessions=[proposed]), NOW)
    moves = [a for a in the_plan.actions if isinstance(a, Move)]
    assert moves and moves[0].start == start + timedelta(hours=1)


def test_a_paused_pair_cancels_only_its_future_sessions() -> None:
    held = session(1, NOW - timedelta(days=20))
    upcoming = session(2, NOW + timedelta(days=1))
    the_plan = plan(config(pairing(status="paused")),
                    observed(MENTOR, MENTEE, sessions=[held, upcoming]), NOW)
    assert [(type(a), a.number) for a in the_plan.actions] == [(Cancel, 2)]


def test_a_duplicate_event_keeps_the_oldest_and_cancels_the_other() -> None:
    first = session(1, datetime(2027, 1, 12, 15, tzinfo=UTC), event_id="old",
                    created=NOW - timedelta(hours=2))
    second = session(1, datetime(2027, 1, 13, 15, tzinfo=UTC), event_id="new",
                     created=NOW - timedelta(hours=1))
    the_plan = plan(config(pairing()), observed(MENTOR, MENTEE, sessions=[first, second]), NOW)
    cancels = [a for a in the_plan.actions if isinstance(a, Cancel)]
    assert [c.event_id for c in cancels] == ["new"]


def test_a_missing_person_is_a_problem_of_that_pair_only() -> None:
    other = pairing("p2", mentor="zoe@contoso.com", mentee="cfo@contoso.com")
    state = observed(MENTOR, "zoe@contoso.com", "cfo@contoso.com")
    the_plan = plan(config(pairing(), other), state, NOW)
    assert [p.pairing_id for p in the_plan.problems] == ["p1"]
    assert {a.pairing_id for a in the_plan.actions} == {"p2"}


def test_sessions_of_a_pairing_removed_from_the_config_are_reported_and_left_alone() -> None:
    orphan = session(1, NOW + timedelta(days=3), pairing_id="gone")
    kept = session(1, NOW + timedelta(days=4))
    the_plan = plan(config(pairing()), observed(MENTOR, MENTEE, sessions=[orphan, kept]), NOW)
    assert not any(a.pairing_id == "gone" for a in the_plan.actions)
    assert any(n.pairing_id == "gone" and "status: ended" in n.text for n in the_plan.notices)
    assert "gone  (no longer in the config)" in the_plan.render_text()
    assert the_plan.refusal() is None  # one pairing of two: not a broken config


def test_a_tag_past_the_curriculum_is_reported_and_left_alone() -> None:
    stray = session(99, NOW + timedelta(days=3), event_id="stray")
    the_plan = plan(config(pairing()), observed(MENTOR, MENTEE, sessions=[stray]), NOW)
    assert not any(getattr(a, "event_id", None) == "stray" for a in the_plan.actions)
    assert any("prog/p1/99" in n.text and "left alone" in n.text for n in the_plan.notices)
    assert len([a for a in the_plan.actions if isinstance(a, Book)]) == 2


def test_a_pairings_file_emptied_by_mistake_is_refused() -> None:
    sessions = [session(1, NOW + timedelta(days=3), pairing_id=f"p{i}") for i in range(2)]
    the_plan = plan(config(), observed(sessions=sessions), NOW)
    assert not the_plan.actions
    refused = the_plan.refusal()
    assert refused is not None and "2 of 2 pairings" in str(refused)
    assert the_plan.exit_code == 2


def test_declines_never_trip_the_safety_gate() -> None:
    pairs = [pairing(f"p{i}", mentor=f"m{i}@contoso.com", mentee=f"e{i}@contoso.com")
             for i in range(3)]
    sessions = [replace(session(1, NOW + timedelta(days=7), pairing_id=f"p{i}"),
                        attendees=(AttendeeState(f"m{i}@contoso.com", "accepted"),
                                   AttendeeState(f"e{i}@contoso.com", "declined")))
                for i in range(3)]
    emails = [e for i in range(3) for e in (f"m{i}@contoso.com", f"e{i}@contoso.com")]
    the_plan = plan(config(*pairs), observed(*emails, sessions=sessions), NOW,
                    max_change_share=0.1)
    moves = [a for a in the_plan.actions if isinstance(a, Move)]
    assert len(moves) == 3 and all(m.cause == "person" for m in moves)
    assert the_plan.refusal() is None


def test_one_mentor_with_two_mentees_is_never_booked_twice_at_once() -> None:
    second = pairing("p2", mentee="cfo@contoso.com")
    state = observed(MENTOR, MENTEE, "cfo@contoso.com")
    the_plan = plan(config(pairing(), second), state, NOW)
    slots = sorted((a.start, a.end) for a in the_plan.actions if isinstance(a, Book))
    assert len(slots) == 4
    for (_, end), (start, _) in pairwise(slots):
        assert end <= start


def test_a_plan_cancelling_most_upcoming_sessions_is_refused_unless_forced() -> None:
    pairs = [pairing(f"p{i}", mentor=f"m{i}@contoso.com", mentee=f"e{i}@contoso.com",
                     status="ended") for i in range(3)]
    sessions = [session(n, NOW + timedelta(days=n), pairing_id=f"p{i}")
                for i in range(3) for n in (1, 2)]
    the_plan = plan(config(*pairs), observed(sessions=sessions), NOW)
    assert len(the_plan.disruptive) == 6
    assert the_plan.max_change_share == 0.25
    with pytest.raises(TooMuchChange):
        the_plan.raise_if_unsafe()
    assert the_plan.exit_code == 2 and "would refuse" in the_plan.render_text()
    replace(the_plan, force=True).raise_if_unsafe()


def test_a_plan_shows_each_booking_in_both_peoples_time() -> None:
    state = observed(MENTOR, MENTEE)
    state.schedules[MENTOR] = schedule(MENTOR, LONDON)
    text = plan(config(pairing()), state, NOW).render_text()
    assert "mentee" in text and "EST" in text and "GMT" in text


def test_a_move_remembers_the_declined_time_and_never_offers_it_again() -> None:
    declined = session(1, datetime(2027, 1, 11, 15, tzinfo=UTC), responses=("accepted", "declined"))
    moves = plan(config(pairing()), observed(MENTOR, MENTEE, sessions=[declined]), NOW).actions
    first = next(a for a in moves if isinstance(a, Move))
    assert {e.split("@")[0] for e in first.ledger} >= {"moved", "declined", "invited"}
    # The new time is declined too: the next move offers neither of the two.
    again = replace(declined, start=first.start, end=first.end, nudges=first.ledger)
    again_moves = plan(config(pairing()), observed(MENTOR, MENTEE, sessions=[again]), NOW).actions
    second = next(a for a in again_moves if isinstance(a, Move))
    assert second.start not in (declined.start, first.start)
    assert sum(e.startswith("declined@") for e in second.ledger) == 2


def test_a_session_declined_after_three_moves_is_left_for_the_admin() -> None:
    moved = frozenset({"moved@20270104T1500Z", "moved@20270105T1500Z", "moved@20270106T1500Z"})
    declined = replace(session(1, datetime(2027, 1, 11, 15, tzinfo=UTC),
                               responses=("accepted", "declined")), nudges=moved)
    the_plan = plan(config(pairing()), observed(MENTOR, MENTEE, sessions=[declined]), NOW)
    assert not [a for a in the_plan.actions if isinstance(a, Move)]
    [problem] = the_plan.problems
    assert "needs attention" in problem.reason and "after 3 moves" in problem.reason
    assert the_plan.exit_code == 1


def test_no_session_is_booked_before_the_pairings_start() -> None:
    start = date(2027, 1, 20)  # a Wednesday: the tolerance would reach back to the 16th
    state = observed(MENTOR, MENTEE)
    # The mentee is busy all of the start day: the 19th and the 21st are equally near, and
    # the nearer-earlier rule alone would pick the day before the pairing starts.
    busy_day = Interval(datetime(2027, 1, 20, 5, tzinfo=UTC), datetime(2027, 1, 21, 5, tzinfo=UTC))
    state.schedules[MENTEE] = replace(schedule(MENTEE), busy=(busy_day,))
    the_plan = plan(config(pairing(start=start)), state, NOW)
    books = [a for a in the_plan.actions if isinstance(a, Book)]
    assert books and all(b.start.astimezone(NEW_YORK).date() >= start for b in books)
    assert books[0].start.astimezone(NEW_YORK).date() <= start + timedelta(days=4)


def test_a_new_mentor_keeps_the_time_when_free_then() -> None:
    booked = session(1, datetime(2027, 1, 12, 15, tzinfo=UTC))
    new = "leo@contoso.com"
    the_plan = plan(config(pairing(mentor=new)), observed(new, MENTEE, sessions=[booked]), NOW)
    [update] = [a for a in the_plan.actions if a.kind == "update"]
    assert update.start == booked.start and update.attendees == tuple(sorted([new, MENTEE]))


def test_a_new_mentor_busy_then_moves_the_session() -> None:
    booked = session(1, datetime(2027, 1, 12, 15, tzinfo=UTC))
    new = "leo@contoso.com"
    state = observed(new, MENTEE, sessions=[booked])
    state.schedules[new] = replace(schedule(new), busy=(Interval(booked.start, booked.end),))
    the_plan = plan(config(pairing(mentor=new)), state, NOW)
    [update] = [a for a in the_plan.actions if a.kind == "update"]
    assert update.start != booked.start and "start" in update.changes
    assert "the new time suits" in update.describe()
    assert update.cause == "config" and update.disruptive


def test_a_later_start_date_moves_the_sessions_before_it() -> None:
    booked = [session(1, datetime(2027, 1, 12, 15, tzinfo=UTC)),
              session(2, datetime(2027, 2, 2, 15, tzinfo=UTC))]
    start = date(2027, 1, 25)
    the_plan = plan(config(pairing(start=start)), observed(MENTOR, MENTEE, sessions=booked),
                    NOW)
    updates = {a.number: a for a in the_plan.actions if a.kind == "update"}
    assert updates[1].start.astimezone(NEW_YORK).date() >= start
    assert "the pairing now starts later" in updates[1].describe()


def test_a_session_the_one_before_was_moved_onto_follows_it() -> None:
    # Session 1 is declined on Monday 11 Jan; session 2 sits only 15 days later, on Tue 26th.
    first = session(1, datetime(2027, 1, 11, 15, tzinfo=UTC), responses=("accepted", "declined"))
    second = session(2, datetime(2027, 1, 26, 15, tzinfo=UTC))
    the_plan = plan(config(pairing(), cadence={"every_days": 21, "tolerance_days": 4}),
                    observed(MENTOR, MENTEE, sessions=[first, second]), NOW)
    [move] = [a for a in the_plan.actions if isinstance(a, Move)]
    [follower] = [a for a in the_plan.actions if a.kind == "update" and a.number == 2]
    assert follower.start - move.start >= timedelta(days=17), the_plan.render_text()
    assert follower.cause == "person" and "keeps the cadence" in follower.describe()
    assert the_plan.refusal() is None


def test_a_start_in_the_past_is_told_and_booked_from_now_on() -> None:
    from worker.config import ConfigProblem

    old = pairing(start=date(2026, 12, 1))
    warning = ConfigProblem("pairings.yaml", 5, 12, "pairing p1: start 2026-12-01 is in the past")
    the_config = config(old).model_copy(update={"warnings": (warning,)})
    the_plan = plan(the_config, observed(MENTOR, MENTEE), NOW)
    [notice] = [n for n in the_plan.notices if "in the past" in n.text]
    assert "pairings.yaml:5:12" in notice.text
    books = [a for a in the_plan.actions if isinstance(a, Book)]
    assert books and books[0].start >= NOW + timedelta(hours=48)


def test_a_time_a_person_chose_is_never_undone() -> None:
    # An assistant moved session 2 to only ten days after session 1, in Outlook.
    first = session(1, datetime(2027, 1, 11, 15, tzinfo=UTC))
    second = session(2, datetime(2027, 1, 21, 15, tzinfo=UTC))
    the_plan = plan(config(pairing()), observed(MENTOR, MENTEE, sessions=[first, second]), NOW)
    assert the_plan.is_empty(), the_plan.render_text()
