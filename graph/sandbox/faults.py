"""Injectable faults: what a test or benchmark needs to see the worker survive a bad day.

Real Graph answers 429 with `Retry-After`, 503 and 504 under load, drops connections and slows
down; the worker's retry and pacing code must be exercised against all of these, repeatably.
A `FaultRule` matches requests by method, path regex and (optionally) service, and fires by
share (probability drawn from a seeded RNG, so a run is reproducible), by count (the next N
matching requests), or after N matches. Rules are evaluated in the order they were added.

Most kinds refuse the request before it reaches its handler: nothing changes in the tenant.
`lost` is the other half of a bad network day, and the one that tests idempotency: the sandbox
carries the request out (the event is created, the notification delivered) and only then does
the answer fail to arrive, as a read timeout. Graph gives a client no way to tell the two apart,
so a worker that retries must look before it writes again. Lost answers are counted per route
(`lost_answers()`), so a harness can hold duplicates against the answers it lost.

Throttling guidance (status codes, Retry-After): https://learn.microsoft.com/graph/throttling
"""

from __future__ import annotations

import random
import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

from graph.sandbox.core import GraphError

FaultKind = Literal["403", "429", "503", "504", "drop", "timeout", "latency", "lost"]
FAULT_KINDS: tuple[str, ...] = (
    "403", "429", "503", "504", "drop", "timeout", "latency", "lost",
)

# Injected latency is real time (it exists to make concurrent requests overlap); a bound keeps a
# mistyped rule from hanging a test suite.
MAX_LATENCY_SECONDS = 5.0


class FaultAbort(Exception):
    """Raised out of `Sandbox.handle` when the simulated connection never gets an answer."""


class ConnectionDropped(FaultAbort):
    """The connection is closed without a response (transport: `requests.ConnectionError`)."""


class ResponseTimeout(FaultAbort):
    """No response arrives in time (transport: `requests.ReadTimeout`)."""


class AnswerLost(ResponseTimeout):
    """The request was carried out, then its answer never arrived (a `lost` fault)."""


@dataclass
class FaultRule:
    """One fault to inject.

    kind: "403" | "429" | "503" | "504" | "drop" | "timeout" | "latency" | "lost" ("403" is a
    permission taken away: Graph's accessDenied, as SharePoint answers an app whose site grant
    was removed; "lost" lets the request through and loses its answer when it succeeded, see
    the module docstring; `fired` counts only the answers actually lost).
    method: HTTP method to match, None for any. path: regex searched in the request path (the
    path without the version prefix, e.g. ``/users/.+/events``). service: "outlook",
    "sharepoint", "teams", ... or None for any.
    share: probability in [0, 1] that a matching request is hit. count: how many matching
    requests are hit at most (None = unlimited). after: the first N matches pass untouched.
    retry_after: seconds sent in `Retry-After` for 429/503. latency: seconds of delay.
    """

    kind: FaultKind
    method: str | None = None
    path: str = ".*"
    service: str | None = None
    body: str | None = None
    share: float | None = None
    count: int | None = None
    after: int = 0
    retry_after: int = 10
    latency: float = 0.0
    matched: int = field(default=0, compare=False)
    fired: int = field(default=0, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {FAULT_KINDS}")
        if self.share is not None and not 0.0 <= self.share <= 1.0:
            raise ValueError("share must be between 0 and 1")
        if self.latency < 0 or self.latency > MAX_LATENCY_SECONDS:
            raise ValueError(f"latency must be between 0 and {MAX_LATENCY_SECONDS} seconds")
        self._regex = re.compile(self.path, re.IGNORECASE)
        self._body = re.compile(self.body) if self.body is not None else None

    def matches(self, method: str, path: str, service: str | None, body: bytes = b"") -> bool:
        if self.method is not None and self.method.upper() != method.upper():
            return False
        if self.service is not None and self.service != service:
            return False
        if self._body is not None and not self._body.search(body.decode("utf-8", "replace")):
            return False
        return self._regex.search(path) is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "method": self.method,
            "path": self.path,
            "service": self.service,
            "body": self.body,
            "share": self.share,
            "count": self.count,
            "after": self.after,
            "retry_after": self.retry_after,
            "latency": self.latency,
            "matched": self.matched,
            "fired": self.fired,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FaultRule:
        allowed = {
            "kind", "method", "path", "service", "body", "share", "count", "after",
            "retry_after", "latency",
        }
        unknown = set(data) - allowed - {"matched", "fired"}
        if unknown:
            raise ValueError(f"unknown fault rule fields: {sorted(unknown)}")
        return cls(**{k: v for k, v in data.items() if k in allowed})


@dataclass
class FaultOutcome:
    """What the pipeline must do for one request: a delay and/or a terminal fault."""

    latency: float = 0.0
    terminal: FaultRule | None = None
    # Carry the request out, then lose a successful answer (never together with `terminal`).
    lost: FaultRule | None = None


class Faults:
    """The sandbox's fault table. Thread-safe; the RNG is seeded so runs repeat exactly."""

    def __init__(self, seed: int = 0) -> None:
        self._rules: list[FaultRule] = []
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._lost: Counter[str] = Counter()

    def add(self, rule: FaultRule) -> FaultRule:
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear(self) -> None:
        """Remove every rule; the lost-answer counts stay (`reset_counts` clears them)."""
        with self._lock:
            self._rules.clear()

    def reset_counts(self) -> None:
        with self._lock:
            self._lost.clear()

    def answer_lost(self, rule: FaultRule, route: str) -> None:
        """Count one answer a `lost` rule took away, by route (``POST /users/{user}/events``)."""
        with self._lock:
            rule.fired += 1
            self._lost[route] += 1

    def lost_answers(self) -> dict[str, int]:
        """Answers lost after the request was carried out, per route."""
        with self._lock:
            return dict(self._lost)

    def rules(self) -> list[FaultRule]:
        with self._lock:
            return list(self._rules)

    def pick(self, method: str, path: str, service: str | None,
             body: bytes = b"") -> FaultOutcome:
        """Advance every matching rule's counters and say which faults hit this request.

        Latency rules add up (bounded); the first terminal rule that fires wins, and a
        terminal fault means no `lost` one (a refused request has no answer to lose). A `lost`
        rule's `fired` is counted by `answer_lost`, once the answer was really lost.
        """
        outcome = FaultOutcome()
        with self._lock:
            for rule in self._rules:
                if not rule.matches(method, path, service, body):
                    continue
                rule.matched += 1
                if rule.matched <= rule.after:
                    continue
                if rule.count is not None and rule.fired >= rule.count:
                    continue
                if rule.share is not None and self._rng.random() >= rule.share:
                    continue
                if rule.kind == "latency":
                    rule.fired += 1
                    outcome.latency = min(MAX_LATENCY_SECONDS, outcome.latency + rule.latency)
                elif rule.kind == "lost":
                    if outcome.lost is None:
                        outcome.lost = rule
                elif outcome.terminal is None:
                    rule.fired += 1
                    outcome.terminal = rule
        if outcome.terminal is not None:
            outcome.lost = None
        return outcome


def raise_terminal(rule: FaultRule) -> None:
    """Turn a fired terminal rule into what Graph (or the network) would do."""
    if rule.kind == "403":
        raise GraphError(403, "accessDenied", "Access denied")
    if rule.kind == "429":
        raise GraphError(
            429,
            "TooManyRequests",
            "Too many requests.",
            headers={"Retry-After": str(rule.retry_after)},
        )
    if rule.kind == "503":
        raise GraphError(
            503,
            "serviceNotAvailable",
            "The service is temporarily unavailable. Please retry later.",
            headers={"Retry-After": str(rule.retry_after)},
        )
    if rule.kind == "504":
        raise GraphError(504, "UnknownError", "Gateway Timeout")
    if rule.kind == "drop":
        raise ConnectionDropped("connection dropped by an injected fault")
    if rule.kind == "timeout":
        raise ResponseTimeout("response timed out by an injected fault")
