"""Reads pairings from a spreadsheet's CSV export, in the shape pairings.yaml would give.

Many admins keep their pairings in a spreadsheet. The rows become the same data, with the same
line and column bookkeeping, as a `pairings:` list read from YAML, so validation and every
problem message stay the same whichever file an admin keeps.

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
from pathlib import Path
from typing import Any

from worker.config.located import Loc, Source
from worker.config.problems import ConfigProblem

CSV_COLUMNS = (
    "id", "mentor", "mentee", "start", "status", "preferred_weekdays",
    "preferred_earliest", "preferred_latest", "topic_order", "notes",
)
_CSV_TAILORING = ("preferred_weekdays", "preferred_earliest", "preferred_latest", "topic_order")
_CSV_LISTS = ("preferred_weekdays", "topic_order")


def _split_list(cell: str) -> list[str]:
    return [part for part in re.split(r"[;,\s]+", cell.strip()) if part]


def read_csv(path: Path, problems: list[ConfigProblem]) -> Source | None:
    """The rows as `{"pairings": [...]}` with positions; None if the file cannot be read at all.

    Unknown columns and stray cells are appended to `problems` but the rows are still returned,
    so that the pairings' own mistakes are reported in the same pass.
    """
    source = Source(str(path))
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
