"""People and their time: directory lookups, free/busy and working hours (getSchedule).

Participants are looked up in `$batch`es of 20; free/busy comes through the organizer's
calendar (`getSchedule` sees everyone's free/busy even when the app's mailbox access is scoped
to the program mailbox), and each schedule also carries the person's working hours and zone,
which the nudges need. A person is read at most once per run.

Answers that cannot be read: a user lookup whose answer is unreadable (no string `id`, not an
object; see `graph.calendar.lookup_users`) is a failed lookup for that person, tried again next
run, never "does not exist"; optional labels (name, country, language) of another type read as
absent. A schedule that cannot be read is that person's `ScheduleError` (see
`worker.observe.availability`), and so is an address getSchedule gave no schedule for: the
slot finder then books nothing for them, and says so.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from graph import calendar
from graph.client import GraphClient
from graph.errors import GraphApiError, NotFound, TransientError
from worker.config import Config, members
from worker.observe.arriving import ArrivingSchedules
from worker.observe.availability import PersonSchedule, ScheduleError, parse_schedule_item
from worker.observe.events import schedule_mailbox
from worker.observe.state import LOOKUP_FAILED, NO_SUCH_USER, Person


def _why(error: Exception) -> str:
    if isinstance(error, GraphApiError):
        return error.short()
    if isinstance(error, TransientError):
        return f"no answer: {error.reason}"
    return type(error).__name__


def read_people(client: GraphClient, emails: Iterable[str]
                ) -> tuple[dict[str, Person], dict[str, str]]:
    """The people found (lower-cased e-mail -> person) and why the others are not."""
    wanted = sorted({e.lower() for e in emails})
    people: dict[str, Person] = {}
    missing: dict[str, str] = {}
    if not wanted:
        return people, missing
    for email, found in calendar.lookup_users(client, wanted).items():
        if isinstance(found, NotFound):
            missing[email] = NO_SUCH_USER
            continue
        if isinstance(found, Exception):
            # Not an answer about the person (throttled, a server error, no answer, refused):
            # an outage or a missing permission is never "does not exist".
            missing[email] = f"{LOOKUP_FAILED} ({_why(found)}, retrying next run)"
            continue
        people[email] = Person(
            email=email,
            user_id=str(found["id"]),  # a non-empty string: `lookup_users` checks it
            display_name=_text(found.get("displayName")) or email,
            country=_text(found.get("usageLocation")),
            preferred_language=_text(found.get("preferredLanguage")),
        )
    return people, missing


def _text(value: object) -> str | None:
    """An optional text field of a user; anything else reads as absent (it only labels)."""
    return value if isinstance(value, str) and value else None


def active_participants(config: Config) -> set[str]:
    """The lower-cased e-mails of the active pairings' mentors and mentees, and of their
    executives' assistants: each is looked up for a name, a zone and the Teams app."""
    return members(config.active_pairings()) | set(config.assistants().values())


def read_schedules(client: GraphClient, config: Config, emails: Iterable[str],
                   start: datetime, end: datetime, *, interval_minutes: int = 15,
                   arriving: ArrivingSchedules | None = None,
                   ) -> tuple[dict[str, PersonSchedule], dict[str, ScheduleError]]:
    """Free/busy and working hours of `emails` between `start` and `end`, asked for in the
    order given; each answer handed to `arriving` as it comes (which hears the end too)."""
    try:
        schedules, errors = _read_schedules(client, config, emails, start, end,
                                            interval_minutes, arriving)
    except BaseException as failure:
        if arriving is not None:
            arriving.finish(failure)
        raise
    if arriving is not None:
        arriving.finish()
    return schedules, errors


def _read_schedules(client: GraphClient, config: Config, emails: Iterable[str],
                    start: datetime, end: datetime, interval_minutes: int,
                    arriving: ArrivingSchedules | None,
                    ) -> tuple[dict[str, PersonSchedule], dict[str, ScheduleError]]:
    wanted = list(dict.fromkeys(e.lower() for e in emails))
    schedules: dict[str, PersonSchedule] = {}
    errors: dict[str, ScheduleError] = {}
    if not wanted:
        return schedules, errors
    mailbox = schedule_mailbox(config, set(wanted))
    interval = timedelta(minutes=interval_minutes)
    for parsed in calendar.get_schedules(
            client, mailbox, wanted, start, end, interval_minutes=interval_minutes,
            # Read into busy time as each answer arrives, while the other calls wait on Graph.
            convert=lambda item: parse_schedule_item(item, window_start=start,
                                                     interval=interval),
            each=None if arriving is None else arriving.add):
        if isinstance(parsed, ScheduleError):
            errors[parsed.email.lower()] = parsed
        else:
            schedules[parsed.email.lower()] = parsed
    unanswered = []
    for email in wanted:
        if email not in schedules and email not in errors:
            # Graph answers one schedule per address asked for; without it nothing is known
            # of the person's time, and free is not a safe guess.
            errors[email] = ScheduleError(email, "NoSchedule",
                                          "getSchedule gave no schedule for this address")
            unanswered.append(errors[email])
    if arriving is not None and unanswered:
        arriving.add(unanswered)
    return schedules, errors
