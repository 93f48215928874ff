"""Counters for the run summary, kept apart from the HTTP code that feeds them.

Single requests and `$batch` inner requests are counted by one set of rules (what a write is,
which service behind Graph a path reaches), so the summary's figures mean the same however a
request travelled. Requests run side by side, so the counters carry their own lock.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})
# POSTs that only read: Graph actions taking their parameters in a body, and the `$batch`
# envelope (whose inner writes are counted one by one).
READ_ONLY_POSTS = ("/$batch", "/calendar/getschedule")


def service_of(path: str) -> str:
    """Which service behind Graph a request path reaches (for counting, not routing)."""
    lowered = path.split("?", 1)[0].lower()
    if "/sites/" in lowered or lowered.startswith("/sites"):
        return "sharepoint"
    if "/teamwork/" in lowered or "/appcatalogs" in lowered:
        return "teams"
    if "/events" in lowered or "/calendar" in lowered:
        return "outlook"
    if lowered.endswith("/$batch"):
        return "batch"
    return "directory"


@dataclass
class ClientStats:
    """Counters for the run summary. Inner `$batch` requests are counted apart from the HTTP
    requests that carried them; writes, 429s, retries and statuses include inner requests."""

    requests: int = 0
    batch_inner_requests: int = 0
    writes: int = 0
    throttled: int = 0
    retries: int = 0
    by_status: Counter[int] = field(default_factory=Counter)
    # Graph operations per service behind Graph (each `$batch` inner request counts, the
    # `$batch` envelope does not): what each service's throttling counts.
    by_service: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(
        default_factory=threading.Lock, init=False, repr=False, compare=False
    )

    def count(self, method: str, status: int | None, *, inner: bool = False, url: str = "") -> None:
        """One request sent: `status` None when no answer came; `inner` for a `$batch` part."""
        path = url.split("?", 1)[0].lower()
        write = method.upper() in WRITE_METHODS and not path.endswith(READ_ONLY_POSTS)
        service = service_of(urlsplit(url).path if "://" in url else url)
        with self._lock:
            if inner:
                self.batch_inner_requests += 1
            else:
                self.requests += 1
            if service != "batch":
                self.by_service[service] += 1
            if write:
                self.writes += 1
            if status is not None:
                self.by_status[status] += 1
                if status == 429:
                    self.throttled += 1

    def retried(self, count: int = 1) -> None:
        """`count` requests are about to be sent again."""
        with self._lock:
            self.retries += count

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "batch_inner_requests": self.batch_inner_requests,
            "writes": self.writes,
            "throttled": self.throttled,
            "retries": self.retries,
            "by_status": dict(sorted(self.by_status.items())),
            "by_service": dict(sorted(self.by_service.items())),
        }
