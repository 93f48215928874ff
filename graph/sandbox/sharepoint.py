"""SharePoint sites, lists, columns and list items, as Graph's SharePoint API serves them.

The worker keeps one list item per mentoring session and reads the notes people type into it, so
the sandbox must behave like SharePoint where it hurts: filters on columns that are not indexed
fail unless the request carries `Prefer: HonorNonIndexedQueriesWarningMayFailRandomly`, and on
a list above the 5,000-item list view threshold they fail even with it; `If-Match` etags guard
against overwriting what a person typed; field keys are column internal names; pages end in an
absolute `@odata.nextLink`. People edit items through a sandbox-only control endpoint.

Microsoft documentation behind each behaviour (cited again where it is modelled):
- site by path, composite ids: https://learn.microsoft.com/en-us/graph/api/site-getbypath
  and https://learn.microsoft.com/en-us/onedrive/developer/rest-api/resources/site
- lists and items: https://learn.microsoft.com/en-us/graph/api/list-create,
  https://learn.microsoft.com/en-us/graph/api/listitem-list,
  https://learn.microsoft.com/en-us/graph/api/listitem-create,
  https://learn.microsoft.com/en-us/graph/api/listitem-update,
  https://learn.microsoft.com/en-us/graph/api/listitem-delete
- columns: https://learn.microsoft.com/en-us/graph/api/list-post-columns,
  https://learn.microsoft.com/en-us/graph/api/columndefinition-update
- error codes (itemNotFound, nameAlreadyExists, invalidRequest, resourceModified/412,
  activityLimitReached/429, accessDenied): https://learn.microsoft.com/en-us/graph/errors
- the non-indexed filter message, verbatim as Graph answers it:
  https://github.com/microsoftgraph/microsoft-graph-docs/issues/2279
- non-indexed filters on large lists answered with 429 even with the Prefer header:
  https://github.com/microsoftgraph/msgraph-sdk-dotnet/issues/827 and
  https://camerondwyer.com/2018/01/31/microsoft-graph-api-throttling-sharepoint-lists-libraries-http-429-error-code/

Resource units (for the throttle; counted by the pipeline from `service="sharepoint"`):
SharePoint charges 1 RU for a single-item read, 2 RU for a multi-item read (a list, a page of
items), 2 RU for a create/update/delete, and more for delta with a token or `$expand`-heavy
queries; https://learn.microsoft.com/en-us/sharepoint/dev/general-development/how-to-avoid-getting-throttled-or-blocked-in-sharepoint-online
"""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import quote as url_quote

from graph.clock import Clock
from graph.sandbox import odata
from graph.sandbox.core import (
    GraphError,
    Router,
    SandboxRequest,
    SandboxResponse,
    json_response,
    no_content,
)

GRAPH_ROOT = "https://graph.microsoft.com"

# SharePoint Online's list view threshold: a query whose unindexed part has to scan more rows
# than this is refused. https://learn.microsoft.com/en-us/troubleshoot/sharepoint/lists-and-libraries/items-exceeds-list-view-threshold
LIST_VIEW_THRESHOLD = 5000

# Graph does not document the listItem page sizes. 200 is what list items come back in without
# `$top`; a larger `$top` is clamped to the list view threshold, the most SharePoint will read
# in one query (docs silent: the stricter choice).
DEFAULT_PAGE_SIZE = 200
MAX_PAGE_SIZE = LIST_VIEW_THRESHOLD

PREFER_NON_INDEXED = "HonorNonIndexedQueriesWarningMayFailRandomly"

READ_PERMISSIONS = (
    "Sites.Selected",
    "Sites.Read.All",
    "Sites.ReadWrite.All",
    "Sites.Manage.All",
    "Sites.FullControl.All",
)
WRITE_PERMISSIONS = (
    "Sites.Selected",
    "Sites.ReadWrite.All",
    "Sites.Manage.All",
    "Sites.FullControl.All",
)
# Creating a list or a column: list-create and list-post-columns list Sites.Manage.All as the
# least privileged application permission (Sites.FullControl.All above it).
MANAGE_PERMISSIONS = ("Sites.Selected", "Sites.Manage.All", "Sites.FullControl.All")
_TENANT_WIDE = {
    "Sites.Read.All",
    "Sites.ReadWrite.All",
    "Sites.Manage.All",
    "Sites.FullControl.All",
}

COLUMN_TYPES = ("text", "number", "boolean", "dateTime", "choice")

DEMO_HOSTNAME = "contoso.sharepoint.com"
DEMO_SITE_PATH = "/sites/mentoring"
DEMO_SITE_COLLECTION_ID = "6f1a2c44-1f2b-4a4e-9b0c-2d7e8f3a9c11"
DEMO_WEB_ID = "0b9d7c55-3e6f-4d21-8a7b-5c4e3f2a1d22"


class SandboxLike(Protocol):
    """What the handlers need from `graph.sandbox.tenant_app.Sandbox` (no import cycle)."""

    clock: Clock

    @property
    def state(self) -> Any: ...

    def require_site_access(self, req: SandboxRequest, site_id: str) -> None: ...


# ---------------------------------------------------------------------------------------------
# Model


@dataclass
class Column:
    """A columnDefinition. `name` is the internal name: the key of the item's fields."""

    name: str
    display_name: str
    type: str = "text"
    indexed: bool = False
    hidden: bool = False
    required: bool = False
    read_only: bool = False
    allow_multiple_lines: bool = False
    text_type: str = "plain"
    choices: list[str] = field(default_factory=list)
    id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def graph_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "displayName": self.display_name,
            "columnGroup": "Custom Columns",
            "description": "",
            "enforceUniqueValues": False,
            "hidden": self.hidden,
            "indexed": self.indexed,
            "readOnly": self.read_only,
            "required": self.required,
        }
        if self.type == "text":
            body["text"] = {
                "allowMultipleLines": self.allow_multiple_lines,
                "appendChangesToExistingText": False,
                "linesForEditing": 6 if self.allow_multiple_lines else 0,
                "maxLength": 255,
                **({"textType": self.text_type} if self.allow_multiple_lines else {}),
            }
        elif self.type == "number":
            body["number"] = {"decimalPlaces": "automatic", "displayAs": "number"}
        elif self.type == "boolean":
            body["boolean"] = {}
        elif self.type == "dateTime":
            body["dateTime"] = {"displayAs": "default", "format": "dateTime"}
        elif self.type == "choice":
            body["choice"] = {
                "allowTextEntry": False,
                "choices": list(self.choices),
                "displayAs": "dropDownMenu",
            }
        return body

    @classmethod
    def from_definition(cls, raw: Any) -> Column:
        """Build from a columnDefinition request body; Graph's 400 for what it would refuse."""
        if not isinstance(raw, dict) or not isinstance(raw.get("name"), str) or not raw["name"]:
            raise GraphError(400, "invalidRequest", "A column definition needs a 'name'.")
        name = raw["name"]
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise GraphError(400, "invalidRequest", f"Invalid column name '{name}'.")
        kinds = [k for k in (*COLUMN_TYPES, "note") if k in raw]
        if len(kinds) > 1:
            raise GraphError(400, "invalidRequest", "A column definition has exactly one type.")
        kind = kinds[0] if kinds else "text"
        column = cls(
            name=name,
            display_name=str(raw.get("displayName") or name),
            type="text" if kind == "note" else kind,
            indexed=bool(raw.get("indexed", False)),
            hidden=bool(raw.get("hidden", False)),
            required=bool(raw.get("required", False)),
        )
        facet = raw.get(kind) if kinds else None
        if kind == "note":
            column.allow_multiple_lines = True
        if isinstance(facet, dict) and column.type == "text":
            column.allow_multiple_lines = bool(
                facet.get("allowMultipleLines", column.allow_multiple_lines)
            )
            column.text_type = str(facet.get("textType", "plain"))
        if column.type == "choice":
            choices = facet.get("choices") if isinstance(facet, dict) else None
            if not isinstance(choices, list) or not all(isinstance(c, str) for c in choices):
                raise GraphError(400, "invalidRequest", "A choice column needs 'choices'.")
            column.choices = list(choices)
        return column


def _builtin_columns() -> list[Column]:
    # Every generic list has these; ID is always indexed, Title is not (the 2018 report of the
    # non-indexed error was about filtering Title).
    return [
        Column("Title", "Title", required=False),
        Column("ID", "ID", type="number", indexed=True, read_only=True),
        Column("Created", "Created", type="dateTime", read_only=True),
        Column("Modified", "Modified", type="dateTime", read_only=True),
    ]


@dataclass
class ListItem:
    id: int
    fields: dict[str, Any]
    created: datetime
    modified: datetime
    created_by: dict[str, Any]
    modified_by: dict[str, Any]
    etag_guid: str = field(default_factory=lambda: str(uuid.uuid4()))
    version: int = 1

    @property
    def etag(self) -> str:
        """SharePoint's listItem etag: ``"{guid},{version}"``, quotes included."""
        return f'"{self.etag_guid},{self.version}"'


@dataclass
class SPList:
    id: str
    name: str  # URL segment of the list (Lists/{name})
    display_name: str
    created: datetime
    modified: datetime
    created_by: dict[str, Any]
    template: str = "genericList"
    columns: dict[str, Column] = field(default_factory=dict)  # by internal name
    items: dict[int, ListItem] = field(default_factory=dict)
    next_item_id: int = 1
    etag_guid: str = field(default_factory=lambda: str(uuid.uuid4()))
    version: int = 1

    def column(self, name: str) -> Column | None:
        found = self.columns.get(name)
        if found is not None:
            return found
        lowered = name.lower()
        for column in self.columns.values():
            if column.name.lower() == lowered:
                return column
        return None


@dataclass
class Site:
    hostname: str
    path: str  # server-relative, e.g. /sites/mentoring
    display_name: str
    site_collection_id: str
    web_id: str
    created: datetime
    lists: dict[str, SPList] = field(default_factory=dict)  # by id

    @property
    def id(self) -> str:
        return f"{self.hostname},{self.site_collection_id},{self.web_id}"

    @property
    def web_url(self) -> str:
        return f"https://{self.hostname}{self.path}"

    def graph_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.path.rstrip("/").rsplit("/", 1)[-1],
            "displayName": self.display_name,
            "description": "",
            "webUrl": self.web_url,
            "createdDateTime": _iso(self.created),
            "lastModifiedDateTime": _iso(self.created),
            "siteCollection": {"hostname": self.hostname},
        }


def _iso(instant: datetime) -> str:
    return instant.strftime("%Y-%m-%dT%H:%M:%SZ")


def app_identity(app_id: str | None, display_name: str | None = None) -> dict[str, Any]:
    return {"application": {"id": app_id or "", "displayName": display_name or app_id or ""}}


def user_identity(user_id: str, display_name: str, email: str | None) -> dict[str, Any]:
    return {"user": {"id": user_id, "displayName": display_name, "email": email or ""}}


def etag_matches(header: str | None, etag: str) -> bool:
    """`If-Match` against a listItem etag. `*` matches; quotes around the value are optional
    (clients send both `"{guid},1"` and `{guid},1`)."""
    if header is None:
        return True
    for candidate in (part.strip() for part in header.split(",")):
        if candidate == "*":
            return True
    wanted = header.strip().removeprefix("W/").strip('"')
    return wanted == etag.strip('"')


# ---------------------------------------------------------------------------------------------
# Store


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
        """The default fixture: `contoso.sharepoint.com:/sites/mentoring`, with no lists."""
        store = cls()
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
        """A site by composite id, by `hostname:/path[:]`, or 404 `itemNotFound`."""
        found: Site | None = None
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
        item = ListItem(
            id=sp_list.next_item_id,
            fields=values,
            created=now,
            modified=now,
            created_by=actor,
            modified_by=actor,
        )
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

    # -- persistence --------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        def column_json(c: Column) -> dict[str, Any]:
            return {
                "id": c.id,
                "name": c.name,
                "display_name": c.display_name,
                "type": c.type,
                "indexed": c.indexed,
                "hidden": c.hidden,
                "required": c.required,
                "read_only": c.read_only,
                "allow_multiple_lines": c.allow_multiple_lines,
                "text_type": c.text_type,
                "choices": list(c.choices),
            }

        def item_json(i: ListItem) -> dict[str, Any]:
            return {
                "id": i.id,
                "fields": i.fields,
                "created": i.created.isoformat(),
                "modified": i.modified.isoformat(),
                "created_by": i.created_by,
                "modified_by": i.modified_by,
                "etag_guid": i.etag_guid,
                "version": i.version,
            }

        def list_json(sp: SPList) -> dict[str, Any]:
            return {
                "id": sp.id,
                "name": sp.name,
                "display_name": sp.display_name,
                "created": sp.created.isoformat(),
                "modified": sp.modified.isoformat(),
                "created_by": sp.created_by,
                "template": sp.template,
                "columns": [column_json(c) for c in sp.columns.values()],
                "items": [item_json(i) for i in sp.items.values()],
                "next_item_id": sp.next_item_id,
                "etag_guid": sp.etag_guid,
                "version": sp.version,
            }

        return {
            "sites": [
                {
                    "hostname": s.hostname,
                    "path": s.path,
                    "display_name": s.display_name,
                    "site_collection_id": s.site_collection_id,
                    "web_id": s.web_id,
                    "created": s.created.isoformat(),
                    "lists": [list_json(sp) for sp in s.lists.values()],
                }
                for s in self.sites.values()
            ]
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SharePointStore:
        store = cls()
        for raw_site in data.get("sites", []):
            site = store.add_site(
                raw_site["hostname"],
                raw_site["path"],
                raw_site["display_name"],
                created=datetime.fromisoformat(raw_site["created"]),
                site_collection_id=raw_site["site_collection_id"],
                web_id=raw_site["web_id"],
            )
            for raw in raw_site.get("lists", []):
                sp_list = SPList(
                    id=raw["id"],
                    name=raw["name"],
                    display_name=raw["display_name"],
                    created=datetime.fromisoformat(raw["created"]),
                    modified=datetime.fromisoformat(raw["modified"]),
                    created_by=raw["created_by"],
                    template=raw.get("template", "genericList"),
                    next_item_id=raw["next_item_id"],
                    etag_guid=raw["etag_guid"],
                    version=raw["version"],
                )
                for rc in raw.get("columns", []):
                    sp_list.columns[rc["name"]] = Column(**rc)
                for ri in raw.get("items", []):
                    sp_list.items[ri["id"]] = ListItem(
                        id=ri["id"],
                        fields=ri["fields"],
                        created=datetime.fromisoformat(ri["created"]),
                        modified=datetime.fromisoformat(ri["modified"]),
                        created_by=ri["created_by"],
                        modified_by=ri["modified_by"],
                        etag_guid=ri["etag_guid"],
                        version=ri["version"],
                    )
                site.lists[sp_list.id] = sp_list
        return store


def _coerce_value(column: Column, value: Any) -> Any:
    """Check a field value against its column type, as SharePoint does on write."""
    if value is None:
        return None
    ok = True
    if column.type == "number":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif column.type == "boolean":
        ok = isinstance(value, bool)
    elif column.type == "dateTime":
        if isinstance(value, str):
            try:
                datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                ok = False
        else:
            ok = False
    else:
        ok = isinstance(value, str)
    if not ok:
        raise GraphError(
            400, "invalidRequest", f"Invalid value for field '{column.name}': {value!r}"
        )
    return value


# ---------------------------------------------------------------------------------------------
# Item queries: $filter with SharePoint's indexing rules, paging


def _field_resolver(item: Any, path: Any) -> Any:
    segments = list(path)
    if len(segments) == 2 and segments[0].lower() == "fields":
        values = item.get("fields", {})
        name = segments[1]
        if name in values:
            return values[name]
        for key, value in values.items():
            if key.lower() == name.lower():
                return value
        return None
    return odata.default_resolver(item, segments)


def _conjuncts(node: odata.Node) -> list[odata.Node]:
    if isinstance(node, odata.BoolOp) and node.op == "and":
        return [*_conjuncts(node.left), *_conjuncts(node.right)]
    return [node]


def _referenced_columns(sp_list: SPList, node: odata.Node) -> list[Column]:
    found: list[Column] = []
    for sub in odata.iter_nodes(node):
        if not isinstance(sub, odata.Path):
            continue
        if len(sub.segments) != 2 or sub.segments[0].lower() != "fields":
            raise GraphError(
                400,
                "invalidRequest",
                f"Invalid filter clause: only fields/<column> can be filtered, not "
                f"'{'/'.join(sub.segments)}'",
            )
        column = sp_list.column(sub.segments[1])
        if column is None:
            raise GraphError(400, "invalidRequest", f"Field '{sub.segments[1]}' is not recognized")
        found.append(column)
    return found


def filter_items(
    sp_list: SPList, items: list[dict[str, Any]], text: str, *, prefer: list[str]
) -> list[dict[str, Any]]:
    """Apply a `$filter` the way SharePoint-backed Graph does.

    A query may reference a column that is not indexed only with the Prefer header; and when
    the rows the indexed part of the query leaves (the whole list if none) exceed the list view
    threshold, the non-indexed part cannot run at all, header or not.
    """
    try:
        parsed = odata.parse_filter(text, case_insensitive=True, resolver=_field_resolver)
    except odata.ODataError as exc:
        raise exc.to_graph_error(code="invalidRequest") from exc
    for node in odata.iter_nodes(parsed.root):
        if isinstance(node, odata.Lambda | odata.In):
            raise GraphError(400, "invalidRequest", "Invalid filter clause: not supported")
    conjuncts = _conjuncts(parsed.root)
    indexed_parts: list[odata.Node] = []
    unindexed_parts: list[tuple[odata.Node, Column]] = []
    for part in conjuncts:
        columns = _referenced_columns(sp_list, part)
        not_indexed = [c for c in columns if not c.indexed]
        if not_indexed:
            unindexed_parts.append((part, not_indexed[0]))
        else:
            indexed_parts.append(part)
    candidates = items
    for part in indexed_parts:
        sub = odata.Filter(text, part, True, _field_resolver)
        candidates = [i for i in candidates if sub.matches(i)]
    if unindexed_parts:
        column = unindexed_parts[0][1]
        if PREFER_NON_INDEXED not in prefer:
            # Verbatim: https://github.com/microsoftgraph/microsoft-graph-docs/issues/2279
            raise GraphError(
                400,
                "invalidRequest",
                f"Field '{column.name}' cannot be referenced in filter or orderby as it is not "
                f"indexed. Provide the 'Prefer: {PREFER_NON_INDEXED}' header to allow this, but "
                "be warned that such queries may fail on large lists.",
            )
    if len(candidates) > LIST_VIEW_THRESHOLD:
        # Graph answers a query that must scan past the threshold with 429 (no Retry-After:
        # waiting does not help), https://github.com/microsoftgraph/msgraph-sdk-dotnet/issues/827
        raise GraphError(
            429,
            "activityLimitReached",
            "The attempted operation is prohibited because it exceeds the list view threshold.",
        )
    return [i for i in candidates if parsed.matches(i)]


def _skiptoken(last_id: int) -> str:
    # SharePoint's paging token is base64 of "Paged=TRUE&p_ID=<last id>"; clients treat it as
    # opaque and follow @odata.nextLink.
    return base64.b64encode(f"Paged=TRUE&p_ID={last_id}".encode()).decode().rstrip("=")


def _after_id(token: str) -> int:
    try:
        padded = token + "=" * (-len(token) % 4)
        decoded = base64.b64decode(padded).decode()
        match = re.fullmatch(r"Paged=TRUE&p_ID=(\d+)", decoded)
    except (ValueError, UnicodeDecodeError) as exc:
        raise GraphError(400, "invalidRequest", "Invalid $skiptoken") from exc
    if match is None:
        raise GraphError(400, "invalidRequest", "Invalid $skiptoken")
    return int(match.group(1))


def _fields_expand(query: dict[str, str]) -> tuple[bool, list[str] | None]:
    """`$expand=fields` or `fields($select=a,b)` (the docs also show `fields(select=a,b)`)."""
    raw = query.get("$expand") or query.get("expand")
    if not raw:
        return False, None
    normalised = re.sub(r"\((select)=", r"($select=", raw, flags=re.IGNORECASE)
    try:
        expands = odata.parse_expand(normalised)
    except odata.ODataError as exc:
        raise exc.to_graph_error(code="invalidRequest", prefix="") from exc
    for expand in expands:
        if expand.name.lower() == "fields":
            select = expand.options.get("$select")
            return True, [s.strip() for s in select.split(",")] if select else None
    return False, None


# ---------------------------------------------------------------------------------------------
# Handlers


def _authorise(sb: SandboxLike, req: SandboxRequest, site: Site) -> None:
    """Sites.Selected allows nothing by itself: the app needs a grant on this very site."""
    if not (set(req.roles) & _TENANT_WIDE):
        sb.require_site_access(req, site.id)


def _actor(sb: SandboxLike, req: SandboxRequest) -> dict[str, Any]:
    apps = getattr(sb.state.directory, "apps", {})
    app = apps.get(req.app_id) if req.app_id else None
    return app_identity(req.app_id, app.display_name if app is not None else None)


def _store(sb: SandboxLike) -> SharePointStore:
    store = sb.state.sharepoint
    if not isinstance(store, SharePointStore):
        raise GraphError(503, "serviceNotAvailable", "SharePoint is not available")
    return store


def _site(sb: SandboxLike, req: SandboxRequest, site_ref: str) -> tuple[SharePointStore, Site]:
    store = _store(sb)
    site = store.site(site_ref)
    _authorise(sb, req, site)
    return store, site


def get_site(sb: SandboxLike, req: SandboxRequest, site: str) -> SandboxResponse:
    _, found = _site(sb, req, site)
    return json_response(found.graph_json())


def list_lists(sb: SandboxLike, req: SandboxRequest, site: str) -> SandboxResponse:
    store, found = _site(sb, req, site)
    bodies = [store.list_json(found, sp) for sp in found.lists.values()]
    text = req.query.get("$filter")
    if text:
        try:
            parsed = odata.parse_filter(text)
        except odata.ODataError as exc:
            raise exc.to_graph_error(code="invalidRequest") from exc
        bodies = [b for b in bodies if parsed.matches(b)]
    return json_response({"value": bodies})


def get_list(sb: SandboxLike, req: SandboxRequest, site: str, list_ref: str) -> SandboxResponse:
    store, found = _site(sb, req, site)
    sp_list = store.get_list(found, list_ref)
    expand = (req.query.get("$expand") or "").lower()
    return json_response(store.list_json(found, sp_list, columns="columns" in expand))


def create_list(sb: SandboxLike, req: SandboxRequest, site: str) -> SandboxResponse:
    store, found = _site(sb, req, site)
    body = req.json()
    if not isinstance(body, dict) or not isinstance(body.get("displayName"), str):
        raise GraphError(400, "invalidRequest", "A list needs a 'displayName'.")
    facet = body.get("list") or {}
    template = facet.get("template", "genericList") if isinstance(facet, dict) else "genericList"
    raw_columns = body.get("columns") or []
    if not isinstance(raw_columns, list):
        raise GraphError(400, "invalidRequest", "'columns' must be an array.")
    columns = [Column.from_definition(raw) for raw in raw_columns]
    sp_list = store.create_list(
        found,
        body["displayName"],
        columns,
        created=sb.clock.now(),
        created_by=_actor(sb, req),
        template=str(template),
    )
    return json_response(store.list_json(found, sp_list), 201)


def list_columns(sb: SandboxLike, req: SandboxRequest, site: str, list_ref: str) -> SandboxResponse:
    store, found = _site(sb, req, site)
    sp_list = store.get_list(found, list_ref)
    return json_response({"value": [c.graph_json() for c in sp_list.columns.values()]})


def create_column(
    sb: SandboxLike, req: SandboxRequest, site: str, list_ref: str
) -> SandboxResponse:
    store, found = _site(sb, req, site)
    sp_list = store.get_list(found, list_ref)
    column = store.add_column(sp_list, Column.from_definition(req.json()))
    return json_response(column.graph_json(), 201)


def update_column(
    sb: SandboxLike, req: SandboxRequest, site: str, list_ref: str, column: str
) -> SandboxResponse:
    store, found = _site(sb, req, site)
    sp_list = store.get_list(found, list_ref)
    target = sp_list.column(column)
    if target is None:
        for candidate in sp_list.columns.values():
            if candidate.id == column:
                target = candidate
    if target is None:
        raise GraphError(404, "itemNotFound", "Column not found")
    body = req.json()
    if not isinstance(body, dict):
        raise GraphError(400, "invalidRequest", "A columnDefinition object is expected.")
    for key, attr in (
        ("indexed", "indexed"),
        ("hidden", "hidden"),
        ("required", "required"),
        ("displayName", "display_name"),
    ):
        if key in body:
            setattr(target, attr, body[key])
    return json_response(target.graph_json())


def list_items(sb: SandboxLike, req: SandboxRequest, site: str, list_ref: str) -> SandboxResponse:
    store, found = _site(sb, req, site)
    sp_list = store.get_list(found, list_ref)
    expand_fields, select = _fields_expand(req.query)
    try:
        top = odata.parse_top(
            req.query.get("$top"), default=DEFAULT_PAGE_SIZE, maximum=MAX_PAGE_SIZE
        )
    except odata.ODataError as exc:
        raise exc.to_graph_error(code="invalidRequest", prefix="") from exc
    after = _after_id(req.query["$skiptoken"]) if req.query.get("$skiptoken") else 0
    rows: list[dict[str, Any]] = [
        {"id": item.id, "fields": item.fields}
        for item in sorted(sp_list.items.values(), key=lambda i: i.id)
    ]
    if req.query.get("$filter"):
        rows = filter_items(sp_list, rows, req.query["$filter"], prefer=req.prefer())
    rows = [r for r in rows if r["id"] > after]
    page, rest = rows[:top], rows[top:]
    body: dict[str, Any] = {
        "value": [
            store.item_json(
                found, sp_list, sp_list.items[r["id"]], fields=expand_fields, fields_select=select
            )
            for r in page
        ]
    }
    if rest and page:
        params = {k: v for k, v in req.query.items() if k != "$skiptoken"}
        params["$skiptoken"] = _skiptoken(page[-1]["id"])
        encoded = "&".join(f"{k}={url_quote(v, safe=',()=/$')}" for k, v in params.items())
        version = req.version or "v1.0"
        body["@odata.nextLink"] = (
            f"{GRAPH_ROOT}/{version}/sites/{found.id}/lists/{sp_list.id}/items?{encoded}"
        )
    return json_response(body)


def get_item(
    sb: SandboxLike, req: SandboxRequest, site: str, list_ref: str, item_id: str
) -> SandboxResponse:
    store, found = _site(sb, req, site)
    sp_list = store.get_list(found, list_ref)
    expand_fields, select = _fields_expand(req.query)
    item = store.item(sp_list, item_id)
    return json_response(
        store.item_json(found, sp_list, item, fields=expand_fields, fields_select=select),
        ETag=item.etag,
    )


def get_item_fields(
    sb: SandboxLike, req: SandboxRequest, site: str, list_ref: str, item_id: str
) -> SandboxResponse:
    store, found = _site(sb, req, site)
    sp_list = store.get_list(found, list_ref)
    item = store.item(sp_list, item_id)
    return json_response(store.fields_json(sp_list, item))


def create_item(sb: SandboxLike, req: SandboxRequest, site: str, list_ref: str) -> SandboxResponse:
    store, found = _site(sb, req, site)
    sp_list = store.get_list(found, list_ref)
    body = req.json()
    if not isinstance(body, dict) or "fields" not in body:
        raise GraphError(400, "invalidRequest", "A listItem needs 'fields'.")
    item = store.insert_item(sp_list, body["fields"], now=sb.clock.now(), actor=_actor(sb, req))
    return json_response(store.item_json(found, sp_list, item, fields=True), 201)


def update_item_fields(
    sb: SandboxLike, req: SandboxRequest, site: str, list_ref: str, item_id: str
) -> SandboxResponse:
    store, found = _site(sb, req, site)
    sp_list = store.get_list(found, list_ref)
    item = store.item(sp_list, item_id)
    store.update_fields(
        sp_list,
        item,
        req.json(),
        now=sb.clock.now(),
        actor=_actor(sb, req),
        if_match=req.headers.get("If-Match"),
    )
    return json_response(store.fields_json(sp_list, item))


def delete_item(
    sb: SandboxLike, req: SandboxRequest, site: str, list_ref: str, item_id: str
) -> SandboxResponse:
    store, found = _site(sb, req, site)
    sp_list = store.get_list(found, list_ref)
    store.delete_item(sp_list, store.item(sp_list, item_id), if_match=req.headers.get("If-Match"))
    return no_content()


def person_edits_fields(
    sb: SandboxLike, req: SandboxRequest, site: str, list_ref: str, item_id: str
) -> SandboxResponse:
    """Control endpoint: `X-Sandbox-User: upn` edits an item as that person would."""
    upn = req.headers.get("X-Sandbox-User")
    if not upn:
        raise GraphError(400, "invalidRequest", "X-Sandbox-User header is required.")
    person = sb.state.directory.get(upn)
    store = _store(sb)
    found = store.site(site)
    item = store.person_edits(
        found,
        list_ref,
        item_id,
        req.json(),
        person=user_identity(person.id, person.displayName, person.mail),
        now=sb.clock.now(),
    )
    return json_response(store.fields_json(store.get_list(found, list_ref), item))


# A site reference: a composite id (no slash) or `hostname:/server/relative/path:` (colon syntax,
# the trailing colon returning to the resource model).
_SITE = r"(?P<site>[^/:]+:/[^:]*:|[^/:]+)"


def _pattern(suffix: str, prefix: str = "/sites/") -> re.Pattern[str]:
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", suffix)
    return re.compile(f"^{re.escape(prefix)}{_SITE}{regex}/?$", re.IGNORECASE)


def register(router: Router) -> None:
    sp: Any = {"service": "sharepoint"}
    # GET /sites/{hostname}:/{server-relative-path} (no trailing colon) and GET /sites/{site-id}.
    router.add(
        "GET",
        "/sites/{hostname}:/{path}",
        get_site,
        permissions=READ_PERMISSIONS,
        pattern=re.compile(r"^/sites/(?P<site>[^/:]+:/[^:]*?):?/?$", re.IGNORECASE),
        **sp,
    )
    router.add(
        "GET", "/sites/{site}", get_site, permissions=READ_PERMISSIONS, pattern=_pattern(""), **sp
    )
    routes: list[tuple[str, str, Any, tuple[str, ...], str | None]] = [
        ("GET", "/lists", list_lists, READ_PERMISSIONS, None),
        ("POST", "/lists", create_list, MANAGE_PERMISSIONS, "microsoft.graph.list"),
        ("GET", "/lists/{list_ref}", get_list, READ_PERMISSIONS, None),
        ("GET", "/lists/{list_ref}/columns", list_columns, READ_PERMISSIONS, None),
        (
            "POST",
            "/lists/{list_ref}/columns",
            create_column,
            MANAGE_PERMISSIONS,
            "microsoft.graph.columnDefinition",
        ),
        (
            "PATCH",
            "/lists/{list_ref}/columns/{column}",
            update_column,
            MANAGE_PERMISSIONS,
            "microsoft.graph.columnDefinition",
        ),
        ("GET", "/lists/{list_ref}/items", list_items, READ_PERMISSIONS, None),
        (
            "POST",
            "/lists/{list_ref}/items",
            create_item,
            WRITE_PERMISSIONS,
            "microsoft.graph.listItem",
        ),
        ("GET", "/lists/{list_ref}/items/{item_id}", get_item, READ_PERMISSIONS, None),
        ("DELETE", "/lists/{list_ref}/items/{item_id}", delete_item, WRITE_PERMISSIONS, None),
        (
            "GET",
            "/lists/{list_ref}/items/{item_id}/fields",
            get_item_fields,
            READ_PERMISSIONS,
            None,
        ),
        (
            "PATCH",
            "/lists/{list_ref}/items/{item_id}/fields",
            update_item_fields,
            WRITE_PERMISSIONS,
            "microsoft.graph.fieldValueSet",
        ),
    ]
    for method, suffix, handler, permissions, body_type in routes:
        router.add(
            method,
            "/sites/{site}" + suffix,
            handler,
            permissions=permissions,
            body_type=body_type,
            pattern=_pattern(suffix),
            **sp,
        )
    router.add(
        "PATCH",
        "/_sandbox/sites/{site}/lists/{list_ref}/items/{item_id}/fields",
        person_edits_fields,
        service="sandbox",
        pattern=_pattern("/lists/{list_ref}/items/{item_id}/fields", prefix="/_sandbox/sites/"),
    )


__all__ = [
    "DEMO_HOSTNAME",
    "DEMO_SITE_PATH",
    "LIST_VIEW_THRESHOLD",
    "PREFER_NON_INDEXED",
    "Column",
    "ListItem",
    "SPList",
    "SharePointStore",
    "Site",
    "register",
]
