"""Every change a run makes, as small frozen values: the calendar, the notes list, Teams.

Like octodns's `Create`/`Update`/`Delete`, each action carries everything apply needs (the
rendered event body, the fields of a list item with their before and after, the text of a nudge
and its recipient), so apply goes back to neither the config, the observed state nor the
templates. A value that only exists once an earlier action of the same run is done (the id of an
event being booked, the id of an item being created) is a `Later`, naming the action and the
field; apply fills it in, and defers the action when the one it waits for did not happen.

Every action has an `id` unique in its plan; `after` lists the ids it waits for.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import UTC, datetime
from enum import StrEnum
from functools import cached_property
from typing import Any, ClassVar, Literal

from worker.core.exit_codes import ExitCode
from worker.plan.pulse import describe_asks


class Resource(StrEnum):
    calendar = "calendar"
    notes_list = "notes list"
    teams = "teams"
    mail = "mail"


@dataclass(frozen=True)
class Later:
    """A value known after apply: `field` of what action `action` produced."""

    action: str
    field: str

    def __str__(self) -> str:
        return f"(known after {self.action})"


Value = Any  # a JSON value, or a `Later`
# Who caused a move or a cancellation: the config (a pause, an end, an edit), a person (a
# decline, a proposal), or the worker itself (a duplicate event it made). Only the config's
# count against the safety gate: people's answers are the program working as it should.
Cause = Literal["config", "person", "worker"]


def fmt_utc(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%a %Y-%m-%d %H:%M UTC")


def json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, Later):
        return {"known_after": value.action, "field": value.field}
    if isinstance(value, Mapping):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | frozenset | set):
        items = sorted(value) if isinstance(value, frozenset | set) else value
        return [json_value(v) for v in items]
    if isinstance(value, StrEnum):
        return value.value
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: json_value(getattr(value, f.name)) for f in fields(value)}
    return value


@dataclass(frozen=True, kw_only=True)
class _Action:
    kind: ClassVar[str]
    resource: ClassVar[Resource]

    pairing_id: str
    key: str
    after: tuple[str, ...] = ()

    @cached_property
    def id(self) -> str:
        # Made once: the ids of a large plan are held many times over (`after`, indexes).
        return f"{self.kind}:{self.key}"

    def writes(self) -> bool:
        """Whether applying it writes to Microsoft 365 (a held nudge mostly does not)."""
        return True

    def describe(self) -> str:
        raise NotImplementedError

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"id": self.id, "kind": self.kind,
                                "resource": self.resource.value}
        for item in fields(self):
            body[item.name] = json_value(getattr(self, item.name))
        return body


# --- calendar -----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Book(_Action):
    """Create the session's event in the organizer's mailbox (`event` is the whole body)."""

    kind: ClassVar[str] = "book"
    resource: ClassVar[Resource] = Resource.calendar

    number: int
    total: int
    topic: str
    organizer: str
    mentor: str
    mentee: str
    start: datetime
    end: datetime
    transaction_id: str
    event: Mapping[str, Any] = field(default_factory=dict)
    local_start: str = ""  # the start as each person sees it (mentee first), for people
    # A participant cancelled this session in Outlook this many times; it is booked again once.
    person_cancels: int = 0
    assistant: str | None = None  # the executive's assistant, invited as optional attendee

    def describe(self) -> str:
        local = f" ({self.local_start})" if self.local_start else ""
        again = " (again, once: a participant cancelled it)" if self.person_cancels else ""
        optional = (f"; {self.assistant} invited as optional attendee (assistant)"
                    if self.assistant else "")
        return (f"+ book {self.number}/{self.total} '{self.topic}' at {fmt_utc(self.start)}"
                f"{local}{again}{optional}")


@dataclass(frozen=True, kw_only=True)
class Move(_Action):
    """Give an existing event a new time (`changes` is the PATCH body)."""

    kind: ClassVar[str] = "move"
    resource: ClassVar[Resource] = Resource.calendar

    number: int
    event_id: str
    organizer: str
    old_start: datetime
    start: datetime
    end: datetime
    reason: str
    changes: Mapping[str, Any] = field(default_factory=dict)
    ledger: frozenset[str] = frozenset()  # the nudge ledger the PATCH writes with the time
    local_start: str = ""
    cause: Cause = "person"

    def describe(self) -> str:
        local = f" = {self.local_start}" if self.local_start else ""
        return (f"~ move session {self.number} from {fmt_utc(self.old_start)} to "
                f"{fmt_utc(self.start)}{local} ({self.reason})")


@dataclass(frozen=True, kw_only=True)
class Cancel(_Action):
    """Cancel an event: attendees get `comment` with the cancellation."""

    kind: ClassVar[str] = "cancel"
    resource: ClassVar[Resource] = Resource.calendar

    number: int
    event_id: str
    organizer: str
    start: datetime
    reason: str
    comment: str = ""
    cause: Cause = "config"

    @cached_property
    def id(self) -> str:
        # Two events of one session (a duplicate) can both be cancelled.
        return f"{self.kind}:{self.key}#{self.event_id}"

    def describe(self) -> str:
        return f"- cancel session {self.number} at {fmt_utc(self.start)} ({self.reason})"


@dataclass(frozen=True, kw_only=True)
class UpdateEvent(_Action):
    """Bring an upcoming event in line with an edited config or template: subject, body,
    length, attendees (`was` -> `becomes` names what people will notice; `changes` is the
    PATCH body). Outlook sends the update to the attendees, an invite to someone added and a
    cancellation to someone removed."""

    kind: ClassVar[str] = "update"
    resource: ClassVar[Resource] = Resource.calendar

    number: int
    event_id: str
    organizer: str
    start: datetime
    end: datetime
    subject: str
    attendees: tuple[str, ...]
    invite: str  # the digest the event will carry
    was: Mapping[str, Any] = field(default_factory=dict)
    becomes: Mapping[str, Any] = field(default_factory=dict)
    changes: Mapping[str, Any] = field(default_factory=dict)
    ledger: frozenset[str] | None = None  # the nudge ledger the PATCH writes, when it does
    cause: Cause = "config"

    @property
    def disruptive(self) -> bool:
        """A new length or other people: what the safety gate counts (a new text is not)."""
        return bool({"minutes", "attendees", "start"} & set(self.becomes))

    def describe(self) -> str:
        parts = [f"{k} {_show(self.was.get(k))} -> {_show(v)}"
                 for k, v in self.becomes.items() if k != "why"]
        why = f" ({self.becomes['why']})" if "why" in self.becomes else ""
        return f"~ update session {self.number}: " + "; ".join(parts) + why


CalendarAction = Book | Move | Cancel | UpdateEvent


# --- the notes list -------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class _ItemAction(_Action):
    """An action on one session's item of the notes list."""

    resource: ClassVar[Resource] = Resource.notes_list

    number: int
    site_id: str
    list_id: str


@dataclass(frozen=True, kw_only=True)
class CreateItem(_ItemAction):
    """Add the session's item to the notes list (the worker's columns and the agenda)."""

    kind: ClassVar[str] = "create-item"

    values: Mapping[str, Value] = field(default_factory=dict)
    record: Mapping[str, Value] = field(default_factory=dict)  # for its digest

    def describe(self) -> str:
        status = self.values.get("SessionStatus", "")
        return f"+ notes list item for session {self.number} ({status})"


@dataclass(frozen=True, kw_only=True)
class UpdateItem(_ItemAction):
    """Update the worker's own columns of an item, with If-Match: `before` -> `changes`.

    `record` is the worker's whole wanted record: when someone saved the item since it was
    read (412), apply re-reads it and recomputes the changes from `record`, so their edit
    stays and ours applies on top of it.
    """

    kind: ClassVar[str] = "update-item"

    item_id: str
    etag: str
    before: Mapping[str, Value] = field(default_factory=dict)
    changes: Mapping[str, Value] = field(default_factory=dict)
    record: Mapping[str, Value] = field(default_factory=dict)
    # The notes status the item gets (unless an edit under us changes it), with who answered
    # the pulse (`worker.plan.items.tag_notes`): what the event's tag remembers.
    notes: str = ""

    def describe(self) -> str:
        shown = [c for c in self.changes if c not in ("RecordHash",)]
        parts = [f"{c}: {_short(self.before.get(c))} -> {_short(self.changes[c])}"
                 for c in shown[:4]]
        more = f", +{len(shown) - 4} more" if len(shown) > 4 else ""
        return f"~ notes list item {self.item_id} of session {self.number}: " + (
            "; ".join(parts) + more if parts else "record version")


@dataclass(frozen=True, kw_only=True)
class TagEvent(_Action):
    """Record on the session's event which item it has and what was written there, so the
    next run knows without reading the list (the `MentoringRecord` property)."""

    kind: ClassVar[str] = "tag-event"
    resource: ClassVar[Resource] = Resource.notes_list

    number: int
    organizer: str
    event_id: Value  # str, or Later from the booking
    item_id: Value  # str, or Later from the item's creation
    record: Mapping[str, Value] = field(default_factory=dict)  # for the digest
    notes: Value = ""  # `tag_notes` of the item written, or Later from the update

    def describe(self) -> str:
        return f"~ remember on the event of session {self.number} what its item holds"


@dataclass(frozen=True, kw_only=True)
class RemoveItem(_ItemAction):
    """Delete a second item of a session that the worker made and nobody touched (a create
    whose answer was lost, two runs at once), with If-Match: an edit since the read keeps it."""

    kind: ClassVar[str] = "remove-item"

    item_id: str
    etag: str
    kept: str  # the session's own item

    def describe(self) -> str:
        return (f"- second notes list item {self.item_id} of session {self.number} (nobody "
                f"edited it; item {self.kept} is the session's)")


@dataclass(frozen=True, kw_only=True)
class PublishNotes(_ItemAction):
    """Publish a session's notes in the published list, or bring the copy in line: what both
    people agreed to, checked in the item's version history. `site_id`/`list_id` name the
    published list; `item_id` is the copy when it exists (then `values` holds only what
    changes, `before` what it replaces)."""

    kind: ClassVar[str] = "publish-notes"

    item_id: str = ""
    values: Mapping[str, Value] = field(default_factory=dict)
    before: Mapping[str, Value] = field(default_factory=dict)
    agreed: str = ""  # when the later of the two consents was given (for people)

    def describe(self) -> str:
        when = f" (both agreed {self.agreed})" if self.agreed else ""
        if not self.item_id:
            return f"+ publish the notes of session {self.number}{when}"
        if set(self.values) <= {"PublishedHash"}:
            return (f"~ published notes of session {self.number}: checked again, the copy "
                    "stays as it is")
        shown = ", ".join(sorted(c for c in self.values if c != "PublishedHash"))
        return f"~ published notes of session {self.number}: {shown}{when}"


@dataclass(frozen=True, kw_only=True)
class UnpublishNotes(_ItemAction):
    """Remove a published copy: a consent was withdrawn, or it no longer holds."""

    kind: ClassVar[str] = "unpublish-notes"

    item_id: str
    reason: str

    def describe(self) -> str:
        return f"- published notes of session {self.number} ({self.reason})"


NotesListAction = CreateItem | UpdateItem | TagEvent | RemoveItem | PublishNotes | UnpublishNotes


# --- Teams ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ledger:
    """Where a Teams action is remembered: the nudge ledger of one session's event."""

    session_key: str
    organizer: str
    event_id: Value  # str, or Later from the booking
    entries: frozenset[str] = frozenset()  # what it held when the run read it
    etag: str | None = None


@dataclass(frozen=True, kw_only=True)
class InstallApp(_Action):
    """Install our Teams app for one person, then remember it (`app@<e-mail>`)."""

    kind: ClassVar[str] = "install-app"
    resource: ClassVar[Resource] = Resource.teams

    email: str
    user_id: str
    catalog_id: str
    ledger: Ledger
    marker: str  # remembered when installed
    unreachable_marker: str  # remembered when Teams refuses (no licence): tried next week

    def describe(self) -> str:
        return f"+ install the Teams app for {self.email}"


@dataclass(frozen=True, kw_only=True)
class SendNudge(_Action):
    """One activity feed notification, remembered in the ledger right after Graph takes it."""

    kind: ClassVar[str] = "send-nudge"
    resource: ClassVar[Resource] = Resource.teams

    nudge: str  # the nudge kind
    session_key: str
    recipient: str
    role: str
    user_id: str
    activity_type: str
    topic: str
    web_url: str
    preview: str
    parameters: Mapping[str, str] = field(default_factory=dict)
    local_time: str = ""
    asks: tuple[str, ...] = ()  # a notes request: what it asks for (`worker.plan.nudges`)
    ledger: Ledger
    # A reschedule-limit nudge: the free times it offers, in the recipient's zone.
    times: tuple[str, ...] = ()

    def describe(self) -> str:
        number = self.session_key.rsplit("/", 1)[-1]
        offered = f"; free for both: {'; '.join(self.times)}" if self.times else ""
        return (f"> nudge {self.nudge} (session {number}) to {self.recipient} ({self.role}) "
                f"now, {self.local_time}{offered}" + describe_asks(self.asks))


@dataclass(frozen=True, kw_only=True)
class HoldNudge(_Action):
    """A nudge that is due but waits for the recipient's working hours. Writes nothing,
    except the marker of a rescheduled notice (the decline it is about disappears from the
    calendar once the session moves, so the ledger remembers it is owed)."""

    kind: ClassVar[str] = "hold-nudge"
    resource: ClassVar[Resource] = Resource.teams

    nudge: str
    session_key: str
    recipient: str
    role: str
    send_at: datetime
    local_time: str = ""
    asks: tuple[str, ...] = ()
    marker: str | None = None
    times: tuple[str, ...] = ()  # as SendNudge's
    ledger: Ledger

    def writes(self) -> bool:
        return self.marker is not None

    def describe(self) -> str:
        number = self.session_key.rsplit("/", 1)[-1]
        offered = f"; free for both: {'; '.join(self.times)}" if self.times else ""
        return (f"~ hold nudge {self.nudge} (session {number}) to {self.recipient} "
                f"({self.role}) until {self.local_time}{offered}" + describe_asks(self.asks))



@dataclass(frozen=True, kw_only=True)
class PostCard(_Action):
    """The program summary card for the program channel (Workflows webhook), once a period."""

    kind: ClassVar[str] = "post-card"
    resource: ClassVar[Resource] = Resource.teams

    card: Mapping[str, Any] = field(default_factory=dict)
    ledger: Ledger

    def describe(self) -> str:
        return "> post the program summary card to the program channel"


TeamsAction = InstallApp | SendNudge | HoldNudge | PostCard


# --- mail -----------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class SendDigest(_Action):
    """The period's digest of pairs needing attention, as one mail from the program mailbox
    to the admins (`message` is the whole sendMail message, the body escaped HTML). Apply
    writes `pending` to the ledger, sends, then records `key` (`digest/<period>`): a run
    killed between the send and the record sends it once more, no more."""

    kind: ClassVar[str] = "send-digest"
    resource: ClassVar[Resource] = Resource.mail

    period: str  # the period's days, for people ("Mon 30 Nov - Sun 06 Dec 2026")
    sender: str
    recipients: tuple[str, ...]
    pairs: int  # pairs needing attention
    message: Mapping[str, Any] = field(default_factory=dict)
    ledger: Ledger
    pending: str  # the marker written before the send
    again: bool = False  # `pending` is in the ledger: an earlier run may have sent it

    def describe(self) -> str:
        again = " (again: an earlier run may have sent it)" if self.again else ""
        admins = f"{len(self.recipients)} admin{'s' if len(self.recipients) != 1 else ''}"
        return (f"> send weekly digest for period {self.period} to {admins}: {self.pairs} "
                f"pair{'s' if self.pairs != 1 else ''} needing attention{again}")


MailAction = SendDigest
Action = CalendarAction | NotesListAction | TeamsAction | MailAction


def _show(value: Any) -> str:
    if isinstance(value, datetime):
        return fmt_utc(value)
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return _short(value, 40)


def _short(value: Any, limit: int = 40) -> str:
    text = str(value) if value is not None else "(empty)"
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class PairProblem:
    """Something the plan cannot do for a pairing (an unknown person, no free time, a list
    item that could not be read): named in the plan and the summary; the run exits 1."""

    pairing_id: str
    reason: str
    code: ExitCode = ExitCode.INCOMPLETE  # CONFIG: a deployment problem (list, permission)
    key: str = ""  # the session it is about, when it is about one


@dataclass(frozen=True)
class Notice:
    """Something worth telling that is not a failure of this run (someone without a Teams
    licence who was tried this week, a nudge waiting for working hours that are unknown)."""

    pairing_id: str
    text: str
