"""The pieces that let a run plan large programs: busy time held as arrays of seconds, the
collector off while planning, the free/busy window, and the sandbox's directory by name."""

from __future__ import annotations

import gc
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

from benchmarks.bench_run import DOMAIN, START, write_config
from graph.clock import ManualClock
from graph.sandbox.directory import User
from graph.sandbox.fixtures import compatible_pairs, generated_tenant
from graph.sandbox.tenant_app import Sandbox
from graph.sandbox.transport import sandbox_session
from tests.test_sandbox_pipeline import GRAPH, get, make_sandbox
from worker.cli.demo import build_world
from worker.config import load_config
from worker.core.freebusy import BusyTime
from worker.core.heap import settled
from worker.core.intervals import Interval
from worker.plan.actions import Book
from worker.plan.reads import pairings_needing_schedules, schedule_window
from worker.run.job import execute


def at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def test_busy_time_merges_overlapping_and_touching_spans_and_finds_those_near_a_moment() -> None:
    busy = BusyTime([(400, 500), (100, 200), (150, 300), (300, 320), (50, 60), (70, 70)])
    assert busy.seconds_between(0, 10_000) == [(50, 60), (100, 320), (400, 500)]
    assert busy.seconds_between(330, 450) == [(400, 500)]  # whole, not clipped
    assert busy.seconds_between(320, 400) == []  # half-open: touching is not overlapping
    assert busy.seconds_between(0, 50) == [] and busy.seconds_between(600, 700) == []
    assert busy == (Interval(at(50), at(60)), Interval(at(100), at(320)),
                    Interval(at(400), at(500)))
    assert busy.between(at(55), at(56)) == [(at(50), at(60))]
    assert len(busy) == 3 and not BusyTime() and BusyTime().seconds_between(0, 9) == []


def test_busy_time_without_a_span_drops_only_that_exact_span() -> None:
    busy = BusyTime([(100, 200), (400, 500)])
    assert busy.without(at(400), at(500)).seconds_between(0, 1000) == [(100, 200)]
    assert busy.without(at(400), at(450)) == busy


def test_busy_time_is_never_shorter_than_what_graph_reported() -> None:
    assert BusyTime([(100.4, 199.2)]).seconds_between(0, 1000) == [(100, 200)]


def test_the_collector_is_off_while_settled_and_as_it_was_after() -> None:
    assert gc.isenabled()
    with settled():
        assert not gc.isenabled()
        with settled():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer one still plans
    assert gc.isenabled()
    gc.disable()
    try:
        with settled():
            pass
        assert not gc.isenabled()  # a caller's own choice is kept
    finally:
        gc.enable()


def test_what_a_plan_leaves_alive_is_not_walked_again_and_is_handed_back_next_time() -> None:
    with settled():
        kept = [[index] for index in range(1000)]
    assert gc.get_freeze_count() >= len(kept)  # not walked by the collector switched on
    assert gc.collect(0) >= 0 and gc.get_freeze_count() >= len(kept)
    with settled():
        assert gc.get_freeze_count() == 0  # back in the collector's care
    gc.unfreeze()


def test_the_free_busy_window_covers_every_session_the_first_run_books_in_one_call() -> None:
    clock = ManualClock(datetime(2027, 2, 22, 6, tzinfo=UTC))
    state = generated_tenant(10, seed=11, first=START - timedelta(days=7),
                             last=START + timedelta(days=70), domain=DOMAIN, clock=clock)
    sandbox = Sandbox.create(clock=clock, fixture=state)
    with tempfile.TemporaryDirectory() as tmp:
        config = load_config(write_config(Path(tmp) / "config", compatible_pairs(state)),
                             today=clock.now().date())
    start, end = schedule_window(config, {}, clock.now(),
                                 pairings_needing_schedules(config, {}, clock.now()))
    assert end - start < timedelta(days=62)  # Graph's limit for one getSchedule window
    world = build_world(config, sandbox, clock)
    plan, _ = execute(world.client, config, clock, world.templates, apply=False)
    books = [a for a in plan.actions if isinstance(a, Book)]
    assert len(books) == 2 * len(config.pairings)
    assert all(start <= b.start and b.end <= end for b in books)
    # ...and it is not the old window of a cadence more (to 7 May): the second session lands
    # at most a cadence and two tolerances after the 1 March start, plus a day of zones each.
    assert end <= datetime(2027, 3, 1, tzinfo=UTC) + timedelta(days=21 + 2 * (7 + 2), hours=13)


def test_the_directory_filtered_by_name_gives_what_testing_every_user_gives() -> None:
    sb, _ = make_sandbox()
    for n in range(2, 6):
        sb.state.directory.add_user(User(id=f"u{n}", userPrincipalName=f"p{n}@contoso.test",
                                         displayName=f"P{n}", mail=f"mail{n}@contoso.test"))
    # Someone whose mail is another person's sign-in name: a lookup by that name must test
    # everyone, not take the first person the index knows by it.
    sb.state.directory.add_user(User(id="u9", userPrincipalName="x9@contoso.test",
                                     displayName="X9", mail="p3@contoso.test"))
    session, token = sandbox_session(sb), sb.token_for("reader")

    def names(flt: str) -> list[str]:
        answer = get(session, f"{GRAPH}/users?$filter={quote(flt)}&$select=id", token)
        assert answer.status_code == 200, answer.text
        return sorted(u["id"] for u in answer.json()["value"])

    assert names("userPrincipalName in ('p2@contoso.test','P4@CONTOSO.TEST','nobody@x')") \
        == ["u2", "u4"]
    assert names("userPrincipalName eq 'p3@contoso.test'") == ["u3"]
    assert names("mail eq 'p3@contoso.test'") == ["u9"]
    assert names("userPrincipalName in ('p3@contoso.test','x9@contoso.test')") == ["u3", "u9"]
    # Someone removed from the directory directly is no longer found by name.
    del sb.state.directory.users["u2"]
    assert names("userPrincipalName eq 'p2@contoso.test'") == []
    assert sb.state.directory.find("p2@contoso.test") is None
