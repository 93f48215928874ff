"""SharePoint sites, lists, columns and list items, as Graph's SharePoint API serves them.

The worker keeps one list item per mentoring session and reads the notes people type into it, so
the sandbox must behave like SharePoint where it hurts: filters on columns that are not indexed
fail unless the request carries `Prefer: HonorNonIndexedQueriesWarningMayFailRandomly`, and on
a list above the 5,000-item list view threshold they fail even with it; `If-Match` etags guard
against overwriting what a person typed; field keys are column internal names; pages end in an
absolute `@odata.nextLink`. People edit items through a sandbox-only control endpoint.

Microsoft documentation behind each behaviour (cited again where it is modelled):
- site by path, composite ids: https://learn.microsoft.com/en-us/graph/api/site-getbypath
  and https://learn.microsoft.com/en-us/onedrive/developer/rest-api/resources/site
- lists and items: https://learn.microsoft.com/en-us/graph/api/list-create,
  https://learn.microsoft.com/en-us/graph/api/listitem-list,
  https://learn.microsoft.com/en-us/graph/api/listitem-create,
  https://learn.microsoft.com/en-us/graph/api/listitem-update,
  https://learn.microsoft.com/en-us/graph/api/listitem-delete
- columns: https://learn.microsoft.com/en-us/graph/api/list-post-columns,
  https://learn.microsoft.com/en-us/graph/api/columndefinition-update
- error codes (itemNotFound, nameAlreadyExists, invalidRequest, resourceModified/412,
  activityLimitReached/429, accessDenied): https://learn.microsoft.com/en-us/graph/errors
- the non-indexed filter message, verbatim as Graph answers it:
  https://github.com/microsoftgraph/microsoft-graph-docs/issues/2279
- non-indexed filters on large lists answered with 429 even with the Prefer header:
  https://github.com/microsoftgraph/msgraph-sdk-dotnet/issues/827 and
  https://camerondwyer.com/2018/01/31/microsoft-graph-api-throttling-sharepoint-lists-libraries-http-429-error-code/

Resource units (for the throttle; counted by the pipeline from `service="sharepoint"`):
SharePoint charges 1 RU for a single-item read, 2 RU for a multi-item read (a list, a page of
items), 2 RU for a create/update/delete, and more for delta with a token or `$expand`-heavy
queries; https://learn.microsoft.com/en-us/sharepoint/dev/general-development/how-to-avoid-getting-throttled-or-blocked-in-sharepoint-online

The package is cut along what SharePoint keeps and does: `model` (columns, items, lists,
sites), `store` (`SharePointStore`, the rules on every change), `persistence` (its saved-state
format), `query` (filters and paging of items) and `routes` (the Graph routes). The names
other modules use are re-exported here.
"""

from graph.sandbox.sharepoint.model import (
    Column,
    ListItem,
    Site,
    SPList,
    app_identity,
    user_identity,
)
from graph.sandbox.sharepoint.query import LIST_VIEW_THRESHOLD, PREFER_NON_INDEXED
from graph.sandbox.sharepoint.routes import register
from graph.sandbox.sharepoint.store import DEMO_HOSTNAME, DEMO_SITE_PATH, SharePointStore

__all__ = [
    "DEMO_HOSTNAME",
    "DEMO_SITE_PATH",
    "LIST_VIEW_THRESHOLD",
    "PREFER_NON_INDEXED",
    "Column",
    "ListItem",
    "SPList",
    "SharePointStore",
    "Site",
    "app_identity",
    "register",
    "user_identity",
]
