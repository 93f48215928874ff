"""People's text in the list is sacred: notes survive runs, moves and concurrent edits."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import requests
from requests.adapters import BaseAdapter

from graph.sandbox.people import People
from tests.conftest import wrap_session
from tests.records_helpers import item_for, person_edits, records_world
from tests.test_run_e2e import _copy_id, _event_id
from worker.cli.demo import DemoWorld
from worker.core.notes_list import HELD, NOTES_POSTED, RESCHEDULED
from worker.plan.items import RecordTag, changes, owned

KEY = "leadership-2027/cfo-leo/1"
NOTE = "<p>Daniel's aha: reverse the deck, <b>start from the customer</b>.</p>"


def decline_first_session(world: DemoWorld) -> None:
    event_id = _event_id(world, KEY)
    People(world.sandbox).decline(
        "daniel.okafor@contoso.com", _copy_id(world, event_id, "daniel.okafor@contoso.com")
    )


def test_a_typed_note_survives_ten_runs_including_a_move() -> None:
    world = records_world()
    world.run()
    person_edits(world, KEY, {"Notes": NOTE, "SharedWithProgram": True})
    before = item_for(world, KEY).fields["SessionStart"]
    decline_first_session(world)
    moved = world.run()
    assert moved.moved == 1
    item = item_for(world, KEY)
    assert item.fields["SessionStart"] != before
    assert item.fields["SessionStatus"] == RESCHEDULED
    assert item.fields["RescheduleCount"] == 1
    for _ in range(9):
        world.clock.advance(timedelta(days=3))
        world.run()
    item = item_for(world, KEY)
    assert item.fields["Notes"] == NOTE
    assert item.fields["SharedWithProgram"] is True
    assert item.fields["SessionStatus"] == HELD
    assert item.fields["NotesStatus"] == NOTES_POSTED
    assert item.fields["RescheduleCount"] == 1


class EditDuringRun(BaseAdapter):
    """Between the worker's read of an item and its PATCH, a person saves the item."""

    def __init__(self, inner: BaseAdapter, world: DemoWorld, fields: dict[str, Any]) -> None:
        super().__init__()
        self.inner, self.world, self.fields = inner, world, fields
        self.done = False

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        url = request.url or ""
        if not self.done and request.method == "PATCH" and "/items/" in url and \
                url.endswith("/fields"):
            self.done = True
            person_edits(self.world, KEY, self.fields)
        return self.inner.send(request, **kwargs)

    def close(self) -> None:
        self.inner.close()


def test_a_concurrent_edit_during_a_run_loses_nothing() -> None:
    world = records_world()
    world.run()
    decline_first_session(world)
    editor = wrap_session(world.client.session,
                          lambda inner: EditDuringRun(inner, world, {"Notes": NOTE}))
    summary = world.run()
    assert editor.done
    assert summary.records is not None
    assert summary.records.conflicts == 1 and summary.records.failures == {}
    item = item_for(world, KEY)
    assert item.fields["Notes"] == NOTE
    assert item.fields["SessionStatus"] == RESCHEDULED
    assert item.modified_by.get("application"), "the worker's write landed after the person's"
    assert world.run().writes == 0


def test_a_worker_patch_never_carries_the_notes_or_the_shared_flag() -> None:
    record = {"SessionStart": "2027-01-11T17:30:00Z", "SessionStatus": "Scheduled",
              "Topic": "Technology and Devices"}
    current = {"SessionStart": "2027-01-04T17:30:00Z", "SessionStatus": "Scheduled",
               "Notes": NOTE, "SharedWithProgram": True, "Agenda": "<p>theirs</p>"}
    patch = changes(owned(record, current), current)
    assert "Notes" not in patch and "SharedWithProgram" not in patch and "Agenda" not in patch
    assert patch["SessionStatus"] == RESCHEDULED and patch["RescheduleCount"] == 1


def test_the_record_tag_round_trips_and_ignores_what_it_did_not_write() -> None:
    tag = RecordTag("42", "0123456789abcdef", "Missing")
    assert RecordTag.parse(tag.encode()) == tag
    assert RecordTag.parse("something else") is None
    assert RecordTag.parse(None) is None
    assert json.dumps(tag.encode())  # a plain string Outlook stores as is
