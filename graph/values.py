"""Graph's value formats that need no client: OData string literals and dateTimeTimeZone.

Apart from the resource helpers so that the worker's pure planner can build request bodies
(an event's start and end) without importing anything that does I/O.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def odata_string(value: str) -> str:
    """A string literal for an OData `$filter`: single quotes doubled (invariant 8)."""
    return "'" + value.replace("'", "''") + "'"


def graph_datetime(instant: datetime) -> dict[str, str]:
    """A dateTimeTimeZone in UTC."""
    return {
        "dateTime": instant.astimezone(UTC).replace(tzinfo=None, microsecond=0).isoformat(),
        "timeZone": "UTC",
    }


def parse_graph_datetime(value: dict[str, Any]) -> datetime:
    """Parse a dateTimeTimeZone the worker asked for in UTC (`Prefer: outlook.timezone`)."""
    text = str(value["dateTime"])
    zone = str(value.get("timeZone", "UTC"))
    if zone not in ("UTC", "Etc/UTC", "Coordinated Universal Time"):
        raise ValueError(f"expected a UTC time from Graph, got time zone {zone!r}")
    main, _, fraction = text.partition(".")
    parsed = datetime.strptime(main, "%Y-%m-%dT%H:%M:%S")
    if fraction:
        parsed = parsed.replace(microsecond=int(fraction[:6].ljust(6, "0")))
    return parsed.replace(tzinfo=UTC)
