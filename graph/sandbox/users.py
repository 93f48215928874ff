"""Directory reads the worker makes: one user, the user list (paged), mailbox settings.

The worker resolves each mentor's and mentee's id, display name and time zone before booking;
these routes model what Graph returns for them with application permissions.
* GET /users/{id | userPrincipalName}: https://learn.microsoft.com/graph/api/user-get
  (User.ReadBasic.All < User.Read.All < Directory.Read.All ...). With only User.ReadBasic.All
  Graph returns just the basic profile properties; the sandbox drops the others.
* GET /users: https://learn.microsoft.com/graph/api/user-list, `$top` (1-999, default 100),
  next page through `@odata.nextLink` with a `$skiptoken`: https://learn.microsoft.com/graph/paging.
  `$filter` with `eq`/`in`/`or`/`and` on the default-supported properties (id, mail,
  userPrincipalName, displayName, accountEnabled); an `in` list is held to 15 values, as
  https://learn.microsoft.com/graph/filter-query-parameter says for requests without advanced
  query capabilities (Entra's own wording for more: "Too many child clauses").
* GET /users/{id}/mailboxSettings: https://learn.microsoft.com/graph/api/user-get-mailboxsettings
  (MailboxSettings.Read / MailboxSettings.ReadWrite; an Outlook call, so Outlook throttling).
"""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from graph.sandbox import odata
from graph.sandbox.auth import base_url
from graph.sandbox.core import GraphError, Router, SandboxRequest, SandboxResponse, json_response
from graph.sandbox.directory import User

if TYPE_CHECKING:
    from graph.sandbox.tenant_app import Sandbox

USER_READ_PERMISSIONS = (
    "User.ReadBasic.All",
    "User.Read.All",
    "User.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
)
# Properties readable with User.ReadBasic.All alone.
BASIC_PROPERTIES = {
    "id", "displayName", "givenName", "surname", "mail", "userPrincipalName", "photo",
    "securityIdentifier",
}
MAILBOX_PERMISSIONS = ("MailboxSettings.Read", "MailboxSettings.ReadWrite")


def _select(req: SandboxRequest) -> list[str] | None:
    raw = req.query.get("$select")
    if raw is None:
        return None
    fields = [f.strip() for f in raw.split(",") if f.strip()]
    return fields or None


def _user_json(req: SandboxRequest, user: User) -> dict[str, Any]:
    select = _select(req)
    body = user.graph_json(select)
    if not (req.roles & set(USER_READ_PERMISSIONS[1:])):
        body = {k: v for k, v in body.items() if k in BASIC_PROPERTIES}
    return body


def _context(req: SandboxRequest, suffix: str) -> str:
    version = req.version or "v1.0"
    return f"https://graph.microsoft.com/{version}/$metadata#{suffix}"


def get_user(sb: Sandbox, req: SandboxRequest, user: str) -> SandboxResponse:
    found = sb.state.directory.get(user)
    select = _select(req)
    shape = f"users({','.join(select)})/$entity" if select else "users/$entity"
    return json_response({"@odata.context": _context(req, shape), **_user_json(req, found)})


def list_users(sb: Sandbox, req: SandboxRequest) -> SandboxResponse:
    raw_top = req.query.get("$top", "100")
    try:
        top = int(raw_top)
    except ValueError as exc:
        raise GraphError(
            400, "Request_BadRequest", f"Invalid value '{raw_top}' for query parameter $top."
        ) from exc
    if not 1 <= top <= 999:
        raise GraphError(
            400,
            "Request_UnsupportedQuery",
            f"Invalid page size specified: '{top}'. Must be between 1 and 999 inclusive.",
        )
    offset = 0
    token = req.query.get("$skiptoken")
    if token:
        try:
            offset = int(base64.urlsafe_b64decode(token.encode()).decode())
        except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
            raise GraphError(
                400, "Directory_InvalidSkipToken", "The specified page token value has expired "
                "and can no longer be included in your request."
            ) from exc
    if "$filter" in req.query:
        flt = _user_filter(req.query["$filter"])
        named = _named_in(sb, flt)
        users = sorted(named if named is not None else sb.state.directory.users.values(),
                       key=lambda u: u.id)
        users = [u for u in users if flt.matches(u.graph_json(None))]
    else:
        users = sorted(sb.state.directory.users.values(), key=lambda u: u.id)
    page = users[offset : offset + top]
    select = _select(req)
    body: dict[str, Any] = {
        "@odata.context": _context(req, f"users({','.join(select)})" if select else "users"),
        "value": [_user_json(req, u) for u in page],
    }
    if offset + top < len(users):
        params = {k: v for k, v in req.query.items() if k != "$skiptoken"}
        params["$skiptoken"] = base64.urlsafe_b64encode(str(offset + top).encode()).decode()
        version = req.version or "v1.0"
        body["@odata.nextLink"] = f"{base_url(req)}/{version}/users?{urlencode(params)}"
    return json_response(body)


FILTERABLE = {"id", "mail", "userprincipalname", "displayname", "accountenabled"}
_NAMES = {"id", "mail", "userprincipalname"}


def _named_in(sb: Sandbox, flt: odata.Filter) -> list[User] | None:
    """The only users a filter `name eq 'x'` or `name in ('x', ...)` on an id, mail or user
    principal name can match (the filter still decides), found by name instead of testing
    every user of the directory; None for any other filter."""
    root = flt.root
    options: tuple[odata.Node, ...]
    if isinstance(root, odata.Compare) and root.op == "eq":
        left, options = root.left, (root.right,)
    elif isinstance(root, odata.In):
        left, options = root.left, root.options
    else:
        return None
    if not (isinstance(left, odata.Path) and len(left.segments) == 1
            and left.segments[0].lower() in _NAMES
            and all(isinstance(o, odata.Literal) and isinstance(o.value, str) for o in options)):
        return None
    attribute = {"id": "id", "mail": "mail", "userprincipalname": "userPrincipalName"}[
        left.segments[0].lower()]
    found = {}
    for option in options:
        assert isinstance(option, odata.Literal)
        user = sb.state.directory.find(option.value)
        if user is None:
            continue  # nobody has that id, mail or name
        if str(getattr(user, attribute) or "").lower() != option.value.lower():
            return None  # the name is someone else's other name: test everyone
        found[user.id] = user
    return list(found.values())
MAX_IN_VALUES = 15


def _user_filter(text: str) -> odata.Filter:
    try:
        flt = odata.parse_filter(text)
    except odata.ODataError as exc:
        raise exc.to_graph_error() from exc
    for path in flt.property_paths():
        if path[0].lower() not in FILTERABLE:
            raise GraphError(400, "Request_UnsupportedQuery",
                             f"Unsupported or invalid query filter clause specified for "
                             f"property '{path[0]}' of resource 'User'.")
    for node in odata.iter_nodes(flt.root):
        if isinstance(node, odata.In) and len(node.options) > MAX_IN_VALUES:
            raise GraphError(400, "Request_UnsupportedQuery",
                             f"Too many child clauses specified in search filter expression "
                             f"containing 'OR' operators: {len(node.options)}. Max allowed: "
                             f"{MAX_IN_VALUES}.")
    return flt


def get_mailbox_settings(sb: Sandbox, req: SandboxRequest, user: str) -> SandboxResponse:
    found = sb.state.directory.mailbox(user)
    body = {
        "@odata.context": _context(req, f"users('{found.id}')/mailboxSettings"),
        **found.mailboxSettings,
    }
    select = _select(req)
    if select:
        body = {k: v for k, v in body.items() if k in select or k.startswith("@odata")}
    return json_response(body)


def register(router: Router) -> None:
    router.add(
        "GET", "/users", list_users, service="directory", permissions=USER_READ_PERMISSIONS
    )
    router.add(
        "GET", "/users/{user}", get_user, service="directory", permissions=USER_READ_PERMISSIONS
    )
    router.add(
        "GET",
        "/users/{user}/mailboxSettings",
        get_mailbox_settings,
        service="outlook",
        permissions=MAILBOX_PERMISSIONS,
        mailbox_param="user",
    )
