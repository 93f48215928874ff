"""An organizer's events: creating, changing and cancelling them.

Request bodies are checked here the way Exchange checks them (unknown properties, `showAs`,
attendees, extended properties, times) and a Teams join link is added or withheld. The same
functions serve the Graph routes, the fixtures and the simulated people, so an event made
in-process is indistinguishable from one posted over HTTP. What a change does to the
attendees' copies is `invitations`' business.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote as url_quote

from graph.sandbox import tz
from graph.sandbox.calendar.invitations import _cancel_copy, _invite, _replace_attendees, _sync_copy
from graph.sandbox.calendar.store import (
    NO_TIME,
    MailStore,
    email_address,
    end_of,
    iso_z,
    mailbox_id,
    same_property_id,
    start_of,
    store_of,
    validate_extended_property_id,
)
from graph.sandbox.core import GraphError
from graph.sandbox.directory import User

if TYPE_CHECKING:
    from graph.sandbox.tenant_app import Sandbox

TEAMS_JOIN_PREFIX = "https://teams.microsoft.com/l/meetup-join/"

# What a client may set on create/update; the rest is computed by the server.
WRITABLE = {
    "subject",
    "body",
    "start",
    "end",
    "attendees",
    "location",
    "locations",
    "categories",
    "importance",
    "sensitivity",
    "isAllDay",
    "showAs",
    "isReminderOn",
    "reminderMinutesBeforeStart",
    "responseRequested",
    "allowNewTimeProposals",
    "isOnlineMeeting",
    "onlineMeetingProvider",
    "transactionId",
    "hideAttendees",
    "singleValueExtendedProperties",
    "originalStartTimeZone",
    "originalEndTimeZone",
}
SHOW_AS = {"free", "tentative", "busy", "oof", "workingElsewhere", "unknown"}


def _check_showas(value: Any) -> str:
    if value not in SHOW_AS:
        raise GraphError(
            400,
            "BadRequest",
            f"Cannot convert the literal '{value}' to the expected type "
            "'microsoft.graph.freeBusyStatus'.",
        )
    return str(value)


def _extended_properties(raw: Any) -> list[dict[str, str]]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise GraphError(400, "BadRequest", "singleValueExtendedProperties must be a collection.")
    props: list[dict[str, str]] = []
    for item in raw:
        if not isinstance(item, Mapping) or "id" not in item:
            raise GraphError(400, "ErrorInvalidProperty", "The extended property id is missing.")
        prop_id = validate_extended_property_id(str(item["id"]))
        props = [p for p in props if not same_property_id(p["id"], prop_id)]
        props.append({"id": prop_id, "value": str(item.get("value", ""))})
    return props


def _attendees(raw: Any) -> list[dict[str, Any]]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise GraphError(400, "BadRequest", "attendees must be a collection.")
    result: list[dict[str, Any]] = []
    seen: set[str] = set()
    for item in raw:
        email = (item or {}).get("emailAddress") or {}
        address = str(email.get("address") or "").strip()
        if not address or "@" not in address:
            raise GraphError(400, "ErrorInvalidRecipients", "At least one recipient isn't valid.")
        if address.lower() in seen:
            continue
        seen.add(address.lower())
        kind = str(item.get("type") or "required")
        if kind not in ("required", "optional", "resource"):
            raise GraphError(400, "BadRequest", f"Invalid attendee type '{kind}'.")
        result.append(
            {
                "type": kind,
                "status": {"response": "none", "time": NO_TIME},
                "emailAddress": {"name": str(email.get("name") or address), "address": address},
            }
        )
    return result


def _apply_times(event: dict[str, Any], body: Mapping[str, Any]) -> None:
    start = tz.parse_dtz(body["start"], field="start") if "start" in body else start_of(event)
    end = tz.parse_dtz(body["end"], field="end") if "end" in body else end_of(event)
    if end < start:
        raise GraphError(
            400, "ErrorInvalidRequest", "The end time of the event must be after its start time."
        )
    event["_start"] = start.isoformat()
    event["_end"] = end.isoformat()
    if "start" in body:
        event["originalStartTimeZone"] = str(body["start"].get("timeZone") or "UTC")
    if "end" in body:
        event["originalEndTimeZone"] = str(body["end"].get("timeZone") or "UTC")


def _apply_simple(event: dict[str, Any], body: Mapping[str, Any]) -> None:
    for key in (
        "subject",
        "importance",
        "sensitivity",
        "isAllDay",
        "isReminderOn",
        "reminderMinutesBeforeStart",
        "responseRequested",
        "allowNewTimeProposals",
        "hideAttendees",
        "categories",
        "location",
        "locations",
    ):
        if key in body:
            event[key] = copy.deepcopy(body[key])
    if "showAs" in body:
        event["showAs"] = _check_showas(body["showAs"])
    if "body" in body:
        content = body["body"] or {}
        event["body"] = {
            "contentType": str(content.get("contentType") or "text").lower(),
            "content": str(content.get("content") or ""),
        }
        text = re.sub(r"<[^>]+>", " ", event["body"]["content"])
        event["bodyPreview"] = " ".join(text.split())[:255]
    if "location" in body and "locations" not in body:
        loc = body["location"] or {}
        event["locations"] = [loc] if loc.get("displayName") else []


def _online_meeting(sb: Sandbox, store: MailStore, event: dict[str, Any], owner: User) -> None:
    """A Teams meeting when asked for one; sometimes Graph answers without the link."""
    wants = bool(event.get("isOnlineMeeting"))
    provider = event.get("onlineMeetingProvider") or "unknown"
    if not wants or provider != "teamsForBusiness":
        event["onlineMeeting"] = None
        if not wants:
            event["onlineMeetingProvider"] = "unknown"
        return
    if event.get("onlineMeeting"):
        return
    missing = (
        mailbox_id(owner) in {m.lower() for m in store.no_join_link} or not owner.has_teams_license
    )
    if not missing and store.drop_next_join_links > 0:
        store.drop_next_join_links -= 1
        missing = True
    if missing:
        event["onlineMeeting"] = None
        return
    thread = hashlib.sha256(str(event["iCalUId"]).encode()).hexdigest()[:40]
    context = url_quote(
        json.dumps({"Tid": sb.state.tenant_id, "Oid": owner.id}, separators=(",", ":")), safe=""
    )
    event["onlineMeeting"] = {
        "joinUrl": f"{TEAMS_JOIN_PREFIX}19%3ameeting_{thread}%40thread.v2/0?context={context}"
    }


def new_event(
    sb: Sandbox, owner: User, body: Mapping[str, Any], *, now: datetime | None = None
) -> dict[str, Any]:
    """Build and store an organizer's event from a Graph request body; send invitations."""
    store = store_of(sb)
    now = now or sb.clock.now()
    unknown = [k for k in body if k not in WRITABLE and not k.startswith("@odata")]
    if unknown:
        raise GraphError(
            400,
            "BadRequest",
            f"The property '{unknown[0]}' does not exist on type 'microsoft.graph.event'. "
            "Make sure to only use property names that are defined by the type or mark the "
            "type as open type.",
        )
    if "start" not in body or "end" not in body:
        raise GraphError(400, "ErrorInvalidRequest", "An event needs both a start and an end time.")
    mailbox = mailbox_id(owner)
    event_id = store.new_event_id(mailbox)
    event: dict[str, Any] = {
        "id": event_id,
        "createdDateTime": iso_z(now),
        "lastModifiedDateTime": iso_z(now),
        "changeKey": "",
        "categories": [],
        "transactionId": body.get("transactionId"),
        "originalStartTimeZone": "UTC",
        "originalEndTimeZone": "UTC",
        "iCalUId": store.new_ical_uid(),
        "reminderMinutesBeforeStart": 15,
        "isReminderOn": True,
        "hasAttachments": False,
        "subject": "",
        "bodyPreview": "",
        "importance": "normal",
        "sensitivity": "normal",
        "isAllDay": False,
        "isCancelled": False,
        "isOrganizer": True,
        "responseRequested": True,
        "seriesMasterId": None,
        "showAs": "busy",
        "type": "singleInstance",
        "webLink": f"https://outlook.office365.com/owa/?itemid={url_quote(event_id, safe='')}"
        "&exvsurl=1&path=/calendar/item",
        "onlineMeetingUrl": None,
        "isOnlineMeeting": bool(body.get("isOnlineMeeting", False)),
        "onlineMeetingProvider": body.get("onlineMeetingProvider") or "unknown",
        "allowNewTimeProposals": True,
        "isDraft": False,
        "hideAttendees": False,
        "responseStatus": {"response": "organizer", "time": NO_TIME},
        "body": {"contentType": "html", "content": ""},
        "location": {
            "displayName": "",
            "locationType": "default",
            "uniqueIdType": "unknown",
            "address": {},
            "coordinates": {},
        },
        "locations": [],
        "recurrence": None,
        "attendees": _attendees(body.get("attendees")),
        "organizer": {"emailAddress": email_address(owner)},
        "onlineMeeting": None,
        "singleValueExtendedProperties": _extended_properties(
            body.get("singleValueExtendedProperties")
        ),
        "_mailbox": mailbox,
        "_version": 0,
        "_copies": [],
    }
    _apply_simple(event, body)
    _apply_times(event, body)
    _online_meeting(sb, store, event, owner)
    store.touch(event, now)
    event["lastModifiedDateTime"] = event["createdDateTime"]
    store.calendar(mailbox)[event_id] = event
    for attendee in event["attendees"]:
        _invite(sb, event, attendee, now)
    return event


def update_event(
    sb: Sandbox, owner: User, event: dict[str, Any], body: Mapping[str, Any]
) -> dict[str, Any]:
    """PATCH: on an organizer's meeting the change reaches every attendee's copy; a time
    change asks everyone to answer again."""
    store = store_of(sb)
    now = sb.clock.now()
    unknown = [k for k in body if k not in WRITABLE and not k.startswith("@odata")]
    if unknown:
        raise GraphError(
            400,
            "BadRequest",
            f"The property '{unknown[0]}' does not exist on type 'microsoft.graph.event'.",
        )
    before = (event["_start"], event["_end"])
    _apply_simple(event, body)
    _apply_times(event, body)
    if "singleValueExtendedProperties" in body:
        merged = {p["id"].lower(): p for p in event.get("singleValueExtendedProperties", [])}
        for prop in _extended_properties(body["singleValueExtendedProperties"]):
            merged[prop["id"].lower()] = prop
        event["singleValueExtendedProperties"] = list(merged.values())
    for key in ("isOnlineMeeting", "onlineMeetingProvider"):
        if key in body:
            event[key] = body[key]
    store.touch(event, now)
    if not event.get("isOrganizer"):
        return event
    _online_meeting(sb, store, event, owner)
    moved = (event["_start"], event["_end"]) != before
    if "attendees" in body:
        _replace_attendees(sb, event, _attendees(body["attendees"]), now)
    if moved:
        # A time change is a new request to every attendee: answers start over.
        for attendee in event["attendees"]:
            attendee["status"] = {"response": "none", "time": NO_TIME}
            attendee.pop("proposedNewTime", None)
    for invitation in store.copies_of(event):
        _sync_copy(event, invitation, moved, now)
        store.touch(invitation, now)
    return event


def cancel_meeting(sb: Sandbox, owner: User, event: dict[str, Any]) -> None:
    """The organizer cancels (or deletes) a meeting: the attendees' copies become cancelled
    and the organizer's item goes to Deleted Items (gone from the calendar)."""
    store = store_of(sb)
    now = sb.clock.now()
    for invitation in store.copies_of(event):
        _cancel_copy(invitation, now)
        store.touch(invitation, now)
    store.calendar(mailbox_id(owner)).pop(event["id"], None)
