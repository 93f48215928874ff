"""`mentoring demo`, the first thing a new user runs: a whole program, offline."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from io import StringIO
from pathlib import Path

import pytest

from tests.conftest import ROOT, SHIPPED_CONFIG
from worker.cli.main import main


@dataclass(frozen=True)
class DemoRun:
    text: str
    folder: Path


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoRun]:
    """One whole demo, as a new user runs it (it takes a while: every test reads the same)."""
    folder = tmp_path_factory.mktemp("demo")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MENTORING_CONFIG_DIR", str(SHIPPED_CONFIG))
        patch.setenv("MENTORING_TEMPLATES_DIR", str(ROOT / "templates"))
        out = StringIO()
        assert main(["demo", "--quiet", "--state-file", str(folder / "state.json"),
                     "--report-file", str(folder / "report.html")], out=out) == 0
    yield DemoRun(out.getvalue(), folder)


def test_the_demo_books_every_session_of_every_pair_and_saves_the_tenant(demo: DemoRun) -> None:
    text = demo.text
    state = demo.folder / "state.json"
    report = demo.folder / "report.html"
    assert "70 sessions booked" in text
    assert "0 throttled" in text
    assert re.search(r"SharePoint list: 70 items created", text)
    assert "not reachable in Teams (reported, others went on): sam.rivera@contoso.com" in text
    session_lines = re.findall(r"^  [1-7]/7 ", text, flags=re.MULTILINE)
    assert len(session_lines) == 70
    assert "NO LINK" not in text
    assert state.stat().st_size > 0

    # The whole story: mentors post notes, some pairs publish them with both people's
    # consent, the report says so.
    assert f"Report written to {report}" in text
    headline = re.search(r"^  10 active pairs; (\d+) of (\d+) sessions due held; \d+ % on "
                         r"cadence; notes posted for (\d+), (\d+) published with both people's "
                         r"consent; (\d+) pair\(s\) needing attention$", text, flags=re.MULTILINE)
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


def test_the_demo_shows_each_optional_feature_at_work(demo: DemoRun) -> None:
    text = demo.text
    # Publishing: the copies, and the one box a mentor ticked for her executive, refused.
    published = re.search(r"^Published notes: (\d+) session note\(s\) in 'Reverse mentoring "
                          r"published notes', each with both people's consent$", text,
                          flags=re.MULTILINE)
    assert published is not None and int(published.group(1)) > 0
    assert re.search(r"note claims-lina: notes of session \d not published: the mentee's box "
                     r"was ticked by Lina Berg, not by the mentee", text)
    # The pulse: the executive who answers "No" to "a good fit?" is flagged with it.
    assert re.search(r"^  benefits-ethan \(Ethan Brooks and Kenji Watanabe\): session 2: Kenji "
                     r"Watanabe answered \"No\" to \"is this a good fit\?\"", text,
                     flags=re.MULTILINE)
    # The weekly digest: one a week, to the program team.
    digest = re.search(r"^Weekly digest: (\d+) mail\(s\) to programs@contoso.com, one a period; "
                       r"the last: .*: (\d+) pairs needing attention", text, flags=re.MULTILINE)
    assert digest is not None and 15 <= int(digest.group(1)) <= 21
    # The CEO's assistant: on every invitation as an optional attendee, her proposal followed.
    assistant = re.search(r"^Assistant: Hannah Kim \(Executive Assistant to the CEO\) for "
                          r"Margaret Hale \(Chief Executive Officer\): optional attendee on (\d+) "
                          r"invitation\(s\); (\d+) of the pair's sessions moved", text,
                          flags=re.MULTILINE)
    assert assistant is not None and int(assistant.group(1)) == 7
    assert int(assistant.group(2)) >= 1
    # Match suggestions for the two executives without a mentor, written for review.
    assert re.search(r"^2 suggestion\(s\) written to .*demo-suggested-pairings.yaml", text,
                     flags=re.MULTILINE)
    suggested = (demo.folder / "demo-suggested-pairings.yaml").read_text("utf-8")
    assert "nadia.haddad@contoso.com" in suggested and "oliver.grant@contoso.com" in suggested
    assert "# why:" in suggested


def session_lines_text(text: str) -> list[str]:
    return re.findall(r"^  [1-7]/7 .*$", text, flags=re.MULTILINE)
