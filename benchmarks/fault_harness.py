"""The fault harness: does the worker keep DESIGN.md's invariant 2 on a bad day?

    python -m benchmarks.fault_harness kill --points 50 --pairs 30
    python -m benchmarks.fault_harness storm --storms 4 --pairs 30
    python -m benchmarks.fault_harness edits --pairs 30
    python -m benchmarks.fault_harness all --short          # what CI runs: under a minute

"A run killed at any point, or a write whose answer was lost, then run again: every session
exists exactly once, every list item exactly once; at most one duplicate nudge per crash or lost
notification answer", and people's text is never lost. Three scenarios, each against the sandbox
tenant with the notes list and nudges on (`benchmarks.faults.program`):

* kill: the worker as a real OS process, SIGKILLed at seeded random moments of its first run,
  then run again (`benchmarks.faults.kill`);
* storm: 429s with Retry-After, 503s, timeouts and answers lost after the write, run until it
  finishes; no request may come before its Retry-After ran out (`benchmarks.faults.storm`);
* edits: people editing the notes while the worker rewrites the same items
  (`benchmarks.faults.edits`).

Each prints a table: figure, measured, bound, ok; a broken bound names the seed (and kill
point) that reproduces it, and the command exits 1. Everything is bounded in time: counts are
fixed, every worker process has a timeout, retries and runs are capped.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchmarks.faults.edits import run_edits
from benchmarks.faults.kill import run_kills
from benchmarks.faults.report import Figure, info, render
from benchmarks.faults.storm import run_storms


@dataclass(frozen=True)
class Sizes:
    kill_points: int
    kill_pairs: int
    storms: int
    storm_pairs: int
    edit_pairs: int


FULL = Sizes(kill_points=50, kill_pairs=30, storms=4, storm_pairs=30, edit_pairs=30)
SHORT = Sizes(kill_points=3, kill_pairs=6, storms=1, storm_pairs=6, edit_pairs=6)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fault_harness",
                                     description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seed", type=int, default=1, help="kill points and fault draws")
    parser.add_argument("--quiet", action="store_true", help="only the tables")
    parser.add_argument("--log", type=Path, help="write the in-process runs' logs here")
    commands = parser.add_subparsers(dest="scenario", required=True, metavar="SCENARIO")
    kill = commands.add_parser("kill", help="SIGKILL the worker process, run it again")
    kill.add_argument("--points", type=int, default=FULL.kill_points)
    kill.add_argument("--pairs", type=int, default=FULL.kill_pairs)
    kill.add_argument("--keep", type=Path, metavar="DIR",
                      help="leave the config and each worker process's output in DIR")
    storm = commands.add_parser("storm", help="429/503/timeouts/lost answers until it finishes")
    storm.add_argument("--storms", type=int, default=FULL.storms)
    storm.add_argument("--pairs", type=int, default=FULL.storm_pairs)
    edits = commands.add_parser("edits", help="people edit the notes while the worker writes")
    edits.add_argument("--pairs", type=int, default=FULL.edit_pairs)
    every = commands.add_parser("all", help="the three scenarios")
    every.add_argument("--short", action="store_true",
                       help="small numbers, for CI: 3 kill points over 6 pairs, 1 storm, "
                       "6 pairs editing")
    return parser


def _timed(name: str, scenario: Callable[[], list[Figure]]) -> list[Figure]:
    started = time.perf_counter()
    found = scenario()
    return [*found, info(name, "seconds (this scenario)", round(time.perf_counter() - started, 1))]


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.log is not None:
        logging.basicConfig(filename=args.log, level=logging.INFO,
                            format="%(asctime)s %(levelname)s %(name)s %(message)s")
    else:
        # The runs' retry warnings are what the storm is made of: not for the terminal.
        logging.getLogger().addHandler(logging.NullHandler())
        logging.getLogger().setLevel(logging.CRITICAL)

    def say(line: str) -> None:
        if not args.quiet:
            print(line, file=sys.stderr, flush=True)

    seed: int = args.seed
    if args.scenario == "all":
        sizes = SHORT if args.short else FULL
        chosen: tuple[str, ...] = ("kill", "storm", "edits")
    else:
        sizes = Sizes(getattr(args, "points", 1), args.pairs, getattr(args, "storms", 1),
                      args.pairs, args.pairs)
        chosen = (args.scenario,)
    for name, value in vars(sizes).items():
        if value < 1:
            parser.error(f"{name.replace('_', ' ')} must be at least 1, not {value}")
    scenarios: dict[str, Callable[[], list[Figure]]] = {
        "kill": lambda: run_kills(sizes.kill_points, sizes.kill_pairs, seed, say,
                                  getattr(args, "keep", None)),
        "storm": lambda: run_storms(sizes.storms, sizes.storm_pairs, seed, say),
        "edits": lambda: run_edits(sizes.edit_pairs, seed, say),
    }
    plan = [(name, scenarios[name]) for name in chosen]

    figures: list[Figure] = []
    for name, scenario in plan:
        say(f"== {name}")
        figures += _timed(name, scenario)
    print(render(figures))
    broken = [f for f in figures if not f.ok]
    if broken:
        print(f"{len(broken)} bound(s) broken: " + "; ".join(
            f"{f.scenario}: {f.name} {f.measured:g} > {f.bound:g}" for f in broken
            if f.bound is not None))
        return 1
    print("every bound holds")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
