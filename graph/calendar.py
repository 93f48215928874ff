"""Outlook calendar calls the worker makes, in Graph's own terms.

Thin on purpose: each function is one documented Graph call (or a paged/batched family of
them) with the headers it needs, returning Graph's JSON. The mentoring meaning lives in
`worker.observe` and `worker.apply`.

- Tagging: https://learn.microsoft.com/graph/api/singlevaluelegacyextendedproperty-post-singlevalueextendedproperties
- Filtering by the tag: https://learn.microsoft.com/graph/api/singlevaluelegacyextendedproperty-get
- getSchedule: https://learn.microsoft.com/graph/api/calendar-getschedule (at most 20 addresses,
  a window under 62 days)
- transactionId: https://learn.microsoft.com/graph/api/resources/event (optional client id
  that avoids redundant POST operations when a client retries)

Answers are read through `GraphResponse.json_object` / `entries` (`graph.answers`): an answer
of the wrong shape is `MalformedResponse` for that request. Inside a `$batch` of user lookups,
one person's unreadable answer is that person's error only; a getSchedule entry naming no
address is left out (the reader names every address that got no schedule).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

from graph.batch import BatchRequest
from graph.client import GraphClient
from graph.errors import MalformedResponse, NotFound
from graph.values import graph_datetime, odata_string

T = TypeVar("T")

_LOG = logging.getLogger("graph.calendar")

# Graph limits for getSchedule.
SCHEDULE_MAX_ADDRESSES = 20
SCHEDULE_MAX_WINDOW = timedelta(days=61)

UTC_PREFER = 'outlook.timezone="UTC"'
IMMUTABLE_PREFER = 'IdType="ImmutableId"'
PREFER_HEADERS = {"Prefer": f"{UTC_PREFER}, {IMMUTABLE_PREFER}"}

EVENT_FIELDS = (
    "id,subject,start,end,attendees,isCancelled,onlineMeeting,organizer,"
    "createdDateTime,lastModifiedDateTime,transactionId,showAs"
)


def user_path(user: str) -> str:
    return "/users/" + quote(user, safe="@.")


USER_FIELDS = "id,displayName,mail,userPrincipalName,usageLocation,preferredLanguage"
# An `in` list holds at most 15 values without advanced query capabilities.
IN_FILTER_MAX = 15


def lookup_users(
    client: GraphClient, emails: Sequence[str], *, select: str = USER_FIELDS
) -> dict[str, dict[str, Any] | Exception]:
    """Each address's user: `GET /users` filtered by `userPrincipalName in (...)`, 15 names a
    request, in `$batch`es (one Graph operation per 15 people, not one per person). A name the
    filter does not return is asked for directly (`GET /users/{upn}`), so someone not in the
    directory gets Graph's own 404, and a name the filter could not check its own error."""
    names = list(dict.fromkeys(e.lower() for e in emails))
    chunks = [names[i:i + IN_FILTER_MAX] for i in range(0, len(names), IN_FILTER_MAX)]
    listed = client.batch([
        BatchRequest(id=str(index), method="GET", url="/users?" + _users_in(chunk, select))
        for index, chunk in enumerate(chunks)
    ])
    found: dict[str, dict[str, Any] | Exception] = {}
    for chunk, result in zip(chunks, listed, strict=True):
        error: Exception | None = result.error
        users: list[dict[str, Any]] = []
        if error is None:
            try:
                users = result.entries()
            except MalformedResponse as exc:
                error = exc  # these people's answer only; the others stand
        if error is not None:
            for name in chunk:
                found[name] = error
            continue
        for user in users:
            name = str(user.get("userPrincipalName") or "").lower()
            if name in chunk and isinstance(user.get("id"), str) and user.get("id"):
                found[name] = dict(user)
    unlisted = [name for name in names if name not in found]
    direct = client.batch([
        BatchRequest(id=str(index), method="GET", url=user_path(name) + f"?$select={select}")
        for index, name in enumerate(unlisted)
    ]) if unlisted else []
    for name, result in zip(unlisted, direct, strict=True):
        if result.error is not None:
            found[name] = result.error
            continue
        try:
            found[name] = result.json_object("id")
        except MalformedResponse as exc:
            found[name] = exc
    return {email: found[email.lower()] for email in emails}


def _users_in(names: Sequence[str], select: str = USER_FIELDS) -> str:
    return urlencode({
        "$filter": "userPrincipalName in (" + ",".join(odata_string(n) for n in names) + ")",
        "$select": select,
        "$top": "999",
    }, quote_via=quote)




EVENTS_PAGE = "1000"


def tagged_events(
    client: GraphClient,
    mailbox: str,
    property_id: str,
    value_prefix: str,
    also_expand: Sequence[str] = (),
) -> Iterator[dict[str, Any]]:
    """Every event in `mailbox` carrying our extended property with a value under the prefix.

    Graph documents `eq` and `contains` for string extended property values; `contains` on the
    program prefix keeps one request per page whatever the number of sessions. `also_expand`
    names more of our properties to return with each event (filtering stays on the first).
    """
    flt = (
        "singleValueExtendedProperties/Any(ep: ep/id eq "
        f"{odata_string(property_id)} and contains(ep/value, {odata_string(value_prefix)}))"
    )
    params = {
        "$filter": flt,
        "$expand": "singleValueExtendedProperties($filter="
        + " or ".join(f"id eq {odata_string(p)}" for p in (property_id, *also_expand))
        + ")",
        "$select": EVENT_FIELDS,
        # Outlook's largest page (https://learn.microsoft.com/en-us/graph/paging): a run with
        # nothing to do reads a program of 1,000 pairs' year of sessions in 7 requests.
        "$top": EVENTS_PAGE,
    }
    yield from client.paged(
        user_path(mailbox) + "/events", params=params, headers=PREFER_HEADERS, mailbox=mailbox
    )


def get_schedules(
    client: GraphClient,
    mailbox: str,
    emails: Iterable[str],
    start: datetime,
    end: datetime,
    interval_minutes: int = 15,
    workers: int = 4,
    *,
    convert: Callable[[dict[str, Any]], T],
    each: Callable[[list[T]], None] | None = None,
) -> list[T]:
    """Free/busy of many people: calls of at most 20 addresses and windows under 62 days,
    `workers` at a time, the addresses in the order given; each person's schedule passed
    through `convert`. When one window covers the span (a run's usual case), each call's
    schedules are converted in the thread that waited for it, while the other calls are still
    in flight, and handed to `each` as they come (else all at the end)."""
    addresses = list(dict.fromkeys(emails))
    windows: list[tuple[datetime, datetime]] = []
    cursor = start
    while cursor < end:
        stop = min(end, cursor + SCHEDULE_MAX_WINDOW)
        windows.append((cursor, stop))
        cursor = stop
    calls = [
        (addresses[offset : offset + SCHEDULE_MAX_ADDRESSES], window_start, window_end)
        for offset in range(0, len(addresses), SCHEDULE_MAX_ADDRESSES)
        for window_start, window_end in windows
    ]
    whole = len(windows) == 1  # each person's schedule comes in one answer
    # Converting an answer takes a while (20 people's busy times): done by one thread of its
    # own, in the order answers come, so the thread that waited can send its next call at
    # once instead of leaving an Outlook slot idle meanwhile.
    converter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="getSchedule-convert")

    def converted(answer: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
        done = [(who, convert(item)) for who, item in answer]
        if each is not None:
            each([schedule for _, schedule in done])
        return done

    def call(chunk: list[str], window_start: datetime, window_end: datetime
             ) -> Future[list[tuple[str, Any]]] | list[tuple[str, Any]]:
        response = client.request(
            "POST",
            user_path(mailbox) + "/calendar/getSchedule",
            json={
                "schedules": chunk,
                "startTime": graph_datetime(window_start),
                "endTime": graph_datetime(window_end),
                "availabilityViewInterval": interval_minutes,
            },
            headers={"Prefer": UTC_PREFER},
            mailbox=mailbox,
        )
        answer = list(_identified(response.entries()))
        return converter.submit(converted, answer) if whole else answer

    try:
        # Side by side: the client's mailbox pacer holds them to Outlook's 4 concurrent
        # requests.
        if len(calls) > 1 and workers > 1:
            with ThreadPoolExecutor(max_workers=min(workers, len(calls)),
                                    thread_name_prefix="getSchedule") as pool:
                sent = list(pool.map(lambda args: call(*args), calls))
        else:
            sent = [call(*args) for args in calls]
        answers = [one.result() if isinstance(one, Future) else one for one in sent]
    finally:
        # A failed call leaves the answers converted so far to finish (or fail) first.
        converter.shutdown(wait=True, cancel_futures=True)
    if whole:
        return [schedule for answer in answers for _, schedule in answer]
    items: dict[str, list[dict[str, Any]]] = {}
    for answer in answers:  # in call order: each person's windows follow one another
        for who, item in answer:
            items.setdefault(who, []).append(item)
    merged = [convert(_merge_schedule_items(parts)) for parts in items.values()]
    if each is not None:
        each(merged)
    return merged


def _identified(items: Iterable[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for item in items:
        schedule_id = item.get("scheduleId")
        if not isinstance(schedule_id, str) or not schedule_id:
            # Nobody's: the caller names each address that got no schedule.
            _LOG.warning("getSchedule answered a schedule without a scheduleId; left out")
            continue
        yield schedule_id.lower(), item


def _merge_schedule_items(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """One schedule item per person from several windows (in time order): errors win, busy
    items add up, the views follow one another. A part whose items or view are not what
    Graph documents is kept as it is, for `worker.observe.availability` to name."""
    for part in parts:
        if part.get("error"):
            return part
    for part in parts:
        if (not isinstance(part.get("scheduleItems"), list)
                or not isinstance(part.get("availabilityView", ""), str)):
            return part
    merged = dict(parts[0])
    merged["scheduleItems"] = [item for part in parts for item in part["scheduleItems"]]
    merged["availabilityView"] = "".join(str(part.get("availabilityView") or "")
                                         for part in parts)
    return merged


def event_by_tag(
    client: GraphClient, mailbox: str, property_id: str, value: str
) -> dict[str, Any] | None:
    """The event in `mailbox` whose extended property `property_id` is exactly `value` (the
    oldest, should there be several), or None. One request: how a create whose answer was lost
    is found before it is sent again."""
    flt = (
        "singleValueExtendedProperties/Any(ep: ep/id eq "
        f"{odata_string(property_id)} and ep/value eq {odata_string(value)})"
    )
    params = {"$filter": flt, "$select": EVENT_FIELDS, "$top": "10"}
    found = list(client.paged(user_path(mailbox) + "/events", params=params,
                              headers=PREFER_HEADERS, mailbox=mailbox, max_pages=5))
    events = [dict(event) for event in found if isinstance(event, dict)]
    if not events:
        return None
    return min(events, key=lambda event: str(event.get("createdDateTime") or ""))


def event_by_id(client: GraphClient, mailbox: str, event_id: str) -> dict[str, Any] | None:
    """The event, or None when the mailbox has no such event (404)."""
    try:
        response = client.request(
            "GET", f"{user_path(mailbox)}/events/{quote(event_id, safe='')}",
            params={"$select": "id,isCancelled"}, headers=PREFER_HEADERS, mailbox=mailbox,
        )
    except NotFound:
        return None
    return response.json_object("id")


def create_event(
    client: GraphClient, mailbox: str, event: dict[str, Any], *, idempotent: bool = True
) -> dict[str, Any]:
    """POST an event. `idempotent=False` when the caller looks a lost answer up itself
    (`event_by_tag`) instead of the client resending it at once."""
    response = client.request(
        "POST", user_path(mailbox) + "/events", json=event, headers=PREFER_HEADERS,
        mailbox=mailbox, idempotent=idempotent,
    )
    return response.json_object("id")


def update_event(
    client: GraphClient, mailbox: str, event_id: str, changes: dict[str, Any]
) -> dict[str, Any]:
    response = client.request(
        "PATCH",
        f"{user_path(mailbox)}/events/{quote(event_id, safe='')}",
        json=changes,
        headers=PREFER_HEADERS,
        mailbox=mailbox,
    )
    return response.json_object()


def cancel_event(client: GraphClient, mailbox: str, event_id: str, comment: str) -> None:
    """Cancel a meeting (attendees get the cancellation; the organizer's copy is deleted, so a
    second cancel answers 404). Not resent blindly after a lost answer: see the caller."""
    client.request(
        "POST",
        f"{user_path(mailbox)}/events/{quote(event_id, safe='')}/cancel",
        json={"comment": comment},
        headers=PREFER_HEADERS,
        mailbox=mailbox,
        idempotent=False,
    )
