"""The plan of one run: every action for the calendar, the notes list and Teams, in order.

Like octodns's `Plan`: frozen, printed as a diff per pairing (`render_text`), serialised to JSON
(`to_json`), and refused before anything is written when it would cancel or move too much of
what exists (`refusal`, `raise_if_unsafe`). `mentoring plan` prints it with the exit code
`mentoring run` would end with; `run` applies exactly it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from worker.core.exit_codes import ExitCode, worst
from worker.plan.actions import (
    Action,
    Book,
    Cancel,
    Move,
    Notice,
    PairProblem,
    Resource,
    UpdateEvent,
    json_value,
)

# Below this many changes a plan is never "too much": cancelling one ended pair's two upcoming
# sessions in a small program is normal, not a sign of a broken config.
MIN_UNSAFE_CHANGES = 3
KINDS = ("book", "move", "update", "cancel", "create-item", "update-item", "tag-event",
         "publish-notes", "unpublish-notes", "install-app", "send-nudge", "hold-nudge",
         "post-card")
_RESOURCE_ORDER = {Resource.calendar: 0, Resource.notes_list: 1, Resource.teams: 2}


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
    """The config would cancel or move more existing sessions than the program allows, or it
    no longer names most of the pairings that have sessions (a file emptied by mistake)."""

    def __init__(self, changes: int, existing: int, max_share: float, *,
                 what: str = "cancel or move", of: str = "upcoming sessions") -> None:
        share = changes / existing if existing else 1.0
        super().__init__(
            f"the config would {what} {changes} of {existing} {of} ({share:.0%}), more than "
            f"the allowed {max_share:.0%}; check the config, then run again with --force if "
            "this is intended"
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
    notices: tuple[Notice, ...] = ()
    max_change_share: float = 0.25
    force: bool = False
    unchanged_items: int = 0  # notes list items that need nothing this run
    notes_missing: tuple[str, ...] = ()  # session keys whose notes are due and missing
    pairings_with_sessions: int = 0
    vanished_pairings: tuple[str, ...] = ()  # have upcoming sessions, not in the config

    @property
    def disruptive(self) -> tuple[Move | Cancel | UpdateEvent, ...]:
        """The moves, cancellations and changes of length or people that the config causes:
        what the safety gate counts. A decline that moves a session is people using the
        program, never a reason to stop; a new subject or agenda text is not disruptive."""
        return tuple(a for a in self.actions
                     if (isinstance(a, Move | Cancel)
                         or (isinstance(a, UpdateEvent) and a.disruptive))
                     and a.cause == "config")

    def is_empty(self) -> bool:
        return not self.actions

    def refusal(self) -> TooMuchChange | None:
        """Why `run` would refuse this plan (nothing written), or None."""
        if self.force:
            return None
        gone, having = len(self.vanished_pairings), self.pairings_with_sessions
        if gone and (gone == having or (gone >= MIN_UNSAFE_CHANGES
                                        and gone > self.max_change_share * having)):
            return TooMuchChange(gone, having, self.max_change_share, what="drop",
                                 of="pairings that have upcoming sessions")
        changes = len(self.disruptive)
        if changes < MIN_UNSAFE_CHANGES:
            return None
        if changes > self.max_change_share * max(self.existing_upcoming, 1):
            return TooMuchChange(changes, self.existing_upcoming, self.max_change_share)
        return None

    def raise_if_unsafe(self) -> None:
        refused = self.refusal()
        if refused is not None:
            raise refused

    @property
    def exit_code(self) -> ExitCode:
        """What `run` ends with if every action succeeds: the code `plan` exits with."""
        if self.refusal() is not None:
            return ExitCode.CONFIG
        return worst(*(p.code for p in self.problems))

    def counts(self) -> dict[str, int]:
        found = Counter(a.kind for a in self.actions)
        result = {kind: found.get(kind, 0) for kind in KINDS}
        result["problems"] = len(self.problems)
        result["unchanged"] = sum(p.unchanged for p in self.pairs)
        result["unchanged_items"] = self.unchanged_items
        return result

    def to_json(self) -> dict[str, Any]:
        refused = self.refusal()
        return {
            "now": json_value(self.now),
            "counts": self.counts(),
            "existing_upcoming": self.existing_upcoming,
            "refused": str(refused) if refused else None,
            "exit_code": int(self.exit_code),
            "actions": [a.to_json() for a in self.actions],
            "problems": [{"pairing_id": p.pairing_id, "reason": p.reason, "code": int(p.code)}
                         for p in self.problems],
            "notices": [asdict(n) for n in self.notices],
            "notes_missing": list(self.notes_missing),
            "pairs": [asdict(p) for p in self.pairs],
        }

    def render_text(self) -> str:
        """A readable diff, grouped by pairing (octodns-style): calendar, then the notes list,
        then Teams; `+` adds, `~` changes, `-` cancels, `>` sends, `!` cannot be done."""
        by_pair: dict[str, list[Action]] = defaultdict(list)
        for action in self.actions:
            by_pair[action.pairing_id].append(action)
        problems: dict[str, list[str]] = defaultdict(list)
        for problem in self.problems:
            problems[problem.pairing_id].append(problem.reason)
        notices: dict[str, list[str]] = defaultdict(list)
        for notice in self.notices:
            notices[notice.pairing_id].append(notice.text)
        lines: list[str] = []

        def block(changes: list[Action], issues: list[str], notes: list[str]) -> None:
            ordered = sorted(changes, key=lambda a: _RESOURCE_ORDER[a.resource])
            lines.extend(f"    {action.describe()}" for action in ordered)
            lines.extend(f"    ! {reason}" for reason in issues)
            lines.extend(f"    . {text}" for text in notes)

        for pair in self.pairs:
            changes = by_pair.pop(pair.pairing_id, [])
            issues = problems.pop(pair.pairing_id, [])
            notes = notices.pop(pair.pairing_id, [])
            lines.append(f"{pair.pairing_id}  ({pair.mentor} mentors {pair.mentee}, "
                         f"{pair.status})")
            block(changes, issues, notes)
            if not changes and not issues:
                lines.append(f"    = {pair.unchanged} booked, nothing to do")
        for pairing_id in sorted(set(by_pair) | set(problems) | set(notices)):
            title = "program" if not pairing_id else f"{pairing_id}  (no longer in the config)"
            lines.append(title)
            block(by_pair.get(pairing_id, []), problems.get(pairing_id, []),
                  notices.get(pairing_id, []))
        counts = self.counts()
        lines.append(
            f"Plan: calendar {counts['book']} to book, {counts['move']} to move, "
            f"{counts['update']} to update, {counts['cancel']} to cancel, "
            f"{counts['unchanged']} unchanged; notes list "
            f"{counts['create-item']} to create, {counts['update-item']} to update, "
            f"{counts['tag-event']} event records, {counts['unchanged_items']} unchanged"
            + (f", {counts['publish-notes']} notes to publish or update, "
               f"{counts['unpublish-notes']} to unpublish"
               if counts['publish-notes'] or counts['unpublish-notes'] else "")
            + "; "
            f"Teams {counts['install-app']} app installs, {counts['send-nudge']} nudges to "
            f"send, {counts['hold-nudge']} held, {counts['post-card']} cards; "
            f"{counts['problems']} problem(s)."
        )
        refused = self.refusal()
        if refused is not None:
            lines.append(f"`run` would refuse this plan and write nothing: {refused}")
        return "\n".join(lines)


__all__ = ["Book", "Cancel", "Move", "PairState", "Plan", "TooMuchChange"]
