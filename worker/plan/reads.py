"""What the calendar planner needs read before it plans, and the rules that decide it.

Pure. The run (`worker.run.job`) asks these which free/busy and which notes list items to
read, so a run reads only what its plan can use: free/busy of the people of pairs that have
something to book, move or re-check, and the items of the sessions it may book (only an item
remembers a session whose event a participant cancelled).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, time, timedelta
from typing import Any

from worker.config import Config, Pairing, session_key
from worker.core.notes_list import CANCELLED
from worker.observe.state import DECLINED, TENTATIVE, ObservedSession, live_event
from worker.plan.booking import rules_marker, start_marker
from worker.plan.items import count_of
from worker.plan.nudges import (
    NudgeKind,
    limit_round,
    moves_of,
    nudge_key,
    rules_entries,
    start_entries,
)

# A no-op run looks nobody up; participants are checked against the directory in rotation
# instead, each pairing in one hour of the day, a different hour each day: hourly runs check
# everyone daily, a daily run everyone within this many days.
PRESENCE_SLOTS = 24


def presence_due(config: Config, now: datetime) -> set[str]:
    """The participants whose presence in the directory this run checks (a person who left
    puts the pair on "needs attention" even when nothing is due for them)."""
    due: set[str] = set()
    for pairing in config.active_pairings():
        slot = (zlib.crc32(pairing.id.encode()) + now.toordinal()) % PRESENCE_SLOTS
        if slot == now.hour % PRESENCE_SLOTS:
            due.update((pairing.mentor.lower(), pairing.mentee.lower()))
    return due


def schedule_window(config: Config, observed_sessions: Mapping[str, list[ObservedSession]],
                    now: datetime, pairings: Iterable[Pairing]) -> tuple[datetime, datetime]:
    """The span of free/busy the planner may look at: from now to the end of the latest slot
    it could book or move this run, for `pairings` (those `pairings_needing_schedules` gives).

    Each pairing is walked as the calendar planner walks it: a session's target is the
    pairing's start or one cadence after the session before, never before the minimum notice;
    its day lies within the tolerance of that (in the executive's zone: a day more either way
    covers every zone); a session that may move is counted at the latest it could move to;
    booking stops at `keep_booked` upcoming sessions. So a first run of sessions three weeks
    apart reads about five weeks, one getSchedule call per 20 people (Graph allows 62 days)."""
    program = config.program
    cadence = timedelta(days=program.cadence.every_days)
    tolerance = timedelta(days=program.cadence.tolerance_days)
    duration = timedelta(minutes=program.duration_minutes)
    notice_day = (now + timedelta(hours=program.minimum_notice_hours)).date()
    end = now + timedelta(days=1)
    for pairing in pairings:
        latest: datetime | None = None  # the latest the session before could start
        upcoming = 0
        for spec in pairing.sessions(program):
            session = live_event(observed_sessions.get(
                session_key(program.id, pairing.id, spec.number), []))
            if session is not None and session.end <= now:
                latest = session.start  # held: it stays where it was
                continue
            if session is None and upcoming >= program.keep_booked:
                break
            target = pairing.start if latest is None else (latest + cadence).date()
            last_day = max(target, notice_day) + tolerance + timedelta(days=1)
            # The latest start on that day in any zone (UTC-12 ends 12 hours after UTC).
            bound = datetime.combine(last_day + timedelta(days=1), time(12), tzinfo=UTC)
            latest = bound if session is None else max(session.start, bound)
            upcoming += 1
            end = max(end, latest + duration)
    return now, end


def _needs_schedules(config: Config, pairing: Pairing,
                     observed_sessions: Mapping[str, list[ObservedSession]],
                     now: datetime) -> bool:
    """The pairing has a session to book, or one to move or re-check (an edit, a decline, a
    proposed time): the planner needs both people's free/busy."""
    program = config.program
    live = [
        live_event(observed_sessions.get(session_key(program.id, pairing.id, s.number), []))
        for s in pairing.sessions(program)
    ]
    upcoming = sum(1 for s in live if s is not None and s.end > now)
    missing = any(s is None for s in live)
    needs_move = any(
        s is not None and s.start > now and (wants_move(s, pairing)
                                             or edited_time(s, pairing, config))
        for s in live
    )
    return needs_move or (missing and upcoming < program.keep_booked) or any(
        s is not None and limit_nudge_due(config, pairing, s, now) for s in live)


def pairings_needing_schedules(config: Config,
                               observed_sessions: Mapping[str, list[ObservedSession]],
                               now: datetime) -> list[Pairing]:
    """The active pairings whose people's free/busy the plan needs: a session to book, or a
    declined, proposed or edited one to move or re-check."""
    return [pairing for pairing in config.active_pairings()
            if _needs_schedules(config, pairing, observed_sessions, now)]


def booking_candidates(config: Config, sessions: Mapping[str, list[ObservedSession]],
                       now: datetime) -> list[str]:
    """Keys the planner may book this run (the missing sessions each active pairing reaches):
    their notes list items are read first, since only the item remembers a session whose
    event a person cancelled or deleted. (When one is skipped as cancelled, the session after
    it was not read first; it is booked as usual, and its item read with the others.)"""
    program = config.program
    keys: list[str] = []
    for pairing in config.active_pairings():
        specs = pairing.sessions(program)
        live = {s.number: live_event(sessions.get(session_key(program.id, pairing.id,
                                                              s.number), []))
                for s in specs}
        upcoming = sum(1 for s in live.values() if s is not None and s.end > now)
        if upcoming >= program.keep_booked:
            continue  # nothing to book: a quiet run reads no item
        reach = program.keep_booked - upcoming
        for spec in specs:
            if reach <= 0:
                break
            if live[spec.number] is None:
                keys.append(session_key(program.id, pairing.id, spec.number))
                reach -= 1
    return keys


def person_cancels(item: Mapping[str, Any] | None) -> tuple[int, bool] | None:
    """(times a participant cancelled the session, whether this is a new one), from the item
    of a session that has no event; None when the worker itself cancelled it (a pause, an
    end: booked again on resume) or there is no item."""
    fields_ = (item or {}).get("fields") or {}
    if not fields_.get("EventId"):
        return None
    count = count_of(fields_.get("PersonCancels"))
    if fields_.get("SessionStatus") != CANCELLED:
        return count + 1, True  # the event is gone and the worker did not cancel it
    return (count, False) if count else None


def closest(config: Config) -> timedelta:
    """How close two sessions may be: the cadence less its tolerance, less a day of slack,
    since the finder counts whole local days and instants in UTC can differ by hours."""
    cadence = config.program.cadence
    return timedelta(days=cadence.every_days - cadence.tolerance_days - 1)


def stale_rules(session: ObservedSession, config: Config) -> bool:
    """The session's time was chosen under other program hours or days than today's (an
    event booked before the stamp existed carries none, and is left as it is)."""
    stamps = rules_entries(session.nudges)
    return bool(stamps) and rules_marker(config) not in stamps


def stale_start(session: ObservedSession, pairing: Pairing) -> bool:
    """The session was planned from another start date than the pairing has now (an event
    booked before the stamp existed carries none, and is left as it is)."""
    stamps = start_entries(session.nudges)
    return bool(stamps) and start_marker(pairing) not in stamps


def edited_time(session: ObservedSession, pairing: Pairing, config: Config) -> bool:
    """An edit that may make the session's time wrong for someone: other people, another
    length, or a start date after it. Their free/busy is read to check (and to move)."""
    people = {pairing.mentor.lower(), pairing.mentee.lower()}
    length = (session.end - session.start).total_seconds() // 60
    # The optional attendee (an assistant) does not make a time right or wrong for the pair.
    required = {a.email.lower() for a in session.attendees
                if a.type != "optional" or a.email.lower() in people}
    return (required != people
            or length != config.program.duration_minutes
            or session.start.date() < pairing.start
            or stale_rules(session, config)
            or stale_start(session, pairing))


def wants_move(session: ObservedSession, pairing: Pairing) -> bool:
    """Someone whose answer the planner follows (`Pairing.deciders`: the pair, and the
    executive's assistant) declined the session or proposed another time."""
    members = pairing.deciders()
    for attendee in session.attendees:
        if attendee.email.lower() not in members:
            continue
        if attendee.response == DECLINED:
            return True
        if attendee.response == TENTATIVE and attendee.proposed_start is not None:
            return True
    return False


def limit_nudge_due(config: Config, pairing: Pairing, session: ObservedSession,
                    now: datetime) -> bool:
    """An upcoming session past its reschedule limit whose executive's assistant has not been
    sent the free times yet: the pair's free/busy is read to offer them, or the session has
    been offered and someone proposed a time (that one proposal is checked against it)."""
    if (pairing.assistant is None or config.program.nudges is None or session.start <= now
            or not wants_move(session, pairing)
            or moves_of(session.nudges) != config.program.max_reschedules):
        return False  # once moved past the limit, the session is the admin's alone
    if limit_offered(session, pairing):
        return session.proposal() is not None  # the one proposal followed past the limit
    return True


def limit_offered(session: ObservedSession, pairing: Pairing) -> bool:
    """The assistant was sent the free times for the session at its present time."""
    if pairing.assistant is None:
        return False
    return nudge_key(pairing.id, session.number, NudgeKind.reschedule_limit,
                     limit_round(session.start, pairing.assistant)) in session.nudges
