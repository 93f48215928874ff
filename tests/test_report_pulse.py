"""The report of a program that asks the session pulse: the scripted program of the report
tests (`tests/report_helpers.py`) with `pulse` on, where ceo-ava and cfo-leo answer it."""

from __future__ import annotations

import pytest

from tests.report_helpers import PULSE_ANSWERS, Scripted, scripted_program
from worker.cli.report import Report, read_report, render_sessions_csv, render_text
from worker.cli.report_page import render_page
from worker.core.phases import Phase


@pytest.fixture(scope="module")
def scripted(tmp_path_factory: pytest.TempPathFactory) -> Scripted:
    return scripted_program(tmp_path_factory.mktemp("report-pulse"), pulse=True)


@pytest.fixture(scope="module")
def report(scripted: Scripted) -> Report:
    world = scripted.world
    return read_report(world.client, world.config, world.clock.now())


def _scores(scripted: Scripted, phase: Phase) -> list[int]:
    """The usefulness answers the script typed into the sessions of `phase`."""
    program = scripted.world.config.program
    found = []
    for key in scripted.posted:
        _, pairing_id, number = key.split("/")
        if program.curriculum[int(number) - 1].phase is phase:
            answers = PULSE_ANSWERS[pairing_id]
            found += [int(str(answers["MentorPulse"])), int(str(answers["MenteePulse"]))]
    return found


def test_pulse_answers_appear_in_the_report_by_phase(scripted: Scripted, report: Report) -> None:
    assert report.pulse_phases is not None
    by_phase = {g.key: g for g in report.pulse_phases}
    assert list(by_phase) == [p.value for p in Phase]
    for phase in Phase:
        scores = _scores(scripted, phase)
        group = by_phase[phase.value]
        assert group.answers == len(scores), phase
        assert group.average == (round(sum(scores) / len(scores), 2) if scores else None)
    trust = by_phase["trust"]
    assert trust.answers == 8  # sessions 1 and 2 of both pairs, two people each
    assert dict(trust.fit) == {"Yes": 2, "Not sure": 1, "No": 1}
    assert set(trust.words) == {"practical", "eye-opener", "too basic"}
    assert "Session pulse by phase: Gain trust and buy-in 3.25 of 5 (8 answers, fit: Yes 2, " \
        "Not sure 1, No 1)" in render_text(report)


def test_by_pair_the_unhappy_pair_needs_attention_and_the_happy_one_does_not(
    report: Report,
) -> None:
    pairs = {g.key: g for g in report.pulse_pairs}
    assert pairs["ceo-ava"].average == 4.5 and pairs["cfo-leo"].average == 2
    assert pairs["benefits-ethan"].answers == 0
    reasons = {p.pairing_id: p.reasons for p in report.pairs_attention}
    assert "ceo-ava" not in reasons
    leo = reasons["cfo-leo"]
    assert any(r.startswith("session 2: ") and r.endswith(' answered "No" to "is this a good '
                                                          'fit?"') for r in leo), leo
    assert any('answered "Not sure"' in r for r in leo), leo
    assert any(r.startswith("session pulse: usefulness 2 of 5 on average (") for r in leo), leo


def test_the_page_and_the_sessions_csv_carry_the_pulse(report: Report) -> None:
    page = render_page(report)
    assert "<h2>Session pulse</h2>" in page and 'id="pulse-pairs"' in page
    rows = render_sessions_csv(report).splitlines()
    header = rows[0].split(",")
    assert header[-6:] == ["mentor_pulse", "mentor_word", "mentor_fit", "mentee_pulse",
                           "mentee_word", "mentee_fit"]
    assert any(line.endswith(",3,,Not sure,1,too basic,No") for line in rows[1:])
