"""How a meeting reaches the attendees' own calendars and stays in step there.

Exchange puts a copy of the organizer's event in each tenant attendee's calendar, and mirrors
later changes, removed attendees and cancellations onto those copies. The worker only ever
sees this through the attendees' calendars and answers, so the copies' life is kept apart
from the checks on the organizer's requests.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote as url_quote

from graph.sandbox.calendar.store import NO_TIME, address_of, iso_z, mailbox_id, store_of

if TYPE_CHECKING:
    from graph.sandbox.tenant_app import Sandbox


def _invite(sb: Sandbox, event: dict[str, Any], attendee: Mapping[str, Any], now: datetime) -> None:
    """Deliver the invitation to an attendee's own calendar (tenant users only; an outside
    address is just recorded on the organizer's event)."""
    store = store_of(sb)
    person = sb.state.directory.find(attendee["emailAddress"]["address"])
    if person is None or not person.has_mailbox or mailbox_id(person) == event["_mailbox"]:
        return
    for existing in store.copies_of(event):
        if existing["_mailbox"] == mailbox_id(person):
            return
    mailbox = mailbox_id(person)
    copy_id = store.new_event_id(mailbox)
    invitation = {
        key: copy.deepcopy(value)
        for key, value in event.items()
        if key not in ("singleValueExtendedProperties", "transactionId", "_copies")
    }
    invitation.update(
        {
            "id": copy_id,
            "createdDateTime": iso_z(now),
            "isOrganizer": False,
            "transactionId": None,
            # Exchange places an unanswered invitation on the calendar as tentative.
            "showAs": "tentative",
            "responseStatus": {"response": "notResponded", "time": NO_TIME},
            "webLink": f"https://outlook.office365.com/owa/?itemid="
            f"{url_quote(copy_id, safe='')}&exvsurl=1&path=/calendar/item",
            "_mailbox": mailbox,
            "_version": 0,
            "_organizer_ref": [event["_mailbox"], event["id"]],
            "_landed": now.isoformat(),
            "_handled": False,
        }
    )
    store.touch(invitation, now)
    store.calendar(mailbox)[copy_id] = invitation
    event.setdefault("_copies", []).append([mailbox, copy_id])


def _replace_attendees(
    sb: Sandbox, event: dict[str, Any], wanted: list[dict[str, Any]], now: datetime
) -> None:
    store = store_of(sb)
    old = {a["emailAddress"]["address"].lower(): a for a in event["attendees"]}
    new_list: list[dict[str, Any]] = []
    for attendee in wanted:
        key = attendee["emailAddress"]["address"].lower()
        new_list.append(old.get(key, attendee) | {"type": attendee["type"]})
    event["attendees"] = new_list
    keep = {a["emailAddress"]["address"].lower() for a in new_list}
    for invitation in store.copies_of(event):
        person = sb.state.directory.find(invitation["_mailbox"])
        if person is not None and address_of(person).lower() not in keep:
            _cancel_copy(invitation, now)
            store.touch(invitation, now)
    for attendee in new_list:
        if attendee["emailAddress"]["address"].lower() not in old:
            _invite(sb, event, attendee, now)


def _sync_copy(
    event: Mapping[str, Any], invitation: dict[str, Any], moved: bool, now: datetime
) -> None:
    if invitation.get("isCancelled"):
        return
    for key in (
        "subject",
        "body",
        "bodyPreview",
        "location",
        "locations",
        "attendees",
        "isOnlineMeeting",
        "onlineMeetingProvider",
        "onlineMeeting",
        "_start",
        "_end",
        "originalStartTimeZone",
        "originalEndTimeZone",
        "importance",
        "sensitivity",
        "isAllDay",
        "allowNewTimeProposals",
        "responseRequested",
    ):
        invitation[key] = copy.deepcopy(event.get(key))
    if moved:
        invitation["responseStatus"] = {"response": "notResponded", "time": NO_TIME}
        invitation["showAs"] = "tentative"
        invitation["_landed"] = now.isoformat()
        invitation["_handled"] = False


def _cancel_copy(invitation: dict[str, Any], now: datetime) -> None:
    if invitation.get("isCancelled"):
        return
    invitation["isCancelled"] = True
    subject = str(invitation.get("subject") or "")
    if not subject.startswith("Canceled: "):
        invitation["subject"] = f"Canceled: {subject}"
    invitation["_handled"] = True
