"""The plan of a run, from (desired, observed, now): calendar, then the notes list, then Teams.

Each stage is a pure function of the config, what was observed and the stages before it. The
notes list and Teams stages need reads that only the calendar stage can name (the items of the
sessions it books or moves, the working hours of the people it will nudge), so the run reads
between stages (`worker.run`), each read at most once; `plan` chains the same stages for
callers that hold every read already (tests, the demo's printouts). Either way the result is
one `Plan` holding every change of the run.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from worker.config import Config
from worker.config.templates import Templates
from worker.core.heap import settled
from worker.observe.state import NONE, NOT_RESPONDED, Observed, ObservedSession
from worker.plan.calendar import CalendarPlan, owned_sessions, plan_calendar
from worker.plan.digest import DigestPlan, plan_digest
from worker.plan.matching import matching_notice
from worker.plan.notes_list import NotesListPlan, plan_notes_list
from worker.plan.nudges import invitation_sent
from worker.plan.plan import Plan
from worker.plan.projection import Projection, project
from worker.plan.publishing import PublishingPlan, plan_publishing
from worker.plan.teams import TeamsPlan, plan_teams

# When the program sends no Teams nudges, an invitation is "unanswered" after this long.
DEFAULT_UNANSWERED_HOURS = 48


@dataclass(frozen=True)
class Desired:
    """What the run is asked for: the config, the templates, and the run's own switches."""

    config: Config
    templates: Templates
    max_change_share: float | None = None  # None: the program's own
    force: bool = False
    webhook: bool = False  # a program channel webhook is configured


def calendar_stage(desired: Desired, observed: Observed, now: datetime
                   ) -> tuple[CalendarPlan, Projection]:
    calendar = plan_calendar(desired.config, observed, now, desired.templates)
    # Only sessions the config names are projected: the notes list and Teams stages never
    # touch what a foreign tag marks (a removed pairing, a session past the curriculum).
    mine, _ = owned_sessions(desired.config, observed.sessions)
    projection = project(mine, calendar.actions, now, calendar.unmoved,
                         attention(calendar, mine, desired.config, now))
    return calendar, replace(projection, left_cancelled=dict(calendar.left_cancelled),
                             offers=dict(calendar.offers))


def attention(calendar: CalendarPlan, sessions: dict[str, list[ObservedSession]],
              config: Config, now: datetime) -> dict[str, str]:
    """What the notes list items should tell the program team: a session's own problem, or
    its pairing's (a person who left the directory) on each of the pair's sessions, or a
    participant who leaves the invitation unanswered."""
    found: dict[str, str] = dict(calendar.lasting)
    # A session this plan books or moves gets a new invitation: nothing is unanswered yet.
    changing = {action.key for action in calendar.actions}
    for key, events in sessions.items():
        reason = "" if key in changing else unanswered(config, events, now)
        if reason:
            found.setdefault(key, reason)
    for problem in calendar.problems:
        if problem.key:
            found[problem.key] = problem.reason
            continue
        if "needs attention" not in problem.reason:
            continue  # passing (a lookup to try again): nothing to tell on the items
        for key, events in sessions.items():
            # Every session of the pair says so, held ones included: the report reads the
            # items, and the person stays gone after the last upcoming session has passed.
            if events and events[0].pairing_id == problem.pairing_id:
                found.setdefault(key, problem.reason)
    return found


def unanswered(config: Config, events: list[ObservedSession], now: datetime) -> str:
    """"needs attention" when a participant has left the session's invitation unanswered for
    twice `unanswered_after_hours` (the invitation, then the nudge to answer, each given that
    long); the text names the day the invitation went out, so it stays the same run after run
    and the item is written once. Empty when everyone answered."""
    session = next((e for e in events if not e.is_cancelled), None)
    pairing = config.pairing(session.pairing_id) if session is not None else None
    if session is None or pairing is None:
        return ""
    sent = invitation_sent(session.created, session.nudges, session.start)
    if sent is None:
        return ""
    nudges = config.program.nudges
    hours = nudges.unanswered_after_hours if nudges is not None else DEFAULT_UNANSWERED_HOURS
    if now < sent + timedelta(hours=2 * hours):
        return ""
    silent = [email for email in (pairing.mentor, pairing.mentee)
              if (state := session.response_of(email)) is not None
              and state.response in (NONE, NOT_RESPONDED)]
    if not silent:
        return ""
    who = " and ".join(silent)
    day = sent.strftime("%Y-%m-%d")
    if session.end <= now:
        return (f"needs attention: {who} never answered the invitation sent on {day}; the "
                "session may not have taken place")
    return f"needs attention: {who} has not answered the invitation sent on {day}"


def notes_list_stage(desired: Desired, observed: Observed, projection: Projection,
                     now: datetime) -> NotesListPlan:
    return plan_notes_list(desired.config, observed, projection, now, desired.templates)


def teams_stage(desired: Desired, observed: Observed, projection: Projection,
                notes: NotesListPlan, now: datetime) -> TeamsPlan:
    return plan_teams(desired.config, observed, projection, notes, now, desired.templates,
                      webhook=desired.webhook)


def publishing_stage(desired: Desired, observed: Observed) -> PublishingPlan:
    return plan_publishing(desired.config, observed.publishing)


def digest_stage(desired: Desired, observed: Observed, projection: Projection,
                 now: datetime) -> DigestPlan:
    return plan_digest(desired.config, observed, projection, now, desired.templates,
                       webhook=desired.webhook)


def assemble(desired: Desired, now: datetime, calendar: CalendarPlan, notes: NotesListPlan,
             teams: TeamsPlan, published: PublishingPlan | None = None,
             digest: DigestPlan | None = None) -> Plan:
    share = desired.max_change_share
    if share is None:
        share = desired.config.program.max_change_share
    published = published or PublishingPlan()
    digest = digest or DigestPlan()
    return Plan(
        now=now,
        actions=(*calendar.actions, *notes.actions, *published.actions, *teams.actions,
                 *digest.actions),
        problems=(*calendar.problems, *notes.problems, *published.problems, *teams.problems,
                  *digest.problems),
        pairs=calendar.pairs,
        existing_upcoming=calendar.existing_upcoming,
        notices=(*calendar.notices, *notes.notices, *published.notices, *teams.notices,
                 *matching_notice(desired.config), *digest.notices),
        max_change_share=share,
        force=desired.force,
        unchanged_items=notes.unchanged,
        notes_missing=notes.notes_missing,
        pairings_with_sessions=calendar.pairings_with_sessions,
        vanished_pairings=calendar.vanished_pairings,
    )


def plan(desired: Desired, observed: Observed, now: datetime, *, release: bool = False
         ) -> Plan:
    """Every change of a run, for an `observed` that holds every read the stages need.
    `release`: the caller owns `observed` and lets the busy time go once the calendar stage
    has used it, as the run does (`Observed.release_busy`)."""
    with settled():
        calendar, projection = calendar_stage(desired, observed, now)
        if release:
            observed.release_busy()
        notes = notes_list_stage(desired, observed, projection, now)
        teams = teams_stage(desired, observed, projection, notes, now)
        return assemble(desired, now, calendar, notes, teams,
                        publishing_stage(desired, observed),
                        digest_stage(desired, observed, projection, now))
