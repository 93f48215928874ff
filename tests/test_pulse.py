"""The session pulse on its own: what people typed, who the notes request asks and what, its
words in each language, and the columns `sharepoint init` and `doctor` expect."""

from __future__ import annotations

import functools
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import EXAMPLE_CONFIG, TEMPLATES
from tests.test_nudges_policy import KEY, MENTEE, MENTOR, START, hours, session
from worker.config import Config, ConfigError, Nudges, PulseSettings, load_config
from worker.core.notes_list import (
    BY_NAME,
    FIT_CHOICES,
    FIT_NO,
    FIT_UNSURE,
    FIT_YES,
    PEOPLE_COLUMNS,
    PULSE_COLUMNS,
    WORKER_COLUMNS,
    PulseAnswer,
    columns_for,
    pulse_of,
)
from worker.plan.items import RecordTag
from worker.plan.nudge_texts import NudgeTexts
from worker.plan.nudges import Decision, NotesState, NudgeKind, decide
from worker.plan.pulse import ASK_FIT, ASK_NOTES, ASK_PULSE, tag_notes

AFTER = START + timedelta(hours=4)  # the first notes request is due
ASKED = PulseSettings()  # the defaults: fit question after session 2, the mentee asked too


@functools.cache
def example() -> Config:
    return load_config(EXAMPLE_CONFIG, today=datetime(2027, 1, 4).date())


def config(pulse: PulseSettings | None = ASKED, **nudges: object) -> Config:
    loaded = example()
    program = loaded.program.model_copy(update={"nudges": Nudges.model_validate(nudges),
                                                "pulse": pulse})
    return loaded.model_copy(update={"program": program})


def asked(cfg: Config, *, number: int = 1, notes: NotesState = "missing",
          answers: frozenset[str] = frozenset(), now: datetime = AFTER) -> Decision:
    held = replace(session(), number=number, key=KEY[:-1] + str(number))
    return decide(cfg, {held.key: [held]}, {MENTOR: hours(), MENTEE: hours()}, {},
                  {held.key: notes}, now, (), {held.key: answers})


def asks_of(decision: Decision) -> dict[str, tuple[str, ...]]:
    assert all(n.kind is NudgeKind.notes_request for n in decision.due)
    return {n.recipient: n.asks for n in decision.due}


# -- what people typed --------------------------------------------------------------------------


def test_scores_are_rounded_and_clamped_and_anything_else_is_no_answer() -> None:
    def score(value: Any) -> int | None:
        return pulse_of({"MentorPulse": value}).mentor.score

    assert [score(v) for v in (4, 4.0, "4", 3.5, 2.4, 0, -3, 9, 5.0)] == \
        [4, 4, 4, 4, 2, 1, 1, 5, 5]
    assert [score(v) for v in (None, "", "great", True, float("nan"), "inf")] == [None] * 6


def test_words_and_fit_answers_are_read_as_people_typed_them() -> None:
    pulse = pulse_of({"MentorPulseWord": "  eye\n opener ", "MentorFit": "not  sure",
                      "MenteePulse": 2, "MenteeFit": "maybe", "MenteePulseWord": 7})
    assert pulse.mentor == PulseAnswer(None, "eye opener", FIT_UNSURE)
    assert pulse.mentee == PulseAnswer(2, "", None)
    assert pulse_of(None).of("mentor") == PulseAnswer()


def test_the_pulse_columns_are_the_peoples_and_follow_person_cancels() -> None:
    names = [c.name for c in columns_for(pulse=True)]
    at = names.index("PersonCancels")
    assert names[at + 1:at + 7] == list(PULSE_COLUMNS)
    assert set(PULSE_COLUMNS) <= set(PEOPLE_COLUMNS)
    assert not set(PULSE_COLUMNS) & set(WORKER_COLUMNS)
    assert BY_NAME["MentorFit"].choices == FIT_CHOICES == (FIT_YES, FIT_UNSURE, FIT_NO)
    assert BY_NAME["MentorPulse"].label == "Mentor: how useful (1-5)"
    assert not set(PULSE_COLUMNS) & {c.name for c in columns_for(pulse=False)}


def test_the_record_tag_remembers_who_answered_and_reads_as_before_without_answers() -> None:
    assert tag_notes("Missing", {}) == "Missing"
    notes = tag_notes("Posted", {"MentorPulse": 4, "MenteeFit": FIT_NO, "MenteePulse": "x"})
    assert notes == "Posted+mentor+mentee-fit"
    tag = RecordTag.parse(RecordTag("12", "0123456789abcdef", notes).encode())
    assert tag is not None
    assert (tag.notes_status, tag.answers) == ("Posted", {"mentor", "mentee-fit"})


# -- who is asked, and what ---------------------------------------------------------------------


def test_without_a_pulse_the_notes_request_goes_to_the_mentor_only_as_before() -> None:
    assert asks_of(asked(config(pulse=None))) == {MENTOR: (ASK_NOTES,)}
    assert asked(config(pulse=None), notes="posted").due == ()


def test_with_a_pulse_both_people_are_asked_and_the_mentor_also_for_the_notes() -> None:
    assert asks_of(asked(config())) == {MENTOR: (ASK_NOTES, ASK_PULSE),
                                        MENTEE: (ASK_PULSE,)}


def test_the_fit_question_is_asked_after_session_two_and_not_after_one() -> None:
    assert all(ASK_FIT not in a for a in asks_of(asked(config(), number=1)).values())
    assert asks_of(asked(config(), number=2)) == {MENTOR: (ASK_NOTES, ASK_PULSE, ASK_FIT),
                                                  MENTEE: (ASK_PULSE, ASK_FIT)}
    moved = config(PulseSettings(fit_question_after_session=3))
    assert all(ASK_FIT not in a for a in asks_of(asked(moved, number=2)).values())
    assert ASK_FIT in asks_of(asked(moved, number=3))[MENTEE]


def test_a_person_who_answered_is_not_asked_again_and_the_mentor_only_once_notes_are_in() -> (
        None):
    answered = frozenset({"mentor", "mentee"})
    # The mentor answered but the notes are missing: asked for the notes only.
    assert asks_of(asked(config(), answers=answered)) == {MENTOR: (ASK_NOTES,)}
    assert asked(config(), notes="posted", answers=answered).due == ()
    # After the fit session the fit answer is needed too.
    assert asks_of(asked(config(), number=2, notes="posted", answers=answered)) == {
        MENTOR: (ASK_FIT,), MENTEE: (ASK_FIT,)}
    both = answered | {"mentor-fit", "mentee-fit"}
    assert asked(config(), number=2, notes="posted", answers=both).due == ()


def test_the_mentee_is_left_out_when_ask_mentee_is_false() -> None:
    only_mentor = config(PulseSettings(ask_mentee=False))
    assert asks_of(asked(only_mentor)) == {MENTOR: (ASK_NOTES, ASK_PULSE)}
    assert asked(only_mentor, notes="posted", answers=frozenset({"mentor"})).due == ()


def test_the_pulse_keeps_the_request_cadence_and_limit() -> None:
    cfg = config(notes_request_every_days=2, notes_request_max=3)
    sent: set[str] = set()
    now = AFTER
    held = session()
    while now < START + timedelta(days=12):
        decision = decide(cfg, {KEY: [held]}, {MENTOR: hours(), MENTEE: hours()},
                          {KEY: frozenset(sent)}, {KEY: "posted"}, now, (), {})
        sent.update(nudge.key for nudge in decision.due)
        now += timedelta(hours=1)
    assert sorted(k.split("/", 3)[3] for k in sent) == sorted(
        f"{n}@{who}" for n in (1, 2, 3) for who in (MENTOR, MENTEE))


def test_no_request_before_the_session_is_held_or_without_a_known_notes_status() -> None:
    held = session()
    assert decide(config(), {KEY: [held]}, {MENTOR: hours(), MENTEE: hours()}, {}, {}, AFTER,
                  (), {}).due == ()
    assert asked(config(), now=START - timedelta(hours=30)).due == ()


# -- the words ----------------------------------------------------------------------------------


@pytest.mark.parametrize("language,question,fit", [
    (None, "how useful was the session", "a good fit (Yes, Not sure, No)"),
    ("de-DE", "wie nützlich war die Sitzung", "Passt das Tandem (Yes, Not sure, No)"),
])
def test_the_notes_request_states_the_question_and_the_columns_in_the_persons_language(
    language: str | None, question: str, fit: str,
) -> None:
    texts = NudgeTexts(TEMPLATES)
    for number in (1, 2):
        for nudge in asked(config(), number=number).due:
            text = texts.render(replace(nudge, round="2@" + nudge.recipient),
                                topic="Networking, Connections and Communications",
                                other_name="Margaret Hale", phase_label="Gain trust",
                                preferred_language=language)
            prefix = "Mentor:" if nudge.role == "mentor" else "Mentee:"
            assert question in text.preview and prefix in text.preview
            assert (fit in text.preview) == (number == 2)
            assert len(text.preview) <= 150, text.preview  # what Teams shows


def test_without_a_pulse_the_notes_request_reads_as_it_always_did() -> None:
    [nudge] = asked(config(pulse=None)).due
    text = NudgeTexts(TEMPLATES).render(nudge, topic="Technology and Devices",
                                        other_name="Margaret Hale", phase_label="Trust",
                                        preferred_language="en-US")
    assert text.preview == ('please add the notes of "Technology and Devices" with Margaret '
                            "Hale to the program list.")


def test_plan_says_the_request_carries_the_pulse_question() -> None:
    from worker.plan.pulse import describe_asks

    assert describe_asks((ASK_NOTES,)) == ""
    assert "session pulse question" in describe_asks((ASK_NOTES, ASK_PULSE))
    assert '"a good fit?"' in describe_asks((ASK_PULSE, ASK_FIT))


# -- config -------------------------------------------------------------------------------------


def test_pulse_without_a_notes_list_is_a_config_error(tmp_path: Any) -> None:
    import shutil

    target = tmp_path / "config"
    shutil.copytree(EXAMPLE_CONFIG, target)
    program = (target / "program.yaml").read_text(encoding="utf-8")
    head, _, rest = program.partition("\nsharepoint:\n")
    tail = rest.split("\n\n", 1)[1] if "\n\n" in rest else ""
    (target / "program.yaml").write_text(head + "\n" + tail + "\npulse: {}\n",
                                         encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(target, today=datetime(2027, 1, 4, tzinfo=UTC).date())
    assert "pulse needs a sharepoint section" in str(caught.value)
    with pytest.raises(ValueError, match="greater than or equal to 1"):
        PulseSettings(fit_question_after_session=0)


def test_a_fit_question_past_the_last_session_is_a_config_error() -> None:
    program = example().program.model_dump()
    program["pulse"] = {"fit_question_after_session": 8}
    with pytest.raises(ValueError, match=r"\(8\) is past the curriculum's 7 sessions"):
        type(example().program).model_validate(program)
