"""Our Teams app in the org catalog: read once, and only when someone needs it installed."""

from __future__ import annotations

from graph import teams
from graph.client import GraphClient
from graph.errors import Forbidden
from worker.observe.state import CatalogApp


def read_catalog(client: GraphClient, app_id: str) -> tuple[CatalogApp | None, str | None]:
    """The catalog entry of the app whose manifest id is `app_id`, or why there is none."""
    try:
        found = teams.find_catalog_app(client, app_id)
    except Forbidden as exc:
        return None, (f"cannot look up the Teams app in the org catalog ({exc.short()}): "
                      "grant AppCatalog.Read.All")
    if found is None:
        return None, (f"the Teams app {app_id} is not in the org catalog: upload the package "
                      "from `mentoring teams-app package`")
    return CatalogApp(str(found["id"]), app_id), None
