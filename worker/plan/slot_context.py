"""Slot requests for one pairing: the program's rules, the pair's tailoring and both people's
calendars turned into `worker.plan.slots` requests, for booking and for moving a session.

Split from the calendar planner so that it reads as the rules per pairing, and this as the
arithmetic of one request. `RunState` remembers the times chosen earlier in the same plan, so
one person is never booked twice at once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta, tzinfo

from graph.values import graph_datetime
from worker.config import Config, Pairing
from worker.core.holidays import UnknownCountry, holidays_for
from worker.core.intervals import Interval
from worker.core.properties import NUDGES_PROPERTY_ID
from worker.core.timezones import abbreviation
from worker.observe.state import Observed, ObservedSession
from worker.plan.actions import Cause, Move, PairProblem, UpdateEvent
from worker.plan.booking import ledger_property, move_action, with_rules
from worker.plan.nudges import declined_slots
from worker.plan.slots import (
    Participant,
    SlotRequest,
    explain_no_slot,
    find_slot,
    violations,
)

# The C locale's weekday names (strftime's %a), the same on every machine the job runs on.
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass
class RunState:
    """Sessions chosen earlier in this plan, so one person is never booked twice at once."""

    busy: dict[str, list[Interval]] = field(default_factory=lambda: defaultdict(list))

    def add(self, emails: Iterable[str], slot: Interval) -> None:
        for email in emails:
            self.busy[email.lower()].append(slot)

    def of(self, emails: Iterable[str]) -> tuple[Interval, ...]:
        return tuple(i for e in emails for i in self.busy.get(e.lower(), []))


class SlotContext:
    """Builds slot requests for one pairing from the program rules and observed calendars."""

    def __init__(
        self, config: Config, pairing: Pairing, observed: Observed, now: datetime, run: RunState
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
        self._people: tuple[Participant, ...] | str | None = None
        self._not_before: dict[tuple[tzinfo, ...], datetime] = {}
        tailoring = pairing.tailoring
        preferred: frozenset[int] | None = None
        if tailoring is not None and tailoring.preferred_weekdays:
            preferred = frozenset(d.number for d in tailoring.preferred_weekdays)
        self._preferences = (
            preferred, tailoring.preferred_earliest if tailoring is not None else None,
            tailoring.preferred_latest if tailoring is not None else None)

    def _participants(self) -> tuple[Participant, ...] | str:
        """Both people as the slot finder takes them (read once per pairing: the same for
        every session planned)."""
        if self._people is None:
            self._people = self._read_participants()
        return self._people

    def _read_participants(self) -> tuple[Participant, ...] | str:
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
        preferred, pref_earliest, pref_latest = self._preferences
        if other_weekdays_than is not None:
            base = preferred or frozenset(range(5))
            preferred = frozenset(base - {other_weekdays_than}) or None
        emails = (self.pairing.mentor, self.pairing.mentee)
        zones = tuple(p.zone for p in people)
        not_before = self._not_before.get(zones)
        if not_before is None:
            # Never before the pairing's start date, as either person's calendar shows it
            # (the target's tolerance would otherwise reach into the days before it).
            not_before = self._not_before[zones] = max(self.not_before, *(
                datetime.combine(self.pairing.start, time(0), tzinfo=zone) for zone in zones))
        return SlotRequest(
            people=people,
            target=max(target, not_before.date()),
            tolerance=self.tolerance,
            duration=self.duration,
            earliest=self.config.program.earliest,
            latest=self.config.program.latest,
            not_before=not_before,
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
            parts.append(f"{role} {_WEEKDAYS[at.weekday()]} {at.hour:02d}:{at.minute:02d} "
                         f"{abbreviation(at)}")
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

    def edit(self, session: ObservedSession, update: UpdateEvent | None, target: date, *,
             squeezed: bool = False, recheck: bool = False, replan: bool = False,
             ) -> tuple[UpdateEvent | None, PairProblem | None]:
        """`update` as it stands when the session's time still suits both people (and is
        not before the pairing's start, nor closer to the session before it than the cadence
        allows); else the same update at a new time near the date it should have."""
        new_people = update is not None and "attendees" in update.becomes
        longer = update is not None and "minutes" in update.becomes
        early = session.start.date() < self.pairing.start or squeezed
        if replan and not early:
            # A new start date: a session within the tolerance of where the new start puts
            # it keeps its time (if it still suits); one outside it is planned again.
            early = abs((session.start.date() - target).days) > self.tolerance.days
            recheck = True
        if update is None and not early and not recheck:
            return None, None
        if not (new_people or longer or early or recheck):
            return update, None
        people = self._participants()
        if isinstance(people, str):
            return None, PairProblem(self.pairing.id, f"session {session.number}: {people}",
                                     key=session.key)
        # The session's own event must not block it (for those who are attendees already).
        attending = {a.email.lower() for a in session.attendees}
        people = tuple(Participant(p.email, p.zone, p.working,
                                   p.busy.without(session.start, session.end)
                                   if p.email.lower() in attending else p.busy,
                                   p.holidays) for p in people)
        end = session.start + self.duration
        slot = Interval(session.start, end)
        request = self._request(target if early else session.start.date(), people)
        # Keeping a booked time needs no notice: it is on the calendars already.
        keep = replace(_exact(request, slot), not_before=min(request.not_before, slot.start))
        if not early and not violations(keep, slot):
            self.run.add((self.pairing.mentor, self.pairing.mentee), slot)
            if recheck:
                # The program's hours or days changed and the time still suits: remember it.
                base = update or _bare_update(session, "config")
                return _stamped(base, session, self.config, self.pairing,
                                "the time suits the program's hours and days and the "
                                "pairing's start"), None
            return update, None
        why = ("keeps the cadence after the session before it moved" if squeezed
               else "planned again from the pairing's new start" if replan and early
               else "the pairing now starts later" if early
               else "the new time suits the program's new hours and days" if recheck
               and not (new_people or longer)
               else "the new time suits the people of the edited pairing")
        found = find_slot(request)
        if found is None:
            return None, PairProblem(
                self.pairing.id, f"session {session.number} cannot keep its time after the "
                "edit and no other time fits: " + explain_no_slot(request), key=session.key)
        self.run.add((self.pairing.mentor, self.pairing.mentee), found)
        base = update or _bare_update(session, "person" if squeezed else "config")
        return _stamped(_retimed(base, found, why), session, self.config, self.pairing,
                        None), None

    def move(
        self, session: ObservedSession, target: date, *, proposal_only: bool = False
    ) -> tuple[Move | None, PairProblem | None]:
        """A new time for a declined session, or the time an attendee proposed when it meets
        every rule, including one cadence after the previous session within the tolerance.
        `proposal_only`: only the proposed time, never one the worker looks for (a session
        past its reschedule limit)."""
        members = self.pairing.deciders()
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
        people = tuple(Participant(p.email, p.zone, p.working,
                                   p.busy.without(old.start, old.end), p.holidays)
                       for p in people)
        emails = (self.pairing.mentor, self.pairing.mentee)
        # Every time this session was declined at stays refused (invariant 7: no loops).
        avoid = (old, *(Interval(s, e) for s, e in declined_slots(session.nudges)))
        if proposal is not None and proposal.proposed_start and proposal.proposed_end:
            wanted = Interval(proposal.proposed_start, proposal.proposed_end)
            request = self._request(target, people, avoid=avoid)
            if not violations(_exact(request, wanted), wanted):
                self.run.add(emails, wanted)
                return move_action(session, wanted, reason + " (proposed time accepted)",
                                   self.now, self.local(wanted.start),
                                   declined=bool(who), config=self.config,
                                   pairing=self.pairing), None
        if not who or proposal_only:
            # Only a proposal, not a decline: when it cannot be honoured the session still
            # stands at its time (the person said they may come).
            return None, None
        request = self._request(
            target,
            people,
            avoid=avoid,
            other_weekdays_than=session.start.astimezone(people[0].zone).weekday(),
        )
        slot = find_slot(request)
        if slot is None:
            return None, PairProblem(
                self.pairing.id,
                f"session {session.number} was {reason} and no other time fits: "
                + explain_no_slot(request), key=session.key,
            )
        self.run.add(emails, slot)
        return move_action(session, slot, reason, self.now, self.local(slot.start),
                           declined=True, config=self.config, pairing=self.pairing), None


    def free_times(self, session: ObservedSession, target: date,
                   count: int = 3) -> tuple[Interval, ...] | str:
        """Up to `count` times both people are free for the session, near `target`, each on
        another day when the days allow (three times on one afternoon are one choice), never
        a time it was declined at; the reason when no free/busy can be had."""
        people = self._participants()
        if isinstance(people, str):
            return people
        people = tuple(Participant(p.email, p.zone, p.working,
                                   p.busy.without(session.start, session.end), p.holidays)
                       for p in people)
        avoid = [Interval(session.start, session.end),
                 *(Interval(s, e) for s, e in declined_slots(session.nudges))]
        found: list[Interval] = []
        zone = people[0].zone
        for whole_days in (True, False):
            while len(found) < count:
                held = list(avoid)
                for slot in found:
                    if whole_days:  # the executive's whole local day of a time found
                        day = slot.start.astimezone(zone).date()
                        held.append(Interval(datetime.combine(day, time(0), tzinfo=zone),
                                             datetime.combine(day + timedelta(days=1),
                                                              time(0), tzinfo=zone)))
                    else:
                        held.append(slot)
                free = find_slot(self._request(target, people, avoid=tuple(held)))
                if free is None:
                    break
                found.append(free)
        return tuple(sorted(found, key=lambda i: i.start))


def _bare_update(session: ObservedSession, cause: Cause) -> UpdateEvent:
    """An update that changes nothing but what `_retimed` adds (the time). A session that
    follows one a person moved is the person's doing, not the config's (the safety gate)."""
    return UpdateEvent(
        pairing_id=session.pairing_id, key=session.key, number=session.number,
        event_id=session.event_id, organizer=session.organizer, start=session.start,
        end=session.end, subject=session.subject,
        attendees=tuple(a.email.lower() for a in session.attendees),
        invite=session.invite or "", changes={}, cause=cause)


def _stamped(update: UpdateEvent, session: ObservedSession, config: Config, pairing: Pairing,
             note: str | None) -> UpdateEvent:
    """`update` writing the session's ledger too, stamped with the program's current time
    rules (so the session is not checked again until they change)."""
    ledger = with_rules(session.nudges, config, pairing)
    changes = dict(update.changes)
    props = [p for p in changes.get("singleValueExtendedProperties", [])
             if p.get("id") != NUDGES_PROPERTY_ID]
    changes["singleValueExtendedProperties"] = [*props, ledger_property(ledger)]
    becomes = dict(update.becomes)
    was = dict(update.was)
    if note is not None and not becomes:
        was["rules"], becomes["rules"] = "(the program's old hours and days)", note
    return replace(update, changes=changes, ledger=ledger, was=was, becomes=becomes)


def _retimed(update: UpdateEvent, slot: Interval, why: str) -> UpdateEvent:
    """`update` with a new time as well (the PATCH carries it; attendees answer again)."""
    was = {**update.was, "start": update.start}
    becomes = {**update.becomes, "start": slot.start, "why": why}
    changes = {**update.changes, "start": graph_datetime(slot.start),
               "end": graph_datetime(slot.end)}
    return replace(update, start=slot.start, end=slot.end, was=was, becomes=becomes,
                   changes=changes)


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


def _blackout_days(config: Config) -> Iterable[date]:
    for entry in config.program.blackout_ranges():
        day = entry.start
        while day <= entry.end:
            yield day
            day += timedelta(days=1)
