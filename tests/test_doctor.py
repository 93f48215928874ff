"""`mentoring doctor` against the sandbox tenant: all ok on the demo tenant as IT deploys it,
and each broken precondition named with its fix and the exit code it deserves, without
writing anything."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path
from typing import Any

import pytest

from graph.clock import ManualClock
from graph.sandbox.faults import FaultRule
from graph.sandbox.fixtures import demo_tenant
from graph.sandbox.sharepoint import DEMO_HOSTNAME, DEMO_SITE_PATH
from graph.sandbox.teams import TeamsStore
from graph.sandbox.tenant_app import Sandbox
from graph.sandbox.transport import sandbox_session
from tests.conftest import EXAMPLE_CONFIG, TEMPLATES, CountingAdapter, wrap_session
from worker.cli.demo import build_world, init_notes_list
from worker.cli.main import main
from worker.config import load_config

SECRET = "doctor-s3cret-that-must-never-leak"
CLIENT_ID = "11111111-2222-3333-4444-555555555555"
START = datetime(2027, 1, 4, 6, 0, tzinfo=UTC)
PROGRAM_SITE = f"{DEMO_HOSTNAME}:{DEMO_SITE_PATH}"
UNLICENSED = "sam.rivera@contoso.com"  # the demo tenant's one mentor without Teams
CHECKS = [
    "settings", "config", "templates", "token", "permission User.Read.All",
    "participants exist", "organizer mailbox", "least privilege: mailboxes",
    "participants' mailboxes", "program site", "least privilege: sites", "notes list",
    "site grant allows writes", "Teams app in the catalog", "permission TeamsAppInstallation",
    "permission TeamsActivity.Send", "participants' Teams licences",
]


def deployed_tenant(monkeypatch: pytest.MonkeyPatch, config_dir: Path,
                    roles: tuple[str, ...] | None = None) -> tuple[Sandbox, ManualClock]:
    """The demo tenant as IT leaves it before the first run of the program in `config_dir`
    (app registered with the permissions the README asks for it, or `roles`; calendar access
    scoped to the program mailbox, a write grant on the program's site, the Teams app
    uploaded, the lists created), with its one mentor without Teams given a licence, and the
    worker's settings pointing at it."""
    clock = ManualClock(START)
    sandbox = Sandbox.create(clock=clock, fixture=demo_tenant)
    config = load_config(config_dir, today=START.date())
    world = build_world(config, sandbox, clock, roles=roles, client_id=CLIENT_ID,
                        secret=SECRET)
    assert config.program.sharepoint is not None
    init_notes_list(world)
    sandbox.set_person(UNLICENSED, teams_license=True)
    for key in list(os.environ):
        if key.startswith("MENTORING_") or key == "AZURE_FEDERATED_TOKEN_FILE":
            monkeypatch.delenv(key)
    monkeypatch.setenv("MENTORING_TENANT_ID", sandbox.state.tenant_id)
    monkeypatch.setenv("MENTORING_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("MENTORING_CLIENT_SECRET", SECRET)
    monkeypatch.setenv("MENTORING_CONFIG_DIR", str(config_dir))
    monkeypatch.setenv("MENTORING_TEMPLATES_DIR", str(TEMPLATES))
    return sandbox, clock


@pytest.fixture
def tenant(monkeypatch: pytest.MonkeyPatch) -> tuple[Sandbox, ManualClock]:
    """The example program's tenant, so that every check holds."""
    return deployed_tenant(monkeypatch, EXAMPLE_CONFIG)


def doctor(sandbox: Sandbox, clock: ManualClock, *extra: str,
           log_format: str = "json") -> tuple[int, dict[str, dict[str, Any]], str]:
    """Run `mentoring doctor`; the exit code, each check's JSON record by name, the output."""
    out = StringIO()
    code = main(["--log-format", log_format, *extra, "doctor"], clock=clock,
                session=sandbox_session(sandbox), out=out)
    records: dict[str, dict[str, Any]] = {}
    if log_format == "json":
        for line in out.getvalue().splitlines():
            record = json.loads(line)
            records[record["check"]] = record
    return code, records, out.getvalue()


def failing(records: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in records.items() if r["result"] != "ok"}


def test_every_check_passes_on_the_demo_tenant(tenant: tuple[Sandbox, ManualClock]) -> None:
    code, records, _ = doctor(*tenant)
    assert code == 0, failing(records)
    assert list(records) == CHECKS
    assert {r["result"] for r in records.values()} == {"ok"}
    assert all(r["exit_code"] == 0 and r["fix"] is None for r in records.values())
    # Least privilege holds, and says how it was seen.
    assert "403 ErrorAccessDenied" in records["least privilege: mailboxes"]["detail"]
    assert "403 accessDenied" in records["least privilege: sites"]["detail"]
    assert "Exchange RBAC" in records["organizer mailbox"]["detail"]
    assert "Calendars.ReadWrite" not in records["token"]["detail"]  # scoped, not tenant-wide


def test_the_table_on_a_terminal_names_every_check_and_the_exit_code(
    tenant: tuple[Sandbox, ManualClock],
) -> None:
    code, _, text = doctor(*tenant, log_format="text")
    assert code == 0
    header, *rows = text.splitlines()
    assert header.split() == ["CHECK", "RESULT", "DETAIL"]
    for name in CHECKS:
        assert any(row.startswith(f"{name} ") and " ok " in row for row in rows), name
    assert rows[-1] == f"{len(CHECKS)} checks: {len(CHECKS)} ok, 0 warning(s), 0 failure(s); exit 0"
    assert SECRET not in text


def test_the_demo_mentor_without_teams_is_a_warning_with_the_portal_step(
    tenant: tuple[Sandbox, ManualClock],
) -> None:
    sandbox, clock = tenant
    sandbox.set_person(UNLICENSED, teams_license=False)
    code, records, _ = doctor(sandbox, clock)
    assert code == 1
    [(name, record)] = failing(records).items()
    assert name == "participants' Teams licences" and record["result"] == "warning"
    assert UNLICENSED in record["detail"] and "TEAMS1" in record["detail"]
    assert "Licenses and apps" in record["fix"] and "Microsoft Teams" in record["fix"]
    assert record["exit_code"] == 1


def test_a_missing_permission_is_named_with_the_consent_to_grant(
    tenant: tuple[Sandbox, ManualClock],
) -> None:
    sandbox, clock = tenant
    sandbox.set_roles(CLIENT_ID, remove=["User.Read.All"])
    code, records, _ = doctor(sandbox, clock)
    assert code == 2
    record = records["permission User.Read.All"]
    assert record["result"] == "fail" and "Authorization_RequestDenied" in record["detail"]
    assert "User.Read.All" in record["fix"] and "Grant admin consent" in record["fix"]
    assert CLIENT_ID in record["fix"]
    assert "User.Read.All" not in records["token"]["detail"]


def test_a_missing_teams_permission_is_named_from_the_roles_claim(
    tenant: tuple[Sandbox, ManualClock],
) -> None:
    sandbox, clock = tenant
    sandbox.set_roles(CLIENT_ID, remove=["TeamsActivity.Send"])
    code, records, _ = doctor(sandbox, clock)
    assert code == 2
    assert set(failing(records)) == {"permission TeamsActivity.Send"}
    assert "TeamsActivity.Send" in records["permission TeamsActivity.Send"]["fix"]


def test_the_program_mailbox_outside_the_rbac_scope_is_a_failure_with_the_scope_commands(
    tenant: tuple[Sandbox, ManualClock],
) -> None:
    sandbox, clock = tenant
    sandbox.scope_mailboxes(CLIENT_ID, ["margaret.hale@contoso.com"])
    code, records, _ = doctor(sandbox, clock)
    assert code == 2
    record = records["organizer mailbox"]
    assert record["result"] == "fail"
    assert "mentoring@contoso.com (403 ErrorAccessDenied)" in record["detail"]
    assert "New-ManagementScope" in record["fix"]
    assert "PrimarySmtpAddress -eq 'mentoring@contoso.com'" in record["fix"]
    assert f"Test-ServicePrincipalAuthorization -Identity {CLIENT_ID}" in record["fix"]


def test_a_read_only_calendar_assignment_is_found_without_writing(
    tenant: tuple[Sandbox, ManualClock],
) -> None:
    sandbox, clock = tenant
    sandbox.scope_mailboxes(CLIENT_ID, ["mentoring@contoso.com"], roles=["Calendars.Read"])
    code, records, _ = doctor(sandbox, clock)
    assert code == 2
    record = records["organizer mailbox"]
    assert record["result"] == "fail" and "a write is refused (403)" in record["detail"]
    assert '-Role "Application Calendars.ReadWrite"' in record["fix"]


def test_a_program_mailbox_without_a_mailbox_names_the_licence(
    tenant: tuple[Sandbox, ManualClock],
) -> None:
    sandbox, clock = tenant
    sandbox.set_person("mentoring@contoso.com", mailbox=False)
    code, records, _ = doctor(sandbox, clock)
    assert code == 2
    record = records["organizer mailbox"]
    assert "mentoring@contoso.com (404 MailboxNotEnabledForRESTAPI)" in record["detail"]
    assert "Exchange Online licence" in record["fix"]
    assert records["participants' mailboxes"]["detail"].startswith("not checked")


def test_no_rbac_scope_at_all_leaves_every_mailbox_open_and_fails_least_privilege(
    tenant: tuple[Sandbox, ManualClock],
) -> None:
    """The calendar permission granted tenant-wide in Entra instead of scoped in Exchange:
    the run would work, but the app could open any executive's mailbox."""
    sandbox, clock = tenant
    sandbox.scope_mailboxes(CLIENT_ID, None)
    sandbox.set_roles(CLIENT_ID, add=["Calendars.ReadWrite"])
    code, records, _ = doctor(sandbox, clock)
    assert code == 2
    assert set(failing(records)) == {"least privilege: mailboxes"}
    record = records["least privilege: mailboxes"]
    assert "every mailbox is open" in record["detail"]
    assert "New-ManagementRoleAssignment" in record["fix"]
    assert "Calendars.ReadWrite > Remove permission" in record["fix"]
    assert records["organizer mailbox"]["result"] == "ok"


def test_a_site_not_granted_is_a_failure_with_the_grant_call(
    tenant: tuple[Sandbox, ManualClock],
) -> None:
    sandbox, clock = tenant
    sandbox.grant_site(CLIENT_ID, PROGRAM_SITE, None)
    code, records, _ = doctor(sandbox, clock)
    assert code == 2
    record = records["program site"]
    assert record["result"] == "fail" and "accessDenied" in record["detail"]
    assert "POST https://graph.microsoft.com/v1.0/sites/" in record["fix"]
    assert f'"id": "{CLIENT_ID}"' in record["fix"] and '"roles": ["write"]' in record["fix"]
    # What needs the site is not tried without it.
    assert "notes list" not in records and "site grant allows writes" not in records


def test_a_read_only_site_grant_is_found_without_writing(
    tenant: tuple[Sandbox, ManualClock],
) -> None:
    sandbox, clock = tenant
    sandbox.grant_site(CLIENT_ID, PROGRAM_SITE, "read")
    code, records, _ = doctor(sandbox, clock)
    assert code == 2
    assert set(failing(records)) == {"site grant allows writes"}
    record = records["site grant allows writes"]
    assert "read-only" in record["detail"]
    assert '{"roles": ["write"]}' in record["fix"]


def test_a_tenant_wide_sites_permission_fails_least_privilege(
    tenant: tuple[Sandbox, ManualClock],
) -> None:
    sandbox, clock = tenant
    sandbox.set_roles(CLIENT_ID, add=["Sites.Read.All"])
    code, records, _ = doctor(sandbox, clock)
    assert code == 2
    record = records["least privilege: sites"]
    assert record["result"] == "fail" and "Sites.Read.All" in record["detail"]
    assert "Remove permission" in record["fix"]


def test_a_notes_list_without_its_index_names_sharepoint_init(
    tenant: tuple[Sandbox, ManualClock],
) -> None:
    sandbox, clock = tenant
    store = sandbox.state.sharepoint
    site = store.site(PROGRAM_SITE)
    [sp_list] = site.lists.values()
    column = sp_list.column("SessionKey")
    assert column is not None
    column.indexed = False
    code, records, _ = doctor(sandbox, clock)
    assert code == 2
    record = records["notes list"]
    assert record["detail"] == "not indexed: SessionKey"
    assert record["fix"].startswith("mentoring sharepoint init")


def test_the_teams_app_missing_from_the_catalog_names_the_upload(
    tenant: tuple[Sandbox, ManualClock],
) -> None:
    sandbox, clock = tenant
    config = load_config(EXAMPLE_CONFIG, today=START.date())
    assert config.program.nudges is not None and isinstance(sandbox.state.teams, TeamsStore)
    sandbox.state.teams.unpublish(config.program.nudges.teams_app_id)
    code, records, _ = doctor(sandbox, clock)
    assert code == 2
    record = records["Teams app in the catalog"]
    assert record["result"] == "fail"
    assert config.program.nudges.teams_app_id in record["detail"]
    assert f"mentoring teams-app package --client-id {CLIENT_ID}" in record["fix"]
    assert "Upload new app" in record["fix"]


def test_a_teams_app_bound_to_another_entra_app_is_a_failure(
    tenant: tuple[Sandbox, ManualClock],
) -> None:
    sandbox, clock = tenant
    store = sandbox.state.teams
    assert isinstance(store, TeamsStore)
    [app] = store.catalog.values()
    app.manifest["webApplicationInfo"] = {"id": "99999999-8888-7777-6666-555555555555"}
    code, records, _ = doctor(sandbox, clock)
    assert code == 2
    record = records["Teams app in the catalog"]
    assert "bound to Entra app 99999999-8888-7777-6666-555555555555" in record["detail"]
    assert CLIENT_ID in record["detail"] and "Upload file" in record["fix"]


def test_an_older_teams_app_version_is_a_warning(tenant: tuple[Sandbox, ManualClock]) -> None:
    sandbox, clock = tenant
    store = sandbox.state.teams
    assert isinstance(store, TeamsStore)
    [app] = store.catalog.values()
    app.manifest["version"] = "1.0.0"
    code, records, _ = doctor(sandbox, clock)
    assert code == 1
    assert records["Teams app in the catalog"]["result"] == "warning"
    assert "1.0.0" in records["Teams app in the catalog"]["detail"]


def test_a_participant_who_left_the_directory_is_named(
    tenant: tuple[Sandbox, ManualClock],
) -> None:
    sandbox, clock = tenant
    sandbox.set_person("leo.martins@contoso.com", present=False)
    code, records, _ = doctor(sandbox, clock)
    assert code == 2
    assert set(failing(records)) == {"participants exist"}
    record = records["participants exist"]
    assert record["detail"] == "not in the directory: leo.martins@contoso.com"
    assert "pairings file" in record["fix"] and "Restore" in record["fix"]


def test_a_participant_without_a_mailbox_is_named(tenant: tuple[Sandbox, ManualClock]) -> None:
    sandbox, clock = tenant
    sandbox.set_person("daniel.okafor@contoso.com", mailbox=False)
    code, records, _ = doctor(sandbox, clock)
    assert code == 2
    record = records["participants' mailboxes"]
    assert "daniel.okafor@contoso.com (ErrorMailRecipientNotFound)" in record["detail"]
    assert "Exchange Online licence" in record["fix"]


def test_a_bad_template_is_named_with_its_line_before_any_graph_check(
    tenant: tuple[Sandbox, ManualClock], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    sandbox, clock = tenant
    templates = tmp_path / "templates"
    shutil.copytree(TEMPLATES, templates)
    invite = templates / "invite.html.j2"
    invite.write_text(invite.read_text(encoding="utf-8") + "\n{% if %}\n", encoding="utf-8")
    monkeypatch.setenv("MENTORING_TEMPLATES_DIR", str(templates))
    code, records, _ = doctor(sandbox, clock)
    assert code == 2
    record = records["templates"]
    assert record["result"] == "fail" and str(invite) in record["detail"]
    assert "mentoring validate" in record["fix"]
    assert records["config"]["result"] == "ok"
    # Only the credential can be checked without a config.
    assert list(records) == ["settings", "config", "templates", "token"]


def test_a_bad_config_is_named_with_file_and_line(
    tenant: tuple[Sandbox, ManualClock], tmp_path: Path,
) -> None:
    sandbox, clock = tenant
    config = tmp_path / "config"
    shutil.copytree(EXAMPLE_CONFIG, config)
    pairings = config / "pairings.yaml"
    pairings.write_text(pairings.read_text(encoding="utf-8").replace(
        "    status: active", "    status: retired", 1), encoding="utf-8")
    code, records, _ = doctor(sandbox, clock, "--config", str(config))
    assert code == 2
    assert records["config"]["result"] == "fail"
    assert f"{pairings}:" in records["config"]["detail"]


def test_a_wrong_secret_fails_the_token_check_without_printing_it(
    tenant: tuple[Sandbox, ManualClock], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sandbox, clock = tenant
    monkeypatch.setenv("MENTORING_CLIENT_SECRET", "wrong-" + SECRET)
    code, records, out = doctor(sandbox, clock)
    assert code == 2
    assert records["token"]["result"] == "fail" and "invalid_client" in records["token"]["detail"]
    assert "Certificates & secrets" in records["token"]["fix"]
    assert list(records)[-1] == "token"
    assert SECRET not in out + "".join(capsys.readouterr())


def test_missing_settings_are_a_failure_naming_the_variables(
    tenant: tuple[Sandbox, ManualClock], monkeypatch: pytest.MonkeyPatch,
) -> None:
    sandbox, clock = tenant
    monkeypatch.delenv("MENTORING_TENANT_ID")
    code, records, _ = doctor(sandbox, clock, "--config", str(EXAMPLE_CONFIG))
    assert code == 2
    assert "MENTORING_TENANT_ID" in records["settings"]["detail"]
    assert records["config"]["result"] == "ok"


def test_graph_not_answering_is_exit_3_not_a_broken_set_up(
    tenant: tuple[Sandbox, ManualClock],
) -> None:
    sandbox, clock = tenant
    sandbox.faults.add(FaultRule(kind="503", service="outlook", retry_after=1))
    code, records, _ = doctor(sandbox, clock)
    assert code == 3
    record = records["organizer mailbox"]
    assert record["result"] == "fail" and record["exit_code"] == 3
    assert "again later" in record["fix"]
    assert records["program site"]["result"] == "ok"  # SharePoint still answered


def test_json_mode_prints_one_object_per_check_and_logs_the_end(
    tenant: tuple[Sandbox, ManualClock], capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """MENTORING_LOG_FORMAT=json, as the container runs: every line is one JSON object (and
    the variable is what decides: `text` gives the table, here too off a terminal)."""
    sandbox, clock = tenant
    monkeypatch.setenv("MENTORING_LOG_FORMAT", "text")
    table = StringIO()
    assert main(["doctor"], clock=clock, session=sandbox_session(sandbox), out=table) == 0
    assert table.getvalue().startswith("CHECK ")
    monkeypatch.setenv("MENTORING_LOG_FORMAT", "json")
    stream = StringIO()
    code = main(["doctor"], clock=clock, session=sandbox_session(sandbox), out=stream)
    assert code == 0
    out = stream.getvalue()
    lines = out.splitlines()
    assert len(lines) == len(CHECKS)
    for line in lines:
        assert set(json.loads(line)) == {"check", "result", "detail", "fix", "exit_code"}
    [finished] = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
    assert finished["message"] == "doctor finished" and finished["exit_code"] == 0
    assert finished["checks"] == {"ok": len(CHECKS), "warning": 0, "fail": 0}


BreakFn = Callable[[Sandbox], None]


def tenant_state(sandbox: Sandbox) -> dict[str, Any]:
    """The saved tenant, without the empty calendars the sandbox files a mailbox under the
    first time anything reads it (bookkeeping, no event)."""
    state = sandbox.dump_state()
    events = state["mail"]["events"]
    state["mail"]["events"] = {owner: found for owner, found in events.items() if found}
    return state


@pytest.mark.parametrize("broken", [
    pytest.param(lambda sb: None, id="as-deployed"),
    pytest.param(lambda sb: sb.grant_site(CLIENT_ID, PROGRAM_SITE, "read"), id="read-grant"),
    pytest.param(lambda sb: (sb.scope_mailboxes(CLIENT_ID, None),
                             sb.set_roles(CLIENT_ID, add=["Calendars.ReadWrite"])),
                 id="no-scope"),
])
def test_doctor_writes_nothing(tenant: tuple[Sandbox, ManualClock], broken: BreakFn) -> None:
    """No event, list item, column, install or notification comes of it, whatever it finds:
    the tenant is the same afterwards, and no write Graph received was carried out."""
    sandbox, clock = tenant
    broken(sandbox)
    before = tenant_state(sandbox)
    session = sandbox_session(sandbox)
    counter = wrap_session(session, CountingAdapter)
    out = StringIO()
    main(["--log-format", "json", "doctor"], clock=clock, session=session, out=out)
    assert tenant_state(sandbox) == before
    assert counter.calls, "the doctor asked Graph nothing"
    carried_out = [c for c in counter.writes() if 200 <= c[2] < 300
                   and "/oauth2/" not in c[1]]
    assert carried_out == []
    # The writes it sends name an event and an item that never exist: refused, nothing done.
    assert {(m, s) for m, _, s in counter.writes()} <= {("PATCH", 404), ("PATCH", 403)}
    assert len(counter.writes()) == 2


def test_with_mentors_as_organizers_the_scope_is_the_mentors_and_a_mentee_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    config_dir = tmp_path / "config"
    shutil.copytree(EXAMPLE_CONFIG, config_dir)
    program = config_dir / "program.yaml"
    text = program.read_text(encoding="utf-8")
    assert "organizer: mentoring@contoso.com" in text
    program.write_text(text.replace("organizer: mentoring@contoso.com", "organizer: mentor"),
                       encoding="utf-8")
    clock = ManualClock(START)
    sandbox = Sandbox.create(clock=clock, fixture=demo_tenant)
    config = load_config(config_dir, today=START.date())
    world = build_world(config, sandbox, clock, client_id=CLIENT_ID, secret=SECRET)
    assert config.program.sharepoint is not None
    init_notes_list(world)
    sandbox.set_person(UNLICENSED, teams_license=True)
    for key in list(os.environ):
        if key.startswith("MENTORING_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("MENTORING_TENANT_ID", sandbox.state.tenant_id)
    monkeypatch.setenv("MENTORING_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("MENTORING_CLIENT_SECRET", SECRET)
    monkeypatch.setenv("MENTORING_TEMPLATES_DIR", str(TEMPLATES))
    code, records, _ = doctor(sandbox, clock, "--config", str(config_dir))
    assert code == 0, failing(records)
    assert "ava.nguyen@contoso.com" in records["organizer mailbox"]["detail"]
    assert "another mailbox (margaret.hale@contoso.com)" in (
        records["least privilege: mailboxes"]["detail"])
    # One mentor left out of the scope: named, with the scope holding all of them.
    sandbox.scope_mailboxes(CLIENT_ID, sorted({p.mentor for p in config.pairings})[1:])
    code, records, _ = doctor(sandbox, clock, "--config", str(config_dir))
    assert code == 2
    record = records["organizer mailbox"]
    [left_out] = sorted({p.mentor for p in config.pairings})[:1]
    assert f"{left_out} (403 ErrorAccessDenied)" in record["detail"]
    assert f"PrimarySmtpAddress -eq '{left_out}'" in record["fix"]


def test_the_shipped_example_checks_every_feature_it_turns_on(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from graph.sandbox.cli import WORKER_APP_ROLES
    from tests.conftest import SHIPPED_CONFIG

    # Granted as the README says for this config.
    code, records, _ = doctor(*deployed_tenant(monkeypatch, SHIPPED_CONFIG))
    assert code == 0, failing(records)
    assert records["published notes list"]["result"] == "ok"
    assert records["digest mailbox (Mail.Send)"]["result"] == "ok"
    groups = records["matching groups (GroupMember.Read.All)"]
    assert groups["result"] == "ok" and "Executives and Reverse mentors" in groups["detail"]

    # GroupMember.Read.All missing.
    code, records, _ = doctor(*deployed_tenant(monkeypatch, SHIPPED_CONFIG,
                                               (*WORKER_APP_ROLES, "Mail.Send")))
    assert code == 2
    assert failing(records).keys() == {"matching groups (GroupMember.Read.All)"}
    assert "GroupMember.Read.All" in records["matching groups (GroupMember.Read.All)"]["fix"]
