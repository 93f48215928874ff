"""What exists in Microsoft 365 now, as plain values the planner can reason about.

`worker.observe` fills these from Graph; the planner only reads them. Keeping them free of any
Graph client type is what lets the planner stay a pure function with its own tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from worker.availability import PersonSchedule, ScheduleError

# Graph's attendee response values (responseStatus.response).
DECLINED = "declined"
ACCEPTED = "accepted"
TENTATIVE = "tentativelyAccepted"
NOT_RESPONDED = "notResponded"
NONE = "none"


@dataclass(frozen=True)
class AttendeeState:
    email: str
    response: str
    proposed_start: datetime | None = None
    proposed_end: datetime | None = None


@dataclass(frozen=True)
class ObservedSession:
    """One tagged event in an organizer's calendar."""

    key: str
    pairing_id: str
    number: int
    event_id: str
    organizer: str
    start: datetime
    end: datetime
    subject: str
    is_cancelled: bool
    attendees: tuple[AttendeeState, ...]
    join_url: str | None
    created: datetime | None = None
    # Our second property: what the worker last wrote to the session's SharePoint item
    # (`worker.records.RecordTag`); None until a record was written.
    record: str | None = None

    def response_of(self, email: str) -> AttendeeState | None:
        for attendee in self.attendees:
            if attendee.email.lower() == email.lower():
                return attendee
        return None

    def declined_by(self) -> tuple[str, ...]:
        return tuple(a.email for a in self.attendees if a.response == DECLINED)

    def proposal(self) -> AttendeeState | None:
        """An attendee who proposed a new time (with a decline or a tentative answer)."""
        for attendee in self.attendees:
            if attendee.proposed_start is not None and attendee.proposed_end is not None:
                return attendee
        return None


@dataclass(frozen=True)
class Person:
    """A participant as the directory knows them."""

    email: str
    user_id: str
    display_name: str
    country: str | None = None
    preferred_language: str | None = None


@dataclass
class Observed:
    """Everything the planner needs to know about the tenant for one run."""

    sessions: dict[str, list[ObservedSession]] = field(default_factory=dict)
    people: dict[str, Person] = field(default_factory=dict)  # lower-cased e-mail -> person
    missing_people: dict[str, str] = field(default_factory=dict)  # e-mail -> reason
    schedules: dict[str, PersonSchedule] = field(default_factory=dict)  # lower-cased e-mail
    schedule_errors: dict[str, ScheduleError] = field(default_factory=dict)

    def sessions_for(self, key: str) -> list[ObservedSession]:
        return self.sessions.get(key, [])

    def person(self, email: str) -> Person | None:
        return self.people.get(email.lower())
