"""Tenants to run against: the Contoso demo organisation and generated ones for tests.

The demo (`demo_tenant`) is the story the product is shown with: a program mailbox, ten
executives and ten junior mentors across six countries and time zones (one with a *custom*
zone, as some real mailboxes have), each with a scripted way of answering invitations and a
realistically full calendar (executives ~60-75 % of working hours busy, mentors ~30-40 %).
The people are data (`data/demo_tenant.json`); their calendars are generated here, seeded, so
every run of the demo sees the same tenant.

`generated_tenant(pairs, seed)` builds any number of mentor/mentee pairs over at least four
zones (one custom) for scale tests and benchmarks.

Both return a `TenantState`, which `Sandbox.create(clock, fixture=...)` accepts through a
callable taking the clock.
"""

from __future__ import annotations

import json
import random
import re
import uuid
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from importlib import resources
from typing import Any

from graph.clock import Clock, ManualClock
from graph.sandbox import calendar, tz
from graph.sandbox.directory import AppRegistration, Behaviour, User
from graph.sandbox.state import TenantState

_NAMESPACE = uuid.UUID("6f1d0c52-3a8e-4f7b-9d21-5c4e8b7a9f10")
_WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday"]

# A custom zone with US Eastern rules, as Graph returns one in workingHours.timeZone.
US_EASTERN_CUSTOM: dict[str, Any] = {
    "@odata.type": "#microsoft.graph.customTimeZone",
    "name": "Customized Time Zone",
    "bias": 300,
    "standardOffset": {
        "time": "02:00:00.0000000",
        "dayOccurrence": 1,
        "dayOfWeek": "sunday",
        "month": 11,
        "year": 0,
    },
    "daylightOffset": {
        "time": "02:00:00.0000000",
        "dayOccurrence": 2,
        "dayOfWeek": "sunday",
        "month": 3,
        "year": 0,
        "daylightBias": -60,
    },
}


def user_id(upn: str) -> str:
    """Stable object ids, so a demo tenant is the same tenant on every start."""
    return str(uuid.uuid5(_NAMESPACE, upn.lower()))


def mailbox_settings(
    zone_name: str | None,
    hours: tuple[str, str],
    custom_zone: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """mailboxSettings as Graph returns them.

    https://learn.microsoft.com/en-us/graph/api/resources/mailboxsettings
    """
    wh_zone: dict[str, Any] = dict(custom_zone) if custom_zone else {"name": zone_name}
    return {
        "timeZone": custom_zone["name"] if custom_zone else zone_name,
        "language": {"locale": "en-US", "displayName": "English (United States)"},
        "timeFormat": "h:mm tt",
        "dateFormat": "M/d/yyyy",
        "workingHours": {
            "daysOfWeek": list(_WEEKDAYS),
            "startTime": f"{hours[0]}:00.0000000",
            "endTime": f"{hours[1]}:00.0000000",
            "timeZone": wh_zone,
        },
    }


def make_user(
    upn: str,
    name: str,
    *,
    title: str,
    zone_name: str | None,
    country: str,
    hours: tuple[str, str] = ("09:00", "17:00"),
    custom_zone: Mapping[str, Any] | None = None,
    behaviour: Behaviour | None = None,
    teams_license: bool = True,
) -> User:
    return User(
        id=user_id(upn),
        userPrincipalName=upn,
        displayName=name,
        mail=upn,
        jobTitle=title,
        usageLocation=country,
        mailboxSettings=mailbox_settings(zone_name, hours, custom_zone),
        has_teams_license=teams_license,
        behaviour=behaviour or Behaviour(),
    )


# ---------------------------------------------------------------------------------------------
# Calendar generation


@dataclass(frozen=True)
class Busyness:
    """How full a calendar is: `p` is the chance a free half hour starts a meeting."""

    p: float
    staff_meeting: bool
    board_days: bool
    travel_every_weeks: int  # 0: never travels


EXECUTIVE = Busyness(p=0.45, staff_meeting=True, board_days=True, travel_every_weeks=5)
MENTOR = Busyness(p=0.19, staff_meeting=False, board_days=False, travel_every_weeks=0)
_DURATIONS = [30, 30, 60, 60, 60, 90, 120]
_EXEC_SUBJECTS = [
    "1:1 with direct report",
    "Budget review",
    "Client call",
    "Strategy session",
    "Regulatory update",
    "Investor prep",
    "Town hall prep",
    "Product council",
]
_MENTOR_SUBJECTS = [
    "Team stand-up",
    "Sprint planning",
    "Focus time",
    "Training",
    "1:1 with manager",
]


class _Writer:
    """Just enough of a Sandbox for `calendar.new_event`: the state and a clock."""

    def __init__(self, state: TenantState, clock: Clock) -> None:
        self.state = state
        self.clock = clock


def _local(day: date, at: time, zone: tzinfo) -> datetime:
    return datetime.combine(day, at).replace(tzinfo=zone).astimezone(UTC)


def _block(
    writer: _Writer,
    user: User,
    subject: str,
    start: datetime,
    end: datetime,
    show_as: str,
    *,
    all_day: bool = False,
) -> None:
    body = {
        "subject": subject,
        "start": tz.to_dtz(start, "UTC"),
        "end": tz.to_dtz(end, "UTC"),
        "showAs": show_as,
        "isAllDay": all_day,
    }
    calendar.new_event(writer, user, body, now=writer.clock.now())  # type: ignore[arg-type]


def fill_calendar(
    writer: _Writer, user: User, first: date, last: date, busy: Busyness, rng: random.Random
) -> None:
    """Recurring and random busy blocks within the user's working hours, local time."""
    zone = tz.mailbox_zone(user.mailboxSettings)
    hours = user.mailboxSettings["workingHours"]
    day_start = tz.parse_time_of_day(hours["startTime"])
    day_end = tz.parse_time_of_day(hours["endTime"])
    subjects = _EXEC_SUBJECTS if busy.staff_meeting else _MENTOR_SUBJECTS
    day = first
    week = 0
    while day <= last:
        if day.weekday() == 0:
            week += 1
        if day.weekday() >= 5:
            day += timedelta(days=1)
            continue
        midnight = datetime.combine(day, time())
        if busy.travel_every_weeks and week % busy.travel_every_weeks == 0 and day.weekday() == 2:
            _block(
                writer,
                user,
                "Client visit (travel)",
                _local(day, time(), zone),
                _local(day + timedelta(days=1), time(), zone),
                "oof",
                all_day=True,
            )
            day += timedelta(days=1)
            continue
        if busy.board_days and day.weekday() == 3 and 8 <= day.day <= 14:
            _block(
                writer,
                user,
                "Board and committee meetings",
                _local(day, time(8), zone),
                _local(day, time(17), zone),
                "busy",
            )
            day += timedelta(days=1)
            continue
        cursor = midnight + day_start
        close = midnight + day_end
        if busy.staff_meeting and day.weekday() == 0:
            end = cursor + timedelta(minutes=90)
            _block(
                writer,
                user,
                "Executive staff meeting",
                cursor.replace(tzinfo=zone).astimezone(UTC),
                end.replace(tzinfo=zone).astimezone(UTC),
                "busy",
            )
            cursor = end
        guard = 0
        while cursor < close and guard < 64:
            guard += 1
            if rng.random() < busy.p:
                minutes = rng.choice(_DURATIONS)
                end = min(cursor + timedelta(minutes=minutes), close)
                show_as = "tentative" if rng.random() < 0.1 else "busy"
                _block(
                    writer,
                    user,
                    rng.choice(subjects),
                    cursor.replace(tzinfo=zone).astimezone(UTC),
                    end.replace(tzinfo=zone).astimezone(UTC),
                    show_as,
                )
                cursor = end
            else:
                cursor += timedelta(minutes=30)
        day += timedelta(days=1)


# ---------------------------------------------------------------------------------------------
# Tenants


def _demo_data() -> dict[str, Any]:
    text = resources.files("graph.sandbox").joinpath("data/demo_tenant.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def demo_tenant(clock: Clock | None = None, *, with_calendars: bool = True) -> TenantState:
    """The Contoso demo organisation (people from data/demo_tenant.json, seeded calendars)."""
    data = _demo_data()
    state = TenantState(tenant_id=data["tenant_id"], domains=[data["domain"]])
    # The program's (empty) site, as docs/sandbox.md describes the default fixture.
    from graph.sandbox.sharepoint import SharePointStore

    state.sharepoint = SharePointStore.with_demo_site()
    people: list[tuple[User, str]] = []
    for raw in data["people"]:
        upn = f"{raw['alias']}@{data['domain']}"
        custom = data["custom_time_zones"].get(raw.get("custom_zone", ""))
        behaviour = Behaviour(**raw["behaviour"]) if "behaviour" in raw else None
        user = make_user(
            upn,
            raw["name"],
            title=raw["title"],
            zone_name=raw.get("zone"),
            country=raw["country"],
            hours=(raw["hours"][0], raw["hours"][1]),
            custom_zone=custom,
            behaviour=behaviour,
            teams_license=bool(raw.get("teams_license", True)),
        )
        user.department = raw.get("department")
        user.officeLocation = raw.get("office")
        state.directory.add_user(user)
        people.append((user, raw["role"]))
    for group in data.get("groups", []):
        state.directory.add_group(group["name"], mail=group.get("mail"),
                                  members=[f"{a}@{data['domain']}" for a in group["members"]])
    if with_calendars:
        window = data["calendar_window"]
        writer = _Writer(state, clock or ManualClock(datetime(2026, 11, 23, tzinfo=UTC)))
        rng = random.Random(data["seed"])
        first, last = date.fromisoformat(window["start"]), date.fromisoformat(window["end"])
        for user, role in people:
            if role == "organizer":
                continue
            fill_calendar(writer, user, first, last, EXECUTIVE if role == "mentee" else MENTOR, rng)
    return state


def generated_tenant(
    pairs: int,
    seed: int,
    *,
    first: date = date(2026, 12, 1),
    last: date = date(2027, 1, 31),
    domain: str = "contoso.test",
    clock: Clock | None = None,
) -> TenantState:
    """`pairs` mentors and `pairs` mentees over five zones (one custom), plus the program
    mailbox ``mentoring@<domain>``; calendars filled between `first` and `last`."""
    rng = random.Random(seed)
    state = TenantState(tenant_id=str(uuid.uuid5(_NAMESPACE, f"tenant-{seed}")), domains=[domain])
    zones: list[tuple[str | None, str, dict[str, Any] | None]] = [
        ("Eastern Standard Time", "US", None),
        ("GMT Standard Time", "GB", None),
        ("India Standard Time", "IN", None),
        ("Pacific Standard Time", "US", None),
        (None, "US", US_EASTERN_CUSTOM),
    ]
    writer = _Writer(state, clock or ManualClock(datetime.combine(first, time(), UTC)))
    state.directory.add_user(
        make_user(
            f"mentoring@{domain}",
            "Reverse Mentoring Program",
            title="Program mailbox",
            zone_name="Eastern Standard Time",
            country="US",
            hours=("08:00", "18:00"),
        )
    )
    for index in range(pairs):
        for role, busy in (("mentee", EXECUTIVE), ("mentor", MENTOR)):
            zone_name, country, custom = zones[rng.randrange(len(zones))]
            start_hour = rng.choice(["08:00", "09:00"])
            end_hour = rng.choice(["17:00", "18:00"])
            user = make_user(
                f"{role}{index:04d}@{domain}",
                f"{role.title()} {index:04d}",
                title="Executive" if role == "mentee" else "Associate",
                zone_name=zone_name,
                country=country,
                hours=(start_hour, end_hour),
                custom_zone=custom,
            )
            state.directory.add_user(user)
            fill_calendar(writer, user, first, last, busy, rng)
    return state


def _utc_working_hours(user: User) -> set[int]:
    """The UTC hours of a reference Wednesday inside the person's working hours."""
    hours = user.mailboxSettings["workingHours"]
    local = tz.mailbox_zone(user.mailboxSettings)
    day = date(2027, 3, 3)
    start = datetime.combine(day, time.fromisoformat(hours["startTime"][:8]), tzinfo=local)
    end = datetime.combine(day, time.fromisoformat(hours["endTime"][:8]), tzinfo=local)
    span = int((end - start).total_seconds() // 3600)
    return {(start.astimezone(UTC) + timedelta(hours=h)).hour for h in range(span)}


def compatible_pairs(state: TenantState, min_overlap_hours: int = 4, *,
                     skip_unmatched: bool = False) -> list[tuple[str, str]]:
    """(mentor, mentee) addresses for a generated tenant, each mentee with a mentor who shares
    at least `min_overlap_hours` working hours, as a program admin would pair people (an
    Eastern executive with a Pacific mentor, not one in India). The hardest to place first.

    People with the same UTC working hours are interchangeable here, so mentors are grouped by
    their hours (a generated tenant has a few dozen such groups): linear in the tenant's size,
    and the same pairs as comparing every mentee with every mentor. A mentee no free mentor
    shares enough hours with is an error, or (`skip_unmatched`) left without a pair."""
    users = list(state.directory.users.values())
    # By role and number: "mentoring@" (the program mailbox) is nobody's mentor.
    mentees = [u for u in users if re.match(r"mentee\d", u.userPrincipalName)]
    mentors = [u for u in users if re.match(r"mentor\d", u.userPrincipalName)]
    hours = {u.id: frozenset(_utc_working_hours(u)) for u in mentees + mentors}
    groups: dict[frozenset[int], deque[User]] = {}
    for mentor in sorted(mentors, key=lambda u: u.userPrincipalName):
        groups.setdefault(hours[mentor.id], deque()).append(mentor)
    sizes = {group: len(members) for group, members in groups.items()}

    def options(mentee: User) -> int:
        return sum(size for group, size in sizes.items()
                   if len(group & hours[mentee.id]) >= min_overlap_hours)

    pairs = []
    for mentee in sorted(mentees, key=lambda u: (options(u), u.userPrincipalName)):
        # The free mentor of most overlap, the first by address among equals.
        own = hours[mentee.id]
        heads = [(len(group & own), members[0].userPrincipalName, group)
                 for group, members in groups.items() if members]
        most = max((overlap for overlap, _, _ in heads), default=0)
        if most < min_overlap_hours:
            if skip_unmatched:
                continue
            raise ValueError(f"no mentor left who shares working hours with {mentee.mail}")
        best = min((upn, group) for overlap, upn, group in heads if overlap == most)[1]
        mentor = groups[best].popleft()
        pairs.append((mentor.userPrincipalName, mentee.userPrincipalName))
    return sorted(pairs, key=lambda pair: pair[1])


PROGRAM_MAILBOX_TITLE = "Program mailbox"


def program_mailboxes(state: TenantState) -> list[str]:
    """The addresses of the tenant's program mailboxes (the organizers of demo and generated
    tenants): what the worker's Exchange RBAC scope holds."""
    return sorted(u.userPrincipalName for u in state.directory.users.values()
                  if u.jobTitle == PROGRAM_MAILBOX_TITLE)


def worker_app(state: TenantState, client_id: str, secret: str) -> AppRegistration:
    """Register the worker's app with the permissions the design asks for."""
    app = AppRegistration(
        client_id=client_id,
        display_name="Reverse mentoring worker",
        client_secrets=[secret],
        roles=[
            "Calendars.ReadWrite",
            "User.Read.All",
            "MailboxSettings.Read",
            "Sites.Selected",
            "TeamsActivity.Send",
            "TeamsAppInstallation.ReadWriteSelfForUser.All",
        ],
    )
    state.directory.apps[client_id] = app
    return app


__all__ = [
    "compatible_pairs",
    "demo_tenant",
    "generated_tenant",
    "mailbox_settings",
    "make_user",
    "program_mailboxes",
    "user_id",
    "worker_app",
]
