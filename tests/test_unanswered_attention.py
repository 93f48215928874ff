"""A participant who leaves an invitation unanswered: after the invitation and the nudge to
answer have each had `unanswered_after_hours`, the session's item says so ("needs attention",
with who and since when); the text stays the same run after run (one write), and it clears
when the person answers."""

from __future__ import annotations

from datetime import timedelta

from graph.sandbox.directory import Behaviour
from graph.sandbox.people import People
from tests.records_helpers import item_for
from tests.test_edits_e2e import event_of
from tests.test_run_e2e import make_world

# An executive who leaves her invitations unanswered (her pair starts on Mon 11 Jan 2027).
SILENT = "margaret.hale@contoso.com"
KEY = "leadership-2027/ceo-ava/1"
OTHER = "leadership-2027/cfo-leo/1"


def test_an_unanswered_invitation_is_flagged_once_and_cleared_by_the_answer() -> None:
    world = make_world()
    world.sandbox.state.directory.get(SILENT).behaviour = Behaviour(kind="never_answer")
    world.run()
    assert not item_for(world, KEY).fields.get("Attention")

    world.clock.advance(timedelta(hours=47))  # within the first 2 x 48 h: not yet
    world.run()
    assert not item_for(world, KEY).fields.get("Attention")

    world.clock.advance(timedelta(hours=50))  # 97 h after the invitation went out
    world.run()
    text = str(item_for(world, KEY).fields.get("Attention") or "")
    assert text.startswith(f"needs attention: {SILENT} has not answered the invitation sent on ")
    assert not item_for(world, OTHER).fields.get("Attention")  # everyone there answered

    version = item_for(world, KEY).version
    world.clock.advance(timedelta(hours=6))
    world.run()
    assert item_for(world, KEY).version == version  # same text: the item is not rewritten

    People(world.sandbox).accept(SILENT, str(event_of(world, KEY)["id"]))
    world.run()
    assert item_for(world, KEY).fields.get("Attention") == ""
