"""The `$filter` grammar: tokens, the syntax tree, and the parser that builds it.

Parsing is strict on its own so that evaluation (`filters`) never has to guess at malformed
input: anything outside the subset Outlook and SharePoint accept is refused here, with the
position where it went wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from graph.sandbox.odata.errors import ODataError

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
