from datetime import UTC, datetime, timedelta

import pytest

from graph.clock import ManualClock


def test_manual_clock_moves_only_when_told() -> None:
    clock = ManualClock(datetime(2027, 1, 4, 9, tzinfo=UTC))
    assert clock.now() == datetime(2027, 1, 4, 9, tzinfo=UTC)
    clock.advance(timedelta(days=21))
    assert clock.now() == datetime(2027, 1, 25, 9, tzinfo=UTC)


def test_sleeping_on_a_manual_clock_advances_it_instantly() -> None:
    clock = ManualClock(datetime(2027, 1, 4, 9, tzinfo=UTC))
    clock.sleep(7)
    assert clock.now() == datetime(2027, 1, 4, 9, 0, 7, tzinfo=UTC)


def test_manual_clock_refuses_naive_times_and_going_back() -> None:
    with pytest.raises(ValueError):
        ManualClock(datetime(2027, 1, 4, 9))
    clock = ManualClock(datetime(2027, 1, 4, 9, tzinfo=UTC))
    with pytest.raises(ValueError):
        clock.advance(timedelta(seconds=-1))
