"""The nudge policy on its own: plain values in, the nudges due now and the ones held out."""

from __future__ import annotations

import functools
import json
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import EXAMPLE_CONFIG
from worker.config import Config, Nudges, load_config
from worker.core.intervals import WorkingHours
from worker.observe.state import ACCEPTED, DECLINED, NONE, AttendeeState, ObservedSession
from worker.plan.nudges import (
    PENDING,
    Decision,
    NotesState,
    NudgeKind,
    decide,
    in_working_hours,
    last_working_moment,
    next_working_moment,
    nudge_key,
    round_of,
)

MENTOR = "ava.nguyen@contoso.com"
MENTEE = "margaret.hale@contoso.com"
KEY = "leadership-2027/ceo-ava/1"
NEW_YORK = ZoneInfo("America/New_York")
TOKYO = ZoneInfo("Asia/Tokyo")
WEEKDAYS = frozenset(range(5))
# Tue 12 Jan 2027, 10:00-10:45 in New York.
START = datetime(2027, 1, 12, 15, 0, tzinfo=UTC)


@functools.cache
def example() -> Config:
    return load_config(EXAMPLE_CONFIG, today=datetime(2027, 1, 4).date())


def config(**nudges: object) -> Config:
    loaded = example()
    program = loaded.program.model_copy(update={"nudges": Nudges.model_validate(nudges)})
    return loaded.model_copy(update={"program": program})


DEFAULT = config()


def hours(zone: ZoneInfo = NEW_YORK, start: time = time(9), end: time = time(17)) -> WorkingHours:
    return WorkingHours(WEEKDAYS, start, end, zone)


def session(start: datetime = START, *, mentor: str = ACCEPTED, mentee: str = ACCEPTED,
            created: datetime | None = datetime(2027, 1, 4, 6, tzinfo=UTC)) -> ObservedSession:
    return ObservedSession(
        key=KEY, pairing_id="ceo-ava", number=1, event_id="e1",
        organizer="mentoring@contoso.com", start=start, end=start + timedelta(minutes=45),
        subject="Reverse mentoring 1/7", is_cancelled=False,
        attendees=(AttendeeState(MENTOR, mentor), AttendeeState(MENTEE, mentee)),
        join_url="https://teams.microsoft.com/l/meetup-join/x", created=created,
    )


def run(now: datetime, the_session: ObservedSession | None = None, *,
        sent: frozenset[str] = frozenset(), notes: NotesState | None = None,
        cfg: Config | None = None, people: dict[str, WorkingHours] | None = None,
        changing: tuple[str, ...] = ()) -> Decision:
    people = people if people is not None else {MENTOR: hours(), MENTEE: hours()}
    return decide(cfg or DEFAULT, {KEY: [the_session or session()]}, people, {KEY: sent},
                  {KEY: notes} if notes else {}, now, changing)


def kinds(nudges: tuple[object, ...]) -> list[tuple[str, str]]:
    return sorted((n.kind.value, n.recipient) for n in nudges)  # type: ignore[attr-defined]


# -- working hours -----------------------------------------------------------------------------


def test_working_hours_are_read_in_the_persons_own_zone() -> None:
    tokyo = hours(TOKYO)
    # 01:00 UTC on a Tuesday is 10:00 in Tokyo (working) and 20:00 Monday in New York.
    instant = datetime(2027, 1, 12, 1, 0, tzinfo=UTC)
    assert in_working_hours(instant, tokyo)
    assert not in_working_hours(instant, hours())


def test_a_moment_at_night_waits_for_the_next_working_morning() -> None:
    friday_night = datetime(2027, 1, 15, 23, 0, tzinfo=NEW_YORK)
    assert next_working_moment(friday_night, hours()) == datetime(2027, 1, 18, 9, 0,
                                                                  tzinfo=NEW_YORK)
    assert last_working_moment(friday_night, hours()) == datetime(2027, 1, 15, 16, 59,
                                                                  tzinfo=NEW_YORK)


def test_overnight_working_hours_span_midnight() -> None:
    night_shift = WorkingHours(WEEKDAYS, time(22), time(6), NEW_YORK)
    assert in_working_hours(datetime(2027, 1, 13, 3, 0, tzinfo=NEW_YORK), night_shift)
    assert not in_working_hours(datetime(2027, 1, 13, 12, 0, tzinfo=NEW_YORK), night_shift)


# -- reminders ---------------------------------------------------------------------------------


def test_both_people_are_reminded_the_set_time_before_the_session() -> None:
    before = run(START - timedelta(hours=24, minutes=1))
    assert before.due == ()
    decision = run(START - timedelta(hours=24))
    assert kinds(decision.due) == sorted([("reminder", MENTEE), ("reminder", MENTOR)])
    assert {n.key for n in decision.due} == {
        nudge_key("ceo-ava", 1, NudgeKind.reminder, f"{round_of(START)}@{MENTOR}"),
        nudge_key("ceo-ava", 1, NudgeKind.reminder, f"{round_of(START)}@{MENTEE}"),
    }


def test_a_reminder_already_sent_is_not_due_again() -> None:
    first = run(START - timedelta(hours=20))
    sent = frozenset(n.key for n in first.due)
    assert run(START - timedelta(hours=19), sent=sent).due == ()


def test_a_reminder_falling_at_night_is_held_until_the_recipients_morning() -> None:
    # Session Wed 13 Jan 09:00 Tokyo = Tue 12 Jan 00:00 UTC; 24 h before is Mon 11 Jan 09:00
    # Tokyo: fine for the Tokyo mentee, but 19:00 Sunday in New York for the mentor.
    start = datetime(2027, 1, 13, 0, 0, tzinfo=UTC)
    people = {MENTOR: hours(), MENTEE: hours(TOKYO)}
    now = start - timedelta(hours=24)
    decision = run(now, session(start), people=people)
    assert kinds(decision.due) == [("reminder", MENTEE)]
    [held] = decision.held
    assert held.recipient == MENTOR
    assert held.local_send_at == datetime(2027, 1, 12, 9, 0, tzinfo=NEW_YORK)
    assert held.send_at < start


def test_a_reminder_whose_next_working_moment_is_after_the_start_goes_the_evening_before() -> None:
    # Monday 08:00 New York, before working hours; 24 h before is Sunday: nothing in between
    # is a working moment before the start, so the reminder goes on Friday afternoon.
    start = datetime(2027, 1, 18, 8, 0, tzinfo=NEW_YORK)
    decision = run(datetime(2027, 1, 15, 16, 59, tzinfo=NEW_YORK), session(start))
    assert kinds(decision.due) == sorted([("reminder", MENTEE), ("reminder", MENTOR)])
    assert all(n.local_send_at == datetime(2027, 1, 15, 16, 59, tzinfo=NEW_YORK)
               for n in decision.due)


def test_no_reminder_once_the_session_has_started() -> None:
    assert run(START + timedelta(minutes=1)).due == ()


def test_a_recipient_without_working_hours_gets_nothing_and_is_listed() -> None:
    decision = run(START - timedelta(hours=2), people={MENTOR: hours()})
    assert kinds(decision.due) == [("reminder", MENTOR)]
    assert decision.unknown_hours == (MENTEE,)


# -- notes requests ----------------------------------------------------------------------------


def test_notes_requests_go_to_the_mentor_every_few_days_up_to_the_limit() -> None:
    end = START + timedelta(minutes=45)
    sent: frozenset[str] = frozenset()
    times = []
    now = end
    while now < end + timedelta(days=20):
        decision = run(now, sent=sent, notes="missing")
        for nudge in decision.due:
            assert nudge.kind is NudgeKind.notes_request and nudge.recipient == MENTOR
            times.append(now)
            sent |= {nudge.key}
        now += timedelta(minutes=15)
    assert len(times) == 3  # notes_request_max
    assert times[0] == end + timedelta(hours=2)
    assert times[1] - times[0] == timedelta(days=3)


def test_notes_requests_stop_when_the_notes_are_posted_and_need_a_known_status() -> None:
    after = START + timedelta(hours=4)
    assert kinds(run(after, notes="missing").due) == [("notes-request", MENTOR)]
    assert run(after, notes="posted").due == ()
    assert run(after, notes=None).due == ()


def test_the_mentee_is_asked_for_notes_too_when_configured() -> None:
    decision = run(START + timedelta(hours=4), notes="missing",
                   cfg=config(notes_request_to_mentee=True))
    assert kinds(decision.due) == sorted([("notes-request", MENTEE), ("notes-request", MENTOR)])


# -- invitations -------------------------------------------------------------------------------


def test_only_the_person_who_has_not_answered_is_nudged_after_the_set_time() -> None:
    the_session = session(START + timedelta(days=3), mentee=NONE)
    created = datetime(2027, 1, 4, 6, tzinfo=UTC)
    assert run(created + timedelta(hours=47), the_session).due == ()
    later = datetime(2027, 1, 6, 15, 0, tzinfo=UTC)  # 10:00 in New York, after 48 h
    assert kinds(run(later, the_session).due) == [("invite-unanswered", MENTEE)]


def test_a_decline_tells_the_other_person_and_suppresses_the_rest() -> None:
    declined = session(mentee=DECLINED)
    decision = run(START - timedelta(hours=20), declined)
    assert kinds(decision.due) == [("session-rescheduled", MENTOR)]


def test_a_rescheduled_notice_held_for_the_morning_survives_the_move() -> None:
    declined = session(mentee=DECLINED)
    night = datetime(2027, 1, 8, 4, 0, tzinfo=UTC)  # 23:00 in New York
    decision = run(night, declined)
    [held] = decision.held
    assert decision.remember == ((KEY, held.key + PENDING),)
    # The run moves the session; the decline is gone from the calendar by the morning.
    moved = session(START + timedelta(days=2))
    morning = datetime(2027, 1, 8, 14, 0, tzinfo=UTC)
    after = run(morning, moved, sent=frozenset({held.key + PENDING}))
    assert [n.key for n in after.due if n.kind is NudgeKind.session_rescheduled] == [held.key]
    done = run(morning, moved, sent=frozenset({held.key + PENDING, held.key}))
    assert not [n for n in done.due if n.kind is NudgeKind.session_rescheduled]


def test_sessions_this_run_moves_get_no_reminder_until_the_next_run() -> None:
    assert run(START - timedelta(hours=20), changing=(KEY,)).due == ()


def test_no_nudges_section_means_no_nudges() -> None:
    loaded = example()
    plain = loaded.model_copy(update={"program": loaded.program.model_copy(
        update={"nudges": None})})
    assert run(START - timedelta(hours=20), cfg=plain) == Decision((), ())


@pytest.mark.parametrize("language,expected", [("de-DE", "de"), ("fr-FR", "en"), (None, "en")])
def test_texts_follow_the_preferred_language_when_a_template_exists(
    language: str | None, expected: str,
) -> None:
    from tests.conftest import TEMPLATES
    from worker.plan.nudge_texts import NudgeTexts

    [nudge, *_] = run(START - timedelta(hours=20)).due
    text = NudgeTexts(TEMPLATES).render(nudge, topic="Technology and Devices",
                                        other_name="Margaret Hale", phase_label="Trust",
                                        preferred_language=language)
    assert text.language == expected
    assert text.date == ("Di. 12. Jan. 10:00 EST" if expected == "de"
                         else "Tue 12 Jan 10:00 EST")
    assert "Margaret Hale" in text.preview and len(text.preview) <= 150


def test_every_nudge_template_compiles_and_english_exists_for_each_kind() -> None:
    from tests.conftest import TEMPLATES
    from worker.plan.nudge_texts import NudgeTexts

    texts = NudgeTexts(TEMPLATES)
    assert texts.check() == []
    assert all({"en", "de"} <= texts.languages(kind) for kind in NudgeKind)


# -- where a nudge links -----------------------------------------------------------------------


def linked(the_session: ObservedSession, now: datetime, *, catalog: bool = True,
           item_id: str | None = None, notes: NotesState | None = None,
           cfg: Config | None = None) -> tuple[list[tuple[str, str]], tuple[str, ...]]:
    """Plan the Teams stage for one session whose people have the app: (kind, web URL) of each
    nudge sent, and the stage's notices."""
    from tests.conftest import TEMPLATES
    from worker.config.templates import Templates
    from worker.observe.availability import PersonSchedule
    from worker.observe.state import CatalogApp, NotesList, Observed, Person
    from worker.plan.actions import SendNudge
    from worker.plan.notes_list import NotesListPlan
    from worker.plan.projection import Projection
    from worker.plan.teams import plan_teams

    ready = replace(the_session, nudges=frozenset({f"app@{MENTOR}", f"app@{MENTEE}"}))
    observed = Observed(
        sessions={KEY: [ready]},
        people={e: Person(e, f"id-{e}", e) for e in (MENTOR, MENTEE)},
        schedules={e: PersonSchedule(e, NEW_YORK, hours(), ()) for e in (MENTOR, MENTEE)},
        notes_list=NotesList("site", "list", "https://contoso.sharepoint.com/sites/m/Lists/N"),
        catalog=CatalogApp(CATALOG_ID, MANIFEST_ID) if catalog else None,
        catalog_problem=None if catalog else "no AppCatalog.Read.All")
    notes_plan = NotesListPlan(notes={KEY: notes} if notes else {},
                               item_ids={KEY: item_id} if item_id else {})
    planned = plan_teams(cfg or DEFAULT, observed, Projection({KEY: [ready]}), notes_plan, now,
                         Templates(TEMPLATES))
    sent = [(a.nudge, a.web_url) for a in planned.actions if isinstance(a, SendNudge)]
    return sent, tuple(n.text for n in planned.notices)


CATALOG_ID = "a7c2e9d4-3b18-4e6f-8d05-1f9b2c7a4e60"
MANIFEST_ID = "4d1f6a2e-8c3b-4f7a-9e21-6b5d0c9a7e13"


def test_a_reminder_opens_the_meeting_when_its_join_link_is_a_teams_link() -> None:
    sent, _ = linked(session(), START - timedelta(hours=20))
    assert [u for _, u in sent] == ["https://teams.microsoft.com/l/meetup-join/x"] * 2


@pytest.mark.parametrize("join_url", [None, "https://contoso.zoom.us/j/123",
                                      "https://teams.microsoft.com/meet/2468?p=abc"])
def test_a_reminder_without_a_teams_join_link_opens_the_notes_tab(join_url: str | None) -> None:
    sent, notices = linked(replace(session(), join_url=join_url), START - timedelta(hours=20),
                           item_id="7")
    for kind, url in sent:
        assert kind == "reminder"
        assert url.startswith(f"https://teams.microsoft.com/l/entity/{CATALOG_ID}/notes?")
        assert "context=%7B%22subEntityId%22%3A%227%22%7D" in url
    assert len(sent) == 2 and notices == ()


def test_a_notes_request_opens_the_item_through_the_tab_with_the_item_as_fallback() -> None:
    sent, _ = linked(session(), START + timedelta(hours=3), item_id="12", notes="missing")
    [(kind, url)] = sent
    assert kind == "notes-request"
    link = urlsplit(url)
    assert (link.scheme, link.netloc, link.path) == (
        "https", "teams.microsoft.com", f"/l/entity/{CATALOG_ID}/notes")
    assert [p.split("=")[0] for p in link.query.split("&")] == ["webUrl", "label", "context"]
    query = {k: v[0] for k, v in parse_qs(link.query).items()}
    assert query["webUrl"] == "https://contoso.sharepoint.com/sites/m/Lists/N/DispForm.aspx?ID=12"
    assert json.loads(query["context"]) == {"subEntityId": "12"}
    assert query["label"]  # the session's topic


def test_without_the_catalog_the_link_names_the_manifest_id_and_says_so() -> None:
    sent, notices = linked(session(), START + timedelta(hours=3), item_id="12",
                           notes="missing", catalog=False)
    assert sent and all(f"/l/entity/{MANIFEST_ID}/notes?" in u for _, u in sent)
    assert any("manifest id" in n and "AppCatalog.Read.All" in n for n in notices)


def test_a_program_without_a_notes_list_links_to_the_app() -> None:
    loaded = example()
    no_list = loaded.model_copy(update={"program": loaded.program.model_copy(
        update={"sharepoint": None})})
    sent, _ = linked(replace(session(), join_url=None), START - timedelta(hours=20), cfg=no_list)
    assert [u for _, u in sent] == [f"https://teams.microsoft.com/l/app/{CATALOG_ID}"] * 2
