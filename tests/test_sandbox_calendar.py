"""Outlook events in the sandbox, end to end through the in-process transport."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from graph.clock import ManualClock
from graph.sandbox.directory import Behaviour
from graph.sandbox.fixtures import make_user
from graph.sandbox.odata import quote
from graph.sandbox.state import TenantState
from graph.sandbox.tenant_app import Sandbox
from graph.sandbox.transport import sandbox_session

GRAPH = "https://graph.microsoft.com/v1.0"
START = datetime(2027, 1, 4, 12, 0, tzinfo=UTC)
TAG = "String {8e0c4e0a-4b7b-4a43-9d3a-1f6f2f3e5a10} Name MentoringSession"


class Tenant:
    def __init__(self) -> None:
        self.clock = ManualClock(START)
        state = TenantState(tenant_id="t-1")
        self.sb = Sandbox(state, self.clock)
        never = Behaviour(kind="never_answer")
        for upn, name, zone in (
            ("mentoring@contoso.test", "Program", "Eastern Standard Time"),
            ("ava@contoso.test", "Ava", "Eastern Standard Time"),
            ("margaret@contoso.test", "Margaret", "Pacific Standard Time"),
        ):
            state.directory.add_user(
                make_user(upn, name, title="x", zone_name=zone, country="US", behaviour=never)
            )
        self.sb.register_app("worker", secret="s", roles=["Calendars.ReadWrite"])
        self.http = sandbox_session(self.sb)
        self.http.headers["Authorization"] = f"Bearer {self.sb.token_for('worker')}"

    def post(self, path: str, body: Any, **headers: str) -> requests.Response:
        return self.http.post(f"{GRAPH}{path}", json=body, headers=headers)

    def get(self, path: str, **params: str) -> requests.Response:
        return self.http.get(f"{GRAPH}{path}", params=params)


def session_body(**extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "subject": "Reverse mentoring: session 1",
        "start": {"dateTime": "2027-01-12T10:00:00", "timeZone": "Eastern Standard Time"},
        "end": {"dateTime": "2027-01-12T10:45:00", "timeZone": "Eastern Standard Time"},
        "attendees": [
            {"type": "required", "emailAddress": {"address": "ava@contoso.test"}},
            {"type": "required", "emailAddress": {"address": "margaret@contoso.test"}},
            {"type": "optional", "emailAddress": {"address": "guest@fabrikam.example"}},
        ],
        "isOnlineMeeting": True,
        "onlineMeetingProvider": "teamsForBusiness",
        "singleValueExtendedProperties": [{"id": TAG, "value": "prog/ava-margaret/1"}],
    }
    body.update(extra)
    return body


@pytest.fixture
def tenant() -> Tenant:
    return Tenant()


def test_created_event_has_graph_shape_and_teams_link(tenant: Tenant) -> None:
    answer = tenant.post("/users/mentoring@contoso.test/events", session_body())
    assert answer.status_code == 201
    event = answer.json()
    assert event["start"] == {"dateTime": "2027-01-12T15:00:00.0000000", "timeZone": "UTC"}
    assert event["onlineMeeting"]["joinUrl"].startswith(
        "https://teams.microsoft.com/l/meetup-join/"
    )
    assert event["onlineMeetingUrl"] is None
    assert event["organizer"]["emailAddress"]["address"] == "mentoring@contoso.test"
    assert event["createdDateTime"].startswith("2027-01-04T12:00:00")
    assert "singleValueExtendedProperties" not in event
    assert event["@odata.etag"] == f'W/"{event["changeKey"]}"'


def test_invitations_land_in_attendee_calendars_with_the_same_ical_uid(tenant: Tenant) -> None:
    event = tenant.post("/users/mentoring@contoso.test/events", session_body()).json()
    copies = tenant.get("/users/ava@contoso.test/events").json()["value"]
    assert len(copies) == 1
    assert copies[0]["iCalUId"] == event["iCalUId"]
    assert copies[0]["isOrganizer"] is False
    assert copies[0]["responseStatus"]["response"] == "notResponded"
    assert copies[0]["id"] != event["id"]


def test_prefer_timezone_renders_times_and_is_acknowledged(tenant: Tenant) -> None:
    answer = tenant.post(
        "/users/mentoring@contoso.test/events",
        session_body(),
        Prefer='outlook.timezone="Pacific Standard Time", IdType="ImmutableId"',
    )
    assert answer.json()["start"]["dateTime"] == "2027-01-12T07:00:00.0000000"
    assert 'outlook.timezone="Pacific Standard Time"' in answer.headers["Preference-Applied"]
    assert 'IdType="ImmutableId"' in answer.headers["Preference-Applied"]


def test_unknown_time_zone_is_rejected_as_graph_does(tenant: Tenant) -> None:
    body = session_body(start={"dateTime": "2027-01-12T10:00:00", "timeZone": "Mars/Olympus"})
    answer = tenant.post("/users/mentoring@contoso.test/events", body)
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "TimeZoneNotSupportedException"


def test_retried_post_with_same_transaction_id_returns_the_same_event(tenant: Tenant) -> None:
    body = session_body(transactionId="3b1d6a5e-2f0c-5d8e-9a41-7c2b9e0f6d11")
    first = tenant.post("/users/mentoring@contoso.test/events", body).json()
    second = tenant.post("/users/mentoring@contoso.test/events", body)
    assert second.json()["id"] == first["id"]
    assert len(tenant.get("/users/mentoring@contoso.test/events").json()["value"]) == 1
    assert len(tenant.get("/users/ava@contoso.test/events").json()["value"]) == 1


def test_same_transaction_id_with_different_content_is_refused(tenant: Tenant) -> None:
    body = session_body(transactionId="3b1d6a5e-2f0c-5d8e-9a41-7c2b9e0f6d11")
    tenant.post("/users/mentoring@contoso.test/events", body)
    answer = tenant.post(
        "/users/mentoring@contoso.test/events", {**body, "subject": "Something else"}
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "ErrorDuplicateTransactionId"


def test_malformed_extended_property_id_is_refused(tenant: Tenant) -> None:
    body = session_body(singleValueExtendedProperties=[{"id": "MentoringSession", "value": "x"}])
    answer = tenant.post("/users/mentoring@contoso.test/events", body)
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "ErrorInvalidProperty"


def test_extended_property_filter_with_eq_and_startswith(tenant: Tenant) -> None:
    value = "prog/james-o'connor/2"
    tenant.post("/users/mentoring@contoso.test/events", session_body())
    tenant.post(
        "/users/mentoring@contoso.test/events",
        session_body(singleValueExtendedProperties=[{"id": TAG, "value": value}]),
    )
    eq = (
        f"singleValueExtendedProperties/Any(ep: ep/id eq {quote(TAG)} "
        f"and ep/value eq {quote(value)})"
    )
    found = tenant.get(
        "/users/mentoring@contoso.test/events",
        **{"$filter": eq, "$expand": f"singleValueExtendedProperties($filter=id eq {quote(TAG)})"},
    ).json()["value"]
    assert [e["singleValueExtendedProperties"][0]["value"] for e in found] == [value]
    prefix = (
        f"singleValueExtendedProperties/Any(ep: ep/id eq {quote(TAG)} "
        f"and startswith(ep/value, {quote('prog/')}))"
    )
    assert (
        len(
            tenant.get("/users/mentoring@contoso.test/events", **{"$filter": prefix}).json()[
                "value"
            ]
        )
        == 2
    )


def test_misspelled_filter_is_400(tenant: Tenant) -> None:
    syntax = tenant.get("/users/mentoring@contoso.test/events", **{"$filter": "subject eqq 'x'"})
    assert syntax.status_code == 400
    assert syntax.json()["error"]["message"].startswith("Invalid filter clause")
    unknown = tenant.get("/users/mentoring@contoso.test/events", **{"$filter": "subjct eq 'x'"})
    assert unknown.status_code == 400
    assert "subjct" in unknown.json()["error"]["message"]


def test_paging_follows_next_link_to_the_end(tenant: Tenant) -> None:
    for day in range(23):
        start = datetime(2027, 2, 1, 14, tzinfo=UTC) + timedelta(days=day)
        tenant.post(
            "/users/mentoring@contoso.test/events",
            {
                "subject": f"Block {day}",
                "start": {"dateTime": start.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
                "end": {
                    "dateTime": (start + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S"),
                    "timeZone": "UTC",
                },
            },
        )
    page = tenant.get("/users/mentoring@contoso.test/events").json()
    seen = []
    for _ in range(10):
        seen.extend(e["subject"] for e in page["value"])
        if "@odata.nextLink" not in page:
            break
        page = tenant.http.get(page["@odata.nextLink"]).json()
    assert len(seen) == 23 and len(set(seen)) == 23


def test_calendar_view_requires_its_window(tenant: Tenant) -> None:
    answer = tenant.get("/users/ava@contoso.test/calendarView")
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "ErrorInvalidParameter"
    tenant.post("/users/mentoring@contoso.test/events", session_body())
    view = tenant.get(
        "/users/ava@contoso.test/calendarView",
        startDateTime="2027-01-12T00:00:00Z",
        endDateTime="2027-01-13T00:00:00Z",
    )
    assert [e["subject"] for e in view.json()["value"]] == ["Reverse mentoring: session 1"]


def test_missing_join_link_can_be_simulated(tenant: Tenant) -> None:
    tenant.sb.state.mail.drop_next_join_links = 1
    event = tenant.post("/users/mentoring@contoso.test/events", session_body()).json()
    assert event["isOnlineMeeting"] is True
    assert event["onlineMeeting"] is None


def test_only_the_organizer_may_cancel(tenant: Tenant) -> None:
    tenant.post("/users/mentoring@contoso.test/events", session_body())
    copy_id = tenant.get("/users/ava@contoso.test/events").json()["value"][0]["id"]
    answer = tenant.post(f"/users/ava@contoso.test/events/{copy_id}/cancel", {"comment": "no"})
    assert answer.status_code == 400
    assert "need to be an organizer" in answer.json()["error"]["message"]


def test_cancel_marks_attendee_copies_cancelled(tenant: Tenant) -> None:
    event = tenant.post("/users/mentoring@contoso.test/events", session_body()).json()
    answer = tenant.post(
        f"/users/mentoring@contoso.test/events/{event['id']}/cancel", {"comment": "Moved"}
    )
    assert answer.status_code == 202
    copy = tenant.get("/users/ava@contoso.test/events").json()["value"][0]
    assert copy["isCancelled"] is True
    gone = tenant.get(f"/users/mentoring@contoso.test/events/{event['id']}")
    assert gone.status_code == 404


def test_attendee_answers_show_in_the_organizer_attendees(tenant: Tenant) -> None:
    event = tenant.post("/users/mentoring@contoso.test/events", session_body()).json()
    copy_id = tenant.get("/users/margaret@contoso.test/events").json()["value"][0]["id"]
    tenant.clock.advance(timedelta(minutes=5))
    answer = tenant.post(f"/users/margaret@contoso.test/events/{copy_id}/decline", {})
    assert answer.status_code == 202
    organizer = tenant.get(f"/users/mentoring@contoso.test/events/{event['id']}").json()
    status = {a["emailAddress"]["address"]: a["status"] for a in organizer["attendees"]}
    assert status["margaret@contoso.test"]["response"] == "declined"
    assert status["margaret@contoso.test"]["time"].startswith("2027-01-04T12:05:00")
    assert status["ava@contoso.test"]["response"] == "none"
    assert status["guest@fabrikam.example"]["response"] == "none"


def test_moving_a_meeting_moves_copies_and_resets_answers(tenant: Tenant) -> None:
    event = tenant.post("/users/mentoring@contoso.test/events", session_body()).json()
    copy_id = tenant.get("/users/ava@contoso.test/events").json()["value"][0]["id"]
    tenant.post(f"/users/ava@contoso.test/events/{copy_id}/accept", {"comment": "ok"})
    moved = tenant.http.patch(
        f"{GRAPH}/users/mentoring@contoso.test/events/{event['id']}",
        json={
            "start": {"dateTime": "2027-01-13T15:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2027-01-13T15:45:00", "timeZone": "UTC"},
        },
    ).json()
    assert moved["changeKey"] != event["changeKey"]
    assert {a["status"]["response"] for a in moved["attendees"]} == {"none"}
    copy = tenant.get(f"/users/ava@contoso.test/events/{copy_id}").json()
    assert copy["start"]["dateTime"] == "2027-01-13T15:00:00.0000000"
    assert copy["responseStatus"]["response"] == "notResponded"


def test_app_without_write_permission_cannot_create(tenant: Tenant) -> None:
    tenant.sb.register_app("reader", secret="r", roles=["Calendars.Read"])
    answer = tenant.http.post(
        f"{GRAPH}/users/mentoring@contoso.test/events",
        json=session_body(),
        headers={"Authorization": f"Bearer {tenant.sb.token_for('reader')}"},
    )
    assert answer.status_code == 403
