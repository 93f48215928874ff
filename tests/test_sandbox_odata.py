"""The OData `$filter` parser/evaluator and the other query options."""

from __future__ import annotations

import pytest

from graph.sandbox.odata import (
    ODataError,
    parse_expand,
    parse_filter,
    parse_orderby,
    parse_top,
    quote,
    sort_items,
)

ITEM = {
    "subject": "Session 1",
    "start": {"dateTime": "2027-01-12T15:00:00.0000000"},
    "isCancelled": False,
    "categories": ["Mentoring"],
    "singleValueExtendedProperties": [
        {"id": "String {g} Name MentoringSession", "value": "p/o'c/1"}
    ],
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("subject eq 'session 1'", True),
        ("subject ne 'Session 1' or isCancelled eq false", True),
        ("not (isCancelled eq false) and subject eq 'Session 1'", False),
        ("start/dateTime ge 2027-01-12T00:00:00Z and start/dateTime lt 2027-01-13T00:00:00Z", True),
        ("startswith(subject,'Sess') and endswith(subject, '1') and contains(subject,'ion')", True),
        ("categories/any(c: c eq 'Mentoring')", True),
        ("categories/all(c: c eq 'Other')", False),
        ("singleValueExtendedProperties/Any(ep: ep/value eq 'p/o''c/1')", True),
        ("subject in ('a', 'Session 1')", True),
        ("missing eq null", True),
    ],
)
def test_filters_evaluate_like_outlook(text: str, expected: bool) -> None:
    assert parse_filter(text).matches(ITEM) is expected


@pytest.mark.parametrize(
    "text",
    [
        "subject eqq 'x'",
        "subject eq 'x",
        "(subject eq 'x'",
        "",
        "foo(subject, 'x')",
        "subject eq",
        "a/any(x: )",
    ],
)
def test_malformed_filters_raise(text: str) -> None:
    with pytest.raises(ODataError):
        parse_filter(text)


def test_error_becomes_graph_bad_request() -> None:
    with pytest.raises(ODataError) as caught:
        parse_filter("subject eqq 'x'")
    err = caught.value.to_graph_error()
    assert (err.status, err.code) == (400, "BadRequest")
    assert err.message.startswith("Invalid filter clause")


def test_quote_doubles_apostrophes() -> None:
    assert quote("O'Connor") == "'O''Connor'"
    assert parse_filter(f"subject eq {quote(chr(39))}").matches({"subject": "'"})


def test_lambda_paths_are_reported_for_validation() -> None:
    flt = parse_filter("singleValueExtendedProperties/any(ep: ep/id eq 'x') and subject eq 'y'")
    assert ("subject",) in flt.property_paths()
    assert flt.lambda_paths() == [(("singleValueExtendedProperties",), ("id",))]


def test_expand_top_and_orderby_options() -> None:
    expand = parse_expand("singleValueExtendedProperties($filter=id eq 'String {g} Name a,b')")
    assert expand[0].options["$filter"] == "id eq 'String {g} Name a,b'"
    assert parse_top(None, default=10) == 10
    assert parse_top("5000", default=10) == 1000
    with pytest.raises(ODataError):
        parse_top("ten", default=10)
    keys = parse_orderby("start/dateTime desc, subject")
    items = [
        {"subject": "b", "start": {"dateTime": "1"}},
        {"subject": "a", "start": {"dateTime": "2"}},
    ]
    assert [i["subject"] for i in sort_items(items, keys)] == ["a", "b"]
    with pytest.raises(ODataError):
        parse_orderby("subject sideways")
