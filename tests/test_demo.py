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
    out = StringIO()
    assert main(["demo", "--quiet", "--state-file", str(state)], out=out) == 0
    text = out.getvalue()
    assert "70 sessions booked" in text
    assert "0 throttled" in text
    assert re.search(r"SharePoint list: 70 items created", text)
    assert "not reachable in Teams (reported, others went on): sam.rivera@contoso.com" in text
    session_lines = re.findall(r"^  [1-7]/7 ", text, flags=re.MULTILINE)
    assert len(session_lines) == 70
    assert "NO LINK" not in text
    assert state.stat().st_size > 0
