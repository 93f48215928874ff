"""The Graph routes of SharePoint sites, lists, columns and items, and the people's edits.

Handlers only resolve the site (with the app's grant checked), call the store or the query
rules and shape the answer, so what SharePoint does stays testable without HTTP.
"""

from __future__ import annotations

import re
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
from graph.sandbox.sharepoint.model import Column, Site, app_identity, user_identity
from graph.sandbox.sharepoint.query import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    _after_id,
    _fields_expand,
    _skiptoken,
    filter_items,
)
from graph.sandbox.sharepoint.store import SharePointStore

GRAPH_ROOT = "https://graph.microsoft.com"

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


# Versions of an item per page (`list_item_versions`): small, so tests reach the second page.
VERSIONS_PAGE_SIZE = 10

# The site role that creates lists and columns and changes them (see `_authorise`).
MANAGE_LISTS = "fullcontrol"


class SandboxLike(Protocol):
    """What the handlers need from `graph.sandbox.tenant_app.Sandbox` (no import cycle)."""

    clock: Clock

    @property
    def state(self) -> Any: ...

    def require_site_access(self, req: SandboxRequest, site_id: str,
                            need: str = "read") -> None: ...


def _authorise(sb: SandboxLike, req: SandboxRequest, site: Site,
               need: str | None = None) -> None:
    """Sites.Selected allows nothing by itself: the app needs a grant on this very site, and
    a `read` grant allows only reads. The grant is checked before the list or item a request
    names is looked up, so a write refused for the role is a 403 whatever it names.

    `need` is the role a request asks for beyond its method: creating a list or a column, or
    changing a column (indexing it), needs `fullcontrol`. Microsoft's documents do not say
    which role allows it; `write` is SharePoint's Contribute level, which cannot manage lists,
    so the sandbox takes the stricter reading (README, "App registration and permissions")."""
    if not (set(req.roles) & _TENANT_WIDE):
        sb.require_site_access(req, site.id,
                               need or ("read" if req.method == "GET" else "write"))


def _actor(sb: SandboxLike, req: SandboxRequest) -> dict[str, Any]:
    apps = getattr(sb.state.directory, "apps", {})
    app = apps.get(req.app_id) if req.app_id else None
    return app_identity(req.app_id, app.display_name if app is not None else None)


def _store(sb: SandboxLike) -> SharePointStore:
    store = sb.state.sharepoint
    if not isinstance(store, SharePointStore):
        raise GraphError(503, "serviceNotAvailable", "SharePoint is not available")
    return store


def _site(sb: SandboxLike, req: SandboxRequest, site_ref: str,
          need: str | None = None) -> tuple[SharePointStore, Site]:
    store = _store(sb)
    site = store.site(site_ref)
    _authorise(sb, req, site, need)
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
    store, found = _site(sb, req, site, MANAGE_LISTS)
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
    store, found = _site(sb, req, site, MANAGE_LISTS)
    sp_list = store.get_list(found, list_ref)
    column = store.add_column(sp_list, Column.from_definition(req.json()))
    return json_response(column.graph_json(), 201)


def update_column(
    sb: SandboxLike, req: SandboxRequest, site: str, list_ref: str, column: str
) -> SandboxResponse:
    store, found = _site(sb, req, site, MANAGE_LISTS)
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


def list_item_versions(
    sb: SandboxLike, req: SandboxRequest, site: str, list_ref: str, item_id: str
) -> SandboxResponse:
    """GET .../items/{id}/versions: the item's version history, newest first; each version's
    `fields` only with `$expand=fields` (a relationship, as the listItemVersion resource
    documents it)."""
    store, found = _site(sb, req, site)
    sp_list = store.get_list(found, list_ref)
    item = store.item(sp_list, item_id)
    expand = req.query.get("$expand") or req.query.get("expand") or ""
    with_fields = any(part.strip().split("(")[0].lower() == "fields"
                      for part in expand.split(","))
    versions = store.versions_json(sp_list, item, fields=with_fields)
    # Microsoft's documents do not say whether versions are paged; the sandbox takes the
    # stricter reading and pages them, so a client that reads only the first page misses
    # the oldest versions here as it could in production.
    start = int(req.query["$skiptoken"]) if req.query.get("$skiptoken", "").isdigit() else 0
    page = versions[start:start + VERSIONS_PAGE_SIZE]
    body: dict[str, Any] = {"value": page}
    if start + VERSIONS_PAGE_SIZE < len(versions):
        params = {k: v for k, v in req.query.items() if k != "$skiptoken"}
        params["$skiptoken"] = str(start + VERSIONS_PAGE_SIZE)
        encoded = "&".join(f"{k}={url_quote(v, safe=',()=/$')}" for k, v in params.items())
        body["@odata.nextLink"] = (
            f"{GRAPH_ROOT}/{req.version or 'v1.0'}/sites/{found.id}/lists/{sp_list.id}"
            f"/items/{item.id}/versions?{encoded}")
    return json_response(body)


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
            "/lists/{list_ref}/items/{item_id}/versions",
            list_item_versions,
            READ_PERMISSIONS,
            None,
        ),
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
