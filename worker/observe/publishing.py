"""What publishing with consent reads: two filtered queries and, for the items the plan must
check, their version history.

A run asks the notes list for the program's items on which both boxes are ticked
(`fields/MentorConsent eq 1 and ...`: a Yes/No column is filtered with 1, not `true`, see
`graph.sandbox.sharepoint.query`), and the published list for the program's copies. Both
columns are indexed, so the queries stay under SharePoint's list view threshold however long
the program runs. Versions are read only for items whose text or boxes changed since the copy
was made (`worker.plan.publishing.versions_to_read`), so a run with nothing new to publish
costs the two queries.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from graph import sharepoint
from graph.client import GraphClient
from graph.errors import Forbidden, GraphApiError
from worker.config import Config
from worker.core.notes_list import (
    KEY_COLUMN,
    MENTEE_CONSENT,
    MENTOR_CONSENT,
    PUBLISHED_READ,
)
from worker.observe.notes_list import oldest_item
from worker.observe.state import NotesList, Publishing

# What a published copy is made of, read from the working item.
CONSENTED_READ = ("Title", "ProgramId", "PairingId", KEY_COLUMN, "SessionNumber", "Topic",
                  "Phase", "SessionStart", "Notes", MENTOR_CONSENT, MENTEE_CONSENT)


def consent_filter(program_id: str) -> str:
    return (f"{sharepoint.eq_filter('ProgramId', program_id)} and "
            f"fields/{MENTOR_CONSENT} eq 1 and fields/{MENTEE_CONSENT} eq 1")


def read_publishing(client: GraphClient, config: Config, notes_list: NotesList) -> Publishing:
    """The published list, the consented items and the copies. A missing published list or
    a refused read is `problem` (nothing is published or removed on a guess)."""
    program = config.program
    settings, publishing = program.sharepoint, program.publishing
    found = Publishing()
    if settings is None or publishing is None:
        return found
    try:
        ref = sharepoint.list_by_title(client, settings.site, publishing.list)
    except Forbidden as exc:
        found.problem = f"the published list cannot be read: {exc}"
        return found
    if ref is None:
        found.problem = (f"published list '{publishing.list}' not found on {settings.site}: "
                         "run `mentoring sharepoint init`")
        return found
    found.published_list = NotesList(notes_list.site_id, str(ref["id"]),
                                     str(ref.get("webUrl") or ""))
    try:
        consented = sharepoint.items_where(client, notes_list.site_id, notes_list.list_id,
                                           consent_filter(program.id), select=CONSENTED_READ)
        found.copies = read_copies(client, found.published_list, program.id)
    except (Forbidden, GraphApiError) as exc:
        found.problem = f"the lists could not be read: {exc}"
        return found
    found.consented = _by_key(consented)
    return found


def read_copies(client: GraphClient, published_list: NotesList, program_id: str
                ) -> dict[str, dict[str, Any]]:
    """The program's published copies by session key (the oldest of several)."""
    copies = sharepoint.items_where(client, published_list.site_id, published_list.list_id,
                                    sharepoint.eq_filter("ProgramId", program_id),
                                    select=PUBLISHED_READ)
    return _by_key(copies)


def read_versions(client: GraphClient, notes_list: NotesList, publishing: Publishing,
                  item_ids: Sequence[str]) -> None:
    """The version history of each of `item_ids`, into `publishing.versions`."""
    if not item_ids:
        return
    answers = sharepoint.item_versions(client, notes_list.site_id, notes_list.list_id,
                                       list(item_ids))
    for item_id, answer in answers.items():
        if answer is None:
            publishing.versions[item_id] = "the item no longer exists"
        elif isinstance(answer, GraphApiError):
            publishing.versions[item_id] = f"its version history could not be read: {answer}"
        else:
            publishing.versions[item_id] = answer


def _by_key(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        fields = item.get("fields")
        key = fields.get(KEY_COLUMN) if isinstance(fields, dict) else None
        if isinstance(key, str) and key:
            grouped.setdefault(key, []).append(item)
    return {key: chosen for key, several in grouped.items()
            if (chosen := oldest_item(several)) is not None}
