"""`mentoring suggest`: a mentor for each executive without one, written to a file for review.

Reads only (the two groups, everyone's working hours through getSchedule, the notes list and
the organizer's tagged events for the history) and writes nothing to Microsoft 365: the admin
reviews the file, changes each suggestion's status to `active` and copies the entries into
`pairings.yaml` (or the rows into `pairings.csv`), and the next run books them.

The YAML is a pairings file in exactly the format `mentoring validate` accepts: each entry's
reasons are comments on its lines, and its status is `paused`, which the planner books nothing
for, so a file copied in unread changes no calendar. The CSV has the loader's columns and a
`reasons` column the loader ignores. Executives left unmatched are listed with the reason, as
comments at the end of the YAML and on stderr.

Exit codes: 0 every executive without a mentor got a suggestion; 1 some were left unmatched
(each named); 2 no `matching:` section, a group that does not exist or may not be read;
3 Graph unreachable.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sys
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TextIO

from graph.client import GraphClient
from graph.clock import Clock
from graph.errors import GraphClientError
from worker.apply.outcome import stop_for
from worker.cli.report import _csv_safe
from worker.config import Config
from worker.config.csv_source import CSV_COLUMNS
from worker.config.program import MatchingSettings
from worker.core.exit_codes import ExitCode
from worker.observe.directory import read_schedules
from worker.observe.matching import MatchingUnavailable, read_group, read_history
from worker.observe.state import Member
from worker.plan.matching import Suggestion, Suggestions, suggest

NOT_CONFIGURED = (
    "suggest: matching is not configured. Add a `matching:` section to program.yaml naming "
    "the two Entra groups, e.g.\n"
    "matching:\n"
    "  executives_group: executives@contoso.com\n"
    "  mentors_group: reverse-mentors@contoso.com\n"
    "(README, \"Match suggestions\")"
)
REVIEW_STATUS = "paused"


def cmd_suggest(client: GraphClient, config: Config, clock: Clock, *, fmt: str,
                out_file: Path | None, start: date | None, out: TextIO) -> int:
    settings = config.program.matching
    if settings is None:
        print(NOT_CONFIGURED, file=sys.stderr)
        return ExitCode.CONFIG
    today = clock.now().astimezone(UTC).date()
    try:
        result = read_and_suggest(client, config, settings, today)
    except MatchingUnavailable as exc:
        print(f"suggest: {exc}", file=sys.stderr)
        return ExitCode.CONFIG
    except GraphClientError as exc:
        print(f"suggest: {exc}", file=sys.stderr)
        stop = stop_for(exc)
        return int(stop.code) if stop is not None else ExitCode.INCOMPLETE
    first_day = start or default_start(today)
    text = (render_csv(result, config, first_day) if fmt == "csv"
            else render_yaml(result, config, first_day, today))
    if out_file is None:
        out.write(text)
    else:
        out_file.write_text(text, encoding="utf-8", newline="")
        out.write(f"{len(result.suggestions)} suggestion(s) written to {out_file}; review them, "
                  "set each status to active and copy them into the pairings\n")
    for left in result.unmatched:
        print(f"unmatched: {left.mentee.email}: {left.reason}", file=sys.stderr)
    return ExitCode.INCOMPLETE if result.unmatched else ExitCode.OK


def read_and_suggest(client: GraphClient, config: Config, settings: MatchingSettings,
                     today: date) -> Suggestions:
    """Every read `suggest` makes, then the suggestions: each group once, one getSchedule
    window of a day for everyone matching may use (their working hours are what is needed),
    the history once."""
    executives = read_group(client, settings.executives_group, "executives_group")
    mentors = read_group(client, settings.mentors_group, "mentors_group")
    paired = {p.mentee.lower() for p in config.pairings if p.status != "ended"}
    wanted = [m.email for m in executives.members if not (m.names & paired)]
    wanted += [m.email for m in mentors.members]
    window = datetime.combine(today, time(), UTC)
    schedules, errors = read_schedules(client, config, wanted, window,
                                       window + timedelta(days=1), interval_minutes=60)
    history = read_history(client, config, settings)
    unknown = [f"mentor {m.email} left out: working hours unknown ({errors[m.email].code})"
               for m in mentors.members if m.email in errors]
    for note in (*executives.skipped, *mentors.skipped, *unknown, *history.notes):
        print(f"note: {note}", file=sys.stderr)
    return suggest(executives.members, mentors.members, schedules=schedules,
                   schedule_errors=errors, pairings=config.pairings, history=history.pairs,
                   settings=settings, week_start=next_monday(today))


def next_monday(today: date) -> date:
    return today + timedelta(days=7 - today.weekday())


def default_start(today: date) -> date:
    """The first Monday at least two weeks ahead: time to review and agree the pairs."""
    return next_monday(today + timedelta(days=13))


_SLUG_PART = re.compile(r"[^a-z0-9]+")


def pairing_ids(suggestions: tuple[Suggestion, ...], taken: set[str]) -> list[str]:
    """A new pairing id per suggestion (`<mentee>-<mentor>` from their addresses), unique
    among the program's ids and each other."""
    used = set(taken)
    ids = []
    for suggestion in suggestions:
        parts = [_SLUG_PART.sub("-", person.email.split("@")[0].lower()).strip("-")
                 for person in (suggestion.mentee, suggestion.mentor)]
        base = "-".join(part for part in parts if part)[:36].strip("-") or "pair"
        if len(base) < 2:
            base = f"pair-{base}"
        candidate, n = base, 2
        while candidate in used:
            candidate, n = f"{base}-{n}", n + 1
        used.add(candidate)
        ids.append(candidate)
    return ids


_PLAIN_MAIL = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+$")


def _scalar(value: str) -> str:
    """A value as YAML reads it back unchanged: plain when it is a simple address, else a
    double-quoted (JSON) string."""
    return value if _PLAIN_MAIL.match(value) else json.dumps(value)


def _comment(text: str) -> str:
    # Directory text in a comment: no line breaks or control characters can end it early.
    return re.sub(r"[\x00-\x1f\x7f\u2028\u2029]+", " ", text).strip()


def _who(person: Member) -> str:
    details = [d for d in (person.job_title, person.department, person.office) if d]
    return _comment(f"{person.name}" + (f" ({', '.join(details)})" if details else ""))


def render_yaml(result: Suggestions, config: Config, start: date, today: date) -> str:
    lines = [
        "# yaml-language-server: $schema=./pairings.schema.json",
        "#",
        f"# Suggested pairs for {_comment(config.program.name)} ({config.program.id}), "
        f"made by `mentoring suggest` on {today.isoformat()}.",
        "# Nothing is booked from this file. Review each pair; keep the ones you want, set",
        "# their status to active and copy them into pairings.yaml (the next run books them).",
        f"# {len(result.suggestions)} suggested, {len(result.unmatched)} unmatched, "
        f"{len(result.already_paired)} executive(s) already paired.",
        "",
        "pairings:" if result.suggestions else "pairings: []",
    ]
    ids = pairing_ids(result.suggestions, {p.id for p in config.pairings})
    for pairing_id, suggestion in zip(ids, result.suggestions, strict=True):
        lines += [
            f"  - id: {pairing_id}  # why: {_comment('; '.join(suggestion.reasons))}",
            f"    mentor: {_scalar(suggestion.mentor.email)}  # {_who(suggestion.mentor)}",
            f"    mentee: {_scalar(suggestion.mentee.email)}  # {_who(suggestion.mentee)}",
            f"    start: {start.isoformat()}",
            f"    status: {REVIEW_STATUS}  # suggested: set to active once both agree",
            "",
        ]
    if result.unmatched:
        lines.append("# Unmatched executives (no suggestion):")
        lines += [f"#   {_comment(u.mentee.email)}: {_comment(u.reason)}"
                  for u in result.unmatched]
    return "\n".join(lines).rstrip("\n") + "\n"


def render_csv(result: Suggestions, config: Config, start: date) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([*CSV_COLUMNS, "reasons"])
    ids = pairing_ids(result.suggestions, {p.id for p in config.pairings})
    for pairing_id, suggestion in zip(ids, result.suggestions, strict=True):
        cells = dict.fromkeys(CSV_COLUMNS, "")
        cells.update(id=pairing_id, mentor=suggestion.mentor.email,
                     mentee=suggestion.mentee.email, start=start.isoformat(),
                     status=REVIEW_STATUS)
        writer.writerow([cells[c] for c in CSV_COLUMNS]
                        + [_csv_safe(_comment("; ".join(suggestion.reasons)))])
    return buffer.getvalue()
