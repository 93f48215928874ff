"""The program every fault scenario runs, and what the harness counts once it has run.

A generated tenant of N executive/mentor pairs over five time zones, calendars already full,
with the program's SharePoint site; a program with the notes list and Teams nudges on. Its first
run does everything a run can: it books two sessions per pair, creates their list items, tags
the events with them, installs our Teams app for every participant (each install remembered in
the nudge ledger) and sends reminders, because the pairs start on the day of the run (4 hours'
notice) and reminders go 72 hours ahead. It runs at 14:00 UTC, so people in the Americas and
Europe are at work and get their reminders while those in India and on the Pacific coast get a
held one (remembered too): every kind of write is in the run.

What the harness counts is read from the sandbox's own state, what Microsoft 365 would hold,
never from the worker's summary: live tagged events per session key, list items per session
key, notifications per recipient and nudge, and people's columns of the items.
"""

from __future__ import annotations

import functools
import json
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.bench_run import write_pairings
from graph.clock import ManualClock
from graph.errors import GraphClientError
from graph.sandbox.calendar import store_of
from graph.sandbox.fixtures import compatible_pairs, generated_tenant
from graph.sandbox.sharepoint import ListItem, SharePointStore
from graph.sandbox.state import TenantState
from graph.sandbox.tenant_app import Sandbox
from graph.sandbox.throttle import ThrottleConfig
from worker.apply.outcome import RunStopped, stop_for
from worker.cli.demo import DemoWorld, build_world, init_notes_list
from worker.config import load_config
from worker.core.exit_codes import ExitCode
from worker.core.notes_list import PEOPLE_COLUMNS, SEEDED_COLUMNS
from worker.core.paths import default_templates_dir
from worker.core.properties import PROPERTY_ID
from worker.plan.plan import TooMuchChange
from worker.run.job import execute

DOMAIN = "faults.contoso.com"
ORGANIZER = f"mentoring@{DOMAIN}"
PROGRAM_ID = "faults"
SITE = "contoso.sharepoint.com:/sites/mentoring"
LIST = "Mentoring sessions"
START = date(2027, 3, 1)  # a Monday: every pair starts that day
FIRST_RUN = datetime(2027, 3, 1, 14, 0, tzinfo=UTC)
# The columns that are people's once the item exists (the worker must never overwrite them).
HUMAN_COLUMNS = (*SEEDED_COLUMNS, *PEOPLE_COLUMNS)


def _generated(pairs: int, seed: int) -> tuple[TenantState, list[tuple[str, str]]]:
    # Calendars as full as a real one from the first run to past the second sessions (a
    # cadence and its tolerance later); nothing the runs look at lies outside.
    state = generated_tenant(pairs, seed=seed, first=START, last=START + timedelta(days=35),
                             domain=DOMAIN, clock=ManualClock(FIRST_RUN))
    state.sharepoint = SharePointStore.with_demo_site()
    # compatible_pairs takes every "mentor..." address for a mentor, the program mailbox
    # ("mentoring@") too: it must not mentor anyone here, so it is left out of the pairing.
    everyone = state.directory.users
    state.directory.users = {k: u for k, u in everyone.items()
                             if u.userPrincipalName != ORGANIZER}
    try:
        return state, compatible_pairs(state)
    finally:
        state.directory.users = everyone


def _plans_every_pair(state: TenantState, matched: list[tuple[str, str]]) -> bool:
    """A dry run on a copy of the tenant names no pairing it cannot book (the notes list does
    not exist yet in the copy: that problem is not a pairing's)."""
    copy = TenantState.from_json(json.loads(json.dumps(state.to_json())))
    clock = ManualClock(FIRST_RUN)
    with tempfile.TemporaryDirectory(prefix="fault-harness-probe-") as tmp:
        config = load_config(write_config(Path(tmp), matched), today=FIRST_RUN.date(),
                             templates_dir=default_templates_dir())
        world = build_world(config, Sandbox.create(clock=clock, fixture=copy), clock)
        world.client.session.trust_env = False
        plan, _ = execute(world.client, config, clock, world.templates, apply=False)
    return not any(problem.pairing_id for problem in plan.problems)


# What `_seed_for` found for the sizes the harness runs, tried first so it checks one tenant
# instead of searching.
KNOWN_SEEDS = {6: 14, 30: 11}


@functools.cache
def _seed_for(pairs: int) -> int:
    known = KNOWN_SEEDS.get(pairs)
    for seed in ([known] if known else []) + list(range(11, 111)):
        try:
            state, matched = _generated(pairs, seed)
        except ValueError:
            continue
        if _plans_every_pair(state, matched):
            return seed
    raise ValueError(f"no generated tenant of {pairs} pairs has time for every pair")


def tenant(pairs: int) -> tuple[TenantState, list[tuple[str, str]]]:
    """The tenant (`pairs` mentors and executives, the program mailbox, the program's site) and
    the (mentor, mentee) pairs an admin would make of it: the first generated tenant, from seed
    11 up, whose people can all be paired with someone sharing their working hours and whose
    every pair has time for its sessions, so a run that finishes exits 0. Always the same."""
    return _generated(pairs, _seed_for(pairs))


def write_config(directory: Path, pairs: list[tuple[str, str]], *,
                 duration_minutes: int = 45) -> Path:
    """program.yaml and pairings.yaml for `pairs` (mentor, mentee); returns the directory."""
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    (directory / "program.yaml").write_text(
        f"id: {PROGRAM_ID}\nname: Fault harness program\n"
        f"organizer: {ORGANIZER}\n"
        "cadence: {every_days: 21, tolerance_days: 7}\n"
        f"duration_minutes: {duration_minutes}\n"
        'earliest: "07:00"\nlatest: "19:00"\n'
        "minimum_notice_hours: 4\n"
        "holidays: {countries: [], use_participant_location: true}\n"
        f"sharepoint:\n  site: {SITE}\n  list: {LIST}\n"
        "nudges:\n  reminder_hours_before: 72\n",
        encoding="utf-8",
    )
    write_pairings(directory, pairs, START)
    return directory


def deploy(pairs: int, directory: Path, *, seed: int = 0, duration_minutes: int = 45,
           throttle: ThrottleConfig | None = None) -> DemoWorld:
    """A fresh tenant with the worker deployed in-process (app registered and granted, our
    Teams app in the catalog, the notes list created), its clock at the first run."""
    clock = ManualClock(FIRST_RUN)
    state, matched = tenant(pairs)
    sandbox = Sandbox.create(clock=clock, fixture=state, seed=seed, throttle=throttle)
    config = load_config(write_config(directory, matched,
                                      duration_minutes=duration_minutes),
                         today=FIRST_RUN.date(), templates_dir=default_templates_dir())
    world = build_world(config, sandbox, clock)
    world.client.session.trust_env = False  # no proxy lookups from the environment
    settings = config.program.sharepoint
    assert settings is not None
    init_notes_list(world)
    return world


@dataclass(frozen=True)
class RunResult:
    code: int  # the exit code `mentoring run` would end with
    # Nudges Graph took whose ledger entry could not be written (the next run may send again).
    unrecorded: int = 0
    # Nudges whose ledger write was refused at first and made later in the same run.
    recorded_late: int = 0


def run_once(world: DemoWorld, *, force: bool = False) -> RunResult:
    """One run, ended as `mentoring run` ends it (a run stopped midway included)."""
    try:
        _, summary = execute(world.client, world.config, world.clock, world.templates,
                             apply=True, force=force)
    except TooMuchChange:
        return RunResult(int(ExitCode.CONFIG))
    except RunStopped as exc:
        return RunResult(int(exc.code))
    except GraphClientError as exc:
        stop = stop_for(exc)
        return RunResult(int(stop.code) if stop else int(ExitCode.INCOMPLETE))
    late = sum(1 for o in summary.outcomes
               if o.action.kind == "send-nudge" and (o.warning or "").startswith("recorded"))
    return RunResult(int(summary.exit_code), sum(o.unrecorded for o in summary.outcomes), late)


# --- what Microsoft 365 holds ------------------------------------------------------------------


def session_events(sandbox: Sandbox) -> Counter[str]:
    """Live (not cancelled) events in the organizer's calendar per `MentoringSession` value."""
    owner = sandbox.state.directory.get(ORGANIZER)
    counts: Counter[str] = Counter()
    with sandbox.lock:
        for event in store_of(sandbox).calendar(owner.id).values():
            if event.get("isCancelled"):
                continue
            for prop in event.get("singleValueExtendedProperties") or []:
                if str(prop.get("id", "")).lower() == PROPERTY_ID.lower():
                    counts[str(prop.get("value"))] += 1
    return counts


def list_items(sandbox: Sandbox) -> list[ListItem]:
    """The program's items in the notes list."""
    store = sandbox.state.sharepoint
    assert isinstance(store, SharePointStore)
    with sandbox.lock:
        sp_list = store.get_list(store.site(SITE), LIST)
        return [i for i in sp_list.items.values() if i.fields.get("ProgramId") == PROGRAM_ID]


def item_counts(sandbox: Sandbox) -> Counter[str]:
    return Counter(str(i.fields.get("SessionKey")) for i in list_items(sandbox))


def nudges_sent(sandbox: Sandbox) -> Counter[str]:
    """Notifications per recipient and nudge (activity type and parameters: the session and
    its time), as the Teams activity feeds hold them."""
    counts: Counter[str] = Counter()
    with sandbox.lock:
        for user_id, feed in sandbox.state.teams.feeds.items():
            for entry in feed:
                params = json.dumps(entry.get("templateParameters") or {}, sort_keys=True)
                counts[f"{user_id}|{entry.get('activityType')}|{params}"] += 1
    return counts


def doubled(counts: Counter[str]) -> int:
    """How many more there are than one per key."""
    return sum(count - 1 for count in counts.values() if count > 1)


def missing(expected: Iterable[str], counts: Counter[str]) -> int:
    return sum(1 for key in expected if counts.get(key, 0) == 0)


@dataclass(frozen=True)
class Reference:
    """What a run without faults leaves: the harness's expected sessions, items and nudges."""

    sessions: frozenset[str]
    items: frozenset[str]
    nudges: frozenset[str]

    @classmethod
    def of(cls, sandbox: Sandbox) -> Reference:
        return cls(frozenset(session_events(sandbox)), frozenset(item_counts(sandbox)),
                   frozenset(nudges_sent(sandbox)))


def human_columns(item: ListItem) -> dict[str, Any]:
    return {column: item.fields.get(column) for column in HUMAN_COLUMNS}
