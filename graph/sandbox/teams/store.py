"""What the tenant's Teams holds: the org app catalog, installs, activity feeds, webhooks.

The state is kept apart from the routes because tests, the demo and saved tenants read and
seed it directly (a user's feed is what that person would see), with no request involved.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import asdict, dataclass
from typing import Any

from graph.sandbox.core import GraphError
from graph.teams import ACTIVITY_TYPES

# The program's Teams app as published to the org catalog (manifest `id`).
DEMO_TEAMS_APP_EXTERNAL_ID = "4d1f6a2e-8c3b-4f7a-9e21-6b5d0c9a7e13"
DEMO_TEAMS_APP_NAME = "Reverse Mentoring"
# The catalog id Graph gives the published app (distinct from the manifest id, as in Graph).
DEMO_TEAMS_APP_CATALOG_ID = "a7c2e9d4-3b18-4e6f-8d05-1f9b2c7a4e60"
# Activity types the demo manifest declares; the worker's nudges use these names.
DEMO_ACTIVITY_TYPES = ACTIVITY_TYPES  # the demo catalog holds our own app
# The ID of the demo webhook (the secret part of its URL path).
DEMO_WEBHOOK_ID = "d3m0c4f3b00c4a7e9f2b6d18e5a0c7b4"


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

    def definition_json(self) -> dict[str, Any]:
        """The app's published definition (`teamsAppDefinition`): its version and the Entra
        app the manifest binds it to (`authorization.clientAppId`, the manifest's
        `webApplicationInfo.id`). Graph does not return the manifest's activity types.
        https://learn.microsoft.com/graph/api/resources/teamsappdefinition"""
        return {
            "id": base64.b64encode(f"{self.id}##{self.manifest.get('version', '')}".encode())
            .decode(),
            "teamsAppId": self.id,
            "displayName": self.displayName,
            "version": str(self.manifest.get("version", "")),
            "publishingState": "published",
            "authorization": {"clientAppId": self.entra_app_id,
                              "requiredPermissionSet": {"resourceSpecificPermissions": []}},
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

    def unpublish(self, external_id: str) -> None:
        """Take the app with this manifest id out of the catalog (and so from everyone)."""
        for catalog_id in [k for k, a in self.catalog.items() if a.externalId == external_id]:
            del self.catalog[catalog_id]

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
