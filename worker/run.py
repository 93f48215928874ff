"""One run of the job: observe, plan, check, apply, summarise.

Shared by `mentoring plan`, `mentoring run` and the demo, so what the demo shows is exactly
what the container job does.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from graph.client import GraphClient
from graph.clock import Clock
from worker.apply import Applier, ApplyResult
from worker.config import Config
from worker.nudge_run import NudgeResult, nudge_step
from worker.observe import observe, read_sessions
from worker.planner import Action, Plan, plan
from worker.records import RecordsResult, record_step
from worker.templating import Templates

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_PAIRS_FAILED = 1
EXIT_CONFIG = 2


@dataclass
class RunSummary:
    applied: bool
    booked: int = 0
    moved: int = 0
    cancelled: int = 0
    unchanged: int = 0
    planned: dict[str, int] = field(default_factory=dict)
    failed: dict[str, list[str]] = field(default_factory=dict)  # pairing id -> reasons
    warnings: dict[str, list[str]] = field(default_factory=dict)
    requests: int = 0
    writes: int = 0
    throttled: int = 0
    retries: int = 0
    seconds: float = 0.0
    records: RecordsResult | None = None  # the SharePoint step, when program.yaml has one
    nudges: NudgeResult | None = None  # the Teams step, when program.yaml has one

    @property
    def exit_code(self) -> int:
        return EXIT_PAIRS_FAILED if self.failed else EXIT_OK

    def to_json(self) -> dict[str, Any]:
        return {
            "applied": self.applied,
            "booked": self.booked,
            "moved": self.moved,
            "cancelled": self.cancelled,
            "unchanged": self.unchanged,
            "planned": self.planned,
            "failed": self.failed,
            "warnings": self.warnings,
            "requests": self.requests,
            "writes": self.writes,
            "throttled": self.throttled,
            "retries": self.retries,
            "seconds": round(self.seconds, 3),
            "records": self.records.to_json() if self.records else None,
            "nudges": self.nudges.to_json() if self.nudges else None,
            "exit_code": self.exit_code,
        }

    def render_text(self) -> str:
        verb = "Run" if self.applied else "Dry run"
        if self.applied:
            done = f"{self.booked} booked, {self.moved} moved, {self.cancelled} cancelled"
        else:
            p = self.planned
            done = (f"{p.get('book', 0)} to book, {p.get('move', 0)} to move, "
                    f"{p.get('cancel', 0)} to cancel")
        lines = [
            f"{verb}: {done}, {self.unchanged} unchanged, {len(self.failed)} pairing(s) failed; "
            f"{self.requests} Graph requests ({self.writes} writes), {self.throttled} throttled "
            f"(429), {self.retries} retries, {self.seconds:.1f} s."
        ]
        if self.records is not None:
            lines.append(self.records.render_text())
        if self.nudges is not None:
            lines.append(self.nudges.render_text())
        for pairing_id, reasons in sorted(self.failed.items()):
            for reason in reasons:
                lines.append(f"  FAILED {pairing_id}: {reason}")
        for pairing_id, reasons in sorted(self.warnings.items()):
            for reason in reasons:
                lines.append(f"  warning {pairing_id}: {reason}")
        return "\n".join(lines)


def execute(
    client: GraphClient,
    config: Config,
    clock: Clock,
    templates: Templates,
    *,
    apply: bool,
    force: bool = False,
    max_change_share: float | None = None,
    progress: Callable[[Action], None] | None = None,
    webhook_url: str | None = None,
) -> tuple[Plan, RunSummary]:
    """Observe, plan and (when `apply`) carry out one run. Raises TooMuchChange when unsafe."""
    started = time.monotonic()
    before = client.stats.as_dict()
    now = clock.now()
    observed = observe(client, config, now)
    the_plan = plan(config, observed, now)
    summary = RunSummary(applied=apply, planned=the_plan.counts())
    summary.unchanged = the_plan.counts()["unchanged"]
    for problem in the_plan.problems:
        summary.failed.setdefault(problem.pairing_id, []).append(problem.reason)
    if apply and not the_plan.is_empty():
        share = max_change_share if max_change_share is not None else (
            config.program.max_change_share
        )
        the_plan.raise_if_unsafe(share, force=force)
        result: ApplyResult = Applier(client, config, templates, observed, progress).apply(
            the_plan
        )
        summary.booked, summary.moved, summary.cancelled = (
            result.booked, result.moved, result.cancelled,
        )
        for pairing_id, reason in result.failures.items():
            summary.failed.setdefault(pairing_id, []).append(reason)
        summary.warnings = result.warnings
    if config.program.sharepoint is not None:
        summary.records = record_step(client, config, templates, observed, the_plan, now,
                                      applied=apply)
    if config.program.nudges is not None:
        if apply and not the_plan.is_empty():
            # Sessions booked a moment ago get their app installs and nudges in this run,
            # not the next one (so the next run has nothing left to write).
            observed = replace(observed, sessions=read_sessions(client, config))
        summary.nudges = nudge_step(client, config, observed, the_plan, now,
                                    templates.directory, applied=apply, webhook_url=webhook_url)
    after = client.stats.as_dict()
    # Every request Graph processes counts, including each one carried inside a `$batch`.
    summary.requests = (after["requests"] + after["batch_inner_requests"]) - (
        before["requests"] + before["batch_inner_requests"]
    )
    summary.writes = after["writes"] - before["writes"]
    summary.throttled = after["throttled"] - before["throttled"]
    summary.retries = after["retries"] - before["retries"]
    summary.seconds = time.monotonic() - started
    return the_plan, summary
