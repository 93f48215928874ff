"""The sandbox's Entra groups as Graph answers for them: a group by mail or id, its direct
members paged with `$select`, members' profiles limited to what the app may read, and the
errors of a missing group, a malformed id and a missing permission."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import requests

from graph.clock import ManualClock
from graph.sandbox.fixtures import demo_tenant
from graph.sandbox.tenant_app import Sandbox
from tests.conftest import app_session

GRAPH = "https://graph.microsoft.com/v1.0"
APP = "11111111-2222-3333-4444-555555555555"
MENTORS = ["ava.nguyen@contoso.com", "leo.martins@contoso.com", "maya.patel@contoso.com"]
GROUP_ID = "0b8d9f52-7c1e-4a3b-9e6d-2f4a5c6b7d8e"


@pytest.fixture
def sandbox() -> Sandbox:
    clock = ManualClock(datetime(2027, 1, 4, 6, 0, tzinfo=UTC))
    sandbox = Sandbox.create(clock=clock, fixture=lambda c: demo_tenant(c, with_calendars=False))
    directory = sandbox.state.directory
    for upn in MENTORS:
        directory.get(upn).department = "Digital"
    nested = directory.add_group("Interns", members=["zoe.williams@contoso.com"])
    directory.add_group("Reverse mentors", mail="mentors@contoso.com", group_id=GROUP_ID,
                        members=[*MENTORS, nested.id])
    return sandbox


def session_for(sandbox: Sandbox, roles: list[str]) -> requests.Session:
    sandbox.register_app(APP, secret="s", roles=roles)
    return app_session(sandbox, APP)


def members(session: requests.Session, **params: str) -> requests.Response:
    return session.get(f"{GRAPH}/groups/{GROUP_ID}/members", params=params)


def test_a_group_is_found_by_its_mail(sandbox: Sandbox) -> None:
    session = session_for(sandbox, ["GroupMember.Read.All"])
    found = session.get(f"{GRAPH}/groups", params={
        "$filter": "mail eq 'mentors@contoso.com'", "$select": "id,displayName"})
    assert found.status_code == 200
    assert found.json()["value"] == [{"id": GROUP_ID, "displayName": "Reverse mentors"}]


def test_members_are_direct_typed_and_paged_with_select(sandbox: Sandbox) -> None:
    session = session_for(sandbox, ["GroupMember.Read.All", "User.Read.All"])
    first = members(session, **{"$select": "id,userPrincipalName,department", "$top": "2"})
    assert first.status_code == 200
    page = first.json()
    assert [m["userPrincipalName"] for m in page["value"]] == MENTORS[:2]
    assert all(m["@odata.type"] == "#microsoft.graph.user" and m["department"] == "Digital"
               for m in page["value"])
    rest = session.get(page["@odata.nextLink"]).json()
    assert "@odata.nextLink" not in rest
    assert [m["@odata.type"] for m in rest["value"]] == [
        "#microsoft.graph.user", "#microsoft.graph.group"]  # not transitive: the group itself


def test_without_a_user_read_permission_members_come_with_their_id_and_type_only(
        sandbox: Sandbox) -> None:
    session = session_for(sandbox, ["GroupMember.Read.All"])
    value = members(session, **{"$select": "id,userPrincipalName,department"}).json()["value"]
    user = value[0]
    assert user["@odata.type"] == "#microsoft.graph.user" and user["id"]
    assert user["userPrincipalName"] is None and user["department"] is None


def test_members_need_a_group_permission(sandbox: Sandbox) -> None:
    refused = members(session_for(sandbox, ["User.Read.All"]))
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "Authorization_RequestDenied"


def test_a_missing_group_is_404_and_a_malformed_id_400(sandbox: Sandbox) -> None:
    session = session_for(sandbox, ["GroupMember.Read.All"])
    missing = session.get(f"{GRAPH}/groups/00000000-0000-0000-0000-000000000000/members")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "Request_ResourceNotFound"
    malformed = session.get(f"{GRAPH}/groups/mentors/members")
    assert malformed.status_code == 400
    assert "Invalid object identifier" in malformed.json()["error"]["message"]


def test_a_page_size_outside_1_to_999_and_a_filter_without_eventual_are_refused(
        sandbox: Sandbox) -> None:
    session = session_for(sandbox, ["GroupMember.Read.All"])
    assert members(session, **{"$top": "1000"}).status_code == 400
    assert members(session, **{"$filter": "startswith(displayName,'A')"}).status_code == 400


def test_groups_survive_a_save_and_a_load(sandbox: Sandbox) -> None:
    from graph.sandbox.state import TenantState

    again = TenantState.from_json(sandbox.state.to_json())
    assert again.directory.groups[GROUP_ID].members == sandbox.state.directory.groups[
        GROUP_ID].members
