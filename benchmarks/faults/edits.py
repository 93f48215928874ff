"""People's edits: mentors typing notes into the list while the worker rewrites the same items.

After a clean first run, the admin makes every session an hour long (forced: it moves more
than the safety share), so the next run updates every upcoming session's event and list item
with `If-Match`. While that run and the next one go, simulated people edit the items in the
browser as fast as a few milliseconds apart: the notes, the "shared with the program" flag, now
and then the agenda (theirs once the item exists), each edit remembered. A light fault mix goes
with it (429s on SharePoint, 10 % of item updates carried out with the answer lost, so a retry
meets its own etag gone). Then the people stop, the worker runs until it exits 0, and every
item must hold exactly what its people last typed, and the new length.
"""

from __future__ import annotations

import random
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.faults.program import (
    HUMAN_COLUMNS,
    LIST,
    SITE,
    deploy,
    doubled,
    human_columns,
    item_counts,
    list_items,
    run_once,
    session_events,
)
from benchmarks.faults.report import Figure, at_most, info
from graph.sandbox.faults import FaultRule
from graph.sandbox.recorder import Recorder
from graph.sandbox.sharepoint import SharePointStore, user_identity
from graph.sandbox.tenant_app import Sandbox
from worker.cli.demo import DemoWorld
from worker.config import load_config
from worker.core.paths import default_templates_dir

SCENARIO = "edits"
RUNS_WITH_PEOPLE = 2
MAX_RUNS = 6
NEW_LENGTH = timedelta(minutes=60)


class People:
    """Simulated people editing the program's items, each edit remembered, until stopped."""

    def __init__(self, sandbox: Sandbox, seed: int) -> None:
        self.sandbox = sandbox
        self.rng = random.Random(seed)
        self.typed: dict[int, dict[str, Any]] = {}  # item id -> the columns as last typed
        self.edits = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._edit_until_stopped, name="people",
                                        daemon=True)

    def __enter__(self) -> People:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _edit_until_stopped(self) -> None:
        store = self.sandbox.state.sharepoint
        assert isinstance(store, SharePointStore)
        while not self._stop.is_set():
            with self.sandbox.lock:  # between two of the worker's requests, as a browser's save
                self._one_edit(store)
            time.sleep(self.rng.uniform(0, 0.004))

    def _one_edit(self, store: SharePointStore) -> None:
        items = list_items(self.sandbox)
        if not items:
            return
        item = self.rng.choice(items)
        self.edits += 1
        fields: dict[str, Any] = {"Notes": f"<p>Notes, version {self.edits}: what we tried.</p>"}
        if self.rng.random() < 0.3:
            fields["SharedWithProgram"] = self.rng.random() < 0.5
        if self.rng.random() < 0.1:
            fields["Agenda"] = f"<p>Our own agenda, version {self.edits}.</p>"
        mentor = self.sandbox.state.directory.get(str(item.fields["MentorEmail"]))
        store.person_edits(store.site(SITE), LIST, str(item.id), fields,
                           person=user_identity(mentor.id, mentor.displayName, mentor.mail),
                           now=self.sandbox.clock.now())
        self.typed.setdefault(item.id, {}).update(fields)


def _instant(value: Any) -> datetime:
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def run_edits(pairs: int, seed: int,
              progress: Callable[[str], None] = lambda line: None) -> list[Figure]:
    with tempfile.TemporaryDirectory(prefix="fault-harness-edits-") as tmp:
        return _run_edits(Path(tmp) / "config", pairs, seed, progress)


def _lengthen(world: DemoWorld, directory: Path) -> None:
    program = directory / "program.yaml"
    program.write_text(program.read_text(encoding="utf-8").replace(
        "duration_minutes: 45", f"duration_minutes: {NEW_LENGTH.seconds // 60}"),
        encoding="utf-8")
    world.config = load_config(directory, today=world.clock.now().date(),
                               templates_dir=default_templates_dir())


def _run_edits(directory: Path, pairs: int, seed: int,
               progress: Callable[[str], None]) -> list[Figure]:
    world = deploy(pairs, directory, seed=seed)
    if run_once(world).code != 0:
        raise RuntimeError("the first run without faults did not finish")
    before = {item.id: human_columns(item) for item in list_items(world.sandbox)}
    _lengthen(world, directory)
    world.sandbox.recorder = Recorder(keep=1_000_000)  # every answer, to count the 412s
    faults = world.sandbox.faults
    faults.add(FaultRule(kind="429", path=r"^/sites/", share=0.10, retry_after=2))
    faults.add(FaultRule(kind="lost", method="PATCH", path=r"/items/[^/]+/fields$", share=0.10))
    codes: list[int] = []
    with People(world.sandbox, seed) as people:
        for _ in range(RUNS_WITH_PEOPLE):
            codes.append(run_once(world, force=True).code)
    faults.clear()
    while len(codes) < MAX_RUNS and codes[-1] != 0:
        codes.append(run_once(world, force=True).code)
    conflicts = sum(r["status"] == 412 for r in world.sandbox.recorder.recent(1_000_000))
    progress(f"edits: {people.edits} edits by people on {len(people.typed)} items; exit codes "
             f"{codes}; lost answers {world.sandbox.faults.lost_answers()}")

    lost_text = 0
    stale: list[str] = []
    for item in list_items(world.sandbox):
        wanted = dict(before.get(item.id, {}))
        wanted.update(people.typed.get(item.id, {}))
        now = human_columns(item)
        lost_text += sum(now.get(c) != wanted.get(c) for c in HUMAN_COLUMNS if c in wanted)
        start, end = item.fields.get("SessionStart"), item.fields.get("SessionEnd")
        if start and end and _instant(end) - _instant(start) != NEW_LENGTH:
            stale.append(str(item.fields.get("SessionKey")))
    # The seed is the harness's own option: it comes before the scenario.
    note = f"seed {seed} (python -m benchmarks.fault_harness --seed {seed} edits --pairs {pairs})"
    return [
        info(SCENARIO, "edits by people during the runs", people.edits),
        info(SCENARIO, "items edited", len(people.typed)),
        info(SCENARIO, "412 answers (an edit between the worker's read and write)", conflicts),
        info(SCENARIO, "runs until exit 0", len(codes)),
        at_most(SCENARIO, "runs that did not finish after the people stopped",
                int(codes[-1] != 0), 0, note),
        at_most(SCENARIO, "lost human text (columns not as last typed)", lost_text, 0, note),
        at_most(SCENARIO, "items without the new length", len(stale), 0,
                note + (f"; e.g. {', '.join(stale[:3])}" if stale else "")),
        at_most(SCENARIO, "duplicate items", doubled(item_counts(world.sandbox)), 0, note),
        at_most(SCENARIO, "duplicate events", doubled(session_events(world.sandbox)), 0, note),
    ]
