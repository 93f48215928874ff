"""The `mentoring` command as IT and program admins meet it: exit codes, output, no leaks."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
import requests
from requests.adapters import BaseAdapter

from graph.clock import ManualClock, SystemClock
from graph.sandbox.fixtures import demo_tenant
from graph.sandbox.server import start_in_thread
from graph.sandbox.tenant_app import Sandbox
from graph.sandbox.transport import sandbox_session
from tests.conftest import EXAMPLE_CONFIG, ROOT, tagged_event_counts
from worker.cli.demo import build_world, init_notes_list
from worker.cli.main import main
from worker.config import load_config

SECRET = "s3cret-value-that-must-never-leak"
START = datetime(2027, 1, 4, 6, 0, tzinfo=UTC)


class NoNetwork(BaseAdapter):
    """Fails the test if anything is sent."""

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        raise AssertionError(f"no Graph call expected, got {request.method} {request.url}")

    def close(self) -> None:
        pass


def offline_session() -> requests.Session:
    session = requests.Session()
    session.mount("https://", NoNetwork())
    session.mount("http://", NoNetwork())
    return session


CLIENT_ID = "11111111-2222-3333-4444-555555555555"
# The demo tenant's one participant without a Teams licence: the first run's one failure.
UNLICENSED_INSTALL = "install-app:sam.rivera@contoso.com"


def deploy(sandbox: Sandbox, clock: Any) -> None:
    """What IT does before the first run: the app registered with its permissions and the
    program's site granted, our Teams app in the catalog, the notes list created."""
    config = load_config(EXAMPLE_CONFIG, today=START.date())
    world = build_world(config, sandbox, clock, client_id=CLIENT_ID, secret=SECRET)
    assert config.program.sharepoint is not None
    init_notes_list(world)


@pytest.fixture
def sandbox_env(monkeypatch: pytest.MonkeyPatch) -> tuple[Sandbox, ManualClock]:
    clock = ManualClock(START)
    sandbox = Sandbox.create(clock=clock, fixture=demo_tenant)
    deploy(sandbox, clock)
    for key in list(os.environ):
        if key.startswith("MENTORING_") or key == "AZURE_FEDERATED_TOKEN_FILE":
            monkeypatch.delenv(key)
    monkeypatch.setenv("MENTORING_TENANT_ID", sandbox.state.tenant_id)
    monkeypatch.setenv("MENTORING_CLIENT_ID", "11111111-2222-3333-4444-555555555555")
    monkeypatch.setenv("MENTORING_CLIENT_SECRET", SECRET)
    monkeypatch.setenv("MENTORING_CONFIG_DIR", str(EXAMPLE_CONFIG))
    monkeypatch.setenv("MENTORING_TEMPLATES_DIR", str(ROOT / "templates"))
    return sandbox, clock


def test_validate_accepts_the_example_config(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(EXAMPLE_CONFIG), "validate"]) == 0


def test_version_names_the_installed_release(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib import metadata

    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    wanted = metadata.version("reverse-mentoring-worker")
    assert capsys.readouterr().out == f"mentoring {wanted}\n"


def test_plan_reads_only_and_prints_json(
    sandbox_env: tuple[Sandbox, ManualClock], capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox, clock = sandbox_env
    out = StringIO()
    code = main(["plan", "--json"], clock=clock, session=sandbox_session(sandbox), out=out)
    assert code == 0
    document = json.loads(out.getvalue())
    assert document["plan"]["counts"]["book"] == 20
    assert document["summary"]["writes"] == 0
    assert tagged_event_counts(sandbox, "mentoring@contoso.com") == {}
    assert SECRET not in out.getvalue() + "".join(capsys.readouterr())


def test_run_books_then_run_again_changes_nothing(
    sandbox_env: tuple[Sandbox, ManualClock], capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox, clock = sandbox_env
    session = sandbox_session(sandbox)
    first, second = StringIO(), StringIO()
    assert main(["run"], clock=clock, session=session, out=first) == 1
    # Off a terminal (JSON logs) the output is the --json document, on one line.
    [line] = first.getvalue().splitlines()
    summary = json.loads(line)["summary"]
    assert summary["booked"] == 20
    assert [f["action"] for f in summary["failed"]] == [UNLICENSED_INSTALL]
    assert main(["run", "--json"], clock=clock, session=session, out=second) == 0
    assert json.loads(second.getvalue())["summary"]["writes"] == 0
    logs = capsys.readouterr().err
    assert SECRET not in logs
    for line in filter(None, logs.splitlines()):
        json.loads(line)  # off a terminal, every log line is a JSON object


def test_a_config_with_five_mistakes_stops_before_any_graph_call(
    sandbox_env: tuple[Sandbox, ManualClock], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, clock = sandbox_env
    config = tmp_path / "config"
    shutil.copytree(EXAMPLE_CONFIG, config)
    program = (config / "program.yaml").read_text(encoding="utf-8")
    program = program.replace("duration_minutes: 45", "duration_minutes: 90")
    program = program.replace("keep_booked: 2", "keep_bookd: 2")
    (config / "program.yaml").write_text(program, encoding="utf-8")
    pairings = (config / "pairings.yaml").read_text(encoding="utf-8")
    pairings = pairings.replace("mentor: leo.martins@contoso.com", "mentor: leo.martins")
    pairings = pairings.replace("id: cro-maya", "id: ceo-ava", 1)
    pairings = pairings.replace("    status: active", "    status: retired", 1)
    (config / "pairings.yaml").write_text(pairings, encoding="utf-8")
    code = main(["--config", str(config), "run"], clock=clock, session=offline_session(),
                out=StringIO())
    assert code == 2
    records = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
    located = [r for r in records if "problem" in r]
    assert len(located) == 5, records
    assert all(r["file"].startswith(str(config)) and r["line"] for r in located)
    assert all(r["message"].startswith(f"{r['file']}:{r['line']}") for r in located)
    # The same in text, for a person at a terminal.
    code = main(["--config", str(config), "--log-format", "text", "run"], clock=clock,
                session=offline_session(), out=StringIO())
    assert code == 2
    lines = [line for line in capsys.readouterr().err.splitlines()
             if line.strip().startswith(str(config))]
    assert len(lines) == 5, lines


def test_json_logs_of_a_run_with_a_broken_config_are_json_lines(tmp_path: Path) -> None:
    """The container's view: MENTORING_LOG_FORMAT=json, a config with several mistakes;
    every line on either stream is one JSON object, each problem with file, line and column."""
    config = tmp_path / "config"
    shutil.copytree(EXAMPLE_CONFIG, config)
    pairings = config / "pairings.yaml"
    text = pairings.read_text(encoding="utf-8")
    text = text.replace("2027-01-11", "11/01/2027", 1).replace("@contoso.com", "@", 1)
    pairings.write_text(text, encoding="utf-8")
    env = {key: value for key, value in os.environ.items() if not key.startswith("MENTORING_")}
    env.update({"MENTORING_TENANT_ID": "00000000-0000-0000-0000-000000000001",
                "MENTORING_CLIENT_ID": "00000000-0000-0000-0000-000000000002",
                "MENTORING_CLIENT_SECRET": SECRET, "MENTORING_LOG_FORMAT": "json",
                "MENTORING_CONFIG_DIR": str(config)})
    done = subprocess.run([sys.executable, "-m", "worker", "run"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    records = [json.loads(line) for line in (done.stdout + done.stderr).splitlines() if line]
    problems = [r for r in records if "problem" in r]
    assert len(problems) == 2
    for record in problems:
        assert record["level"] == "error" and record["exit_code"] == 2
        assert record["file"] == str(pairings)
        assert isinstance(record["line"], int) and isinstance(record["column"], int)
    assert any("YYYY-MM-DD" in (r["hint"] or "") for r in problems)
    assert records[-1]["message"].startswith("2 configuration problems")
    # A settings error too, before the settings (and their log format) could load.
    del env["MENTORING_TENANT_ID"]
    done = subprocess.run([sys.executable, "-m", "worker", "run"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    [record] = [json.loads(line) for line in done.stderr.splitlines() if line]
    assert "MENTORING_TENANT_ID" in record["message"]
    assert SECRET not in done.stdout + done.stderr


def test_missing_credentials_are_a_settings_error_naming_the_variables(
    sandbox_env: tuple[Sandbox, ManualClock], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("MENTORING_CLIENT_SECRET")
    code = main(["run"], clock=SystemClock(), session=offline_session(), out=StringIO())
    assert code == 2
    err = capsys.readouterr().err
    assert "MENTORING_CLIENT_SECRET" in err and "MENTORING_CERTIFICATE_PATH" in err


def test_a_wrong_secret_is_an_auth_error_without_the_secret(
    sandbox_env: tuple[Sandbox, ManualClock], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sandbox, clock = sandbox_env
    monkeypatch.setenv("MENTORING_CLIENT_SECRET", "wrong-" + SECRET)
    code = main(["run"], clock=clock, session=sandbox_session(sandbox), out=StringIO())
    assert code == 2
    captured = capsys.readouterr()
    assert "invalid_client" in captured.err
    assert SECRET not in captured.err + captured.out


def test_missing_permission_is_exit_code_2(
    sandbox_env: tuple[Sandbox, ManualClock], capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox, clock = sandbox_env
    sandbox.register_app("11111111-2222-3333-4444-555555555555", secret=SECRET,
                         roles=["User.Read.All"])
    code = main(["run"], clock=clock, session=sandbox_session(sandbox), out=StringIO())
    assert code == 2
    assert "ErrorAccessDenied" in capsys.readouterr().err


def test_the_container_entrypoint_runs_against_the_sandbox_over_http(
    tmp_path: Path,
) -> None:
    """`mentoring run` as the Dockerfile runs it: a separate process, settings from the
    environment, HTTP to a sandbox on 127.0.0.1 (the msal login included)."""
    sandbox = Sandbox.create(clock=SystemClock(), fixture=demo_tenant)
    deploy(sandbox, SystemClock())
    server, base_url = start_in_thread(sandbox)
    try:
        env = {key: value for key, value in os.environ.items()
               if not key.startswith("MENTORING_")}
        env.update({
            "MENTORING_TENANT_ID": sandbox.state.tenant_id,
            "MENTORING_CLIENT_ID": "11111111-2222-3333-4444-555555555555",
            "MENTORING_CLIENT_SECRET": SECRET,
            "MENTORING_GRAPH_URL": base_url,
            "MENTORING_AUTHORITY_HOST": base_url,
            "MENTORING_CONFIG_DIR": str(EXAMPLE_CONFIG),
            "MENTORING_TEMPLATES_DIR": str(ROOT / "templates"),
        })
        command = [sys.executable, "-m", "worker", "run"]
        first = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True,  # noqa: S603
                               timeout=120, check=False)
        # Exit 1: the one participant without a Teams licence is named, the rest is done.
        # Off a terminal every line is one JSON object: the run's document on stdout, the
        # log records on stderr.
        assert first.returncode == 1, first.stderr[-2000:]
        [line] = first.stdout.splitlines()
        summary = json.loads(line)["summary"]
        assert summary["booked"] == 20
        assert [f["action"] for f in summary["failed"]] == [UNLICENSED_INSTALL]
        second = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True,  # noqa: S603
                                text=True, timeout=120, check=False)
        assert second.returncode == 0, second.stderr[-2000:]
        assert json.loads(second.stdout)["summary"]["writes"] == 0
        for output in (first.stdout, first.stderr, second.stdout, second.stderr):
            assert SECRET not in output
        for line in filter(None, first.stderr.splitlines()):
            assert json.loads(line)["level"] in {"info", "warning", "error"}
        # On a terminal (or asked for text) the same run reads as a table.
        text = subprocess.run([*command, "--dry-run"], env={**env, "MENTORING_LOG_FORMAT": "text"},  # noqa: S603
                              cwd=tmp_path, capture_output=True, text=True, timeout=120,
                              check=False)
        assert text.returncode == 0, text.stderr[-2000:]
        assert "Run:" in text.stdout or "Plan" in text.stdout
    finally:
        server.shutdown()
        server.server_close()
    assert len(tagged_event_counts(sandbox, "mentoring@contoso.com")) == 20


def test_pairings_export_round_trips_through_a_spreadsheet_with_progress(
    sandbox_env: tuple[Sandbox, ManualClock], tmp_path: Path,
) -> None:
    """Export after a run: the config columns read back as the same pairings, the progress
    columns (from the notes list) are ignored on the way back."""
    sandbox, clock = sandbox_env
    session = sandbox_session(sandbox)
    assert main(["run"], clock=clock, session=session, out=StringIO()) == 1
    exported = tmp_path / "exported.csv"
    out = StringIO()
    assert main(["pairings", "export", "--csv", "--out", str(exported)], clock=clock,
                session=session, out=out) == 0
    assert "10 pairing(s) written" in out.getvalue()
    rows = list(csv.DictReader(exported.read_text(encoding="utf-8").splitlines()))
    assert len(rows) == 10
    assert {row["sessions_booked"] for row in rows} == {"2"}
    assert {row["sessions_total"] for row in rows} == {"7"}
    arjun = next(row for row in rows if row["id"] == "underwriting-arjun")
    assert arjun["preferred_weekdays"] == "tue;wed;thu"
    # Back as the config's pairings file, the same pairings (progress columns ignored).
    config = tmp_path / "config"
    config.mkdir()
    shutil.copy(EXAMPLE_CONFIG / "program.yaml", config / "program.yaml")
    shutil.copy(exported, config / "pairings.csv")
    from worker.config import load_config

    back = load_config(config, today=clock.now().date())
    original = load_config(EXAMPLE_CONFIG, today=clock.now().date())
    assert back.pairings == original.pairings


def test_pairings_export_without_progress_needs_no_credentials(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for key in list(os.environ):
        if key.startswith("MENTORING_"):
            monkeypatch.delenv(key)
    out = StringIO()
    assert main(["--config", str(EXAMPLE_CONFIG), "pairings", "export", "--no-progress"],
                session=offline_session(), out=out) == 0
    header, *rows = out.getvalue().splitlines()
    assert header.startswith("id,mentor,mentee,start,status,")
    assert header.endswith(",needs_attention") and len(rows) == 10
    assert all(row.endswith(",,,,,,") for row in rows)
