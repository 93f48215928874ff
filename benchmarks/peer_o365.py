"""The peer in the benchmark: the booking script an admin would write with python-o365.

The worker is measured against the obvious alternative, a short script on python-o365 (the
`O365` package, `bench` extra only). It books what the worker's first run books for the same
program, written the straightforward, idiomatic way:

* one `Account` with client credentials, acting on the program mailbox
  (`account.schedule(resource=<program mailbox>)`);
* per pair: look the pair's sessions up by subject (`schedule.get_events` with a `startswith`
  filter), and if any is missing, one `schedule.get_availability` (Graph's `getSchedule`) for
  both people over the weeks of the sessions to book;
* per missing session: the first 15-minute step from the session's cadence day on where both
  people are free for the whole session and inside both people's working hours (as getSchedule
  reports them, in their own time zones), then `schedule.new_event(...)` ... `event.save()`;
* a rerun finds the sessions by subject and skips them.

One value's JSON type: O365 2.1 sends `isOnlineMeeting` as a string ("false", or "true" for a
Teams meeting): its `to_api_data` passes the value through the casing function, and has since
2020, so live Graph evidently accepts it. The sandbox checks bodies with the OData reader's
strict reading and refuses a string where the schema says Edm.Boolean (400), which would fail
every save. `BooleanEvent`, set through O365's `event_constructor` hook, sends the same value
as a JSON boolean; requests, their number and their order are O365's own.

Time zones: getSchedule names Windows zones, or a custom zone with its rules; the script maps
the names with the CLDR table tzlocal ships (O365's own table fails on "Pacific Standard
Time", see `zone_of`) and applies a custom zone's rules itself (`CustomZone`).

Everything else is O365's default behaviour: its own requests session with urllib3 retries,
its 200 ms `requests_delay` between calls, one request at a time. Nothing here sleeps.

How it reaches the sandbox tenant (served over plain HTTP on 127.0.0.1). Both hooks are what
O365 and msal offer, and nothing else of O365 is changed:

* Graph: a `MSGraphProtocol` subclass whose protocol URL is the sandbox's root. O365 builds
  every Graph URL from it and does not insist on https, so Graph calls go to it as they are.
* Login: O365 hard-codes the authority `https://login.microsoftonline.com/<tenant>` and gives
  msal no `http_client`. msal accepts only https authorities, and for an authority it does
  not know it first asks the public cloud's instance discovery. So `SandboxConnection`
  (installed through `Account.connection_constructor`, O365's own hook) builds the same
  `ConfidentialClientApplication` O365 builds, with three differences: the authority is the
  https form of the sandbox's address, msal's `http_client` is a session that sends those
  https requests to the sandbox over http (marked `X-Forwarded-Proto: https`, as a
  TLS-terminating proxy would, so the discovery document names https endpoints again), and
  instance discovery is off (no request leaves the machine). The worker reaches the sandbox
  the same way (graph/auth.py); the rewrite refuses any host but a loopback address.

Run by hand (the secret comes from the environment, never from the command line):

    O365_CLIENT_SECRET=... python -m benchmarks.peer_o365 --tenant-id T --client-id C \\
        --organizer mentoring@contoso.com --pairs pairs.csv --start 2027-03-01 \\
        [--graph-root http://127.0.0.1:8765 --authority-host http://127.0.0.1:8765]

`pairs.csv` holds `mentor,mentee` addresses, one pair a line.
"""

from __future__ import annotations

import argparse
import csv
import ipaddress
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import requests
from msal import ConfidentialClientApplication
from O365 import Account
from O365.calendar import Event
from O365.connection import Connection, MSGraphProtocol
from O365.utils.token import MemoryTokenBackend
from requests.adapters import HTTPAdapter
from tzlocal.windows_tz import win_tz

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
SUBJECT = "Reverse mentoring: {mentor} and {mentee}, session {number}"
TOPICS = (
    "Technology and Devices",
    "The Power of Search and Online Presence",
    "Networking, Connections and Communications",
    "Social Media at Work",
    "How Younger Colleagues Work",
    "Creative Brainstorming",
    "Looking Back, Looking Ahead",
)
STEP = timedelta(minutes=15)
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass(frozen=True)
class Program:
    """The program's booking rules, as the worker's benchmark config states them."""

    start: date
    sessions: int = 2  # how many sessions each pair has booked ahead (keep_booked)
    every_days: int = 21
    tolerance_days: int = 7
    duration_minutes: int = 45
    minimum_notice_hours: int = 48


@dataclass
class PeerRun:
    """What one run of the script did."""

    booked: int = 0
    skipped: int = 0
    no_slot: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


# --- reaching the sandbox ------------------------------------------------------------------


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class _LoopbackHttps(HTTPAdapter):
    """Sends msal's `https://<loopback>:<port>/...` requests to the sandbox over plain http."""

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any
             ) -> requests.Response:
        parts = urlsplit(str(request.url))
        if not _is_loopback(parts.hostname or ""):
            raise requests.exceptions.InvalidURL("the http rewrite is for a loopback sandbox only")
        request.url = urlunsplit(("http", *parts[1:]))
        request.headers["X-Forwarded-Proto"] = "https"
        return super().send(request, *args, **kwargs)


class SandboxProtocol(MSGraphProtocol):
    """Microsoft Graph at another root (the sandbox's); scopes stay Graph's own."""

    def __init__(self, graph_root: str, **kwargs: Any) -> None:
        self._protocol_url = graph_root.rstrip("/") + "/"
        super().__init__(**kwargs)


class SandboxConnection(Connection):
    """O365's connection with msal pointed at a loopback sandbox (see the module docstring)."""

    def __init__(self, credentials: tuple[str, str], *, authority_host: str,
                 **kwargs: Any) -> None:
        super().__init__(credentials, **kwargs)
        parts = urlsplit(authority_host.rstrip("/"))
        if not _is_loopback(parts.hostname or ""):
            raise ValueError(f"authority host {authority_host!r} is not a loopback sandbox")
        https_root = urlunsplit(("https", parts.netloc, "", "", ""))
        self._msal_authority = f"{https_root}/{self.tenant_id}"
        self._msal_http = requests.Session()
        self._msal_http.mount(https_root + "/", _LoopbackHttps())

    @property
    def msal_client(self) -> Any:
        if self._msal_client is None:
            self._msal_client = ConfidentialClientApplication(
                client_id=self.auth[0],
                client_credential=self.auth[1],
                authority=self._msal_authority,
                token_cache=self.token_backend,
                http_client=self._msal_http,
                instance_discovery=False,
            )
        return self._msal_client


class SandboxAccount(Account):
    connection_constructor = SandboxConnection


def connect(tenant_id: str, client_id: str, secret: str, *, graph_root: str | None = None,
            authority_host: str | None = None, requests_delay: int | None = None) -> Account:
    """An authenticated Account: Microsoft's cloud by default, a loopback sandbox if named.
    `requests_delay` (ms between calls) is left to O365's default unless given."""
    common: dict[str, Any] = {"auth_flow_type": "credentials", "tenant_id": tenant_id,
                              "token_backend": MemoryTokenBackend()}
    if requests_delay is not None:
        common["requests_delay"] = requests_delay
    if graph_root is None:
        account = Account((client_id, secret), **common)
    else:
        account = SandboxAccount((client_id, secret), protocol=SandboxProtocol(graph_root),
                                 authority_host=authority_host or graph_root, **common)
    if not account.authenticate(requested_scopes=[GRAPH_SCOPE]):
        raise RuntimeError("authentication failed: the token request was refused")
    return account


class BooleanEvent(Event):
    """O365's event with `isOnlineMeeting` as a JSON boolean (see the module docstring)."""

    def to_api_data(self, restrict_keys: Any = None) -> dict[str, Any]:
        data: dict[str, Any] = super().to_api_data(restrict_keys=restrict_keys)
        key = self._cc("isOnlineMeeting")
        if key in data:
            data[key] = self.is_online_meeting in (True, "true")
        return data


# --- working hours -------------------------------------------------------------------------


class CustomZone(tzinfo):
    """A `customTimeZone` from getSchedule's workingHours: a bias and yearly DST rules.

    zoneinfo cannot name such a zone, so its rules are applied as given: offsets in minutes
    west of UTC, transitions on the n-th (5: last) weekday of a month at a local time.
    """

    def __init__(self, spec: Mapping[str, Any]) -> None:
        self._bias = int(spec.get("bias", 0))
        self._standard = dict(spec.get("standardOffset") or {})
        self._daylight = dict(spec.get("daylightOffset") or {})
        self._name = str(spec.get("name", "custom"))

    @staticmethod
    def _transition(rule: Mapping[str, Any], year: int) -> datetime | None:
        month = int(rule.get("month") or 0)
        if not month:
            return None
        weekday = _WEEKDAYS.index(str(rule.get("dayOfWeek", "sunday")).lower())
        occurrence = int(rule.get("dayOccurrence") or 1)
        first = date(year, month, 1)
        day = first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (occurrence - 1))
        while day.month != month:  # occurrence 5 means the last one
            day -= timedelta(days=7)
        at = time.fromisoformat(str(rule.get("time", "00:00:00"))[:8])
        return datetime.combine(day, at)

    def _in_daylight(self, dt: datetime) -> bool:
        begins = self._transition(self._daylight, dt.year)
        ends = self._transition(self._standard, dt.year)
        if begins is None or ends is None:
            return False
        local = dt.replace(tzinfo=None)
        return begins <= local < ends if begins < ends else not ends <= local < begins

    def utcoffset(self, dt: datetime | None) -> timedelta:
        bias = self._bias
        if dt is not None and self._in_daylight(dt):
            bias = self._bias + int(self._daylight.get("daylightBias") or 0)
        return timedelta(minutes=-bias)

    def dst(self, dt: datetime | None) -> timedelta:
        if dt is not None and self._in_daylight(dt):
            return timedelta(minutes=-int(self._daylight.get("daylightBias") or 0))
        return timedelta(0)

    def tzname(self, dt: datetime | None) -> str:
        return self._name


def zone_of(spec: Mapping[str, Any]) -> tzinfo:
    if "customTimeZone" in str(spec.get("@odata.type", "")) or "bias" in spec:
        return CustomZone(spec)
    name = str(spec.get("name") or "UTC")
    # O365's own table (O365.utils.windows_tz) maps "Pacific Standard Time" to US/Pacific-New,
    # which tzdata dropped in 2020: zoneinfo raises. tzlocal, which O365 depends on, ships
    # the CLDR table.
    return ZoneInfo(win_tz.get(name, name))


@dataclass(frozen=True)
class Hours:
    days: frozenset[int]
    start: time
    end: time
    zone: tzinfo

    @classmethod
    def from_graph(cls, raw: Mapping[str, Any]) -> Hours:
        return cls(
            days=frozenset(_WEEKDAYS.index(d.lower()) for d in raw.get("daysOfWeek", [])),
            start=time.fromisoformat(str(raw.get("startTime", "09:00:00"))[:8]),
            end=time.fromisoformat(str(raw.get("endTime", "17:00:00"))[:8]),
            zone=zone_of(raw.get("timeZone") or {"name": "UTC"}),
        )

    def holds(self, start: datetime, end: datetime) -> bool:
        first, last = start.astimezone(self.zone), end.astimezone(self.zone)
        return (first.weekday() in self.days and first.date() == last.date()
                and self.start <= first.time() and last.time() <= self.end)


# --- the booking -----------------------------------------------------------------------------


def subject_of(mentor: str, mentee: str, number: int) -> str:
    return SUBJECT.format(mentor=mentor, mentee=mentee, number=number)


def first_common_slot(views: Sequence[Sequence[str]], hours: Sequence[Hours],
                      view_start: datetime, earliest: datetime, latest: datetime,
                      duration: timedelta) -> datetime | None:
    """The first step at or after `earliest` (and before `latest`) free in every view and
    inside everyone's working hours for the whole session."""
    steps = -(-duration // STEP)
    first = max(0, -(-(earliest - view_start) // STEP))
    for index in range(first, min(len(view) for view in views) - steps + 1):
        start = view_start + index * STEP
        if start >= latest:
            break
        if all(slot == "free" for view in views for slot in view[index:index + steps]) and all(
                h.holds(start, start + duration) for h in hours):
            return start
    return None


def book_pair(schedule: Any, mentor: str, mentee: str, program: Program, now: datetime,
              run: PeerRun) -> None:
    prefix = SUBJECT.split("{number}")[0].format(mentor=mentor, mentee=mentee)
    query = schedule.new_query().startswith("subject", prefix)
    existing = {event.subject for event in
                schedule.get_events(limit=None, query=query, include_recurring=False)}
    wanted = [n for n in range(1, program.sessions + 1)
              if subject_of(mentor, mentee, n) not in existing]
    run.skipped += program.sessions - len(wanted)
    if not wanted:
        return
    cadence = timedelta(days=program.every_days)
    view_start = datetime.combine(program.start, time(), ZoneInfo("UTC"))
    view_end = view_start + cadence * (program.sessions - 1) + timedelta(
        days=program.tolerance_days + 1)
    schedules = schedule.get_availability([mentor, mentee], view_start, view_end, interval=15)
    if len(schedules) != 2 or any("error" in s or "workingHours" not in s for s in schedules):
        run.failed.append(f"{mentor}/{mentee}: no free/busy")
        return
    views = [list(s["availabilityView"]) for s in schedules]
    hours = [Hours.from_graph(s["workingHours"]) for s in schedules]
    duration = timedelta(minutes=program.duration_minutes)
    not_before = now + timedelta(hours=program.minimum_notice_hours)
    for number in wanted:
        day = view_start + cadence * (number - 1)
        slot = first_common_slot(views, hours, view_start, max(day, not_before),
                                 day + timedelta(days=program.tolerance_days + 1), duration)
        if slot is None:
            run.no_slot.append(f"{mentor}/{mentee} session {number}")
            continue
        event = schedule.new_event(subject_of(mentor, mentee, number))
        event.start = slot
        event.end = slot + duration
        event.attendees.add([mentor, mentee])
        event.is_online_meeting = True
        event.online_meeting_provider = "teamsForBusiness"
        event.body = (f"<p>Reverse mentoring, session {number}: "
                      f"{TOPICS[(number - 1) % len(TOPICS)]}.</p>")
        if event.save():
            run.booked += 1
            index = (slot - view_start) // STEP
            for view in views:  # the next session must not land on this one
                view[index:index + -(-duration // STEP)] = ["busy"] * -(-duration // STEP)
        else:
            run.failed.append(f"{mentor}/{mentee} session {number}: not saved")


def book_program(account: Account, organizer: str, pairs: Iterable[tuple[str, str]],
                 program: Program, now: datetime | None = None) -> PeerRun:
    """Book every pair's missing sessions; a pair that fails is noted and the others go on."""
    now = now or datetime.now(UTC)
    schedule = account.schedule(resource=organizer)
    schedule.event_constructor = BooleanEvent
    run = PeerRun()
    for mentor, mentee in pairs:
        try:
            book_pair(schedule, mentor, mentee, program, now, run)
        except requests.RequestException as exc:
            status = exc.response.status_code if exc.response is not None else "no answer"
            run.failed.append(f"{mentor}/{mentee}: HTTP {status}")
    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenant-id", required=True)
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--organizer", required=True, help="the program mailbox")
    parser.add_argument("--pairs", type=Path, required=True, help="CSV of mentor,mentee")
    parser.add_argument("--start", type=date.fromisoformat, required=True)
    parser.add_argument("--graph-root", help="a loopback sandbox instead of Microsoft Graph")
    parser.add_argument("--authority-host", help="its login root (default: --graph-root)")
    args = parser.parse_args(argv)
    secret = os.environ.get("O365_CLIENT_SECRET")
    if not secret:
        print("set O365_CLIENT_SECRET to the app's client secret", file=sys.stderr)
        return 2
    with args.pairs.open(encoding="utf-8", newline="") as handle:
        pairs = [(row[0].strip(), row[1].strip()) for row in csv.reader(handle) if len(row) >= 2]
    account = connect(args.tenant_id, args.client_id, secret, graph_root=args.graph_root,
                      authority_host=args.authority_host)
    run = book_program(account, args.organizer, pairs, Program(start=args.start))
    print(f"{run.booked} booked, {run.skipped} already there, {len(run.no_slot)} without a "
          f"free slot, {len(run.failed)} failed")
    for problem in run.no_slot + run.failed:
        print(f"  {problem}")
    return 1 if run.failed or run.no_slot else 0


if __name__ == "__main__":
    raise SystemExit(main())
