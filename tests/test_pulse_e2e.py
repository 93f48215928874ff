"""The session pulse end to end, through the sandbox tenant and its clock.

The short program of the nudge tests (three sessions a week apart, three pairs) with a `pulse`
section, run every simulated hour through the second session's notes requests. In ceo-ava the
mentor (English) posts notes and answers after her first request each time; the mentee
(German) answers too, and after session 2 says the pair is not a good fit. Nobody else answers.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from graph.clock import ManualClock
from graph.sandbox.fixtures import demo_tenant
from graph.sandbox.tenant_app import Sandbox
from tests.records_helpers import item_for, person_edits, the_list
from tests.test_nudges_e2e import START, feed, nudge_config
from worker.cli.demo import DemoWorld, build_world, init_notes_list
from worker.cli.report import read_report, render_html, render_sessions_csv, render_text
from worker.config import load_config
from worker.core.notes_list import FIT_NO, FIT_YES, PULSE_COLUMNS
from worker.plan.items import RecordTag
from worker.run.job import execute

PROGRAM = "leadership-2027"
MENTOR = "ava.nguyen@contoso.com"
MENTEE = "margaret.hale@contoso.com"  # reads German
OTHER_MENTOR = "zoe.williams@contoso.com"
OTHER_MENTEE = "elena.rossi@contoso.com"
END = datetime(2027, 1, 26, 6, 0, tzinfo=UTC)  # after session 2's last request
ANSWERS = {  # (session, person) -> what they type after their first request
    (1, MENTOR): {"MentorPulse": 4, "MentorPulseWord": "eye-opener"},
    (1, MENTEE): {"MenteePulse": 5, "MenteePulseWord": "Aha"},
    (2, MENTOR): {"MentorPulse": 4, "MentorFit": FIT_YES},
    (2, MENTEE): {"MenteePulse": 2, "MenteePulseWord": "zu schnell", "MenteeFit": FIT_NO},
}


def pulse_world(tmp_path: Path, pulse: str = "pulse:\n  fit_question_after_session: 2\n"
                ) -> DemoWorld:
    target = nudge_config(tmp_path)
    program = target / "program.yaml"
    program.write_text(program.read_text(encoding="utf-8") + pulse, encoding="utf-8")
    clock = ManualClock(START)
    config = load_config(target, today=START.date())
    sandbox = Sandbox.create(clock=clock, fixture=lambda c: demo_tenant(c, with_calendars=False))
    sandbox.state.directory.get(MENTEE).preferredLanguage = "de-DE"
    world = build_world(config, sandbox, clock)
    world.client.session.trust_env = False
    init_notes_list(world)
    return world


def requests_to(world: DemoWorld, email: str) -> list[dict[str, Any]]:
    return [e for e in feed(world, email) if e["activityType"] == "notesRequested"]


def topic(world: DemoWorld, number: int) -> str:
    return world.config.program.curriculum[number - 1].topic


@pytest.fixture(scope="module")
def program(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    world = pulse_world(tmp_path_factory.mktemp("pulse"))
    answered: set[tuple[int, str]] = set()
    plan_text, plan_json = "", {}
    while world.clock.now() < END:
        if not plan_text and not requests_to(world, MENTOR) and any(
                i.fields.get("SessionStatus") == "Held" for i in the_list(world).items.values()):
            plan, _ = execute(world.client, world.config, world.clock, world.templates,
                              apply=False)
            if f"notes-request (session 1) to {MENTOR}" in plan.render_text():
                plan_text, plan_json = plan.render_text(), plan.to_json()
        world.run()
        for (number, email), fields in ANSWERS.items():
            asked = [e for e in requests_to(world, email)
                     if e["templateParameters"]["sessionTitle"] == topic(world, number)]
            if asked and (number, email) not in answered:
                key = f"{PROGRAM}/ceo-ava/{number}"
                if email == MENTOR:
                    fields = {**fields, "Notes": "<p>We set up search alerts.</p>"}
                person_edits(world, key, fields, upn=email)
                answered.add((number, email))
        world.clock.advance(timedelta(hours=1))
    return {"world": world, "answered": answered, "plan": plan_text, "plan_json": plan_json}


def test_the_notes_request_asks_both_people_the_pulse_in_their_own_language(
    program: dict[str, Any],
) -> None:
    world: DemoWorld = program["world"]
    assert program["answered"] == set(ANSWERS)
    for number in (1, 2):
        [to_mentor] = [e for e in requests_to(world, MENTOR)
                       if e["templateParameters"]["sessionTitle"] == topic(world, number)]
        [to_mentee] = [e for e in requests_to(world, MENTEE)
                       if e["templateParameters"]["sessionTitle"] == topic(world, number)]
        assert "how useful was the session" in to_mentor["previewText"]
        assert '"Mentor:" columns and the notes' in to_mentor["previewText"]
        assert "wie nützlich war die Sitzung" in to_mentee["previewText"]
        assert "„Mentee:“-Spalten ausfüllen" in to_mentee["previewText"]  # no notes asked


def test_the_fit_question_is_asked_after_session_two_and_not_after_one(
    program: dict[str, Any],
) -> None:
    world: DemoWorld = program["world"]
    for email, question in ((MENTOR, "a good fit"), (MENTEE, "Passt das Tandem"),
                            (OTHER_MENTOR, "a good fit"), (OTHER_MENTEE, "a good fit")):
        by_topic = {e["templateParameters"]["sessionTitle"]: e["previewText"]
                    for e in requests_to(world, email)}
        assert question not in by_topic[topic(world, 1)], email
        assert question in by_topic[topic(world, 2)], email


def test_who_answered_is_not_asked_again_and_who_did_not_gets_the_usual_limit(
    program: dict[str, Any],
) -> None:
    world: DemoWorld = program["world"]
    for email in (MENTOR, MENTEE):
        assert set(Counter(e["templateParameters"]["sessionTitle"]
                           for e in requests_to(world, email)).values()) == {1}, email
    # personal-zoe never answers: both people get the configured maximum (3) per session.
    for email in (OTHER_MENTOR, OTHER_MENTEE):
        counts = Counter(e["templateParameters"]["sessionTitle"]
                         for e in requests_to(world, email))
        assert counts[topic(world, 1)] == 3 and counts[topic(world, 2)] == 3, (email, counts)


def test_the_answers_stay_as_typed_and_the_event_remembers_who_answered(
    program: dict[str, Any],
) -> None:
    world: DemoWorld = program["world"]
    item = item_for(world, f"{PROGRAM}/ceo-ava/2")
    assert {c: item.fields.get(c) for c in PULSE_COLUMNS if c in item.fields} == {
        "MentorPulse": 4, "MentorFit": FIT_YES, "MenteePulse": 2,
        "MenteePulseWord": "zu schnell", "MenteeFit": FIT_NO}
    organizer = world.sandbox.state.directory.get(world.config.program.organizer)
    from graph.sandbox.calendar import store_of
    from worker.core.properties import RECORD_PROPERTY_ID

    tags = [p["value"] for event in store_of(world.sandbox).calendar(organizer.id).values()
            if not event.get("isCancelled")
            for p in event.get("singleValueExtendedProperties") or []
            if p["id"] == RECORD_PROPERTY_ID and str(item.id) == p["value"].split("|")[1]]
    [tag] = [RecordTag.parse(t) for t in tags]
    assert tag is not None and tag.notes_status == "Posted"
    assert tag.answers == {"mentor", "mentee", "mentor-fit", "mentee-fit"}


def test_plan_shows_the_request_carries_the_pulse_question(program: dict[str, Any]) -> None:
    [line] = [line for line in program["plan"].splitlines()
              if f"notes-request (session 1) to {MENTOR} (mentor)" in line]
    assert line.endswith(", with the session pulse question (1-5, a word)")
    [action] = [a for a in program["plan_json"]["actions"]
                if a.get("nudge") == "notes-request" and a["recipient"] == MENTOR]
    assert action["asks"] == ["notes", "pulse"]


def test_pulse_answers_appear_in_the_report_by_phase_and_by_pair(
    program: dict[str, Any],
) -> None:
    world: DemoWorld = program["world"]
    report = read_report(world.client, world.config, world.clock.now())
    assert report.pulse_phases is not None
    trust = {g.key: g for g in report.pulse_phases}["trust"]
    assert (trust.average, trust.answers) == (3.75, 4)
    assert dict(trust.fit) == {"Yes": 1, "Not sure": 0, "No": 1}
    assert set(trust.words) == {"eye-opener", "Aha", "zu schnell"}
    pair = {g.key: g for g in report.pulse_pairs}
    assert (pair["ceo-ava"].average, pair["ceo-ava"].answers) == (3.75, 4)
    assert pair["personal-zoe"].answers == 0 and pair["personal-zoe"].average is None
    [ava] = [p for p in report.pairs_attention if p.pairing_id == "ceo-ava"]
    assert any('answered "No" to "is this a good fit?"' in r and "Margaret Hale" in r
               for r in ava.reasons), ava.reasons
    assert "Session pulse by phase: Gain trust and buy-in 3.75 of 5 (4 answers, fit: Yes 1, " \
        "No 1)" in render_text(report)
    sessions = render_sessions_csv(report).splitlines()
    assert sessions[0].endswith("mentor_pulse,mentor_word,mentor_fit,mentee_pulse,mentee_word,"
                                "mentee_fit")
    assert any(line.endswith(",4,,Yes,2,zu schnell,No") for line in sessions[1:])


def test_a_low_average_puts_the_pair_among_those_needing_attention(
    program: dict[str, Any],
) -> None:
    world: DemoWorld = program["world"]
    person_edits(world, f"{PROGRAM}/ceo-ava/1", {"MentorPulse": 1, "MenteePulse": 2},
                 upn=MENTOR)
    try:
        report = read_report(world.client, world.config, world.clock.now())
        [ava] = [p for p in report.pairs_attention if p.pairing_id == "ceo-ava"]
        assert "session pulse: usefulness 2.25 of 5 on average (4 answers)" in ava.reasons
    finally:
        person_edits(world, f"{PROGRAM}/ceo-ava/1", {"MentorPulse": 4, "MenteePulse": 5},
                     upn=MENTOR)


def test_without_a_pulse_nothing_changes(tmp_path: Path) -> None:
    world = pulse_world(tmp_path, pulse="")
    assert world.config.program.pulse is None
    while world.clock.now() < datetime(2027, 1, 15, 6, 0, tzinfo=UTC):
        world.run()
        world.clock.advance(timedelta(hours=1))
    first, *_ = [e for e in requests_to(world, MENTOR)
                 if e["templateParameters"]["sessionTitle"] == topic(world, 1)]
    assert first["previewText"] == (f'please add the notes of "{topic(world, 1)}" with '
                                    "Margaret Hale to the program list.")
    assert requests_to(world, MENTEE) == []  # the request goes only to the mentor
    assert not set(PULSE_COLUMNS) & set(the_list(world).columns)  # none made or needed
    report = read_report(world.client, world.config, world.clock.now(), details=False)
    assert report.pulse_phases is None
    assert "Session pulse" not in render_html(report) + render_text(report)
    assert "mentor_pulse" not in render_sessions_csv(report)


def test_the_report_page_shows_the_pulse_with_peoples_words_escaped(
    program: dict[str, Any],
) -> None:
    world: DemoWorld = program["world"]
    key = f"{PROGRAM}/ceo-ava/1"
    person_edits(world, key, {"MentorPulseWord": "<script>alert(1)</script>"}, upn=MENTOR)
    try:
        page = render_html(read_report(world.client, world.config, world.clock.now()))
    finally:
        person_edits(world, key, ANSWERS[(1, MENTOR)], upn=MENTOR)
    assert "<h2>Session pulse</h2>" in page
    phases = page.split('id="pulse-phases"', 1)[1].split("</table>", 1)[0]
    assert '<tr data-phase="trust"><td>Gain trust and buy-in</td><td class="n">3.75</td>' \
        in phases
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in phases and "<script>" not in page
    pairs = page.split('id="pulse-pairs"', 1)[1].split("</table>", 1)[0]
    assert 'data-pairing="ceo-ava"' in pairs and "Yes 1, No 1" in pairs
