"""What Graph's OData JSON reader accepts as a primitive value, and how it words a refusal.

Graph's refusals are part of what the worker may see, so their exact wording and the value
formats behind them (Edm literals, date-times, GUIDs, durations) are kept in one place that
the type compiler and the body checks both draw on.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from graph.sandbox.core import GraphError

_INT64 = (-(2**63), 2**63 - 1)
_NAMESPACE = "microsoft.graph."

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
