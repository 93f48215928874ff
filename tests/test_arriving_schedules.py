"""Free/busy read while the calendar is planned: a lookup waits for its own person only, the
whole mapping for every answer, and a failed reading fails every wait still open."""

import threading
import time
from datetime import time as clock_time
from zoneinfo import ZoneInfo

import pytest

from worker.core.intervals import WorkingHours
from worker.observe.arriving import ArrivingSchedules
from worker.observe.availability import PersonSchedule, ScheduleError

ZONE = ZoneInfo("Europe/Berlin")
HOURS = WorkingHours(frozenset(range(5)), clock_time(9), clock_time(17), ZONE)


def _schedule(email: str) -> PersonSchedule:
    return PersonSchedule(email, ZONE, HOURS, ())


def test_a_lookup_waits_for_that_persons_answer_and_no_longer() -> None:
    feed = ArrivingSchedules(["a@x.com", "b@x.com"])
    feed.add([_schedule("a@x.com")])
    assert feed.schedules.get("a@x.com") == _schedule("a@x.com")  # b's answer still out
    assert feed.schedules.get("nobody@x.com") is None  # not asked for: no wait
    got: list[object] = []
    reader = threading.Thread(target=lambda: got.append(feed.errors.get("b@x.com")))
    reader.start()
    time.sleep(0.05)
    assert got == []  # waiting for b
    feed.add([ScheduleError("b@x.com", "NoSchedule", "none")])
    reader.join(timeout=5)
    assert got == [ScheduleError("b@x.com", "NoSchedule", "none")]
    assert feed.schedules.get("b@x.com") is None
    feed.finish()
    assert dict(feed.schedules) == {"a@x.com": _schedule("a@x.com")}


def test_the_whole_mapping_waits_for_the_end_and_keeps_only_known_people() -> None:
    feed = ArrivingSchedules(["a@x.com", "b@x.com"])
    feed.keep_only({"a@x.com"})
    done: list[int] = []
    counter = threading.Thread(target=lambda: done.append(len(feed.schedules)))
    counter.start()
    feed.add([_schedule("a@x.com"), _schedule("b@x.com")])
    time.sleep(0.05)
    assert done == []  # not finished yet
    feed.finish()
    counter.join(timeout=5)
    assert done == [1]
    schedules, errors = feed.settle()
    assert list(schedules) == ["a@x.com"] and errors == {}
    with pytest.raises(KeyError):
        feed.schedules["b@x.com"]  # the directory does not know b


def test_a_failed_reading_fails_the_waits_still_open() -> None:
    feed = ArrivingSchedules(["a@x.com", "b@x.com"])
    feed.add([_schedule("a@x.com")])
    failure = TimeoutError("getSchedule timed out")
    feed.finish(failure)
    assert feed.schedules.get("a@x.com") == _schedule("a@x.com")  # answered before
    with pytest.raises(TimeoutError):
        feed.schedules.get("b@x.com")
    with pytest.raises(TimeoutError):
        feed.settle()
