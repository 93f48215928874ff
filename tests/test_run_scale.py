"""Fifty pairs in five time zones (one custom) through a DST change, a whole program long.

Every booked session is checked against the calendars as they were before the worker started,
by rules written here independently of the slot finder: inside both people's working hours in
their own zones, on no existing meeting, holiday or blackout day, never on another session of
the same person, and one cadence after the previous session within the tolerance.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from graph.clock import ManualClock
from graph.sandbox.calendar import end_of, start_of, store_of
from graph.sandbox.fixtures import compatible_pairs, generated_tenant
from graph.sandbox.tenant_app import Sandbox
from worker.cli.demo import DemoWorld, build_world
from worker.config import load_config
from worker.core.holidays import holidays_for
from worker.core.timezones import zone_for

PAIRS = 50
DOMAIN = "scale.contoso.com"
ORGANIZER = f"mentoring@{DOMAIN}"
START = date(2027, 2, 15)  # sessions run Feb-Jul: the US (14 Mar) and EU (28 Mar) change
BLACKOUT = date(2027, 4, 2)
CADENCE, TOLERANCE = 21, 7  # a week either way: executives here are 70 % booked
DAYS = {"monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4,
        "saturday": 5, "sunday": 6}


def _write_config(directory: Path, pairs: list[tuple[str, str]]) -> Path:
    directory.mkdir()
    (directory / "program.yaml").write_text(
        "id: scale-2027\n"
        "name: Scale test program\n"
        f"organizer: {ORGANIZER}\n"
        f"cadence: {{every_days: {CADENCE}, tolerance_days: {TOLERANCE}}}\n"
        "duration_minutes: 45\n"
        'earliest: "08:00"\n'
        'latest: "18:00"\n'
        "keep_booked: 2\n"
        "minimum_notice_hours: 48\n"
        f"blackout: [{BLACKOUT.isoformat()}]\n"
        "holidays: {countries: [], use_participant_location: true}\n",
        encoding="utf-8",
    )
    lines = ["pairings:"]
    for index, (mentor, mentee) in enumerate(pairs):
        lines += [
            f"  - id: pair-{index:03d}",
            f"    mentor: {mentor}",
            f"    mentee: {mentee}",
            f"    start: {START.isoformat()}",
        ]
    (directory / "pairings.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return directory


@pytest.fixture(scope="module")
def program(tmp_path_factory: pytest.TempPathFactory) -> tuple[DemoWorld, dict[str, list[Any]]]:
    clock = ManualClock(datetime.combine(START - timedelta(days=7), time(6), tzinfo=UTC))
    state = generated_tenant(
        PAIRS, seed=7, first=START - timedelta(days=7), last=date(2027, 8, 31),
        domain=DOMAIN, clock=clock,
    )
    sandbox = Sandbox.create(clock=clock, fixture=state)
    store = store_of(sandbox)
    before = {
        mailbox: [(start_of(e), end_of(e)) for e in events.values() if e.get("showAs") != "free"]
        for mailbox, events in store.events.items()
    }
    directory = tmp_path_factory.mktemp("scale") / "config"
    config = load_config(
        _write_config(directory, compatible_pairs(state)), today=clock.now().date()
    )
    world = build_world(config, sandbox, clock)
    for _ in range(220):
        summary = world.run()
        assert summary.failed == {}, summary.failed
        if _complete(world):
            break
        clock.advance(timedelta(days=1))
    return world, before


def _sessions(world: DemoWorld) -> dict[str, list[tuple[int, datetime, datetime]]]:
    store = store_of(world.sandbox)
    owner = world.sandbox.state.directory.get(ORGANIZER)
    by_pair: dict[str, list[tuple[int, datetime, datetime]]] = defaultdict(list)
    for event in store.calendar(owner.id).values():
        if event.get("isCancelled"):
            continue
        for prop in event.get("singleValueExtendedProperties") or []:
            if not str(prop["id"]).lower().endswith("name mentoringsession"):
                continue  # the worker's other properties (record, ledger, invite)
            _, pairing, number = str(prop["value"]).split("/")
            by_pair[pairing].append((int(number), start_of(event), end_of(event)))
    return by_pair


def _complete(world: DemoWorld) -> bool:
    sessions = _sessions(world)
    return len(sessions) == PAIRS and all(len(s) == 7 for s in sessions.values())


def _person(world: DemoWorld, email: str) -> Any:
    return world.sandbox.state.directory.get(email)


def _zone(user: Any) -> Any:
    hours = user.mailboxSettings["workingHours"]
    return zone_for(hours["timeZone"])


def _inside_working_hours(user: Any, start: datetime, end: datetime) -> bool:
    hours = user.mailboxSettings["workingHours"]
    zone = _zone(user)
    local_start, local_end = start.astimezone(zone), end.astimezone(zone)
    days = {DAYS[d.lower()] for d in hours["daysOfWeek"]}
    first = time.fromisoformat(hours["startTime"][:8])
    last = time.fromisoformat(hours["endTime"][:8])
    return (
        local_start.date() == local_end.date()
        and local_start.weekday() in days
        and first <= local_start.time()
        and local_end.time() <= last
    )


def test_every_pair_gets_all_seven_sessions(program: tuple[DemoWorld, Any]) -> None:
    world, _ = program
    sessions = _sessions(world)
    assert len(sessions) == PAIRS
    assert all(sorted(n for n, _, _ in s) == list(range(1, 8)) for s in sessions.values())


def test_the_program_spans_four_or_more_zones_and_a_dst_change(
    program: tuple[DemoWorld, Any],
) -> None:
    world, _ = program
    zones = set()
    for pairing in world.config.pairings:
        for email in (pairing.mentor, pairing.mentee):
            user = _person(world, email)
            zones.add(str(user.mailboxSettings["workingHours"]["timeZone"]))
    assert len(zones) >= 4
    starts = [s for sessions in _sessions(world).values() for _, s, _ in sessions]
    assert min(starts) < datetime(2027, 3, 14, tzinfo=UTC) < max(starts)
    assert min(starts) < datetime(2027, 3, 28, tzinfo=UTC) < max(starts)


def test_every_session_is_inside_both_peoples_working_hours(
    program: tuple[DemoWorld, Any],
) -> None:
    world, _ = program
    bad = []
    for pairing in world.config.pairings:
        for number, start, end in _sessions(world)[pairing.id]:
            for email in (pairing.mentor, pairing.mentee):
                if not _inside_working_hours(_person(world, email), start, end):
                    bad.append((pairing.id, number, email, start))
    assert bad == []


def test_no_session_lands_on_an_existing_meeting_holiday_or_blackout(
    program: tuple[DemoWorld, Any],
) -> None:
    world, before = program
    bad = []
    for pairing in world.config.pairings:
        for number, start, end in _sessions(world)[pairing.id]:
            for email in (pairing.mentor, pairing.mentee):
                user = _person(world, email)
                for busy_start, busy_end in before.get(user.id.lower(), []):
                    if busy_start < end and start < busy_end:
                        bad.append((pairing.id, number, email, "meeting", start))
                local_day = start.astimezone(_zone(user)).date()
                days_off = holidays_for([user.usageLocation], [local_day.year])
                if local_day in days_off:
                    bad.append((pairing.id, number, email, "holiday", local_day))
                if local_day == BLACKOUT:
                    bad.append((pairing.id, number, email, "blackout", local_day))
    assert bad == []


def test_no_person_has_two_sessions_at_once(program: tuple[DemoWorld, Any]) -> None:
    world, _ = program
    per_person: dict[str, list[tuple[datetime, datetime]]] = defaultdict(list)
    for pairing in world.config.pairings:
        for _, start, end in _sessions(world)[pairing.id]:
            per_person[pairing.mentor].append((start, end))
            per_person[pairing.mentee].append((start, end))
    for slots in per_person.values():
        slots.sort()
        for (_, first_end), (second_start, _) in pairwise(slots):
            assert first_end <= second_start


def test_sessions_follow_the_cadence_within_its_tolerance(
    program: tuple[DemoWorld, Any],
) -> None:
    world, _ = program
    bad = []
    for pairing in world.config.pairings:
        zone = _zone(_person(world, pairing.mentee))
        ordered = sorted(_sessions(world)[pairing.id])
        for (number, start, _), (_, following, _) in pairwise(ordered):
            gap = (following.astimezone(zone).date() - start.astimezone(zone).date()).days
            if abs(gap - CADENCE) > TOLERANCE:
                bad.append((pairing.id, number, gap))
    assert bad == []
