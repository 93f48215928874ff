"""Rendering of invite bodies, agendas and notes skeletons from `templates/`.

One Jinja2 environment serves every template so escaping and strictness are the same
everywhere: HTML templates autoescape (names and topics come from config files people edit) and
undefined variables fail loudly instead of printing blanks into an executive's calendar.
`check_templates` compiles every template a config refers to, so a broken template is a config
problem reported before anything is booked, not a failure halfway through a run.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from worker.config.pairings import Config, SessionSpec
from worker.config.problems import ConfigProblem
from worker.config.program import Program
from worker.core.paths import builtin_templates_dir, default_templates_dir
from worker.core.phases import Phase

INVITE_TEMPLATE = "invite.html.j2"
DIGEST_TEMPLATE = "digest/digest.html.j2"
NOTES_SKELETON_TEMPLATE = "notes/skeleton.html.j2"
# The report's HTML page (`mentoring report --format html`), restyled by replacing it.
REPORT_TEMPLATE = "report/report.html.j2"


@dataclass(frozen=True)
class TemplateRef:
    """A template named in config, with where it was named (for the problem's location)."""

    name: str
    file: str = "program.yaml"
    line: int | None = None
    column: int | None = None
    what: str = "agenda"


@dataclass(frozen=True)
class People:
    """Display names for one pair (fall back to addresses when the directory has none)."""

    mentor_name: str
    mentee_name: str
    mentor_email: str = ""
    mentee_email: str = ""
    # The executive's assistant (`Pairing.assistant`), invited as an optional attendee.
    assistant_name: str = ""
    assistant_email: str = ""


# Each phase with its label, for templates that show the program's course.
_PHASES = tuple((phase, phase.label) for phase in Phase)

# Agendas remembered: a plan of 10,000 pairs renders 20,000 (the items share the strings).
_AGENDAS_KEPT = 1 << 17


class Templates:
    """The Jinja2 environment over one templates directory, plus the renderers."""

    def __init__(self, directory: Path | None = None) -> None:
        directory = directory or default_templates_dir()
        self.directory = directory
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(directory)),
            autoescape=jinja2.select_autoescape(
                enabled_extensions=("html", "htm", "xml", "html.j2"), default_for_string=True
            ),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            # A run renders thousands of invites from templates that do not change meanwhile:
            # no file check before each one.
            auto_reload=False,
        )
        self._agendas: dict[tuple[SessionSpec, People, str], str] = {}
        self._loaded: dict[str, tuple[jinja2.Template, dict[str, Any]]] = {}

    def _render(self, name: str, values: dict[str, Any]) -> str:
        """`name` rendered with `values`, as `Template.render` does it, less its per-call
        work that does not change within a run: the template is looked up once, and its
        globals (a chain of mappings Jinja walks twice per call) are flattened once and
        handed over as a shared context. A plan of 10,000 pairs renders 40,000 times."""
        loaded = self._loaded.get(name)
        if loaded is None:
            template = self.env.get_template(name)
            loaded = self._loaded[name] = (template, dict(template.globals))
        template, flat = loaded
        context = template.new_context({**flat, **values}, shared=True)
        try:
            return "".join(template.root_render_func(context))
        except Exception:  # noqa: BLE001 - re-raised, as Template.render does
            self.env.handle_exception()  # raises, with the template's line in the traceback

    def render_agenda(self, session: SessionSpec, people: People, *, program_name: str) -> str:
        # A plan renders each session's agenda twice (the invite holds it, and the notes list
        # item): the second time is remembered. Templates do not change during a run.
        key = (session, people, program_name)
        found = self._agendas.get(key)
        if found is not None:
            return found
        text = self._render(session.agenda, {
            "session": session, "phase_label": session.phase.label, "people": people,
            "program_name": program_name,
        })
        if len(self._agendas) >= _AGENDAS_KEPT:
            self._agendas.clear()
        self._agendas[key] = text
        return text

    def render_invite(
        self,
        session: SessionSpec,
        people: People,
        *,
        program: Program,
        start: datetime | None = None,
        notes_url: str | None = None,
    ) -> str:
        """The event body. The Teams link itself is added by Outlook (isOnlineMeeting), so
        the body only tells people where to find it."""
        agenda = Markup(self.render_agenda(session, people, program_name=program.name))  # noqa: S704 - rendered by our autoescaping env
        return self._render(INVITE_TEMPLATE, {
            "session": session,
            "phase_label": session.phase.label,
            "phases": _PHASES,
            "people": people,
            "program": program,
            "start": start,
            "agenda": agenda,
            "notes_url": notes_url,
        })

    def render_notes_skeleton(self, session: SessionSpec, people: People) -> str:
        name = session.notes or NOTES_SKELETON_TEMPLATE
        return self.env.get_template(name).render(
            session=session, phase_label=session.phase.label, people=people
        )

    def render_digest(self, values: dict[str, Any]) -> str:
        """The digest mail's HTML body (`worker.plan.digest` names the values)."""
        return self._render(DIGEST_TEMPLATE, values)

    def check(self, refs: Iterable[TemplateRef]) -> list[ConfigProblem]:
        """Compile each referenced template once; report missing files and syntax errors."""
        problems: list[ConfigProblem] = []
        checked: set[str] = set()
        for ref in refs:
            if ref.name in checked:
                if not (self.directory / ref.name).is_file():
                    problems.append(self._missing(ref))
                continue
            checked.add(ref.name)
            problem = self._compile(ref)
            if problem is not None:
                problems.append(problem)
        return problems

    def report_refs(self) -> list[TemplateRef]:
        """The report's page when this directory holds its own, so a broken restyle is found
        by `validate`, not by the report. The worker's own page is left out (its tests render
        it): compiling it costs a config load 30 ms, and every run loads the config."""
        own = self.directory / REPORT_TEMPLATE
        if not own.is_file():
            return []
        shipped = builtin_templates_dir() / REPORT_TEMPLATE
        try:
            if own.resolve() == shipped.resolve() or own.read_bytes() == shipped.read_bytes():
                return []
        except OSError:
            pass  # no shipped page beside the source (an installed package): check this one
        return [TemplateRef(REPORT_TEMPLATE, what="report")]

    def _missing(self, ref: TemplateRef) -> ConfigProblem:
        return ConfigProblem(
            ref.file, ref.line, ref.column,
            f"{ref.what} template {ref.name!r} not found",
            f"looked in {self.directory}",
        )

    def _compile(self, ref: TemplateRef) -> ConfigProblem | None:
        try:
            self.env.get_template(ref.name)
        except jinja2.TemplateSyntaxError as exc:
            return ConfigProblem(
                str(self.directory / ref.name), exc.lineno, None,
                f"template syntax error: {exc.message}",
                f"referenced as {ref.what} in {ref.file}" + (f":{ref.line}" if ref.line else ""),
            )
        except jinja2.TemplateNotFound:
            return self._missing(ref)
        return None


def config_template_refs(config: Config) -> list[TemplateRef]:
    """Every template a config will render: invite, and per session agenda and notes."""
    refs = [TemplateRef(INVITE_TEMPLATE, what="invite"),
            TemplateRef(NOTES_SKELETON_TEMPLATE, what="notes")]
    items = list(config.program.curriculum)
    for pairing in config.pairings:
        if pairing.tailoring is not None:
            items.extend(pairing.tailoring.replace.values())
    for item in items:
        refs.append(TemplateRef(item.agenda))
        if item.notes is not None:
            refs.append(TemplateRef(item.notes, what="notes"))
    if config.program.digest is not None and config.program.digest.mail:
        refs.append(TemplateRef(DIGEST_TEMPLATE, what="digest"))
    return refs


def check_templates(config: Config, templates: Templates | None = None) -> list[ConfigProblem]:
    """Compile every template `config` refers to (the loader does this with locations)."""
    chosen = templates or Templates()
    return chosen.check([*config_template_refs(config), *chosen.report_refs()])


def render_invite(
    templates: Templates,
    session: SessionSpec,
    people: People,
    *,
    program: Program,
    start: datetime | None = None,
    notes_url: str | None = None,
) -> str:
    return templates.render_invite(
        session, people, program=program, start=start, notes_url=notes_url
    )


def render_agenda(
    templates: Templates, session: SessionSpec, people: People, *, program_name: str
) -> str:
    return templates.render_agenda(session, people, program_name=program_name)
