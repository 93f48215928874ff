"""How events leave the sandbox: their rendering and the OData options of event listings.

/events and /calendarView answer `$filter`, `$select`, `$expand`, `$orderby`, `$top`/`$skip`
and the `Prefer` headers alike, and every handler renders an event the same way, so this is
one implementation the handlers share rather than one per route.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote as url_quote
from urllib.parse import urlencode

from graph.sandbox import odata, tz
from graph.sandbox.calendar.store import end_of, start_of
from graph.sandbox.core import GraphError, SandboxRequest, SandboxResponse, json_response
from graph.sandbox.directory import User

DEFAULT_PAGE_SIZE = 10

# The properties of microsoft.graph.event a `$filter`/`$orderby`/`$select` may name.
EVENT_PROPERTIES = {
    "id",
    "createdDateTime",
    "lastModifiedDateTime",
    "changeKey",
    "categories",
    "transactionId",
    "originalStartTimeZone",
    "originalEndTimeZone",
    "iCalUId",
    "reminderMinutesBeforeStart",
    "isReminderOn",
    "hasAttachments",
    "subject",
    "body",
    "bodyPreview",
    "importance",
    "sensitivity",
    "isAllDay",
    "isCancelled",
    "isOrganizer",
    "responseRequested",
    "seriesMasterId",
    "showAs",
    "type",
    "webLink",
    "onlineMeetingUrl",
    "isOnlineMeeting",
    "onlineMeetingProvider",
    "allowNewTimeProposals",
    "isDraft",
    "hideAttendees",
    "responseStatus",
    "start",
    "end",
    "location",
    "locations",
    "recurrence",
    "attendees",
    "organizer",
    "onlineMeeting",
    "singleValueExtendedProperties",
    "multiValueExtendedProperties",
}


def render(
    event: Mapping[str, Any],
    *,
    zone_name: str | None = None,
    select: list[str] | None = None,
    expand: list[odata.Expand] | None = None,
    basic_only: bool = False,
) -> dict[str, Any]:
    """The event as Graph returns it: times in the preferred zone (UTC by default), extended
    properties only when expanded, private keys removed."""
    name = zone_name or "UTC"
    body: dict[str, Any] = {"@odata.etag": f'W/"{event.get("changeKey", "")}"'}
    for key, value in event.items():
        if key.startswith("_") or key == "singleValueExtendedProperties":
            continue
        body[key] = copy.deepcopy(value)
    body["start"] = tz.to_dtz(start_of(event), name)
    body["end"] = tz.to_dtz(end_of(event), name)
    if basic_only:
        # Calendars.ReadBasic: "all properties except body, bodyPreview, attachments, and
        # extensions" (https://learn.microsoft.com/en-us/graph/permissions-reference).
        for hidden in ("body", "bodyPreview"):
            body.pop(hidden, None)
    for item in expand or []:
        if item.name.lower() != "singlevalueextendedproperties":
            continue
        props = list(event.get("singleValueExtendedProperties", []))
        if "$filter" in item.options and not basic_only:
            flt = _parse_filter(item.options["$filter"])
            props = [p for p in props if flt.matches(p)]
        elif basic_only:
            props = []
        body["singleValueExtendedProperties"] = copy.deepcopy(props)
    if select:
        body = odata.apply_select(
            body, select + (["singleValueExtendedProperties"] if expand else [])
        )
    return body


def _parse_filter(text: str) -> odata.Filter:
    try:
        return odata.parse_filter(text)
    except odata.ODataError as exc:
        raise exc.to_graph_error() from exc


def event_filter(text: str) -> odata.Filter:
    """A `$filter` over events: syntax and property names checked as Outlook does."""
    flt = _parse_filter(text)
    for path in flt.property_paths():
        if path[0] not in EVENT_PROPERTIES:
            raise GraphError(
                400,
                "BadRequest",
                f"Could not find a property named '{path[0]}' on type 'microsoft.graph.event'.",
            )
    for collection, member in flt.lambda_paths():
        if collection[0].lower() == "singlevalueextendedproperties" and (
            not member or member[0].lower() not in ("id", "value")
        ):
            raise GraphError(400, "BadRequest", "Invalid filter clause")
    return flt


def _filterable(event: Mapping[str, Any]) -> dict[str, Any]:
    """What a `$filter` sees: the UTC rendering plus the extended properties."""
    body = render(event)
    body["singleValueExtendedProperties"] = event.get("singleValueExtendedProperties", [])
    return body


def preferences(req: SandboxRequest) -> tuple[str | None, list[str]]:
    """(zone from `Prefer: outlook.timezone`, values for `Preference-Applied`)."""
    applied: list[str] = []
    zone_name = tz.preferred_zone(req.prefer())
    if zone_name is not None:
        applied.append(f'outlook.timezone="{zone_name}"')
    for value in req.prefer():
        if value.replace(" ", "").lower() == 'idtype="immutableid"':
            applied.append('IdType="ImmutableId"')
    return zone_name, applied


def respond(body: Any, status: int, applied: list[str]) -> SandboxResponse:
    response = json_response(body, status)
    if applied:
        response.headers["Preference-Applied"] = ", ".join(applied)
    return response


def basic_only(req: SandboxRequest) -> bool:
    return not (req.roles & {"Calendars.Read", "Calendars.ReadWrite"}) and bool(
        req.roles & {"Calendars.ReadBasic"}
    )


def context_url(req: SandboxRequest, user: User, suffix: str) -> str:
    from graph.sandbox.auth import base_url

    return f"{base_url(req)}/{req.version or 'v1.0'}/$metadata#users('{user.id}')/{suffix}"


def _query_options(
    req: SandboxRequest,
) -> tuple[list[str] | None, list[odata.Expand], int, int, list[odata.OrderBy]]:
    try:
        select = odata.parse_select(req.query.get("$select"))
        expand = odata.parse_expand(req.query.get("$expand"))
        top = odata.parse_top(req.query.get("$top"), default=_page_size(req))
        skip = odata.parse_skip(req.query.get("$skip"))
        orderby = odata.parse_orderby(req.query.get("$orderby"))
    except odata.ODataError as exc:
        raise GraphError(400, "BadRequest", exc.message) from exc
    for item in orderby:
        if item.path[0] not in EVENT_PROPERTIES:
            raise GraphError(
                400,
                "BadRequest",
                f"Could not find a property named '{item.path[0]}' on type "
                "'microsoft.graph.event'.",
            )
    return select, expand, top, skip, orderby


def _page_size(req: SandboxRequest) -> int:
    for value in req.prefer():
        match = re.match(r"odata\.maxpagesize\s*=\s*(\d+)", value, re.IGNORECASE)
        if match:
            return max(1, min(int(match.group(1)), odata.MAX_TOP))
    return DEFAULT_PAGE_SIZE


def _page(
    req: SandboxRequest,
    user: User,
    items: list[dict[str, Any]],
    *,
    path_suffix: str,
    context_suffix: str,
) -> SandboxResponse:
    from graph.sandbox.auth import base_url

    zone_name, applied = preferences(req)
    select, expand, top, skip, orderby = _query_options(req)
    if orderby:
        items = odata.sort_items(items, orderby, _order_resolver)
    page = items[skip : skip + top] if top else []
    body: dict[str, Any] = {
        "@odata.context": context_url(req, user, context_suffix),
        "value": [
            render(e, zone_name=zone_name, select=select, expand=expand, basic_only=basic_only(req))
            for e in page
        ],
    }
    if top and skip + top < len(items):
        query = dict(req.query)
        query["$skip"] = str(skip + top)
        query.setdefault("$top", str(top))
        body["@odata.nextLink"] = (
            f"{base_url(req)}/{req.version or 'v1.0'}/users/{url_quote(user.id)}/{path_suffix}?"
            + urlencode(query)
        )
    return respond(body, 200, applied)


def _order_resolver(item: Mapping[str, Any], path: Any) -> Any:
    # start/dateTime and end/dateTime sort by the instant, whatever the rendering zone.
    segments = [str(p).lower() for p in path]
    if segments and segments[0] in ("start", "end"):
        return item["_start"] if segments[0] == "start" else item["_end"]
    return odata.default_resolver(item, path)
