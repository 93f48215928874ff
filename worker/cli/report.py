"""`mentoring report`: what a program admin sends the executive sponsor.

For the whole program: headline numbers (active pairs, sessions held against sessions due so
far, the share held on cadence, notes posted and shared), progress by phase across the cohort,
held sessions over time, the pairs needing attention and why, and the notes the pairs shared.
Per pair: sessions booked, held, declined, rescheduled, cancelled, notes posted, notes shared.
Per session (`--sessions-csv`): one row each, for a spreadsheet. With a `pulse` section, the
session pulse people answered, by phase and by pair (`PulseGroup`), and in the CSV.

The record of what happened is the SharePoint list, read once, page by page (a report may read
the whole list, a run never does). Only items the pair marked "shared with the program" and
that hold notes count as shared; where the program publishes notes with both people's consent
(`publishing`), only the published copies count, and their agreed text is what is quoted.
Three smaller reads add what the list does not hold, each
optional (a report without them still renders, and says what it could not read): the
program's events (unanswered invitations, repeated declines), the directory (names of people
with no session yet) and the participants' time zones (from their free/busy working hours).

The numbers are computed here, as plain values (`build_report` is pure); `worker.cli.report_page`
renders the HTML page from a Jinja2 template a program may replace.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

from graph import sharepoint
from graph.client import GraphClient
from graph.errors import GraphApiError, TransientError
from worker.config import Config, Pairing
from worker.config.pairings import session_key
from worker.config.program import Nudges
from worker.core.notes_list import (
    CANCELLED,
    DECLINED,
    FIT_CHOICES,
    FIT_NO,
    FIT_UNSURE,
    HELD,
    READ_COLUMNS,
    ROLES,
    Pulse,
    pulse_of,
)
from worker.core.phases import Phase
from worker.core.timezones import CustomTimeZone
from worker.core.timezones import zone_label as core_zone_label
from worker.observe.directory import read_people, read_schedules
from worker.observe.events import read_sessions
from worker.observe.notes_list import NotesListUnavailable, require_list
from worker.observe.publishing import read_copies
from worker.observe.state import (
    NONE,
    NOT_RESPONDED,
    NotesList,
    ObservedSession,
    item_order,
    live_event,
)
from worker.plan.health import LOW_PULSE, NOT_A_GOOD_FIT, pair_health
from worker.plan.items import count_of, has_notes, notes_text, parse_instant
from worker.plan.nudges import declined_slots, invitation_sent


class ReportError(Exception):
    """The report cannot be made (no list yet, no permission): the message says why."""


@dataclass
class Tally:
    """Counts for one pair, or for the program (pairing_id "ALL")."""

    pairing_id: str
    mentor: str = ""
    mentee: str = ""
    booked: int = 0
    held: int = 0
    declined: int = 0
    rescheduled: int = 0
    cancelled: int = 0
    notes_posted: int = 0
    notes_missing: int = 0
    notes_shared: int = 0
    needs_attention: int = 0

    def add(self, item: dict[str, Any], published: Mapping[str, Any] | None = None) -> None:
        status = item.get("SessionStatus")
        self.booked += 1
        self.held += status == HELD
        self.declined += status == DECLINED
        self.cancelled += status == CANCELLED
        try:
            self.rescheduled += float(item.get("RescheduleCount") or 0) > 0
        except (TypeError, ValueError):
            pass
        posted = has_notes(item.get("Notes"))
        self.notes_posted += posted
        self.notes_missing += status == HELD and not posted
        self.notes_shared += posted and is_shared(item, published)
        self.needs_attention += bool(str(item.get("Attention") or "").strip())


def is_shared(values: Mapping[str, Any], published: Mapping[str, Any] | None) -> bool:
    """Whether a session's notes are shared with the program: published with both people's
    consent where the program publishes notes (`published`: the copies by session key), else
    marked "shared with the program" by the pair."""
    if published is not None:
        return str(values.get("SessionKey") or "") in published
    return values.get("SharedWithProgram") is True


COUNT_COLUMNS = ("booked", "held", "declined", "rescheduled", "cancelled", "notes_posted",
                 "notes_missing", "notes_shared", "needs_attention")

# A session that has an event but no list item yet, and one with neither (the CSV's status).
BOOKED_NO_ITEM = "Scheduled"
NOT_BOOKED = "Not booked"
# Shared notes are shown with this much of their text.
EXCERPT_CHARS = 240
# More weeks than this in the chart: one bar per month instead.
MAX_WEEKS = 26


@dataclass(frozen=True)
class Attention:
    """A session the program team must look at, and why (the worker writes it on the item)."""

    pairing_id: str
    title: str
    text: str
    key: str = ""  # the session's key


@dataclass(frozen=True)
class SharedNote:
    title: str
    pairing_id: str
    url: str
    mentor: str = ""
    mentee: str = ""
    topic: str = ""
    number: int = 0
    start: datetime | None = None
    excerpt: str = ""

    @property
    def link(self) -> str:
        """The item's address when it is one a reader can follow (https), else empty."""
        return self.url if self.url.startswith("https://") else ""


@dataclass(frozen=True)
class SessionRow:
    """One session of one pair: what the list (and the calendar) say about it."""

    pairing_id: str
    mentor: str
    mentee: str
    mentor_email: str
    mentee_email: str
    number: int
    total: int
    topic: str
    phase: str
    status: str
    start: datetime | None
    end: datetime | None
    target: date | None  # the day the cadence puts it on (see `Headline`)
    due: bool
    on_cadence: bool | None  # held sessions only
    notes_posted: bool
    shared: bool
    url: str
    pairing_status: str = "active"
    mentor_zone: str = ""
    mentee_zone: str = ""
    # What the two people answered to the session pulse.
    pulse: Pulse = field(default_factory=Pulse)


@dataclass(frozen=True)
class Headline:
    """The program's numbers on one line each.

    - a session is *due* when it is held, or when its pair is active and the last day the
      cadence allows for it has passed: its target day plus `tolerance_days`. The target of
      session 1 is the pairing's start; of each later one, the start of the session before
      plus `every_days` (as the worker books them);
    - a held session is *on cadence* when it took place within `tolerance_days` of its target.
    """

    pairs: int
    active_pairs: int
    paused_pairs: int
    ended_pairs: int
    held: int
    due: int
    upcoming: int
    on_cadence: int
    notes_posted: int
    notes_shared: int
    notes_missing: int
    every_days: int
    tolerance_days: int

    @property
    def held_share(self) -> float | None:
        return self.held / self.due if self.due else None

    @property
    def on_cadence_share(self) -> float | None:
        return self.on_cadence / self.held if self.held else None


@dataclass(frozen=True)
class PhaseProgress:
    phase: str
    label: str
    held: int
    due: int
    total: int  # sessions of this phase across the pairs counted (active, or with one held)


@dataclass(frozen=True)
class Period:
    """One bar of the chart: held sessions in a week (starting Monday) or a month."""

    start: date
    label: str
    held: int


# A pair whose average usefulness is below this is one to look at.
PULSE_LOW = 3.0


@dataclass(frozen=True)
class PulseGroup:
    """The session pulse of one phase or one pair: average usefulness (1-5) over the answers
    given, how many, the words people chose, and the fit answers by choice."""

    key: str  # the phase's value, or the pairing id
    label: str
    average: float | None
    answers: int
    words: tuple[str, ...] = ()
    fit: tuple[tuple[str, int], ...] = ()  # (choice, count) in FIT_CHOICES order

    @property
    def fit_text(self) -> str:
        return ", ".join(f"{choice} {count}" for choice, count in self.fit if count)


@dataclass(frozen=True)
class PairAttention:
    """A pair the program team should look at, with every reason found."""

    pairing_id: str
    mentor: str
    mentee: str
    reasons: tuple[str, ...]


@dataclass
class Report:
    program_id: str
    program_name: str
    generated: datetime
    pairs: list[Tally]
    total: Tally
    shared: list[SharedNote]
    list_url: str = ""
    attention: list[Attention] = field(default_factory=list)
    sessions: list[SessionRow] = field(default_factory=list)
    headline: Headline | None = None
    phases: list[PhaseProgress] = field(default_factory=list)
    periods: list[Period] = field(default_factory=list)
    period_kind: str = "week"
    pairs_attention: list[PairAttention] = field(default_factory=list)
    # The session pulse (None: the program does not ask it), by phase and by pair.
    pulse_phases: list[PulseGroup] | None = None
    pulse_pairs: list[PulseGroup] = field(default_factory=list)
    publishing: bool = False  # "shared" means published with both people's consent
    # What could not be read (the calendar, the directory, the zones) and what that leaves out.
    gaps: list[str] = field(default_factory=list)

    def pair_label(self, tally: Tally) -> str:
        if tally.mentor or tally.mentee:
            return f"{tally.mentor or tally.pairing_id} and {tally.mentee or tally.pairing_id}"
        return tally.pairing_id


@dataclass(frozen=True)
class Extras:
    """What the report reads besides the list; each None when not read."""

    events: Mapping[str, Sequence[ObservedSession]] | None = None
    names: Mapping[str, str] | None = None  # lower-cased e-mail -> display name
    zones: Mapping[str, str] | None = None  # lower-cased e-mail -> IANA zone name
    gaps: tuple[str, ...] = ()
    # Where the program publishes notes with consent: session key -> the published copy (its
    # item JSON). The report counts and quotes those, never the pair's working text.
    published: Mapping[str, Mapping[str, Any]] | None = None


def build_report(items: Iterable[dict[str, Any]], config: Config, generated: datetime,
                 list_url: str = "", extras: Extras | None = None) -> Report:
    """Pure: item JSON (with `fields`) -> the report. Items of other programs are ignored."""
    extras = extras or Extras()
    pairs: dict[str, Tally] = {
        p.id: Tally(p.id, p.mentor, p.mentee) for p in config.pairings
    }
    total = Tally("ALL")
    shared_items: list[dict[str, Any]] = []
    attention: list[Attention] = []
    by_key: dict[str, dict[str, Any]] = {}
    for item, seconds in _per_session(items, config.program.id):
        values = item.get("fields") or {}
        pairing_id = str(values.get("PairingId") or "")
        by_key[str(values.get("SessionKey") or "")] = item
        tally = pairs.setdefault(pairing_id, Tally(pairing_id))
        if values.get("MentorName"):
            tally.mentor = str(values["MentorName"])
        if values.get("MenteeName"):
            tally.mentee = str(values["MenteeName"])
        tally.add(values, extras.published)
        total.add(values, extras.published)
        if has_notes(values.get("Notes")) and is_shared(values, extras.published):
            shared_items.append(_as_published(item, extras.published))
        if str(values.get("Attention") or "").strip():
            attention.append(Attention(pairing_id, str(values.get("Title") or
                                                       values.get("SessionKey")),
                                       str(values["Attention"]).strip(),
                                       str(values.get("SessionKey") or "")))
        if seconds:
            ids = ", ".join(str(other.get("id", "")) for other in seconds)
            attention.append(Attention(
                pairing_id, str(values.get("Title") or values.get("SessionKey")),
                f"more than one item for this session (also {ids}; item {item.get('id', '')} "
                "counts): `mentoring sharepoint dedupe` removes copies nobody edited; merge "
                "the others by hand", str(values.get("SessionKey") or "")))
    names = _names(by_key.values(), extras)
    for pairing in config.pairings:
        # Names as people know them: the directory's, else the address (never the slug).
        tally = pairs[pairing.id]
        tally.mentor = names.get(pairing.mentor.lower(), tally.mentor or pairing.mentor)
        tally.mentee = names.get(pairing.mentee.lower(), tally.mentee or pairing.mentee)
    rows = _session_rows(config, by_key, extras, names, generated)
    report = Report(config.program.id, config.program.name, generated,
                    [pairs[k] for k in sorted(pairs)], total, [], list_url,
                    sorted(attention, key=lambda a: (a.pairing_id, a.title)), rows,
                    gaps=list(extras.gaps))
    report.publishing = extras.published is not None
    report.shared = [_shared_note(item, pairs) for item in shared_items]
    report.shared.sort(key=lambda n: (n.start or generated, n.pairing_id, n.number),
                       reverse=True)
    report.headline = _headline(config, rows, total)
    report.phases = _phases(rows)
    report.periods, report.period_kind = _periods(config, rows, generated)
    if config.program.pulse is not None:
        report.pulse_phases = [
            _pulse_group(phase.value, phase.label, [r for r in rows if r.phase == phase.label])
            for phase in Phase]
        report.pulse_pairs = [
            _pulse_group(t.pairing_id, report.pair_label(t),
                         [r for r in rows if r.pairing_id == t.pairing_id])
            for t in report.pairs]
    report.pairs_attention = _pairs_attention(config, rows, by_key, attention, extras, pairs,
                                              generated, report.pulse_pairs)
    return report


def _pulse_group(key: str, label: str, rows: Sequence[SessionRow]) -> PulseGroup:
    answers = [row.pulse.of(role) for row in rows for role in ROLES]
    scores = [a.score for a in answers if a.score is not None]
    words = tuple(dict.fromkeys(a.word for a in answers if a.word))
    fits = [a.fit for a in answers if a.fit is not None]
    return PulseGroup(key, label, round(sum(scores) / len(scores), 2) if scores else None,
                      len(scores), words,
                      tuple((choice, fits.count(choice)) for choice in FIT_CHOICES))


def _per_session(items: Iterable[dict[str, Any]], program_id: str,
                 ) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """This program's items, one per session (the oldest counts), with any second items."""
    by_key: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        values = item.get("fields") or {}
        if values.get("ProgramId") == program_id:
            key = str(values.get("SessionKey") or f"item {item.get('id', '')}")
            by_key.setdefault(key, []).append(item)
    found = []
    for key in sorted(by_key):
        ordered = sorted(by_key[key], key=item_order)
        found.append((ordered[0], ordered[1:]))
    return found


def _names(items: Iterable[dict[str, Any]], extras: Extras) -> dict[str, str]:
    """Lower-cased e-mail -> display name: the directory's when read, else the names the
    items and invitations were written with (the directory's at the time)."""
    found: dict[str, str] = {}
    for events in (extras.events or {}).values():
        for session in events:
            for attendee in session.attendees:
                if attendee.name and attendee.name.lower() != attendee.email.lower():
                    found.setdefault(attendee.email.lower(), attendee.name)
    for item in items:
        values = item.get("fields") or {}
        for email, name in ((values.get("MentorEmail"), values.get("MentorName")),
                            (values.get("MenteeEmail"), values.get("MenteeName"))):
            if email and name and str(name).lower() != str(email).lower():
                found[str(email).lower()] = str(name)
    for email, name in (extras.names or {}).items():
        if name and name.lower() != email.lower():
            found[email.lower()] = name
    return found


def _session_rows(config: Config, by_key: Mapping[str, dict[str, Any]], extras: Extras,
                  names: Mapping[str, str], now: datetime) -> list[SessionRow]:
    program = config.program
    every = timedelta(days=program.cadence.every_days)
    tolerance = timedelta(days=program.cadence.tolerance_days)
    zones = extras.zones or {}
    rows: list[SessionRow] = []
    seen: set[str] = set()
    for pairing in config.pairings:
        mentor = names.get(pairing.mentor.lower(), pairing.mentor)
        mentee = names.get(pairing.mentee.lower(), pairing.mentee)
        target: date | None = None
        previous: datetime | None = None
        for spec in pairing.sessions(program):
            key = session_key(program.id, pairing.id, spec.number)
            seen.add(key)
            item = by_key.get(key)
            values = (item or {}).get("fields") or {}
            event = live_event((extras.events or {}).get(key, ()))
            start = parse_instant(values.get("SessionStart")) or (event.start if event else None)
            end = parse_instant(values.get("SessionEnd")) or (event.end if event else None)
            if item is not None:
                status = str(values.get("SessionStatus") or BOOKED_NO_ITEM)
            else:
                status = BOOKED_NO_ITEM if event is not None else NOT_BOOKED
            if spec.number == 1:
                target = pairing.start
            elif previous is not None:
                target = previous.astimezone(UTC).date() + every
            elif target is not None:
                target = target + every
            held = status == HELD
            due = held or (pairing.status == "active" and target is not None
                           and target + tolerance < now.date())
            on_cadence = None
            if held and start is not None and target is not None:
                on_cadence = abs(start.astimezone(UTC).date() - target) <= tolerance
            posted = has_notes(values.get("Notes"))
            rows.append(SessionRow(
                pairing.id, mentor, mentee, pairing.mentor, pairing.mentee, spec.number,
                spec.total, spec.topic, spec.phase.label, status, start, end, target, due,
                on_cadence, posted, posted and is_shared(values, extras.published),
                str((item or {}).get("webUrl") or ""), pairing.status,
                zones.get(pairing.mentor.lower(), ""), zones.get(pairing.mentee.lower(), ""),
                pulse_of(values)))
            previous = start
    for key, item in sorted(by_key.items()):
        if key in seen:
            continue  # a pairing no longer in the config: shown as the list holds it
        values = item.get("fields") or {}
        pairing_id = str(values.get("PairingId") or "")
        status = str(values.get("SessionStatus") or "")
        posted = has_notes(values.get("Notes"))
        rows.append(SessionRow(
            pairing_id, str(values.get("MentorName") or pairing_id),
            str(values.get("MenteeName") or pairing_id), str(values.get("MentorEmail") or ""),
            str(values.get("MenteeEmail") or ""), count_of(values.get("SessionNumber")),
            len(program.curriculum), str(values.get("Topic") or ""),
            str(values.get("Phase") or ""), status, parse_instant(values.get("SessionStart")),
            parse_instant(values.get("SessionEnd")), None, status == HELD, None, posted,
            posted and is_shared(values, extras.published), str(item.get("webUrl") or ""),
            "removed", pulse=pulse_of(values)))
    return rows


def _headline(config: Config, rows: Sequence[SessionRow], total: Tally) -> Headline:
    statuses = [p.status for p in config.pairings]
    held = [r for r in rows if r.status == HELD]
    return Headline(
        pairs=len(config.pairings),
        active_pairs=statuses.count("active"),
        paused_pairs=statuses.count("paused"),
        ended_pairs=statuses.count("ended"),
        held=len(held),
        due=sum(1 for r in rows if r.due),
        upcoming=sum(1 for r in rows if r.status not in (HELD, CANCELLED, DECLINED, NOT_BOOKED)
                     and r.pairing_status == "active"),
        on_cadence=sum(1 for r in held if r.on_cadence),
        notes_posted=total.notes_posted,
        notes_shared=total.notes_shared,
        notes_missing=total.notes_missing,
        every_days=config.program.cadence.every_days,
        tolerance_days=config.program.cadence.tolerance_days,
    )


def _phases(rows: Sequence[SessionRow]) -> list[PhaseProgress]:
    counted = [r for r in rows if r.pairing_status == "active" or r.status == HELD]
    found = []
    for phase in Phase:
        mine = [r for r in counted if r.phase == phase.label]
        found.append(PhaseProgress(phase.value, phase.label,
                                   sum(1 for r in mine if r.status == HELD),
                                   sum(1 for r in mine if r.due), len(mine)))
    return found


def _periods(config: Config, rows: Sequence[SessionRow], now: datetime,
             ) -> tuple[list[Period], str]:
    """Held sessions per week (per month past `MAX_WEEKS` weeks), from the program's first
    start (or first held session) to the week of the report; empty weeks included."""
    held = [r.start.astimezone(UTC).date() for r in rows if r.status == HELD and r.start]
    starts = [p.start for p in config.pairings] + held
    if not starts:
        return [], "week"
    first, last = min(starts), max([now.date(), *held])
    if first > last:
        return [], "week"
    monday = first - timedelta(days=first.weekday())
    weeks = (last - monday).days // 7 + 1
    if weeks <= MAX_WEEKS:
        periods = []
        for index in range(weeks):
            begin = monday + timedelta(weeks=index)
            count = sum(1 for day in held if begin <= day < begin + timedelta(weeks=1))
            periods.append(Period(begin, begin.strftime("%d %b"), count))
        return periods, "week"
    periods = []
    month = date(first.year, first.month, 1)
    while month <= last:
        following = date(month.year + month.month // 12, month.month % 12 + 1, 1)
        count = sum(1 for day in held if month <= day < following)
        periods.append(Period(month, month.strftime("%b %Y"), count))
        month = following
    return periods, "month"


def _as_published(item: dict[str, Any], published: Mapping[str, Mapping[str, Any]] | None
                  ) -> dict[str, Any]:
    """The item as the program may quote it: with publishing, the agreed text of the copy
    and the copy's address (readers of the published list cannot open the pair's item)."""
    if published is None:
        return item
    values = item.get("fields") or {}
    copy = published.get(str(values.get("SessionKey") or "")) or {}
    copied = copy.get("fields") or {}
    return {**item, "webUrl": copy.get("webUrl") or "",
            "fields": {**values, "Notes": copied.get("Notes")}}


def _shared_note(item: dict[str, Any], pairs: Mapping[str, Tally]) -> SharedNote:
    values = item.get("fields") or {}
    pairing_id = str(values.get("PairingId") or "")
    tally = pairs.get(pairing_id)
    return SharedNote(
        title=str(values.get("Title") or values.get("SessionKey")),
        pairing_id=pairing_id,
        url=str(item.get("webUrl") or ""),
        mentor=tally.mentor if tally else str(values.get("MentorName") or ""),
        mentee=tally.mentee if tally else str(values.get("MenteeName") or ""),
        topic=str(values.get("Topic") or ""),
        number=count_of(values.get("SessionNumber")),
        start=parse_instant(values.get("SessionStart")),
        excerpt=excerpt(values.get("Notes")),
    )


def excerpt(notes: Any, limit: int = EXCERPT_CHARS) -> str:
    """The notes' text (rich text without its markup), cut at a word near `limit`."""
    text = notes_text(notes)
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0] or text[:limit]
    return cut.rstrip(",.;:") + "…"


def _pairs_attention(config: Config, rows: Sequence[SessionRow],
                     by_key: Mapping[str, dict[str, Any]], attention: Sequence[Attention],
                     extras: Extras, pairs: Mapping[str, Tally], now: datetime,
                     pulse: Sequence[PulseGroup] = (),
                     ) -> list[PairAttention]:
    """Every reason to look at a pair: paused, what the worker wrote on its items (a decline
    past the move limit, a person gone from the directory, no time that fits), declined again
    and again, invitations unanswered past the nudge's delay, notes missing after a held
    session, sessions due and not held; with the session pulse, a "No" or "Not sure" to "a
    good fit?" and an average usefulness below `PULSE_LOW`."""
    policy = config.program.nudges or Nudges()
    unanswered_after = timedelta(hours=policy.unanswered_after_hours)
    # The mentor was asked at least twice (the first request and one more) by then.
    notes_after = timedelta(hours=policy.notes_request_after_hours,
                            days=policy.notes_request_every_days)
    reasons: dict[str, list[str]] = {}

    def add(pairing_id: str, text: str) -> None:
        found = reasons.setdefault(pairing_id, [])
        if text not in found:
            found.append(text)

    for pairing in config.pairings:
        if pairing.status == "paused":
            add(pairing.id, "paused in the config: nothing is booked until it is active again")
    names = {row.mentor_email.lower(): row.mentor for row in rows}
    names.update({row.mentee_email.lower(): row.mentee for row in rows})
    told: set[str] = set()  # session keys whose item already says what is wrong
    for note in attention:
        add(note.pairing_id, _readable(note, by_key, names))
        told.add(note.key)
    by_pair: dict[str, list[SessionRow]] = {}
    for row in rows:
        by_pair.setdefault(row.pairing_id, []).append(row)
    for pairing in config.pairings:
        mine = by_pair.get(pairing.id, [])
        for row in mine:
            key = session_key(config.program.id, pairing.id, row.number)
            event = live_event((extras.events or {}).get(key, ()))
            values = (by_key.get(key) or {}).get("fields") or {}
            if event is not None:
                declines = len(declined_slots(event.nudges))
                if declines >= 2 and key not in told:
                    add(pairing.id, f"session {row.number} declined {declines} times")
                if key not in told:  # the worker's own "has not answered" comes first
                    for line in _unanswered(event, pairing, row, now, unanswered_after):
                        add(pairing.id, line)
            elif extras.events is None and count_of(values.get("RescheduleCount")) >= 2:
                add(pairing.id, f"session {row.number} rescheduled "
                    f"{count_of(values.get('RescheduleCount'))} times")
            if (row.status == HELD and not row.notes_posted and row.end is not None
                    and now - row.end >= notes_after):
                days = (now - row.end).days
                add(pairing.id, f"session {row.number} held on {_day(row.end)}: no notes "
                    f"after {days} day{'s' if days != 1 else ''}")
            if pulse:
                for role, name in zip(ROLES, (row.mentor, row.mentee), strict=True):
                    fit = row.pulse.of(role).fit
                    if fit in (FIT_NO, FIT_UNSURE):
                        add(pairing.id, f'session {row.number}: {name} answered "{fit}" to '
                            '"is this a good fit?"')
        if pairing.status != "active":
            continue
        low = next((g for g in pulse if g.key == pairing.id), None)
        if low is not None and low.average is not None and low.average < PULSE_LOW:
            add(pairing.id, f"session pulse: usefulness {low.average:g} of 5 on average "
                f"({low.answers} answer{'s' if low.answers != 1 else ''})")
        late = [r for r in mine if r.due and r.status != HELD]
        if late:
            numbers = ", ".join(str(r.number) for r in late)
            add(pairing.id, f"behind the cadence: session{'s' if len(late) > 1 else ''} "
                f"{numbers} due and not held")
    # The people's own answers, as the weekly digest reads them (`worker.plan.health`): the
    # report's other reasons keep their own wording and delays (the nudges' timing).
    items = {key: item.get("fields") or {} for key, item in by_key.items()}
    for pair in pair_health(config, extras.events or {}, items, {}, now, names=names):
        for finding in pair.findings:
            if finding.rule in (LOW_PULSE, NOT_A_GOOD_FIT):
                add(pair.pairing_id, finding.reason)
    found = []
    for pairing_id in sorted(reasons):
        tally = pairs.get(pairing_id)
        found.append(PairAttention(pairing_id, tally.mentor if tally else pairing_id,
                                   tally.mentee if tally else pairing_id,
                                   tuple(reasons[pairing_id])))
    return found


def _readable(note: Attention, by_key: Mapping[str, dict[str, Any]],
              names: Mapping[str, str]) -> str:
    """What the worker wrote on an item, for a reader: "session 3: declined by Elena Rossi
    after 3 moves; ..." (the item's title and the worker's own prefix left out)."""
    values = (by_key.get(note.key) or {}).get("fields") or {}
    number = count_of(values.get("SessionNumber"))
    text = re.sub(r"^(session \d+ )?needs attention: ", "", note.text)
    for email, name in names.items():
        if email and name and email != name.lower():
            text = re.sub(re.escape(email), name, text, flags=re.IGNORECASE)
    return f"session {number}: {text}" if number else f"{note.title}: {text}"


def _unanswered(event: ObservedSession, pairing: Pairing, row: SessionRow, now: datetime,
                after: timedelta) -> list[str]:
    if event.start <= now or event.is_cancelled or event.declined_by():
        return []  # declined: being moved, or the admin's already
    sent = invitation_sent(event.created or event.start, event.nudges, event.start)
    assert sent is not None  # a creation time is always given here
    if now - sent < after:
        return []
    lines = []
    for email, name in ((pairing.mentor, row.mentor), (pairing.mentee, row.mentee)):
        state = event.response_of(email)
        if state is not None and state.response in (NONE, NOT_RESPONDED):
            days = (now - sent).days
            lines.append(f"session {row.number}: {name} has not answered the invitation "
                         f"sent {days} day{'s' if days != 1 else ''} ago")
    return lines


def _day(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%d %b %Y")


def read_report(client: GraphClient, config: Config, generated: datetime, *,
                details: bool = True) -> Report:
    """The report from the notes list; with `details`, also the events, the names of people
    not in the list and everyone's time zone (each left out, and named, if it cannot be read).
    """
    settings = config.program.sharepoint
    if settings is None:
        raise ReportError("program.yaml has no sharepoint section: there is no list to report")
    try:
        ref = require_list(client, settings)
    except NotesListUnavailable as exc:
        raise ReportError(str(exc)) from exc
    items = list(sharepoint.all_items(client, ref.site_id, ref.list_id, select=READ_COLUMNS))
    extras = read_extras(client, config, items, generated) if details else Extras()
    if config.program.publishing is not None:
        extras = replace(extras, published=read_published(client, config, ref))
    return build_report(items, config, generated, ref.web_url, extras)


def read_published(client: GraphClient, config: Config, ref: NotesList
                   ) -> Mapping[str, Mapping[str, Any]]:
    """The program's published copies by session key (empty when the list is not there
    yet: nothing is published then)."""
    settings, publishing = config.program.sharepoint, config.program.publishing
    assert settings is not None and publishing is not None
    found = sharepoint.find_list(client, ref.site_id, publishing.list)
    if found is None:
        return {}
    return read_copies(client, NotesList(ref.site_id, str(found["id"])), config.program.id)


def read_extras(client: GraphClient, config: Config, items: Sequence[dict[str, Any]],
                now: datetime) -> Extras:
    gaps: list[str] = []
    events: dict[str, list[ObservedSession]] | None = None
    try:
        events = read_sessions(client, config)
    except (GraphApiError, TransientError) as exc:
        gaps.append(f"the program's events could not be read ({_short(exc)}): unanswered "
                    "invitations and repeated declines are not shown")
    known = {str(v).lower() for item in items
             for v in ((item.get("fields") or {}).get("MentorEmail"),
                       (item.get("fields") or {}).get("MenteeEmail")) if v}
    unnamed = [e for e in config.participants() if e.lower() not in known]
    names: dict[str, str] = {}
    if unnamed:
        try:
            people, _ = read_people(client, unnamed)
            names = {email: person.display_name for email, person in people.items()}
        except (GraphApiError, TransientError) as exc:
            gaps.append(f"the directory could not be read ({_short(exc)}): people with no "
                        "session yet are shown by their address")
    zones: dict[str, str] = {}
    participants = config.participants()
    if participants:
        try:
            schedules, _ = read_schedules(client, config, participants, now,
                                          now + timedelta(minutes=30), interval_minutes=30)
            zones = {email: zone_label(s.zone) for email, s in schedules.items()}
        except (GraphApiError, TransientError) as exc:
            gaps.append(f"time zones could not be read ({_short(exc)}): the sessions CSV "
                        "leaves them empty")
    return Extras(events, names, zones, tuple(gaps))


def zone_label(zone: tzinfo) -> str:
    """The zone as `worker.core.timezones.zone_label` names it ("Europe/Berlin"); a mailbox's
    custom zone with its offset too, which a spreadsheet reader needs beside its name."""
    if isinstance(zone, CustomTimeZone):
        minutes = int(zone.std_offset.total_seconds() // 60)
        sign = "-" if minutes < 0 else "+"
        return (f"{core_zone_label(zone)} (custom, "
                f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d})")
    return core_zone_label(zone)


def _short(exc: Exception) -> str:
    return exc.short() if isinstance(exc, GraphApiError) else type(exc).__name__


# ---------------------------------------------------------------------------------------------
# Renderings


def _rows(report: Report) -> list[Tally]:
    return [*report.pairs, report.total]


def _share(part: int, whole: int) -> str:
    return f"{part} of {whole} ({round(100 * part / whole)} %)" if whole else f"{part} of 0"


def render_text(report: Report) -> str:
    head = ["pairing", *COUNT_COLUMNS]
    rows = [[t.pairing_id, *(str(getattr(t, c)) for c in COUNT_COLUMNS)] for t in _rows(report)]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    lines = [f"{report.program_name} ({report.program_id}), "
             f"{report.generated.strftime('%Y-%m-%d %H:%M UTC')}"]
    top = report.headline
    if top is not None:
        lines.append(f"Active pairs: {top.active_pairs} of {top.pairs}; sessions held: "
                     f"{_share(top.held, top.due)} due so far; on cadence: "
                     f"{_share(top.on_cadence, top.held)} held; notes posted "
                     f"{top.notes_posted}, shared {top.notes_shared}.")
        lines.append("By phase: " + "; ".join(f"{p.label} {p.held}/{p.due}"
                                             for p in report.phases) + " (held/due).")
    if report.pulse_phases is not None:
        lines.append("Session pulse by phase: " + "; ".join(
            _pulse_line(g) for g in report.pulse_phases) + ".")
    for row in [head, *rows]:
        lines.append("  ".join(cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i])
                               for i, cell in enumerate(row)))
    lines.append(f"{len(report.shared)} session note(s) shared with the program.")
    if report.attention:
        lines.append(f"Needs attention ({len(report.attention)}):")
        lines.extend(f"  {a.pairing_id}: {a.title}: {a.text}" for a in report.attention)
    if report.pairs_attention:
        lines.append(f"Pairs to look at ({len(report.pairs_attention)}):")
        for pair in report.pairs_attention:
            lines.append(f"  {pair.pairing_id} ({pair.mentor} and {pair.mentee}): "
                         + "; ".join(pair.reasons))
    lines.extend(f"Not read: {gap}" for gap in report.gaps)
    return "\n".join(lines) + "\n"


def _pulse_line(group: PulseGroup) -> str:
    if group.average is None:
        return f"{group.label} no answers"
    fit = f", fit: {group.fit_text}" if group.fit_text else ""
    return f"{group.label} {group.average:g} of 5 ({group.answers} answers{fit})"


def render_csv(report: Report) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([f.name for f in fields(Tally)])
    for tally in _rows(report):
        writer.writerow([_csv_safe(getattr(tally, f.name)) for f in fields(Tally)])
    return buffer.getvalue()


SESSION_COLUMNS = (
    "pairing_id", "pairing_status", "mentor", "mentor_email", "mentor_zone", "mentee",
    "mentee_email", "mentee_zone", "phase", "session", "of", "topic", "target_date",
    "start_utc", "end_utc", "status", "on_cadence", "notes_posted", "shared", "link",
)
# With a `pulse` section: what each person answered.
PULSE_CSV_COLUMNS = ("mentor_pulse", "mentor_word", "mentor_fit", "mentee_pulse",
                     "mentee_word", "mentee_fit")


def render_sessions_csv(report: Report) -> str:
    """One row per session, for a spreadsheet: UTF-8 with a byte order mark (Excel opens a
    BOM-less file in the machine's ANSI code page and garbles accented names; this file is
    never read back as config), comma-separated, CRLF, times in UTC as `YYYY-MM-DD HH:MM`
    (a form every spreadsheet reads as a date), with each participant's zone beside."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer, lineterminator="\r\n")
    pulse = report.pulse_phases is not None
    columns = SESSION_COLUMNS + (PULSE_CSV_COLUMNS if pulse else ())
    writer.writerow(columns)
    for row in report.sessions:
        cells: dict[str, Any] = {
            "pairing_id": row.pairing_id, "pairing_status": row.pairing_status,
            "mentor": row.mentor, "mentor_email": row.mentor_email,
            "mentor_zone": row.mentor_zone, "mentee": row.mentee,
            "mentee_email": row.mentee_email, "mentee_zone": row.mentee_zone,
            "phase": row.phase, "session": row.number, "of": row.total, "topic": row.topic,
            "target_date": row.target.isoformat() if row.target else "",
            "start_utc": _utc(row.start), "end_utc": _utc(row.end), "status": row.status,
            "on_cadence": "" if row.on_cadence is None else ("yes" if row.on_cadence else "no"),
            "notes_posted": "yes" if row.notes_posted else "no",
            "shared": "yes" if row.shared else "no",
            "link": row.url if row.url.startswith("https://") else "",
        }
        for role in ROLES:
            answer = row.pulse.of(role)
            cells[f"{role}_pulse"] = "" if answer.score is None else answer.score
            cells[f"{role}_word"] = answer.word
            cells[f"{role}_fit"] = answer.fit or ""
        writer.writerow([_csv_safe(cells[c]) for c in columns])
    return buffer.getvalue()


def _utc(instant: datetime | None) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if instant else ""


def _csv_safe(value: Any) -> Any:
    # Names come from the directory; a cell starting with = + - @ would be a formula in Excel.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


def render_html(report: Report, templates_dir: Path | None = None) -> str:
    from worker.cli.report_page import render_page

    return render_page(report, templates_dir)


def render(report: Report, fmt: str, templates_dir: Path | None = None) -> str:
    if fmt == "html":
        return render_html(report, templates_dir)
    renderers = {"text": render_text, "csv": render_csv}
    return renderers[fmt](report)


FORMATS: Sequence[str] = ("text", "csv", "html")
