"""The program's events in the organizer mailbox(es), read once per run into plain values.

Our tagged events carry the whole state of the program: attendee responses and proposals, and
in three single-value extended properties the session tag, what the notes list item holds, and
the nudge ledger. Reads only; a fresh container learns everything from here.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from graph import calendar
from graph.client import GraphClient
from graph.values import parse_graph_datetime
from worker.config import Config, parse_session_key
from worker.core.properties import (
    INVITE_PROPERTY_ID,
    NUDGES_PROPERTY_ID,
    PROPERTY_ID,
    RECORD_PROPERTY_ID,
)
from worker.observe.state import AttendeeState, ObservedSession, parse_ledger

log = logging.getLogger(__name__)

def organizers(config: Config) -> list[str]:
    program = config.program
    if program.organizer == "mentor":
        return sorted({p.mentor.lower() for p in config.pairings})
    return [str(program.organizer).lower()]


def read_sessions(client: GraphClient, config: Config) -> dict[str, list[ObservedSession]]:
    """Every event of this program in the organizer mailbox(es), by session key: one paged
    listing per mailbox, with each of our properties (tag, list item record, nudge ledger)
    expanded in it, so nothing else of the calendar is read to plan a run."""
    sessions: dict[str, list[ObservedSession]] = {}
    for mailbox in organizers(config):
        for raw in calendar.tagged_events(
            client, mailbox, PROPERTY_ID, f"{config.program.id}/",
            (RECORD_PROPERTY_ID, NUDGES_PROPERTY_ID, INVITE_PROPERTY_ID),
        ):
            session = parse_event(raw, mailbox, config.program.id)
            if session is not None:
                sessions.setdefault(session.key, []).append(session)
    return sessions


def schedule_mailbox(config: Config, needed: set[str]) -> str:
    """The mailbox whose calendar answers getSchedule (the program mailbox, or a mentor)."""
    if config.program.organizer != "mentor":
        return str(config.program.organizer)
    mentors = sorted(p.mentor.lower() for p in config.pairings if p.mentor.lower() in needed)
    return mentors[0] if mentors else sorted(needed)[0]


def parse_event(raw: dict[str, Any], mailbox: str, program_id: str) -> ObservedSession | None:
    """An event JSON -> ObservedSession, or None when it is not one of this program's."""
    value = None
    record = None
    ledger: frozenset[str] = frozenset()
    invite = None
    for prop in raw.get("singleValueExtendedProperties") or []:
        prop_id = str(prop.get("id", "")).lower()
        if prop_id == PROPERTY_ID.lower():
            value = prop.get("value")
        elif prop_id == RECORD_PROPERTY_ID.lower():
            record = prop.get("value")
        elif prop_id == NUDGES_PROPERTY_ID.lower():
            ledger = parse_ledger(prop.get("value"))
        elif prop_id == INVITE_PROPERTY_ID.lower():
            invite = prop.get("value")
    if not isinstance(value, str):
        return None
    parsed = parse_session_key(value)
    if parsed is None or parsed[0] != program_id:
        log.warning("event %s carries an unreadable session tag; left alone", raw.get("id"))
        return None
    attendees = []
    for attendee in raw.get("attendees") or []:
        address = ((attendee.get("emailAddress") or {}).get("address") or "").lower()
        name = (attendee.get("emailAddress") or {}).get("name")
        status = (attendee.get("status") or {}).get("response") or "none"
        proposed = attendee.get("proposedNewTime") or None
        attendees.append(
            AttendeeState(
                email=address,
                response=str(status),
                proposed_start=parse_graph_datetime(proposed["start"])
                if proposed
                else None,
                proposed_end=parse_graph_datetime(proposed["end"]) if proposed else None,
                name=str(name) if isinstance(name, str) else "",
            )
        )
    created = raw.get("createdDateTime")
    return ObservedSession(
        key=value,
        pairing_id=parsed[1],
        number=parsed[2],
        event_id=str(raw["id"]),
        organizer=mailbox,
        start=parse_graph_datetime(raw["start"]),
        end=parse_graph_datetime(raw["end"]),
        subject=str(raw.get("subject") or ""),
        is_cancelled=bool(raw.get("isCancelled")),
        attendees=tuple(attendees),
        join_url=((raw.get("onlineMeeting") or {}).get("joinUrl")),
        created=_parse_instant(created) if isinstance(created, str) else None,
        record=record if isinstance(record, str) else None,
        nudges=ledger,
        invite=invite if isinstance(invite, str) else None,
        etag=str(raw["@odata.etag"]) if raw.get("@odata.etag") else None,
    )


def _parse_instant(text: str) -> datetime:
    cleaned = text.replace("Z", "+00:00")
    if "." in cleaned:
        head, _, tail = cleaned.partition(".")
        digits = "".join(ch for ch in tail if ch.isdigit())
        zone = tail[len(digits):]
        cleaned = f"{head}.{digits[:6].ljust(6, '0')}{zone}"
    return datetime.fromisoformat(cleaned)
