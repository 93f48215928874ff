"""The words of each nudge, from `templates/nudges/<kind>.<lang>.txt.j2`.

A program admin edits the texts like the invite templates. The recipient's language is their
directory `preferredLanguage` ("de-DE" -> "de") when a template exists for it, English otherwise,
and the session's time is written in the recipient's own zone, in that language. The texts are
plain text (Teams shows the preview as text), so they are not HTML-escaped; Jinja2's strict
undefined still makes a misspelt variable an error instead of a blank.

An executive's assistant gets their own words where the executive's would not fit
(`<kind>-assistant.<lang>.txt.j2`: they are asked to see to the executive's invitation). The
reschedule-limit nudge has `times`: the free times offered, in the assistant's own zone, and
Teams shows only the first 150 characters of a preview, so its texts name the times first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import jinja2

from worker.core.notes_list import BY_NAME
from worker.plan.nudges import Nudge, NudgeKind
from worker.plan.pulse import ASK_FIT, ASK_NOTES, ASK_PULSE

DEFAULT_LANGUAGE = "en"
_WEEKDAYS = {
    "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
    "de": ("Mo.", "Di.", "Mi.", "Do.", "Fr.", "Sa.", "So."),
}
_MONTHS = {
    "en": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
    "de": ("Jan.", "Feb.", "März", "Apr.", "Mai", "Juni", "Juli", "Aug.", "Sep.", "Okt.",
           "Nov.", "Dez."),
}


@dataclass(frozen=True)
class NudgeText:
    language: str
    topic: str  # the activity's topic line and its `sessionTitle` parameter
    date: str  # the session's local time, for `sessionDate`
    preview: str


def language_of(preferred: str | None, available: set[str]) -> str:
    code = (preferred or "").split("-", 1)[0].strip().lower()
    return code if code in available else DEFAULT_LANGUAGE


def local_when(instant: datetime, zone_of: datetime, language: str) -> str:
    """`instant` in the zone of `zone_of` ("Tue 12 Jan 14:00 CET"), words in `language`."""
    local = instant.astimezone(zone_of.tzinfo)
    names = language if language in _WEEKDAYS else DEFAULT_LANGUAGE
    weekday = _WEEKDAYS[names][local.weekday()]
    month = _MONTHS[names][local.month - 1]
    label = zone_label(local)
    day = f"{local.day}." if names == "de" else str(local.day)
    return f"{weekday} {day} {month} {local:%H:%M} {label}"


def zone_label(local: datetime) -> str:
    """The zone's abbreviation ("CET"), or the UTC offset for zones without a short one (a
    custom Outlook zone is named "Customized Time Zone")."""
    label = local.tzname() or ""
    if not label or label[0] in "+-" or " " in label or len(label) > 5:
        offset = local.strftime("%z")
        return f"UTC{offset[:3]}:{offset[3:]}" if offset else "UTC"
    return label


class NudgeTexts:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(directory)),
            autoescape=False,  # noqa: S701 - plain text for Teams, never HTML
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            keep_trailing_newline=False,
        )

    def languages(self, kind: NudgeKind | str) -> set[str]:
        name = kind.value if isinstance(kind, NudgeKind) else kind
        folder = self.directory / "nudges"
        prefix = f"{name}."
        return {
            p.name[len(prefix) : -len(".txt.j2")]
            for p in folder.glob(f"{name}.*.txt.j2")
        }

    def render(self, nudge: Nudge, *, topic: str, other_name: str, phase_label: str,
               preferred_language: str | None) -> NudgeText:
        name = _template_name(nudge)
        language = language_of(preferred_language, self.languages(name))
        zone_probe = nudge.local_send_at
        round_number = nudge.round.split("@", 1)[0]
        moment = nudge.session_start
        if nudge.kind is NudgeKind.session_rescheduled:
            # The time that was declined (the round), not the new one being booked.
            moment = datetime.strptime(round_number, "%Y%m%dT%H%MZ").replace(tzinfo=UTC)
        when = local_when(moment, zone_probe, language)
        template = self.env.get_template(f"nudges/{name}.{language}.txt.j2")
        # A notes request of a program with a pulse asks only what is still missing; without
        # one it asks for the notes, as it always did.
        asks = nudge.asks or (ASK_NOTES,)
        prefix = "Mentor" if nudge.role == "mentor" else "Mentee"
        preview = template.render(
            topic=topic,
            other_name=other_name,
            when=when,
            phase_label=phase_label,
            round=int(round_number) if round_number.isdigit() else 1,
            ask_notes=ASK_NOTES in asks,
            ask_pulse=ASK_PULSE in asks,
            ask_fit=ASK_FIT in asks,
            # The person's own columns, as SharePoint labels them ("Mentor: how useful (1-5)").
            column_prefix=f"{prefix}:",
            pulse_column=BY_NAME[f"{prefix}Pulse"].label,
            word_column=BY_NAME[f"{prefix}PulseWord"].label,
            fit_column=BY_NAME[f"{prefix}Fit"].label,
            times=[local_when(t.start, zone_probe, language) for t in nudge.times],
        ).strip()
        return NudgeText(language=language, topic=topic, date=when, preview=preview)

    def check(self) -> list[str]:
        """Every nudge template that does not compile, or a kind without English."""
        problems = []
        for kind in (*(k.value for k in NudgeKind), *ASSISTANT_TEMPLATES):
            if DEFAULT_LANGUAGE not in self.languages(kind):
                problems.append(f"nudges/{kind}.en.txt.j2 is missing")
            for language in sorted(self.languages(kind)):
                name = f"nudges/{kind}.{language}.txt.j2"
                try:
                    self.env.get_template(name)
                except jinja2.TemplateSyntaxError as exc:
                    problems.append(f"{name}:{exc.lineno}: {exc.message}")
        return problems


# The kinds whose words for an executive's assistant differ from the executive's.
ASSISTANT_TEMPLATES = (f"{NudgeKind.invite_unanswered.value}-assistant",)


def _template_name(nudge: Nudge) -> str:
    """The template a nudge is worded by: the kind's, or its assistant's variant."""
    variant = f"{nudge.kind.value}-assistant"
    return variant if nudge.role == "assistant" and variant in ASSISTANT_TEMPLATES \
        else nudge.kind.value
