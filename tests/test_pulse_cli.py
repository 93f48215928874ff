"""The session pulse's columns through the CLI: `doctor` expects them only once `pulse` is
configured, and `sharepoint init` run again then adds them (and writes nothing a third time)."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest

from graph.clock import ManualClock
from graph.sandbox.tenant_app import Sandbox
from graph.sandbox.transport import sandbox_session
from tests.conftest import EXAMPLE_CONFIG, CountingAdapter, wrap_session
from tests.test_doctor import CLIENT_ID, PROGRAM_SITE, doctor, tenant
from worker.cli.main import main
from worker.core.notes_list import PULSE_COLUMNS

__all__ = ["tenant"]  # the demo tenant as IT leaves it, from the doctor's tests


def with_pulse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "config"
    shutil.copytree(EXAMPLE_CONFIG, target)
    program = target / "program.yaml"
    program.write_text(program.read_text(encoding="utf-8") + "\npulse:\n  ask_mentee: true\n",
                       encoding="utf-8")
    monkeypatch.setenv("MENTORING_CONFIG_DIR", str(target))


def test_without_a_pulse_no_pulse_column_is_made_or_expected(
    tenant: tuple[Sandbox, ManualClock],
) -> None:
    sandbox, clock = tenant
    [sp_list] = sandbox.state.sharepoint.site(PROGRAM_SITE).lists.values()
    assert not set(PULSE_COLUMNS) & set(sp_list.columns)
    _, records, _ = doctor(sandbox, clock)
    assert records["notes list"]["result"] == "ok"


def test_enabling_the_pulse_needs_init_again_which_adds_its_columns(
    tenant: tuple[Sandbox, ManualClock], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    sandbox, clock = tenant
    with_pulse(tmp_path, monkeypatch)
    _, records, _ = doctor(sandbox, clock)
    record = records["notes list"]
    assert record["result"] == "fail"
    assert record["detail"] == "missing columns: " + ", ".join(PULSE_COLUMNS)
    assert record["fix"].startswith("mentoring sharepoint init")

    sandbox.grant_site(CLIENT_ID, PROGRAM_SITE, "fullcontrol")
    session = sandbox_session(sandbox)
    out = io.StringIO()
    assert main(["sharepoint", "init"], clock=clock, session=session, out=out) == 0
    assert f"added {list(PULSE_COLUMNS)}" in out.getvalue()
    [sp_list] = sandbox.state.sharepoint.site(PROGRAM_SITE).lists.values()
    assert sp_list.columns["MentorFit"].choices == ["Yes", "Not sure", "No"]
    counter = wrap_session(session, CountingAdapter)
    assert main(["sharepoint", "init"], clock=clock, session=session, out=io.StringIO()) == 0
    assert counter.writes() == []
    sandbox.grant_site(CLIENT_ID, PROGRAM_SITE, "write")

    _, records, _ = doctor(sandbox, clock)
    assert records["notes list"]["result"] == "ok"
