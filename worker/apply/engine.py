"""Apply a plan: every action, in the plan's order of resources, each ending in one `Outcome`.

Calendar first (pairings side by side, `workers` at a time: Outlook allows 4 concurrent
requests per mailbox and the client's pacer holds to that; within a pairing in order, and a
pairing stops at its first action not done, since its later ones depend on it), then the notes
list (items one by one, then every event tag in `$batch`es), then Teams (in order: installs
before the nudges that need them; the notification pacer keeps under Teams' 5 per second).

An action waits for those it names in `after`: when one of them did not get done, it is
deferred to the next run. When the credential stops working or Graph cannot be reached, the run
stops there: what is left is deferred, and the run ends with that stop's exit code.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from graph.client import GraphClient
from graph.errors import GraphClientError
from worker.apply.calendar import apply_calendar
from worker.apply.context import Context
from worker.apply.notes_list import create_item, remove_item, tag_events, update_item
from worker.apply.outcome import Outcome, RunStopped, Status, outcome_for, stop_for
from worker.apply.publishing import publish_notes, unpublish_notes
from worker.apply.teams import apply_teams, record_late
from worker.plan.actions import (
    Action,
    CalendarAction,
    CreateItem,
    PublishNotes,
    RemoveItem,
    Resource,
    SendNudge,
    TagEvent,
    TeamsAction,
    UnpublishNotes,
    UpdateItem,
)
from worker.plan.plan import Plan

log = logging.getLogger(__name__)


class Applier:
    def __init__(self, client: GraphClient, *, webhook_url: str | None = None,
                 progress: Callable[[Action], None] | None = None, workers: int = 4) -> None:
        self.ctx = Context(client, webhook_url)
        self.progress = progress
        self.workers = workers

    @property
    def stopped(self) -> RunStopped | None:
        return self.ctx.stopped

    def apply(self, plan: Plan) -> list[Outcome]:
        """Every action of `plan`, in plan order, with its outcome."""
        self._calendar([a for a in plan.actions if a.resource is Resource.calendar])
        notes = [a for a in plan.actions if a.resource is Resource.notes_list]
        for action in notes:
            if isinstance(action, CreateItem | UpdateItem | RemoveItem | PublishNotes
                          | UnpublishNotes):
                self._one(action, self._item)
        self._tags([a for a in notes if isinstance(a, TagEvent)])
        unrecorded: Outcome | None = None
        for action in plan.actions:
            if action.resource is not Resource.teams:
                continue
            if unrecorded is not None and isinstance(action, SendNudge):
                # The ledger cannot be written now: every nudge sent from here on could be
                # sent again by the next run. Stop at the one already unrecorded.
                self._finish(Outcome.deferred(
                    action, "nudges paused for this run: the nudge ledger could not be "
                            f"written after {unrecorded.action.id}"))
                continue
            outcome = self._one(action, self._teams)
            if outcome.unrecorded:
                unrecorded = outcome
        if unrecorded is not None and (self.ctx.stopped is None or self.ctx.stopped.outage):
            # Graph took the nudge: record it before the run ends, even one Graph has
            # stopped answering (not after a refused token: nothing would be accepted).
            late = record_late(self.ctx, unrecorded)  # its outcome replaces the first one
            self.ctx.record(late)
            if late.status is not Status.done:
                log.error("%s: %s", late.action.id, late.reason)
        return [self.ctx.outcomes[a.id] for a in plan.actions]

    # -- one action ---------------------------------------------------------------------------

    def _one(self, action: Action, run: Callable[[Action], Outcome]) -> Outcome:
        waiting = self.ctx.waiting(action)
        if waiting is not None:
            outcome = Outcome.deferred(action, waiting)
        else:
            try:
                outcome = run(action)
            except GraphClientError as exc:
                stop = stop_for(exc)
                if stop is not None:
                    self.ctx.stop(stop)
                    outcome = Outcome(action, Status.deferred, stop.reason, code=stop.code)
                else:
                    outcome = outcome_for(action, exc)
        self._finish(outcome)
        return outcome

    def _finish(self, outcome: Outcome) -> None:
        self.ctx.record(outcome)
        action = outcome.action
        extra = {"pairing": action.pairing_id, "action": action.id,
                 "outcome": outcome.status.value}
        if outcome.status is Status.failed:
            log.error("%s failed: %s", action.id, outcome.reason, extra=extra)
        elif outcome.status is Status.deferred:
            log.warning("%s deferred: %s", action.id, outcome.reason, extra=extra)
        if self.progress is not None:
            with self.ctx.lock:
                self.progress(action)

    # -- per resource -------------------------------------------------------------------------

    def _calendar(self, actions: Sequence[Action]) -> None:
        by_pairing: dict[str, list[Action]] = {}
        for action in actions:
            by_pairing.setdefault(action.pairing_id, []).append(action)
        groups = list(by_pairing.values())
        if self.workers <= 1 or len(groups) <= 1:
            for group in groups:
                self._pairing(group)
            return
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="apply") as pool:
            for future in [pool.submit(self._pairing, group) for group in groups]:
                future.result()

    def _pairing(self, actions: Sequence[Action]) -> None:
        for index, action in enumerate(actions):
            outcome = self._one(action, self._event)
            if outcome.status is not Status.done:
                # The pairing's later sessions follow from this one (the cadence).
                for later in actions[index + 1:]:
                    self._finish(Outcome.deferred(
                        later, f"after {action.id} was {outcome.status.value}"))
                return

    def _event(self, action: Action) -> Outcome:
        assert isinstance(action, CalendarAction)
        return apply_calendar(self.ctx, action)

    def _item(self, action: Action) -> Outcome:
        if isinstance(action, CreateItem):
            return create_item(self.ctx, action)
        if isinstance(action, RemoveItem):
            return remove_item(self.ctx, action)
        if isinstance(action, PublishNotes):
            return publish_notes(self.ctx, action)
        if isinstance(action, UnpublishNotes):
            return unpublish_notes(self.ctx, action)
        assert isinstance(action, UpdateItem)
        return update_item(self.ctx, action)

    def _tags(self, actions: Sequence[TagEvent]) -> None:
        ready: list[TagEvent] = []
        for action in actions:
            waiting = self.ctx.waiting(action)
            if waiting is not None:
                self._finish(Outcome.deferred(action, waiting))
            else:
                ready.append(action)
        if not ready:
            return
        try:
            outcomes = tag_events(self.ctx, ready)
        except GraphClientError as exc:
            # The `$batch` itself failed: every tag in it ends the way that error says.
            for action in ready:
                self._one(action, _raising(exc))
            return
        for outcome in outcomes:
            self._finish(outcome)

    def _teams(self, action: Action) -> Outcome:
        assert isinstance(action, TeamsAction)
        return apply_teams(self.ctx, action)


def _raising(error: GraphClientError) -> Callable[[Action], Outcome]:
    def run(_action: Action) -> Outcome:
        raise error

    return run
