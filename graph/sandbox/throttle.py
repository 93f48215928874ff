"""Service-specific throttling, as Microsoft Graph applies it to an app-only caller.

The worker's pacing exists because of these limits, so the sandbox enforces them (scaled down
when a benchmark wants to reach them quickly). Sources:

* Outlook (mail, calendar, mailbox settings): 10,000 requests per 10 minutes per app per
  mailbox, and 4 concurrent requests; Graph answers 429 with `Retry-After`, and the concurrency
  error reads "Application is over its MailboxConcurrency limit." (code ApplicationThrottled).
  https://learn.microsoft.com/graph/throttling-limits#outlook-service-limits
  The current doc states the 4-request concurrency per app ID; the long-standing error text
  names the mailbox. The sandbox counts concurrency per app per mailbox (`concurrency_scope`
  switches it to per app for the stricter reading).
* Teams activity feed: POST /users/{id}/teamwork/sendActivityNotification, 5 requests per
  second per app per tenant. https://learn.microsoft.com/graph/throttling-limits#microsoft-teams-service-limits
* SharePoint: resource units (RU) per app per tenant per minute; 1,250 RU/min for a tenant of
  up to 1,000 licenses. Graph calls cost 1 RU for a single item, 2 RU for a multi-item query or
  any create/update/delete, 5 RU for permission operations; throttled requests count too.
  https://learn.microsoft.com/sharepoint/dev/general-development/how-to-avoid-getting-throttled-or-blocked-in-sharepoint-online

Windows are measured on the sandbox clock (so `ManualClock` tests are exact); concurrency is
measured on real in-flight requests, counted around handler execution outside the state lock.

`RetryAfterWatch` keeps the other side of a 429: Graph tells the client to wait `Retry-After`
seconds ("wait the number of seconds specified in the Retry-After header, then retry",
https://learn.microsoft.com/graph/throttling#best-practices-to-handle-throttling). What Graph
does with a request that comes sooner is not documented, so the sandbox answers it as usual and
only counts it, in two scopes: the same request sent again (its `client-request-id`, which a
client keeps across attempts, else method, path and query), and any request to the throttled
resource as this module models it (the app's mailbox for Outlook, the app's notifications for
Teams, the app's SharePoint units, else the app's calls to that service). "Throttling limits
any further requests from that client app for some time" (same page) is the stricter reading
the second scope takes.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from graph.clock import Clock
from graph.sandbox.core import GraphError, Route

# Path segments whose GET lists several items (SharePoint multi-item query: 2 RU).
_SHAREPOINT_COLLECTIONS = ("items", "lists", "sites", "columns", "children", "contenttypes")


@dataclass(frozen=True)
class ThrottleConfig:
    """Limits; `scaled(f)` shrinks windows and counts together so rates stay realistic."""

    enabled: bool = True
    outlook_window_s: float = 600.0
    outlook_limit: int = 10_000
    outlook_concurrency: int = 4
    concurrency_scope: Literal["mailbox", "app"] = "mailbox"
    # Not documented by Microsoft; the sandbox tells the client to wait one second.
    concurrency_retry_after_s: int = 1
    teams_notification_window_s: float = 1.0
    teams_notification_limit: int = 5
    sharepoint_window_s: float = 60.0
    sharepoint_ru_limit: int = 1_250

    def scaled(self, scale: float) -> ThrottleConfig:
        """Windows and limits multiplied by `scale` (e.g. 0.01: 6 s / 100 Outlook requests)."""
        if scale <= 0:
            raise ValueError("scale must be positive")
        return replace(
            self,
            outlook_window_s=self.outlook_window_s * scale,
            outlook_limit=max(1, round(self.outlook_limit * scale)),
            sharepoint_window_s=self.sharepoint_window_s * scale,
            sharepoint_ru_limit=max(1, round(self.sharepoint_ru_limit * scale)),
        )


class _Window:
    """A sliding window of (time, cost) entries on the sandbox clock."""

    def __init__(self) -> None:
        self.entries: deque[tuple[float, int]] = deque()
        self.total = 0

    def prune(self, now: float, window: float) -> None:
        while self.entries and self.entries[0][0] <= now - window:
            _, cost = self.entries.popleft()
            self.total -= cost

    def add(self, now: float, cost: int) -> None:
        self.entries.append((now, cost))
        self.total += cost

    def retry_after(self, now: float, window: float) -> int:
        if not self.entries:
            return 1
        return max(1, math.ceil(self.entries[0][0] + window - now))


def sharepoint_cost(method: str, path: str, query: dict[str, str]) -> int:
    """Resource units one Graph call costs (documented table; see module docstring)."""
    if "permissions" in path.lower() or "permissions" in query.get("$expand", "").lower():
        return 5
    if method.upper() != "GET":
        return 2
    last = path.rstrip("/").rsplit("/", 1)[-1].lower()
    return 2 if last in _SHAREPOINT_COLLECTIONS else 1


def resource_of(route: Route, mailbox: str | None) -> tuple[str, ...]:
    """What a request is counted against, per app: the key of its limit in this module."""
    if route.service == "outlook" and mailbox is not None:
        return ("outlook", mailbox)
    if route.service == "teams" and route.template.lower().endswith("sendactivitynotification"):
        return ("teams-notification",)
    return (route.service,)


class Throttle:
    """Counts requests per limit and refuses, like Graph, with 429 and `Retry-After`."""

    def __init__(self, config: ThrottleConfig, clock: Clock) -> None:
        self.config = config
        self._clock = clock
        self._lock = threading.Lock()
        self._windows: dict[tuple[str, ...], _Window] = {}
        self._in_flight: dict[tuple[str, str], int] = {}

    def reset(self) -> None:
        with self._lock:
            self._windows.clear()

    def _now(self) -> float:
        return self._clock.now().timestamp()

    def _window(self, key: tuple[str, ...]) -> _Window:
        window = self._windows.get(key)
        if window is None:
            window = self._windows[key] = _Window()
        return window

    def usage(self, *key: str) -> int:
        """Current count in one window (for tests and the control API)."""
        with self._lock:
            window = self._windows.get(key)
            return window.total if window else 0

    def preload(self, key: tuple[str, ...], count: int) -> None:
        """Record `count` requests now in a window, so a test can start at the edge of a limit."""
        with self._lock:
            self._window(key).add(self._now(), count)

    def admit(
        self,
        app_id: str,
        route: Route,
        method: str,
        path: str,
        query: dict[str, str],
        mailbox: str | None,
    ) -> None:
        """Count one request against its rate limits; raise Graph's 429 when over."""
        cfg = self.config
        if not cfg.enabled:
            return
        now = self._now()
        kind, *rest = resource_of(route, mailbox)
        key = (kind, app_id, *rest)
        with self._lock:
            if kind == "outlook" and mailbox is not None:
                window = self._window(key)
                window.prune(now, cfg.outlook_window_s)
                window.add(now, 1)
                if window.total > cfg.outlook_limit:
                    raise GraphError(
                        429,
                        "ApplicationThrottled",
                        "Application is over its MailboxRequests limit.",
                        headers={"Retry-After": str(window.retry_after(now, cfg.outlook_window_s))},
                    )
            elif kind == "teams-notification":
                window = self._window(key)
                window.prune(now, cfg.teams_notification_window_s)
                window.add(now, 1)
                if window.total > cfg.teams_notification_limit:
                    raise GraphError(
                        429,
                        "TooManyRequests",
                        "Too many requests.",
                        headers={
                            "Retry-After": str(
                                window.retry_after(now, cfg.teams_notification_window_s)
                            )
                        },
                    )
            elif kind == "sharepoint":
                window = self._window(key)
                window.prune(now, cfg.sharepoint_window_s)
                window.add(now, sharepoint_cost(method, path, query))
                if window.total > cfg.sharepoint_ru_limit:
                    raise GraphError(
                        429,
                        "activityLimitReached",
                        "The request has been throttled.",
                        headers={
                            "Retry-After": str(window.retry_after(now, cfg.sharepoint_window_s))
                        },
                    )

    @contextmanager
    def in_flight(self, app_id: str, route: Route, mailbox: str | None) -> Iterator[None]:
        """Hold one of the mailbox's concurrent-request slots while the handler runs."""
        cfg = self.config
        if not cfg.enabled or route.service != "outlook" or mailbox is None:
            yield
            return
        key = (app_id, mailbox if cfg.concurrency_scope == "mailbox" else "*")
        with self._lock:
            current = self._in_flight.get(key, 0)
            if current >= cfg.outlook_concurrency:
                raise GraphError(
                    429,
                    "ApplicationThrottled",
                    "Application is over its MailboxConcurrency limit.",
                    headers={"Retry-After": str(cfg.concurrency_retry_after_s)},
                )
            self._in_flight[key] = current + 1
        try:
            yield
        finally:
            with self._lock:
                self._in_flight[key] -= 1
                if not self._in_flight[key]:
                    del self._in_flight[key]


EarlyScope = Literal["request", "resource"]


@dataclass(frozen=True)
class EarlyRequest:
    """One request sent before the `Retry-After` it was given ran out."""

    scope: EarlyScope
    route: str  # "POST /users/{user}/events"
    early_by: float  # seconds still to wait when it came


class RetryAfterWatch:
    """Remembers each `Retry-After` the sandbox gave and counts the requests that came sooner.

    Thread-safe; times on the sandbox clock. `given` is called for every 429 or 503 carrying
    `Retry-After` (the throttle's own, an injected fault's, or a `$batch` inner one), `check`
    for every Graph request before it is answered.
    """

    EXAMPLES = 20  # the first early requests are kept, for a report to name

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        # scope and key -> (until, the HTTP request that carried the answer)
        self._until: dict[tuple[EarlyScope, tuple[str, ...]], tuple[datetime, str]] = {}
        self._counts: dict[EarlyScope, int] = {"request": 0, "resource": 0}
        self._examples: list[EarlyRequest] = []

    @staticmethod
    def _keys(app_id: str, resource: tuple[str, ...], request_key: str
              ) -> tuple[tuple[EarlyScope, tuple[str, ...]], ...]:
        return (("request", (app_id, request_key)), ("resource", (app_id, *resource)))

    def given(self, app_id: str, resource: tuple[str, ...], request_key: str,
              seconds: float, envelope: str = "") -> None:
        """The sandbox answered this request 429/503 with `Retry-After: seconds`, inside the
        HTTP request `envelope` (itself, or the `$batch` that carried it)."""
        until = self._clock.now() + timedelta(seconds=max(seconds, 0.0))
        with self._lock:
            for key in self._keys(app_id, resource, request_key):
                if key not in self._until or self._until[key][0] < until:
                    self._until[key] = (until, envelope)

    def check(self, app_id: str, resource: tuple[str, ...], request_key: str,
              route: str, envelope: str = "") -> None:
        """Count this request in each scope whose `Retry-After` has not run out yet. Requests
        of the `$batch` that carried the 429 were sent with it: they could not have waited."""
        now = self._clock.now()
        with self._lock:
            for key in self._keys(app_id, resource, request_key):
                found = self._until.get(key)
                if found is None:
                    continue
                until, given_in = found
                if now >= until:
                    del self._until[key]
                    continue
                if envelope and given_in == envelope:
                    continue
                scope = key[0]
                self._counts[scope] += 1
                if len(self._examples) < self.EXAMPLES:
                    self._examples.append(
                        EarlyRequest(scope, route, (until - now).total_seconds()))

    def early_requests(self) -> dict[str, int]:
        """Requests that came before their Retry-After ran out: {"request": n, "resource": m}."""
        with self._lock:
            return {str(scope): count for scope, count in self._counts.items()}

    def examples(self) -> list[EarlyRequest]:
        with self._lock:
            return list(self._examples)

    def reset(self) -> None:
        with self._lock:
            self._until.clear()
            self._counts = {"request": 0, "resource": 0}
            self._examples.clear()
