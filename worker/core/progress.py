"""Progress of a long run, for a person watching a terminal.

The run (`worker.run.job`) names each step as it starts (reading the program's events, looking
people up, reading free/busy, planning, applying) with its total when it is known, and
advances it as the work comes back. This base reports nothing: off a terminal (a container's
log, JSON logs, a pipe) a run writes nothing it would not write anyway. The terminal rendering
lives with the CLI (`worker.cli.progress`).
"""

from __future__ import annotations


class Task:
    """One step of the run. The base does nothing; every method is safe from any thread."""

    def advance(self, amount: int = 1) -> None:
        """`amount` more units of the step are done."""

    def done(self, note: str | None = None) -> None:
        """The step ended; `note` (e.g. "230 sessions") replaces what it was called."""


class Progress:
    """Where a run reports its steps. This one reports nothing."""

    def task(self, description: str, total: int | None = None) -> Task:
        return _NO_TASK

    def close(self) -> None:
        """The run ended: the last state stays on the screen, nothing more is drawn."""


_NO_TASK = Task()
NO_PROGRESS = Progress()
