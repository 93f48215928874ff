"""SharePoint list calls the worker makes, in Graph's own terms.

Thin on purpose, like `graph.calendar`: each function is one documented Graph call (or a batched
family of them) with the headers it needs, returning Graph's JSON. What a list item means for a
mentoring session lives in `worker.notes_list` and `worker.records`.

Graph facts relied on here:
- site by path `GET /sites/{hostname}:/{server-relative-path}`:
  https://learn.microsoft.com/graph/api/site-getbypath
- lists, columns: https://learn.microsoft.com/graph/api/list-get (by id or title),
  https://learn.microsoft.com/graph/api/list-create,
  https://learn.microsoft.com/graph/api/list-post-columns,
  https://learn.microsoft.com/graph/api/columndefinition-update (`indexed` can be set later)
- items: https://learn.microsoft.com/graph/api/listitem-list (`$expand=fields($select=...)`,
  `$filter` on `fields/X`), https://learn.microsoft.com/graph/api/listitem-create,
  https://learn.microsoft.com/graph/api/listitem-update (`If-Match`; a stale etag is 412)
- a filter on a column that is not indexed is refused unless the request carries
  `Prefer: HonorNonIndexedQueriesWarningMayFailRandomly`
  (https://github.com/microsoftgraph/microsoft-graph-docs/issues/2279); we index every column
  we filter on and still send the header, as the design notes ask, so a list an admin altered
  (an index dropped) degrades to "may fail on large lists" instead of failing at once.
- `$batch`: at most 20 requests per call (https://learn.microsoft.com/graph/json-batching).

Answers are read through `json_object` / `entries` (`graph.answers`): a site, list or item
without a string `id`, or a collection that is no `value` list of objects, is
`MalformedResponse` for that request; inside a `$batch`, for that one item or key only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

from graph.answers import expect_object
from graph.batch import BatchRequest, BatchResult
from graph.client import GraphClient
from graph.errors import GraphApiError, MalformedResponse, NotFound
from graph.values import odata_string

PREFER_NON_INDEXED = "HonorNonIndexedQueriesWarningMayFailRandomly"
FILTER_HEADERS = {"Prefer": PREFER_NON_INDEXED}

T = TypeVar("T")


def site_path(site: str) -> str:
    """`hostname:/sites/path` -> the Graph path addressing that site."""
    hostname, _, path = site.partition(":")
    return "/sites/" + quote(hostname, safe=".-") + ":/" + quote(path.strip("/"), safe="/-_.")


def _query(params: Mapping[str, str]) -> str:
    return urlencode(params, quote_via=quote, safe="$'(),/=")


def get_site(client: GraphClient, site: str) -> dict[str, Any]:
    """The site for `hostname:/sites/path` (its `id` is the composite id)."""
    return client.request("GET", site_path(site)).json_object("id")


def lists_path(site_id: str) -> str:
    return f"/sites/{quote(site_id, safe=',')}/lists"


def items_path(site_id: str, list_id: str) -> str:
    return f"{lists_path(site_id)}/{quote(list_id, safe='')}/items"


def find_list(client: GraphClient, site_id: str, display_name: str) -> dict[str, Any] | None:
    """The list with this display name, with its columns, or None."""
    response = client.request(
        "GET",
        lists_path(site_id),
        params={"$filter": f"displayName eq {odata_string(display_name)}"},
    )
    for candidate in response.entries():
        if str(candidate.get("displayName", "")).lower() == display_name.lower():
            found = expect_object(candidate, status=response.status, label=response.label,
                                  required=("id",))
            return get_list(client, site_id, found["id"])
    return None


def list_by_title(client: GraphClient, site: str, title: str) -> dict[str, Any] | None:
    """One request for site and list: `GET /sites/{hostname}:/{path}:/lists/{list-title}`
    (list-get accepts the title; the colon path returns to the site's resource model).
    None when Graph answers 404."""
    path = site_path(site) + ":/lists/" + quote(title, safe="")
    try:
        return client.request("GET", path).json_object("id")
    except NotFound:
        return None


def get_list(client: GraphClient, site_id: str, list_id: str) -> dict[str, Any]:
    response = client.request(
        "GET", f"{lists_path(site_id)}/{quote(list_id, safe='')}", params={"$expand": "columns"}
    )
    return response.json_object("id")


def create_list(
    client: GraphClient, site_id: str, display_name: str, columns: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    body = {
        "displayName": display_name,
        "columns": [dict(c) for c in columns],
        "list": {"template": "genericList"},
    }
    return client.request("POST", lists_path(site_id), json=body).json_object("id")


def add_column(
    client: GraphClient, site_id: str, list_id: str, column: Mapping[str, Any]
) -> dict[str, Any]:
    path = f"{lists_path(site_id)}/{quote(list_id, safe='')}/columns"
    return client.request("POST", path, json=dict(column)).json_object()


def update_column(
    client: GraphClient, site_id: str, list_id: str, column_id: str, changes: Mapping[str, Any]
) -> dict[str, Any]:
    path = f"{lists_path(site_id)}/{quote(list_id, safe='')}/columns/{quote(column_id, safe='')}"
    return client.request("PATCH", path, json=dict(changes)).json_object()


def _expand(select: Sequence[str] | None) -> str:
    return f"fields($select={','.join(select)})" if select else "fields"


def items_where(
    client: GraphClient,
    site_id: str,
    list_id: str,
    flt: str,
    *,
    select: Sequence[str] | None = None,
    top: int = 200,
) -> list[dict[str, Any]]:
    """Every item matching `flt` (already built with `eq_filter` or by hand), all pages."""
    params = {"$filter": flt, "$expand": _expand(select), "$top": str(top)}
    return list(
        client.paged(items_path(site_id, list_id), params=params, headers=FILTER_HEADERS)
    )


def all_items(
    client: GraphClient, site_id: str, list_id: str, *, select: Sequence[str] | None = None
) -> list[dict[str, Any]]:
    """Every item of the list, page by page (for reports, never for the run)."""
    params = {"$expand": _expand(select), "$top": "1000"}
    return list(client.paged(items_path(site_id, list_id), params=params))


def eq_filter(column: str, value: str) -> str:
    """`fields/Column eq 'value'` with the value escaped (invariant 8)."""
    return f"fields/{column} eq {odata_string(value)}"


def items_by_value(
    client: GraphClient,
    site_id: str,
    list_id: str,
    column: str,
    values: Sequence[str],
    *,
    select: Sequence[str] | None = None,
) -> dict[str, list[dict[str, Any]] | GraphApiError]:
    """For each value, the items whose `column` equals it: one filtered GET per value, sent
    through `$batch` 20 at a time. Each value answers its items or the error Graph gave."""
    requests_ = [
        BatchRequest(
            id=str(index),
            method="GET",
            url=items_path(site_id, list_id)
            + "?"
            + _query({"$filter": eq_filter(column, value), "$expand": _expand(select)}),
            headers=FILTER_HEADERS,
        )
        for index, value in enumerate(values)
    ]
    found: dict[str, list[dict[str, Any]] | GraphApiError] = {}
    for value, result in zip(values, client.batch(requests_), strict=True):
        if result.error is not None:
            found[value] = result.error
            continue
        try:
            found[value] = result.entries()
        except MalformedResponse as exc:
            found[value] = exc  # this value's answer only; the others stand
    return found


def items_by_id(
    client: GraphClient,
    site_id: str,
    list_id: str,
    item_ids: Sequence[str],
    *,
    select: Sequence[str] | None = None,
) -> dict[str, dict[str, Any] | GraphApiError | None]:
    """Items by id through `$batch`; None for an item that no longer exists (404)."""
    requests_ = [
        BatchRequest(
            id=str(index),
            method="GET",
            url=f"{items_path(site_id, list_id)}/{quote(item_id, safe='')}?"
            + _query({"$expand": _expand(select)}),
        )
        for index, item_id in enumerate(item_ids)
    ]
    return _per_item(item_ids, client.batch(requests_), lambda result: result.json_object("id"))


def item_versions(
    client: GraphClient,
    site_id: str,
    list_id: str,
    item_ids: Sequence[str],
) -> dict[str, list[dict[str, Any]] | GraphApiError | None]:
    """Each item's version history with the fields of every version, through `$batch`
    (https://learn.microsoft.com/graph/api/listitem-list-versions, `$expand=fields`); None
    for an item that no longer exists. SharePoint may keep only some versions (a site's
    retention settings): a caller reads what is there and decides what it proves."""
    requests_ = [
        BatchRequest(
            id=str(index),
            method="GET",
            url=f"{items_path(site_id, list_id)}/{quote(item_id, safe='')}/versions?"
            + _query({"$expand": "fields"}),
        )
        for index, item_id in enumerate(item_ids)
    ]
    def every_page(result: BatchResult) -> list[dict[str, Any]]:
        # A long history comes in pages: the first inside the `$batch`, the rest followed
        # through `@odata.nextLink` (checked like any other, `graph.paging`).
        versions = result.entries()
        body = result.body if isinstance(result.body, dict) else {}
        link = body.get("@odata.nextLink")
        if isinstance(link, str) and link:
            versions.extend(client.paged(link))
        return versions

    return _per_item(item_ids, client.batch(requests_), every_page)


def _per_item(item_ids: Sequence[str], results: Sequence[BatchResult],
              read: Callable[[BatchResult], T]) -> dict[str, T | GraphApiError | None]:
    """Each item's `$batch` answer: what `read` makes of it, None for an item that no longer
    exists (404), or the error (this item's only; the others stand)."""
    found: dict[str, T | GraphApiError | None] = {}
    for item_id, result in zip(item_ids, results, strict=True):
        if isinstance(result.error, NotFound):
            found[item_id] = None
        elif result.error is not None:
            found[item_id] = result.error
        else:
            try:
                found[item_id] = read(result)
            except MalformedResponse as exc:
                found[item_id] = exc
    return found


def get_item(
    client: GraphClient,
    site_id: str,
    list_id: str,
    item_id: str,
    *,
    select: Sequence[str] | None = None,
) -> dict[str, Any]:
    response = client.request(
        "GET",
        f"{items_path(site_id, list_id)}/{quote(item_id, safe='')}",
        params={"$expand": _expand(select)},
    )
    return response.json_object("id")


def create_item(
    client: GraphClient, site_id: str, list_id: str, fields: Mapping[str, Any]
) -> dict[str, Any]:
    """Create an item. SharePoint has no idempotency key, so a create whose answer was lost
    (a timeout, a dropped connection, a 504) is not sent again blindly: the caller looks the
    item up by its key first (`AnswerLost` or a 504 `ServerError` tell it to)."""
    response = client.request("POST", items_path(site_id, list_id),
                              json={"fields": dict(fields)}, idempotent=False)
    return response.json_object("id")


def update_item_fields(
    client: GraphClient,
    site_id: str,
    list_id: str,
    item_id: str,
    fields: Mapping[str, Any],
    *,
    etag: str,
) -> dict[str, Any]:
    """PATCH the given fields only, guarded by `If-Match` (raises PreconditionFailed on 412).
    Returns the item's fieldValueSet (its `@odata.etag` is the new etag)."""
    response = client.request(
        "PATCH",
        f"{items_path(site_id, list_id)}/{quote(item_id, safe='')}/fields",
        json=dict(fields),
        headers={"If-Match": etag},
    )
    return response.json_object()


def delete_item(client: GraphClient, site_id: str, list_id: str, item_id: str, *,
                etag: str) -> None:
    """DELETE one item, guarded by `If-Match` (412 when someone saved it since it was read).
    https://learn.microsoft.com/graph/api/listitem-delete"""
    client.request(
        "DELETE",
        f"{items_path(site_id, list_id)}/{quote(item_id, safe='')}",
        headers={"If-Match": etag} if etag else None,
    )
