"""OData v4 query options as the sandbox's resources need them: `$filter`, `$select`, `$top`,
`$orderby`, `$expand`.

Real Graph rejects a malformed query with a 400 before touching data; the worker must never get
away with a query that only "works" because the stand-in is lenient. So this module parses the
whole `$filter` grammar subset that Outlook and SharePoint accept (and no more), evaluates it
against JSON items, and raises `ODataError` for anything it does not understand. Callers turn
`ODataError` into their service's 400 with `ODataError.to_graph_error`.

Grammar (precedence low to high): ``or`` < ``and`` < ``not`` < comparison
(``eq ne gt ge lt le``, ``in``) < primary (literal, property path, function call, lambda,
parenthesised expression). Functions: ``startswith``, ``endswith``, ``contains``. Lambdas:
``path/any(v: expr)`` and ``path/all(v: expr)`` (keyword case-insensitive, as Outlook accepts
``Any``). Literals: ``'string'`` with ``''`` escaping, integers and decimals, ``true``,
``false``, ``null``, unquoted ISO 8601 date-times (``2026-12-01T09:00:00Z``).

OData URL conventions: https://docs.oasis-open.org/odata/odata/v4.01/odata-v4.01-part2-url-conventions.html
Graph query parameters: https://learn.microsoft.com/en-us/graph/query-parameters
Outlook's answer to a malformed filter is 400 ``BadRequest`` "Invalid filter clause"
(seen verbatim in https://github.com/microsoftgraph/microsoft-graph-docs-contrib/issues/3982).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from graph.sandbox.core import GraphError

# Graph's own cap for `$top` on Outlook collections is 1000
# (https://learn.microsoft.com/en-us/graph/paging); SharePoint list items allow 5000 but callers
# pass their own cap.
MAX_TOP = 1000


class ODataError(ValueError):
    """A query option Graph would reject. `position` is the character offset, when known."""

    def __init__(self, message: str, position: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.position = position

    def to_graph_error(
        self, code: str = "BadRequest", prefix: str = "Invalid filter clause"
    ) -> GraphError:
        """Graph's 400 for this error. Outlook uses ``BadRequest`` / "Invalid filter clause"."""
        detail = f"{prefix}: {self.message}" if prefix else self.message
        return GraphError(400, code, detail)


# ---------------------------------------------------------------------------------------------
# Tokeniser

_KEYWORDS = {"eq", "ne", "gt", "ge", "lt", "le", "and", "or", "not", "in", "true", "false", "null"}
_COMPARISONS = {"eq", "ne", "gt", "ge", "lt", "le"}
_DATETIME = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,7})?)?(?:Z|[+-]\d{2}:\d{2})?", re.ASCII
)
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?", re.ASCII)
_IDENT = re.compile(r"[A-Za-z_@][A-Za-z0-9_.@#]*", re.ASCII)


@dataclass(frozen=True)
class Token:
    kind: str  # "str", "num", "dt", "ident", "kw", "punct", "end"
    value: Any
    pos: int


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        if ch == "'":
            start = i
            i += 1
            chars: list[str] = []
            while True:
                if i >= n:
                    raise ODataError("unterminated string literal", start)
                if text[i] == "'":
                    if i + 1 < n and text[i + 1] == "'":
                        chars.append("'")
                        i += 2
                        continue
                    i += 1
                    break
                chars.append(text[i])
                i += 1
            tokens.append(Token("str", "".join(chars), start))
            continue
        if ch in "(),:/":
            tokens.append(Token("punct", ch, i))
            i += 1
            continue
        if ch.isdigit() or (ch == "-" and i + 1 < n and text[i + 1].isdigit()):
            dt = _DATETIME.match(text, i)
            if dt:
                tokens.append(Token("dt", _parse_datetime(dt.group(0), i), i))
                i = dt.end()
                continue
            num = _NUMBER.match(text, i)
            if num is None:  # pragma: no cover - guarded by the isdigit check above
                raise ODataError("bad number", i)
            raw = num.group(0)
            value: int | float = float(raw) if any(c in raw for c in ".eE") else int(raw)
            tokens.append(Token("num", value, i))
            i = num.end()
            continue
        ident = _IDENT.match(text, i)
        if ident:
            word = ident.group(0)
            if word.lower() in _KEYWORDS:
                tokens.append(Token("kw", word.lower(), i))
            else:
                tokens.append(Token("ident", word, i))
            i = ident.end()
            continue
        raise ODataError(f"unexpected character {ch!r} at position {i}", i)
    tokens.append(Token("end", None, n))
    return tokens


def _parse_datetime(raw: str, pos: int) -> datetime:
    text = raw.replace("Z", "+00:00")
    # Python accepts at most 6 fractional digits; Graph writes 7.
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ODataError(f"invalid date-time literal {raw!r}", pos) from exc
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# ---------------------------------------------------------------------------------------------
# Syntax tree


@dataclass(frozen=True)
class Literal:
    value: Any


@dataclass(frozen=True)
class Path:
    segments: tuple[str, ...]


@dataclass(frozen=True)
class Compare:
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class In:
    left: Node
    options: tuple[Node, ...]


@dataclass(frozen=True)
class BoolOp:
    op: str  # "and" | "or"
    left: Node
    right: Node


@dataclass(frozen=True)
class Not:
    operand: Node


@dataclass(frozen=True)
class Call:
    name: str  # lower-case
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Lambda:
    collection: Path
    quantifier: str  # "any" | "all"
    variable: str | None
    body: Node | None


Node = Literal | Path | Compare | In | BoolOp | Not | Call | Lambda

_FUNCTIONS = {"startswith": 2, "endswith": 2, "contains": 2}


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.i = 0
        self.variables: list[str] = []

    def peek(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def expect(self, kind: str, value: Any = None) -> Token:
        token = self.take()
        if token.kind != kind or (value is not None and token.value != value):
            wanted = value if value is not None else kind
            raise ODataError(f"expected {wanted!r} at position {token.pos}", token.pos)
        return token

    def at(self, kind: str, value: Any = None) -> bool:
        token = self.peek()
        return token.kind == kind and (value is None or token.value == value)

    def parse(self) -> Node:
        if self.at("end"):
            raise ODataError("empty filter expression", 0)
        node = self.parse_or()
        if not self.at("end"):
            token = self.peek()
            raise ODataError(
                f"syntax error at position {token.pos}: unexpected {token.value!r}", token.pos
            )
        return node

    def parse_or(self) -> Node:
        node = self.parse_and()
        while self.at("kw", "or"):
            self.take()
            node = BoolOp("or", node, self.parse_and())
        return node

    def parse_and(self) -> Node:
        node = self.parse_not()
        while self.at("kw", "and"):
            self.take()
            node = BoolOp("and", node, self.parse_not())
        return node

    def parse_not(self) -> Node:
        if self.at("kw", "not"):
            self.take()
            return Not(self.parse_not())
        return self.parse_comparison()

    def parse_comparison(self) -> Node:
        left = self.parse_primary()
        token = self.peek()
        if token.kind == "kw" and token.value in _COMPARISONS:
            self.take()
            right = self.parse_primary()
            return Compare(token.value, left, right)
        if token.kind == "kw" and token.value == "in":
            self.take()
            self.expect("punct", "(")
            options = [self.parse_primary()]
            while self.at("punct", ","):
                self.take()
                options.append(self.parse_primary())
            self.expect("punct", ")")
            return In(left, tuple(options))
        return left

    def parse_primary(self) -> Node:
        token = self.take()
        if token.kind == "punct" and token.value == "(":
            node = self.parse_or()
            self.expect("punct", ")")
            return node
        if token.kind in ("str", "num", "dt"):
            return Literal(token.value)
        if token.kind == "kw" and token.value in ("true", "false", "null"):
            return Literal({"true": True, "false": False, "null": None}[token.value])
        if token.kind == "ident":
            if self.at("punct", "("):
                return self.parse_call(token)
            return self.parse_path(token)
        shown = "end of expression" if token.kind == "end" else repr(token.value)
        raise ODataError(f"syntax error at position {token.pos}: unexpected {shown}", token.pos)

    def parse_call(self, name: Token) -> Node:
        fname = str(name.value).lower()
        if fname not in _FUNCTIONS:
            raise ODataError(f"unknown function '{name.value}'", name.pos)
        self.expect("punct", "(")
        args = [self.parse_or()]
        while self.at("punct", ","):
            self.take()
            args.append(self.parse_or())
        self.expect("punct", ")")
        if len(args) != _FUNCTIONS[fname]:
            raise ODataError(
                f"function '{name.value}' takes {_FUNCTIONS[fname]} arguments", name.pos
            )
        return Call(fname, tuple(args))

    def parse_path(self, first: Token) -> Node:
        segments = [str(first.value)]
        while self.at("punct", "/"):
            self.take()
            token = self.take()
            if token.kind != "ident":
                raise ODataError(f"expected a property name at position {token.pos}", token.pos)
            word = str(token.value)
            if word.lower() in ("any", "all") and self.at("punct", "("):
                return self.parse_lambda(Path(tuple(segments)), word.lower())
            segments.append(word)
        return Path(tuple(segments))

    def parse_lambda(self, collection: Path, quantifier: str) -> Node:
        self.expect("punct", "(")
        if self.at("punct", ")"):
            self.take()
            if quantifier == "all":
                raise ODataError("all() needs a lambda expression", self.peek().pos)
            return Lambda(collection, quantifier, None, None)
        var = self.expect("ident")
        self.expect("punct", ":")
        self.variables.append(str(var.value))
        body = self.parse_or()
        self.variables.pop()
        self.expect("punct", ")")
        return Lambda(collection, quantifier, str(var.value), body)


# ---------------------------------------------------------------------------------------------
# Evaluation

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


# ---------------------------------------------------------------------------------------------
# $select, $top, $orderby, $expand


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
