"""Teams as the worker touches it: the org app catalog, per-user app installs, the activity feed,
and a Workflows-style webhook for posting Adaptive Cards to a program channel.

The worker nudges people through `sendActivityNotification`, which only works when our Teams
app (whose manifest binds it to our Entra app through `webApplicationInfo.id` and declares the
activity types) is installed for the recipient and the recipient has a Teams licence. The
sandbox enforces exactly those preconditions so the worker's install-then-notify logic is
exercised, and keeps each user's feed so tests and the demo can read what people would see.

Microsoft documentation behind each behaviour:
- sendActivityNotification (body, 204, `webUrl` required for a text topic, activity type must
  be declared in the manifest): https://learn.microsoft.com/en-us/graph/api/userteamwork-sendactivitynotification
- requirements (manifest `webApplicationInfo.id`, app installed for the recipient,
  `systemDefault` reserved type, `{actor}` is the app's name in app-only calls, the 409 for
  several apps with one Entra app id): https://learn.microsoft.com/en-us/graph/teams-send-activityfeednotifications
- install for user (201, no body; permissions):
  https://learn.microsoft.com/en-us/graph/api/userteamwork-post-installedapps
- installed apps list: https://learn.microsoft.com/en-us/graph/api/userteamwork-list-installedapps
- app catalog: https://learn.microsoft.com/en-us/graph/api/appcatalogs-list-teamsapps
- no Teams licence: 403 `Forbidden` "Failed to get license information for the user. Ensure user
  has a valid Office365 license assigned to them." (Teams APIs for unlicensed users, as widely
  reported; https://learn.microsoft.com/en-us/graph/errors says 403 covers a missing licence).
- an app installing another app with ReadWriteSelfForUser: 403 "AAD App Id '...' is not allowed
  to manage the Teams App '...'"
  (https://github.com/microsoftgraph/microsoft-graph-docs-contrib/issues/478).
- a second install of the same app answers 409 Conflict
  (https://github.com/microsoftgraph/microsoft-graph-docs-contrib/issues/3686).
Where the documentation gives no body (app not installed for the recipient, undeclared activity
type, second install), the sandbox answers with the status above and a plain message, choosing
the stricter behaviour.
"""

from __future__ import annotations

import base64
import re
import uuid
from dataclasses import asdict, dataclass
from typing import Any, Protocol

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
from graph.teams import ACTIVITY_TYPES

GRAPH_ROOT = "https://graph.microsoft.com"

# The program's Teams app as published to the org catalog (manifest `id`).
DEMO_TEAMS_APP_EXTERNAL_ID = "4d1f6a2e-8c3b-4f7a-9e21-6b5d0c9a7e13"
DEMO_TEAMS_APP_NAME = "Reverse Mentoring"
# The catalog id Graph gives the published app (distinct from the manifest id, as in Graph).
DEMO_TEAMS_APP_CATALOG_ID = "a7c2e9d4-3b18-4e6f-8d05-1f9b2c7a4e60"
# Activity types the demo manifest declares; the worker's nudges use these names.
DEMO_ACTIVITY_TYPES = ACTIVITY_TYPES  # the demo catalog holds our own app
# The ID of the demo webhook (the secret part of its URL path).
DEMO_WEBHOOK_ID = "d3m0c4f3b00c4a7e9f2b6d18e5a0c7b4"

# Teams shows only the first 150 characters of the preview text (sendActivityNotification doc).
PREVIEW_MAX = 150

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


@dataclass
class CatalogApp:
    id: str
    externalId: str
    displayName: str
    manifest: dict[str, Any]
    distributionMethod: str = "organization"

    def graph_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "externalId": self.externalId,
            "displayName": self.displayName,
            "distributionMethod": self.distributionMethod,
        }

    @property
    def entra_app_id(self) -> str | None:
        info = self.manifest.get("webApplicationInfo")
        value = info.get("id") if isinstance(info, dict) else None
        return value if isinstance(value, str) else None

    def activity_type(self, name: str) -> dict[str, Any] | None:
        activities = self.manifest.get("activities")
        declared = activities.get("activityTypes", []) if isinstance(activities, dict) else []
        for entry in declared:
            if isinstance(entry, dict) and entry.get("type") == name:
                return entry
        return None


def demo_manifest(entra_app_id: str) -> dict[str, Any]:
    """The program's Teams app manifest (v1.7+), bound to the given Entra app registration."""
    return {
        "$schema": "https://developer.microsoft.com/json-schemas/teams/v1.16/MicrosoftTeams.schema.json",
        "manifestVersion": "1.16",
        "version": "1.0.0",
        "id": DEMO_TEAMS_APP_EXTERNAL_ID,
        "name": {"short": DEMO_TEAMS_APP_NAME},
        "webApplicationInfo": {"id": entra_app_id, "resource": f"api://{entra_app_id}"},
        "activities": {"activityTypes": [dict(t) for t in DEMO_ACTIVITY_TYPES]},
    }


def installation_id(user_id: str, teams_app_id: str) -> str:
    # Graph's installation ids are base64 of "{scope id}##{app id}".
    return base64.b64encode(f"{user_id}##{teams_app_id}".encode()).decode()


class TeamsStore:
    def __init__(self) -> None:
        self.catalog: dict[str, CatalogApp] = {}  # by catalog id
        self.installed: dict[str, list[str]] = {}  # user id -> catalog ids
        self.feeds: dict[str, list[dict[str, Any]]] = {}  # user id -> notifications
        self.webhooks: dict[str, list[dict[str, Any]]] = {}  # webhook id -> posted messages

    # -- catalog and installs -----------------------------------------------------------------

    def publish_app(
        self,
        external_id: str,
        display_name: str,
        manifest: dict[str, Any],
        *,
        catalog_id: str | None = None,
    ) -> CatalogApp:
        app = CatalogApp(catalog_id or str(uuid.uuid4()), external_id, display_name, manifest)
        self.catalog[app.id] = app
        return app

    @classmethod
    def with_demo_app(cls, entra_app_id: str) -> TeamsStore:
        """The default fixture: "Reverse Mentoring" in the org catalog, and the demo webhook."""
        store = cls()
        store.publish_app(
            DEMO_TEAMS_APP_EXTERNAL_ID,
            DEMO_TEAMS_APP_NAME,
            demo_manifest(entra_app_id),
            catalog_id=DEMO_TEAMS_APP_CATALOG_ID,
        )
        store.create_webhook(DEMO_WEBHOOK_ID)
        return store

    def app(self, catalog_id: str) -> CatalogApp:
        found = self.catalog.get(catalog_id)
        if found is None:
            raise GraphError(
                404, "NotFound", f"The Teams app '{catalog_id}' was not found in the catalog."
            )
        return found

    def install(self, user_id: str, catalog_id: str) -> str:
        app = self.app(catalog_id)
        apps = self.installed.setdefault(user_id, [])
        if app.id in apps:
            raise GraphError(409, "Conflict", "The app is already installed for this user.")
        apps.append(app.id)
        return installation_id(user_id, app.id)

    def installed_apps(self, user_id: str) -> list[CatalogApp]:
        return [self.catalog[a] for a in self.installed.get(user_id, []) if a in self.catalog]

    # -- feed ---------------------------------------------------------------------------------

    def feed(self, user_id: str) -> list[dict[str, Any]]:
        """What the user sees in the Teams activity feed, oldest first."""
        return list(self.feeds.get(user_id, []))

    def notify(self, user_id: str, entry: dict[str, Any]) -> None:
        feed = self.feeds.setdefault(user_id, [])
        chain = entry.get("chainId")
        if chain is not None:
            # The same chainId overrides the previous notification of the chain.
            feed[:] = [e for e in feed if e.get("chainId") != chain]
        feed.append(entry)

    # -- webhooks -----------------------------------------------------------------------------

    def create_webhook(self, webhook_id: str | None = None) -> str:
        hook = webhook_id or uuid.uuid4().hex
        self.webhooks.setdefault(hook, [])
        return hook

    def webhook_posts(self, webhook_id: str) -> list[dict[str, Any]]:
        return list(self.webhooks.get(webhook_id, []))

    # -- persistence --------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            "catalog": [asdict(a) for a in self.catalog.values()],
            "installed": {k: list(v) for k, v in self.installed.items()},
            "feeds": {k: list(v) for k, v in self.feeds.items()},
            "webhooks": {k: list(v) for k, v in self.webhooks.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TeamsStore:
        store = cls()
        for raw in data.get("catalog", []):
            app = CatalogApp(**raw)
            store.catalog[app.id] = app
        store.installed = {k: list(v) for k, v in data.get("installed", {}).items()}
        store.feeds = {k: list(v) for k, v in data.get("feeds", {}).items()}
        store.webhooks = {k: list(v) for k, v in data.get("webhooks", {}).items()}
        return store


# ---------------------------------------------------------------------------------------------
# Handlers


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


def list_catalog(sb: SandboxLike, req: SandboxRequest) -> SandboxResponse:
    apps = [a.graph_json() for a in _store(sb).catalog.values()]
    return json_response({"value": _filter(req.query.get("$filter"), apps)})


def get_catalog_app(sb: SandboxLike, req: SandboxRequest, app_id: str) -> SandboxResponse:
    return json_response(_store(sb).app(app_id).graph_json())


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
