"""The summary of one run, from the plan and every action's outcome: what the log pipeline,
the operator and the exit code see. One JSON object in JSON logs, a few lines on a terminal."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from worker.apply.outcome import Outcome, RunStopped, Status
from worker.core.exit_codes import ExitCode, worst
from worker.plan.actions import HoldNudge, InstallApp, Resource, SendNudge
from worker.plan.plan import KINDS, Plan


@dataclass(frozen=True)
class NotesListResult:
    """What the run did to the notes list (or would do, in a dry run)."""

    created: int
    updated: int
    unchanged: int
    conflicts: int  # updates that met someone's edit (412) and were recomputed on top of it
    notes_missing: tuple[str, ...]
    failures: dict[str, str]  # session key -> why not done
    requests: int  # SharePoint operations

    def to_json(self) -> dict[str, Any]:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged,
                "conflicts": self.conflicts, "notes_missing": list(self.notes_missing),
                "failures": self.failures, "sharepoint_requests": self.requests}


@dataclass(frozen=True)
class TeamsResult:
    """What the run did in Teams (or would do, in a dry run)."""

    sent: tuple[SendNudge, ...]
    due: tuple[SendNudge, ...]  # planned to be sent now
    held: tuple[HoldNudge, ...]
    installed: tuple[str, ...]
    unreachable: dict[str, str]  # e-mail -> why they cannot be nudged
    failed: dict[str, str]  # action key -> why not done

    def to_json(self) -> dict[str, Any]:
        def row(n: SendNudge | HoldNudge) -> dict[str, str]:
            return {"key": n.key, "kind": n.nudge, "recipient": n.recipient,
                    "local_time": n.local_time}

        return {"sent": [row(n) for n in self.sent], "due": [row(n) for n in self.due],
                "held": [row(n) for n in self.held], "installed": list(self.installed),
                "unreachable": self.unreachable, "failed": self.failed}


@dataclass
class RunSummary:
    plan: Plan
    applied: bool
    outcomes: list[Outcome] = field(default_factory=list)
    stopped: RunStopped | None = None
    requests: int = 0  # Graph operations: HTTP requests plus each one inside a `$batch`
    writes: int = 0
    throttled: int = 0
    retries: int = 0
    seconds: float = 0.0
    by_service: dict[str, int] = field(default_factory=dict)
    has_notes_list: bool = False
    has_nudges: bool = False

    def done(self, kind: str) -> int:
        return sum(1 for o in self.outcomes if o.status is Status.done and o.action.kind == kind)

    @property
    def booked(self) -> int:
        return self.done("book")

    @property
    def moved(self) -> int:
        return self.done("move")

    @property
    def updated(self) -> int:
        return self.done("update")

    @property
    def cancelled(self) -> int:
        return self.done("cancel")

    @property
    def unchanged(self) -> int:
        return self.plan.counts()["unchanged"]

    def not_done(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status is not Status.done]

    @property
    def failed(self) -> dict[str, list[str]]:
        """Pairing id ('' for the program) -> what could not be planned or done, and why."""
        found: dict[str, list[str]] = {}
        for problem in self.plan.problems:
            found.setdefault(problem.pairing_id, []).append(problem.reason)
        for outcome in self.not_done():
            found.setdefault(outcome.action.pairing_id, []).append(
                f"{outcome.action.id} {outcome.status.value}: {outcome.reason}")
        return found

    @property
    def warnings(self) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for outcome in self.outcomes:
            if outcome.warning:
                found.setdefault(outcome.action.pairing_id, []).append(outcome.warning)
        for notice in self.plan.notices:
            found.setdefault(notice.pairing_id, []).append(notice.text)
        return found

    @property
    def exit_code(self) -> ExitCode:
        if not self.applied:
            return self.plan.exit_code
        codes = [p.code for p in self.plan.problems] + [o.code for o in self.outcomes]
        if self.stopped is not None:
            codes.append(self.stopped.code)
        return worst(*codes)

    @property
    def records(self) -> NotesListResult | None:
        if not self.has_notes_list:
            return None
        mine = [o for o in self.outcomes if o.action.resource is Resource.notes_list]
        failures = {o.action.key: o.reason for o in mine if o.status is not Status.done}
        for problem in self.plan.problems:
            if problem.reason.startswith("notes list"):
                failures.setdefault(problem.key or problem.pairing_id or "program",
                                    problem.reason)
        return NotesListResult(
            created=self.done("create-item"), updated=self.done("update-item"),
            unchanged=self.plan.unchanged_items,
            conflicts=sum(int(o.values.get("conflicts", "0")) for o in mine),
            notes_missing=self.plan.notes_missing, failures=failures,
            requests=self.by_service.get("sharepoint", 0))

    @property
    def nudges(self) -> TeamsResult | None:
        if not self.has_nudges:
            return None
        done = {o.action.id for o in self.outcomes if o.status is Status.done}
        sends = [a for a in self.plan.actions if isinstance(a, SendNudge)]
        unreachable: dict[str, str] = {}
        for notice in self.plan.notices:
            if "cannot be reached in Teams" in notice.text:
                unreachable[notice.text.split(" ", 1)[0]] = notice.text
        failed: dict[str, str] = {}
        for outcome in self.outcomes:
            if outcome.action.resource is Resource.teams and outcome.status is not Status.done:
                failed[outcome.action.key] = outcome.reason
                if isinstance(outcome.action, InstallApp):
                    unreachable[outcome.action.email] = outcome.reason
        return TeamsResult(
            sent=tuple(a for a in sends if a.id in done), due=tuple(sends),
            held=tuple(a for a in self.plan.actions if isinstance(a, HoldNudge)),
            installed=tuple(a.email for a in self.plan.actions
                            if isinstance(a, InstallApp) and a.id in done),
            unreachable=unreachable, failed=failed)

    def by_status(self) -> dict[str, dict[str, int]]:
        table: dict[str, Counter[str]] = {}
        for outcome in self.outcomes:
            table.setdefault(outcome.action.kind, Counter())[outcome.status.value] += 1
        return {kind: dict(table[kind]) for kind in KINDS if kind in table}

    def to_json(self) -> dict[str, Any]:
        return {
            "applied": self.applied,
            "planned": self.plan.counts(),
            "outcomes": self.by_status(),
            "booked": self.booked,
            "moved": self.moved,
            "updated": self.updated,
            "cancelled": self.cancelled,
            "unchanged": self.unchanged,
            "failed": [{"action": o.action.id, "pairing": o.action.pairing_id,
                        "status": o.status.value, "reason": o.reason}
                       for o in self.not_done()],
            "problems": [{"pairing": p.pairing_id, "reason": p.reason, "code": int(p.code)}
                         for p in self.plan.problems],
            "warnings": self.warnings,
            "notes_missing": list(self.plan.notes_missing),
            "stopped": self.stopped.reason if self.stopped else None,
            "requests": self.requests,
            "requests_by_service": self.by_service,
            "writes": self.writes,
            "throttled": self.throttled,
            "retries": self.retries,
            "seconds": round(self.seconds, 3),
            "exit_code": int(self.exit_code),
        }

    def render_text(self) -> str:
        counts = self.plan.counts()
        if self.applied:
            done = Counter(o.action.kind for o in self.outcomes if o.status is Status.done)
            head = (f"Run: calendar {done['book']} booked, {done['move']} moved, "
                    f"{done['update']} updated, {done['cancel']} cancelled, "
                    f"{self.unchanged} unchanged; notes list "
                    f"{done['create-item']} created, {done['update-item']} updated"
                    + (f", {done['publish-notes']} notes published or updated, "
                       f"{done['unpublish-notes']} unpublished"
                       if counts['publish-notes'] or counts['unpublish-notes'] else "")
                    + "; Teams "
                    f"{done['install-app']} app installs, {done['send-nudge']} nudges sent, "
                    f"{counts['hold-nudge']} held")
        else:
            head = (f"Dry run: calendar {counts['book']} to book, {counts['move']} to move, "
                    f"{counts['update']} to update, {counts['cancel']} to cancel, "
                    f"{self.unchanged} unchanged; notes list "
                    f"{counts['create-item']} to create, {counts['update-item']} to update"
                    + (f", {counts['publish-notes']} notes to publish or update, "
                       f"{counts['unpublish-notes']} to unpublish"
                       if counts['publish-notes'] or counts['unpublish-notes'] else "")
                    + "; "
                    f"Teams {counts['install-app']} app installs, {counts['send-nudge']} "
                    f"nudges to send, {counts['hold-nudge']} held")
        not_done = self.not_done()
        lines = [
            f"{head}; {len(self.plan.problems)} problem(s), {len(not_done)} action(s) not "
            f"done; {self.requests} Graph requests ({self.writes} writes), {self.throttled} "
            f"throttled (429), {self.retries} retries, {self.seconds:.1f} s; exit code "
            f"{int(self.exit_code)}."
        ]
        if self.stopped is not None:
            lines.append(f"  STOPPED: {self.stopped.reason}")
        for problem in self.plan.problems:
            lines.append(f"  FAILED {problem.pairing_id or 'program'}: {problem.reason}")
        for outcome in not_done:
            lines.append(f"  {outcome.status.value.upper()} {outcome.action.id}: "
                         f"{outcome.reason}")
        for pairing_id, texts in sorted(self.warnings.items()):
            lines.extend(f"  warning {pairing_id or 'program'}: {text}" for text in texts)
        return "\n".join(lines)
