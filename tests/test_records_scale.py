"""With 6,000 items in the list, a run's SharePoint requests follow the changes, not the list."""

from __future__ import annotations

from datetime import timedelta

import pytest

from graph.sandbox.sharepoint import app_identity
from tests.conftest import KillAfterWrites, Killed, wrap_session
from tests.records_helpers import SharePointCounter, items, records_world, store, the_list
from tests.test_records_people import decline_first_session
from worker.cli.demo import DemoWorld

FILLER = 6000


def fill(world: DemoWorld, count: int = FILLER) -> None:
    """Past programs' items: the list a long-lived site accumulates."""
    sp_list = the_list(world)
    for n in range(count):
        store(world).insert_item(
            sp_list,
            {"Title": f"old {n}", "ProgramId": "leadership-2024",
             "PairingId": f"pair-{n // 7}",
             "SessionKey": f"leadership-2024/pair-{n // 7}/{n % 7 + 1}",
             "SessionStatus": "Held", "NotesStatus": "Posted", "Notes": "<p>old notes</p>",
             "SessionStart": "2024-03-01T10:00:00Z", "SessionEnd": "2024-03-01T10:45:00Z"},
            now=world.clock.now(), actor=app_identity("old-app"), validate=False,
        )


def move_cost(world: DemoWorld) -> int:
    """SharePoint requests of a run in which one session moved."""
    counter = wrap_session(world.client.session, SharePointCounter)
    decline_first_session(world)
    summary = world.run()
    assert summary.moved == 1 and summary.records is not None
    assert summary.records.updated == 1 and summary.records.failures == {}
    return len(counter.take())


def test_a_quiet_run_makes_no_sharepoint_request_and_a_move_costs_the_same_in_a_big_list() -> None:
    small = records_world()
    small.run()
    small_cost = move_cost(small)

    big = records_world()
    big.run()
    fill(big)
    assert len(the_list(big).items) == FILLER + 20
    counter = wrap_session(big.client.session, SharePointCounter)
    quiet = big.run()
    assert counter.take() == [] and quiet.records is not None and quiet.records.requests == 0
    big_cost = move_cost(big)
    assert big_cost == small_cost
    assert big_cost == 3  # the list (site and title in one URL), the item by id, one PATCH


def test_sessions_ending_are_recorded_with_requests_that_follow_the_changes() -> None:
    world = records_world()
    world.run()
    fill(world)
    counter = wrap_session(world.client.session, SharePointCounter)
    world.clock.advance(timedelta(days=45))  # every booked session is over; more get booked
    summary = world.run()
    assert summary.records is not None and summary.records.failures == {}
    changed = summary.records.created + summary.records.updated
    assert changed >= 20
    # The list once; per 20 changes two $batch lookups (by id, by key) and one write each.
    assert len(counter.take()) <= 1 + changed + -(-changed // 20) * 2


def test_a_run_killed_after_creating_items_is_finished_without_duplicates_in_a_big_list() -> None:
    world = records_world()
    fill(world)
    killer = wrap_session(world.client.session, lambda inner: KillAfterWrites(inner, 25))
    with pytest.raises(Killed):
        world.run()  # 20 events booked, 5 items created, no event knows its item yet
    assert len(items(world)) == 5
    killer.kill_after = 0
    summary = world.run()
    assert summary.records is not None and summary.records.failures == {}
    keys = [i.fields["SessionKey"] for i in items(world)]
    assert len(keys) == 20 and len(set(keys)) == 20
    assert world.run().writes == 0


def test_without_the_index_a_key_lookup_in_a_big_list_is_refused() -> None:
    world = records_world()
    fill(world)
    the_list(world).columns["SessionKey"].indexed = False
    summary = world.run()
    assert summary.records is not None
    assert len(summary.records.failures) == 20
    assert "429" in next(iter(summary.records.failures.values()))
