"""The worker against the script an admin would write with python-o365, side by side.

    python -m benchmarks.bench_peer --pairs 50 200 --latency 0.05

For each size, two fresh copies of the same generated tenant (`generated_tenant`, seed 11,
pairs from `compatible_pairs`, calendars already full), each served over HTTP on 127.0.0.1 from
a child process (`benchmarks.peer.server`) with the same latency on every Outlook call. On one
the worker runs twice (the first run, then the next scheduled run 15 minutes later, each with
a fresh client as a fresh container has); on the other the python-o365 script
(`benchmarks.peer_o365`) runs twice the same way. Both book the program of
`benchmarks.bench_run`: two sessions per pair, 45 minutes, 21 days apart.

Printed per size, for both tools and both runs: wall time (client start to last answer, token
included), HTTP requests the server received, Graph operations (each request inside a `$batch`
counts), login requests, 429s, and the quality of what is booked afterwards, read from the
tenant's state (`benchmarks.peer.quality`): sessions outside someone's working hours, clashes
with existing busy time, duplicates, sessions without a Teams link. Then the worker/peer ratios
against the bounds the worker is held to, pass or fail. The whole benchmark stops by itself
after `--max-seconds`.

Needs the `bench` extra (`pip install -e '.[bench]'`) for the peer.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from importlib import metadata
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import requests

from benchmarks.bench_run import START, write_config
from benchmarks.peer.server import ORGANIZER, ShiftedClock
from graph.auth import ClientSecret, GraphCredential
from graph.client import GraphClient
from graph.pacing import MailboxPacer
from graph.sandbox.cli import WORKER_APP_ROLES
from worker.config import load_config
from worker.config.templates import Templates
from worker.core.paths import default_templates_dir
from worker.run.job import execute

NOW = datetime.fromisoformat("2027-02-22T06:00:00+00:00")  # a week before the program starts
RERUN_AFTER = timedelta(minutes=15)  # the job's schedule
PEER_ROLES = ("Calendars.ReadWrite",)  # all the script needs: getSchedule and events
# (metric, first-run bound, rerun bound): worker / peer must stay at or under them.
BOUNDS = {"seconds": (0.2, 0.1), "http_requests": (0.6, 0.1)}
ROOT = Path(__file__).resolve().parent.parent
GRACE_SECONDS = 15.0  # after the deadline, how long a run may take to notice


@dataclass
class Measured:
    """One run of one tool: what it cost and what the calendars hold afterwards."""

    seconds: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)
    quality: dict[str, int] = field(default_factory=dict)
    booked: int = 0
    problems: list[str] = field(default_factory=list)


class Tenant:
    """A sandbox tenant in a child process, stopped on exit (or killed past the deadline)."""

    def __init__(self, pairs: int, latency: float, apps: list[dict[str, Any]],
                 max_seconds: float, throttle_scale: float | None = None) -> None:
        self.spec = {"pairs": pairs, "seed": 11, "latency": latency, "now": NOW.isoformat(),
                     "apps": apps, "max_seconds": max_seconds,
                     "throttle_scale": throttle_scale}
        self.process: subprocess.Popen[str] | None = None
        self.base_url = ""
        self.tenant_id = ""
        self.pairs: list[tuple[str, str]] = []

    def __enter__(self) -> Tenant:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.peer.server"], cwd=ROOT, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        stdin, stdout = self._pipes()
        stdin.write(json.dumps(self.spec) + "\n")  # the secrets travel on a pipe, not argv
        stdin.flush()
        line = stdout.readline()
        if not line:
            raise RuntimeError("the sandbox server stopped before it was ready")
        ready = json.loads(line)
        self.base_url, self.tenant_id = ready["base_url"], ready["tenant_id"]
        self.pairs = [(mentor, mentee) for mentor, mentee in ready["pairs"]]
        return self

    def _pipes(self) -> tuple[IO[str], IO[str]]:
        if self.process is None or self.process.stdin is None or self.process.stdout is None:
            raise RuntimeError("the sandbox server is not running")
        return self.process.stdin, self.process.stdout

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if self.process is None:
            return
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()

    def _control(self, method: str, path: str, body: dict[str, Any] | None = None
                 ) -> dict[str, Any]:
        response = requests.request(method, f"{self.base_url}/_sandbox/{path}", json=body,
                                    timeout=120)
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data

    def counters(self) -> dict[str, int]:
        return {key: int(value) for key, value in self._control("GET", "bench/counters").items()}

    def quality(self) -> dict[str, int]:
        return {key: int(value) for key, value in self._control("GET", "bench/quality").items()}

    def now(self) -> datetime:
        return datetime.fromisoformat(str(self._control("GET", "clock")["now"]))

    def advance(self, delta: timedelta) -> None:
        self._control("POST", "clock", {"advance": delta.total_seconds()})


def _measured(tenant: Tenant, before: dict[str, int], started: float) -> Measured:
    seconds = time.perf_counter() - started
    after = tenant.counters()
    counts = {key: after.get(key, 0) - before.get(key, 0) for key in
              ("http_requests", "graph_operations", "login_requests", "throttled",
               "server_errors", "outlook_operations", "getschedule_calls", "outlook_writes",
               "outlook_ms")}
    return Measured(seconds=seconds, counts=counts, quality=tenant.quality())


def run_worker(tenant: Tenant, app: dict[str, Any], config_dir: Path,
               pacer: tuple[int, float] | None = None) -> Measured:
    """One `mentoring run`, as a fresh container does it: new client, new token. `pacer`:
    the Outlook requests per window and the window (seconds) the client keeps under, when
    not Graph's own 10,000 per 600."""
    clock = ShiftedClock(tenant.now())
    config = load_config(config_dir, today=clock.now().date())
    templates = Templates(default_templates_dir())
    before = tenant.counters()
    started = time.perf_counter()
    session = requests.Session()
    credential = GraphCredential(tenant_id=tenant.tenant_id, client_id=app["client_id"],
                                 credential=ClientSecret(app["secret"]), http_client=session,
                                 authority_host=tenant.base_url)
    client = GraphClient(f"{tenant.base_url}/v1.0", credential, session, clock,
                         pacer=None if pacer is None else MailboxPacer(
                             clock, max_per_window=pacer[0], window=pacer[1]))
    problems: list[str] = []
    booked = 0
    try:
        _, summary = execute(client, config, clock, templates, apply=True)
        booked = summary.booked
        problems = [f"{pair}: {'; '.join(reasons)}" for pair, reasons in summary.failed.items()]
    except Exception as exc:  # noqa: BLE001 - a stopped run is a result to print, not a crash
        problems = [f"run stopped: {type(exc).__name__}: {exc}"]
    measured = _measured(tenant, before, started)
    measured.booked, measured.problems = booked, problems
    return measured


def run_peer(tenant: Tenant, app: dict[str, Any], requests_delay: int | None) -> Measured:
    """One run of the admin's python-o365 script: new Account, new token."""
    from benchmarks import peer_o365

    program = peer_o365.Program(start=START)
    now = tenant.now()
    before = tenant.counters()
    started = time.perf_counter()
    problems: list[str] = []
    booked = 0
    try:
        account = peer_o365.connect(tenant.tenant_id, app["client_id"], app["secret"],
                                    graph_root=tenant.base_url, requests_delay=requests_delay)
        run = peer_o365.book_program(account, ORGANIZER, tenant.pairs, program, now=now)
        booked, problems = run.booked, run.no_slot + run.failed
    except Exception as exc:  # noqa: BLE001 - as for the worker
        problems = [f"run stopped: {type(exc).__name__}: {exc}"]
    measured = _measured(tenant, before, started)
    measured.booked, measured.problems = booked, problems
    return measured


def measure(tool: str, pairs: int, latency: float, deadline: float,
            requests_delay: int | None) -> tuple[Measured, Measured]:
    """First run and rerun of one tool on a fresh tenant of `pairs` pairs."""
    app = {"client_id": str(uuid.uuid4()), "secret": secrets.token_urlsafe(32),
           "roles": list(WORKER_APP_ROLES if tool == "worker" else PEER_ROLES), "name": tool}
    remaining = max(1.0, deadline - time.monotonic())
    with Tenant(pairs, latency, [app], remaining) as tenant:
        finished = threading.Event()

        def expire() -> None:
            # Past the deadline: stop the tenant, so both tools get connection errors; a tool
            # still retrying after the grace period is not waited for.
            tenant.kill()
            if not finished.wait(GRACE_SECONDS):
                print(f"stopped: past --max-seconds, {tool} still running", flush=True)
                os._exit(1)

        watchdog = threading.Timer(remaining, expire)
        watchdog.daemon = True
        watchdog.start()
        try:
            with tempfile.TemporaryDirectory() as tmp:
                config_dir = write_config(Path(tmp) / "config", tenant.pairs)

                def once() -> Measured:
                    if tool == "worker":
                        return run_worker(tenant, app, config_dir)
                    return run_peer(tenant, app, requests_delay)

                first = once()
                tenant.advance(RERUN_AFTER)
                rerun = once()
        finally:
            finished.set()
            watchdog.cancel()
    return first, rerun


ROWS: tuple[tuple[str, str, str], ...] = (
    ("wall time, s", "", "seconds"),
    ("HTTP requests", "counts", "http_requests"),
    ("Graph operations", "counts", "graph_operations"),
    ("login requests (in HTTP)", "counts", "login_requests"),
    ("429s", "counts", "throttled"),
    ("5xx", "counts", "server_errors"),
    ("sessions booked by the run", "", "booked"),
    ("sessions in the calendar", "quality", "sessions"),
    ("outside working hours", "quality", "outside_hours"),
    ("clashes", "quality", "clashes"),
    ("duplicates", "quality", "duplicates"),
    ("without a Teams link", "quality", "without_link"),
)


def _value(run: Measured, part: str, key: str) -> float:
    if part:
        return float(getattr(run, part).get(key, 0))
    return float(getattr(run, key))


def _cell(value: float, key: str) -> str:
    return f"{value:.2f}" if key == "seconds" else f"{value:.0f}"


def _ratio(worker: float, peer: float, bound: float | None) -> str:
    if peer == 0:
        return "-"
    ratio = worker / peer
    if bound is None:
        return f"{ratio:.2f}"
    return f"{ratio:.3f} {'<=' if ratio <= bound else '>'} {bound} " + (
        "pass" if ratio <= bound else "FAIL")


def render(pairs: int, latency: float, worker: tuple[Measured, Measured],
           peer: tuple[Measured, Measured]) -> str:
    lines = [f"{pairs} pairs, {latency * 1000:.0f} ms per Outlook call",
             "", "| | worker first | peer first | worker/peer | worker rerun | peer rerun "
             "| worker/peer |", "|---|---|---|---|---|---|---|"]
    for label, part, key in ROWS:
        cells = [label]
        for index in (0, 1):
            w, p = _value(worker[index], part, key), _value(peer[index], part, key)
            bound = BOUNDS[key][index] if key in BOUNDS else None
            ratio = _ratio(w, p, bound) if key in BOUNDS or key == "graph_operations" else ""
            cells += [_cell(w, key), _cell(p, key), ratio]
        lines.append("| " + " | ".join(cells) + " |")
    outside = worker[0].quality.get("outside_hours", 0) + worker[1].quality.get(
        "outside_hours", 0)
    lines.append("")
    lines.append("worker books nothing outside working hours: "
                 + ("pass" if outside == 0 else f"FAIL ({outside})"))
    for name, runs in (("worker", worker), ("peer", peer)):
        for label, run in zip(("first", "rerun"), runs, strict=True):
            for problem in run.problems[:5]:
                lines.append(f"  {name} {label}: {problem}")
            if len(run.problems) > 5:
                lines.append(f"  {name} {label}: ... {len(run.problems) - 5} more")
    return "\n".join(lines)


def machine() -> str:
    try:
        o365 = metadata.version("O365")
    except metadata.PackageNotFoundError:
        o365 = "not installed"
    return (f"machine: {os.cpu_count()} cores, Python {platform.python_version()} "
            f"({platform.machine()}, {platform.system()}), O365 {o365}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, nargs="+", default=[50, 200])
    parser.add_argument("--latency", type=float, default=0.05,
                        help="seconds added to every Outlook request, like Graph's own latency")
    parser.add_argument("--max-seconds", type=float, default=1800,
                        help="the whole benchmark stops by itself after this long")
    parser.add_argument("--peer-requests-delay", type=int, default=None, metavar="MS",
                        help="O365's pause between requests (default: O365's own, 200 ms)")
    args = parser.parse_args(argv)
    try:
        import O365  # noqa: F401 - only to fail early with a clear message
    except ImportError:
        print("the peer needs python-o365: pip install -e '.[bench]'", file=sys.stderr)
        return 2
    deadline = time.monotonic() + args.max_seconds
    print(machine(), flush=True)
    for pairs in args.pairs:
        try:
            worker = measure("worker", pairs, args.latency, deadline, args.peer_requests_delay)
            if time.monotonic() > deadline:
                raise RuntimeError(f"past --max-seconds {args.max_seconds:.0f}")
            peer = measure("peer", pairs, args.latency, deadline, args.peer_requests_delay)
        except (requests.RequestException, RuntimeError) as exc:
            # The watchdog stopped the tenant mid-run (or it never started): no figures.
            print(f"stopped at {pairs} pairs: {type(exc).__name__}: {exc}", flush=True)
            return 1
        print("\n" + render(pairs, args.latency, worker, peer), flush=True)
        if time.monotonic() > deadline:
            print(f"stopped: past --max-seconds {args.max_seconds:.0f}", flush=True)
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
