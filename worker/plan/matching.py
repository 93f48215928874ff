"""Match suggestions: a mentor for each executive who has none, worked out in memory.

Pure: the groups' members, their working hours, the program's history and the current
pairings in; suggestions (each with its reasons) and the executives left unmatched (each with
why) out. The same input gives the same suggestions: every choice is ordered by score, then
by address.

The rules, as the README states them:

* **Never a repeat.** A mentor and an executive who were paired in an earlier program (either
  way round), or in a pairing of this program's file, are never suggested together.
* **Enough shared time.** They must share `min_overlap_hours` of working hours on a typical
  day: the median, over the executive's working days of the week ahead, of the hours both are
  at work (each in their own zone, as getSchedule's `workingHours` give them).
* **Load spread under the limits.** A mentor takes at most `max_mentees_per_mentor`
  executives, their current active and paused pairings counted; among the mentors who fit,
  the least loaded is chosen first, so nobody takes a second executive while a fitting mentor
  has none. Executives with the fewest fitting mentors are placed first, and one left without
  a mentor is placed by moving earlier suggestions along (an augmenting path), so everyone who
  can be matched is.
* **Ranked by fit.** Among mentors of the same load: another department (reverse mentoring
  crosses the organisation; `prefer_other_department`), job levels far apart (read from the
  job titles), the same office or a close time zone, and more shared hours.
"""

from __future__ import annotations

import re
import statistics
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from worker.config import Config, Pairing
from worker.config.program import MatchingSettings
from worker.core.intervals import WorkingHours
from worker.observe.availability import PersonSchedule, ScheduleError
from worker.observe.state import Member, Pair
from worker.plan.actions import Notice

# Job levels read from titles, most senior first; the first pattern a title matches wins, so
# a modifier ("Senior", "Junior") is tried before the role it qualifies. Coarse on purpose:
# only the distance between two people is used.
_LEVELS: tuple[tuple[int, re.Pattern[str]], ...] = tuple(
    (level, re.compile(pattern, re.IGNORECASE)) for level, pattern in (
        (7, r"\b(chief|ceo|cfo|coo|cto|cio|cmo|cro|(?<!vice )president|chair|founder)\b"),
        (6, r"\b(evp|svp|executive vice president|senior vice president|general counsel)\b"),
        (5, r"\b(vp|vice president|managing director|partner)\b"),
        (4, r"\b(director|head)\b"),
        (3, r"\b(manager|lead|principal)\b"),
        (2, r"\b(senior|sr\.?|specialist|consultant)\b"),
        (0, r"\b(junior|jr\.?|graduate|intern|apprentice|trainee)\b"),
        (1, r"\b(associate|analyst|engineer|developer|designer|coordinator|officer|"
            r"representative|assistant)\b"),
    ))


def matching_notice(config: Config) -> tuple[Notice, ...]:
    """The plan's one line about match suggestions when they are configured. It names no
    count of executives without a mentor: that needs the groups read, and a run reads
    nothing it does not act on."""
    matching = config.program.matching
    if matching is None:
        return ()
    return (Notice("", f"matching configured (executives: {matching.executives_group}, "
                       f"mentors: {matching.mentors_group}): run `mentoring suggest` to propose "
                       "a mentor for each executive without one"),)


def job_level(title: str | None) -> int | None:
    """A job title's level (0 junior .. 7 chief), or None when the title says nothing."""
    if not title:
        return None
    for level, pattern in _LEVELS:
        if pattern.search(title):
            return level
    return None


@dataclass(frozen=True)
class Suggestion:
    mentor: Member
    mentee: Member
    score: float
    overlap_hours: float
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class Unmatched:
    mentee: Member
    reason: str


@dataclass(frozen=True)
class Suggestions:
    suggestions: tuple[Suggestion, ...]
    unmatched: tuple[Unmatched, ...]
    already_paired: tuple[str, ...]  # executives with a mentor in the current pairings
    mentors_full: int  # mentors at their limit before anything was suggested


@dataclass(frozen=True)
class _Option:
    mentor: Member
    score: float
    overlap: float
    reasons: tuple[str, ...]


def suggest(executives: Iterable[Member], mentors: Iterable[Member], *,
            schedules: Mapping[str, PersonSchedule], schedule_errors: Mapping[str, ScheduleError],
            pairings: Iterable[Pairing], history: Mapping[Pair, str],
            settings: MatchingSettings, week_start: date) -> Suggestions:
    """Suggestions for every executive without a mentor (see the module docstring).
    `schedules` and `schedule_errors` are keyed by lower-cased `Member.email`; `week_start`
    is the first day of the week whose working hours are compared."""
    pairings = list(pairings)
    as_mentee = {p.mentee.lower(): p for p in pairings if p.status != "ended"}
    as_mentor = {p.mentor.lower(): p for p in pairings if p.status == "active"}
    load: dict[str, int] = {}
    for pairing in pairings:
        if pairing.status != "ended":
            load[pairing.mentor.lower()] = load.get(pairing.mentor.lower(), 0) + 1
    # This program's own pairs, ended ones included, are not suggested again either.
    repeats = dict(history)
    for pairing in pairings:
        repeats.setdefault(frozenset((pairing.mentor.lower(), pairing.mentee.lower())),
                           f"pairing {pairing.id} of this program")

    executives = sorted({m.email: m for m in executives}.values(), key=lambda m: m.email)
    executive_names = {name for m in executives for name in m.names}
    already: list[str] = []
    unmatched: list[Unmatched] = []
    wanting: list[Member] = []
    for executive in executives:
        if _named_in(executive, as_mentee):
            already.append(executive.email)
        elif (mentoring := _named_in(executive, as_mentor)) is not None:
            unmatched.append(Unmatched(executive, f"mentors in active pairing {mentoring.id}, "
                                                  "so cannot be a mentee at the same time"))
        else:
            wanting.append(executive)

    limit = settings.max_mentees_per_mentor
    pool = [m for m in sorted({m.email: m for m in mentors}.values(), key=lambda m: m.email)
            if not (m.names & executive_names) and _named_in(m, as_mentee) is None]
    mentor_load = {m.email: sum(load.get(n, 0) for n in m.names) for m in pool}
    full = sum(1 for m in pool if mentor_load[m.email] >= limit)
    week = [week_start + timedelta(days=n) for n in range(7)]
    overlaps = _Overlaps(week)

    options: dict[str, list[_Option]] = {}
    for executive in wanting:
        own = schedules.get(executive.email)
        if own is None:
            error = schedule_errors.get(executive.email)
            why = f"{error.code}: {error.message}" if error else "no schedule"
            unmatched.append(Unmatched(executive, f"working hours unknown ({why})"))
            continue
        found: list[_Option] = []
        counted = {"time": 0, "repeat": 0}
        for mentor in pool:
            theirs = schedules.get(mentor.email)
            if theirs is None:
                continue
            hours = overlaps.median(own.working, theirs.working)
            if hours < settings.min_overlap_hours:
                counted["time"] += 1
                continue
            if any(frozenset((a, b)) in repeats for a in mentor.names for b in executive.names):
                counted["repeat"] += 1
                continue
            found.append(_score(executive, mentor, own, theirs, hours, settings, week_start))
        if not found:
            why = (_why_none(counted, settings) if pool
                   else "the mentors group holds nobody who can mentor")
            unmatched.append(Unmatched(executive, why))
            continue
        found.sort(key=lambda o: (-o.score, o.mentor.email))
        options[executive.email] = found

    chosen = _assign(wanting, options, mentor_load, limit)
    suggestions = []
    for executive in wanting:
        option = chosen.get(executive.email)
        if option is not None:
            suggestions.append(Suggestion(option.mentor, executive, option.score,
                                          option.overlap, option.reasons))
        elif executive.email in options:
            unmatched.append(Unmatched(executive, (
                f"every mentor who fits already has {limit} mentee(s) "
                f"(max_mentees_per_mentor: {limit}; {len(options[executive.email])} fit)")))
    unmatched.sort(key=lambda u: u.mentee.email)
    return Suggestions(tuple(suggestions), tuple(unmatched), tuple(already), full)


def _named_in(member: Member, table: Mapping[str, Pairing]) -> Pairing | None:
    return next((table[name] for name in sorted(member.names) if name in table), None)


def _why_none(counted: Mapping[str, int], settings: MatchingSettings) -> str:
    if counted["repeat"]:
        return (f"every mentor who shares {settings.min_overlap_hours:g} h of working time a day "
                f"was paired with them before ({counted['repeat']})")
    return f"no mentor shares {settings.min_overlap_hours:g} h of working time a day"


def _score(executive: Member, mentor: Member, own: PersonSchedule, theirs: PersonSchedule,
           hours: float, settings: MatchingSettings, week_start: date) -> _Option:
    score = min(hours, 6.0) / 2
    reasons = [f"{hours:g} h of working hours in common a day"]
    if settings.prefer_other_department and executive.department and mentor.department:
        if executive.department.casefold() != mentor.department.casefold():
            score += 3
            reasons.insert(0, f"other department ({mentor.department}; executive in "
                              f"{executive.department})")
        else:
            reasons.append(f"same department ({mentor.department})")
    high, low = job_level(executive.job_title), job_level(mentor.job_title)
    if high is not None and low is not None and high > low:
        score += high - low
        if high - low >= 2:
            reasons.append(f"job levels far apart ({mentor.job_title} / {executive.job_title})")
    same_office = bool(executive.office and mentor.office
                       and executive.office.casefold() == mentor.office.casefold())
    if same_office:
        score += 2
        reasons.append(f"same office ({mentor.office})")
    else:
        apart = _hours_apart(own.working, theirs.working, week_start)
        if apart == 0:
            score += 1.5
            reasons.append("same time zone")
        elif apart <= 3:
            score += 1
            reasons.append(f"time zones {apart:g} h apart")
    return _Option(mentor, round(score, 3), hours, tuple(reasons))


def _hours_apart(one: WorkingHours, other: WorkingHours, day: date) -> float:
    noon = datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=12)
    first, second = noon.astimezone(one.zone).utcoffset(), noon.astimezone(other.zone).utcoffset()
    if first is None or second is None:
        return 24.0
    return abs((first - second).total_seconds()) / 3600


class _Overlaps:
    """Shared working hours of two people, by their working hours (most people share theirs
    with many others, so each distinct couple is worked out once)."""

    def __init__(self, week: list[date]) -> None:
        self.week = week
        self._spans: dict[WorkingHours, list[tuple[float, float, int]]] = {}
        self._known: dict[tuple[WorkingHours, WorkingHours], float] = {}

    def spans(self, hours: WorkingHours) -> list[tuple[float, float, int]]:
        """(start, end, day index) in UTC seconds of each working day of the week, and the
        days either side (a far zone's day overlaps its neighbours)."""
        found = self._spans.get(hours)
        if found is None:
            found = []
            first = self.week[0] - timedelta(days=1)
            for index in range(len(self.week) + 2):
                day = first + timedelta(days=index)
                if day.weekday() not in hours.days:
                    continue
                start = datetime.combine(day, hours.start, hours.zone)
                end_day = day if hours.end > hours.start else day + timedelta(days=1)
                end = datetime.combine(end_day, hours.end, hours.zone)
                found.append((start.timestamp(), end.timestamp(), index - 1))
            self._spans[hours] = found
        return found

    def median(self, executive: WorkingHours, mentor: WorkingHours) -> float:
        key = (executive, mentor)
        known = self._known.get(key)
        if known is None:
            theirs = self.spans(mentor)
            daily = []
            for start, end, index in self.spans(executive):
                if not 0 <= index < len(self.week):
                    continue
                shared = sum(max(0.0, min(end, e) - max(start, s)) for s, e, _ in theirs)
                daily.append(shared / 3600)
            known = round(statistics.median(daily), 2) if daily else 0.0
            self._known[key] = known
        return known


def _assign(wanting: list[Member], options: Mapping[str, list[_Option]],
            load: dict[str, int], limit: int) -> dict[str, _Option]:
    """Each executive's mentor: the hardest to place first, the least loaded fitting mentor
    (then the best score, then the address), then augmenting paths for anyone left."""
    load = dict(load)
    chosen: dict[str, _Option] = {}
    holders: dict[str, list[str]] = {}  # mentor -> executives suggested to them
    order = sorted((e for e in wanting if e.email in options),
                   key=lambda e: (len(options[e.email]), e.email))
    for executive in order:
        free = [o for o in options[executive.email] if load[o.mentor.email] < limit]
        if not free:
            continue
        best = min(free, key=lambda o: (load[o.mentor.email], -o.score, o.mentor.email))
        chosen[executive.email] = best
        load[best.mentor.email] += 1
        holders.setdefault(best.mentor.email, []).append(executive.email)
    for executive in order:
        if executive.email not in chosen:
            _augment(executive.email, options, chosen, holders, load, limit)
    return chosen


def _augment(start: str, options: Mapping[str, list[_Option]], chosen: dict[str, _Option],
             holders: dict[str, list[str]], load: dict[str, int], limit: int) -> None:
    """Breadth first from an unplaced executive: through a full mentor to one of their
    executives who could move to another mentor, until a mentor with room is reached; then
    every executive on the path moves one step along it."""
    came_from: dict[str, tuple[str, _Option]] = {}  # mentor -> (executive, option) reaching it
    seen_execs = {start}
    queue = deque([start])
    end: str | None = None
    while queue and end is None:
        executive = queue.popleft()
        for option in options[executive]:
            mentor = option.mentor.email
            if mentor in came_from or (executive in chosen
                                       and chosen[executive].mentor.email == mentor):
                continue
            came_from[mentor] = (executive, option)
            if load[mentor] < limit:
                end = mentor
                break
            for holder in sorted(holders.get(mentor, [])):
                if holder not in seen_execs:
                    seen_execs.add(holder)
                    queue.append(holder)
    if end is None:
        return
    mentor = end
    load[mentor] += 1
    while True:
        executive, option = came_from[mentor]
        previous = chosen.get(executive)
        chosen[executive] = option
        holders.setdefault(mentor, []).append(executive)
        if previous is None:
            return
        old = previous.mentor.email
        holders[old].remove(executive)
        mentor = old
