"""Carry out a plan through Graph, one pairing at a time.

Every action is idempotent, so a run killed at any point is finished by the next one with
nothing doubled: a booking carries a transactionId derived from its session key (a retried POST
returns the existing event), and the next run re-reads the tagged events before planning.
A failing pairing (unknown person, Graph refusing a write) is recorded with its reason and the
rest go on (invariant 7).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from graph import calendar
from graph.client import GraphClient
from graph.errors import GraphClientError
from worker.config import Config, Pairing
from worker.observe import PROPERTY_ID
from worker.observed import Observed
from worker.planner import Action, Book, Cancel, Move, Plan
from worker.templating import People, Templates

log = logging.getLogger(__name__)

SUBJECT_PREFIX = "Reverse mentoring"
CATEGORY = "Reverse mentoring"


@dataclass
class ApplyResult:
    booked: int = 0
    moved: int = 0
    cancelled: int = 0
    failures: dict[str, str] = field(default_factory=dict)  # pairing id -> reason
    warnings: dict[str, list[str]] = field(default_factory=dict)


def subject(action: Book) -> str:
    return f"{SUBJECT_PREFIX} {action.number}/{action.total}: {action.topic}"


class Applier:
    def __init__(
        self,
        client: GraphClient,
        config: Config,
        templates: Templates,
        observed: Observed,
        progress: Callable[[Action], None] | None = None,
        workers: int = 4,
    ) -> None:
        self.workers = workers
        self._lock = threading.Lock()
        self.client = client
        self.config = config
        self.templates = templates
        self.observed = observed
        self.progress = progress
        self.pairings: dict[str, Pairing] = {p.id: p for p in config.pairings}

    def apply(self, plan: Plan) -> ApplyResult:
        """Each pairing's actions in order; pairings side by side, `workers` at a time (Outlook
        allows 4 concurrent requests per mailbox, and the client's pacer holds to that)."""
        result = ApplyResult()
        by_pairing: dict[str, list[Action]] = {}
        for action in plan.actions:
            by_pairing.setdefault(action.pairing_id, []).append(action)
        if self.workers <= 1 or len(by_pairing) <= 1:
            for actions in by_pairing.values():
                self._apply_pairing(actions, result)
            return result
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="apply") as pool:
            futures = [
                pool.submit(self._apply_pairing, actions, result) for actions in by_pairing.values()
            ]
            for future in futures:
                future.result()
        return result

    def _apply_pairing(self, actions: list[Action], result: ApplyResult) -> None:
        for action in actions:
            try:
                self._apply_one(action, result)
            except GraphClientError as exc:
                with self._lock:
                    result.failures[action.pairing_id] = (
                        f"{_verb(action)} session {action.number}: {exc}"
                    )
                log.error(
                    "pairing %s: %s failed: %s",
                    action.pairing_id,
                    _verb(action),
                    exc,
                    extra={"pairing": action.pairing_id, "session": action.key},
                )
                return  # the pairing's later actions depend on this one
            finally:
                if self.progress is not None:
                    with self._lock:
                        self.progress(action)

    def _apply_one(self, action: Action, result: ApplyResult) -> None:
        if isinstance(action, Book):
            event = calendar.create_event(self.client, action.organizer, self.event_body(action))
            with self._lock:
                result.booked += 1
            if not ((event.get("onlineMeeting") or {}).get("joinUrl")):
                with self._lock:
                    result.warnings.setdefault(action.pairing_id, []).append(
                        f"session {action.number} was booked without a Teams link: check that the "
                        f"organizer {action.organizer} may create Teams meetings"
                    )
            log.info(
                "booked %s at %s",
                action.key,
                action.start.isoformat(),
                extra={"pairing": action.pairing_id, "session": action.key},
            )
        elif isinstance(action, Move):
            calendar.update_event(
                self.client,
                action.organizer,
                action.event_id,
                {
                    "start": calendar.graph_datetime(action.start),
                    "end": calendar.graph_datetime(action.end),
                },
            )
            with self._lock:
                result.moved += 1
            log.info(
                "moved %s to %s (%s)",
                action.key,
                action.start.isoformat(),
                action.reason,
                extra={"pairing": action.pairing_id, "session": action.key},
            )
        else:
            calendar.cancel_event(
                self.client, action.organizer, action.event_id, _cancel_comment(action)
            )
            with self._lock:
                result.cancelled += 1
            log.info(
                "cancelled %s (%s)",
                action.key,
                action.reason,
                extra={"pairing": action.pairing_id, "session": action.key},
            )

    def event_body(self, action: Book) -> dict[str, Any]:
        pairing = self.pairings[action.pairing_id]
        mentor = self.observed.person(pairing.mentor)
        mentee = self.observed.person(pairing.mentee)
        mentor_name = mentor.display_name if mentor else pairing.mentor
        mentee_name = mentee.display_name if mentee else pairing.mentee
        session = next(
            s for s in pairing.sessions(self.config.program) if s.number == action.number
        )
        people = People(mentor_name, mentee_name, pairing.mentor, pairing.mentee)
        # No time in the body: Outlook shows each attendee the time in their own zone, and a
        # moved session would leave a stale time behind.
        content = self.templates.render_invite(session, people, program=self.config.program)
        return {
            "subject": subject(action),
            "body": {"contentType": "html", "content": content},
            "start": calendar.graph_datetime(action.start),
            "end": calendar.graph_datetime(action.end),
            "attendees": [
                {
                    "emailAddress": {"address": pairing.mentor, "name": mentor_name},
                    "type": "required",
                },
                {
                    "emailAddress": {"address": pairing.mentee, "name": mentee_name},
                    "type": "required",
                },
            ],
            "isOnlineMeeting": True,
            "onlineMeetingProvider": "teamsForBusiness",
            "allowNewTimeProposals": True,
            "responseRequested": True,
            "isReminderOn": True,
            "reminderMinutesBeforeStart": self.config.program.reminder_minutes,
            "showAs": "busy",
            "categories": [CATEGORY],
            "transactionId": action.transaction_id,
            "singleValueExtendedProperties": [{"id": PROPERTY_ID, "value": action.key}],
        }


def _verb(action: Action) -> str:
    return {"book": "booking", "move": "moving", "cancel": "cancelling"}[action.kind]


def _cancel_comment(action: Cancel) -> str:
    return f"This reverse mentoring session is cancelled: {action.reason}."
