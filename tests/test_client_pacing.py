"""Per-mailbox pacing: at most 4 requests in flight per mailbox, and a sliding request window."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from requests.adapters import BaseAdapter

from graph.batch import BatchRequest
from graph.client import GraphClient
from graph.clock import ManualClock
from graph.pacing import MailboxPacer

GRAPH = "https://graph.microsoft.com/v1.0"
START = datetime(2027, 1, 4, 9, tzinfo=UTC)


class Token:
    def token(self, *, force_refresh: bool = False) -> str:
        return "tok"


class HoldingAdapter(BaseAdapter):
    """Answers 200 only when released, counting requests in flight per mailbox path."""

    def __init__(self) -> None:
        super().__init__()
        self.cond = threading.Condition()
        self.in_flight: dict[str, int] = {}
        self.most: dict[str, int] = {}
        self.released = False

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        mailbox = str(request.url).split("/users/")[1].split("/")[0]
        with self.cond:
            self.in_flight[mailbox] = self.in_flight.get(mailbox, 0) + 1
            self.most[mailbox] = max(self.most.get(mailbox, 0), self.in_flight[mailbox])
            self.cond.notify_all()
            self.cond.wait_for(lambda: self.released, timeout=5)
            self.in_flight[mailbox] -= 1
        response = requests.Response()
        response.status_code = 200
        response._content = b'{"value": []}'
        response.request = request
        return response

    def close(self) -> None:
        """Nothing to close."""

    def wait_until(self, mailbox: str, count: int, timeout: float) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: self.in_flight.get(mailbox, 0) >= count, timeout)

    def release(self) -> None:
        with self.cond:
            self.released = True
            self.cond.notify_all()


def test_a_fifth_request_to_one_mailbox_never_runs_concurrently_but_others_do() -> None:
    clock = ManualClock(START)
    adapter = HoldingAdapter()
    session = requests.Session()
    session.mount("https://", adapter)
    client = GraphClient(GRAPH, Token(), session, clock, pacer=MailboxPacer(clock))

    def call(mailbox: str) -> None:
        client.request("GET", f"/users/{mailbox}/events", mailbox=mailbox)

    busy = [threading.Thread(target=call, args=("mentor@contoso.com",)) for _ in range(8)]
    for thread in busy:
        thread.start()
    assert adapter.wait_until("mentor@contoso.com", 4, timeout=5)
    other = threading.Thread(target=call, args=("exec@contoso.com",))
    other.start()
    # Another mailbox is not held up by the busy one...
    assert adapter.wait_until("exec@contoso.com", 1, timeout=5)
    # ...while a fifth request to the busy mailbox does not arrive (bounded negative wait).
    assert not adapter.wait_until("mentor@contoso.com", 5, timeout=0.2)
    adapter.release()
    for thread in [*busy, other]:
        thread.join(timeout=5)
        assert not thread.is_alive()
    assert adapter.most == {"mentor@contoso.com": 4, "exec@contoso.com": 1}
    assert client.stats.requests == 9


def test_the_window_admits_its_headroom_then_waits_for_the_oldest_to_expire() -> None:
    clock = ManualClock(START)
    pacer = MailboxPacer(clock, max_per_window=10, window=600, headroom=0.9)
    for _ in range(9):
        with pacer.slot("Mentor@Contoso.com"):
            pass
    assert clock.now() == START
    with pacer.slot("mentor@contoso.com"):
        pass
    assert clock.now() == START + timedelta(seconds=600)
    with pacer.slot("exec@contoso.com"):
        pass
    assert clock.now() == START + timedelta(seconds=600), "other mailboxes are unaffected"


def test_batch_inner_requests_count_against_the_mailbox_they_address() -> None:
    clock = ManualClock(START)
    pacer = MailboxPacer(clock, max_per_window=10, window=600, headroom=1.0)
    session = requests.Session()

    class BatchAdapter(BaseAdapter):
        def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
            import json

            inner = json.loads(request.body or b"{}")["requests"]
            response = requests.Response()
            response.status_code = 200
            response._content = json.dumps(
                {"responses": [{"id": r["id"], "status": 201, "body": {}} for r in inner]}
            ).encode()
            return response

        def close(self) -> None:
            """Nothing to close."""

    session.mount("https://", BatchAdapter())
    client = GraphClient(GRAPH, Token(), session, clock, pacer=pacer)
    reqs = [
        BatchRequest(str(i), "POST", "/users/o/events", body={}, mailbox="o@contoso.com")
        for i in range(8)
    ]
    client.batch(reqs)
    assert clock.now() == START
    client.batch(reqs[:3])
    assert clock.now() == START + timedelta(seconds=600), "8 + 3 exceeds the window of 10"
