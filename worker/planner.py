"""The plan: a pure function from (desired, observed, now) to a small list of actions.

Like octodns' `Plan`: the planner compares what the config wants with what Microsoft 365 holds
and emits frozen, ordered actions (book, move, cancel) plus the problems it met per pairing. It
does no I/O (imports nothing from `graph`), so every rule is unit-testable, `mentoring plan`
can print it, and `mentoring run` can refuse it when it would change too much.

Rules, per pairing:
- a pairing that is paused or ended, or no longer in the config, has its future sessions
  cancelled (past ones are history and stay);
- two live events for one session (a crash between Graph creating an event and us learning its
  id can do that only if Graph ignored our transactionId) keep the oldest and cancel the rest;
- a future session declined by the mentor or mentee is moved: to the time the person proposed
  when that works for both, else to the nearest free time around the same date, trying other
  weekdays first (someone who declined a Monday is likely to decline the next Monday too);
- sessions are booked in order, at most `keep_booked` upcoming ones at a time, each about one
  cadence after the previous one, at a time free for both people (see `worker.slots`).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

from worker.config import Config, Pairing, SessionSpec, parse_session_key, session_key
from worker.holidays_calendar import UnknownCountry, holidays_for
from worker.observed import TENTATIVE, Observed, ObservedSession
from worker.slots import (
    Interval,
    Participant,
    SlotRequest,
    explain_no_slot,
    find_slot,
    violations,
)
from worker.timezones import abbreviation

# transactionId: uuid5 of the session key and the chosen slot. A POST retried after a lost answer
# (same session, same slot) gets the existing event back instead of a second one. A session
# booked again later (a pairing paused, then resumed) gets a new slot and so a new id: how long
# Exchange remembers a transactionId is not documented, and reusing one with different content
# is refused with ErrorDuplicateTransactionId.
TRANSACTION_NAMESPACE = uuid.UUID("0c5b9d5e-7d0a-4e53-9d2f-52a1c7b1e0a4")

# Below this many changes a plan is never "too much": cancelling one ended pair's two upcoming
# sessions in a small program is normal, not a sign of a broken config.
MIN_UNSAFE_CHANGES = 3


def transaction_id(key: str, start: datetime, end: datetime) -> str:
    slot = f"{start.astimezone(UTC).isoformat()}/{end.astimezone(UTC).isoformat()}"
    return str(uuid.uuid5(TRANSACTION_NAMESPACE, f"{key}@{slot}"))


@dataclass(frozen=True)
class Book:
    pairing_id: str
    key: str
    number: int
    total: int
    topic: str
    phase: str
    agenda: str
    organizer: str
    mentor: str
    mentee: str
    start: datetime
    end: datetime
    transaction_id: str
    kind: Literal["book"] = "book"
    # The start as each person sees it (mentee first), for people reading the plan.
    local_start: str = ""

    def describe(self) -> str:
        local = f" ({self.local_start})" if self.local_start else ""
        return f"+ book {self.number}/{self.total} '{self.topic}' at {_fmt(self.start)}{local}"


@dataclass(frozen=True)
class Move:
    pairing_id: str
    key: str
    number: int
    event_id: str
    organizer: str
    old_start: datetime
    start: datetime
    end: datetime
    reason: str
    kind: Literal["move"] = "move"
    local_start: str = ""

    def describe(self) -> str:
        local = f" = {self.local_start}" if self.local_start else ""
        return (
            f"~ move session {self.number} from {_fmt(self.old_start)} to {_fmt(self.start)}"
            f"{local} ({self.reason})"
        )


@dataclass(frozen=True)
class Cancel:
    pairing_id: str
    key: str
    number: int
    event_id: str
    organizer: str
    start: datetime
    reason: str
    kind: Literal["cancel"] = "cancel"

    def describe(self) -> str:
        return f"- cancel session {self.number} at {_fmt(self.start)} ({self.reason})"


Action = Book | Move | Cancel


@dataclass(frozen=True)
class PairProblem:
    pairing_id: str
    reason: str


@dataclass(frozen=True)
class PairState:
    """What a pairing looks like after the plan: for the readable diff and the summary."""

    pairing_id: str
    mentor: str
    mentee: str
    status: str
    booked: int  # sessions with a live event (past or future) before this plan
    unchanged: int  # of those, how many the plan leaves alone


class TooMuchChange(Exception):
    """The plan would cancel or move more existing sessions than the program allows."""

    def __init__(self, changes: int, existing: int, max_share: float) -> None:
        share = changes / existing if existing else 1.0
        super().__init__(
            f"the plan would cancel or move {changes} of {existing} upcoming sessions "
            f"({share:.0%}), more than the allowed {max_share:.0%}; check the config, "
            "then run again with --force if this is intended"
        )
        self.changes = changes
        self.existing = existing


@dataclass(frozen=True)
class Plan:
    now: datetime
    actions: tuple[Action, ...]
    problems: tuple[PairProblem, ...]
    pairs: tuple[PairState, ...]
    existing_upcoming: int

    @property
    def disruptive(self) -> tuple[Move | Cancel, ...]:
        return tuple(a for a in self.actions if isinstance(a, Move | Cancel))

    def is_empty(self) -> bool:
        return not self.actions

    def raise_if_unsafe(self, max_share: float, *, force: bool = False) -> None:
        changes = len(self.disruptive)
        if force or changes < MIN_UNSAFE_CHANGES:
            return
        if changes > max_share * max(self.existing_upcoming, 1):
            raise TooMuchChange(changes, self.existing_upcoming, max_share)

    def counts(self) -> dict[str, int]:
        result = {"book": 0, "move": 0, "cancel": 0}
        for action in self.actions:
            result[action.kind] += 1
        result["problems"] = len(self.problems)
        result["unchanged"] = sum(p.unchanged for p in self.pairs)
        return result

    def to_json(self) -> dict[str, Any]:
        def encode(value: Any) -> Any:
            if isinstance(value, datetime):
                return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
            return value

        return {
            "now": encode(self.now),
            "counts": self.counts(),
            "existing_upcoming": self.existing_upcoming,
            "actions": [{k: encode(v) for k, v in asdict(a).items()} for a in self.actions],
            "problems": [asdict(p) for p in self.problems],
            "pairs": [asdict(p) for p in self.pairs],
        }

    def render_text(self) -> str:
        """A readable diff, grouped by pairing (octodns-style)."""
        by_pair: dict[str, list[Action]] = defaultdict(list)
        for action in self.actions:
            by_pair[action.pairing_id].append(action)
        problems: dict[str, list[str]] = defaultdict(list)
        for problem in self.problems:
            problems[problem.pairing_id].append(problem.reason)
        lines: list[str] = []
        for pair in self.pairs:
            changes = by_pair.pop(pair.pairing_id, [])
            issues = problems.pop(pair.pairing_id, [])
            header = f"{pair.pairing_id}  ({pair.mentor} mentors {pair.mentee}, {pair.status})"
            lines.append(header)
            for action in changes:
                lines.append(f"    {action.describe()}")
            for reason in issues:
                lines.append(f"    ! {reason}")
            if not changes and not issues:
                lines.append(f"    = {pair.unchanged} booked, nothing to do")
        for pairing_id, changes in sorted(by_pair.items()):
            lines.append(f"{pairing_id}  (no longer in the config)")
            lines.extend(f"    {action.describe()}" for action in changes)
        for pairing_id, reasons in sorted(problems.items()):
            lines.append(pairing_id)
            lines.extend(f"    ! {reason}" for reason in reasons)
        counts = self.counts()
        lines.append(
            f"Plan: {counts['book']} to book, {counts['move']} to move, "
            f"{counts['cancel']} to cancel, {counts['unchanged']} unchanged, "
            f"{counts['problems']} problem(s)."
        )
        return "\n".join(lines)


def _fmt(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%a %Y-%m-%d %H:%M UTC")


# ---------------------------------------------------------------------------------------------
# What to read before planning


def schedule_window(config: Config, now: datetime) -> tuple[datetime, datetime]:
    """The span of free/busy the planner may look at: from now to the furthest slot it could
    book this run (`keep_booked` cadences ahead of the latest pairing start, plus tolerance)."""
    program = config.program
    starts = [p.start for p in config.pairings if p.status == "active"] or [now.date()]
    anchor = max(max(starts), now.date())
    cadence = program.cadence.every_days + program.cadence.tolerance_days
    days = program.keep_booked * cadence + program.cadence.tolerance_days + 2
    end = datetime.combine(anchor, time(0), tzinfo=UTC) + timedelta(days=days)
    end += timedelta(hours=program.minimum_notice_hours)
    return now, max(end, now + timedelta(days=1))


def people_needing_schedules(config: Config, observed_sessions: dict[str, list[ObservedSession]],
                             now: datetime) -> set[str]:
    """E-mails of the people whose free/busy the plan needs: members of active pairings that
    have a session to book or a declined/proposed session to move."""
    program = config.program
    needed: set[str] = set()
    for pairing in config.pairings:
        if pairing.status != "active":
            continue
        specs = pairing.sessions(program)
        live = [
            _live(observed_sessions.get(session_key(program.id, pairing.id, s.number), []))
            for s in specs
        ]
        upcoming = sum(1 for s in live if s is not None and s.end > now)
        missing = any(s is None for s in live)
        needs_move = any(
            s is not None and s.start > now and _wants_move(s, pairing) for s in live
        )
        if needs_move or (missing and upcoming < program.keep_booked):
            needed.update({pairing.mentor.lower(), pairing.mentee.lower()})
    return needed


# ---------------------------------------------------------------------------------------------
# The planner


@dataclass
class _RunState:
    """Sessions chosen earlier in this plan, so one person is never booked twice at once."""

    busy: dict[str, list[Interval]] = field(default_factory=lambda: defaultdict(list))

    def add(self, emails: Iterable[str], slot: Interval) -> None:
        for email in emails:
            self.busy[email.lower()].append(slot)

    def of(self, emails: Iterable[str]) -> tuple[Interval, ...]:
        return tuple(i for e in emails for i in self.busy.get(e.lower(), []))


def _live(sessions: list[ObservedSession]) -> ObservedSession | None:
    alive = [s for s in sessions if not s.is_cancelled]
    if not alive:
        return None
    return min(alive, key=lambda s: (s.created or s.start, s.event_id))


def _wants_move(session: ObservedSession, pairing: Pairing) -> bool:
    members = {pairing.mentor.lower(), pairing.mentee.lower()}
    for attendee in session.attendees:
        if attendee.email.lower() not in members:
            continue
        if attendee.response == "declined":
            return True
        if attendee.response == TENTATIVE and attendee.proposed_start is not None:
            return True
    return False


def plan(config: Config, observed: Observed, now: datetime) -> Plan:
    """Compare the config with what exists and decide what to do. Pure."""
    program = config.program
    actions: list[Action] = []
    problems: list[PairProblem] = []
    pairs: list[PairState] = []
    run = _RunState()
    known_pairings = {p.id for p in config.pairings}

    # Existing upcoming sessions count, for the safety check.
    existing_upcoming = 0
    for sessions in observed.sessions.values():
        live = _live(sessions)
        if live is not None and live.start > now:
            existing_upcoming += 1

    # Sessions of pairings that left the config: cancel the future ones.
    for key, sessions in sorted(observed.sessions.items()):
        parsed = parse_session_key(key)
        if parsed is None or parsed[0] != program.id or parsed[1] in known_pairings:
            continue
        for session in sessions:
            if not session.is_cancelled and session.start > now:
                actions.append(_cancel(session, "pairing no longer in the config"))

    # Book people who are already constrained first: pairs with fewer free options get their
    # slots before their shared mentor's other mentees take them. Config order otherwise.
    for pairing in config.pairings:
        pair_actions, pair_problems, state = _plan_pairing(config, pairing, observed, now, run)
        actions.extend(pair_actions)
        problems.extend(pair_problems)
        pairs.append(state)

    return Plan(now, tuple(actions), tuple(problems), tuple(pairs), existing_upcoming)


def _cancel(session: ObservedSession, reason: str) -> Cancel:
    return Cancel(
        session.pairing_id,
        session.key,
        session.number,
        session.event_id,
        session.organizer,
        session.start,
        reason,
    )


def _plan_pairing(
    config: Config, pairing: Pairing, observed: Observed, now: datetime, run: _RunState
) -> tuple[list[Action], list[PairProblem], PairState]:
    program = config.program
    specs = pairing.sessions(program)
    actions: list[Action] = []
    problems: list[PairProblem] = []

    live: dict[int, ObservedSession] = {}
    for spec in specs:
        sessions = observed.sessions_for(session_key(program.id, pairing.id, spec.number))
        keep = _live(sessions)
        if keep is None:
            continue
        live[spec.number] = keep
        for extra in sessions:
            if extra is not keep and not extra.is_cancelled and extra.start > now:
                actions.append(_cancel(extra, "duplicate event for this session"))
    booked = len(live)

    def state(changed: int) -> PairState:
        return PairState(
            pairing.id, pairing.mentor, pairing.mentee, pairing.status, booked, booked - changed
        )

    if pairing.status != "active":
        cancels = [
            _cancel(s, f"pairing {pairing.status}") for s in live.values() if s.start > now
        ]
        return actions + cancels, problems, state(len(cancels))

    missing = [
        f"{role} {email} does not exist in the tenant"
        + (f" ({observed.missing_people[email.lower()]})"
           if observed.missing_people.get(email.lower()) else "")
        for role, email in (("mentor", pairing.mentor), ("mentee", pairing.mentee))
        if observed.person(email) is None
    ]
    if missing:
        problems.extend(PairProblem(pairing.id, reason) for reason in missing)
        return actions, problems, state(0)

    finder = _SlotContext(config, pairing, observed, now, run)
    organizer = pairing.mentor if program.organizer == "mentor" else str(program.organizer)
    cadence = timedelta(days=program.cadence.every_days)
    prev_start: datetime | None = None
    upcoming = sum(1 for s in live.values() if s.end > now)
    changed = 0

    for spec in specs:
        session = live.get(spec.number)
        if session is not None:
            start = session.start
            if session.start > now and _wants_move(session, pairing):
                target = pairing.start if prev_start is None else (prev_start + cadence).date()
                move, problem = finder.move(session, target)
                if move is not None:
                    actions.append(move)
                    changed += 1
                    start = move.start
                elif problem is not None:
                    problems.append(problem)
            prev_start = start
            continue
        if upcoming >= program.keep_booked:
            break
        target = pairing.start if prev_start is None else (prev_start + cadence).date()
        slot = finder.find(target)
        if isinstance(slot, str):
            problems.append(PairProblem(pairing.id, f"session {spec.number}: {slot}"))
            break
        actions.append(_book(config, pairing, spec, organizer, slot, finder.local(slot.start)))
        run.add((pairing.mentor, pairing.mentee), slot)
        prev_start = slot.start
        upcoming += 1
    return actions, problems, state(changed)


def _book(
    config: Config,
    pairing: Pairing,
    spec: SessionSpec,
    organizer: str,
    slot: Interval,
    local_start: str,
) -> Book:
    key = session_key(config.program.id, pairing.id, spec.number)
    return Book(
        pairing.id,
        key,
        spec.number,
        spec.total,
        spec.topic,
        spec.phase.value,
        spec.agenda,
        organizer,
        pairing.mentor,
        pairing.mentee,
        slot.start,
        slot.end,
        transaction_id(key, slot.start, slot.end),
        local_start=local_start,
    )


class _SlotContext:
    """Builds slot requests for one pairing from the program rules and observed calendars."""

    def __init__(
        self, config: Config, pairing: Pairing, observed: Observed, now: datetime, run: _RunState
    ) -> None:
        self.config = config
        self.pairing = pairing
        self.observed = observed
        self.now = now
        self.run = run
        program = config.program
        self.duration = timedelta(minutes=program.duration_minutes)
        self.tolerance = timedelta(days=program.cadence.tolerance_days)
        self.not_before = now + timedelta(hours=program.minimum_notice_hours)
        self.blackout = frozenset(_blackout_days(config))

    def _participants(self) -> tuple[Participant, ...] | str:
        people: list[Participant] = []
        program = self.config.program
        years = range(self.now.year, self.now.year + 3)
        # The mentee first: the slot finder counts days and preferences in the first person's
        # local calendar, and the cadence should follow the executive's weeks.
        for email in (self.pairing.mentee, self.pairing.mentor):
            error = self.observed.schedule_errors.get(email.lower())
            if error is not None:
                return f"cannot read the free/busy of {email}: {error.message}"
            schedule = self.observed.schedules.get(email.lower())
            if schedule is None:
                return f"no free/busy was read for {email}"
            person = self.observed.person(email)
            countries = list(program.holidays.countries)
            if program.holidays.use_participant_location and person and person.country:
                countries.append(person.country)
            try:
                days_off = holidays_for(countries, years)
            except UnknownCountry as exc:
                return f"public holidays of {email} are unknown: {exc}"
            people.append(
                Participant(
                    email=email,
                    zone=schedule.zone,
                    working=schedule.working,
                    busy=schedule.busy,
                    holidays=days_off,
                )
            )
        return tuple(people)

    def _request(
        self,
        target: date,
        people: tuple[Participant, ...],
        avoid: tuple[Interval, ...] = (),
        other_weekdays_than: int | None = None,
    ) -> SlotRequest:
        tailoring = self.pairing.tailoring
        preferred: frozenset[int] | None = None
        pref_earliest = pref_latest = None
        if tailoring is not None:
            if tailoring.preferred_weekdays:
                preferred = frozenset(d.number for d in tailoring.preferred_weekdays)
            pref_earliest = tailoring.preferred_earliest
            pref_latest = tailoring.preferred_latest
        if other_weekdays_than is not None:
            base = preferred or frozenset(range(5))
            preferred = frozenset(base - {other_weekdays_than}) or None
        emails = (self.pairing.mentor, self.pairing.mentee)
        return SlotRequest(
            people=people,
            target=max(target, self.not_before.date()),
            tolerance=self.tolerance,
            duration=self.duration,
            earliest=self.config.program.earliest,
            latest=self.config.program.latest,
            not_before=self.not_before,
            blackout=self.blackout,
            preferred_weekdays=preferred,
            preferred_earliest=pref_earliest,
            preferred_latest=pref_latest,
            also_busy=self.run.of(emails),
            avoid=avoid,
        )

    def local(self, instant: datetime) -> str:
        """`instant` in the mentee's and the mentor's own zones, e.g. 'mentee Tue 10:00 EST,
        mentor Tue 15:00 GMT'."""
        parts = []
        for role, email in (("mentee", self.pairing.mentee), ("mentor", self.pairing.mentor)):
            schedule = self.observed.schedules.get(email.lower())
            if schedule is None:
                continue
            at = instant.astimezone(schedule.zone)
            parts.append(f"{role} {at.strftime('%a %H:%M')} {abbreviation(at)}")
        return ", ".join(parts)

    def find(self, target: date) -> Interval | str:
        people = self._participants()
        if isinstance(people, str):
            return people
        request = self._request(target, people)
        slot = find_slot(request)
        if slot is None:
            return "no time free for both within the cadence tolerance: " + explain_no_slot(
                request
            )
        return slot

    def move(
        self, session: ObservedSession, target: date
    ) -> tuple[Move | None, PairProblem | None]:
        """A new time for a declined session, or the time an attendee proposed when it meets
        every rule, including one cadence after the previous session within the tolerance."""
        members = {self.pairing.mentor.lower(), self.pairing.mentee.lower()}
        who = [
            a for a in session.attendees if a.email.lower() in members and a.response == "declined"
        ]
        proposal = session.proposal()
        reason = (
            f"declined by {', '.join(a.email for a in who)}"
            if who
            else f"{proposal.email if proposal else 'an attendee'} proposed a new time"
        )
        people = self._participants()
        if isinstance(people, str):
            return None, PairProblem(self.pairing.id, f"session {session.number}: {people}")
        old = Interval(session.start, session.end)
        # The session's own event is on both calendars: it must not block its own move.
        people = tuple(
            Participant(
                p.email,
                p.zone,
                p.working,
                tuple(b for b in p.busy if not (b.start == old.start and b.end == old.end)),
                p.holidays,
            )
            for p in people
        )
        emails = (self.pairing.mentor, self.pairing.mentee)
        if proposal is not None and proposal.proposed_start and proposal.proposed_end:
            wanted = Interval(proposal.proposed_start, proposal.proposed_end)
            request = self._request(target, people, avoid=(old,))
            if not violations(_exact(request, wanted), wanted):
                self.run.add(emails, wanted)
                return _move(session, wanted, reason + " (proposed time accepted)",
                             self.local(wanted.start)), None
        if not who:
            # Only a proposal, not a decline: when it cannot be honoured the session still
            # stands at its time (the person said they may come).
            return None, None
        request = self._request(
            target,
            people,
            avoid=(old,),
            other_weekdays_than=session.start.astimezone(people[0].zone).weekday(),
        )
        slot = find_slot(request)
        if slot is None:
            return None, PairProblem(
                self.pairing.id,
                f"session {session.number} was {reason} and no other time fits: "
                + explain_no_slot(request),
            )
        self.run.add(emails, slot)
        return _move(session, slot, reason, self.local(slot.start)), None


def _exact(request: SlotRequest, wanted: Interval) -> SlotRequest:
    """The rules a proposed time must meet: the program's and the cadence's, at any minute."""
    return replace(
        request,
        duration=wanted.end - wanted.start,
        preferred_weekdays=None,
        preferred_earliest=None,
        preferred_latest=None,
        step=timedelta(minutes=1),
    )


def _move(session: ObservedSession, slot: Interval, reason: str, local_start: str = "") -> Move:
    return Move(
        session.pairing_id,
        session.key,
        session.number,
        session.event_id,
        session.organizer,
        session.start,
        slot.start,
        slot.end,
        reason,
        local_start=local_start,
    )


def _blackout_days(config: Config) -> Iterable[date]:
    for entry in config.program.blackout_ranges():
        day = entry.start
        while day <= entry.end:
            yield day
            day += timedelta(days=1)
