"""The client end to end: real msal sign-in and a Graph call against the in-process sandbox."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from graph.auth import ClientSecret, GraphCredential
from graph.client import GraphClient
from graph.clock import ManualClock
from graph.errors import AuthenticationError, NotFound
from graph.sandbox.directory import User
from graph.sandbox.state import TenantState
from graph.sandbox.tenant_app import Sandbox
from graph.sandbox.transport import sandbox_session

TENANT = "11111111-2222-3333-4444-555555555555"
CLIENT = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
SECRET = "sandbox-secret-value"
GRAPH = "https://graph.microsoft.com/v1.0"


def make_client(secret: str = SECRET) -> GraphClient:
    clock = ManualClock(datetime(2027, 1, 4, 9, tzinfo=UTC))
    sb = Sandbox(TenantState(tenant_id=TENANT, domains=["contoso.test"]), clock)
    sb.register_app(CLIENT, secret=SECRET, roles=["User.Read.All"])
    sb.state.directory.add_user(
        User(id="u-1", userPrincipalName="mentor@contoso.test", displayName="Mentor")
    )
    session = sandbox_session(sb)
    credential = GraphCredential(
        tenant_id=TENANT,
        client_id=CLIENT,
        credential=ClientSecret(secret),
        http_client=session,
    )
    return GraphClient(GRAPH, credential, session, clock)


def test_a_client_secret_signs_in_through_msal_and_reads_a_user() -> None:
    client = make_client()
    user = client.request("GET", "/users/mentor@contoso.test").json()
    assert user["id"] == "u-1" and user["displayName"] == "Mentor"
    with pytest.raises(NotFound):
        client.request("GET", "/users/nobody@contoso.test")


def test_a_wrong_secret_is_an_authentication_error_that_does_not_show_it() -> None:
    client = make_client(secret="wrong-secret-value")
    with pytest.raises(AuthenticationError) as caught:
        client.request("GET", "/users/mentor@contoso.test")
    assert caught.value.error == "invalid_client"
    assert "wrong-secret-value" not in str(caught.value)
