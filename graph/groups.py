"""Entra group calls the worker makes, in Graph's own terms (for `mentoring suggest`).

- a group by mail: `GET /groups?$filter=mail eq '...'` (https://learn.microsoft.com/graph/api/group-list)
- a group by id: `GET /groups/{id}` (https://learn.microsoft.com/graph/api/group-get)
- its direct members: `GET /groups/{id}/members` with `$select`, pages of 999 through
  `@odata.nextLink` (https://learn.microsoft.com/graph/api/group-list-members). Not transitive:
  a nested group comes back as a group. Least privileged application permission:
  GroupMember.Read.All; reading the members' profile also needs User.Read.All, without which
  Graph returns each user's `id` and `@odata.type` with every other property null.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from graph.client import GraphClient
from graph.errors import NotFound
from graph.values import odata_string

GROUP_FIELDS = "id,displayName,mail"
MEMBERS_PAGE = "999"  # Graph's largest page for directory objects


def find_group(client: GraphClient, id_or_mail: str) -> dict[str, Any] | None:
    """The group with this object id or mail address, or None when there is none."""
    if "@" in id_or_mail:
        response = client.request("GET", "/groups", params={
            "$filter": f"mail eq {odata_string(id_or_mail)}", "$select": GROUP_FIELDS})
        found = [g for g in response.entries()
                 if isinstance(g.get("id"), str) and g.get("id")]
        return dict(found[0]) if found else None
    try:
        return client.request("GET", "/groups/" + quote(id_or_mail, safe=""),
                              params={"$select": GROUP_FIELDS}).json_object("id")
    except NotFound:
        return None


def group_members(client: GraphClient, group_id: str, select: Sequence[str]
                  ) -> list[dict[str, Any]]:
    """Every direct member of the group (all pages), with the properties `select` names."""
    params = {"$select": ",".join(select), "$top": MEMBERS_PAGE}
    return list(client.paged(f"/groups/{quote(group_id, safe='')}/members", params=params))
