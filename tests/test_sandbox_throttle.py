"""Outlook, Teams and SharePoint throttling as the sandbox enforces it."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from graph.clock import ManualClock
from graph.sandbox.core import Headers, SandboxRequest, SandboxResponse, json_response
from graph.sandbox.directory import User
from graph.sandbox.faults import FaultRule
from graph.sandbox.state import TenantState
from graph.sandbox.tenant_app import Sandbox
from graph.sandbox.throttle import ThrottleConfig, sharepoint_cost

START = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)


def ok(sb: Sandbox, req: SandboxRequest, **params: str) -> SandboxResponse:
    return json_response({"ok": True})


def make_sandbox(config: ThrottleConfig | None = None) -> tuple[Sandbox, ManualClock, str]:
    clock = ManualClock(START)
    sb = Sandbox(TenantState(tenant_id="t"), clock, throttle=config)
    for uid in ("a", "b"):
        sb.state.directory.add_user(
            User(id=uid, userPrincipalName=f"{uid}@c.test", displayName=uid)
        )
    sb.router.add("GET", "/users/{user}/probe", ok, service="outlook", mailbox_param="user")
    sb.router.add(
        "POST", "/sandboxTest/{user}/teamwork/sendActivityNotification", ok, service="teams"
    )
    sb.router.add("GET", "/sandboxSites/{site}/lists/{list}/items", ok, service="sharepoint")
    sb.register_app("app", secret="s", roles=["Calendars.Read"])
    return sb, clock, sb.token_for("app")


def request(token: str, method: str, path: str) -> SandboxRequest:
    return SandboxRequest(method, path, headers=Headers({"Authorization": f"Bearer {token}"}))


def test_the_fifth_concurrent_request_to_one_mailbox_gets_429_with_retry_after() -> None:
    sb, _, token = make_sandbox()
    sb.faults.add(FaultRule(kind="latency", path="/probe", latency=0.6))
    barrier = threading.Barrier(5)

    def call(_: int) -> SandboxResponse:
        barrier.wait(timeout=5)
        return sb.handle(request(token, "GET", "/users/a/probe"))

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=5) as pool:
        answers = list(pool.map(call, range(5)))
    assert time.monotonic() - started < 3
    assert sorted(a.status for a in answers) == [200, 200, 200, 200, 429]
    refused = next(a for a in answers if a.status == 429)
    assert refused.headers["Retry-After"] == "1"
    assert refused.body["error"]["message"] == "Application is over its MailboxConcurrency limit."


def test_concurrency_is_counted_per_mailbox() -> None:
    sb, _, token = make_sandbox()
    sb.faults.add(FaultRule(kind="latency", path="/probe", latency=0.4))
    barrier = threading.Barrier(5)
    paths = ["/users/a/probe"] * 4 + ["/users/B@c.test/probe"]

    def call(path: str) -> SandboxResponse:
        barrier.wait(timeout=5)
        return sb.handle(request(token, "GET", path))

    with ThreadPoolExecutor(max_workers=5) as pool:
        answers = list(pool.map(call, paths))
    assert [a.status for a in answers] == [200] * 5


def test_the_10001st_request_in_ten_minutes_gets_429_for_real() -> None:
    sb, clock, token = make_sandbox()
    started = time.monotonic()
    for _ in range(10_000):
        clock.advance(0.01)
        assert sb.handle(request(token, "GET", "/users/a/probe")).status == 200
    refused = sb.handle(request(token, "GET", "/users/a/probe"))
    assert time.monotonic() - started < 10
    assert refused.status == 429
    assert refused.body["error"]["code"] == "ApplicationThrottled"
    assert int(refused.headers["Retry-After"]) >= 1
    # Another mailbox is not affected.
    assert sb.handle(request(token, "GET", "/users/b/probe")).status == 200


def test_a_scaled_window_refuses_over_the_limit_and_recovers_after_retry_after() -> None:
    sb, clock, token = make_sandbox(ThrottleConfig().scaled(0.001))
    assert sb.throttle.config.outlook_limit == 10
    assert sb.throttle.config.outlook_window_s == 0.6
    codes = [sb.handle(request(token, "GET", "/users/a/probe")).status for _ in range(11)]
    assert codes == [200] * 10 + [429]
    refused = sb.handle(request(token, "GET", "/users/a/probe"))
    clock.advance(float(refused.headers["Retry-After"]))
    assert sb.handle(request(token, "GET", "/users/a/probe")).status == 200


def test_preloading_a_window_puts_a_test_at_the_edge_of_the_limit() -> None:
    sb, _, token = make_sandbox()
    sb.throttle.preload(("outlook", "app", "a"), 9_999)
    assert sb.handle(request(token, "GET", "/users/a/probe")).status == 200
    assert sb.handle(request(token, "GET", "/users/a/probe")).status == 429


def test_a_sixth_activity_notification_in_one_second_is_throttled() -> None:
    sb, clock, token = make_sandbox()
    path = "/sandboxTest/a/teamwork/sendActivityNotification"
    codes = [sb.handle(request(token, "POST", path)).status for _ in range(6)]
    assert codes == [200] * 5 + [429]
    clock.advance(1.0)
    assert sb.handle(request(token, "POST", path)).status == 200


def test_sharepoint_counts_resource_units_per_minute() -> None:
    sb, clock, token = make_sandbox(ThrottleConfig(sharepoint_ru_limit=4))
    path = "/sandboxSites/s/lists/l/items"
    codes = [sb.handle(request(token, "GET", path)).status for _ in range(3)]
    assert codes == [200, 200, 429]
    assert sb.handle(request(token, "GET", path)).body["error"]["code"] == "activityLimitReached"
    clock.advance(60)
    assert sb.handle(request(token, "GET", path)).status == 200


def test_sharepoint_costs_follow_the_documented_table() -> None:
    assert sharepoint_cost("GET", "/sites/s/lists/l/items/5", {}) == 1
    assert sharepoint_cost("GET", "/sites/s/lists/l/items", {}) == 2
    assert sharepoint_cost("PATCH", "/sites/s/lists/l/items/5/fields", {}) == 2
    assert sharepoint_cost("GET", "/sites/s/permissions", {}) == 5


def test_throttling_can_be_switched_off() -> None:
    sb, _, token = make_sandbox(ThrottleConfig(enabled=False, outlook_limit=1))
    codes = [sb.handle(request(token, "GET", "/users/a/probe")).status for _ in range(3)]
    assert codes == [200, 200, 200]
