"""The run's progress on a terminal: one line per step, with its total when known.

Drawn with rich on standard error, only when standard error is a terminal and logs are text;
anywhere else the run writes nothing extra (`worker.core.progress`)."""

from __future__ import annotations

from typing import TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    ProgressColumn,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.progress import Progress as RichProgress
from rich.progress import Task as RichTask
from rich.text import Text

from worker.core.progress import Progress, Task


class _Count(ProgressColumn):
    """`12/20` for a step whose total is known; nothing for one that only has an end."""

    def render(self, task: RichTask) -> Text:
        if not task.fields.get("counted"):
            return Text("")
        return Text(f"{int(task.completed)}/{int(task.total or 0)}", style="progress.download")


class TerminalProgress(Progress):
    """Steps drawn live on `stream` (standard error); left on screen when the run ends."""

    def __init__(self, stream: TextIO) -> None:
        self._bar = RichProgress(
            SpinnerColumn(finished_text="[green]✓[/green]"),
            TextColumn("{task.description}"),
            BarColumn(bar_width=24),
            _Count(),
            TimeElapsedColumn(),
            console=Console(file=stream, highlight=False),
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._bar.start()

    def task(self, description: str, total: int | None = None) -> Task:
        return _TerminalTask(self._bar, self._bar.add_task(description, total=total,
                                                           counted=total is not None))

    def close(self) -> None:
        self._bar.stop()


class _TerminalTask(Task):
    def __init__(self, bar: RichProgress, task_id: TaskID) -> None:
        self._bar = bar
        self._id = task_id

    def advance(self, amount: int = 1) -> None:
        self._bar.advance(self._id, amount)

    def done(self, note: str | None = None) -> None:
        task = self._bar.tasks[self._id]
        completed = task.completed if task.total is None else task.total
        self._bar.update(self._id, total=completed, completed=completed,
                         description=note or task.description)
        self._bar.stop_task(self._id)
