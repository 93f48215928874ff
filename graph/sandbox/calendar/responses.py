"""Attendees' answers: accept, decline or tentatively accept, perhaps with a new time.

An answer changes two calendars: the attendee's copy and, when sent, the organizer's
`attendees[].status`. The Graph routes and the simulated people both answer through this one
function so the two cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from graph.sandbox import tz
from graph.sandbox.calendar.store import address_of, iso_z, store_of
from graph.sandbox.core import GraphError
from graph.sandbox.directory import User

if TYPE_CHECKING:
    from graph.sandbox.tenant_app import Sandbox

RESPONSES = {
    "accept": "accepted",
    "decline": "declined",
    "tentativelyaccept": "tentativelyAccepted",
}


def respond_to_invitation(
    sb: Sandbox,
    attendee_user: User,
    invitation: dict[str, Any],
    action: str,
    *,
    send_response: bool = True,
    proposed: Mapping[str, Any] | None = None,
) -> None:
    """An attendee answers: their copy shows it, and (if sent) so does the organizer's
    `attendees[].status`, with `proposedNewTime` when one is proposed."""
    store = store_of(sb)
    now = sb.clock.now()
    response = RESPONSES[action.lower()]
    if invitation.get("isOrganizer"):
        raise GraphError(
            400,
            "ErrorInvalidRequest",
            "Your request can't be completed. You can't respond to a meeting you organized.",
        )
    if invitation.get("isCancelled"):
        raise GraphError(
            400, "ErrorInvalidRequest", "Your request can't be completed. The meeting was canceled."
        )
    organizer_event = store.organizer_event_of(invitation)
    slot: dict[str, Any] | None = None
    if proposed is not None:
        if response == "accepted":
            raise GraphError(400, "BadRequest", "proposedNewTime is not valid for accept.")
        if not invitation.get("allowNewTimeProposals", True):
            raise GraphError(
                400,
                "ErrorInvalidRequest",
                "Your request can't be completed. The organizer doesn't allow new time "
                "proposals for this meeting.",
            )
        start = tz.parse_dtz(proposed.get("start"), field="proposedNewTime.start")
        end = tz.parse_dtz(proposed.get("end"), field="proposedNewTime.end")
        slot = {"start": tz.to_dtz(start, "UTC"), "end": tz.to_dtz(end, "UTC")}
    invitation["responseStatus"] = {"response": response, "time": iso_z(now)}
    invitation["showAs"] = (
        "free"
        if response == "declined"
        else "tentative"
        if response == "tentativelyAccepted"
        else (organizer_event or {}).get("showAs", "busy")
    )
    invitation["_handled"] = True
    store.touch(invitation, now)
    if organizer_event is None or not send_response:
        return
    address = address_of(attendee_user).lower()
    for attendee in organizer_event["attendees"]:
        if attendee["emailAddress"]["address"].lower() in (
            address,
            attendee_user.userPrincipalName.lower(),
        ):
            attendee["status"] = {"response": response, "time": iso_z(now)}
            if slot is not None:
                attendee["proposedNewTime"] = slot
            else:
                attendee.pop("proposedNewTime", None)
    store.touch(organizer_event, now)
