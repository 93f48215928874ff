"""Entra groups as the worker reads them: a group by id or by mail, and its direct members.

What Graph documents, modelled strictly:
* GET /groups: https://learn.microsoft.com/graph/api/group-list. `$filter` with `eq` on `id`,
  `mail`, `displayName`; `$select`; `$top` 1-999 (default 100). Least privileged application
  permission GroupMember.Read.All; Group.Read.All, Directory.Read.All and the write ones too.
* GET /groups/{id}: https://learn.microsoft.com/graph/api/group-get. The segment must be an
  object id: anything that is not a GUID is refused with 400 (Graph's "Invalid object
  identifier"), a GUID that names no group is 404 `Request_ResourceNotFound`.
* GET /groups/{id}/members: https://learn.microsoft.com/graph/api/group-list-members. Direct
  members only (the listing is not transitive: a nested group is listed as a group, its own
  members are not), each with its `@odata.type`; `$select`; pages of `$top` (default 100,
  at most 999) followed through `@odata.nextLink`. `$filter`, `$search`, `$orderby` and `$count`
  are advanced queries: without `ConsistencyLevel: eventual` the sandbox refuses them (400),
  the stricter reading of "this header and $count are required".
  Permissions: GroupMember.Read.All (least), Group.Read.All, Directory.Read.All, the write
  ones. A member of a type the app may not read is returned with its `@odata.type` and `id`
  only, every other selected property null ("limited information returned for inaccessible
  member objects", https://learn.microsoft.com/graph/permissions-overview): users need
  User.Read.All (or Directory.Read.All; User.ReadBasic.All gives the basic profile only).
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from graph.sandbox import odata
from graph.sandbox.auth import base_url
from graph.sandbox.core import GraphError, Router, SandboxRequest, SandboxResponse, json_response
from graph.sandbox.directory import Group, User
from graph.sandbox.users import BASIC_PROPERTIES, USER_READ_PERMISSIONS

if TYPE_CHECKING:
    from graph.sandbox.tenant_app import Sandbox

GROUP_READ_PERMISSIONS = (
    "GroupMember.Read.All",
    "Group.Read.All",
    "Directory.Read.All",
    "GroupMember.ReadWrite.All",
    "Group.ReadWrite.All",
    "Directory.ReadWrite.All",
)
# Default user properties when a members listing names no $select (Graph's default set).
_USER_DEFAULT = ("id", "displayName", "mail", "userPrincipalName", "jobTitle",
                 "officeLocation", "preferredLanguage")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_ADVANCED = ("$filter", "$search", "$orderby", "$count")
FILTERABLE = {"id", "mail", "displayname"}


def _select(req: SandboxRequest) -> list[str] | None:
    raw = req.query.get("$select")
    fields = [f.strip() for f in (raw or "").split(",") if f.strip()]
    return fields or None


def _top(req: SandboxRequest) -> int:
    raw = req.query.get("$top", "100")
    try:
        top = int(raw)
    except ValueError as exc:
        raise GraphError(400, "Request_BadRequest",
                         f"Invalid value '{raw}' for query parameter $top.") from exc
    if not 1 <= top <= 999:
        raise GraphError(400, "Request_UnsupportedQuery", f"Invalid page size specified: "
                         f"'{top}'. Must be between 1 and 999 inclusive.")
    return top


def _offset(req: SandboxRequest) -> int:
    token = req.query.get("$skiptoken")
    if not token:
        return 0
    try:
        return int(base64.urlsafe_b64decode(token.encode()).decode())
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise GraphError(400, "Directory_InvalidSkipToken", "The specified page token value "
                         "has expired and can no longer be included in your request.") from exc


def _page(req: SandboxRequest, path: str, entries: list[dict[str, Any]],
          context: str) -> SandboxResponse:
    top, offset = _top(req), _offset(req)
    body: dict[str, Any] = {
        "@odata.context": f"https://graph.microsoft.com/{req.version or 'v1.0'}/$metadata#"
                          f"{context}",
        "value": entries[offset:offset + top],
    }
    if offset + top < len(entries):
        params = {k: v for k, v in req.query.items() if k != "$skiptoken"}
        params["$skiptoken"] = base64.urlsafe_b64encode(str(offset + top).encode()).decode()
        body["@odata.nextLink"] = f"{base_url(req)}/{req.version or 'v1.0'}{path}?" \
                                  f"{urlencode(params)}"
    return json_response(body)


def _group(sb: Sandbox, group_id: str) -> Group:
    if not _GUID.match(group_id):
        raise GraphError(400, "Request_BadRequest", f"Invalid object identifier '{group_id}'.")
    group = sb.state.directory.find_group(group_id)
    if group is None:
        raise GraphError(404, "Request_ResourceNotFound",
                         f"Resource '{group_id}' does not exist or one of its queried "
                         "reference-property objects are not present.")
    return group


def list_groups(sb: Sandbox, req: SandboxRequest) -> SandboxResponse:
    groups = sorted(sb.state.directory.groups.values(), key=lambda g: g.id)
    if "$filter" in req.query:
        try:
            flt = odata.parse_filter(req.query["$filter"])
        except odata.ODataError as exc:
            raise exc.to_graph_error() from exc
        for path in flt.property_paths():
            if path[0].lower() not in FILTERABLE:
                raise GraphError(400, "Request_UnsupportedQuery",
                                 "Unsupported or invalid query filter clause specified for "
                                 f"property '{path[0]}' of resource 'Group'.")
        groups = [g for g in groups if flt.matches(g.graph_json(None))]
    select = _select(req)
    return _page(req, "/groups", [g.graph_json(select) for g in groups], "groups")


def get_group(sb: Sandbox, req: SandboxRequest, group: str) -> SandboxResponse:
    found = _group(sb, group)
    return json_response({"@odata.context": f"https://graph.microsoft.com/"
                          f"{req.version or 'v1.0'}/$metadata#groups/$entity",
                          **found.graph_json(_select(req))})


def _user_member(req: SandboxRequest, user: User, select: list[str] | None) -> dict[str, Any]:
    wanted = select or list(_USER_DEFAULT)
    full = user.graph_json(None)
    readable = set(full) if req.roles & set(USER_READ_PERMISSIONS[1:]) else (
        BASIC_PROPERTIES if "User.ReadBasic.All" in req.roles else {"id"})
    entry: dict[str, Any] = {"@odata.type": "#microsoft.graph.user", "id": user.id}
    for key in wanted:
        if key != "id":
            entry[key] = full.get(key) if key in readable else None
    return entry


def list_members(sb: Sandbox, req: SandboxRequest, group: str) -> SandboxResponse:
    found = _group(sb, group)
    advanced = [name for name in _ADVANCED if name in req.query]
    if advanced and str(req.headers.get("ConsistencyLevel", "")).lower() != "eventual":
        raise GraphError(400, "Request_UnsupportedQuery",
                         f"{advanced[0]} on members is an advanced query: it needs the "
                         "ConsistencyLevel: eventual header and $count=true.")
    select = _select(req)
    entries: list[dict[str, Any]] = []
    directory = sb.state.directory
    for member_id in found.members:
        user = directory.users.get(member_id)
        if user is not None:
            entries.append(_user_member(req, user, select))
            continue
        nested = directory.groups.get(member_id)
        if nested is not None:
            entries.append({"@odata.type": "#microsoft.graph.group",
                            **nested.graph_json(select)})
        # A member deleted since it was added is no longer listed, as in Entra.
    return _page(req, f"/groups/{found.id}/members", entries, "directoryObjects")


def register(router: Router) -> None:
    router.add("GET", "/groups", list_groups, service="directory",
               permissions=GROUP_READ_PERMISSIONS)
    router.add("GET", "/groups/{group}", get_group, service="directory",
               permissions=GROUP_READ_PERMISSIONS)
    router.add("GET", "/groups/{group}/members", list_members, service="directory",
               permissions=GROUP_READ_PERMISSIONS)
