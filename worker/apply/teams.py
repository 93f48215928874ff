"""Teams actions through Graph: install our app, send a nudge, hold one, post the card; and the
nudge ledger each is remembered in.

Exactly once, as far as Graph allows: a nudge is recorded in the ledger (`MentoringNudges` on
the session's event) right after Graph accepts it, before the next nudge is sent. Graph has no
idempotency key for activity notifications, so a process that dies between the accepted send
and the record makes the next run send that one nudge again: at most one duplicate per nudge
per crash (README, "Exactly once"). Everything else here is idempotent: installs answer 409
when done, markers are sets.

The ledger is written with PATCH and `If-Match` (412: re-read, merge, retry). Graph documents no
rule that PATCHing only an extended property sends attendees an update
(https://learn.microsoft.com/graph/api/event-update is silent; attendee, time and location
changes are what Outlook announces), but it is not documented either way.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from urllib.parse import quote

import requests

from graph import calendar, teams
from graph.errors import Forbidden, GraphClientError, PreconditionFailed
from graph.values import odata_string
from worker.apply.context import Context
from worker.apply.outcome import Outcome, outcome_for, stop_for
from worker.core.exit_codes import ExitCode
from worker.core.properties import NUDGES_PROPERTY_ID
from worker.observe.state import ledger_in
from worker.plan.actions import HoldNudge, InstallApp, Ledger, PostCard, SendNudge, TeamsAction
from worker.plan.booking import ledger_property

log = logging.getLogger(__name__)

MAX_RECORD_ATTEMPTS = 3
# How long a run keeps trying to record a nudge Graph took (seconds, waits included).
LEDGER_PATIENCE = 600.0


class LedgerError(GraphClientError):
    """A ledger entry could not be written (the event kept changing, or Graph refused)."""


def remember(ctx: Context, ledger: Ledger, entry: str) -> None:
    """Add `entry` to the ledger of the session's event, merging with what is there."""
    event_id = str(ctx.resolve(ledger.event_id))
    path = f"{calendar.user_path(ledger.organizer)}/events/{quote(event_id, safe='')}"
    for _ in range(MAX_RECORD_ATTEMPTS):
        values = ctx.ledgers.setdefault(event_id, set(ledger.entries))
        if entry in values:
            return
        wanted = sorted(values | {entry})
        headers = dict(calendar.PREFER_HEADERS)
        etag = ctx.etags.get(event_id) or ledger.etag
        if etag:
            headers["If-Match"] = etag
        body = {"singleValueExtendedProperties": [ledger_property(frozenset(wanted))]}
        try:
            answer = ctx.client.request("PATCH", path, json=body, headers=headers,
                                        mailbox=ledger.organizer).json() or {}
        except PreconditionFailed:
            # Someone changed the event since we read it: re-read our property, merge.
            fresh = ctx.client.request(
                "GET", path,
                params={"$select": "id", "$expand": "singleValueExtendedProperties("
                        f"$filter=id eq {odata_string(NUDGES_PROPERTY_ID)})"},
                headers=calendar.PREFER_HEADERS, mailbox=ledger.organizer,
            ).json() or {}
            values |= ledger_in(fresh)
            ctx.remember_etag(event_id, fresh)
            continue
        ctx.ledgers[event_id] = set(wanted)
        ctx.remember_etag(event_id, answer)
        return
    raise LedgerError(f"could not record {entry}: the event kept changing")


def apply_teams(ctx: Context, action: TeamsAction) -> Outcome:
    """One Teams action, remembered in its ledger."""
    if isinstance(action, InstallApp):
        return _install(ctx, action)
    if isinstance(action, HoldNudge):
        if action.marker is not None:
            remember(ctx, action.ledger, action.marker)
        return Outcome.done(action)
    if isinstance(action, SendNudge):
        return _send(ctx, action)
    return _post_card(ctx, action)


def _install(ctx: Context, action: InstallApp) -> Outcome:
    try:
        teams.install_app(ctx.client, action.user_id, action.catalog_id)
    except Forbidden as exc:
        # No Teams licence (or not allowed for this person): reported, tried again next week.
        remember(ctx, action.ledger, action.unreachable_marker)
        return Outcome.failed(action, f"cannot install the Teams app for {action.email}: "
                                      f"{exc.message}")
    remember(ctx, action.ledger, action.marker)
    return Outcome.done(action)


def _send(ctx: Context, action: SendNudge) -> Outcome:
    teams.send_activity_notification(
        ctx.client, action.user_id, activity_type=action.activity_type,
        topic_text=action.topic, web_url=action.web_url, preview=action.preview,
        parameters=dict(action.parameters), pacer=ctx.pacer,
    )
    log.info("nudge %s sent", action.key, extra={"pairing": action.pairing_id})
    # Record right after Graph accepted it: the only window for a duplicate.
    try:
        remember(ctx, action.ledger, action.key)
    except GraphClientError as exc:
        stop = stop_for(exc)
        if stop is not None and not stop.outage:
            raise
        # The mailbox keeps refusing (throttled, failing) or cannot be reached: no further
        # nudge goes out, and the run keeps trying to record this one before it ends
        # (`record_late`); an outage still stops the run, once that is settled.
        if stop is not None:
            ctx.stop(stop)
        return replace(Outcome.failed(action, f"sent, but not recorded yet ({exc})"),
                       unrecorded=True)
    return Outcome.done(action)


def record_late(ctx: Context, outcome: Outcome) -> Outcome:
    """Record a nudge Graph took whose ledger write failed, patiently: rounds of the client's
    retries with growing waits between them, up to `LEDGER_PATIENCE` seconds in all. A nudge
    recorded late is done; one the mailbox never takes is the one the next run may send again
    (the run ends with that named), which is the bound the README promises."""
    action = outcome.action
    assert isinstance(action, SendNudge)
    waited = 0.0
    attempt = 0
    while True:
        attempt += 1
        wait = min(ctx.client.backoff(attempt) * 4, LEDGER_PATIENCE - waited)
        if wait <= 0:
            break
        ctx.client.clock.sleep(wait)
        waited += wait
        try:
            remember(ctx, action.ledger, action.key)
        except GraphClientError as exc:
            stop = stop_for(exc)
            if stop is not None and not stop.outage:
                break
            log.warning("recording nudge %s: %s (round %d; %.0f s of %.0f s waited)",
                        action.key, exc, attempt, waited, LEDGER_PATIENCE)
            continue
        log.info("nudge %s recorded after %d more round(s)", action.key, attempt,
                 extra={"pairing": action.pairing_id})
        return Outcome.done(action, warning=f"recorded {waited:.0f} s late: the mailbox "
                                            "refused the ledger write for a while")
    return replace(outcome, reason=f"sent, but not recorded in {LEDGER_PATIENCE:.0f} s of "
                                   "trying; the next run may send it once more")


def _post_card(ctx: Context, action: PostCard) -> Outcome:
    if not ctx.webhook_url:
        return Outcome.failed(action, "no webhook configured (MENTORING_TEAMS_WEBHOOK_URL)",
                              ExitCode.CONFIG)
    try:
        teams.post_webhook(ctx.client.session, ctx.webhook_url, action.card)
    except (GraphClientError, requests.RequestException) as exc:
        # Never the URL: it is a secret.
        return Outcome.deferred(action, f"program card not posted: {type(exc).__name__}")
    remember(ctx, action.ledger, action.key)
    return Outcome.done(action)


__all__ = ["apply_teams", "outcome_for", "record_late", "remember"]
