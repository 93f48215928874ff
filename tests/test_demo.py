"""`mentoring demo`, the first thing a new user runs: a whole program, offline."""

from __future__ import annotations

import re
from io import StringIO
from pathlib import Path

import pytest

from tests.conftest import EXAMPLE_CONFIG, ROOT
from worker.cli.main import main


def test_the_demo_books_every_session_of_every_pair_and_saves_the_tenant(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MENTORING_CONFIG_DIR", str(EXAMPLE_CONFIG))
    monkeypatch.setenv("MENTORING_TEMPLATES_DIR", str(ROOT / "templates"))
    state = tmp_path / "state.json"
    report = tmp_path / "report.html"
    out = StringIO()
    assert main(["demo", "--quiet", "--state-file", str(state), "--report-file", str(report)],
                out=out) == 0
    text = out.getvalue()
    assert "70 sessions booked" in text
    assert "0 throttled" in text
    assert re.search(r"SharePoint list: 70 items created", text)
    assert "not reachable in Teams (reported, others went on): sam.rivera@contoso.com" in text
    session_lines = re.findall(r"^  [1-7]/7 ", text, flags=re.MULTILINE)
    assert len(session_lines) == 70
    assert "NO LINK" not in text
    assert state.stat().st_size > 0

    # The whole story: mentors post notes, some pairs share them, the report says so.
    assert f"Report written to {report}" in text
    headline = re.search(r"^  10 active pairs; (\d+) of (\d+) sessions due held; \d+ % on "
                         r"cadence; notes posted for (\d+), (\d+) shared with the program; "
                         r"(\d+) pair\(s\) needing attention$", text, flags=re.MULTILINE)
    assert headline is not None, text[-3000:]
    held, due, posted, shared, flagged = (int(headline.group(i)) for i in range(1, 6))
    assert held == due == 70 and 0 < shared < posted < held
    # The mentor who never answers is flagged, by name, with the reason.
    assert flagged >= 1
    assert re.search(r"^  personal-zoe \(Zoe Williams and Elena Rossi\): session 1: Zoe "
                     r"Williams never answered the invitation", text, flags=re.MULTILINE)
    # Pairs span time zones: a session line shows two different zones.
    spans = [line for line in session_lines_text(text)
             if len({zone for zone in re.findall(r"\d\d:\d\d (\S+)", line)}) == 2]
    assert len(spans) >= 21, "at least three pairs meet across time zones"
    page = report.read_text("utf-8")
    assert 'id="sessions-chart"' in page and 'id="shared-notes"' in page
    # Every shared note is on the page with its excerpt (the notes the mentors typed).
    assert page.count("What stayed with us") == shared


def session_lines_text(text: str) -> list[str]:
    return re.findall(r"^  [1-7]/7 .*$", text, flags=re.MULTILINE)
