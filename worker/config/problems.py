"""Located configuration problems, shared by the loader, template checks and the CLI.

A program admin fixes a config from these messages alone, so each carries the file, line and
column it is about and, where one exists, a hint (closest valid key, expected format).

Messages quote what the file holds, and a file can hold anything: `shown` cuts a quoted value
short, and a problem prints control characters and lone surrogates escaped, so that no config
can move the terminal's cursor, forge a line of output or fail the printing itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

SHOWN_CHARACTERS = 60


def shown(value: object) -> str:
    """`repr` of a value from a file, cut to `SHOWN_CHARACTERS` for a message."""
    text = repr(value)
    if len(text) <= SHOWN_CHARACTERS:
        return text
    return f"{text[:SHOWN_CHARACTERS - 5]}...{text[-2:]}"


def _printable(text: str) -> str:
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else char.encode("unicode_escape").decode("ascii")
                   for char in text)


@dataclass(frozen=True)
class ConfigProblem:
    """One problem (or warning) in a config or template file; line/column are 1-based."""

    file: str
    line: int | None
    column: int | None
    message: str
    hint: str | None = None

    def __str__(self) -> str:
        where = _printable(self.file)
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        text = f"{where}: {_printable(self.message)}"
        if self.hint:
            text += f" ({_printable(self.hint)})"
        return text


class ConfigError(Exception):
    """A config that cannot be used; carries every problem found, never just the first."""

    def __init__(self, problems: Iterable[ConfigProblem]) -> None:
        self.problems: tuple[ConfigProblem, ...] = tuple(problems)
        count = len(self.problems)
        lines = [f"{count} configuration problem{'s' if count != 1 else ''}:"]
        lines += [f"  {problem}" for problem in self.problems]
        super().__init__("\n".join(lines))
