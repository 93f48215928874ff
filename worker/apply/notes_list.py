"""Notes list actions through Graph: create an item, update the worker's columns with
If-Match, and tag events with what their item holds (in `$batch`es).

On 412 (someone saved the item since the plan read it) the item is read again and the update
recomputed from the action's wanted record, so their edit stays and ours applies on top of it;
the notes and the "shared" flag are never in a write (invariant 6).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from graph import calendar, sharepoint
from graph.batch import BatchRequest
from graph.errors import GraphApiError, NotFound, PreconditionFailed
from worker.apply.context import Context
from worker.apply.lost import create_once
from worker.apply.outcome import Outcome, outcome_for
from worker.core.notes_list import KEY_COLUMN, READ_COLUMNS
from worker.core.properties import RECORD_PROPERTY_ID
from worker.observe.notes_list import oldest_item
from worker.plan.actions import CreateItem, RemoveItem, TagEvent, UpdateItem
from worker.plan.items import RecordTag, changes, digest, item_etag, owned
from worker.plan.pulse import tag_notes

log = logging.getLogger(__name__)

# Update attempts per item when people keep editing it under us (412).
MAX_WRITE_ATTEMPTS = 3


def item_of(ctx: Context, site_id: str, list_id: str, key: str) -> dict[str, Any] | None:
    """A list's item of a session, by the indexed session key (the oldest when several):
    what a create whose answer was lost may have made."""
    found = sharepoint.items_by_value(ctx.client, site_id, list_id, KEY_COLUMN, [key],
                                      select=[KEY_COLUMN])
    answer = found[key]
    if isinstance(answer, GraphApiError):
        raise answer
    return oldest_item(answer)


def create_item(ctx: Context, action: CreateItem) -> Outcome:
    fields = ctx.resolve(action.values, digest=digest(ctx.resolve(action.record)))
    created = create_once(
        lambda: sharepoint.create_item(ctx.client, action.site_id, action.list_id, fields),
        lambda: item_of(ctx, action.site_id, action.list_id, action.key),
        what=f"the notes list item of {action.key}")
    log.info("notes list item %s created for %s", created.get("id"), action.key,
             extra={"pairing": action.pairing_id, "session": action.key})
    return Outcome.done(action, item_id=str(created.get("id", "")),
                        notes=str(fields.get("NotesStatus", "")))


def update_item(ctx: Context, action: UpdateItem) -> Outcome:
    record = ctx.resolve(action.record)
    record_digest = digest(record)
    patch = ctx.resolve(action.changes, digest=record_digest)
    etag = action.etag
    notes = action.notes
    for attempt in range(1, MAX_WRITE_ATTEMPTS + 1):
        conflicts = str(attempt - 1)
        if not patch:
            return Outcome.done(action, item_id=action.item_id, notes=notes,
                                conflicts=conflicts)
        try:
            sharepoint.update_item_fields(ctx.client, action.site_id, action.list_id,
                                          action.item_id, patch, etag=etag)
        except PreconditionFailed:
            log.info("item %s of %s changed under us (attempt %d/%d); re-reading",
                     action.item_id, action.key, attempt, MAX_WRITE_ATTEMPTS)
            item = sharepoint.get_item(ctx.client, action.site_id, action.list_id,
                                       action.item_id, select=READ_COLUMNS)
            fields_now = dict(item.get("fields") or {})
            etag = item_etag(item)
            if not record:
                # No whole record behind it (a cancellation noted on an item whose event is
                # gone): the same columns again, on top of their edit.
                patch = {k: v for k, v in patch.items() if fields_now.get(k) != v}
                continue
            wanted = owned(record, fields_now, record_digest=record_digest)
            patch = changes(wanted, fields_now)
            notes = tag_notes(str(wanted["NotesStatus"]), fields_now)
            continue
        return Outcome.done(action, item_id=action.item_id, notes=notes, conflicts=conflicts)
    return Outcome.deferred(action, f"item {action.item_id} kept changing during "
                                    f"{MAX_WRITE_ATTEMPTS} attempts; next run")


def remove_item(ctx: Context, action: RemoveItem) -> Outcome:
    """Delete a second item nobody touched; one edited since the plan read it stays."""
    extra = {"pairing": action.pairing_id, "session": action.key}
    try:
        sharepoint.delete_item(ctx.client, action.site_id, action.list_id, action.item_id,
                               etag=action.etag)
    except PreconditionFailed:
        log.warning("second item %s of %s was edited since it was read: kept",
                    action.item_id, action.key, extra=extra)
        return Outcome.failed(action, f"item {action.item_id} was edited since it was read: "
                                      f"kept; merge it into item {action.kept} by hand")
    except NotFound:
        pass  # already gone (an attempt whose answer was lost, or a person)
    log.info("second notes list item %s of %s removed (item %s is the session's)",
             action.item_id, action.key, action.kept, extra=extra)
    return Outcome.done(action)


def tag_events(ctx: Context, actions: Sequence[TagEvent]) -> list[Outcome]:
    """Record on each event what its item now holds: `$batch`es, paced per mailbox."""
    if not actions:
        return []
    requests_: list[BatchRequest] = []
    event_ids: list[str] = []
    for index, action in enumerate(actions):
        record = ctx.resolve(action.record)
        tag = RecordTag(str(ctx.resolve(action.item_id)), digest(record),
                        str(ctx.resolve(action.notes)))
        event_id = str(ctx.resolve(action.event_id))
        event_ids.append(event_id)
        requests_.append(BatchRequest(
            id=str(index), method="PATCH",
            url=f"{calendar.user_path(action.organizer)}/events/{event_id}",
            body={"singleValueExtendedProperties": [
                {"id": RECORD_PROPERTY_ID, "value": tag.encode()}]},
            headers={"Content-Type": "application/json", **calendar.PREFER_HEADERS},
            mailbox=action.organizer,
        ))
    outcomes = []
    for action, event_id, answer in zip(actions, event_ids, ctx.client.batch(requests_),
                                        strict=True):
        if answer.error is not None:
            # The item is right; only the shortcut is missing: the next run looks again.
            outcome = outcome_for(action, answer.error)
            outcomes.append(Outcome.deferred(action, f"event not tagged: {outcome.reason}"))
            continue
        ctx.remember_etag(event_id, answer.body)
        outcomes.append(Outcome.done(action))
    return outcomes

