"""Per-mailbox pacing, so a large program stays under Outlook's limits instead of living on 429s.

Outlook counts per app and mailbox: 10,000 requests per 10 minutes and 4 concurrent requests
(https://learn.microsoft.com/graph/throttling-limits#outlook-service-limits). Waiting here,
before sending, is cheaper than being told to wait: a 429 costs a request and its
`Retry-After` is often longer than the wait the window needs. The client paces single requests
by the mailbox they name and a `$batch` by the mailboxes its inner requests address.
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager

from graph.clock import Clock
from graph.errors import GraphClientError


class MailboxPacer:
    """Keeps each mailbox under Outlook's per-app limits before Graph has to say 429.

    Per mailbox: at most `max_concurrent` requests in flight (a semaphore) and at most
    `max_per_window * headroom` requests started in any sliding `window` seconds. Waiting for
    the window sleeps on the injected clock. Thread-safe.
    """

    def __init__(
        self,
        clock: Clock,
        max_concurrent: int = 4,
        max_per_window: int = 10_000,
        window: float = 600.0,
        headroom: float = 0.9,
    ) -> None:
        if max_concurrent < 1 or max_per_window < 1 or window <= 0 or not 0 < headroom <= 1:
            raise ValueError("pacer limits must be positive (headroom in (0, 1])")
        self.clock = clock
        self.max_concurrent = max_concurrent
        self.window = window
        self.limit = max(1, int(max_per_window * headroom))
        self._lock = threading.Lock()
        self._semaphores: dict[str, threading.BoundedSemaphore] = {}
        self._starts: dict[str, deque[float]] = {}

    @staticmethod
    def key(mailbox: str) -> str:
        return mailbox.strip().lower()

    def _semaphore(self, key: str) -> threading.BoundedSemaphore:
        with self._lock:
            sem = self._semaphores.get(key)
            if sem is None:
                sem = self._semaphores[key] = threading.BoundedSemaphore(self.max_concurrent)
            return sem

    def _admit(self, key: str, count: int) -> None:
        """Record `count` request starts, first waiting until the window has room for them."""
        count = min(count, self.limit)
        # Each pass either admits or sleeps until the oldest start leaves the window, so the
        # number of passes is bounded by the window's size (plus slack for other threads).
        for _ in range(self.limit + 100):
            with self._lock:
                now = self.clock.now().timestamp()
                starts = self._starts.setdefault(key, deque())
                while starts and starts[0] <= now - self.window:
                    starts.popleft()
                if len(starts) + count <= self.limit:
                    starts.extend([now] * count)
                    return
                wait = starts[len(starts) + count - self.limit - 1] + self.window - now
            self.clock.sleep(max(wait, 0.001))
        raise GraphClientError(f"mailbox pacer could not admit requests for {key}")

    @contextmanager
    def slot(self, mailbox: str, requests: int = 1) -> Iterator[None]:
        """Hold one concurrency slot for `mailbox` while counting `requests` in its window."""
        key = self.key(mailbox)
        sem = self._semaphore(key)
        sem.acquire()
        try:
            self._admit(key, requests)
            yield
        finally:
            sem.release()

    @contextmanager
    def slots(self, mailboxes: Mapping[str, int]) -> Iterator[None]:
        """One slot per mailbox (taken in sorted order, so threads cannot deadlock) and
        each mailbox's request count in its window: how a `$batch` is paced."""
        with ExitStack() as stack:
            merged: Counter[str] = Counter()
            for mailbox, count in mailboxes.items():
                merged[self.key(mailbox)] += count
            for key in sorted(merged):
                stack.enter_context(self.slot(key, merged[key]))
            yield
