"""The sandbox's sendMail: 202 with no body, the sender's sent items and the recipients'
inboxes, Mail.Send or its Exchange RBAC scope, Graph's 400/403/404 bodies, the schema check."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from graph.clock import ManualClock
from graph.sandbox.directory import User
from graph.sandbox.mail import received, sent_items
from graph.sandbox.state import TenantState
from graph.sandbox.tenant_app import Sandbox
from tests.conftest import app_session

GRAPH = "https://graph.microsoft.com/v1.0"
APP = "11111111-2222-3333-4444-555555555555"
SENDER = "mentoring@contoso.com"


def message(*to: str, **extra: Any) -> dict[str, Any]:
    return {"message": {"subject": "Digest", "body": {"contentType": "HTML",
                                                       "content": "<p>Hello</p>"},
                        "toRecipients": [{"emailAddress": {"address": a}} for a in to],
                        **extra}}


@pytest.fixture
def sandbox() -> Sandbox:
    state = TenantState()
    for uid, upn, mailbox in (("u-m", "mentoring", True), ("u-ana", "ana", True),
                              ("u-bo", "bo", True), ("u-cy", "cy", False)):
        state.directory.add_user(User(id=uid, userPrincipalName=f"{upn}@contoso.com",
                                      displayName=upn.title(), mail=f"{upn}@contoso.com",
                                      has_mailbox=mailbox))
    sb = Sandbox(state, ManualClock(datetime(2027, 3, 1, 9, 0, tzinfo=UTC)))
    sb.register_app(APP, secret="s", roles=["Mail.Send"])
    return sb


@pytest.fixture
def http(sandbox: Sandbox) -> Iterator[requests.Session]:
    session = app_session(sandbox, APP)
    yield session
    session.close()


def send(http: requests.Session, body: Any, sender: str = SENDER) -> requests.Response:
    return http.post(f"{GRAPH}/users/{sender}/sendMail", json=body)


def test_send_mail_answers_202_with_no_body_and_delivers_in_the_tenant(
    sandbox: Sandbox, http: requests.Session,
) -> None:
    answer = send(http, message("ana@contoso.com", "outside@example.org"))
    assert answer.status_code == 202 and answer.content == b""
    [got] = received(sandbox, "ana@contoso.com")
    assert got["subject"] == "Digest" and got["from"]["emailAddress"]["address"] == SENDER
    assert [m["subject"] for m in sent_items(sandbox, SENDER)] == ["Digest"]
    assert received(sandbox, "bo@contoso.com") == []


def test_save_to_sent_items_false_keeps_no_copy(sandbox: Sandbox,
                                                http: requests.Session) -> None:
    assert send(http, {**message("ana@contoso.com"), "saveToSentItems": False}
                ).status_code == 202
    assert sent_items(sandbox, SENDER) == [] and len(received(sandbox, "ana@contoso.com")) == 1


def test_a_message_with_no_recipient_is_refused_and_goes_nowhere(
    sandbox: Sandbox, http: requests.Session,
) -> None:
    answer = send(http, message())
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "ErrorInvalidRecipients"
    assert sent_items(sandbox, SENDER) == []


def test_an_unknown_property_is_refused_by_the_schema(http: requests.Session) -> None:
    answer = send(http, message("ana@contoso.com", subjekt="typo"))
    assert answer.status_code == 400
    assert "subjekt" in answer.json()["error"]["message"]


def test_an_unknown_sender_or_one_without_a_mailbox_is_404(http: requests.Session) -> None:
    assert send(http, message("ana@contoso.com"), "nobody@contoso.com").status_code == 404
    answer = send(http, message("ana@contoso.com"), "cy@contoso.com")
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "MailboxNotEnabledForRESTAPI"


def test_without_mail_send_the_answer_is_403_access_denied(
    sandbox: Sandbox, http: requests.Session,
) -> None:
    sandbox.set_roles(APP, remove=["Mail.Send"])
    http.headers["Authorization"] = f"Bearer {sandbox.token_for(APP)}"
    answer = send(http, message("ana@contoso.com"))
    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "ErrorAccessDenied"


def test_an_exchange_rbac_scope_allows_its_mailbox_only(
    sandbox: Sandbox, http: requests.Session,
) -> None:
    sandbox.scope_mailboxes(APP, [SENDER], roles=["Mail.Send"])
    http.headers["Authorization"] = f"Bearer {sandbox.token_for(APP)}"
    assert send(http, message("ana@contoso.com")).status_code == 202
    answer = send(http, message("ana@contoso.com"), "bo@contoso.com")
    assert answer.status_code == 403 and answer.json()["error"]["code"] == "ErrorAccessDenied"
    assert sent_items(sandbox, "bo@contoso.com") == []
