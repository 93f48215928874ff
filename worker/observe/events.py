"""The program's events in the organizer mailbox(es), read once per run into plain values.

Our tagged events carry the whole state of the program: attendee responses and proposals, and
in three single-value extended properties the session tag, what the notes list item holds, and
the nudge ledger. Reads only; a fresh container learns everything from here.

An answer that cannot be understood must never make the worker do something twice (a session
whose event it cannot read looks unbooked, and would be booked again), so each event is read
strictly, field by field, and what cannot be read is handled by what it could cause:

- the session tag missing, or the properties not a list of `{id, value}`: the listing was
  filtered on that tag, so Graph cannot answer this; which session the event is cannot be
  told, so the whole listing is `MalformedResponse` (a server failure: the run stops before
  writing anything, exit 3, and the next run reads again);
- a tag of another program or one we did not write: not a session, left alone (as before);
- a readable tag, but anything else the planner relies on unreadable (no string `id`, a
  `start`/`end` that is no UTC dateTimeTimeZone or ends before it starts, `attendees` that
  are not objects with an address, a proposed time, `isCancelled` that is no boolean, a record,
  ledger, invite digest, link, subject, etag or creation time that is not text): the session
  is named in `Observed.unreadable`, and the calendar planner does nothing for its pairing
  this run, saying why (exit 1), so nothing is booked, moved or cancelled on a guess.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from itertools import takewhile
from typing import Any

from graph import calendar
from graph.answers import kind_of
from graph.client import GraphClient
from graph.errors import MalformedResponse, safe_path
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
    """Every mailbox the program's invites are sent from (the program mailbox, or each
    mentor): the app's calendar access is scoped to exactly these."""
    program = config.program
    if program.organizer == "mentor":
        return sorted({p.mentor.lower() for p in config.pairings})
    return [str(program.organizer).lower()]


def read_events(client: GraphClient, config: Config
                ) -> tuple[dict[str, list[ObservedSession]], dict[str, str]]:
    """Every event of this program in the organizer mailbox(es), by session key: one paged
    listing per mailbox, with each of our properties (tag, list item record, nudge ledger)
    expanded in it, so nothing else of the calendar is read to plan a run. Also the sessions
    whose event cannot be read (session key -> why), whose pairings the planner leaves alone.

    Raises `MalformedResponse` for a listing holding an event whose tag cannot be read (see
    the module docstring): nothing of that listing is used."""
    sessions: dict[str, list[ObservedSession]] = {}
    unreadable: dict[str, str] = {}
    for mailbox in organizers(config):
        listing = calendar.user_path(mailbox) + "/events"
        for index, raw in enumerate(calendar.tagged_events(
            client, mailbox, PROPERTY_ID, f"{config.program.id}/",
            (RECORD_PROPERTY_ID, NUDGES_PROPERTY_ID, INVITE_PROPERTY_ID),
        )):
            try:
                session = parse_event(raw, mailbox, config.program.id)
            except UnreadableEvent as problem:
                if problem.key is None:
                    raise MalformedResponse(
                        200, f"event {index} of the listing: {problem}", method="GET",
                        path=safe_path(client.base_url + listing)) from problem
                log.warning("the event of session %s cannot be read (%s): its pairing's "
                            "calendar is left as it is this run", problem.key, problem)
                unreadable.setdefault(problem.key, str(problem))
                continue
            if session is not None:
                sessions.setdefault(session.key, []).append(session)
    return sessions, unreadable


def read_sessions(client: GraphClient, config: Config) -> dict[str, list[ObservedSession]]:
    """The readable sessions of `read_events` (for callers that only look)."""
    return read_events(client, config)[0]


def schedule_mailbox(config: Config, needed: set[str]) -> str:
    """The mailbox whose calendar answers getSchedule (the program mailbox, or a mentor)."""
    if config.program.organizer != "mentor":
        return str(config.program.organizer)
    mentors = sorted(p.mentor.lower() for p in config.pairings if p.mentor.lower() in needed)
    return mentors[0] if mentors else sorted(needed)[0]


class UnreadableEvent(ValueError):
    """An event of ours that cannot be understood; `key` names its session when the tag could
    be read (then only that pairing is held back), else the whole listing is refused."""

    def __init__(self, reason: str, key: str | None = None) -> None:
        super().__init__(reason)
        self.key = key


def parse_event(raw: Mapping[str, Any], mailbox: str, program_id: str) -> ObservedSession | None:
    """An event JSON -> ObservedSession; None when it is not one of this program's (a tag of
    another program, or one we did not write: left alone). Raises `UnreadableEvent`."""
    props = _properties(raw)
    value = props.get(PROPERTY_ID.lower())
    if not isinstance(value, str):
        # The listing is filtered on this very property: Graph cannot answer an event without.
        raise UnreadableEvent(f"its session tag is {kind_of(value)}")
    parsed = parse_session_key(value)
    if parsed is None or parsed[0] != program_id:
        log.warning("event %s carries an unreadable session tag; left alone", raw.get("id"))
        return None
    try:
        return _session(raw, props, value, parsed[1], parsed[2], mailbox)
    except UnreadableEvent as problem:
        raise UnreadableEvent(str(problem), key=value) from problem


def _properties(raw: Mapping[str, Any]) -> dict[str, object]:
    """Our single-value extended properties by lower-cased id."""
    found = raw.get("singleValueExtendedProperties")
    if not isinstance(found, list):
        raise UnreadableEvent(f"its singleValueExtendedProperties is {kind_of(found)}, not a "
                              "list")
    props: dict[str, object] = {}
    for prop in found:
        if not isinstance(prop, Mapping) or not isinstance(prop.get("id"), str):
            raise UnreadableEvent("an extended property of it is not an object with an id")
        props[str(prop["id"]).lower()] = prop.get("value")
    return props


def _session(raw: Mapping[str, Any], props: Mapping[str, object], key: str, pairing_id: str,
             number: int, mailbox: str) -> ObservedSession:
    record = _optional_text(props.get(RECORD_PROPERTY_ID.lower()), "its list item record")
    ledger = _optional_text(props.get(NUDGES_PROPERTY_ID.lower()), "its nudge ledger")
    invite = _optional_text(props.get(INVITE_PROPERTY_ID.lower()), "its invite digest")
    event_id = raw.get("id")
    if not isinstance(event_id, str) or not event_id:
        raise UnreadableEvent(f"its `id` is {kind_of(event_id)}")
    start, end = _instant(raw.get("start"), "start"), _instant(raw.get("end"), "end")
    if end < start:
        raise UnreadableEvent(f"event {event_id} ends before it starts")
    cancelled = raw.get("isCancelled", False)
    if not isinstance(cancelled, bool | None):
        raise UnreadableEvent(f"event {event_id}: `isCancelled` is {kind_of(cancelled)}")
    meeting = raw.get("onlineMeeting")
    if not isinstance(meeting, Mapping | None):
        raise UnreadableEvent(f"event {event_id}: `onlineMeeting` is {kind_of(meeting)}")
    created = _optional_text(raw.get("createdDateTime"), "its createdDateTime")
    etag = _optional_text(raw.get("@odata.etag"), "its etag")
    return ObservedSession(
        key=key,
        pairing_id=pairing_id,
        number=number,
        event_id=event_id,
        organizer=mailbox,
        start=start,
        end=end,
        subject=_optional_text(raw.get("subject"), "its subject") or "",
        is_cancelled=bool(cancelled),
        attendees=_attendees(raw.get("attendees"), event_id),
        join_url=_optional_text((meeting or {}).get("joinUrl"), "its Teams link"),
        created=_parse_instant(created, "createdDateTime") if created else None,
        record=record,
        nudges=parse_ledger(ledger),
        invite=invite,
        etag=etag or None,
    )


def _attendees(raw: object, event_id: str) -> tuple[AttendeeState, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise UnreadableEvent(f"event {event_id}: `attendees` is {kind_of(raw)}, not a list")
    attendees = []
    for index, attendee in enumerate(raw):
        where = f"event {event_id}: attendee {index}"
        if not isinstance(attendee, Mapping):
            raise UnreadableEvent(f"{where} is {kind_of(attendee)}, not an object")
        email = attendee.get("emailAddress")
        address = email.get("address") if isinstance(email, Mapping) else None
        if not isinstance(address, str):
            raise UnreadableEvent(f"{where} has no e-mail address")
        status = attendee.get("status")
        if not isinstance(status, Mapping | None):
            raise UnreadableEvent(f"{where}: `status` is {kind_of(status)}")
        response = _optional_text((status or {}).get("response"), f"{where}'s response")
        proposed = attendee.get("proposedNewTime")
        if not isinstance(proposed, Mapping | None):
            raise UnreadableEvent(f"{where}: `proposedNewTime` is {kind_of(proposed)}")
        name = email.get("name") if isinstance(email, Mapping) else None
        kind = attendee.get("type")
        attendees.append(AttendeeState(
            email=address.lower(),
            response=response or "none",
            name=name if isinstance(name, str) else "",  # only a label: absent when odd
            type=kind if isinstance(kind, str) else "required",
            proposed_start=_instant(proposed.get("start"), f"{where}'s proposed start")
            if proposed else None,
            proposed_end=_instant(proposed.get("end"), f"{where}'s proposed end")
            if proposed else None,
        ))
    return tuple(attendees)


def _optional_text(value: object, what: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise UnreadableEvent(f"{what} is {kind_of(value)}, not text")


def _instant(value: object, what: str) -> datetime:
    """A dateTimeTimeZone the worker asked for in UTC."""
    if not isinstance(value, Mapping) or not isinstance(value.get("dateTime"), str):
        raise UnreadableEvent(f"`{what}` is not a dateTimeTimeZone")
    if not isinstance(value.get("timeZone", "UTC"), str):
        raise UnreadableEvent(f"`{what}` names no time zone")
    try:
        return parse_graph_datetime(dict(value))
    except ValueError as exc:
        raise UnreadableEvent(f"`{what}` cannot be read as a UTC time ({exc})") from exc


def _parse_instant(text: str, what: str) -> datetime:
    """Graph's DateTimeOffset (`2027-01-04T06:00:00.1234567Z`): seven fraction digits, which
    Python reads only up to six; UTC, sometimes written without its `Z`."""
    cleaned = text.strip().replace("Z", "+00:00")
    if "." in cleaned:
        head, _, tail = cleaned.partition(".")
        digits = "".join(takewhile(str.isdigit, tail))
        cleaned = f"{head}.{digits[:6].ljust(6, '0')}{tail[len(digits):]}"
    try:
        parsed = datetime.fromisoformat(cleaned)
    except ValueError as exc:
        raise UnreadableEvent(f"`{what}` {text[:40]!r} is not a date-time") from exc
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
