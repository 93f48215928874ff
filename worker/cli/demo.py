"""`mentoring demo`: a whole reverse mentoring program against the built-in sandbox tenant.

What a new user runs first. It loads the example config and the sandbox's demo organisation
(an executive team and junior mentors in several time zones, with calendars already full of
meetings), shows the plan, runs the job, then moves the shared clock forward a day at a time
(running the job each simulated morning, while simulated people accept, decline, propose new
times) until every pair has had all its sessions. Entirely offline: the worker talks to the
sandbox through the same msal + requests path it uses in production, only the transport differs.
"""

from __future__ import annotations

import html
import io
import secrets
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any, TextIO

from graph.auth import ClientSecret, GraphCredential
from graph.client import GraphClient
from graph.clock import ManualClock
from graph.sandbox.cli import WORKER_APP_ROLES
from graph.sandbox.core import GraphError
from graph.sandbox.fixtures import demo_tenant
from graph.sandbox.tenant_app import Sandbox
from graph.sandbox.transport import sandbox_session
from worker.cli.notes_list_init import InitResult, init_lists
from worker.config import Config, load_config
from worker.config.templates import Templates
from worker.core.notes_list import HELD
from worker.core.paths import default_config_dir, default_templates_dir
from worker.core.properties import PROPERTY_ID
from worker.core.timezones import abbreviation, zone_for
from worker.observe.events import organizers, read_sessions
from worker.plan.items import count_of, parse_instant
from worker.run.job import execute
from worker.run.summary import RunSummary

PUBLIC_LOGIN = "https://login.microsoftonline.com"
PUBLIC_GRAPH = "https://graph.microsoft.com/v1.0"
# The simulated job runs every morning at this UTC time (the real one every 15 minutes).
RUN_AT = time(6, 0)


@dataclass
class DemoWorld:
    """A sandbox tenant, a clock and a worker client wired together (also used by tests)."""

    sandbox: Sandbox
    clock: ManualClock
    client: GraphClient
    config: Config
    templates: Templates
    client_id: str = ""

    def run(self, *, apply: bool = True, force: bool = False) -> RunSummary:
        return execute(self.client, self.config, self.clock, self.templates, apply=apply,
                       force=force)[1]


def build_world(config: Config, sandbox: Sandbox, clock: ManualClock,
                templates: Templates | None = None,
                roles: tuple[str, ...] | None = None, *,
                client_id: str | None = None, secret: str | None = None) -> DemoWorld:
    """Deploy the worker in the sandbox as IT does (its app registered with its permissions and
    the program's site granted, our Teams app in the catalog) and build a client that reaches
    it in-process. `roles` by default: what the README grants for this config (Mail.Send only
    for a program whose digest mails, GroupMember.Read.All only where `suggest` is used)."""
    if roles is None:
        roles = (*WORKER_APP_ROLES, *(("Mail.Send",) if config.program.digest_sender() else ()),
                 *(("GroupMember.Read.All",) if config.program.matching is not None else ()))
    client_id = client_id or str(uuid.uuid4())
    secret = secret or secrets.token_urlsafe(32)
    sandbox.register_app(client_id, secret=secret, roles=roles,
                         display_name="Reverse mentoring worker",
                         selected_sites=_program_sites(config, sandbox))
    # Calendar access through Exchange RBAC for Applications, scoped to the organizers'
    # mailboxes (README, "least privilege"), instead of a tenant-wide Entra grant.
    # The digest's Mail.Send the same way, to its one mailbox.
    mailbox_roles = [role for role in roles if role.startswith(("Calendars.", "Mail."))]
    if mailbox_roles:
        sender = config.program.digest_sender()
        mailboxes = [*organizers(config), *([sender] if sender else [])]
        sandbox.scope_mailboxes(client_id, list(dict.fromkeys(mailboxes)), roles=mailbox_roles)
    session = sandbox_session(sandbox)
    credential = GraphCredential(
        tenant_id=sandbox.state.tenant_id,
        client_id=client_id,
        credential=ClientSecret(secret),
        http_client=session,
        authority_host=PUBLIC_LOGIN,
    )
    client = GraphClient(PUBLIC_GRAPH, credential, session, clock)
    chosen = templates or Templates(default_templates_dir())
    _publish_teams_app(config, sandbox, client_id, chosen.directory)
    return DemoWorld(sandbox, clock, client, config, chosen, client_id)


def init_notes_list(world: DemoWorld) -> list[InitResult]:
    """`mentoring sharepoint init` as an admin runs it once (README, "App registration and
    permissions"): the app's grant on the program's site raised to `fullcontrol` (creating a
    list and its columns needs it), the list made, the grant lowered back to `write`, all a
    run needs."""
    settings = world.config.program.sharepoint
    assert settings is not None, "the program has no notes list"
    world.sandbox.grant_site(world.client_id, settings.site, "fullcontrol")
    try:
        return init_lists(world.client, world.config.program)
    finally:
        world.sandbox.grant_site(world.client_id, settings.site, "write")


def _publish_teams_app(config: Config, sandbox: Sandbox, client_id: str,
                       templates_dir: Path) -> None:
    """What an admin does once with `mentoring teams-app package`: upload our app to the org
    catalog (bound to this worker's Entra app), so the run can install it and nudge."""
    from graph.sandbox.teams import TeamsStore
    from worker.cli.teams_app import notes_tab, render_manifest

    store = sandbox.state.teams
    if config.program.nudges is None or not isinstance(store, TeamsStore):
        return
    settings = config.program.sharepoint
    manifest = render_manifest(templates_dir, client_id=client_id,
                               app_id=config.program.nudges.teams_app_id,
                               program_name=config.program.name,
                               notes=notes_tab(settings) if settings is not None else None)
    store.publish_app(manifest["id"], manifest["name"]["short"], manifest)


def _program_sites(config: Config, sandbox: Sandbox) -> list[str]:
    """The program's site id in the sandbox: what an admin grants the app (Sites.Selected)."""
    settings = config.program.sharepoint
    store = sandbox.state.sharepoint
    if settings is None or store is None:
        return []
    try:
        return [store.site(settings.site).id]
    except GraphError:
        return []


def run_demo(*, state_file: Path | None, record: Path | None, quiet: bool, out: TextIO,
             config_dir: Path | None = None, report_file: Path | None = None) -> int:
    config_path = config_dir or default_config_dir()
    starts = [p.start for p in _pairings_preview(config_path)]
    first = min(starts) if starts else datetime.now(UTC).date()
    clock = ManualClock(datetime.combine(first - timedelta(days=7), RUN_AT, tzinfo=UTC))
    config = load_config(config_path, today=clock.now().date())
    sandbox = Sandbox.create(clock=clock, fixture=demo_tenant, record_file=record)
    world = build_world(config, sandbox, clock)

    say = (lambda text: None) if quiet else (lambda text: out.write(text + "\n"))
    say(f"Sandbox tenant: {len(sandbox.state.directory.users)} people; program "
        f"'{config.program.name}', {len(config.pairings)} pairings; clock {_day(clock.now())}.")
    say("")
    if config.program.sharepoint is not None:
        say("mentoring sharepoint init")
        for result in init_notes_list(world):
            say(_indent(result.render_text()))
        say("")
    plan, summary = execute(world.client, config, clock, world.templates, apply=False)
    say("mentoring plan")
    say(_indent(plan.render_text()))
    say("")
    summary = world.run()
    totals = _Totals()
    totals.add(summary)
    say("mentoring run")
    say(_indent(summary.render_text()))
    say("")

    failures: dict[str, str] = {}
    last_day = _program_end(config, first)
    runs = 1
    while clock.now() < last_day:
        clock.advance(timedelta(days=1))
        write_notes(world)
        answer_pulse(world)
        summary = world.run()
        runs += 1
        totals.add(summary)
        for pairing_id, reasons in summary.failed.items():
            failures[pairing_id] = reasons[-1]
        if summary.booked or summary.moved or summary.cancelled:
            say(f"{_day(clock.now())}: {summary.booked} booked, {summary.moved} moved, "
                f"{summary.cancelled} cancelled")
        if _program_complete(world):
            break

    out.write("\n" + render_sessions(world) + "\n")
    runs_text = f"{runs} runs over {(clock.now().date() - first).days + 7} simulated days"
    out.write(f"\n{runs_text}: {totals.render(sharepoint=config.program.sharepoint is not None)}")
    for pairing_id, reason in sorted(failures.items()):
        out.write(f"  note {pairing_id}: {reason}\n")
    out.write(_features(world))
    if report_file is not None:
        out.write(_write_report(world, report_file))
        out.write(_suggest(world, report_file.with_name("demo-suggested-pairings.yaml")))
    if state_file is not None:
        sandbox.save(state_file)
        out.write(f"Sandbox tenant saved to {state_file} (inspect it, or serve it with "
                  f"`mentoring sandbox serve --state {state_file}`).\n")
    return 0


# What the simulated mentors write after a session: a few lines, varied by session so the
# shared notes read like a program's and not like one text pasted ten times.
_TRIED = (
    "We set up {mentee}'s phone and laptop the way {mentor} works: notifications, focus time, "
    "a password manager",
    "{mentee} searched for our own products the way a customer would and we compared what came up",
    "We went through the feeds of three people {mentee} follows and what each platform rewards",
    "{mentor} showed how the team shares files and chats in Teams instead of long mail threads",
    "We looked at which of {mentee}'s data the company apps collect, and how to see it",
    "{mentee} drafted a first post with {mentor} and we talked through the comments it might get",
)
_LEARNED = (
    "the settings that matter are three screens deep, and most colleagues never change them",
    "customers find us through reviews first and through our own pages last",
    "younger colleagues read the comments before the post itself",
    "people answer faster in a channel than by mail, and the history stays findable",
    "the privacy settings are clear once someone shows where they are",
    "short and plain beats polished; a photo from the office floor did best",
)
_NEXT = (
    "try one week with the new setup and bring what got in the way",
    "{mentee} will post once before our next session",
    "bring two examples from {mentee}'s own team to the next session",
    "{mentor} prepares a short demo of the tools the claims team uses",
)


def write_notes(world: DemoWorld) -> None:
    """The simulated mentors' part: after a held session, those whose habit is to write notes
    type them into the session's item in the notes list (in the browser, as themselves), and
    those who share them tick "shared with the program"."""
    from graph.sandbox.sharepoint import SharePointStore, user_identity

    settings = world.config.program.sharepoint
    store = world.sandbox.state.sharepoint
    if settings is None or not isinstance(store, SharePointStore):
        return
    try:
        site = store.site(settings.site)
        sp_list = store.get_list(site, settings.list)
    except GraphError:
        return  # no list yet: nothing to write into
    directory = world.sandbox.state.directory
    now = world.clock.now()
    for item in list(sp_list.items.values()):
        values = item.fields
        if values.get("ProgramId") != world.config.program.id or values.get("Notes"):
            continue
        if values.get("SessionStatus") != HELD:
            continue
        mentor = directory.find(str(values.get("MentorEmail") or ""))
        if mentor is None or mentor.behaviour.notes not in ("post", "share"):
            continue
        ended = parse_instant(values.get("SessionEnd"))
        if ended is None or ended + timedelta(hours=mentor.behaviour.notes_after_hours) > now:
            continue
        fields: dict[str, Any] = {"Notes": _notes_text(values)}
        sharing = mentor.behaviour.notes == "share"
        publishing = world.config.program.publishing is not None
        if sharing:
            fields["MentorConsent" if publishing else "SharedWithProgram"] = True
        store.person_edits(site, settings.list, str(item.id), fields,
                           person=user_identity(mentor.id, mentor.displayName, mentor.mail),
                           now=now)
        mentee = directory.find(str(values.get("MenteeEmail") or ""))
        if sharing and publishing and mentee is not None:
            # The executive agrees too, on the item, as herself; one mentor ticks the
            # executive's box for her instead, which the worker refuses and reports.
            by = mentor if mentor.behaviour.ticks_for_mentee else mentee
            store.person_edits(site, settings.list, str(item.id), {"MenteeConsent": True},
                               person=user_identity(by.id, by.displayName, by.mail), now=now)


_PULSE_WORDS = ("practical", "eye-opening", "fun", "useful", "hands-on", "clear", "inspiring")


def answer_pulse(world: DemoWorld) -> None:
    """The simulated people's session pulse: the morning after a held session each person
    types how useful it was into their own columns of the item (as themselves), and after the
    session that closes the trust phase whether the pair is a good fit. Whoever never answers
    invitations answers no pulse either."""
    from graph.sandbox.sharepoint import SharePointStore, user_identity

    settings, pulse = world.config.program.sharepoint, world.config.program.pulse
    store = world.sandbox.state.sharepoint
    if settings is None or pulse is None or not isinstance(store, SharePointStore):
        return
    try:
        site = store.site(settings.site)
        sp_list = store.get_list(site, settings.list)
    except GraphError:
        return
    directory = world.sandbox.state.directory
    now = world.clock.now()
    for item in list(sp_list.items.values()):
        values = item.fields
        if (values.get("ProgramId") != world.config.program.id
                or values.get("SessionStatus") != HELD):
            continue
        ended = parse_instant(values.get("SessionEnd"))
        if ended is None or ended + timedelta(hours=20) > now:
            continue
        number = count_of(values.get("SessionNumber"))
        for prefix in ("Mentor", "Mentee") if pulse.ask_mentee else ("Mentor",):
            person = directory.find(str(values.get(f"{prefix}Email") or ""))
            if (values.get(f"{prefix}Pulse") is not None or person is None
                    or person.behaviour.kind == "never_answer"):
                continue
            seed = sum(f"{values.get('SessionKey')}/{prefix}".encode())
            fields: dict[str, Any] = {
                f"{prefix}Pulse": person.behaviour.pulse or 3 + seed % 3,
                f"{prefix}PulseWord": _PULSE_WORDS[seed % len(_PULSE_WORDS)]}
            if number == pulse.fit_question_after_session:
                fields[f"{prefix}Fit"] = person.behaviour.fit
            store.person_edits(site, settings.list, str(item.id), fields,
                               person=user_identity(person.id, person.displayName, person.mail),
                               now=now)


def _features(world: DemoWorld) -> str:
    """What the program's optional features did over the simulated months: the notes
    published with both people's consent, and the weekly digests the program team got."""
    from graph.sandbox.mail import received
    from graph.sandbox.sharepoint import SharePointStore

    program = world.config.program
    lines: list[str] = []
    store = world.sandbox.state.sharepoint
    if program.publishing is not None and program.sharepoint is not None \
            and isinstance(store, SharePointStore):
        try:
            copies = store.get_list(store.site(program.sharepoint.site), program.publishing.list)
            lines.append(f"Published notes: {len(copies.items)} session note(s) in "
                         f"'{program.publishing.list}', each with both people's consent")
        except GraphError:
            pass
    assisted = [p for p in world.config.pairings if p.assistant]
    if assisted:
        sessions = [s for found in read_sessions(world.client, world.config).values()
                    for s in found if not s.is_cancelled]
        directory = world.sandbox.state.directory
        for pairing in assisted:
            assert pairing.assistant is not None
            invited = sum(1 for s in sessions if s.pairing_id == pairing.id
                          and s.response_of(pairing.assistant) is not None)
            moved = _moves(world, pairing.id)
            lines.append(
                f"Assistant: {_who(directory.find(pairing.assistant), pairing.assistant)} for "
                f"{_who(directory.find(pairing.mentee), pairing.mentee)}: optional attendee on "
                f"{invited} invitation(s); {moved} of the pair's sessions moved to a time "
                "proposed or after a decline, taken like the executive's own")
    digest = program.digest
    if digest is not None and digest.mail:
        for admin in digest.admins:
            mails = received(world.sandbox, admin)
            if mails:
                lines.append(f"Weekly digest: {len(mails)} mail(s) to {admin}, one a period; "
                             f"the last: {mails[-1].get('subject', '')}")
    return "".join(f"{line}\n" for line in lines)


def _moves(world: DemoWorld, pairing_id: str) -> int:
    """How many of a pair's sessions were moved, as their items count it."""
    from graph.sandbox.sharepoint import SharePointStore

    settings, store = world.config.program.sharepoint, world.sandbox.state.sharepoint
    if settings is None or not isinstance(store, SharePointStore):
        return 0
    try:
        sp_list = store.get_list(store.site(settings.site), settings.list)
    except GraphError:
        return 0
    return sum(1 for item in sp_list.items.values()
               if item.fields.get("PairingId") == pairing_id
               and count_of(item.fields.get("RescheduleCount")) > 0)


def _suggest(world: DemoWorld, path: Path) -> str:
    """`mentoring suggest` for the executives who have no mentor yet, written for review."""
    from worker.cli.suggest import cmd_suggest

    if world.config.program.matching is None:
        return ""
    said = io.StringIO()
    cmd_suggest(world.client, world.config, world.clock, fmt="yaml", out_file=path,
                start=None, out=said)
    lines = [said.getvalue().rstrip("\n")]
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    for line in text.splitlines():
        if line.lstrip().startswith("- id:"):
            lines.append(f"  {line.strip()}")
            break
    return "\n".join(lines) + "\n"


def _notes_text(values: dict[str, Any]) -> str:
    seed = sum(str(values.get("SessionKey") or "").encode())
    names = {"mentor": str(values.get("MentorName") or "my mentor").split(" ")[0],
             "mentee": str(values.get("MenteeName") or "my mentee").split(" ")[0]}
    tried = _TRIED[seed % len(_TRIED)].format(**names)
    learned = _LEARNED[(seed // 3) % len(_LEARNED)]
    after = _NEXT[(seed // 7) % len(_NEXT)].format(**names)
    return (f"<p>{html.escape(tried)}.</p><p>What stayed with us: {html.escape(learned)}.</p>"
            f"<p>Next time: {html.escape(after)}.</p>")


def _write_report(world: DemoWorld, path: Path) -> str:
    """The sponsor's report of the simulated program, written where asked; its headline
    numbers and the pairs needing attention, with their reasons."""
    from worker.cli.report import read_report, render_html

    report = read_report(world.client, world.config, world.clock.now())
    path.write_text(render_html(report, world.templates.directory), encoding="utf-8")
    lines = [f"Report written to {path}"]
    head = report.headline
    if head is not None:
        cadence = head.on_cadence_share
        lines.append(
            f"  {head.active_pairs} active pairs; {head.held} of {head.due} sessions due "
            f"held; {round(100 * cadence) if cadence is not None else 0} % on cadence; "
            f"notes posted for {head.notes_posted}, {head.notes_shared} "
            + ("published with both people's consent" if report.publishing
               else "shared with the program")
            + f"; {len(report.pairs_attention)} pair(s) needing attention")
    for pair in report.pairs_attention:  # the first reasons; the report has them all
        more = len(pair.reasons) - 2
        lines.append(f"  {pair.pairing_id} ({pair.mentor} and {pair.mentee}): "
                     + "; ".join(pair.reasons[:2])
                     + (f"; and {more} more in the report" if more > 0 else ""))
    return "\n".join(lines) + "\n"


@dataclass
class _Totals:
    """What a whole simulated program did, summed over its runs."""

    runs: Counter[str] = field(default_factory=Counter)
    records: Counter[str] = field(default_factory=Counter)
    nudges: Counter[str] = field(default_factory=Counter)  # kind -> sent
    installs: int = 0
    unreachable: set[str] = field(default_factory=set)

    def add(self, summary: RunSummary) -> None:
        self.runs.update(booked=summary.booked, moved=summary.moved,
                         cancelled=summary.cancelled, requests=summary.requests,
                         throttled=summary.throttled)
        records = summary.records
        if records is not None:
            self.records.update(created=records.created, updated=records.updated,
                                conflicts=records.conflicts, requests=records.requests)
        nudges = summary.nudges
        if nudges is not None:
            self.nudges.update(nudge.nudge for nudge in nudges.sent)
            self.installs += len(nudges.installed)
            self.unreachable.update(nudges.unreachable)

    def render(self, *, sharepoint: bool) -> str:
        runs, records = self.runs, self.records
        lines = [
            f"{runs['booked']} sessions booked, {runs['moved']} moved after declines or "
            f"proposed times, {runs['cancelled']} cancelled; {runs['requests']} Graph "
            f"requests, {runs['throttled']} throttled."
        ]
        if sharepoint:
            lines.append(
                f"SharePoint list: {records['created']} items created, {records['updated']} "
                f"updates ({records['conflicts']} after concurrent edits), "
                f"{records['requests']} SharePoint requests."
            )
        if self.nudges or self.installs:
            lines.append(
                "Teams nudges: "
                + ", ".join(f"{n} {kind}" for kind, n in sorted(self.nudges.items()))
                + f"; our Teams app installed for {self.installs} people"
                + ("; not reachable in Teams (reported, others went on): "
                   + ", ".join(sorted(self.unreachable)) if self.unreachable else "")
                + "."
            )
        return "\n".join(lines) + "\n"


def _pairings_preview(config_dir: Path) -> list[Any]:
    """The pairings, loaded leniently only to pick the simulated start date."""
    return list(load_config(config_dir, today=datetime(2000, 1, 1, tzinfo=UTC).date()).pairings)


def _program_end(config: Config, first: Any) -> datetime:
    program = config.program
    last_start = max((p.start for p in config.pairings), default=first)
    days = (len(program.curriculum) + 1) * (program.cadence.every_days
                                            + program.cadence.tolerance_days) + 14
    return datetime.combine(last_start + timedelta(days=days), RUN_AT, tzinfo=UTC)


def _program_complete(world: DemoWorld) -> bool:
    """True when every active pairing's last session has an event that has ended."""
    program = world.config.program
    now = world.clock.now()
    ends = _session_ends(world)
    for pairing in world.config.pairings:
        if pairing.status != "active":
            continue
        last = f"{program.id}/{pairing.id}/{len(pairing.sessions(program))}"
        end = ends.get(last)
        if end is None or end > now:
            return False
    return True


def _session_ends(world: DemoWorld) -> dict[str, datetime]:
    ends: dict[str, datetime] = {}
    for row in _session_rows(world):
        ends[row["key"]] = row["end"]
    return ends


def _session_rows(world: DemoWorld) -> list[dict[str, Any]]:
    """The tagged events of the organizer mailbox(es), read as the worker reads them."""
    rows = []
    for key, sessions in read_sessions(world.client, world.config).items():
        for session in sessions:
            if session.is_cancelled:
                continue
            rows.append({"key": key, "session": session, "end": session.end})
    return rows


def render_sessions(world: DemoWorld) -> str:
    """Per pairing: each session, when, in each person's own time zone, and the answers."""
    directory = world.sandbox.state.directory
    by_pair: dict[str, list[Any]] = {}
    for row in _session_rows(world):
        by_pair.setdefault(row["session"].pairing_id, []).append(row["session"])
    lines: list[str] = [
        "Sessions per pairing: number, topic, the time in the mentor's zone | in the mentee's "
        "zone, answers (mentor/mentee)."
    ]
    for pairing in world.config.pairings:
        mentor = directory.find(pairing.mentor)
        mentee = directory.find(pairing.mentee)
        lines.append(
            f"{pairing.id}: {_who(mentor, pairing.mentor)} mentors {_who(mentee, pairing.mentee)}"
        )
        sessions = sorted(by_pair.get(pairing.id, []), key=lambda s: s.number)
        specs = {s.number: s for s in pairing.sessions(world.config.program)}
        for session in sessions:
            spec = specs.get(session.number)
            topic = spec.topic if spec else session.subject
            answers = "/".join(_answer(session, email)
                               for email in (pairing.mentor, pairing.mentee))
            link = "Teams" if session.join_url else "NO LINK"
            lines.append(
                f"  {session.number}/{len(specs)} {topic[:44]:<44} "
                f"{_local(session.start, mentor)} | {_local(session.start, mentee)}  "
                f"{answers}  {link}"
            )
        if not sessions:
            lines.append("  (no sessions booked)")
    return "\n".join(lines)


def _who(user: Any, email: str) -> str:
    if user is None:
        return email
    return f"{user.displayName} ({user.jobTitle})" if user.jobTitle else user.displayName


def _local(instant: datetime, user: Any) -> str:
    settings = getattr(user, "mailboxSettings", None) or {}
    zone_name = settings.get("timeZone") or "UTC"
    working = settings.get("workingHours") or {}
    zone_spec = working.get("timeZone") if zone_name == "Customized Time Zone" else zone_name
    try:
        zone = zone_for(zone_spec or "UTC")
    except Exception:  # noqa: BLE001 - a display nicety; fall back to UTC
        zone = UTC
    local = instant.astimezone(zone)
    return local.strftime("%a %d %b %Y %H:%M ") + abbreviation(local)


def _answer(session: Any, email: str) -> str:
    state = session.response_of(email)
    return {"accepted": "accepted", "declined": "declined", "tentativelyAccepted": "tentative",
            "none": "no answer", "notResponded": "no answer"}.get(
        state.response if state else "none", state.response if state else "?")


def _day(instant: datetime) -> str:
    return instant.strftime("%a %d %b %Y")


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())


__all__ = ["PROPERTY_ID", "DemoWorld", "build_world", "init_notes_list", "render_sessions",
           "run_demo"]
