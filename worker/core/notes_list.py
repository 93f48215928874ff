"""The program's SharePoint notes list: its columns and the values the worker writes there.

One list item per session. Column *internal* names are the keys of every item's fields, so
they are fixed here once and used by every stage (the observer reads `READ_COLUMNS`, the
planner computes the worker's columns, `sharepoint init` creates them, the report reads them).
Columns fall in two groups, and the split is what keeps people's text safe (invariant 6): the
worker writes only `WORKER_COLUMNS`; `PEOPLE_COLUMNS` (the notes, the "shared with the
program" flag, the session pulse's answers) belong to the pair, and the agenda is written once
when the item is created and is theirs to tailor afterwards.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

from worker.core.phases import Phase

# Statuses of a session, as the list shows them.
SCHEDULED = "Scheduled"
RESCHEDULED = "Rescheduled"
HELD = "Held"
DECLINED = "Declined"
CANCELLED = "Cancelled"
STATUSES = (SCHEDULED, RESCHEDULED, HELD, DECLINED, CANCELLED)

NOTES_NOT_DUE = "Not due"
NOTES_MISSING = "Missing"
NOTES_POSTED = "Posted"
NOTES_STATUSES = (NOTES_NOT_DUE, NOTES_MISSING, NOTES_POSTED)

# The session pulse's "is this a good fit?" answers, as the choice column offers them.
FIT_YES = "Yes"
FIT_UNSURE = "Not sure"
FIT_NO = "No"
FIT_CHOICES = (FIT_YES, FIT_UNSURE, FIT_NO)
PULSE_MIN, PULSE_MAX = 1, 5


@dataclass(frozen=True)
class ColumnSpec:
    """One column: internal name, label, kind (text, note, richnote, number, boolean,
    dateTime, choice) and whether SharePoint indexes it (every column we filter on is)."""

    name: str
    label: str
    kind: str = "text"
    indexed: bool = False
    choices: tuple[str, ...] = ()
    default: str | None = None  # SharePoint's default value ("0" is No for a Yes/No column)

    def definition(self) -> dict[str, Any]:
        """The columnDefinition body Graph takes (list-create and list-post-columns)."""
        body: dict[str, Any] = {"name": self.name, "displayName": self.label}
        if self.indexed:
            body["indexed"] = True
        if self.default is not None:
            body["defaultValue"] = {"value": self.default}
        if self.kind == "text":
            body["text"] = {}
        elif self.kind == "note":
            body["text"] = {"allowMultipleLines": True, "textType": "plain"}
        elif self.kind == "richnote":
            body["text"] = {"allowMultipleLines": True, "textType": "richText"}
        elif self.kind == "number":
            body["number"] = {}
        elif self.kind == "boolean":
            body["boolean"] = {}
        elif self.kind == "dateTime":
            body["dateTime"] = {"format": "dateTime"}
        elif self.kind == "choice":
            body["choice"] = {"choices": list(self.choices), "displayAs": "dropDownMenu"}
        else:
            raise ValueError(f"unknown column kind {self.kind!r}")
        return body

    def graph_type(self) -> str:
        return {"note": "text", "richnote": "text"}.get(self.kind, self.kind)


PHASE_LABELS = tuple(phase.label for phase in Phase)

# Built-in Title: the session's one-line title, so the default view reads well.
TITLE = "Title"
COLUMNS: tuple[ColumnSpec, ...] = (
    ColumnSpec("ProgramId", "Program", indexed=True),
    ColumnSpec("PairingId", "Pairing", indexed=True),
    ColumnSpec("SessionKey", "Session key", indexed=True),
    ColumnSpec("SessionNumber", "Session", "number"),
    ColumnSpec("Topic", "Topic"),
    ColumnSpec("Phase", "Phase", "choice", choices=PHASE_LABELS),
    ColumnSpec("MentorEmail", "Mentor e-mail"),
    ColumnSpec("MentorName", "Mentor"),
    ColumnSpec("MenteeEmail", "Mentee e-mail"),
    ColumnSpec("MenteeName", "Mentee"),
    ColumnSpec("SessionStart", "Start", "dateTime", indexed=True),
    ColumnSpec("SessionEnd", "End", "dateTime"),
    ColumnSpec("SessionStatus", "Status", "choice", indexed=True, choices=STATUSES),
    ColumnSpec("Agenda", "Agenda", "richnote"),
    ColumnSpec("Notes", "Notes", "richnote"),
    ColumnSpec("SharedWithProgram", "Shared with the program", "boolean", indexed=True),
    # Teams join links run past the 255 characters of a single line of text.
    ColumnSpec("JoinUrl", "Teams link", "note"),
    ColumnSpec("NotesStatus", "Notes status", "choice", indexed=True, choices=NOTES_STATUSES),
    # Bookkeeping: the Outlook event, how often the session moved, the record last written.
    ColumnSpec("EventId", "Outlook event id", "note"),
    ColumnSpec("RescheduleCount", "Times rescheduled", "number"),
    ColumnSpec("RecordHash", "Record version"),
    # What the program team must look at (declined past the move limit, a person who left the
    # directory, no time fits); empty when all is well. Written only when there is something.
    ColumnSpec("Attention", "Needs attention", "note"),
    # How often a participant cancelled or deleted the session in Outlook: the memory that keeps
    # the worker from booking it again and again (the event itself is gone).
    ColumnSpec("PersonCancels", "Cancelled by a participant", "number"),
    # The session pulse (program.yaml `pulse`): each person's answer to "how useful was it,
    # 1 to 5, in a word", and after the trust phase "is this a good fit?". Created only for a
    # program with a pulse (`columns_for`).
    ColumnSpec("MentorPulse", "Mentor: how useful (1-5)", "number"),
    ColumnSpec("MentorPulseWord", "Mentor: in a word"),
    ColumnSpec("MenteePulse", "Mentee: how useful (1-5)", "number"),
    ColumnSpec("MenteePulseWord", "Mentee: in a word"),
    ColumnSpec("MentorFit", "Mentor: a good fit?", "choice", choices=FIT_CHOICES),
    ColumnSpec("MenteeFit", "Mentee: a good fit?", "choice", choices=FIT_CHOICES),
)
# Publishing with both people's consent (program.yaml `publishing`): each person's own box,
# ticked by them in the browser. Indexed: the run asks for the items where both are ticked.
MENTOR_CONSENT = "MentorConsent"
MENTEE_CONSENT = "MenteeConsent"
CONSENT_COLUMNS: tuple[ColumnSpec, ...] = (
    # No until the person ticks it: a new Yes/No column defaults to Yes in SharePoint's
    # own column form, and a box ticked by default is no one's consent.
    ColumnSpec(MENTOR_CONSENT, "Mentor agrees to publish", "boolean", indexed=True,
               default="0"),
    ColumnSpec(MENTEE_CONSENT, "Mentee agrees to publish", "boolean", indexed=True,
               default="0"),
)
BY_NAME = {c.name: c for c in (*COLUMNS, *CONSENT_COLUMNS)}

KEY_COLUMN = "SessionKey"
# What the worker writes. Everything else is people's.
WORKER_COLUMNS = (
    TITLE, "ProgramId", "PairingId", "SessionKey", "SessionNumber", "Topic", "Phase",
    "MentorEmail", "MentorName", "MenteeEmail", "MenteeName", "SessionStart", "SessionEnd",
    "SessionStatus", "JoinUrl", "NotesStatus", "EventId", "RescheduleCount", "RecordHash",
    "Attention", "PersonCancels",
)
# Written once, when the item is created; the pair may tailor it afterwards.
SEEDED_COLUMNS = ("Agenda",)
PULSE_COLUMNS = ("MentorPulse", "MentorPulseWord", "MenteePulse", "MenteePulseWord",
                 "MentorFit", "MenteeFit")
PEOPLE_COLUMNS = ("Notes", "SharedWithProgram", *PULSE_COLUMNS, MENTOR_CONSENT, MENTEE_CONSENT)
# Reading a column a list lacks is harmless ($select skips it), so the pulse is always read;
# the consent boxes are read by publishing's own query (`worker.observe.publishing`).
READ_COLUMNS = (*WORKER_COLUMNS, *SEEDED_COLUMNS, "Notes", "SharedWithProgram", *PULSE_COLUMNS)


def columns_for(*, pulse: bool = False, consent: bool = False) -> tuple[ColumnSpec, ...]:
    """The columns a program's notes list must have: the pulse's only when the program asks
    it, the consent boxes only when it publishes notes (a box that does nothing would mislead
    the pair)."""
    found = COLUMNS if pulse else tuple(c for c in COLUMNS if c.name not in PULSE_COLUMNS)
    return (*found, *CONSENT_COLUMNS) if consent else found


# ---------------------------------------------------------------------------------------------
# The session pulse, as people typed it

Role = Literal["mentor", "mentee"]
ROLES: tuple[Role, ...] = ("mentor", "mentee")


@dataclass(frozen=True)
class PulseAnswer:
    """One person's answer: usefulness 1..5 (None: not answered, or not a number), the word,
    and the fit answer (one of `FIT_CHOICES`, None when not given)."""

    score: int | None = None
    word: str = ""
    fit: str | None = None

    @property
    def answered(self) -> bool:
        return self.score is not None


@dataclass(frozen=True)
class Pulse:
    """Both people's answers on one session's item."""

    mentor: PulseAnswer = field(default_factory=PulseAnswer)
    mentee: PulseAnswer = field(default_factory=PulseAnswer)

    def of(self, role: Role) -> PulseAnswer:
        return self.mentor if role == "mentor" else self.mentee


def pulse_of(fields: Any) -> Pulse:
    """The pulse answers an item's fields hold (pure; anything people typed is tolerated)."""
    if not isinstance(fields, dict):
        return Pulse()
    return Pulse(*(PulseAnswer(_score(fields.get(f"{prefix}Pulse")),
                               _word(fields.get(f"{prefix}PulseWord")),
                               _fit(fields.get(f"{prefix}Fit")))
                   for prefix in ("Mentor", "Mentee")))


def _score(value: Any) -> int | None:
    """A number column as SharePoint returns it (4, 4.0, "4"), rounded and clamped to 1..5;
    None for nothing or anything that is not a number."""
    if value is None or isinstance(value, bool) or value == "":
        return None
    try:
        number = float(str(value).strip().replace(",", "."))
    except ValueError:
        return None
    if not math.isfinite(number):
        return None
    return min(PULSE_MAX, max(PULSE_MIN, math.floor(number + 0.5)))


def _word(value: Any) -> str:
    return " ".join(value.split()) if isinstance(value, str) else ""


def _fit(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    wanted = " ".join(value.split()).lower()
    return next((choice for choice in FIT_CHOICES if choice.lower() == wanted), None)


# The published notes list (program.yaml `publishing`): the worker's copy of what both people
# agreed to publish, for the program's executives to read. Only these columns, nothing else of
# the session: no names, no e-mail addresses, no link to the working item.
PUBLISHED_HASH = "PublishedHash"
PUBLISHED_COLUMNS: tuple[ColumnSpec, ...] = (
    ColumnSpec("ProgramId", "Program", indexed=True),
    ColumnSpec("SessionKey", "Session key", indexed=True),
    ColumnSpec("SessionNumber", "Session", "number"),
    ColumnSpec("Topic", "Topic"),
    ColumnSpec("Phase", "Phase", "choice", choices=PHASE_LABELS),
    ColumnSpec("SessionDate", "Date", "dateTime"),
    ColumnSpec("Notes", "Notes", "richnote"),
    # What the copy was made from (a digest of the text and the consents' versions): the
    # run compares it and writes only when the consented text changed.
    ColumnSpec(PUBLISHED_HASH, "Published version"),
)
PUBLISHED_READ = (TITLE, *(c.name for c in PUBLISHED_COLUMNS))
