"""The sandbox tenant for the peer benchmark, served over HTTP from a child process.

Graph is another machine for both tools, so the tenant runs in its own process (its free/busy
work does not share the tools' interpreter lock) and both reach it over a socket on 127.0.0.1.
The parent writes one JSON line on standard input:

    {"pairs": 50, "seed": 11, "latency": 0.05, "now": ISO, "apps": [{"client_id", "secret",
     "roles"}], "max_seconds": 1800}

and reads one line back once the server listens: ``{"base_url", "tenant_id", "pairs"}``. The
server stops when standard input closes, or by itself after `max_seconds`.

Besides the sandbox's own control API it answers two benchmark routes (no auth, loopback only):
* ``GET /_sandbox/bench/counters``: HTTP requests received, Graph operations (each request
  inside a `$batch` counts, the `$batch` envelope does not), login requests, 429s (top-level
  and inner) and 5xx, all since start; the control API's own requests are not counted;
* ``GET /_sandbox/bench/quality``: `benchmarks.peer.quality.check` of the state as it is now.

The clock is `ShiftedClock`: the simulated date the benchmark needs, moving at real speed, so
tokens, throttling windows and every `Retry-After` sleep take real time for both tools.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from graph.clock import ManualClock
from graph.sandbox.core import GraphError, Route, SandboxRequest, SandboxResponse, json_response
from graph.sandbox.faults import FaultRule
from graph.sandbox.fixtures import compatible_pairs, generated_tenant
from graph.sandbox.recorder import Recorder
from graph.sandbox.server import start_in_thread
from graph.sandbox.tenant_app import Sandbox
from graph.sandbox.throttle import ThrottleConfig

DOMAIN = "bench.contoso.com"
ORGANIZER = f"mentoring@{DOMAIN}"
CALENDAR_DAYS_BEFORE, CALENDAR_DAYS_AFTER = 7, 70


class ShiftedClock(ManualClock):
    """Wall time moved to another instant: `now` advances in real time from `start`, `sleep`
    really sleeps, and `advance` still jumps (the job's next scheduled run)."""

    def __init__(self, start: datetime) -> None:
        super().__init__(start)
        self._since = time.monotonic()

    def now(self) -> datetime:
        return super().now() + timedelta(seconds=time.monotonic() - self._since)

    def set(self, instant: datetime) -> None:
        super().set(instant)
        self._since = time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class CountingRecorder(Recorder):
    """Counts every request the pipeline records: top-level ones and each inside a `$batch`."""

    def __init__(self) -> None:
        super().__init__(keep=1)
        self.counts: Counter[str] = Counter()
        self._counting = threading.Lock()

    def record(self, req: SandboxRequest, status: int | str, service: str | None,
               at: str) -> None:
        if req.path.startswith("/_sandbox"):
            return
        with self._counting:
            if req.version and req.path.rstrip("/").lower() != "/$batch":
                self.counts["graph_operations"] += 1
                if service == "outlook":
                    self.counts["outlook_operations"] += 1
                    if req.path.lower().endswith("/getschedule"):
                        self.counts["getschedule_calls"] += 1
                    elif req.method.upper() != "GET":
                        self.counts["outlook_writes"] += 1
            elif not req.version:
                self.counts["login_requests"] += 1
            if status == 429:
                self.counts["throttled"] += 1
            elif isinstance(status, int) and status >= 500:
                self.counts["server_errors"] += 1


class CountingSandbox(Sandbox):
    """Counts HTTP requests as they arrive (`handle` is the HTTP front end's only entry;
    `$batch` runs its inner requests through `dispatch`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.http_requests = 0
        self.outlook_seconds = 0.0
        self._request = threading.local()  # per HTTP thread: the request being served
        self._arrivals = threading.Lock()  # not the state lock: counting must not wait on it

    def handle(self, req: SandboxRequest) -> SandboxResponse:
        """Times each Outlook request as Graph would count it in flight: from reaching the
        service to its answer (routing, sign-in check, throttling, the injected latency, the
        sandbox's own work); `$batch`'s inner requests one by one (`_pipeline`). What the
        4-in-flight ceiling is measured against."""
        if not req.path.startswith("/_sandbox"):
            with self._arrivals:
                self.http_requests += 1
        self._request.service = None
        started = time.perf_counter()
        try:
            return super().handle(req)
        finally:
            if self._request.service == "outlook":
                self._add(time.perf_counter() - started)

    def _pipeline(self, req: SandboxRequest, route: Route | None, params: dict[str, str],
                  route_error: GraphError | None) -> SandboxResponse:
        if getattr(self._request, "service", "inner") is None:
            # The top-level request: `handle` times it whole.
            self._request.service = route.service if route is not None else ""
            return super()._pipeline(req, route, params, route_error)
        started = time.perf_counter()  # a request inside a `$batch`
        try:
            return super()._pipeline(req, route, params, route_error)
        finally:
            if route is not None and route.service == "outlook":
                self._add(time.perf_counter() - started)

    def _add(self, seconds: float) -> None:
        with self._arrivals:
            self.outlook_seconds += seconds


def _counters(sb: Sandbox, req: SandboxRequest) -> SandboxResponse:
    recorder = sb.recorder
    counts = dict(recorder.counts) if isinstance(recorder, CountingRecorder) else {}
    counts["http_requests"] = getattr(sb, "http_requests", 0)
    # Milliseconds, so every counter is an integer.
    counts["outlook_ms"] = round(1000 * getattr(sb, "outlook_seconds", 0.0))
    return json_response(counts)


def _quality(sb: Sandbox, req: SandboxRequest) -> SandboxResponse:
    from benchmarks.peer.quality import check

    with sb.lock:
        return json_response(check(sb.state, ORGANIZER).as_dict())


def build(spec: dict[str, Any]) -> tuple[CountingSandbox, list[tuple[str, str]]]:
    """The generated tenant of `spec["pairs"]` pairs, its apps registered, latency injected."""
    from benchmarks.bench_run import START

    clock = ShiftedClock(datetime.fromisoformat(str(spec["now"])))
    state = generated_tenant(int(spec["pairs"]), seed=int(spec.get("seed", 11)),
                             first=START - timedelta(days=CALENDAR_DAYS_BEFORE),
                             last=START + timedelta(days=CALENDAR_DAYS_AFTER),
                             domain=DOMAIN, clock=clock)
    scale = spec.get("throttle_scale")
    throttle = ThrottleConfig().scaled(float(scale)) if scale else None
    sandbox = CountingSandbox(state, clock, throttle=throttle)
    sandbox.recorder = CountingRecorder()
    for app in spec.get("apps", []):
        sandbox.register_app(str(app["client_id"]), secret=str(app["secret"]),
                             roles=list(app["roles"]), display_name=str(app.get("name", "")))
    latency = float(spec.get("latency", 0.0))
    if latency:
        # Graph's own time per Outlook call (real seconds, outside the state lock).
        sandbox.faults.add(FaultRule(kind="latency", service="outlook", latency=latency))
    sandbox.router.add("GET", "/_sandbox/bench/counters", _counters, service="sandbox")
    sandbox.router.add("GET", "/_sandbox/bench/quality", _quality, service="sandbox")
    # At the sizes of the benchmarks every mentee finds a mentor; past them, a mentee no free
    # mentor shares hours with is left out rather than the benchmark refused.
    return sandbox, compatible_pairs(state, skip_unmatched=True)


def main() -> int:
    spec = json.loads(sys.stdin.readline())
    sandbox, pairs = build(spec)
    server, base_url = start_in_thread(sandbox)
    print(json.dumps({"base_url": base_url, "tenant_id": sandbox.state.tenant_id,
                      "pairs": pairs}), flush=True)
    # Standard input closing is the parent's "stop"; the timer is the bound if it never does.
    done = threading.Event()

    def wait_for_eof() -> None:
        sys.stdin.read()
        done.set()

    threading.Thread(target=wait_for_eof, daemon=True).start()
    done.wait(float(spec.get("max_seconds", 1800)))
    server.shutdown()
    server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
