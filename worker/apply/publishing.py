"""Published notes through Graph: create a copy (looked up by its session key when an answer
was lost, so a copy is never made twice), update it, remove it.

The copy is the worker's: nobody but the worker writes to the published list (its readers
only read), so updates and removals carry no `If-Match`; a copy already gone is done.
"""

from __future__ import annotations

import logging

from graph import sharepoint
from graph.errors import NotFound
from worker.apply.context import Context
from worker.apply.lost import create_once
from worker.apply.notes_list import item_of
from worker.apply.outcome import Outcome
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

    created = create_once(
        lambda: sharepoint.create_item(ctx.client, action.site_id, action.list_id, values),
        lambda: item_of(ctx, action.site_id, action.list_id, action.key),
        what=f"the published copy of {action.key}")
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
