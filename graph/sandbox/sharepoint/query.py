"""Which list items a query returns: `$filter` under SharePoint's indexing rules, and paging.

This is where SharePoint hurts a client most (non-indexed columns, the list view threshold,
opaque skip tokens), so its rules sit together, each with the report it is modelled on,
rather than spread through the handlers.
"""

from __future__ import annotations

import base64
import re
from typing import Any

from graph.sandbox import odata
from graph.sandbox.core import GraphError
from graph.sandbox.sharepoint.model import Column, SPList

# SharePoint Online's list view threshold: a query whose unindexed part has to scan more rows
# than this is refused. https://learn.microsoft.com/en-us/troubleshoot/sharepoint/lists-and-libraries/items-exceeds-list-view-threshold
LIST_VIEW_THRESHOLD = 5000

# Graph does not document the listItem page sizes. 200 is what list items come back in without
# `$top`; a larger `$top` is clamped to the list view threshold, the most SharePoint will read
# in one query (docs silent: the stricter choice).
DEFAULT_PAGE_SIZE = 200
MAX_PAGE_SIZE = LIST_VIEW_THRESHOLD

PREFER_NON_INDEXED = "HonorNonIndexedQueriesWarningMayFailRandomly"


def _field_resolver(item: Any, path: Any) -> Any:
    segments = list(path)
    if len(segments) == 2 and segments[0].lower() == "fields":
        values = item.get("fields", {})
        name = segments[1]
        if name in values:
            return values[name]
        for key, value in values.items():
            if key.lower() == name.lower():
                return value
        return None
    return odata.default_resolver(item, segments)


def _conjuncts(node: odata.Node) -> list[odata.Node]:
    if isinstance(node, odata.BoolOp) and node.op == "and":
        return [*_conjuncts(node.left), *_conjuncts(node.right)]
    return [node]


def _referenced_columns(sp_list: SPList, node: odata.Node) -> list[Column]:
    found: list[Column] = []
    for sub in odata.iter_nodes(node):
        if not isinstance(sub, odata.Path):
            continue
        if len(sub.segments) != 2 or sub.segments[0].lower() != "fields":
            raise GraphError(
                400,
                "invalidRequest",
                f"Invalid filter clause: only fields/<column> can be filtered, not "
                f"'{'/'.join(sub.segments)}'",
            )
        column = sp_list.column(sub.segments[1])
        if column is None:
            raise GraphError(400, "invalidRequest", f"Field '{sub.segments[1]}' is not recognized")
        found.append(column)
    return found


def _yes_no_as_sharepoint_reads_it(sp_list: SPList, node: odata.Node) -> odata.Node:
    """A Yes/No column compared with `true`/`false` (or 'true'/'false') matches the opposite
    items: SharePoint's own behaviour, answered "by design" in
    https://github.com/SharePoint/sp-dev-docs/issues/5594 and #4750; `eq 1` / `eq 0` is
    the way that works. The sandbox does the same, so a client filtering with `true` fails
    its tests as it would fail in production."""
    if isinstance(node, odata.BoolOp):
        return odata.BoolOp(node.op, _yes_no_as_sharepoint_reads_it(sp_list, node.left),
                            _yes_no_as_sharepoint_reads_it(sp_list, node.right))
    if isinstance(node, odata.Not):
        return odata.Not(_yes_no_as_sharepoint_reads_it(sp_list, node.operand))
    if (isinstance(node, odata.Compare) and isinstance(node.left, odata.Path)
            and isinstance(node.right, odata.Literal) and len(node.left.segments) == 2):
        column = sp_list.column(node.left.segments[1])
        value = node.right.value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            value = value.lower() == "true"
        if column is not None and column.type == "boolean" and isinstance(value, bool):
            return odata.Compare(node.op, node.left, odata.Literal(not value))
    return node


def filter_items(
    sp_list: SPList, items: list[dict[str, Any]], text: str, *, prefer: list[str]
) -> list[dict[str, Any]]:
    """Apply a `$filter` the way SharePoint-backed Graph does.

    A query may reference a column that is not indexed only with the Prefer header; and when
    the rows the indexed part of the query leaves (the whole list if none) exceed the list view
    threshold, the non-indexed part cannot run at all, header or not.
    """
    try:
        parsed = odata.parse_filter(text, case_insensitive=True, resolver=_field_resolver)
    except odata.ODataError as exc:
        raise exc.to_graph_error(code="invalidRequest") from exc
    for node in odata.iter_nodes(parsed.root):
        if isinstance(node, odata.Lambda | odata.In):
            raise GraphError(400, "invalidRequest", "Invalid filter clause: not supported")
    parsed = odata.Filter(parsed.text, _yes_no_as_sharepoint_reads_it(sp_list, parsed.root),
                          parsed.case_insensitive, parsed.resolver)
    conjuncts = _conjuncts(parsed.root)
    indexed_parts: list[odata.Node] = []
    unindexed_parts: list[tuple[odata.Node, Column]] = []
    for part in conjuncts:
        columns = _referenced_columns(sp_list, part)
        not_indexed = [c for c in columns if not c.indexed]
        if not_indexed:
            unindexed_parts.append((part, not_indexed[0]))
        else:
            indexed_parts.append(part)
    candidates = items
    for part in indexed_parts:
        sub = odata.Filter(text, part, True, _field_resolver)
        candidates = [i for i in candidates if sub.matches(i)]
    if unindexed_parts:
        column = unindexed_parts[0][1]
        if PREFER_NON_INDEXED not in prefer:
            # Verbatim: https://github.com/microsoftgraph/microsoft-graph-docs/issues/2279
            raise GraphError(
                400,
                "invalidRequest",
                f"Field '{column.name}' cannot be referenced in filter or orderby as it is not "
                f"indexed. Provide the 'Prefer: {PREFER_NON_INDEXED}' header to allow this, but "
                "be warned that such queries may fail on large lists.",
            )
    if len(candidates) > LIST_VIEW_THRESHOLD:
        # Graph answers a query that must scan past the threshold with 429 (no Retry-After:
        # waiting does not help), https://github.com/microsoftgraph/msgraph-sdk-dotnet/issues/827
        raise GraphError(
            429,
            "activityLimitReached",
            "The attempted operation is prohibited because it exceeds the list view threshold.",
        )
    return [i for i in candidates if parsed.matches(i)]


def _skiptoken(last_id: int) -> str:
    # SharePoint's paging token is base64 of "Paged=TRUE&p_ID=<last id>"; clients treat it as
    # opaque and follow @odata.nextLink.
    return base64.b64encode(f"Paged=TRUE&p_ID={last_id}".encode()).decode().rstrip("=")


def _after_id(token: str) -> int:
    try:
        padded = token + "=" * (-len(token) % 4)
        decoded = base64.b64decode(padded).decode()
        match = re.fullmatch(r"Paged=TRUE&p_ID=(\d+)", decoded)
    except (ValueError, UnicodeDecodeError) as exc:
        raise GraphError(400, "invalidRequest", "Invalid $skiptoken") from exc
    if match is None:
        raise GraphError(400, "invalidRequest", "Invalid $skiptoken")
    return int(match.group(1))


def _fields_expand(query: dict[str, str]) -> tuple[bool, list[str] | None]:
    """`$expand=fields` or `fields($select=a,b)` (the docs also show `fields(select=a,b)`)."""
    raw = query.get("$expand") or query.get("expand")
    if not raw:
        return False, None
    normalised = re.sub(r"\((select)=", r"($select=", raw, flags=re.IGNORECASE)
    try:
        expands = odata.parse_expand(normalised)
    except odata.ODataError as exc:
        raise exc.to_graph_error(code="invalidRequest", prefix="") from exc
    for expand in expands:
        if expand.name.lower() == "fields":
            select = expand.options.get("$select")
            return True, [s.strip() for s in select.split(",")] if select else None
    return False, None
