"""Teams deep links: the only links a nudge may carry, built in one place.

An activity notification with a text topic must name the link it opens (`topic.webUrl`), and
Teams takes only its own deep links there (`https://teams.microsoft.com/l/...`); a SharePoint or
any other address is refused (see `graph.sandbox.teams.routes`). So every nudge links into
Teams: a meeting's join link (`/l/meetup-join/...`, already a deep link) or the program app's
notes tab (`/l/entity/<app id>/<tab entity id>?webUrl=...&label=...&context=...`,
https://learn.microsoft.com/microsoftteams/platform/concepts/build-and-test/deep-link-application).
The planner builds the links; the app packager declares the tab they open (`NOTES_TAB`).

Which app id: the one Teams knows the app by. For an app uploaded to the org catalog that is
the catalog's id (`teamsApp.id`, read with the catalog), not the manifest's `id`
(`externalId`); Microsoft's table "App ID types for deep links" says so, and manifest-id links
to catalog apps are reported to fail in the new Teams client and on iOS
(MicrosoftDocs/msteams-docs#5881, microsoftgraph/microsoft-graph-docs-contrib#8600).

Every query value is percent-encoded, as the deep-link page asks. A link stays within 1,024
characters: Graph is reported to answer a longer `webUrl` with 400 `UnknownError`; the
fallback `webUrl` goes first, then the label, so the link that remains still opens the tab.
"""

from __future__ import annotations

import json
from urllib.parse import quote, urlsplit

TEAMS_HOST = "teams.microsoft.com"
LINK_ROOT = f"https://{TEAMS_HOST}/l/"
# The static personal tab of the program's Teams app that shows the notes list (its
# `staticTabs[].entityId`): deep links name it, the manifest declares it.
NOTES_TAB = "notes"
NOTES_TAB_NAME = "Session notes"
MAX_LINK = 1024


def is_teams_link(url: str | None) -> bool:
    """Whether Teams takes `url` as a notification's link: https, Teams' host, a `/l/` path.
    Meeting links in the newer short form (`/meet/<id>`) are not deep links."""
    if not url:
        return False
    parts = urlsplit(url)
    return (parts.scheme.lower() == "https" and (parts.hostname or "").lower() == TEAMS_HOST
            and parts.path.startswith("/l/") and len(parts.path) > 3)


def _value(text: str) -> str:
    return quote(text, safe="")


def tab_link(app_id: str, entity_id: str = NOTES_TAB, *, label: str | None = None,
             sub_entity_id: str | None = None, fallback_url: str | None = None) -> str:
    """A deep link that opens the app's tab `entity_id`, with `sub_entity_id` in the tab's
    context (`subEntityId`) and `fallback_url` for clients that cannot show the tab."""
    if not app_id or not entity_id:
        raise ValueError("a Teams tab link needs the app id and the tab's entity id")
    base = f"{LINK_ROOT}entity/{_value(app_id)}/{_value(entity_id)}"
    context = None
    if sub_entity_id:
        context = "context=" + _value(json.dumps({"subEntityId": sub_entity_id},
                                                 separators=(",", ":")))
    fallback = f"webUrl={_value(fallback_url)}" if fallback_url else None
    named = f"label={_value(label)}" if label else None
    # Dropped in this order when the link would be too long: the context is what the tab needs.
    for params in ((fallback, named, context), (named, context), (context,)):
        query = "&".join(p for p in params if p)
        link = f"{base}?{query}" if query else base
        if len(link) <= MAX_LINK:
            return link
    raise ValueError(f"a Teams tab link cannot be made short enough: {len(link)} characters")


def app_link(app_id: str) -> str:
    """A deep link that opens the app itself (for a program with no notes list, hence no tab)."""
    if not app_id:
        raise ValueError("a Teams app link needs the app id")
    return f"{LINK_ROOT}app/{_value(app_id)}"
