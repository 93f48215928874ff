"""What exists in Microsoft 365 now, as plain values the planner can reason about.

The readers in `worker.observe` fill these from Graph; the planner only reads them. Keeping them
free of any Graph client type is what lets the planner stay a pure function with its own tests.
The rule that picks *the* event of a session among several (`live_event`) lives here, once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from worker.core.freebusy import BusyTime
from worker.core.properties import NUDGES_PROPERTY_ID
from worker.observe.availability import PersonSchedule, ScheduleError

# Graph's attendee response values (responseStatus.response).
DECLINED = "declined"
ACCEPTED = "accepted"
TENTATIVE = "tentativelyAccepted"
NOT_RESPONDED = "notResponded"
NONE = "none"


# Why a participant is not among the people read (`Observed.missing_people`): the directory
# said there is no such user, or the lookup itself failed (throttled, a server error, no answer,
# refused), which says nothing about the person. The planner words each for people.
NO_SUCH_USER = "no such user"
LOOKUP_FAILED = "could not look up"

@dataclass(frozen=True)
class AttendeeState:
    email: str
    response: str
    proposed_start: datetime | None = None
    proposed_end: datetime | None = None
    name: str = ""  # the display name the invite was sent with
    # `attendees[].type`: "required" (the pair), "optional" (an executive's assistant).
    type: str = "required"


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
    # Our second property: what the worker last wrote to the session's notes list item
    # (`worker.plan.notes.ItemTag`); None until the item was written.
    record: str | None = None
    # Our third property: the nudge ledger (keys of nudges sent, markers), one per line.
    nudges: frozenset[str] = frozenset()
    etag: str | None = None
    # Our fourth: the digest of the invite last written (`worker.plan.booking.invite_digest`).
    invite: str | None = None

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


def parse_ledger(value: object) -> frozenset[str]:
    """The nudge ledger property: one entry per line (none when the property is absent; the
    event reader refuses a ledger that is not text before it gets here)."""
    if not isinstance(value, str):
        return frozenset()
    return frozenset(line for line in value.splitlines() if line)


def ledger_in(raw: object) -> frozenset[str]:
    """The nudge ledger among an event's (or an event body's) extended properties. What is
    not in the documented shape reads as no entries: the only caller reading Graph with it
    (a ledger re-read after a 412) merges them with the entries it already holds."""
    props = raw.get("singleValueExtendedProperties") if isinstance(raw, Mapping) else None
    for prop in props if isinstance(props, list) else []:
        if (isinstance(prop, Mapping)
                and str(prop.get("id", "")).lower() == NUDGES_PROPERTY_ID.lower()):
            return parse_ledger(prop.get("value"))
    return frozenset()


def live_event(sessions: Sequence[ObservedSession]) -> ObservedSession | None:
    """The event that is the session: the oldest one not cancelled (ties: the smaller id).

    Two live events for one session happen only when Graph ignored a transactionId; the
    planner cancels the younger one, and every stage agrees on which one stays.
    """
    alive = [s for s in sessions if not s.is_cancelled]
    if not alive:
        return None
    return min(alive, key=_age)


def record_event(sessions: Sequence[ObservedSession]) -> ObservedSession | None:
    """The event whose state the notes list item shows: the live one, else the oldest
    cancelled one (the session is over, and its item must say so)."""
    return live_event(sessions) or (min(sessions, key=_age) if sessions else None)


def _age(session: ObservedSession) -> tuple[datetime, str]:
    return (session.created or session.start, session.event_id)


@dataclass(frozen=True)
class Person:
    """A participant as the directory knows them, or (`from_directory` False) as the invites
    already sent name them: a run that has nothing to book, move or send for someone does not
    look them up, and plans their invites and items with the names those already carry."""

    email: str
    user_id: str
    display_name: str
    country: str | None = None
    preferred_language: str | None = None
    from_directory: bool = True


@dataclass(frozen=True)
class NotesList:
    """The program's notes list as found (None in `Observed.notes_list`: not read or absent)."""

    site_id: str
    list_id: str
    web_url: str = ""


@dataclass
class Publishing:
    """What publishing with consent reads (program.yaml `publishing`): the published list,
    the program's items of the notes list on which both people ticked their box, the copies
    already published, and the version history of the items the plan must check."""

    published_list: NotesList | None = None
    problem: str | None = None  # why nothing can be published this run (no list, no grant)
    consented: dict[str, dict[str, Any]] = field(default_factory=dict)  # session key -> item
    copies: dict[str, dict[str, Any]] = field(default_factory=dict)  # session key -> copy
    # Working item id -> its versions (each with its fields), or why they could not be read.
    versions: dict[str, list[dict[str, Any]] | str] = field(default_factory=dict)


@dataclass(frozen=True)
class CatalogApp:
    """Our Teams app as the org catalog knows it."""

    catalog_id: str
    external_id: str


@dataclass
class Observed:
    """Everything the planner needs to know about the tenant for one run.

    Filled in stages (see `worker.run`): events and people first, free/busy where the calendar
    planner must book or move, then the notes list items the plan must look at, then working
    hours and the Teams catalog for the nudges. Each is read at most once per run.
    """

    sessions: dict[str, list[ObservedSession]] = field(default_factory=dict)
    # Sessions whose event is ours but cannot be read (`worker.observe.events`): key -> why.
    # The planner changes nothing in their pairing's calendar until it can be read.
    unreadable: dict[str, str] = field(default_factory=dict)
    people: dict[str, Person] = field(default_factory=dict)  # lower-cased e-mail -> person
    missing_people: dict[str, str] = field(default_factory=dict)  # e-mail -> reason
    # Lower-cased e-mail -> schedule. While the calendar is planned on a first run these may
    # still be arriving (`worker.observe.arriving`): a lookup waits for that person's answer.
    schedules: MutableMapping[str, PersonSchedule] = field(default_factory=dict)
    schedule_errors: MutableMapping[str, ScheduleError] = field(default_factory=dict)
    # The notes list: where it is, and the items read for the sessions that need a look
    # (session key -> the item with its fields, or None when the list has none for it).
    notes_list: NotesList | None = None
    notes_list_problem: str | None = None  # why the list cannot be used (no grant, no list)
    items: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    item_errors: dict[str, str] = field(default_factory=dict)  # session key -> reason
    # Sessions found with more than one item (every one of them), for `worker.plan.duplicates`.
    duplicates: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # Every item of the program (one paged query), read only when a digest is due; None
    # when not read, with why when the read failed.
    program_items: list[dict[str, Any]] | None = None
    program_items_problem: str | None = None
    # The Teams catalog entry of our app (None: not read, or not in the catalog).
    catalog: CatalogApp | None = None
    catalog_problem: str | None = None
    publishing: Publishing | None = None  # read only when the program publishes notes

    def release_busy(self) -> None:
        """Forget everyone's busy time, keeping their zones and working hours: once the
        calendar stage has planned, nothing after it reads busy time, and a program of
        10,000 pairs holds tens of megabytes of it. For the run that owns this state."""
        self.schedules = {email: replace(schedule, busy=BusyTime())
                          for email, schedule in self.schedules.items()}

    def sessions_for(self, key: str) -> list[ObservedSession]:
        return self.sessions.get(key, [])

    def person(self, email: str) -> Person | None:
        return self.people.get(email.lower())


def item_order(item: Mapping[str, Any]) -> int:
    """A notes list item's id as the number SharePoint counts up (0 for anything else): the
    oldest of several items of one session is the session's."""
    text = str(item.get("id", ""))
    return int(text) if text.isdigit() else 0


def invited_people(sessions: Mapping[str, Sequence[ObservedSession]],
                   emails: Iterable[str]) -> dict[str, Person]:
    """The participants among `emails` as the program's invites name them (the latest session
    of each pair wins): what a run plans with for people it has no reason to look up."""
    wanted = {e.lower() for e in emails}
    found: dict[str, Person] = {}
    ordered = sorted((s for events in sessions.values() for s in events),
                     key=lambda s: (s.pairing_id, s.number,
                                    s.created.timestamp() if s.created else 0.0))
    for session in ordered:
        for attendee in session.attendees:
            if attendee.email in wanted and attendee.name:
                found[attendee.email] = Person(attendee.email, "", attendee.name,
                                               from_directory=False)
    return found


@dataclass(frozen=True)
class Member:
    """One person of a group, as matching sees them. `email` is the address pairings name
    (the user principal name, as the worker looks people up); `names` every address of theirs,
    lower-cased, to recognise them in pairings and history written with the other one."""

    email: str
    names: frozenset[str]
    name: str
    department: str | None = None
    job_title: str | None = None
    office: str | None = None
    country: str | None = None


# Two people who were paired (lower-cased addresses), whichever of them mentored.
Pair = frozenset[str]
