"""Compiling the snapshot's types into checking closures, per dialect (Outlook or generic).

Types refer to one another (and to themselves), and a request is checked on every call, so
each type is compiled once, lazily, into small closures; this module is that compiler and
nothing else, so the rules for the snapshot's kinds can be read in one place.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from datetime import time
from typing import Any

from graph.sandbox.core import GraphError
from graph.sandbox.schema.reader import (
    _DATE,
    _DATETIME_OFFSET,
    _DURATION,
    _EDM,
    _GUID,
    _INT64,
    _NAMESPACE,
    _TIME_OF_DAY,
    _json_edm,
    _literal,
    _outlook_unreadable,
    _request_body_read,
    _unexpected_node,
    _valid_calendar,
)

# A checker gets the value and the name of the property it belongs to (for messages).
Checker = Callable[[Any, str], None]


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
