"""One run of the job: observe, plan, check, apply, summarise.

Shared by `mentoring plan`, `mentoring run` and the demo, so what the demo shows is exactly what
the container job does, and what `plan` prints is what `run` applies for the same observed
state. Reads happen here, between the plan's pure stages (`worker.plan.planner`), each at most
once: the organizer's tagged events (one paged listing, every property the run needs expanded),
the participants, free/busy only for those to book or move, the notes list items only of the
sessions whose record changed, working hours only of people a nudge is due for, and the Teams
catalog only when someone needs the app or a nudge goes out (its link names the app).
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from graph.client import GraphClient
from graph.clock import Clock
from graph.errors import (
    Forbidden,
    GraphApiError,
    GraphClientError,
    ServerError,
    Throttled,
    TransientError,
)
from worker.apply.engine import Applier
from worker.apply.outcome import RunStopped, stop_for
from worker.config import Config, SharePointSettings
from worker.config.templates import Templates
from worker.core.exit_codes import ExitCode
from worker.core.heap import settled
from worker.core.progress import NO_PROGRESS, Progress
from worker.observe.arriving import ArrivingSchedules
from worker.observe.directory import active_participants, read_people, read_schedules
from worker.observe.events import read_events
from worker.observe.notes_list import (
    NotesListUnavailable,
    PermissionMissing,
    read_items,
    read_program_items,
    require_list,
)
from worker.observe.publishing import read_publishing, read_versions
from worker.observe.state import NO_SUCH_USER, Observed, invited_people
from worker.observe.teams import read_catalog
from worker.plan.digest import digest_due
from worker.plan.notes_list import items_to_read
from worker.plan.plan import Plan
from worker.plan.planner import (
    Desired,
    assemble,
    calendar_stage,
    digest_stage,
    notes_list_stage,
    publishing_stage,
    teams_stage,
)
from worker.plan.publishing import versions_to_read
from worker.plan.reads import (
    booking_candidates,
    pairings_needing_schedules,
    presence_due,
    schedule_window,
)
from worker.plan.teams import catalog_needed, installs_needed, working_hours_needed
from worker.run.summary import RunSummary

log = logging.getLogger(__name__)


def build_plan(client: GraphClient, desired: Desired, now: datetime,
               progress: Progress = NO_PROGRESS) -> Plan:
    """Read what the run needs, stage by stage, and plan. Raises RunStopped when Graph cannot
    be read (nothing is written then)."""
    try:
        with settled():
            return _read_and_plan(client, desired, now, progress)
    except PermissionMissing as exc:
        raise RunStopped(ExitCode.CONFIG, str(exc)) from exc
    except GraphClientError as exc:
        stop = stop_for(exc)
        if stop is None:
            if isinstance(exc, Forbidden):
                stop = RunStopped(ExitCode.CONFIG, f"missing permission: {exc}")
            elif isinstance(exc, Throttled | ServerError):
                stop = RunStopped(ExitCode.OUTAGE, f"Graph keeps failing: {exc}")
            else:
                stop = RunStopped(ExitCode.INCOMPLETE, f"reading Microsoft 365 failed: {exc}")
        raise stop from exc


def _read_and_plan(client: GraphClient, desired: Desired, now: datetime,
                   progress: Progress) -> Plan:
    config = desired.config
    observed = Observed()
    listing = progress.task("Reading the program's events")
    observed.sessions, observed.unreadable = read_events(client, config)
    listing.done(f"Read the program's events: {len(observed.sessions)} session(s)")
    # People are looked up only where the plan may act for them: those with something to book
    # or move, and anyone no invite names yet. Everyone else is planned with the names their
    # invites carry, so a run with nothing to do reads pages of events, not people.
    active = active_participants(config)
    invited = invited_people(observed.sessions, active)
    needing = pairings_needing_schedules(config, observed.sessions, now)
    # In the order the calendar is planned (each pair's mentee, then mentor), so the first
    # pairs can be planned while the later pairs' answers are still on their way.
    to_schedule = list(dict.fromkeys(
        e.lower() for pairing in needing for e in (pairing.mentee, pairing.mentor)))
    free_busy = progress.task("Reading free/busy (people)", total=len(to_schedule)) \
        if to_schedule else None
    arriving = ArrivingSchedules(to_schedule,
                                 on_arrival=free_busy.advance if free_busy else None)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="free-busy") as aside:
        # Free/busy is read while the directory is: both wait on Graph, and getSchedule of
        # someone the directory turns out not to know costs nothing but their error, dropped.
        reading = aside.submit(
            read_schedules, client, config, to_schedule,
            *schedule_window(config, observed.sessions, now, needing), arriving=arriving,
        ) if to_schedule else None
        _look_up(client, observed, set(to_schedule) | (active - set(invited)), progress)
        _check_presence(client, config, observed, now, progress)
        if reading is not None:
            arriving.keep_only(set(observed.people))
            observed.schedules, observed.schedule_errors = arriving.schedules, arriving.errors
        for email, person in invited.items():
            if email not in observed.missing_people:
                observed.people.setdefault(email, person)
        settings = config.program.sharepoint
        candidates = booking_candidates(config, observed.sessions, now)
        if settings is not None and candidates:
            # Only the item remembers a session whose event a participant cancelled or
            # deleted.
            _read_notes_list(client, observed, settings, dict.fromkeys(candidates))
        # Planned as the answers come: a pair waits for its own people's free/busy only.
        planning = progress.task(f"Planning the calendar of {len(config.pairings)} pairing(s)")
        calendar, projection = calendar_stage(desired, observed, now)
        planning.done(f"Planned the calendar: {len(calendar.actions)} change(s)")
        if reading is not None:
            reading.result()
            observed.schedules, observed.schedule_errors = arriving.settle()
        if free_busy is not None:
            free_busy.done()
    observed.release_busy()  # the stages after the calendar's read working hours only

    wanted = {k: v for k, v in items_to_read(config, projection, observed, now).items()
              if k not in observed.items and k not in observed.item_errors}
    if settings is not None and wanted and observed.notes_list_problem is None:
        items = progress.task("Reading notes list items", total=len(wanted))
        _read_notes_list(client, observed, settings, wanted)
        items.done()
    notes = notes_list_stage(desired, observed, projection, now)
    if (settings is not None and observed.notes_list is None and observed.notes_list_problem
            is None and config.program.nudges is not None
            and ("missing" in notes.notes.values()
                 # a held session's pulse may still be asked after its notes are posted
                 or (config.program.pulse is not None and "posted" in notes.notes.values()))):
        # A notes request may be due: it links to the session's item in the list.
        _read_notes_list(client, observed, settings, {})

    hours = working_hours_needed(config, observed, projection, notes, now)
    installs = installs_needed(config, projection, now)
    # Whoever a nudge or an install is for is sent to by id, in their own language.
    _look_up(client, observed, hours | installs, progress)
    # Nobody the directory lacks can have the app installed (an assistant who left, say):
    # the catalog is not read for them.
    installs -= observed.missing_people.keys()
    if hours:
        found, errors = read_schedules(client, config, hours, now, now + timedelta(days=1),
                                       interval_minutes=60)
        observed.schedules.update(found)
        for email, error in errors.items():
            log.warning("no working hours for %s: %s", email, error.code)
    if catalog_needed(config, observed, projection, notes, now, installs) \
            and config.program.nudges is not None:
        observed.catalog, observed.catalog_problem = read_catalog(
            client, config.program.nudges.teams_app_id)
    teams = teams_stage(desired, observed, projection, notes, now)
    if settings is not None and config.program.publishing is not None:
        _read_publishing(client, observed, settings, config, progress)
    if digest_due(config, projection, now, webhook=desired.webhook):
        # Only a run whose period has no digest yet reads the whole program's items, and
        # checks everyone the rotating check has not this run (the digest names who left).
        if settings is not None:
            task = progress.task("Reading the program's notes list items")
            _read_program_items(client, observed, settings, config.program.id)
            task.done()
        known = {e for e, p in observed.people.items() if p.from_directory}
        _confirm_presence(client, observed,
                          active - known - set(observed.missing_people), progress)
    digest = digest_stage(desired, observed, projection, now)
    return assemble(desired, now, calendar, notes, teams, publishing_stage(desired, observed),
                    digest)


def _read_publishing(client: GraphClient, observed: Observed, settings: SharePointSettings,
                     config: Config, progress: Progress) -> None:
    """Publishing with consent: the consented items, the copies, then the version history
    of the items whose text or boxes changed since their copy was made."""
    _read_notes_list(client, observed, settings, {})
    if observed.notes_list is None:
        return  # the notes list stage has named why
    task = progress.task("Checking consents to publish notes")
    observed.publishing = read_publishing(client, config, observed.notes_list)
    read_versions(client, observed.notes_list, observed.publishing,
                  versions_to_read(config, observed.publishing))
    task.done()


def _read_program_items(client: GraphClient, observed: Observed, settings: SharePointSettings,
                        program_id: str) -> None:
    """Every item of the program, in one paged query on the indexed ProgramId column. A read
    that fails is named (the digest waits for the next run), the run goes on."""
    _read_notes_list(client, observed, settings, {})
    if observed.notes_list is None:
        return
    try:
        observed.program_items = read_program_items(client, observed.notes_list, program_id)
    except (GraphApiError, TransientError) as exc:
        if stop_for(exc) is not None:
            raise
        observed.program_items_problem = f"reading the program's items failed: {exc}"


def _check_presence(client: GraphClient, config: Config, observed: Observed,
                    now: datetime, progress: Progress = NO_PROGRESS) -> None:
    """The rotating check that notices people who left: only the directory's "no such user"
    counts; a lookup that failed says nothing about them (next run, next round)."""
    _confirm_presence(client, observed, presence_due(config, now) - set(observed.people),
                      progress)


def _confirm_presence(client: GraphClient, observed: Observed, checked: set[str],
                      progress: Progress = NO_PROGRESS) -> None:
    if checked:
        task = progress.task("Checking who is still in the directory", total=len(checked))
        here, not_read = read_people(client, checked)
        task.done()
        observed.people.update(here)
        observed.missing_people.update(
            {email: why for email, why in not_read.items() if why == NO_SUCH_USER})


def _look_up(client: GraphClient, observed: Observed, emails: set[str],
             progress: Progress = NO_PROGRESS) -> None:
    """Read from the directory those of `emails` not read yet this run."""
    todo = {e.lower() for e in emails} - observed.missing_people.keys()
    todo = {e for e in todo if not (e in observed.people and observed.people[e].from_directory)}
    if not todo:
        return
    task = progress.task("Looking people up", total=len(todo))
    found, missing = read_people(client, todo)
    task.done()
    observed.people.update(found)
    observed.missing_people.update(missing)
    for email in missing:
        observed.people.pop(email, None)


def _read_notes_list(client: GraphClient, observed: Observed, settings: SharePointSettings,
                     wanted: dict[str, str | None]) -> None:
    """Find the list (once per run), then read the `wanted` items (session key -> item id
    where the event remembers it)."""
    if observed.notes_list is None and observed.notes_list_problem is None:
        try:
            observed.notes_list = require_list(client, settings)
        except NotesListUnavailable as exc:
            observed.notes_list_problem = str(exc)
            return
    if observed.notes_list is None or not wanted:
        return
    items, errors, several = read_items(client, observed.notes_list, wanted)
    observed.items.update(items)
    observed.item_errors.update(errors)
    observed.duplicates.update(several)


def execute(
    client: GraphClient,
    config: Config,
    clock: Clock,
    templates: Templates,
    *,
    apply: bool,
    force: bool = False,
    max_change_share: float | None = None,
    progress: Progress = NO_PROGRESS,
    webhook_url: str | None = None,
) -> tuple[Plan, RunSummary]:
    """Observe, plan and (when `apply`) carry out one run. Raises TooMuchChange when the plan
    is unsafe (nothing written) and RunStopped when Microsoft 365 cannot be read."""
    started = time.monotonic()
    before = client.stats.as_dict()
    now = clock.now()
    desired = Desired(config, templates, max_change_share=max_change_share, force=force,
                      webhook=bool(webhook_url))
    the_plan = build_plan(client, desired, now, progress)
    summary = RunSummary(plan=the_plan, applied=apply,
                         has_notes_list=config.program.sharepoint is not None,
                         has_nudges=config.program.nudges is not None)
    if apply:
        the_plan.raise_if_unsafe()
        applying = progress.task("Applying the plan", total=len(the_plan.actions)) \
            if the_plan.actions else None
        applier = Applier(client, webhook_url=webhook_url,
                          progress=(lambda _action: applying.advance()) if applying else None)
        summary.outcomes = applier.apply(the_plan)
        if applying is not None:
            applying.done()
        summary.stopped = applier.stopped
    after = client.stats.as_dict()
    # Every request Graph processes counts, including each one carried inside a `$batch`.
    summary.requests = (after["requests"] + after["batch_inner_requests"]) - (
        before["requests"] + before["batch_inner_requests"]
    )
    summary.writes = after["writes"] - before["writes"]
    summary.throttled = after["throttled"] - before["throttled"]
    summary.retries = after["retries"] - before["retries"]
    summary.by_service = {
        service: count - before["by_service"].get(service, 0)
        for service, count in after["by_service"].items()
        if count - before["by_service"].get(service, 0)}
    summary.seconds = time.monotonic() - started
    return the_plan, summary
