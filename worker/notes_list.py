"""The program's SharePoint list: its columns, and `mentoring sharepoint init`.

One list item per session. Column *internal* names are the keys of every item's fields, so
they are fixed here once and used everywhere (`worker.records`, `worker.report`, the README's
views). Columns fall in two groups, and the split is what keeps people's text safe
(invariant 5): the worker writes only `WORKER_COLUMNS`; `PEOPLE_COLUMNS` (the notes, the
"shared with the program" flag) belong to the pair, and the agenda is written once when the
item is created and is theirs to tailor afterwards.

`init` creates the list, or checks an existing one and adds what is missing (a column, an
index); a second `init` reads and writes nothing. Without a grant on the site, Graph answers
403 and `init` says exactly what an admin must do: application permission `Sites.Selected`,
then a `write` role on this one site with `POST /sites/{site-id}/permissions`
(https://learn.microsoft.com/graph/api/site-post-permissions,
https://learn.microsoft.com/graph/permissions-selected-overview).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from graph import sharepoint
from graph.client import GraphClient
from graph.errors import Forbidden
from worker.config.models import Phase, SharePointSettings

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

    def definition(self) -> dict[str, Any]:
        """The columnDefinition body Graph takes (list-create and list-post-columns)."""
        body: dict[str, Any] = {"name": self.name, "displayName": self.label}
        if self.indexed:
            body["indexed"] = True
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
)
BY_NAME = {c.name: c for c in COLUMNS}

KEY_COLUMN = "SessionKey"
# What the worker writes. Everything else is people's.
WORKER_COLUMNS = (
    TITLE, "ProgramId", "PairingId", "SessionKey", "SessionNumber", "Topic", "Phase",
    "MentorEmail", "MentorName", "MenteeEmail", "MenteeName", "SessionStart", "SessionEnd",
    "SessionStatus", "JoinUrl", "NotesStatus", "EventId", "RescheduleCount", "RecordHash",
)
# Written once, when the item is created; the pair may tailor it afterwards.
SEEDED_COLUMNS = ("Agenda",)
PEOPLE_COLUMNS = ("Notes", "SharedWithProgram")
READ_COLUMNS = (*WORKER_COLUMNS, *SEEDED_COLUMNS, *PEOPLE_COLUMNS)


@dataclass
class InitResult:
    site_id: str = ""
    list_id: str = ""
    list_url: str = ""
    created_list: bool = False
    added_columns: list[str] = field(default_factory=list)
    indexed_columns: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def wrote(self) -> bool:
        return self.created_list or bool(self.added_columns or self.indexed_columns)

    def render_text(self, settings: SharePointSettings) -> str:
        if self.created_list:
            head = f"Created list '{settings.list}' with {len(COLUMNS)} columns"
        elif self.wrote:
            head = (f"Completed list '{settings.list}': added {self.added_columns or 'none'}, "
                    f"indexed {self.indexed_columns or 'none'}")
        else:
            head = f"List '{settings.list}' is complete; nothing written"
        lines = [f"{head}.", f"  site id: {self.site_id}", f"  list id: {self.list_id}"]
        if self.list_url:
            lines.append(f"  list: {self.list_url}")
        lines.extend(f"  PROBLEM: {p}" for p in self.problems)
        return "\n".join(lines)


class PermissionMissing(Exception):
    """The app may not use the site: the message says what an admin must grant, and how."""


def grant_instructions(settings: SharePointSettings, client_id: str | None,
                       site_id: str | None, app_name: str = "Reverse mentoring worker") -> str:
    """Exactly what an admin does to let the worker use this one site (and nothing else)."""
    hostname, _, path = settings.site.partition(":")
    target = site_id or "{site-id}"
    app_id = client_id or "{the worker's application (client) id}"
    how_to_find = (
        "" if site_id else
        f"  Find the site id with GET https://graph.microsoft.com/v1.0/sites/{hostname}:{path} "
        "(its `id`).\n"
    )
    return (
        f"The worker may not use the SharePoint site {settings.site}.\n"
        "An admin must (1) grant the app the Microsoft Graph application permission "
        "Sites.Selected (admin consent), and (2) give it the `write` role on this one site,\n"
        "calling Graph as an app or admin with Sites.FullControl.All:\n"
        f"{how_to_find}"
        f"  POST https://graph.microsoft.com/v1.0/sites/{target}/permissions\n"
        "  Content-Type: application/json\n"
        '  {"roles": ["write"], "grantedToIdentities": [{"application": '
        f'{{"id": "{app_id}", "displayName": "{app_name}"}}}}]}}\n'
        "(https://learn.microsoft.com/graph/api/site-post-permissions). PowerShell: "
        f"Grant-PnPAzureADAppSitePermission -AppId {app_id} -DisplayName '{app_name}' "
        f"-Site https://{hostname}{path} -Permissions Write\n"
        "Creating the list itself (this command, once) needs more than `write`: raise the grant "
        "to `fullcontrol` with PATCH /sites/{site-id}/permissions/{permission-id} "
        '{"roles": ["fullcontrol"]} for the first init, then back to `write`.'
    )


def resolve_site(client: GraphClient, settings: SharePointSettings,
                 client_id: str | None = None) -> dict[str, Any]:
    try:
        return sharepoint.get_site(client, settings.site)
    except Forbidden as exc:
        raise PermissionMissing(grant_instructions(settings, client_id, None)) from exc


def column_problems(existing: dict[str, Any], spec: ColumnSpec) -> str | None:
    """A column that exists with another type cannot be fixed by us: say so."""
    wanted = spec.graph_type()
    if wanted in existing:
        return None
    present = [k for k in ("text", "number", "boolean", "dateTime", "choice", "personOrGroup",
                           "lookup", "calculated", "currency") if k in existing]
    return (f"column {spec.name} is {present[0] if present else 'of another type'}, "
            f"expected {wanted}: fix or rename it in SharePoint")


def init_list(client: GraphClient, settings: SharePointSettings,
              client_id: str | None = None) -> InitResult:
    """Create the list, or complete an existing one. Idempotent: a complete list costs two
    reads (site, list with columns) and no write."""
    site = resolve_site(client, settings, client_id)
    result = InitResult(site_id=str(site.get("id", "")))
    try:
        found = sharepoint.find_list(client, result.site_id, settings.list)
        if found is None:
            created = sharepoint.create_list(
                client, result.site_id, settings.list, [c.definition() for c in COLUMNS]
            )
            result.created_list = True
            result.list_id = str(created.get("id", ""))
            result.list_url = str(created.get("webUrl", ""))
            return result
        result.list_id = str(found.get("id", ""))
        result.list_url = str(found.get("webUrl", ""))
        columns = {str(c.get("name", "")).lower(): c for c in found.get("columns") or []}
        for spec in COLUMNS:
            existing = columns.get(spec.name.lower())
            if existing is None:
                sharepoint.add_column(client, result.site_id, result.list_id, spec.definition())
                result.added_columns.append(spec.name)
                continue
            problem = column_problems(existing, spec)
            if problem:
                result.problems.append(problem)
                continue
            if spec.indexed and not existing.get("indexed"):
                sharepoint.update_column(client, result.site_id, result.list_id,
                                         str(existing.get("id") or spec.name), {"indexed": True})
                result.indexed_columns.append(spec.name)
    except Forbidden as exc:
        raise PermissionMissing(
            grant_instructions(settings, client_id, result.site_id)
        ) from exc
    return result


@dataclass(frozen=True)
class ListRef:
    """Where the program's list lives, once resolved (site id, list id, list URL)."""

    site_id: str
    list_id: str
    web_url: str = ""


def find_list_ref(client: GraphClient, settings: SharePointSettings) -> ListRef | None:
    """The program's list, or None when `sharepoint init` has not made it yet. One request
    (site path and list title in one URL); a second only if Graph leaves out the site id."""
    try:
        found = sharepoint.list_by_title(client, settings.site, settings.list)
    except Forbidden as exc:
        raise PermissionMissing(grant_instructions(settings, None, None)) from exc
    if found is None:
        return None
    site_id = str((found.get("parentReference") or {}).get("siteId") or "")
    if not site_id:
        site_id = str(resolve_site(client, settings).get("id", ""))
    return ListRef(site_id, str(found["id"]), str(found.get("webUrl", "")))


def missing_columns(found: dict[str, Any], names: Sequence[str] = READ_COLUMNS) -> list[str]:
    columns = {str(c.get("name", "")).lower() for c in found.get("columns") or []}
    return [n for n in names if n != TITLE and n.lower() not in columns]


__all__ = [
    "COLUMNS",
    "InitResult",
    "ListRef",
    "PermissionMissing",
    "find_list_ref",
    "grant_instructions",
    "init_list",
]
