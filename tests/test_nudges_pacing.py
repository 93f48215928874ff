"""Teams allows about 5 notification requests per second per app per tenant: stay under it."""

from __future__ import annotations

from datetime import UTC, datetime

from graph.clock import ManualClock
from graph.teams import NotificationPacer


def test_the_pacer_admits_at_most_four_notifications_in_any_second() -> None:
    clock = ManualClock(datetime(2027, 1, 11, 14, 0, tzinfo=UTC))
    pacer = NotificationPacer(clock)
    starts = []
    for _ in range(25):
        pacer.admit()
        starts.append(clock.now().timestamp())
    for index, start in enumerate(starts):
        in_window = [s for s in starts[index:] if s < start + 1.0]
        assert len(in_window) <= 4
    # 25 requests at 4 per second take a little over 6 simulated seconds, no more.
    assert 6.0 <= starts[-1] - starts[0] <= 6.1


def test_a_quiet_pacer_does_not_wait() -> None:
    clock = ManualClock(datetime(2027, 1, 11, 14, 0, tzinfo=UTC))
    pacer = NotificationPacer(clock)
    for _ in range(4):
        pacer.admit()
    assert clock.now() == datetime(2027, 1, 11, 14, 0, tzinfo=UTC)
