"""The sandbox over HTTP, on 127.0.0.1 only: for the demo, benchmarks, and other processes.

Serves the same `Sandbox.handle` as the in-process adapter. The tenant state is saved to a
file on shutdown and every `save_every` seconds, so a long demo survives a restart.
`--record FILE` appends every request (secrets removed) to a JSON-lines file.

    python -m graph.sandbox.server --port 8765 --state sandbox-state.json --record requests.jsonl

Binding to any address other than loopback is refused: the sandbox has no real auth on its
control API and must never be reachable from another machine.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import Any

from graph.clock import Clock, ManualClock, SystemClock
from graph.sandbox.faults import FaultAbort
from graph.sandbox.tenant_app import Sandbox, load_or_create
from graph.sandbox.transport import response_headers, to_sandbox_request

log = logging.getLogger(__name__)

LOOPBACK_HOSTS = ("127.0.0.1", "localhost")
MAX_BODY_BYTES = 16 * 1024 * 1024


class SandboxHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, sandbox: Sandbox, host: str = "127.0.0.1", port: int = 0) -> None:
        if host not in LOOPBACK_HOSTS:
            raise ValueError(f"the sandbox only binds to 127.0.0.1, not {host!r}")
        self.sandbox = sandbox
        super().__init__(("127.0.0.1", port), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away mid-answer (killed, timed out) is part of the job, not an
        error: logged at debug level, never a traceback on stderr."""
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError):
            log.debug("sandbox http: client %s went away: %s", client_address, exc)
            return
        log.exception("sandbox http: request from %s failed", client_address)

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


class _Handler(BaseHTTPRequestHandler):
    server: SandboxHTTPServer
    protocol_version = "HTTP/1.1"
    # Headers and body go out as two writes; with Nagle's algorithm on, the body waits for the
    # client's delayed ACK of the headers (~40 ms per answer on a kept-alive connection).
    disable_nagle_algorithm = True

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self.send_error(413)
            return
        body = self.rfile.read(length) if length else b""
        host = self.headers.get("Host") or "127.0.0.1"
        req = to_sandbox_request(
            self.command,
            f"http://{host}{self.path}",
            {k: v for k, v in self.headers.items()},
            body,
            scheme_default="http",
        )
        try:
            answer = self.server.sandbox.handle(req)
        except FaultAbort:
            # Simulated network failure: close without a response.
            self.close_connection = True
            return
        payload = answer.encoded()
        self.send_response(answer.status)
        for key, value in response_headers(answer, payload).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        # Paths only, at debug level; the recorder is the place for request detail.
        log.debug("sandbox http: " + format, *args)


def start_in_thread(sandbox: Sandbox, port: int = 0) -> tuple[SandboxHTTPServer, str]:
    """Start serving in a daemon thread; stop with `server.shutdown(); server.server_close()`."""
    server = SandboxHTTPServer(sandbox, "127.0.0.1", port)
    thread = threading.Thread(target=server.serve_forever, name="sandbox-http", daemon=True)
    thread.start()
    return server, server.base_url


def serve(
    sandbox: Sandbox,
    port: int,
    state_file: str | Path | None = None,
    record_file: str | Path | None = None,
    *,
    save_every: float = 30.0,
    stop: threading.Event | None = None,
    install_signals: bool = True,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve until SIGINT/SIGTERM (or `stop` is set); save state periodically and at the end."""
    if record_file is not None:
        from graph.sandbox.recorder import Recorder

        sandbox.recorder.close()
        sandbox.recorder = Recorder(record_file)
    stop = stop or threading.Event()
    if install_signals:

        def _on_signal(signum: int, frame: FrameType | None) -> None:
            stop.set()

        signal.signal(signal.SIGINT, _on_signal)
        signal.signal(signal.SIGTERM, _on_signal)
    server, base = start_in_thread(sandbox, port)
    log.info("sandbox tenant %s listening on %s", sandbox.state.tenant_id, base)
    if on_ready is not None:
        on_ready(base)
    try:
        while not stop.wait(save_every):
            if state_file is not None:
                sandbox.save(state_file)
    finally:
        server.shutdown()
        server.server_close()
        if state_file is not None:
            sandbox.save(state_file)
        sandbox.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the Microsoft Graph sandbox tenant.")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--state", type=Path, help="state file: loaded at start, saved on exit")
    parser.add_argument("--record", type=Path, help="append received requests (JSON lines)")
    parser.add_argument("--save-every", type=float, default=30.0)
    parser.add_argument(
        "--manual-clock",
        metavar="ISO",
        help="start a simulated clock at this instant (moved with POST /_sandbox/clock)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    clock: Clock = SystemClock()
    if args.manual_clock:
        start = datetime.fromisoformat(args.manual_clock)
        clock = ManualClock(start if start.tzinfo else start.replace(tzinfo=UTC))
    sandbox = load_or_create(args.state, clock)
    serve(sandbox, args.port, args.state, args.record, save_every=args.save_every)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
