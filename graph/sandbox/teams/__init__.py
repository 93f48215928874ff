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
- the notification's link (`topic.webUrl`) must be a Teams deep link,
  `https://teams.microsoft.com/l/...`, of at most 1,024 characters (see `routes`).
Where the documentation gives no body (app not installed for the recipient, undeclared activity
type, second install, a link that is not a Teams deep link), the sandbox answers with the
status above and a plain message in Graph's error shape, choosing the stricter behaviour.

The package keeps the state (`store`) apart from the routes (`routes`); the names other
modules use are re-exported here.
"""

from graph.sandbox.teams.routes import register
from graph.sandbox.teams.store import (
    DEMO_ACTIVITY_TYPES,
    DEMO_TEAMS_APP_CATALOG_ID,
    DEMO_TEAMS_APP_EXTERNAL_ID,
    DEMO_TEAMS_APP_NAME,
    DEMO_WEBHOOK_ID,
    CatalogApp,
    TeamsStore,
    demo_manifest,
    installation_id,
)

__all__ = [
    "DEMO_ACTIVITY_TYPES",
    "DEMO_TEAMS_APP_CATALOG_ID",
    "DEMO_TEAMS_APP_EXTERNAL_ID",
    "DEMO_TEAMS_APP_NAME",
    "DEMO_WEBHOOK_ID",
    "CatalogApp",
    "TeamsStore",
    "demo_manifest",
    "installation_id",
    "register",
]
