"""Reads pairings from a spreadsheet's CSV export, in the shape pairings.yaml would give.

Many admins keep their pairings in a spreadsheet. The rows become the same data, with the same
line and column bookkeeping, as a `pairings:` list read from YAML, so validation and every
problem message stay the same whichever file an admin keeps.

The columns may be separated by commas, semicolons (Excel in much of Europe) or tabs: the
header row tells which (a first line `sep=;`, as Excel writes it, is honoured). Header names
are read in any case, with spaces or dashes for underscores (`Preferred Weekdays`).

CSV columns (header row required, cells may be empty; lists separated by `;`, `,` or spaces):
    id, mentor, mentee, start (YYYY-MM-DD), status (active|paused|ended),
    preferred_weekdays (e.g. `tue;wed`), preferred_earliest, preferred_latest (HH:MM),
    topic_order (e.g. `1;4;3;2;5;6;7`), notes, assistant (the executive's assistant's e-mail)
and, as `mentoring pairings export` writes them, progress columns that are ignored (read-only),
as is the `reasons` column `mentoring suggest` writes.
Session replacements (`tailoring.replace`) need the YAML format.

The text comes from `located.read_text` (size cap, encodings, control characters), as YAML's
does. A column named twice is a problem (a later cell would silently win, as with a duplicate
YAML key), and so are a header of more than `MAX_COLUMNS` columns and more than `MAX_VALUES`
values (non-empty cells, a row counting as one): the YAML file's limit, which keeps the checking
of a whole file well under a second. Cells beyond the known columns are one problem
per row, not one per cell.
"""

from __future__ import annotations

import csv
import difflib
import io
import re
from pathlib import Path
from typing import Any

from worker.config.located import MAX_VALUES, Loc, Source, read_text
from worker.config.problems import ConfigProblem, shown

CSV_COLUMNS = (
    "id", "mentor", "mentee", "start", "status", "preferred_weekdays",
    "preferred_earliest", "preferred_latest", "topic_order", "notes", "assistant",
)
# Written by `mentoring pairings export` after the config columns, ignored when read back:
# the pair's progress, from the notes list, for the admin's eyes only.
PROGRESS_COLUMNS = (
    "sessions_total", "sessions_booked", "sessions_held", "notes_posted", "notes_shared",
    "needs_attention",
)
# Written by `mentoring suggest` after the config columns, ignored when read back: why each
# pair was suggested, for the admin's review.
SUGGESTION_COLUMNS = ("reasons",)
_CSV_TAILORING = ("preferred_weekdays", "preferred_earliest", "preferred_latest", "topic_order")
_CSV_LISTS = ("preferred_weekdays", "topic_order")
_IGNORED = "(progress: read-only)"
# More than this is not a pairings export (a spreadsheet's own extra columns stay well below).
MAX_COLUMNS = 50


_DELIMITERS = (",", ";", "\t")
_SEP_LINE = re.compile(r"^sep=(.)\s*$")


def _column(heading: str) -> str:
    """A header cell as the column name it means: `Preferred Weekdays`, `preferred-weekdays`
    and `PREFERRED_WEEKDAYS` are `preferred_weekdays`."""
    return re.sub(r"[\s\-]+", "_", heading.strip().casefold())


def _delimiter(header_line: str) -> str:
    """The delimiter that makes the most known columns of the header line (then the most
    columns); a comma when none does better."""
    best, score = ",", (0, 1)
    for delimiter in _DELIMITERS:
        try:
            cells = next(csv.reader([header_line], delimiter=delimiter), [])
        except csv.Error:
            continue  # not a line this delimiter reads; the reader reports it in place
        found = (sum(1 for cell in cells if _column(cell) in CSV_COLUMNS), len(cells))
        if found > score:
            best, score = delimiter, found
    return best


def _split_list(cell: str) -> list[str]:
    return [part for part in re.split(r"[;,\s]+", cell.strip()) if part]


def read_csv(path: Path, problems: list[ConfigProblem]) -> Source | None:
    """The rows as `{"pairings": [...]}` with positions; None if the file cannot be read at all.

    Unknown columns and stray cells are appended to `problems` but the rows are still returned,
    so that the pairings' own mistakes are reported in the same pass.
    """
    text = read_text(path, problems)
    if text is None:
        return None
    source = Source(str(path))
    rows: list[dict[str, Any]] = []
    values = 0
    first_line, _, rest = text.partition("\n")
    declared = _SEP_LINE.match(first_line.rstrip("\r"))
    if declared is not None:
        # Excel's own "sep=;" line: the delimiter is said, and the header is the next line.
        delimiter = declared.group(1)
        text = "\n" + rest  # an empty first row keeps the line numbers the file's
    else:
        # The header is the first line with something on it, whatever ends the lines.
        delimiter = _delimiter(next((line for line in text.splitlines() if line.strip()), ""))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        if declared is not None:
            next(reader, None)
        raw_header = [name.strip() for name in next(reader, [])]
        header = [_column(name) for name in raw_header]
        header_line = reader.line_num or 1
        if len(header) > MAX_COLUMNS:
            problems.append(ConfigProblem(
                str(path), header_line, None, f"the header row has {len(header):,} columns",
                f"a pairings export has at most {len(CSV_COLUMNS)}: {', '.join(CSV_COLUMNS)}"))
            return None
        columns: list[str | None] = []
        first_at: dict[str, int] = {}
        for index, (heading, raw) in enumerate(zip(header, raw_header, strict=True), start=1):
            if heading in first_at:
                columns.append(None)
                problems.append(ConfigProblem(
                    str(path), header_line, index, f"column {shown(raw)} appears twice",
                    f"first as column {first_at[heading]}; a later cell would silently win"))
                continue
            if heading in CSV_COLUMNS:
                first_at[heading] = index
                columns.append(heading)
                continue
            if heading in PROGRESS_COLUMNS or heading in SUGGESTION_COLUMNS:
                first_at[heading] = index
                columns.append(_IGNORED)
                continue
            columns.append(None)
            close = difflib.get_close_matches(heading, CSV_COLUMNS, n=1)
            problems.append(ConfigProblem(
                str(path), header_line, index, f"unknown column {shown(raw)}",
                f"did you mean {close[0]!r}?" if close
                else f"valid columns: {', '.join(CSV_COLUMNS)}"))
        for required in ("id", "mentor", "mentee", "start"):
            if required not in header:
                problems.append(ConfigProblem(str(path), header_line, None,
                                              f"missing required column {required!r}"))
        source.values[()] = (header_line, 1)
        start_line = reader.line_num + 1
        for row in reader:
            if not any(cell.strip() for cell in row):
                start_line = reader.line_num + 1
                continue
            loc: Loc = ("pairings", len(rows))
            source.values[loc] = (start_line, 1)
            record: dict[str, Any] = {}
            tailoring: dict[str, Any] = {}
            stray: list[int] = []
            for index, cell in enumerate(row, start=1):
                name: str | None = columns[index - 1] if index <= len(columns) else None
                if name is None:
                    if cell.strip():
                        stray.append(index)
                    continue
                if name is _IGNORED:
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
            if stray:
                more = f" (and {len(stray) - 1} more in this row)" if len(stray) > 1 else ""
                problems.append(ConfigProblem(str(path), start_line, stray[0],
                                              f"value in a column with no known header{more}"))
            if tailoring:
                record["tailoring"] = tailoring
            rows.append(record)
            values += 1 + sum(1 for cell in row if cell.strip())
            if values > MAX_VALUES:
                problems.append(ConfigProblem(
                    str(path), start_line, None,
                    f"more than {MAX_VALUES:,} values (non-empty cells, and a row counts as one)",
                    "a config needs far fewer values"))
                return None
            start_line = reader.line_num + 1
    except csv.Error as exc:
        problems.append(ConfigProblem(str(path), reader.line_num, None, f"CSV error: {exc}"))
        return None
    source.data = {"pairings": rows}
    return source
