"""One SharePoint list item per booked session, kept true by every run, people's text untouched.

Two halves. The pure half turns a session as Outlook shows it (`ObservedSession`) and the
config into the fields the worker owns (`desired_record`), and a short digest of them. The I/O
half (`sync_records`) writes only where that digest differs from the one the session's event
carries, so a run's SharePoint requests grow with the changes, never with the size of the list.

How a run knows what changed without reading the list: each event carries, next to its
`MentoringSession` tag, a second single-value extended property (`MentoringRecord`) holding
`RecordTag` = the list item's id, the digest of the fields last written there, and the notes
status then. Outlook returns it in the very request that reads the events, so comparing costs
nothing. Where the digest differs (a new booking, a move, an answer, the end time passing):
  1. the items are fetched in `$batch`es of 20: by id when the tag knows it, otherwise by
     `fields/SessionKey eq '...'` (indexed, with the `Prefer` header), which is also what finds
     the item a killed run created but never recorded (no duplicate items);
  2. missing items are created (agenda rendered from the topic's template); existing ones get
     a PATCH of the worker's own columns that differ, with `If-Match`. On 412 (someone edited
     the item since we read it) the item is re-read and the PATCH recomputed and retried; the
     notes and the "shared" flag are never in a PATCH (invariant 5);
  3. the event's `MentoringRecord` is updated (one Outlook write, in `$batch`es).
The time-driven change (Scheduled -> Held at the end) changes the digest, so it is a change.
Items whose notes were still missing after the session are re-read while the session is recent
(`NOTES_WINDOW`), so "notes posted" appears once someone writes them; that read is bounded by
the recent sessions, not the list.

Statuses: Cancelled (the event is cancelled, or the worker cancelled it in this run), Declined
(someone declined and the session was not moved), Held (ended), Rescheduled (moved at least
once since the item was created, not yet held), else Scheduled.
"""

from __future__ import annotations

import hashlib
import html
import json
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from graph import calendar, sharepoint
from graph.client import BatchRequest, GraphClient
from graph.errors import GraphApiError, GraphClientError, PreconditionFailed
from worker.config import Config, Pairing
from worker.config.models import SessionSpec
from worker.notes_list import (
    CANCELLED,
    DECLINED,
    HELD,
    KEY_COLUMN,
    NOTES_MISSING,
    NOTES_NOT_DUE,
    NOTES_POSTED,
    READ_COLUMNS,
    RESCHEDULED,
    SCHEDULED,
    WORKER_COLUMNS,
    ListRef,
    PermissionMissing,
    find_list_ref,
)
from worker.observe import RECORD_PROPERTY_ID, read_sessions
from worker.observed import Observed, ObservedSession, Person
from worker.planner import Cancel, Plan
from worker.templating import People, Templates

log = logging.getLogger(__name__)

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
    notes: str = ""

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
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_instant(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def session_status(session: ObservedSession, now: datetime) -> str:
    """What the calendar says happened (Rescheduled needs the item's history: see `owned`)."""
    if session.is_cancelled:
        return CANCELLED
    if session.declined_by():
        return DECLINED
    if session.end <= now:
        return HELD
    return SCHEDULED


def _spec(config: Config, pairing: Pairing | None, number: int) -> SessionSpec | None:
    if pairing is None:
        return None
    return next((s for s in pairing.sessions(config.program) if s.number == number), None)


def people_for(pairing: Pairing, people: Mapping[str, Person]) -> People:
    mentor = people.get(pairing.mentor.lower())
    mentee = people.get(pairing.mentee.lower())
    return People(mentor.display_name if mentor else pairing.mentor,
                  mentee.display_name if mentee else pairing.mentee,
                  pairing.mentor, pairing.mentee)


def desired_record(session: ObservedSession, config: Config, people: Mapping[str, Person],
                   now: datetime) -> dict[str, Any]:
    """The worker's own fields for one session (pure). Keys are column internal names."""
    pairing = next((p for p in config.pairings if p.id == session.pairing_id), None)
    spec = _spec(config, pairing, session.number)
    names = people_for(pairing, people) if pairing else People("", "")
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
    }


def digest(record: Mapping[str, Any]) -> str:
    """A short, stable fingerprint of the fields the worker owns."""
    text = json.dumps(record, sort_keys=True, ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def has_notes(value: Any) -> bool:
    """True when the notes hold text (rich text with no words in it counts as empty)."""
    if not isinstance(value, str):
        return False
    text = html.unescape(re.sub(r"<[^>]*>", " ", value))
    return bool(text.replace("\u200b", "").strip())


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


def owned(record: Mapping[str, Any], current: Mapping[str, Any] | None) -> dict[str, Any]:
    """The worker's full field set for an item, given what it holds now (None: a new item).

    The reschedule count and the notes status depend on the item: a start that differs from
    the one the item shows is one more move (idempotent: after the write they agree), and
    the notes status reads the people's notes column without ever writing it.
    """
    fields = dict(record)
    count = 0
    if current is not None:
        try:
            count = int(float(current.get("RescheduleCount") or 0))
        except (TypeError, ValueError):
            count = 0
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
    fields["RecordHash"] = digest(record)
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
) -> tuple[list[Pending], int]:
    """Sessions whose digest differs from their event's tag, plus recent held sessions whose
    notes were still missing; and how many need nothing. Pure."""
    todo: list[Pending] = []
    unchanged = 0
    for key in sorted(sessions):
        candidates = list(sessions[key])
        live = [s for s in candidates if not s.is_cancelled]
        chosen = sorted(live or candidates, key=lambda s: (s.created or now, s.event_id))[0]
        record = desired_record(chosen, config, people, now)
        tag = RecordTag.parse(chosen.record)
        if tag is not None and tag.digest == digest(record):
            recent = chosen.end + NOTES_WINDOW > now
            if tag.notes == NOTES_MISSING and recent:
                todo.append(Pending(chosen, record, tag, live=bool(live)))
            else:
                unchanged += 1
            continue
        todo.append(Pending(chosen, record, tag, live=bool(live)))
    return todo, unchanged


def sessions_after_apply(client: GraphClient, config: Config, observed: Observed,
                         plan: Plan, applied: bool) -> dict[str, list[ObservedSession]]:
    """The sessions as they are now: re-read when the run changed calendars, plus the ones
    this run cancelled (the organizer's cancelled event is gone, the item must say so)."""
    if not applied or plan.is_empty():
        return dict(observed.sessions)
    sessions = read_sessions(client, config)
    for action in plan.actions:
        if isinstance(action, Cancel) and action.key not in sessions:
            before = [s for s in observed.sessions_for(action.key)
                      if s.event_id == action.event_id]
            if before:
                sessions[action.key] = [replace(before[0], is_cancelled=True)]
    return sessions


# ---------------------------------------------------------------------------------------------
# I/O part


@dataclass
class RecordsResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    conflicts: int = 0  # 412s met and resolved by re-reading
    notes_missing: list[str] = field(default_factory=list)  # session keys
    notes_posted: int = 0
    requests: int = 0  # SharePoint requests (HTTP, a `$batch` counting once)
    tag_writes: int = 0
    skipped: str | None = None
    failures: dict[str, str] = field(default_factory=dict)  # session key -> reason

    def to_json(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "conflicts": self.conflicts,
            "notes_missing": list(self.notes_missing),
            "notes_posted": self.notes_posted,
            "sharepoint_requests": self.requests,
            "skipped": self.skipped,
            "failures": dict(self.failures),
        }

    def render_text(self) -> str:
        if self.skipped:
            return f"SharePoint records: skipped: {self.skipped}"
        line = (f"SharePoint records: {self.created} created, {self.updated} updated, "
                f"{self.unchanged} unchanged, {len(self.notes_missing)} with notes missing; "
                f"{self.requests} SharePoint requests")
        if self.conflicts:
            line += f", {self.conflicts} concurrent edit(s) kept"
        lines = [line + "."]
        lines.extend(f"  FAILED record {key}: {why}" for key, why in sorted(self.failures.items()))
        return "\n".join(lines)


class RecordWriter:
    """Writes the pending records of one run through Graph."""

    def __init__(self, client: GraphClient, config: Config, templates: Templates,
                 people: Mapping[str, Person], ref: ListRef) -> None:
        self.client = client
        self.config = config
        self.templates = templates
        self.people = people
        self.ref = ref
        self.pairings = {p.id: p for p in config.pairings}

    def fetch(self, todo: Sequence[Pending],
              result: RecordsResult) -> dict[str, dict[str, Any] | None]:
        """Current item per session key (None: no item yet), in `$batch`es."""
        found: dict[str, dict[str, Any] | None] = {}
        by_id = {p.session.key: p.tag.item_id for p in todo if p.tag and p.tag.item_id}
        if by_id:
            items = sharepoint.items_by_id(self.client, self.ref.site_id, self.ref.list_id,
                                           list(by_id.values()), select=READ_COLUMNS)
            for key, item_id in by_id.items():
                item = items[item_id]
                if isinstance(item, GraphApiError):
                    result.failures[key] = f"reading item {item_id}: {item.short()}"
                elif item is not None and (item.get("fields") or {}).get(KEY_COLUMN) == key:
                    found[key] = item
        unknown = [p.session.key for p in todo
                   if p.session.key not in found and p.session.key not in result.failures]
        if unknown:
            matches = sharepoint.items_by_value(self.client, self.ref.site_id, self.ref.list_id,
                                                KEY_COLUMN, unknown, select=READ_COLUMNS)
            for key in unknown:
                answer = matches[key]
                if isinstance(answer, GraphApiError):
                    result.failures[key] = f"looking up the item: {answer.short()}"
                    continue
                mine = sorted(answer, key=lambda i: int(str(i.get("id", "0")) or 0))
                if len(mine) > 1:
                    log.warning("session %s has %d list items; keeping item %s", key,
                                len(mine), mine[0].get("id"))
                found[key] = mine[0] if mine else None
        return found

    def write(self, pending: Pending, current: dict[str, Any] | None,
              result: RecordsResult) -> RecordTag | None:
        """Create or update one item; the tag its event should carry afterwards."""
        key = pending.session.key
        if current is None:
            fields = owned(pending.record, None)
            agenda = self._agenda(pending.session)
            if agenda:
                fields["Agenda"] = agenda
            created = sharepoint.create_item(self.client, self.ref.site_id, self.ref.list_id,
                                             fields)
            result.created += 1
            return RecordTag(str(created.get("id", "")), digest(pending.record),
                             fields["NotesStatus"])
        item_id = str(current.get("id", ""))
        item = current
        for attempt in range(1, MAX_WRITE_ATTEMPTS + 1):
            now_fields = dict(item.get("fields") or {})
            wanted = owned(pending.record, now_fields)
            patch = changes(wanted, now_fields)
            if not patch:
                return RecordTag(item_id, digest(pending.record), wanted["NotesStatus"])
            etag = str(item.get("eTag") or item.get("@odata.etag") or now_fields.get(
                "@odata.etag") or "")
            try:
                sharepoint.update_item_fields(self.client, self.ref.site_id, self.ref.list_id,
                                              item_id, patch, etag=etag)
            except PreconditionFailed:
                # Someone saved the item since we read it: read it again and recompute, so
                # their edit stays and ours applies on top of it.
                result.conflicts += 1
                log.info("item %s of %s changed under us (attempt %d/%d); re-reading",
                         item_id, key, attempt, MAX_WRITE_ATTEMPTS)
                item = sharepoint.get_item(self.client, self.ref.site_id, self.ref.list_id,
                                           item_id, select=READ_COLUMNS)
                continue
            result.updated += 1
            return RecordTag(item_id, digest(pending.record), wanted["NotesStatus"])
        raise GraphClientError(
            f"item {item_id} kept changing during {MAX_WRITE_ATTEMPTS} attempts; next run"
        )

    def _agenda(self, session: ObservedSession) -> str:
        pairing = self.pairings.get(session.pairing_id)
        spec = _spec(self.config, pairing, session.number)
        if pairing is None or spec is None:
            return ""
        return self.templates.render_agenda(spec, people_for(pairing, self.people),
                                            program_name=self.config.program.name)


def sync_records(client: GraphClient, config: Config, templates: Templates,
                 sessions: Mapping[str, Sequence[ObservedSession]],
                 people: Mapping[str, Person], now: datetime) -> RecordsResult:
    """Bring the list in line with the sessions, writing only what changed."""
    result = RecordsResult()
    settings = config.program.sharepoint
    if settings is None:
        result.skipped = "no sharepoint section in program.yaml"
        return result
    todo, result.unchanged = pending_records(sessions, config, people, now)
    if not todo:
        return result  # nothing changed: not one SharePoint request
    before = client.stats.requests
    try:
        ref = find_list_ref(client, settings)
    except PermissionMissing as exc:
        result.skipped = str(exc)
        result.requests = client.stats.requests - before
        return result
    if ref is None:
        result.skipped = (f"list '{settings.list}' not found on {settings.site}: "
                          "run `mentoring sharepoint init`")
        result.requests = client.stats.requests - before
        return result
    writer = RecordWriter(client, config, templates, people, ref)
    tags: list[tuple[Pending, RecordTag]] = []
    for chunk in _chunks(todo, 100):
        current = writer.fetch(chunk, result)
        for pending in chunk:
            key = pending.session.key
            if key in result.failures:
                continue
            try:
                tag = writer.write(pending, current.get(key), result)
            except GraphClientError as exc:
                result.failures[key] = str(exc)
                log.error("record %s: %s", key, exc, extra={"session": key})
                continue
            if tag is not None:
                tags.append((pending, tag))
    result.requests = client.stats.requests - before
    for pending, tag in tags:
        if tag.notes == NOTES_MISSING:
            result.notes_missing.append(pending.session.key)
        elif tag.notes == NOTES_POSTED and (pending.tag is None
                                            or pending.tag.notes != NOTES_POSTED):
            result.notes_posted += 1
    _write_tags(client, [(p, t) for p, t in tags if p.live and (
        p.tag is None or p.tag.encode() != t.encode())], result)
    return result


def _write_tags(client: GraphClient, tags: Sequence[tuple[Pending, RecordTag]],
                result: RecordsResult) -> None:
    """Record on each event what its item now holds (batched; mailbox-paced)."""
    requests_ = [
        BatchRequest(
            id=str(index),
            method="PATCH",
            url=f"{calendar.user_path(p.session.organizer)}/events/{p.session.event_id}",
            body={"singleValueExtendedProperties": [
                {"id": RECORD_PROPERTY_ID, "value": tag.encode()}]},
            headers={"Content-Type": "application/json", **calendar.PREFER_HEADERS},
            mailbox=p.session.organizer,
        )
        for index, (p, tag) in enumerate(tags)
    ]
    if not requests_:
        return
    for (pending, _), answer in zip(tags, client.batch(requests_), strict=True):
        if answer.error is not None:
            # The item is right; only the shortcut is missing: the next run looks again.
            log.warning("could not tag event of %s: %s", pending.session.key,
                        answer.error.short())
        else:
            result.tag_writes += 1


def _chunks(items: Sequence[Pending], size: int) -> Iterable[Sequence[Pending]]:
    for offset in range(0, len(items), size):
        yield items[offset : offset + size]


def record_step(client: GraphClient, config: Config, templates: Templates, observed: Observed,
                plan: Plan, now: datetime, *, applied: bool) -> RecordsResult:
    """The run's records step (after apply). Dry runs write nothing, here too."""
    if config.program.sharepoint is None:
        return RecordsResult(skipped="no sharepoint section in program.yaml")
    if not applied:
        sessions = dict(observed.sessions)
        todo, unchanged = pending_records(sessions, config, observed.people, now)
        return RecordsResult(unchanged=unchanged, skipped=f"dry run: {len(todo)} to write")
    try:
        sessions = sessions_after_apply(client, config, observed, plan, applied)
        return sync_records(client, config, templates, sessions, observed.people, now)
    except GraphClientError as exc:
        # The bookings are done; the records catch up next run (nothing here is lost).
        log.error("records step stopped: %s", exc)
        return RecordsResult(skipped=f"stopped: {exc}")
