"""How a run scales with the size of the program, against the in-process sandbox tenant.

    python -m benchmarks.bench_run --pairs 50 200 500 [--latency 0.2]

For each size: a tenant of that many executive/mentor pairs in five time zones (calendars
already full), the first run (books `keep_booked` sessions per pair), then a steady-state run
(nothing to do). Prints wall time, Graph requests and writes, 429s seen and the peak memory the
run allocated (tracemalloc), so a change that makes runs slower or chattier shows in numbers.
The sandbox applies Outlook's limits (4 concurrent requests and 10,000 per 10 minutes per
mailbox), so 429s counted here are ones production would see too.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import tracemalloc
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from graph.clock import ManualClock
from graph.sandbox.faults import FaultRule
from graph.sandbox.fixtures import compatible_pairs, generated_tenant
from graph.sandbox.tenant_app import Sandbox
from worker.cli.demo import build_world
from worker.config import load_config

DOMAIN = "bench.contoso.com"
START = date(2027, 3, 1)


def write_config(directory: Path, pairs: list[tuple[str, str]], extra: str = "") -> Path:
    """The benchmark program (`extra`: more lines of program.yaml) and its pairings."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "program.yaml").write_text(
        "id: bench\nname: Benchmark program\n"
        f"organizer: mentoring@{DOMAIN}\n"
        "cadence: {every_days: 21, tolerance_days: 7}\n"
        'earliest: "07:00"\nlatest: "19:00"\n'
        "holidays: {countries: [], use_participant_location: true}\n" + extra,
        encoding="utf-8",
    )
    write_pairings(directory, pairs, START)
    return directory


def write_pairings(directory: Path, pairs: list[tuple[str, str]], start: date) -> None:
    """`pairings.yaml` of generated pairs `pair-0000`, `pair-0001`, ... all starting on `start`."""
    lines = ["pairings:"]
    for index, (mentor, mentee) in enumerate(pairs):
        lines += [f"  - id: pair-{index:04d}", f"    mentor: {mentor}",
                  f"    mentee: {mentee}", f"    start: {start.isoformat()}"]
    (directory / "pairings.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")


def measure(pairs: int, latency: float = 0.0) -> dict[str, float]:
    clock = ManualClock(datetime(2027, 2, 22, 6, tzinfo=UTC))
    built = time.perf_counter()
    state = generated_tenant(pairs, seed=11, first=START - timedelta(days=7),
                             last=START + timedelta(days=70), domain=DOMAIN, clock=clock)
    sandbox = Sandbox.create(clock=clock, fixture=state)
    if latency:
        # Graph's own time per request (real seconds, outside the sandbox's state lock): what
        # makes applying pairings side by side pay off in production.
        sandbox.faults.add(FaultRule(kind="latency", service="outlook", latency=latency))
    with tempfile.TemporaryDirectory() as tmp:
        config = load_config(write_config(Path(tmp) / "config", compatible_pairs(state)),
                             today=clock.now().date())
    world = build_world(config, sandbox, clock)
    setup = time.perf_counter() - built

    tracemalloc.start()
    started = time.perf_counter()
    first = world.run()
    first_seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    clock.advance(timedelta(minutes=15))
    started = time.perf_counter()
    steady = world.run()
    steady_seconds = time.perf_counter() - started
    return {
        "pairs": pairs,
        "setup_s": setup,
        "first_s": first_seconds,
        "first_requests": first.requests,
        "first_writes": first.writes,
        "first_429": first.throttled,
        # Outlook allows 4 requests in flight per mailbox: at `latency` seconds each, at most
        # 4 / latency a second. The share of that the whole first run reached.
        "ceiling": (first.by_service.get("outlook", 0) * latency / (4 * first_seconds)
                    if latency else 0.0),
        "booked": first.booked,
        "failed_pairs": len(first.failed),
        "peak_mib": peak / 2**20,
        "steady_s": steady_seconds,
        "steady_requests": steady.requests,
        "steady_writes": steady.writes,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, nargs="+", default=[50, 200])
    parser.add_argument("--latency", type=float, default=0.0,
                        help="seconds added to every Outlook request, like Graph's own latency")
    args = parser.parse_args()
    header = ("pairs", "first run s", "requests", "writes", "429s", "booked", "failed",
              "peak MiB", "steady s", "steady req", "steady writes", "Outlook ceiling share")
    print(" | ".join(header))
    for pairs in args.pairs:
        r = measure(pairs, args.latency)
        print(" | ".join([
            f"{r['pairs']:.0f}", f"{r['first_s']:.2f}", f"{r['first_requests']:.0f}",
            f"{r['first_writes']:.0f}", f"{r['first_429']:.0f}", f"{r['booked']:.0f}",
            f"{r['failed_pairs']:.0f}", f"{r['peak_mib']:.1f}", f"{r['steady_s']:.2f}",
            f"{r['steady_requests']:.0f}", f"{r['steady_writes']:.0f}",
            f"{r['ceiling']:.2f}" if args.latency else "-",
        ]), flush=True)


if __name__ == "__main__":
    main()
