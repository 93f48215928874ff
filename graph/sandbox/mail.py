"""Outlook mail in the sandbox tenant: `sendMail`, the sender's sent items, and each tenant
recipient's inbox, so tests read what an admin received.

Graph behaviour modelled (https://learn.microsoft.com/graph/api/user-sendmail):
- `POST /users/{id | userPrincipalName}/sendMail`, application permission `Mail.Send` (or an
  Exchange RBAC for Applications assignment that covers the mailbox: the pipeline's
  `exchange_grant`, as for calendars); anything else is 403 `ErrorAccessDenied`;
- 202 Accepted with an empty body; the message is saved in the sender's Sent Items unless
  `saveToSentItems` is false;
- the body is checked against the schema snapshot (`action:sendMail`, `message`);
- an unknown user is 404 `ErrorInvalidUser` and a user without a mailbox 404
  `MailboxNotEnabledForRESTAPI` (the directory's answers for any mailbox path).
Where the documentation is silent the sandbox takes the stricter reading (docs/sandbox.md):
a body without `message` is 400 `ErrorInvalidParameter`, and a message with no recipient, or a
recipient without an address, is 400 `ErrorInvalidRecipients` (Exchange's code for a message
it cannot address). Mail to an address outside the tenant is accepted and kept as outbound.
Delivery is immediate here; real Exchange delivers after the 202, subject to its limits.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from graph.sandbox.core import GraphError, Router, SandboxRequest, SandboxResponse, json_response

if TYPE_CHECKING:
    from graph.sandbox.tenant_app import Sandbox

SEND_PERMISSIONS = ("Mail.Send",)
_RECIPIENT_FIELDS = ("toRecipients", "ccRecipients", "bccRecipients")


@dataclass
class MessageStore:
    """Messages by mailbox id: what each sent (Sent Items) and what each received (Inbox);
    `outbound` holds what went to addresses outside the tenant."""

    sent: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    inbox: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    outbound: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"sent": self.sent, "inbox": self.inbox, "outbound": self.outbound}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MessageStore:
        return cls(sent={k: list(v) for k, v in dict(data.get("sent") or {}).items()},
                   inbox={k: list(v) for k, v in dict(data.get("inbox") or {}).items()},
                   outbound=list(data.get("outbound") or []))


def store_of(sb: Sandbox) -> MessageStore:
    store = sb.state.messages
    if not isinstance(store, MessageStore):
        raise GraphError(501, "NotImplemented", "The sandbox has no mail store.")
    return store


def received(sb: Sandbox, address: str) -> list[dict[str, Any]]:
    """The messages a tenant user received, oldest first (a test's view of an inbox)."""
    user = sb.state.directory.find(address)
    if user is None:
        return []
    with sb.lock:
        return copy.deepcopy(store_of(sb).inbox.get(user.id.lower(), []))


def sent_items(sb: Sandbox, address: str) -> list[dict[str, Any]]:
    """The messages a mailbox sent and kept in its Sent Items."""
    user = sb.state.directory.find(address)
    if user is None:
        return []
    with sb.lock:
        return copy.deepcopy(store_of(sb).sent.get(user.id.lower(), []))


def _addresses(message: Mapping[str, Any]) -> list[str]:
    found: list[str] = []
    for name in _RECIPIENT_FIELDS:
        for recipient in message.get(name) or []:
            email = (recipient or {}).get("emailAddress") or {}
            address = email.get("address") if isinstance(email, Mapping) else None
            if not isinstance(address, str) or "@" not in address:
                raise GraphError(400, "ErrorInvalidRecipients",
                                 "At least one recipient isn't valid.")
            found.append(address)
    return found


def send_mail(sb: Sandbox, req: SandboxRequest, user: str) -> SandboxResponse:
    sender = sb.state.directory.mailbox(user)
    body = req.json()
    if not isinstance(body, Mapping):
        raise GraphError(400, "BadRequest", "The request body must be a JSON object.")
    found = {k.lower(): v for k, v in body.items()}
    message = found.get("message")
    if not isinstance(message, Mapping):
        raise GraphError(400, "ErrorInvalidParameter",
                         "The value of the parameter 'Message' is empty.")
    addresses = _addresses(message)
    if not addresses:
        raise GraphError(400, "ErrorInvalidRecipients", "At least one recipient isn't valid.")
    now = sb.clock.now().isoformat().replace("+00:00", "Z")
    stored = {**copy.deepcopy(dict(message)), "id": str(uuid.uuid4()), "sentDateTime": now,
              "from": {"emailAddress": {"name": sender.displayName,
                                        "address": sender.mail or sender.userPrincipalName}}}
    store = store_of(sb)
    if found.get("savetosentitems", True) is not False:
        store.sent.setdefault(sender.id.lower(), []).append(stored)
    for address in dict.fromkeys(a.lower() for a in addresses):
        recipient = sb.state.directory.find(address)
        if recipient is not None and recipient.has_mailbox:
            copy_ = {**copy.deepcopy(stored), "id": str(uuid.uuid4()), "receivedDateTime": now}
            store.inbox.setdefault(recipient.id.lower(), []).append(copy_)
        else:
            store.outbound.append({**copy.deepcopy(stored), "to": address})
    return SandboxResponse(202)


def read_inbox(sb: Sandbox, req: SandboxRequest, user: str) -> SandboxResponse:
    """The sandbox's own route (not Graph): what a person received, for the demo over HTTP."""
    person = sb.state.directory.get(user)
    return json_response({"value": store_of(sb).inbox.get(person.id.lower(), [])})


def register(router: Router) -> None:
    router.add("POST", "/users/{user}/sendMail", send_mail, service="outlook",
               permissions=SEND_PERMISSIONS, mailbox_param="user", body_type="action:sendMail")
    router.add("GET", "/_sandbox/users/{user}/messages", read_inbox, service="sandbox")


__all__ = ["MessageStore", "received", "register", "send_mail", "sent_items"]
