"""Free/busy that arrives while the calendar is being planned.

A first run's getSchedule calls take seconds (20 people a call, 4 at a time), and planning the
pairs whose schedules are in need not wait for the rest: the reader fills an
`ArrivingSchedules` as each answer comes, in the order the pairs are planned, and the planner
reads it through two mappings (`schedules`, `errors`) that wait only for the person asked
about. What the planner sees is what it would have seen had it waited for every answer: a
person's entry is final once it is there, and anything that asks about the whole mapping
(iterating, its length, a change) waits for the reading to end. When the reading fails, every
wait still open raises its exception, as waiting for all of it would have.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, MutableMapping
from typing import Generic, TypeVar

from worker.observe.availability import PersonSchedule, ScheduleError

__all__ = ["ArrivingSchedules"]

V = TypeVar("V")


class ArrivingSchedules:
    """The free/busy of `expected` people, delivered by one reader, read by the planner."""

    def __init__(self, expected: Iterable[str],
                 on_arrival: Callable[[int], None] | None = None) -> None:
        self._expected = {e.lower() for e in expected}
        self._on_arrival = on_arrival  # told how many people's answers came in each batch
        self._found: dict[str, PersonSchedule] = {}
        self._errors: dict[str, ScheduleError] = {}
        self._known: set[str] | None = None
        self._done = False
        self._failure: BaseException | None = None
        self._changed = threading.Condition()
        self.schedules: _Arriving[PersonSchedule] = _Arriving(self, self._found)
        self.errors: _Arriving[ScheduleError] = _Arriving(self, self._errors)

    # --- the reader's side -------------------------------------------------------------

    def add(self, parsed: Iterable[PersonSchedule | ScheduleError]) -> None:
        count = 0
        with self._changed:
            for item in parsed:
                count += 1
                if isinstance(item, ScheduleError):
                    self._errors[item.email.lower()] = item
                else:
                    self._found[item.email.lower()] = item
            self._changed.notify_all()
        if self._on_arrival is not None and count:
            self._on_arrival(count)

    def finish(self, failure: BaseException | None = None) -> None:
        """The reading ended (with `failure`, it failed): nothing more will come."""
        with self._changed:
            self._done = True
            self._failure = failure
            self._changed.notify_all()

    # --- the planner's side ------------------------------------------------------------

    def keep_only(self, known: set[str]) -> None:
        """Only these people's answers are seen (the directory's: someone it does not know
        has no schedule worth planning with)."""
        with self._changed:
            self._known = {e.lower() for e in known}

    def settle(self) -> tuple[dict[str, PersonSchedule], dict[str, ScheduleError]]:
        """Every answer, once the reading is over, as plain dictionaries."""
        self._wait(None)
        with self._changed:
            return self._visible(self._found), self._visible(self._errors)

    def _visible(self, held: dict[str, V]) -> dict[str, V]:
        if self._known is None:
            return dict(held)
        return {e: v for e, v in held.items() if e in self._known}

    def _wait(self, email: str | None) -> None:
        """Until `email` has its answer (None: until every answer is in)."""
        with self._changed:
            while not self._done and (
                    email is None or (email in self._expected and email not in self._found
                                      and email not in self._errors)):
                self._changed.wait()
            if self._failure is not None and (
                    email is None or (email not in self._found and email not in self._errors)):
                raise self._failure

    def _get(self, held: dict[str, V], email: str) -> V:
        self._wait(email)
        with self._changed:
            if self._known is not None and email not in self._known:
                raise KeyError(email)
            return held[email]


class _Arriving(MutableMapping[str, V], Generic[V]):
    """One of the two mappings: a key waits for its own answer, the whole for all of them."""

    def __init__(self, feed: ArrivingSchedules, held: dict[str, V]) -> None:
        self._feed = feed
        self._held = held

    def __getitem__(self, email: str) -> V:
        return self._feed._get(self._held, email)

    def __iter__(self) -> Iterator[str]:
        return iter(self._whole())

    def __len__(self) -> int:
        return len(self._whole())

    def __setitem__(self, email: str, value: V) -> None:
        self._feed._wait(None)
        self._held[email] = value

    def __delitem__(self, email: str) -> None:
        self._feed._wait(None)
        del self._held[email]

    def _whole(self) -> dict[str, V]:
        self._feed._wait(None)
        return self._feed._visible(self._held)
