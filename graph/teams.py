"""Teams calls the worker makes, in Graph's own terms: app catalog, per-user installs, the
activity feed, and the pacing Teams asks for.

Thin on purpose, like `graph.calendar`: each function is one documented Graph call. What a nudge
means (who, when, which text, which link) lives in `worker.plan.nudges` and `worker.plan.teams`.

- app catalog, filtered by the manifest id (`externalId`; AppCatalog.Read.All):
  https://learn.microsoft.com/graph/api/appcatalogs-list-teamsapps
- installed apps of a user, `$expand=teamsApp` and `$filter=teamsApp/externalId eq '...'`:
  https://learn.microsoft.com/graph/api/userteamwork-list-installedapps
- install for a user (201; TeamsAppInstallation.ReadWriteSelfForUser.All lets an app install
  only itself): https://learn.microsoft.com/graph/api/userteamwork-post-installedapps ; a second
  install answers 409 Conflict
  (https://github.com/microsoftgraph/microsoft-graph-docs-contrib/issues/3686)
- sendActivityNotification (204; `topic.webUrl` required for a text topic; the user in the URL
  is the recipient): https://learn.microsoft.com/graph/api/userteamwork-sendactivitynotification ;
  the webUrl must be a Teams deep link (`https://teams.microsoft.com/l/...`, at most 1,024
  characters): live tenants refuse other links with 400 (the sandbox's reading is in
  `graph.sandbox.teams.routes`; the links are built in `worker.core.teams_links`)
- limit: about 5 notification requests per second per app per tenant:
  https://learn.microsoft.com/graph/throttling-limits#microsoft-teams-service-limits
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import requests

from graph.calendar import user_path
from graph.client import GraphClient
from graph.clock import Clock
from graph.errors import Conflict, GraphClientError, MalformedResponse, safe_path
from graph.values import odata_string

# The Teams service plan (string id TEAMS1) in a user's `assignedPlans`: a person whose plan is
# not `Enabled` has no Teams, so nothing can be installed for or sent to them
# (https://learn.microsoft.com/entra/identity/users/licensing-service-plan-reference).
TEAMS_SERVICE_PLAN_ID = "57ff2da0-773e-42df-b2af-ffb7a2317929"

# Stay under Teams' 5 requests/s with a margin for clock skew between us and Graph.
NOTIFICATIONS_PER_SECOND = 4
# Teams shows at most 150 characters of previewText (sendActivityNotification doc).
PREVIEW_MAX = 150


class NotificationPacer:
    """At most `rate` notification requests in any sliding `window` seconds, on the injected
    clock (a ManualClock in tests: waiting advances simulated time, never wall time)."""

    def __init__(self, clock: Clock, rate: int = NOTIFICATIONS_PER_SECOND,
                 window: float = 1.0) -> None:
        if rate < 1 or window <= 0:
            raise ValueError("pacer rate and window must be positive")
        self.clock = clock
        self.rate = rate
        self.window = window
        self._starts: deque[float] = deque()
        self._lock = threading.Lock()

    def admit(self) -> None:
        # Each pass admits or sleeps until the oldest start leaves the window: bounded.
        for _ in range(self.rate + 10):
            with self._lock:
                now = self.clock.now().timestamp()
                while self._starts and self._starts[0] <= now - self.window:
                    self._starts.popleft()
                if len(self._starts) < self.rate:
                    self._starts.append(now)
                    return
                wait = self._starts[0] + self.window - now
            self.clock.sleep(max(wait, 0.001))
        raise GraphClientError("notification pacer could not admit a request")


def find_catalog_app(client: GraphClient, external_id: str, *,
                     definitions: bool = False) -> dict[str, Any] | None:
    """The org catalog entry of the app whose manifest id is `external_id`, or None; with
    `definitions`, its published `appDefinitions` too (version, and the Entra app it is bound
    to: `authorization.clientAppId`, https://learn.microsoft.com/graph/api/resources/teamsappauthorization)."""
    params = {"$filter": f"externalId eq {odata_string(external_id)}"}
    if definitions:
        params["$expand"] = "appDefinitions"
    for app in client.paged("/appCatalogs/teamsApps", params=params, max_pages=5):
        if not isinstance(app.get("id"), str) or not app["id"]:
            raise MalformedResponse(200, "a catalog app without an `id`", method="GET",
                                    path=safe_path(client.base_url + "/appCatalogs/teamsApps"))
        return dict(app)
    return None


def has_app(client: GraphClient, user_id: str, external_id: str) -> bool:
    """Whether the app with this manifest id is installed in the user's personal scope."""
    params = {
        "$expand": "teamsApp",
        "$filter": f"teamsApp/externalId eq {odata_string(external_id)}",
    }
    path = f"{user_path(user_id)}/teamwork/installedApps"
    return any(True for _ in client.paged(path, params=params, max_pages=5))


def install_app(client: GraphClient, user_id: str, catalog_id: str) -> bool:
    """Install the catalog app for the user. True when installed now, False when it already
    was (409)."""
    body = {
        "teamsApp@odata.bind": f"{client.base_url}/appCatalogs/teamsApps/{quote(catalog_id)}"
    }
    try:
        client.request("POST", f"{user_path(user_id)}/teamwork/installedApps", json=body)
    except Conflict:
        return False
    return True


def send_activity_notification(
    client: GraphClient,
    user_id: str,
    *,
    activity_type: str,
    topic_text: str,
    web_url: str,
    preview: str,
    parameters: Mapping[str, str],
    pacer: NotificationPacer | None = None,
) -> None:
    """One activity-feed notification to one user (a text topic that opens `web_url`).

    Graph has no idempotency key for notifications: a 429 or 503 *answer* means Graph did not
    take it (the client retries those, honouring Retry-After), but a retry after a lost answer
    (a timeout) could show the person the same nudge twice; see README, "Exactly once".
    """
    body = {
        "topic": {"source": "text", "value": topic_text, "webUrl": web_url},
        "activityType": activity_type,
        "previewText": {"content": preview[:PREVIEW_MAX]},
        "templateParameters": [{"name": k, "value": v} for k, v in parameters.items()],
    }
    if pacer is not None:
        pacer.admit()
    # Graph has no idempotency key for notifications: a lost answer is not retried, so a
    # notification is never sent twice by the client itself.
    client.request(
        "POST",
        f"{user_path(user_id)}/teamwork/sendActivityNotification",
        json=body,
        idempotent=False,
    )


def post_webhook(session: requests.Session, url: str, card: Mapping[str, Any],
                 timeout: tuple[float, float] = (5, 30)) -> None:
    """Post one Adaptive Card to a Teams Workflows webhook ("When a Teams webhook request is
    received"). No Graph token goes there: the URL itself is the secret. The trigger answers
    202 Accepted (https://learn.microsoft.com/azure/connectors/connectors-native-reqres)."""
    message = {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "content": dict(card)}
        ],
    }
    response = session.post(url, json=message, timeout=timeout)
    if response.status_code >= 400:
        # The URL carries the secret: never put it in the message.
        raise GraphClientError(f"the Teams webhook refused the card: HTTP {response.status_code}")


# The activity types our Teams app declares and the worker sends (the names match
# `worker.nudges.NudgeKind`). Their
# templateText is what Teams shows; `{actor}` is the app's name for app-only senders.
ACTIVITY_TYPES: tuple[dict[str, str], ...] = (
    {
        "type": "sessionReminder",
        "description": "Upcoming mentoring session",
        "templateText": "{actor}: your session {sessionTitle} is on {sessionDate}",
    },
    {
        "type": "notesRequested",
        # The same words for the notes and the session pulse: one request may ask either.
        "description": "After a session: the notes, and the session pulse",
        "templateText": "{actor}: how did {sessionTitle} go?",
    },
    {
        "type": "inviteUnanswered",
        "description": "Invitation waiting for an answer",
        "templateText": "{actor}: please answer the invitation for {sessionTitle}",
    },
    {
        "type": "sessionRescheduled",
        "description": "Session being rebooked",
        "templateText": "{actor}: {sessionTitle} is being rebooked",
    },
    {
        "type": "newTimeNeeded",
        "description": "Session needs a new time (to an executive's assistant)",
        "templateText": "{actor}: {sessionTitle} needs a new time",
    },
)
