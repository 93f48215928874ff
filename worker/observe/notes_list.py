"""The program's notes list as the run reads it: where it lives (site id, list id, address),
the items of the sessions the plan must look at, and what to tell an admin when the app may not
use the site (403). Graph: https://learn.microsoft.com/graph/api/site-post-permissions,
https://learn.microsoft.com/graph/permissions-selected-overview.

An item that cannot be understood (its `id` not a list item number, its `fields` no object;
a `$batch` answer of the wrong shape, see `graph.sharepoint`) is never guessed around: the
session it was read for gets a read error, so the plan neither creates a second item for it nor
updates one on a guess, and names it (exit 1); the next run reads it again. The list itself
without an `id` is `MalformedResponse` (a server failure: the run stops, exit 3).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from graph import sharepoint
from graph.client import GraphClient
from graph.errors import Forbidden
from worker.config.program import SharePointSettings
from worker.core.notes_list import KEY_COLUMN, READ_COLUMNS
from worker.observe.state import NotesList, item_order


class NotesListUnavailable(Exception):
    """The program's list cannot be used; the message says what to do about it."""


class PermissionMissing(NotesListUnavailable):
    """The app may not use the site: the message says what an admin must grant, and how."""


class ListMissing(NotesListUnavailable):
    """The site has no list of that title: `mentoring sharepoint init` makes it."""


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


def find_list_ref(client: GraphClient, settings: SharePointSettings) -> NotesList | None:
    """The program's list, or None when `sharepoint init` has not made it yet. One request
    (site path and list title in one URL); a second only if Graph leaves out the site id."""
    try:
        found = sharepoint.list_by_title(client, settings.site, settings.list)
    except Forbidden as exc:
        raise PermissionMissing(grant_instructions(settings, None, None)) from exc
    if found is None:
        return None
    parent = found.get("parentReference")
    site_id = parent.get("siteId") if isinstance(parent, Mapping) else None
    if not isinstance(site_id, str) or not site_id:
        site_id = str(resolve_site(client, settings)["id"])
    web_url = found.get("webUrl")
    return NotesList(site_id, str(found["id"]), web_url if isinstance(web_url, str) else "")


def require_list(client: GraphClient, settings: SharePointSettings) -> NotesList:
    """The program's list; `NotesListUnavailable` (no grant, or no list yet) otherwise."""
    found = find_list_ref(client, settings)
    if found is None:
        raise ListMissing(f"list '{settings.list}' not found on {settings.site}: run "
                          "`mentoring sharepoint init`")
    return found


def read_items(client: GraphClient, notes_list: NotesList, wanted: Mapping[str, str | None],
               ) -> tuple[dict[str, dict[str, Any] | None], dict[str, str],
                          dict[str, list[dict[str, Any]]]]:
    """The current item of each session key in `wanted` (None: the list has none), read in
    `$batch`es: by id where the event's record knows it, else by the indexed session key
    column, which also finds the item a killed run created but never recorded. Several items
    for one key: the oldest (smallest id) is the session's (`worker.plan.duplicates` decides
    about the others). Returns the items, the keys that could not be read with the reason,
    and every item of each key found more than once."""
    found: dict[str, dict[str, Any] | None] = {}
    errors: dict[str, str] = {}
    several: dict[str, list[dict[str, Any]]] = {}
    by_id = {key: item_id for key, item_id in wanted.items() if item_id}
    if by_id:
        items = sharepoint.items_by_id(client, notes_list.site_id, notes_list.list_id,
                                       list(by_id.values()), select=READ_COLUMNS)
        for key, item_id in by_id.items():
            item = items[item_id]
            if isinstance(item, Exception):
                errors[key] = f"reading item {item_id}: {_short(item)}"
            elif item is not None and (problem := unreadable_item(item)) is not None:
                errors[key] = f"item {item_id} cannot be read: {problem}"
            elif item is not None and item["fields"].get(KEY_COLUMN) == key:
                found[key] = item
    unknown: Sequence[str] = [k for k in sorted(wanted) if k not in found and k not in errors]
    if unknown:
        matches = sharepoint.items_by_value(client, notes_list.site_id, notes_list.list_id,
                                            KEY_COLUMN, list(unknown), select=READ_COLUMNS)
        for key in unknown:
            answer = matches[key]
            if isinstance(answer, Exception):
                errors[key] = f"looking up the item: {_short(answer)}"
                continue
            problems = [p for p in map(unreadable_item, answer) if p is not None]
            if problems:
                # The unreadable one may be the session's own item: choosing among the others
                # could write a second one, so the session waits for a readable answer.
                errors[key] = f"an item found for it cannot be read: {problems[0]}"
                continue
            found[key] = oldest_item(answer)
            if len(answer) > 1:
                several[key] = [dict(item) for item in answer]
    return found, errors, several


def read_program_items(client: GraphClient, notes_list: NotesList,
                       program_id: str) -> list[dict[str, Any]]:
    """Every item of the program: one filtered query on the indexed ProgramId column, all
    its pages (the digest's read, once a period; the run otherwise reads items by session)."""
    return sharepoint.items_where(client, notes_list.site_id, notes_list.list_id,
                                  sharepoint.eq_filter("ProgramId", program_id),
                                  select=READ_COLUMNS)


def unreadable_item(item: Mapping[str, Any]) -> str | None:
    """Why a list item answer cannot be used, or None: the worker needs its numeric `id`
    (the oldest item of a session is the smallest) and its `fields` object."""
    item_id = item.get("id")
    if not isinstance(item_id, str) or not item_id.isascii() or not item_id.isdigit():
        return "its `id` is not a list item number"
    if not isinstance(item.get("fields"), Mapping):
        return "its `fields` is not an object"
    return None


def oldest_item(items: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """Of several items for one session, the session's: the oldest (smallest id)."""
    if not items:
        return None
    oldest: Mapping[str, Any] = min(items, key=item_order)
    return dict(oldest)


def _short(error: Exception) -> str:
    short = getattr(error, "short", None)
    return str(short()) if callable(short) else str(error)
