"""Calendar actions through Graph: book, move, cancel, each idempotent.

A booking carries a transactionId (`worker.plan.booking`): a POST retried after a lost answer
returns the existing event instead of a second one, and the next run re-reads the tagged events
before planning, so a run killed at any point is finished by the next with nothing doubled.
"""

from __future__ import annotations

import logging

from graph import calendar
from worker.apply.context import Context
from worker.apply.outcome import Outcome
from worker.plan.actions import Book, CalendarAction, Cancel, Move, UpdateEvent

log = logging.getLogger(__name__)


def apply_calendar(ctx: Context, action: CalendarAction) -> Outcome:
    extra = {"pairing": action.pairing_id, "session": action.key}
    if isinstance(action, Book):
        event = calendar.create_event(ctx.client, action.organizer, dict(action.event))
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
    calendar.cancel_event(ctx.client, action.organizer, action.event_id, action.comment)
    log.info("cancelled %s (%s)", action.key, action.reason, extra=extra)
    return Outcome.done(action)
