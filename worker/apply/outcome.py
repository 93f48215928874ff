"""How each action of a run ended: one outcome type for the calendar, the notes list and Teams.

Like kopf's handler outcomes: **done**; **failed**, permanent (Graph refused the request; the
reason is named and retrying the same request cannot help); **deferred**, temporary (throttled
past the retries, a server error, waiting for an action that did not happen: the next run tries
again). Two failures stop the whole run instead, because every later request would meet them
too: the credential stopped working (exit 2) and Graph or the identity platform cannot be
reached (exit 3). The summary, the JSON log and the exit code all come from these outcomes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from graph.errors import (
    AnswerLost,
    AuthenticationError,
    Forbidden,
    GraphApiError,
    GraphClientError,
    IdentityUnavailable,
    MalformedResponse,
    ServerError,
    Throttled,
    TransientError,
    Unauthorized,
)
from worker.core.exit_codes import ExitCode
from worker.plan.actions import Action


class Status(StrEnum):
    done = "done"
    failed = "failed"
    deferred = "deferred"


@dataclass(frozen=True)
class Outcome:
    action: Action
    status: Status
    reason: str = ""
    values: Mapping[str, str] = field(default_factory=dict)  # what `Later`s of it resolve to
    code: ExitCode = ExitCode.OK
    warning: str | None = None  # done, but something to tell (a booking without Teams link)
    # A nudge Graph took whose ledger entry could not be written: the next run may send it
    # again, so no further nudge goes out in this run.
    unrecorded: bool = False

    @classmethod
    def done(cls, action: Action, warning: str | None = None, **values: str) -> Outcome:
        return cls(action, Status.done, values=values, warning=warning)

    @classmethod
    def deferred(cls, action: Action, reason: str) -> Outcome:
        return cls(action, Status.deferred, reason, code=ExitCode.INCOMPLETE)

    @classmethod
    def failed(cls, action: Action, reason: str,
               code: ExitCode = ExitCode.INCOMPLETE) -> Outcome:
        return cls(action, Status.failed, reason, code=code)


class RunStopped(Exception):
    """Nothing more can be written this run: the credential or Graph itself is failing."""

    def __init__(self, code: ExitCode, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason

    @property
    def outage(self) -> bool:
        """Graph or the identity platform not answering (it may again within the run), as
        opposed to a refused token or credential (nothing would be accepted)."""
        return self.code is ExitCode.OUTAGE


def stop_for(exc: GraphClientError) -> RunStopped | None:
    """The run-wide stop an error means, if it means one."""
    if isinstance(exc, IdentityUnavailable):
        return RunStopped(ExitCode.OUTAGE, f"the identity platform is unavailable: {exc}")
    if isinstance(exc, AuthenticationError):
        return RunStopped(ExitCode.CONFIG, f"authentication stopped working: {exc}")
    if isinstance(exc, Unauthorized):
        return RunStopped(ExitCode.CONFIG, f"Graph refused the token: {exc.short()}")
    if isinstance(exc, TransientError) and not isinstance(exc, AnswerLost):
        return RunStopped(ExitCode.OUTAGE, f"Graph cannot be reached: {exc}")
    return None


def outcome_for(action: Action, exc: GraphClientError) -> Outcome:
    """The outcome of an action whose request raised `exc` (after the client's retries)."""
    if isinstance(exc, AnswerLost):
        return Outcome.deferred(action, f"no answer from Graph ({exc.reason}); whether it was "
                                        "carried out is looked up before it is tried again")
    if isinstance(exc, MalformedResponse):
        # Not retried (it would read the same way): what was wrong with the answer is named.
        return Outcome.deferred(action, f"{exc.short()}: {exc.message}; next run")
    if isinstance(exc, Throttled | ServerError):
        return Outcome.deferred(action, f"{exc.short()} after retries; next run")
    if isinstance(exc, Forbidden):
        return Outcome.failed(action, f"missing permission: {exc.short()}: {exc.message}",
                              ExitCode.CONFIG)
    if isinstance(exc, GraphApiError):
        return Outcome.failed(action, f"{exc.short()}: {exc.message}")
    return Outcome.failed(action, str(exc))
