"""`mentoring doctor` for the weekly digest: Mail.Send on the program mailbox, found by a send
with no recipient (nothing delivered), scoped with Exchange RBAC for Applications."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from graph.clock import ManualClock
from graph.sandbox.mail import received, sent_items
from graph.sandbox.tenant_app import Sandbox
from tests.conftest import EXAMPLE_CONFIG
from tests.test_doctor import CLIENT_ID, deployed_tenant, doctor

ORGANIZER = "mentoring@contoso.com"
CHECK = "digest mailbox (Mail.Send)"


@pytest.fixture
def digest_tenant(monkeypatch: pytest.MonkeyPatch, tmp_path: Path
                  ) -> tuple[Sandbox, ManualClock]:
    """The demo tenant as IT deploys it for a program with a digest: Mail.Send given through
    Exchange RBAC for Applications on the program mailbox, like the calendar."""
    config_dir = tmp_path / "config"
    shutil.copytree(EXAMPLE_CONFIG, config_dir)
    program = config_dir / "program.yaml"
    program.write_text(program.read_text(encoding="utf-8")
                       + "\ndigest:\n  admins: [ava.nguyen@contoso.com]\n", encoding="utf-8")
    # As the README grants it: Mail.Send too, scoped to the program mailbox.
    return deployed_tenant(monkeypatch, config_dir)


def test_mail_send_scoped_to_the_program_mailbox_passes_and_sends_nothing(
    digest_tenant: tuple[Sandbox, ManualClock],
) -> None:
    sandbox, clock = digest_tenant
    code, records, _ = doctor(sandbox, clock)
    assert code == 0, records
    assert records[CHECK]["result"] == "ok"
    assert "Exchange RBAC" in records[CHECK]["detail"]
    assert sent_items(sandbox, ORGANIZER) == []
    assert received(sandbox, "ava.nguyen@contoso.com") == []


def test_mail_send_missing_fails_with_the_scope_commands(
    digest_tenant: tuple[Sandbox, ManualClock],
) -> None:
    sandbox, clock = digest_tenant
    app = sandbox.app(CLIENT_ID)
    app.exchange_roles = [r for r in app.exchange_roles if r != "Mail.Send"]
    code, records, _ = doctor(sandbox, clock)
    assert code == 2
    assert records[CHECK]["result"] == "fail"
    assert 'New-ManagementRoleAssignment' in records[CHECK]["fix"]
    assert '"Application Mail.Send"' in records[CHECK]["fix"]


def test_a_tenant_wide_mail_send_is_a_least_privilege_warning(
    digest_tenant: tuple[Sandbox, ManualClock],
) -> None:
    sandbox, clock = digest_tenant
    sandbox.set_roles(CLIENT_ID, add=["Mail.Send"])
    _, records, _ = doctor(sandbox, clock)
    assert records[CHECK]["result"] == "warning"
    assert "as anyone" in records[CHECK]["detail"]
