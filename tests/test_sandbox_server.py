"""The sandbox over HTTP on 127.0.0.1: same answers, state saved, record without secrets."""

from __future__ import annotations

import io
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

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


def test_sandbox_serve_grants_what_the_readme_asks_optional_features_included(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`mentoring sandbox serve` registers the worker's app with the README's permissions:
    the calendars and the digest's Mail.Send scoped to the program mailbox with Exchange RBAC,
    GroupMember.Read.All for `mentoring suggest`; the secret goes to a mode-600 file only."""
    from graph.sandbox import cli

    served: list[Any] = []

    def fake_serve(sandbox: Any, port: int, state: Any, record: Any, *, on_ready: Any) -> None:
        served.append(sandbox)
        on_ready("http://127.0.0.1:1")

    monkeypatch.setattr(cli, "serve", fake_serve)
    env_file = tmp_path / "sandbox.env"
    out = io.StringIO()
    assert cli.serve_command(port=0, state=None, record=None, env_file=env_file, out=out) == 0
    values = dict(line.split("=", 1) for line in env_file.read_text().splitlines())
    app = served[0].state.directory.apps[values["MENTORING_CLIENT_ID"]]
    assert "GroupMember.Read.All" in app.roles
    assert not {"Calendars.ReadWrite", "Mail.Send"} & set(app.roles)  # not tenant-wide...
    assert set(app.exchange_roles) == {"Calendars.ReadWrite", "Mail.Send"}  # ...but scoped
    assert app.mailbox_scope == ["mentoring@contoso.com"]
    assert env_file.stat().st_mode & 0o777 == 0o600
    assert values["MENTORING_CLIENT_SECRET"] not in out.getvalue()
