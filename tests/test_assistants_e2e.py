"""An executive's assistant, end to end through the sandbox tenant: invited as an optional
attendee, nudged while the executive has not answered, their proposal followed like the
executive's own, and at the reschedule limit offered three times both people are free."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from graph.sandbox.calendar import end_of, start_of, store_of
from graph.sandbox.directory import Behaviour
from graph.sandbox.fixtures import make_user
from graph.sandbox.people import People
from tests.conftest import EXAMPLE_CONFIG
from tests.records_helpers import item_for
from tests.test_edits_e2e import event_of
from tests.test_run_e2e import START, make_world
from worker.cli.demo import DemoWorld
from worker.config import load_config
from worker.core.teams_links import is_teams_link
from worker.run.job import execute
from worker.run.summary import RunSummary

EXECUTIVE = "margaret.hale@contoso.com"  # ceo-ava's mentee, in New York
MENTOR = "ava.nguyen@contoso.com"
ASSISTANT = "olivia.grant@contoso.com"  # in Seattle: her own zone is not the executive's
OTHER_ASSISTANT = "ben.carter@contoso.com"
KEY = "leadership-2027/ceo-ava/1"
SECOND = "leadership-2027/ceo-ava/2"
THIRD = "leadership-2027/ceo-ava/3"
PACIFIC = ZoneInfo("America/Los_Angeles")


def with_assistant(tmp_path: Path, line: str = f"    assistant: {ASSISTANT}\n") -> Path:
    """The example config, with ceo-ava's executive assisted (the line under her pairing)."""
    config = tmp_path / "config"
    if not config.exists():
        shutil.copytree(EXAMPLE_CONFIG, config)
    path = config / "pairings.yaml"
    text = path.read_text(encoding="utf-8")
    mentee = f"    mentee: {EXECUTIVE}\n"
    text = "".join(part for part in text.splitlines(keepends=True)
                   if not part.startswith("    assistant:"))
    path.write_text(text.replace(mentee, mentee + line, 1), encoding="utf-8")
    return config


def assistant_world(tmp_path: Path) -> DemoWorld:
    world = make_world(with_assistant(tmp_path))
    for upn, name in ((ASSISTANT, "Olivia Grant"), (OTHER_ASSISTANT, "Ben Carter")):
        # Assistants who never answer: only the executive's own answer may count.
        world.sandbox.state.directory.add_user(make_user(
            upn, name, title="Executive Assistant", zone_name="Pacific Standard Time",
            country="US", hours=("08:00", "17:00"), behaviour=Behaviour(kind="never_answer")))
    return world


def reconfigured(world: DemoWorld, tmp_path: Path, line: str) -> DemoWorld:
    return dataclasses.replace(world, config=load_config(with_assistant(tmp_path, line),
                                                         today=START.date()))


def attendees(event: dict[str, Any]) -> dict[str, str]:
    return {a["emailAddress"]["address"].lower(): a["type"] for a in event["attendees"]}


def seen(event: dict[str, Any]) -> tuple[Any, ...]:
    """What the attendees of an event see of it."""
    return (start_of(event), end_of(event), event["subject"], event["body"]["content"],
            attendees(event))


def feed(world: DemoWorld, email: str) -> list[dict[str, Any]]:
    user = world.sandbox.state.directory.get(email)
    return list(world.sandbox.state.teams.feed(user.id))


def run_until(world: DemoWorld, done: Callable[[], bool], step: timedelta = timedelta(hours=3),
              runs: int = 40) -> list[RunSummary]:
    """Runs `step` apart until `done` (bounded: a test never loops for ever)."""
    summaries = []
    for _ in range(runs):
        summaries.append(world.run())
        if done():
            return summaries
        world.clock.advance(step)
    raise AssertionError(f"not done after {runs} runs")


def free_in_sandbox(world: DemoWorld, email: str, start: datetime, end: datetime,
                    session: dict[str, Any]) -> bool:
    """Nothing on the person's own calendar overlaps [start, end), the session's own copy
    aside (what getSchedule counts as busy: everything not free and not cancelled)."""
    person = world.sandbox.state.directory.get(email)
    for event in store_of(world.sandbox).calendar(person.id).values():
        if event.get("isCancelled") or event.get("showAs") == "free":
            continue
        if event.get("iCalUId") == session.get("iCalUId"):
            continue
        if start_of(event) < end and start < end_of(event):
            return False
    return True


def test_the_invite_carries_the_assistant_as_an_optional_attendee(tmp_path: Path) -> None:
    world = assistant_world(tmp_path)
    plan, _ = execute(world.client, world.config, world.clock, world.templates, apply=False)
    [book] = [a for a in plan.actions if a.kind == "book" and a.key == KEY]
    assert f"{ASSISTANT} invited as optional attendee (assistant)" in book.describe()
    assert f"{ASSISTANT} invited as optional attendee" in plan.render_text()
    world.run()
    event = event_of(world, KEY)
    assert attendees(event) == {MENTOR: "required", EXECUTIVE: "required",
                                ASSISTANT: "optional"}
    names = {a["emailAddress"]["address"]: a["emailAddress"]["name"] for a in event["attendees"]}
    assert names[ASSISTANT] == "Olivia Grant"  # looked up in the directory like the pair
    # The invitation is in her calendar, and the pairs without an assistant are as before.
    assert store_of(world.sandbox).copies_of(event)
    assert any(c["_mailbox"] == world.sandbox.state.directory.get(ASSISTANT).id
               for c in store_of(world.sandbox).copies_of(event))
    other = event_of(world, "leadership-2027/cfo-leo/1")
    assert set(attendees(other).values()) == {"required"} and len(other["attendees"]) == 2
    assert world.run().writes == 0


def test_an_assistant_the_directory_lacks_is_a_notice_not_a_failure(tmp_path: Path) -> None:
    world = make_world(with_assistant(tmp_path))  # nobody called Olivia in this tenant
    summary = world.run()
    notices = [n.text for n in summary.plan.notices if n.pairing_id == "ceo-ava"]
    assert any(f"assistant {ASSISTANT}: no such user" in n for n in notices)
    assert "ceo-ava" not in summary.failed
    assert attendees(event_of(world, KEY))[ASSISTANT] == "optional"  # invited by e-mail
    quiet = world.run()
    assert quiet.writes == 0
    assert "teams" not in quiet.by_service  # no app to install for her: no catalog read


def test_changing_or_removing_the_assistant_updates_only_the_upcoming_invites(
        tmp_path: Path) -> None:
    world = assistant_world(tmp_path)
    world.run()
    held = event_of(world, KEY)
    world.clock.set(end_of(held) + timedelta(hours=1))
    world.run()
    held_before = seen(event_of(world, KEY))

    world = reconfigured(world, tmp_path, f"    assistant: {OTHER_ASSISTANT}\n")
    plan, _ = execute(world.client, world.config, world.clock, world.templates, apply=False)
    updates = [a for a in plan.actions if a.kind == "update"]
    # The upcoming sessions (2, and 3 booked since 1 was held); the held one is left alone.
    assert [a.key for a in updates] == [SECOND, THIRD]
    assert f"assistant {ASSISTANT} -> {OTHER_ASSISTANT}" in plan.render_text()
    assert plan.refusal() is None  # nobody's time changes: the safety gate does not count it
    world.run()
    assert attendees(event_of(world, SECOND)) == {MENTOR: "required", EXECUTIVE: "required",
                                                  OTHER_ASSISTANT: "optional"}
    copies = {c["_mailbox"]: c for c in store_of(world.sandbox).copies_of(event_of(world,
                                                                                   SECOND))}
    assert copies[world.sandbox.state.directory.get(ASSISTANT).id].get("isCancelled") is True
    assert seen(event_of(world, KEY)) == held_before

    world = reconfigured(world, tmp_path, "")
    plan, _ = execute(world.client, world.config, world.clock, world.templates, apply=False)
    assert f"assistant {OTHER_ASSISTANT} -> (none)" in plan.render_text()
    world.run()
    assert attendees(event_of(world, SECOND)) == {MENTOR: "required", EXECUTIVE: "required"}
    assert seen(event_of(world, KEY)) == held_before
    assert world.run().writes == 0


def test_the_unanswered_invite_nudge_reaches_the_assistant(tmp_path: Path) -> None:
    world = assistant_world(tmp_path)
    world.sandbox.state.directory.get(EXECUTIVE).behaviour = Behaviour(kind="never_answer")
    # Her assistant accepts at once: that is not the executive's acceptance.
    world.sandbox.state.directory.get(ASSISTANT).behaviour = Behaviour(kind="accept")
    world.run()
    world.clock.advance(timedelta(hours=48))
    run_until(world, lambda: any(e["activityType"] == "inviteUnanswered"
                                 for e in feed(world, ASSISTANT)))
    entries = [e for e in feed(world, ASSISTANT) if e["activityType"] == "inviteUnanswered"]
    for entry in entries:  # one per session booked (two are kept booked)
        assert entry["previewText"].startswith("Margaret Hale has not answered the invitation")
        assert is_teams_link(entry["topic"]["webUrl"])
    assert any(e["activityType"] == "inviteUnanswered" for e in feed(world, EXECUTIVE))


def test_the_assistant_never_makes_a_session_unanswered(tmp_path: Path) -> None:
    world = assistant_world(tmp_path)  # the executive accepts; her assistant never answers
    world.run()
    for _ in range(10):
        world.clock.advance(timedelta(hours=12))
        world.run()
    assert not item_for(world, KEY).fields.get("Attention")
    assert not [e for e in (*feed(world, ASSISTANT), *feed(world, EXECUTIVE))
                if e["activityType"] == "inviteUnanswered"]


def _free_time(world: DemoWorld, key: str) -> tuple[datetime, datetime]:
    """Another time for the session in the week its pair starts, free for both people on
    their own calendars, within the hours both keep (the pair both work in New York)."""
    event = event_of(world, key)
    length = end_of(event) - start_of(event)
    new_york = ZoneInfo("America/New_York")
    for day in range(11, 16):  # Mon 11 .. Fri 15 Jan 2027: within the cadence's tolerance
        for quarter in range(4 * 9, 4 * 16):
            start = datetime(2027, 1, day, quarter // 4, 15 * (quarter % 4), tzinfo=new_york)
            if start == start_of(event):
                continue
            if all(free_in_sandbox(world, email, start, start + length, event)
                   for email in (EXECUTIVE, MENTOR)):
                return start, start + length
    raise AssertionError("no other free time that week")


def test_a_time_the_assistant_proposes_is_followed_like_the_executives(tmp_path: Path) -> None:
    world = assistant_world(tmp_path)
    world.run()
    start, end = _free_time(world, KEY)
    People(world.sandbox).propose(ASSISTANT, str(event_of(world, KEY)["id"]), start, end)
    summary = world.run()
    [move] = [o.action for o in summary.outcomes if o.action.kind == "move"]
    assert move.key == KEY and f"{ASSISTANT} proposed a new time" in move.describe()
    assert (start_of(event_of(world, KEY)), end_of(event_of(world, KEY))) == (start, end)


def test_a_proposal_the_assistant_makes_as_delegate_is_followed(tmp_path: Path) -> None:
    # A delegate answers from the executive's own calendar: Graph shows it as her answer.
    world = assistant_world(tmp_path)
    world.run()
    start, end = _free_time(world, KEY)
    People(world.sandbox).propose(EXECUTIVE, str(event_of(world, KEY)["id"]), start, end)
    world.run()
    assert (start_of(event_of(world, KEY)), end_of(event_of(world, KEY))) == (start, end)


def test_a_decline_by_the_assistant_moves_the_session(tmp_path: Path) -> None:
    world = assistant_world(tmp_path)
    world.run()
    before = start_of(event_of(world, KEY))
    People(world.sandbox).decline(ASSISTANT, str(event_of(world, KEY)["id"]))
    summary = world.run()
    [move] = [o.action for o in summary.outcomes if o.action.kind == "move"]
    assert f"declined by {ASSISTANT}" in move.describe()
    assert start_of(event_of(world, KEY)) != before
    # The mentor hears the session is being rebooked; the executive is not told she declined.
    assert all(e["activityType"] != "sessionRescheduled" for e in feed(world, EXECUTIVE))


def _offered_times(preview: str, year: int) -> list[datetime]:
    listed = preview.removeprefix("Free for both: ").split(". ", 1)[0]
    times = []
    for text in listed.split("; "):
        words = text.split()
        assert words[-1] in ("PST", "PDT"), text  # in the assistant's own zone
        times.append(datetime.strptime(f"{year} {' '.join(words[1:4])}", "%Y %d %b %H:%M")
                     .replace(tzinfo=PACIFIC))
    return times


def test_at_the_reschedule_limit_the_assistant_is_offered_three_free_times(
        tmp_path: Path) -> None:
    world = assistant_world(tmp_path)
    executive = world.sandbox.state.directory.get(EXECUTIVE)
    executive.behaviour = Behaviour(kind="decline_days", weekdays=list(range(7)),
                                    delay_minutes=30)
    summaries = run_until(world, lambda: any(e["activityType"] == "newTimeNeeded"
                                             for e in feed(world, ASSISTANT)),
                          step=timedelta(hours=5))
    [entry] = [e for e in feed(world, ASSISTANT) if e["activityType"] == "newTimeNeeded"]
    # The plan showed the nudge with its three times.
    [send] = [a for a in summaries[-1].plan.actions if a.kind == "send-nudge"
              and a.recipient == ASSISTANT]
    assert send.nudge == "reschedule-limit" and len(send.times) == 3
    assert "free for both: " + "; ".join(send.times) in summaries[-1].plan.render_text()
    key = send.session_key
    moves = sum(1 for s in summaries for o in s.outcomes
                if o.action.kind == "move" and o.action.key == key)
    assert moves == world.config.program.max_reschedules
    assert any("needs attention" in p.reason and p.key == key for p in summaries[-1].plan.problems)

    event = event_of(world, key)
    times = _offered_times(entry["previewText"], start_of(event).year)
    assert len(times) == 3 and len(set(times)) == 3
    length = end_of(event) - start_of(event)
    for start in times:
        for email in (EXECUTIVE, MENTOR):  # really free, on their own calendars
            assert free_in_sandbox(world, email, start, start + length, event), (email, start)
    assert is_teams_link(entry["topic"]["webUrl"])
    assert entry["topic"]["webUrl"] == event["onlineMeeting"]["joinUrl"]

    # Sent once: later runs do not offer the times again.
    for _ in range(3):
        world.clock.advance(timedelta(hours=4))
        world.run()
    assert len([e for e in feed(world, ASSISTANT) if e["activityType"] == "newTimeNeeded"]) == 1

    # She proposes the last one; it is followed (one move past the limit, never more).
    chosen = times[-1]
    People(world.sandbox).propose(ASSISTANT, str(event["id"]), chosen, chosen + length)
    summary = world.run()
    assert [o.action.kind for o in summary.outcomes if o.action.key == key
            and o.action.kind == "move"] == ["move"]
    assert start_of(event_of(world, key)) == chosen
    for _ in range(4):  # the executive declines the new time too: the admin's now
        world.clock.advance(timedelta(hours=5))
        summary = world.run()
        assert not [o for o in summary.outcomes if o.action.kind == "move"
                    and o.action.key == key]
    assert start_of(event_of(world, key)) == chosen
    assert len([e for e in feed(world, ASSISTANT) if e["activityType"] == "newTimeNeeded"]) == 1
