"""Program health: which pairs need the program team, why, and what to do about it.

A pure function of what the run already knows: the config (its `health` rules, the defaults
when absent), the program's tagged events, the program's notes list items (None when they were
not read: the rules that need them are then left out), who the directory says has left, and
the time. The weekly digest (`worker.plan.digest`) lists what it finds; each rule can be
switched off in `program.yaml`.

The rules, each on the pairs still active:
- `unanswered-invite`: an upcoming session's invitation unanswered `unanswered_invite_days`
  after it went out (a move sends a new one: counted from then);
- `reschedule-limit`: a session declined again after `max_reschedules` moves, which the worker
  no longer moves;
- `notes-missing`: a held session without notes `notes_missing_days` after it ended;
- `low-pulse`: a person's latest pulse (1 to 5) below `pulse_below`;
- `not-a-good-fit`: a person's latest answer to "is this a good fit?" is "No";
- `person-left`: the directory has no such user any more, or the worker wrote so on the pair's
  items (the directory is checked in rounds, the item remembers).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from worker.config import Config, HealthRules, Pairing, parse_session_key
from worker.core.notes_list import FIT_NO, HELD
from worker.observe.state import (
    DECLINED,
    NO_SUCH_USER,
    NONE,
    NOT_RESPONDED,
    ObservedSession,
    live_event,
)
from worker.plan.items import has_notes, parse_instant
from worker.plan.nudges import invitation_sent, moves_of
from worker.plan.reads import wants_move

UNANSWERED = "unanswered-invite"
RESCHEDULE_LIMIT = "reschedule-limit"
NOTES_MISSING = "notes-missing"
LOW_PULSE = "low-pulse"
NOT_A_GOOD_FIT = "not-a-good-fit"
PERSON_LEFT = "person-left"
RULES = (UNANSWERED, RESCHEDULE_LIMIT, NOTES_MISSING, LOW_PULSE, NOT_A_GOOD_FIT, PERSON_LEFT)
LEFT_TEXT = "does not exist in the tenant"  # what the calendar stage writes on the items


@dataclass(frozen=True)
class Finding:
    """One reason a pair needs attention, and what the program team can do about it."""

    rule: str
    reason: str
    action: str


@dataclass(frozen=True)
class PairHealth:
    """A pair needing attention: its people by name, and every finding."""

    pairing_id: str
    mentor: str
    mentee: str
    findings: tuple[Finding, ...]


def pair_health(config: Config, sessions: Mapping[str, Sequence[ObservedSession]],
                items: Mapping[str, Mapping[str, Any]] | None, missing: Mapping[str, str],
                now: datetime, *, names: Mapping[str, str] | None = None,
                changing: Iterable[str] = (), present: Iterable[str] = ()
                ) -> tuple[PairHealth, ...]:
    """The active pairs needing attention, in pairing order. `items`: session key -> the
    item's fields (None: not read); `missing`: e-mail -> why the directory did not give the
    person; `names`: e-mail -> display name; `changing`: sessions this run books or moves (a
    new invitation: nothing is unanswered yet); `present`: people the directory gave this
    run (what an item says about them leaving is older)."""
    rules = config.program.health_rules()
    by_pair: dict[str, list[str]] = {}
    for key in sorted(set(sessions) | set(items or {}), key=_order):
        parsed = parse_session_key(key)
        if parsed is not None and parsed[0] == config.program.id:
            by_pair.setdefault(parsed[1], []).append(key)
    skip = set(changing)
    here = {e.lower() for e in present}
    found: list[PairHealth] = []
    for pairing in config.active_pairings():
        keys = by_pair.get(pairing.id, [])
        fields = [(k, items.get(k) or {}) for k in keys] if items is not None else []
        who = _Names(pairing, fields, names or {})
        findings = [
            *_person_left(rules, pairing, fields, missing, here, who),
            *_sessions(config, rules, pairing, keys, sessions, skip, now, who),
            *_notes(rules, fields, now, who),
            *_pulse(rules, fields, who),
        ]
        if findings:
            found.append(PairHealth(pairing.id, who.mentor, who.mentee, tuple(findings)))
    return tuple(found)


def _order(key: str) -> tuple[str, int]:
    head, _, number = key.rpartition("/")
    return head, int(number) if number.isdigit() else 0


class _Names:
    """People as the program team knows them: the directory's name, else the item's, else the
    address."""

    def __init__(self, pairing: Pairing, fields: Sequence[tuple[str, Mapping[str, Any]]],
                 names: Mapping[str, str]) -> None:
        self.of: dict[str, str] = {}
        for _, values in fields:
            for column, email in (("MentorName", pairing.mentor), ("MenteeName", pairing.mentee)):
                if values.get(column):
                    self.of[email.lower()] = str(values[column])
        for email in (pairing.mentor, pairing.mentee):
            if names.get(email.lower()):
                self.of[email.lower()] = names[email.lower()]
        self.mentor = self.name(pairing.mentor)
        self.mentee = self.name(pairing.mentee)

    def name(self, email: str) -> str:
        return self.of.get(email.lower(), email)


def _day(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%a %d %b %Y")


def _person_left(rules: HealthRules, pairing: Pairing,
                 fields: Sequence[tuple[str, Mapping[str, Any]]], missing: Mapping[str, str],
                 here: set[str], who: _Names) -> list[Finding]:
    if not rules.person_left:
        return []
    found = []
    for role, email, other in (("mentor", pairing.mentor, pairing.mentee),
                               ("mentee", pairing.mentee, pairing.mentor)):
        address = email.lower()
        # The directory's answer this run; else what the worker wrote on the pair's items.
        written = address not in here and any(
            address in text and LEFT_TEXT in text
            for _, values in fields if (text := str(values.get("Attention") or "").lower()))
        gone = missing.get(address) == NO_SUCH_USER or written
        if gone:
            found.append(Finding(
                PERSON_LEFT, f"the {role} {who.name(email)} ({email}) is no longer in the "
                             "directory",
                f"end the pairing (`status: ended`) or pair {who.name(other)} with a new "
                f"{role}"))
    return found


def _sessions(config: Config, rules: HealthRules, pairing: Pairing, keys: Sequence[str],
              sessions: Mapping[str, Sequence[ObservedSession]], skip: set[str],
              now: datetime, who: _Names) -> list[Finding]:
    found: list[Finding] = []
    limit = config.program.max_reschedules
    for key in keys:
        live = live_event(sessions.get(key, ()))
        if live is None:
            continue
        if rules.reschedule_limit and wants_move(live, pairing) \
                and moves_of(live.nudges) >= limit:
            declined = [who.name(a.email) for a in live.attendees
                        if a.email.lower() in (pairing.mentor.lower(), pairing.mentee.lower())
                        and a.response == DECLINED]
            by = f"declined by {' and '.join(declined)}" if declined else "a new time proposed"
            when = "did not take place" if live.start <= now else "is not moved again"
            found.append(Finding(
                RESCHEDULE_LIMIT, f"session {live.number} ({_day(live.start)}): {by} after "
                                  f"{moves_of(live.nudges)} moves; it {when}",
                "agree a time with both people and move the invitation in Outlook (the worker "
                "no longer moves it)"))
            continue
        days = rules.unanswered_invite_days
        if days is None or key in skip or live.start <= now or live.declined_by():
            continue
        sent = invitation_sent(live.created, live.nudges, live.start)
        if sent is None or now - sent < timedelta(days=days):
            continue
        for email in (pairing.mentor, pairing.mentee):
            state = live.response_of(email)
            if state is not None and state.response in (NONE, NOT_RESPONDED):
                waited = (now - sent).days
                found.append(Finding(
                    UNANSWERED, f"session {live.number} ({_day(live.start)}): {who.name(email)} "
                                f"has not answered the invitation sent {waited} days ago",
                    f"ask {who.name(email)} to accept or decline the invitation"))
    return found


def _notes(rules: HealthRules, fields: Sequence[tuple[str, Mapping[str, Any]]],
           now: datetime, who: _Names) -> list[Finding]:
    days = rules.notes_missing_days
    if days is None:
        return []
    found = []
    for key, values in fields:
        end = parse_instant(values.get("SessionEnd"))
        if values.get("SessionStatus") != HELD or end is None or has_notes(values.get("Notes")):
            continue
        if now - end >= timedelta(days=days):
            number = key.rsplit("/", 1)[-1]
            found.append(Finding(
                NOTES_MISSING, f"session {number} held on {_day(end)}: no notes after "
                               f"{(now - end).days} days",
                f"remind {who.mentor} to post the notes of session {number} in the notes list"))
    return found


def _pulse(rules: HealthRules, fields: Sequence[tuple[str, Mapping[str, Any]]],
           who: _Names) -> list[Finding]:
    found = []
    for role, name in (("Mentor", who.mentor), ("Mentee", who.mentee)):
        # The latest answer counts: a pair that talked it through leaves the digest.
        pulse = _latest(fields, f"{role}Pulse", _score)
        if rules.pulse_below is not None and pulse is not None \
                and pulse[1] < rules.pulse_below:
            key, score = pulse
            word = _latest_word(fields, key, f"{role}PulseWord")
            found.append(Finding(
                LOW_PULSE, f"session {key.rsplit('/', 1)[-1]}: {name} rated it {score:g} of 5"
                           + (f" ({word})" if word else ""),
                f"talk with {name} about what would make the sessions more useful"))
        fit = _latest(fields, f"{role}Fit", _fit)
        if rules.not_a_good_fit and fit is not None and fit[1] == FIT_NO:
            found.append(Finding(
                NOT_A_GOOD_FIT, f"{name} answered \"No\" to \"is this a good fit?\" after "
                                f"session {fit[0].rsplit('/', 1)[-1]}",
                "talk with both people; end the pairing or find a new match if it does not "
                "work"))
    return found


def _score(value: Any) -> float | None:
    if value is None or isinstance(value, bool) or value == "":
        return None
    try:
        score = float(value)
    except (TypeError, ValueError):
        return None
    return score if 1 <= score <= 5 else None


def _fit(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _latest(fields: Sequence[tuple[str, Mapping[str, Any]]], column: str,
            read: Any) -> tuple[str, Any] | None:
    for key, values in reversed(fields):  # in session order: the last answer first
        value = read(values.get(column))
        if value is not None:
            return key, value
    return None


def _latest_word(fields: Sequence[tuple[str, Mapping[str, Any]]], key: str,
                 column: str) -> str:
    for found, values in fields:
        if found == key:
            return " ".join(str(values.get(column) or "").split())[:80]
    return ""


__all__ = ["RULES", "Finding", "PairHealth", "pair_health"]
