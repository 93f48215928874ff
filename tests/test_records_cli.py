"""`mentoring sharepoint init` and `mentoring report`, through the CLI and the sandbox."""

from __future__ import annotations

import csv
import io
import os
import re
import sys
from pathlib import Path

import pytest

from graph.clock import ManualClock
from graph.sandbox.fixtures import demo_tenant
from graph.sandbox.sharepoint import DEMO_HOSTNAME, DEMO_SITE_PATH, SharePointStore
from graph.sandbox.tenant_app import Sandbox
from graph.sandbox.transport import sandbox_session
from tests.conftest import EXAMPLE_CONFIG, ROOT, CountingAdapter, wrap_session
from tests.records_helpers import person_edits, records_world
from tests.test_run_e2e import START
from worker.cli.demo import build_world
from worker.cli.main import main
from worker.cli.report import build_report, render_html, render_text
from worker.config import load_config
from worker.core.notes_list import PULSE_COLUMNS, columns_for

CLIENT_ID = "11111111-2222-3333-4444-555555555555"
SECRET = "s3cret-for-tests-only"
SITE = f"{DEMO_HOSTNAME}:{DEMO_SITE_PATH}"


def make_env(monkeypatch: pytest.MonkeyPatch, *, granted: bool) -> tuple[Sandbox, ManualClock]:
    clock = ManualClock(START)
    sandbox = Sandbox.create(clock=clock, fixture=demo_tenant)
    store = sandbox.state.sharepoint
    assert isinstance(store, SharePointStore)
    if granted:
        # Deployed as IT does it: every permission, the site granted, the Teams app uploaded.
        build_world(load_config(EXAMPLE_CONFIG, today=START.date()), sandbox, clock,
                    client_id=CLIENT_ID, secret=SECRET)
        # Raised for the one-off `sharepoint init`, as the README asks (creating a list and
        # its columns needs more than `write`).
        sandbox.grant_site(CLIENT_ID, SITE, "fullcontrol")
    else:
        sandbox.register_app(CLIENT_ID, secret=SECRET,
                             roles=["Calendars.ReadWrite", "User.Read.All", "Sites.Selected"])
    for key in list(os.environ):
        if key.startswith("MENTORING_") or key == "AZURE_FEDERATED_TOKEN_FILE":
            monkeypatch.delenv(key)
    monkeypatch.setenv("MENTORING_TENANT_ID", sandbox.state.tenant_id)
    monkeypatch.setenv("MENTORING_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("MENTORING_CLIENT_SECRET", SECRET)
    monkeypatch.setenv("MENTORING_CONFIG_DIR", str(EXAMPLE_CONFIG))
    monkeypatch.setenv("MENTORING_TEMPLATES_DIR", str(ROOT / "templates"))
    return sandbox, clock


def test_init_with_only_the_write_grant_is_refused_and_names_fullcontrol(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sandbox, clock = make_env(monkeypatch, granted=True)
    sandbox.grant_site(CLIENT_ID, SITE, "write")  # what the runs need, not enough for init
    out, err = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    code = main(["sharepoint", "init"], clock=clock, session=sandbox_session(sandbox), out=out)
    assert code == 2
    assert '{"roles": ["fullcontrol"]}' in out.getvalue() + err.getvalue()
    assert not sandbox.state.sharepoint.site(SITE).lists  # nothing half-made


def test_init_on_an_empty_site_creates_the_list_and_a_second_init_writes_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sandbox, clock = make_env(monkeypatch, granted=True)
    session = sandbox_session(sandbox)
    out = io.StringIO()
    assert main(["sharepoint", "init"], clock=clock, session=session, out=out) == 0
    assert "Created list" in out.getvalue()
    store = sandbox.state.sharepoint
    site = store.site(SITE)
    (created,) = site.lists.values()
    assert {c.name for c in columns_for(pulse=False)} <= set(created.columns)
    assert not set(PULSE_COLUMNS) & set(created.columns)  # the example asks no session pulse
    assert created.columns["SessionKey"].indexed
    counter = wrap_session(session, CountingAdapter)
    again = io.StringIO()
    assert main(["sharepoint", "init"], clock=clock, session=session, out=again) == 0
    assert counter.writes() == []
    assert "nothing written" in again.getvalue()
    assert site.id in again.getvalue()


def test_init_completes_a_list_missing_a_column_and_an_index(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sandbox, clock = make_env(monkeypatch, granted=True)
    session = sandbox_session(sandbox)
    assert main(["sharepoint", "init"], clock=clock, session=session, out=io.StringIO()) == 0
    (sp_list,) = sandbox.state.sharepoint.site(SITE).lists.values()
    del sp_list.columns["JoinUrl"]
    sp_list.columns["SessionKey"].indexed = False
    out = io.StringIO()
    assert main(["sharepoint", "init"], clock=clock, session=session, out=out) == 0
    assert "JoinUrl" in out.getvalue() and "SessionKey" in out.getvalue()
    assert "JoinUrl" in sp_list.columns and sp_list.columns["SessionKey"].indexed


def test_init_without_a_grant_says_exactly_what_an_admin_must_grant(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    sandbox, clock = make_env(monkeypatch, granted=False)
    code = main(["sharepoint", "init"], clock=clock, session=sandbox_session(sandbox),
                out=io.StringIO())
    assert code == 2
    err = capsys.readouterr().err
    assert "Sites.Selected" in err
    assert "POST https://graph.microsoft.com/v1.0/sites/" in err
    assert '{"roles": ["write"], "grantedToIdentities": [{"application": {"id": "' + CLIENT_ID \
        in err
    assert sandbox.state.sharepoint.site(SITE).lists == {}


def test_report_html_is_one_self_contained_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    sandbox, clock = make_env(monkeypatch, granted=True)
    session = sandbox_session(sandbox)
    assert main(["sharepoint", "init"], clock=clock, session=session, out=io.StringIO()) == 0
    # 1: the participant without a Teams licence is named; everything else is done.
    assert main(["run"], clock=clock, session=session, out=io.StringIO()) == 1
    target = tmp_path / "report.html"
    code = main(["report", "--format", "html", "--out", str(target)], clock=clock,
                session=session, out=io.StringIO())
    assert code == 0
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]
    page = target.read_text(encoding="utf-8")
    assert "<svg" in page and "<style>" in page
    # No resource fetched from anywhere: no script, stylesheet, image, font, frame or import.
    assert not re.search(r"<(script|link|img|iframe|object|embed)\b", page, re.IGNORECASE)
    assert not re.search(r"(src|srcset|xlink:href)\s*=|@import|url\(", page, re.IGNORECASE)
    refs = re.findall(r"https?://[^\s\"'<>]*", page)
    anchors = re.findall(r'<a href="(https://[^"]+)"', page)
    assert sorted(refs) == sorted(anchors)


def test_the_report_counts_only_shared_notes_as_published() -> None:
    world = records_world()
    world.run()
    person_edits(world, "leadership-2027/cfo-leo/1", {"Notes": "<p>aha</p>",
                                                     "SharedWithProgram": True})
    person_edits(world, "leadership-2027/ceo-ava/1", {"Notes": "<p>private</p>"})
    person_edits(world, "leadership-2027/cro-maya/1", {"SharedWithProgram": True})
    from tests.records_helpers import the_list

    sp_list = the_list(world)
    raw = [{"fields": dict(i.fields), "webUrl": f"https://x/{i.id}"}
           for i in sp_list.items.values()]
    report = build_report(raw, world.config, world.clock.now())
    assert report.total.booked == 20
    assert report.total.notes_posted == 2
    assert report.total.notes_shared == 1
    assert [n.pairing_id for n in report.shared] == ["cfo-leo"]
    assert "cfo-leo" in render_text(report)
    assert "<b>" not in render_html(report).split("<h2>Notes shared")[1]


def test_report_csv_has_one_row_per_pair_and_a_program_total(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sandbox, clock = make_env(monkeypatch, granted=True)
    session = sandbox_session(sandbox)
    main(["sharepoint", "init"], clock=clock, session=session, out=io.StringIO())
    main(["run"], clock=clock, session=session, out=io.StringIO())
    out = io.StringIO()
    assert main(["report", "--format", "csv"], clock=clock, session=session, out=out) == 0
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert rows[-1]["pairing_id"] == "ALL" and rows[-1]["booked"] == "20"
    assert len(rows) == 11
