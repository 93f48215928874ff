"""Simulated people: the mentors and executives who answer (or ignore) invitations.

A reverse-mentoring program lives on what people do with their invites: an executive declines
every Monday meeting, a mentor never answers, someone proposes another time, an organizer
moves or cancels a meeting by hand. Each user carries a scripted `Behaviour`
(`graph.sandbox.directory`); `People.tick()` plays those scripts on the sandbox clock, lazily,
before every calendar read, so a test that advances a `ManualClock` sees the answers arrive.
Tests and the demo can also act explicitly (`accept`, `decline`, `move`, `cancel`, ...), in
process or through the `/_sandbox/...` control routes, which take no token: they stand for
people using Outlook, not for an app using Graph.

Every act goes through the same functions as the Graph routes (`graph.sandbox.calendar`), so
the organizer sees exactly what Graph shows: `attendees[].status {response, time}`,
`proposedNewTime`, cancelled copies.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from graph.sandbox import calendar, tz
from graph.sandbox.core import GraphError, Router, SandboxRequest, SandboxResponse, json_response
from graph.sandbox.directory import User

if TYPE_CHECKING:
    from graph.sandbox.tenant_app import Sandbox

# Bound on how many invitations one tick answers: a tick is a loop over stored state and,
# like every loop here, must end even on a pathological tenant.
MAX_ANSWERS_PER_TICK = 100_000


class People:
    """The tenant's people, acting on the sandbox clock."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sb = sandbox

    @property
    def store(self) -> calendar.MailStore:
        return calendar.store_of(self.sb)

    # --- scripted behaviour ----------------------------------------------------------------

    def tick(self) -> int:
        """Answer every invitation whose owner's delay has elapsed; returns how many."""
        now = self.sb.clock.now()
        due: list[tuple[User, dict[str, Any]]] = []
        for mailbox, events in self.store.events.items():
            person = self.sb.state.directory.find(mailbox)
            if person is None:
                continue
            delay = timedelta(minutes=max(0, person.behaviour.delay_minutes))
            for event in events.values():
                if event.get("isOrganizer") or event.get("_handled") or event.get("isCancelled"):
                    continue
                landed = calendar.parse_instant(str(event.get("_landed") or now.isoformat()))
                if landed + delay <= now:
                    due.append((person, event))
        due.sort(key=lambda pair: (str(pair[1].get("_landed")), str(pair[1]["id"])))
        for person, event in due[:MAX_ANSWERS_PER_TICK]:
            self._behave(person, event)
        return min(len(due), MAX_ANSWERS_PER_TICK)

    def _behave(self, person: User, invitation: dict[str, Any]) -> None:
        behaviour = person.behaviour
        kind = behaviour.kind
        if kind == "never_answer":
            invitation["_handled"] = True
        elif kind == "delete_invite":
            self.store.calendar(calendar.mailbox_id(person)).pop(invitation["id"], None)
        elif kind == "tentative":
            calendar.respond_to_invitation(self.sb, person, invitation, "tentativelyAccept")
        elif kind == "propose_new_time":
            # A person proposes once per meeting; when the organizer moves it (to the proposal
            # or elsewhere), they take the new time rather than haggling forever.
            if invitation.get("_proposed_once"):
                calendar.respond_to_invitation(self.sb, person, invitation, "accept")
            else:
                invitation["_proposed_once"] = True
                calendar.respond_to_invitation(
                    self.sb,
                    person,
                    invitation,
                    "tentativelyAccept",
                    proposed=_hour_later(invitation),
                )
        elif kind == "decline_days":
            local = calendar.start_of(invitation).astimezone(calendar.user_zone(person))
            action = "decline" if local.weekday() in set(behaviour.weekdays) else "accept"
            calendar.respond_to_invitation(self.sb, person, invitation, action)
        else:
            calendar.respond_to_invitation(self.sb, person, invitation, "accept")

    # --- explicit acts ---------------------------------------------------------------------

    def invitation(self, user: str, ref: str) -> tuple[User, dict[str, Any]]:
        """A person's event by its id in their mailbox or by its iCalUId."""
        person = self.sb.state.directory.mailbox(user)
        events = self.store.calendar(calendar.mailbox_id(person))
        if ref in events:
            return person, events[ref]
        for event in events.values():
            if event.get("iCalUId") == ref:
                return person, event
        # The organizer's event id also names the meeting: find this person's copy of it.
        for organizer_events in self.store.events.values():
            if ref in organizer_events:
                ical = organizer_events[ref].get("iCalUId")
                for event in events.values():
                    if event.get("iCalUId") == ical:
                        return person, event
        raise GraphError(
            404, "ErrorItemNotFound", "The specified object was not found in the store."
        )

    def accept(self, user: str, ref: str) -> None:
        person, event = self.invitation(user, ref)
        calendar.respond_to_invitation(self.sb, person, event, "accept")

    def decline(self, user: str, ref: str) -> None:
        person, event = self.invitation(user, ref)
        calendar.respond_to_invitation(self.sb, person, event, "decline")

    def tentative(self, user: str, ref: str) -> None:
        person, event = self.invitation(user, ref)
        calendar.respond_to_invitation(self.sb, person, event, "tentativelyAccept")

    def propose(
        self, user: str, ref: str, start: datetime | None = None, end: datetime | None = None
    ) -> None:
        """Tentative with a proposed new time (an hour later unless given)."""
        person, event = self.invitation(user, ref)
        proposed = _hour_later(event)
        if start is not None and end is not None:
            proposed = {"start": tz.to_dtz(start, "UTC"), "end": tz.to_dtz(end, "UTC")}
        calendar.respond_to_invitation(
            self.sb, person, event, "tentativelyAccept", proposed=proposed
        )

    def delete_invite(self, user: str, ref: str) -> None:
        """The person deletes the invitation without answering."""
        person, event = self.invitation(user, ref)
        if event.get("isOrganizer"):
            raise GraphError(400, "ErrorInvalidRequest", "That is the organizer's own meeting.")
        self.store.calendar(calendar.mailbox_id(person)).pop(event["id"], None)

    def move(self, organizer_user: str, event_id: str, start: datetime, end: datetime) -> None:
        """The organizer drags the meeting to a new time in Outlook."""
        person, event = self.invitation(organizer_user, event_id)
        calendar.update_event(
            self.sb,
            person,
            event,
            {"start": tz.to_dtz(start, "UTC"), "end": tz.to_dtz(end, "UTC")},
        )

    def cancel(self, organizer_user: str, event_id: str) -> None:
        person, event = self.invitation(organizer_user, event_id)
        if not event.get("isOrganizer"):
            raise GraphError(
                400,
                "ErrorAccessDenied",
                "Your request can't be completed. You need to be an organizer to cancel a meeting.",
            )
        calendar.cancel_meeting(self.sb, person, event)

    def add_meeting(
        self,
        user: str,
        subject: str,
        start: datetime,
        end: datetime,
        show_as: str = "busy",
        attendees: Sequence[str] = (),
    ) -> dict[str, Any]:
        """Something else lands on a calendar (a person books their own meeting)."""
        person = self.sb.state.directory.mailbox(user)
        body: dict[str, Any] = {
            "subject": subject,
            "start": tz.to_dtz(start, "UTC"),
            "end": tz.to_dtz(end, "UTC"),
            "showAs": show_as,
            "attendees": [{"type": "required", "emailAddress": {"address": a}} for a in attendees],
        }
        return calendar.new_event(self.sb, person, body)


def _hour_later(event: Mapping[str, Any]) -> dict[str, Any]:
    start = calendar.start_of(event) + timedelta(hours=1)
    end = calendar.end_of(event) + timedelta(hours=1)
    return {"start": tz.to_dtz(start, "UTC"), "end": tz.to_dtz(end, "UTC")}


# ---------------------------------------------------------------------------------------------
# Control routes (HTTP mode): people acting, not apps.


def _instant(value: Any, name: str) -> datetime:
    if isinstance(value, Mapping):
        return tz.parse_dtz(value, field=name)
    if isinstance(value, str) and value:
        parsed = calendar.parse_instant(value)
        return parsed.astimezone(UTC)
    raise GraphError(400, "BadRequest", f"'{name}' is required.")


def act(sb: Sandbox, req: SandboxRequest, user: str, event_id: str, act: str) -> SandboxResponse:
    body = req.json() if req.body else {}
    if not isinstance(body, Mapping):
        raise GraphError(400, "BadRequest", "The request body must be a JSON object.")
    people = People(sb)
    name = act.lower()
    if name == "accept":
        people.accept(user, event_id)
    elif name == "decline":
        people.decline(user, event_id)
    elif name in ("tentative", "tentativelyaccept"):
        people.tentative(user, event_id)
    elif name == "propose":
        start = _instant(body["start"], "start") if "start" in body else None
        end = _instant(body["end"], "end") if "end" in body else None
        people.propose(user, event_id, start, end)
    elif name in ("delete", "delete_invite"):
        people.delete_invite(user, event_id)
    elif name == "move":
        people.move(
            user, event_id, _instant(body.get("start"), "start"), _instant(body.get("end"), "end")
        )
    elif name == "cancel":
        people.cancel(user, event_id)
    else:
        raise GraphError(400, "BadRequest", f"Unknown act '{act}'.")
    return json_response({"ok": True, "act": name})


def add_meeting_route(sb: Sandbox, req: SandboxRequest, user: str) -> SandboxResponse:
    body = req.json()
    if not isinstance(body, Mapping):
        raise GraphError(400, "BadRequest", "The request body must be a JSON object.")
    attendees = body.get("attendees", [])
    if not isinstance(attendees, list):
        raise GraphError(400, "BadRequest", "'attendees' must be a list of addresses.")
    event = People(sb).add_meeting(
        user,
        str(body.get("subject", "")),
        _instant(body.get("start"), "start"),
        _instant(body.get("end"), "end"),
        str(body.get("showAs", "busy")),
        [str(a) for a in attendees],
    )
    return json_response(calendar.render(event), 201)


def register(router: Router) -> None:
    router.add("POST", "/_sandbox/users/{user}/events/{event_id}/{act}", act, service="sandbox")
    router.add("POST", "/_sandbox/users/{user}/meetings", add_meeting_route, service="sandbox")
