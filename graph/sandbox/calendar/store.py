"""The calendars as stored, and the helpers every other calendar module leans on.

Events are kept as Graph JSON (times in UTC) plus private `_` keys, so creating, answering,
listing and free/busy all read and write the same dicts. What they all need (ids, change
keys, the extended property id check, instants, whose mailbox a user is) lives here, at the
bottom of the package, so that none of them has to import another for it.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from graph.sandbox import tz
from graph.sandbox.core import GraphError
from graph.sandbox.directory import User

if TYPE_CHECKING:
    from graph.sandbox.tenant_app import Sandbox

NO_TIME = "0001-01-01T00:00:00Z"

_MAPI_TYPES = {
    "Binary",
    "Boolean",
    "CLSID",
    "Currency",
    "Double",
    "Float",
    "Integer",
    "Long",
    "Object",
    "Short",
    "String",
    "SystemTime",
    "ApplicationTime",
}
_PROP_ID = re.compile(
    r"^(?P<type>[A-Za-z]+)\s+(?:"
    r"\{(?P<guid>[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})\}"
    r"\s+(?:Name\s+(?P<name>\S.*)|Id\s+(?P<num>0x[0-9A-Fa-f]{1,4}))"
    r"|(?P<tag>0x[0-9A-Fa-f]{1,4}))$"
)


def validate_extended_property_id(prop_id: str) -> str:
    """Exchange's three id shapes; anything else is its 400 ErrorInvalidProperty."""
    match = _PROP_ID.match(prop_id.strip()) if isinstance(prop_id, str) else None
    if match is None or match["type"] not in _MAPI_TYPES:
        raise GraphError(
            400,
            "ErrorInvalidProperty",
            "PropertyId values may only be in one of the following formats: "
            "'MapiPropertyType namespaceGuid Name propertyName', 'MapiPropertyType "
            "namespaceGuid Id propertyId' or 'MapiPropertyType propertyTag'.",
        )
    return prop_id.strip()


def same_property_id(a: str, b: str) -> bool:
    """Extended property ids compare case-insensitively (the GUID is hex)."""
    return " ".join(a.split()).lower() == " ".join(b.split()).lower()


def iso_z(instant: datetime) -> str:
    """Graph's DateTimeOffset rendering: seven fraction digits and a Z."""
    utc = instant.astimezone(UTC).replace(tzinfo=None)
    return utc.isoformat(timespec="microseconds") + "0Z"


@lru_cache(maxsize=1 << 16)
def parse_instant(text: str) -> datetime:
    """A stored instant (``2027-03-01T09:00:00.0000000Z``) as an aware datetime. Remembered:
    free/busy reads every event's times several times, and calendars reuse the same times."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@dataclass
class MailStore:
    """Every mailbox's calendar. Events are stored as Graph JSON (times in UTC) plus private
    keys starting with ``_`` that never leave the sandbox."""

    # mailbox (user id, lower-case) -> event id -> stored event
    events: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    # "mailbox|transactionId" -> {"event_id", "fingerprint"}
    transactions: dict[str, dict[str, str]] = field(default_factory=dict)
    # Mailboxes whose online meetings come back without a Teams join link (to exercise the
    # worker's check that Graph may answer 201 without one), and a count of the next online
    # meetings anywhere that lose theirs.
    no_join_link: list[str] = field(default_factory=list)
    drop_next_join_links: int = 0
    sequence: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "transactions": self.transactions,
            "no_join_link": list(self.no_join_link),
            "drop_next_join_links": self.drop_next_join_links,
            "sequence": self.sequence,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MailStore:
        return cls(
            events={k: dict(v) for k, v in dict(data.get("events", {})).items()},
            transactions=dict(data.get("transactions", {})),
            no_join_link=list(data.get("no_join_link", [])),
            drop_next_join_links=int(data.get("drop_next_join_links", 0)),
            sequence=int(data.get("sequence", 0)),
        )

    # --- ids -------------------------------------------------------------------------------

    def next_digest(self, salt: str) -> bytes:
        self.sequence += 1
        return hashlib.sha256(f"{salt}:{self.sequence}".encode()).digest()

    def new_event_id(self, mailbox: str) -> str:
        digest = self.next_digest(mailbox) + hashlib.sha256(str(self.sequence).encode()).digest()
        return "AAMkA" + base64.urlsafe_b64encode(digest[:51]).decode()

    def new_ical_uid(self) -> str:
        digest = self.next_digest("ical").hex().upper()
        return "040000008200E00074C5B7101A82E00800000000" + digest[:72]

    # --- access ----------------------------------------------------------------------------

    def calendar(self, mailbox: str) -> dict[str, dict[str, Any]]:
        return self.events.setdefault(mailbox.lower(), {})

    def get(self, mailbox: str, event_id: str) -> dict[str, Any]:
        found = self.calendar(mailbox).get(event_id)
        if found is None:
            raise GraphError(
                404,
                "ErrorItemNotFound",
                "The specified object was not found in the store.",
            )
        return found

    def by_ical(self, ical_uid: str) -> list[dict[str, Any]]:
        return [
            event
            for calendar in self.events.values()
            for event in calendar.values()
            if event.get("iCalUId") == ical_uid
        ]

    def copies_of(self, organizer_event: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The attendees' copies of an organizer's meeting.

        Invitations record where they landed (`_copies` on the organizer's event), so this
        is a few lookups, not a scan of every calendar; events from older state files
        without the record fall back to the scan by iCalUId."""
        refs = organizer_event.get("_copies")
        if refs is not None:
            found = (self.calendar(mailbox).get(event_id) for mailbox, event_id in refs)
            return [event for event in found if event is not None]
        return [
            e for e in self.by_ical(str(organizer_event.get("iCalUId"))) if not e.get("isOrganizer")
        ]

    def organizer_event_of(self, copy_event: Mapping[str, Any]) -> dict[str, Any] | None:
        ref = copy_event.get("_organizer_ref")
        if not ref:
            return None
        return self.calendar(ref[0]).get(ref[1])

    def touch(self, event: dict[str, Any], now: datetime) -> None:
        """Every change gives a new changeKey/etag and lastModifiedDateTime."""
        event["_version"] = int(event.get("_version", 0)) + 1
        key = hashlib.sha256(f"{event['id']}:{event['_version']}".encode()).digest()
        event["changeKey"] = base64.b64encode(b"\x0f\x00\x00\x00" + key[:24]).decode()
        event["lastModifiedDateTime"] = iso_z(now)


def store_of(sb: Sandbox) -> MailStore:
    mail = sb.state.mail
    if not isinstance(mail, MailStore):
        raise GraphError(500, "generalException", "The sandbox has no mail store.")
    return mail


def start_of(event: Mapping[str, Any]) -> datetime:
    return parse_instant(str(event["_start"]))


def end_of(event: Mapping[str, Any]) -> datetime:
    return parse_instant(str(event["_end"]))


def owner_of(sb: Sandbox, user: str) -> User:
    return sb.state.directory.mailbox(user)


def mailbox_id(user: User) -> str:
    return user.id.lower()


def address_of(user: User) -> str:
    return user.mail or user.userPrincipalName


def email_address(user: User) -> dict[str, str]:
    return {"name": user.displayName, "address": address_of(user)}


def user_zone(user: User) -> tzinfo:
    """The mailbox's own zone (custom working-hours zone included)."""
    return tz.mailbox_zone(user.mailboxSettings)
