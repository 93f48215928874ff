"""Declines through the sandbox: someone who declines every time the session is moved."""

from __future__ import annotations

from datetime import timedelta

from graph.sandbox.calendar import start_of, store_of
from tests.records_helpers import item_for
from tests.test_run_e2e import make_world
from worker.cli.demo import DemoWorld
from worker.cli.report import read_report, render_html, render_text

KEY = "leadership-2027/personal-zoe/1"


def starts_of_session(world: DemoWorld) -> list[str]:
    owner = world.sandbox.state.directory.get("mentoring@contoso.com")
    return [start_of(e).isoformat() for e in store_of(world.sandbox).calendar(owner.id).values()
            if any(p.get("value") == KEY for p in e.get("singleValueExtendedProperties") or [])]


def test_a_person_who_declines_every_time_gets_three_moves_then_the_admin_is_told() -> None:
    world = make_world()
    elena = world.sandbox.state.directory.get("elena.rossi@contoso.com")
    elena.behaviour.kind, elena.behaviour.weekdays = "decline_days", list(range(7))
    elena.behaviour.delay_minutes = 30
    offered: list[str] = []
    summaries = []
    for _ in range(6):  # six mornings, one run each (the session is on the 11th)
        summaries.append(world.run())
        offered.extend(s for s in starts_of_session(world) if s not in offered)
        world.clock.advance(timedelta(days=1))
    moves = sum(1 for s in summaries for o in s.outcomes
                if o.action.kind == "move" and o.action.key == KEY)
    assert moves == 3
    assert len(offered) == 4 and len(set(offered)) == 4  # never the same time twice
    told = [s for s in summaries
            if any("needs attention" in p.reason and p.key == KEY for p in s.plan.problems)]
    assert told and all(s.exit_code == 1 for s in told)
    # The list item says so, and the report lists it for the program team.
    assert "needs attention" in item_for(world, KEY).fields["Attention"]
    report = read_report(world.client, world.config, world.clock.now())
    assert {a.pairing_id for a in report.attention} == {"personal-zoe"}  # both her sessions
    assert "Needs attention (" in render_text(report)
    assert "after 3 moves" in render_html(report)
