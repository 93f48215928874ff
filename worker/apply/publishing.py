"""Published notes through Graph: create a copy (looked up by its session key when an answer
was lost, so a copy is never made twice), update it, remove it.

The copy is the worker's: nobody but the worker writes to the published list (its readers
only read), so updates and removals carry no `If-Match`; a copy already gone is done.
"""

from __future__ import annotations

import logging
from typing import Any

from graph import sharepoint
from graph.errors import GraphApiError, NotFound
from worker.apply.context import Context
from worker.apply.lost import create_once
from worker.apply.outcome import Outcome
from worker.core.notes_list import KEY_COLUMN
from worker.observe.notes_list import oldest_item
from worker.plan.actions import PublishNotes, UnpublishNotes

log = logging.getLogger(__name__)


def publish_notes(ctx: Context, action: PublishNotes) -> Outcome:
    extra = {"pairing": action.pairing_id, "session": action.key}
    values = ctx.resolve(action.values)
    if action.item_id:
        try:
            sharepoint.update_item_fields(ctx.client, action.site_id, action.list_id,
                                          action.item_id, values, etag="*")
        except NotFound:
            return Outcome.deferred(action, f"published copy {action.item_id} is gone; the "
                                            "next run publishes it again")
        log.info("published notes of %s updated", action.key, extra=extra)
        return Outcome.done(action, item_id=action.item_id)

    def lookup() -> dict[str, Any] | None:
        found = sharepoint.items_by_value(ctx.client, action.site_id, action.list_id,
                                          KEY_COLUMN, [action.key], select=[KEY_COLUMN])
        answer = found[action.key]
        if isinstance(answer, GraphApiError):
            raise answer
        return oldest_item(answer)

    created = create_once(
        lambda: sharepoint.create_item(ctx.client, action.site_id, action.list_id, values),
        lookup, what=f"the published copy of {action.key}")
    log.info("notes of %s published (item %s)", action.key, created.get("id"), extra=extra)
    return Outcome.done(action, item_id=str(created.get("id", "")))


def unpublish_notes(ctx: Context, action: UnpublishNotes) -> Outcome:
    try:
        sharepoint.delete_item(ctx.client, action.site_id, action.list_id, action.item_id,
                               etag="")
    except NotFound:
        pass  # removed already (an attempt whose answer was lost)
    log.info("published notes of %s removed: %s", action.key, action.reason,
             extra={"pairing": action.pairing_id, "session": action.key})
    return Outcome.done(action)
