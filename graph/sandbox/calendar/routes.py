"""The Graph routes of Outlook calendars and the checks Graph makes before acting.

Handlers only parse and check a request, call the module that owns the behaviour and shape
the answer, so that behaviour can equally be driven in-process (fixtures, simulated people)
without going through HTTP.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from graph.sandbox import odata, tz
from graph.sandbox.calendar.events import cancel_meeting, new_event, update_event
from graph.sandbox.calendar.query import (
    _filterable,
    _page,
    basic_only,
    context_url,
    event_filter,
    preferences,
    render,
    respond,
)
from graph.sandbox.calendar.responses import respond_to_invitation
from graph.sandbox.calendar.schedule import schedule_for
from graph.sandbox.calendar.store import (
    end_of,
    mailbox_id,
    owner_of,
    parse_instant,
    start_of,
    store_of,
)
from graph.sandbox.core import GraphError, Router, SandboxRequest, SandboxResponse, no_content
from graph.sandbox.directory import User

if TYPE_CHECKING:
    from graph.sandbox.tenant_app import Sandbox

READ_PERMISSIONS = ("Calendars.ReadBasic", "Calendars.Read", "Calendars.ReadWrite")
WRITE_PERMISSIONS = ("Calendars.ReadWrite",)

MAX_SCHEDULES = 20
MAX_SCHEDULE_DAYS = 62


def _tick(sb: Sandbox) -> None:
    """Let simulated people answer whatever invitations are due before anyone looks."""
    from graph.sandbox.people import People

    People(sb).tick()


def _fingerprint(body: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def _lookup(sb: Sandbox, user: str, event_id: str) -> tuple[User, dict[str, Any]]:
    owner = owner_of(sb, user)
    return owner, store_of(sb).get(mailbox_id(owner), event_id)


def create_event(sb: Sandbox, req: SandboxRequest, user: str) -> SandboxResponse:
    owner = owner_of(sb, user)
    body = req.json()
    if not isinstance(body, Mapping):
        raise GraphError(400, "BadRequest", "The request body must be a JSON object.")
    zone_name, applied = preferences(req)
    store = store_of(sb)
    transaction = body.get("transactionId")
    key = f"{mailbox_id(owner)}|{transaction}" if transaction else None
    if key is not None and key in store.transactions:
        seen = store.transactions[key]
        existing = store.calendar(mailbox_id(owner)).get(seen["event_id"])
        if seen["fingerprint"] != _fingerprint(body):
            # 400, not 409: Outlook's code for this is ErrorDuplicateTransactionId, and the
            # clients handling it in public code meet it as a BadRequest.
            raise GraphError(
                400,
                "ErrorDuplicateTransactionId",
                "Your request can't be completed. The transactionId has already been used "
                "with a different request.",
            )
        if existing is not None:
            # The docs promise no second event for a retried POST; they do not say which
            # status comes back. The sandbox answers as for the first POST (201).
            return respond(render(existing, zone_name=zone_name), 201, applied)
    event = new_event(sb, owner, body)
    if key is not None:
        store.transactions[key] = {"event_id": event["id"], "fingerprint": _fingerprint(body)}
    response = respond(render(event, zone_name=zone_name), 201, applied)
    response.headers["Location"] = (
        f"{context_url(req, owner, '').split('/$metadata')[0]}/users('{owner.id}')"
        f"/events('{event['id']}')"
    )
    return response


def list_events(sb: Sandbox, req: SandboxRequest, user: str) -> SandboxResponse:
    owner = owner_of(sb, user)
    _tick(sb)
    items = list(store_of(sb).calendar(mailbox_id(owner)).values())
    if "$filter" in req.query:
        flt = event_filter(req.query["$filter"])
        items = [e for e in items if flt.matches(_filterable(e))]
    items.sort(key=lambda e: str(e.get("createdDateTime")))
    suffix = "calendar/events" if "/calendar/" in req.path.lower() else "events"
    return _page(req, owner, items, path_suffix=suffix, context_suffix=suffix)


def get_event(sb: Sandbox, req: SandboxRequest, user: str, event_id: str) -> SandboxResponse:
    _tick(sb)
    _, event = _lookup(sb, user, event_id)
    zone_name, applied = preferences(req)
    try:
        select = odata.parse_select(req.query.get("$select"))
        expand = odata.parse_expand(req.query.get("$expand"))
    except odata.ODataError as exc:
        raise GraphError(400, "BadRequest", exc.message) from exc
    return respond(
        render(
            event, zone_name=zone_name, select=select, expand=expand, basic_only=basic_only(req)
        ),
        200,
        applied,
    )


def patch_event(sb: Sandbox, req: SandboxRequest, user: str, event_id: str) -> SandboxResponse:
    owner, event = _lookup(sb, user, event_id)
    body = req.json()
    if not isinstance(body, Mapping):
        raise GraphError(400, "BadRequest", "The request body must be a JSON object.")
    if_match = req.headers.get("If-Match")
    if if_match and if_match != "*" and if_match.strip() != f'W/"{event["changeKey"]}"':
        raise GraphError(
            412,
            "ErrorIrresolvableConflict",
            "The send or update operation could not be performed because the change key "
            "passed in the request does not match the current change key for the item.",
        )
    zone_name, applied = preferences(req)
    updated = update_event(sb, owner, event, body)
    return respond(render(updated, zone_name=zone_name), 200, applied)


def delete_event(sb: Sandbox, req: SandboxRequest, user: str, event_id: str) -> SandboxResponse:
    owner, event = _lookup(sb, user, event_id)
    if event.get("isOrganizer"):
        cancel_meeting(sb, owner, event)
    else:
        store_of(sb).calendar(mailbox_id(owner)).pop(event_id, None)
    return no_content()


def cancel_event(sb: Sandbox, req: SandboxRequest, user: str, event_id: str) -> SandboxResponse:
    owner, event = _lookup(sb, user, event_id)
    if req.body:
        body = req.json()
        comment = body.get("comment", body.get("Comment")) if isinstance(body, Mapping) else None
        if comment is not None and not isinstance(comment, str):
            raise GraphError(400, "BadRequest", "comment must be a string.")
    if not event.get("isOrganizer"):
        raise GraphError(
            400,
            "ErrorAccessDenied",
            "Your request can't be completed. You need to be an organizer to cancel a meeting.",
        )
    cancel_meeting(sb, owner, event)
    return SandboxResponse(202)


def _answer(action: str) -> Any:
    def handler(sb: Sandbox, req: SandboxRequest, user: str, event_id: str) -> SandboxResponse:
        owner, event = _lookup(sb, user, event_id)
        body = req.json() if req.body else {}
        if not isinstance(body, Mapping):
            raise GraphError(400, "BadRequest", "The request body must be a JSON object.")
        proposed = body.get("proposedNewTime")
        respond_to_invitation(
            sb,
            owner,
            event,
            action,
            send_response=bool(body.get("sendResponse", True)),
            proposed=proposed if isinstance(proposed, Mapping) else None,
        )
        return SandboxResponse(202)

    handler.__name__ = f"{action}_event"
    return handler


def calendar_view(sb: Sandbox, req: SandboxRequest, user: str) -> SandboxResponse:
    owner = owner_of(sb, user)
    query = {k.lower(): v for k, v in req.query.items()}
    raw_start, raw_end = query.get("startdatetime"), query.get("enddatetime")
    if not raw_start or not raw_end:
        raise GraphError(
            400,
            "ErrorInvalidParameter",
            "This request requires a time window specified by the query string parameters "
            "StartDateTime and EndDateTime.",
        )
    try:
        start, end = parse_instant(raw_start), parse_instant(raw_end)
    except ValueError as exc:
        raise GraphError(
            400,
            "ErrorInvalidParameter",
            f"The parameter 'StartDateTime' or 'EndDateTime' is not a valid date-time: {exc}",
        ) from exc
    _tick(sb)
    items = [
        e
        for e in store_of(sb).calendar(mailbox_id(owner)).values()
        if start_of(e) < end and end_of(e) > start
    ]
    if "$filter" in req.query:
        flt = event_filter(req.query["$filter"])
        items = [e for e in items if flt.matches(_filterable(e))]
    items.sort(key=lambda e: (start_of(e), str(e["id"])))
    suffix = "calendar/calendarView" if "/calendar/" in req.path.lower() else "calendarView"
    return _page(req, owner, items, path_suffix=suffix, context_suffix=suffix)


def get_schedule(sb: Sandbox, req: SandboxRequest, user: str) -> SandboxResponse:
    owner_of(sb, user)
    _tick(sb)
    body = req.json()
    if not isinstance(body, Mapping):
        raise GraphError(400, "BadRequest", "The request body must be a JSON object.")
    schedules = body.get("schedules")
    if not isinstance(schedules, list) or not schedules:
        raise GraphError(400, "ErrorInvalidParameter", "The schedules parameter is required.")
    if len(schedules) > MAX_SCHEDULES:
        # The limit of 20 comes from the program's design notes; the error text is the
        # conservative choice (docs/sandbox.md).
        raise GraphError(
            400,
            "ErrorInvalidParameter",
            f"The number of schedules ({len(schedules)}) exceeds the maximum of {MAX_SCHEDULES}.",
        )
    start_raw, end_raw = body.get("startTime"), body.get("endTime")
    start = tz.parse_dtz(start_raw, field="startTime")
    end = tz.parse_dtz(end_raw, field="endTime")
    if end <= start:
        raise GraphError(400, "ErrorInvalidParameter", "The endTime must be after the startTime.")
    if end - start >= timedelta(days=MAX_SCHEDULE_DAYS):
        raise GraphError(
            400,
            "ErrorInvalidParameter",
            f"The requested time window exceeds the maximum of {MAX_SCHEDULE_DAYS} days.",
        )
    interval = body.get("availabilityViewInterval", 30)
    if not isinstance(interval, int) or isinstance(interval, bool) or not 5 <= interval <= 1440:
        raise GraphError(
            400,
            "ErrorInvalidParameter",
            "availabilityViewInterval must be an integer from 5 to 1440.",
        )
    zone_name, applied = preferences(req)
    include_details = bool(req.roles & {"Calendars.Read", "Calendars.ReadWrite"})
    value = [
        schedule_for(sb, str(address), start, end, interval, zone_name or "UTC", include_details)
        for address in schedules
    ]
    metadata = context_url(req, owner_of(sb, user), "").split("#")[0]
    context = f"{metadata}#Collection(microsoft.graph.scheduleInformation)"
    return respond({"@odata.context": context, "value": value}, 200, applied)


def register(router: Router) -> None:
    def read(method: str, path: str, handler: Any) -> None:
        router.add(
            method,
            path,
            handler,
            service="outlook",
            permissions=READ_PERMISSIONS,
            mailbox_param="user",
        )

    def write(method: str, path: str, handler: Any, body_type: str | None = None) -> None:
        router.add(
            method,
            path,
            handler,
            service="outlook",
            permissions=WRITE_PERMISSIONS,
            mailbox_param="user",
            body_type=body_type,
        )

    for prefix in ("/users/{user}/events", "/users/{user}/calendar/events"):
        write("POST", prefix, create_event, "microsoft.graph.event")
        read("GET", prefix, list_events)
        item = prefix + "/{event_id}"
        read("GET", item, get_event)
        write("PATCH", item, patch_event, "microsoft.graph.event")
        write("DELETE", item, delete_event)
        write("POST", item + "/cancel", cancel_event)
        for action in ("accept", "decline", "tentativelyAccept"):
            write("POST", f"{item}/{action}", _answer(action))
    for path in ("/users/{user}/calendarView", "/users/{user}/calendar/calendarView"):
        read("GET", path, calendar_view)
    read("POST", "/users/{user}/calendar/getSchedule", get_schedule)
