"""How good the bookings are, read from the sandbox tenant's own state, the same for any tool.

Speed means nothing if the sessions are wrong, so after each run the benchmark looks at every
meeting in the program mailbox (the worker's and the peer's alike; nothing else lives there)
and counts, per session:

* outside working hours: the session is not wholly inside the working hours of one of its
  attendees, on one of their working days, in the zone their working hours are kept in
  (custom zones included);
* clashes: it overlaps an event the attendee already had (busy, out of office or tentative;
  not the attendees' copies of sessions), or another session of the same person;
* duplicates: a second session with the same tag (`MentoringSession`, the worker's key) or
  with the same pair and subject (the peer's key), while an earlier one is still booked;
* without a Teams link: an online meeting whose `onlineMeeting.joinUrl` is missing.

It reads the stored events directly (times are kept in UTC there), not through Graph, so the
check costs the tools nothing and cannot be fooled by what a tool reads back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from graph.sandbox import tz
from graph.sandbox.calendar.store import MailStore, end_of, same_property_id, start_of
from graph.sandbox.directory import User
from graph.sandbox.state import TenantState
from worker.core.properties import PROPERTY_ID

# What getSchedule reports as not free; `free` and `workingElsewhere` do not block a meeting.
BLOCKING = frozenset({"busy", "oof", "tentative"})
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass(frozen=True)
class Quality:
    sessions: int = 0
    outside_hours: int = 0
    clashes: int = 0
    duplicates: int = 0
    without_link: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def within_working_hours(user: User, start: datetime, end: datetime) -> bool:
    """True when [start, end) lies inside one of the person's working days, in their zone."""
    hours = user.mailboxSettings.get("workingHours") or {}
    if not hours:
        return True  # no working hours published: nothing to be outside of
    zone = tz.zone_from_graph(hours.get("timeZone") or user.mailboxSettings.get("timeZone"))
    first, last = start.astimezone(zone), end.astimezone(zone)
    days = {d.lower() for d in hours.get("daysOfWeek", [])}
    midnight = first.replace(hour=0, minute=0, second=0, microsecond=0).replace(tzinfo=None)
    opens = midnight + tz.parse_time_of_day(str(hours.get("startTime", "00:00:00")))
    closes = midnight + tz.parse_time_of_day(str(hours.get("endTime", "23:59:59")))
    return (_WEEKDAYS[first.weekday()] in days and first.date() == last.date()
            and opens <= first.replace(tzinfo=None) and last.replace(tzinfo=None) <= closes)


def _tag(event: Mapping[str, Any]) -> str | None:
    for prop in event.get("singleValueExtendedProperties") or []:
        if same_property_id(str(prop.get("id", "")), PROPERTY_ID):
            return str(prop.get("value"))
    return None


def _attendees(event: Mapping[str, Any]) -> list[str]:
    return [str(a["emailAddress"]["address"]).lower() for a in event.get("attendees") or []]


def _overlaps(start: datetime, end: datetime, spans: Iterable[tuple[datetime, datetime]]) -> bool:
    return any(s < end and start < e for s, e in spans)


def check(state: TenantState, organizer: str) -> Quality:
    """The quality of every live session in the organizer's calendar."""
    store = state.mail
    owner = state.directory.find(organizer)
    if not isinstance(store, MailStore) or owner is None:
        raise ValueError(f"the tenant has no mailbox {organizer!r}")
    own_mailbox = owner.id.lower()
    sessions = sorted((e for e in store.calendar(own_mailbox).values()
                       if not e.get("isCancelled")), key=lambda e: str(e.get("createdDateTime")))
    people: dict[str, User] = {}  # mailbox -> person
    mailbox_of: dict[str, str] = {}  # attendee address (lower case) -> mailbox
    for event in sessions:
        for address in _attendees(event):
            user = state.directory.find(address)
            if user is not None:
                people.setdefault(user.id.lower(), user)
                mailbox_of[address] = user.id.lower()
    # What each person had apart from the program's sessions (their copies point back to the
    # organizer's event, and the program mailbox holds nothing else).
    existing = {
        mailbox: [(start_of(e), end_of(e)) for e in store.calendar(mailbox).values()
                  if not e.get("_organizer_ref") and e.get("_mailbox") != own_mailbox
                  and not e.get("isCancelled") and str(e.get("showAs") or "busy") in BLOCKING]
        for mailbox in people
    }
    booked: dict[str, list[tuple[datetime, datetime]]] = {m: [] for m in people}
    seen_tags: set[str] = set()
    seen_subjects: set[tuple[frozenset[str], str]] = set()
    outside = clashes = duplicates = without_link = 0
    for event in sessions:
        start, end = start_of(event), end_of(event)
        mailboxes = sorted({mailbox_of[a] for a in _attendees(event) if a in mailbox_of})
        tag = _tag(event)
        pair_subject = (frozenset(mailboxes), str(event.get("subject", "")))
        duplicate = (tag is not None and tag in seen_tags) or pair_subject in seen_subjects
        duplicates += duplicate
        if tag is not None:
            seen_tags.add(tag)
        seen_subjects.add(pair_subject)
        if any(not within_working_hours(people[m], start, end) for m in mailboxes):
            outside += 1
        if not duplicate and any(
                _overlaps(start, end, existing[m])
                or _overlaps(start, end, booked[m])
                for m in mailboxes):
            clashes += 1
        if not duplicate:
            for m in mailboxes:
                booked[m].append((start, end))
        if event.get("isOnlineMeeting") and not (event.get("onlineMeeting") or {}).get("joinUrl"):
            without_link += 1
    return Quality(sessions=len(sessions), outside_hours=outside, clashes=clashes,
                   duplicates=duplicates, without_link=without_link)


__all__ = ["BLOCKING", "Quality", "check", "within_working_hours"]
