"""Who mentors whom: the pairings file, each pair's tailoring and sessions, the whole `Config`.

A pairing means little without its program (its sessions are the program's outline, tailored),
so `Config` joins the two here. Checks that span several pairings (duplicate ids, one person in
two pairs) live in `cross_check`, which both `Config` and the loader use: the loader to attach
file and line to each finding, `Config` so that a config built in code is held to the same
rules. Session keys are here because they are made of the program's and the pairing's ids.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, EmailStr, Field, model_validator

from worker.config.located import Loc
from worker.config.problems import ConfigProblem
from worker.config.program import (
    SLUG_PATTERN,
    ClockTime,
    ConfigModel,
    CurriculumItem,
    DayName,
    Program,
)
from worker.config.program import Weekday as Weekday  # its home was here: still importable
from worker.core.memo import by_identity
from worker.core.phases import Phase

_SLUG = re.compile(SLUG_PATTERN)


_STATUSES = ("active", "paused", "ended")


def _status_word(value: Any) -> Any:
    """A status in any case (`Active`, `PAUSED`), as spreadsheets write them; anything else
    as given, so the problem shows what was written."""
    if isinstance(value, str) and value.strip().casefold() in _STATUSES:
        return value.strip().casefold()
    return value




class Tailoring(ConfigModel):
    """How one pair departs from the program outline."""

    topic_order: list[int] | None = Field(
        default=None,
        description="Program topic numbers in the order this pair takes them (a permutation).",
        examples=[[1, 4, 3, 2, 5, 6, 7]],
    )
    replace: dict[int, CurriculumItem] = Field(
        default_factory=dict,
        description="Session number -> item used instead (after topic_order is applied).",
    )
    preferred_weekdays: list[DayName] | None = Field(default=None, examples=[["tue", "wed"]])
    preferred_earliest: ClockTime | None = None
    preferred_latest: ClockTime | None = None

    @model_validator(mode="after")
    def _window(self) -> Tailoring:
        if (
            self.preferred_earliest is not None
            and self.preferred_latest is not None
            and self.preferred_earliest >= self.preferred_latest
        ):
            raise ValueError("preferred_earliest must be before preferred_latest")
        return self


@dataclass(frozen=True)
class SessionSpec:
    """What one session of one pair is about, after tailoring."""

    number: int
    total: int
    topic: str
    phase: Phase
    agenda: str
    notes: str | None


class Pairing(ConfigModel):
    """A mentor and a mentee working through the program together."""

    id: str = Field(pattern=SLUG_PATTERN, description="Stable slug; never reuse or rename.")
    mentor: EmailStr
    mentee: EmailStr
    start: date = Field(description="No session is booked before this day.")
    status: Annotated[Literal["active", "paused", "ended"], BeforeValidator(_status_word)] = (
        "active")
    tailoring: Tailoring | None = None
    notes: str | None = None
    assistant: EmailStr | None = Field(
        default=None,
        description="The executive's (the mentee's) assistant: invited as an optional "
        "attendee, nudged about unanswered invites and sessions past the reschedule limit; "
        "their decline or proposed time is followed like the executive's. Wins over a "
        "`people:` entry for the mentee.")

    @model_validator(mode="after")
    def _two_people(self) -> Pairing:
        if self.mentor.casefold() == self.mentee.casefold():
            raise ValueError(f"mentor and mentee are the same person ({self.mentor})")
        return self

    def deciders(self) -> frozenset[str]:
        """The lower-cased e-mails whose decline or proposed time the planner follows: the
        mentor, the mentee, and the mentee's assistant, who speaks for the executive."""
        people = {self.mentor.lower(), self.mentee.lower()}
        if self.assistant is not None:
            people.add(self.assistant.lower())
        return frozenset(people)

    def sessions(self, program: Program) -> list[SessionSpec]:
        """The pair's sessions in order. A reordered topic keeps the phase of its slot,
        because the phases describe the relationship's arc, not the subject. (Shared between
        callers, who must not change the list.)"""
        return _sessions(self, program)


def assistant_problem(pairing: Pairing, assistant: str | None = None) -> str | None:
    """Why `assistant` (by default the pairing's own) cannot assist in `pairing`: an
    assistant is a third person, never the pair's mentor or mentee."""
    assistant = assistant or pairing.assistant
    if assistant is None:
        return None
    for role, email in (("mentor", pairing.mentor), ("mentee", pairing.mentee)):
        if assistant.casefold() == email.casefold():
            return (f"the assistant {assistant} is the {role} of pairing {pairing.id!r}; an "
                    "assistant is a third person (the executive's, the mentee's)")
    return None


class PersonEntry(ConfigModel):
    """Something said once about a person, for every pairing they are in (`people:`)."""

    email: EmailStr
    assistant: EmailStr | None = Field(
        default=None,
        description="This executive's assistant, for every pairing in which they are the "
        "mentee (a pairing's own `assistant` wins).")

    @model_validator(mode="after")
    def _not_themselves(self) -> PersonEntry:
        if self.assistant is not None and self.assistant.casefold() == self.email.casefold():
            raise ValueError(f"{self.email} cannot be their own assistant")
        return self


class PairingsFile(ConfigModel):
    """The pairings file's top level: a `pairings:` list and an optional `people:` list."""

    pairings: list[Pairing]
    people: list[PersonEntry] = Field(
        default_factory=list,
        description="Optional: what is said once per person, e.g. an executive's assistant.")


def with_people(pairing: Pairing, assistants: dict[str, str]) -> Pairing:
    """`pairing` with its mentee's assistant from the `people:` entries (lower-cased e-mail
    -> assistant) when the pairing names none itself."""
    if pairing.assistant is not None:
        return pairing
    assistant = assistants.get(pairing.mentee.casefold())
    if assistant is None:
        return pairing
    return pairing.model_copy(update={"assistant": assistant})


def session_key(program_id: str, pairing_id: str, number: int) -> str:
    """The tag value carried by events and list items: `<program>/<pairing>/<session>`."""
    return f"{program_id}/{pairing_id}/{number}"


def parse_session_key(value: str) -> tuple[str, str, int] | None:
    """Inverse of `session_key`; None for anything we did not write."""
    parts = value.split("/")
    if len(parts) != 3 or not all(_SLUG.match(part) for part in parts[:2]):
        return None
    program_id, pairing_id, number = parts
    if not number.isdigit() or number.startswith("0"):
        return None
    return program_id, pairing_id, int(number)


class ConfigSource(ConfigModel):
    """The files a config was read from (shown in reports and problems)."""

    program: Path | None = None
    pairings: Path | None = None


def cross_check(
    program: Program | None, pairings: list[Pairing], *, check_ids: bool = True
) -> list[tuple[Loc, str]]:
    """Rules spanning pairings or needing the program; each finding located in pairings data.

    `program` may be None when program.yaml itself is invalid: program-independent checks
    still run so that the admin sees every problem in one pass.
    """
    findings: list[tuple[Loc, str]] = []
    seen: dict[str, int] = {}
    for index, pairing in enumerate(pairings if check_ids else []):
        if pairing.id in seen:
            findings.append(
                (("pairings", index, "id"), f"duplicate pairing id {pairing.id!r} "
                 f"(first used by pairing #{seen[pairing.id] + 1})")
            )
        else:
            seen[pairing.id] = index

    for index, pairing in enumerate(pairings):
        problem = assistant_problem(pairing)
        if problem is not None:
            findings.append((("pairings", index, "assistant"), problem))

    allow_multi_mentees = program.allow_mentor_multiple_mentees if program else True
    allow_multi_mentors = program.allow_mentee_multiple_mentors if program else False
    as_mentor: dict[str, int] = {}
    as_mentee: dict[str, int] = {}
    active = [(i, p) for i, p in enumerate(pairings) if p.status == "active"]
    for index, pairing in active:
        mentor, mentee = pairing.mentor.casefold(), pairing.mentee.casefold()
        if mentor in as_mentee:
            other = pairings[as_mentee[mentor]].id
            findings.append(((("pairings", index, "mentor")),
                             f"{pairing.mentor} is a mentee in active pairing {other!r} "
                             "and cannot mentor at the same time"))
        if mentee in as_mentor:
            other = pairings[as_mentor[mentee]].id
            findings.append(((("pairings", index, "mentee")),
                             f"{pairing.mentee} mentors in active pairing {other!r} "
                             "and cannot be a mentee at the same time"))
        if mentor in as_mentor and not allow_multi_mentees:
            other = pairings[as_mentor[mentor]].id
            findings.append(((("pairings", index, "mentor")),
                             f"{pairing.mentor} already mentors in active pairing {other!r} "
                             "(allow_mentor_multiple_mentees is false)"))
        if mentee in as_mentee and not allow_multi_mentors:
            other = pairings[as_mentee[mentee]].id
            findings.append(((("pairings", index, "mentee")),
                             f"{pairing.mentee} is already a mentee in active pairing "
                             f"{other!r} (allow_mentee_multiple_mentors is false)"))
        as_mentor.setdefault(mentor, index)
        as_mentee.setdefault(mentee, index)

    if program is not None:
        total = len(program.curriculum)
        for index, pairing in enumerate(pairings):
            tailoring = pairing.tailoring
            if tailoring is None:
                continue
            order = tailoring.topic_order
            if order is not None and sorted(order) != list(range(1, total + 1)):
                findings.append(
                    (("pairings", index, "tailoring", "topic_order"),
                     f"topic_order must list each topic number 1..{total} exactly once")
                )
            findings.extend(
                (("pairings", index, "tailoring", "replace", number),
                 f"replace: no session {number} (the program has {total})")
                for number in tailoring.replace
                if not 1 <= number <= total
            )
    return findings


class Config(ConfigModel):
    """A whole, valid config: what the planner plans from."""

    program: Program
    pairings: list[Pairing]
    source: ConfigSource = Field(default_factory=ConfigSource)
    warnings: tuple[ConfigProblem, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> Config:
        findings = cross_check(self.program, self.pairings)
        if findings:
            raise ValueError("; ".join(message for _, message in findings))
        return self

    def active_pairings(self) -> list[Pairing]:
        return [pairing for pairing in self.pairings if pairing.status == "active"]

    def assistants(self) -> dict[str, str]:
        """Active pairing id -> the lower-cased e-mail of its executive's assistant."""
        return {p.id: p.assistant.lower() for p in self.active_pairings()
                if p.assistant is not None}

    def participants(self) -> list[str]:
        """Every mentor and mentee address, each once, in config order."""
        seen: dict[str, str] = {}
        for pairing in self.pairings:
            for person in (pairing.mentor, pairing.mentee):
                seen.setdefault(person.casefold(), person)
        return list(seen.values())

    def pairing(self, pairing_id: str) -> Pairing | None:
        return _pairings_by_id(self).get(pairing_id)


def members(pairings: Iterable[Pairing]) -> set[str]:
    """The lower-cased e-mails of the mentors and mentees of `pairings`."""
    return {email.lower() for pairing in pairings for email in (pairing.mentor, pairing.mentee)}


@by_identity(bound=1 << 16)
def _sessions(pairing: Pairing, program: Program) -> list[SessionSpec]:
    if pairing.tailoring is None:
        return _untailored_sessions(program)  # most pairs: the program's own, shared
    return _specs(program, pairing.tailoring)


@by_identity(bound=8)
def _untailored_sessions(program: Program) -> list[SessionSpec]:
    return _specs(program, Tailoring())


def _specs(program: Program, tailoring: Tailoring) -> list[SessionSpec]:
    total = len(program.curriculum)
    order = tailoring.topic_order or list(range(1, total + 1))
    specs = []
    for number, topic_number in enumerate(order, start=1):
        item = program.curriculum[topic_number - 1]
        phase = program.curriculum[number - 1].phase
        if number in tailoring.replace:
            item = tailoring.replace[number]
            phase = item.phase
        specs.append(
            SessionSpec(
                number=number,
                total=total,
                topic=item.topic,
                phase=phase,
                agenda=item.agenda,
                notes=item.notes,
            )
        )
    return specs


@by_identity(bound=8)
def _pairings_by_id(config: Config) -> dict[str, Pairing]:
    return {p.id: p for p in config.pairings}
