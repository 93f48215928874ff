"""A parsed `$filter` evaluated against JSON items, and what callers may ask of its tree.

Services differ in what they allow (Outlook checks property names against the entity type,
SharePoint refuses lambdas and non-indexed columns), so besides `matches` a filter exposes its
property paths and nodes for each service to vet before anything is evaluated.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from graph.sandbox.odata.errors import ODataError
from graph.sandbox.odata.syntax import (
    BoolOp,
    Call,
    Compare,
    In,
    Lambda,
    Literal,
    Node,
    Not,
    Path,
    _parse_datetime,
    _Parser,
)

# Given the item and a property path, return the value (None when absent).
Resolver = Callable[[Mapping[str, Any], Sequence[str]], Any]


def default_resolver(item: Mapping[str, Any], path: Sequence[str]) -> Any:
    """Walk dicts by key; property names match case-insensitively, as Outlook's do."""
    current: Any = item
    for segment in path:
        if not isinstance(current, Mapping):
            return None
        if segment in current:
            current = current[segment]
            continue
        lowered = segment.lower()
        for key, value in current.items():
            if key.lower() == lowered:
                current = value
                break
        else:
            return None
    return current


@dataclass(frozen=True)
class Filter:
    """A parsed `$filter`. `matches(item)` evaluates it; `property_paths()` lets a caller reject
    unknown properties before evaluating (Graph checks names against the entity type)."""

    text: str
    root: Node
    case_insensitive: bool = True
    resolver: Resolver = field(default=default_resolver)

    def matches(self, item: Mapping[str, Any]) -> bool:
        return _truthy(self._eval(self.root, item, {}))

    def property_paths(self) -> list[tuple[str, ...]]:
        """Every property path outside a lambda variable, lambda collections included."""
        found: list[tuple[str, ...]] = []
        _collect_paths(self.root, set(), found)
        return found

    def lambda_paths(self) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
        """(collection path, member path) for every path that goes through a lambda variable."""
        found: list[tuple[tuple[str, ...], tuple[str, ...]]] = []
        _collect_lambda_paths(self.root, {}, found)
        return found

    def _eval(self, node: Node, item: Mapping[str, Any], env: dict[str, Any]) -> Any:
        if isinstance(node, Literal):
            return node.value
        if isinstance(node, Path):
            head = node.segments[0]
            if head in env:
                bound = env[head]
                rest = node.segments[1:]
                if not rest:
                    return bound
                return self.resolver(bound, rest) if isinstance(bound, Mapping) else None
            return self.resolver(item, node.segments)
        if isinstance(node, BoolOp):
            left = _truthy(self._eval(node.left, item, env))
            if node.op == "and":
                return left and _truthy(self._eval(node.right, item, env))
            return left or _truthy(self._eval(node.right, item, env))
        if isinstance(node, Not):
            return not _truthy(self._eval(node.operand, item, env))
        if isinstance(node, Compare):
            return self._compare(
                node.op, self._eval(node.left, item, env), self._eval(node.right, item, env)
            )
        if isinstance(node, In):
            value = self._eval(node.left, item, env)
            return any(
                self._compare("eq", value, self._eval(opt, item, env)) for opt in node.options
            )
        if isinstance(node, Call):
            haystack = self._eval(node.args[0], item, env)
            needle = self._eval(node.args[1], item, env)
            if not isinstance(haystack, str) or not isinstance(needle, str):
                return False
            if self.case_insensitive:
                haystack, needle = haystack.lower(), needle.lower()
            if node.name == "startswith":
                return haystack.startswith(needle)
            if node.name == "endswith":
                return haystack.endswith(needle)
            return needle in haystack
        if isinstance(node, Lambda):
            collection = self._eval(node.collection, item, env)
            members = collection if isinstance(collection, list) else []
            if node.body is None or node.variable is None:
                return bool(members)
            results = (
                _truthy(self._eval(node.body, item, {**env, node.variable: member}))
                for member in members
            )
            return any(results) if node.quantifier == "any" else all(results)
        raise ODataError(f"cannot evaluate {node!r}")  # pragma: no cover - exhaustive above

    def _compare(self, op: str, left: Any, right: Any) -> bool:
        left, right = _coerce(left, right, self.case_insensitive)
        if op == "eq":
            return bool(left == right)
        if op == "ne":
            return bool(left != right)
        if left is None or right is None:
            return False
        try:
            if op == "gt":
                return bool(left > right)
            if op == "ge":
                return bool(left >= right)
            if op == "lt":
                return bool(left < right)
            return bool(left <= right)
        except TypeError:
            return False


def _truthy(value: Any) -> bool:
    return value is True


def _coerce(left: Any, right: Any, case_insensitive: bool) -> tuple[Any, Any]:
    """Make a pair comparable: date-time literal vs stored string, case folding for strings."""
    if isinstance(left, datetime) and isinstance(right, str):
        right = _loose_datetime(right)
    elif isinstance(right, datetime) and isinstance(left, str):
        left = _loose_datetime(left)
    if isinstance(left, str) and isinstance(right, str) and case_insensitive:
        return left.lower(), right.lower()
    return left, right


def _loose_datetime(text: str) -> Any:
    try:
        return _parse_datetime(text, 0)
    except ODataError:
        return text


def _collect_paths(node: Node, variables: set[str], found: list[tuple[str, ...]]) -> None:
    if isinstance(node, Path):
        if node.segments[0] not in variables:
            found.append(node.segments)
    elif isinstance(node, Compare | BoolOp):
        _collect_paths(node.left, variables, found)
        _collect_paths(node.right, variables, found)
    elif isinstance(node, In):
        _collect_paths(node.left, variables, found)
        for opt in node.options:
            _collect_paths(opt, variables, found)
    elif isinstance(node, Not):
        _collect_paths(node.operand, variables, found)
    elif isinstance(node, Call):
        for arg in node.args:
            _collect_paths(arg, variables, found)
    elif isinstance(node, Lambda):
        found.append(node.collection.segments)
        if node.body is not None and node.variable is not None:
            _collect_paths(node.body, variables | {node.variable}, found)


def _collect_lambda_paths(
    node: Node,
    bound: dict[str, tuple[str, ...]],
    found: list[tuple[tuple[str, ...], tuple[str, ...]]],
) -> None:
    if isinstance(node, Path):
        if node.segments[0] in bound:
            found.append((bound[node.segments[0]], node.segments[1:]))
    elif isinstance(node, Compare | BoolOp):
        _collect_lambda_paths(node.left, bound, found)
        _collect_lambda_paths(node.right, bound, found)
    elif isinstance(node, In):
        _collect_lambda_paths(node.left, bound, found)
        for opt in node.options:
            _collect_lambda_paths(opt, bound, found)
    elif isinstance(node, Not):
        _collect_lambda_paths(node.operand, bound, found)
    elif isinstance(node, Call):
        for arg in node.args:
            _collect_lambda_paths(arg, bound, found)
    elif isinstance(node, Lambda) and node.body is not None and node.variable is not None:
        _collect_lambda_paths(node.body, {**bound, node.variable: node.collection.segments}, found)


def parse_filter(
    text: str, *, case_insensitive: bool = True, resolver: Resolver = default_resolver
) -> Filter:
    """Parse a `$filter` value; raises `ODataError` on anything Graph would reject."""
    return Filter(text, _Parser(text).parse(), case_insensitive, resolver)


def iter_nodes(node: Node) -> Iterator[Node]:
    """Every node of a tree, depth first (for callers that restrict what a service supports)."""
    yield node
    if isinstance(node, Compare | BoolOp):
        yield from iter_nodes(node.left)
        yield from iter_nodes(node.right)
    elif isinstance(node, In):
        yield from iter_nodes(node.left)
        for opt in node.options:
            yield from iter_nodes(opt)
    elif isinstance(node, Not):
        yield from iter_nodes(node.operand)
    elif isinstance(node, Call):
        for arg in node.args:
            yield from iter_nodes(arg)
    elif isinstance(node, Lambda):
        yield node.collection
        if node.body is not None:
            yield from iter_nodes(node.body)


def quote(value: str) -> str:
    """A `$filter` string literal, single quotes doubled (OData ABNF `SQUOTE-in-string`)."""
    return "'" + value.replace("'", "''") + "'"
