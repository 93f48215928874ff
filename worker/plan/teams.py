"""The Teams stage of a plan: app installs, nudges to send or hold, the program card.

On the projection of the calendar actions and the notes list stage: the nudge policy
(`worker.plan.nudges.decide`) says what is due, this turns it into actions with their rendered
texts, recipients and the ledger each is remembered in. Two pure helpers name the reads the
stage needs, so each is made at most once and only when needed: the working hours of the
people something is due for (`working_hours_needed`), and the Teams catalog when someone needs
the app installed or a nudge goes out (`catalog_needed`). Every nudge opens a Teams deep link
(`_link`): Teams refuses any other link in a notification.

The ledger (`MentoringNudges` on a session's event) holds the keys of nudges sent and markers:
`app@<e-mail>` (our app is installed for the person; on the pair's first live session),
`unreachable@<e-mail>@<ISO week>` (Teams refused the install this week: tried next week),
`webhook/<period>` (the program card of that period was posted), `<nudge key>#pending` (a
rescheduled notice waits for working hours).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from worker.config import Config
from worker.config.templates import Templates
from worker.core.exit_codes import ExitCode
from worker.core.intervals import WorkingHours
from worker.core.teams_links import app_link, is_teams_link, tab_link
from worker.observe.state import Observed, ObservedSession, live_event
from worker.plan.actions import (
    HoldNudge,
    InstallApp,
    Ledger,
    Notice,
    PairProblem,
    PostCard,
    SendNudge,
    TeamsAction,
)
from worker.plan.items import spec_of
from worker.plan.notes_list import NotesListPlan
from worker.plan.nudge_texts import DEFAULT_LANGUAGE, NudgeTexts, local_when
from worker.plan.nudges import PENDING, NotesState, Nudge, NudgeKind, decide
from worker.plan.projection import Projection

APP_MARK = "app@"
UNREACHABLE_MARK = "unreachable@"
WEBHOOK_MARK = "webhook/"
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)  # card periods count from here (any fixed instant)


@dataclass(frozen=True)
class TeamsPlan:
    actions: tuple[TeamsAction, ...] = ()
    problems: tuple[PairProblem, ...] = ()
    notices: tuple[Notice, ...] = ()


class Ledgers:
    """What the projected sessions' ledgers hold, and where each session's ledger is."""

    def __init__(self, projection: Projection) -> None:
        self.projection = projection
        self.live: dict[str, ObservedSession] = {}
        for key, found in projection.sessions.items():
            live = live_event(found)
            if live is not None:
                self.live[key] = live
        self.sent = {key: s.nudges for key, s in self.live.items()}
        self.entries: set[str] = set().union(*self.sent.values()) if self.sent else set()

    def of(self, key: str) -> Ledger:
        session = self.live[key]
        return Ledger(key, session.organizer, self.projection.event_id(session),
                      session.nudges, session.etag)

    def waits_for(self, key: str) -> tuple[str, ...]:
        """A ledger on an event booked in this run can be written once the event exists."""
        return self.projection.after(key) if key in self.projection.booked else ()


def _anchors(config: Config, ledgers: Ledgers) -> dict[str, str]:
    """Each active participant -> the session whose ledger remembers their app install (the
    pair's first live session; people of pairs with nothing booked yet wait)."""
    anchors: dict[str, str] = {}
    by_pairing: dict[str, list[str]] = {}
    for key in ledgers.live:
        by_pairing.setdefault(key.split("/")[1], []).append(key)
    for pairing in config.active_pairings():
        keys = sorted(by_pairing.get(pairing.id, ()), key=lambda k: int(k.rsplit("/", 1)[1]))
        if keys:
            for email in (pairing.mentor.lower(), pairing.mentee.lower(),
                          *([pairing.assistant.lower()] if pairing.assistant else [])):
                anchors.setdefault(email, keys[0])
    return anchors


def _week(now: datetime) -> str:
    return f"@{now:%G-W%V}"


def installs_needed(config: Config, projection: Projection, now: datetime) -> set[str]:
    """People who need our app installed this run (so the catalog must be read)."""
    if config.program.nudges is None:
        return set()
    ledgers = Ledgers(projection)
    week = _week(now)
    return {e for e in _anchors(config, ledgers)
            if APP_MARK + e not in ledgers.entries
            and f"{UNREACHABLE_MARK}{e}{week}" not in ledgers.entries}


def catalog_needed(config: Config, observed: Observed, projection: Projection,
                   notes: NotesListPlan, now: datetime, installs: set[str]) -> bool:
    """Whether the Teams catalog must be read this run: someone needs the app installed
    (`installs`, from `installs_needed`), or a nudge goes out now (its link names the app by its
    catalog id, see `worker.core.teams_links`). Call it once the working hours the policy needs
    are in `observed.schedules`."""
    if config.program.nudges is None:
        return False
    if installs:
        return True
    ledgers = Ledgers(projection)
    reachable = _reachable(config, ledgers, now)
    hours = {e: s.working for e, s in observed.schedules.items() if e in reachable}
    decision = decide(config, _nudge_view(observed, projection), hours, ledgers.sent,
                      notes.notes, now, projection.changing, notes.answers, projection.offers)
    return any(n.recipient in reachable for n in decision.due)


def working_hours_needed(config: Config, observed: Observed, projection: Projection,
                         notes: NotesListPlan, now: datetime) -> set[str]:
    """Recipients the policy has something for whose working hours are not read yet."""
    if config.program.nudges is None:
        return set()
    ledgers = Ledgers(projection)
    first = decide(config, _nudge_view(observed, projection), {}, ledgers.sent, notes.notes,
                   now, projection.changing, notes.answers, projection.offers)
    reachable = _reachable(config, ledgers, now)
    return {e for e in first.unknown_hours if e in reachable and e not in observed.schedules}


def _nudge_view(observed: Observed, projection: Projection
                ) -> dict[str, list[ObservedSession]]:
    """The sessions the nudge policy looks at: as projected, except that a session this run
    moves or cancels is seen as it was, so the decline that moves it is still there for the
    "being rescheduled" notice to the other person (the notice names the declined time); a
    declined session this run cannot move gets no nudge at all (it is the admin's now)."""
    view = dict(projection.sessions)
    for key in projection.changing:
        if key in observed.sessions:
            view[key] = observed.sessions[key]
    for key in projection.unmoved:
        view.pop(key, None)  # not being rebooked: nothing to announce, nothing to remind
    return view


def _reachable(config: Config, ledgers: Ledgers, now: datetime) -> set[str]:
    week = _week(now)
    return {e for e in _anchors(config, ledgers)
            if f"{UNREACHABLE_MARK}{e}{week}" not in ledgers.entries}


def plan_teams(config: Config, observed: Observed, projection: Projection,
               notes_plan: NotesListPlan, now: datetime, templates: Templates, *,
               webhook: bool = False) -> TeamsPlan:
    """Installs, then the nudges due now (each after its install) or held, then the card."""
    policy = config.program.nudges
    if policy is None:
        return TeamsPlan()
    ledgers = Ledgers(projection)
    anchors = _anchors(config, ledgers)
    week = _week(now)
    actions: list[TeamsAction] = []
    problems: list[PairProblem] = []
    notices: list[Notice] = []
    ready = {e for e in anchors if APP_MARK + e in ledgers.entries}
    installing: dict[str, InstallApp] = {}
    waiting: list[str] = []
    for email in sorted(set(anchors) - ready):
        pairing_id = anchors[email].split("/")[1]
        if f"{UNREACHABLE_MARK}{email}{week}" in ledgers.entries:
            notices.append(Notice(pairing_id, f"{email} cannot be reached in Teams (no licence "
                                  "or the app cannot be installed; tried this week)"))
            continue
        person = observed.person(email)
        if person is None:
            continue  # the calendar stage already names a person the directory lacks
        if observed.catalog is None:
            waiting.append(email)
            continue
        install = InstallApp(
            pairing_id=pairing_id, key=email, email=email, user_id=person.user_id,
            catalog_id=observed.catalog.catalog_id, ledger=ledgers.of(anchors[email]),
            marker=APP_MARK + email, unreachable_marker=f"{UNREACHABLE_MARK}{email}{week}",
            after=ledgers.waits_for(anchors[email]))
        installing[email] = install
        actions.append(install)
    if waiting:
        reason = observed.catalog_problem or "the Teams app catalog was not read"
        problems.append(PairProblem("", f"Teams: {reason}; waiting for the app: "
                                        + ", ".join(waiting), ExitCode.CONFIG))

    reachable = ready | set(installing)
    hours: dict[str, WorkingHours] = {
        e: s.working for e, s in observed.schedules.items() if e in reachable}
    decision = decide(config, _nudge_view(observed, projection), hours, ledgers.sent,
                      notes_plan.notes, now, projection.changing, notes_plan.answers,
                      projection.offers)
    remembered = {marker for _, marker in decision.remember}
    for email in decision.unknown_hours:
        if email in reachable:
            notices.append(Notice(_pairing_of(config, email),
                                  f"no working hours known for {email}: no nudge sent"))
    for nudge in decision.held:
        if nudge.recipient not in reachable:
            continue
        marker = nudge.key + PENDING
        actions.append(HoldNudge(
            pairing_id=nudge.pairing_id, key=nudge.key, nudge=nudge.kind.value,
            session_key=nudge.session_key, recipient=nudge.recipient, role=nudge.role,
            send_at=nudge.send_at, local_time=_local(nudge), asks=nudge.asks,
            marker=marker if marker in remembered else None, times=_times(nudge),
            ledger=ledgers.of(nudge.session_key), after=ledgers.waits_for(nudge.session_key)))
    texts = NudgeTexts(templates.directory)
    for nudge in decision.due:
        if nudge.recipient not in reachable:
            continue
        person = observed.person(nudge.recipient)
        if person is None or not person.from_directory:
            # Sent by id in their language: without a lookup this run, the next run sends it.
            notices.append(Notice(nudge.pairing_id, f"{nudge.recipient} was not looked up "
                                  f"this run: {nudge.key} waits"))
            continue
        installed_now = installing.get(nudge.recipient)
        after = ledgers.waits_for(nudge.session_key) + (
            (installed_now.id,) if installed_now else ())
        actions.append(_send(config, observed, notes_plan, ledgers, texts, nudge, after))
    if observed.catalog is None and any(isinstance(a, SendNudge) for a in actions):
        notices.append(Notice("", "Teams links name the app by its manifest id, not its catalog "
                              f"id ({observed.catalog_problem or 'the catalog was not read'})"))
    if webhook:
        card = _card(config, ledgers, notes_plan.notes, now)
        if card is not None:
            actions.append(card)
    return TeamsPlan(tuple(actions), tuple(problems), tuple(notices))


def _pairing_of(config: Config, email: str) -> str:
    for pairing in config.active_pairings():
        if email in (pairing.mentor.lower(), pairing.mentee.lower()) or (
                pairing.assistant is not None and email == pairing.assistant.lower()):
            return pairing.id
    return ""


def _times(nudge: Nudge) -> tuple[str, ...]:
    """The free times a reschedule-limit nudge offers, in the recipient's zone, as `plan`
    shows them."""
    return tuple(local_when(t.start, nudge.local_send_at, DEFAULT_LANGUAGE) for t in nudge.times)


def _local(nudge: Nudge) -> str:
    return nudge.describe().rsplit(" at ", 1)[-1]


def _send(config: Config, observed: Observed, notes_plan: NotesListPlan, ledgers: Ledgers,
          texts: NudgeTexts, nudge: Nudge, after: tuple[str, ...]) -> SendNudge:
    person = observed.person(nudge.recipient)
    other = observed.person(nudge.other)
    pairing = config.pairing(nudge.pairing_id)
    spec = spec_of(config, pairing, nudge.number)
    topic = spec.topic if spec else f"Session {nudge.number}"
    text = texts.render(nudge, topic=topic,
                        other_name=other.display_name if other else nudge.other,
                        phase_label=spec.phase.label if spec else "",
                        preferred_language=person.preferred_language if person else None)
    url = _link(config, observed, notes_plan, ledgers.live.get(nudge.session_key), nudge,
                label=text.topic)
    parameters = {"sessionTitle": text.topic}
    if nudge.kind.activity_type == "sessionReminder":
        parameters["sessionDate"] = text.date
    return SendNudge(
        pairing_id=nudge.pairing_id, key=nudge.key, nudge=nudge.kind.value,
        session_key=nudge.session_key, recipient=nudge.recipient, role=nudge.role,
        user_id=person.user_id if person else "", activity_type=nudge.kind.activity_type,
        topic=text.topic, web_url=url, preview=text.preview, parameters=parameters,
        local_time=_local(nudge), asks=nudge.asks, ledger=ledgers.of(nudge.session_key),
        after=after, times=_times(nudge))


def _app_id(config: Config, observed: Observed) -> str:
    """The id Teams knows our app by in links: the org catalog's id when the catalog was read,
    else the manifest id (what Teams uses for an app uploaded by a person, not the catalog)."""
    if observed.catalog is not None:
        return observed.catalog.catalog_id
    return config.program.nudges.teams_app_id if config.program.nudges else ""


def _link(config: Config, observed: Observed, notes_plan: NotesListPlan,
          session: ObservedSession | None, nudge: Nudge, *, label: str) -> str:
    """Where a nudge opens, always inside Teams: the session's meeting when its join link is a
    Teams deep link (all but the notes request), else the session's item through the app's
    notes tab (`worker.core.teams_links`); the app itself for a program without a notes list.

    The reschedule-limit nudge asks an assistant to open the invite and propose a time. The
    event's `webLink` is not used for it: it is an Outlook on the web address of the
    organizer's copy (`https://outlook.office365.com/owa/?itemid=...`), which an attendee cannot
    open, and not a Teams deep link, which a `text` topic's `webUrl` must be. The meeting's
    join link is a Teams deep link every attendee can open, so it is the stricter choice."""
    if nudge.kind is not NudgeKind.notes_request and session is not None \
            and is_teams_link(session.join_url):
        return str(session.join_url)
    app_id = _app_id(config, observed)
    if config.program.sharepoint is None:
        return app_link(app_id)
    item_id = notes_plan.item_ids.get(nudge.session_key)
    item_url = None
    if item_id and observed.notes_list is not None and observed.notes_list.web_url:
        # SharePoint's own form for one item: what a client that cannot show the tab opens.
        item_url = f"{observed.notes_list.web_url.rstrip('/')}/DispForm.aspx?ID={item_id}"
    return tab_link(app_id, label=label, sub_entity_id=item_id, fallback_url=item_url)


def _card(config: Config, ledgers: Ledgers, notes: Mapping[str, NotesState],
          now: datetime) -> PostCard | None:
    policy = config.program.nudges
    if policy is None:
        return None
    period = int((now - EPOCH).total_seconds() // (policy.webhook_period_days * 86400))
    mark = f"{WEBHOOK_MARK}{period}"
    if mark in ledgers.entries:
        return None
    anchor = next((k for k in sorted(ledgers.live)), None)
    if anchor is None:
        return None
    card = summary_card(config, ledgers.projection.sessions, notes, now,
                        timedelta(days=policy.webhook_period_days))
    return PostCard(pairing_id="", key=mark, card=card, ledger=ledgers.of(anchor),
                    after=ledgers.waits_for(anchor))


def summary_card(config: Config, sessions: Mapping[str, list[ObservedSession]],
                 notes: Mapping[str, NotesState], now: datetime,
                 period: timedelta) -> dict[str, Any]:
    """An Adaptive Card 1.4 with the program's numbers for the program channel."""
    upcoming = held = shared = 0
    for key, found in sessions.items():
        live = live_event(found)
        if live is None:
            continue
        if now <= live.start < now + period:
            upcoming += 1
        if live.end <= now:
            held += 1
            if notes.get(key) == "posted":
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
