"""The session pulse's rules: who is asked, and what an event's tag remembers of the answers.

After each session the notes request also asks each person how useful it was (1 to 5, and a
word), and after the session that closes the trust phase "is this a good fit?"
(program.yaml `pulse`). People type the answers into their own columns of the session's item
(`worker.core.notes_list.pulse_of` reads them); the worker never writes those columns. So
that a run knows who still has to be asked without reading the list, the event's record tag
carries, after the notes status, a mark per answer (`tag_notes`). Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from worker.config import Program
from worker.core.notes_list import NOTES_MISSING, NOTES_POSTED, ROLES, Role, pulse_of

ANSWER_MARK = "+"
FIT_MARK = "-fit"
# What a notes request asks for (`worker.plan.nudges.Nudge.asks`).
ASK_NOTES = "notes"
ASK_PULSE = "pulse"  # how useful, 1 to 5, and a word
ASK_FIT = "fit"  # is this a good fit?


def tag_notes(notes_status: str, fields: Mapping[str, Any] | None) -> str:
    """What an event's tag remembers of the people's columns: the notes status, then a mark
    for each person who gave a usefulness score ("mentor") and a fit answer ("mentor-fit"):
    "Posted+mentor+mentee". Without answers, the notes status alone (as before the pulse)."""
    pulse = pulse_of(dict(fields or {}))
    marks: list[str] = [role for role in ROLES if pulse.of(role).answered]
    marks += [role + FIT_MARK for role in ROLES if pulse.of(role).fit is not None]
    return ANSWER_MARK.join((notes_status, *marks))


def answers_of(notes: str) -> frozenset[str]:
    return frozenset(notes.split(ANSWER_MARK)[1:])


def pulse_roles(program: Program) -> tuple[Role, ...]:
    """Who the pulse asks: the mentor always, the mentee unless `ask_mentee` is false; nobody
    without a `pulse` section."""
    if program.pulse is None:
        return ()
    return ROLES if program.pulse.ask_mentee else ("mentor",)


def fit_asked(program: Program, number: int) -> bool:
    """Whether session `number` closes the trust phase (the fit question is asked too)."""
    return program.pulse is not None and number == program.pulse.fit_question_after_session


def pulse_answered(program: Program, number: int, role: Role,
                   answers: frozenset[str]) -> bool:
    """The person gave their score (and, after the fit session, their fit answer)."""
    return role in answers and (not fit_asked(program, number) or role + FIT_MARK in answers)


def pulse_waiting(program: Program, number: int, notes: str) -> bool:
    """A held session (notes due) whose pulse someone asked has not answered yet; `notes` as
    `tag_notes` writes it."""
    status = notes.split(ANSWER_MARK, 1)[0]
    if status not in (NOTES_MISSING, NOTES_POSTED):
        return False
    answers = answers_of(notes)
    return any(not pulse_answered(program, number, role, answers)
               for role in pulse_roles(program))


def describe_asks(asks: tuple[str, ...]) -> str:
    """What a notes request carries besides the notes, as `plan` shows it ("" for nothing)."""
    if ASK_PULSE in asks and ASK_FIT in asks:
        return ', with the session pulse question (1-5, a word) and "a good fit?"'
    if ASK_PULSE in asks:
        return ", with the session pulse question (1-5, a word)"
    if ASK_FIT in asks:
        return ', with the question "a good fit?"'
    return ""
