"""How long to wait before trying again, and how a failure reads in a retry log line.

Single requests retry through one tenacity loop; a `$batch` retries only its failed inner
requests, round by round, so it cannot. Both draw their waits and their log wording from here,
so a throttled run backs off and reads alike whichever way its requests went out. Graph says
to honour `Retry-After` on a 429 and, without it, to back off exponentially
(https://learn.microsoft.com/graph/throttling); the callers honour the header, this is the
fallback.
"""

from __future__ import annotations

import random

from graph.errors import GraphApiError, TransientError


def backoff(attempt: int, rng: random.Random, base: float = 1.0, cap: float = 60.0) -> float:
    """Exponential backoff with full jitter: uniform in [0, min(cap, base * 2^(attempt-1))]."""
    return rng.uniform(0, min(cap, base * 2 ** max(attempt - 1, 0)))


def describe(exc: BaseException | None) -> str:
    """'429 ApplicationThrottled', 'ConnectTimeout': the failure, without body or token."""
    if isinstance(exc, GraphApiError):
        return exc.short()
    if isinstance(exc, TransientError):
        return exc.reason
    return type(exc).__name__ if exc else "unknown error"
