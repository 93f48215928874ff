"""The booking job end to end, through the sandbox tenant: the issue's "done when" points."""

from __future__ import annotations

import functools
import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from graph.clock import ManualClock
from graph.sandbox.fixtures import demo_tenant
from graph.sandbox.state import TenantState
from graph.sandbox.tenant_app import Sandbox
from tests.conftest import (
    EXAMPLE_CONFIG,
    CountingAdapter,
    KillAfterWrites,
    Killed,
    tagged_event_counts,
    wrap_session,
)
from worker.cli.demo import DemoWorld, build_world, init_notes_list
from worker.config import load_config

ORGANIZER = "mentoring@contoso.com"
START = datetime(2027, 1, 4, 6, 0, tzinfo=UTC)


@functools.cache
def _demo_tenant_json() -> str:
    """The demo organisation as JSON, built once: each test gets its own fresh copy."""
    return json.dumps(demo_tenant(ManualClock(START)).to_json())


def _fresh_demo_tenant(clock: object) -> TenantState:
    return TenantState.from_json(json.loads(_demo_tenant_json()))


def make_world(config_dir: Path = EXAMPLE_CONFIG, start: datetime = START, *,
               notes_list: bool = True) -> DemoWorld:
    """The demo tenant as a deployed program has it: the app registered and granted, the
    Teams app in the catalog and (unless `notes_list` is False) the notes list created."""
    clock = ManualClock(start)
    config = load_config(config_dir, today=start.date())
    fixture = _fresh_demo_tenant if start == START else demo_tenant
    sandbox = Sandbox.create(clock=clock, fixture=fixture)
    world = build_world(config, sandbox, clock)
    if notes_list and config.program.sharepoint is not None:
        init_notes_list(world)
    return world


# The demo tenant's mentor without a Teams licence: the one install Teams refuses (reported,
# tried again next week), on the first run that reaches him.
UNLICENSED = "sam.rivera@contoso.com"


def failures_besides_unlicensed(summary: Any) -> dict[str, list[str]]:
    return {pairing: [r for r in reasons if f"install-app:{UNLICENSED}" not in r]
            for pairing, reasons in summary.failed.items()
            if any(f"install-app:{UNLICENSED}" not in r for r in reasons)}


def session_of(world: DemoWorld) -> Any:
    return world.client.session  # the requests.Session the client and msal share


def test_first_run_books_keep_booked_sessions_for_every_pair() -> None:
    world = make_world()
    summary = world.run()
    assert failures_besides_unlicensed(summary) == {}
    pairs = len(world.config.pairings)
    assert summary.booked == pairs * world.config.program.keep_booked
    counts = tagged_event_counts(world.sandbox, ORGANIZER)
    assert len(counts) == summary.booked
    assert set(counts.values()) == {1}


def test_a_second_run_makes_no_write_request() -> None:
    world = make_world()
    world.run()
    counter = wrap_session(session_of(world), CountingAdapter)
    summary = world.run()
    assert counter.writes() == []
    assert summary.writes == 0
    assert summary.booked == summary.moved == summary.cancelled == 0


def _clean_first_run_writes() -> int:
    world = make_world()
    counter = wrap_session(session_of(world), CountingAdapter)
    world.run()
    return len(counter.writes())


FIRST_SESSIONS = 20  # 10 pairs x keep_booked 2
# Every write of a first run: 20 events, our Teams app installed for the 19 people who have
# Teams plus the one refused for lack of a licence, the install ledger on 20 events, the 20
# notes list items, and one `$batch` tagging the 20 events with their items.
FIRST_RUN_WRITES = 81


def test_the_kill_test_covers_every_write_of_a_first_run() -> None:
    assert _clean_first_run_writes() == FIRST_RUN_WRITES


@pytest.mark.parametrize("k", range(1, FIRST_RUN_WRITES + 1))
def test_a_run_killed_after_the_kth_write_is_finished_by_the_next_with_nothing_doubled(
    k: int,
) -> None:
    world = make_world()
    killer = wrap_session(session_of(world), lambda inner: KillAfterWrites(inner, k))
    with pytest.raises(Killed):
        world.run()
    killer.kill_after = 0  # the next container starts clean
    summary = world.run()
    assert failures_besides_unlicensed(summary) == {}
    counts = tagged_event_counts(world.sandbox, ORGANIZER)
    assert len(counts) == FIRST_SESSIONS
    assert set(counts.values()) == {1}, {key: n for key, n in counts.items() if n != 1}
    assert world.run().writes == 0


def test_every_request_of_a_whole_program_passes_the_schema_check() -> None:
    world = make_world()
    counter = wrap_session(session_of(world), CountingAdapter)
    for _ in range(200):
        world.run()
        world.clock.advance(timedelta(days=1))
    refused = [(m, u, s) for m, u, s in counter.calls if s == 400]
    assert refused == []
    counts = tagged_event_counts(world.sandbox, ORGANIZER)
    assert len(counts) == 7 * len(world.config.pairings)


def _copy_config(tmp_path: Path) -> Path:
    target = tmp_path / "config"
    shutil.copytree(EXAMPLE_CONFIG, target)
    return target


def test_a_pair_whose_mentee_does_not_exist_fails_alone_with_exit_code_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_dir = _copy_config(tmp_path)
    pairings = config_dir / "pairings.yaml"
    text = pairings.read_text(encoding="utf-8")
    pairings.write_text(
        text.replace("margaret.hale@contoso.com", "nobody.here@contoso.com"), encoding="utf-8"
    )
    world = make_world(config_dir)
    from io import StringIO

    from worker.cli.main import run_command

    out = StringIO()
    code = run_command(world.client, world.config, world.clock, world.templates,
                       dry_run=False, force=False, as_json=False, out=out)
    assert code == 1
    text_out = out.getvalue()
    assert "ceo-ava" in text_out and "nobody.here@contoso.com" in text_out
    counts = tagged_event_counts(world.sandbox, ORGANIZER)
    booked_pairs = {key.split("/")[1] for key in counts}
    assert booked_pairs == {p.id for p in world.config.pairings} - {"ceo-ava"}


def test_a_declined_session_is_moved_and_the_decliner_sees_a_new_time() -> None:
    world = make_world()
    world.run()
    from graph.sandbox.people import People

    counts = tagged_event_counts(world.sandbox, ORGANIZER)
    key = "leadership-2027/cfo-leo/1"
    assert counts[key] == 1
    before = _event_start(world, key)
    event_id = _event_id(world, key)
    People(world.sandbox).decline("daniel.okafor@contoso.com", _copy_id(world, event_id,
                                                                          "daniel.okafor@contoso.com"))
    summary = world.run()
    assert summary.moved == 1
    assert _event_start(world, key) != before
    assert tagged_event_counts(world.sandbox, ORGANIZER)[key] == 1


def test_pausing_a_pair_cancels_its_upcoming_sessions_only(tmp_path: Path) -> None:
    world = make_world()
    world.run()
    config_dir = _copy_config(tmp_path)
    pairings = config_dir / "pairings.yaml"
    text = pairings.read_text(encoding="utf-8")
    marker = "id: cfo-leo"
    assert marker in text
    head, tail = text.split(marker, 1)
    tail = tail.replace("status: active", "status: paused", 1)
    pairings.write_text(head + marker + tail, encoding="utf-8")
    world.config = load_config(config_dir, today=world.clock.now().date())
    summary = world.run()
    assert summary.cancelled == 2
    counts = tagged_event_counts(world.sandbox, ORGANIZER)
    assert not any(key.startswith("leadership-2027/cfo-leo/") for key in counts)


def test_a_plan_cancelling_most_sessions_is_refused_unless_forced(tmp_path: Path) -> None:
    from worker.plan.plan import TooMuchChange

    world = make_world()
    world.run()
    config_dir = _copy_config(tmp_path)
    pairings = config_dir / "pairings.yaml"
    pairings.write_text(
        pairings.read_text(encoding="utf-8").replace("status: active", "status: ended"),
        encoding="utf-8",
    )
    world.config = load_config(config_dir, today=world.clock.now().date())
    with pytest.raises(TooMuchChange):
        world.run()
    assert len(tagged_event_counts(world.sandbox, ORGANIZER)) == 20
    summary = world.run(force=True)
    assert summary.cancelled == 20


def _organizer_events(world: DemoWorld) -> dict[str, dict[str, Any]]:
    from graph.sandbox.calendar import store_of

    owner = world.sandbox.state.directory.get(ORGANIZER)
    return store_of(world.sandbox).calendar(owner.id)


def _event_id(world: DemoWorld, key: str) -> str:
    for event_id, event in _organizer_events(world).items():
        for prop in event.get("singleValueExtendedProperties") or []:
            if prop.get("value") == key and not event.get("isCancelled"):
                return event_id
    raise AssertionError(f"no event for {key}")


def _event_start(world: DemoWorld, key: str) -> str:
    from graph.sandbox.calendar import start_of

    return start_of(_organizer_events(world)[_event_id(world, key)]).isoformat()


def _copy_id(world: DemoWorld, organizer_event_id: str, attendee: str) -> str:
    from graph.sandbox.calendar import store_of

    store = store_of(world.sandbox)
    event = _organizer_events(world)[organizer_event_id]
    user = world.sandbox.state.directory.get(attendee)
    for copy in store.copies_of(event):
        if copy.get("id") in store.calendar(user.id):
            return str(copy["id"])
    raise AssertionError("no invitation copy")
