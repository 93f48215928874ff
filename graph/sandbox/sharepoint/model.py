"""What SharePoint keeps: columns, list items, lists and sites, and how a value fits a column.

They depend on nothing else in the package, so the store, the query rules, the saved-state
format and the routes can all use them without importing one another.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from graph.sandbox.core import GraphError

COLUMN_TYPES = ("text", "number", "boolean", "dateTime", "choice")


@dataclass
class Column:
    """A columnDefinition. `name` is the internal name: the key of the item's fields."""

    name: str
    display_name: str
    type: str = "text"
    indexed: bool = False
    hidden: bool = False
    required: bool = False
    read_only: bool = False
    allow_multiple_lines: bool = False
    text_type: str = "plain"
    choices: list[str] = field(default_factory=list)
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    default_value: str | None = None  # defaultValue.value: what a new item gets

    def default(self) -> Any:
        """The value a new item gets when it leaves the column out (None: no default)."""
        if self.default_value is None:
            return None
        if self.type == "boolean":
            return self.default_value.strip().lower() in ("1", "true", "yes")
        if self.type == "number":
            try:
                return float(self.default_value)
            except ValueError:
                return None
        return self.default_value

    def graph_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "displayName": self.display_name,
            "columnGroup": "Custom Columns",
            "description": "",
            "enforceUniqueValues": False,
            "hidden": self.hidden,
            "indexed": self.indexed,
            "readOnly": self.read_only,
            "required": self.required,
        }
        if self.default_value is not None:
            body["defaultValue"] = {"value": self.default_value}
        if self.type == "text":
            body["text"] = {
                "allowMultipleLines": self.allow_multiple_lines,
                "appendChangesToExistingText": False,
                "linesForEditing": 6 if self.allow_multiple_lines else 0,
                "maxLength": 255,
                **({"textType": self.text_type} if self.allow_multiple_lines else {}),
            }
        elif self.type == "number":
            body["number"] = {"decimalPlaces": "automatic", "displayAs": "number"}
        elif self.type == "boolean":
            body["boolean"] = {}
        elif self.type == "dateTime":
            body["dateTime"] = {"displayAs": "default", "format": "dateTime"}
        elif self.type == "choice":
            body["choice"] = {
                "allowTextEntry": False,
                "choices": list(self.choices),
                "displayAs": "dropDownMenu",
            }
        return body

    @classmethod
    def from_definition(cls, raw: Any) -> Column:
        """Build from a columnDefinition request body; Graph's 400 for what it would refuse."""
        if not isinstance(raw, dict) or not isinstance(raw.get("name"), str) or not raw["name"]:
            raise GraphError(400, "invalidRequest", "A column definition needs a 'name'.")
        name = raw["name"]
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise GraphError(400, "invalidRequest", f"Invalid column name '{name}'.")
        kinds = [k for k in (*COLUMN_TYPES, "note") if k in raw]
        if len(kinds) > 1:
            raise GraphError(400, "invalidRequest", "A column definition has exactly one type.")
        kind = kinds[0] if kinds else "text"
        column = cls(
            name=name,
            display_name=str(raw.get("displayName") or name),
            type="text" if kind == "note" else kind,
            indexed=bool(raw.get("indexed", False)),
            hidden=bool(raw.get("hidden", False)),
            required=bool(raw.get("required", False)),
        )
        default = raw.get("defaultValue")
        if isinstance(default, dict) and isinstance(default.get("value"), str):
            column.default_value = default["value"]
        facet = raw.get(kind) if kinds else None
        if kind == "note":
            column.allow_multiple_lines = True
        if isinstance(facet, dict) and column.type == "text":
            column.allow_multiple_lines = bool(
                facet.get("allowMultipleLines", column.allow_multiple_lines)
            )
            column.text_type = str(facet.get("textType", "plain"))
        if column.type == "choice":
            choices = facet.get("choices") if isinstance(facet, dict) else None
            if not isinstance(choices, list) or not all(isinstance(c, str) for c in choices):
                raise GraphError(400, "invalidRequest", "A choice column needs 'choices'.")
            column.choices = list(choices)
        return column


def _builtin_columns() -> list[Column]:
    # Every generic list has these; ID is always indexed, Title is not (the 2018 report of the
    # non-indexed error was about filtering Title).
    return [
        Column("Title", "Title", required=False),
        Column("ID", "ID", type="number", indexed=True, read_only=True),
        Column("Created", "Created", type="dateTime", read_only=True),
        Column("Modified", "Modified", type="dateTime", read_only=True),
    ]


@dataclass
class ItemVersion:
    """One entry of an item's version history: who saved it, when, and the fields that save
    changed (the fields of the version are the changes of every version up to it)."""

    number: int
    modified: datetime
    modified_by: dict[str, Any]
    changed: dict[str, Any]

    @property
    def label(self) -> str:
        return f"{self.number}.0"


@dataclass
class ListItem:
    id: int
    fields: dict[str, Any]
    created: datetime
    modified: datetime
    created_by: dict[str, Any]
    modified_by: dict[str, Any]
    etag_guid: str = field(default_factory=lambda: str(uuid.uuid4()))
    version: int = 1
    # Oldest first. A list keeps every version (versioning on, no limit reached) unless a test
    # trims it, as a site's retention settings may.
    history: list[ItemVersion] = field(default_factory=list)

    @property
    def etag(self) -> str:
        """SharePoint's listItem etag: ``"{guid},{version}"``, quotes included."""
        return f'"{self.etag_guid},{self.version}"'

    def record_version(self, changed: dict[str, Any]) -> None:
        self.history.append(ItemVersion(self.version, self.modified, self.modified_by,
                                        dict(changed)))

    def trim_history(self, keep: int) -> None:
        """Keep only the latest `keep` versions, as a list's version limit or a site's
        retention settings do; the oldest one kept still shows the fields as they were."""
        if keep >= len(self.history):
            return
        versions = self.versions()
        first, fields_then = versions[-keep]
        rest = self.history[len(self.history) - keep + 1:]
        self.history = [ItemVersion(first.number, first.modified, first.modified_by,
                                    dict(fields_then)), *rest]

    def versions(self) -> list[tuple[ItemVersion, dict[str, Any]]]:
        """Each version with the item's fields as that version left them, oldest first."""
        found: list[tuple[ItemVersion, dict[str, Any]]] = []
        fields_then: dict[str, Any] = {}
        for entry in self.history:
            fields_then = {**fields_then, **entry.changed}
            found.append((entry, fields_then))
        return found


@dataclass
class SPList:
    id: str
    name: str  # URL segment of the list (Lists/{name})
    display_name: str
    created: datetime
    modified: datetime
    created_by: dict[str, Any]
    template: str = "genericList"
    columns: dict[str, Column] = field(default_factory=dict)  # by internal name
    items: dict[int, ListItem] = field(default_factory=dict)
    next_item_id: int = 1
    etag_guid: str = field(default_factory=lambda: str(uuid.uuid4()))
    version: int = 1

    def column(self, name: str) -> Column | None:
        found = self.columns.get(name)
        if found is not None:
            return found
        lowered = name.lower()
        for column in self.columns.values():
            if column.name.lower() == lowered:
                return column
        return None


@dataclass
class Site:
    hostname: str
    path: str  # server-relative, e.g. /sites/mentoring
    display_name: str
    site_collection_id: str
    web_id: str
    created: datetime
    lists: dict[str, SPList] = field(default_factory=dict)  # by id

    @property
    def id(self) -> str:
        return f"{self.hostname},{self.site_collection_id},{self.web_id}"

    @property
    def web_url(self) -> str:
        return f"https://{self.hostname}{self.path}"

    def graph_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.path.rstrip("/").rsplit("/", 1)[-1],
            "displayName": self.display_name,
            "description": "",
            "webUrl": self.web_url,
            "createdDateTime": _iso(self.created),
            "lastModifiedDateTime": _iso(self.created),
            "siteCollection": {"hostname": self.hostname},
        }


def _iso(instant: datetime) -> str:
    return instant.strftime("%Y-%m-%dT%H:%M:%SZ")


def app_identity(app_id: str | None, display_name: str | None = None) -> dict[str, Any]:
    return {"application": {"id": app_id or "", "displayName": display_name or app_id or ""}}


def user_identity(user_id: str, display_name: str, email: str | None) -> dict[str, Any]:
    return {"user": {"id": user_id, "displayName": display_name, "email": email or ""}}


def etag_matches(header: str | None, etag: str) -> bool:
    """`If-Match` against a listItem etag. `*` matches; quotes around the value are optional
    (clients send both `"{guid},1"` and `{guid},1`)."""
    if header is None:
        return True
    for candidate in (part.strip() for part in header.split(",")):
        if candidate == "*":
            return True
    wanted = header.strip().removeprefix("W/").strip('"')
    return wanted == etag.strip('"')


def _coerce_value(column: Column, value: Any) -> Any:
    """Check a field value against its column type, as SharePoint does on write."""
    if value is None:
        return None
    ok = True
    if column.type == "number":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif column.type == "boolean":
        ok = isinstance(value, bool)
    elif column.type == "dateTime":
        if isinstance(value, str):
            try:
                datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                ok = False
        else:
            ok = False
    else:
        ok = isinstance(value, str)
    if not ok:
        raise GraphError(
            400, "invalidRequest", f"Invalid value for field '{column.name}': {value!r}"
        )
    return value
