"""Typed desired state: the program an admin defines and the pairings it runs.

These models are the only shape the planner sees. They are frozen and reject unknown keys, so a
typo in a YAML file is an error rather than a silently ignored setting. Checks that span several
pairings (duplicate ids, one person in two pairs) live in `cross_check`, which both `Config` and
the loader use: the loader to attach file and line to each finding, `Config` so that a config
built in code is held to the same rules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

import holidays
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    EmailStr,
    Field,
    Tag,
    field_validator,
    model_validator,
)

from worker.config.located import Loc
from worker.config.problems import ConfigProblem
from worker.core.phases import Phase

SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{1,40}$"
_SLUG = re.compile(SLUG_PATTERN)

def _pad_hour(value: Any) -> Any:
    # Admins write 9:30 as often as 09:30; ISO parsing wants two hour digits.
    if isinstance(value, str) and re.fullmatch(r"\d:\d\d(:\d\d)?", value.strip()):
        return "0" + value.strip()
    return value


ClockTime = Annotated[time, BeforeValidator(_pad_hour)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Weekday(StrEnum):
    """Days a pair prefers to meet; `number` follows Python's `date.weekday()` (Monday 0)."""

    mon = "mon"
    tue = "tue"
    wed = "wed"
    thu = "thu"
    fri = "fri"
    sat = "sat"
    sun = "sun"

    @property
    def number(self) -> int:
        return list(Weekday).index(self)


class CurriculumItem(_Model):
    """One session of the outline: its topic, its phase and the templates that dress it."""

    topic: str = Field(min_length=1, max_length=120, description="Session topic, shown in invites.")
    phase: Phase = Field(description="trust (sessions 1-2), aha (3-5) or brainstorm (6-7).")
    agenda: str = Field(
        description="Agenda template, relative to templates/.",
        examples=["agendas/technology-and-devices.html.j2"],
    )
    notes: str | None = Field(
        default=None,
        description="Notes skeleton template for the SharePoint item, relative to templates/.",
        examples=["notes/skeleton.html.j2"],
    )

    @field_validator("agenda", "notes")
    @classmethod
    def _relative_template(cls, value: str | None) -> str | None:
        if value is not None and (value.startswith("/") or ".." in Path(value).parts):
            raise ValueError("template paths are relative to templates/ and stay inside it")
        return value


def _item(topic: str, phase: Phase, slug: str) -> CurriculumItem:
    return CurriculumItem(
        topic=topic, phase=phase, agenda=f"agendas/{slug}.html.j2", notes="notes/skeleton.html.j2"
    )


# Modelled on The Hartford's reverse mentoring outline (seven sessions every three weeks,
# phases: gain trust and buy-in, aha moments, creative brainstorming).
DEFAULT_CURRICULUM: tuple[CurriculumItem, ...] = (
    _item("Technology and Devices", Phase.trust, "technology-and-devices"),
    _item(
        "The Power of Search and Online Presence",
        Phase.trust,
        "the-power-of-search-and-online-presence",
    ),
    _item(
        "Networking, Connections and Communications",
        Phase.aha,
        "networking-connections-and-communications",
    ),
    _item("Social Media and the Brand", Phase.aha, "social-media-and-the-brand"),
    _item(
        "Collaboration and the Digital Workplace",
        Phase.aha,
        "collaboration-and-the-digital-workplace",
    ),
    _item("Data, Privacy and Trust Online", Phase.brainstorm, "data-privacy-and-trust-online"),
    _item(
        "Ideas Lab: Creative Brainstorming", Phase.brainstorm, "ideas-lab-creative-brainstorming"
    ),
)


class Cadence(_Model):
    """How far apart a pair's sessions are: every `every_days` days, plus or minus tolerance."""

    every_days: int = Field(default=21, ge=7, le=60)
    tolerance_days: int = Field(default=4, ge=0, le=14)


class DateRange(_Model):
    """Days on which nothing is booked. Written with only `start` it covers that one day."""

    start: date
    # Optional in the file (and so in the editors' schema); filled with `start` when absent.
    end: date = Field(default=None, validate_default=False)  # type: ignore[assignment]
    reason: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _single_day(cls, data: Any) -> Any:
        if isinstance(data, dict) and "start" in data and "end" not in data:
            return {**data, "end": data["start"]}
        return data

    @model_validator(mode="after")
    def _ordered(self) -> DateRange:
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end


def _blackout_kind(value: Any) -> str:
    return "range" if isinstance(value, dict | DateRange) else "day"


BlackoutEntry = Annotated[
    Annotated[date, Tag("day")] | Annotated[DateRange, Tag("range")],
    Discriminator(_blackout_kind),
]


class HolidayPolicy(_Model):
    """Whose public holidays block booking."""

    countries: list[str] = Field(
        default_factory=list,
        description="ISO 3166 alpha-2 codes whose public holidays apply to every pair.",
        examples=[["US", "GB"]],
    )
    use_participant_location: bool = Field(
        default=True,
        description="Also apply each person's own country (Graph user usageLocation).",
    )

    @field_validator("countries")
    @classmethod
    def _supported(cls, values: list[str]) -> list[str]:
        supported = holidays.list_supported_countries()
        codes = [value.strip().upper() for value in values]
        unknown = [code for code in codes if code not in supported]
        if unknown:
            raise ValueError(
                f"unsupported country code(s) {', '.join(unknown)}: use ISO 3166 alpha-2, e.g. US"
            )
        return codes


class SharePointSettings(_Model):
    """Where the per-session list lives."""

    site: str = Field(
        pattern=r"^[A-Za-z0-9.-]+:/sites/[^\s]+$",
        description="Site as hostname:/sites/path, as Graph addresses it.",
        examples=["contoso.sharepoint.com:/sites/mentoring"],
    )
    list: str = Field(default="Reverse mentoring sessions", min_length=1)


class Nudges(_Model):
    """When Teams nudges go out (hours and days are counted from the session's times)."""

    reminder_hours_before: int = Field(default=24, ge=1, le=168)
    notes_request_after_hours: int = Field(default=2, ge=0, le=168)
    notes_request_every_days: int = Field(default=3, ge=1, le=30)
    notes_request_max: int = Field(default=3, ge=0, le=10)
    unanswered_after_hours: int = Field(default=48, ge=1, le=336)
    webhook_period_days: int = Field(default=7, ge=1, le=31)
    notes_request_to_mentee: bool = Field(
        default=False, description="Also ask the mentee for the notes (the mentor always is)."
    )
    teams_app_id: str = Field(
        default="4d1f6a2e-8c3b-4f7a-9e21-6b5d0c9a7e13",
        pattern=r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$",
        description="The Teams app's manifest id (externalId in the org catalog).",
    )


def _organizer_kind(value: Any) -> str:
    return "mentor" if value == "mentor" else "mailbox"


Organizer = Annotated[
    Annotated[EmailStr, Tag("mailbox")] | Annotated[Literal["mentor"], Tag("mentor")],
    Discriminator(_organizer_kind),
]


class Program(_Model):
    """The program definition: one per config directory (program.yaml)."""

    id: str = Field(pattern=SLUG_PATTERN, description="Stable slug; part of every session key.")
    name: str = Field(min_length=1, max_length=200)
    organizer: Organizer = Field(
        description="Mailbox that owns every invite, or 'mentor' to send from each mentor.",
        examples=["mentoring@contoso.com"],
    )
    curriculum: list[CurriculumItem] = Field(
        default_factory=lambda: list(DEFAULT_CURRICULUM), min_length=1, max_length=20
    )
    cadence: Cadence = Field(default_factory=Cadence)
    duration_minutes: int = Field(default=45, ge=30, le=60)
    earliest: ClockTime = Field(
        default=time(9, 0), description="Earliest start, in each person's zone."
    )
    latest: ClockTime = Field(
        default=time(17, 0), description="Latest end, in each person's zone."
    )
    keep_booked: int = Field(
        default=2, ge=1, le=7, description="Upcoming sessions kept booked per pair."
    )
    minimum_notice_hours: int = Field(default=48, ge=0, le=720)
    blackout: list[BlackoutEntry] = Field(default_factory=list)
    holidays: HolidayPolicy = Field(default_factory=HolidayPolicy)
    allow_mentor_multiple_mentees: bool = True
    allow_mentee_multiple_mentors: bool = False
    max_change_share: float = Field(
        default=0.25,
        ge=0.0,
        le=1.0,
        description="A plan cancelling or moving more than this share of sessions stops.",
    )
    reminder_minutes: int = Field(default=15, ge=0, le=1440)
    timezone_display: str | None = Field(default=None, examples=["Europe/London"])
    sharepoint: SharePointSettings | None = None
    nudges: Nudges | None = None

    @model_validator(mode="after")
    def _window(self) -> Program:
        if self.earliest >= self.latest:
            raise ValueError(f"earliest {self.earliest} must be before latest {self.latest}")
        span = datetime.combine(date.min, self.latest) - datetime.combine(date.min, self.earliest)
        if span < timedelta(minutes=self.duration_minutes):
            raise ValueError(
                f"earliest..latest ({self.earliest}..{self.latest}) is shorter than "
                f"duration_minutes ({self.duration_minutes})"
            )
        return self

    @field_validator("timezone_display")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None:
            from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ValueError(f"unknown IANA time zone {value!r}") from exc
        return value

    def blackout_ranges(self) -> list[DateRange]:
        return [
            entry if isinstance(entry, DateRange) else DateRange(start=entry, end=entry)
            for entry in self.blackout
        ]

    def is_blackout(self, day: date) -> bool:
        return any(entry.contains(day) for entry in self.blackout_ranges())


class Tailoring(_Model):
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
    preferred_weekdays: list[Weekday] | None = Field(default=None, examples=[["tue", "wed"]])
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


class Pairing(_Model):
    """A mentor and a mentee working through the program together."""

    id: str = Field(pattern=SLUG_PATTERN, description="Stable slug; never reuse or rename.")
    mentor: EmailStr
    mentee: EmailStr
    start: date = Field(description="No session is booked before this day.")
    status: Literal["active", "paused", "ended"] = "active"
    tailoring: Tailoring | None = None
    notes: str | None = None

    @model_validator(mode="after")
    def _two_people(self) -> Pairing:
        if self.mentor.casefold() == self.mentee.casefold():
            raise ValueError(f"mentor and mentee are the same person ({self.mentor})")
        return self

    def sessions(self, program: Program) -> list[SessionSpec]:
        """The pair's sessions in order. A reordered topic keeps the phase of its slot,
        because the phases describe the relationship's arc, not the subject."""
        total = len(program.curriculum)
        tailoring = self.tailoring or Tailoring()
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


class ConfigSource(_Model):
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


class Config(_Model):
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

    def participants(self) -> list[str]:
        """Every mentor and mentee address, each once, in config order."""
        seen: dict[str, str] = {}
        for pairing in self.pairings:
            for person in (pairing.mentor, pairing.mentee):
                seen.setdefault(person.casefold(), person)
        return list(seen.values())

    def pairing(self, pairing_id: str) -> Pairing | None:
        return next((p for p in self.pairings if p.id == pairing_id), None)
