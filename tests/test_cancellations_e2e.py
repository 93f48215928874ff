"""A participant cancels or deletes a session in Outlook: booked again once, then left
cancelled, and the notes list item says what happened. Never a loop."""

from __future__ import annotations

import dataclasses
import shutil
from datetime import timedelta
from pathlib import Path

from graph.sandbox.people import People
from tests.conftest import EXAMPLE_CONFIG, tagged_event_counts
from tests.records_helpers import item_for
from tests.test_edits_e2e import event_of
from tests.test_run_e2e import START, make_world
from worker.cli.demo import DemoWorld
from worker.config import load_config

ORGANIZER = "mentoring@contoso.com"
KEY = "leadership-2027/ceo-ava/1"


def cancel_in_outlook(world: DemoWorld) -> None:
    """Someone with the program mailbox open cancels the meeting (Outlook deletes it)."""
    People(world.sandbox).cancel(ORGANIZER, str(event_of(world, KEY)["id"]))


def test_a_cancelled_session_is_booked_again_once_then_left_cancelled() -> None:
    world = make_world()
    world.run()
    cancel_in_outlook(world)
    again = world.run()
    assert [a.key for a in again.plan.actions if a.kind == "book"] == [KEY]
    assert "again, once" in again.plan.render_text()
    assert item_for(world, KEY).fields["PersonCancels"] == 1
    assert world.run().writes == 0

    cancel_in_outlook(world)
    for _ in range(3):  # three more mornings: never booked a third time
        world.clock.advance(timedelta(days=1))
        world.run()
    assert KEY not in tagged_event_counts(world.sandbox, ORGANIZER)
    item = item_for(world, KEY).fields
    assert item["SessionStatus"] == "Cancelled" and item["PersonCancels"] == 2
    assert "cancelled by a participant" in item["Attention"]
    # The pair goes on: its next sessions are booked as usual.
    assert f"{KEY[:-1]}2" in tagged_event_counts(world.sandbox, ORGANIZER)


def test_with_rebook_never_a_cancelled_session_stays_cancelled(tmp_path: Path) -> None:
    config = tmp_path / "config"
    shutil.copytree(EXAMPLE_CONFIG, config)
    program = config / "program.yaml"
    program.write_text(program.read_text(encoding="utf-8").replace(
        "rebook_after_cancel: once", "rebook_after_cancel: never"), encoding="utf-8")
    world = make_world()
    world = dataclasses.replace(world, config=load_config(config, today=START.date()))
    world.run()
    cancel_in_outlook(world)
    summary = world.run()
    assert not [a for a in summary.plan.actions if a.kind == "book" and a.key == KEY]
    assert item_for(world, KEY).fields["SessionStatus"] == "Cancelled"
    assert world.run().writes == 0


def test_a_paused_then_resumed_pair_is_booked_again_as_usual(tmp_path: Path) -> None:
    config = tmp_path / "config"
    shutil.copytree(EXAMPLE_CONFIG, config)
    pairings = config / "pairings.yaml"
    text = pairings.read_text(encoding="utf-8")
    world = make_world()
    world.run()
    pairings.write_text(text.replace("    status: active", "    status: paused", 1),
                        encoding="utf-8")
    paused = dataclasses.replace(world, config=load_config(config, today=START.date()))
    assert paused.run().cancelled == 2
    pairings.write_text(text, encoding="utf-8")
    resumed = dataclasses.replace(world, config=load_config(config, today=START.date()))
    summary = resumed.run()
    assert summary.booked == 2  # the program's own cancellation is no participant's
    assert "PersonCancels" not in item_for(resumed, KEY).fields or not item_for(
        resumed, KEY).fields["PersonCancels"]
