"""The sandbox's least-privilege model, both ways: Exchange RBAC for Applications (an app's
mailbox permissions valid only inside its management scope) and Sites.Selected roles (read,
write, fullcontrol per site), with Graph's own 403 answers; and what `mentoring doctor` reads
besides (licences, the catalog's app definitions, the root site)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import requests

from graph.clock import ManualClock
from graph.sandbox.fixtures import demo_tenant, program_mailboxes
from graph.sandbox.sharepoint import DEMO_HOSTNAME, DEMO_SITE_PATH
from graph.sandbox.teams import TeamsStore
from graph.sandbox.tenant_app import Sandbox
from graph.sandbox.transport import sandbox_session
from graph.teams import TEAMS_SERVICE_PLAN_ID
from tests.conftest import app_session

GRAPH = "https://graph.microsoft.com/v1.0"
APP = "11111111-2222-3333-4444-555555555555"
PROGRAM = "mentoring@contoso.com"
OTHER = "margaret.hale@contoso.com"
SITE = f"{GRAPH}/sites/{DEMO_HOSTNAME}:{DEMO_SITE_PATH}"


@pytest.fixture
def sandbox() -> Sandbox:
    clock = ManualClock(datetime(2027, 1, 4, 6, 0, tzinfo=UTC))
    return Sandbox.create(clock=clock, fixture=lambda c: demo_tenant(c, with_calendars=False))


def session_for(sandbox: Sandbox, client_id: str = APP) -> requests.Session:
    return app_session(sandbox, client_id)


def events(session: requests.Session, mailbox: str) -> requests.Response:
    return session.get(f"{GRAPH}/users/{mailbox}/events", params={"$top": "1"})


def test_an_rbac_scope_opens_its_mailboxes_and_refuses_the_others_as_outlook_does(
    sandbox: Sandbox,
) -> None:
    sandbox.register_app(APP, secret="s", roles=["User.Read.All"],
                         exchange_roles=["Calendars.ReadWrite"], mailbox_scope=[PROGRAM])
    session = session_for(sandbox)
    assert events(session, PROGRAM).status_code == 200
    refused = events(session, OTHER)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "ErrorAccessDenied"
    assert refused.json()["error"]["message"] == (
        "Access is denied. Check credentials and try again.")
    # getSchedule goes through the program mailbox: everyone's free/busy stays readable.
    schedule = session.post(f"{GRAPH}/users/{PROGRAM}/calendar/getSchedule", json={
        "schedules": [OTHER], "startTime": {"dateTime": "2027-01-05T00:00:00", "timeZone": "UTC"},
        "endTime": {"dateTime": "2027-01-06T00:00:00", "timeZone": "UTC"},
        "availabilityViewInterval": 60})
    assert schedule.status_code == 200, schedule.text
    assert "error" not in schedule.json()["value"][0]
    # The scope adds nothing to the token: the roles claim does not name the calendar.
    assert "Calendars.ReadWrite" not in sandbox.app(APP).roles


def test_an_entra_grant_and_an_rbac_scope_add_up_to_every_mailbox(sandbox: Sandbox) -> None:
    sandbox.register_app(APP, secret="s", roles=["Calendars.ReadWrite"])
    assert events(session_for(sandbox), OTHER).status_code == 200
    sandbox.scope_mailboxes(APP, [PROGRAM])  # takes the tenant-wide grant out
    assert events(session_for(sandbox), OTHER).status_code == 403
    sandbox.scope_mailboxes(APP, None)
    sandbox.set_roles(APP, add=["Calendars.ReadWrite"])
    assert events(session_for(sandbox), OTHER).status_code == 200


def test_a_scope_without_the_mailbox_refuses_it(sandbox: Sandbox) -> None:
    sandbox.register_app(APP, secret="s", exchange_roles=["Calendars.ReadWrite"],
                         mailbox_scope=[OTHER])
    assert events(session_for(sandbox), PROGRAM).status_code == 403
    assert program_mailboxes(sandbox.state) == [PROGRAM]


def _granted(sandbox: Sandbox, role: str | None) -> requests.Session:
    sandbox.register_app(APP, secret="s", roles=["Sites.Selected"])
    sandbox.grant_site(APP, f"{DEMO_HOSTNAME}:{DEMO_SITE_PATH}", role)
    return session_for(sandbox)


NEW_LIST = {"displayName": "Notes", "columns": [{"name": "Topic", "text": {}}],
            "list": {"template": "genericList"}}


def test_a_read_grant_reads_the_site_and_refuses_every_write(sandbox: Sandbox) -> None:
    session = _granted(sandbox, "fullcontrol")
    site_id = session.get(SITE).json()["id"]
    list_id = session.post(f"{GRAPH}/sites/{site_id}/lists", json=NEW_LIST).json()["id"]
    items = f"{GRAPH}/sites/{site_id}/lists/{list_id}/items"
    assert session.post(items, json={"fields": {"Title": "one"}}).status_code == 201
    sandbox.grant_site(APP, site_id, "read")
    reader = session_for(sandbox)
    assert reader.get(SITE).status_code == 200
    assert reader.get(items).status_code == 200
    for response in (reader.post(items, json={"fields": {"Title": "two"}}),
                     reader.patch(f"{items}/1/fields", json={"Title": "x"}),
                     # Refused for the role before the item is looked up: a 403, not a 404.
                     reader.patch(f"{items}/0/fields", json={}, headers={"If-Match": '"x"'})):
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "accessDenied"
    sandbox.grant_site(APP, site_id, "write")
    writer = session_for(sandbox)
    assert writer.patch(f"{items}/0/fields", json={}).status_code == 404
    assert writer.post(items, json={"fields": {"Title": "two"}}).status_code == 201


def test_a_site_not_granted_is_refused_and_so_is_the_root_site(sandbox: Sandbox) -> None:
    session = _granted(sandbox, None)
    assert session.get(SITE).status_code == 403
    sandbox.grant_site(APP, f"{DEMO_HOSTNAME}:{DEMO_SITE_PATH}", "write")
    session = session_for(sandbox)
    assert session.get(SITE).status_code == 200
    root = session.get(f"{GRAPH}/sites/root")
    assert root.status_code == 403 and root.json()["error"]["code"] == "accessDenied"
    sandbox.set_roles(APP, add=["Sites.Read.All"])
    wide = session_for(sandbox).get(f"{GRAPH}/sites/root")
    assert wide.status_code == 200 and wide.json()["webUrl"] == f"https://{DEMO_HOSTNAME}/"
    with pytest.raises(ValueError, match="unknown site role"):
        sandbox.grant_site(APP, "root", "owner")


def test_licences_are_read_with_select_and_show_the_teams_plan(sandbox: Sandbox) -> None:
    sandbox.register_app(APP, secret="s", roles=["User.Read.All"])
    session = session_for(sandbox)
    plain = session.get(f"{GRAPH}/users/{OTHER}").json()
    assert "assignedPlans" not in plain  # not in the default set of properties

    def plans(user: str) -> list[str]:
        body = session.get(f"{GRAPH}/users/{user}",
                           params={"$select": "id,assignedPlans,assignedLicenses"}).json()
        return [p["servicePlanId"] for p in body["assignedPlans"]
                if p["capabilityStatus"] == "Enabled"]

    assert TEAMS_SERVICE_PLAN_ID in plans(OTHER)
    assert TEAMS_SERVICE_PLAN_ID not in plans("sam.rivera@contoso.com")  # the demo's one
    sandbox.set_person("sam.rivera@contoso.com", teams_license=True)
    assert TEAMS_SERVICE_PLAN_ID in plans("sam.rivera@contoso.com")
    sandbox.set_person(OTHER, present=False)
    assert session.get(f"{GRAPH}/users/{OTHER}").status_code == 404


def test_catalog_apps_expand_their_definition_with_the_bound_entra_app(
    sandbox: Sandbox,
) -> None:
    store = TeamsStore.with_demo_app(APP)
    sandbox.state.teams = store
    sandbox.register_app(APP, secret="s", roles=["AppCatalog.Read.All"])
    session = session_for(sandbox)
    [app] = session.get(f"{GRAPH}/appCatalogs/teamsApps",
                        params={"$expand": "appDefinitions"}).json()["value"]
    [definition] = app["appDefinitions"]
    assert definition["authorization"]["clientAppId"] == APP
    assert definition["version"] == "1.0.0"
    store.unpublish(app["externalId"])
    assert session.get(f"{GRAPH}/appCatalogs/teamsApps").json()["value"] == []


def test_the_control_api_changes_grants_and_people(sandbox: Sandbox) -> None:
    sandbox.register_app(APP, secret="s", roles=["Calendars.ReadWrite", "Sites.Selected"])
    control = sandbox_session(sandbox)
    answer = control.post(f"http://127.0.0.1/_sandbox/apps/{APP}", json={
        "mailbox_scope": [PROGRAM], "sites": {f"{DEMO_HOSTNAME}:{DEMO_SITE_PATH}": "read"}})
    assert answer.status_code == 200, answer.text
    assert answer.json()["mailbox_scope"] == [PROGRAM]
    assert list(answer.json()["site_roles"].values()) == ["read"]
    assert events(session_for(sandbox), OTHER).status_code == 403
    assert control.patch(f"http://127.0.0.1/_sandbox/users/{OTHER}",
                         json={"teams_license": False}).status_code == 204
    assert not sandbox.state.directory.get(OTHER).has_teams_license
    bad = control.post(f"http://127.0.0.1/_sandbox/apps/{APP}", json={"sites": {"root": "boss"}})
    assert bad.status_code == 400
