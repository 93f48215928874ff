"""What the notes list item of a session should hold: the worker's columns, as pure rules.

The rules turn a session as Outlook shows it (`ObservedSession`) and the config into the fields
the worker owns (`desired_record`), and a short digest of them.

How a run knows what changed without reading the list: each event carries, next to its
`MentoringSession` tag, a second single-value extended property (`MentoringRecord`) holding
`RecordTag` = the list item's id, the digest of the fields last written there, and the notes
status then, followed by who had answered the session pulse (`worker.plan.pulse.tag_notes`:
"Posted+mentor"). Outlook returns it in the very request that reads the events, so comparing
costs nothing: only sessions whose digest differs (a new booking, a move, an answer, the end time
passing) are looked up and written (`pending_records`). Items whose notes were still missing
after the session, or whose pulse someone asked has not answered yet, are looked at again while
the session is recent (`NOTES_WINDOW`), so "notes posted" and the answers appear once someone
writes them; that read is bounded by the recent sessions, not the list. The notes, the
"shared" flag and the pulse answers are never in a write (invariant 6).

Statuses: Cancelled (the event is cancelled, or the worker cancels it in this run), Declined
(someone declined and the session was not moved), Held (ended), Rescheduled (moved at least
once since the item was created, not yet held), else Scheduled.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from worker.config import Config, Pairing
from worker.config.pairings import SessionSpec
from worker.config.templates import People
from worker.core.notes_list import (
    CANCELLED,
    DECLINED,
    HELD,
    NOTES_MISSING,
    NOTES_NOT_DUE,
    NOTES_POSTED,
    RESCHEDULED,
    SCHEDULED,
    WORKER_COLUMNS,
)
from worker.observe.state import ObservedSession, Person, live_event, record_event
from worker.plan.booking import people_of
from worker.plan.pulse import ANSWER_MARK, answers_of, pulse_waiting

TAG_VERSION = "r1"
# How long after a session the worker keeps looking for its notes.
NOTES_WINDOW = timedelta(days=30)
# PATCH attempts per item when people keep editing it under us (412).
MAX_WRITE_ATTEMPTS = 3


# ---------------------------------------------------------------------------------------------
# Pure part


@dataclass(frozen=True)
class RecordTag:
    """What an event remembers about its list item: id, digest of our fields, notes status."""

    item_id: str | None
    digest: str
    notes: str = ""  # `tag_notes`: the notes status, then who answered the pulse

    @property
    def notes_status(self) -> str:
        return self.notes.split(ANSWER_MARK, 1)[0]

    @property
    def answers(self) -> frozenset[str]:
        return answers_of(self.notes)

    def encode(self) -> str:
        return "|".join((TAG_VERSION, self.item_id or "", self.digest, self.notes))

    @classmethod
    def parse(cls, value: str | None) -> RecordTag | None:
        if not value:
            return None
        parts = value.split("|")
        if len(parts) != 4 or parts[0] != TAG_VERSION:
            return None
        return cls(parts[1] or None, parts[2], parts[3])


def instant(value: datetime) -> str:
    """SharePoint's dateTime field format (UTC, seconds)."""
    return value.astimezone(UTC).replace(tzinfo=None, microsecond=0).isoformat() + "Z"


def parse_instant(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def count_of(value: Any) -> int:
    """A number column as SharePoint returns it ("2", 2.0, None, or text someone typed)."""
    try:
        return int(float(str(value)))
    except (TypeError, ValueError):
        return 0


def item_etag(item: Mapping[str, Any]) -> str:
    """An item's etag, wherever Graph put it (the item, or its fields)."""
    fields_now = item.get("fields") or {}
    return str(item.get("eTag") or item.get("@odata.etag") or fields_now.get("@odata.etag")
               or "")


def session_status(session: ObservedSession, now: datetime) -> str:
    """What the calendar says happened (Rescheduled needs the item's history: see `owned`)."""
    if session.is_cancelled:
        return CANCELLED
    if session.declined_by():
        return DECLINED
    if session.end <= now:
        return HELD
    return SCHEDULED


def spec_of(config: Config, pairing: Pairing | None, number: int) -> SessionSpec | None:
    if pairing is None:
        return None
    return next((s for s in pairing.sessions(config.program) if s.number == number), None)


def desired_record(session: ObservedSession, config: Config, people: Mapping[str, Person],
                   now: datetime, attention: str = "") -> dict[str, Any]:
    """The worker's own fields for one session (pure). Keys are column internal names."""
    pairing = config.pairing(session.pairing_id)
    spec = spec_of(config, pairing, session.number)
    names = people_of(pairing, people) if pairing else People("", "")
    topic = spec.topic if spec else session.subject
    total = spec.total if spec else len(config.program.curriculum)
    title = f"{session.number}/{total} {topic}"
    if names.mentor_name:
        title += f": {names.mentor_name} and {names.mentee_name}"
    return {
        "Title": title[:255],
        "ProgramId": config.program.id,
        "PairingId": session.pairing_id,
        "SessionKey": session.key,
        "SessionNumber": session.number,
        "Topic": topic,
        "Phase": spec.phase.label if spec else None,
        "MentorEmail": names.mentor_email,
        "MentorName": names.mentor_name,
        "MenteeEmail": names.mentee_email,
        "MenteeName": names.mentee_name,
        "SessionStart": instant(session.start),
        "SessionEnd": instant(session.end),
        "SessionStatus": session_status(session, now),
        "JoinUrl": session.join_url or "",
        "EventId": session.event_id,
        # Only when there is something: a list made before the column existed keeps working,
        # and the digests of sessions needing nothing stay what they were.
        **({"Attention": attention[:2000]} if attention else {}),
    }


def digest(record: Mapping[str, Any]) -> str:
    """A short, stable fingerprint of the fields the worker owns."""
    text = json.dumps(record, sort_keys=True, ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def notes_text(value: Any) -> str:
    """The words of a rich text column: markup, entities and zero-width spaces gone,
    whitespace runs made one space ("" for anything but text)."""
    if not isinstance(value, str):
        return ""
    text = html.unescape(re.sub(r"<[^>]*>", " ", value)).replace("\u200b", "")
    return " ".join(text.split())


def has_notes(value: Any) -> bool:
    """True when the notes hold text (rich text with no words in it counts as empty)."""
    return bool(notes_text(value))


def notes_status(status: str, notes: Any) -> str:
    if status != HELD:
        return NOTES_NOT_DUE
    return NOTES_POSTED if has_notes(notes) else NOTES_MISSING


def _same(column: str, a: Any, b: Any) -> bool:
    if column in ("SessionStart", "SessionEnd"):
        return parse_instant(a) == parse_instant(b)
    if column in ("SessionNumber", "RescheduleCount"):
        try:
            return a is not None and b is not None and float(a) == float(b)
        except (TypeError, ValueError):
            return False
    if isinstance(a, str | None) and isinstance(b, str | None):
        return (a or "") == (b or "")
    return bool(a == b)


def owned(record: Mapping[str, Any], current: Mapping[str, Any] | None, *,
          record_digest: Any = None) -> dict[str, Any]:
    """The worker's full field set for an item, given what it holds now (None: a new item).

    The reschedule count and the notes status depend on the item: a start that differs from
    the one the item shows is one more move (idempotent: after the write they agree), and
    the notes status reads the people's notes column without ever writing it.
    """
    fields = dict(record)
    if current is not None and current.get("Attention") and "Attention" not in fields:
        fields["Attention"] = ""  # resolved: clear what the item still says
    count = 0
    if current is not None:
        count = count_of(current.get("RescheduleCount"))
        before = parse_instant(current.get("SessionStart"))
        if (before is not None and before != parse_instant(record["SessionStart"])
                and record["SessionStatus"] != CANCELLED):
            count += 1
    fields["RescheduleCount"] = count
    if fields["SessionStatus"] == SCHEDULED and count > 0:
        fields["SessionStatus"] = RESCHEDULED
    fields["NotesStatus"] = notes_status(
        fields["SessionStatus"], (current or {}).get("Notes")
    )
    # A session booked in this same run has its digest once its event id is known.
    fields["RecordHash"] = record_digest if record_digest is not None else digest(record)
    return fields


def changes(wanted: Mapping[str, Any], current: Mapping[str, Any]) -> dict[str, Any]:
    """The owned fields that differ: all a PATCH carries (never Notes, never the flag)."""
    return {
        column: value
        for column, value in wanted.items()
        if column in WORKER_COLUMNS and not _same(column, value, current.get(column))
    }


@dataclass(frozen=True)
class Pending:
    """A session whose record must be looked at this run."""

    session: ObservedSession
    record: dict[str, Any]
    tag: RecordTag | None
    live: bool  # the event still exists (its tag can be updated)


def pending_records(
    sessions: Mapping[str, Sequence[ObservedSession]],
    config: Config,
    people: Mapping[str, Person],
    now: datetime,
    attention: Mapping[str, str] | None = None,
) -> tuple[list[Pending], int]:
    """Sessions whose digest differs from their event's tag, plus recent held sessions whose
    notes were still missing; and how many need nothing. Pure."""
    todo: list[Pending] = []
    unchanged = 0
    for key in sorted(sessions):
        chosen = record_event(sessions[key])
        if chosen is None:
            continue
        live = live_event(sessions[key]) is not None
        record = desired_record(chosen, config, people, now,
                                (attention or {}).get(key, ""))
        tag = RecordTag.parse(chosen.record)
        if tag is not None and tag.digest == digest(record):
            recent = chosen.end + NOTES_WINDOW > now
            waiting = (tag.notes_status == NOTES_MISSING
                       or pulse_waiting(config.program, chosen.number, tag.notes))
            if waiting and recent:
                todo.append(Pending(chosen, record, tag, live=live))
            else:
                unchanged += 1
            continue
        todo.append(Pending(chosen, record, tag, live=live))
    return todo, unchanged
