"""The sandbox's Teams side: catalog, installs for users, activity feed, Workflows webhook."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from graph.clock import ManualClock
from graph.sandbox.directory import User
from graph.sandbox.state import TenantState
from graph.sandbox.teams import (
    DEMO_TEAMS_APP_EXTERNAL_ID,
    DEMO_WEBHOOK_ID,
    TeamsStore,
)
from graph.sandbox.tenant_app import Sandbox
from graph.sandbox.transport import sandbox_session
from tests.conftest import app_session

GRAPH = "https://graph.microsoft.com/v1.0"
APP = "11111111-2222-3333-4444-555555555555"
SHAREPOINT_ITEM = "https://contoso.sharepoint.com/sites/mentoring/Lists/Sessions/DispForm.aspx?ID=2"
TAB_LINK = ("https://teams.microsoft.com/l/entity/a7c2e9d4-3b18-4e6f-8d05-1f9b2c7a4e60/notes"
            "?label=Session%202&context=%7B%22subEntityId%22%3A%222%22%7D")
ROLES = [
    "AppCatalog.Read.All",
    "TeamsAppInstallation.ReadWriteSelfForUser.All",
    "TeamsActivity.Send",
]


@pytest.fixture
def sandbox() -> Sandbox:
    clock = ManualClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    state = TenantState(teams=TeamsStore.with_demo_app(APP))
    for uid, upn, licensed in (("u-ana", "ana", True), ("u-bo", "bo", True), ("u-cy", "cy", False)):
        state.directory.add_user(
            User(
                id=uid,
                userPrincipalName=f"{upn}@contoso.com",
                displayName=upn.title(),
                has_teams_license=licensed,
            )
        )
    sb = Sandbox(state, clock)
    sb.register_app(APP, secret="s", roles=ROLES, display_name="Mentoring worker")
    return sb


@pytest.fixture
def http(sandbox: Sandbox) -> Iterator[requests.Session]:
    session = app_session(sandbox, APP)
    yield session
    session.close()


def catalog_id(http: requests.Session) -> str:
    found = http.get(
        f"{GRAPH}/appCatalogs/teamsApps",
        params={"$filter": f"externalId eq '{DEMO_TEAMS_APP_EXTERNAL_ID}'"},
    ).json()["value"]
    assert [a["displayName"] for a in found] == ["Reverse Mentoring"]
    assert found[0]["distributionMethod"] == "organization"
    return str(found[0]["id"])


def install(http: requests.Session, user: str) -> requests.Response:
    bind = f"{GRAPH}/appCatalogs/teamsApps/{catalog_id(http)}"
    return http.post(
        f"{GRAPH}/users/{user}/teamwork/installedApps", json={"teamsApp@odata.bind": bind}
    )


def nudge(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "topic": {
            "source": "text",
            "value": "Session 2: The Power of Search",
            "webUrl": TAB_LINK,
        },
        "activityType": "sessionReminder",
        "previewText": {"content": "Your session is tomorrow at 10:00"},
        "templateParameters": [
            {"name": "sessionTitle", "value": "The Power of Search"},
            {"name": "sessionDate", "value": "3 March"},
        ],
    }
    body.update(overrides)
    return body


def test_installing_the_app_is_created_then_a_conflict(http: requests.Session) -> None:
    assert install(http, "ana@contoso.com").status_code == 201
    again = install(http, "ana@contoso.com")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "Conflict"
    listed = http.get(
        f"{GRAPH}/users/u-ana/teamwork/installedApps",
        params={
            "$expand": "teamsApp",
            "$filter": f"teamsApp/externalId eq '{DEMO_TEAMS_APP_EXTERNAL_ID}'",
        },
    ).json()["value"]
    assert [i["teamsApp"]["displayName"] for i in listed] == ["Reverse Mentoring"]


def test_installing_an_app_missing_from_the_catalog_is_not_found(http: requests.Session) -> None:
    response = http.post(
        f"{GRAPH}/users/ana@contoso.com/teamwork/installedApps",
        json={"teamsApp@odata.bind": f"{GRAPH}/appCatalogs/teamsApps/nope"},
    )
    assert response.status_code == 404


def test_a_user_without_a_teams_licence_cannot_get_the_app(http: requests.Session) -> None:
    response = install(http, "cy@contoso.com")
    assert response.status_code == 403
    assert "license" in response.json()["error"]["message"]


def test_a_notification_lands_in_the_feed_rendered_from_the_manifest(
    sandbox: Sandbox, http: requests.Session
) -> None:
    install(http, "ana@contoso.com")
    sent = http.post(
        f"{GRAPH}/users/ana@contoso.com/teamwork/sendActivityNotification", json=nudge()
    )
    assert sent.status_code == 204, sent.text
    feed = http.get("http://sandbox/_sandbox/users/ana@contoso.com/feed").json()["value"]
    assert len(feed) == 1
    assert feed[0]["text"] == "Reverse Mentoring: your session The Power of Search is on 3 March"
    assert feed[0]["timestamp"] == "2026-03-02T09:00:00Z"
    assert sandbox.state.teams.feed("u-ana") == feed


def test_a_notification_to_a_user_without_the_app_fails(
    sandbox: Sandbox, http: requests.Session
) -> None:
    response = http.post(
        f"{GRAPH}/users/bo@contoso.com/teamwork/sendActivityNotification", json=nudge()
    )
    assert response.status_code == 403
    assert sandbox.state.teams.feed("u-bo") == []


def test_a_notification_to_a_user_without_a_licence_fails(http: requests.Session) -> None:
    response = http.post(
        f"{GRAPH}/users/cy@contoso.com/teamwork/sendActivityNotification", json=nudge()
    )
    assert response.status_code == 403
    assert "license" in response.json()["error"]["message"]


def test_an_activity_type_the_manifest_does_not_declare_fails(http: requests.Session) -> None:
    install(http, "ana@contoso.com")
    response = http.post(
        f"{GRAPH}/users/ana@contoso.com/teamwork/sendActivityNotification",
        json=nudge(activityType="somethingElse"),
    )
    assert response.status_code == 400


def test_a_text_topic_needs_a_web_url(http: requests.Session) -> None:
    install(http, "ana@contoso.com")
    response = http.post(
        f"{GRAPH}/users/ana@contoso.com/teamwork/sendActivityNotification",
        json=nudge(topic={"source": "text", "value": "Session 2"}),
    )
    assert response.status_code == 400


@pytest.mark.parametrize("link", [
    TAB_LINK,
    "https://teams.microsoft.com/l/meetup-join/19%3ameeting_x%40thread.v2/0?context=%7b%7d",
    "https://teams.microsoft.com/l/app/a7c2e9d4-3b18-4e6f-8d05-1f9b2c7a4e60",
    "HTTPS://Teams.Microsoft.com/l/entity/a7c2e9d4-3b18-4e6f-8d05-1f9b2c7a4e60/notes",
])
def test_a_teams_deep_link_is_taken_as_the_notification_link(
    sandbox: Sandbox, http: requests.Session, link: str
) -> None:
    install(http, "ana@contoso.com")
    response = http.post(
        f"{GRAPH}/users/ana@contoso.com/teamwork/sendActivityNotification",
        json=nudge(topic={"source": "text", "value": "Session 2", "webUrl": link}),
    )
    assert response.status_code == 204, response.text
    assert sandbox.state.teams.feed("u-ana")[0]["topic"]["webUrl"] == link


@pytest.mark.parametrize("link", [
    SHAREPOINT_ITEM,
    "https://teams.microsoft.com",
    "https://teams.microsoft.com/l/",
    "http://teams.microsoft.com/l/entity/a/notes",
    "https://teams.microsoft.com/meet/2468?p=abc",
    "https://teams.microsoft.com.example.net/l/entity/a/notes",
    "https://evil.example/?u=https://teams.microsoft.com/l/entity/a/notes",
    "teams.microsoft.com/l/entity/a/notes",
])
def test_any_other_link_is_refused_with_a_bad_request(
    sandbox: Sandbox, http: requests.Session, link: str
) -> None:
    install(http, "ana@contoso.com")
    response = http.post(
        f"{GRAPH}/users/ana@contoso.com/teamwork/sendActivityNotification",
        json=nudge(topic={"source": "text", "value": "Session 2", "webUrl": link}),
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "BadRequest"
    assert "Teams deep link" in error["message"]
    assert error["innerError"]["request-id"]
    assert sandbox.state.teams.feed("u-ana") == []


def test_an_entity_topic_with_a_link_needs_a_deep_link_too(http: requests.Session) -> None:
    install(http, "ana@contoso.com")
    topic = {"source": "entityUrl", "value": f"{GRAPH}/users/u-ana/teamwork/installedApps/x",
             "webUrl": SHAREPOINT_ITEM}
    response = http.post(f"{GRAPH}/users/ana@contoso.com/teamwork/sendActivityNotification",
                         json=nudge(topic=topic))
    assert response.status_code == 400
    del topic["webUrl"]  # optional for an entity topic
    response = http.post(f"{GRAPH}/users/ana@contoso.com/teamwork/sendActivityNotification",
                         json=nudge(topic=topic))
    assert response.status_code == 204, response.text


def test_a_link_past_1024_characters_is_refused(http: requests.Session) -> None:
    install(http, "ana@contoso.com")
    base = "https://teams.microsoft.com/l/entity/a7c2e9d4-3b18-4e6f-8d05-1f9b2c7a4e60/notes?label="
    for length, status in ((1024, 204), (1025, 400)):
        link = base + "x" * (length - len(base))
        response = http.post(
            f"{GRAPH}/users/ana@contoso.com/teamwork/sendActivityNotification",
            json=nudge(topic={"source": "text", "value": "Session 2", "webUrl": link}),
        )
        assert response.status_code == status, (length, response.text)
    assert response.json()["error"] == {**response.json()["error"], "code": "BadRequest",
                                        "message": "UnknownError"}


def test_sending_needs_the_activity_permission(sandbox: Sandbox, http: requests.Session) -> None:
    install(http, "ana@contoso.com")
    sandbox.register_app(APP, secret="s", roles=ROLES[:2])
    session = app_session(sandbox, APP)
    response = session.post(
        f"{GRAPH}/users/ana@contoso.com/teamwork/sendActivityNotification", json=nudge()
    )
    assert response.status_code == 403


def card_message() -> dict[str, Any]:
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "content": {
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": [{"type": "TextBlock", "text": "Session notes are due"}],
                },
            }
        ],
    }


def test_the_webhook_accepts_an_adaptive_card(sandbox: Sandbox) -> None:
    session = sandbox_session(sandbox)
    response = session.post(
        f"http://sandbox/_sandbox/webhooks/{DEMO_WEBHOOK_ID}", json=card_message()
    )
    assert response.status_code == 202
    posts = sandbox.state.teams.webhook_posts(DEMO_WEBHOOK_ID)
    assert posts[0]["message"] == card_message()


def test_the_webhook_refuses_a_message_without_a_card(sandbox: Sandbox) -> None:
    session = sandbox_session(sandbox)
    url = f"http://sandbox/_sandbox/webhooks/{DEMO_WEBHOOK_ID}"
    assert session.post(url, json={"text": "hello"}).status_code == 400
    legacy = {"type": "message", "attachments": [{"contentType": "text/plain", "content": {}}]}
    assert session.post(url, json=legacy).status_code == 400
    assert (
        session.post("http://sandbox/_sandbox/webhooks/unknown", json=card_message()).status_code
        == 404
    )


def test_the_store_survives_a_json_round_trip(http: requests.Session, sandbox: Sandbox) -> None:
    install(http, "ana@contoso.com")
    http.post(f"{GRAPH}/users/ana@contoso.com/teamwork/sendActivityNotification", json=nudge())
    store: TeamsStore = sandbox.state.teams
    assert TeamsStore.from_json(store.to_json()).to_json() == store.to_json()
