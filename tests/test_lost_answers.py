"""Writes whose answer is lost after Microsoft 365 carried them out: nothing doubled, nothing
stopped. Each test drops the answers of one kind of write on their way back to the worker (the
sandbox has done the write), and checks the run finishes the job without a second copy."""

from __future__ import annotations

import dataclasses
import shutil
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import requests
from requests.adapters import BaseAdapter

from tests.conftest import EXAMPLE_CONFIG, tagged_event_counts, wrap_session
from tests.records_helpers import items
from tests.test_nudges_e2e import nudge_world, nudges_received
from tests.test_run_e2e import START, failures_besides_unlicensed, make_world
from worker.config import load_config
from worker.core.exit_codes import ExitCode

ORGANIZER = "mentoring@contoso.com"


class LoseAnswers(BaseAdapter):
    """Lets the first `n` requests that `hit` matches through to Microsoft 365, then drops
    their answers (a reset connection or a timeout, as the network does)."""

    def __init__(self, inner: BaseAdapter, n: int, hit: Callable[[str, str], bool], *,
                 timeout: bool = False) -> None:
        super().__init__()
        self.inner = inner
        self.left = n
        self.hit = hit
        self.timeout = timeout
        self.lost: list[str] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        response = self.inner.send(request, **kwargs)
        url = (request.url or "").split("?", 1)[0]
        if self.left and self.hit(request.method or "", url):
            self.left -= 1
            self.lost.append(f"{request.method} {url}")
            if self.timeout:
                raise requests.ReadTimeout("no answer in time")
            raise requests.ConnectionError("connection reset after the request was sent")
        return response

    def close(self) -> None:
        self.inner.close()


def lose(world: Any, n: int, hit: Callable[[str, str], bool], **kwargs: Any) -> LoseAnswers:
    adapter: LoseAnswers = wrap_session(world.client.session,
                                        lambda inner: LoseAnswers(inner, n, hit, **kwargs))
    return adapter


def test_a_lost_answer_to_an_item_create_makes_no_second_item() -> None:
    world = make_world()
    lose(world, 6, lambda method, url: method == "POST" and url.endswith("/items"))
    summary = world.run()
    per_key = Counter(str(i.fields["SessionKey"]) for i in items(world))
    assert len(per_key) == 20 and set(per_key.values()) == {1}, per_key
    assert not [o for o in summary.not_done() if o.action.kind in ("create-item", "tag-event")]
    assert world.run().writes == 0


def test_a_lost_answer_to_a_booking_is_looked_up_and_makes_no_second_event() -> None:
    world = make_world()
    lost = lose(world, 5, lambda method, url: method == "POST" and url.endswith("/events"),
                timeout=True)
    summary = world.run()
    assert len(lost.lost) == 5
    counts = tagged_event_counts(world.sandbox, ORGANIZER)
    assert len(counts) == 20 and set(counts.values()) == {1}, counts
    # Found by the lookup: booked in this run, nothing deferred, the run not stopped.
    assert summary.booked == 20 and not failures_besides_unlicensed(summary)
    assert not [o for o in summary.not_done() if o.action.kind != "install-app"]
    assert world.run().writes == 0


def test_answers_lost_twice_in_a_row_are_looked_up_each_time() -> None:
    world = make_world()
    creates: list[str] = []

    def hit(method: str, url: str) -> bool:
        if method == "POST" and url.endswith("/events"):
            creates.append(url)
            return len(creates) <= 2  # the first booking's answer is lost twice
        return False

    lose(world, 2, hit)
    world.run()
    counts = tagged_event_counts(world.sandbox, ORGANIZER)
    assert set(counts.values()) == {1} and len(counts) == 20


def test_a_lost_answer_to_a_cancellation_is_not_a_failure(tmp_path: Path) -> None:
    config = tmp_path / "config"
    shutil.copytree(EXAMPLE_CONFIG, config)
    pairings = config / "pairings.yaml"
    world = make_world()
    world.run()
    text = pairings.read_text(encoding="utf-8")
    pairings.write_text(text.replace("    status: active", "    status: paused", 1),
                        encoding="utf-8")
    paused = dataclasses.replace(world, config=load_config(config, today=START.date()))
    lost = lose(paused, 2, lambda method, url: method == "POST" and url.endswith("/cancel"))
    summary = paused.run()
    assert len(lost.lost) == 2
    assert summary.cancelled == 2 and not summary.not_done(), summary.not_done()
    assert paused.run().writes == 0


def run_program(world: Any, days: int) -> None:
    for _ in range(24 * 2 * days):  # every half hour
        summary = world.run()
        assert summary.exit_code != ExitCode.OUTAGE, summary.not_done()
        world.clock.advance(timedelta(minutes=30))


def test_lost_answers_to_ledger_writes_send_no_nudge_twice(tmp_path: Path) -> None:
    clean = nudge_world(tmp_path / "clean")
    run_program(clean, 16)
    world = nudge_world(tmp_path / "lossy")
    patches: list[str] = []

    def every_third_patch(method: str, url: str) -> bool:
        # Every third event PATCH (the ledger writes among them) loses its answer, all along.
        if method == "PATCH" and "/events/" in url:
            patches.append(url)
            return len(patches) % 3 == 0
        return False

    lost = lose(world, 10_000, every_third_patch)
    run_program(world, 16)
    assert len(lost.lost) > 10, "the test lost too few answers"
    expected = nudges_received(clean)
    assert sum(expected.values()) > 20
    # The same nudges as without a fault, each as often: no nudge sent twice.
    assert nudges_received(world) == expected


def test_a_lost_notification_answer_defers_that_nudge_and_the_run_goes_on(
    tmp_path: Path,
) -> None:
    world = nudge_world(tmp_path)
    lost = lose(world, 1, lambda method, url: url.lower().endswith("/sendactivitynotification"),
                timeout=True)
    for _ in range(24 * 4 * 7):
        summary = world.run()
        if lost.lost:
            break
        world.clock.advance(timedelta(minutes=15))
    assert lost.lost
    # One answer lost says nothing about Graph being reachable: that nudge waits, the run
    # does not stop (exit 1, not 3).
    assert summary.exit_code == ExitCode.INCOMPLETE
    [deferred] = [o for o in summary.not_done() if o.action.kind == "send-nudge"]
    assert "no answer from Graph" in deferred.reason


class UnreachableAfterNudge(BaseAdapter):
    """Once Graph has taken the first activity notification, the next `n` event PATCHes (the
    ledger write of that nudge and its retries) time out before they reach Graph."""

    def __init__(self, inner: BaseAdapter, n: int) -> None:
        super().__init__()
        self.inner = inner
        self.left = n
        self.armed = False
        self.refused: list[str] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        url = (request.url or "").split("?", 1)[0]
        if self.armed and self.left and request.method == "PATCH" and "/events/" in url:
            self.left -= 1
            self.refused.append(url)
            raise requests.ConnectTimeout("Graph did not answer the connection")
        response = self.inner.send(request, **kwargs)
        if url.lower().endswith("/sendactivitynotification") and response.status_code < 300:
            self.armed = True
        return response

    def close(self) -> None:
        self.inner.close()


def test_a_nudge_whose_ledger_write_finds_graph_unreachable_is_recorded_before_the_run_stops(
    tmp_path: Path,
) -> None:
    clean = nudge_world(tmp_path / "clean")
    run_program(clean, 16)
    world = nudge_world(tmp_path / "unreachable")
    attempts = world.client.max_attempts
    adapter: UnreachableAfterNudge = wrap_session(
        world.client.session, lambda inner: UnreachableAfterNudge(inner, attempts))
    stopped = None
    for _ in range(24 * 2 * 16):
        summary = world.run()
        if summary.exit_code == ExitCode.OUTAGE:
            stopped = summary
            break
        world.clock.advance(timedelta(minutes=30))
    assert stopped is not None, "Graph never became unreachable after a nudge"
    assert len(adapter.refused) == attempts
    # The run stops (Graph cannot be reached), but only after recording the nudge Graph took.
    [sent] = [o for o in stopped.outcomes
              if o.action.kind == "send-nudge" and o.status.value == "done"]
    assert (sent.warning or "").startswith("recorded")
    assert not any(o.unrecorded for o in stopped.outcomes)
    # What the stop left undone, later runs do; no nudge goes to anyone twice.
    world.clock.advance(timedelta(minutes=30))
    run_program(world, 16)
    assert nudges_received(world) == nudges_received(clean)
