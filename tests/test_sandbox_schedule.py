"""getSchedule: limits, per-address errors, availabilityView across DST and custom zones."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import requests

from graph.clock import ManualClock
from graph.sandbox.fixtures import US_EASTERN_CUSTOM, make_user
from graph.sandbox.people import People
from graph.sandbox.state import TenantState
from graph.sandbox.tenant_app import Sandbox
from graph.sandbox.transport import sandbox_session

URL = "https://graph.microsoft.com/v1.0/users/mentoring@contoso.test/calendar/getSchedule"


def tenant() -> tuple[Sandbox, requests.Session]:
    sb = Sandbox(TenantState(tenant_id="t"), ManualClock(datetime(2027, 3, 1, tzinfo=UTC)))
    for upn, zone, custom in (
        ("mentoring@contoso.test", "Eastern Standard Time", None),
        ("ny@contoso.test", "Eastern Standard Time", None),
        ("custom@contoso.test", None, US_EASTERN_CUSTOM),
    ):
        sb.state.directory.add_user(
            make_user(upn, upn, title="x", zone_name=zone, country="US", custom_zone=custom)
        )
    sb.register_app("worker", secret="s", roles=["Calendars.Read"])
    http = sandbox_session(sb)
    http.headers["Authorization"] = f"Bearer {sb.token_for('worker')}"
    return sb, http


def ask(
    http: requests.Session,
    schedules: list[str],
    start: str,
    end: str,
    zone: str,
    interval: int = 60,
) -> requests.Response:
    body: dict[str, Any] = {
        "schedules": schedules,
        "startTime": {"dateTime": start, "timeZone": zone},
        "endTime": {"dateTime": end, "timeZone": zone},
        "availabilityViewInterval": interval,
    }
    return http.post(URL, json=body)


def test_more_than_twenty_schedules_is_refused() -> None:
    _, http = tenant()
    answer = ask(
        http,
        [f"p{i}@contoso.test" for i in range(21)],
        "2027-03-01T00:00:00",
        "2027-03-02T00:00:00",
        "UTC",
    )
    assert answer.status_code == 400


def test_a_window_of_62_days_or_more_is_refused() -> None:
    _, http = tenant()
    answer = ask(http, ["ny@contoso.test"], "2027-03-01T00:00:00", "2027-05-02T00:00:00", "UTC")
    assert answer.status_code == 400
    ok = ask(
        http,
        ["ny@contoso.test"],
        "2027-03-01T00:00:00",
        "2027-05-01T00:00:00",
        "UTC",
        interval=1440,
    )
    assert ok.status_code == 200


def test_unknown_people_get_an_error_item_not_a_failed_call() -> None:
    _, http = tenant()
    answer = ask(
        http,
        ["ny@contoso.test", "nobody@contoso.test"],
        "2027-03-01T00:00:00",
        "2027-03-01T02:00:00",
        "UTC",
    )
    assert answer.status_code == 200
    unknown = answer.json()["value"][1]
    assert unknown["scheduleId"] == "nobody@contoso.test"
    assert unknown["availabilityView"] == ""
    assert unknown["error"]["responseCode"]


def test_availability_view_across_the_us_dst_change() -> None:
    sb, http = tenant()
    people = People(sb)
    # 09:00-10:00 New York time the day before and the day after clocks go forward
    # (2027-03-14): 14:00 UTC before, 13:00 UTC after.
    people.add_meeting(
        "ny@contoso.test",
        "Before",
        datetime(2027, 3, 13, 14, tzinfo=UTC),
        datetime(2027, 3, 13, 15, tzinfo=UTC),
    )
    people.add_meeting(
        "ny@contoso.test",
        "After",
        datetime(2027, 3, 15, 13, tzinfo=UTC),
        datetime(2027, 3, 15, 14, tzinfo=UTC),
        show_as="oof",
    )
    for day, digit in (("13", "2"), ("15", "3")):
        answer = ask(
            http,
            ["ny@contoso.test"],
            f"2027-03-{day}T08:00:00",
            f"2027-03-{day}T11:00:00",
            "Eastern Standard Time",
        )
        assert answer.json()["value"][0]["availabilityView"] == f"0{digit}0"


def test_availability_view_in_a_custom_zone_and_its_working_hours() -> None:
    sb, http = tenant()
    People(sb).add_meeting(
        "custom@contoso.test",
        "Busy",
        datetime(2027, 7, 1, 13, tzinfo=UTC),
        datetime(2027, 7, 1, 13, 30, tzinfo=UTC),
        show_as="tentative",
    )
    answer = ask(
        http,
        ["custom@contoso.test"],
        "2027-07-01T08:00:00",
        "2027-07-01T10:00:00",
        "Eastern Standard Time",
        interval=30,
    )
    schedule = answer.json()["value"][0]
    assert schedule["availabilityView"] == "0010"
    assert schedule["workingHours"]["timeZone"]["bias"] == 300
    assert schedule["scheduleItems"][0]["status"] == "tentative"


def test_cancelled_and_declined_meetings_do_not_count() -> None:
    sb, http = tenant()
    people = People(sb)
    event = people.add_meeting(
        "mentoring@contoso.test",
        "Invite",
        datetime(2027, 3, 2, 15, tzinfo=UTC),
        datetime(2027, 3, 2, 16, tzinfo=UTC),
        attendees=["ny@contoso.test"],
    )
    people.decline("ny@contoso.test", event["iCalUId"])
    answer = ask(
        http,
        ["ny@contoso.test", "mentoring@contoso.test"],
        "2027-03-02T15:00:00",
        "2027-03-02T16:00:00",
        "UTC",
    )
    assert [s["availabilityView"] for s in answer.json()["value"]] == ["0", "2"]
    people.cancel("mentoring@contoso.test", event["id"])
    answer = ask(
        http, ["mentoring@contoso.test"], "2027-03-02T15:00:00", "2027-03-02T16:00:00", "UTC"
    )
    assert answer.json()["value"][0]["availabilityView"] == "0"
