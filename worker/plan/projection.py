"""The program's sessions as Outlook will hold them once the calendar actions are applied.

The notes list and Teams stages plan on this projection, so one plan holds the item of a
session booked in the same run, and a moved session's item shows its new time. Each projected
session remembers which calendar action makes it so (`source`): the actions planned on it wait
for that one, and values only Graph can give (a new event's id and Teams link) are `Later`s.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from worker.observe.state import NONE, AttendeeState, ObservedSession, ledger_in
from worker.plan.actions import Book, CalendarAction, Cancel, Later, Move, UpdateEvent
from worker.plan.nudges import Offer


@dataclass(frozen=True)
class Projection:
    sessions: dict[str, list[ObservedSession]]
    source: dict[str, str] = field(default_factory=dict)  # session key -> calendar action id
    booked: dict[str, Book] = field(default_factory=dict)  # session key -> its booking now
    changing: frozenset[str] = frozenset()  # keys moved or cancelled by this run
    unmoved: frozenset[str] = frozenset()  # declined, and this run cannot move them
    attention: Mapping[str, str] = field(default_factory=dict)  # key -> what to look at
    # Sessions a participant cancelled that stay cancelled: key -> (times, what to tell).
    left_cancelled: Mapping[str, tuple[int, str]] = field(default_factory=dict)
    # Sessions past their reschedule limit whose executive's assistant is offered free times.
    offers: Mapping[str, Offer] = field(default_factory=dict)

    def event_id(self, session: ObservedSession) -> str | Later:
        book = self.booked.get(session.key)
        if book is not None and not session.event_id:
            return Later(book.id, "event_id")
        return session.event_id

    def join_url(self, session: ObservedSession) -> str | Later | None:
        book = self.booked.get(session.key)
        if book is not None and not session.event_id:
            return Later(book.id, "join_url")
        return session.join_url

    def after(self, key: str) -> tuple[str, ...]:
        source = self.source.get(key)
        return (source,) if source else ()


def project(sessions: Mapping[str, Sequence[ObservedSession]],
            actions: Sequence[CalendarAction], now: datetime,
            unmoved: frozenset[str] = frozenset(),
            attention: Mapping[str, str] | None = None) -> Projection:
    result = {key: list(found) for key, found in sessions.items()}
    source: dict[str, str] = {}
    booked: dict[str, Book] = {}
    changing: set[str] = set()
    for action in actions:
        source[action.key] = action.id
        if isinstance(action, Book):
            booked[action.key] = action
            result.setdefault(action.key, []).append(_booked(action, now))
            continue
        if not isinstance(action, UpdateEvent):
            changing.add(action.key)
        found = result.get(action.key, [])
        for index, session in enumerate(found):
            if session.event_id != action.event_id:
                continue
            if isinstance(action, Move):
                # A new time is a new request to both: their answers start over.
                found[index] = replace(
                    session, start=action.start, end=action.end, nudges=action.ledger,
                    attendees=tuple(AttendeeState(a.email, NONE, type=a.type)
                                    for a in session.attendees))
            elif isinstance(action, Cancel):
                found[index] = replace(session, is_cancelled=True)
            elif isinstance(action, UpdateEvent):
                # People keep their answer unless the time changes (then all answer again).
                kept = ({} if action.start != session.start
                        else {a.email.lower(): a for a in session.attendees})
                found[index] = replace(
                    session, start=action.start, end=action.end, subject=action.subject,
                    invite=action.invite or session.invite,
                    nudges=action.ledger if action.ledger is not None else session.nudges,
                    attendees=tuple(kept.get(e, AttendeeState(e, NONE))
                                    for e in action.attendees))
    return Projection(result, source, booked, frozenset(changing), unmoved,
                      dict(attention or {}))


def _booked(action: Book, now: datetime) -> ObservedSession:
    return ObservedSession(
        key=action.key, pairing_id=action.pairing_id, number=action.number, event_id="",
        organizer=action.organizer, start=action.start, end=action.end,
        subject=str(action.event.get("subject", "")), is_cancelled=False,
        attendees=(AttendeeState(action.mentor.lower(), NONE),
                   AttendeeState(action.mentee.lower(), NONE),
                   *((AttendeeState(action.assistant.lower(), NONE, type="optional"),)
                     if action.assistant else ())),
        # The ledger a booking writes with the event (the program rules' stamp).
        join_url=None, created=now, nudges=ledger_in(action.event),
    )
