"""The body types routes declare, from the loaded snapshot, and `check_body` over them.

The snapshot is loaded and compiled once per process; which dialect each root uses (Outlook's
deserializer or the OData reader), the action parameters and the `$batch` envelope are
decided here, where the route declarations' names meet the compiled types.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any

from graph.sandbox.schema.compiler import Checker, _Compiler
from graph.sandbox.schema.reader import (
    _LOCAL_DATETIME,
    _NAMESPACE,
    _batch_error,
    _outlook_unreadable,
    _request_body_read,
    _unexpected_node,
    _valid_calendar,
)

# Outlook's own bodies: enum/date errors surface as Outlook's deserializer failure.
_OUTLOOK_ROOTS = frozenset(
    {
        "microsoft.graph.event",
        "microsoft.graph.mailboxSettings",
        "action:getSchedule",
        "action:cancel",
        "action:accept",
        "action:decline",
        "action:tentativelyAccept",
        "action:sendMail",
        "microsoft.graph.message",
    }
)


class _Schema:
    """The loaded snapshot and the compiled checkers for every root name."""

    def __init__(self, snapshot: dict[str, Any]) -> None:
        self.snapshot = snapshot
        self._outlook = _Compiler(snapshot, outlook=True)
        self._generic = _Compiler(snapshot, outlook=False)
        self.checkers: dict[str, Callable[[Any], None]] = {}
        for type_name in snapshot["types"]:
            full = _NAMESPACE + type_name
            compiler = self._outlook if full in _OUTLOOK_ROOTS else self._generic
            self.checkers[full] = self._root(compiler.object_ref(type_name))
        for action, spec in snapshot["actions"].items():
            root = f"action:{action}"
            compiler = self._outlook if root in _OUTLOOK_ROOTS else self._generic
            self.checkers[root] = self._action(compiler, action, spec)
        self.checkers["batch"] = _compile_batch(snapshot["batch"])
        # The Outlook dialect also governs dateTimeTimeZone inside Outlook bodies.
        _add_local_datetime_rule(self._outlook, outlook=True)
        _add_local_datetime_rule(self._generic, outlook=False)

    @staticmethod
    def _root(checker: Checker) -> Callable[[Any], None]:
        def check(body: Any) -> None:
            if body is None:
                raise _unexpected_node(body, "StartObject", "")
            checker(body, "")

        return check

    @staticmethod
    def _action(compiler: _Compiler, action: str, spec: dict[str, Any]) -> Callable[[Any], None]:
        # Parameter names are matched case-insensitively (see the package docstring).
        params = {name.casefold(): compiler.kind(kind) for name, kind in spec["properties"].items()}
        type_name = f"{_NAMESPACE}{action}"

        def check(body: Any) -> None:
            if type(body) is not dict:
                raise _unexpected_node(body, "StartObject", "")
            for key, value in body.items():
                checker = params.get(key.casefold())
                if checker is not None:
                    checker(value, key)
                elif not key.startswith("@"):
                    raise _request_body_read(
                        f"The parameter '{key}' in the request payload is not a valid parameter "
                        f"for the operation '{type_name}'."
                    )

        return check


def _add_local_datetime_rule(compiler: _Compiler, *, outlook: bool) -> None:
    """dateTimeTimeZone.dateTime is a string in the metadata, but Graph parses it."""
    base = (
        compiler.compile_object("dateTimeTimeZone")
        if "dateTimeTimeZone" not in (compiler.objects)
        else compiler.objects["dateTimeTimeZone"]
    )

    def check(value: Any, prop: str) -> None:
        base(value, prop)
        text = value.get("dateTime")
        if type(text) is str:
            m = _LOCAL_DATETIME.match(text)
            if not m or not _valid_calendar(*m.groups()):
                if outlook:
                    raise _outlook_unreadable()
                raise _request_body_read(
                    f"Cannot convert the literal '{text}' to the expected type "
                    "'Edm.DateTimeOffset'."
                )

    compiler.objects["dateTimeTimeZone"] = check


def _compile_batch(spec: dict[str, Any]) -> Callable[[Any], None]:
    step_keys = frozenset(spec["step"])
    required = tuple(spec["stepRequired"])

    def check(body: Any) -> None:
        if type(body) is not dict or set(body) - {"requests"}:
            raise _batch_error()
        requests = body.get("requests")
        if type(requests) is not list:
            raise _batch_error()
        for step in requests:
            if type(step) is not dict or not step_keys.issuperset(step):
                raise _batch_error()
            if any(type(step.get(key)) is not str for key in required):
                raise _batch_error()
            headers = step.get("headers")
            if headers is not None and (
                type(headers) is not dict or any(type(v) is not str for v in headers.values())
            ):
                raise _batch_error()
            depends = step.get("dependsOn")
            if depends is not None and (
                type(depends) is not list or any(type(v) is not str for v in depends)
            ):
                raise _batch_error()

    return check


@cache
def _schema() -> _Schema:
    text = resources.files("graph.sandbox").joinpath("data/graph_schema.json").read_text("utf-8")
    return _Schema(json.loads(text))


def snapshot() -> dict[str, Any]:
    """The loaded snapshot (types, enums, actions, batch, source version)."""
    return _schema().snapshot


def body_types() -> frozenset[str]:
    """Every name `check_body` accepts."""
    return frozenset(_schema().checkers)


def check_body(type_name: str, body: Any) -> None:
    """Raise `GraphError` (as Graph would answer) if `body` does not fit `type_name`.

    `type_name` is ``microsoft.graph.<type>``, ``action:<name>`` or ``batch``; an unknown name
    is a ``ValueError`` because it means a route was declared wrongly.
    """
    checker = _schema().checkers.get(type_name)
    if checker is None:
        raise ValueError(f"unknown body type {type_name!r}; known: see graph.sandbox.schema")
    checker(body)
