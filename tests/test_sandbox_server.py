"""The sandbox over HTTP on 127.0.0.1: same answers, state saved, record without secrets."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from graph.clock import ManualClock
from graph.sandbox.directory import User
from graph.sandbox.faults import FaultRule
from graph.sandbox.server import SandboxHTTPServer, serve, start_in_thread
from graph.sandbox.state import TenantState
from graph.sandbox.tenant_app import Sandbox


def make_sandbox() -> Sandbox:
    sb = Sandbox(TenantState(tenant_id="t"), ManualClock(datetime(2025, 3, 3, tzinfo=UTC)))
    sb.state.directory.add_user(User(id="a", userPrincipalName="a@c.test", displayName="A"))
    sb.register_app("app", secret="top-secret", roles=["User.Read.All"])
    return sb


def test_the_server_binds_loopback_only() -> None:
    with pytest.raises(ValueError, match=r"127\.0\.0\.1"):
        SandboxHTTPServer(make_sandbox(), host="0.0.0.0", port=0)  # noqa: S104 - refused on purpose


def test_the_server_answers_token_and_graph_requests_over_http() -> None:
    sb = make_sandbox()
    server, base = start_in_thread(sb)
    try:
        assert base.startswith("http://127.0.0.1:")
        token = requests.post(
            f"{base}/t/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": "app",
                "client_secret": "top-secret",
                "scope": "https://graph.microsoft.com/.default",
            },
            timeout=5,
        ).json()["access_token"]
        user = requests.get(
            f"{base}/v1.0/users/a@c.test", headers={"Authorization": f"Bearer {token}"}, timeout=5
        )
        assert user.status_code == 200
        assert user.json()["displayName"] == "A"
        assert user.headers["request-id"]
        assert requests.get(f"{base}/v1.0/users/a", timeout=5).status_code == 401
        sb.faults.add(FaultRule(kind="drop", count=1))
        with pytest.raises(requests.ConnectionError):
            requests.get(f"{base}/v1.0/users/a", timeout=5)
    finally:
        server.shutdown()
        server.server_close()


def test_serve_saves_state_and_records_without_secrets(tmp_path: Path) -> None:
    sb = make_sandbox()
    state_file = tmp_path / "state.json"
    record_file = tmp_path / "requests.jsonl"
    stop = threading.Event()
    ready = threading.Event()
    urls: list[str] = []

    def on_ready(base: str) -> None:
        urls.append(base)
        ready.set()

    thread = threading.Thread(
        target=serve,
        args=(sb, 0, state_file, record_file),
        kwargs={"save_every": 0.05, "stop": stop, "install_signals": False, "on_ready": on_ready},
        daemon=True,
    )
    thread.start()
    assert ready.wait(5)
    requests.post(
        f"{urls[0]}/t/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "app",
            "client_secret": "top-secret",
            "scope": "https://graph.microsoft.com/.default",
        },
        timeout=5,
    )
    stop.set()
    thread.join(5)
    assert not thread.is_alive()
    assert TenantState.load(state_file).directory.get("a").displayName == "A"
    text = record_file.read_text()
    assert "oauth2/v2.0/token" in text
    assert "top-secret" not in text
    assert "client_secret=[redacted]" in text
