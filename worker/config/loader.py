"""Reads a config directory into a `Config`, or fails with every problem located.

Files: `program.yaml` and either `pairings.yaml` or `pairings.csv` (a spreadsheet export).
Nothing is half-accepted: the result is a whole valid `Config` or a `ConfigError` listing all
problems at once, each with file, line and column, so an admin fixes a config in one pass.

YAML is read with a stricter resolver than PyYAML's YAML 1.1 default: `09:30` would otherwise be
the integer 570 (base 60) and the country code `NO` the boolean false. Only `true`/`false` are
booleans and only plain decimal numbers are numbers; everything else stays a string for pydantic.

CSV columns (header row required, cells may be empty; lists separated by `;`, `,` or spaces):
    id, mentor, mentee, start (YYYY-MM-DD), status (active|paused|ended),
    preferred_weekdays (e.g. `tue;wed`), preferred_earliest, preferred_latest (HH:MM),
    topic_order (e.g. `1;4;3;2;5;6;7`), notes
Session replacements (`tailoring.replace`) need the YAML format.
"""

from __future__ import annotations

import csv
import difflib
import re
import types
import typing
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from worker.config.models import (
    Config,
    ConfigSource,
    DateRange,
    Loc,
    Pairing,
    Program,
    cross_check,
)
from worker.config.problems import ConfigError, ConfigProblem

PROGRAM_FILE = "program.yaml"
PAIRINGS_YAML = "pairings.yaml"
PAIRINGS_CSV = "pairings.csv"
CSV_COLUMNS = (
    "id", "mentor", "mentee", "start", "status", "preferred_weekdays",
    "preferred_earliest", "preferred_latest", "topic_order", "notes",
)
_CSV_TAILORING = ("preferred_weekdays", "preferred_earliest", "preferred_latest", "topic_order")
_CSV_LISTS = ("preferred_weekdays", "topic_order")
STALE_START_DAYS = 365

Position = tuple[int, int]  # 1-based line, column


class PairingsFile(BaseModel):
    """The pairings file's top level: a `pairings:` list (room for more keys later)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    pairings: list[Pairing]


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2-like scalars (see module docstring)."""


_StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if not tag.endswith((":bool", ":int", ":float"))]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^[-+]?(?:0|[1-9][0-9]*)$"), list("-+0123456789")
)
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$"),
    list("-+0123456789."),
)


def _construct_timestamp(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    # An impossible date (2027-13-45) would otherwise abort the whole parse with no location;
    # as a string it reaches pydantic, which reports it at its line like any other bad value.
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)  # type: ignore[arg-type]
    except ValueError:
        return loader.construct_scalar(node)  # type: ignore[arg-type]


_StrictLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)


class _Source:
    """Parsed data of one file plus where each value (and each mapping key) starts."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.data: Any = None
        self.values: dict[Loc, Position] = {}
        self.keys: dict[Loc, Position] = {}

    def problem(self, loc: Loc, message: str, hint: str | None = None, *,
                at_key: bool = False) -> ConfigProblem:
        line, column = self.position(loc, at_key=at_key)
        return ConfigProblem(self.file, line, column, message, hint)

    def position(self, loc: Loc, *, at_key: bool = False) -> tuple[int | None, int | None]:
        if at_key and loc in self.keys:
            return self.keys[loc]
        for end in range(len(loc), -1, -1):
            if loc[:end] in self.values:
                return self.values[loc[:end]]
        return None, None


def _mark(node: yaml.Node) -> Position:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _walk(node: yaml.Node, loc: Loc, source: _Source, problems: list[ConfigProblem]) -> None:
    source.values[loc] = _mark(node)
    if isinstance(node, yaml.MappingNode):
        seen: set[str | int] = set()
        for key_node, value_node in node.value:
            key: str | int = key_node.value
            if key_node.tag.endswith(":int"):
                key = int(key_node.value)
            if key in seen:
                problems.append(ConfigProblem(source.file, *_mark(key_node),
                                              f"duplicate key {key!r}",
                                              "a later value would silently win"))
            seen.add(key)
            source.keys[(*loc, key)] = _mark(key_node)
            _walk(value_node, (*loc, key), source, problems)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*loc, index), source, problems)


def _read_yaml(path: Path, problems: list[ConfigProblem]) -> _Source | None:
    source = _Source(str(path))
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(ConfigProblem(str(path), None, None, f"cannot read file: {exc}"))
        return None
    loader = _StrictLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            problems.append(ConfigProblem(str(path), 1, 1, "file is empty"))
            return None
        found: list[ConfigProblem] = []
        _walk(node, (), source, found)
        source.data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (None, None)
        problems.append(ConfigProblem(str(path), line, column,
                                      f"YAML syntax error: {exc.problem or exc}",
                                      exc.context or None))
        return None
    except yaml.YAMLError as exc:
        problems.append(ConfigProblem(str(path), None, None, f"YAML error: {exc}"))
        return None
    finally:
        loader.dispose()
    problems.extend(found)
    if not isinstance(source.data, dict):
        problems.append(ConfigProblem(str(path), 1, 1, "expected a mapping of keys at top level"))
        return None
    return source


def _split_list(cell: str) -> list[str]:
    return [part for part in re.split(r"[;,\s]+", cell.strip()) if part]


def _read_csv(path: Path, problems: list[ConfigProblem]) -> _Source | None:
    source = _Source(str(path))
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        problems.append(ConfigProblem(str(path), None, None, f"cannot read file: {exc}"))
        return None
    rows: list[dict[str, Any]] = []
    with handle:
        reader = csv.reader(handle)
        try:
            header = [name.strip() for name in next(reader, [])]
            columns: list[str | None] = []
            for index, heading in enumerate(header, start=1):
                if heading in CSV_COLUMNS:
                    columns.append(heading)
                    continue
                columns.append(None)
                close = difflib.get_close_matches(heading, CSV_COLUMNS, n=1)
                problems.append(ConfigProblem(
                    str(path), 1, index, f"unknown column {heading!r}",
                    f"did you mean {close[0]!r}?" if close
                    else f"valid columns: {', '.join(CSV_COLUMNS)}"))
            for required in ("id", "mentor", "mentee", "start"):
                if required not in header:
                    problems.append(ConfigProblem(str(path), 1, None,
                                                  f"missing required column {required!r}"))
            source.values[()] = (1, 1)
            start_line = reader.line_num + 1
            for row in reader:
                if not any(cell.strip() for cell in row):
                    start_line = reader.line_num + 1
                    continue
                loc: Loc = ("pairings", len(rows))
                source.values[loc] = (start_line, 1)
                record: dict[str, Any] = {}
                tailoring: dict[str, Any] = {}
                for index, cell in enumerate(row, start=1):
                    name: str | None = columns[index - 1] if index <= len(columns) else None
                    if name is None:
                        if cell.strip():
                            problems.append(ConfigProblem(str(path), start_line, index,
                                                          "value in a column with no known header"))
                        continue
                    if not cell.strip():
                        continue
                    value: Any = _split_list(cell) if name in _CSV_LISTS else cell.strip()
                    if name in _CSV_TAILORING:
                        tailoring[name] = value
                        source.values[(*loc, "tailoring")] = (start_line, index)
                        source.values[(*loc, "tailoring", name)] = (start_line, index)
                    else:
                        record[name] = value
                        source.values[(*loc, name)] = (start_line, index)
                if tailoring:
                    record["tailoring"] = tailoring
                rows.append(record)
                start_line = reader.line_num + 1
        except csv.Error as exc:
            problems.append(ConfigProblem(str(path), reader.line_num, None, f"CSV error: {exc}"))
            return None
    source.data = {"pairings": rows}
    return source


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
    exc: ValidationError, source: _Source, root: type[BaseModel], base: Loc = ()
) -> list[ConfigProblem]:
    problems: list[ConfigProblem] = []
    errors = exc.errors(include_url=False)
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
            problems.append(source.problem(resolved, f"unknown key {key!r}", hint, at_key=True))
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
            shown = error["input"]
            if isinstance(shown, str | int | float | date) and str(shown) not in message:
                text += f" (got {str(shown)!r})"
        problems.append(source.problem(resolved, text))
    return problems


def _template_refs(program: Program, program_source: _Source, pairings: list[Pairing],
                   pairings_source: _Source | None) -> list[Any]:
    from worker.config.templates import INVITE_TEMPLATE, NOTES_SKELETON_TEMPLATE, TemplateRef

    refs = [TemplateRef(INVITE_TEMPLATE, what="invite"),
            TemplateRef(NOTES_SKELETON_TEMPLATE, what="notes")]

    def add(source: _Source, loc: Loc, name: str, what: str) -> None:
        line, column = source.position(loc)
        if loc not in source.values:
            line, column = None, None
        refs.append(TemplateRef(name, file=source.file, line=line, column=column, what=what))

    for index, item in enumerate(program.curriculum):
        add(program_source, ("curriculum", index, "agenda"), item.agenda, "agenda")
        if item.notes is not None:
            add(program_source, ("curriculum", index, "notes"), item.notes, "notes")
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


def load_config(directory: Path, *, today: date, templates_dir: Path | None = None) -> Config:
    """Read and validate `directory`; raise `ConfigError` with every problem found."""
    from worker.config.templates import Templates
    from worker.core.paths import default_templates_dir

    problems: list[ConfigProblem] = []
    warnings: list[ConfigProblem] = []
    if not directory.is_dir():
        raise ConfigError([ConfigProblem(str(directory), None, None,
                                         "config directory not found")])

    program: Program | None = None
    program_path = directory / PROGRAM_FILE
    program_source: _Source | None = None
    if program_path.is_file():
        program_source = _read_yaml(program_path, problems)
    else:
        problems.append(ConfigProblem(str(program_path), None, None, "file not found"))
    if program_source is not None:
        try:
            program = Program.model_validate(program_source.data)
        except ValidationError as exc:
            problems.extend(_validation_problems(exc, program_source, Program))

    yaml_path, csv_path = directory / PAIRINGS_YAML, directory / PAIRINGS_CSV
    pairings_source: _Source | None = None
    pairings_path: Path | None = None
    if yaml_path.is_file() and csv_path.is_file():
        problems.append(ConfigProblem(str(csv_path), None, None,
                                      f"both {PAIRINGS_YAML} and {PAIRINGS_CSV} exist",
                                      "keep exactly one pairings file"))
    elif yaml_path.is_file():
        pairings_path = yaml_path
        pairings_source = _read_yaml(yaml_path, problems)
    elif csv_path.is_file():
        pairings_path = csv_path
        pairings_source = _read_csv(csv_path, problems)
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
            if pairing.start < today - timedelta(days=STALE_START_DAYS):
                warnings.append(pairings_source.problem(
                    ("pairings", index, "start"),
                    f"start {pairing.start} is more than {STALE_START_DAYS} days ago",
                    "is this pairing still current?"))

    if program is not None and program_source is not None:
        for index, entry in enumerate(program.blackout):
            if isinstance(entry, DateRange) and entry.end < today:
                warnings.append(program_source.problem(
                    ("blackout", index), f"blackout ended on {entry.end}, before today",
                    "remove it to keep the file short"))
        templates = Templates(templates_dir or default_templates_dir())
        problems.extend(templates.check(_template_refs(
            program, program_source, [p for _, p in pairings], pairings_source)))

    if problems or program is None:
        raise ConfigError(problems)
    try:
        return Config(
            program=program,
            pairings=[pairing for _, pairing in pairings],
            source=ConfigSource(program=program_path, pairings=pairings_path),
            warnings=tuple(warnings),
        )
    except ValidationError as exc:
        raise ConfigError([ConfigProblem(str(directory), None, None, str(exc))]) from exc


def _validate_pairings(source: _Source) -> tuple[list[tuple[int, Pairing]], list[ConfigProblem]]:
    """Validate each pairing on its own, so one bad row does not hide the next one's problem."""
    problems: list[ConfigProblem] = []
    data = source.data
    extra = {key: value for key, value in data.items() if key != "pairings"}
    if extra or "pairings" not in data:
        try:
            PairingsFile.model_validate({**extra, "pairings": data.get("pairings", [])})
        except ValidationError as exc:
            problems.extend(_validation_problems(exc, source, PairingsFile))
        if "pairings" not in data:
            problems.append(source.problem((), "missing required key 'pairings'"))
    raw = data.get("pairings")
    if raw is None:
        return [], problems
    if not isinstance(raw, list):
        problems.append(source.problem(("pairings",), "pairings: expected a list"))
        return [], problems
    valid: list[tuple[int, Pairing]] = []
    first_use: dict[str, int] = {}
    for index, item in enumerate(raw):
        try:
            valid.append((index, Pairing.model_validate(item)))
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
