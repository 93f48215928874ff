"""The query options other than `$filter`: `$select`, `$top`, `$skip`, `$orderby`, `$expand`.

They share no grammar with `$filter` beyond property names, and each resource applies them to
its own listing, so they are small independent parsers kept apart from the filter machinery.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from graph.sandbox.odata.errors import ODataError
from graph.sandbox.odata.filters import Resolver, default_resolver
from graph.sandbox.odata.syntax import _IDENT

# Graph's own cap for `$top` on Outlook collections is 1000
# (https://learn.microsoft.com/en-us/graph/paging); SharePoint list items allow 5000 but callers
# pass their own cap.
MAX_TOP = 1000


def parse_select(text: str | None) -> list[str] | None:
    """``"subject,start"`` -> ``["subject", "start"]``; None when absent. Empty items are 400."""
    if text is None:
        return None
    parts = [part.strip() for part in text.split(",")]
    if not text.strip() or any(not p or not _IDENT.fullmatch(p.replace("/", "")) for p in parts):
        raise ODataError(f"invalid $select value '{text}'")
    return parts


def parse_top(text: str | None, *, default: int, maximum: int = MAX_TOP) -> int:
    """The page size: `default` when absent; a non-integer or negative value is 400.

    Values above `maximum` are clamped, as Outlook serves at most 1000 per page rather than
    failing (https://learn.microsoft.com/en-us/graph/paging).
    """
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError as exc:
        raise ODataError(f"invalid $top value '{text}'") from exc
    if value < 0:
        raise ODataError(f"invalid $top value '{text}'")
    return min(value, maximum)


def parse_skip(text: str | None) -> int:
    if text is None or text == "":
        return 0
    try:
        value = int(text)
    except ValueError as exc:
        raise ODataError(f"invalid $skip value '{text}'") from exc
    if value < 0:
        raise ODataError(f"invalid $skip value '{text}'")
    return value


@dataclass(frozen=True)
class OrderBy:
    path: tuple[str, ...]
    descending: bool = False


def parse_orderby(text: str | None) -> list[OrderBy]:
    """``"start/dateTime desc, subject"`` -> keys; an unknown direction is 400."""
    if text is None or not text.strip():
        return []
    keys: list[OrderBy] = []
    for part in text.split(","):
        words = part.split()
        if not words or len(words) > 2:
            raise ODataError(f"invalid $orderby clause '{part.strip()}'")
        direction = words[1].lower() if len(words) == 2 else "asc"
        if direction not in ("asc", "desc"):
            raise ODataError(f"invalid $orderby direction '{words[1]}'")
        segments = tuple(words[0].split("/"))
        if any(not _IDENT.fullmatch(seg) for seg in segments):
            raise ODataError(f"invalid $orderby property '{words[0]}'")
        keys.append(OrderBy(segments, direction == "desc"))
    return keys


def sort_items(
    items: list[dict[str, Any]], keys: Sequence[OrderBy], resolver: Resolver = default_resolver
) -> list[dict[str, Any]]:
    """Stable multi-key sort; missing values sort first ascending (nulls are smallest in OData)."""
    result = list(items)
    for key in reversed(keys):

        def sort_key(item: dict[str, Any], key: OrderBy = key) -> tuple[int, Any]:
            value = resolver(item, key.path)
            if value is None:
                return (0, "")
            if isinstance(value, str):
                return (1, value.lower())
            return (1, value)

        result.sort(key=sort_key, reverse=key.descending)
    return result


@dataclass(frozen=True)
class Expand:
    """One `$expand` item with its nested options (``$filter``, ``$select``, ...)."""

    name: str
    options: dict[str, str]


def parse_expand(text: str | None) -> list[Expand]:
    """``"singleValueExtendedProperties($filter=id eq 'String {g} Name X')"`` -> items.

    Splits on top-level commas, respecting parentheses and quoted strings; nested options are
    separated by ``;`` as the OData URL conventions say.
    """
    if text is None or not text.strip():
        return []
    items: list[Expand] = []
    for raw in _split_top_level(text, ","):
        raw = raw.strip()
        if not raw:
            raise ODataError(f"invalid $expand value '{text}'")
        paren = raw.find("(")
        if paren < 0:
            if not _IDENT.fullmatch(raw.replace("/", "")):
                raise ODataError(f"invalid $expand item '{raw}'")
            items.append(Expand(raw, {}))
            continue
        if not raw.endswith(")"):
            raise ODataError(f"invalid $expand item '{raw}'")
        name = raw[:paren].strip()
        if not _IDENT.fullmatch(name):
            raise ODataError(f"invalid $expand item '{raw}'")
        options: dict[str, str] = {}
        for opt in _split_top_level(raw[paren + 1 : -1], ";"):
            key, sep, value = opt.partition("=")
            key = key.strip()
            if not sep or not key.startswith("$"):
                raise ODataError(f"invalid $expand option '{opt.strip()}'")
            options[key.lower()] = value.strip()
        items.append(Expand(name, options))
    return items


def _split_top_level(text: str, sep: str) -> list[str]:
    parts: list[str] = []
    depth = 0
    in_string = False
    current: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if in_string:
            current.append(ch)
            if ch == "'":
                if i + 1 < len(text) and text[i + 1] == "'":
                    current.append("'")
                    i += 1
                else:
                    in_string = False
        elif ch == "'":
            in_string = True
            current.append(ch)
        elif ch == "(":
            depth += 1
            current.append(ch)
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise ODataError(f"unbalanced parentheses in '{text}'")
            current.append(ch)
        elif ch == sep and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    if depth != 0 or in_string:
        raise ODataError(f"unbalanced parentheses or quotes in '{text}'")
    parts.append("".join(current))
    return parts


def apply_select(
    item: Mapping[str, Any],
    select: Sequence[str] | None,
    always: Sequence[str] = ("id", "@odata.etag"),
) -> dict[str, Any]:
    """Keep the selected top-level properties (case-insensitive) plus `always` ones."""
    if not select:
        return dict(item)
    wanted = {s.split("/")[0].lower() for s in select} | {a.lower() for a in always}
    return {k: v for k, v in item.items() if k.lower() in wanted}
