"""The nudge ledger in Microsoft 365: what one container records, the next one reads."""

from __future__ import annotations

from pathlib import Path

from tests.test_nudges_e2e import nudge_world
from worker.apply.context import Context
from worker.apply.teams import remember
from worker.cli.demo import DemoWorld
from worker.core.properties import NUDGES_PROPERTY_ID
from worker.observe.events import read_sessions
from worker.observe.state import live_event
from worker.plan.actions import Ledger

KEY = "leadership-2027/ceo-ava/1"


def booked(tmp_path: Path) -> DemoWorld:
    world = nudge_world(tmp_path)
    world.run()
    return world


class EventLedger:
    """What one container knows of a session's ledger: read once, written through apply."""

    def __init__(self, world: DemoWorld) -> None:
        self.ctx = Context(world.client)
        live = live_event(read_sessions(world.client, world.config)[KEY])
        assert live is not None
        self.ledger = Ledger(KEY, live.organizer, live.event_id, live.nudges, live.etag)

    def record(self, key: str, entry: str) -> None:
        assert key == KEY
        remember(self.ctx, self.ledger, entry)

    def sent(self, key: str) -> frozenset[str]:
        return self.ledger.entries


def organizer_event(world: DemoWorld) -> dict[str, object]:
    from graph.sandbox.calendar import store_of

    owner = world.sandbox.state.directory.get("mentoring@contoso.com")
    for event in store_of(world.sandbox).calendar(owner.id).values():
        for prop in event.get("singleValueExtendedProperties") or []:
            if prop.get("value") == KEY:
                return dict(event)
    raise AssertionError("no event")


def test_a_fresh_container_reads_back_every_recorded_nudge(tmp_path: Path) -> None:
    world = booked(tmp_path)
    first = EventLedger(world)
    first.record(KEY, "ceo-ava/1/reminder/a")
    first.record(KEY, "ceo-ava/1/reminder/b")
    again = EventLedger(world)
    assert again.sent(KEY) >= {"ceo-ava/1/reminder/a", "ceo-ava/1/reminder/b"}


def test_an_event_changed_since_it_was_read_loses_no_key(tmp_path: Path) -> None:
    world = booked(tmp_path)
    ledger = EventLedger(world)
    ledger.record(KEY, "ceo-ava/1/reminder/a")
    # Another writer adds a key (and so a new change key) after this ledger read the event.
    other = EventLedger(world)
    other.record(KEY, "ceo-ava/1/reminder/b")
    ledger.record(KEY, "ceo-ava/1/reminder/c")  # If-Match fails (412): re-read, merge, retry
    assert world.client.stats.by_status[412] == 1
    final = EventLedger(world).sent(KEY)
    assert {"ceo-ava/1/reminder/a", "ceo-ava/1/reminder/b", "ceo-ava/1/reminder/c"} <= final


def test_recording_touches_only_our_property_and_keeps_the_session_tag(tmp_path: Path) -> None:
    world = booked(tmp_path)
    before = organizer_event(world)
    ledger = EventLedger(world)
    ledger.record(KEY, "ceo-ava/1/reminder/a")
    after = organizer_event(world)
    assert after["_start"] == before["_start"] and after["attendees"] == before["attendees"]
    ids = {str(p["id"]).lower() for p in after["singleValueExtendedProperties"]}  # type: ignore[attr-defined]
    assert NUDGES_PROPERTY_ID.lower() in ids
    assert any(i.endswith("name mentoringsession") for i in ids)


def test_installing_twice_answers_already_there_and_the_list_shows_the_app(
    tmp_path: Path,
) -> None:
    from graph import teams

    world = nudge_world(tmp_path)
    user = world.sandbox.state.directory.get("ava.nguyen@contoso.com")
    policy = world.config.program.nudges
    assert policy is not None
    app = teams.find_catalog_app(world.client, policy.teams_app_id)
    assert app is not None
    assert not teams.has_app(world.client, user.id, policy.teams_app_id)
    assert teams.install_app(world.client, user.id, str(app["id"])) is True
    assert teams.install_app(world.client, user.id, str(app["id"])) is False  # 409
    assert teams.has_app(world.client, user.id, policy.teams_app_id)
    assert teams.find_catalog_app(world.client, "00000000-0000-0000-0000-000000000000") is None
