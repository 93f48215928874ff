"""`plan` and `run` show their steps with totals on a terminal, and nothing extra elsewhere."""

from __future__ import annotations

import io
import re
import sys

import pytest

from tests.test_run_e2e import make_world
from worker.cli.main import run_command

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_run_on_a_terminal_shows_each_step_with_its_total(
        monkeypatch: pytest.MonkeyPatch) -> None:
    world = make_world()
    screen = Terminal()
    monkeypatch.setattr(sys, "stderr", screen)
    out = io.StringIO()
    run_command(world.client, world.config, world.clock, world.templates, dry_run=False,
                force=False, as_json=False, out=out)
    text = ANSI.sub("", screen.getvalue())
    assert "Read the program's events: 0 session(s)" in text
    assert "Reading free/busy (people)" in text and "20/20" in text  # ten pairs, two each
    assert "Planned the calendar: 20 change(s)" in text
    applied = re.findall(r"Applying the plan\s.*?(\d+)/(\d+)", text)
    assert applied and applied[-1][0] == applied[-1][1] and int(applied[-1][1]) >= 20
    # The summary itself goes to standard output, untouched.
    assert "Applying" not in out.getvalue() and "booked" in out.getvalue()


@pytest.mark.parametrize("as_json", [False, True])
def test_off_a_terminal_or_with_json_nothing_extra_is_written(
        monkeypatch: pytest.MonkeyPatch, as_json: bool) -> None:
    world = make_world()
    piped = io.StringIO()  # not a terminal
    monkeypatch.setattr(sys, "stderr", Terminal() if as_json else piped)
    run_command(world.client, world.config, world.clock, world.templates, dry_run=True,
                force=False, as_json=as_json, out=io.StringIO())
    assert piped.getvalue() == "" and sys.stderr.getvalue() == ""
