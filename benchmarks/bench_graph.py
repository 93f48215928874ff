"""At Graph's throttling ceiling with nothing wasted: the figures a run is held to, in one run.

    python -m benchmarks.bench_graph [--pairs 200] [--noop-pairs 1000] [--plan-pairs 10000]

Each part runs the worker's real code against a fresh generated tenant (calendars full, five
time zones) served over HTTP on 127.0.0.1 by another process (`benchmarks.peer.server`), as
Graph is another machine in production; the sandbox counts what it receives. Printed, each
with its bound and pass or fail:

* **ceiling**: the first run at 200 ms and at 50 ms added to every Outlook call. Outlook
  allows 4 requests in flight per mailbox, so at L seconds each a run can make at most 4 / L
  Outlook operations a second; the share is what the whole run (token, listing, directory,
  free/busy, bookings) made of that. Bound: at least 0.85, and no 429.
* **necessary**: that first run's Graph operations (each `$batch` inner request counts) over
  what it cannot do without: one write per booking and one getSchedule call per 20 people.
  Bound: at most 1.1.
* **throttling**: the first run again with the sandbox's Outlook window scaled to a hundredth
  (100 requests per 6 s) and the client's pacer told the same. Bound: no 429.
* **no-op**: a program of `--noop-pairs` booked, then the next scheduled run with nothing to
  do. Bound: at most 30 Graph operations, no write.
* **planning**: `benchmarks.bench_plan` at `--plan-pairs` (the CPU and memory of planning in a
  fresh process). Bound: at most 5 CPU seconds and 300 MB peak. `--plan-pairs 0` skips it.

Exits 1 when a bound fails. Every part stops by itself (`--max-seconds` per tenant).
"""

from __future__ import annotations

import argparse
import math
import platform
import secrets
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from benchmarks import bench_plan
from benchmarks.bench_peer import RERUN_AFTER, Measured, Tenant, run_worker
from benchmarks.bench_run import write_config
from graph.sandbox.cli import WORKER_APP_ROLES

SCHEDULE_PEOPLE = 20  # addresses per getSchedule call (Graph's limit)
PARTS = ("ceiling", "throttling", "no-op", "planning")


@dataclass
class Check:
    part: str
    figure: str
    measured: float
    bound: float
    at_most: bool = True
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.measured <= self.bound if self.at_most else self.measured >= self.bound

    def line(self) -> str:
        sign = "<=" if self.at_most else ">="
        shown = f"{self.measured:.2f}" if not float(self.measured).is_integer() else \
            f"{self.measured:.0f}"
        bound = f"{self.bound:g}"
        return (f"| {self.part} | {self.figure} | {shown} | {sign} {bound} | "
                f"{'ok' if self.ok else 'FAIL'} | {self.detail} |")


def _app() -> dict[str, object]:
    return {"client_id": str(uuid.uuid4()), "secret": secrets.token_urlsafe(32),
            "roles": list(WORKER_APP_ROLES), "name": "worker"}


def _runs(pairs: int, latency: float, max_seconds: float, *, throttle_scale: float | None =
          None, pacer: tuple[int, float] | None = None, rerun: bool = False,
          ) -> tuple[Measured, Measured | None, int]:
    """The first run (and, with `rerun`, the next scheduled one) on a fresh tenant; the number
    of pairs the tenant could make."""
    app = _app()
    with Tenant(pairs, latency, [app], max_seconds, throttle_scale=throttle_scale) as tenant, \
            tempfile.TemporaryDirectory() as tmp:
        config_dir = write_config(Path(tmp) / "config", tenant.pairs)
        first = run_worker(tenant, app, config_dir, pacer)
        second = None
        if rerun:
            tenant.advance(RERUN_AFTER)
            second = run_worker(tenant, app, config_dir, pacer)
        return first, second, len(tenant.pairs)


def _share(run: Measured) -> float:
    """How full the 4 Outlook slots were over the whole run: the time Graph spent on the
    run's Outlook requests (measured by the server: latency and its own work) over 4 x the
    run's wall time."""
    return run.counts.get("outlook_ms", 0) / 1000 / (4 * run.seconds)


def _latency_share(run: Measured, latency: float) -> float:
    """The same if Graph took no time but the added latency (an upper bound of the ceiling
    no server reaches: the sandbox's own work per request is on top)."""
    return run.counts.get("outlook_operations", 0) * latency / (4 * run.seconds)


def ceiling(pairs: int, max_seconds: float) -> list[Check]:
    checks: list[Check] = []
    for latency in (0.2, 0.05):
        first, _, made = _runs(pairs, latency, max_seconds)
        counts = first.counts
        problems = f"; {len(first.problems)} pairs not booked" if first.problems else ""
        ops = counts.get("outlook_operations", 0)
        checks.append(Check(
            "ceiling", f"{made} pairs, {latency * 1000:.0f} ms: Outlook slots in use",
            _share(first), 0.85, at_most=False,
            detail=f"{ops} Outlook operations in {first.seconds:.2f} s, "
                   f"{counts.get('outlook_ms', 0) / max(1, ops):.0f} ms each at the server; "
                   f"counting {latency * 1000:.0f} ms each: "
                   f"{_latency_share(first, latency):.2f}{problems}"))
        checks.append(Check("ceiling", f"{made} pairs, {latency * 1000:.0f} ms: 429s",
                            counts.get("throttled", 0), 0))
        if latency == 0.05:
            needed = counts.get("outlook_writes", 0) + math.ceil(2 * made / SCHEDULE_PEOPLE)
            checks.append(Check(
                "necessary", f"{made} pairs: operations per necessary one",
                counts.get("graph_operations", 0) / max(1, needed), 1.1,
                detail=f"{counts.get('graph_operations', 0)} operations; necessary "
                       f"{counts.get('outlook_writes', 0)} writes + "
                       f"{math.ceil(2 * made / SCHEDULE_PEOPLE)} getSchedule "
                       f"({counts.get('getschedule_calls', 0)} made)"))
    return checks


def throttling(pairs: int, max_seconds: float) -> list[Check]:
    scale = 0.01  # Outlook: 100 requests per 6 s
    first, _, made = _runs(pairs, 0.0, max_seconds, throttle_scale=scale,
                           pacer=(round(10_000 * scale), 600 * scale))
    return [Check("throttling", f"{made} pairs, window 100 per 6 s, pacer the same: 429s",
                  first.counts.get("throttled", 0), 0,
                  detail=f"{first.counts.get('outlook_operations', 0)} Outlook operations in "
                         f"{first.seconds:.1f} s")]


def noop(pairs: int, max_seconds: float) -> list[Check]:
    first, rerun, made = _runs(pairs, 0.0, max_seconds, rerun=True)
    assert rerun is not None
    writes = rerun.counts.get("outlook_writes", 0)
    return [
        Check("no-op", f"{made} pairs: Graph operations of a run with nothing to do",
              rerun.counts.get("graph_operations", 0), 30,
              detail=f"after a first run of {first.counts.get('graph_operations', 0)} "
                     f"operations; {rerun.counts.get('http_requests', 0)} HTTP requests"),
        Check("no-op", f"{made} pairs: writes", writes, 0),
    ]


def planning(pairs: int) -> list[Check]:
    r = bench_plan.measure(pairs, repeat=3)
    detail = (f"config {r['config_s']:.2f} s and reading answers {r['answers_s']:.2f} s "
              f"besides; {r['actions']} actions")
    return [Check("planning", f"{pairs} pairs: CPU seconds", r["plan_s"], 5.0, detail=detail),
            Check("planning", f"{pairs} pairs: peak MB", r["rss_mb"], 300.0,
                  detail=f"the interpreter and imports {r['imports_mb']:.0f} MB of it")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=200,
                        help="pairs of the ceiling and throttling runs")
    parser.add_argument("--noop-pairs", type=int, default=1000)
    parser.add_argument("--plan-pairs", type=int, default=10_000)
    parser.add_argument("--only", nargs="+", choices=PARTS,
                        help="run only these parts (default: all)")
    parser.add_argument("--max-seconds", type=float, default=900.0,
                        help="each tenant's server stops after this long")
    args = parser.parse_args(argv)
    print(f"machine: {_machine()}")
    print("| part | figure | measured | bound | ok | detail |")
    print("|---|---|---|---|---|---|", flush=True)
    checks: list[Check] = []
    started = time.perf_counter()
    parts = {
        "ceiling": lambda: ceiling(args.pairs, args.max_seconds),
        "throttling": lambda: throttling(args.pairs, args.max_seconds),
        "no-op": lambda: noop(args.noop_pairs, args.max_seconds),
        "planning": lambda: planning(args.plan_pairs) if args.plan_pairs else [],
    }
    for name, part in parts.items():
        if args.only and name not in args.only:
            continue
        for check in part():
            checks.append(check)
            print(check.line(), flush=True)
    failed = [c for c in checks if not c.ok]
    print(f"{len(checks) - len(failed)} of {len(checks)} bounds hold "
          f"({time.perf_counter() - started:.0f} s)")
    return 1 if failed else 0


def _machine() -> str:
    import os

    return (f"{os.cpu_count()} cores, Python {platform.python_version()} "
            f"({platform.machine()}, {platform.system()})")


if __name__ == "__main__":
    sys.exit(main())
