"""Second items of one session in the notes list: which one is the session's, and which of
the others the worker may remove.

How a session gets two items: a create whose answer was lost before creates were looked up
first (earlier versions of the worker), two runs at the same time, a person copying an item.
The session's item is the one its event remembers, else the oldest (smallest id). Another is
removed only when all of these hold, the strict reading of "the worker made it and nobody
touched it": an application created it and an application last changed it (SharePoint names
the person who saved an item in `createdBy`/`lastModifiedBy.user`; an app-only write shows the
application, at most with SharePoint's own "SharePoint App" account, which has no e-mail), its
notes are empty, it is not shared with the program, nobody answered its session pulse, and its
agenda is the one the session's item shows (the agenda is the pair's to tailor). Every other
one is kept and named, so the program team merges it by hand. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from worker.config import parse_session_key
from worker.core.notes_list import Pulse, pulse_of
from worker.observe.state import NotesList, ObservedSession, item_order, live_event
from worker.plan.actions import Notice, RemoveItem
from worker.plan.items import RecordTag, has_notes, item_etag

Item = Mapping[str, Any]


def made_by_an_app(identity: Any) -> bool:
    """True when an identitySet names an application and no person with an e-mail."""
    if not isinstance(identity, Mapping) or not identity.get("application"):
        return False
    user = identity.get("user")
    return not (isinstance(user, Mapping) and user.get("email"))


def untouched_copy(item: Item, session_item: Item) -> bool:
    """Whether `item` is a copy of the session's item that only the worker ever wrote."""
    fields = item.get("fields") or {}
    if not isinstance(fields, Mapping):
        return False
    if has_notes(fields.get("Notes")) or fields.get("SharedWithProgram") is True:
        return False
    if pulse_of(dict(fields)) != Pulse():
        return False  # someone answered the session pulse on this copy
    if not (made_by_an_app(item.get("createdBy")) and made_by_an_app(item.get("lastModifiedBy"))):
        return False
    agenda = fields.get("Agenda") or ""
    theirs = (session_item.get("fields") or {}).get("Agenda") or ""
    return not agenda or agenda == theirs


def session_item(items: Sequence[Item], remembered: str | None) -> Item:
    """Of several items of one session, the session's own: the one its event remembers, else
    the oldest."""
    for item in items:
        if remembered and str(item.get("id", "")) == remembered:
            return item
    return min(items, key=item_order)


def plan_duplicates(duplicates: Mapping[str, Sequence[Item]], where: NotesList,
                    sessions: Mapping[str, list[ObservedSession]],
                    ) -> tuple[list[RemoveItem], list[Notice]]:
    """For each session with several items (all of them in `duplicates`): remove the
    untouched copies, name the others. `sessions` (the observed events) says which item
    each event remembers."""
    removals: list[RemoveItem] = []
    notices: list[Notice] = []
    for key, items in sorted(duplicates.items()):
        if len(items) < 2:
            continue
        live = live_event(sessions.get(key, []))
        tag = RecordTag.parse(live.record) if live is not None else None
        own = session_item(items, tag.item_id if tag is not None else None)
        own_id = str(own.get("id", ""))
        parsed = parse_session_key(key)
        pairing_id, number = (parsed[1], parsed[2]) if parsed else ("", 0)
        for item in sorted(items, key=item_order):
            item_id = str(item.get("id", ""))
            if item_id == own_id:
                continue
            if untouched_copy(item, own):
                removals.append(RemoveItem(
                    pairing_id=pairing_id, key=key, number=number, site_id=where.site_id,
                    list_id=where.list_id, item_id=item_id,
                    etag=item_etag(item),
                    kept=own_id))
            else:
                notices.append(Notice(pairing_id, (
                    f"session {number} has a second notes list item ({item_id}) that a person "
                    f"edited: kept; item {own_id} is the session's, merge the two by hand")))
    return removals, notices
