"""Teams nudges end to end, through the sandbox tenant and its clock: the issue's "done when".

A short program (three sessions a week apart, three pairs in different zones, one mentor
without a Teams licence) run every 15 simulated minutes from the first booking until the last
notes request, with the records step keeping the SharePoint list and a mentor typing notes.
"""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jsonschema
import pytest

from graph.clock import ManualClock
from graph.sandbox.fixtures import demo_tenant
from graph.sandbox.tenant_app import Sandbox
from tests.conftest import EXAMPLE_CONFIG, TEMPLATES, KillAfterWrites, Killed, wrap_session
from worker.cli.demo import DemoWorld, build_world, init_notes_list
from worker.cli.teams_app import notes_tab, render_manifest
from worker.config import load_config
from worker.core.intervals import WorkingHours
from worker.core.teams_links import NOTES_TAB, is_teams_link
from worker.core.timezones import zone_for
from worker.plan.nudges import in_working_hours

START = datetime(2027, 1, 8, 6, 0, tzinfo=UTC)  # pairs start on Mon 11 Jan
PAIRS = ("ceo-ava", "personal-zoe", "operations-sam")
UNLICENSED = "sam.rivera@contoso.com"


def nudge_config(tmp_path: Path, nudges: str = "") -> Path:
    target = tmp_path / "config"
    shutil.copytree(EXAMPLE_CONFIG, target)
    program = (target / "program.yaml").read_text(encoding="utf-8")
    # The first three topics only, a week apart, one booked ahead: a whole program in a month.
    head, _, rest = program.partition("curriculum:\n")
    items, _, tail = rest.partition("\n# A session")
    kept = "\n".join(items.splitlines()[:14])
    program = head + "curriculum:\n" + kept + "\n# A session" + tail
    program = re.sub(r"every_days: \d+", "every_days: 7", program)
    program = re.sub(r"tolerance_days: \d+", "tolerance_days: 2", program)
    program = re.sub(r"keep_booked: \d+", "keep_booked: 1", program)
    default = "  reminder_hours_before: 24\n  notes_request_every_days: 2\n"
    # Replace the example's own nudges section (the last one in the file) with this test's.
    program = program.split("\n# Teams nudges", 1)[0].split("\nnudges:", 1)[0]
    program += "\nnudges:\n" + (nudges or default)
    (target / "program.yaml").write_text(program, encoding="utf-8")
    pairings = (target / "pairings.yaml").read_text(encoding="utf-8")
    head, _, rest = pairings.partition("pairings:\n")
    blocks = [b for b in rest.split("\n\n") if any(f"id: {p}\n" in b + "\n" for p in PAIRS)]
    (target / "pairings.yaml").write_text(head + "pairings:\n" + "\n\n".join(blocks) + "\n",
                                          encoding="utf-8")
    return target


def nudge_world(tmp_path: Path, nudges: str = "") -> DemoWorld:
    clock = ManualClock(START)
    config = load_config(nudge_config(tmp_path, nudges), today=START.date())
    assert [p.id for p in config.pairings] == list(PAIRS)
    # No seeded busy calendars: this test is about nudges, and it runs ~3,000 times.
    sandbox = Sandbox.create(clock=clock, fixture=lambda c: demo_tenant(c, with_calendars=False))
    world = build_world(config, sandbox, clock)
    world.client.session.trust_env = False  # no proxy lookups from the environment per request
    # build_world did what the admin does once: our package's manifest is in the org catalog.
    client_id = str(getattr(world.client.credential, "client_id", ""))
    [app] = sandbox.state.teams.catalog.values()
    assert app.entra_app_id == client_id
    assert config.program.sharepoint is not None
    assert app.manifest == render_manifest(TEMPLATES, client_id=client_id,
                                           app_id=app.externalId,
                                           program_name=config.program.name,
                                           notes=notes_tab(config.program.sharepoint))
    init_notes_list(world)
    return world


def feed(world: DemoWorld, email: str) -> list[dict[str, Any]]:
    user = world.sandbox.state.directory.get(email)
    return list(world.sandbox.state.teams.feed(user.id))


def nudges_received(world: DemoWorld) -> Counter[tuple[str, str, str]]:
    """How often each participant got each nudge (kind, session title and date)."""
    per_key: Counter[tuple[str, str, str]] = Counter()
    for pairing in world.config.pairings:
        for email in (pairing.mentor, pairing.mentee):
            for entry in feed(world, email):
                params = entry["templateParameters"]
                per_key[(email, entry["activityType"], params.get("sessionTitle", "") +
                         params.get("sessionDate", ""))] += 1
    return per_key


def hours_of(world: DemoWorld, email: str) -> WorkingHours:
    settings = world.sandbox.state.directory.get(email).mailboxSettings
    working = settings["workingHours"]
    days = {("monday", "tuesday", "wednesday", "thursday", "friday", "saturday",
             "sunday").index(d) for d in working["daysOfWeek"]}
    zone = working["timeZone"]["name"]
    return WorkingHours(frozenset(days), datetime.strptime(working["startTime"][:5], "%H:%M")
                        .time(), datetime.strptime(working["endTime"][:5], "%H:%M").time(),
                        zone_for(zone if zone != "Customized Time Zone" else working["timeZone"]))


def post_notes(world: DemoWorld, key: str) -> None:
    from tests.records_helpers import person_edits

    pairing = world.config.pairing(key.split("/")[1])
    assert pairing is not None
    person_edits(world, key, {"Notes": "<p>We tried three search engines.</p>"},
                 upn=pairing.mentor)


@pytest.fixture(scope="module")
def whole_program(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    world = nudge_world(tmp_path_factory.mktemp("program"))
    summaries = []
    posted_at: dict[str, datetime] = {}
    end = datetime(2027, 1, 31, 6, 0, tzinfo=UTC)  # after the last session's last request
    while world.clock.now() < end:
        summary = world.run()
        summaries.append((world.clock.now(), summary))
        # The mentor of ceo-ava posts the notes of session 1 after the first request.
        key = "leadership-2027/ceo-ava/1"
        asked = [e for e in feed(world, "ava.nguyen@contoso.com")
                 if e["activityType"] == "notesRequested"]
        if asked and key not in posted_at:
            post_notes(world, key)
            posted_at[key] = world.clock.now()
        world.clock.advance(timedelta(minutes=15))
    return {"world": world, "summaries": summaries, "posted_at": posted_at}


def test_each_person_gets_each_reminder_exactly_once_per_session(
    whole_program: dict[str, Any],
) -> None:
    world: DemoWorld = whole_program["world"]
    for pairing in world.config.pairings:
        for email in (pairing.mentor, pairing.mentee):
            if email == UNLICENSED:
                continue
            reminders = Counter(
                e["templateParameters"]["sessionTitle"] + "@" + e["templateParameters"]
                ["sessionDate"] for e in feed(world, email) if e["activityType"] ==
                "sessionReminder"
            )
            assert len(reminders) == 3, (email, reminders)  # three sessions, each reminded
            assert set(reminders.values()) == {1}, (email, reminders)


def test_nothing_reaches_anyone_outside_their_working_hours(
    whole_program: dict[str, Any],
) -> None:
    world: DemoWorld = whole_program["world"]
    delivered = 0
    for pairing in world.config.pairings:
        for email in (pairing.mentor, pairing.mentee):
            hours = hours_of(world, email)
            for entry in feed(world, email):
                at = datetime.strptime(entry["timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(
                    tzinfo=UTC)
                assert in_working_hours(at, hours), (email, entry["timestamp"])
                delivered += 1
    assert delivered > 20


def test_notes_requests_stop_once_the_notes_are_posted(whole_program: dict[str, Any]) -> None:
    world: DemoWorld = whole_program["world"]
    posted = whole_program["posted_at"]["leadership-2027/ceo-ava/1"]
    asks = [e for e in feed(world, "ava.nguyen@contoso.com")
            if e["activityType"] == "notesRequested"]
    first_topic = asks[0]["templateParameters"]["sessionTitle"]
    same = [e for e in asks if e["templateParameters"]["sessionTitle"] == first_topic]
    assert len(same) == 1
    # The records step sees the notes within a run, so no request goes after that.
    assert all(datetime.strptime(e["timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
               <= posted for e in same)
    # Another mentor who never posts gets the configured maximum (3) for each session.
    zoe = Counter(e["templateParameters"]["sessionTitle"]
                  for e in feed(world, "zoe.williams@contoso.com")
                  if e["activityType"] == "notesRequested")
    assert zoe and max(zoe.values()) == 3
    # Notes requests open the session's list item, through the app's notes tab.
    [app] = world.sandbox.state.teams.catalog.values()
    for ask in asks:
        link = urlsplit(ask["topic"]["webUrl"])
        _, kind, app_id, entity = link.path.split("/")[1:]
        assert (kind, app_id, entity) == ("entity", app.id, NOTES_TAB)  # the catalog's id
        assert app.id != app.externalId
        query = {k: v[0] for k, v in parse_qs(link.query).items()}
        item_id = json.loads(query["context"])["subEntityId"]
        assert query["webUrl"].endswith(f"/DispForm.aspx?ID={item_id}")
        assert query["label"] == ask["templateParameters"]["sessionTitle"]
        assert ask["topic"]["webUrl"].count("?") == 1  # the item link inside is percent-encoded
    assert [t["entityId"] for t in app.manifest["staticTabs"]] == [NOTES_TAB]


def test_every_nudge_links_into_teams(whole_program: dict[str, Any]) -> None:
    world: DemoWorld = whole_program["world"]
    links: Counter[tuple[str, str]] = Counter()
    for pairing in world.config.pairings:
        for email in (pairing.mentor, pairing.mentee):
            for entry in feed(world, email):
                url = entry["topic"]["webUrl"]
                assert is_teams_link(url), url
                kind = urlsplit(url).path.split("/")[2]
                links[(entry["activityType"], kind)] += 1
    # Reminders open the meeting (its join link is a Teams link); notes requests the tab.
    assert links[("sessionReminder", "meetup-join")] > 0
    assert links[("notesRequested", "entity")] > 0
    assert {kind for _, kind in links} <= {"meetup-join", "entity"}, links


def test_the_app_is_installed_once_per_person_then_they_are_notified(
    whole_program: dict[str, Any],
) -> None:
    world: DemoWorld = whole_program["world"]
    installs = Counter(e for _, s in whole_program["summaries"] if s.nudges
                       for e in s.nudges.installed)
    people = {e.lower() for p in world.config.pairings for e in (p.mentor, p.mentee)}
    assert set(installs) == people - {UNLICENSED}
    assert set(installs.values()) == {1}


def test_a_person_without_teams_licence_is_reported_and_the_others_proceed(
    whole_program: dict[str, Any],
) -> None:
    world: DemoWorld = whole_program["world"]
    reported = [s.nudges.unreachable[UNLICENSED] for _, s in whole_program["summaries"]
                if s.nudges and UNLICENSED in s.nudges.unreachable]
    assert reported and "licen" in reported[0]
    assert feed(world, UNLICENSED) == []
    assert feed(world, "james.oconnor@contoso.com")  # sam's mentee is nudged all the same
    # The run that tries the install (once a week) exits 1 naming it, and the nudges to him
    # that waited for it are deferred; nothing else fails.
    for _, summary in whole_program["summaries"]:
        assert summary.exit_code == (1 if summary.not_done() else 0)
        for outcome in summary.not_done():
            assert outcome.action.id == f"install-app:{UNLICENSED}" or (
                outcome.action.kind == "send-nudge"
                and outcome.reason.startswith(f"waits for install-app:{UNLICENSED}")), outcome


# ---------------------------------------------------------------------------------------------
# Killed right after a send


def test_a_run_killed_right_after_a_notification_duplicates_that_one_nudge_only(
    tmp_path: Path,
) -> None:
    world = nudge_world(tmp_path)
    sends: list[int] = []

    def is_send(method: str, url: str) -> bool:
        return method == "POST" and url.lower().endswith("/sendactivitynotification")

    class KillAfterFirstSend(KillAfterWrites):
        def send(self, request: Any, **kwargs: Any) -> Any:  # type: ignore[override]
            response = self.inner.send(request, **kwargs)
            if self.kill_after and is_send(request.method or "", request.url or ""):
                sends.append(response.status_code)
                raise Killed("killed right after a notification was sent")
            return response

    killer = wrap_session(world.client.session, lambda inner: KillAfterFirstSend(inner, 1))
    killed = False
    for _ in range(24 * 4 * 14):
        try:
            world.run()
        except Killed:
            killed = True
            break
        world.clock.advance(timedelta(minutes=15))
    assert killed and sends == [204]
    killer.kill_after = 0  # the next container starts clean
    for _ in range(24 * 4):
        world.run()
        world.clock.advance(timedelta(minutes=15))
    duplicates = {k: n for k, n in nudges_received(world).items() if n > 1}
    # README, "Exactly once": a crash between Graph accepting a notification and the ledger
    # write makes the next run send that one nudge again. Exactly one duplicate, no more.
    assert len(duplicates) == 1 and set(duplicates.values()) == {2}, duplicates


# ---------------------------------------------------------------------------------------------
# The plan shows the nudges; the program channel gets one card per period


def test_the_plan_lists_each_nudge_with_recipient_kind_and_local_time(tmp_path: Path) -> None:
    from worker.run.job import execute

    world = nudge_world(tmp_path)
    world.run()  # books the first sessions and installs the app
    world.clock.set(datetime(2027, 1, 10, 16, 0, tzinfo=UTC))  # Sunday: everything is held
    before = {e: len(feed(world, e)) for e in ("ava.nguyen@contoso.com",)}
    plan, summary = execute(world.client, world.config, world.clock, world.templates,
                            apply=False)
    assert summary.nudges is not None
    text = plan.render_text()
    assert ("~ hold nudge reminder (session 1) to ava.nguyen@contoso.com (mentor) until "
            "Mon 2027-01-11 09:00 EST") in text
    held = summary.nudges.to_json()["held"]
    assert {"kind", "recipient", "local_time"} <= set(held[0])
    assert {e: len(feed(world, e)) for e in before} == before  # a plan sends nothing


def test_the_program_summary_card_is_posted_once_per_period(tmp_path: Path) -> None:
    from graph.sandbox.teams import TeamsStore

    world = nudge_world(tmp_path)
    store: TeamsStore = world.sandbox.state.teams
    hook = store.create_webhook()
    url = f"https://prod-00.westeurope.logic.azure.com/_sandbox/webhooks/{hook}"
    schema = json.loads((TEMPLATES / "teams" / "adaptive-card.schema.v1.4.subset.json")
                        .read_text(encoding="utf-8"))
    from worker.run.job import execute

    end = datetime(2027, 1, 12, 6, 0, tzinfo=UTC)  # across one week boundary (Mon 11 Jan)
    while world.clock.now() < end:
        execute(world.client, world.config, world.clock, world.templates, apply=True,
                webhook_url=url)
        world.clock.advance(timedelta(minutes=15))
    posts = store.webhook_posts(hook)
    assert len(posts) == 2
    for post in posts:
        card = post["message"]["attachments"][0]["content"]
        jsonschema.Draft6Validator(schema).validate(card)


def test_the_whole_program_never_meets_the_teams_notification_limit(
    whole_program: dict[str, Any],
) -> None:
    assert sum(s.throttled for _, s in whole_program["summaries"]) == 0
    assert sum(len(s.nudges.sent) for _, s in whole_program["summaries"] if s.nudges) > 20
