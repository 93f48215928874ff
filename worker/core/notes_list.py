"""The program's SharePoint notes list: its columns and the values the worker writes there.

One list item per session. Column *internal* names are the keys of every item's fields, so
they are fixed here once and used by every stage (the observer reads `READ_COLUMNS`, the
planner computes the worker's columns, `sharepoint init` creates them, the report reads them).
Columns fall in two groups, and the split is what keeps people's text safe (invariant 6): the
worker writes only `WORKER_COLUMNS`; `PEOPLE_COLUMNS` (the notes, the "shared with the
program" flag) belong to the pair, and the agenda is written once when the item is created and
is theirs to tailor afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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
PEOPLE_COLUMNS = ("Notes", "SharedWithProgram", MENTOR_CONSENT, MENTEE_CONSENT)
READ_COLUMNS = (*WORKER_COLUMNS, *SEEDED_COLUMNS, "Notes", "SharedWithProgram")


def list_columns(*, consent: bool = False) -> tuple[ColumnSpec, ...]:
    """The notes list's columns for a program: the consent boxes only where the program
    publishes notes (a box that does nothing would mislead the pair)."""
    return (*COLUMNS, *CONSENT_COLUMNS) if consent else COLUMNS


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
