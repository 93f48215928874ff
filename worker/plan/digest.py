"""The digest stage of a plan: once a period, the pairs needing attention to the admins.

Off unless `program.yaml` has a `digest` section. Periods are `period_days` long, counted from
a fixed Monday (`worker.plan.teams.EPOCH`), shifted to start on `weekday` when one is set, in
UTC. A period's digest is remembered in the nudge ledger of the program's first live session
(the anchor, as for the program card): `digest/<period>` once the mail went out,
`digest/<period>#pending` while it is being sent, `digest/<period>/card` for the Teams card.
So a fresh container knows what went out, and a run with nothing due reads nothing more:
only a run whose period has no digest yet reads the program's list items (`digest_due`), in
one paged query (`worker.run.job`).

The mail goes from the program mailbox (`digest.from_mailbox`, else the organizer) with
`sendMail`; the body is the `digest/digest.html.j2` template, autoescaped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from worker.config import Config, DigestSettings
from worker.config.templates import Templates
from worker.core.exit_codes import ExitCode
from worker.observe.state import Observed, item_order
from worker.plan.actions import Notice, PairProblem, PostCard, SendDigest
from worker.plan.health import PairHealth, pair_health
from worker.plan.nudges import PENDING
from worker.plan.projection import Projection
from worker.plan.teams import EPOCH, Ledgers

DIGEST_MARK = "digest/"
CARD_SUFFIX = "/card"
CARD_PAIRS_SHOWN = 40  # an Adaptive Card on a webhook has a size limit (about 28 KB)


@dataclass(frozen=True)
class DigestPlan:
    actions: tuple[SendDigest | PostCard, ...] = ()
    problems: tuple[PairProblem, ...] = ()
    notices: tuple[Notice, ...] = ()


@dataclass(frozen=True)
class Period:
    index: int
    start: datetime
    end: datetime

    @property
    def key(self) -> str:
        return f"{DIGEST_MARK}{self.index}"

    @property
    def label(self) -> str:
        last = self.end - timedelta(days=1)
        return f"{self.start:%a %d %b %Y} - {last:%a %d %b %Y}"


def period_of(settings: DigestSettings, now: datetime) -> Period:
    origin = EPOCH + timedelta(days=settings.weekday.number if settings.weekday else 0)
    length = timedelta(days=settings.period_days)
    index = (now - origin) // length
    start = origin + index * length
    return Period(index, start, start + length)


def _wanted(settings: DigestSettings, period: Period, webhook: bool) -> list[str]:
    keys = [period.key] if settings.mail else []
    if settings.teams_card and webhook:
        keys.append(period.key + CARD_SUFFIX)
    return keys


def digest_due(config: Config, projection: Projection, now: datetime, *,
               webhook: bool = False) -> bool:
    """Whether this run sends a digest (so the program's list items must be read): a digest
    is configured, a session's ledger can remember it, and this period's is not remembered."""
    settings = config.program.digest
    if settings is None:
        return False
    ledgers = Ledgers(projection)
    if not ledgers.live:
        return False
    period = period_of(settings, now)
    return any(key not in ledgers.entries for key in _wanted(settings, period, webhook))


def items_by_session(items: list[dict[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """Session key -> the fields of its item (the oldest of several, as everywhere)."""
    chosen: dict[str, dict[str, Any]] = {}
    for item in items:
        values = item.get("fields")
        if not isinstance(values, Mapping):
            continue
        key = str(values.get("SessionKey") or "")
        if key and (key not in chosen or item_order(item) < item_order(chosen[key])):
            chosen[key] = item
    return {key: item["fields"] for key, item in chosen.items()}


def plan_digest(config: Config, observed: Observed, projection: Projection, now: datetime,
                templates: Templates, *, webhook: bool = False) -> DigestPlan:
    settings = config.program.digest
    if settings is None:
        return DigestPlan()
    ledgers = Ledgers(projection)
    period = period_of(settings, now)
    wanted = [k for k in _wanted(settings, period, webhook) if k not in ledgers.entries]
    notices: list[Notice] = []
    if settings.teams_card and not webhook:
        notices.append(Notice("", "digest: `teams_card` is on but no webhook is configured "
                                  "(MENTORING_TEAMS_WEBHOOK_URL): no card"))
    if not wanted:
        return DigestPlan(notices=tuple(notices))
    anchor = next(iter(sorted(ledgers.live)), None)
    if anchor is None:
        notices.append(Notice("", "digest: waits for the program's first booked session (its "
                                  "event remembers each digest sent)"))
        return DigestPlan(notices=tuple(notices))
    gaps: list[str] = []
    items: dict[str, Mapping[str, Any]] | None = None
    if config.program.sharepoint is not None:
        if observed.program_items is None:
            why = observed.program_items_problem or observed.notes_list_problem \
                or "the notes list was not read"
            return DigestPlan(problems=(PairProblem(
                "", f"digest of {period.label} waits: {why} (next run)", ExitCode.INCOMPLETE),),
                notices=tuple(notices))
        items = items_by_session(observed.program_items)
    else:
        gaps.append("notes, pulse and fit (the program has no notes list)")
    names = {email: person.display_name for email, person in observed.people.items()
             if person.display_name}
    present = [email for email, person in observed.people.items() if person.from_directory]
    pairs = pair_health(config, observed.sessions, items, observed.missing_people, now,
                        names=names, changing=projection.changing, present=present)
    ledger = ledgers.of(anchor)
    after = ledgers.waits_for(anchor)
    actions: list[SendDigest | PostCard] = []
    list_url = observed.notes_list.web_url if observed.notes_list is not None else ""
    sender = config.program.digest_sender()
    if period.key in wanted and sender is not None:
        values = {"program_name": config.program.name, "period": period.label,
                  "period_days": settings.period_days, "pairs": pairs,
                  "active": len(config.active_pairings()), "gaps": gaps,
                  "list_url": list_url}
        subject = (f"{config.program.name}: {len(pairs)} pair{'s' if len(pairs) != 1 else ''}"
                   f" needing attention ({period.label})")
        recipients = tuple(str(a) for a in settings.admins)
        message = {
            "message": {
                "subject": subject,
                "body": {"contentType": "HTML", "content": templates.render_digest(values)},
                "toRecipients": [{"emailAddress": {"address": a}} for a in recipients],
            },
            "saveToSentItems": True,
        }
        pending = period.key + PENDING
        actions.append(SendDigest(
            pairing_id="", key=period.key, period=period.label, sender=sender,
            recipients=recipients, pairs=len(pairs), message=message, ledger=ledger,
            pending=pending, again=pending in ledgers.entries, after=after))
    card_key = period.key + CARD_SUFFIX
    if card_key in wanted:
        actions.append(PostCard(pairing_id="", key=card_key,
                                card=digest_card(config, period, pairs, list_url),
                                ledger=ledger, after=after))
    return DigestPlan(tuple(actions), (), tuple(notices))


def digest_card(config: Config, period: Period, pairs: tuple[PairHealth, ...],
                list_url: str) -> dict[str, Any]:
    """The digest as an Adaptive Card 1.4 for the program channel (the webhook's card)."""
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": f"{config.program.name}: pairs needing attention",
         "weight": "bolder", "size": "medium", "wrap": True},
        {"type": "TextBlock", "text": period.label, "isSubtle": True, "spacing": "none"},
    ]
    if not pairs:
        body.append({"type": "TextBlock", "wrap": True,
                     "text": "Every active pair is on track: nothing needs attention."})
    for pair in pairs[:CARD_PAIRS_SHOWN]:
        body.append({"type": "TextBlock", "text": f"{pair.mentor} mentors {pair.mentee}",
                     "weight": "bolder", "wrap": True, "separator": True})
        body.append({"type": "FactSet", "facts": [
            {"title": f.reason, "value": f.action} for f in pair.findings]})
    if len(pairs) > CARD_PAIRS_SHOWN:
        body.append({"type": "TextBlock", "wrap": True, "isSubtle": True,
                     "text": f"and {len(pairs) - CARD_PAIRS_SHOWN} more pairs (see the mail or "
                             "`mentoring report`)"})
    card: dict[str, Any] = {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": "1.4",
        "body": body,
    }
    if list_url:
        card["actions"] = [{"type": "Action.OpenUrl", "title": "Open the notes list",
                            "url": list_url}]
    return card


__all__ = ["DigestPlan", "digest_card", "digest_due", "period_of", "plan_digest"]
