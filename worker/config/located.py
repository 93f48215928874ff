"""Config data as read from one file, with the line and column where each value starts.

Both readers produce this shape (the CSV reader as if its rows were written in pairings.yaml),
so a problem found later, by pydantic or by the cross-pairing checks, is located the same way
whatever the file format: its `loc` is walked back to the nearest value the file really has.
"""

from __future__ import annotations

from typing import Any

from worker.config.problems import ConfigProblem

# A location inside the config data (as in pydantic's `loc`): keys and list indexes.
Loc = tuple[str | int, ...]

Position = tuple[int, int]  # 1-based line, column


class Source:
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
