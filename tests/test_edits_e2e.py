"""Edits of the config after sessions are booked: each shows in `plan` as an update and
reaches the upcoming events and their list items; held sessions are never changed."""

from __future__ import annotations

import dataclasses
import shutil
from datetime import timedelta
from pathlib import Path

from graph.sandbox.calendar import end_of, start_of, store_of
from tests.conftest import EXAMPLE_CONFIG
from tests.records_helpers import item_for
from tests.test_run_e2e import START, make_world
from worker.cli.demo import DemoWorld
from worker.config import load_config
from worker.plan.reads import PRESENCE_SLOTS
from worker.run.job import execute
from worker.run.summary import RunSummary

ORGANIZER = "mentoring@contoso.com"
KEY = "leadership-2027/ceo-ava/1"


def edited(world: DemoWorld, tmp_path: Path, file: str, old: str, new: str) -> DemoWorld:
    config = tmp_path / "config"
    if not config.exists():
        shutil.copytree(EXAMPLE_CONFIG, config)
    path = config / file
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return dataclasses.replace(world, config=load_config(config, today=START.date()))


def event_of(world: DemoWorld, key: str) -> dict[str, object]:
    owner = world.sandbox.state.directory.get(ORGANIZER)
    [event] = [e for e in store_of(world.sandbox).calendar(owner.id).values()
               if any(p.get("value") == key for p in e.get("singleValueExtendedProperties") or [])]
    return event


def test_a_new_duration_updates_every_upcoming_event_and_its_item(tmp_path: Path) -> None:
    world = make_world()
    world.run()
    world = edited(world, tmp_path, "program.yaml", "duration_minutes: 45", "duration_minutes: 60")
    plan, _ = execute(world.client, world.config, world.clock, world.templates, apply=False)
    assert "~ update session 1: minutes 45 -> 60" in plan.render_text()
    assert plan.counts()["update"] == 20
    # Twenty sessions get longer: a change of the whole program, so the gate asks for --force.
    assert plan.refusal() is not None
    summary = world.run(force=True)
    assert summary.updated == 20 and summary.not_done() == []
    event = event_of(world, KEY)
    assert end_of(event) - start_of(event) == timedelta(minutes=60)
    assert item_for(world, KEY).fields["SessionEnd"] == end_of(event).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert world.run().writes == 0


def test_a_new_mentor_becomes_the_attendee_of_the_upcoming_sessions(tmp_path: Path) -> None:
    world = make_world()
    world.run()
    world = edited(world, tmp_path, "pairings.yaml", "mentor: ava.nguyen@contoso.com",
                   "mentor: zoe.williams@contoso.com")
    plan, _ = execute(world.client, world.config, world.clock, world.templates, apply=False)
    text = plan.render_text()
    assert "~ update session 1: attendees" in text and "zoe.williams@contoso.com" in text
    world.run()
    attendees = {a["emailAddress"]["address"] for a in event_of(world, KEY)["attendees"]}
    assert attendees == {"zoe.williams@contoso.com", "margaret.hale@contoso.com"}
    # The mentor removed gets a cancellation, the one added an invitation.
    copies = store_of(world.sandbox).copies_of(event_of(world, KEY))
    by_person = {c["_mailbox"]: c for c in copies}
    ava = world.sandbox.state.directory.get("ava.nguyen@contoso.com").id
    zoe = world.sandbox.state.directory.get("zoe.williams@contoso.com").id
    assert by_person[ava].get("isCancelled") is True
    assert not by_person[zoe].get("isCancelled")
    assert item_for(world, KEY).fields["MentorEmail"] == "zoe.williams@contoso.com"
    assert world.run().writes == 0


def test_a_held_session_is_never_changed_by_an_edit(tmp_path: Path) -> None:
    world = make_world()
    world.run()
    first = event_of(world, KEY)
    world.clock.set(end_of(first) + timedelta(hours=1))
    world.run()
    before = dict(event_of(world, KEY))
    world = edited(world, tmp_path, "program.yaml", "duration_minutes: 45", "duration_minutes: 60")
    plan, _ = execute(world.client, world.config, world.clock, world.templates, apply=False)
    assert not [a for a in plan.actions if a.kind == "update" and a.key == KEY]
    world.run(force=True)
    after = event_of(world, KEY)
    assert (start_of(after), end_of(after)) == (start_of(before), end_of(before))


def test_a_person_who_left_puts_the_pair_on_needs_attention_and_nothing_is_deleted() -> None:
    from tests.conftest import tagged_event_counts
    from worker.cli.report import read_report

    world = make_world()
    world.run()
    before = tagged_event_counts(world.sandbox, ORGANIZER)
    gone = world.sandbox.state.directory.get("margaret.hale@contoso.com")
    del world.sandbox.state.directory.users[gone.id]

    def noticed(summary: RunSummary) -> bool:
        return any(p.pairing_id == "ceo-ava" and "needs attention" in p.reason
                   and "margaret.hale@contoso.com" in p.reason for p in summary.plan.problems)

    # Nothing is due for the pair, so nobody is looked up; the directory check that rotates
    # through the pairings hour by hour finds her gone within a day of hourly runs.
    for _ in range(PRESENCE_SLOTS):
        world.clock.advance(timedelta(hours=1))
        summary = world.run()
        if noticed(summary):
            break
    assert noticed(summary)
    assert summary.exit_code == 1 and summary.cancelled == 0
    assert tagged_event_counts(world.sandbox, ORGANIZER) == before
    assert "does not exist" in item_for(world, KEY).fields["Attention"]
    report = read_report(world.client, world.config, world.clock.now())
    assert {a.pairing_id for a in report.attention} == {"ceo-ava"}


def test_an_edited_agenda_template_rewrites_the_upcoming_invites(tmp_path: Path) -> None:
    from tests.conftest import ROOT
    from worker.config.templates import Templates

    world = make_world()
    world.run()
    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", templates)
    agenda = templates / "agendas" / "technology-and-devices.html.j2"
    agenda.write_text(agenda.read_text(encoding="utf-8") + "<p>Bring your phone.</p>\n",
                      encoding="utf-8")
    world = dataclasses.replace(world, templates=Templates(templates))
    plan, _ = execute(world.client, world.config, world.clock, world.templates, apply=False)
    assert "~ update session 1: body (as booked) -> (from the current templates)" in (
        plan.render_text())
    assert plan.refusal() is None  # new words are not a disruption
    world.run()
    body = event_of(world, KEY)["body"]
    assert "Bring your phone." in str(body)
    assert world.run().writes == 0


def test_a_new_topic_order_renames_the_upcoming_sessions_and_their_items(tmp_path: Path) -> None:
    world = make_world()
    world.run()
    world = edited(world, tmp_path, "pairings.yaml", "    status: active\n",
                   "    status: active\n    tailoring:\n      topic_order: [2, 1, 3, 4, 5, 6, 7]\n")
    plan, _ = execute(world.client, world.config, world.clock, world.templates, apply=False)
    assert "~ update session 1: subject" in plan.render_text()
    world.run()
    first = world.config.pairings[0].sessions(world.config.program)[0]
    assert str(event_of(world, KEY)["subject"]).endswith(first.topic)
    assert item_for(world, KEY).fields["Topic"] == first.topic
    assert world.run().writes == 0


def test_new_program_hours_move_only_the_sessions_outside_them(tmp_path: Path) -> None:
    from worker.core.timezones import zone_for

    world = make_world()
    world.run()
    world = edited(world, tmp_path, "program.yaml", 'latest: "17:30"', 'latest: "12:00"')
    plan, _ = execute(world.client, world.config, world.clock, world.templates, apply=False)
    text = plan.render_text()
    assert "new hours and days" in text
    summary = world.run(force=True)
    # Every upcoming session now ends by noon in both people's own zones, or the plan named it
    # (no time fits before noon for that pair within the cadence's tolerance).
    named = {p.key for p in summary.plan.problems if p.key}
    for pairing in world.config.pairings:
        for number in (1, 2):
            key = f"leadership-2027/{pairing.id}/{number}"
            if key in named:
                assert "no other time fits" in " ".join(
                    p.reason for p in summary.plan.problems if p.key == key)
                continue
            event = event_of(world, key)
            for email in (pairing.mentor, pairing.mentee):
                user = world.sandbox.state.directory.get(email)
                settings = user.mailboxSettings
                name = settings.get("timeZone") or "UTC"
                zone = zone_for(settings["workingHours"]["timeZone"]
                                if name == "Customized Time Zone" else name)
                local_end = end_of(event).astimezone(zone)
                assert (local_end.hour, local_end.minute) <= (12, 0), (pairing.id, email)
            assert item_for(world, key).fields["SessionStart"] == start_of(event).strftime(
                "%Y-%m-%dT%H:%M:%SZ")
    assert world.run().writes == 0


def test_an_earlier_start_date_plans_the_upcoming_sessions_again(tmp_path: Path) -> None:
    world = make_world()
    world.run()
    before = start_of(event_of(world, KEY))
    world = edited(world, tmp_path, "pairings.yaml", "start: 2027-01-11", "start: 2027-01-05")
    plan, _ = execute(world.client, world.config, world.clock, world.templates, apply=False)
    assert "planned again from the pairing's new start" in plan.render_text()
    world.run()
    first, second = (start_of(event_of(world, f"leadership-2027/ceo-ava/{n}")) for n in (1, 2))
    assert first < before and first.date() <= START.date() + timedelta(days=5)
    assert timedelta(days=16) <= second - first <= timedelta(days=26)
    assert item_for(world, KEY).fields["SessionStart"] == first.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert world.run().writes == 0


def test_a_new_mentee_becomes_the_attendee_of_the_upcoming_sessions(tmp_path: Path) -> None:
    world = make_world()
    world.run()
    # Two executives swap mentors: each pair gets a new mentee.
    config = tmp_path / "config"
    shutil.copytree(EXAMPLE_CONFIG, config)
    pairings = config / "pairings.yaml"
    text = pairings.read_text(encoding="utf-8")
    text = (text.replace("mentee: margaret.hale@contoso.com", "mentee: SWAP")
            .replace("mentee: daniel.okafor@contoso.com", "mentee: margaret.hale@contoso.com")
            .replace("mentee: SWAP", "mentee: daniel.okafor@contoso.com"))
    pairings.write_text(text, encoding="utf-8")
    world = dataclasses.replace(world, config=load_config(config, today=START.date()))
    plan, _ = execute(world.client, world.config, world.clock, world.templates, apply=False)
    assert "~ update session 1: attendees" in plan.render_text()
    world.run()
    attendees = {a["emailAddress"]["address"] for a in event_of(world, KEY)["attendees"]}
    assert attendees == {"ava.nguyen@contoso.com", "daniel.okafor@contoso.com"}
    assert item_for(world, KEY).fields["MenteeEmail"] == "daniel.okafor@contoso.com"
    assert world.run().writes == 0
