"""Fault storms: the program's first run under a bad day's mix of Graph answers, run again and
again until it has done everything, then checked.

Each storm is a fresh tenant with its own fault seed: 30 % of Graph requests answered 429 with
`Retry-After`, 10 % 503 with `Retry-After`, 5 % timed out before they reach Graph, and 5 % of
the writes carried out with their answer lost (the `lost` fault). Token requests are left
alone: the identity platform is not what this tests. The worker's runs are in-process on the
sandbox's `ManualClock`, so honouring a `Retry-After` costs no real time. After at most
`MAX_RUNS` runs (each ending with exit code 0 or not) the faults stop and one more run must
finish everything (exit 0). Then: every session of the reference run once as a tagged event,
once as a list item; duplicate nudges at most the notification answers the storm lost; no
request sent before the `Retry-After` it was given ran out.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchmarks.faults.program import (
    Reference,
    RunResult,
    deploy,
    doubled,
    item_counts,
    missing,
    nudges_sent,
    run_once,
    session_events,
)
from benchmarks.faults.report import Figure, at_most, info, sessions_once
from graph.sandbox.faults import FaultRule
from graph.sandbox.tenant_app import Sandbox
from worker.core.properties import NUDGES_PROPERTY_ID

SCENARIO = "storm"
MAX_RUNS = 8
# Graph's own paths (the version prefix is not part of what rules match); not the token
# endpoint, not the sandbox's control API.
GRAPH_PATHS = r"^/(users|sites|appcatalogs|\$batch)"
# Writes: every POST, PATCH and DELETE but the POSTs that only read (getSchedule, a `$batch`
# envelope, whose inner writes are matched one by one).
WRITE_PATHS = r"^/(users|sites)(?!.*/getschedule$)"
NOTIFICATION = "sendActivityNotification"


def storm_rules(retry_after: int = 3) -> list[FaultRule]:
    """The mix, in the order the sandbox tries it: a refusal wins over a lost answer."""
    return [
        FaultRule(kind="429", path=GRAPH_PATHS, share=0.30, retry_after=retry_after),
        FaultRule(kind="503", path=GRAPH_PATHS, share=0.10, retry_after=retry_after),
        FaultRule(kind="timeout", path=GRAPH_PATHS, share=0.05),
        *(FaultRule(kind="lost", method=method, path=WRITE_PATHS, share=0.05)
          for method in ("POST", "PATCH", "DELETE")),
    ]


@dataclass(frozen=True)
class StormResult:
    index: int
    seed: int
    runs: list[int]  # exit codes, in order; the last one without faults
    faults: dict[str, int]  # fired per kind
    lost_notifications: int
    unrecorded: int  # nudges sent whose ledger write gave up
    recorded_late: int  # nudges whose ledger write was refused, then made later in the run
    events_doubled: int
    events_missing: int
    items_doubled: int
    items_missing: int
    nudges_doubled: int
    early: dict[str, int]
    early_examples: list[str]


def fired(sandbox: Sandbox) -> dict[str, int]:
    counts: dict[str, int] = {}
    for rule in sandbox.faults.rules():
        counts[rule.kind] = counts.get(rule.kind, 0) + rule.fired
    return counts


def ledger_refusals(attempts: int) -> FaultRule:
    """Refuse (503) the first `attempts` writes of a reminder into a ledger, before any
    other fault is tried. With at most 4 requests in flight to the mailbox, 4 x the client's
    attempts refusals make at least one ledger write give up, whatever the interleaving: the
    nudge went out, and the worker must record it later in the run (not send it again)."""
    return FaultRule(kind="503", method="PATCH", path=r"^/users/.+/events/",
                     body=re.escape(NUDGES_PROPERTY_ID) + r".*/reminder/", count=attempts,
                     retry_after=1)


def one_storm(index: int, seed: int, pairs: int, reference: Reference,
              directory: Path, refusals: int = 0) -> StormResult:
    world = deploy(pairs, directory, seed=seed)
    if refusals:
        world.sandbox.faults.add(ledger_refusals(refusals))
    for rule in storm_rules():
        world.sandbox.faults.add(rule)
    runs: list[RunResult] = []
    while len(runs) < MAX_RUNS and (not runs or runs[-1].code != 0):
        runs.append(run_once(world))
    faults = fired(world.sandbox)
    world.sandbox.faults.clear()
    runs.append(run_once(world))
    sandbox = world.sandbox
    lost = sum(n for route, n in sandbox.faults.lost_answers().items()
               if route.endswith(NOTIFICATION))
    events, items = session_events(sandbox), item_counts(sandbox)
    return StormResult(
        index, seed, [r.code for r in runs], faults, lost, sum(r.unrecorded for r in runs),
        sum(r.recorded_late for r in runs),
        doubled(events), missing(reference.sessions, events),
        doubled(items), missing(reference.items, items),
        doubled(nudges_sent(sandbox)),
        sandbox.retry_after.early_requests(),
        [f"{e.scope}: {e.route} {e.early_by:.1f} s early" for e in sandbox.retry_after.examples()],
    )


def run_storms(storms: int, pairs: int, seed: int,
               progress: Callable[[str], None] = lambda line: None, *,
               ledger_refusals: int = 0) -> list[Figure]:
    """`ledger_refusals`: see `ledger_refusals` (0: the storm's own faults only)."""
    with tempfile.TemporaryDirectory(prefix="fault-harness-storm-") as tmp:
        base = deploy(pairs, Path(tmp) / "reference")
        if run_once(base).code != 0:
            raise RuntimeError("the reference run without faults did not finish")
        reference = Reference.of(base.sandbox)
        results = []
        for index in range(storms):
            result = one_storm(index, seed + index, pairs, reference, Path(tmp) / f"s{index}",
                               ledger_refusals)
            results.append(result)
            progress(f"storm {index} (fault seed {result.seed}): exit codes {result.runs}; "
                     f"faults {result.faults}; lost notification answers "
                     f"{result.lost_notifications}; nudges sent but not recorded "
                     f"{result.unrecorded}; doubled {result.events_doubled}/"
                     f"{result.items_doubled}/{result.nudges_doubled}, missing "
                     f"{result.events_missing}/{result.items_missing} (events/items/nudges); "
                     f"early {result.early}")
    return figures(results, pairs)


def _where(results: list[StormResult], broken: Callable[[StormResult], bool],
           pairs: int, *, early: bool = False) -> str:
    seeds = [str(r.seed) for r in results if broken(r)]
    if not seeds:
        return ""
    examples = next((r.early_examples[:3] for r in results if broken(r) and r.early_examples),
                    []) if early else []
    return (f"fault seed {', '.join(seeds)} "
            f"(python -m benchmarks.fault_harness --seed {seeds[0]} storm --storms 1 "
            f"--pairs {pairs})" + (f"; e.g. {'; '.join(examples)}" if examples else ""))


def figures(results: list[StormResult], pairs: int) -> list[Figure]:
    total = {kind: sum(r.faults.get(kind, 0) for r in results)
             for kind in ("429", "503", "timeout", "lost")}
    lost_notifications = sum(r.lost_notifications for r in results)
    return [
        info(SCENARIO, "storms", len(results)),
        info(SCENARIO, "429 answers (with Retry-After)", total["429"]),
        info(SCENARIO, "503 answers (with Retry-After)", total["503"]),
        info(SCENARIO, "timeouts before Graph", total["timeout"]),
        info(SCENARIO, "answers lost after the write", total["lost"]),
        info(SCENARIO, "of which notification answers", lost_notifications),
        info(SCENARIO, "nudges sent, ledger write refused then made later in the run",
             sum(r.recorded_late for r in results)),
        info(SCENARIO, "nudges sent, ledger write given up (the next run resends)",
             sum(r.unrecorded for r in results)),
        info(SCENARIO, f"runs under the storm (until exit 0, at most {MAX_RUNS}), most",
             max((len(r.runs) - 1 for r in results), default=0)),
        info(SCENARIO, "storms that finished under the storm",
             sum(0 in r.runs[:-1] for r in results)),
        at_most(SCENARIO, "storms not finished by a clean run (exit != 0)",
                sum(r.runs[-1] != 0 for r in results), 0,
                _where(results, lambda r: r.runs[-1] != 0, pairs)),
        *sessions_once(SCENARIO, results, lambda broken: _where(results, broken, pairs)),
        at_most(SCENARIO, "duplicate nudges (bound: lost notification answers)",
                sum(r.nudges_doubled for r in results), lost_notifications,
                _where(results, lambda r: r.nudges_doubled > r.lost_notifications, pairs)),
        at_most(SCENARIO, "requests before their Retry-After",
                sum(r.early.get("request", 0) for r in results), 0,
                _where(results, lambda r: r.early.get("request", 0) > 0, pairs, early=True)),
        info(SCENARIO, "requests to a throttled resource before its Retry-After",
             sum(r.early.get("resource", 0) for r in results)),
    ]
