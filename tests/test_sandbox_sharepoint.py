"""The sandbox's SharePoint behaves like SharePoint-backed Graph where the worker depends on it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from graph.clock import ManualClock
from graph.sandbox.directory import User
from graph.sandbox.sharepoint import (
    DEMO_HOSTNAME,
    DEMO_SITE_PATH,
    PREFER_NON_INDEXED,
    SharePointStore,
    app_identity,
)
from graph.sandbox.state import TenantState
from graph.sandbox.tenant_app import Sandbox
from graph.sandbox.transport import sandbox_session
from tests.conftest import app_session

GRAPH = "https://graph.microsoft.com/v1.0"
APP = "11111111-2222-3333-4444-555555555555"
SITE_BY_PATH = f"{GRAPH}/sites/{DEMO_HOSTNAME}:{DEMO_SITE_PATH}"
NOTES_LIST = {
    "displayName": "Mentoring Sessions",
    "columns": [
        {"name": "SessionKey", "text": {}, "indexed": True},
        {"name": "Topic", "text": {}},
        {"name": "Notes", "text": {"allowMultipleLines": True, "textType": "richText"}},
        {"name": "Sequence", "number": {}},
        {"name": "Done", "boolean": {}},
        {"name": "Phase", "choice": {"choices": ["trust", "aha", "brainstorm"]}},
    ],
    "list": {"template": "genericList"},
}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))


@pytest.fixture
def sandbox(clock: ManualClock) -> Sandbox:
    state = TenantState(sharepoint=SharePointStore.with_demo_site(clock.now()))
    state.directory.add_user(
        User(
            id="u-ana",
            userPrincipalName="ana@contoso.com",
            displayName="Ana",
            mail="ana@contoso.com",
        )
    )
    sb = Sandbox(state, clock)
    sb.register_app(APP, secret="s", roles=["Sites.Manage.All"], display_name="Mentoring worker")
    return sb


@pytest.fixture
def http(sandbox: Sandbox) -> Iterator[requests.Session]:
    session = app_session(sandbox, APP)
    yield session
    session.close()


def site_id(http: requests.Session) -> str:
    response = http.get(SITE_BY_PATH)
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def make_list(http: requests.Session) -> str:
    response = http.post(f"{SITE_BY_PATH}:/lists", json=NOTES_LIST)
    assert response.status_code == 201, response.text
    created = response.json()
    return f"{GRAPH}/sites/{created['parentReference']['siteId']}/lists/{created['id']}"


def test_the_demo_site_is_found_by_path_and_by_its_composite_id(http: requests.Session) -> None:
    found = http.get(SITE_BY_PATH).json()
    hostname, collection, web = found["id"].split(",")
    assert hostname == DEMO_HOSTNAME and collection and web
    assert found["webUrl"] == f"https://{DEMO_HOSTNAME}{DEMO_SITE_PATH}"
    assert http.get(f"{GRAPH}/sites/{found['id']}").json()["id"] == found["id"]


def test_an_unknown_site_is_item_not_found(http: requests.Session) -> None:
    response = http.get(f"{GRAPH}/sites/{DEMO_HOSTNAME}:/sites/nowhere")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "itemNotFound"


def test_a_list_is_created_with_an_indexed_column_and_found_by_name(http: requests.Session) -> None:
    list_url = make_list(http)
    columns = http.get(f"{list_url}/columns").json()["value"]
    by_name = {c["name"]: c for c in columns}
    assert by_name["SessionKey"]["indexed"] is True
    assert by_name["Topic"]["indexed"] is False
    assert by_name["Notes"]["text"]["allowMultipleLines"] is True
    by_title = http.get(f"{SITE_BY_PATH}:/lists/Mentoring Sessions")
    assert by_title.status_code == 200
    assert by_title.json()["list"]["template"] == "genericList"
    filtered = http.get(
        f"{SITE_BY_PATH}:/lists", params={"$filter": "displayName eq 'Mentoring Sessions'"}
    ).json()["value"]
    assert [lst["displayName"] for lst in filtered] == ["Mentoring Sessions"]


def test_creating_a_list_twice_is_a_name_conflict(http: requests.Session) -> None:
    make_list(http)
    again = http.post(f"{SITE_BY_PATH}:/lists", json=NOTES_LIST)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "nameAlreadyExists"


def test_read_only_permission_cannot_create_a_list(sandbox: Sandbox) -> None:
    sandbox.register_app("reader", secret="s", roles=["Sites.Read.All"])
    session = app_session(sandbox, "reader")
    response = session.post(f"{SITE_BY_PATH}:/lists", json=NOTES_LIST)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "accessDenied"


def test_sites_selected_works_only_on_the_granted_site(
    sandbox: Sandbox, http: requests.Session
) -> None:
    granted = site_id(http)
    sandbox.register_app("picky", secret="s", roles=["Sites.Selected"],
                         site_roles={granted: "fullcontrol"})
    # `write` (SharePoint's Contribute) adds and edits items but cannot make a list: the
    # stricter reading of what Microsoft leaves unsaid.
    sandbox.register_app("writer", secret="s", roles=["Sites.Selected"], selected_sites=[granted])
    sandbox.register_app("ungranted", secret="s", roles=["Sites.Selected"])
    for client, expected in (("picky", 201), ("writer", 403), ("ungranted", 403)):
        session = app_session(sandbox, client)
        body = {**NOTES_LIST, "displayName": f"List of {client}"}
        assert session.post(f"{GRAPH}/sites/{granted}/lists", json=body).status_code == expected


def test_an_item_is_created_with_its_fields_and_metadata(http: requests.Session) -> None:
    list_url = make_list(http)
    created = http.post(
        f"{list_url}/items",
        json={"fields": {"Title": "Session 1", "SessionKey": "p/ana/1", "Sequence": 1}},
    )
    assert created.status_code == 201, created.text
    item = created.json()
    assert item["id"] == "1"
    assert item["fields"]["SessionKey"] == "p/ana/1"
    assert item["createdDateTime"] == "2026-03-02T09:00:00Z"
    assert item["createdBy"]["application"]["displayName"] == "Mentoring worker"
    assert item["webUrl"].endswith("/Lists/MentoringSessions/DispForm.aspx?ID=1")
    assert item["eTag"].startswith('"') and item["eTag"].endswith(',1"')


def test_an_unknown_field_name_is_refused(http: requests.Session) -> None:
    list_url = make_list(http)
    response = http.post(f"{list_url}/items", json={"fields": {"Session Key": "x"}})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalidRequest"


def test_filtering_on_a_column_that_is_not_indexed_needs_the_prefer_header(
    http: requests.Session,
) -> None:
    list_url = make_list(http)
    http.post(f"{list_url}/items", json={"fields": {"Topic": "Search", "SessionKey": "k1"}})
    http.post(f"{list_url}/items", json={"fields": {"Topic": "Devices", "SessionKey": "k2"}})
    query = {"$expand": "fields", "$filter": "fields/Topic eq 'Devices'"}
    refused = http.get(f"{list_url}/items", params=query)
    assert refused.status_code == 400
    message = refused.json()["error"]["message"]
    assert message.startswith("Field 'Topic' cannot be referenced in filter or orderby")
    assert PREFER_NON_INDEXED in message
    allowed = http.get(f"{list_url}/items", params=query, headers={"Prefer": PREFER_NON_INDEXED})
    assert allowed.status_code == 200
    assert [i["fields"]["SessionKey"] for i in allowed.json()["value"]] == ["k2"]
    indexed = http.get(
        f"{list_url}/items", params={"$expand": "fields", "$filter": "fields/SessionKey eq 'k1'"}
    )
    assert [i["fields"]["Topic"] for i in indexed.json()["value"]] == ["Search"]


def test_indexing_a_column_later_lets_it_be_filtered(http: requests.Session) -> None:
    list_url = make_list(http)
    patched = http.patch(f"{list_url}/columns/Topic", json={"indexed": True})
    assert patched.status_code == 200 and patched.json()["indexed"] is True
    response = http.get(f"{list_url}/items", params={"$filter": "fields/Topic eq 'x'"})
    assert response.status_code == 200


def fill(sandbox: Sandbox, count: int) -> None:
    store: SharePointStore = sandbox.state.sharepoint
    site = store.site(f"{DEMO_HOSTNAME}:{DEMO_SITE_PATH}")
    sp_list = store.get_list(site, "Mentoring Sessions")
    now = sandbox.clock.now()
    for n in range(count):
        store.insert_item(
            sp_list,
            {"SessionKey": f"k{n}", "Topic": f"t{n % 7}"},
            now=now,
            actor=app_identity(APP),
            validate=False,
        )


def test_above_the_list_view_threshold_only_indexed_filters_work(
    sandbox: Sandbox, http: requests.Session
) -> None:
    list_url = make_list(http)
    fill(sandbox, 6000)
    unindexed = http.get(
        f"{list_url}/items",
        params={"$filter": "fields/Topic eq 't3'"},
        headers={"Prefer": PREFER_NON_INDEXED},
    )
    assert unindexed.status_code == 429
    assert "list view threshold" in unindexed.json()["error"]["message"]
    indexed = http.get(
        f"{list_url}/items", params={"$expand": "fields", "$filter": "fields/SessionKey eq 'k5999'"}
    )
    assert indexed.status_code == 200
    assert [i["id"] for i in indexed.json()["value"]] == ["6000"]
    narrowed = http.get(
        f"{list_url}/items",
        params={"$filter": "fields/SessionKey eq 'k3' and fields/Topic eq 't3'"},
        headers={"Prefer": PREFER_NON_INDEXED},
    )
    assert narrowed.status_code == 200 and len(narrowed.json()["value"]) == 1


def test_paging_follows_next_links_to_the_end(sandbox: Sandbox, http: requests.Session) -> None:
    list_url = make_list(http)
    fill(sandbox, 450)
    url: str | None = f"{list_url}/items?$expand=fields&$top=100"
    seen: list[str] = []
    for _ in range(10):
        if url is None:
            break
        page: dict[str, Any] = http.get(url).json()
        seen += [i["fields"]["SessionKey"] for i in page["value"]]
        url = page.get("@odata.nextLink")
        assert url is None or url.startswith("https://graph.microsoft.com/v1.0/sites/")
    assert url is None
    assert seen == [f"k{n}" for n in range(450)]


def test_a_stale_etag_is_a_failed_precondition(http: requests.Session) -> None:
    list_url = make_list(http)
    item = http.post(f"{list_url}/items", json={"fields": {"SessionKey": "k"}}).json()
    first = http.patch(
        f"{list_url}/items/{item['id']}/fields",
        json={"Topic": "Search"},
        headers={"If-Match": item["eTag"]},
    )
    assert first.status_code == 200
    assert first.json()["Topic"] == "Search"
    assert first.json()["@odata.etag"].endswith(',2"')
    stale = http.patch(
        f"{list_url}/items/{item['id']}/fields",
        json={"Topic": "Devices"},
        headers={"If-Match": item["eTag"]},
    )
    assert stale.status_code == 412
    deleting = http.delete(f"{list_url}/items/{item['id']}", headers={"If-Match": item["eTag"]})
    assert deleting.status_code == 412
    current = http.get(f"{list_url}/items/{item['id']}").json()["eTag"]
    deleted = http.delete(f"{list_url}/items/{item['id']}", headers={"If-Match": current})
    assert deleted.status_code == 204
    assert http.get(f"{list_url}/items/{item['id']}").status_code == 404


def test_a_person_typing_notes_bumps_the_etag_and_is_the_last_modifier(
    sandbox: Sandbox, http: requests.Session, clock: ManualClock
) -> None:
    list_url = make_list(http)
    item = http.post(f"{list_url}/items", json={"fields": {"SessionKey": "k"}}).json()
    sid = site_id(http)
    list_id = list_url.rsplit("/", 1)[-1]
    clock.advance(600)
    # The control call carries no token: a person edits in the browser, not through our app.
    anonymous = sandbox_session(sandbox)
    response = anonymous.patch(
        f"http://sandbox/_sandbox/sites/{sid}/lists/{list_id}/items/{item['id']}/fields",
        json={"Notes": "<p>We looked at LinkedIn.</p>"},
        headers={"X-Sandbox-User": "ana@contoso.com"},
    )
    assert response.status_code == 200, response.text
    after = http.get(f"{list_url}/items/{item['id']}?$expand=fields").json()
    assert after["eTag"] != item["eTag"]
    assert after["lastModifiedBy"]["user"]["displayName"] == "Ana"
    assert after["lastModifiedDateTime"] == "2026-03-02T09:10:00Z"
    assert after["fields"]["Notes"] == "<p>We looked at LinkedIn.</p>"
    overwrite = http.patch(
        f"{list_url}/items/{item['id']}/fields",
        json={"Notes": ""},
        headers={"If-Match": item["eTag"]},
    )
    assert overwrite.status_code == 412


def test_fields_select_returns_only_the_chosen_columns(http: requests.Session) -> None:
    list_url = make_list(http)
    http.post(f"{list_url}/items", json={"fields": {"SessionKey": "k", "Topic": "Search"}})
    page = http.get(f"{list_url}/items?expand=fields(select=SessionKey)").json()
    assert set(page["value"][0]["fields"]) == {"@odata.etag", "SessionKey"}


def test_the_store_survives_a_json_round_trip(sandbox: Sandbox, http: requests.Session) -> None:
    make_list(http)
    fill(sandbox, 3)
    store: SharePointStore = sandbox.state.sharepoint
    again = SharePointStore.from_json(store.to_json())
    assert again.to_json() == store.to_json()
