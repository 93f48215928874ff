"""What the executors of one apply share: the client, the outcomes so far, and the state of
the events the run writes (their latest etags, their nudge ledgers).

`resolve` fills in the `Later` values of an action from the outcomes of the actions it waits
for; `waiting` says why an action cannot run yet (one it waits for did not get done).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any

from graph import teams
from graph.client import GraphClient
from worker.apply.outcome import Outcome, RunStopped, Status
from worker.plan.actions import Action, Later

log = logging.getLogger(__name__)


class Context:
    def __init__(self, client: GraphClient, webhook_url: str | None = None) -> None:
        self.client = client
        self.webhook_url = webhook_url
        self.lock = threading.Lock()
        self.outcomes: dict[str, Outcome] = {}
        self.stopped: RunStopped | None = None
        # Event id -> its etag after our own latest write, so a later If-Match write to the
        # same event in this run does not meet a 412 of our own making.
        self.etags: dict[str, str] = {}
        # Event id -> the nudge ledger entries it holds now (after our own writes).
        self.ledgers: dict[str, set[str]] = {}
        self.pacer = teams.NotificationPacer(client.clock)

    def record(self, outcome: Outcome) -> None:
        with self.lock:
            self.outcomes[outcome.action.id] = outcome

    def stop(self, stop: RunStopped) -> None:
        """Stop the run (the first stop wins): every action not yet tried is deferred."""
        with self.lock:
            if self.stopped is None:
                self.stopped = stop
                log.error("run stopped: %s", stop.reason)

    def waiting(self, action: Action) -> str | None:
        """Why `action` cannot run now, or None."""
        if self.stopped is not None:
            return f"not tried: {self.stopped.reason}"
        for dependency in action.after:
            outcome = self.outcomes.get(dependency)
            if outcome is None:
                continue  # not in this plan: nothing to wait for
            if outcome.status is not Status.done:
                return f"waits for {dependency}, which was {outcome.status.value}"
        return None

    def resolve(self, value: Any, digest: str | None = None) -> Any:
        """`value` with every `Later` replaced by what its action produced."""
        if isinstance(value, Later):
            if value.field == "digest" and digest is not None:
                return digest
            outcome = self.outcomes[value.action]
            return outcome.values.get(value.field, "")
        if isinstance(value, Mapping):
            return {k: self.resolve(v, digest) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.resolve(v, digest) for v in value]
        return value

    def remember_etag(self, event_id: str, body: Any) -> None:
        if isinstance(body, Mapping) and isinstance(body.get("@odata.etag"), str):
            with self.lock:
                self.etags[event_id] = str(body["@odata.etag"])
