"""Calendar actions through Graph: book, move, update, cancel, none of them doubled.

A booking whose answer was lost is looked up by its session tag before it is sent again
(`worker.apply.lost`); it carries a deterministic transactionId besides (`worker.plan.booking`),
so Outlook does not make a second event even of a create the lookup could not see yet. The next
run re-reads the tagged events before planning, so a run killed at any point is finished by
the next with nothing doubled. Moves and updates are PATCHes of the whole new values: sending
one twice changes nothing more. A cancel is not resent blindly: Outlook deletes the organizer's
copy, so a cancel that finds the event gone (404) has nothing left to do.
"""

from __future__ import annotations

import logging

from graph import calendar
from graph.errors import AnswerLost, NotFound
from worker.apply.context import Context
from worker.apply.lost import create_once
from worker.apply.outcome import Outcome
from worker.core.properties import PROPERTY_ID
from worker.plan.actions import Book, CalendarAction, Cancel, Move, UpdateEvent

log = logging.getLogger(__name__)


def apply_calendar(ctx: Context, action: CalendarAction) -> Outcome:
    extra = {"pairing": action.pairing_id, "session": action.key}
    if isinstance(action, Book):
        event = create_once(
            lambda: calendar.create_event(ctx.client, action.organizer, dict(action.event),
                                          idempotent=False),
            lambda: calendar.event_by_tag(ctx.client, action.organizer, PROPERTY_ID,
                                          action.key),
            what=f"the event of {action.key}")
        event_id = str(event.get("id", ""))
        ctx.remember_etag(event_id, event)
        join_url = str((event.get("onlineMeeting") or {}).get("joinUrl") or "")
        warning = None
        if not join_url:
            warning = (f"session {action.number} was booked without a Teams link: check that "
                       f"the organizer {action.organizer} may create Teams meetings")
        log.info("booked %s at %s", action.key, action.start.isoformat(), extra=extra)
        return Outcome.done(action, warning, event_id=event_id, join_url=join_url)
    if isinstance(action, Move):
        event = calendar.update_event(ctx.client, action.organizer, action.event_id,
                                      dict(action.changes))
        ctx.remember_etag(action.event_id, event)
        with ctx.lock:
            ctx.ledgers[action.event_id] = set(action.ledger)
        log.info("moved %s to %s (%s)", action.key, action.start.isoformat(), action.reason,
                 extra=extra)
        return Outcome.done(action, event_id=action.event_id)
    if isinstance(action, UpdateEvent):
        event = calendar.update_event(ctx.client, action.organizer, action.event_id,
                                      dict(action.changes))
        ctx.remember_etag(action.event_id, event)
        if action.ledger is not None:
            with ctx.lock:
                ctx.ledgers[action.event_id] = set(action.ledger)
        log.info("updated %s (%s)", action.key, ", ".join(action.becomes), extra=extra)
        return Outcome.done(action, event_id=action.event_id)
    assert isinstance(action, Cancel)
    try:
        calendar.cancel_event(ctx.client, action.organizer, action.event_id, action.comment)
    except NotFound:
        # Gone from the organizer's calendar: cancelled by an attempt whose answer was lost,
        # or deleted by a person since the run read it. Either way nothing is left to cancel.
        log.info("%s: the event is already gone (%s)", action.key, action.reason, extra=extra)
        return Outcome.done(action)
    except AnswerLost:
        if calendar.event_by_id(ctx.client, action.organizer, action.event_id) is None:
            log.info("cancelled %s (%s; the answer was lost)", action.key, action.reason,
                     extra=extra)
            return Outcome.done(action)
        raise
    log.info("cancelled %s (%s)", action.key, action.reason, extra=extra)
    return Outcome.done(action)
