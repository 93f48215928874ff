"""Outlook mail as the worker sends it: one message from a mailbox, with `sendMail`.

`POST /users/{mailbox}/sendMail` (Mail.Send, application; Exchange RBAC for Applications can
scope it to the one program mailbox) answers 202 Accepted with no body: Exchange took the
message, delivery follows (https://learn.microsoft.com/graph/api/user-sendmail). Graph has no
idempotency key for it, so the request is never retried after a lost answer: the caller's
ledger decides whether it goes again (at most once more per crash).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graph.calendar import user_path
from graph.client import GraphClient


def send_mail(client: GraphClient, mailbox: str, body: Mapping[str, Any]) -> None:
    """Send `body` (`{"message": ..., "saveToSentItems": ...}`) from `mailbox`."""
    client.request("POST", f"{user_path(mailbox)}/sendMail", json=dict(body), mailbox=mailbox,
                   idempotent=False)
