"""Harmless Graph calls that show, before a first run, what the app may and may not do.

`mentoring doctor` (in `worker.cli.doctor`) asks these and says what each answer means. Each
call here reads, or is a write Graph refuses before it changes anything, so nothing a person
would see comes of it:

- `token_claims`: the access token's claims, read without checking the signature (Graph
  checks it; here only the `roles` claim is of interest: the Entra application permissions
  with admin consent). Mailbox permissions given through Exchange RBAC for Applications are
  not in it: Exchange adds them per mailbox, when the app opens one of its scope
  (https://learn.microsoft.com/exchange/permissions-exo/application-rbac).
- `probe`: one GET, its status and Graph's error code instead of an exception, so a 403 that
  proves least privilege (`ErrorAccessDenied` for a mailbox outside the scope, `accessDenied`
  for a site not granted) reads as an answer, not as a failure.
- `probe_event_write`: a PATCH of an event id no mailbox holds, with an `If-Match` no event
  carries: with Calendars.ReadWrite on the mailbox Outlook answers 404 `ErrorItemNotFound`
  (or 400 for an id it cannot read), with read access only 403 `ErrorAccessDenied`; nothing
  is written either way. https://learn.microsoft.com/graph/api/event-update
- `probe_item_write`: a PATCH of list item 0 (SharePoint numbers items from 1, so it never
  exists) with an `If-Match` no item carries: with a `write` grant on the site SharePoint
  answers 404 `itemNotFound`, with a `read` grant 403 `accessDenied`; either way nothing is
  written. https://learn.microsoft.com/graph/api/listitem-update
- `probe_send_mail`: a `sendMail` of a message with no recipient and `saveToSentItems` false:
  with Mail.Send on the mailbox Outlook answers 400 (`ErrorInvalidRecipients`: there is no one
  to deliver to), without it 403 `ErrorAccessDenied`; nothing is delivered or kept either way.
  As for the other write probes, this takes Exchange to check the permission before the
  message, which Microsoft's documents do not state (https://learn.microsoft.com/graph/api/user-sendmail).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from graph.client import GraphClient
from graph.errors import GraphApiError
from graph.sharepoint import items_path


@dataclass(frozen=True)
class Probe:
    """What Graph answered to one harmless call: the status, and for an error Graph's code
    and message (the body otherwise)."""

    status: int
    code: str = ""
    message: str = ""
    body: Any = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def short(self) -> str:
        return f"{self.status} {self.code}".strip() if not self.ok else str(self.status)


def token_claims(token: str) -> dict[str, Any]:
    """The claims of a JWT access token (not verified: Graph does that); {} when unreadable."""
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (binascii.Error, ValueError):
        return {}
    return claims if isinstance(claims, dict) else {}


def token_roles(token: str) -> list[str]:
    """The application permissions in the token's `roles` claim, sorted."""
    roles = token_claims(token).get("roles")
    return sorted(str(r) for r in roles) if isinstance(roles, list) else []


def _answer(error: GraphApiError) -> Probe:
    return Probe(error.status, error.code, error.message)


def probe(client: GraphClient, path: str, params: Mapping[str, str] | None = None, *,
          mailbox: str | None = None) -> Probe:
    """GET `path`; Graph's error answers (4xx) come back as a `Probe`. Server failures,
    throttling past the client's retries and no answer at all still raise (`ServerError`,
    `Throttled`, `TransientError`): they say nothing about the app's permissions."""
    try:
        response = client.request("GET", path, params=params, mailbox=mailbox)
    except GraphApiError as exc:
        if _unanswered(exc):
            raise
        return _answer(exc)
    return Probe(response.status, body=response.json() if response.content else None)


def probe_mailbox(client: GraphClient, mailbox: str) -> Probe:
    """Open a mailbox's calendar: its newest event's id at most (Calendars.Read or more)."""
    return probe(client, "/users/" + quote(mailbox, safe="@.") + "/events",
                 {"$top": "1", "$select": "id"}, mailbox=mailbox)


# An event id of the mailbox-item form that names no event (base64 of a marker).
PROBE_EVENT_ID = "AAMkAG1lbnRvcmluZy1kb2N0b3ItcHJvYmU="


def probe_event_write(client: GraphClient, mailbox: str) -> Probe:
    """Whether the app may change events in `mailbox`, by a write that cannot change
    anything (see the module docstring): 403 means it may not."""
    path = "/users/" + quote(mailbox, safe="@.") + "/events/" + quote(PROBE_EVENT_ID, safe="")
    return _write(client, path, mailbox=mailbox, etag='W/"mentoring-doctor-probe"')


def _write(client: GraphClient, path: str, *, etag: str, mailbox: str | None = None) -> Probe:
    try:
        client.request("PATCH", path, json={}, headers={"If-Match": etag}, mailbox=mailbox)
    except GraphApiError as exc:
        if _unanswered(exc):
            raise
        return _answer(exc)
    return Probe(200)


def _unanswered(exc: GraphApiError) -> bool:
    return exc.status >= 500 or exc.status == 429


def probe_item_write(client: GraphClient, site_id: str, list_id: str) -> Probe:
    """Whether the app may write the list's items, by a write that cannot change anything
    (see the module docstring): 404 means it may, 403 that it may not."""
    return _write(client, f"{items_path(site_id, list_id)}/0/fields",
                  etag='"mentoring-doctor-probe,0"')


def probe_send_mail(client: GraphClient, mailbox: str) -> Probe:
    """Whether the app may send mail as `mailbox`, by a send with no one to send to (see the
    module docstring): 403 means it may not, a 400 about the recipients that it may."""
    path = "/users/" + quote(mailbox, safe="@.") + "/sendMail"
    body = {"message": {"subject": "mentoring doctor: permission probe", "toRecipients": []},
            "saveToSentItems": False}
    try:
        client.request("POST", path, json=body, mailbox=mailbox, idempotent=False)
    except GraphApiError as exc:
        if _unanswered(exc):
            raise
        return _answer(exc)
    return Probe(202)
