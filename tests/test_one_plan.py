"""One plan for every change of a run: what `plan --json` lists is what `run` writes, one read
of each resource, and exit codes from every action's outcome."""

from __future__ import annotations

import json
import secrets
from collections import Counter
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
import requests
from requests.adapters import BaseAdapter

from graph.sandbox.faults import FaultRule
from tests.conftest import wrap_session
from tests.test_run_e2e import START, make_world
from worker.cli.demo import DemoWorld
from worker.cli.main import run_command
from worker.core.properties import NUDGES_PROPERTY_ID, RECORD_PROPERTY_ID
from worker.run.job import execute

PROPERTY_NAMES = {RECORD_PROPERTY_ID.lower(): "record", NUDGES_PROPERTY_ID.lower(): "ledger"}


def recorded(world: DemoWorld) -> list[dict[str, Any]]:
    """Every request the sandbox received so far, `$batch` inner requests included."""
    return world.sandbox.recorder.recent(1_000_000)


def graph_writes(entries: list[dict[str, Any]]) -> Counter[str]:
    """The writes among recorded requests, as the kind of change each is."""
    kinds: Counter[str] = Counter()
    for entry in entries:
        method, path = entry["method"].upper(), entry["path"]
        if method == "GET" or path.endswith("/$batch") or "/oauth2/" in path:
            continue
        if path.endswith("/getSchedule"):
            continue  # a read, though a POST
        kinds[_kind(method, path, entry.get("body"))] += 1
    return kinds


def _kind(method: str, path: str, body: str | None) -> str:
    lowered = path.lower()
    if lowered.endswith("/cancel"):
        return "cancel"
    if lowered.endswith("/events") and method == "POST":
        return "book"
    if "/events/" in lowered and method == "PATCH":
        data = json.loads(body or "{}")
        if "start" in data:
            return "move"  # with the ledger noting when the new invitation went out
        if "subject" in data:
            return "update"
        props = {str(p["id"]).lower() for p in data.get("singleValueExtendedProperties") or []}
        named = {PROPERTY_NAMES[p] for p in props if p in PROPERTY_NAMES}
        if named == {"record"}:
            return "tag-event"
        if named == {"ledger"}:
            return "ledger"
        return "move" if "start" in data else f"other PATCH {path}"
    if lowered.endswith("/items") and method == "POST":
        return "create-item"
    if lowered.endswith("/fields") and method == "PATCH":
        return "update-item"
    if lowered.endswith("/teamwork/installedapps"):
        return "install-app"
    if lowered.endswith("/sendactivitynotification"):
        return "send-nudge"
    if lowered.endswith("/sendmail"):
        return "send-digest"
    return f"other {method} {path}"


def expected_writes(plan: dict[str, Any]) -> Counter[str]:
    """The writes a plan's actions mean: each of its own, plus a ledger entry for every Teams
    action that remembers something."""
    kinds: Counter[str] = Counter()
    for action in plan["actions"]:
        kind = action["kind"]
        if kind == "hold-nudge":
            if action["marker"]:
                kinds["ledger"] += 1
            continue
        if kind == "post-card":
            kinds["ledger"] += 1
            continue
        kinds[kind] += 1
        if kind in ("install-app", "send-nudge"):
            kinds["ledger"] += 1
        if kind == "send-digest":
            # The pending marker before the send (there already when `again`), the key after.
            kinds["ledger"] += 1 if action["again"] else 2
    return kinds


def a_busy_morning() -> DemoWorld:
    """The demo program after its first run, three days on, at a time inside working hours on
    both sides of the Atlantic: declines to move, items to update, nudges to send."""
    world = make_world()
    world.run()
    world.clock.set(START + timedelta(days=3, hours=9))  # Thu 15:00 UTC
    return world


def test_the_plan_after_a_first_run_has_actions_for_all_three_resources() -> None:
    world = a_busy_morning()
    plan, _ = execute(world.client, world.config, world.clock, world.templates, apply=False)
    resources = Counter(a["resource"] for a in plan.to_json()["actions"])
    assert resources["calendar"] and resources["notes list"] and resources["teams"], resources
    text = plan.render_text()
    assert "~ move session" in text and "notes list item" in text and "> nudge" in text


def test_run_sends_exactly_the_writes_plan_json_showed() -> None:
    world = a_busy_morning()
    out = StringIO()
    assert run_command(world.client, world.config, world.clock, world.templates, dry_run=True,
                       force=False, as_json=True, out=out) in (0, 1)
    shown = json.loads(out.getvalue())["plan"]
    before = len(recorded(world))
    summary = world.run()
    written = graph_writes(recorded(world)[before:])
    assert written == expected_writes(shown), (written, expected_writes(shown))
    assert summary.not_done() == []
    # The same state again: the next plan is empty and the next run writes nothing.
    assert world.run().writes == 0


def test_a_first_run_writes_what_its_plan_showed() -> None:
    world = make_world()
    plan, _ = execute(world.client, world.config, world.clock, world.templates, apply=False)
    before = len(recorded(world))
    summary = world.run()
    written = graph_writes(recorded(world)[before:])
    expected = expected_writes(plan.to_json())
    # The one install Teams refuses (no licence) writes its "tried this week" marker instead.
    assert written == expected, (written, expected)
    assert {o.action.id for o in summary.not_done()} == {"install-app:sam.rivera@contoso.com"}


def test_a_no_change_run_reads_the_events_once_and_every_other_resource_at_most_once() -> None:
    world = make_world()
    world.run()
    before = len(recorded(world))
    summary = world.run()
    assert summary.writes == 0
    reads = [e for e in recorded(world)[before:] if "/oauth2/" not in e["path"]]
    listings = [e for e in reads if e["method"] == "GET" and e["path"].endswith("/events")]
    assert len(listings) == 1  # 20 sessions: one page
    schedules = [e for e in reads if e["path"].endswith("/getSchedule")]
    catalog = [e for e in reads if "appCatalogs" in e["path"]]
    lists = [e for e in reads if e["path"].endswith("/lists") or ("/lists/" in e["path"]
             and not e["path"].endswith("/items"))]
    assert len(schedules) <= 1 and len(catalog) <= 1 and len(lists) <= 1, (
        [e["path"] for e in reads])


# ---------------------------------------------------------------------------------------------
# Exit codes from outcomes


def test_a_run_whose_notes_list_writes_fail_exits_1_and_names_them() -> None:
    world = make_world()
    world.sandbox.faults.add(FaultRule(kind="503", method="POST", path=r"/sites/.+/items$",
                                       retry_after=1))
    summary = world.run()
    assert summary.booked == 20
    deferred = [o for o in summary.not_done() if o.action.kind == "create-item"]
    assert len(deferred) == 20 and "503" in deferred[0].reason
    assert summary.exit_code == 1
    assert "DEFERRED create-item:" in summary.render_text()


def test_a_run_refused_the_notes_list_exits_2_naming_the_permission() -> None:
    world = make_world()
    world.sandbox.faults.add(FaultRule(kind="403", method="POST", path=r"/sites/.+/items$"))
    summary = world.run()
    failed = [o for o in summary.not_done() if o.action.kind == "create-item"]
    assert failed and "missing permission" in failed[0].reason
    assert summary.exit_code == 2


def test_a_run_whose_nudges_fail_exits_1_and_names_them() -> None:
    world = a_busy_morning()
    world.sandbox.faults.add(FaultRule(kind="503", method="POST",
                                       path="sendActivityNotification", retry_after=1))
    summary = world.run()
    failed = [o for o in summary.not_done() if o.action.kind == "send-nudge"]
    assert failed, summary.render_text()
    assert summary.exit_code == 1 and "send-nudge:" in summary.render_text()


class RevokeAfterFirstWrite(BaseAdapter):
    """The app's secret is deleted and its tokens revoked right after the run's first write."""

    def __init__(self, inner: BaseAdapter, world: DemoWorld) -> None:
        super().__init__()
        self.inner = inner
        self.world = world
        self.done = False

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        response = self.inner.send(request, **kwargs)
        if not self.done and request.method in ("POST", "PATCH") and "/events" in (
                request.url or ""):
            self.done = True
            for app in self.world.sandbox.state.directory.apps.values():
                app.client_secrets.clear()
            self.world.sandbox.signing_key = secrets.token_bytes(32)
        return response

    def close(self) -> None:
        self.inner.close()


def test_a_run_whose_credential_is_revoked_midway_stops_and_exits_2() -> None:
    world = make_world()
    wrap_session(world.client.session, lambda inner: RevokeAfterFirstWrite(inner, world))
    summary = world.run()
    # Bookings go four at a time: those already on their way when the secret went may land.
    assert 1 <= summary.booked < 20
    assert summary.stopped is not None and "authentication" in summary.stopped.reason
    assert summary.exit_code == 2
    assert all(o.status.value == "deferred" for o in summary.not_done())
    assert "STOPPED" in summary.render_text()


class Unreachable(BaseAdapter):
    """Graph's host refuses every connection; the identity platform still answers."""

    def __init__(self, inner: BaseAdapter) -> None:
        super().__init__()
        self.inner = inner

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if "graph.microsoft.com" in (request.url or ""):
            raise requests.ConnectionError("connection refused")
        return self.inner.send(request, **kwargs)

    def close(self) -> None:
        self.inner.close()


def test_a_run_against_an_unreachable_graph_exits_3() -> None:
    world = make_world()
    wrap_session(world.client.session, Unreachable)
    out = StringIO()
    code = run_command(world.client, world.config, world.clock, world.templates,
                       dry_run=False, force=False, as_json=False, out=out)
    assert code == 3


@pytest.mark.parametrize("dry_run", [True, False])
def test_plan_exits_with_the_code_run_would(dry_run: bool) -> None:
    world = make_world()
    world.sandbox.faults.add(FaultRule(kind="403", method="GET", path=r"/sites/"))
    out = StringIO()
    code = run_command(world.client, world.config, world.clock, world.templates,
                       dry_run=dry_run, force=False, as_json=False, out=out)
    assert code == 2


def test_an_unreachable_identity_platform_exits_3(monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    from tests.conftest import EXAMPLE_CONFIG, ROOT
    from worker.cli.main import main

    for key, value in {
        "MENTORING_TENANT_ID": "00000000-0000-0000-0000-000000000001",
        "MENTORING_CLIENT_ID": "11111111-2222-3333-4444-555555555555",
        "MENTORING_CLIENT_SECRET": "not-a-real-secret",
        # Nothing listens on port 9 of the loopback: every connection is refused at once.
        "MENTORING_GRAPH_URL": "http://127.0.0.1:9",
        "MENTORING_AUTHORITY_HOST": "http://127.0.0.1:9",
        "MENTORING_CONFIG_DIR": str(EXAMPLE_CONFIG),
        "MENTORING_TEMPLATES_DIR": str(ROOT / "templates"),
    }.items():
        monkeypatch.setenv(key, value)
    assert main(["run"], out=StringIO()) == 3
    err = capsys.readouterr().err
    assert "identity platform is unavailable" in err and "not-a-real-secret" not in err


def test_the_run_summary_is_a_json_object_in_json_logs() -> None:
    import logging

    from worker.cli import logs

    world = make_world()
    stream = StringIO()
    logs.configure("json", stream=stream)
    try:
        run_command(world.client, world.config, world.clock, world.templates, dry_run=False,
                    force=False, as_json=False, out=StringIO())
    finally:
        root = logging.getLogger()
        for handler in list(root.handlers):
            if getattr(handler, "_mentoring", False):
                root.removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines() if line]
    [finished] = [line for line in lines if line["message"] == "run finished"]
    assert isinstance(finished["summary"], dict)
    assert finished["summary"]["outcomes"]["book"] == {"done": 20}
    assert finished["summary"]["exit_code"] == 1  # the participant without a Teams licence


def test_a_pairings_file_emptied_by_mistake_is_refused_by_plan_and_run(tmp_path: Any) -> None:
    import dataclasses
    import shutil

    from tests.conftest import EXAMPLE_CONFIG
    from worker.config import load_config

    world = make_world()
    world.run()
    broken = tmp_path / "config"
    shutil.copytree(EXAMPLE_CONFIG, broken)
    (broken / "pairings.yaml").write_text("pairings: []\n", encoding="utf-8")
    emptied = dataclasses.replace(world, config=load_config(broken, today=START.date()))
    before = len(recorded(emptied))
    for dry_run in (True, False):
        out = StringIO()
        assert run_command(emptied.client, emptied.config, emptied.clock, emptied.templates,
                           dry_run=dry_run, force=False, as_json=False, out=out) == 2
    assert graph_writes(recorded(emptied)[before:]) == Counter()


def test_when_the_nudge_ledger_cannot_be_written_no_more_nudges_go_out_that_run(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import worker.apply.teams as teams_apply

    world = a_busy_morning()
    real = teams_apply.remember

    def failing(ctx: Any, ledger: Any, entry: str) -> None:
        if "/session-rescheduled/" in entry:
            raise teams_apply.LedgerError("503 serviceNotAvailable after retries")
        real(ctx, ledger, entry)

    monkeypatch.setattr(teams_apply, "remember", failing)
    summary = world.run()
    sends = [o for o in summary.outcomes if o.action.kind == "send-nudge"]
    assert [o.status.value for o in sends] == ["failed", "deferred"]
    assert "may send it once more" in sends[0].reason
    assert sends[1].reason.startswith("nudges paused for this run")
    feed = world.sandbox.state.teams.feed(
        world.sandbox.state.directory.get("zoe.williams@contoso.com").id)
    assert len(list(feed)) == 1  # one unrecorded at most: one duplicate at most next run
