"""Faults that test idempotency: answers lost after the write, and requests sent too early.

A `lost` fault lets the sandbox carry a request out and then takes its answer away; the
Retry-After watch counts every request that comes before the `Retry-After` it was given ran out.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from graph.clock import ManualClock
from graph.sandbox.calendar import store_of
from graph.sandbox.directory import Behaviour
from graph.sandbox.faults import FaultRule
from graph.sandbox.fixtures import make_user
from graph.sandbox.server import start_in_thread
from graph.sandbox.state import TenantState
from graph.sandbox.tenant_app import Sandbox
from graph.sandbox.transport import sandbox_session

GRAPH = "https://graph.microsoft.com/v1.0"
START = datetime(2027, 1, 4, 12, 0, tzinfo=UTC)
ORGANIZER = "mentoring@contoso.test"
EVENTS_ROUTE = "POST /users/{user}/events"


class Tenant:
    """A program mailbox and two people; an app that may write calendars and read users."""

    def __init__(self) -> None:
        self.clock = ManualClock(START)
        self.sb = Sandbox(TenantState(tenant_id="t-1"), self.clock)
        for upn, name in ((ORGANIZER, "Program"), ("ava@contoso.test", "Ava"),
                          ("margaret@contoso.test", "Margaret")):
            self.sb.state.directory.add_user(make_user(
                upn, name, title="x", zone_name="Eastern Standard Time", country="US",
                behaviour=Behaviour(kind="never_answer")))
        self.sb.register_app("worker", secret="s", roles=["Calendars.ReadWrite", "User.Read.All"])
        self.http = sandbox_session(self.sb)
        self.http.headers["Authorization"] = f"Bearer {self.sb.token_for('worker')}"

    def book(self, session: int = 1, **headers: str) -> requests.Response:
        return self.http.post(f"{GRAPH}/users/{ORGANIZER}/events", json=event(session),
                              headers=headers, timeout=5)

    def events(self) -> list[dict[str, Any]]:
        owner = self.sb.state.directory.get(ORGANIZER)
        return list(store_of(self.sb).calendar(owner.id).values())

    def get_user(self, upn: str, **headers: str) -> requests.Response:
        return self.http.get(f"{GRAPH}/users/{upn}", headers=headers, timeout=5)


def event(session: int) -> dict[str, Any]:
    return {
        "subject": f"Reverse mentoring: session {session}",
        "start": {"dateTime": f"2027-01-1{session}T10:00:00", "timeZone": "Eastern Standard Time"},
        "end": {"dateTime": f"2027-01-1{session}T10:45:00", "timeZone": "Eastern Standard Time"},
        "attendees": [{"type": "required", "emailAddress": {"address": "ava@contoso.test"}}],
    }


@pytest.fixture
def tenant() -> Tenant:
    return Tenant()


def test_a_lost_answer_comes_after_the_write_and_is_counted_per_route(tenant: Tenant) -> None:
    tenant.sb.faults.add(FaultRule(kind="lost", method="POST", path="/events$", count=1))
    with pytest.raises(requests.ReadTimeout):
        tenant.book(1)
    assert [e["subject"] for e in tenant.events()] == ["Reverse mentoring: session 1"]
    assert tenant.sb.faults.lost_answers() == {EVENTS_ROUTE: 1}
    assert tenant.book(2).status_code == 201  # count=1: the next answer arrives
    assert len(tenant.events()) == 2
    [rule] = tenant.sb.faults.rules()
    assert rule.fired == 1
    assert tenant.sb.recorder.recent(2)[0]["status"] == "lost"


def test_an_error_answer_is_never_lost_and_nothing_is_counted(tenant: Tenant) -> None:
    tenant.sb.faults.add(FaultRule(kind="lost", path="/users/"))
    response = tenant.get_user("nobody@contoso.test")
    assert response.status_code == 404
    assert tenant.sb.faults.lost_answers() == {}
    assert tenant.sb.faults.rules()[0].fired == 0


def test_a_refusal_wins_over_a_lost_answer_so_nothing_is_written(tenant: Tenant) -> None:
    tenant.sb.faults.add(FaultRule(kind="lost", method="POST", path="/events$"))
    tenant.sb.faults.add(FaultRule(kind="503", method="POST", path="/events$", count=1))
    assert tenant.book(1).status_code == 503
    assert tenant.events() == []
    assert tenant.sb.faults.lost_answers() == {}


def test_a_lost_inner_answer_of_a_batch_is_a_gateway_timeout_after_the_write(
    tenant: Tenant,
) -> None:
    tenant.sb.faults.add(FaultRule(kind="lost", method="POST", path="/events$", count=1))
    batch = {"requests": [
        {"id": "1", "method": "POST", "url": f"/users/{ORGANIZER}/events", "body": event(1),
         "headers": {"Content-Type": "application/json"}},
        {"id": "2", "method": "POST", "url": f"/users/{ORGANIZER}/events", "body": event(2),
         "headers": {"Content-Type": "application/json"}},
    ]}
    answer = tenant.http.post(f"{GRAPH}/$batch", json=batch, timeout=5)
    assert answer.status_code == 200
    assert [r["status"] for r in answer.json()["responses"]] == [504, 201]
    assert len(tenant.events()) == 2
    assert tenant.sb.faults.lost_answers() == {EVENTS_ROUTE: 1}


def test_over_http_a_lost_answer_closes_the_connection_after_the_write(tenant: Tenant) -> None:
    server, base = start_in_thread(tenant.sb)
    try:
        tenant.sb.faults.add(FaultRule(kind="lost", method="POST", path="/events$", count=1))
        token = tenant.sb.token_for("worker")
        with pytest.raises(requests.ConnectionError):
            requests.post(f"{base}/v1.0/users/{ORGANIZER}/events", json=event(1), timeout=5,
                          headers={"Authorization": f"Bearer {token}"})
        assert len(tenant.events()) == 1
        counts = requests.get(f"{base}/_sandbox/faults", timeout=5).json()
        assert counts["lost_answers"] == {EVENTS_ROUTE: 1}
    finally:
        server.shutdown()
        server.server_close()


def test_a_retry_before_its_retry_after_is_an_early_request_and_one_after_is_not(
    tenant: Tenant,
) -> None:
    tenant.sb.faults.add(FaultRule(kind="429", method="GET", count=1, retry_after=10))
    assert tenant.get_user("ava@contoso.test", **{"client-request-id": "r-1"}).status_code == 429
    tenant.clock.advance(4)
    assert tenant.get_user("ava@contoso.test", **{"client-request-id": "r-1"}).status_code == 200
    assert tenant.sb.retry_after.early_requests() == {"request": 1, "resource": 1}
    [early] = [e for e in tenant.sb.retry_after.examples() if e.scope == "request"]
    assert early.route == "GET /users/{user}" and early.early_by == 6
    tenant.clock.advance(6)
    assert tenant.get_user("ava@contoso.test", **{"client-request-id": "r-1"}).status_code == 200
    assert tenant.sb.retry_after.early_requests() == {"request": 1, "resource": 1}


def test_another_request_to_a_throttled_mailbox_counts_for_the_resource_only(
    tenant: Tenant,
) -> None:
    tenant.sb.faults.add(FaultRule(kind="503", method="POST", count=1, retry_after=5))
    assert tenant.book(1, **{"client-request-id": "a"}).status_code == 503
    assert tenant.book(2, **{"client-request-id": "b"}).status_code == 201
    # Another mailbox is another resource: not early.
    assert tenant.get_user("ava@contoso.test").status_code == 200
    assert tenant.sb.retry_after.early_requests() == {"request": 0, "resource": 1}


def test_the_throttles_own_retry_after_is_watched_too(tenant: Tenant) -> None:
    tenant.sb.throttle.preload(("outlook", "worker", tenant.sb.state.directory.get(ORGANIZER)
                                .id.lower()), 10_000)
    refused = tenant.book(1, **{"client-request-id": "x"})
    assert refused.status_code == 429
    wait = int(refused.headers["Retry-After"])
    assert wait > 0
    tenant.book(1, **{"client-request-id": "x"})
    assert tenant.sb.retry_after.early_requests()["request"] == 1


def test_the_control_api_resets_the_counts(tenant: Tenant) -> None:
    tenant.sb.faults.add(FaultRule(kind="lost", method="POST", path="/events$", count=1))
    with pytest.raises(requests.ReadTimeout):
        tenant.book(1)
    control = "http://127.0.0.1:1/_sandbox/faults"
    assert tenant.http.get(control, timeout=5).json()["lost_answers"] == {EVENTS_ROUTE: 1}
    tenant.http.post(control, json={"reset_counts": True}, timeout=5)
    body = tenant.http.get(control, timeout=5).json()
    assert body["lost_answers"] == {} and body["early_requests"] == {"request": 0,
                                                                     "resource": 0}
    assert len(body["rules"]) == 1  # the rules stay


def test_requests_of_the_batch_that_carried_the_429_were_not_early(tenant: Tenant) -> None:
    tenant.sb.faults.add(FaultRule(kind="429", path="^/users/ava", count=1, retry_after=5))
    lookups = {"requests": [{"id": "1", "method": "GET", "url": "/users/ava@contoso.test"},
                            {"id": "2", "method": "GET", "url": "/users/margaret@contoso.test"}]}
    answer = tenant.http.post(f"{GRAPH}/$batch", json=lookups, timeout=5).json()
    assert [r["status"] for r in answer["responses"]] == [429, 200]
    assert tenant.sb.retry_after.early_requests() == {"request": 0, "resource": 0}
    again = {"requests": [{"id": "1", "method": "GET", "url": "/users/ava@contoso.test"}]}
    tenant.http.post(f"{GRAPH}/$batch", json=again, timeout=5)
    assert tenant.sb.retry_after.early_requests() == {"request": 1, "resource": 1}
