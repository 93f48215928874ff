"""Creates that Graph cannot deduplicate for us, made safe against a lost answer.

A create whose answer never arrived (a timeout, a dropped connection, a 504, a body that is not
the JSON Graph documents) may or may not have been carried out. Sending it again blindly is how
duplicates are made, so it is looked up by its key first (a list item by its session key, an
event by its session tag) and sent again only when the lookup finds nothing. A 429 or another
5xx *answer* means Graph did not take the request; the client has retried those already.
Events carry a `transactionId` besides, so even a create the lookup could not yet see is not
doubled by Outlook; list items have no such key, which is why the lookup comes first.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from graph.errors import AnswerLost, MalformedResponse, ServerError

log = logging.getLogger(__name__)

T = TypeVar("T")

# Creates per action, the first included: a second lost answer in a row is looked up again.
MAX_CREATE_ATTEMPTS = 3


def answer_lost(exc: Exception) -> bool:
    """Whether `exc` leaves open that the request was carried out."""
    if isinstance(exc, AnswerLost | MalformedResponse):
        return True
    return isinstance(exc, ServerError) and exc.status == 504


def create_once(create: Callable[[], T], lookup: Callable[[], T | None], *, what: str) -> T:
    """`create()`, unless an earlier attempt whose answer was lost did it: then what
    `lookup()` finds. Errors of the lookup itself (throttled, refused) are raised: the action
    is deferred and the next run, which reads everything afresh, finds it or creates it."""
    for attempt in range(1, MAX_CREATE_ATTEMPTS + 1):
        try:
            return create()
        except (AnswerLost, ServerError) as exc:
            if not answer_lost(exc) or attempt == MAX_CREATE_ATTEMPTS:
                raise
            log.warning("creating %s (attempt %d/%d): %s; looking it up before trying again",
                        what, attempt, MAX_CREATE_ATTEMPTS, exc)
            found = lookup()
            if found is not None:
                log.info("%s was created by the attempt whose answer was lost", what)
                return found
    raise AssertionError("unreachable")  # the loop returns or raises
