"""What one plan holds and what a run reads, on the demo tenant with the example config.

    python -m benchmarks.bench_reads

Prints, for three moments of a program (the first run, the morning three days later when
people have answered, and a run right after it with nothing to do): the plan's actions per
resource, and the requests the sandbox received per kind of read and write. Counts are exact
(every `$batch` inner request counts, as Graph counts them against its limits).
"""

from __future__ import annotations

import argparse
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from graph.clock import ManualClock
from graph.sandbox.fixtures import demo_tenant
from graph.sandbox.tenant_app import Sandbox
from worker.cli.demo import DemoWorld, build_world, init_notes_list
from worker.config import load_config
from worker.core.paths import default_config_dir
from worker.run.job import execute

START = datetime(2027, 1, 4, 6, 0, tzinfo=UTC)
KINDS = ("event listing", "getSchedule", "people", "list", "list items", "catalog",
         "calendar writes", "notes list writes", "Teams writes", "other")


def world() -> DemoWorld:
    clock = ManualClock(START)
    config = load_config(default_config_dir(), today=START.date())
    sandbox = Sandbox.create(clock=clock, fixture=demo_tenant)
    built = build_world(config, sandbox, clock)
    assert config.program.sharepoint is not None
    init_notes_list(built)
    return built


def kind_of(entry: dict[str, Any]) -> str | None:
    method, path = str(entry["method"]).upper(), str(entry["path"])
    lowered = path.lower()
    if "/oauth2/" in lowered or lowered.endswith("/$batch") or "openid" in lowered:
        return None  # tokens and the `$batch` envelope (its inner requests count)
    if lowered.endswith("/getschedule"):
        return "getSchedule"
    if method == "GET":
        if lowered.endswith("/events"):
            return "event listing"
        if "/items" in lowered:
            return "list items"
        if "/lists" in lowered or lowered.startswith("/sites"):
            return "list"
        if "appcatalogs" in lowered:
            return "catalog"
        if lowered == "/users" or (lowered.startswith("/users/") and lowered.count("/") == 2):
            return "people"  # 15 to a filtered listing, or one by one
        return "other"
    if "/sites/" in lowered:
        return "notes list writes"
    if "/teamwork/" in lowered:
        return "Teams writes"
    if "/events" in lowered:
        return "calendar writes"
    return "other"


def measure(the_world: DemoWorld) -> tuple[Counter[str], Counter[str], int]:
    """One run: the plan's actions per resource, the requests per kind, the exit code."""
    recorder = the_world.sandbox.recorder
    before = len(recorder.recent(1_000_000))
    plan, summary = execute(the_world.client, the_world.config, the_world.clock,
                            the_world.templates, apply=True)
    actions = Counter(str(a.resource) for a in plan.actions if a.writes())
    actions.update(f"{a.resource} (held, no write)" for a in plan.actions if not a.writes())
    requests = Counter(k for e in recorder.recent(1_000_000)[before:]
                       if (k := kind_of(e)) is not None)
    return actions, requests, int(summary.exit_code)


def main() -> None:
    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args()
    the_world = world()
    rows = [("first run", *measure(the_world))]
    the_world.clock.set(START + timedelta(days=3, hours=9))
    rows.append(("three days later, 15:00 UTC", *measure(the_world)))
    rows.append(("right after, nothing to do", *measure(the_world)))
    for title, actions, requests, code in rows:
        print(f"{title} (exit code {code})")
        print("  plan: " + (", ".join(f"{n} {r}" for r, n in sorted(actions.items()))
                            or "nothing to do"))
        print("  requests: " + ", ".join(f"{requests.get(k, 0)} {k}" for k in KINDS
                                         if requests.get(k, 0)))
        print(f"  total: {sum(requests.values())} Graph operations")


if __name__ == "__main__":
    main()
