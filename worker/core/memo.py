"""Remembering what is computed from objects that do not change, by the objects' identity.

The config models are frozen, and a plan asks the same questions of them many thousand times
(which pairing has this id, what are this pairing's sessions). Hashing a config of 10,000
pairings by value for each question would cost more than the answer; identity is enough, as
long as the objects asked about stay alive while remembered (they are held here, and the
memory is cleared when it reaches its bound).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import wraps
from operator import is_
from typing import Any, TypeVar

__all__ = ["by_identity"]

R = TypeVar("R")


def by_identity(bound: int) -> Callable[[Callable[..., R]], Callable[..., R]]:
    """Remember `function(*args)` by the identity of its arguments, at most `bound` answers.
    The answer is shared: callers must not change it."""

    def decorate(function: Callable[..., R]) -> Callable[..., R]:
        memory: dict[tuple[int, ...], tuple[tuple[Any, ...], R]] = {}
        lock = threading.Lock()

        @wraps(function)
        def remembered(*args: Any) -> R:
            key = tuple(map(id, args))
            found = memory.get(key)
            # The same ids are the same objects only while those are alive: they are held.
            if found is not None and all(map(is_, found[0], args)):
                return found[1]
            answer = function(*args)
            with lock:
                if len(memory) >= bound:
                    memory.clear()
                memory[key] = (args, answer)
            return answer

        return remembered

    return decorate
