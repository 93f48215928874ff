"""Publishing with both people's consent: which session notes go to the published list, which
copies change, and which are removed. Pure.

The rule, as the README states it for participants:
- Each of the two people ticks their own box on the session's item ("Mentor agrees to
  publish", "Mentee agrees to publish"). Anyone with edit rights on the list can tick any box,
  so a tick counts only when the item's version history shows that the person it speaks for
  saved the version that ticked it. A box ticked by someone else is refused and reported; a
  history that no longer reaches back to the tick (a site's retention settings) proves
  nothing, and is refused too.
- A consent covers the notes as they stood when it was given: the copy holds the notes of
  the version in which the later of the two boxes was ticked. Notes edited afterwards are
  published once both tick their boxes again; until then the copy keeps the agreed text.
- Topic, phase and date follow the program (the worker's own columns).
- Either box unticked (or the item gone): the copy is removed.

The copy's `PublishedHash` is `<seen>:<agreed>`: a digest of the working item as last checked,
and one of the copy's content. A run reads version history only for items whose digest
changed, so a program with nothing new to publish costs two queries a run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from worker.config import Config, parse_session_key
from worker.core.exit_codes import ExitCode
from worker.core.notes_list import KEY_COLUMN, MENTEE_CONSENT, MENTOR_CONSENT, PUBLISHED_HASH
from worker.observe.state import Publishing
from worker.plan.actions import Notice, PairProblem, PublishNotes, UnpublishNotes, Value
from worker.plan.items import digest, notes_text

# Columns of the working item that make a copy, and whose change is worth a new look.
SEEN_COLUMNS = ("Topic", "Phase", "SessionStart", "SessionNumber", "Notes", MENTOR_CONSENT,
                MENTEE_CONSENT)

PublishingAction = PublishNotes | UnpublishNotes


@dataclass(frozen=True)
class PublishingPlan:
    actions: tuple[PublishingAction, ...] = ()
    problems: tuple[PairProblem, ...] = ()
    notices: tuple[Notice, ...] = ()


@dataclass(frozen=True)
class Agreed:
    """Both consents hold: the notes they cover and when the later one was given."""

    notes: Any
    when: str


@dataclass(frozen=True)
class Refused:
    reason: str


def _fields(item: Mapping[str, Any]) -> dict[str, Any]:
    fields = item.get("fields")
    return dict(fields) if isinstance(fields, Mapping) else {}


def seen_digest(item: Mapping[str, Any]) -> str:
    """The working item as it stands: its columns that make a copy, and its eTag, which
    changes with every save (a box unticked and ticked again leaves the columns as they
    were, but not the history)."""
    fields = _fields(item)
    return digest({"eTag": item.get("eTag") or fields.get("@odata.etag"),
                   **{column: fields.get(column) for column in SEEN_COLUMNS}})


def _hash_parts(copy: Mapping[str, Any] | None) -> tuple[str, str]:
    value = _fields(copy).get(PUBLISHED_HASH) if copy is not None else None
    seen, _, agreed = str(value or "").partition(":")
    return seen, agreed


def versions_to_read(config: Config, publishing: Publishing) -> list[str]:
    """The working items whose history the plan must check: consented items of pairings the
    config names, with notes, changed since their copy was made (or without a copy)."""
    wanted: list[str] = []
    for key, item in sorted(publishing.consented.items()):
        fields = _fields(item)
        if config.pairing(str(fields.get("PairingId") or "")) is None:
            continue
        if not notes_text(fields.get("Notes")) and key not in publishing.copies:
            continue
        if _hash_parts(publishing.copies.get(key))[0] != seen_digest(item):
            wanted.append(str(item.get("id", "")))
    return wanted


def _number(version: Mapping[str, Any]) -> float:
    try:
        return float(str(version.get("id", "")))
    except ValueError:
        return -1.0


def _who(version: Mapping[str, Any]) -> tuple[str, str]:
    """(e-mail, how to name them) of whoever saved a version; no e-mail for an app."""
    by = version.get("lastModifiedBy")
    by = by if isinstance(by, Mapping) else {}
    user = by.get("user")
    if isinstance(user, Mapping):
        email = str(user.get("email") or "").lower()
        return email, str(user.get("displayName") or email or "an unknown user")
    app = by.get("application")
    if isinstance(app, Mapping):
        return "", f"the app {app.get('displayName') or app.get('id') or ''}".strip()
    return "", "an unknown identity"


def _yes(value: Any) -> bool:
    return value is True


def _consent_at(ordered: Sequence[Mapping[str, Any]], column: str, person: str,
                role: str) -> int | Refused:
    """The index of the version that ticked `column` and is still in effect, when `person`
    saved it."""
    fields = [_fields(v) for v in ordered]
    if not _yes(fields[-1].get(column)):
        return Refused(f"the {role}'s box is no longer ticked")
    index = len(ordered) - 1
    while index > 0 and _yes(fields[index - 1].get(column)):
        index -= 1
    if index == 0 and _number(ordered[0]) != 1.0:
        return Refused(f"the version history no longer shows who ticked the {role}'s box")
    email, name = _who(ordered[index])
    if email != person.lower():
        return Refused(f"the {role}'s box was ticked by {name}, not by the {role} ({person})")
    return index


def verify(versions: Sequence[Mapping[str, Any]], mentor: str, mentee: str
           ) -> Agreed | Refused:
    """Whether each box was ticked by the person it speaks for, and what they agreed to."""
    ordered = sorted((v for v in versions if isinstance(v, Mapping)), key=_number)
    if not ordered:
        return Refused("the item has no version history (versioning is off on the list)")
    found: list[int] = []
    for column, person, role in ((MENTOR_CONSENT, mentor, "mentor"),
                                 (MENTEE_CONSENT, mentee, "mentee")):
        at = _consent_at(ordered, column, person, role)
        if isinstance(at, Refused):
            return at
        found.append(at)
    later = ordered[max(found)]
    return Agreed(_fields(later).get("Notes"),
                  str(later.get("lastModifiedDateTime") or "")[:10])


def copy_values(program_id: str, fields: Mapping[str, Any], notes: Any) -> dict[str, Value]:
    """The published copy: notes, topic, phase and date; nothing else of the session."""
    number = fields.get("SessionNumber")
    topic = str(fields.get("Topic") or "")
    return {
        "Title": f"Session {number}: {topic}" if number is not None else topic,
        "ProgramId": program_id,
        KEY_COLUMN: str(fields.get(KEY_COLUMN) or ""),
        "SessionNumber": number,
        "Topic": topic,
        "Phase": fields.get("Phase"),
        "SessionDate": fields.get("SessionStart"),
        "Notes": notes,
    }


def plan_publishing(config: Config, publishing: Publishing | None) -> PublishingPlan:
    """Publish, update or remove copies. Nothing at all when the program does not publish."""
    if config.program.publishing is None or publishing is None:
        return PublishingPlan()
    if publishing.problem is not None or publishing.published_list is None:
        reason = publishing.problem or "the published list was not read"
        return PublishingPlan(problems=(
            PairProblem("", f"publishing notes: {reason}", ExitCode.CONFIG),))
    where = publishing.published_list
    actions: list[PublishingAction] = []
    problems: list[PairProblem] = []
    notices: list[Notice] = []
    for key, item in sorted(publishing.consented.items()):
        fields = _fields(item)
        pairing = config.pairing(str(fields.get("PairingId") or ""))
        if pairing is None:
            continue  # a pairing the config no longer names: its copy stays as agreed
        copy = publishing.copies.get(key)
        seen = seen_digest(item)
        if _hash_parts(copy)[0] == seen:
            continue
        number = int(fields.get("SessionNumber") or 0)
        versions = publishing.versions.get(str(item.get("id", "")))
        if versions is None:
            continue  # not read this run (no notes yet)
        common: dict[str, Any] = {"pairing_id": pairing.id, "key": key, "number": number,
                  "site_id": where.site_id, "list_id": where.list_id}
        if isinstance(versions, str):
            problems.append(PairProblem(
                pairing.id, f"notes of session {number} not checked for publishing: "
                f"{versions} (next run)", key=key))
            continue
        verdict = verify(versions, pairing.mentor, pairing.mentee)
        if isinstance(verdict, Refused):
            problems.append(PairProblem(
                pairing.id, f"notes of session {number} not published: {verdict.reason}",
                key=key))
            if copy is not None:
                actions.append(UnpublishNotes(**common, item_id=str(copy.get("id", "")),
                                              reason=f"not published any more: "
                                                     f"{verdict.reason}"))
            continue
        if not notes_text(verdict.notes):
            if copy is not None:
                actions.append(UnpublishNotes(**common, item_id=str(copy.get("id", "")),
                                              reason="the agreed notes are empty"))
            continue
        if notes_text(verdict.notes) != notes_text(fields.get("Notes")):
            notices.append(Notice(pairing.id, (
                f"session {number}: the notes changed after both agreed to publish them; the "
                "published copy keeps the agreed text until both tick their boxes again")))
        wanted = copy_values(config.program.id, fields, verdict.notes)
        hash_value = f"{seen}:{digest(wanted)}"
        if copy is None:
            actions.append(PublishNotes(**common, values={**wanted, PUBLISHED_HASH: hash_value},
                                        agreed=verdict.when))
            continue
        now_fields = _fields(copy)
        changed = {c: v for c, v in wanted.items() if now_fields.get(c) != v}
        changed[PUBLISHED_HASH] = hash_value
        actions.append(PublishNotes(
            **common, item_id=str(copy.get("id", "")), values=changed,
            before={c: now_fields.get(c) for c in changed}, agreed=verdict.when))
    for key, copy in sorted(publishing.copies.items()):
        if key in publishing.consented:
            continue
        fields = _fields(copy)
        parsed = parse_session_key(key)
        pairing_id = parsed[1] if parsed else ""
        actions.append(UnpublishNotes(
            pairing_id=pairing_id, key=key, number=int(fields.get("SessionNumber") or 0),
            site_id=where.site_id, list_id=where.list_id, item_id=str(copy.get("id", "")),
            reason="consent withdrawn"))
    return PublishingPlan(tuple(actions), tuple(problems), tuple(notices))
