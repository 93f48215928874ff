"""The nudges step of a run: install the Teams app where needed, read working hours, send the
nudges `worker.nudges.decide` says are due, record each one in Microsoft 365, and post the
program summary card to the Workflows webhook once per period.

Exactly once, as far as Graph allows: a nudge is recorded in the ledger (per session, in
Microsoft 365) right after Graph accepts it, before the next nudge is sent. Graph has no
idempotency key for activity notifications, so a process that dies between the accepted send
and the record makes the next run send that one nudge again: at most one duplicate per nudge
per crash (README, "Exactly once"). Everything else here is idempotent: installs answer 409
when done, markers are sets.

Ledger: `NudgeLedger` (in `worker.nudges`). `EventLedger` keeps the keys in a single-value
extended property `MentoringNudges` on the session's event in the organizer's mailbox, written
with PATCH and `If-Match` (412: re-read, merge, retry). Graph documents no rule that PATCHing
only an extended property sends attendees an update (https://learn.microsoft.com/graph/api/event-update
is silent; attendee, time and location changes are what Outlook announces), but it is not
documented either way: the SharePoint list item of each session is the better home once it
exists, and any object with `sent`/`record` can be passed instead.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

import requests

from graph import calendar, teams
from graph.client import GraphClient
from graph.errors import Forbidden, GraphApiError, GraphClientError, PreconditionFailed
from worker.availability import ScheduleError, parse_schedule_item
from worker.config import Config
from worker.notes_list import NOTES_MISSING, NOTES_POSTED, find_list_ref
from worker.nudge_texts import NudgeTexts
from worker.nudges import PENDING, Decision, NotesState, Nudge, NudgeLedger, decide
from worker.observe import PROPERTY_SET, organizers
from worker.observed import Observed, ObservedSession
from worker.planner import Cancel, Move, Plan
from worker.records import RecordTag
from worker.slots import WorkingHours

log = logging.getLogger(__name__)

NUDGES_PROPERTY_ID = f"String {PROPERTY_SET} Name MentoringNudges"
APP_MARK = "app@"  # ledger entry: the Teams app is known to be installed for this person
UNREACHABLE_MARK = "unreachable@"  # ledger entry: install refused this ISO week
WEBHOOK_MARK = "webhook/"  # ledger entry: the summary card of this period was posted
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)  # periods count from here (any fixed instant)
MAX_RECORD_ATTEMPTS = 3


class NotesSource(Protocol):
    """Notes status and the list item's address per session (the SharePoint records)."""

    def notes(self, session_key: str) -> NotesState | None: ...

    def item_url(self, session_key: str) -> str | None: ...


class NoNotes:
    """No SharePoint records configured: status unknown, so no notes requests."""

    def notes(self, session_key: str) -> NotesState | None:
        return None

    def item_url(self, session_key: str) -> str | None:
        return None


class RecordNotes:
    """Notes status from the `MentoringRecord` tag the records step keeps on each event
    (`worker.records.RecordTag`: item id, digest, notes status), and a link straight to the
    item's display form in the program's list."""

    def __init__(self, sessions: Mapping[str, list[ObservedSession]],
                 list_url: Callable[[], str | None]) -> None:
        self._tags: dict[str, RecordTag] = {}
        for key, found in sessions.items():
            live = _live(found)
            tag = RecordTag.parse(live.record) if live is not None else None
            if tag is not None:
                self._tags[key] = tag
        self._list_url = list_url
        self._url: str | None = None
        self._looked = False

    def notes(self, session_key: str) -> NotesState | None:
        tag = self._tags.get(session_key)
        if tag is None:
            return None
        if tag.notes == NOTES_MISSING:
            return "missing"
        if tag.notes == NOTES_POSTED:
            return "posted"
        return None

    def item_url(self, session_key: str) -> str | None:
        tag = self._tags.get(session_key)
        if tag is None or not tag.item_id:
            return None
        if not self._looked:
            self._looked = True
            self._url = self._list_url()
        # The list's classic display form opens one item (SharePoint's own item link).
        return f"{self._url.rstrip('/')}/DispForm.aspx?ID={tag.item_id}" if self._url else None


@dataclass
class NudgeResult:
    applied: bool = True
    sent: list[Nudge] = field(default_factory=list)
    due: list[Nudge] = field(default_factory=list)  # dry run: what a run would send now
    held: list[Nudge] = field(default_factory=list)
    installed: list[str] = field(default_factory=list)
    unreachable: dict[str, str] = field(default_factory=dict)  # e-mail -> reason
    failed: dict[str, str] = field(default_factory=dict)  # nudge key -> reason
    no_hours: list[str] = field(default_factory=list)
    webhook_posted: bool = False
    skipped: str | None = None

    def to_json(self) -> dict[str, Any]:
        def row(n: Nudge) -> dict[str, str]:
            return {"key": n.key, "kind": n.kind.value, "recipient": n.recipient,
                    "local_time": n.local_send_at.isoformat(),
                    "utc": n.send_at.astimezone(UTC).isoformat().replace("+00:00", "Z")}

        return {
            "sent": [row(n) for n in self.sent],
            "due": [row(n) for n in self.due],
            "held": [row(n) for n in self.held],
            "installed": list(self.installed),
            "unreachable": dict(self.unreachable),
            "failed": dict(self.failed),
            "no_working_hours": list(self.no_hours),
            "webhook_posted": self.webhook_posted,
            "skipped": self.skipped,
        }

    def render_text(self) -> str:
        if self.skipped:
            return f"Teams nudges: skipped: {self.skipped}"
        if self.applied:
            head = (f"Teams nudges: {len(self.sent)} sent, {len(self.held)} held for working "
                    f"hours, {len(self.installed)} app install(s)")
        else:
            head = (f"Teams nudges: {len(self.due)} to send now, {len(self.held)} held for "
                    "working hours")
        lines = [head + "."]
        for nudge in (self.sent if self.applied else self.due):
            lines.append(f"  > {nudge.describe()}")
        for nudge in self.held:
            lines.append(f"  ~ {nudge.describe()} (held)")
        lines.extend(f"  unreachable {who}: {why}" for who, why in sorted(self.unreachable.items()))
        lines.extend(f"  FAILED nudge {key}: {why}" for key, why in sorted(self.failed.items()))
        lines.extend(f"  no working hours for {who}: nothing sent" for who in self.no_hours)
        return "\n".join(lines)


def _live(sessions: list[ObservedSession]) -> ObservedSession | None:
    alive = [s for s in sessions if not s.is_cancelled]
    return min(alive, key=lambda s: (s.created or s.start, s.event_id)) if alive else None


class EventLedger:
    """Sent nudge keys in an extended property of each session's (organizer's) event."""

    def __init__(self, client: GraphClient, sessions: Mapping[str, list[ObservedSession]]):
        self.client = client
        self.events: dict[str, ObservedSession] = {}
        for key, found in sessions.items():
            live = _live(found)
            if live is not None:
                self.events[key] = live
        self._values: dict[str, set[str]] = {}
        self._etags: dict[str, str | None] = {}
        self._loaded = False

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        by_event = {s.event_id: key for key, s in self.events.items()}
        for mailbox in sorted({s.organizer for s in self.events.values()}):
            flt = ("singleValueExtendedProperties/Any(ep: ep/id eq "
                   f"{calendar.odata_string(NUDGES_PROPERTY_ID)})")
            params = {
                "$filter": flt,
                "$expand": "singleValueExtendedProperties($filter=id eq "
                           f"{calendar.odata_string(NUDGES_PROPERTY_ID)})",
                "$select": "id",
                "$top": "100",
            }
            for raw in self.client.paged(calendar.user_path(mailbox) + "/events", params=params,
                                         headers=calendar.PREFER_HEADERS, mailbox=mailbox):
                key = by_event.get(str(raw.get("id")))
                if key is not None:
                    self._values[key] = _parse_value(raw)
                    self._etags[key] = raw.get("@odata.etag")

    def sent(self, session_key: str) -> frozenset[str]:
        self._load()
        return frozenset(self._values.get(session_key, set()))

    def record(self, session_key: str, nudge_key: str) -> None:
        self._load()
        session = self.events[session_key]
        path = (f"{calendar.user_path(session.organizer)}/events/"
                f"{quote(session.event_id, safe='')}")
        for _ in range(MAX_RECORD_ATTEMPTS):
            values = self._values.setdefault(session_key, set())
            if nudge_key in values:
                return
            wanted = sorted(values | {nudge_key})
            etag = self._etags.get(session_key)
            headers = dict(calendar.PREFER_HEADERS)
            if etag:
                headers["If-Match"] = etag
            body = {"singleValueExtendedProperties": [
                {"id": NUDGES_PROPERTY_ID, "value": "\n".join(wanted)}
            ]}
            try:
                answer = self.client.request("PATCH", path, json=body, headers=headers,
                                             mailbox=session.organizer).json() or {}
            except PreconditionFailed:
                # Someone changed the event since we read it: re-read our property, merge.
                fresh = self.client.request(
                    "GET", path,
                    params={"$select": "id", "$expand": "singleValueExtendedProperties("
                            f"$filter=id eq {calendar.odata_string(NUDGES_PROPERTY_ID)})"},
                    headers=calendar.PREFER_HEADERS, mailbox=session.organizer,
                ).json() or {}
                self._values[session_key] = _parse_value(fresh) | values
                self._etags[session_key] = fresh.get("@odata.etag")
                continue
            self._values[session_key] = set(wanted)
            self._etags[session_key] = answer.get("@odata.etag")
            return
        raise GraphClientError(f"could not record nudge {nudge_key}: the event kept changing")


def _parse_value(raw: Mapping[str, Any]) -> set[str]:
    for prop in raw.get("singleValueExtendedProperties") or []:
        if str(prop.get("id", "")).lower() == NUDGES_PROPERTY_ID.lower():
            return {line for line in str(prop.get("value") or "").splitlines() if line}
    return set()


# ---------------------------------------------------------------------------------------------


class NudgeStep:
    """One run's nudges; `plan()` only reads, `run()` sends."""

    def __init__(self, client: GraphClient, config: Config, observed: Observed,
                 texts: NudgeTexts, ledger: NudgeLedger, *, notes: NotesSource | None = None,
                 pacer: teams.NotificationPacer | None = None,
                 webhook_url: str | None = None, changing: Iterable[str] = ()) -> None:
        self.client = client
        self.config = config
        self.observed = observed
        self.texts = texts
        self.ledger = ledger
        self.notes = notes or NoNotes()
        self.pacer = pacer or teams.NotificationPacer(client.clock)
        self.webhook_url = webhook_url
        self.changing = frozenset(changing)
        self.result = NudgeResult()

    # -- reading -------------------------------------------------------------------------------

    def _sent(self) -> dict[str, frozenset[str]]:
        return {key: self.ledger.sent(key) for key in self.observed.sessions}

    def _notes(self) -> dict[str, NotesState]:
        found: dict[str, NotesState] = {}
        for key in self.observed.sessions:
            state = self.notes.notes(key)
            if state is not None:
                found[key] = state
        return found

    def decide(self, now: datetime, reachable: set[str] | None = None) -> Decision:
        """Ask the policy, then read working hours (getSchedule on the organizer's calendar)
        only for the people it has something for (and who can be reached), and ask again."""
        sent, notes = self._sent(), self._notes()
        first = decide(self.config, self.observed.sessions, {}, sent, notes, now, self.changing)
        wanted = [e for e in first.unknown_hours if reachable is None or e in reachable]
        hours = self._working_hours(wanted, now)
        return decide(self.config, self.observed.sessions, hours, sent, notes, now,
                      self.changing)

    def _working_hours(self, emails: Iterable[str], now: datetime) -> dict[str, WorkingHours]:
        wanted = sorted(set(emails))
        if not wanted:
            return {}
        mailbox = organizers(self.config)[0]
        hours: dict[str, WorkingHours] = {}
        items = calendar.get_schedules(self.client, mailbox, wanted, now,
                                       now + timedelta(days=1), interval_minutes=60)
        for item in items:
            parsed = parse_schedule_item(item)
            if isinstance(parsed, ScheduleError):
                log.warning("no working hours for %s: %s", parsed.email, parsed.code)
                continue
            hours[parsed.email.lower()] = parsed.working
        return hours

    # -- writing -------------------------------------------------------------------------------

    def preview(self, now: datetime) -> NudgeResult:
        """What a run would send now and what it would hold: reads only."""
        decision = self.decide(now)
        self.result.applied = False
        self.result.due = list(decision.due)
        self.result.held = list(decision.held)
        self.result.no_hours = list(decision.unknown_hours)
        return self.result

    def run(self, now: datetime) -> NudgeResult:
        ready = self._ensure_app(now)
        decision = self.decide(now, ready)
        self.result.held = [n for n in decision.held if n.recipient in ready]
        self.result.no_hours = [e for e in decision.unknown_hours if e in ready]
        for session_key, marker in decision.remember:
            self.ledger.record(session_key, marker)
        for nudge in decision.due:
            if nudge.recipient not in ready:
                continue
            try:
                self._send(nudge)
            except GraphClientError as exc:
                reason = exc.short() if isinstance(exc, GraphApiError) else str(exc)
                self.result.failed[nudge.key] = reason
                log.error("nudge %s failed: %s", nudge.key, exc)
                continue
            # Record right after Graph accepted it: the only window for a duplicate.
            self.ledger.record(nudge.session_key, nudge.key)
            self.result.sent.append(nudge)
        if self.webhook_url:
            self._post_summary(now)
        return self.result

    def _anchors(self) -> dict[str, str]:
        """Each active participant -> the session whose ledger remembers their app install
        (the pair's first live session; people of pairs with nothing booked yet wait)."""
        anchors: dict[str, str] = {}
        for pairing in self.config.active_pairings():
            keys = sorted(
                (k for k in self.observed.sessions
                 if k.split("/")[1] == pairing.id and _live(self.observed.sessions[k])),
                key=lambda k: int(k.rsplit("/", 1)[1]),
            )
            if keys:
                for email in (pairing.mentor.lower(), pairing.mentee.lower()):
                    anchors.setdefault(email, keys[0])
        return anchors

    def _ensure_app(self, now: datetime) -> set[str]:
        """Active participants who have our Teams app, installing it where needed. Installs
        are remembered in the ledger (`app@<e-mail>`), so later runs make no call for them;
        someone who cannot be reached (no Teams licence) is tried again once a week."""
        anchors = self._anchors()
        entries: set[str] = set()
        for values in self._sent().values():
            entries.update(values)
        week = f"@{now:%G-W%V}"
        ready = {e for e in anchors if APP_MARK + e in entries}
        missing = []
        for email in sorted(set(anchors) - ready):
            if f"{UNREACHABLE_MARK}{email}{week}" in entries:
                self.result.unreachable[email] = (
                    "cannot be reached in Teams (no licence or the app cannot be installed; "
                    "checked this week)"
                )
            else:
                missing.append(email)
        if not missing:
            return ready
        policy = self.config.program.nudges
        app_id = policy.teams_app_id if policy else ""
        try:
            catalog = teams.find_catalog_app(self.client, app_id)
        except Forbidden as exc:
            for email in missing:
                self.result.unreachable[email] = (
                    f"cannot look up the Teams app in the org catalog ({exc.short()}): grant "
                    "AppCatalog.Read.All"
                )
            return ready
        if catalog is None:
            for email in missing:
                self.result.unreachable[email] = (
                    f"the Teams app {app_id} is not in the org catalog: upload the package "
                    "from `mentoring teams-app package`"
                )
            return ready
        for email in missing:
            person = self.observed.person(email)
            if person is None:
                self.result.unreachable[email] = "not found in the directory"
                continue
            try:
                if teams.install_app(self.client, person.user_id, str(catalog["id"])):
                    self.result.installed.append(email)
            except Forbidden as exc:
                # No Teams licence (or not allowed): reported, the others go on.
                self.result.unreachable[email] = f"cannot install the Teams app: {exc.message}"
                self.ledger.record(anchors[email], f"{UNREACHABLE_MARK}{email}{week}")
                continue
            self.ledger.record(anchors[email], APP_MARK + email)
            ready.add(email)
        return ready

    def _send(self, nudge: Nudge) -> None:
        person = self.observed.person(nudge.recipient)
        other = self.observed.person(nudge.other)
        if person is None:
            raise GraphClientError(f"{nudge.recipient} is not in the directory")
        pairing = self.config.pairing(nudge.pairing_id)
        spec = next(
            (s for s in pairing.sessions(self.config.program) if s.number == nudge.number), None
        ) if pairing else None
        topic = spec.topic if spec else f"Session {nudge.number}"
        text = self.texts.render(
            nudge, topic=topic, other_name=other.display_name if other else nudge.other,
            phase_label=spec.phase.label if spec else "",
            preferred_language=person.preferred_language,
        )
        session = _live(self.observed.sessions.get(nudge.session_key, []))
        url = self.notes.item_url(nudge.session_key) if nudge.kind.value == "notes-request" \
            else None
        url = url or (session.join_url if session else None) or "https://teams.microsoft.com"
        parameters = {"sessionTitle": text.topic}
        if nudge.kind.activity_type == "sessionReminder":
            parameters["sessionDate"] = text.date
        teams.send_activity_notification(
            self.client, person.user_id, activity_type=nudge.kind.activity_type,
            topic_text=text.topic, web_url=url, preview=text.preview, parameters=parameters,
            pacer=self.pacer,
        )
        log.info("nudge %s sent", nudge.key, extra={"pairing": nudge.pairing_id})

    # -- the program channel ---------------------------------------------------------------

    def _post_summary(self, now: datetime) -> None:
        policy = self.config.program.nudges
        if policy is None or not self.webhook_url:
            return
        period = int((now - EPOCH).total_seconds() // (policy.webhook_period_days * 86400))
        mark = f"{WEBHOOK_MARK}{period}"
        if any(mark in values for values in self._sent().values()):
            return
        anchor = next((k for k in sorted(self.observed.sessions)
                       if _live(self.observed.sessions[k])), None)
        if anchor is None:
            return
        card = summary_card(self.config, self.observed, self.notes, now,
                            timedelta(days=policy.webhook_period_days))
        session = self.client.session
        try:
            teams.post_webhook(session, self.webhook_url, card)
        except (GraphClientError, requests.RequestException) as exc:
            log.error("program summary not posted: %s", type(exc).__name__)
            return
        self.ledger.record(anchor, mark)
        self.result.webhook_posted = True


def summary_card(config: Config, observed: Observed, notes: NotesSource, now: datetime,
                 period: timedelta) -> dict[str, Any]:
    """An Adaptive Card 1.4 with the program's numbers for the program channel."""
    upcoming = held = shared = 0
    for key, found in observed.sessions.items():
        live = _live(found)
        if live is None:
            continue
        if now <= live.start < now + period:
            upcoming += 1
        if live.end <= now:
            held += 1
            if notes.notes(key) == "posted":
                shared += 1
    return {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": "1.4",
        "body": [
            {"type": "TextBlock", "text": config.program.name, "weight": "bolder",
             "size": "medium", "wrap": True},
            {"type": "TextBlock", "text": f"Program summary, {now:%d %b %Y}", "isSubtle": True,
             "spacing": "none"},
            {"type": "FactSet", "facts": [
                {"title": "Active pairs", "value": str(len(config.active_pairings()))},
                {"title": f"Sessions in the next {period.days} days", "value": str(upcoming)},
                {"title": "Sessions held", "value": str(held)},
                {"title": "Notes posted", "value": str(shared)},
            ]},
        ],
    }


def nudge_step(client: GraphClient, config: Config, observed: Observed, plan: Plan,
               now: datetime, templates_dir: Path, *, applied: bool,
               webhook_url: str | None = None, ledger: NudgeLedger | None = None,
               notes: NotesSource | None = None) -> NudgeResult:
    """The run's nudges step (after apply and the records step); a dry run only previews.

    Sessions this run moved or cancelled get only rescheduled notices now: the next run sees
    their new state. A Graph failure here stops the nudges, never the bookings done before.
    """
    if config.program.nudges is None:
        return NudgeResult(applied=applied, skipped="no nudges section in program.yaml")
    changing = {a.key for a in plan.actions if isinstance(a, Move | Cancel)} if applied else set()
    if notes is None:
        settings = config.program.sharepoint
        if settings is None:
            notes = NoNotes()
        else:
            def list_url() -> str | None:
                ref = find_list_ref(client, settings)
                return ref.web_url if ref is not None else None

            notes = RecordNotes(observed.sessions, list_url)
    step = NudgeStep(client, config, observed, NudgeTexts(templates_dir),
                     ledger or EventLedger(client, observed.sessions), notes=notes,
                     webhook_url=webhook_url, changing=changing)
    try:
        return step.run(now) if applied else step.preview(now)
    except GraphClientError as exc:
        log.error("nudges step stopped: %s", exc)
        step.result.skipped = f"stopped: {exc}"
        return step.result


__all__ = ["PENDING", "EventLedger", "NoNotes", "NotesSource", "NudgeResult", "NudgeStep",
           "RecordNotes", "nudge_step", "summary_card"]
