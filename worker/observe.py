"""Read what exists in Microsoft 365 into `worker.observed` values.

One place turns Graph JSON into the planner's plain values: our tagged events (with attendee
responses and proposals), the participants as the directory knows them, and free/busy for the
people the plan may need to book. Reads only; a fresh container learns everything from here.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from graph import calendar
from graph.client import GraphClient
from graph.errors import GraphApiError, NotFound
from worker.availability import ScheduleError, parse_schedule_item
from worker.config import Config, parse_session_key
from worker.observed import AttendeeState, Observed, ObservedSession, Person
from worker.planner import people_needing_schedules, schedule_window

log = logging.getLogger(__name__)

# Our single-value extended property: a GUID of our own and the name from DESIGN.md. Every event
# the worker creates carries it; nothing without it is ever changed (invariant 3).
PROPERTY_SET = "{5f6b1c84-3a5e-4f0e-9a57-6d1f0e3c2b19}"
PROPERTY_ID = f"String {PROPERTY_SET} Name MentoringSession"
# The same property set, a second name: which list item holds the session's record and a digest
# of what was last written there (see `worker.records`).
RECORD_PROPERTY_ID = f"String {PROPERTY_SET} Name MentoringRecord"


def organizers(config: Config) -> list[str]:
    program = config.program
    if program.organizer == "mentor":
        return sorted({p.mentor.lower() for p in config.pairings})
    return [str(program.organizer).lower()]


def observe(client: GraphClient, config: Config, now: datetime) -> Observed:
    observed = Observed()
    _read_people(client, config, observed)
    observed.sessions = read_sessions(client, config)
    needed = people_needing_schedules(config, observed.sessions, now)
    needed = {e for e in needed if e in observed.people}
    if needed:
        start, end = schedule_window(config, now)
        mailbox = _schedule_mailbox(config, needed)
        for item in calendar.get_schedules(client, mailbox, needed, start, end):
            parsed = parse_schedule_item(item)
            if isinstance(parsed, ScheduleError):
                observed.schedule_errors[parsed.email.lower()] = parsed
            else:
                observed.schedules[parsed.email.lower()] = parsed
    return observed


def read_sessions(client: GraphClient, config: Config) -> dict[str, list[ObservedSession]]:
    """Every event of this program in the organizer mailbox(es), by session key."""
    sessions: dict[str, list[ObservedSession]] = {}
    for mailbox in organizers(config):
        for raw in calendar.tagged_events(
            client, mailbox, PROPERTY_ID, f"{config.program.id}/", (RECORD_PROPERTY_ID,)
        ):
            session = parse_event(raw, mailbox, config.program.id)
            if session is not None:
                sessions.setdefault(session.key, []).append(session)
    return sessions


def _schedule_mailbox(config: Config, needed: set[str]) -> str:
    if config.program.organizer != "mentor":
        return str(config.program.organizer)
    mentors = sorted(p.mentor.lower() for p in config.pairings if p.mentor.lower() in needed)
    return mentors[0] if mentors else sorted(needed)[0]


def _read_people(client: GraphClient, config: Config, observed: Observed) -> None:
    emails = sorted(
        {
            email.lower()
            for p in config.pairings
            if p.status == "active"
            for email in (p.mentor, p.mentee)
        }
    )
    if not emails:
        return
    for email, found in calendar.lookup_users(client, emails).items():
        if isinstance(found, NotFound):
            observed.missing_people[email] = "no such user"
            continue
        if isinstance(found, GraphApiError):
            observed.missing_people[email] = f"lookup failed: {found.code}"
            continue
        if isinstance(found, Exception):
            observed.missing_people[email] = f"lookup failed: {found}"
            continue
        observed.people[email] = Person(
            email=email,
            user_id=str(found.get("id", "")),
            display_name=str(found.get("displayName") or email),
            country=found.get("usageLocation"),
            preferred_language=found.get("preferredLanguage"),
        )


def parse_event(raw: dict[str, Any], mailbox: str, program_id: str) -> ObservedSession | None:
    """An event JSON -> ObservedSession, or None when it is not one of this program's."""
    value = None
    record = None
    for prop in raw.get("singleValueExtendedProperties") or []:
        if str(prop.get("id", "")).lower() == PROPERTY_ID.lower():
            value = prop.get("value")
        elif str(prop.get("id", "")).lower() == RECORD_PROPERTY_ID.lower():
            record = prop.get("value")
    if not isinstance(value, str):
        return None
    parsed = parse_session_key(value)
    if parsed is None or parsed[0] != program_id:
        log.warning("event %s carries an unreadable session tag; left alone", raw.get("id"))
        return None
    attendees = []
    for attendee in raw.get("attendees") or []:
        address = ((attendee.get("emailAddress") or {}).get("address") or "").lower()
        status = (attendee.get("status") or {}).get("response") or "none"
        proposed = attendee.get("proposedNewTime") or None
        attendees.append(
            AttendeeState(
                email=address,
                response=str(status),
                proposed_start=calendar.parse_graph_datetime(proposed["start"])
                if proposed
                else None,
                proposed_end=calendar.parse_graph_datetime(proposed["end"]) if proposed else None,
            )
        )
    created = raw.get("createdDateTime")
    return ObservedSession(
        key=value,
        pairing_id=parsed[1],
        number=parsed[2],
        event_id=str(raw["id"]),
        organizer=mailbox,
        start=calendar.parse_graph_datetime(raw["start"]),
        end=calendar.parse_graph_datetime(raw["end"]),
        subject=str(raw.get("subject") or ""),
        is_cancelled=bool(raw.get("isCancelled")),
        attendees=tuple(attendees),
        join_url=((raw.get("onlineMeeting") or {}).get("joinUrl")),
        created=_parse_instant(created) if isinstance(created, str) else None,
        record=record if isinstance(record, str) else None,
    )


def _parse_instant(text: str) -> datetime:
    cleaned = text.replace("Z", "+00:00")
    if "." in cleaned:
        head, _, tail = cleaned.partition(".")
        digits = "".join(ch for ch in tail if ch.isdigit())
        zone = tail[len(digits):]
        cleaned = f"{head}.{digits[:6].ljust(6, '0')}{zone}"
    return datetime.fromisoformat(cleaned)
