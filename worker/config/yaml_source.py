"""Reads a YAML config file into a `Source` that knows the line and column of every value.

Positions are taken from the node tree before it is turned into Python data, because the data
alone has none and pydantic's errors only say which key is wrong, not where it is written.
Duplicate keys are reported here for the same reason: once constructed, the later value has
silently replaced the earlier one.

YAML is read with a stricter resolver than PyYAML's YAML 1.1 default: `09:30` would otherwise be
the integer 570 (base 60) and the country code `NO` the boolean false. Only `true`/`false` are
booleans and only plain decimal numbers are numbers; everything else stays a string for pydantic.

Any file gets located problems, never an exception, and within bounded time. The node tree is
built here from the parser's events, with no recursion, so that it can stop at a limit:
values nested deeper than `MAX_DEPTH`, or more than `MAX_VALUES` values once every alias is
counted as the values it repeats (nine lines of aliases of aliases can stand for a billion
values), or an alias inside the value it names. Aliases within those limits are allowed, and
their values are located where the anchor is written. A mapping key must be a plain value, and
a scalar that cannot be read as its tag says (`!!int abc`, a number longer than Python reads)
is a problem at its place. The parser is libyaml's, which PyYAML's wheels include: five times
faster than PyYAML's own, which is the fallback, with the same limits and problems (a syntax
error is worded by the parser that found it) but up to a few seconds for a file near the size
limit.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.constructor import SafeConstructor
from yaml.events import (
    AliasEvent,
    CollectionStartEvent,
    MappingStartEvent,
    ScalarEvent,
)
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import Resolver
from yaml.scanner import Scanner

from worker.config.located import (
    MAX_VALUES,
    NOT_ALLOWED,
    Loc,
    Position,
    Source,
    character_at,
    character_name,
    read_text,
)
from worker.config.problems import ConfigProblem, shown

MAX_DEPTH = 32
_DEPTH_HINT = "a config needs a handful of levels; is this the right file?"
_INT_TAG = "tag:yaml.org,2002:int"


class _Rules(SafeConstructor, Resolver):
    """How scalars are typed and turned into Python values (see module docstring)."""

    def __init__(self) -> None:
        SafeConstructor.__init__(self)
        Resolver.__init__(self)
        self._scalar_tags: dict[tuple[str, Any], str] = {}

    def tag_of(self, kind: type[Node], value: str | None, implicit: Any) -> str:
        if kind is not ScalarNode or value is None:
            return str(self.resolve(kind, value, implicit))  # type: ignore[no-untyped-call]
        # Keys and values repeat (`status: active` on every pairing); the tag of a plain
        # scalar depends on its text alone.
        key = (value, implicit)
        if key not in self._scalar_tags:
            self._scalar_tags[key] = str(
                self.resolve(kind, value, implicit))  # type: ignore[no-untyped-call]
        return self._scalar_tags[key]


_Rules.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if not tag.endswith((":bool", ":int", ":float"))]
    for first, resolvers in Resolver.yaml_implicit_resolvers.items()
}
_Rules.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_Rules.add_implicit_resolver(
    _INT_TAG, re.compile(r"^[-+]?(?:0|[1-9][0-9]*)$"), list("-+0123456789")
)
_Rules.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$"),
    list("-+0123456789."),
)


class _Refused(Exception):
    """A file the reader stops at, with the place and the reason."""

    def __init__(self, mark: Any, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.position: tuple[int | None, int | None] = (
            (mark.line + 1, mark.column + 1) if mark is not None else (None, None))
        self.message, self.hint = message, hint


def _short_tag(tag: str) -> str:
    return tag.replace("tag:yaml.org,2002:", "!!")


Construct = Callable[[Any, Any], Any]


def _checked(construct: Construct, *, fallback_to_text: bool = False) -> Construct:
    """`construct` with its exceptions turned into a located `_Refused`.

    PyYAML's own scalar constructors raise bare ValueError, KeyError or IndexError for values
    that do not fit an explicit tag (`!!int abc`, `!!bool maybe`, `!!float ""`).
    """

    def run(rules: Any, node: Any) -> Any:
        limit = sys.get_int_max_str_digits()
        if node.tag == _INT_TAG and limit and len(node.value) > limit:
            digits = sum(char.isdigit() for char in node.value)
            if digits > limit:
                raise _Refused(node.start_mark,
                               f"a number of {digits} digits is longer than the {limit} "
                               "digits a number may have", "quote it if it is meant as text")
        try:
            return construct(rules, node)
        except (ValueError, LookupError, TypeError, AttributeError, ArithmeticError) as exc:
            if fallback_to_text:
                return rules.construct_scalar(node)
            raise _Refused(node.start_mark,
                           f"cannot read {shown(node.value)} as {_short_tag(node.tag)}") from exc

    return run


for _tag in ("null", "bool", "int", "float", "binary"):
    _Rules.add_constructor(f"tag:yaml.org,2002:{_tag}",
                           _checked(SafeConstructor.yaml_constructors[f"tag:yaml.org,2002:{_tag}"]))
# An impossible date (2027-13-45) would otherwise abort the whole parse with no location; as a
# string it reaches pydantic, which reports it at its line like any other bad value.
_Rules.add_constructor("tag:yaml.org,2002:timestamp",
                       _checked(SafeConstructor.construct_yaml_timestamp, fallback_to_text=True))


class PurePythonParser(Reader, Scanner, Parser):
    """PyYAML's own parser: the fallback where PyYAML was built without libyaml."""

    def __init__(self, stream: str) -> None:
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)

    def fetch_flow_collection_start(self, TokenClass: Any) -> None:  # PyYAML names it so
        # The scanner looks up to 1,024 characters ahead for a key, and each open bracket
        # makes that look-ahead longer (a second for `[[[[...`): stop it at the same depth.
        if self.flow_level >= MAX_DEPTH:
            raise _Refused(self.get_mark(), f"values nested more than {MAX_DEPTH} levels deep",
                           _DEPTH_HINT)
        Scanner.fetch_flow_collection_start(self, TokenClass)


_Parser: Callable[[str], Any]
try:
    from yaml.cyaml import CParser as _Parser  # type: ignore[attr-defined]
except ImportError:  # PyYAML built without libyaml
    _Parser = PurePythonParser


@dataclass
class _Open:
    """A sequence or mapping whose end event has not come yet."""

    node: SequenceNode | MappingNode
    key: Node | None = None
    values: int = 1
    height: int = 1
    anchor: str | None = None


@dataclass
class _Composer:
    """Builds the node tree from the events, counting as it goes (see module docstring)."""

    parser: Any
    rules: _Rules
    anchors: dict[str, Node] = field(default_factory=dict)
    # For each anchored node: values it stands for, and levels it adds.
    sizes: dict[int, tuple[int, int]] = field(default_factory=dict)
    open: list[_Open] = field(default_factory=list)
    values: int = 0
    problems: list[tuple[Any, str, str | None]] = field(default_factory=list)

    def document(self) -> Node | None:
        """The single document's root node, None for an empty stream."""
        self.parser.get_event()  # stream start
        if self.parser.check_event(yaml.StreamEndEvent):
            return None
        start = self.parser.get_event()  # document start
        root = self._node()
        self.parser.get_event()  # document end
        if not self.parser.check_event(yaml.StreamEndEvent):
            extra = self.parser.get_event()
            raise ComposerError(
                "expected a single document in the stream", start.start_mark,
                "but found another document", extra.start_mark)
        return root

    def _node(self) -> Node:
        while True:
            event = self.parser.get_event()
            if isinstance(event, CollectionStartEvent):
                self._start(event)
                continue
            if isinstance(event, AliasEvent):
                node, values, height = self._alias(event)
            elif isinstance(event, ScalarEvent):
                node, values, height = self._scalar(event), 1, 0
            else:  # the end of the innermost open collection
                closed = self.open.pop()
                closed.node.end_mark = event.end_mark
                node, values, height = closed.node, closed.values, closed.height
                if closed.anchor is not None:
                    self.sizes[id(node)] = (values, height)
            if not self.open:
                return node
            self._add(node, values, height)

    def _start(self, event: Any) -> None:
        kind: type[SequenceNode | MappingNode] = (
            MappingNode if isinstance(event, MappingStartEvent) else SequenceNode)
        tag = event.tag
        if tag is None or tag == "!":
            tag = self.rules.tag_of(kind, None, event.implicit)
        node = kind(tag, [], event.start_mark, None, flow_style=event.flow_style)
        self._count(1, event)
        if len(self.open) >= MAX_DEPTH:
            raise _Refused(event.start_mark, f"values nested more than {MAX_DEPTH} levels deep",
                           _DEPTH_HINT)
        self._anchor(event, node)
        self.open.append(_Open(node, anchor=event.anchor))

    def _scalar(self, event: Any) -> ScalarNode:
        tag = event.tag
        if tag is None or tag == "!":
            tag = self.rules.tag_of(ScalarNode, event.value, event.implicit)
        node = ScalarNode(tag, event.value, event.start_mark, event.end_mark, style=event.style)
        self._count(1, event)
        bad = NOT_ALLOWED.search(event.value)
        if bad is not None:
            self.problems.append((event.start_mark,
                                  f"control character {character_name(bad.group())} in a value",
                                  "written as an escape such as \\x00? remove it"))
        self._anchor(event, node)
        return node

    def _alias(self, event: Any) -> tuple[Node, int, int]:
        anchor = event.anchor or ""
        if anchor not in self.anchors:
            raise ComposerError(None, None, f"found undefined alias {anchor!r}", event.start_mark)
        node = self.anchors[anchor]
        if id(node) not in self.sizes and not isinstance(node, ScalarNode):
            raise _Refused(event.start_mark, f"alias *{anchor} is used inside the value it names",
                           "a value cannot contain itself")
        values, height = self.sizes.get(id(node), (1, 0))
        self._count(values, event)
        if len(self.open) + height > MAX_DEPTH:
            raise _Refused(event.start_mark,
                           f"alias *{anchor} nests values more than {MAX_DEPTH} levels deep")
        return node, values, height

    def _anchor(self, event: Any, node: Node) -> None:
        if event.anchor is None:
            return
        if event.anchor in self.anchors:
            raise ComposerError(
                f"found duplicate anchor {event.anchor!r}; first occurrence",
                self.anchors[event.anchor].start_mark, "second occurrence", event.start_mark)
        self.anchors[event.anchor] = node

    def _count(self, values: int, event: Any) -> None:
        self.values += values
        if self.values > MAX_VALUES:
            raise _Refused(event.start_mark,
                           f"more than {MAX_VALUES:,} values, counting each use of an alias as "
                           "the values it repeats",
                           "aliases of aliases multiply; a config needs far fewer values")

    def _add(self, node: Node, values: int, height: int) -> None:
        parent = self.open[-1]
        parent.values += values
        parent.height = max(parent.height, height + 1)
        if isinstance(parent.node, SequenceNode):
            parent.node.value.append(node)
        elif parent.key is None:
            if not isinstance(node, ScalarNode):
                self.problems.append((node.start_mark,
                                      "a key must be a plain value, not a list or mapping",
                                      "is a ':' or '?' out of place?"))
            parent.key = node
        else:
            parent.node.value.append((parent.key, node))
            parent.key = None


def _mark(node: Node) -> Position:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _key(key_node: ScalarNode, rules: _Rules) -> str | int:
    if key_node.tag == _INT_TAG:
        value = _Rules.yaml_constructors[_INT_TAG](rules, key_node)
        if isinstance(value, int):
            return value
    return str(key_node.value)


def _walk(node: Node, loc: Loc, source: Source, rules: _Rules,
          problems: list[ConfigProblem]) -> None:
    # Recursion is bounded by MAX_DEPTH and the paths walked by MAX_VALUES (the composer's).
    source.values[loc] = _mark(node)
    if isinstance(node, MappingNode):
        seen: set[str | int] = set()
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                continue  # reported by the composer
            key = _key(key_node, rules)
            if key in seen:
                problems.append(ConfigProblem(source.file, *_mark(key_node),
                                              f"duplicate key {shown(key)}",
                                              "a later value would silently win"))
            seen.add(key)
            source.keys[(*loc, key)] = _mark(key_node)
            _walk(value_node, (*loc, key), source, rules, problems)
    elif isinstance(node, SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*loc, index), source, rules, problems)


def _located(file: str, mark: Any, message: str, hint: str | None = None) -> ConfigProblem:
    line, column = (mark.line + 1, mark.column + 1) if mark is not None else (None, None)
    return ConfigProblem(file, line, column, message, hint)


def read_yaml(path: Path, problems: list[ConfigProblem]) -> Source | None:
    """The file's data and positions, or None if it cannot be used at all.

    Problems are appended to `problems` rather than raised, so the other config file is still
    read and checked in the same pass.
    """
    file = str(path)
    text = read_text(path, problems)
    if text is None:
        return None
    source = Source(file)
    rules = _Rules()
    parser = _Parser(text)
    found: list[ConfigProblem] = []
    try:
        composer = _Composer(parser, rules)
        node = composer.document()
        if node is None:
            problems.append(ConfigProblem(file, 1, 1, "file is empty"))
            return None
        found += [_located(file, *problem) for problem in composer.problems]
        if found:  # a value that is not text, or a key that cannot be one: stop here
            problems.extend(found)
            return None
        _walk(node, (), source, rules, found)
        source.data = rules.construct_document(node)
    except _Refused as exc:
        problems.append(ConfigProblem(file, *exc.position, exc.message, exc.hint))
        return None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        hint = exc.context or None
        if mark is not None and character_at(text, mark.line + 1, mark.column + 1) == "\t":
            hint = "indent with spaces: YAML does not allow a tab there"
        problems.append(_located(file, mark, f"YAML syntax error: {exc.problem or exc}", hint))
        return None
    except yaml.YAMLError as exc:
        problems.append(ConfigProblem(file, None, None, f"YAML error: {exc}"))
        return None
    finally:
        parser.dispose()
    problems.extend(found)
    if not isinstance(source.data, dict):
        problems.append(ConfigProblem(file, 1, 1, "expected a mapping of keys at top level"))
        return None
    return source
