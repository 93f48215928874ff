"""`$batch`: chunks of 20, results by id, only failed inner requests retried, errors returned."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
import responses

from graph.batch import BatchRequest
from graph.client import GraphClient
from graph.clock import ManualClock
from graph.errors import NotFound, Throttled

GRAPH = "https://graph.microsoft.com/v1.0"
START = datetime(2027, 1, 4, 9, tzinfo=UTC)

Answer = Callable[[dict[str, Any], int], dict[str, Any]]


class Token:
    def token(self, *, force_refresh: bool = False) -> str:
        return "tok"


def serve_batch(answer: Answer) -> list[list[dict[str, Any]]]:
    """Mount a `$batch` endpoint answering each inner request with `answer(request, round)`;
    returns the inner requests of every POST, in order. Answers come back reversed, as
    Graph does not promise order."""
    seen: list[list[dict[str, Any]]] = []

    def callback(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        inner = json.loads(request.body or b"{}")["requests"]
        seen.append(inner)
        answers = [{"id": r["id"], **answer(r, len(seen))} for r in inner]
        return 200, {"Content-Type": "application/json"}, json.dumps(
            {"responses": list(reversed(answers))})

    responses.add_callback(responses.POST, f"{GRAPH}/$batch", callback=callback)
    return seen


def make(clock: ManualClock) -> GraphClient:
    return GraphClient(GRAPH, Token(), requests.Session(), clock)


def ok(request: dict[str, Any], _round: int) -> dict[str, Any]:
    return {"status": 200, "body": {"echo": request["url"]}}


@responses.activate
def test_45_requests_go_out_as_20_20_and_5_with_results_in_input_order() -> None:
    seen = serve_batch(ok)
    client = make(ManualClock(START))
    reqs = [BatchRequest(str(i), "GET", f"/users/u{i}") for i in range(45)]
    results = client.batch(reqs)
    assert [len(batch) for batch in seen] == [20, 20, 5]
    assert [r.id for r in results] == [str(i) for i in range(45)]
    assert results[44].json() == {"echo": "/users/u44"}
    assert client.stats.requests == 3 and client.stats.batch_inner_requests == 45


@responses.activate
def test_only_the_inner_429_is_retried_after_its_own_retry_after(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def answer(request: dict[str, Any], round_: int) -> dict[str, Any]:
        if request["id"] == "b" and round_ == 1:
            return {
                "status": 429,
                "headers": {"Retry-After": "4"},
                "body": {"error": {"code": "ApplicationThrottled", "message": "slow down"}},
            }
        return {"status": 201, "body": {"id": request["id"]}}

    seen = serve_batch(answer)
    clock = ManualClock(START)
    client = make(clock)
    reqs = [BatchRequest(i, "POST", "/users/o/events", body={"subject": i}) for i in "abc"]
    with caplog.at_level(logging.WARNING, logger="graph.client"):
        results = client.batch(reqs)
    assert [[r["id"] for r in batch] for batch in seen] == [["a", "b", "c"], ["b"]]
    assert clock.now() == START + timedelta(seconds=4)
    assert all(r.ok and r.status == 201 for r in results)
    assert "1 of 3 inner requests failed (429 ApplicationThrottled)" in caplog.text
    assert client.stats.throttled == 1 and client.stats.retries == 1 and client.stats.writes == 4


@responses.activate
def test_an_inner_404_is_returned_as_not_found_without_losing_the_others() -> None:
    def answer(request: dict[str, Any], _round: int) -> dict[str, Any]:
        if request["id"] == "2":
            return {
                "status": 404,
                "body": {"error": {"code": "ErrorItemNotFound", "message": "gone"}},
            }
        return {"status": 200, "body": {}}

    seen = serve_batch(answer)
    results = make(ManualClock(START)).batch(
        [BatchRequest(str(i), "GET", f"/users/o/events/{i}") for i in range(3)]
    )
    assert len(seen) == 1, "a 404 is not retried"
    failed = results[2]
    assert failed.id == "2" and isinstance(failed.error, NotFound)
    assert failed.error.path == "/users/o/events/2" and failed.error.code == "ErrorItemNotFound"
    assert results[0].ok and results[1].ok


@responses.activate
def test_dependent_requests_stay_in_one_chunk_and_are_retried_with_their_dependency() -> None:
    first_time: set[str] = set()

    def answer(request: dict[str, Any], _round: int) -> dict[str, Any]:
        first = request["id"] not in first_time
        first_time.add(request["id"])
        if first and request["id"] == "19":
            return {"status": 503, "headers": {"Retry-After": "2"}, "body": None}
        if first and request.get("dependsOn") == ["19"]:
            return {"status": 424, "body": {"error": {"code": "FailedDependency", "message": "x"}}}
        return {"status": 200, "body": {}}

    seen = serve_batch(answer)
    reqs = [BatchRequest(str(i), "GET", f"/users/u{i}") for i in range(19)]
    reqs += [
        BatchRequest("19", "POST", "/users/o/events", body={}),
        BatchRequest("20", "PATCH", "/sites/s/lists/l/items/1/fields", body={}, depends_on=("19",)),
    ]
    results = make(ManualClock(START)).batch(reqs)
    assert [len(batch) for batch in seen] == [19, 2, 2]
    assert seen[1][1]["dependsOn"] == ["19"]
    assert [r["id"] for r in seen[2]] == ["19", "20"]
    assert all(r.ok for r in results)


@responses.activate
def test_inner_throttling_gives_up_after_the_attempt_limit_and_reports_it() -> None:
    def answer(request: dict[str, Any], _round: int) -> dict[str, Any]:
        return {"status": 429, "headers": {"Retry-After": "1"}, "body": None}

    seen = serve_batch(answer)
    clock = ManualClock(START)
    client = GraphClient(GRAPH, Token(), requests.Session(), clock, max_attempts=3)
    [result] = client.batch([BatchRequest("1", "GET", "/users/a")])
    assert len(seen) == 3
    assert isinstance(result.error, Throttled) and result.error.retry_after == 1
    assert clock.now() == START + timedelta(seconds=2)


@responses.activate
def test_an_outer_503_is_retried_like_any_request() -> None:
    responses.post(f"{GRAPH}/$batch", status=503, json={"error": {"code": "x", "message": "y"}})
    seen = serve_batch(ok)
    results = make(ManualClock(START)).batch([BatchRequest("1", "GET", "/users/a")])
    assert len(seen) == 1 and results[0].ok


def test_bad_batches_are_refused_before_anything_is_sent() -> None:
    client = make(ManualClock(START))
    with pytest.raises(ValueError, match="unique"):
        client.batch([BatchRequest("1", "GET", "/a"), BatchRequest("1", "GET", "/b")])
    with pytest.raises(ValueError, match="unknown id"):
        client.batch([BatchRequest("1", "GET", "/a", depends_on=("9",))])
    chain = [BatchRequest("0", "GET", "/a")] + [
        BatchRequest(str(i), "GET", "/a", depends_on=(str(i - 1),)) for i in range(1, 21)
    ]
    with pytest.raises(ValueError, match="limit of 20"):
        client.batch(chain)
