"""Check every JSON request body against a snapshot of Microsoft Graph's schema.

The sandbox is only useful if the worker cannot send something real Graph would refuse and still
pass its tests. So each route that takes a body declares a ``body_type`` and the pipeline calls
``check_body(route.body_type, request.json())`` before the handler runs. The snapshot
(``graph/sandbox/data/graph_schema.json``) is generated from the models Microsoft ships in the
``msgraph-sdk`` package (see `graph.sandbox.schema_gen`); this module loads it once and compiles
each type into small checking closures, so a check costs microseconds.

Body type names accepted by `check_body` (anything else is a ``ValueError``: a programming error
in a route declaration, never a silent pass):

* ``microsoft.graph.event``, ``microsoft.graph.listItem``, ``microsoft.graph.fieldValueSet``,
  ``microsoft.graph.list``, ``microsoft.graph.columnDefinition``,
  ``microsoft.graph.teamsAppInstallation``, ``microsoft.graph.mailboxSettings`` and any other
  ``microsoft.graph.<type>`` present in the snapshot;
* ``action:getSchedule``, ``action:cancel``, ``action:accept``, ``action:decline``,
  ``action:tentativelyAccept``, ``action:sendActivityNotification``;
* ``batch`` (the JSON batching envelope).

What is refused, and how (all ``400`` unless noted):

* a property the type does not declare (open types such as fieldValueSet excepted):
  ``RequestBodyRead`` / "The property 'subjct' does not exist on type 'microsoft.graph.event'.
  Make sure to only use property names that are defined by the type or mark the type as open
  type." (Graph's wording, e.g. github.com/microsoftgraph/msgraph-sdk-python/issues/440,
  github.com/microsoftgraph/msgraph-sdk-dotnet/issues/450);
* a JSON value of the wrong shape or primitive type: ``RequestBodyRead`` with the OData reader's
  messages ("An unexpected 'StartObject' node was found for property named 'subject' when
  reading from the JSON reader. A 'PrimitiveValue' node was expected.", "Cannot convert the
  literal 'yes' to the expected type 'Edm.Boolean'.", "An incompatible primitive type
  'Edm.Int32[Nullable=False]' was found for an item that was expected to be of type
  'Edm.String[Nullable=True]'.");
* an ``@odata.type`` that is not the expected type or one derived from it;
* in Outlook bodies (events, calendar actions, mailbox settings), an enum member that does not
  exist, or a date / time / ``dateTimeTimeZone.dateTime`` Outlook cannot parse:
  ``UnableToDeserializePostBody`` / "were unable to deserialize " (what Outlook answered for
  malformed recurrence dates: github.com/microsoftgraph/msgraph-sdk-javascript/issues/404,
  github.com/microsoftgraph/msgraph-sdk-php/issues/355). Elsewhere the OData reader's
  ``RequestBodyRead`` "Cannot convert the literal ..." is used (docs are silent; stricter);
* a ``$batch`` envelope that is not ``{"requests": [{id, method, url, ...}]}``:
  ``BadRequest`` / "Invalid batch payload format." (the message Graph returns,
  github.com/microsoftgraph/msgraph-sdk-javascript/issues/1451);
* a value for a navigation property whose entity type the snapshot does not expand
  (``calendar``, ``attachments``...): ``501 NotImplemented``, so a new kind of write is a loud,
  deliberate extension of the sandbox rather than an unchecked pass.

Deliberate choices where Graph's documentation is silent: ``null`` is accepted for any single
property (the SDK marks every property optional) but not as a collection item; enum names match
case-insensitively (Outlook accepts ``"contentType": "HTML"``, see the issue #404 payload above);
entity/complex property names match case-sensitively; action parameter names match
case-insensitively, because Graph's metadata spells them ``Comment``/``SendResponse`` while the
documented requests use ``comment``/``sendResponse`` (learn.microsoft.com/graph/api/event-accept).
Properties the metadata calls read-only are *not* refused: Graph ignores them on create, and
some (extended properties) are documented as writable on create.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable
from datetime import datetime, time
from functools import cache
from importlib import resources
from typing import Any

from graph.sandbox.core import GraphError

# A checker gets the value and the name of the property it belongs to (for messages).
Checker = Callable[[Any, str], None]

_INT64 = (-(2**63), 2**63 - 1)
_NAMESPACE = "microsoft.graph."

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
    }
)

_EDM = {
    "string": "Edm.String",
    "boolean": "Edm.Boolean",
    "integer": "Edm.Int32",
    "double": "Edm.Double",
    "dateTimeOffset": "Edm.DateTimeOffset",
    "date": "Edm.Date",
    "timeOfDay": "Edm.TimeOfDay",
    "duration": "Edm.Duration",
    "guid": "Edm.Guid",
    "binary": "Edm.Binary",
}

_DATETIME_OFFSET = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,7})?)?(Z|[+-]\d{2}:\d{2})$",
    re.IGNORECASE,
)
_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_TIME_OF_DAY = re.compile(r"^(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,7})?)?$")
# dateTimeTimeZone.dateTime: a local date-time (Graph writes "2024-05-01T09:00:00.0000000");
# a trailing Z is accepted (the normal event in issue #404 used one), other offsets are not.
_LOCAL_DATETIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,7})?)?Z?$", re.IGNORECASE
)
_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)
_DURATION = re.compile(r"^-?P(?=\d|T\d)(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?$")


def _request_body_read(message: str) -> GraphError:
    return GraphError(400, "RequestBodyRead", message)


def _outlook_unreadable() -> GraphError:
    return GraphError(400, "UnableToDeserializePostBody", "were unable to deserialize ")


def _batch_error() -> GraphError:
    return GraphError(400, "BadRequest", "Invalid batch payload format.")


def _node(value: Any) -> str:
    if isinstance(value, dict):
        return "StartObject"
    if isinstance(value, list):
        return "StartArray"
    return "PrimitiveValue"


def _unexpected_node(value: Any, expected: str, prop: str) -> GraphError:
    where = f" for property named '{prop}'" if prop else ""
    return _request_body_read(
        f"An unexpected '{_node(value)}' node was found{where} when reading from the JSON "
        f"reader. A '{expected}' node was expected."
    )


def _json_edm(value: Any) -> str:
    if isinstance(value, bool):
        return "Edm.Boolean"
    if isinstance(value, int):
        return "Edm.Int32" if -(2**31) <= value < 2**31 else "Edm.Int64"
    if isinstance(value, float):
        return "Edm.Double"
    return "Edm.String"


def _literal(value: Any) -> str:
    return json.dumps(value) if not isinstance(value, str) else value


def _valid_calendar(
    y: str, mo: str, d: str, h: str = "0", mi: str = "0", s: str | None = None
) -> bool:
    try:
        datetime(int(y), int(mo), int(d), int(h), int(mi), int(s or 0))
    except ValueError:
        return False
    return True


class _Compiler:
    """Turns the snapshot's kinds into checkers, once per (type, dialect)."""

    def __init__(self, snapshot: dict[str, Any], *, outlook: bool) -> None:
        self.types: dict[str, dict[str, Any]] = snapshot["types"]
        self.enums: dict[str, list[str]] = snapshot["enums"]
        self.outlook = outlook
        self.objects: dict[str, Callable[[Any, str], None]] = {}
        self.tables: dict[str, dict[str, Checker]] = {}

    # -- primitives -------------------------------------------------------------------------

    def _wrong_primitive(self, value: Any, kind: str, prop: str) -> GraphError:
        if isinstance(value, dict | list):
            return _unexpected_node(value, "PrimitiveValue", prop)
        if kind == "string":
            return _request_body_read(
                f"An incompatible primitive type '{_json_edm(value)}[Nullable=False]' was found "
                "for an item that was expected to be of type 'Edm.String[Nullable=True]'."
            )
        return _request_body_read(
            f"Cannot convert the literal '{_literal(value)}' to the expected type "
            f"'{_EDM.get(kind, kind)}'."
        )

    def _format_error(self, value: Any, kind: str, prop: str) -> GraphError:
        if self.outlook and not isinstance(value, dict | list):
            return _outlook_unreadable()
        return self._wrong_primitive(value, kind, prop)

    def primitive(self, kind: str) -> Checker:
        wrong = self._wrong_primitive
        bad_format = self._format_error
        if kind == "string":

            def check_string(value: Any, prop: str) -> None:
                if value is not None and type(value) is not str:
                    raise wrong(value, kind, prop)

            return check_string
        if kind == "boolean":

            def check_boolean(value: Any, prop: str) -> None:
                if value is not None and type(value) is not bool:
                    raise wrong(value, kind, prop)

            return check_boolean
        if kind == "integer":

            def check_integer(value: Any, prop: str) -> None:
                if value is None:
                    return
                if type(value) is not int or not _INT64[0] <= value <= _INT64[1]:
                    raise wrong(value, kind, prop)

            return check_integer
        if kind == "double":

            def check_double(value: Any, prop: str) -> None:
                if value is not None and (type(value) not in (int, float)):
                    raise wrong(value, kind, prop)

            return check_double
        if kind == "any":
            return lambda value, prop: None
        pattern_check = self._string_format(kind)

        def check_formatted(value: Any, prop: str) -> None:
            if value is None:
                return
            if type(value) is not str:
                raise wrong(value, kind, prop)
            if not pattern_check(value):
                raise bad_format(value, kind, prop)

        return check_formatted

    @staticmethod
    def _string_format(kind: str) -> Callable[[str], bool]:
        if kind == "dateTimeOffset":

            def ok_dto(text: str) -> bool:
                m = _DATETIME_OFFSET.match(text)
                return bool(m) and _valid_calendar(*m.groups()[:6])  # type: ignore[union-attr]

            return ok_dto
        if kind == "date":

            def ok_date(text: str) -> bool:
                m = _DATE.match(text)
                return bool(m) and _valid_calendar(*m.groups())  # type: ignore[union-attr]

            return ok_date
        if kind == "timeOfDay":

            def ok_time(text: str) -> bool:
                m = _TIME_OF_DAY.match(text)
                if not m:
                    return False
                try:
                    time(int(m.group(1)), int(m.group(2)), int(m.group(3) or 0))
                except ValueError:
                    return False
                return True

            return ok_time
        if kind == "guid":
            return lambda text: bool(_GUID.match(text))
        if kind == "duration":
            return lambda text: bool(_DURATION.match(text))
        if kind == "binary":

            def ok_binary(text: str) -> bool:
                try:
                    base64.b64decode(text, validate=True)
                except (binascii.Error, ValueError):
                    return False
                return True

            return ok_binary
        raise ValueError(f"graph schema snapshot uses an unknown primitive kind {kind!r}")

    # -- enums, objects, collections --------------------------------------------------------

    def enum(self, name: str) -> Checker:
        members = frozenset(member.casefold() for member in self.enums[name])
        wrong = self._wrong_primitive
        outlook = self.outlook

        def check_enum(value: Any, prop: str) -> None:
            if value is None:
                return
            if type(value) is not str:
                raise (
                    wrong(value, "string", prop)
                    if not isinstance(value, dict | list)
                    else _unexpected_node(value, "PrimitiveValue", prop)
                )
            if value.casefold() not in members:
                if outlook:
                    raise _outlook_unreadable()
                raise _request_body_read(
                    f"Cannot convert the literal '{value}' to the expected type "
                    f"'{_NAMESPACE}{name}'."
                )

        return check_enum

    def kind(self, kind: str) -> Checker:
        if kind.startswith("collection(") and kind.endswith(")"):
            return self.collection(kind[len("collection(") : -1])
        if kind.startswith("enum:"):
            return self.enum(kind[len("enum:") :])
        if kind.startswith("type:"):
            name = kind[len("type:") :]
            return self.object_ref(name)
        return self.primitive(kind)

    def collection(self, inner_kind: str) -> Checker:
        item = self.kind(inner_kind)
        edm = self._collection_edm(inner_kind)

        def check_collection(value: Any, prop: str) -> None:
            if value is None:
                return
            if type(value) is not list:
                raise _unexpected_node(value, "StartArray", prop)
            for entry in value:
                if entry is None:
                    raise _request_body_read(
                        f"A null value was found for the property named '{prop}', which has the "
                        f"expected type '{edm}[Nullable=False]'. The expected type '{edm}' does "
                        "not allow null values."
                    )
                item(entry, prop)

        return check_collection

    @staticmethod
    def _collection_edm(inner_kind: str) -> str:
        if ":" in inner_kind:
            return f"Collection({_NAMESPACE}{inner_kind.split(':', 1)[1]})"
        return f"Collection({_EDM.get(inner_kind, inner_kind)})"

    def object_ref(self, name: str) -> Checker:
        """A checker for a value of complex/entity type `name`, compiled lazily (types recurse)."""

        def check_object(value: Any, prop: str) -> None:
            if value is None:
                return
            checker = self.objects.get(name)
            if checker is None:
                checker = self.compile_object(name)
            checker(value, prop)

        return check_object

    def compile_object(self, name: str) -> Callable[[Any, str], None]:
        spec = self.types.get(name)
        if spec is None:

            def not_modelled(value: Any, prop: str) -> None:
                raise GraphError(
                    501,
                    "NotImplemented",
                    f"The sandbox's Graph schema snapshot does not cover writing "
                    f"'{_NAMESPACE}{name}' (property '{prop}').",
                )

            self.objects[name] = not_modelled
            return not_modelled
        # Register a forwarding stub first so self-referencing types compile.
        properties: dict[str, Checker] = {}
        derived = frozenset(spec.get("derived", ()))
        is_open = bool(spec.get("open"))
        full_name = _NAMESPACE + name

        def check(value: Any, prop: str) -> None:
            if type(value) is not dict:
                raise _unexpected_node(value, "StartObject", prop)
            target = properties
            target_name = full_name
            odata_type = value.get("@odata.type")
            if odata_type is not None:
                target, target_name = self._resolve_derived(odata_type, name, derived)
            self._check_members(value, target, target_name, is_open)

        self.objects[name] = check
        for prop_name, prop_kind in spec["properties"].items():
            properties[prop_name] = self.kind(prop_kind)
        return check

    def _resolve_derived(
        self, odata_type: Any, base: str, derived: frozenset[str]
    ) -> tuple[dict[str, Checker], str]:
        if type(odata_type) is not str:
            raise _unexpected_node(odata_type, "PrimitiveValue", "@odata.type")
        wanted = odata_type.removeprefix("#").removeprefix(_NAMESPACE)
        if wanted != base and wanted not in derived:
            if wanted in self.types or wanted in self.enums:
                raise _request_body_read(
                    f"A resource with type '{_NAMESPACE}{wanted}' was found, but it is not "
                    f"assignable to the expected type '{_NAMESPACE}{base}'. The type specified in "
                    "the resource must be equal to either the expected type or a derived type."
                )
            raise _request_body_read(
                f"A type named '{odata_type.removeprefix('#')}' could not be resolved by the "
                "model. When a model is available, each type name must resolve to a valid type."
            )
        if wanted not in self.objects:
            self.compile_object(wanted)
        return self._property_table(wanted), _NAMESPACE + wanted

    def _property_table(self, name: str) -> dict[str, Checker]:
        table = self.tables.get(name)
        if table is not None:
            return table
        spec = self.types.get(name)
        if spec is None:
            raise GraphError(
                501,
                "NotImplemented",
                f"The sandbox's Graph schema snapshot does not cover '{_NAMESPACE}{name}'.",
            )
        table = {prop: self.kind(kind) for prop, kind in spec["properties"].items()}
        self.tables[name] = table
        return table

    @staticmethod
    def _check_members(
        value: dict[str, Any], properties: dict[str, Checker], type_name: str, is_open: bool
    ) -> None:
        for key, member in value.items():
            checker = properties.get(key)
            if checker is not None:
                checker(member, key)
                continue
            if "@" in key:
                _check_annotation(key, member, properties, type_name, is_open)
                continue
            if not is_open:
                raise _unknown_property(key, type_name)


def _unknown_property(key: str, type_name: str) -> GraphError:
    return _request_body_read(
        f"The property '{key}' does not exist on type '{type_name}'. Make sure to only use "
        "property names that are defined by the type or mark the type as open type."
    )


def _check_annotation(
    key: str, member: Any, properties: dict[str, Checker], type_name: str, is_open: bool
) -> None:
    """`@odata.type`, `@odata.etag`, `teamsApp@odata.bind`, `prop@odata.type`...

    An annotation on the object itself (leading '@') is always allowed; one on a property must
    name a declared property (or any name on an open type), as the OData reader requires.
    """
    target, _, term = key.partition("@")
    if not target:
        return
    if target not in properties and not is_open:
        raise _unknown_property(target, type_name)
    if term == "odata.bind":
        ok = type(member) is str or (
            type(member) is list and all(type(item) is str for item in member)
        )
        if not ok:
            raise _request_body_read(
                f"The value of the 'odata.bind' annotation on property '{target}' must be a URL "
                "string or an array of URL strings."
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
        # Parameter names are matched case-insensitively (see module docstring).
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
