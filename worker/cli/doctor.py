"""`mentoring doctor`: every precondition of a run, checked against the tenant before the first
one, each with the fix when it does not hold. It writes nothing a person would see.

What it checks, in order (a check that needs what an earlier one found is left out when that
one failed, and the earlier one says so):
- the settings, the config and the templates (the code path of `mentoring validate`);
- the credential: a token is acquired; the application permissions in its `roles` claim;
- each permission the worker uses, by a harmless call: the organizer mailbox's calendar
  (Calendars.ReadWrite, which Exchange RBAC for Applications may give without the roles
  claim), a user (User.Read.All), the program's site (Sites.Selected), the org catalog
  (AppCatalog.Read.All), a participant's installed apps
  (TeamsAppInstallation.ReadWriteSelfForUser.All); TeamsActivity.Send has no call that sends
  nothing, so the roles claim is what counts for it;
- least privilege: another mailbox is refused (403 `ErrorAccessDenied`: the calendar
  permission is scoped to the organizers), another site is refused (403 `accessDenied`: only
  the program's site is granted), and the site grant allows writes (a write refused before it
  changes anything, see `graph.preflight`);
- the notes list: it exists with every column `sharepoint init` creates, each indexed one
  indexed;
- the Teams app: in the org catalog, bound to this app's client id (`webApplicationInfo.id`),
  of this release's package version (whose manifest declares the activity types the worker
  sends; Graph does not return a catalog app's activity types);
- every participant of an active pairing: exists (15 names a request, in `$batch`es, as the
  run reads them), has a mailbox (getSchedule through the organizer, 20 a call) and, with
  nudges, an enabled Teams service plan (TEAMS1 in `assignedPlans`).

Each check ends ok, warning or fail. Exit code (`worker.core.exit_codes`): 0 all ok, 1 warnings
only (a run would do everything else and name the rest), 2 any failure (fix it before the
first run), 3 when Graph or the identity platform did not answer (nothing is known; try later).
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

import requests
from pydantic import ValidationError

from graph import calendar, groups, preflight, sharepoint, teams
from graph.client import GraphClient
from graph.clock import Clock
from graph.errors import (
    AuthenticationError,
    Forbidden,
    GraphApiError,
    GraphClientError,
    IdentityUnavailable,
    NotFound,
    ServerError,
    Throttled,
    TransientError,
)
from worker.cli import logs
from worker.cli.notes_list_init import column_problems
from worker.cli.teams_app import APP_VERSION
from worker.config import Config, ConfigError, load_config
from worker.config.program import SharePointSettings
from worker.config.settings import Settings
from worker.core.exit_codes import ExitCode, worst
from worker.core.notes_list import PUBLISHED_COLUMNS, ColumnSpec, columns_for
from worker.core.paths import default_config_dir, default_templates_dir
from worker.observe.events import organizers
from worker.observe.notes_list import grant_instructions

log = logging.getLogger("worker")

OK, WARNING, FAIL = "ok", "warning", "fail"
_RESULT_CODE = {OK: ExitCode.OK, WARNING: ExitCode.INCOMPLETE, FAIL: ExitCode.CONFIG}
APP_NAME = "Reverse mentoring worker"
# The properties a participant is read with: the run's, and the licences.
PARTICIPANT_FIELDS = f"{calendar.USER_FIELDS},assignedPlans,assignedLicenses"
SITE_WIDE_ROLES = ("Sites.Read.All", "Sites.ReadWrite.All", "Sites.Manage.All",
                   "Sites.FullControl.All")
INSTALL_ROLES = ("TeamsAppInstallation.ReadWriteSelfForUser.All",
                 "TeamsAppInstallation.ReadWriteForUser.All")


@dataclass(frozen=True)
class Check:
    """One precondition and what was found: `result` ok, warning or fail; `fix` what to do
    (the exact command or portal step) when it is not ok."""

    name: str
    result: str
    detail: str
    fix: str = ""
    outage: bool = False  # Graph or the identity platform did not answer

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.OUTAGE if self.outage else _RESULT_CODE[self.result]

    def to_json(self) -> dict[str, Any]:
        return {"check": self.name, "result": self.result, "detail": self.detail,
                "fix": self.fix or None, "exit_code": int(self.exit_code)}


def exit_code(checks: Iterable[Check]) -> ExitCode:
    return worst(*(c.exit_code for c in checks))


def _portal_grant(client_id: str, permission: str) -> str:
    return (f"Entra admin center > App registrations > {client_id} > API permissions > Add a "
            f"permission > Microsoft Graph > Application permissions > {permission} > Add; "
            "then Grant admin consent")


def _scope_commands(client_id: str, mailboxes: list[str],
                    role: str = "Application Calendars.ReadWrite") -> str:
    members = " -or ".join(f"PrimarySmtpAddress -eq '{m}'" for m in mailboxes)
    first = mailboxes[0] if mailboxes else "<organizer>"
    return ("Exchange Online PowerShell: "
            f'New-ManagementScope -Name "Reverse mentoring mailbox" -RecipientRestrictionFilter '
            f'"{members}"; New-ManagementRoleAssignment -App {client_id} -Role '
            f'"{role}" -CustomResourceScope "Reverse mentoring mailbox"; '
            f"check with Test-ServicePrincipalAuthorization -Identity {client_id} -Resource "
            f"{first}")


class Doctor:
    """The checks that need Graph, for one settings, config and client."""

    def __init__(self, client: GraphClient, config: Config, settings: Settings,
                 clock: Clock) -> None:
        self.client = client
        self.config = config
        self.settings = settings
        self.client_id = settings.client_id
        self.clock = clock
        self.roles: list[str] = []
        self.checks: list[Check] = []
        self.organizers = organizers(config)
        # Active pairings' people, mentors first (the organizers when each mentor organizes).
        active = config.active_pairings()
        self.participants = list(dict.fromkeys(
            [p.mentor.lower() for p in active] + [p.mentee.lower() for p in active]))
        self.people: dict[str, dict[str, Any]] = {}
        self.site_id: str | None = None
        self.list_id: str | None = None
        self.organizer_ok = False

    def add(self, name: str, result: str, detail: str, fix: str = "", *,
            outage: bool = False) -> None:
        self.checks.append(Check(name, result, detail, fix, outage))

    def guarded(self, name: str, check: Callable[[], None]) -> None:
        """Run one check; Graph not answering is that check's outage, never a traceback."""
        try:
            check()
        except (TransientError, ServerError, Throttled) as exc:
            self.add(name, FAIL, f"Graph did not answer: {exc}",
                     "nothing is wrong with the set-up that this shows: run the doctor again "
                     "later", outage=True)
        except AuthenticationError as exc:
            self.add(name, FAIL, str(exc), "see the token check", outage=isinstance(
                exc, IdentityUnavailable))
        except GraphApiError as exc:
            # An answer no check above expects: named as it is, the other checks go on.
            self.add(name, FAIL, f"Graph refused a read: {exc}",
                     _portal_grant(self.client_id, "the permission named in the README") if
                     exc.status == 403 else "see the detail")

    # -- the run ---------------------------------------------------------------------------

    def run(self) -> list[Check]:
        if not self.token():
            return self.checks
        self.guarded("permission User.Read.All", self.user_read)
        self.guarded("participants exist", self.participants_exist)
        self.guarded("organizer mailbox", self.organizer_mailbox)
        self.guarded("least privilege: mailboxes", self.other_mailbox)
        self.guarded("participants' mailboxes", self.participant_mailboxes)
        if self.config.program.sharepoint is not None:
            settings = self.config.program.sharepoint
            self.guarded("program site", lambda: self.program_site(settings))
            if self.site_id is not None:
                self.guarded("least privilege: sites", lambda: self.other_site(settings))
                self.guarded("notes list", lambda: self.notes_list(settings))
                publishing = self.config.program.publishing
                if publishing is not None:
                    self.guarded("published notes list", lambda: self.notes_list(
                        settings, title=publishing.list, columns=PUBLISHED_COLUMNS,
                        check="published notes list"))
            if self.list_id is not None:
                self.guarded("site grant allows writes", self.site_write)
        if self.config.program.nudges is not None:
            self.guarded("Teams app in the catalog", self.catalog)
            self.guarded("permission TeamsAppInstallation", self.installation)
            self.permission_send()
            self.guarded("participants' Teams licences", self.licences)
        sender = self.config.program.digest_sender()
        if sender is not None:
            self.guarded("digest mailbox (Mail.Send)", lambda: self.digest_mailbox(sender))
        if self.config.program.matching is not None:
            self.guarded("matching groups (GroupMember.Read.All)", self.matching_groups)
        return self.checks

    # -- credential ------------------------------------------------------------------------

    def token(self) -> bool:
        check, self.roles = _token(self.client, self.settings)
        self.checks.append(check)
        return check.result == OK

    # -- directory -------------------------------------------------------------------------

    def user_read(self) -> None:
        who = (self.participants or self.organizers or [""])[0]
        if not who:
            self.add("permission User.Read.All", WARNING, "no participant to read")
            return
        answer = preflight.probe(self.client, calendar.user_path(who),
                                 {"$select": "id,userPrincipalName"})
        if answer.status == 403:
            self.add("permission User.Read.All", FAIL,
                     f"reading {who} was refused: {answer.short()}",
                     _portal_grant(self.client_id, "User.Read.All"))
            return
        self.add("permission User.Read.All", OK, f"read {who} ({answer.short()})")

    def participants_exist(self) -> None:
        if not self.participants:
            self.add("participants exist", WARNING, "no active pairing in the config")
            return
        found = calendar.lookup_users(self.client, self.participants, select=PARTICIPANT_FIELDS)
        missing, failed = [], []
        for email, answer in found.items():
            if isinstance(answer, NotFound):
                missing.append(email)
            elif isinstance(answer, Forbidden):
                failed.append(f"{email} ({answer.short()})")
            elif isinstance(answer, (TransientError, ServerError, Throttled)):
                raise answer
            elif isinstance(answer, Exception):
                failed.append(f"{email} ({type(answer).__name__})")
            else:
                self.people[email.lower()] = answer
        if missing:
            self.add("participants exist", FAIL,
                     f"not in the directory: {', '.join(missing)}",
                     "correct the address in the pairings file (mentor/mentee) or restore the "
                     "account (Microsoft 365 admin center > Users > Deleted users > Restore); "
                     "`mentoring validate` checks the file again")
        elif failed:
            self.add("participants exist", FAIL, f"could not be read: {', '.join(failed)}",
                     _portal_grant(self.client_id, "User.Read.All"))
        else:
            self.add("participants exist", OK,
                     f"{len(self.people)} participant(s) of active pairings found")

    # -- calendar --------------------------------------------------------------------------

    def organizer_mailbox(self) -> None:
        refused, absent, unclear = [], [], []
        for mailbox in self.organizers:
            answer = preflight.probe_mailbox(self.client, mailbox)
            if answer.status == 403:
                refused.append(f"{mailbox} ({answer.short()})")
            elif answer.status == 404:
                absent.append(f"{mailbox} ({answer.short()})")
            elif not answer.ok:
                unclear.append(f"{mailbox} ({answer.short()})")
        via = ("the tenant-wide Entra grant" if "Calendars.ReadWrite" in self.roles
               else "Exchange RBAC for Applications (not in the roles claim)")
        if refused:
            fix = (_portal_grant(self.client_id, "Calendars.ReadWrite") + "; better, scope it: "
                   if not any(r.startswith("Calendars.") for r in self.roles) else "")
            self.add("organizer mailbox", FAIL,
                     f"the app may not open the organizer's calendar: {', '.join(refused)}; "
                     "it is outside the app's Exchange RBAC scope or no calendar permission "
                     "is granted",
                     fix + _scope_commands(self.client_id, self.organizers))
        elif absent:
            self.add("organizer mailbox", FAIL, f"no such mailbox: {', '.join(absent)}",
                     "check `organizer` in program.yaml; the program mailbox needs an Exchange "
                     "Online licence (Microsoft 365 admin center > Users > Active users > the "
                     "mailbox > Licenses and apps)")
        elif unclear:
            self.add("organizer mailbox", WARNING,
                     f"could not tell: opening the calendar answered {', '.join(unclear)}")
        else:
            self.organizer_ok = True
            writes = {m: preflight.probe_event_write(self.client, m) for m in self.organizers}
            read_only = [m for m, answer in writes.items() if answer.status == 403]
            if read_only:
                self.add("organizer mailbox", FAIL,
                         f"{', '.join(read_only)}: the calendar is readable but a write is "
                         "refused (403): the app has read access only",
                         "assign the write role: New-ManagementRoleAssignment -App "
                         f"{self.client_id} -Role \"Application Calendars.ReadWrite\" "
                         "-CustomResourceScope \"Reverse mentoring mailbox\" (and remove the "
                         "Application Calendars.Read assignment)")
                return
            self.add("organizer mailbox", OK,
                     f"{', '.join(self.organizers)}: calendar readable and writable (a write "
                     "that changes nothing got as far as Outlook's "
                     f"{', '.join(sorted({a.short() for a in writes.values()}))}), through {via}")

    def other_mailbox(self) -> None:
        others = [p for p in self.participants if p not in self.organizers]
        if not others:
            self.add("least privilege: mailboxes", WARNING,
                     "no mailbox outside the organizers to try")
            return
        other = others[0]
        answer = preflight.probe_mailbox(self.client, other)
        if answer.ok:
            why = ("tenant-wide Calendars.ReadWrite in the roles claim"
                   if "Calendars.ReadWrite" in self.roles
                   else "no Exchange RBAC scope holds it back")
            self.add("least privilege: mailboxes", FAIL,
                     f"the app can open {other}'s calendar: every mailbox is open to it ({why})",
                     _scope_commands(self.client_id, self.organizers)
                     + "; then remove the tenant-wide grant: Entra admin center > App "
                     f"registrations > {self.client_id} > API permissions > "
                     "Calendars.ReadWrite > Remove permission (Entra grants and Exchange RBAC "
                     "assignments add up)")
        elif answer.status == 403:
            self.add("least privilege: mailboxes", OK,
                     f"another mailbox ({other}) is refused: {answer.short()}")
        else:
            self.add("least privilege: mailboxes", WARNING,
                     f"could not tell: opening {other}'s calendar answered {answer.short()}")

    def participant_mailboxes(self) -> None:
        people = [p for p in self.participants if p in self.people]
        if not people or not self.organizers:
            return
        if not self.organizer_ok:
            self.add("participants' mailboxes", FAIL,
                     f"not checked: getSchedule goes through {self.organizers[0]}, which the "
                     "app may not open", "see the organizer mailbox check")
            return
        now = self.clock.now()
        start = datetime(now.year, now.month, now.day, tzinfo=now.tzinfo)
        items = calendar.get_schedules(self.client, self.organizers[0], people, start,
                                       start + timedelta(days=1), interval_minutes=60,
                                       workers=1, convert=lambda item: item)
        answered = {str(i.get("scheduleId", "")).lower(): i for i in items}
        without = []
        for person in people:
            error = (answered.get(person) or {"error": {"responseCode": "NoSchedule"}}).get(
                "error")
            if error:
                code = error.get("responseCode", "") if isinstance(error, dict) else ""
                without.append(f"{person} ({code or 'error'})")
        if without:
            self.add("participants' mailboxes", FAIL,
                     f"no mailbox (getSchedule): {', '.join(without)}",
                     "give each an Exchange Online licence (Microsoft 365 admin center > Users "
                     "> Active users > the person > Licenses and apps), or correct the address")
        else:
            self.add("participants' mailboxes", OK,
                     f"getSchedule answers for all {len(people)} through {self.organizers[0]}")

    # -- SharePoint ------------------------------------------------------------------------

    def program_site(self, settings: SharePointSettings) -> None:
        try:
            site = sharepoint.get_site(self.client, settings.site)
        except Forbidden as exc:
            self.add("program site", FAIL, f"{settings.site} refused ({exc.short()})",
                     grant_instructions(settings, self.client_id, None, APP_NAME))
            return
        except NotFound:
            self.add("program site", FAIL, f"{settings.site} does not exist",
                     "correct sharepoint.site in program.yaml (hostname:/sites/path)")
            return
        self.site_id = str(site["id"])
        self.add("program site", OK, f"{settings.site} readable (Sites.Selected)")

    def other_site(self, settings: SharePointSettings) -> None:
        if settings.site.partition(":")[2].strip("/") == "":
            self.add("least privilege: sites", WARNING,
                     "the program's site is the root site: no other site to try")
            return
        answer = preflight.probe(self.client, "/sites/root", {"$select": "id"})
        wide = [r for r in self.roles if r in SITE_WIDE_ROLES]
        if answer.ok:
            self.add("least privilege: sites", FAIL,
                     "the app can read the tenant's root site: every site is open to it"
                     + (f" ({', '.join(wide)})" if wide else " (a grant on the root site)"),
                     "keep Sites.Selected only: Entra admin center > App registrations > "
                     f"{self.client_id} > API permissions > {', '.join(wide) or 'Sites.*.All'} "
                     "> Remove permission; or remove the root site's grant (DELETE "
                     "/sites/root/permissions/{permission-id})")
        elif answer.status in (403, 404):
            self.add("least privilege: sites", OK,
                     f"another site (the root site) is refused: {answer.short()}")
        else:
            self.add("least privilege: sites", WARNING,
                     f"could not tell: the root site answered {answer.short()}")

    def notes_list(self, settings: SharePointSettings, *, title: str | None = None,
                   columns: Sequence[ColumnSpec] | None = None,
                   check: str = "notes list") -> None:
        """The list exists with every column `sharepoint init` makes, each indexed one
        indexed: the notes list by default, or the published notes list."""
        assert self.site_id is not None
        title = title or settings.list
        program = self.config.program
        # The pulse's columns and the consent boxes only where the program uses them
        # (`sharepoint init` adds them once the feature is configured).
        wanted = columns if columns is not None else columns_for(
            pulse=program.pulse is not None, consent=program.publishing is not None)
        found = sharepoint.find_list(self.client, self.site_id, title)
        init = ("mentoring sharepoint init (creating columns and indexes needs the "
                "`fullcontrol` role on the site once; README, \"App registration and "
                "permissions\")")
        if found is None:
            self.add(check, FAIL, f"no list '{title}' on {settings.site}", init)
            return
        if check == "notes list":
            self.list_id = str(found["id"])
        present = {str(c.get("name", "")).lower(): c for c in found.get("columns") or []}
        missing = [c.name for c in wanted if c.name.lower() not in present]
        unindexed = [c.name for c in wanted if c.indexed and c.name.lower() in present
                     and not present[c.name.lower()].get("indexed")]
        wrong = [p for c in wanted if c.name.lower() in present
                 and (p := column_problems(present[c.name.lower()], c))]
        if wrong:
            self.add(check, FAIL, "; ".join(wrong),
                     "fix or rename those columns in SharePoint (List settings > the column), "
                     "then " + init)
        elif missing or unindexed:
            parts = ([f"missing columns: {', '.join(missing)}"] if missing else []) + (
                [f"not indexed: {', '.join(unindexed)}"] if unindexed else [])
            self.add(check, FAIL, "; ".join(parts), init)
        else:
            indexed = sum(1 for c in wanted if c.indexed)
            self.add(check, OK, f"'{title}': {len(wanted)} columns, {indexed} indexed")

    def site_write(self) -> None:
        assert self.site_id is not None and self.list_id is not None
        answer = preflight.probe_item_write(self.client, self.site_id, self.list_id)
        settings = self.config.program.sharepoint
        assert settings is not None
        if answer.status == 403:
            self.add("site grant allows writes", FAIL,
                     f"a write to the list is refused ({answer.short()}): the grant on "
                     f"{settings.site} is read-only",
                     "raise it to write: PATCH https://graph.microsoft.com/v1.0/sites/"
                     f"{self.site_id}/permissions/{{permission-id}} "
                     '{"roles": ["write"]} (PnP: Set-PnPAzureADAppSitePermission '
                     "-PermissionId <id> -Permissions Write)")
        elif answer.status == 404:
            self.add("site grant allows writes", OK,
                     "a write that changes nothing (item 0) got as far as SharePoint's "
                     f"404 {answer.code}")
        else:
            self.add("site grant allows writes", WARNING,
                     f"could not tell: the write probe answered {answer.short()}")

    # -- Teams -----------------------------------------------------------------------------

    def catalog(self) -> None:
        nudges = self.config.program.nudges
        assert nudges is not None
        package = (f"mentoring teams-app package --client-id {self.client_id} --out "
                   "reverse-mentoring.zip, then Teams admin center > Teams apps > Manage apps")
        try:
            found = teams.find_catalog_app(self.client, nudges.teams_app_id, definitions=True)
        except Forbidden as exc:
            self.add("Teams app in the catalog", FAIL,
                     f"the org catalog cannot be read ({exc.short()})",
                     _portal_grant(self.client_id, "AppCatalog.Read.All"))
            return
        if found is None:
            self.add("Teams app in the catalog", FAIL,
                     f"no app with manifest id {nudges.teams_app_id} in the org catalog",
                     f"{package} > Upload new app")
            return
        definitions = [d for d in found.get("appDefinitions") or [] if isinstance(d, dict)]
        definition = definitions[-1] if definitions else {}
        authorization = definition.get("authorization")
        bound = authorization.get("clientAppId") if isinstance(authorization, dict) else None
        version = str(definition.get("version") or "")
        if bound is None or str(bound).lower() != self.client_id.lower():
            self.add("Teams app in the catalog", FAIL,
                     f"'{found.get('displayName')}' is bound to Entra app {bound or 'none'} "
                     f"(webApplicationInfo.id), not this worker's {self.client_id}: Teams "
                     "would refuse every nudge",
                     f"{package} > the app > Upload file (a new version)")
        elif _version(version) < _version(APP_VERSION):
            self.add("Teams app in the catalog", WARNING,
                     f"'{found.get('displayName')}' is version {version or 'unknown'}; this "
                     f"release's package is {APP_VERSION} (activity types "
                     f"{', '.join(t['type'] for t in teams.ACTIVITY_TYPES)})",
                     f"{package} > the app > Upload file (a new version)")
        else:
            self.add("Teams app in the catalog", OK,
                     f"'{found.get('displayName')}' v{version}, bound to {self.client_id}; its "
                     f"package declares {', '.join(t['type'] for t in teams.ACTIVITY_TYPES)}")

    def installation(self) -> None:
        nudges = self.config.program.nudges
        assert nudges is not None
        name = "permission TeamsAppInstallation"
        if not any(r in self.roles for r in INSTALL_ROLES):
            self.add(name, FAIL, "TeamsAppInstallation.ReadWriteSelfForUser.All is not in the "
                     "roles claim: the app cannot be installed for anyone",
                     _portal_grant(self.client_id,
                                   "TeamsAppInstallation.ReadWriteSelfForUser.All"))
            return
        licensed = [e for e in self.participants if e in self.people
                    and _has_teams(self.people[e])]
        if not licensed:
            self.add(name, WARNING, "no participant with Teams to try it on")
            return
        person = self.people[licensed[0]]
        try:
            installed = teams.has_app(self.client, str(person["id"]), nudges.teams_app_id)
        except Forbidden as exc:
            self.add(name, FAIL, f"listing {licensed[0]}'s installed apps was refused "
                     f"({exc.short()})",
                     _portal_grant(self.client_id,
                                   "TeamsAppInstallation.ReadWriteSelfForUser.All"))
            return
        extra = ("; TeamsAppInstallation.ReadWriteForUser.All is more than needed (any app): "
                 "ReadWriteSelfForUser.All is enough"
                 if "TeamsAppInstallation.ReadWriteForUser.All" in self.roles else "")
        self.add(name, WARNING if extra else OK,
                 f"{licensed[0]}'s installed apps readable (ours "
                 f"{'installed' if installed else 'not yet installed'}){extra}",
                 "remove TeamsAppInstallation.ReadWriteForUser.All in Entra" if extra else "")

    def permission_send(self) -> None:
        if "TeamsActivity.Send" in self.roles:
            self.add("permission TeamsActivity.Send", OK,
                     "in the roles claim (no call can try it without sending a notification)")
        else:
            self.add("permission TeamsActivity.Send", FAIL,
                     "not in the roles claim: no nudge can be sent",
                     _portal_grant(self.client_id, "TeamsActivity.Send"))

    def digest_mailbox(self, sender: str) -> None:
        """The digest mail: Mail.Send on the program mailbox, by a send with no recipient
        (`graph.preflight.probe_send_mail`: nothing is delivered), and not tenant-wide."""
        name = "digest mailbox (Mail.Send)"
        answer = preflight.probe_send_mail(self.client, sender)
        tenant_wide = "Mail.Send" in self.roles
        if answer.status == 403:
            self.add(name, FAIL, f"the app may not send mail as {sender} ({answer.short()}): "
                                 "no weekly digest can go out",
                     _scope_commands(self.client_id, [sender], "Application Mail.Send"))
        elif answer.status == 404:
            self.add(name, FAIL, f"no such mailbox: {sender} ({answer.short()})",
                     "check `digest.from_mailbox` (or `organizer`) in program.yaml; the mailbox "
                     "needs an Exchange Online licence")
        elif answer.status != 400:
            self.add(name, WARNING, f"could not tell: a send with no recipient answered "
                                    f"{answer.short()}")
        elif tenant_wide:
            self.add(name, WARNING,
                     f"{sender} may send (a message with no recipient got as far as Outlook's "
                     f"{answer.short()}), but Mail.Send is in the roles claim: the app may send "
                     "mail as anyone in the tenant",
                     "Entra admin center > App registrations > the app > API permissions > "
                     "Mail.Send > Remove permission; then "
                     + _scope_commands(self.client_id, [sender], "Application Mail.Send"))
        else:
            self.add(name, OK,
                     f"{sender} may send (a message with no recipient got as far as Outlook's "
                     f"{answer.short()}; nothing was sent), through Exchange RBAC for "
                     "Applications (not in the roles claim)")

    def matching_groups(self) -> None:
        """`mentoring suggest`: both groups found, and their members readable (one page of
        one member each: a read, nothing more)."""
        name = "matching groups (GroupMember.Read.All)"
        matching = self.config.program.matching
        assert matching is not None
        found: list[str] = []
        for ref in (matching.executives_group, matching.mentors_group):
            try:
                group = groups.find_group(self.client, ref)
                if group is None:
                    self.add(name, FAIL, f"no group {ref} in the directory",
                             "check `matching` in program.yaml: a group's object id or mail")
                    return
                self.client.request("GET", f"/groups/{group['id']}/members",
                                    params={"$select": "id", "$top": "1"})
            except Forbidden as exc:
                self.add(name, FAIL, f"reading group {ref} was refused: {exc}",
                         _portal_grant(self.client_id, "GroupMember.Read.All"))
                return
            found.append(str(group.get("displayName") or ref))
        self.add(name, OK, f"groups {' and '.join(found)} and their members can be read")

    def licences(self) -> None:
        people = [p for p in self.participants if p in self.people]
        without = [p for p in people if not _has_teams(self.people[p])]
        if without:
            self.add("participants' Teams licences", WARNING,
                     f"no Teams (service plan TEAMS1 not enabled): {', '.join(without)}; "
                     "their nudges cannot be delivered (the run names them)",
                     "Microsoft 365 admin center > Users > Active users > the person > "
                     "Licenses and apps > Apps > turn on Microsoft Teams > Save")
        elif people:
            self.add("participants' Teams licences", OK,
                     f"all {len(people)} have Teams (TEAMS1 enabled)")


def _token(client: GraphClient, settings: Settings) -> tuple[Check, list[str]]:
    """A token acquired, and the application permissions in its roles claim."""
    kind = settings.credential_kind.replace("_", " ")
    try:
        token = client.credential.token()
    except AuthenticationError as exc:
        outage = isinstance(exc, IdentityUnavailable)
        return Check("token", FAIL, str(exc),
                     "the identity platform did not answer: try again later" if outage else
                     f"check MENTORING_TENANT_ID and MENTORING_CLIENT_ID ({settings.client_id}) "
                     f"and the {kind}: Entra admin center > App registrations > "
                     f"{settings.client_id} > Certificates & secrets",
                     outage=outage), []
    roles = preflight.token_roles(token)
    return Check("token", OK, f"acquired ({kind}); roles: {', '.join(roles) or 'none'}"), roles


def token_check(client: GraphClient, settings: Settings) -> list[Check]:
    return [_token(client, settings)[0]]


def _has_teams(user: dict[str, Any]) -> bool:
    plans = user.get("assignedPlans")
    return isinstance(plans, list) and any(
        isinstance(p, dict) and str(p.get("servicePlanId", "")).lower()
        == teams.TEAMS_SERVICE_PLAN_ID and p.get("capabilityStatus") == "Enabled"
        for p in plans)


def _version(text: str) -> tuple[int, ...]:
    parts = []
    for part in text.split("."):
        parts.append(int(part) if part.isdigit() else 0)
    return tuple(parts)


# ---------------------------------------------------------------------------------------------
# Config and templates (the code path of `mentoring validate`)


def config_checks(config_dir: Path, templates_dir: Path | None, today: date
                  ) -> tuple[Config | None, list[Check]]:
    try:
        config = load_config(config_dir, today=today, templates_dir=templates_dir)
    except ConfigError as exc:
        templates_root = str((templates_dir or default_templates_dir()).resolve())
        in_templates = [p for p in exc.problems
                        if str(Path(p.file).resolve()).startswith(templates_root)]
        in_config = [p for p in exc.problems if p not in in_templates]
        checks = []
        later = "; the Graph checks wait until the config loads"
        if in_config:
            checks.append(Check("config", FAIL, "; ".join(str(p) for p in in_config) + later,
                                f"correct {len(in_config)} problem(s) at the places named; "
                                "check with `mentoring validate`"))
        else:
            checks.append(Check("config", OK, f"{config_dir}: no problem in the config files"))
        if in_templates:
            checks.append(Check("templates", FAIL,
                                "; ".join(str(p) for p in in_templates) + later,
                                "correct the template at the line named; check with "
                                "`mentoring validate`"))
        return None, checks
    active = len(config.active_pairings())
    summary = (f"program {config.program.id!r}, {len(config.pairings)} pairing(s) ({active} "
               f"active), {len(config.program.curriculum)} sessions each")
    # Warnings of `validate` (a blackout in the past, ...) do not stop a run: ok, as there.
    checks = [Check("config", OK,
                    summary + "".join(f"; warning: {w}" for w in config.warnings)),
              Check("templates", OK, f"{templates_dir or default_templates_dir()}: every "
                    "template compiles")]
    return config, checks


# ---------------------------------------------------------------------------------------------
# The command


def cmd_doctor(args: argparse.Namespace, *, clock: Clock, session: requests.Session | None,
               out: TextIO) -> int:
    """`mentoring doctor`: the checks as a table (JSON lines with JSON logs); the exit code."""
    from worker.cli.main import (
        _env_log_format,
        _secret_values,
        _settings_message,
        build_client,
    )

    try:
        settings = Settings()  # type: ignore[call-arg]  # values come from the environment
    except ValidationError as exc:
        json_logs = logs.configure(args.log_format or _env_log_format())
        checks = [Check("settings", FAIL, _settings_message(exc),
                        "set the MENTORING_* variables named (README, \"Settings\"): the "
                        "tenant id, the client id and one credential")]
        _config, more = config_checks(args.config or default_config_dir(), None,
                                      clock.now().date())
        return _report([*checks, *more], json_logs, out)
    if args.config is not None:
        settings = settings.model_copy(update={"config_dir": args.config})
    json_logs = logs.configure(args.log_format or settings.log_format,
                               secrets=_secret_values(settings))
    checks = [Check("settings", OK, f"tenant {settings.tenant_id}, client {settings.client_id}, "
                    f"{settings.credential_kind.replace('_', ' ')}, "
                    f"Graph {settings.effective_graph_url}")]
    config, more = config_checks(settings.config_dir, settings.templates_dir,
                                 clock.now().date())
    checks.extend(more)
    try:
        client = build_client(settings, clock, session)
        if config is None:
            # Without the config only the credential can be checked.
            doctor_checks = token_check(client, settings)
        else:
            doctor_checks = Doctor(client, config, settings, clock).run()
    except GraphClientError as exc:
        doctor_checks = [Check("graph", FAIL, f"stopped: {exc}", "run the doctor again later",
                               outage=True)]
    checks.extend(doctor_checks)
    return _report(checks, json_logs, out)


def _report(checks: list[Check], json_logs: bool, out: TextIO) -> int:
    code = exit_code(checks)
    if json_logs:
        for check in checks:
            out.write(json.dumps(check.to_json(), separators=(",", ":")) + "\n")
    else:
        out.write(render_table(checks) + "\n")
    if json_logs:
        counts = {r: sum(1 for c in checks if c.result == r) for r in (OK, WARNING, FAIL)}
        log.info("doctor finished", extra={"exit_code": int(code), "checks": counts})
    return int(code)


def render_table(checks: list[Check]) -> str:
    width = max((len(c.name) for c in checks), default=5) + 2
    lines = [f"{'CHECK':<{width}}{'RESULT':<9}DETAIL"]
    for check in checks:
        lines.append(f"{check.name:<{width}}{check.result:<9}{check.detail}")
        if check.fix:
            lines.append(f"{'':<{width}}{'':<9}fix: {check.fix}")
    counts = {r: sum(1 for c in checks if c.result == r) for r in (OK, WARNING, FAIL)}
    code = exit_code(checks)
    lines.append("")
    lines.append(f"{len(checks)} checks: {counts[OK]} ok, {counts[WARNING]} warning(s), "
                 f"{counts[FAIL]} failure(s); exit {int(code)}"
                 + (" (Graph did not answer: try again later)" if code == ExitCode.OUTAGE
                    else ""))
    return "\n".join(lines)

