"""Retries: only transient failures, Retry-After honoured on the injected clock, always a stop."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
import responses

from graph.client import GraphClient
from graph.clock import ManualClock
from graph.errors import (
    BadRequest,
    PagingLimitExceeded,
    ServerError,
    Throttled,
    TransientError,
    Unauthorized,
)

GRAPH = "https://graph.microsoft.com/v1.0"
START = datetime(2027, 1, 4, 9, tzinfo=UTC)


class RotatingToken:
    """Hands out tok-1, tok-2... and records whether a fresh token was asked for."""

    def __init__(self) -> None:
        self.issued = 0
        self.forced = 0

    def token(self, *, force_refresh: bool = False) -> str:
        if force_refresh or self.issued == 0:
            self.issued += 1
        self.forced += int(force_refresh)
        return f"tok-{self.issued}"


def throttled(retry_after: str | None = None) -> dict[str, object]:
    headers = {"Retry-After": retry_after} if retry_after else {}
    return {
        "json": {
            "error": {
                "code": "ApplicationThrottled",
                "message": "Application is over its MailboxConcurrency limit.",
            }
        },
        "status": 429,
        "headers": headers,
    }


def make(clock: ManualClock, **kwargs: Any) -> tuple[GraphClient, RotatingToken]:
    token = RotatingToken()
    return GraphClient(GRAPH, token, requests.Session(), clock, **kwargs), token


@responses.activate
def test_a_400_is_not_retried() -> None:
    clock = ManualClock(START)
    responses.post(
        f"{GRAPH}/users/a/events",
        json={"error": {"code": "BadRequest", "message": "no"}},
        status=400,
    )
    client, _ = make(clock)
    with pytest.raises(BadRequest):
        client.request("POST", "/users/a/events", json={})
    assert len(responses.calls) == 1
    assert clock.now() == START
    assert client.stats.retries == 0


@responses.activate
def test_a_429_with_retry_after_7_sleeps_7_seconds_and_logs_the_retry(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = ManualClock(START)
    url = f"{GRAPH}/users/organizer@contoso.com/events"
    responses.post(url, **throttled("7"))
    responses.post(url, json={"id": "e1"}, status=201)
    client, _ = make(clock)
    with caplog.at_level(logging.WARNING, logger="graph.client"):
        response = client.request(
            "POST", "/users/organizer@contoso.com/events", json={"subject": "s"}
        )
    assert response.json() == {"id": "e1"}
    assert clock.now() == START + timedelta(seconds=7)
    assert (
        "attempt 1/6 failed with 429 ApplicationThrottled on POST "
        "/v1.0/users/organizer@contoso.com/events; will retry in 7.0 s"
    ) in caplog.text
    assert "tok-" not in caplog.text and "subject" not in caplog.text
    ids = {call.request.headers["client-request-id"] for call in responses.calls}
    assert len(ids) == 1, "a retried POST keeps its client-request-id"
    assert client.stats.throttled == 1 and client.stats.retries == 1 and client.stats.writes == 2


@responses.activate
def test_a_503_then_200_succeeds_after_a_jittered_backoff() -> None:
    clock = ManualClock(START)
    responses.get(
        f"{GRAPH}/users",
        status=503,
        json={"error": {"code": "serviceNotAvailable", "message": "x"}},
    )
    responses.get(f"{GRAPH}/users", json={"value": []})
    client, _ = make(clock)
    assert client.request("GET", "/users").status == 200
    assert START <= clock.now() <= START + timedelta(seconds=1)
    assert client.stats.by_status == {503: 1, 200: 1}


@responses.activate
def test_it_gives_up_after_max_attempts_and_raises_the_last_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = ManualClock(START)
    for n in range(4):
        responses.get(
            f"{GRAPH}/users",
            status=503,
            headers={"request-id": f"rid-{n}"},
            json={"error": {"code": "serviceNotAvailable", "message": "busy"}},
        )
    client, _ = make(clock, max_attempts=3)
    with (
        caplog.at_level(logging.WARNING, logger="graph.client"),
        pytest.raises(ServerError) as caught,
    ):
        client.request("GET", "/users")
    assert len(responses.calls) == 3
    assert caught.value.request_id == "rid-2"
    assert "giving up on GET /v1.0/users after attempt 3/3: 503 serviceNotAvailable" in caplog.text


@responses.activate
def test_a_retry_after_beyond_the_wait_budget_stops_at_once() -> None:
    clock = ManualClock(START)
    responses.get(f"{GRAPH}/users", **throttled("300"))
    client, _ = make(clock, max_retry_wait=120)
    with pytest.raises(Throttled) as caught:
        client.request("GET", "/users")
    assert caught.value.retry_after == 300
    assert len(responses.calls) == 1 and clock.now() == START


@responses.activate
def test_the_total_wait_is_bounded_across_attempts() -> None:
    clock = ManualClock(START)
    for _ in range(6):
        responses.get(f"{GRAPH}/users", **throttled("50"))
    client, _ = make(clock, max_retry_wait=120)
    with pytest.raises(Throttled):
        client.request("GET", "/users")
    assert len(responses.calls) == 3
    assert clock.now() == START + timedelta(seconds=100)


@responses.activate
def test_a_401_fetches_a_fresh_token_once_and_succeeds() -> None:
    clock = ManualClock(START)
    responses.get(
        f"{GRAPH}/users/a",
        status=401,
        json={"error": {"code": "InvalidAuthenticationToken", "message": "expired"}},
    )
    responses.get(f"{GRAPH}/users/a", json={"id": "a"})
    client, token = make(clock)
    assert client.request("GET", "/users/a").json() == {"id": "a"}
    assert token.forced == 1
    assert responses.calls[1].request.headers["Authorization"] == "Bearer tok-2"


@responses.activate
def test_a_second_401_raises_unauthorized_without_retrying_further() -> None:
    clock = ManualClock(START)
    for _ in range(3):
        responses.get(
            f"{GRAPH}/users/a",
            status=401,
            json={"error": {"code": "InvalidAuthenticationToken", "message": "no"}},
        )
    client, token = make(clock)
    with pytest.raises(Unauthorized):
        client.request("GET", "/users/a")
    assert len(responses.calls) == 2 and token.forced == 1


@responses.activate
def test_paging_follows_next_link_to_the_end() -> None:
    clock = ManualClock(START)
    responses.get(
        f"{GRAPH}/users/a/calendarView",
        match=[responses.matchers.query_param_matcher({"startDateTime": "s", "endDateTime": "e"})],
        json={
            "value": [{"id": 1}, {"id": 2}],
            "@odata.nextLink": f"{GRAPH}/users/a/calendarView?$skiptoken=p2",
        },
    )
    responses.get(
        f"{GRAPH}/users/a/calendarView",
        match=[responses.matchers.query_param_matcher({"$skiptoken": "p2"})],
        json={
            "value": [{"id": 3}],
            "@odata.nextLink": f"{GRAPH}/users/a/calendarView?$skiptoken=p3",
        },
    )
    responses.get(
        f"{GRAPH}/users/a/calendarView",
        match=[responses.matchers.query_param_matcher({"$skiptoken": "p3"})],
        json={"value": [{"id": 4}]},
    )
    client, _ = make(clock)
    items = list(client.paged("/users/a/calendarView", {"startDateTime": "s", "endDateTime": "e"}))
    assert [item["id"] for item in items] == [1, 2, 3, 4]


@responses.activate
def test_paging_stops_with_an_error_when_next_links_never_end() -> None:
    clock = ManualClock(START)
    pages = iter(range(100))

    def next_page(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        link = f"{GRAPH}/users?$skiptoken={next(pages)}"  # a new page each time: no loop
        return 200, {"Content-Type": "application/json"}, json.dumps(
            {"value": [{"id": 1}], "@odata.nextLink": link})

    responses.add_callback(responses.GET, f"{GRAPH}/users", callback=next_page)
    client, _ = make(clock)
    with pytest.raises(PagingLimitExceeded):
        list(client.paged("/users", max_pages=5))
    assert len(responses.calls) == 5



NOTIFY = f"{GRAPH}/users/a/teamwork/sendActivityNotification"


@responses.activate
def test_a_non_idempotent_post_is_not_retried_after_a_lost_answer() -> None:
    client, _ = make(ManualClock(START))
    responses.post(NOTIFY, body=requests.ConnectionError("connection reset"))
    responses.post(NOTIFY, status=204)
    with pytest.raises(TransientError):
        client.request("POST", "/users/a/teamwork/sendActivityNotification", json={},
                       idempotent=False)
    assert len(responses.calls) == 1


@responses.activate
def test_a_non_idempotent_post_is_retried_after_a_429() -> None:
    client, _ = make(ManualClock(START))
    responses.post(NOTIFY, **throttled("2"))
    responses.post(NOTIFY, status=204)
    client.request("POST", "/users/a/teamwork/sendActivityNotification", json={},
                   idempotent=False)
    assert len(responses.calls) == 2
