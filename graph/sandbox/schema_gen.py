"""Generate the sandbox's snapshot of the Microsoft Graph schema from the official Python SDK.

The sandbox refuses request bodies that real Graph would refuse (see `graph.sandbox.schema`), and
it must not guess what Graph's types look like: the snapshot is derived from the models that
Microsoft generates from Graph's published CSDL metadata and ships in the `msgraph-sdk` package.
That package is ~470 MB and async, so it is *not* a project dependency; this script imports it
only when run::

    pip install msgraph-sdk            # into any virtualenv, once
    python -m graph.sandbox.schema_gen [--out PATH] [--check]

How the SDK is read (no private API, nothing network-bound):

* every model class has ``get_field_deserializers()``, mapping each JSON property name to a
  function that reads it from a ``ParseNode``; calling those functions with a recording parse
  node tells which reader each property uses (``get_bool_value``,
  ``get_enum_value(FreeBusyStatus)``, ``get_collection_of_object_values(Attendee)``...), i.e.
  its Edm kind and target type;
* inheritance is already folded in (each class merges its base class's deserializers);
* derived types come from ``create_from_discriminator_value`` (the ``#microsoft.graph.x``
  discriminators it switches on);
* "read-only" comes from the property descriptions the generator copies into each dataclass
  field's comment (``# ... Read-only. ...``);
* enum members are the values of the generated ``str`` enums;
* action request bodies (getSchedule, cancel, accept, ...) are the ``*_post_request_body.py``
  classes of the request builders.

What the SDK cannot tell, and is therefore stated here with its source:

* open types (CSDL ``OpenType="true"``): only ``fieldValueSet`` among the types we use;
* Edm.Int32 vs Edm.Int64: Kiota reads both with ``get_int_value`` and types both ``int``, so
  the snapshot records the kind ``integer``; the checker enforces a JSON integer within the
  Int64 range (the CSDL width is erased by the SDK, so the narrower Int32 cannot be enforced);
* the ``$batch`` envelope, which is not an OData type: it is transcribed from
  https://learn.microsoft.com/en-us/graph/json-batching.

The output is committed (``graph/sandbox/data/graph_schema.json``), written with sorted keys and
one type per line so a regeneration shows up as a readable diff.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import importlib.metadata
import inspect
import json
import re
import sys
from collections.abc import Callable, Iterable
from enum import Enum
from pathlib import Path
from types import ModuleType
from typing import Any

SCHEMA_FORMAT = 1
DEFAULT_OUT = Path(__file__).parent / "data" / "graph_schema.json"

# The Graph types the worker reads or writes, by their Graph names. Complex types they reference
# are added automatically; entity types they reference are only expanded when listed here.
ROOT_TYPES: tuple[str, ...] = (
    "event",
    "attendee",
    "attendeeBase",
    "emailAddress",
    "dateTimeTimeZone",
    "itemBody",
    "location",
    "patternedRecurrence",
    "recurrencePattern",
    "recurrenceRange",
    "responseStatus",
    "onlineMeetingInfo",
    "singleValueLegacyExtendedProperty",
    "multiValueLegacyExtendedProperty",
    "timeSlot",
    "list",
    "listInfo",
    "columnDefinition",
    "textColumn",
    "numberColumn",
    "booleanColumn",
    "dateTimeColumn",
    "choiceColumn",
    "currencyColumn",
    "personOrGroupColumn",
    "lookupColumn",
    "hyperlinkOrPictureColumn",
    "calculatedColumn",
    "listItem",
    "fieldValueSet",
    "teamworkActivityTopic",
    "keyValuePair",
    "teamsAppInstallation",
    "user",
    "mailboxSettings",
    "workingHours",
    "timeZoneBase",
    "customTimeZone",
    "standardTimeZoneOffset",
    "daylightTimeZoneOffset",
    "message",
    "recipient",
)

# CSDL OpenType="true": any extra property is allowed. The SDK gives every model an
# `additional_data` bag, so this cannot be derived; fieldValueSet is documented as holding the
# list's columns by internal name ("fields" of a listItem):
# https://learn.microsoft.com/en-us/graph/api/resources/fieldvalueset
OPEN_TYPES: frozenset[str] = frozenset({"fieldValueSet"})

# Action name -> request-body module (relative to msgraph.generated) and the Outlook/Teams doc.
ACTIONS: dict[str, str] = {
    "getSchedule": "users.item.calendar.get_schedule.get_schedule_post_request_body",
    "cancel": "users.item.events.item.cancel.cancel_post_request_body",
    "accept": "users.item.events.item.accept.accept_post_request_body",
    "decline": "users.item.events.item.decline.decline_post_request_body",
    "tentativelyAccept": (
        "users.item.events.item.tentatively_accept.tentatively_accept_post_request_body"
    ),
    "sendMail": "users.item.send_mail.send_mail_post_request_body",
    "sendActivityNotification": (
        "users.item.teamwork.send_activity_notification."
        "send_activity_notification_post_request_body"
    ),
}

# JSON batching envelope, from https://learn.microsoft.com/en-us/graph/json-batching : a
# top-level `requests` array; each step has a required `id`, `method` and `url`, optional
# `headers` (object of strings), `body` (any JSON, or a base64 string for other content
# types) and `dependsOn` (array of ids).
BATCH: dict[str, Any] = {
    "source": "https://learn.microsoft.com/en-us/graph/json-batching",
    "envelope": {"requests": "collection(type:batchRequestStep)"},
    "required": ["requests"],
    "step": {
        "body": "any",
        "dependsOn": "collection(string)",
        "headers": "map(string)",
        "id": "string",
        "method": "string",
        "url": "string",
    },
    "stepRequired": ["id", "method", "url"],
}

_PRIMITIVE_READERS: dict[str, str] = {
    "get_str_value": "string",
    "get_bool_value": "boolean",
    "get_int_value": "integer",
    "get_float_value": "double",
    "get_datetime_value": "dateTimeOffset",
    "get_date_value": "date",
    "get_time_value": "timeOfDay",
    "get_timedelta_value": "duration",
    "get_uuid_value": "guid",
    "get_bytes_value": "binary",
}


def _primitive_of(py_type: Any) -> str:
    import datetime
    import uuid

    table: dict[Any, str] = {
        str: "string",
        bool: "boolean",
        int: "integer",
        float: "double",
        datetime.datetime: "dateTimeOffset",
        datetime.date: "date",
        datetime.time: "timeOfDay",
        datetime.timedelta: "duration",
        uuid.UUID: "guid",
        bytes: "binary",
    }
    try:
        return table[py_type]
    except KeyError as exc:
        raise SystemExit(f"schema_gen: unknown primitive collection type {py_type!r}") from exc


def _camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _snake(camel: str) -> str:
    return ".".join(re.sub(r"(?<!^)(?=[A-Z])", "_", part).lower() for part in camel.split("."))


class _Recorder:
    """A stand-in ParseNode: remembers which reader a property's deserializer called."""

    def __init__(self) -> None:
        self.kind: str | None = None
        self.target: type | None = None
        self.marker = object()

    def _primitive(self, kind: str) -> Callable[[], object]:
        def read() -> object:
            self.kind = kind
            return self.marker

        return read

    def __getattr__(self, name: str) -> Any:
        if name in _PRIMITIVE_READERS:
            return self._primitive(_PRIMITIVE_READERS[name])
        raise SystemExit(f"schema_gen: the SDK used an unknown ParseNode reader {name!r}")

    def get_enum_value(self, enum: type[Enum]) -> object:
        self.kind, self.target = "enum", enum
        return self.marker

    def get_collection_of_enum_values(self, enum: type[Enum]) -> object:
        self.kind, self.target = "collection(enum)", enum
        return self.marker

    def get_object_value(self, cls: type) -> object:
        self.kind, self.target = "type", cls
        return self.marker

    def get_collection_of_object_values(self, cls: type) -> object:
        self.kind, self.target = "collection(type)", cls
        return self.marker

    def get_collection_of_primitive_values(self, py_type: Any) -> object:
        self.kind = f"collection({_primitive_of(py_type)})"
        return self.marker


class _Generator:
    def __init__(self) -> None:
        try:
            self.models = importlib.import_module("msgraph.generated.models")
            entity_module = importlib.import_module("msgraph.generated.models.entity")
            untyped = importlib.import_module("kiota_abstractions.serialization")
        except ImportError as exc:
            raise SystemExit(
                "schema_gen needs the Microsoft Graph SDK, which is not a project dependency.\n"
                "Install it into the environment you run this from:  pip install msgraph-sdk"
            ) from exc
        self.entity_cls: type = entity_module.Entity
        self.untyped_cls: type | None = getattr(untyped, "UntypedNode", None)
        self.types: dict[str, dict[str, Any]] = {}
        self.enums: dict[str, list[str]] = {}
        self.queue: list[str] = []
        self.comment_cache: dict[type, dict[str, str]] = {}

    # -- locating classes -------------------------------------------------------------------

    def model_class(self, type_name: str) -> type:
        module_name = f"msgraph.generated.models.{_snake(type_name)}"
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError:
            # Names that are Python keywords or builtins get a trailing underscore (list_.py).
            module = importlib.import_module(module_name + "_")
        return self._class_in(module, type_name)

    @staticmethod
    def _class_in(module: ModuleType, type_name: str) -> type:
        for name, obj in vars(module).items():
            if inspect.isclass(obj) and obj.__module__ == module.__name__:
                if name.rstrip("_").lower() == type_name.rsplit(".", 1)[-1].lower():
                    return obj
        raise SystemExit(f"schema_gen: no class for {type_name!r} in {module.__name__}")

    @staticmethod
    def graph_name(cls: type) -> str:
        # Sub-namespaces (microsoft.graph.callRecords.x) live in sub-packages of models.
        relative = cls.__module__.removeprefix("msgraph.generated.models.")
        return ".".join(_camel(part.rstrip("_")) for part in relative.split("."))

    # -- reading one class ------------------------------------------------------------------

    def field_comments(self, cls: type) -> dict[str, str]:
        """Python attribute -> the description comment above it, over the class's MRO."""
        comments: dict[str, str] = {}
        for klass in reversed(cls.__mro__):
            if not dataclasses.is_dataclass(klass) or not klass.__module__.startswith("msgraph"):
                continue
            if klass not in self.comment_cache:
                found: dict[str, str] = {}
                pending: list[str] = []
                for line in inspect.getsource(klass).splitlines():
                    stripped = line.strip()
                    if stripped.startswith("#"):
                        pending.append(stripped.lstrip("# "))
                        continue
                    match = re.match(r"(\w+)\s*:", stripped)
                    if match and pending:
                        found[match.group(1)] = " ".join(pending)
                    pending = []
                self.comment_cache[klass] = found
            comments.update(self.comment_cache[klass])
        return comments

    def describe(self, cls: type, *, open_type: bool) -> dict[str, Any]:
        instance = cls()
        comments = self.field_comments(cls)
        properties: dict[str, str] = {}
        read_only: list[str] = []
        for json_name, deserialize in sorted(instance.get_field_deserializers().items()):
            if json_name.startswith("@"):
                continue  # @odata.type: an annotation, handled by the checker itself
            recorder = _Recorder()
            deserialize(recorder)
            properties[json_name] = self.kind_of(recorder)
            attribute = next((k for k, v in vars(instance).items() if v is recorder.marker), None)
            comment = comments.get(attribute or "", "")
            if re.search(r"\bread-?only\b", comment, re.IGNORECASE):
                read_only.append(json_name)
        entry: dict[str, Any] = {
            "properties": properties,
            "entity": issubclass(cls, self.entity_cls),
        }
        if read_only:
            entry["readOnly"] = read_only
        if open_type:
            entry["open"] = True
        return entry

    def kind_of(self, recorder: _Recorder) -> str:
        kind, target = recorder.kind, recorder.target
        if kind is None:
            raise SystemExit("schema_gen: a deserializer read nothing")
        if target is None:
            return kind
        if kind in ("enum", "collection(enum)"):
            name = self.graph_name(target)
            self.enums[name] = [member.value for member in target]  # type: ignore[attr-defined]
            inner = f"enum:{name}"
        elif self.untyped_cls is not None and target is self.untyped_cls:
            inner = "any"
        else:
            name = self.graph_name(target)
            inner = f"type:{name}"
            self.reference(target, name)
        return f"collection({inner})" if kind.startswith("collection") else inner

    def reference(self, cls: type, name: str) -> None:
        """Expand complex types always; entity types only if they are roots."""
        if name in self.types or name in self.queue:
            return
        if issubclass(cls, self.entity_cls) and name not in ROOT_TYPES:
            return
        self.queue.append(name)

    def derived(self, cls: type) -> list[str]:
        factory = cls.__dict__.get("create_from_discriminator_value")
        if factory is None:
            return []
        source = inspect.getsource(factory)
        own = f"#microsoft.graph.{self.graph_name(cls)}"
        return sorted(
            {
                name
                for name in re.findall(r'"#microsoft\.graph\.([\w.]+)"', source)
                if f"#microsoft.graph.{name}" != own
            }
        )

    # -- the whole snapshot -----------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        self.queue.extend(ROOT_TYPES)
        while self.queue:
            name = self.queue.pop(0)
            cls = self.model_class(name)
            entry = self.describe(cls, open_type=name in OPEN_TYPES)
            derived = self.derived(cls)
            if derived:
                entry["derived"] = derived
                if not entry["entity"]:
                    for child in derived:
                        self.reference(self.model_class(child), child)
            base = next(
                (
                    self.graph_name(k)
                    for k in cls.__mro__[1:]
                    if k.__module__.startswith("msgraph.generated.models")
                    and k is not self.entity_cls
                ),
                None,
            )
            if base:
                entry["base"] = base
            self.types[name] = entry
        actions = {name: self.action(module) for name, module in ACTIONS.items()}
        # Entity types referenced but not listed in ROOT_TYPES stay unexpanded: the checker
        # answers a write to them with 501, a deliberate gap rather than an unchecked pass.
        return {
            "format": SCHEMA_FORMAT,
            "source": {
                "package": "msgraph-sdk",
                "version": importlib.metadata.version("msgraph-sdk"),
                "generator": "python -m graph.sandbox.schema_gen",
            },
            "openTypes": sorted(OPEN_TYPES),
            "types": dict(sorted(self.types.items())),
            "enums": dict(sorted(self.enums.items())),
            "actions": actions,
            "batch": BATCH,
        }

    def action(self, module_path: str) -> dict[str, Any]:
        module = importlib.import_module(f"msgraph.generated.{module_path}")
        cls = next(
            obj
            for name, obj in vars(module).items()
            if inspect.isclass(obj)
            and obj.__module__ == module.__name__
            and name.endswith("PostRequestBody")
        )
        entry = self.describe(cls, open_type=False)
        entry.pop("entity")
        entry.pop("readOnly", None)
        # New complex types reached from parameters (timeSlot, keyValuePair...) are expanded.
        while self.queue:
            name = self.queue.pop(0)
            self.types[name] = self.describe(self.model_class(name), open_type=name in OPEN_TYPES)
        return entry


def generate() -> dict[str, Any]:
    """Build the snapshot from the installed msgraph-sdk (SystemExit with advice if absent)."""
    return _Generator().run()


def render(snapshot: dict[str, Any]) -> str:
    """Sorted keys, one type/enum/action per line: small file, readable diffs."""
    lines = ["{"]
    sections = list(snapshot.items())
    for index, (key, value) in enumerate(sections):
        comma = "," if index < len(sections) - 1 else ""
        if isinstance(value, dict) and key in ("types", "enums", "actions"):
            lines.append(f" {json.dumps(key)}: {{")
            items = list(value.items())
            for inner_index, (name, body) in enumerate(items):
                inner_comma = "," if inner_index < len(items) - 1 else ""
                lines.append(
                    f"  {json.dumps(name)}: {json.dumps(body, sort_keys=True)}{inner_comma}"
                )
            lines.append(f" }}{comma}")
        else:
            lines.append(f" {json.dumps(key)}: {json.dumps(value, sort_keys=True)}{comma}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write the JSON")
    parser.add_argument(
        "--check", action="store_true", help="do not write; exit 1 if the file differs"
    )
    args = parser.parse_args(list(argv) if argv is not None else None)
    text = render(generate())
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        if current != text:
            print(f"{args.out} is out of date; run python -m graph.sandbox.schema_gen")
            return 1
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
