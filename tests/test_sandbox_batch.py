"""JSON batching: limits, dependsOn, and each inner request through the full pipeline."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import requests

from graph.clock import ManualClock
from graph.sandbox.core import GraphError, SandboxRequest, SandboxResponse, json_response
from graph.sandbox.directory import User
from graph.sandbox.faults import FaultRule
from graph.sandbox.state import TenantState
from graph.sandbox.tenant_app import Sandbox
from graph.sandbox.transport import sandbox_session

BATCH = "https://graph.microsoft.com/v1.0/$batch"


def echo(sb: Sandbox, req: SandboxRequest, user: str) -> SandboxResponse:
    body = req.json() if req.body else None
    return json_response(
        {"user": user, "top": req.query.get("$top"), "got": body}, 201 if body else 200
    )


def fail(sb: Sandbox, req: SandboxRequest) -> SandboxResponse:
    raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")


def make_sandbox() -> tuple[Sandbox, requests.Session, dict[str, str]]:
    sb = Sandbox(TenantState(tenant_id="t"), ManualClock(datetime(2025, 3, 3, tzinfo=UTC)))
    sb.state.directory.add_user(User(id="a", userPrincipalName="a@c.test", displayName="A"))
    for method in ("GET", "POST"):
        sb.router.add(
            method,
            "/users/{user}/batchProbe",
            echo,
            service="outlook",
            permissions=("Calendars.ReadWrite",),
            mailbox_param="user",
        )
    sb.router.add("GET", "/batchFail", fail, service="directory")
    sb.register_app("app", secret="s", roles=["Calendars.ReadWrite"])
    return sb, sandbox_session(sb), {"Authorization": f"Bearer {sb.token_for('app')}"}


def post(
    session: requests.Session, headers: dict[str, str], items: list[dict[str, Any]]
) -> requests.Response:
    return session.post(BATCH, json={"requests": items}, headers=headers, timeout=5)


def by_id(response: requests.Response) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in response.json()["responses"]}


def test_a_batch_answers_each_request_with_its_own_status_and_body() -> None:
    _, session, headers = make_sandbox()
    response = post(
        session,
        headers,
        [
            {"id": "1", "method": "GET", "url": "/users/a/batchProbe?$top=5"},
            {
                "id": "2",
                "method": "POST",
                "url": "users/a/batchProbe",
                "body": {"subject": "x"},
                "headers": {"Content-Type": "application/json"},
            },
            {"id": "3", "method": "GET", "url": "/batchFail"},
        ],
    )
    assert response.status_code == 200
    answers = by_id(response)
    assert answers["1"]["status"] == 200 and answers["1"]["body"]["top"] == "5"
    assert answers["2"]["status"] == 201 and answers["2"]["body"]["got"] == {"subject": "x"}
    assert answers["3"]["status"] == 404
    assert answers["3"]["body"]["error"]["code"] == "ErrorItemNotFound"


def test_a_batch_of_21_requests_is_refused_whole() -> None:
    _, session, headers = make_sandbox()
    items = [{"id": str(n), "method": "GET", "url": "/users/a/batchProbe"} for n in range(21)]
    response = post(session, headers, items)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "BadRequest"
    assert post(session, headers, items[:20]).status_code == 200


def test_duplicate_ids_and_a_body_without_content_type_are_refused() -> None:
    _, session, headers = make_sandbox()
    twice = [{"id": "1", "method": "GET", "url": "/users/a/batchProbe"}] * 2
    assert post(session, headers, twice).status_code == 400
    untyped = [{"id": "1", "method": "POST", "url": "/users/a/batchProbe", "body": {"a": 1}}]
    assert post(session, headers, untyped).status_code == 400


def test_a_request_whose_dependency_failed_answers_424() -> None:
    _, session, headers = make_sandbox()
    answers = by_id(
        post(
            session,
            headers,
            [
                {"id": "1", "method": "GET", "url": "/batchFail"},
                {"id": "2", "method": "GET", "url": "/users/a/batchProbe", "dependsOn": ["1"]},
                {"id": "3", "method": "GET", "url": "/users/a/batchProbe", "dependsOn": ["2"]},
            ],
        )
    )
    assert [answers[i]["status"] for i in ("1", "2", "3")] == [404, 424, 424]


def test_depends_on_must_name_an_earlier_request() -> None:
    _, session, headers = make_sandbox()
    response = post(
        session,
        headers,
        [
            {"id": "1", "method": "GET", "url": "/users/a/batchProbe", "dependsOn": ["2"]},
            {"id": "2", "method": "GET", "url": "/users/a/batchProbe"},
        ],
    )
    assert response.status_code == 400


def test_an_inner_429_carries_its_own_retry_after_while_the_batch_is_200() -> None:
    sb, session, headers = make_sandbox()
    sb.faults.add(FaultRule(kind="429", path="batchProbe", count=1, retry_after=12))
    response = post(
        session,
        headers,
        [
            {"id": "1", "method": "GET", "url": "/users/a/batchProbe"},
            {"id": "2", "method": "GET", "url": "/users/a/batchProbe"},
        ],
    )
    assert response.status_code == 200
    answers = by_id(response)
    assert answers["1"]["status"] == 429
    assert answers["1"]["headers"]["retry-after"] == "12"
    assert answers["2"]["status"] == 200


def test_inner_requests_use_the_outer_token_and_their_own_permissions() -> None:
    sb, session, _ = make_sandbox()
    sb.register_app("weak", secret="s", roles=["User.Read.All"])
    weak = {"Authorization": f"Bearer {sb.token_for('weak')}"}
    answers = by_id(
        post(session, weak, [{"id": "1", "method": "GET", "url": "/users/a/batchProbe"}])
    )
    assert answers["1"]["status"] == 403
    assert (
        post(session, {}, [{"id": "1", "method": "GET", "url": "/users/a/batchProbe"}]).status_code
        == 401
    )


def test_inner_requests_count_against_the_mailbox_rate_limit() -> None:
    sb, session, headers = make_sandbox()
    sb.throttle.preload(("outlook", "app", "a"), 9_999)
    answers = by_id(
        post(
            session,
            headers,
            [
                {"id": "1", "method": "GET", "url": "/users/a/batchProbe"},
                {"id": "2", "method": "GET", "url": "/users/a/batchProbe"},
            ],
        )
    )
    assert [answers["1"]["status"], answers["2"]["status"]] == [200, 429]
    assert "retry-after" in answers["2"]["headers"]
