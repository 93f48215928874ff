"""Reads a config directory into a `Config`, or fails with every problem located.

Files: `program.yaml` and either `pairings.yaml` or `pairings.csv` (a spreadsheet export).
Nothing is half-accepted: the result is a whole valid `Config` or a `ConfigError` listing all
problems at once, each with file, line and column, so an admin fixes a config in one pass.

The readers (`yaml_source`, `csv_source`) only turn a file into data that knows where each value
is written; here that data is validated into the models, and pydantic's errors and the
cross-pairing findings are turned into problems at those places, with a hint where one helps.

A file can hold tens of thousands of mistakes (every key of a mapping unknown, a column lost
from every row); past `MAX_PROBLEMS` the checking stops and the list ends by saying so, since
a longer list helps no one and each problem costs time to place and to phrase.
"""

from __future__ import annotations

import difflib
import types
import typing
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from worker.config.csv_source import read_csv
from worker.config.located import Loc, Source
from worker.config.pairings import (
    Config,
    ConfigSource,
    Pairing,
    PairingsFile,
    PersonEntry,
    assistant_problem,
    cross_check,
    with_people,
)
from worker.config.problems import ConfigError, ConfigProblem, shown
from worker.config.program import DateRange, Program
from worker.config.yaml_source import read_yaml

PROGRAM_FILE = "program.yaml"
PAIRINGS_YAML = "pairings.yaml"
PAIRINGS_CSV = "pairings.csv"
STALE_START_DAYS = 365
MAX_PROBLEMS = 1_000


def _unwrap_models(annotation: Any) -> list[Any]:
    """The types a value at this annotation may take (Annotated/Optional/unions flattened)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap_models(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [t for arg in typing.get_args(annotation) for t in _unwrap_models(arg)]
    return [annotation]


def _fields_at(root: type[BaseModel], loc: Loc) -> list[str]:
    """Valid keys of the model found at `loc` under `root` (for 'did you mean' hints)."""
    candidates: list[Any] = [root]
    for element in loc:
        following: list[Any] = []
        for candidate in candidates:
            origin = typing.get_origin(candidate)
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                if isinstance(element, str) and element in candidate.model_fields:
                    annotation = candidate.model_fields[element].annotation
                    following.extend(_unwrap_models(annotation))
            elif origin in (list, tuple) and isinstance(element, int):
                following.extend(_unwrap_models(typing.get_args(candidate)[0]))
            elif origin is dict:
                following.extend(_unwrap_models(typing.get_args(candidate)[1]))
        candidates = following
    for candidate in candidates:
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return list(candidate.model_fields)
    return []


def _resolve(data: Any, loc: tuple[Any, ...]) -> Loc:
    """Keep the part of pydantic's `loc` that exists in the data (drops union tags etc.)."""
    resolved: list[str | int] = []
    current = data
    for element in loc:
        if isinstance(current, dict) and element in current:
            resolved.append(element)
            current = current[element]
        elif (isinstance(current, list) and isinstance(element, int)
              and 0 <= element < len(current)):
            resolved.append(element)
            current = current[element]
    return tuple(resolved)


def _validation_problems(
    exc: ValidationError, source: Source, root: type[BaseModel], base: Loc = ()
) -> list[ConfigProblem]:
    problems: list[ConfigProblem] = []
    errors = exc.errors(include_url=False)[:MAX_PROBLEMS + 1]  # one more: "stopped"
    # A misspelt key shows up twice (unknown 'mentr', missing 'mentor'): report it once.
    suggested: set[tuple[Any, ...]] = set()
    for error in errors:
        if error["type"] == "extra_forbidden":
            parent = (*base, *error["loc"][:-1])
            valid = _fields_at(root, _resolve(source.data, parent))
            for match in difflib.get_close_matches(str(error["loc"][-1]), valid, n=1):
                suggested.add((*parent, match))
    for error in errors:
        loc = (*base, *error["loc"])
        if error["type"] == "missing" and loc in suggested:
            continue
        resolved = _resolve(source.data, loc)
        kind = error["type"]
        if kind == "extra_forbidden":
            key = loc[-1]
            valid = _fields_at(root, _resolve(source.data, loc[:-1]))
            close = difflib.get_close_matches(str(key), valid, n=1)
            hint = (f"did you mean {close[0]!r}?" if close
                    else f"valid keys: {', '.join(valid)}" if valid else None)
            problems.append(source.problem(resolved, f"unknown key {shown(key)}", hint,
                                           at_key=True))
            continue
        if kind == "missing":
            problems.append(source.problem(resolved, f"missing required key {loc[-1]!r}"))
            continue
        message = error["msg"].removeprefix("Value error, ")
        own = error["loc"]
        names = [str(e) for e in own if isinstance(e, str) and e in resolved]
        label = names[-1] if names else ""
        text = f"{label}: {message}" if label else message
        if "input" in error and kind not in ("model_type", "dict_type") and resolved:
            given = error["input"]
            if isinstance(given, str | int | float | date) and str(given) not in message:
                text += f" (got {shown(str(given))})"
        problems.append(source.problem(resolved, text, _DATE_HINT if kind in _DATE_ERRORS
                                       else None))
    return problems


# Pydantic's error types for a date it cannot read; `11/01/2027` gets "invalid character in
# year", which says nothing of the form expected.
_DATE_ERRORS = frozenset({"date_parsing", "date_from_datetime_parsing",
                          "date_from_datetime_inexact", "date_type"})
_DATE_HINT = ("write dates as YYYY-MM-DD, e.g. 2027-01-11 (in a spreadsheet, format the "
              "column as text or as that date format): 11/01/2027 is 11 January in some "
              "countries and 1 November in others")


def _template_refs(program: Program | None, program_source: Source | None,
                   pairings: list[Pairing], pairings_source: Source | None) -> list[Any]:
    """Every template the config names, with where it names it. When program.yaml is invalid
    its curriculum is read as written (each entry's `agenda` and `notes` that are strings), so
    a template's own mistakes are reported in the same pass as the program's."""
    from worker.config.templates import INVITE_TEMPLATE, NOTES_SKELETON_TEMPLATE, TemplateRef

    refs = [TemplateRef(INVITE_TEMPLATE, what="invite"),
            TemplateRef(NOTES_SKELETON_TEMPLATE, what="notes")]

    def add(source: Source, loc: Loc, name: str, what: str) -> None:
        line, column = source.position(loc)
        if loc not in source.values:
            line, column = None, None
        refs.append(TemplateRef(name, file=source.file, line=line, column=column, what=what))

    if program is not None and program_source is not None:
        for index, item in enumerate(program.curriculum):
            add(program_source, ("curriculum", index, "agenda"), item.agenda, "agenda")
            if item.notes is not None:
                add(program_source, ("curriculum", index, "notes"), item.notes, "notes")
    elif program_source is not None and isinstance(program_source.data, dict):
        curriculum = program_source.data.get("curriculum")
        for index, raw in enumerate(curriculum if isinstance(curriculum, list) else []):
            for what in ("agenda", "notes"):
                name = raw.get(what) if isinstance(raw, dict) else None
                if isinstance(name, str) and _safe_template_name(name):
                    add(program_source, ("curriculum", index, what), name, what)
    if pairings_source is not None:
        for index, pairing in enumerate(pairings):
            if pairing.tailoring is None:
                continue
            for number, item in pairing.tailoring.replace.items():
                base: Loc = ("pairings", index, "tailoring", "replace", number)
                add(pairings_source, (*base, "agenda"), item.agenda, "agenda")
                if item.notes is not None:
                    add(pairings_source, (*base, "notes"), item.notes, "notes")
    return refs


def _safe_template_name(name: str) -> bool:
    """A name read from an invalid program.yaml is checked only when it is a plain relative
    path (the model's own rule reports the others)."""
    return bool(name) and not name.startswith("/") and ".." not in Path(name).parts


def load_config(directory: Path, *, today: date, templates_dir: Path | None = None) -> Config:
    """Read and validate `directory`; raise `ConfigError` with every problem found."""
    from worker.config.templates import Templates
    from worker.core.paths import default_templates_dir

    problems: list[ConfigProblem] = []
    warnings: list[ConfigProblem] = []
    if not directory.is_dir():
        raise ConfigError([ConfigProblem(
            str(directory), None, None, "config directory not found",
            "mount the program's config there, or point MENTORING_CONFIG_DIR or --config at "
            "it; in a container it is the ConfigMap or file share at /config")])

    program: Program | None = None
    program_path = directory / PROGRAM_FILE
    program_source: Source | None = None
    if program_path.is_file():
        program_source = read_yaml(program_path, problems)
    else:
        problems.append(ConfigProblem(str(program_path), None, None, "file not found"))
    if program_source is not None:
        try:
            program = Program.model_validate(program_source.data)
        except ValidationError as exc:
            problems.extend(_validation_problems(exc, program_source, Program))

    yaml_path, csv_path = directory / PAIRINGS_YAML, directory / PAIRINGS_CSV
    pairings_source: Source | None = None
    pairings_path: Path | None = None
    if yaml_path.is_file() and csv_path.is_file():
        problems.append(ConfigProblem(str(csv_path), None, None,
                                      f"both {PAIRINGS_YAML} and {PAIRINGS_CSV} exist",
                                      "keep exactly one pairings file"))
    elif yaml_path.is_file():
        pairings_path = yaml_path
        pairings_source = read_yaml(yaml_path, problems)
    elif csv_path.is_file():
        pairings_path = csv_path
        pairings_source = read_csv(csv_path, problems)
    else:
        problems.append(ConfigProblem(str(yaml_path), None, None,
                                      f"file not found (nor {PAIRINGS_CSV})"))

    pairings: list[tuple[int, Pairing]] = []
    if pairings_source is not None:
        pairings, found = _validate_pairings(pairings_source)
        problems.extend(found)
        valid_indexes = [index for index, _ in pairings]
        for loc, message in cross_check(program, [p for _, p in pairings], check_ids=False):
            # cross_check numbers the valid pairings; map back to their place in the file.
            original: Loc = ("pairings", valid_indexes[int(loc[1])], *loc[2:])
            problems.append(pairings_source.problem(original, message))
        for index, pairing in pairings:
            if pairing.status != "active" or pairing.start >= today:
                continue
            stale = pairing.start < today - timedelta(days=STALE_START_DAYS)
            warnings.append(pairings_source.problem(
                ("pairings", index, "start"),
                f"pairing {pairing.id}: start {pairing.start} is in the past"
                + (f", more than {STALE_START_DAYS} days ago" if stale else ""),
                "sessions not yet held are booked from now on, never in the past"
                + ("; is this pairing still current?" if stale else "")))

    if program is not None and program_source is not None:
        for index, entry in enumerate(program.blackout):
            if isinstance(entry, DateRange) and entry.end < today:
                warnings.append(program_source.problem(
                    ("blackout", index), f"blackout ended on {entry.end}, before today",
                    "remove it to keep the file short"))
    # Templates are checked whatever else is wrong: one pass shows every problem of every file.
    templates = Templates(templates_dir or default_templates_dir())
    problems.extend(templates.check([
        *_template_refs(program, program_source, [p for _, p in pairings], pairings_source),
        *templates.report_refs()]))

    if problems or program is None:
        # In the order an admin fixes them: file by file, top to bottom.
        problems.sort(key=lambda p: (p.file, p.line or 0, p.column or 0))
        raise ConfigError(_at_most(problems, directory))
    try:
        return Config(
            program=program,
            pairings=[pairing for _, pairing in pairings],
            source=ConfigSource(program=program_path, pairings=pairings_path),
            warnings=tuple(warnings),
        )
    except ValidationError as exc:
        raise ConfigError([ConfigProblem(str(directory), None, None, str(exc))]) from exc


def _at_most(problems: list[ConfigProblem], directory: Path) -> list[ConfigProblem]:
    if len(problems) <= MAX_PROBLEMS:
        return problems
    return [*problems[:MAX_PROBLEMS], ConfigProblem(
        str(directory), None, None, f"more than {MAX_PROBLEMS:,} problems: checking stopped",
        "fix these and validate again")]


def _validate_pairings(source: Source) -> tuple[list[tuple[int, Pairing]], list[ConfigProblem]]:
    """Validate each pairing on its own, so one bad row does not hide the next one's problem."""
    problems: list[ConfigProblem] = []
    data = source.data
    extra = {key: value for key, value in data.items() if key not in ("pairings", "people")}
    if extra or "pairings" not in data:
        try:
            # The lists are checked entry by entry below (each problem reported once).
            PairingsFile.model_validate({**extra, "pairings": []})
        except ValidationError as exc:
            problems.extend(_validation_problems(exc, source, PairingsFile))
        if "pairings" not in data:
            problems.append(source.problem((), "missing required key 'pairings'"))
    assistants = _people(source, problems)
    raw = data.get("pairings")
    if raw is None:
        return [], problems
    if not isinstance(raw, list):
        problems.append(source.problem(("pairings",), "pairings: expected a list"))
        return [], problems
    valid: list[tuple[int, Pairing]] = []
    first_use: dict[str, int] = {}
    for index, item in enumerate(raw):
        if len(problems) >= MAX_PROBLEMS:
            break
        try:
            pairing = Pairing.model_validate(item)
            merged = with_people(pairing, {k: v[0] for k, v in assistants.items()})
            problem = assistant_problem(merged) if merged is not pairing else None
            if problem is not None:  # named by a `people:` entry: reported there
                problems.append(source.problem(
                    ("people", assistants[pairing.mentee.casefold()][1], "assistant"), problem))
                merged = pairing
            valid.append((index, merged))
        except ValidationError as exc:
            problems.extend(_validation_problems(exc, source, PairingsFile, ("pairings", index)))
        # Duplicate ids are checked on the raw rows, so a row with another mistake still
        # counts as the first use of its id (every problem in one pass).
        pairing_id = item.get("id") if isinstance(item, dict) else None
        if isinstance(pairing_id, str):
            if pairing_id in first_use:
                problems.append(source.problem(
                    ("pairings", index, "id"),
                    f"duplicate pairing id {pairing_id!r} "
                    f"(first used by pairing #{first_use[pairing_id] + 1})"))
            else:
                first_use[pairing_id] = index
    return valid, problems


def _people(source: Source, problems: list[ConfigProblem]) -> dict[str, tuple[str, int]]:
    """The `people:` entries that name an assistant: lower-cased e-mail -> (assistant, index
    of the entry). Each entry is validated on its own, and a person named twice is a
    problem (a later entry would silently win)."""
    raw = source.data.get("people")
    if raw is None:
        return {}
    if not isinstance(raw, list):
        problems.append(source.problem(("people",), "people: expected a list"))
        return {}
    found: dict[str, tuple[str, int]] = {}
    first: dict[str, int] = {}
    for index, item in enumerate(raw):
        if len(problems) >= MAX_PROBLEMS:
            break
        try:
            entry = PersonEntry.model_validate(item)
        except ValidationError as exc:
            problems.extend(_validation_problems(exc, source, PairingsFile, ("people", index)))
            continue
        email = entry.email.casefold()
        if email in first:
            problems.append(source.problem(
                ("people", index, "email"),
                f"{entry.email} is named twice in people (first as entry #{first[email] + 1})",
                "keep one entry per person: a later one would silently win"))
            continue
        first[email] = index
        if entry.assistant is not None:
            found[email] = (str(entry.assistant), index)
    return found
