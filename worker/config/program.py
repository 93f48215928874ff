"""The program an admin defines in program.yaml: outline, cadence, booking window and rules.

These models, like the pairing models built on them, are the only shape the planner sees. They
are frozen and reject unknown keys, so a typo in a YAML file is an error rather than a silently
ignored setting; `ConfigModel` carries that policy so that no model can forget it.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
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

from worker.core.phases import Phase

SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{1,40}$"


def _pad_hour(value: Any) -> Any:
    # Admins write 9:30 as often as 09:30; ISO parsing wants two hour digits.
    if isinstance(value, str) and re.fullmatch(r"\d:\d\d(:\d\d)?", value.strip()):
        return "0" + value.strip()
    return value


ClockTime = Annotated[time, BeforeValidator(_pad_hour)]


class ConfigModel(BaseModel):
    """Base of every config model: frozen, and an unknown key is an error."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class CurriculumItem(ConfigModel):
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


class Cadence(ConfigModel):
    """How far apart a pair's sessions are: every `every_days` days, plus or minus tolerance."""

    every_days: int = Field(default=21, ge=7, le=60)
    tolerance_days: int = Field(default=4, ge=0, le=14)


class DateRange(ConfigModel):
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


class HolidayPolicy(ConfigModel):
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


class SharePointSettings(ConfigModel):
    """Where the per-session list lives."""

    site: str = Field(
        pattern=r"^[A-Za-z0-9.-]+:/sites/[^\s]+$",
        description="Site as hostname:/sites/path, as Graph addresses it.",
        examples=["contoso.sharepoint.com:/sites/mentoring"],
    )
    list: str = Field(default="Reverse mentoring sessions", min_length=1)


class PublishingSettings(ConfigModel):
    """Publishing notes with both people's consent: the worker copies a session's notes,
    topic, phase and date into a separate list that the program's executives read, once the
    mentor and the mentee have each ticked their own box on the session's item (checked in
    the item's version history), and removes the copy when either unticks it."""

    list: str = Field(
        default="Reverse mentoring published notes", min_length=1,
        description="The published notes list, on the program's site; `mentoring sharepoint "
                    "init` creates it.",
    )


class Nudges(ConfigModel):
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


class MatchingSettings(ConfigModel):
    """Who may be matched by `mentoring suggest`, and the limits its suggestions keep to.

    The executives and the mentors are the members of two Entra groups (each named by its
    object id or its mail address). Nothing here changes what `plan` and `run` do: suggestions
    are written to a file for the admin to review and copy into the pairings.
    """

    executives_group: str = Field(
        min_length=1, max_length=256,
        description="Entra group of the executives (mentees): its object id or mail address.",
        examples=["executives@contoso.com"],
    )
    mentors_group: str = Field(
        min_length=1, max_length=256,
        description="Entra group of the people who may mentor: its object id or mail address.",
        examples=["reverse-mentors@contoso.com"],
    )
    max_mentees_per_mentor: int = Field(
        default=1, ge=1, le=10,
        description="Executives one mentor may have at a time, current pairings included "
                    "(more than 1 needs allow_mentor_multiple_mentees: true).",
    )
    min_overlap_hours: float = Field(
        default=2, ge=0.5, le=12,
        description="Working hours a day that mentor and executive must share.",
    )
    prefer_other_department: bool = Field(
        default=True,
        description="Rank a mentor from another department above one from the executive's own.",
    )
    history_programs: list[str] | None = Field(
        default=None,
        description="Ids of earlier programs whose pairs are never suggested again (default: "
                    "every other program found in the notes list and the organizer's "
                    "calendar).",
        examples=[["leadership-2025", "leadership-2026"]],
    )

    @field_validator("executives_group", "mentors_group")
    @classmethod
    def _group_name(cls, value: str) -> str:
        value = value.strip()
        if not (_GROUP_ID.match(value) or _GROUP_MAIL.match(value)):
            raise ValueError("name the group by its object id (a GUID) or its mail address")
        return value

    @field_validator("history_programs")
    @classmethod
    def _program_ids(cls, values: list[str] | None) -> list[str] | None:
        if values is None:
            return None
        bad = [value for value in values if not re.match(SLUG_PATTERN, value)]
        if bad:
            raise ValueError(f"not a program id: {', '.join(map(repr, bad))} (program ids are "
                             "slugs such as leadership-2026)")
        return sorted(set(values))


_GROUP_ID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_GROUP_MAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _organizer_kind(value: Any) -> str:
    return "mentor" if value == "mentor" else "mailbox"


Organizer = Annotated[
    Annotated[EmailStr, Tag("mailbox")] | Annotated[Literal["mentor"], Tag("mentor")],
    Discriminator(_organizer_kind),
]


class Program(ConfigModel):
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
    rebook_after_cancel: Literal["once", "never"] = Field(
        default="once",
        description="A session a participant cancels or deletes in Outlook is booked again "
                    "once (`once`) or left cancelled (`never`); never more than once.",
    )
    max_reschedules: int = Field(
        default=3, ge=0, le=10,
        description="Moves per session after declines; past it the session is left for the "
                    "program team (needs attention) and never moved again.",
    )
    reminder_minutes: int = Field(default=15, ge=0, le=1440)
    timezone_display: str | None = Field(default=None, examples=["Europe/London"])
    sharepoint: SharePointSettings | None = None
    nudges: Nudges | None = None
    publishing: PublishingSettings | None = Field(
        default=None,
        description="Publish session notes with both people's consent (off when absent).",
    )
    matching: MatchingSettings | None = Field(
        default=None,
        description="Match suggestions (`mentoring suggest`); off without this section.",
    )

    @model_validator(mode="after")
    def _matching_load(self) -> Program:
        matching = self.matching
        if (matching is not None and matching.max_mentees_per_mentor > 1
                and not self.allow_mentor_multiple_mentees):
            raise ValueError(
                f"matching.max_mentees_per_mentor is {matching.max_mentees_per_mentor} but "
                "allow_mentor_multiple_mentees is false: set it to 1, or allow several mentees")
        return self

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

    @model_validator(mode="after")
    def _publishing_needs_a_list(self) -> Program:
        if self.publishing is not None:
            if self.sharepoint is None:
                raise ValueError("publishing needs the `sharepoint` section: the notes are "
                                 "published from the program's notes list")
            if self.publishing.list.strip().lower() == self.sharepoint.list.strip().lower():
                raise ValueError("publishing.list must be another list than sharepoint.list: "
                                 "the published list is the one executives read")
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

