"""Simulated people answer invitations on the sandbox clock; explicit acts for tests."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from graph.clock import ManualClock
from graph.sandbox import calendar
from graph.sandbox.directory import Behaviour
from graph.sandbox.fixtures import demo_tenant, generated_tenant, make_user
from graph.sandbox.people import People
from graph.sandbox.state import TenantState
from graph.sandbox.tenant_app import Sandbox

MONDAY = datetime(2027, 1, 11, 15, tzinfo=UTC)
TUESDAY = MONDAY + timedelta(days=1)


def tenant(*behaviours: tuple[str, Behaviour]) -> tuple[Sandbox, ManualClock, People]:
    clock = ManualClock(datetime(2027, 1, 4, tzinfo=UTC))
    sb = Sandbox(TenantState(tenant_id="t"), clock)
    sb.state.directory.add_user(
        make_user(
            "org@contoso.test", "Org", title="x", zone_name="Eastern Standard Time", country="US"
        )
    )
    for upn, behaviour in behaviours:
        sb.state.directory.add_user(
            make_user(
                upn,
                upn,
                title="x",
                country="US",
                zone_name="Eastern Standard Time",
                behaviour=behaviour,
            )
        )
    return sb, clock, People(sb)


def statuses(sb: Sandbox, event_id: str) -> dict[str, str]:
    event = calendar.store_of(sb).get(sb.state.directory.get("org@contoso.test").id, event_id)
    return {a["emailAddress"]["address"]: a["status"]["response"] for a in event["attendees"]}


def test_people_answer_after_their_delay_by_their_script() -> None:
    sb, clock, people = tenant(
        ("monday.decliner@contoso.test", Behaviour("decline_days", [0], 30)),
        ("proposer@contoso.test", Behaviour("propose_new_time", [], 30)),
        ("silent@contoso.test", Behaviour("never_answer", [], 30)),
    )
    invitees = ["monday.decliner@contoso.test", "proposer@contoso.test", "silent@contoso.test"]
    monday = people.add_meeting(
        "org@contoso.test", "M", MONDAY, MONDAY + timedelta(hours=1), attendees=invitees
    )
    tuesday = people.add_meeting(
        "org@contoso.test", "T", TUESDAY, TUESDAY + timedelta(hours=1), attendees=invitees
    )
    assert people.tick() == 0
    clock.advance(timedelta(minutes=31))
    people.tick()
    assert statuses(sb, monday["id"]) == {
        "monday.decliner@contoso.test": "declined",
        "proposer@contoso.test": "tentativelyAccepted",
        "silent@contoso.test": "none",
    }
    assert statuses(sb, tuesday["id"])["monday.decliner@contoso.test"] == "accepted"
    organizer = calendar.store_of(sb).get(
        sb.state.directory.get("org@contoso.test").id, monday["id"]
    )
    proposal = next(a for a in organizer["attendees"] if "proposer" in a["emailAddress"]["address"])
    assert proposal["proposedNewTime"]["start"]["dateTime"].startswith("2027-01-11T16:00:00")


def test_moving_resets_answers_and_people_answer_again() -> None:
    sb, clock, people = tenant(("ava@contoso.test", Behaviour("accept", [], 10)))
    event = people.add_meeting(
        "org@contoso.test",
        "S",
        TUESDAY,
        TUESDAY + timedelta(hours=1),
        attendees=["ava@contoso.test"],
    )
    clock.advance(timedelta(minutes=11))
    people.tick()
    assert statuses(sb, event["id"]) == {"ava@contoso.test": "accepted"}
    people.move(
        "org@contoso.test",
        event["id"],
        TUESDAY + timedelta(days=1),
        TUESDAY + timedelta(days=1, hours=1),
    )
    assert statuses(sb, event["id"]) == {"ava@contoso.test": "none"}
    clock.advance(timedelta(minutes=11))
    people.tick()
    assert statuses(sb, event["id"]) == {"ava@contoso.test": "accepted"}


def test_cancel_and_delete_invite() -> None:
    sb, _, people = tenant(
        ("ava@contoso.test", Behaviour("never_answer")),
        ("leo@contoso.test", Behaviour("never_answer")),
    )
    event = people.add_meeting(
        "org@contoso.test",
        "S",
        TUESDAY,
        TUESDAY + timedelta(hours=1),
        attendees=["ava@contoso.test", "leo@contoso.test"],
    )
    people.delete_invite("leo@contoso.test", event["iCalUId"])
    people.cancel("org@contoso.test", event["id"])
    ava = sb.state.directory.get("ava@contoso.test").id
    leo = sb.state.directory.get("leo@contoso.test").id
    assert [e["isCancelled"] for e in calendar.store_of(sb).calendar(ava).values()] == [True]
    assert calendar.store_of(sb).calendar(leo) == {}


def test_demo_tenant_has_the_people_and_full_executive_calendars() -> None:
    state = demo_tenant(with_calendars=False)
    james = state.directory.get("james.oconnor@contoso.com")
    assert james.displayName == "James O'Connor"
    assert james.mailboxSettings["workingHours"]["timeZone"]["bias"] == 300
    assert state.directory.get("sam.rivera@contoso.com").has_teams_license is False
    assert state.directory.get("elena.rossi@contoso.com").behaviour.weekdays == [0]
    # The organizer, ten pairs, the CEO's assistant, the program team and two executives
    # without a mentor yet.
    assert len(state.directory.users) == 25
    groups = {g.mail: len(g.members) for g in state.directory.groups.values()}
    assert groups == {"executives@contoso.com": 12, "reverse-mentors@contoso.com": 10}
    assert state.directory.get("nadia.haddad@contoso.com").department == "Technology"


def test_generated_tenant_is_deterministic_and_busy() -> None:
    first = generated_tenant(3, seed=7, last=date(2026, 12, 7))
    second = generated_tenant(3, seed=7, last=date(2026, 12, 7))
    assert first.to_json()["mail"] == second.to_json()["mail"]
    assert len(first.directory.users) == 7
    zones = {
        str(u.mailboxSettings["timeZone"])
        for u in generated_tenant(12, seed=1, last=date(2026, 12, 2)).directory.users.values()
    }
    assert len(zones) >= 4
