"""The sandbox pipeline: auth, permissions, errors, headers, faults, recording, state files."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from graph.clock import ManualClock
from graph.sandbox.core import GraphError, SandboxRequest, SandboxResponse, json_response
from graph.sandbox.directory import User
from graph.sandbox.faults import FaultRule
from graph.sandbox.state import TenantState
from graph.sandbox.tenant_app import Sandbox
from graph.sandbox.transport import sandbox_session

GRAPH = "https://graph.microsoft.com/v1.0"
START = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)


def probe(sb: Sandbox, req: SandboxRequest, user: str) -> SandboxResponse:
    return json_response({"user": sb.state.directory.mailbox(user).id, "app": req.app_id})


def crash(sb: Sandbox, req: SandboxRequest) -> SandboxResponse:
    raise RuntimeError("handler bug with a secret-looking detail")


def make_sandbox(tmp_path: Path | None = None) -> tuple[Sandbox, ManualClock]:
    clock = ManualClock(START)
    record = tmp_path / "requests.jsonl" if tmp_path else None
    sb = Sandbox(TenantState(tenant_id="tenant-1"), clock, record_file=record)
    sb.state.directory.add_user(
        User(
            id="u1",
            userPrincipalName="ada@contoso.test",
            displayName="Ada",
            jobTitle="Mentor",
            mailboxSettings={"timeZone": "W. Europe Standard Time"},
        )
    )
    sb.router.add(
        "GET",
        "/users/{user}/sandboxProbe",
        probe,
        service="outlook",
        permissions=("Calendars.Read", "Calendars.ReadWrite"),
        mailbox_param="user",
    )
    sb.router.add("GET", "/sandboxCrash", crash, service="directory")
    sb.register_app("reader", secret="s3cret-value", roles=["Calendars.Read", "User.Read.All"])
    sb.register_app("nobody", secret="other-secret", roles=["Sites.Selected"])
    return sb, clock


def get(
    session: requests.Session, url: str, token: str | None, **headers: str
) -> requests.Response:
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return session.get(url, headers=headers, timeout=5)


def test_a_request_without_a_token_is_refused_with_access_token_is_empty() -> None:
    sb, _ = make_sandbox()
    response = get(sandbox_session(sb), f"{GRAPH}/users/u1/sandboxProbe", None)
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "InvalidAuthenticationToken"
    assert error["message"] == "Access token is empty."
    assert "WWW-Authenticate" in response.headers


def test_a_token_is_refused_once_the_sandbox_clock_passes_its_lifetime() -> None:
    sb, clock = make_sandbox()
    session = sandbox_session(sb)
    token = sb.token_for("reader")
    assert get(session, f"{GRAPH}/users/u1/sandboxProbe", token).status_code == 200
    clock.advance(sb.token_lifetime + 1)
    response = get(session, f"{GRAPH}/users/u1/sandboxProbe", token)
    assert response.status_code == 401
    assert (
        response.json()["error"]["message"] == "Lifetime validation failed, the token is expired."
    )


def test_a_tampered_or_malformed_token_is_refused() -> None:
    sb, _ = make_sandbox()
    session = sandbox_session(sb)
    token = sb.token_for("reader")
    head, payload, signature = token.split(".")
    forged = f"{head}.{payload}.{signature[:-2]}AA"
    assert get(session, f"{GRAPH}/users/u1/sandboxProbe", forged).status_code == 401
    assert get(session, f"{GRAPH}/users/u1/sandboxProbe", "not-a-jwt").status_code == 401
    other = Sandbox(TenantState(tenant_id="tenant-1"), ManualClock(START))
    other.register_app("reader", secret="x", roles=["Calendars.Read"])
    foreign = other.token_for("reader")
    assert get(session, f"{GRAPH}/users/u1/sandboxProbe", foreign).status_code == 401


def test_an_outlook_call_outside_the_app_permissions_is_error_access_denied() -> None:
    sb, _ = make_sandbox()
    response = get(sandbox_session(sb), f"{GRAPH}/users/u1/sandboxProbe", sb.token_for("nobody"))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "ErrorAccessDenied"


def test_a_directory_call_outside_the_app_permissions_is_authorization_request_denied() -> None:
    sb, _ = make_sandbox()
    response = get(sandbox_session(sb), f"{GRAPH}/users/u1", sb.token_for("nobody"))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "Authorization_RequestDenied"
    assert (
        response.json()["error"]["message"] == "Insufficient privileges to complete the operation."
    )


def test_get_user_honours_select_and_finds_users_by_principal_name() -> None:
    sb, _ = make_sandbox()
    token = sb.token_for("reader")
    response = get(
        sandbox_session(sb), f"{GRAPH}/users/ADA@contoso.test?$select=displayName,jobTitle", token
    )
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == "u1"
    assert body["displayName"] == "Ada"
    assert body["jobTitle"] == "Mentor"
    assert "userPrincipalName" not in body


def test_an_unknown_user_is_request_resource_not_found() -> None:
    sb, _ = make_sandbox()
    response = get(sandbox_session(sb), f"{GRAPH}/users/ghost@contoso.test", sb.token_for("reader"))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "Request_ResourceNotFound"


def test_listing_users_pages_with_top_and_next_link_until_everyone_is_seen() -> None:
    sb, _ = make_sandbox()
    for n in range(2, 8):
        sb.state.directory.add_user(
            User(id=f"u{n}", userPrincipalName=f"p{n}@contoso.test", displayName=f"P{n}")
        )
    session = sandbox_session(sb)
    token = sb.token_for("reader")
    url: str | None = f"{GRAPH}/users?$top=3&$select=id"
    seen: list[str] = []
    for _ in range(10):
        if url is None:
            break
        page = get(session, url, token).json()
        assert len(page["value"]) <= 3
        seen += [u["id"] for u in page["value"]]
        url = page.get("@odata.nextLink")
    assert sorted(seen) == [f"u{n}" for n in range(1, 8)]


def test_mailbox_settings_need_a_mailbox_settings_permission() -> None:
    sb, _ = make_sandbox()
    session = sandbox_session(sb)
    url = f"{GRAPH}/users/u1/mailboxSettings"
    assert get(session, url, sb.token_for("reader")).json()["error"]["code"] == "ErrorAccessDenied"
    sb.register_app("settings", secret="x", roles=["MailboxSettings.Read"])
    body = get(session, url, sb.token_for("settings")).json()
    assert body["timeZone"] == "W. Europe Standard Time"


def test_a_handler_crash_is_a_graph_500_without_a_traceback() -> None:
    sb, _ = make_sandbox()
    response = get(sandbox_session(sb), f"{GRAPH}/sandboxCrash", sb.token_for("reader"))
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "generalException"
    assert "Traceback" not in response.text
    assert "secret-looking" not in response.text


def test_every_response_carries_request_ids_and_a_date_from_the_sandbox_clock() -> None:
    sb, _ = make_sandbox()
    response = get(
        sandbox_session(sb),
        f"{GRAPH}/users/u1/sandboxProbe",
        sb.token_for("reader"),
        **{"client-request-id": "abc-123"},
    )
    assert response.headers["client-request-id"] == "abc-123"
    assert response.headers["request-id"]
    assert response.headers["Date"] == "Mon, 03 Mar 2025 08:00:00 GMT"
    assert response.reason == "OK"
    assert response.url.endswith("/sandboxProbe")


def test_an_unknown_path_is_a_graph_bad_request() -> None:
    sb, _ = make_sandbox()
    response = get(sandbox_session(sb), f"{GRAPH}/nothingHere", sb.token_for("reader"))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "BadRequest"


def test_count_faults_hit_the_next_matching_requests_only() -> None:
    sb, _ = make_sandbox()
    session = sandbox_session(sb)
    token = sb.token_for("reader")
    sb.faults.add(FaultRule(kind="503", path="sandboxProbe", count=2, retry_after=7))
    statuses = [get(session, f"{GRAPH}/users/u1/sandboxProbe", token) for _ in range(3)]
    assert [r.status_code for r in statuses] == [503, 503, 200]
    assert statuses[0].headers["Retry-After"] == "7"


def test_after_faults_start_after_n_matches_and_respect_the_method() -> None:
    sb, _ = make_sandbox()
    session = sandbox_session(sb)
    token = sb.token_for("reader")
    sb.faults.add(FaultRule(kind="504", method="GET", path="sandboxProbe", after=1, count=1))
    sb.faults.add(FaultRule(kind="429", method="POST", path="sandboxProbe"))
    codes = [get(session, f"{GRAPH}/users/u1/sandboxProbe", token).status_code for _ in range(3)]
    assert codes == [200, 504, 200]


def test_share_faults_repeat_exactly_with_the_same_seed() -> None:
    def run() -> list[int]:
        sb, _ = make_sandbox()
        session = sandbox_session(sb)
        token = sb.token_for("reader")
        sb.faults.add(FaultRule(kind="429", share=0.5, retry_after=1))
        return [
            get(session, f"{GRAPH}/users/u1/sandboxProbe", token).status_code for _ in range(20)
        ]

    first = run()
    assert first == run()
    assert 429 in first and 200 in first


def test_drop_and_timeout_faults_surface_as_network_errors() -> None:
    sb, _ = make_sandbox()
    session = sandbox_session(sb)
    token = sb.token_for("reader")
    sb.faults.add(FaultRule(kind="drop", count=1))
    sb.faults.add(FaultRule(kind="timeout", count=1))
    with pytest.raises(requests.ConnectionError):
        get(session, f"{GRAPH}/users/u1/sandboxProbe", token)
    with pytest.raises(requests.ReadTimeout):
        get(session, f"{GRAPH}/users/u1/sandboxProbe", token)
    assert get(session, f"{GRAPH}/users/u1/sandboxProbe", token).status_code == 200


def test_a_malformed_json_body_on_a_typed_route_is_a_bad_request() -> None:
    sb, _ = make_sandbox()
    sb.router.add(
        "POST",
        "/sandboxTyped",
        lambda sb, req: json_response({}),
        service="directory",
        body_type="microsoft.graph.event",
    )
    response = sandbox_session(sb).post(
        f"{GRAPH}/sandboxTyped",
        data=b"{not json",
        headers={"Authorization": f"Bearer {sb.token_for('reader')}"},
        timeout=5,
    )
    assert response.status_code == 400


def test_sites_selected_needs_a_grant_on_that_very_site() -> None:
    sb, _ = make_sandbox()
    sb.register_app("granted", secret="x", roles=["Sites.Selected"], selected_sites=["site-a"])
    req = SandboxRequest(
        "GET", "/sites/site-a", app_id="granted", roles=frozenset({"Sites.Selected"})
    )
    sb.require_site_access(req, "site-a")
    with pytest.raises(GraphError) as refused:
        sb.require_site_access(req, "site-b")
    assert refused.value.status == 403
    wide = SandboxRequest("GET", "/sites/x", app_id="reader", roles=frozenset({"Sites.Read.All"}))
    sb.require_site_access(wide, "site-b")


def test_the_record_file_holds_requests_and_statuses_but_no_token_or_secret(tmp_path: Path) -> None:
    sb, _ = make_sandbox(tmp_path)
    session = sandbox_session(sb)
    token = sb.token_for("reader")
    get(session, f"{GRAPH}/users/u1/sandboxProbe", token)
    session.post(
        "https://login.sandbox.test/tenant-1/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "reader",
            "client_secret": "s3cret-value",
            "scope": "https://graph.microsoft.com/.default",
        },
        timeout=5,
    )
    sb.close()
    text = (tmp_path / "requests.jsonl").read_text()
    lines = [json.loads(line) for line in text.splitlines()]
    assert [entry["status"] for entry in lines] == [200, 200]
    assert lines[0]["path"] == "/users/u1/sandboxProbe"
    assert "client_id=reader" in lines[1]["body"]
    assert token not in text
    assert token.split(".")[2] not in text
    assert "s3cret-value" not in text
    assert "authorization" not in {k.lower() for k in lines[0]["headers"]}


def test_state_survives_a_save_and_load_round_trip(tmp_path: Path) -> None:
    sb, _ = make_sandbox()
    path = tmp_path / "state" / "tenant.json"
    sb.save(path)
    loaded = TenantState.load(path)
    assert loaded.tenant_id == "tenant-1"
    assert loaded.directory.get("ada@contoso.test").mailboxSettings["timeZone"] == (
        "W. Europe Standard Time"
    )
    assert loaded.directory.apps["reader"].client_secrets == ["s3cret-value"]
    assert loaded.to_json() == sb.state.to_json()
    assert [p.name for p in path.parent.iterdir()] == ["tenant.json"]


def test_a_sandbox_is_created_from_a_fixture_dict_or_callable() -> None:
    clock = ManualClock(START)
    data = TenantState(tenant_id="t-9").to_json()
    assert Sandbox.create(clock=clock, fixture=data).state.tenant_id == "t-9"
    assert (
        Sandbox.create(clock=clock, fixture=lambda c: TenantState(tenant_id="t-8")).state.tenant_id
        == "t-8"
    )


def test_the_control_api_moves_the_clock_and_adds_faults() -> None:
    sb, clock = make_sandbox()
    session = sandbox_session(sb)
    base = "http://127.0.0.1:1/_sandbox"
    assert session.post(f"{base}/clock", json={"advance": 3600}, timeout=5).status_code == 200
    assert clock.now() == START.replace(hour=9)
    session.post(
        f"{base}/faults", json={"kind": "503", "path": "sandboxProbe", "count": 1}, timeout=5
    )
    token = sb.token_for("reader")
    assert get(session, f"{GRAPH}/users/u1/sandboxProbe", token).status_code == 503
    recent = session.get(f"{base}/requests?top=1", timeout=5).json()["value"]
    assert recent[-1]["status"] == 503
    assert session.get(f"{base}/state", timeout=5).json()["tenant_id"] == "tenant-1"
    assert session.post(f"{base}/faults", json={"kind": "boom"}, timeout=5).status_code == 400
