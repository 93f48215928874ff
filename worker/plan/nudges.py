"""Which Teams nudges are due, to whom, and when they may go out: a pure policy.

Given the sessions Microsoft 365 holds, the pairings, each recipient's working hours (from
`getSchedule`, in their own zone), the nudges already sent (keys read back from Microsoft 365, so
a fresh container knows them) and each session's notes status, `decide` returns the nudges due
now and the ones held until the recipient's working hours. No I/O: `worker.plan.teams` turns
the decision into actions.

Kinds, and the rules (hours and days from `program.yaml`'s `nudges`):
- `reminder`: to mentor and mentee, `reminder_hours_before` the start. When that moment is
  outside the person's working hours it goes at the next working moment, or, when that would
  be at or after the start, at the last working moment before (never at 3 a.m., never late).
- `notes-request`: to the mentor (and the mentee with `notes_request_to_mentee`) once the
  session has ended, `notes_request_after_hours` after the end, then every
  `notes_request_every_days`, at most `notes_request_max` times, only while the notes are
  missing. Sessions whose notes status is unknown get none. With a `pulse` section the request
  also carries the session pulse question (`asks`): to the mentor, and the mentee unless
  `ask_mentee` is false, while that person has not answered it (the fit question after the
  session that closes the trust phase); a person is asked again until they answered and, when
  they are asked for the notes, the notes are posted (the same cadence and limit).
- `invite-unanswered`: to whoever has not answered an upcoming session's invitation
  `unanswered_after_hours` after it was sent.
- `invite-unanswered` also goes to the executive's assistant (`Pairing.assistant`) while the
  executive has not answered; the assistant's own answer never counts for the executive's.
- `reschedule-limit`: to the executive's assistant, once per time of a session that reached
  `max_reschedules` and is still declined: three times both people are free (an `Offer`
  the calendar stage found), so the assistant can propose one.
- `session-rescheduled`: when one person declines, to the other: the session is being rebooked.
  The decline disappears from the calendar once the session is moved (in the same run), so a
  rescheduled nudge held for working hours is remembered as a pending marker in the ledger.

Each nudge has a key `<pairing>/<session>/<kind>/<round>`. The round names the recipient and
the session's start (UTC, compact: `20270111T1400Z@ava@contoso.com`) for the kinds tied to one
booking (a moved session is a new round), or the request number for notes requests
(`2@ava@contoso.com`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from enum import StrEnum
from typing import Literal

from worker.config import Config, Nudges, Pairing, Program, parse_session_key
from worker.core.intervals import Interval, WorkingHours
from worker.core.notes_list import Role
from worker.observe.state import DECLINED, NONE, NOT_RESPONDED, ObservedSession, live_event
from worker.plan.pulse import ASK_FIT, ASK_NOTES, ASK_PULSE, FIT_MARK, fit_asked, pulse_roles

NotesState = Literal["missing", "posted"]
PENDING = "#pending"
# How far around a moment to look for working hours (a long weekend plus holidays).
SEARCH_DAYS = 8
# A reminder is pulled earlier at most this much when the set time falls outside working hours.
MAX_REMINDER_PULL = timedelta(days=3)


class NudgeKind(StrEnum):
    reminder = "reminder"
    notes_request = "notes-request"
    invite_unanswered = "invite-unanswered"
    session_rescheduled = "session-rescheduled"
    reschedule_limit = "reschedule-limit"

    @property
    def activity_type(self) -> str:
        """The activity type the Teams app manifest declares for this kind."""
        return _ACTIVITY_TYPES[self]


_ACTIVITY_TYPES = {
    NudgeKind.reminder: "sessionReminder",
    NudgeKind.notes_request: "notesRequested",
    NudgeKind.invite_unanswered: "inviteUnanswered",
    NudgeKind.session_rescheduled: "sessionRescheduled",
    NudgeKind.reschedule_limit: "newTimeNeeded",
}


@dataclass(frozen=True)
class Nudge:
    key: str
    session_key: str
    pairing_id: str
    number: int
    kind: NudgeKind
    round: str
    recipient: str  # lower-cased e-mail
    role: Literal["mentor", "mentee", "assistant"]
    other: str  # the other person of the pair
    due: datetime  # when the policy wants it (UTC)
    send_at: datetime  # the first moment inside the recipient's working hours (UTC)
    zone: tzinfo
    session_start: datetime
    session_end: datetime
    asks: tuple[str, ...] = ()  # a notes request: ASK_NOTES, ASK_PULSE, ASK_FIT
    times: tuple[Interval, ...] = ()  # the free times a reschedule-limit nudge offers

    @property
    def local_send_at(self) -> datetime:
        return self.send_at.astimezone(self.zone)

    def describe(self) -> str:
        local = self.local_send_at
        label = local.tzname() or ""
        if " " in label or len(label) > 5:  # a custom Outlook zone: show the offset
            label = local.strftime("UTC%z")
        when = f"{local:%a %Y-%m-%d %H:%M} {label}"
        return f"{self.kind.value} to {self.recipient} ({self.role}) at {when}"


@dataclass(frozen=True)
class Offer:
    """A session past its reschedule limit and the free times its executive's assistant is
    offered (found by the calendar stage, from the free/busy the run read)."""

    session: ObservedSession
    times: tuple[Interval, ...]


@dataclass(frozen=True)
class Decision:
    due: tuple[Nudge, ...]  # send now
    held: tuple[Nudge, ...]  # eligible, waiting for the recipient's working hours
    remember: tuple[tuple[str, str], ...] = ()  # (session key, pending marker) to record
    unknown_hours: tuple[str, ...] = field(default=())  # recipients without working hours


def round_of(instant: datetime) -> str:
    """``20270301T0900Z``: the minute, in UTC."""
    at = instant.astimezone(UTC)
    return f"{at.year:04d}{at.month:02d}{at.day:02d}T{at.hour:02d}{at.minute:02d}Z"


INVITED_MARK = "invited@"


def invited_marker(start: datetime, at: datetime) -> str:
    """Ledger entry: the invitation for the session at `start` went out at `at` (a move sends
    a new one; the unanswered-invite nudge counts from then, not from the event's creation)."""
    return f"{INVITED_MARK}{round_of(start)}={round_of(at)}"


def invited_at(entries: Collection[str], start: datetime) -> datetime | None:
    prefix = f"{INVITED_MARK}{round_of(start)}="
    found = [e[len(prefix):] for e in entries if e.startswith(prefix)]
    if not found:
        return None
    return datetime.strptime(max(found), "%Y%m%dT%H%MZ").replace(tzinfo=UTC)


def invitation_sent(created: datetime | None, entries: Collection[str],
                    start: datetime) -> datetime | None:
    """When the invitation for the session at `start` went out: the event's creation, or the
    new invitation of a later move (the ledger `entries` remember it), whichever is later.
    None when Graph gave no creation time."""
    if created is None:
        return None
    if created.tzinfo is None:  # Graph's createdDateTime is UTC, sometimes without Z
        created = created.replace(tzinfo=UTC)
    return max(created, invited_at(entries, start) or created)


RULES_MARK = "rules="


START_MARK = "start="


def rules_entries(entries: Collection[str]) -> set[str]:
    return {e for e in entries if e.startswith(RULES_MARK)}


def start_entries(entries: Collection[str]) -> set[str]:
    return {e for e in entries if e.startswith(START_MARK)}


MOVED_MARK = "moved@"
DECLINED_MARK = "declined@"


def moved_marker(old_start: datetime) -> str:
    """Ledger entry: the session was moved away from `old_start` (counts moves)."""
    return f"{MOVED_MARK}{round_of(old_start)}"


def declined_marker(start: datetime, end: datetime) -> str:
    """Ledger entry: someone declined the session at [start, end): never offered again."""
    return f"{DECLINED_MARK}{round_of(start)}/{round_of(end)}"


def moves_of(entries: Collection[str]) -> int:
    return sum(1 for e in entries if e.startswith(MOVED_MARK))


def declined_slots(entries: Collection[str]) -> tuple[tuple[datetime, datetime], ...]:
    """The times this session was declined at, as the ledger remembers them."""
    found = []
    for entry in sorted(entries):
        if not entry.startswith(DECLINED_MARK):
            continue
        start, _, end = entry[len(DECLINED_MARK):].partition("/")
        try:
            found.append((_stamp(start), _stamp(end)))
        except ValueError:
            continue  # someone else's text in our property: ignore it, keep the rest
    return tuple(found)


def _stamp(text: str) -> datetime:
    return datetime.strptime(text, "%Y%m%dT%H%MZ").replace(tzinfo=UTC)


def limit_round(start: datetime, assistant: str) -> str:
    """The round of the reschedule-limit nudge: the session's time and the assistant."""
    return f"{round_of(start)}@{assistant.lower()}"


def nudge_key(pairing_id: str, number: int, kind: NudgeKind, round_: str) -> str:
    return f"{pairing_id}/{number}/{kind.value}/{round_}"


# ---------------------------------------------------------------------------------------------
# Working hours


def _span(day: date, hours: WorkingHours) -> tuple[datetime, datetime]:
    start = datetime.combine(day, hours.start, tzinfo=hours.zone)
    end_day = day if hours.end > hours.start else day + timedelta(days=1)
    end = datetime.combine(end_day, hours.end, tzinfo=hours.zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def _spans_around(instant: datetime, hours: WorkingHours) -> list[tuple[datetime, datetime]]:
    local_day = instant.astimezone(hours.zone).date()
    spans = []
    for offset in range(-SEARCH_DAYS, SEARCH_DAYS + 1):
        day = local_day + timedelta(days=offset)
        if day.weekday() in hours.days:
            spans.append(_span(day, hours))
    return spans


def in_working_hours(instant: datetime, hours: WorkingHours) -> bool:
    return any(start <= instant < end for start, end in _spans_around(instant, hours))


def next_working_moment(instant: datetime, hours: WorkingHours) -> datetime | None:
    """`instant` when inside working hours, else the start of the next working span."""
    for start, end in _spans_around(instant, hours):
        if end > instant:
            return max(start, instant)
    return None


def last_working_moment(instant: datetime, hours: WorkingHours) -> datetime | None:
    """The latest whole minute at or before `instant` inside working hours."""
    best = None
    for start, end in _spans_around(instant, hours):
        if start <= instant:
            best = min(instant, end - timedelta(minutes=1))
    return best


# ---------------------------------------------------------------------------------------------
# The policy


@dataclass(frozen=True)
class _Pair:
    pairing: Pairing
    mentor: str
    mentee: str
    assistant: str | None = None  # the executive's (the mentee's) assistant

    def role(self, email: str) -> Literal["mentor", "mentee", "assistant"]:
        if email == self.mentor:
            return "mentor"
        return "assistant" if email == self.assistant and email != self.mentee else "mentee"

    def other(self, email: str) -> str:
        """The person a nudge speaks of: the other of the pair; for the assistant, the
        executive they act for."""
        return self.mentee if email in (self.mentor, self.assistant) else self.mentor


def decide(
    config: Config,
    sessions: Mapping[str, list[ObservedSession]],
    hours: Mapping[str, WorkingHours],
    sent: Mapping[str, frozenset[str]],
    notes: Mapping[str, NotesState],
    now: datetime,
    changing: Collection[str] = (),
    answers: Mapping[str, frozenset[str]] | None = None,
    offers: Mapping[str, Offer] | None = None,
) -> Decision:
    """The nudges due now and those held for working hours. Pure.

    `hours` and `sent` are keyed by lower-cased e-mail and session key; a recipient without
    working hours gets nothing (guessing could wake someone at night) and is listed.
    `changing`: session keys this run moves or cancels; they only get rescheduled notices.
    `answers`: session key -> who answered its pulse (`worker.plan.pulse.tag_notes`).
    `offers`: sessions past their reschedule limit, by key, with the times to offer.
    """
    policy = config.program.nudges
    if policy is None:
        return Decision((), ())
    pairs = {
        p.id: _Pair(p, p.mentor.lower(), p.mentee.lower(),
                    p.assistant.lower() if p.assistant else None)
        for p in config.active_pairings()
    }
    due: list[Nudge] = []
    held: list[Nudge] = []
    remember: list[tuple[str, str]] = []
    unknown: set[str] = set()
    for key in sorted(sessions):
        parsed = parse_session_key(key)
        if parsed is None or parsed[0] != config.program.id or parsed[1] not in pairs:
            continue
        pair = pairs[parsed[1]]
        session = live_event(sessions[key])
        if session is None:
            continue
        already = sent.get(key, frozenset())
        seen: set[str] = set()
        for kind, round_, recipient, wanted_at, latest, asks in _wanted(
            config.program, policy, pair, session, already, notes.get(key),
            (answers or {}).get(key, frozenset()), now, key in changing
        ):
            the_key = nudge_key(pair.pairing.id, session.number, kind, round_)
            if the_key in already or the_key in seen:
                continue
            seen.add(the_key)
            person_hours = hours.get(recipient)
            if person_hours is None:
                unknown.add(recipient)
                continue
            send_at = _send_time(kind, wanted_at, latest, person_hours)
            if send_at is None:
                continue
            nudge = Nudge(
                key=the_key, session_key=key, pairing_id=pair.pairing.id, number=session.number,
                kind=kind, round=round_, recipient=recipient, role=pair.role(recipient),
                other=pair.other(recipient), due=wanted_at, send_at=send_at,
                zone=person_hours.zone, session_start=session.start, session_end=session.end,
                asks=asks,
            )
            if send_at > now:
                held.append(nudge)
                if kind is NudgeKind.session_rescheduled and the_key + PENDING not in already:
                    remember.append((key, the_key + PENDING))
            elif latest is None or now < latest:
                due.append(nudge)
    for key, offer in sorted((offers or {}).items()):
        parsed = parse_session_key(key)
        of_pair = pairs.get(parsed[1]) if parsed is not None else None
        if of_pair is None or of_pair.assistant is None or not offer.times:
            continue
        pair, session = of_pair, offer.session
        assistant = of_pair.assistant
        round_ = limit_round(session.start, assistant)
        the_key = nudge_key(pair.pairing.id, session.number, NudgeKind.reschedule_limit, round_)
        if the_key in sent.get(key, frozenset()) or session.start <= now:
            continue
        person_hours = hours.get(assistant)
        if person_hours is None:
            unknown.add(assistant)
            continue
        # Due now: the sooner the assistant proposes a time, the more of the times still hold.
        send_at = _send_time(NudgeKind.reschedule_limit, now, offer.times[0].start,
                             person_hours)
        if send_at is None:
            continue
        nudge = Nudge(
            key=the_key, session_key=key, pairing_id=pair.pairing.id, number=session.number,
            kind=NudgeKind.reschedule_limit, round=round_, recipient=assistant,
            role="assistant", other=pair.mentee, due=now, send_at=send_at,
            zone=person_hours.zone, session_start=session.start, session_end=session.end,
            times=offer.times)
        (held if send_at > now else due).append(nudge)
    return Decision(tuple(due), tuple(held), tuple(remember), tuple(sorted(unknown)))


_Want = tuple[NudgeKind, str, str, datetime, datetime | None, tuple[str, ...]]


def request_asks(program: Program, policy: Nudges, number: int, role: Role,
                 notes: NotesState | None, answers: frozenset[str]) -> tuple[str, ...]:
    """What a notes request to `role` asks for now: the notes while they are missing (the
    mentor's, and the mentee's with `notes_request_to_mentee`), the pulse while the person has
    not given their score, the fit question while they have not answered it after the fit
    session. Empty: nothing to ask."""
    if notes is None:
        return ()  # not held, or the notes status is unknown
    asks = []
    if notes == "missing" and (role == "mentor" or policy.notes_request_to_mentee):
        asks.append(ASK_NOTES)
    if role in pulse_roles(program):
        if role not in answers:
            asks.append(ASK_PULSE)
        if fit_asked(program, number) and role + FIT_MARK not in answers:
            asks.append(ASK_FIT)
    return tuple(asks)


def _wanted(
    program: Program,
    policy: Nudges,
    pair: _Pair,
    session: ObservedSession,
    already: frozenset[str],
    notes: NotesState | None,
    answers: frozenset[str],
    now: datetime,
    changing: bool,
) -> Iterable[_Want]:
    """(kind, round, recipient, wanted at, no later than, what it asks) for each nudge the
    session calls for now, whether or not it was sent already."""
    members = (pair.mentor, pair.mentee)
    decliners = {a.email.lower() for a in session.attendees if a.response == DECLINED}
    if pair.assistant is not None and pair.assistant in decliners:
        decliners.add(pair.mentee)  # the assistant declined for the executive
    declined = bool(decliners & set(members))
    stamp = round_of(session.start)

    # Rescheduled: held notices (pending markers) first, then declines seen now.
    prefix = f"{pair.pairing.id}/{session.number}/{NudgeKind.session_rescheduled.value}/"
    for entry in sorted(already):
        if entry.startswith(prefix) and entry.endswith(PENDING):
            round_, _, recipient = entry[len(prefix) : -len(PENDING)].partition("@")
            if recipient in members and session.start > now:
                yield (NudgeKind.session_rescheduled, f"{round_}@{recipient}", recipient,
                       now, session.start, ())
    if declined and session.start > now:
        for recipient in members:
            if recipient not in decliners:
                yield (NudgeKind.session_rescheduled, f"{stamp}@{recipient}", recipient, now,
                       None, ())
    if declined or changing:
        return  # being rebooked: no reminder or answer nudge for this time

    if session.start > now:
        reminder_at = session.start - timedelta(hours=policy.reminder_hours_before)
        if now >= reminder_at - MAX_REMINDER_PULL:
            for recipient in members:
                yield (NudgeKind.reminder, f"{stamp}@{recipient}", recipient, reminder_at,
                       session.start, ())
        sent_at = invitation_sent(session.created, already, session.start)
        if sent_at is not None:
            ask_at = sent_at + timedelta(hours=policy.unanswered_after_hours)
            if now >= ask_at:
                for recipient in members:
                    state = session.response_of(recipient)
                    if state is not None and state.response in (NONE, NOT_RESPONDED):
                        yield (NudgeKind.invite_unanswered, f"{stamp}@{recipient}", recipient,
                               ask_at, session.start, ())
                        if recipient == pair.mentee and pair.assistant is not None:
                            # Only the executive's own answer counts: the assistant, who
                            # runs their calendar, is asked to see to it.
                            yield (NudgeKind.invite_unanswered, f"{stamp}@{pair.assistant}",
                                   pair.assistant, ask_at, session.start, ())
        return

    if session.end <= now and policy.notes_request_max > 0:
        first = session.end + timedelta(hours=policy.notes_request_after_hours)
        for recipient in members:
            role: Role = "mentor" if recipient == pair.mentor else "mentee"
            asks = request_asks(program, policy, session.number, role, notes, answers)
            if not asks:
                continue
            done = sum(
                1 for entry in already
                if entry.startswith(
                    f"{pair.pairing.id}/{session.number}/{NudgeKind.notes_request.value}/"
                )
                and entry.endswith(f"@{recipient}")
            )
            if done >= policy.notes_request_max:
                continue
            wanted_at = first + timedelta(days=policy.notes_request_every_days * done)
            if now >= wanted_at:
                yield (NudgeKind.notes_request, f"{done + 1}@{recipient}", recipient, wanted_at,
                       None, asks)


def _send_time(
    kind: NudgeKind, wanted_at: datetime, latest: datetime | None, hours: WorkingHours
) -> datetime | None:
    send_at = next_working_moment(wanted_at, hours)
    if kind is NudgeKind.reminder and latest is not None and (
        send_at is None or send_at >= latest
    ):
        # Outside working hours until the session starts: remind at the last working moment
        # before the set time instead (a reminder after the start is useless).
        earlier = last_working_moment(wanted_at, hours)
        if earlier is None or earlier < wanted_at - MAX_REMINDER_PULL:
            return None
        return earlier
    if send_at is None or (latest is not None and send_at >= latest):
        return None
    return send_at
