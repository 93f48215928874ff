"""Following `@odata.nextLink` through a collection, with every guard a hostile answer needs.

Graph pages a collection by answering each page with the URL of the next one, which "contains
all the other query parameters present in the original request" and is followed as given
(https://learn.microsoft.com/graph/paging). The client sends its bearer token with each of
them, so a nextLink is trusted no further than the checks here:

- it must be an absolute URL under the client's Graph base URL (same scheme, host and port,
  and the same version root): a link to another host, or a relative one, is refused before
  anything is sent, so the token never leaves Graph;
- it must not repeat a page already read in this listing (a loop would never end);
- at most `max_pages` pages are read (`PagingLimitExceeded`);
- each page must be a `value` list of objects, no longer than the `$top` the first request
  asked for (Graph returns at most that many; without `$top`, `MAX_PAGE_ENTRIES`), and no
  larger in bytes than the client reads (`GraphClient.max_response_bytes`).

Each of these raises `BrokenPaging` or another `MalformedResponse` naming the request, a
server failure the outcome model already handles (`worker.apply.outcome`). Items are yielded
page by page, so a caller holds one page at a time; the worker's readers collect a whole
listing before they act on any of it, so a listing that breaks off on page 3 changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlsplit

from graph.answers import expect_entries
from graph.errors import BrokenPaging, PagingLimitExceeded, safe_path

if TYPE_CHECKING:
    from graph.client import GraphClient

DEFAULT_MAX_PAGES = 1000
# The most entries a page may hold when the request named no `$top`: Graph's default pages are
# far smaller (10 events, 100 users, 200 list items), its largest `$top` is 999 or 1000.
MAX_PAGE_ENTRIES = 1000

Page = tuple[str, str, str, tuple[tuple[str, str], ...]]


def items(
    client: GraphClient,
    path: str,
    params: Mapping[str, Any] | None,
    *,
    headers: Mapping[str, str] | None,
    mailbox: str | None,
    max_pages: int = DEFAULT_MAX_PAGES,
) -> Iterator[dict[str, Any]]:
    """Every item of the collection at `path`, page by page (see the module docstring)."""
    where = safe_path(client.base_url + client.relative_url(path))
    bound = _top(params) or MAX_PAGE_ENTRIES
    followed: set[Page] = set()
    url, page_params = path, params
    for number in range(1, max_pages + 1):
        identity = _identity(url, client, page_params)
        if identity in followed:
            raise BrokenPaging(f"the nextLink of page {number - 1} repeats a page already "
                               "read (a paging loop)", path=where)
        followed.add(identity)
        response = client.request("GET", url, params=page_params, headers=headers,
                                  mailbox=mailbox)
        body = response.json()
        entries = expect_entries(body, status=response.status, label=response.label,
                                 max_entries=bound)
        yield from entries
        next_link = body.get("@odata.nextLink")
        if next_link is None:
            return
        url, page_params = _checked(next_link, client, where, number), None
    raise PagingLimitExceeded(where, max_pages)


def _checked(next_link: object, client: GraphClient, where: str, number: int) -> str:
    """`next_link` when it is safe to send the token to; else `BrokenPaging`."""
    if not isinstance(next_link, str) or not next_link:
        raise BrokenPaging(f"the nextLink of page {number} is not a URL", path=where)
    link = urlsplit(next_link)
    base = urlsplit(client.base_url)
    if not link.scheme or not link.netloc:
        raise BrokenPaging(f"the nextLink of page {number} is not an absolute URL", path=where)
    if (link.scheme.lower(), link.netloc.lower()) != (base.scheme.lower(), base.netloc.lower()):
        # Only the host is named: the link's query may carry filters with personal data.
        raise BrokenPaging(f"the nextLink of page {number} leads to {link.scheme}://"
                           f"{link.hostname or '?'}, not to Graph ({base.hostname}); the "
                           "token is sent to Graph only", path=where)
    root = base.path.rstrip("/") + "/"
    if not link.path.startswith(root):
        raise BrokenPaging(f"the nextLink of page {number} leaves Graph's {root} root",
                           path=where)
    return next_link


def _identity(url: str, client: GraphClient, params: Mapping[str, Any] | None) -> Page:
    """What a page is, whatever the spelling of its URL (`%24top` or `$top`, parameters in
    any order), so one page asked for twice is seen as one."""
    absolute = url if "://" in url else client.base_url + "/" + url.lstrip("/")
    parts = urlsplit(absolute)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query += [(str(k), str(v)) for k, v in (params or {}).items()]
    return (parts.scheme.lower(), parts.netloc.lower(), unquote(parts.path),
            tuple(sorted(query)))


def _top(params: Mapping[str, Any] | None) -> int | None:
    value = str((params or {}).get("$top", "")).strip()
    return int(value) if value.isdigit() and int(value) > 0 else None
