"""Shared helpers for end-to-end tests: a sandbox tenant, a shared clock and a worker client."""

from __future__ import annotations

import atexit
import json
import logging
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from requests.adapters import BaseAdapter

ROOT = Path(__file__).resolve().parent.parent
# The example program as shipped (./config): the demo runs it, with every optional feature on.
SHIPPED_CONFIG = ROOT / "config"
# Where the optional features begin: program.yaml's (publishing, pulse, health, digest,
# matching) and pairings.yaml's (executives' assistants).
OPTIONAL_FEATURES = "# --- Optional features"


def _base_config() -> Path:
    """The example program without its optional features: what most end-to-end tests pin (the
    booking, the notes list, the nudges of a program that asks nothing more). Each feature's
    own tests turn it on, on a copy of this. A copy per test process, removed at its exit."""
    folder = Path(tempfile.mkdtemp(prefix="mentoring-example-")) / "config"
    atexit.register(shutil.rmtree, folder.parent, True)
    shutil.copytree(SHIPPED_CONFIG, folder)
    for name in ("program.yaml", "pairings.yaml"):
        path = folder / name
        text = path.read_text(encoding="utf-8")
        assert OPTIONAL_FEATURES in text, f"{name} lost its optional features' heading"
        path.write_text(text.split(OPTIONAL_FEATURES, 1)[0], encoding="utf-8")
    return folder


EXAMPLE_CONFIG = _base_config()
TEMPLATES = ROOT / "templates"

WRITE_METHODS = {"POST", "PATCH", "PUT", "DELETE"}
READ_ONLY_POSTS = ("/getschedule", "/$batch", "/oauth2/v2.0/token")


def is_write(method: str, url: str, body: Any = None) -> bool:
    """A request that changes the tenant (getSchedule, $batch of reads, tokens do not; a
    `$batch` carrying a write does)."""
    if method.upper() not in WRITE_METHODS:
        return False
    path = url.split("?", 1)[0].lower()
    if path.endswith("/$batch") and body:
        text = body.decode() if isinstance(body, bytes) else str(body)
        return any(is_write(str(r.get("method", "")), str(r.get("url", "")))
                   for r in json.loads(text).get("requests", []))
    return not path.endswith(READ_ONLY_POSTS)


class Killed(BaseException):
    """The process died: raised past every `except Exception` like a SIGKILL would stop it."""


class KillAfterWrites(BaseAdapter):
    """Lets the sandbox carry out the k-th write, then 'kills' the worker before it sees the
    answer: the worst moment, when Graph has done something the worker never learns about."""

    def __init__(self, inner: BaseAdapter, kill_after: int) -> None:
        super().__init__()
        self.inner = inner
        self.kill_after = kill_after
        self.writes = 0

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        response = self.inner.send(request, **kwargs)
        if is_write(request.method or "", request.url or "", request.body):
            self.writes += 1
            if self.writes == self.kill_after:
                raise Killed(f"killed after write {self.writes}: {request.method} {request.url}")
        return response

    def close(self) -> None:
        self.inner.close()


class CountingAdapter(BaseAdapter):
    """Counts every request by method and whether it writes."""

    def __init__(self, inner: BaseAdapter) -> None:
        super().__init__()
        self.inner = inner
        self.calls: list[tuple[str, str, int]] = []
        self.bodies: list[Any] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        response = self.inner.send(request, **kwargs)
        self.calls.append((request.method or "", request.url or "", response.status_code))
        self.bodies.append(request.body)
        return response

    def writes(self) -> list[tuple[str, str, int]]:
        return [c for c, body in zip(self.calls, self.bodies, strict=True)
                if is_write(c[0], c[1], body)]

    def close(self) -> None:
        self.inner.close()


def wrap_session(session: requests.Session, wrapper: Any) -> Any:
    """Put `wrapper(inner_adapter)` in front of the session's adapters; returns the wrapper."""
    inner = session.get_adapter("https://graph.microsoft.com/")
    outer = wrapper(inner)
    session.mount("https://", outer)
    session.mount("http://", outer)
    return outer


def tagged_event_counts(sandbox: Any, organizer: str) -> Counter[str]:
    """Live events per session key in the organizer's calendar, read from the sandbox store."""
    from graph.sandbox.calendar import store_of

    owner = sandbox.state.directory.get(organizer)
    counts: Counter[str] = Counter()
    for event in store_of(sandbox).calendar(owner.id).values():
        value = _tag(event)
        if value is not None and not event.get("isCancelled"):
            counts[value] += 1
    return counts


def _tag(event: Mapping[str, Any]) -> str | None:
    for prop in event.get("singleValueExtendedProperties") or []:
        if str(prop.get("id", "")).lower().endswith("name mentoringsession"):
            return str(prop.get("value"))
    return None


@pytest.fixture(autouse=True)
def _log_handlers_of_the_test_only() -> Iterator[None]:
    """`mentoring` commands put their own handler on the root logger, writing to the stream of
    the test that ran them (pytest's capture, closed after it): take it away after each test,
    so a later test's logging does not write into a closed stream."""
    root = logging.getLogger()
    level = root.level
    yield
    for handler in list(root.handlers):
        if getattr(handler, "_mentoring", False):
            root.removeHandler(handler)
    root.setLevel(level)


@pytest.fixture
def demo_start() -> datetime:
    return datetime(2027, 1, 4, 6, 0, tzinfo=UTC)


def app_session(sandbox: Any, client_id: str) -> requests.Session:
    """A session that reaches `sandbox` in-process, signed in as the app `client_id` with a
    token the sandbox issues directly (the sandbox's own tests; the worker signs in through
    msal)."""
    from graph.sandbox.transport import sandbox_session

    session = sandbox_session(sandbox)
    session.headers["Authorization"] = f"Bearer {sandbox.token_for(client_id)}"
    return session
