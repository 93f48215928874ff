"""The calendar planner: a pure function from (desired, observed, now) to calendar actions.

It compares what the config wants with the program's events in Microsoft 365 and emits frozen
actions (book, move, cancel) plus the problems it met per pairing. It does no I/O, so every
rule is unit-testable; the notes list and Teams stages plan on top of what it decides.

Rules, per pairing:
- a pairing that is paused or ended, or no longer in the config, has its future sessions
  cancelled (past ones are history and stay);
- two live events for one session (a crash between Graph creating an event and us learning its
  id can do that only if Graph ignored our transactionId) keep the oldest and cancel the rest;
- a future session declined by the mentor or mentee is moved: to the time the person proposed
  when that works for both, else to the nearest free time around the same date, trying other
  weekdays first (someone who declined a Monday is likely to decline the next Monday too);
- sessions are booked in order, at most `keep_booked` upcoming ones at a time, each about one
  cadence after the previous one, at a time free for both people (see `worker.plan.slots`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from worker.config import Config, Pairing, parse_session_key, session_key
from worker.config.templates import Templates
from worker.observe.state import DECLINED, TENTATIVE, Observed, ObservedSession, live_event
from worker.plan.actions import CalendarAction, PairProblem
from worker.plan.booking import book_action, cancel_action
from worker.plan.plan import PairState
from worker.plan.slot_context import RunState, SlotContext


@dataclass(frozen=True)
class CalendarPlan:
    """The calendar stage of a plan; the notes list and Teams stages build on it."""

    actions: tuple[CalendarAction, ...]
    problems: tuple[PairProblem, ...]
    pairs: tuple[PairState, ...]
    existing_upcoming: int


# ---------------------------------------------------------------------------------------------
# What to read before planning


def schedule_window(config: Config, now: datetime) -> tuple[datetime, datetime]:
    """The span of free/busy the planner may look at: from now to the furthest slot it could
    book this run (`keep_booked` cadences ahead of the latest pairing start, plus tolerance)."""
    program = config.program
    starts = [p.start for p in config.pairings if p.status == "active"] or [now.date()]
    anchor = max(max(starts), now.date())
    cadence = program.cadence.every_days + program.cadence.tolerance_days
    days = program.keep_booked * cadence + program.cadence.tolerance_days + 2
    end = datetime.combine(anchor, time(0), tzinfo=UTC) + timedelta(days=days)
    end += timedelta(hours=program.minimum_notice_hours)
    return now, max(end, now + timedelta(days=1))


def people_needing_schedules(config: Config, observed_sessions: dict[str, list[ObservedSession]],
                             now: datetime) -> set[str]:
    """E-mails of the people whose free/busy the plan needs: members of active pairings that
    have a session to book or a declined/proposed session to move."""
    program = config.program
    needed: set[str] = set()
    for pairing in config.pairings:
        if pairing.status != "active":
            continue
        specs = pairing.sessions(program)
        live = [
            live_event(observed_sessions.get(session_key(program.id, pairing.id, s.number), []))
            for s in specs
        ]
        upcoming = sum(1 for s in live if s is not None and s.end > now)
        missing = any(s is None for s in live)
        needs_move = any(
            s is not None and s.start > now and _wants_move(s, pairing) for s in live
        )
        if needs_move or (missing and upcoming < program.keep_booked):
            needed.update({pairing.mentor.lower(), pairing.mentee.lower()})
    return needed


# ---------------------------------------------------------------------------------------------
# The planner


def plan_calendar(config: Config, observed: Observed, now: datetime,
                  templates: Templates) -> CalendarPlan:
    """Compare the config with the events that exist and decide what to do. Pure."""
    program = config.program
    actions: list[CalendarAction] = []
    problems: list[PairProblem] = []
    pairs: list[PairState] = []
    run = RunState()
    known_pairings = {p.id for p in config.pairings}

    # Existing upcoming sessions count, for the safety check.
    existing_upcoming = 0
    for sessions in observed.sessions.values():
        live = live_event(sessions)
        if live is not None and live.start > now:
            existing_upcoming += 1

    # Sessions of pairings that left the config: cancel the future ones.
    for key, sessions in sorted(observed.sessions.items()):
        parsed = parse_session_key(key)
        if parsed is None or parsed[0] != program.id or parsed[1] in known_pairings:
            continue
        for session in sessions:
            if not session.is_cancelled and session.start > now:
                actions.append(cancel_action(session, "pairing no longer in the config"))

    for pairing in config.pairings:
        pair_actions, pair_problems, state = _plan_pairing(config, pairing, observed, now, run,
                                                           templates)
        actions.extend(pair_actions)
        problems.extend(pair_problems)
        pairs.append(state)
    return CalendarPlan(tuple(actions), tuple(problems), tuple(pairs), existing_upcoming)


def _wants_move(session: ObservedSession, pairing: Pairing) -> bool:
    members = {pairing.mentor.lower(), pairing.mentee.lower()}
    for attendee in session.attendees:
        if attendee.email.lower() not in members:
            continue
        if attendee.response == DECLINED:
            return True
        if attendee.response == TENTATIVE and attendee.proposed_start is not None:
            return True
    return False


def _plan_pairing(
    config: Config, pairing: Pairing, observed: Observed, now: datetime, run: RunState,
    templates: Templates,
) -> tuple[list[CalendarAction], list[PairProblem], PairState]:
    program = config.program
    specs = pairing.sessions(program)
    actions: list[CalendarAction] = []
    problems: list[PairProblem] = []

    live: dict[int, ObservedSession] = {}
    for spec in specs:
        sessions = observed.sessions_for(session_key(program.id, pairing.id, spec.number))
        keep = live_event(sessions)
        if keep is None:
            continue
        live[spec.number] = keep
        for extra in sessions:
            if extra is not keep and not extra.is_cancelled and extra.start > now:
                actions.append(cancel_action(extra, "duplicate event for this session"))
    booked = len(live)

    def state(changed: int) -> PairState:
        return PairState(
            pairing.id, pairing.mentor, pairing.mentee, pairing.status, booked, booked - changed
        )

    if pairing.status != "active":
        cancels = [
            cancel_action(s, f"pairing {pairing.status}") for s in live.values() if s.start > now
        ]
        return actions + cancels, problems, state(len(cancels))

    missing = [
        f"{role} {email} does not exist in the tenant"
        + (f" ({observed.missing_people[email.lower()]})"
           if observed.missing_people.get(email.lower()) else "")
        for role, email in (("mentor", pairing.mentor), ("mentee", pairing.mentee))
        if observed.person(email) is None
    ]
    if missing:
        problems.extend(PairProblem(pairing.id, reason) for reason in missing)
        return actions, problems, state(0)

    finder = SlotContext(config, pairing, observed, now, run)
    organizer = pairing.mentor if program.organizer == "mentor" else str(program.organizer)
    cadence = timedelta(days=program.cadence.every_days)
    prev_start: datetime | None = None
    upcoming = sum(1 for s in live.values() if s.end > now)
    changed = 0

    for spec in specs:
        session = live.get(spec.number)
        if session is not None:
            start = session.start
            if session.start > now and _wants_move(session, pairing):
                target = pairing.start if prev_start is None else (prev_start + cadence).date()
                move, problem = finder.move(session, target)
                if move is not None:
                    actions.append(move)
                    changed += 1
                    start = move.start
                elif problem is not None:
                    problems.append(problem)
            prev_start = start
            continue
        if upcoming >= program.keep_booked:
            break
        target = pairing.start if prev_start is None else (prev_start + cadence).date()
        slot = finder.find(target)
        if isinstance(slot, str):
            problems.append(PairProblem(pairing.id, f"session {spec.number}: {slot}"))
            break
        actions.append(book_action(config, pairing, spec, organizer, slot, finder.local(slot.start),
                                   observed.people, templates))
        run.add((pairing.mentor, pairing.mentee), slot)
        prev_start = slot.start
        upcoming += 1
    return actions, problems, state(changed)
