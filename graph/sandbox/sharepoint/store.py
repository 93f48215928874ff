"""Every site of the tenant with its lists, and the rules SharePoint applies when they change.

Fixtures, tests and the routes all change SharePoint through `SharePointStore`, so names,
internal field keys, read-only columns and `If-Match` etags are enforced in one place
whichever way a change arrives; the Graph JSON shapes of lists and items are produced here
for the same reason.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from graph.sandbox.core import GraphError
from graph.sandbox.sharepoint.model import (
    Column,
    ListItem,
    Site,
    SPList,
    _builtin_columns,
    _coerce_value,
    _iso,
    etag_matches,
)
from graph.sandbox.sharepoint.persistence import dump, load

DEMO_HOSTNAME = "contoso.sharepoint.com"
DEMO_SITE_PATH = "/sites/mentoring"
DEMO_SITE_COLLECTION_ID = "6f1a2c44-1f2b-4a4e-9b0c-2d7e8f3a9c11"
DEMO_WEB_ID = "0b9d7c55-3e6f-4d21-8a7b-5c4e3f2a1d22"
# The tenant's root site (`GET /sites/root`), which every tenant has: a Sites.Selected app
# granted only the program's site is refused it.
DEMO_ROOT_SITE_COLLECTION_ID = "2c8e4b17-6d3a-4f95-b1e0-7a9c5d2f3e48"
DEMO_ROOT_WEB_ID = "9e3f1a6b-4c2d-4e87-a5b9-0d6c8f7e2a31"


class SharePointStore:
    """Every site of the tenant with its lists. Time comes from the caller (the sandbox clock)."""

    def __init__(self) -> None:
        self.sites: dict[str, Site] = {}  # by composite id

    # -- sites --------------------------------------------------------------------------------

    def add_site(
        self,
        hostname: str,
        path: str,
        display_name: str,
        *,
        created: datetime,
        site_collection_id: str | None = None,
        web_id: str | None = None,
    ) -> Site:
        site = Site(
            hostname=hostname.lower(),
            path="/" + path.strip("/"),
            display_name=display_name,
            site_collection_id=site_collection_id or str(uuid.uuid4()),
            web_id=web_id or str(uuid.uuid4()),
            created=created,
        )
        self.sites[site.id] = site
        return site

    @classmethod
    def with_demo_site(cls, created: datetime | None = None) -> SharePointStore:
        """The default fixture: `contoso.sharepoint.com:/sites/mentoring`, with no lists, and
        the tenant's root site."""
        store = cls()
        store.add_site(
            DEMO_HOSTNAME,
            "/",
            "Communication site",
            created=created or datetime.fromisoformat("2024-03-04T08:00:00+00:00"),
            site_collection_id=DEMO_ROOT_SITE_COLLECTION_ID,
            web_id=DEMO_ROOT_WEB_ID,
        )
        store.add_site(
            DEMO_HOSTNAME,
            DEMO_SITE_PATH,
            "Reverse Mentoring",
            created=created or datetime.fromisoformat("2025-01-06T08:00:00+00:00"),
            site_collection_id=DEMO_SITE_COLLECTION_ID,
            web_id=DEMO_WEB_ID,
        )
        return store

    def site(self, ref: str) -> Site:
        """A site by composite id, by `hostname:/path[:]`, `root` (the tenant's root site) or
        a bare hostname (that host's root site), or 404 `itemNotFound`."""
        found: Site | None = None
        if "," not in ref and ":" not in ref:
            roots = [s for s in self.sites.values() if s.path == "/"
                     and (ref.lower() == "root" or s.hostname == ref.lower())]
            if roots:
                return roots[0]
        if ":/" in ref:
            hostname, _, path = ref.partition(":")
            wanted = "/" + path.strip(":").strip("/")
            for site in self.sites.values():
                if site.hostname == hostname.lower() and site.path.lower() == wanted.lower():
                    found = site
        else:
            found = self.sites.get(ref.lower()) or self.sites.get(ref)
            if found is None:
                for site in self.sites.values():
                    if site.id.lower() == ref.lower():
                        found = site
        if found is None:
            raise GraphError(404, "itemNotFound", "Requested site could not be found")
        return found

    # -- lists --------------------------------------------------------------------------------

    def create_list(
        self,
        site: Site,
        display_name: str,
        columns: Iterable[Column] = (),
        *,
        created: datetime,
        created_by: dict[str, Any],
        template: str = "genericList",
    ) -> SPList:
        for existing in site.lists.values():
            if existing.display_name.lower() == display_name.lower():
                # https://learn.microsoft.com/en-us/graph/errors (nameAlreadyExists)
                raise GraphError(409, "nameAlreadyExists", "The specified name is already in use.")
        url_name = re.sub(r"[^A-Za-z0-9_-]", "", display_name) or "List"
        sp_list = SPList(
            id=str(uuid.uuid4()),
            name=url_name,
            display_name=display_name,
            created=created,
            modified=created,
            created_by=created_by,
            template=template,
        )
        for column in _builtin_columns():
            sp_list.columns[column.name] = column
        for column in columns:
            self.add_column(sp_list, column)
        site.lists[sp_list.id] = sp_list
        return sp_list

    def get_list(self, site: Site, ref: str) -> SPList:
        """A list by id or by display name (Graph accepts either in the path)."""
        if ref in site.lists:
            return site.lists[ref]
        lowered = ref.lower()
        for sp_list in site.lists.values():
            if lowered in (sp_list.id.lower(), sp_list.display_name.lower(), sp_list.name.lower()):
                return sp_list
        raise GraphError(404, "itemNotFound", "The specified list was not found")

    def add_column(self, sp_list: SPList, column: Column) -> Column:
        if sp_list.column(column.name) is not None:
            raise GraphError(
                409, "nameAlreadyExists", f"A column named '{column.name}' already exists."
            )
        sp_list.columns[column.name] = column
        return column

    # -- items --------------------------------------------------------------------------------

    def _checked_fields(self, sp_list: SPList, fields: Any) -> dict[str, Any]:
        if not isinstance(fields, dict):
            raise GraphError(400, "invalidRequest", "Invalid request: 'fields' must be an object.")
        checked: dict[str, Any] = {}
        for key, value in fields.items():
            if key.startswith("@odata."):
                continue
            column = sp_list.column(key)
            if column is None:
                # Field keys are internal names; anything else is refused.
                raise GraphError(400, "invalidRequest", f"Field '{key}' is not recognized")
            if column.read_only:
                raise GraphError(400, "invalidRequest", f"Field '{key}' is read-only")
            checked[column.name] = _coerce_value(column, value)
        return checked

    def insert_item(
        self,
        sp_list: SPList,
        fields: dict[str, Any],
        *,
        now: datetime,
        actor: dict[str, Any],
        validate: bool = True,
    ) -> ListItem:
        """Add an item. `validate=False` is for fast fixtures (thousands of rows in a test)."""
        values = self._checked_fields(sp_list, fields) if validate else dict(fields)
        for column in sp_list.columns.values():
            if column.name not in values and (default := column.default()) is not None:
                values[column.name] = default
        item = ListItem(
            id=sp_list.next_item_id,
            fields=values,
            created=now,
            modified=now,
            created_by=actor,
            modified_by=actor,
        )
        if validate:
            # Fast fixtures (validate=False) start without history, like a list whose
            # versioning was switched on after the items were made.
            item.record_version(values)
        sp_list.items[item.id] = item
        sp_list.next_item_id += 1
        return item

    def item(self, sp_list: SPList, item_id: str) -> ListItem:
        try:
            found = sp_list.items.get(int(item_id))
        except ValueError:
            found = None
        if found is None:
            raise GraphError(404, "itemNotFound", "Item not found")
        return found

    def update_fields(
        self,
        sp_list: SPList,
        item: ListItem,
        fields: Any,
        *,
        now: datetime,
        actor: dict[str, Any],
        if_match: str | None = None,
    ) -> ListItem:
        if not etag_matches(if_match, item.etag):
            # https://learn.microsoft.com/en-us/graph/errors: 412 when an If-Match precondition
            # fails; resourceModified is Graph's code for an eTag mismatch.
            raise GraphError(
                412,
                "resourceModified",
                "The resource has changed since the caller last read it; usually an eTag mismatch",
            )
        values = self._checked_fields(sp_list, fields)
        item.fields.update(values)
        item.modified = now
        item.modified_by = actor
        item.version += 1
        item.record_version(values)
        return item

    def person_edits(
        self,
        site: Site,
        list_ref: str,
        item_id: str,
        fields: dict[str, Any],
        *,
        person: dict[str, Any],
        now: datetime,
    ) -> ListItem:
        """A person edits an item in the browser (typing notes): new etag, `lastModifiedBy`
        the person. What the worker must never overwrite."""
        sp_list = self.get_list(site, list_ref)
        return self.update_fields(
            sp_list, self.item(sp_list, item_id), fields, now=now, actor=person
        )

    def delete_item(self, sp_list: SPList, item: ListItem, *, if_match: str | None) -> None:
        if not etag_matches(if_match, item.etag):
            raise GraphError(
                412,
                "resourceModified",
                "The resource has changed since the caller last read it; usually an eTag mismatch",
            )
        del sp_list.items[item.id]

    # -- JSON shapes --------------------------------------------------------------------------

    def list_json(self, site: Site, sp_list: SPList, *, columns: bool = False) -> dict[str, Any]:
        etag = f'"{sp_list.etag_guid},{sp_list.version}"'
        body: dict[str, Any] = {
            "@odata.etag": etag,
            "id": sp_list.id,
            "name": sp_list.name,
            "displayName": sp_list.display_name,
            "description": "",
            "eTag": etag,
            "createdDateTime": _iso(sp_list.created),
            "lastModifiedDateTime": _iso(sp_list.modified),
            "webUrl": f"{site.web_url}/Lists/{sp_list.name}",
            "createdBy": sp_list.created_by,
            "parentReference": {"siteId": site.id},
            "list": {"contentTypesEnabled": False, "hidden": False, "template": sp_list.template},
        }
        if columns:
            body["columns"] = [c.graph_json() for c in sp_list.columns.values()]
        return body

    def fields_json(
        self, sp_list: SPList, item: ListItem, select: list[str] | None = None
    ) -> dict[str, Any]:
        full: dict[str, Any] = {
            "@odata.etag": item.etag,
            "id": str(item.id),
            "ContentType": "Item",
            "Title": None,
            "Modified": _iso(item.modified),
            "Created": _iso(item.created),
            "AuthorLookupId": "1073741822" if "application" in item.created_by else "7",
            "EditorLookupId": "1073741822" if "application" in item.modified_by else "7",
            "_UIVersionString": f"{item.version}.0",
            "Attachments": False,
            "Edit": "",
            "ItemChildCount": "0",
            "FolderChildCount": "0",
        }
        full.update(item.fields)
        if full["Title"] is None:
            del full["Title"]
        if select is None:
            return full
        wanted = {s.lower() for s in select}
        return {k: v for k, v in full.items() if k == "@odata.etag" or k.lower() in wanted}

    def item_json(
        self,
        site: Site,
        sp_list: SPList,
        item: ListItem,
        *,
        fields: bool = False,
        fields_select: list[str] | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "@odata.etag": item.etag,
            "createdDateTime": _iso(item.created),
            "eTag": item.etag,
            "id": str(item.id),
            "lastModifiedDateTime": _iso(item.modified),
            "webUrl": f"{site.web_url}/Lists/{sp_list.name}/DispForm.aspx?ID={item.id}",
            "createdBy": item.created_by,
            "lastModifiedBy": item.modified_by,
            "parentReference": {"id": sp_list.id, "siteId": site.id},
            "contentType": {"id": "0x0100", "name": "Item"},
        }
        if fields:
            body["fields"] = self.fields_json(sp_list, item, fields_select)
        return body

    def versions_json(self, sp_list: SPList, item: ListItem, *,
                      fields: bool) -> list[dict[str, Any]]:
        """The listItemVersion collection, newest first as SharePoint lists it; `fields` only
        with `$expand=fields`. `lastModifiedBy` is the identity that saved each version."""
        body: list[dict[str, Any]] = []
        for entry, values in reversed(item.versions()):
            version: dict[str, Any] = {
                "id": entry.label,
                "lastModifiedDateTime": _iso(entry.modified),
                "lastModifiedBy": entry.modified_by,
                "published": {"level": "published", "versionId": entry.label},
            }
            if fields:
                version["fields"] = {"@odata.etag": f'"{item.etag_guid},{entry.number}"',
                                     "id": str(item.id), **values}
            body.append(version)
        return body

    # -- persistence --------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return dump(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SharePointStore:
        return load(cls(), data)
