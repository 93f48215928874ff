"""The worker as its own OS process, on the sandbox's clock: what the kill harness kills.

    python -m benchmarks.faults.worker_process run      # MENTORING_* from the environment
    python -m benchmarks.faults.worker_process --wait run   # start once a line comes on stdin

This is `mentoring` (`worker.cli.main.main`, the same settings, credential, client and run)
with one difference: the time. The container job reads the system clock; here the clock is the
sandbox tenant's, read over its control API, so the worker and the tenant agree on a simulated
instant (the program's first morning, whatever today is) and a run does the same work each
time it is started. Sleeping (pacing, `Retry-After`) moves that clock forward instead of
waiting, as `ManualClock` does in-process, so a run takes only the real time its requests take.
`--wait` lets the harness start the process (and its imports) ahead of time and say when the
run begins, so the seconds it measures are the run's.
"""

from __future__ import annotations

import os
import sys
import threading
from datetime import datetime

import requests

from worker.cli.main import main as mentoring


class SandboxClock:
    """`graph.clock.Clock` read from and moved through ``/_sandbox/clock``."""

    def __init__(self, base_url: str) -> None:
        self.url = base_url.rstrip("/") + "/_sandbox/clock"
        self._http = requests.Session()
        self._http.trust_env = False  # the sandbox is on 127.0.0.1: never through a proxy
        self._lock = threading.Lock()  # one Session, used by the run's threads in turn

    def _answer(self, response: requests.Response) -> datetime:
        if response.status_code != 200:
            raise RuntimeError(f"the sandbox clock answered {response.status_code}")
        return datetime.fromisoformat(str(response.json()["now"]))

    def now(self) -> datetime:
        with self._lock:
            return self._answer(self._http.get(self.url, timeout=(2, 10)))

    def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            return
        with self._lock:
            self._answer(self._http.post(self.url, json={"advance": seconds}, timeout=(2, 10)))


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["--wait"]:
        args = args[1:]
        sys.stdin.readline()
    base = os.environ.get("MENTORING_GRAPH_URL")
    if not base:
        print("MENTORING_GRAPH_URL must point at the sandbox", file=sys.stderr)
        return 2
    return mentoring(args, clock=SandboxClock(base))


if __name__ == "__main__":
    raise SystemExit(main())
