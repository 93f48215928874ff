"""The peer benchmark's measuring code keeps working: the quality check, the counters, the peer.

`benchmarks/bench_peer.py` takes minutes, so CI does not run it; these run its parts on a
tiny tenant in-process. CI installs only the `test` extra, so the tests of the python-o365
peer itself are skipped there (`pytest.importorskip("O365")`); with `.[bench]` installed they
run too.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from benchmarks.bench_run import START, write_config
from benchmarks.peer.quality import Quality, check, within_working_hours
from benchmarks.peer.server import (
    CALENDAR_DAYS_AFTER,
    CALENDAR_DAYS_BEFORE,
    DOMAIN,
    ORGANIZER,
    CountingRecorder,
    CountingSandbox,
    ShiftedClock,
)
from graph.clock import ManualClock
from graph.sandbox.calendar.store import MailStore, end_of, start_of, store_of
from graph.sandbox.directory import User
from graph.sandbox.fixtures import US_EASTERN_CUSTOM, compatible_pairs, generated_tenant
from graph.sandbox.server import start_in_thread
from graph.sandbox.state import TenantState
from graph.sandbox.tenant_app import Sandbox
from graph.sandbox.transport import sandbox_session
from worker.cli.demo import build_world
from worker.config import load_config

NOW = datetime(2027, 2, 22, 6, tzinfo=UTC)
PAIRS = 4  # seed 11 pairs four mentees with mentors who share their hours


def tiny_tenant() -> TenantState:
    return generated_tenant(PAIRS, seed=11, first=START - timedelta(days=CALENDAR_DAYS_BEFORE),
                            last=START + timedelta(days=CALENDAR_DAYS_AFTER), domain=DOMAIN)


def counting_sandbox(clock: ManualClock) -> CountingSandbox:
    sandbox = CountingSandbox(tiny_tenant(), clock)
    sandbox.recorder = CountingRecorder()
    return sandbox


def counters(sandbox: CountingSandbox) -> dict[str, int]:
    recorder = sandbox.recorder
    assert isinstance(recorder, CountingRecorder)
    return {**recorder.counts, "http_requests": sandbox.http_requests}


def test_the_worker_books_the_tiny_program_cleanly_and_the_counters_agree_with_its_own(
    tmp_path: Path,
) -> None:
    clock = ManualClock(NOW)
    sandbox = counting_sandbox(clock)
    pairs = compatible_pairs(sandbox.state)
    config = load_config(write_config(tmp_path / "config", pairs), today=NOW.date())
    world = build_world(config, sandbox, clock)

    first = world.run()
    after_first = counters(sandbox)
    assert first.booked == 2 * PAIRS
    assert check(sandbox.state, ORGANIZER) == Quality(sessions=2 * PAIRS)
    # The sandbox counts what Graph counts: every operation, each one inside a $batch too (the
    # worker's per-service counts agree; its `requests` also counts each $batch envelope).
    assert after_first["graph_operations"] == sum(first.by_service.values())
    assert after_first["login_requests"] >= 1

    clock.advance(timedelta(minutes=15))
    rerun = world.run()
    assert rerun.booked == 0
    assert counters(sandbox)["graph_operations"] - after_first["graph_operations"] == sum(
        rerun.by_service.values())
    assert check(sandbox.state, ORGANIZER) == Quality(sessions=2 * PAIRS)


def _post(session: requests.Session, token: str, subject: str, start: datetime,
          minutes: int, attendees: list[str], online: bool = False) -> None:
    body: dict[str, Any] = {
        "subject": subject,
        "start": {"dateTime": start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
                  "timeZone": "UTC"},
        "end": {"dateTime": (start + timedelta(minutes=minutes)).astimezone(UTC).strftime(
            "%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
        "attendees": [{"emailAddress": {"address": a}, "type": "required"} for a in attendees],
    }
    if online:
        body |= {"isOnlineMeeting": True, "onlineMeetingProvider": "teamsForBusiness"}
    answer = session.post(f"https://graph.microsoft.com/v1.0/users/{ORGANIZER}/events",
                          json=body, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert answer.status_code == 201, answer.text


def _busy_inside_hours(state: TenantState, user: User) -> tuple[datetime, datetime]:
    """One of the person's own meetings that lies inside their working hours."""
    store = state.mail
    assert isinstance(store, MailStore)
    for event in store.calendar(user.id.lower()).values():
        start, end = start_of(event), end_of(event)
        if event.get("showAs") == "busy" and within_working_hours(user, start, end):
            return start, end
    raise AssertionError(f"{user.mail} has no busy time inside working hours")


def test_the_quality_check_counts_hours_clashes_duplicates_and_missing_links() -> None:
    sandbox = Sandbox.create(clock=ManualClock(NOW), fixture=tiny_tenant())
    sandbox.register_app("checker", secret="not-a-real-secret", roles=["Calendars.ReadWrite"])
    token, session = sandbox.token_for("checker"), sandbox_session(sandbox)
    (m1, e1), (m2, e2), (_, e3), (m4, e4) = compatible_pairs(sandbox.state)
    saturday = datetime.combine(START + timedelta(days=5), time(3), tzinfo=UTC)

    _post(session, token, "at night", saturday, 45, [m1, e1])  # outside, once
    _post(session, token, "twice", saturday + timedelta(days=1), 45, [m2, e2])
    _post(session, token, "twice", saturday + timedelta(days=1), 45, [m2, e2])  # duplicate
    mentee = sandbox.state.directory.find(e3)
    assert mentee is not None
    busy_start, busy_end = _busy_inside_hours(sandbox.state, mentee)
    minutes = int((busy_end - busy_start).total_seconds() // 60)
    _post(session, token, "over a meeting", busy_start, minutes, [e3])  # a clash
    store_of(sandbox).drop_next_join_links = 1
    _post(session, token, "no link", saturday + timedelta(hours=7), 30, [m4, e4], online=True)

    assert check(sandbox.state, ORGANIZER) == Quality(
        sessions=5, outside_hours=4, clashes=1, duplicates=1, without_link=1)


def test_the_shifted_clock_moves_in_real_time_from_the_simulated_instant() -> None:
    clock = ShiftedClock(NOW)
    first = clock.now()
    clock.advance(timedelta(minutes=15))
    assert timedelta(minutes=15) <= clock.now() - first < timedelta(minutes=15, seconds=5)
    assert first >= NOW


# --- the python-o365 peer (only with the `bench` extra) ----------------------------------------


@pytest.fixture
def served() -> Iterator[tuple[Sandbox, str]]:
    sandbox = counting_sandbox(ShiftedClock(NOW))
    server, base_url = start_in_thread(sandbox)
    try:
        yield sandbox, base_url
    finally:
        server.shutdown()
        server.server_close()


def test_the_peer_books_the_same_program_over_http_and_skips_it_on_a_rerun(
    served: tuple[Sandbox, str],
) -> None:
    pytest.importorskip("O365")
    from benchmarks import peer_o365 as peer

    sandbox, base_url = served
    client_id, secret = str(uuid.uuid4()), secrets.token_urlsafe(24)
    sandbox.register_app(client_id, secret=secret, roles=["Calendars.ReadWrite"])
    pairs = compatible_pairs(sandbox.state)
    program = peer.Program(start=START)

    def once() -> Any:
        account = peer.connect(sandbox.state.tenant_id, client_id, secret,
                               graph_root=base_url, requests_delay=0)
        return peer.book_program(account, ORGANIZER, pairs, program, now=NOW)

    first = once()
    assert (first.booked, first.failed, first.no_slot) == (2 * PAIRS, [], [])
    assert check(sandbox.state, ORGANIZER) == Quality(sessions=2 * PAIRS)
    rerun = once()
    assert (rerun.booked, rerun.skipped) == (0, 2 * PAIRS)
    assert check(sandbox.state, ORGANIZER) == Quality(sessions=2 * PAIRS)


def test_the_peers_custom_zone_follows_its_daylight_saving_rules() -> None:
    pytest.importorskip("O365")
    from benchmarks import peer_o365 as peer

    custom, eastern = peer.CustomZone(US_EASTERN_CUSTOM), ZoneInfo("America/New_York")
    for day in ("2027-03-13T12:00", "2027-03-15T12:00", "2027-11-06T12:00", "2027-11-08T12:00"):
        local = datetime.fromisoformat(day)
        assert local.replace(tzinfo=custom).utcoffset() == local.replace(
            tzinfo=eastern).utcoffset()
