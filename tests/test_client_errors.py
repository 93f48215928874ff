"""The client's error tree: what Graph answers becomes a typed, chained, secret-free exception."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import requests
import responses

from graph.client import GraphClient
from graph.clock import ManualClock
from graph.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    GraphApiError,
    GraphClientError,
    NotFound,
    PreconditionFailed,
    ServerError,
    Throttled,
    TransientError,
    Unauthorized,
    error_class,
    is_transient,
    parse_retry_after,
)

GRAPH = "https://graph.microsoft.com/v1.0"
START = datetime(2027, 1, 4, 9, tzinfo=UTC)


class StaticToken:
    def __init__(self) -> None:
        self.calls = 0

    def token(self, *, force_refresh: bool = False) -> str:
        self.calls += 1
        return "eyJ.secret-token"


def make_client(clock: ManualClock | None = None) -> GraphClient:
    return GraphClient(GRAPH, StaticToken(), requests.Session(), clock or ManualClock(START))


def graph_error(code: str, message: str, request_id: str = "rid-1") -> dict[str, object]:
    return {"error": {"code": code, "message": message, "innerError": {"request-id": request_id}}}


@responses.activate
def test_a_404_becomes_not_found_with_code_message_request_id_and_path_without_query() -> None:
    responses.get(
        f"{GRAPH}/users/nobody@contoso.com",
        json=graph_error("Request_ResourceNotFound", "Resource 'nobody' does not exist."),
        status=404,
        headers={"request-id": "rid-404"},
    )
    with pytest.raises(NotFound) as caught:
        make_client().request("GET", "/users/nobody@contoso.com", params={"$select": "id"})
    err = caught.value
    assert (err.status, err.code, err.request_id) == (404, "Request_ResourceNotFound", "rid-404")
    assert err.method == "GET" and err.path == "/v1.0/users/nobody@contoso.com"
    assert "$select" not in str(err) and "secret-token" not in str(err)
    assert "Request_ResourceNotFound" in err.body


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequest),
        (401, Unauthorized),
        (403, Forbidden),
        (404, NotFound),
        (409, Conflict),
        (412, PreconditionFailed),
        (429, Throttled),
        (500, ServerError),
        (503, ServerError),
        (418, GraphApiError),
    ],
)
def test_each_status_has_its_own_exception_class(status: int, cls: type[GraphApiError]) -> None:
    assert error_class(status) is cls


def test_only_throttling_server_hiccups_and_lost_connections_are_transient() -> None:
    def err(status: int) -> GraphApiError:
        return error_class(status)(status, "X", "m")

    assert is_transient(err(429))
    assert all(is_transient(err(s)) for s in (500, 502, 503, 504))
    assert not any(is_transient(err(s)) for s in (400, 401, 403, 404, 409, 412, 501))
    assert is_transient(TransientError("GET", "/users", "ConnectionError"))
    assert not is_transient(ValueError("nope"))


@responses.activate
def test_an_error_body_that_is_not_json_is_trimmed_into_the_exception() -> None:
    responses.get(f"{GRAPH}/sites/root", body="<html>" + "x" * 5000, status=400)
    with pytest.raises(BadRequest) as caught:
        make_client().request("GET", "/sites/root")
    assert caught.value.code == "HTTP400"
    assert len(caught.value.body) <= 501


@responses.activate
def test_a_lost_connection_becomes_a_transient_error_chained_to_the_original() -> None:
    responses.get(f"{GRAPH}/users", body=requests.ConnectionError("reset by peer"))
    client = GraphClient(
        GRAPH, StaticToken(), requests.Session(), ManualClock(START), max_attempts=2
    )
    with pytest.raises(TransientError) as caught:
        client.request("GET", "/users")
    assert isinstance(caught.value.__cause__, requests.ConnectionError)
    assert caught.value.path == "/v1.0/users"


@responses.activate
def test_no_content_has_no_json_and_the_etag_header_is_exposed() -> None:
    responses.patch(
        f"{GRAPH}/sites/s/lists/l/items/1/fields", status=204, headers={"ETag": '"e,2"'}
    )
    response = make_client().request(
        "PATCH", "/sites/s/lists/l/items/1/fields", json={"Notes": "x"}, headers={"If-Match": "*"}
    )
    assert response.status == 204
    assert response.json() is None
    assert response.etag == '"e,2"'


@responses.activate
def test_the_etag_falls_back_to_the_odata_etag_in_the_body() -> None:
    responses.get(f"{GRAPH}/sites/s/lists/l/items/1", json={"id": "1", "@odata.etag": '"abc,1"'})
    assert make_client().request("GET", "/sites/s/lists/l/items/1").etag == '"abc,1"'


def test_a_token_is_never_sent_to_another_origin() -> None:
    with pytest.raises(GraphClientError, match="another origin"):
        make_client().request("GET", "https://evil.example.com/v1.0/users")


@responses.activate
def test_prefer_and_if_match_headers_pass_through_with_a_client_request_id() -> None:
    responses.get(f"{GRAPH}/users/a/events", json={"value": []})
    make_client().request("GET", "/users/a/events", headers={"Prefer": 'IdType="ImmutableId"'})
    sent = responses.calls[0].request.headers
    assert sent["Prefer"] == 'IdType="ImmutableId"'
    assert sent["Authorization"] == "Bearer eyJ.secret-token"
    assert len(sent["client-request-id"]) == 36


def test_retry_after_reads_seconds_and_http_dates() -> None:
    assert parse_retry_after("7", START) == 7.0
    assert parse_retry_after("Mon, 04 Jan 2027 09:00:30 GMT", START) == 30.0
    assert parse_retry_after("Mon, 04 Jan 2027 08:00:00 GMT", START) == 0.0
    assert parse_retry_after("soon", START) is None
    assert parse_retry_after(None, START) is None
