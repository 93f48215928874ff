"""The calendar actions as apply will send them: the invite's whole body, a move's new time,
a cancellation's message. Pure: the templates are rendered here, once, into the action.

transactionId: uuid5 of the session key and the chosen slot. A POST retried after a lost answer
(same session, same slot) gets the existing event back instead of a second one. A session
booked again later (a pairing paused, then resumed) gets a new slot and so a new id: how long
Exchange remembers a transactionId is not documented, and reusing one with different content
is refused with ErrorDuplicateTransactionId.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from json.encoder import encode_basestring_ascii
from typing import Any

from graph.values import graph_datetime
from worker.config import Config, Pairing, SessionSpec, session_key
from worker.config.templates import People, Templates
from worker.core.intervals import Interval
from worker.core.memo import by_identity
from worker.core.properties import INVITE_PROPERTY_ID, NUDGES_PROPERTY_ID, PROPERTY_ID
from worker.observe.state import ObservedSession, Person
from worker.plan.actions import Book, Cancel, Cause, Move, UpdateEvent
from worker.plan.nudges import (
    RULES_MARK,
    START_MARK,
    declined_marker,
    invited_marker,
    moved_marker,
    rules_entries,
    start_entries,
)

TRANSACTION_NAMESPACE = uuid.UUID("0c5b9d5e-7d0a-4e53-9d2f-52a1c7b1e0a4")
SUBJECT_PREFIX = "Reverse mentoring"
CATEGORY = "Reverse mentoring"


_NAMESPACE_BYTES = TRANSACTION_NAMESPACE.bytes


def transaction_id(key: str, start: datetime, end: datetime) -> str:
    """`str(uuid.uuid5(TRANSACTION_NAMESPACE, "<key>@<start>/<end>"))` (UTC, ISO 8601),
    written out: RFC 9562's name-based SHA-1 UUID without building a `UUID` per session."""
    slot = f"{start.astimezone(UTC).isoformat()}/{end.astimezone(UTC).isoformat()}"
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + f"{key}@{slot}".encode(),
                                    usedforsecurity=False).digest()[:16])
    digest[6] = digest[6] & 0x0F | 0x50  # version 5
    digest[8] = digest[8] & 0x3F | 0x80  # the RFC's variant
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def subject(number: int, total: int, topic: str) -> str:
    return f"{SUBJECT_PREFIX} {number}/{total}: {topic}"


def people_of(pairing: Pairing, people: Mapping[str, Person]) -> People:
    """Display names from the directory, the addresses where it has none."""
    mentor = people.get(pairing.mentor.lower())
    mentee = people.get(pairing.mentee.lower())
    if pairing.assistant is None:
        return People(mentor.display_name if mentor else pairing.mentor,
                      mentee.display_name if mentee else pairing.mentee,
                      pairing.mentor, pairing.mentee)
    assistant = people.get(pairing.assistant.lower())
    return People(mentor.display_name if mentor else pairing.mentor,
                  mentee.display_name if mentee else pairing.mentee,
                  pairing.mentor, pairing.mentee,
                  assistant.display_name if assistant else pairing.assistant,
                  pairing.assistant)


def invite_parts(config: Config, pairing: Pairing, spec: SessionSpec, names: People,
                 templates: Templates) -> dict[str, Any]:
    """What the config and templates say a session's invite holds, apart from its time."""
    # No time in the body: Outlook shows each attendee the time in their own zone, and a
    # moved session would leave a stale time behind.
    content = templates.render_invite(spec, names, program=config.program)
    return {
        "subject": subject(spec.number, spec.total, spec.topic),
        "body": {"contentType": "html", "content": content},
        "attendees": _attendees(pairing.mentor, names.mentor_name, pairing.mentee,
                                names.mentee_name, pairing.assistant, names.assistant_name),
        "reminderMinutesBeforeStart": config.program.reminder_minutes,
    }


# The parts below are the same for many sessions (the pair's, the program's): one object
# each, shared by the plan's actions (a plan of 10,000 pairs holds 20,000 invites). Shared
# values are only ever read: apply sends them as JSON.
_PART_KEYS = {"subject", "body", "attendees", "reminderMinutesBeforeStart"}
_BODY_KEYS = {"contentType", "content"}


@lru_cache(maxsize=1 << 15)
def _attendees(mentor: str, mentor_name: str, mentee: str, mentee_name: str,
               assistant: str | None = None, assistant_name: str = "") -> list[dict[str, Any]]:
    """The pair as required attendees; the executive's assistant, when the config names one,
    as an optional attendee after them (a pair without one keeps the list, and so the invite
    digest, that earlier releases stored)."""
    pair = [
        {"emailAddress": {"address": mentor, "name": mentor_name}, "type": "required"},
        {"emailAddress": {"address": mentee, "name": mentee_name}, "type": "required"},
    ]
    if assistant is None:
        return pair
    return [*pair, {"emailAddress": {"address": assistant, "name": assistant_name},
                    "type": "optional"}]


@by_identity(bound=8)
def rules_marker(config: Config) -> str:
    """Ledger entry: the program's time rules a session's time was chosen under (earliest,
    latest, blackout days, holidays). When they change, the session is checked again."""
    program = config.program
    rules = {
        "earliest": program.earliest.isoformat(), "latest": program.latest.isoformat(),
        "blackout": [(r.start.isoformat(), r.end.isoformat())
                     for r in program.blackout_ranges()],
        "holidays": [sorted(program.holidays.countries),
                     program.holidays.use_participant_location],
    }
    text = json.dumps(rules, sort_keys=True, separators=(",", ":"))
    return RULES_MARK + hashlib.sha256(text.encode()).hexdigest()[:12]


def start_marker(pairing: Pairing) -> str:
    """Ledger entry: the pairing's start date its sessions were planned from. When an admin
    changes it, the sessions not yet held are planned again from the new one."""
    return f"{START_MARK}{pairing.start.isoformat()}"


def with_rules(entries: frozenset[str], config: Config,
               pairing: Pairing | None = None) -> frozenset[str]:
    """`entries` stamped with the program's time rules (and the pairing's start)."""
    kept = entries - rules_entries(entries)
    stamps = {rules_marker(config)}
    if pairing is not None:
        kept -= start_entries(kept)
        stamps.add(start_marker(pairing))
    return frozenset(kept | stamps)


@lru_cache(maxsize=1 << 12)
def ledger_property(entries: frozenset[str]) -> dict[str, str]:
    return {"id": NUDGES_PROPERTY_ID, "value": "\n".join(sorted(entries))}


# The digest's text: `parts` and the length as canonical JSON (sorted keys, ASCII, no spaces).
_CANONICAL = json.JSONEncoder(sort_keys=True, ensure_ascii=True, separators=(",", ":"))
# What that encoder does with a string (ensure_ascii): the json module's own escaper.
_json_string = encode_basestring_ascii


@by_identity(bound=1 << 12)
def _canonical_attendees(attendees: list[dict[str, Any]]) -> str:
    return _CANONICAL.encode(attendees)


def invite_digest(parts: Mapping[str, Any], minutes: int) -> str:
    """A short fingerprint of an invite's content and length (kept on the event): the first
    16 hex digits of the SHA-256 of `{**parts, "minutes": minutes}` as canonical JSON. The
    parts `invite_parts` makes are written out in key order (the attendee list is shared by
    a pair's sessions, and encoded once); any other mapping goes through the encoder."""
    if (parts.keys() == _PART_KEYS and parts["body"].keys() == _BODY_KEYS
            and isinstance(parts["body"]["content"], str)
            and isinstance(parts["body"]["contentType"], str)
            and isinstance(parts["subject"], str)
            and type(parts["reminderMinutesBeforeStart"]) is int and type(minutes) is int):
        # Strings and integers encoded as the encoder does (its own C string escaper).
        body = parts["body"]
        text = "".join((
            '{"attendees":', _canonical_attendees(parts["attendees"]),
            ',"body":{"content":', _json_string(body["content"]),
            ',"contentType":', _json_string(body["contentType"]),
            '},"minutes":', str(minutes),
            ',"reminderMinutesBeforeStart":', str(parts["reminderMinutesBeforeStart"]),
            ',"subject":', _json_string(parts["subject"]), "}"))
    else:
        text = _CANONICAL.encode({**parts, "minutes": minutes})
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def event_body(config: Config, pairing: Pairing, spec: SessionSpec, names: People,
               templates: Templates, slot: Interval, txn: str) -> dict[str, Any]:
    """The POST body of a session's event."""
    key = session_key(config.program.id, pairing.id, spec.number)
    parts = invite_parts(config, pairing, spec, names, templates)
    return {
        "subject": parts["subject"],
        "body": parts["body"],
        "start": graph_datetime(slot.start),
        "end": graph_datetime(slot.end),
        "attendees": parts["attendees"],
        "isOnlineMeeting": True,
        "onlineMeetingProvider": "teamsForBusiness",
        "allowNewTimeProposals": True,
        "responseRequested": True,
        "isReminderOn": True,
        "reminderMinutesBeforeStart": parts["reminderMinutesBeforeStart"],
        "showAs": "busy",
        "categories": [CATEGORY],
        "transactionId": txn,
        "singleValueExtendedProperties": [
            {"id": PROPERTY_ID, "value": key},
            {"id": INVITE_PROPERTY_ID,
             "value": invite_digest(parts, config.program.duration_minutes)},
            ledger_property(frozenset({rules_marker(config), start_marker(pairing)})),
        ],
    }


def book_action(config: Config, pairing: Pairing, spec: SessionSpec, organizer: str,
                slot: Interval, local_start: str, people: Mapping[str, Person],
                templates: Templates) -> Book:
    key = session_key(config.program.id, pairing.id, spec.number)
    txn = transaction_id(key, slot.start, slot.end)
    return Book(
        pairing_id=pairing.id, key=key, number=spec.number, total=spec.total,
        topic=spec.topic, organizer=organizer, mentor=pairing.mentor, mentee=pairing.mentee,
        start=slot.start, end=slot.end, transaction_id=txn,
        event=event_body(config, pairing, spec, people_of(pairing, people), templates, slot,
                         txn),
        local_start=local_start, assistant=pairing.assistant,
    )


def move_action(session: ObservedSession, slot: Interval, reason: str, now: datetime,
                local_start: str = "", *, declined: bool = False,
                config: Config | None = None, pairing: Pairing | None = None) -> Move:
    """The new time, and in the same PATCH the session's ledger: that it moved (moves per
    session are limited), the declined time (never offered again) and when this new
    invitation went out (so nobody is asked about an "unanswered" invite a minute old)."""
    added = {invited_marker(slot.start, now), moved_marker(session.start)}
    if declined:
        added.add(declined_marker(session.start, session.end))
    ledger = frozenset(session.nudges | added)
    if config is not None:
        ledger = with_rules(ledger, config, pairing)
    return Move(
        pairing_id=session.pairing_id, key=session.key, number=session.number,
        event_id=session.event_id, organizer=session.organizer, old_start=session.start,
        start=slot.start, end=slot.end, reason=reason,
        changes={"start": graph_datetime(slot.start), "end": graph_datetime(slot.end),
                 "singleValueExtendedProperties": [ledger_property(ledger)]},
        ledger=ledger, local_start=local_start, cause="person",
    )


def cancel_action(session: ObservedSession, reason: str, *, cause: Cause) -> Cancel:
    return Cancel(
        pairing_id=session.pairing_id, key=session.key, number=session.number,
        event_id=session.event_id, organizer=session.organizer, start=session.start,
        reason=reason, comment=f"This reverse mentoring session is cancelled: {reason}.",
        cause=cause,
    )


def invited(pairing: Pairing) -> tuple[str, ...]:
    """Everyone a session of `pairing` invites: mentor, mentee, and the assistant if any."""
    if pairing.assistant is None:
        return pairing.mentor, pairing.mentee
    return pairing.mentor, pairing.mentee, pairing.assistant


def _optional(session: ObservedSession, pairing: Pairing) -> set[str]:
    """The lower-cased e-mails the session's event invites as optional attendees, beside the
    pair (the assistant the invite was sent to)."""
    pair = {pairing.mentor.lower(), pairing.mentee.lower()}
    return {a.email.lower() for a in session.attendees
            if a.type == "optional" and a.email.lower() not in pair}


def update_action(config: Config, pairing: Pairing, spec: SessionSpec, session: ObservedSession,
                  people: Mapping[str, Person], templates: Templates) -> UpdateEvent | None:
    """The PATCH that brings an upcoming event in line with the config and templates (subject,
    body, length, attendees), or None when it already is. An event booked before the worker
    kept an invite digest is compared on what Outlook shows (subject, length, attendees) only,
    so an upgrade rewrites no invite that did not change."""
    names = people_of(pairing, people)
    parts = invite_parts(config, pairing, spec, names, templates)
    minutes = config.program.duration_minutes
    wanted = invite_digest(parts, minutes)
    if session.invite == wanted:
        return None
    was: dict[str, Any] = {}
    becomes: dict[str, Any] = {}
    if session.subject != parts["subject"]:
        was["subject"], becomes["subject"] = session.subject, parts["subject"]
    length = int((session.end - session.start).total_seconds() // 60)
    if length != minutes:
        was["minutes"], becomes["minutes"] = length, minutes
    # The pair (required) and the assistant (optional) apart: a new assistant changes who
    # hears of the session, not whether its time suits the pair (nothing to re-check, and
    # the safety gate does not count it).
    optional = _optional(session, pairing)
    had = sorted(a.email.lower() for a in session.attendees if a.email.lower() not in optional)
    have = sorted(e.lower() for e in (pairing.mentor, pairing.mentee))
    if had != have:
        was["attendees"], becomes["attendees"] = had, have
    had_assistant = sorted(optional)
    have_assistant = [pairing.assistant.lower()] if pairing.assistant else []
    if had_assistant != have_assistant:
        was["assistant"] = ", ".join(had_assistant) or "(none)"
        becomes["assistant"] = ", ".join(have_assistant) or "(none)"
    if session.invite is None and not becomes:
        return None  # booked before digests were kept, and nothing visible differs
    if not becomes:
        was["body"], becomes["body"] = "(as booked)", "(from the current templates)"
    end = session.start + timedelta(minutes=minutes)
    changes: dict[str, Any] = {
        "subject": parts["subject"], "body": parts["body"],
        "reminderMinutesBeforeStart": parts["reminderMinutesBeforeStart"],
        "singleValueExtendedProperties": [{"id": INVITE_PROPERTY_ID, "value": wanted}],
    }
    if "minutes" in becomes:
        changes["end"] = graph_datetime(end)
    if "attendees" in becomes or "assistant" in becomes:
        changes["attendees"] = parts["attendees"]
    return UpdateEvent(
        pairing_id=pairing.id, key=session.key, number=session.number,
        event_id=session.event_id, organizer=session.organizer, start=session.start, end=end,
        subject=parts["subject"], attendees=tuple(sorted(e.lower() for e in invited(pairing))),
        invite=wanted, was=was,
        becomes=becomes, changes=changes, cause="config",
    )
