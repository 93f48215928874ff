"""The tenant's directory: users (with their mailbox settings) and the app registrations.

Everything that identifies a person lives here, so calendar, SharePoint and Teams modules agree
on who exists. Users are addressed in Graph paths by id or userPrincipalName (case-insensitive).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from graph.sandbox.core import GraphError
from graph.teams import TEAMS_SERVICE_PLAN_ID

# Service plan and SKU ids: https://learn.microsoft.com/entra/identity/users/licensing-service-plan-reference
EXCHANGE_SERVICE_PLAN_ID = "efb87545-963c-4e0d-99df-69c6916d9eb0"  # EXCHANGE_S_ENTERPRISE
M365_E3_SKU_ID = "05e9a617-0261-4cee-bb44-138d3ef5d965"  # SPE_E3


@dataclass
class Behaviour:
    """How a simulated person answers invitations (scripted; see `graph.sandbox.people`).

    kind: "accept" | "decline_days" | "never_answer" | "tentative" | "propose_new_time" |
    "delete_invite". `weekdays` (0=Monday) is used by decline_days; `delay_minutes` is how long
    after the invitation lands the person answers (simulated clock).

    notes: what the person does with a held session's item in the program's notes list, as
    the demo plays it: "none" (never writes notes), "post" (writes them), "share" (writes them
    and ticks "shared with the program", or, where the program publishes notes with consent,
    their own "agrees to publish" box, the executive then ticking hers); `notes_after_hours`
    after the session ends. `ticks_for_mentee`: the mentor ticks the executive's box too, on
    her behalf (what the worker must refuse).
    """

    kind: str = "accept"
    weekdays: list[int] = field(default_factory=list)
    delay_minutes: int = 60
    notes: str = "none"
    notes_after_hours: int = 20
    ticks_for_mentee: bool = False


@dataclass
class User:
    id: str
    userPrincipalName: str
    displayName: str
    mail: str | None = None
    preferredLanguage: str | None = "en-US"
    jobTitle: str | None = None
    department: str | None = None
    officeLocation: str | None = None
    usageLocation: str | None = None  # ISO 3166 alpha-2; used for public holidays
    # mailboxSettings as Graph returns them: timeZone, workingHours, language, ...
    mailboxSettings: dict[str, Any] = field(default_factory=dict)
    has_mailbox: bool = True
    has_teams_license: bool = True
    behaviour: Behaviour = field(default_factory=Behaviour)

    def licence_json(self) -> dict[str, Any]:
        """`assignedLicenses` and `assignedPlans` as Graph returns them (only when selected):
        a Microsoft 365 E3 licence, its Teams plan (TEAMS1) disabled for a person without
        Teams, no Exchange plan for a person without a mailbox."""
        disabled = [] if self.has_teams_license else [TEAMS_SERVICE_PLAN_ID]
        plans = []
        if self.has_mailbox:
            plans.append(_plan("exchange", EXCHANGE_SERVICE_PLAN_ID))
        if self.has_teams_license:
            plans.append(_plan("TeamsForBusiness", TEAMS_SERVICE_PLAN_ID))
        return {
            "assignedLicenses": [{"skuId": M365_E3_SKU_ID, "disabledPlans": disabled}],
            "assignedPlans": plans,
        }

    def graph_json(self, select: list[str] | None = None) -> dict[str, Any]:
        full: dict[str, Any] = {
            "id": self.id,
            "userPrincipalName": self.userPrincipalName,
            "displayName": self.displayName,
            "mail": self.mail,
            "preferredLanguage": self.preferredLanguage,
            "jobTitle": self.jobTitle,
            "department": self.department,
            "officeLocation": self.officeLocation,
            "usageLocation": self.usageLocation,
        }
        if select:
            full.update(self.licence_json())
            return {"id": self.id, **{k: full.get(k) for k in select if k in full}}
        return full


def _plan(service: str, plan_id: str) -> dict[str, Any]:
    return {"assignedDateTime": "2024-03-04T08:00:00Z", "capabilityStatus": "Enabled",
            "service": service, "servicePlanId": plan_id}


@dataclass
class AppRegistration:
    """A confidential client app: what can authenticate and with which application roles."""

    client_id: str
    display_name: str
    client_secrets: list[str] = field(default_factory=list)
    # SHA-1 thumbprints (hex, upper-case) of certificates whose private key signs assertions.
    certificate_thumbprints: list[str] = field(default_factory=list)
    # PEM public certificates; the token endpoint verifies client assertion signatures with
    # them (a thumbprint alone cannot verify a signature, so it is not enough to sign in).
    certificates: list[str] = field(default_factory=list)
    # Federated credentials: the exact assertion strings accepted (workload identity token).
    federated_assertions: list[str] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)  # e.g. "Calendars.ReadWrite"
    # Sites.Selected grants: site ids on which the app has been granted access (the `write`
    # role unless `site_roles` names another one for that site).
    selected_sites: list[str] = field(default_factory=list)
    # Sites.Selected grants by site id: "read", "write" or "fullcontrol"
    # (POST /sites/{site-id}/permissions, `roles`).
    site_roles: dict[str, str] = field(default_factory=dict)
    managed_identity: bool = False
    # Exchange Online RBAC for Applications: mailbox permissions ("Calendars.ReadWrite", ...)
    # assigned to the app's service principal in Exchange, valid only for the mailboxes of
    # `mailbox_scope` (ids or addresses: the management scope's members). They are not in the
    # token's roles claim; Entra grants in `roles` still open every mailbox (the two add up).
    exchange_roles: list[str] = field(default_factory=list)
    mailbox_scope: list[str] | None = None

    def site_role(self, site_id: str) -> str | None:
        """The app's Sites.Selected role on this site, or None without a grant."""
        for key, role in self.site_roles.items():
            if key.lower() == site_id.lower():
                return role
        if any(s.lower() == site_id.lower() for s in self.selected_sites):
            return "write"
        return None


@dataclass
class Group:
    """An Entra group: its direct members by object id (users, or other groups, which Graph's
    `members` lists as groups without their own members: the listing is not transitive)."""

    id: str
    displayName: str
    mail: str | None = None
    members: list[str] = field(default_factory=list)

    def graph_json(self, select: list[str] | None = None) -> dict[str, Any]:
        full: dict[str, Any] = {"id": self.id, "displayName": self.displayName,
                                "mail": self.mail, "mailEnabled": self.mail is not None,
                                "securityEnabled": True, "groupTypes": []}
        if select:
            return {"id": self.id, **{k: full.get(k) for k in select if k in full}}
        return full


def _named(user: User, key: str) -> bool:
    return key in (user.id.lower(), user.userPrincipalName.lower(), (user.mail or "").lower())


@dataclass
class Directory:
    users: dict[str, User] = field(default_factory=dict)  # by id
    apps: dict[str, AppRegistration] = field(default_factory=dict)  # by client id
    groups: dict[str, Group] = field(default_factory=dict)  # by id
    _names: dict[str, User] = field(default_factory=dict, repr=False, compare=False)

    def add_user(self, user: User) -> User:
        self.users[user.id] = user
        return user

    def find(self, id_or_upn: str) -> User | None:
        """The user whose id, user principal name or mail is `id_or_upn` (any case). Names
        are looked up in an index, checked against the user it gives and built again from
        `users` when it gives nobody or someone since removed or renamed (callers add and
        remove users in `users` directly)."""
        key = id_or_upn.lower()
        if key in self.users:
            return self.users[key]
        user = self._names.get(key)
        if user is not None and self.users.get(user.id) is user and _named(user, key):
            return user
        self._names = {}
        for candidate in self.users.values():
            for name in (candidate.id, candidate.userPrincipalName, candidate.mail):
                if name:
                    self._names.setdefault(name.lower(), candidate)
        return self._names.get(key)

    def get(self, id_or_upn: str) -> User:
        """The user, or Graph's 404 for a user path segment that names nobody."""
        user = self.find(id_or_upn)
        if user is None:
            raise GraphError(
                404,
                "Request_ResourceNotFound",
                f"Resource '{id_or_upn}' does not exist or one of its queried reference-property "
                "objects are not present.",
            )
        return user

    def mailbox(self, id_or_upn: str) -> User:
        """The user whose mailbox a path names; Graph answers differently without a mailbox."""
        user = self.get(id_or_upn)
        if not user.has_mailbox:
            raise GraphError(
                404,
                "MailboxNotEnabledForRESTAPI",
                "The mailbox is either inactive, soft-deleted, or is hosted on-premise.",
            )
        return user

    def add_group(self, display_name: str, *, mail: str | None = None,
                  members: Iterable[str] = (), group_id: str | None = None) -> Group:
        """A group whose members are named by user id, user principal name or mail, or by a
        group's id; a name that is nobody is a set-up mistake (KeyError)."""
        ids = []
        for name in members:
            if name in self.groups:
                ids.append(name)
                continue
            user = self.find(name)
            if user is None:
                raise KeyError(f"no user {name!r} to add to group {display_name!r}")
            ids.append(user.id)
        group = Group(id=group_id or str(uuid.uuid5(uuid.NAMESPACE_URL, f"group:{display_name}")),
                      displayName=display_name, mail=mail, members=ids)
        self.groups[group.id] = group
        return group

    def find_group(self, group_id: str) -> Group | None:
        return next((g for key, g in self.groups.items() if key.lower() == group_id.lower()),
                    None)

    def to_json(self) -> dict[str, Any]:
        return {
            "users": [asdict(u) for u in self.users.values()],
            "apps": [asdict(a) for a in self.apps.values()],
            "groups": [asdict(g) for g in self.groups.values()],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Directory:
        directory = cls()
        for raw in data.get("users", []):
            raw = dict(raw)
            raw.setdefault("id", str(uuid.uuid4()))
            behaviour = Behaviour(**raw.pop("behaviour", {}))
            directory.add_user(User(**raw, behaviour=behaviour))
        for raw in data.get("apps", []):
            app = AppRegistration(**raw)
            directory.apps[app.client_id] = app
        for raw in data.get("groups", []):
            group = Group(**raw)
            directory.groups[group.id] = group
        return directory
