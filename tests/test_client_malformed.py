"""Answers that are not what Graph documents become `MalformedResponse`, never a traceback."""

from __future__ import annotations

import pytest
import responses

from graph.batch import BatchRequest
from graph.errors import MalformedResponse, ServerError
from tests.test_client_errors import GRAPH, make_client


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
