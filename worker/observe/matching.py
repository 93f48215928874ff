"""What `mentoring suggest` reads: the two groups' members and the program's history.

Reads only, each once: the executives' and the mentors' groups (one paged listing each, with
the directory fields matching needs: department, job title, office), and the pairs of earlier
programs, from two places that each hold them:

- the notes list: one paged read of the whole list (`ProgramId`, `MentorEmail`,
  `MenteeEmail`); an item of another program names who was paired;
- the organizer mailbox(es): one paged listing of the events carrying our `MentoringSession`
  property whose value names another program (`<program>/<pairing>/<n>`); its required
  attendees (the organizer left out) are who was paired. Events survive a list an admin
  cleared, items survive events deleted with a retired program mailbox: either is enough.

A pair is the two people, whichever mentored: a mentor and an executive who met in either
role are not suggested again. Free/busy and working hours come through
`worker.observe.directory.read_schedules`, as for booking.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

from pydantic import EmailStr, TypeAdapter, ValidationError

from graph import calendar, groups, sharepoint
from graph.client import GraphClient
from graph.errors import Forbidden
from worker.config import Config, parse_session_key
from worker.config.program import MatchingSettings
from worker.core.properties import PROPERTY_ID
from worker.observe.events import organizers
from worker.observe.notes_list import NotesListUnavailable, find_list_ref
from worker.observe.state import Member, Pair

log = logging.getLogger(__name__)

MEMBER_FIELDS = ("id", "displayName", "mail", "userPrincipalName", "department", "jobTitle",
                 "officeLocation", "usageLocation")
HISTORY_COLUMNS = ("ProgramId", "MentorEmail", "MenteeEmail")


class MatchingUnavailable(Exception):
    """A group cannot be read (none of that id or mail, or no permission): the message says
    what to fix. `suggest` exits 2."""


@dataclass
class GroupRead:
    members: list[Member]
    skipped: list[str] = field(default_factory=list)  # why members were left out, one each


def read_group(client: GraphClient, name: str, role: str) -> GroupRead:
    """The user members of the group `name` (object id or mail). `role` names it in errors
    ("executives_group")."""
    try:
        found = groups.find_group(client, name)
        if found is None:
            raise MatchingUnavailable(
                f"matching.{role}: no group {name!r} in the directory (name an Entra group by "
                "its object id or its mail address)")
        raw = groups.group_members(client, str(found["id"]), MEMBER_FIELDS)
    except Forbidden as exc:
        raise MatchingUnavailable(
            f"matching.{role}: the app may not read group {name!r} ({exc.short()}): grant the "
            "application permission GroupMember.Read.All (admin consent) to read who is in the "
            "groups, and User.Read.All to read their department, job title and office") from exc
    read = GroupRead([])
    for entry in raw:
        member = _member(entry)
        if member is None:
            kind = str(entry.get("@odata.type") or "object").rsplit(".", 1)[-1]
            label = entry.get("displayName") or entry.get("id") or "?"
            read.skipped.append(f"{kind} {label} in {name} left out: not a user with an "
                                "address a pairing can name (nested groups are not expanded)")
            continue
        read.members.append(member)
    read.members.sort(key=lambda m: m.email)
    return read


def _member(entry: Mapping[str, Any]) -> Member | None:
    if str(entry.get("@odata.type") or "#microsoft.graph.user") != "#microsoft.graph.user":
        return None
    upn, mail = _text(entry.get("userPrincipalName")), _text(entry.get("mail"))
    if upn and "#ext#" in upn.lower():
        upn = None  # a guest's principal name is no address; their mail is
    email = (upn or mail or "").lower()
    if not _valid_address(email):
        return None
    return Member(
        email=email,
        names=frozenset(n.lower() for n in (upn, mail) if n),
        name=_text(entry.get("displayName")) or email,
        department=_text(entry.get("department")),
        job_title=_text(entry.get("jobTitle")),
        office=_text(entry.get("officeLocation")),
        country=_text(entry.get("usageLocation")),
    )


_ADDRESS: TypeAdapter[str] = TypeAdapter(EmailStr)


def _valid_address(email: str) -> bool:
    """Whether the pairings file would accept this address (the suggestions must load)."""
    try:
        _ADDRESS.validate_python(email)
    except ValidationError:
        return False
    return True


def _text(value: object) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None



@dataclass
class History:
    """Pairs of earlier programs (two lower-cased addresses) -> where each was seen first."""

    pairs: dict[Pair, str] = field(default_factory=dict)
    programs: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)

    def add(self, people: Iterable[str], where: str) -> None:
        names = sorted({p.lower() for p in people if p})
        for two in combinations(names, 2):
            self.pairs.setdefault(frozenset(two), where)


def read_history(client: GraphClient, config: Config, settings: MatchingSettings) -> History:
    """The pairs of the programs named in `history_programs` (default: every program but this
    one) from the notes list and the organizer's calendar."""
    wanted = set(settings.history_programs) if settings.history_programs is not None else None
    current = config.program.id

    def counts(program: str) -> bool:
        return program != current and (wanted is None or program in wanted)

    history = History()
    _items_history(client, config, history, counts)
    _events_history(client, config, history, counts, wanted)
    return history


def _items_history(client: GraphClient, config: Config, history: History,
                   counts: Any) -> None:
    settings = config.program.sharepoint
    if settings is None:
        history.notes.append("no notes list configured: history from the calendar only")
        return
    try:
        found = find_list_ref(client, settings)
    except NotesListUnavailable as exc:
        raise MatchingUnavailable(str(exc)) from exc
    if found is None:
        history.notes.append(f"list '{settings.list}' not found: history from the calendar "
                             "only")
        return
    try:
        items = sharepoint.all_items(client, found.site_id, found.list_id,
                                     select=HISTORY_COLUMNS)
    except Forbidden as exc:
        raise MatchingUnavailable(f"the app may not read the notes list ({exc.short()}): "
                                  "it needs its Sites.Selected grant on the site") from exc
    for item in items:
        fields = item.get("fields")
        if not isinstance(fields, Mapping):
            continue
        program = fields.get("ProgramId")
        if not isinstance(program, str) or not counts(program):
            continue
        people = [v for v in (fields.get("MentorEmail"), fields.get("MenteeEmail"))
                  if isinstance(v, str) and "@" in v]
        if len(people) == 2:
            history.programs.add(program)
            history.add(people, f"{program} (notes list)")


def _events_history(client: GraphClient, config: Config, history: History, counts: Any,
                    wanted: set[str] | None) -> None:
    # With named programs, only their tags are asked for; else every tag ("/" is in each)
    # in one listing, and this program's own are left out here.
    prefixes = sorted(f"{p}/" for p in wanted) if wanted is not None else ["/"]
    for mailbox in organizers(config):
        for prefix in prefixes:
            for raw in calendar.tagged_events(client, mailbox, PROPERTY_ID, prefix):
                key = _tag(raw)
                parsed = parse_session_key(key) if key else None
                if parsed is None or not counts(parsed[0]):
                    continue
                people = _paired(raw, mailbox)
                if len(people) >= 2:
                    history.programs.add(parsed[0])
                    history.add(people, f"{parsed[0]} (calendar)")


def _tag(raw: Mapping[str, Any]) -> str | None:
    props = raw.get("singleValueExtendedProperties")
    for prop in props if isinstance(props, list) else []:
        if (isinstance(prop, Mapping) and str(prop.get("id", "")).lower() == PROPERTY_ID.lower()
                and isinstance(prop.get("value"), str)):
            return str(prop["value"])
    return None


def _paired(raw: Mapping[str, Any], organizer: str) -> list[str]:
    """The required attendees of an event, the organizer left out: the pair (an assistant
    invited as optional is not part of it)."""
    people = []
    attendees = raw.get("attendees")
    for attendee in attendees if isinstance(attendees, list) else []:
        if not isinstance(attendee, Mapping) or attendee.get("type") in ("optional", "resource"):
            continue
        email = attendee.get("emailAddress")
        address = email.get("address") if isinstance(email, Mapping) else None
        if isinstance(address, str) and "@" in address and address.lower() != organizer:
            people.append(address.lower())
    return people
