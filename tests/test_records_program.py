"""A whole simulated program through the sandbox: one list item per booked session, true."""

from __future__ import annotations

from datetime import timedelta

from graph.sandbox.calendar import end_of, start_of, store_of
from tests.conftest import CountingAdapter, wrap_session
from tests.records_helpers import items, records_world
from worker.core.notes_list import CANCELLED, HELD, NOTES_MISSING
from worker.plan.items import instant

ORGANIZER = "mentoring@contoso.com"


def test_after_a_whole_program_every_booked_session_has_one_true_item() -> None:
    world = records_world()
    for _ in range(200):
        summary = world.run()
        assert summary.records is not None and summary.records.failures == {}
        world.clock.advance(timedelta(days=1))
    program = world.config.program
    owner = world.sandbox.state.directory.get(ORGANIZER)
    events = {}
    for event in store_of(world.sandbox).calendar(owner.id).values():
        for prop in event.get("singleValueExtendedProperties") or []:
            if prop["id"].endswith("MentoringSession") and not event.get("isCancelled"):
                events[prop["value"]] = event
    assert len(events) == 7 * len(world.config.pairings)
    by_key: dict[str, list[object]] = {}
    for item in items(world):
        by_key.setdefault(str(item.fields["SessionKey"]), []).append(item)
    assert {k for k, found in by_key.items() if len(found) != 1} == set()
    for key, event in events.items():
        fields = by_key[key][0].fields  # type: ignore[attr-defined]
        pairing = next(p for p in world.config.pairings if p.id == key.split("/")[1])
        spec = pairing.sessions(program)[int(key.split("/")[2]) - 1]
        assert fields["Topic"] == spec.topic
        assert fields["Phase"] == spec.phase.label
        assert fields["SessionStart"] == instant(start_of(event))
        assert fields["SessionEnd"] == instant(end_of(event))
        assert fields["SessionStatus"] == HELD
        assert fields["NotesStatus"] == NOTES_MISSING
        assert fields["EventId"] == event["id"]
    # Items for sessions whose events are gone say Cancelled; none is left claiming more.
    for key in set(by_key) - set(events):
        assert by_key[key][0].fields["SessionStatus"] == CANCELLED  # type: ignore[attr-defined]


def test_a_second_run_makes_no_write_and_no_sharepoint_request() -> None:
    world = records_world()
    first = world.run()
    assert first.records is not None and first.records.created == 20
    counter = wrap_session(world.client.session, CountingAdapter)
    summary = world.run()
    assert counter.writes() == []
    assert summary.records is not None and summary.records.requests == 0
    assert [c for c in counter.calls if "/sites/" in c[1]] == []
