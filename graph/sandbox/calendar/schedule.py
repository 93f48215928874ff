"""Free/busy as getSchedule reports it, computed from the stored events themselves.

The worker's slot finder trusts getSchedule, so busy blocks, the availabilityView digits and
working hours are derived from the same events the other routes change, never kept apart
where they could disagree with the calendars.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from graph.sandbox import tz
from graph.sandbox.calendar.store import (
    MailStore,
    end_of,
    mailbox_id,
    parse_instant,
    start_of,
    store_of,
)
from graph.sandbox.directory import User

if TYPE_CHECKING:
    from graph.sandbox.tenant_app import Sandbox

# availabilityView digits and how strongly each one wins a slot that several events share.
AVAILABILITY_DIGIT = {
    "free": "0",
    "tentative": "1",
    "busy": "2",
    "oof": "3",
    "workingElsewhere": "4",
    "unknown": "0",
}
AVAILABILITY_RANK = {
    "free": 0,
    "unknown": 0,
    "workingElsewhere": 1,
    "tentative": 2,
    "busy": 3,
    "oof": 4,
}


@lru_cache(maxsize=1 << 16)
def _local_text(stored: str, zone_name: str) -> str:
    """A stored instant as Graph writes it in `zone_name` (calendars reuse the same times,
    so free/busy of many people formats each once)."""
    return tz.format_local(parse_instant(stored), tz.zone(zone_name))


def busy_blocks(
    store: MailStore, mailbox: str, window_start: datetime, window_end: datetime
) -> list[dict[str, Any]]:
    """Events that count for free/busy in a window: not cancelled, not declined."""
    found = []
    for event in store.calendar(mailbox).values():
        if event.get("isCancelled"):
            continue
        if (event.get("responseStatus") or {}).get("response") == "declined":
            continue
        if start_of(event) < window_end and end_of(event) > window_start:
            found.append(event)
    found.sort(key=start_of)
    return found


def availability_view(
    events: Iterable[Mapping[str, Any]], start: datetime, end: datetime, interval: int
) -> str:
    """One digit per interval: the strongest status of any event overlapping it.

    Each event marks the slots it covers (O(events + slots)), so a 60-day view at 15 minutes
    over a full executive calendar stays cheap.
    """
    step = timedelta(minutes=interval)
    count = max(0, -(-(end - start) // step))
    ranks = [0] * count
    marks = []
    for event in events:
        event_start, event_end = start_of(event), end_of(event)
        if event_end <= start or event_start >= end:
            continue
        rank = AVAILABILITY_RANK.get(str(event.get("showAs") or "busy"), 0)
        first = max(0, (event_start - start) // step)
        last = min(count, -(-(event_end - start) // step))
        if last > first and rank:
            marks.append((rank, first, last))
    # Weakest first: a stronger status written later wins the slots it shares.
    for rank, first, last in sorted(marks):
        ranks[first:last] = [rank] * (last - first)
    by_rank = {AVAILABILITY_RANK.get(status, 0): status for status in AVAILABILITY_RANK}
    digits = [AVAILABILITY_DIGIT.get(by_rank.get(r, "free"), "0") for r in range(max(by_rank) + 1)]
    return "".join(map(digits.__getitem__, ranks))


def working_hours(user: User) -> dict[str, Any] | None:
    raw = user.mailboxSettings.get("workingHours")
    if not raw:
        return None
    hours = copy.deepcopy(raw)
    zone_value = hours.get("timeZone")
    if isinstance(zone_value, str):
        hours["timeZone"] = {"name": zone_value}
    elif zone_value is None:
        hours["timeZone"] = {"name": user.mailboxSettings.get("timeZone", "UTC")}
    return dict(hours)


def schedule_for(
    sb: Sandbox,
    address: str,
    start: datetime,
    end: datetime,
    interval: int,
    zone_name: str,
    include_details: bool,
) -> dict[str, Any]:
    person = sb.state.directory.find(address)
    if person is None or not person.has_mailbox:
        # Graph reports an unknown address inside the 200 answer, per schedule. The exact
        # code is not documented; this is the conservative choice (see docs/sandbox.md).
        return {
            "scheduleId": address,
            "availabilityView": "",
            "scheduleItems": [],
            "error": {
                "message": f"The mailbox '{address}' could not be found.",
                "responseCode": "ErrorMailRecipientNotFound",
            },
        }
    store = store_of(sb)
    events = busy_blocks(store, mailbox_id(person), start, end)
    items = []
    for event in events:
        status = str(event.get("showAs") or "busy")
        if status == "free":
            continue
        item: dict[str, Any] = {
            "isPrivate": event.get("sensitivity") == "private",
            "status": status,
            "start": {"dateTime": _local_text(str(event["_start"]), zone_name),
                      "timeZone": zone_name},
            "end": {"dateTime": _local_text(str(event["_end"]), zone_name),
                    "timeZone": zone_name},
        }
        if include_details and event.get("sensitivity") != "private":
            item["subject"] = event.get("subject", "")
            item["location"] = (event.get("location") or {}).get("displayName", "")
        items.append(item)
    result: dict[str, Any] = {
        "scheduleId": address,
        "availabilityView": availability_view(events, start, end, interval),
        "scheduleItems": items,
    }
    hours = working_hours(person)
    if hours is not None:
        result["workingHours"] = hours
    return result
