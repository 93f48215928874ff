"""Kill points: the worker as a real OS process, killed with SIGKILL at random moments of its
first run, then run again until it finishes.

The sandbox tenant is served over HTTP on 127.0.0.1 from this process, so its state outlives
every worker process; the worker is `benchmarks.faults.worker_process` (the `mentoring` command
on the sandbox's clock) with the `MENTORING_*` settings `mentoring sandbox serve` would write.
Once per harness: the notes list is created with `mentoring sharepoint init` and the deployed
tenant is kept as a snapshot. A reference run without a kill measures the first run (its
writes and how long they take) and what it leaves: the sessions, items and nudges every kill
point must end with. Each kill point starts from the snapshot and draws (seeded) one of the
reference run's writes and a delay of up to two writes' time; once the sandbox has carried that
write out, the harness sends SIGKILL after the delay (with no delay, before the write's answer
leaves). Then the worker runs again, at most `MAX_RERUNS` times, until it exits 0. What SIGKILL
leaves is what a drained node leaves: requests Graph carried out that the worker never heard
back from, and answers it heard but never recorded.
"""

from __future__ import annotations

import os
import pickle
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.faults.program import (
    FIRST_RUN,
    Reference,
    doubled,
    item_counts,
    missing,
    nudges_sent,
    session_events,
    tenant,
    write_config,
)
from benchmarks.faults.report import Figure, at_most, info, sessions_once
from graph.clock import ManualClock
from graph.sandbox.core import SandboxRequest, SandboxResponse
from graph.sandbox.server import SandboxHTTPServer, start_in_thread
from graph.sandbox.state import TenantState
from graph.sandbox.tenant_app import Sandbox
from worker.cli.demo import build_world
from worker.config import load_config
from worker.core.paths import default_templates_dir

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = "kill"
MAX_RERUNS = 3
RUN_TIMEOUT_S = 300.0  # a worker process that takes longer is stopped and reported
# Environment a worker process inherits; everything else (MENTORING_* of the shell above all)
# stays out, so the run sees exactly the settings the harness gives it.
_INHERITED = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")
_READ_ONLY_POSTS = ("/getschedule", "/$batch")


class WatchedSandbox(Sandbox):
    """The sandbox, counting the writes it carries out, and the trigger of a kill point: once
    the `kill_at`-th write is carried out, `kill` is called after `kill_delay` seconds (0: in
    the request's own thread, before its answer leaves, so the worker never hears of it)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.writes = 0
        self.first_write: float | None = None
        self.last_write: float | None = None
        self.kill_at: int | None = None
        self.kill_delay = 0.0
        self.kill: Callable[[], None] = lambda: None
        self._count_lock = threading.Lock()

    def dispatch(self, req: SandboxRequest) -> tuple[SandboxResponse, str | None]:
        answer = super().dispatch(req)
        if (req.version and req.method in ("POST", "PATCH", "DELETE") and answer[0].status < 400
                and not req.path.lower().endswith(_READ_ONLY_POSTS)):
            with self._count_lock:
                self.writes += 1
                self.last_write = time.monotonic()
                if self.first_write is None:
                    self.first_write = self.last_write
                fire = self.writes == self.kill_at
            if fire and self.kill_delay <= 0:
                self.kill()
            elif fire:
                timer = threading.Timer(self.kill_delay, self.kill)
                timer.daemon = True
                timer.start()
        return answer


class Worker:
    """Starts the worker against the served tenant. The next run's process is started while
    the current one runs (`--wait`), so its imports are done when its turn comes."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.started = 0
        self._ready: subprocess.Popen[bytes] | None = None

    def _spawn(self, *args: str) -> subprocess.Popen[bytes]:
        self.started += 1
        out = (self.logs / f"process-{self.started:03d}.log").open("wb")
        try:
            return subprocess.Popen(  # noqa: S603 - our own interpreter and module
                [sys.executable, "-m", "benchmarks.faults.worker_process", *args],
                cwd=ROOT, env=self.env, stdin=subprocess.PIPE, stdout=out,
                stderr=subprocess.STDOUT)
        finally:
            out.close()

    def start(self, armed: Callable[[subprocess.Popen[bytes]], None] = lambda p: None
              ) -> subprocess.Popen[bytes]:
        """A `run` that has begun: its process was waiting (or is started now); `armed` is
        given the process before it may send its first request."""
        process = self._ready or self._spawn("--wait", "run")
        self._ready = self._spawn("--wait", "run")
        armed(process)
        assert process.stdin is not None
        process.stdin.write(b"go\n")
        process.stdin.close()
        return process

    def run(self) -> int:
        """A whole run, to its end."""
        process = self.start()
        try:
            return process.wait(timeout=RUN_TIMEOUT_S)
        finally:
            _stop(process)

    def command(self, *args: str) -> int:
        """Another command (`sharepoint init`), to its end."""
        process = self._spawn(*args)
        assert process.stdin is not None
        process.stdin.close()
        try:
            return process.wait(timeout=RUN_TIMEOUT_S)
        finally:
            _stop(process)

    def close(self) -> None:
        if self._ready is not None:
            _stop(self._ready)
            self._ready = None


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL a process of ours if it still runs, and reap it."""
    if process.poll() is None:
        process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    if process.stdin is not None and not process.stdin.closed:
        process.stdin.close()


@dataclass(frozen=True)
class KillPoint:
    index: int
    kill_at: int  # the write after which the kill was sent
    kill_delay_ms: float
    landed: bool  # the worker was still running when the kill came
    writes_before: int
    reruns: int
    exit_code: int
    events_doubled: int
    events_missing: int
    items_doubled: int
    items_missing: int
    nudges_doubled: int
    nudges_missing: int


def run_kills(points: int, pairs: int, seed: int,
              progress: Callable[[str], None] = lambda line: None,
              keep: Path | None = None) -> list[Figure]:
    """The kill scenario; `keep` is a directory to leave the config and every worker
    process's output in (by default they go with a temporary one)."""
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        return _run_kills(keep, points, pairs, seed, progress)
    with tempfile.TemporaryDirectory(prefix="fault-harness-kill-") as tmp:
        return _run_kills(Path(tmp), points, pairs, seed, progress)


def _run_kills(tmp: Path, points: int, pairs: int, seed: int,
               progress: Callable[[str], None]) -> list[Figure]:
    state, matched = tenant(pairs)
    clock = ManualClock(FIRST_RUN)
    sandbox = WatchedSandbox(state, clock)
    config_dir = write_config(tmp / "config", matched)
    config = load_config(config_dir, today=FIRST_RUN.date(), templates_dir=default_templates_dir())
    client_id, secret = str(uuid.uuid4()), uuid.uuid4().hex
    build_world(config, sandbox, clock, client_id=client_id, secret=secret)
    server, base = start_in_thread(sandbox)
    try:
        logs = tmp / "logs"
        logs.mkdir(exist_ok=True)
        env = {k: os.environ[k] for k in _INHERITED if k in os.environ}
        env.update({
            "MENTORING_TENANT_ID": sandbox.state.tenant_id, "MENTORING_CLIENT_ID": client_id,
            "MENTORING_CLIENT_SECRET": secret, "MENTORING_GRAPH_URL": base,
            "MENTORING_AUTHORITY_HOST": base, "MENTORING_CONFIG_DIR": str(config_dir),
            "MENTORING_TEMPLATES_DIR": str(default_templates_dir()),
            "MENTORING_LOG_FORMAT": "json", "NO_PROXY": "127.0.0.1,localhost",
        })
        worker = Worker(env, logs)
        try:
            # As an admin does it once: the site grant raised to `fullcontrol` for `init`
            # (creating the list needs it), then back to `write`, all the runs need.
            site = config.program.sharepoint.site if config.program.sharepoint else None
            if site is not None:
                sandbox.grant_site(client_id, site, "fullcontrol")
            code = worker.command("sharepoint", "init")
            if site is not None:
                sandbox.grant_site(client_id, site, "write")
            if code != 0:
                raise RuntimeError(f"`mentoring sharepoint init` exited {code}; see {logs}")
            snapshot = pickle.dumps(sandbox.dump_state(), protocol=pickle.HIGHEST_PROTOCOL)
            return _points(server, worker, snapshot, points, seed, progress)
        finally:
            worker.close()
    finally:
        server.shutdown()
        server.server_close()


def _fresh(server: SandboxHTTPServer, snapshot: bytes) -> WatchedSandbox:
    # The snapshot is this process's own, pickled for speed (a tenant is ~10 MB of JSON).
    state = TenantState.from_json(pickle.loads(snapshot))  # noqa: S301
    sandbox = WatchedSandbox(state, ManualClock(FIRST_RUN))
    server.sandbox = sandbox
    return sandbox


def _points(server: SandboxHTTPServer, worker: Worker, snapshot: bytes, points: int,
            seed: int, progress: Callable[[str], None]) -> list[Figure]:
    sandbox = _fresh(server, snapshot)
    started = time.monotonic()
    code = worker.run()
    seconds = time.monotonic() - started
    if code != 0 or sandbox.first_write is None or sandbox.last_write is None:
        raise RuntimeError(f"the reference run exited {code}; see {worker.logs}")
    reference = Reference.of(sandbox)
    total = sandbox.writes
    writing = sandbox.last_write - sandbox.first_write
    # A kill point is a write drawn over the run and a delay of up to two writes' time after
    # it: moments spread over the part of the run that changes something, however fast the
    # machine is today (a kill before the first write leaves nothing to finish).
    gap = writing / max(total - 1, 1)
    progress(f"reference run: {seconds:.1f} s, {total} writes over {writing:.1f} s; "
             f"{len(reference.sessions)} sessions, {len(reference.items)} items, "
             f"{len(reference.nudges)} nudges")
    rng = random.Random(seed)
    results = []
    for index in range(points):
        sandbox = _fresh(server, snapshot)
        sandbox.kill_at, sandbox.kill_delay = rng.randint(1, total), rng.uniform(0, 2 * gap)
        killed = threading.Event()

        def arm(process: subprocess.Popen[bytes], sandbox: WatchedSandbox = sandbox,
                killed: threading.Event = killed) -> None:
            def kill() -> None:
                if process.poll() is None:
                    process.send_signal(signal.SIGKILL)
                    killed.set()
            sandbox.kill = kill

        process = worker.start(arm)
        try:
            process.wait(timeout=RUN_TIMEOUT_S)
        finally:
            _stop(process)
        time.sleep(0.05)  # what the server was still carrying out for the dead process ends
        writes_before = sandbox.writes
        reruns, code = 0, -1
        while reruns < MAX_RERUNS and code != 0:
            reruns += 1
            code = worker.run()
        events, items, nudges = (session_events(sandbox), item_counts(sandbox),
                                 nudges_sent(sandbox))
        point = KillPoint(index, sandbox.kill_at, sandbox.kill_delay * 1000, killed.is_set(),
                          writes_before, reruns, code,
                          doubled(events), missing(reference.sessions, events),
                          doubled(items), missing(reference.items, items),
                          doubled(nudges), missing(reference.nudges, nudges))
        results.append(point)
        progress(f"kill point {index}: after write {point.kill_at} + {point.kill_delay_ms:.0f} ms"
                 f" ({writes_before} writes{'' if point.landed else ', run already over'}); "
                 f"{reruns} rerun(s), exit {code}; doubled {point.events_doubled}/"
                 f"{point.items_doubled}/{point.nudges_doubled}, missing "
                 f"{point.events_missing}/{point.items_missing}/{point.nudges_missing} "
                 "(events/items/nudges)")
    return figures(results, seconds, writing, total, seed)


def _where(results: list[KillPoint], broken: Callable[[KillPoint], bool], seed: int) -> str:
    named = [f"#{p.index} (write {p.kill_at} + {p.kill_delay_ms:.0f} ms)"
             for p in results if broken(p)]
    if not named:
        return ""
    return f"seed {seed}, kill points {', '.join(named[:5])}" + (" ..." if len(named) > 5 else "")


def figures(results: list[KillPoint], seconds: float, writing: float, reference_writes: int,
            seed: int) -> list[Figure]:
    landed = [p for p in results if p.landed]
    writes = [p.writes_before for p in landed] or [0]
    return [
        info(SCENARIO, "kill points", len(results)),
        info(SCENARIO, "kills that hit a running worker", len(landed)),
        info(SCENARIO, "first run: seconds (process start to exit)", round(seconds, 2)),
        info(SCENARIO, "first run: seconds writing (where kills land)", round(writing, 2)),
        info(SCENARIO, "first run: writes", reference_writes),
        info(SCENARIO, "writes before the kill: median", statistics.median(writes)),
        info(SCENARIO, "writes before the kill: max", max(writes)),
        at_most(SCENARIO, "reruns that did not finish (exit != 0)",
                sum(p.exit_code != 0 for p in results), 0,
                _where(results, lambda p: p.exit_code != 0, seed)),
        *sessions_once(SCENARIO, results, lambda broken: _where(results, broken, seed)),
        at_most(SCENARIO, "duplicate nudges, most in one kill",
                max((p.nudges_doubled for p in results), default=0), 1,
                _where(results, lambda p: p.nudges_doubled > 1, seed)),
        at_most(SCENARIO, "duplicate nudges, all kills", sum(p.nudges_doubled for p in results),
                len(landed)),
        at_most(SCENARIO, "missing nudges", sum(p.nudges_missing for p in results), 0,
                _where(results, lambda p: p.nudges_missing > 0, seed)),
    ]
