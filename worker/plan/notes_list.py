"""The notes list stage of a plan: which items to create or update, and which events to tag.

Runs on the projection of the calendar actions (`worker.plan.projection`), so a session booked
in this run gets its item in this run, and an item shows a move made in this run. Two pure
steps around one read: `items_to_read` names the items the plan must look at (the sessions
whose record changed, see `worker.plan.items`); `plan_notes_list` turns what was read into
actions. A run that changes nothing needs no item at all, so it reads none.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from worker.config import Config, parse_session_key
from worker.config.templates import Templates
from worker.core.exit_codes import ExitCode
from worker.core.notes_list import CANCELLED, NOTES_MISSING, NOTES_POSTED
from worker.observe.state import NotesList, Observed, live_event
from worker.plan.actions import (
    CreateItem,
    Later,
    NotesListAction,
    Notice,
    PairProblem,
    TagEvent,
    UpdateItem,
    Value,
)
from worker.plan.booking import people_of
from worker.plan.duplicates import plan_duplicates
from worker.plan.items import (
    Pending,
    RecordTag,
    changes,
    count_of,
    digest,
    item_etag,
    owned,
    pending_records,
    spec_of,
)
from worker.plan.nudges import NotesState
from worker.plan.projection import Projection
from worker.plan.pulse import answers_of, tag_notes


@dataclass(frozen=True)
class NotesListPlan:
    actions: tuple[NotesListAction, ...] = ()
    problems: tuple[PairProblem, ...] = ()
    # After this run: session key -> notes state, and the item id where it is known.
    notes: Mapping[str, NotesState] = field(default_factory=dict)
    item_ids: Mapping[str, str] = field(default_factory=dict)
    unchanged: int = 0
    notes_missing: tuple[str, ...] = ()
    notices: tuple[Notice, ...] = ()
    # Session key -> who answered its pulse ("mentor", "mentee-fit"; see
    # `worker.plan.pulse.tag_notes`).
    answers: Mapping[str, frozenset[str]] = field(default_factory=dict)


def items_to_read(config: Config, projection: Projection, observed: Observed,
                  now: datetime) -> dict[str, str | None]:
    """Session key -> the item id its event remembers (None: look it up by key)."""
    if config.program.sharepoint is None:
        return {}
    todo, _ = pending_records(projection.sessions, config, observed.people, now,
                              projection.attention)
    return {p.session.key: (p.tag.item_id if p.tag else None) for p in todo}


def _state(notes: str) -> NotesState | None:
    if notes == NOTES_MISSING:
        return "missing"
    if notes == NOTES_POSTED:
        return "posted"
    return None


def _known(projection: Projection
           ) -> tuple[dict[str, NotesState], dict[str, str], dict[str, frozenset[str]]]:
    """Notes state, item id and pulse answers from the records the events carry now."""
    notes: dict[str, NotesState] = {}
    item_ids: dict[str, str] = {}
    answers: dict[str, frozenset[str]] = {}
    for key, found in projection.sessions.items():
        live = live_event(found)
        tag = RecordTag.parse(live.record) if live is not None else None
        if tag is None:
            continue
        state = _state(tag.notes_status)
        if state is not None:
            notes[key] = state
        if tag.item_id:
            item_ids[key] = tag.item_id
        if tag.answers:
            answers[key] = tag.answers
    return notes, item_ids, answers


def plan_notes_list(config: Config, observed: Observed, projection: Projection,
                    now: datetime, templates: Templates) -> NotesListPlan:
    """Create or update each changed session's item, then tag its event. Pure."""
    notes, item_ids, answers = _known(projection)
    if config.program.sharepoint is None:
        return NotesListPlan(notes=notes, item_ids=item_ids, answers=answers)
    todo, unchanged = pending_records(projection.sessions, config, observed.people, now,
                                      projection.attention)
    where = observed.notes_list
    removals, notices = (plan_duplicates(observed.duplicates, where, observed.sessions)
                         if where is not None else ([], []))
    if not todo and not projection.left_cancelled:
        return NotesListPlan(tuple(removals), notes=notes, item_ids=item_ids,
                             unchanged=unchanged, notices=tuple(notices), answers=answers)
    if where is None:
        reason = observed.notes_list_problem or "the notes list was not read"
        problems = (PairProblem("", f"notes list: {reason}", ExitCode.CONFIG),)
        return NotesListPlan(problems=problems, notes=notes, item_ids=item_ids,
                             unchanged=unchanged, answers=answers)
    actions: list[NotesListAction] = []
    problems_: list[PairProblem] = []
    missing: list[str] = []
    for pending in todo:
        key = pending.session.key
        if key in observed.item_errors:
            problems_.append(PairProblem(
                pending.session.pairing_id,
                f"notes list item of session {pending.session.number} not read: "
                f"{observed.item_errors[key]} (next run)", key=key))
            continue
        record = _record(pending, projection)
        book = projection.booked.get(key)
        record_digest = Later(book.id, "digest") if book is not None else None
        after = projection.after(key)
        current = observed.items.get(key)
        tag_after: tuple[str, ...]
        fields_now: dict[str, Any] = {}
        if current is None:
            values = owned(record, None, record_digest=record_digest)
            agenda = _agenda(config, pending, observed, templates)
            if agenda:
                values["Agenda"] = agenda
            create = CreateItem(pairing_id=pending.session.pairing_id, key=key,
                                number=pending.session.number, site_id=where.site_id,
                                list_id=where.list_id, values=values, record=record,
                                after=after)
            actions.append(create)
            item_id: Value = Later(create.id, "item_id")
            notes_value: Value = values["NotesStatus"]
            tag_after = (create.id,)
        else:
            item_id = str(current.get("id", ""))
            fields_now = dict(current.get("fields") or {})
            wanted = owned(record, fields_now, record_digest=record_digest)
            patch = changes(wanted, fields_now)
            if book is not None and book.person_cancels and count_of(
                    fields_now.get("PersonCancels")) != book.person_cancels:
                # Booked again after a participant cancelled: the item remembers it, so a
                # second cancellation is not booked again (outside the record's digest).
                patch["PersonCancels"] = book.person_cancels
            notes_value = tag_notes(str(wanted["NotesStatus"]), fields_now)
            tag_after = after
            if patch:
                update = UpdateItem(
                    pairing_id=pending.session.pairing_id, key=key,
                    number=pending.session.number, site_id=where.site_id,
                    list_id=where.list_id, item_id=item_id, etag=item_etag(current),
                    before={c: fields_now.get(c) for c in patch}, changes=patch,
                    record=record, notes=tag_notes(str(wanted["NotesStatus"]), fields_now),
                    after=after)
                actions.append(update)
                # Someone may edit the item before the write lands: the notes status written
                # is the one apply computes then.
                notes_value = Later(update.id, "notes")
                tag_after = (update.id,)
            item_ids[key] = item_id
        planned_notes = str(values["NotesStatus"] if current is None else wanted["NotesStatus"])
        state = _state(planned_notes)
        if state is not None:
            notes[key] = state
        else:
            notes.pop(key, None)
        planned_tag = tag_notes(planned_notes, fields_now)
        answers.pop(key, None)
        if answers_of(planned_tag):
            answers[key] = answers_of(planned_tag)
        if planned_notes == NOTES_MISSING:
            missing.append(key)
        if pending.live and _tag_changes(pending, item_id, record, planned_tag, book):
            actions.append(TagEvent(
                pairing_id=pending.session.pairing_id, key=key, number=pending.session.number,
                organizer=pending.session.organizer,
                event_id=projection.event_id(pending.session), item_id=item_id,
                record=record, notes=notes_value, after=tag_after))
    actions.extend(_left_cancelled(projection, observed, where))
    actions.extend(removals)
    return NotesListPlan(tuple(actions), tuple(problems_), notes, item_ids, unchanged,
                         tuple(missing), tuple(notices), answers)


def _left_cancelled(projection: Projection, observed: Observed,
                    where: NotesList) -> list[NotesListAction]:
    """The items of sessions a participant cancelled, which stay cancelled: they say so."""
    found: list[NotesListAction] = []
    for key, (count, text) in sorted(projection.left_cancelled.items()):
        item = observed.items.get(key)
        if item is None:
            continue
        fields_now = dict(item.get("fields") or {})
        patch: dict[str, Value] = {"SessionStatus": CANCELLED, "PersonCancels": count,
                                   "Attention": text}
        patch = {k: v for k, v in patch.items() if fields_now.get(k) != v}
        if not patch:
            continue
        parsed = parse_session_key(key)
        found.append(UpdateItem(
            pairing_id=str(fields_now.get("PairingId") or (parsed[1] if parsed else "")),
            key=key, number=parsed[2] if parsed else 0, site_id=where.site_id,
            list_id=where.list_id, item_id=str(item.get("id", "")), etag=item_etag(item),
            before={c: fields_now.get(c) for c in patch}, changes=patch,
            notes=str(fields_now.get("NotesStatus") or "")))
    return found



def _record(pending: Pending, projection: Projection) -> dict[str, Value]:
    """The wanted record, with what Graph will give a new booking left as `Later`s."""
    record: dict[str, Value] = dict(pending.record)
    event_id = projection.event_id(pending.session)
    if isinstance(event_id, Later):
        record["EventId"] = event_id
        record["JoinUrl"] = projection.join_url(pending.session)
    return record


def _tag_changes(pending: Pending, item_id: Value, record: Mapping[str, Value], notes: str,
                 book: object) -> bool:
    if book is not None or pending.tag is None or isinstance(item_id, Later):
        return True
    wanted = RecordTag(str(item_id), digest(record), notes)
    return wanted.encode() != pending.tag.encode()


def _agenda(config: Config, pending: Pending, observed: Observed,
            templates: Templates) -> str:
    pairing = config.pairing(pending.session.pairing_id)
    spec = spec_of(config, pairing, pending.session.number)
    if pairing is None or spec is None:
        return ""
    return templates.render_agenda(spec, people_of(pairing, observed.people),
                                   program_name=config.program.name)
