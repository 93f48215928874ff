"""Reads a YAML config file into a `Source` that knows the line and column of every value.

Positions are taken from the node tree before it is turned into Python data, because the data
alone has none and pydantic's errors only say which key is wrong, not where it is written.
Duplicate keys are reported here for the same reason: once constructed, the later value has
silently replaced the earlier one.

YAML is read with a stricter resolver than PyYAML's YAML 1.1 default: `09:30` would otherwise be
the integer 570 (base 60) and the country code `NO` the boolean false. Only `true`/`false` are
booleans and only plain decimal numbers are numbers; everything else stays a string for pydantic.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from worker.config.located import Loc, Position, Source
from worker.config.problems import ConfigProblem


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2-like scalars (see module docstring)."""


_StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if not tag.endswith((":bool", ":int", ":float"))]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^[-+]?(?:0|[1-9][0-9]*)$"), list("-+0123456789")
)
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$"),
    list("-+0123456789."),
)


def _construct_timestamp(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    # An impossible date (2027-13-45) would otherwise abort the whole parse with no location;
    # as a string it reaches pydantic, which reports it at its line like any other bad value.
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)  # type: ignore[arg-type]
    except ValueError:
        return loader.construct_scalar(node)  # type: ignore[arg-type]


_StrictLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)


def _mark(node: yaml.Node) -> Position:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _walk(node: yaml.Node, loc: Loc, source: Source, problems: list[ConfigProblem]) -> None:
    source.values[loc] = _mark(node)
    if isinstance(node, yaml.MappingNode):
        seen: set[str | int] = set()
        for key_node, value_node in node.value:
            key: str | int = key_node.value
            if key_node.tag.endswith(":int"):
                key = int(key_node.value)
            if key in seen:
                problems.append(ConfigProblem(source.file, *_mark(key_node),
                                              f"duplicate key {key!r}",
                                              "a later value would silently win"))
            seen.add(key)
            source.keys[(*loc, key)] = _mark(key_node)
            _walk(value_node, (*loc, key), source, problems)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*loc, index), source, problems)


def read_yaml(path: Path, problems: list[ConfigProblem]) -> Source | None:
    """The file's data and positions, or None if it cannot be used at all.

    Problems are appended to `problems` rather than raised, so the other config file is still
    read and checked in the same pass.
    """
    source = Source(str(path))
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(ConfigProblem(str(path), None, None, f"cannot read file: {exc}"))
        return None
    loader = _StrictLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            problems.append(ConfigProblem(str(path), 1, 1, "file is empty"))
            return None
        found: list[ConfigProblem] = []
        _walk(node, (), source, found)
        source.data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (None, None)
        problems.append(ConfigProblem(str(path), line, column,
                                      f"YAML syntax error: {exc.problem or exc}",
                                      exc.context or None))
        return None
    except yaml.YAMLError as exc:
        problems.append(ConfigProblem(str(path), None, None, f"YAML error: {exc}"))
        return None
    finally:
        loader.dispose()
    problems.extend(found)
    if not isinstance(source.data, dict):
        problems.append(ConfigProblem(str(path), 1, 1, "expected a mapping of keys at top level"))
        return None
    return source
