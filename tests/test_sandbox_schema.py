"""The sandbox refuses request bodies real Graph would refuse, with Graph's codes and messages."""

from __future__ import annotations

import importlib.util
import json
from importlib import resources
from typing import Any

import pytest

from graph.sandbox.core import GraphError
from graph.sandbox.schema import body_types, check_body, snapshot

EXTENDED_PROPERTY_ID = "String {66f5a359-4659-4830-9070-00047ec6ac6e} Name MentoringSession"


def booking() -> dict[str, Any]:
    """An event body shaped like the worker's booking request."""
    return {
        "subject": "Reverse mentoring 1/7: Technology and Devices",
        "body": {"contentType": "html", "content": "<p>Agenda</p>"},
        "start": {"dateTime": "2025-03-04T10:00:00", "timeZone": "Pacific Standard Time"},
        "end": {"dateTime": "2025-03-04T10:45:00.0000000", "timeZone": "Pacific Standard Time"},
        "attendees": [
            {
                "emailAddress": {"address": "mentor@contoso.com", "name": "Mentor"},
                "type": "required",
            },
            {"emailAddress": {"address": "exec@contoso.com"}, "type": "required"},
        ],
        "location": {"displayName": "Microsoft Teams"},
        "isOnlineMeeting": True,
        "onlineMeetingProvider": "teamsForBusiness",
        "allowNewTimeProposals": True,
        "showAs": "busy",
        "reminderMinutesBeforeStart": 15,
        "categories": ["Reverse mentoring"],
        "transactionId": "0d3c1c4e-7c5b-5c7a-9a43-1f0f6d1c2b11",
        "singleValueExtendedProperties": [{"id": EXTENDED_PROPERTY_ID, "value": "p/a/1"}],
    }


def refusal(type_name: str, body: Any) -> GraphError:
    with pytest.raises(GraphError) as caught:
        check_body(type_name, body)
    return caught.value


def test_a_booking_event_is_accepted() -> None:
    check_body("microsoft.graph.event", booking())


def test_a_misspelled_event_property_is_refused_like_graph() -> None:
    body = booking()
    body["subjct"] = body.pop("subject")
    error = refusal("microsoft.graph.event", body)
    assert (error.status, error.code) == (400, "RequestBodyRead")
    assert error.message == (
        "The property 'subjct' does not exist on type 'microsoft.graph.event'. Make sure to only "
        "use property names that are defined by the type or mark the type as open type."
    )


def test_a_string_where_graph_expects_a_boolean_is_refused() -> None:
    error = refusal("microsoft.graph.event", {"isOnlineMeeting": "true"})
    assert (error.status, error.code) == (400, "RequestBodyRead")
    assert error.message == "Cannot convert the literal 'true' to the expected type 'Edm.Boolean'."


def test_a_number_where_graph_expects_a_string_is_refused() -> None:
    error = refusal("microsoft.graph.event", {"subject": 7})
    assert "incompatible primitive type 'Edm.Int32" in error.message


def test_an_object_where_graph_expects_text_is_refused() -> None:
    error = refusal("microsoft.graph.event", {"subject": {"text": "x"}})
    assert error.message.startswith(
        "An unexpected 'StartObject' node was found for property named 'subject'"
    )


def test_an_unknown_property_inside_an_attendee_is_refused() -> None:
    body = booking()
    body["attendees"][0]["emailAddress"]["adress"] = "typo@contoso.com"
    error = refusal("microsoft.graph.event", body)
    assert "'adress' does not exist on type 'microsoft.graph.emailAddress'" in error.message

    body = booking()
    body["attendees"][1]["required"] = True
    error = refusal("microsoft.graph.event", body)
    assert "'required' does not exist on type 'microsoft.graph.attendee'" in error.message


def test_attendees_must_be_an_array_of_objects() -> None:
    error = refusal("microsoft.graph.event", {"attendees": {"emailAddress": {}}})
    assert "A 'StartArray' node was expected." in error.message
    error = refusal("microsoft.graph.event", {"attendees": [None]})
    assert "does not allow null values" in error.message


def test_an_unknown_show_as_value_is_refused_as_outlook_does() -> None:
    error = refusal("microsoft.graph.event", {"showAs": "bussy"})
    assert (error.status, error.code) == (400, "UnableToDeserializePostBody")


def test_enum_values_match_without_regard_to_case() -> None:
    check_body("microsoft.graph.event", {"body": {"contentType": "HTML", "content": "x"}})


def test_a_date_time_outlook_cannot_parse_is_refused() -> None:
    for text in ("04/03/2025 10:00", "2025-02-30T10:00:00", "2025-03-04T10:00:00+01:00"):
        body = {"start": {"dateTime": text, "timeZone": "UTC"}}
        assert refusal("microsoft.graph.event", body).code == "UnableToDeserializePostBody"


def test_a_recurrence_range_needs_plain_dates() -> None:
    recurrence = {
        "pattern": {"type": "weekly", "interval": 3, "daysOfWeek": ["tuesday"]},
        "range": {"type": "endDate", "startDate": "2025-03-04", "endDate": "2025-09-30"},
    }
    check_body("microsoft.graph.event", {"recurrence": recurrence})
    recurrence["range"]["startDate"] = "2025-03-04T00:00:00+00:00"
    error = refusal("microsoft.graph.event", {"recurrence": recurrence})
    assert error.code == "UnableToDeserializePostBody"


def test_extended_properties_arrays_are_accepted_and_checked() -> None:
    check_body(
        "microsoft.graph.event",
        {
            "singleValueExtendedProperties": [{"id": EXTENDED_PROPERTY_ID, "value": "x"}],
            "multiValueExtendedProperties": [
                {"id": "StringArray {66f5a359-4659-4830-9070-00047ec6ac6e} Name Tags", "value": []}
            ],
        },
    )
    error = refusal(
        "microsoft.graph.event",
        {"singleValueExtendedProperties": [{"id": EXTENDED_PROPERTY_ID, "values": "x"}]},
    )
    assert "'microsoft.graph.singleValueLegacyExtendedProperty'" in error.message


def test_odata_type_must_be_the_expected_type_or_a_derived_one() -> None:
    check_body("microsoft.graph.event", {"@odata.type": "#microsoft.graph.event", "subject": "x"})
    check_body(
        "microsoft.graph.event",
        {
            "location": {
                "@odata.type": "#microsoft.graph.locationConstraintItem",
                "resolveAvailability": False,
            }
        },
    )
    error = refusal("microsoft.graph.event", {"location": {"@odata.type": "#microsoft.graph.user"}})
    assert "not assignable to the expected type 'microsoft.graph.location'" in error.message
    error = refusal("microsoft.graph.event", {"@odata.type": "#microsoft.graph.nothing"})
    assert "could not be resolved by the model" in error.message


def test_a_write_to_an_unmodelled_navigation_property_is_a_loud_gap() -> None:
    error = refusal("microsoft.graph.event", {"calendar": {"name": "x"}})
    assert (error.status, error.code) == (501, "NotImplemented")


def test_list_items_accept_any_column_in_the_open_fields_set() -> None:
    check_body(
        "microsoft.graph.listItem",
        {"fields": {"Title": "Session 1", "SessionKey": "p/a/1", "Phase": 2, "Done": False}},
    )
    check_body(
        "microsoft.graph.fieldValueSet", {"Notes": "typed by a person", "Any_x0020_Key": None}
    )
    error = refusal("microsoft.graph.listItem", {"feilds": {}})
    assert "'feilds' does not exist on type 'microsoft.graph.listItem'" in error.message


def test_list_and_column_definitions_are_checked_with_their_facets() -> None:
    check_body(
        "microsoft.graph.list",
        {
            "displayName": "Mentoring sessions",
            "list": {"template": "genericList"},
            "columns": [
                {"name": "SessionKey", "text": {}, "indexed": True},
                {"name": "Phase", "number": {"minimum": 1, "maximum": 3}},
                {"name": "Done", "boolean": {}},
                {"name": "When", "dateTime": {"format": "dateTime"}},
                {"name": "Status", "choice": {"choices": ["planned", "held"]}},
            ],
        },
    )
    error = refusal("microsoft.graph.columnDefinition", {"name": "X", "text": {"maxLenght": 5}})
    assert "'microsoft.graph.textColumn'" in error.message


def test_get_schedule_body_is_accepted_in_documented_and_metadata_spelling() -> None:
    window = {"dateTime": "2025-03-01T00:00:00", "timeZone": "UTC"}
    check_body(
        "action:getSchedule",
        {
            "schedules": ["a@contoso.com"],
            "startTime": window,
            "endTime": window,
            "availabilityViewInterval": 30,
        },
    )
    check_body("action:getSchedule", {"Schedules": ["a@contoso.com"], "StartTime": window})
    error = refusal("action:getSchedule", {"schedules": "a@contoso.com"})
    assert "A 'StartArray' node was expected." in error.message
    error = refusal("action:getSchedule", {"interval": 30})
    assert error.code == "RequestBodyRead"
    assert "'interval'" in error.message


def test_event_responses_take_comment_send_response_and_proposed_time() -> None:
    slot = {
        "start": {"dateTime": "2025-03-05T10:00:00", "timeZone": "UTC"},
        "end": {"dateTime": "2025-03-05T10:45:00", "timeZone": "UTC"},
    }
    check_body("action:cancel", {"comment": "Pair paused"})
    check_body("action:accept", {"comment": "ok", "sendResponse": True})
    check_body("action:tentativelyAccept", {"sendResponse": False, "proposedNewTime": slot})
    check_body("action:decline", {"comment": "no", "sendResponse": True, "proposedNewTime": slot})
    assert refusal("action:accept", {"sendResponse": "yes"}).code == "RequestBodyRead"
    assert refusal("action:cancel", {"reason": "x"}).code == "RequestBodyRead"


def test_activity_notification_body_is_accepted_and_recipient_is_not_a_user_parameter() -> None:
    body = {
        "topic": {
            "source": "text",
            "value": "Session 2",
            "webUrl": "https://teams.microsoft.com/l/x",
        },
        "activityType": "sessionReminder",
        "previewText": {"content": "Your session starts tomorrow"},
        "chainId": 42,
        "templateParameters": [{"name": "when", "value": "Tuesday 10:00"}],
        "teamsAppId": "3f1c5e38-3b6e-4b59-b4b6-7b0b1c1a2d3e",
    }
    check_body("action:sendActivityNotification", body)
    # The per-user action has no recipient parameter: the user in the URL is the recipient.
    body["recipient"] = {
        "@odata.type": "microsoft.graph.aadUserNotificationRecipient",
        "userId": "x",
    }
    assert refusal("action:sendActivityNotification", body).code == "RequestBodyRead"
    error = refusal("action:sendActivityNotification", {"topic": {"source": "website"}})
    assert error.code == "RequestBodyRead"


def test_teams_app_installation_accepts_the_bind_annotation_only_on_its_navigation() -> None:
    check_body(
        "microsoft.graph.teamsAppInstallation",
        {"teamsApp@odata.bind": "https://graph.microsoft.com/v1.0/appCatalogs/teamsApps/12345"},
    )
    error = refusal("microsoft.graph.teamsAppInstallation", {"teamApp@odata.bind": "x"})
    assert "'teamApp' does not exist" in error.message
    assert refusal("microsoft.graph.teamsAppInstallation", {"teamsApp@odata.bind": 5}).status == 400


def test_batch_envelope_is_checked() -> None:
    check_body(
        "batch",
        {
            "requests": [
                {"id": "1", "method": "GET", "url": "/users/a@contoso.com/events"},
                {
                    "id": "2",
                    "method": "POST",
                    "url": "/users/a@contoso.com/events",
                    "headers": {"Content-Type": "application/json"},
                    "body": booking(),
                    "dependsOn": ["1"],
                },
            ]
        },
    )
    for bad in (
        {"request": []},
        {"requests": [{"id": 1, "method": "GET", "url": "/me"}]},
        {"requests": [{"id": "1", "method": "GET"}]},
        {"requests": [{"id": "1", "method": "GET", "url": "/me", "header": {}}]},
        {"requests": [{"id": "1", "method": "GET", "url": "/me", "dependsOn": "0"}]},
    ):
        error = refusal("batch", bad)
        assert (error.code, error.message) == ("BadRequest", "Invalid batch payload format.")


def test_an_unknown_body_type_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown body type"):
        check_body("microsoft.graph.evnt", {})
    assert {
        "microsoft.graph.event",
        "microsoft.graph.listItem",
        "microsoft.graph.fieldValueSet",
        "microsoft.graph.list",
        "microsoft.graph.columnDefinition",
        "microsoft.graph.teamsAppInstallation",
        "action:getSchedule",
        "action:cancel",
        "action:accept",
        "action:decline",
        "action:tentativelyAccept",
        "action:sendActivityNotification",
        "batch",
    } <= body_types()


def test_the_snapshot_records_read_only_properties_and_its_source() -> None:
    event = snapshot()["types"]["event"]
    assert {"id", "changeKey", "onlineMeeting"} <= set(event["readOnly"])
    assert snapshot()["source"]["package"] == "msgraph-sdk"
    assert snapshot()["enums"]["freeBusyStatus"] == [
        "unknown",
        "free",
        "tentative",
        "busy",
        "oof",
        "workingElsewhere",
    ]


def test_the_committed_snapshot_is_well_formed() -> None:
    text = resources.files("graph.sandbox").joinpath("data/graph_schema.json").read_text("utf-8")
    data = json.loads(text)
    assert data["format"] == 1
    assert data["source"]["version"]
    assert text.count("\n") > len(data["types"])  # one type per line, diff-friendly


@pytest.mark.skipif(
    importlib.util.find_spec("msgraph") is None, reason="msgraph-sdk is not installed (as in CI)"
)
def test_the_committed_snapshot_matches_a_fresh_generation() -> None:
    from graph.sandbox import schema_gen

    text = resources.files("graph.sandbox").joinpath("data/graph_schema.json").read_text("utf-8")
    assert schema_gen.render(schema_gen.generate()) == text
