"""Answers that are not what Graph documents become `MalformedResponse`, never a traceback."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import responses
import urllib3
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from responses import matchers

from graph.batch import BatchRequest
from graph.client import GraphClient
from graph.clock import ManualClock
from graph.errors import (
    BrokenPaging,
    MalformedResponse,
    NotFound,
    OversizedResponse,
    ServerError,
    TransientError,
)
from tests.test_client_errors import GRAPH, START, StaticToken, make_client


@responses.activate
def test_a_body_cut_off_mid_json_is_a_malformed_response() -> None:
    responses.add(responses.GET, f"{GRAPH}/users/ava", body=b'{"id": "1", "displayN',
                  status=200, content_type="application/json")
    with pytest.raises(MalformedResponse) as caught:
        make_client().request("GET", "/users/ava").json()
    assert isinstance(caught.value, ServerError) and "/users/ava" in str(caught.value)
    assert caught.value.__cause__ is not None  # the decoding error, chained


@responses.activate
def test_an_html_page_answering_a_batch_is_a_malformed_response() -> None:
    responses.add(responses.POST, f"{GRAPH}/$batch", body=b"<html>proxy login</html>",
                  status=200, content_type="text/html")
    with pytest.raises(MalformedResponse):
        make_client().batch([BatchRequest(id="1", method="GET", url="/users/ava")])


@responses.activate
def test_a_batch_answer_without_responses_is_a_malformed_response() -> None:
    responses.add(responses.POST, f"{GRAPH}/$batch", json={"responses": "none"}, status=200)
    with pytest.raises(MalformedResponse):
        make_client().batch([BatchRequest(id="1", method="GET", url="/users/ava")])


@responses.activate
def test_a_page_whose_value_is_no_list_is_a_malformed_response() -> None:
    responses.add(responses.GET, f"{GRAPH}/users", json={"value": "oops"}, status=200)
    with pytest.raises(MalformedResponse):
        list(make_client().paged("/users"))


# -- what a body must be ----------------------------------------------------------------------


@responses.activate
def test_json_labelled_as_an_html_page_is_a_malformed_response() -> None:
    responses.add(responses.GET, f"{GRAPH}/users/ava", body=b'{"id": "1"}', status=200,
                  content_type="text/html; charset=utf-8")
    with pytest.raises(MalformedResponse) as caught:
        make_client().request("GET", "/users/ava").json()
    assert "text/html, not JSON" in str(caught.value)


@responses.activate
def test_a_body_nested_past_the_parser_stack_is_a_malformed_response() -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    responses.add(responses.GET, f"{GRAPH}/users/ava", body=deep, status=200,
                  content_type="application/json")
    with pytest.raises(MalformedResponse, match="RecursionError"):
        make_client().request("GET", "/users/ava").json()


@responses.activate
def test_an_object_answer_missing_its_id_names_the_field_not_the_value() -> None:
    responses.add(responses.POST, f"{GRAPH}/users/o/events", json={"id": 42, "subject": "x"},
                  status=201)
    with pytest.raises(MalformedResponse) as caught:
        make_client().request("POST", "/users/o/events", json={}).json_object("id")
    assert "`id` is a number, not a string" in str(caught.value)
    assert "POST /v1.0/users/o/events" in str(caught.value)


# -- how much of a body is read ---------------------------------------------------------------


def small_client(limit: int) -> GraphClient:
    client = make_client()
    client.max_response_bytes = limit
    return client


@responses.activate
def test_an_answer_over_the_size_bound_is_refused_without_retrying() -> None:
    responses.add(responses.GET, f"{GRAPH}/users", json={"value": [{"id": "x" * 5000}]})
    with pytest.raises(OversizedResponse) as caught:
        list(small_client(1000).paged("/users"))
    assert isinstance(caught.value, MalformedResponse) and "over 1000 bytes" in str(caught.value)
    assert len(responses.calls) == 1


class _Raw:
    """A response stream that yields `chunks`, then breaks off or goes on for ever."""

    def __init__(self, chunks: list[bytes], then: str) -> None:
        self.chunks = chunks
        self.then = then
        self.read_bytes = 0

    def stream(self, amount: int, decode_content: bool = True) -> Iterator[bytes]:
        yield from self.chunks
        if self.then == "break":
            raise urllib3.exceptions.ProtocolError("Connection broken: IncompleteRead")
        while True:  # an endless body: only the client's bound stops it
            self.read_bytes += amount
            yield b" " * amount

    def close(self) -> None:
        pass


class StreamingAdapter(BaseAdapter):
    def __init__(self, raw: _Raw, headers: dict[str, str] | None = None) -> None:
        super().__init__()
        self.raw = raw
        self.headers = headers or {}

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        assert kwargs.get("stream") is True, "the client reads bodies as a stream"
        response = requests.Response()
        response.status_code = 200
        response.headers = CaseInsensitiveDict(
            {"Content-Type": "application/json", **self.headers})
        response.raw = self.raw
        response.request = request
        return response

    def close(self) -> None:
        pass


def streaming_client(adapter: BaseAdapter, limit: int = 100_000) -> GraphClient:
    session = requests.Session()
    session.mount("https://", adapter)
    return GraphClient(GRAPH, StaticToken(), session, ManualClock(START),
                       max_response_bytes=limit, max_attempts=2)


def test_an_endless_body_is_read_only_up_to_the_bound() -> None:
    raw = _Raw([b'{"value": ['], then="endless")
    with pytest.raises(OversizedResponse):
        streaming_client(StreamingAdapter(raw)).request("GET", "/users")
    assert raw.read_bytes <= 100_000 + 64 * 1024


def test_a_declared_length_over_the_bound_is_refused_before_reading() -> None:
    raw = _Raw([b"{}"], then="endless")
    adapter = StreamingAdapter(raw, {"Content-Length": str(10**12)})
    with pytest.raises(OversizedResponse):
        streaming_client(adapter).request("GET", "/users")
    assert raw.read_bytes == 0


def test_an_answer_that_breaks_off_is_a_lost_answer_retried_like_one() -> None:
    raw = _Raw([b'{"value": [{"id": '], then="break")
    with pytest.raises(TransientError, match="broke off"):
        streaming_client(StreamingAdapter(raw)).request("GET", "/users")


@responses.activate
def test_an_error_answer_over_the_bound_keeps_its_status() -> None:
    responses.add(responses.GET, f"{GRAPH}/users/ava", body=b"x" * 5000, status=404,
                  content_type="text/html")
    with pytest.raises(NotFound):
        small_client(1000).request("GET", "/users/ava")


# -- nextLinks --------------------------------------------------------------------------------


def page(items: list[Any], next_link: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"value": items}
    if next_link is not None:
        body["@odata.nextLink"] = next_link
    return body


@responses.activate
def test_a_next_link_back_to_an_earlier_page_is_a_paging_loop() -> None:
    responses.get(f"{GRAPH}/users", match=[matchers.query_param_matcher({"$top": "2"})],
                  json=page([{"id": "1"}], f"{GRAPH}/users?$top=2&$skiptoken=b"))
    responses.get(f"{GRAPH}/users",
                  match=[matchers.query_param_matcher({"$top": "2", "$skiptoken": "b"})],
                  json=page([{"id": "2"}], f"{GRAPH}/users?$top=2"))
    with pytest.raises(BrokenPaging) as caught:
        list(make_client().paged("/users", {"$top": "2"}))
    assert "paging loop" in str(caught.value) and "GET /v1.0/users" in str(caught.value)
    assert len(responses.calls) == 2


@responses.activate
def test_a_next_link_to_the_same_page_is_a_paging_loop() -> None:
    responses.get(f"{GRAPH}/users", json=page([{"id": "1"}], f"{GRAPH}/users"))
    with pytest.raises(BrokenPaging, match="paging loop"):
        list(make_client().paged("/users"))
    assert len(responses.calls) == 1


@pytest.mark.parametrize(("link", "why"), [
    ("https://graph.microsoft.com.evil.example/v1.0/users?$skiptoken=2", "leads to"),
    ("https://evil.example/v1.0/users?$skiptoken=2", "leads to"),
    ("https://graph.microsoft.com@evil.example/v1.0/users", "leads to"),
    ("http://graph.microsoft.com/v1.0/users?$skiptoken=2", "leads to"),
    ("https://graph.microsoft.com:8443/v1.0/users?$skiptoken=2", "leads to"),
    ("/v1.0/users?$skiptoken=2", "not an absolute URL"),
    ("https://graph.microsoft.com/beta/users?$skiptoken=2", "root"),
    ("https://graph.microsoft.com/v1.0.evil/users", "root"),
    (42, "not a URL"),
])
@responses.activate
def test_a_next_link_away_from_graph_is_never_sent_the_token(link: Any, why: str) -> None:
    responses.get(f"{GRAPH}/users", json=page([{"id": "1"}], link))
    with pytest.raises(BrokenPaging, match=why) as caught:
        list(make_client().paged("/users"))
    assert len(responses.calls) == 1  # nothing went to the link
    assert "secret-token" not in str(caught.value) and "skiptoken" not in str(caught.value)


@responses.activate
def test_more_pages_than_the_guard_is_a_malformed_response() -> None:
    count = iter(range(100))

    def another(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        body = page([{"id": "1"}], f"{GRAPH}/users?$skiptoken={next(count)}")
        return 200, {"Content-Type": "application/json"}, json.dumps(body)

    responses.add_callback(responses.GET, f"{GRAPH}/users", callback=another)
    with pytest.raises(MalformedResponse, match="still more pages after 3"):
        list(make_client().paged("/users", max_pages=3))
    assert len(responses.calls) == 3


@responses.activate
def test_a_page_longer_than_the_top_asked_for_is_a_malformed_response() -> None:
    responses.get(f"{GRAPH}/users", json=page([{"id": str(i)} for i in range(11)]))
    with pytest.raises(MalformedResponse, match="11 entries, more than the 10 asked for"):
        list(make_client().paged("/users", {"$top": "10"}))


@responses.activate
def test_a_page_entry_that_is_not_an_object_fails_the_whole_page() -> None:
    responses.get(f"{GRAPH}/users", json=page([{"id": "1"}, "2"]))
    with pytest.raises(MalformedResponse, match="entry 1 of `value` is a string"):
        list(make_client().paged("/users"))


@responses.activate
def test_a_page_without_value_is_a_malformed_response() -> None:
    responses.get(f"{GRAPH}/users", json={"@odata.context": "x"})
    with pytest.raises(MalformedResponse, match="`value` is missing"):
        list(make_client().paged("/users"))


# -- $batch inner answers ---------------------------------------------------------------------


def batch_answer(*answers: Any) -> None:
    responses.add(responses.POST, f"{GRAPH}/$batch", json={"responses": list(answers)})


def three() -> list[BatchRequest]:
    return [BatchRequest(id=str(i), method="GET", url=f"/users/u{i}") for i in range(3)]


def ok(answer_id: str) -> dict[str, Any]:
    return {"id": answer_id, "status": 200, "body": {"id": f"user-{answer_id}"}}


@pytest.mark.parametrize(("broken", "code"), [
    ({"id": "1", "body": {}}, "MalformedBatchResponse"),  # no status
    ({"id": "1", "status": "200", "body": {}}, "MalformedBatchResponse"),
    ({"id": "1", "status": 200, "headers": ["x"], "body": {}}, "MalformedBatchResponse"),
    ({"status": 200, "body": {}}, "MissingBatchResponse"),  # no id: nobody's answer
    ({"id": 1, "status": 200, "body": {}}, "MissingBatchResponse"),
    ("not an object", "MissingBatchResponse"),
])
@responses.activate
def test_an_unreadable_inner_answer_fails_that_request_only(broken: Any, code: str) -> None:
    for _ in range(6):
        batch_answer(ok("0"), broken, ok("2"))
    results = make_client().batch(three())
    assert [r.ok for r in results] == [True, False, True]
    error = results[1].error
    assert isinstance(error, MalformedResponse) and error.code == code
    assert "/users/u1" in str(error)
    assert results[0].json_object("id") == {"id": "user-0"}


@responses.activate
def test_an_id_answered_twice_differently_is_ambiguous_and_twice_alike_is_fine() -> None:
    for _ in range(6):
        batch_answer(ok("0"), ok("1"), {"id": "1", "status": 500, "body": {}}, ok("2"), ok("2"))
    results = make_client().batch(three())
    assert [r.ok for r in results] == [True, False, True]
    assert isinstance(results[1].error, MalformedResponse)
    assert results[1].error.code == "AmbiguousBatchResponse"


@responses.activate
def test_answers_for_ids_never_sent_are_left_out_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    batch_answer(ok("0"), ok("1"), ok("2"), ok("99"))
    with caplog.at_level(logging.WARNING):
        results = make_client().batch(three())
    assert all(r.ok for r in results)
    assert "1 inner answer(s) without an id of this batch" in caplog.text


@responses.activate
def test_an_inner_body_of_the_wrong_shape_is_refused_when_read() -> None:
    batch_answer(ok("0"), {"id": "1", "status": 200, "body": ["x"]},
                 {"id": "2", "status": 200, "body": {"value": {"a": 1}}})
    results = make_client().batch(three())
    with pytest.raises(MalformedResponse, match="a list, not a JSON object"):
        results[1].json_object()
    with pytest.raises(MalformedResponse, match="GET /users/u2"):
        results[2].entries()
