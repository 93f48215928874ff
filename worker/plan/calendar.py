"""The calendar planner: a pure function from (desired, observed, now) to calendar actions.

It compares what the config wants with the program's events in Microsoft 365 and emits frozen
actions (book, move, cancel) plus the problems it met per pairing. It does no I/O, so every
rule is unit-testable; the notes list and Teams stages plan on top of what it decides.

Ownership (invariant 3): only an event whose tag names a program, pairing and session number
of the config is a session. Any other tag of ours (a pairing removed from the config, a session
number past the curriculum) is reported and left untouched: removing a pairing by mistake must
not cancel its sessions; `status: ended` does that on purpose.

Rules, per pairing:
- a pairing one of whose events is ours but cannot be read (`Observed.unreadable`) is left as
  it is, and named: whatever the planner did could double or undo what that event holds;
- a pairing that is paused or ended has its future sessions cancelled (past ones are history
  and stay);
- two live events for one session (a crash between Graph creating an event and us learning its
  id can do that only if Graph ignored our transactionId) keep the oldest and cancel the rest;
- a future session declined by the mentor or mentee (or the executive's assistant, who speaks
  for the executive) is moved: to the time the person proposed when that works for both, else
  to the nearest free time around the same date, trying other weekdays first (someone who
  declined a Monday is likely to decline the next Monday too);
- past `max_reschedules` a declined session is the admin's and is never moved again by a
  search; when the executive has an assistant, they are offered three times both people are
  free (`offers`, sent by the Teams stage), and the one time then proposed (by the assistant
  or the executive) is followed when it suits both: one move past the limit, never more;
- sessions are booked in order, at most `keep_booked` upcoming ones at a time, each about one
  cadence after the previous one, at a time free for both people (see `worker.plan.slots`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

from worker.config import Config, Pairing, parse_session_key, session_key
from worker.config.templates import Templates
from worker.observe.state import (
    DECLINED,
    LOOKUP_FAILED,
    Observed,
    ObservedSession,
    live_event,
)
from worker.plan.actions import CalendarAction, Move, Notice, PairProblem
from worker.plan.booking import book_action, cancel_action, update_action
from worker.plan.items import parse_instant
from worker.plan.nudges import Offer, moves_of
from worker.plan.plan import PairState
from worker.plan.reads import (
    closest,
    limit_offered,
    person_cancels,
    stale_rules,
    stale_start,
    wants_move,
)
from worker.plan.slot_context import RunState, SlotContext


@dataclass(frozen=True)
class CalendarPlan:
    """The calendar stage of a plan; the notes list and Teams stages build on it."""

    actions: tuple[CalendarAction, ...]
    problems: tuple[PairProblem, ...]
    pairs: tuple[PairState, ...]
    existing_upcoming: int
    notices: tuple[Notice, ...] = ()
    # Pairings that have upcoming sessions in Microsoft 365, and how many of them the config
    # no longer names (a pairings file emptied by mistake shows as all of them).
    pairings_with_sessions: int = 0
    vanished_pairings: tuple[str, ...] = ()
    # Declined sessions this plan does not move (past the move limit, or no time fits): no
    # "being rescheduled" notice goes out for them.
    unmoved: frozenset[str] = frozenset()
    # Sessions a participant cancelled that stay cancelled: key -> (times, what to tell).
    left_cancelled: Mapping[str, tuple[int, str]] = field(default_factory=dict)
    # What the list items keep saying after the fact (no run fails for it any more): a
    # session declined past the move limit whose time has passed did not take place.
    lasting: Mapping[str, str] = field(default_factory=dict)
    # Sessions past their reschedule limit whose executive's assistant is offered free times.
    offers: Mapping[str, Offer] = field(default_factory=dict)


def owned_sessions(config: Config, sessions: Mapping[str, list[ObservedSession]]
                   ) -> tuple[dict[str, list[ObservedSession]], dict[str, list[ObservedSession]]]:
    """The observed sessions the config names, and the other tags of ours, by key."""
    numbers = {p.id: {s.number for s in p.sessions(config.program)} for p in config.pairings}
    mine: dict[str, list[ObservedSession]] = {}
    foreign: dict[str, list[ObservedSession]] = {}
    for key, found in sessions.items():
        parsed = parse_session_key(key)
        if (parsed is not None and parsed[0] == config.program.id
                and parsed[2] in numbers.get(parsed[1], set())):
            mine[key] = found
        else:
            foreign[key] = found
    return mine, foreign


# ---------------------------------------------------------------------------------------------
# The planner


def plan_calendar(config: Config, observed: Observed, now: datetime,
                  templates: Templates) -> CalendarPlan:
    """Compare the config with the events that exist and decide what to do. Pure."""
    actions: list[CalendarAction] = []
    problems: list[PairProblem] = []
    pairs: list[PairState] = []
    run = RunState()
    known_pairings = {p.id for p in config.pairings}
    mine, foreign = owned_sessions(config, observed.sessions)

    # Existing upcoming sessions count, for the safety check.
    existing_upcoming = 0
    with_sessions: set[str] = set()
    for key, sessions in observed.sessions.items():
        live = live_event(sessions)
        if live is not None and live.start > now:
            existing_upcoming += key in mine
            with_sessions.add(live.pairing_id)

    notices, vanished = _foreign(foreign, known_pairings, now)
    lasting: dict[str, str] = {}
    offers: dict[str, Offer] = {}
    for pairing in config.pairings:
        pair_actions, pair_problems, state = _plan_pairing(config, pairing, observed, now, run,
                                                           templates, notices, lasting, offers)
        actions.extend(pair_actions)
        problems.extend(pair_problems)
        pairs.append(state)
    unmoved = frozenset(p.key for p in problems if p.key)
    left = {n.key: (n.count, n.text) for n in notices if isinstance(n, _LeftCancelled)}
    return CalendarPlan(tuple(actions), tuple(problems), tuple(pairs), existing_upcoming,
                        tuple(notices), len(with_sessions), tuple(sorted(vanished)), unmoved,
                        left, lasting, offers)


def _foreign(foreign: Mapping[str, list[ObservedSession]], known_pairings: set[str],
             now: datetime) -> tuple[list[Notice], set[str]]:
    """Reports for the tags of ours that name no session of the config (left untouched)."""
    notices: list[Notice] = []
    vanished: set[str] = set()
    upcoming: dict[str, int] = {}
    for key in sorted(foreign):
        live = live_event(foreign[key])
        if live is None:
            continue
        if live.pairing_id not in known_pairings:
            if live.start > now:
                upcoming[live.pairing_id] = upcoming.get(live.pairing_id, 0) + 1
                vanished.add(live.pairing_id)
            continue
        notices.append(Notice(live.pairing_id, f"the event {live.event_id} carries the tag "
                              f"{key}, which names no session of the curriculum: left alone"))
    for pairing_id, count in sorted(upcoming.items()):
        notices.append(Notice(pairing_id, f"no longer in the config: its {count} upcoming "
                              "session(s) are left as they are (set `status: ended` to cancel "
                              "them)"))
    return notices, vanished


def _missing(role: str, email: str, why: str) -> str:
    """Someone the directory did not give us: gone (the program team must act), or a lookup
    that failed this time (the next run looks again)."""
    if why.startswith(LOOKUP_FAILED):
        return f"{role} {email}: {why}"
    return f"needs attention: {role} {email} does not exist in the tenant"


def _answer(session: ObservedSession, pairing: Pairing) -> str:
    members = pairing.deciders()
    who = [a.email for a in session.attendees
           if a.email.lower() in members and a.response == DECLINED]
    return f"declined by {', '.join(who)}" if who else "a new time proposed"


@dataclass(frozen=True)
class _LeftCancelled(Notice):
    """A notice about a session a participant cancelled, which stays cancelled."""

    key: str = ""
    count: int = 0


def _plan_pairing(
    config: Config, pairing: Pairing, observed: Observed, now: datetime, run: RunState,
    templates: Templates, notices: list[Notice], lasting: dict[str, str],
    offers: dict[str, Offer],
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
                actions.append(cancel_action(extra, "duplicate event for this session",
                                             cause="worker"))
    booked = len(live)

    def state(changed: int) -> PairState:
        return PairState(
            pairing.id, pairing.mentor, pairing.mentee, pairing.status, booked, booked - changed
        )

    unreadable = [(spec.number, observed.unreadable[key]) for spec in specs
                  if (key := session_key(program.id, pairing.id, spec.number))
                  in observed.unreadable]
    if unreadable:
        # Its event may exist: booking, moving or cancelling on a guess could double it.
        number, why = unreadable[0]
        return [], [PairProblem(pairing.id, f"session {number}: its event cannot be read "
                                f"({why}); the pairing's calendar is left as it is until it "
                                "can (next run)")], state(0)

    if pairing.status != "active":
        cancels = [
            cancel_action(s, f"pairing {pairing.status}", cause="config")
            for s in live.values() if s.start > now
        ]
        return actions + cancels, problems, state(len(cancels))

    missing = [
        _missing(role, email, observed.missing_people.get(email.lower(), ""))
        for role, email in (("mentor", pairing.mentor), ("mentee", pairing.mentee))
        if observed.person(email) is None
    ]
    if missing:
        problems.extend(PairProblem(pairing.id, reason) for reason in missing)
        return actions, problems, state(0)
    if pairing.assistant is not None and pairing.assistant.lower() in observed.missing_people:
        # Still invited (an invitation goes by e-mail); only the Teams nudges cannot reach them.
        notices.append(Notice(pairing.id, f"assistant {pairing.assistant}: "
                              f"{observed.missing_people[pairing.assistant.lower()]}; invited "
                              "by e-mail, no Teams nudge reaches them"))

    held = any(s.end <= now for s in live.values())
    if pairing.start < now.date() and not held:
        # Reported with the file and line the config loader found it at.
        where = next((str(w) for w in config.warnings
                      if f"pairing {pairing.id}: start" in w.message), "")
        notices.append(Notice(pairing.id, f"starts on {pairing.start}, in the past: its first "
                              "session is booked from now on" + (f" ({where})" if where else "")))
    finder = SlotContext(config, pairing, observed, now, run)
    organizer = pairing.mentor if program.organizer == "mentor" else str(program.organizer)
    cadence = timedelta(days=program.cadence.every_days)
    nearest = closest(config)
    prev_start: datetime | None = None
    upcoming = sum(1 for s in live.values() if s.end > now)
    changed = 0

    moved_before = False  # the session before was moved by this plan
    for spec in specs:
        session = live.get(spec.number)
        if session is not None:
            start = session.start
            moved = False
            if (session.start <= now and wants_move(session, pairing)
                    and moves_of(session.nudges) >= program.max_reschedules):
                lasting[session.key] = (
                    f"needs attention: {_answer(session, pairing)} after "
                    f"{moves_of(session.nudges)} moves; the session did not take place")
            if session.start > now and wants_move(session, pairing) and (
                    moves_of(session.nudges) >= program.max_reschedules):
                target = pairing.start if prev_start is None else (prev_start + cadence).date()
                move = _past_limit(config, pairing, session, finder, target, offers, notices)
                if move is not None:
                    actions.append(move)
                    changed += 1
                    start, moved = move.start, True
                else:
                    # Past the limit the session is the admin's: named, never moved again.
                    problems.append(PairProblem(
                        pairing.id, f"session {session.number} needs attention: "
                        f"{_answer(session, pairing)} after {moves_of(session.nudges)} moves; "
                        "not moved again", key=session.key))
            elif session.start > now and wants_move(session, pairing):
                target = pairing.start if prev_start is None else (prev_start + cadence).date()
                move, problem = finder.move(session, target)
                if move is not None:
                    actions.append(move)
                    changed += 1
                    start, moved = move.start, True
                elif problem is not None:
                    problems.append(problem)
            elif session.start > now:
                # An edit of the config or the templates reaches every session not yet held:
                # it keeps its time when that still suits both people, else it moves.
                target = pairing.start if prev_start is None else (prev_start + cadence).date()
                # A session the one before was just moved onto (closer than the cadence
                # allows) follows it, so the pair keeps its rhythm. A time a person chose
                # (an assistant moving the meeting in Outlook) is theirs: never undone.
                squeezed = (moved_before and prev_start is not None
                            and session.start < prev_start + nearest)
                update, problem = finder.edit(
                    session, update_action(config, pairing, spec, session, observed.people,
                                           templates), target, squeezed=squeezed,
                    recheck=stale_rules(session, config),
                    replan=stale_start(session, pairing))
                if update is not None:
                    actions.append(update)
                    changed += 1
                    start, moved = update.start, update.start != session.start
                if problem is not None:
                    problems.append(problem)
            prev_start, moved_before = start, moved
            continue
        if upcoming >= program.keep_booked:
            break
        key = session_key(program.id, pairing.id, spec.number)
        gone = person_cancels(observed.items.get(key))
        if gone is not None and (gone[0] > 1 or program.rebook_after_cancel == "never"
                                    or not gone[1]):
            # A participant cancelled it (again): it stays cancelled, the pair goes on.
            if gone[1]:
                notices.append(_LeftCancelled(
                    pairing.id, f"session {spec.number} was cancelled by a participant in "
                    f"Outlook ({gone[0]} time(s)); left cancelled", key=key,
                    count=gone[0]))
            prev_start = parse_instant(((observed.items.get(key) or {}).get("fields") or {})
                                       .get("SessionStart")) or prev_start
            continue
        target = pairing.start if prev_start is None else (prev_start + cadence).date()
        slot = finder.find(target)
        if isinstance(slot, str):
            problems.append(PairProblem(pairing.id, f"session {spec.number}: {slot}"))
            break
        book = book_action(config, pairing, spec, organizer, slot, finder.local(slot.start),
                           observed.people, templates)
        if gone is not None:
            book = replace(book, person_cancels=gone[0])
        actions.append(book)
        run.add((pairing.mentor, pairing.mentee), slot)
        prev_start = slot.start
        upcoming += 1
    return actions, problems, state(changed)


def _past_limit(config: Config, pairing: Pairing, session: ObservedSession, finder: SlotContext,
                target: date, offers: dict[str, Offer], notices: list[Notice]) -> Move | None:
    """A session past its reschedule limit, for a pairing whose executive has an assistant:
    the one time proposed after the assistant was offered times, when it suits both (one move
    past the limit, never more); else the free times to offer the assistant, if not yet."""
    if (pairing.assistant is None or config.program.nudges is None
            or moves_of(session.nudges) != config.program.max_reschedules):
        return None  # moved past the limit once already: the admin's alone
    if limit_offered(session, pairing):
        if session.proposal() is None:
            return None
        move, _ = finder.move(session, target, proposal_only=True)
        return move
    times = finder.free_times(session, target)
    if isinstance(times, str):
        notices.append(Notice(pairing.id, f"session {session.number}: no times to offer the "
                              f"assistant {pairing.assistant}: {times}"))
    elif len(times) < 3:
        notices.append(Notice(pairing.id, f"session {session.number}: the assistant "
                              f"{pairing.assistant} is offered {len(times)} time(s): no more "
                              "are free for both within the cadence tolerance"))
    if not isinstance(times, str) and times:
        offers[session.key] = Offer(session, times)
    return None
