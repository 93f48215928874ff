"""The Graph routes of Teams the worker calls, and the sandbox's feed and webhook endpoints.

The handlers carry the preconditions the worker's install-then-notify logic has to get
right (licence, app installed for the recipient, activity type declared in the manifest),
each answered the way Graph answers it.

A notification's link (`topic.webUrl`, required for a text topic) must be a Teams deep link:
`https://teams.microsoft.com/l/...` (a tab `/l/entity/...`, an app `/l/app/...`, a meeting
`/l/meetup-join/...`, a message `/l/message/...`). Graph documents webUrl only as "the link the
user clicks" (https://learn.microsoft.com/graph/api/resources/teamworkactivitytopic), and live
tenants are reported to refuse other links; Microsoft publishes no status or message for
that, so the sandbox takes the strict reading: 400 `BadRequest` in Graph's error shape, naming
the rule, for any webUrl (text or entityUrl topic) that is not one. A webUrl longer than 1,024
characters is answered 400 `BadRequest` "UnknownError", as reported from live tenants
(Microsoft Tech Community, "Activity Feed Notifications Fail Due to WebUrl Length Limit").
"""

from __future__ import annotations

import re
import uuid
from typing import Any, Protocol
from urllib.parse import urlsplit

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
from graph.sandbox.teams.store import CatalogApp, TeamsStore, installation_id

GRAPH_ROOT = "https://graph.microsoft.com"

# Teams shows only the first 150 characters of the preview text (sendActivityNotification doc).
PREVIEW_MAX = 150
TEAMS_HOST = "teams.microsoft.com"
WEB_URL_MAX = 1024

CATALOG_READ = ("AppCatalog.Read.All", "AppCatalog.ReadWrite.All")
INSTALLED_READ = (
    "TeamsAppInstallation.ReadForUser.All",
    "TeamsAppInstallation.ReadWriteSelfForUser.All",
    "TeamsAppInstallation.ReadWriteForUser.All",
)
INSTALLED_WRITE = (
    "TeamsAppInstallation.ReadWriteSelfForUser.All",
    "TeamsAppInstallation.ReadWriteForUser.All",
)
SEND_ACTIVITY = ("TeamsActivity.Send",)

ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"
NO_LICENSE_MESSAGE = (
    "Failed to get license information for the user. Ensure user has a valid Office365 license "
    "assigned to them."
)


class SandboxLike(Protocol):
    clock: Clock

    @property
    def state(self) -> Any: ...


def _store(sb: SandboxLike) -> TeamsStore:
    store = sb.state.teams
    if not isinstance(store, TeamsStore):
        raise GraphError(503, "ServiceNotAvailable", "Teams is not available")
    return store


def _licensed_user(sb: SandboxLike, ref: str) -> Any:
    user = sb.state.directory.get(ref)
    if not user.has_teams_license:
        raise GraphError(403, "Forbidden", NO_LICENSE_MESSAGE)
    return user


def _filter(text: str | None, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if not text:
        return items
    try:
        parsed = odata.parse_filter(text)
    except odata.ODataError as exc:
        raise exc.to_graph_error() from exc
    return [i for i in items if parsed.matches(i)]


def _catalog_json(req: SandboxRequest, app: CatalogApp) -> dict[str, Any]:
    body = app.graph_json()
    if "appdefinitions" in (req.query.get("$expand") or "").lower():
        body["appDefinitions"] = [app.definition_json()]
    return body


def list_catalog(sb: SandboxLike, req: SandboxRequest) -> SandboxResponse:
    apps = _filter(req.query.get("$filter"), [a.graph_json() for a in _store(sb).catalog.values()])
    store = _store(sb)
    return json_response({"value": [_catalog_json(req, store.app(a["id"])) for a in apps]})


def get_catalog_app(sb: SandboxLike, req: SandboxRequest, app_id: str) -> SandboxResponse:
    return json_response(_catalog_json(req, _store(sb).app(app_id)))


def _installation_json(user_id: str, app: CatalogApp, expand: bool) -> dict[str, Any]:
    body: dict[str, Any] = {"id": installation_id(user_id, app.id)}
    if expand:
        body["teamsApp"] = app.graph_json()
    return body


def list_installed(sb: SandboxLike, req: SandboxRequest, user: str) -> SandboxResponse:
    person = _licensed_user(sb, user)
    store = _store(sb)
    expand = "teamsapp" in (req.query.get("$expand") or "").lower()
    # Filter against the expanded shape (teamsApp/externalId) whatever the caller expands.
    rows = [
        (_installation_json(person.id, app, True), app) for app in store.installed_apps(person.id)
    ]
    kept = {id(r) for r in _filter(req.query.get("$filter"), [r for r, _ in rows])}
    value = [_installation_json(person.id, app, expand) for r, app in rows if id(r) in kept]
    return json_response({"value": value})

_BIND = re.compile(r"/appCatalogs/teamsApps/(?P<id>[^/?#]+)$", re.IGNORECASE)


def install_app(sb: SandboxLike, req: SandboxRequest, user: str) -> SandboxResponse:
    body = req.json()
    bind = body.get("teamsApp@odata.bind") if isinstance(body, dict) else None
    match = _BIND.search(bind) if isinstance(bind, str) else None
    if match is None:
        raise GraphError(
            400, "BadRequest", "teamsApp@odata.bind must reference /appCatalogs/teamsApps/{id}."
        )
    person = _licensed_user(sb, user)
    store = _store(sb)
    app = store.app(match.group("id"))
    roles = set(req.roles)
    if "TeamsAppInstallation.ReadWriteForUser.All" not in roles and app.entra_app_id != req.app_id:
        # With ReadWriteSelfForUser an app may only install itself.
        raise GraphError(
            403,
            "Forbidden",
            f"AAD App Id '{req.app_id}' is not allowed to manage the Teams App '{app.id}'",
        )
    store.install(person.id, app.id)
    return SandboxResponse(201)


def _render(template: str, params: dict[str, str]) -> str:
    missing = [n for n in re.findall(r"\{(\w+)\}", template) if n not in params]
    if missing:
        raise GraphError(400, "BadRequest", f"Template parameter '{missing[0]}' was not provided.")
    return re.sub(r"\{(\w+)\}", lambda m: params[m.group(1)], template)


def is_deep_link(url: object) -> bool:
    """An https link on Teams' own host whose path is a deep link (`/l/<kind>/...`)."""
    if not isinstance(url, str):
        return False
    parts = urlsplit(url)
    return (parts.scheme.lower() == "https" and (parts.hostname or "").lower() == TEAMS_HOST
            and parts.path.startswith("/l/") and len(parts.path) > 3)


def _check_web_url(url: object) -> None:
    if not is_deep_link(url):
        raise GraphError(400, "BadRequest",
                         "topic.webUrl must be a Teams deep link (https://teams.microsoft.com/l/...).")
    if len(str(url)) > WEB_URL_MAX:
        raise GraphError(400, "BadRequest", "UnknownError")


def send_activity_notification(sb: SandboxLike, req: SandboxRequest, user: str) -> SandboxResponse:
    body = req.json()
    if not isinstance(body, dict):
        raise GraphError(400, "BadRequest", "A JSON object is expected.")
    topic = body.get("topic")
    if not isinstance(topic, dict) or topic.get("source") not in ("entityUrl", "text"):
        raise GraphError(400, "BadRequest", "topic.source must be 'entityUrl' or 'text'.")
    value = topic.get("value")
    if not isinstance(value, str) or not value:
        raise GraphError(400, "BadRequest", "topic.value is required.")
    if topic["source"] == "text" and not topic.get("webUrl"):
        raise GraphError(400, "BadRequest", "webUrl is required when topic source is text.")
    if topic["source"] == "entityUrl" and not value.lower().startswith(GRAPH_ROOT + "/"):
        raise GraphError(400, "BadRequest", "topic.value must be a Microsoft Graph URL.")
    if topic.get("webUrl") is not None:
        _check_web_url(topic["webUrl"])
    activity_type = body.get("activityType")
    if not isinstance(activity_type, str) or not activity_type:
        raise GraphError(400, "BadRequest", "activityType is required.")
    raw_params = body.get("templateParameters") or []
    if not isinstance(raw_params, list) or not all(
        isinstance(p, dict) and isinstance(p.get("name"), str) for p in raw_params
    ):
        raise GraphError(400, "BadRequest", "templateParameters must be name/value pairs.")
    params = {str(p["name"]): str(p.get("value", "")) for p in raw_params}

    person = _licensed_user(sb, user)
    store = _store(sb)
    ours = [
        a
        for a in store.installed_apps(person.id)
        if a.entra_app_id and a.entra_app_id == req.app_id
    ]
    if not ours:
        raise GraphError(
            403,
            "Forbidden",
            f"The Teams app bound to Microsoft Entra app '{req.app_id}' is not installed "
            "for the recipient.",
        )
    if len(ours) > 1:
        raise GraphError(
            409,
            "Conflict",
            f"Found multiple applications with the same Microsoft Entra App ID '{req.app_id}'.",
        )
    app = ours[0]
    actor = app.displayName
    if activity_type == "systemDefault":
        text = params.get("systemDefaultText")
        if text is None:
            raise GraphError(400, "BadRequest", "systemDefaultText is required for systemDefault.")
        rendered = f"{actor} {text}"
    else:
        declared = app.activity_type(activity_type)
        if declared is None:
            raise GraphError(
                400,
                "BadRequest",
                f"Activity type '{activity_type}' is not declared in the Teams app manifest.",
            )
        rendered = _render(str(declared.get("templateText", "")), {**params, "actor": actor})
    preview = body.get("previewText")
    preview_text = preview.get("content", "") if isinstance(preview, dict) else ""
    entry: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "timestamp": sb.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
        "activityType": activity_type,
        "text": rendered,
        "previewText": str(preview_text)[:PREVIEW_MAX],
        "topic": dict(topic),
        "templateParameters": params,
        "teamsAppId": app.id,
        "appDisplayName": app.displayName,
        "chainId": body.get("chainId"),
    }
    store.notify(person.id, entry)
    return no_content()


def read_feed(sb: SandboxLike, req: SandboxRequest, user: str) -> SandboxResponse:
    person = sb.state.directory.get(user)
    return json_response({"value": _store(sb).feed(person.id)})


def post_webhook(sb: SandboxLike, req: SandboxRequest, webhook_id: str) -> SandboxResponse:
    """A Teams Workflows "When a Teams webhook request is received" trigger: accepts an Adaptive
    Card message and answers 202 Accepted (the request trigger's answer when the flow has no
    Response action, https://learn.microsoft.com/en-us/azure/connectors/connectors-native-reqres)."""
    store = _store(sb)
    if webhook_id not in store.webhooks:
        raise GraphError(404, "WorkflowNotFound", "The workflow was not found.")
    body = req.json()
    attachments = body.get("attachments") if isinstance(body, dict) else None
    if not isinstance(body, dict) or body.get("type") != "message":
        raise GraphError(400, "BadRequest", "The body must be a message ('type': 'message').")
    if not isinstance(attachments, list) or not attachments:
        raise GraphError(400, "BadRequest", "The message needs at least one attachment.")
    for attachment in attachments:
        content = attachment.get("content") if isinstance(attachment, dict) else None
        if (
            not isinstance(attachment, dict)
            or attachment.get("contentType") != ADAPTIVE_CARD
            or not isinstance(content, dict)
            or content.get("type") != "AdaptiveCard"
        ):
            raise GraphError(
                400, "BadRequest", f"Each attachment must be an Adaptive Card ({ADAPTIVE_CARD})."
            )
    store.webhooks[webhook_id].append(
        {"receivedDateTime": sb.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ"), "message": body}
    )
    return SandboxResponse(202)


def register(router: Router) -> None:
    router.add(
        "GET", "/appCatalogs/teamsApps", list_catalog, service="teams", permissions=CATALOG_READ
    )
    router.add(
        "GET",
        "/appCatalogs/teamsApps/{app_id}",
        get_catalog_app,
        service="teams",
        permissions=CATALOG_READ,
    )
    router.add(
        "GET",
        "/users/{user}/teamwork/installedApps",
        list_installed,
        service="teams",
        permissions=INSTALLED_READ,
    )
    router.add(
        "POST",
        "/users/{user}/teamwork/installedApps",
        install_app,
        service="teams",
        permissions=INSTALLED_WRITE,
        body_type="microsoft.graph.teamsAppInstallation",
    )
    router.add(
        "POST",
        "/users/{user}/teamwork/sendActivityNotification",
        send_activity_notification,
        service="teams",
        permissions=SEND_ACTIVITY,
        body_type="action:sendActivityNotification",
    )
    router.add("GET", "/_sandbox/users/{user}/feed", read_feed, service="sandbox")
    router.add("POST", "/_sandbox/webhooks/{webhook_id}", post_webhook, service="sandbox")
