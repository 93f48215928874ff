"""`mentoring report` on a scripted program (`tests.report_helpers`): the numbers a sponsor
reads, the pairs needing attention and why, the shared notes, the per-session CSV, and a
program's own template for the page."""

from __future__ import annotations

import csv
import io
import re
import shutil
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from graph.sandbox.transport import sandbox_session
from tests.conftest import EXAMPLE_CONFIG, ROOT
from tests.records_helpers import items
from tests.report_helpers import (
    MOVED_KEY,
    PAUSED,
    PROGRAM,
    Scripted,
    scripted_program,
)
from tests.test_records_cli import make_env
from worker.cli.demo import build_world
from worker.cli.main import main
from worker.cli.report import SESSION_COLUMNS, Report, read_report, render_sessions_csv
from worker.cli.report_page import render_page
from worker.config import ConfigError, load_config
from worker.config.templates import REPORT_TEMPLATE


@pytest.fixture(scope="module")
def scripted(tmp_path_factory: pytest.TempPathFactory) -> Scripted:
    return scripted_program(tmp_path_factory.mktemp("report"))


@pytest.fixture(scope="module")
def report(scripted: Scripted) -> Report:
    world = scripted.world
    return read_report(world.client, world.config, world.clock.now())


def _list(scripted: Scripted) -> dict[str, dict[str, Any]]:
    """The list's items as the sandbox holds them (the record the report reads), by key."""
    return {str(i.fields["SessionKey"]): dict(i.fields) for i in items(scripted.world)}


def test_the_headline_counts_pairs_sessions_and_notes(scripted: Scripted,
                                                      report: Report) -> None:
    top = report.headline
    assert top is not None
    assert (top.pairs, top.active_pairs, top.paused_pairs, top.ended_pairs) == (10, 9, 1, 0)
    held = {k for k, f in _list(scripted).items() if f.get("SessionStatus") == "Held"}
    assert top.held == len(held) > 0
    assert (top.notes_posted, top.notes_shared) == (len(scripted.posted), len(scripted.shared))
    assert top.notes_posted == 4 and top.notes_shared == 2
    assert top.notes_missing == len(held - scripted.posted)


def test_due_counts_every_held_session_and_the_ones_the_cadence_has_passed(
        report: Report) -> None:
    # Elena declined sessions 1 (target: the pairing's start, 11 Jan) and 2 (target: three
    # weeks after session 1) every time: both are past their target plus four days and not
    # held. Every other active pair held what was due; the paused pair owes nothing more.
    top = report.headline
    assert top is not None
    late = {(r.pairing_id, r.number) for r in report.sessions if r.due and r.status != "Held"}
    assert late == {("personal-zoe", 1), ("personal-zoe", 2)}
    assert top.due == top.held + 2
    paused = [r for r in report.sessions if r.pairing_id == PAUSED]
    assert [r.number for r in paused if r.due] == [r.number for r in paused
                                                    if r.status == "Held"] == [1, 2]


def test_a_session_held_ten_days_off_its_target_is_not_on_cadence(report: Report) -> None:
    top = report.headline
    assert top is not None
    off = [(r.pairing_id, r.number) for r in report.sessions if r.on_cadence is False]
    assert off == [("cro-maya", 2)]
    assert top.on_cadence == top.held - 1
    moved = next(r for r in report.sessions if (r.pairing_id, r.number) == ("cro-maya", 2))
    assert moved.start is not None and moved.target is not None
    assert (moved.start.date() - moved.target).days == 10
    # The next target follows the session as held, as the worker books it.
    following = next(r for r in report.sessions if (r.pairing_id, r.number) == ("cro-maya", 3))
    assert following.target == moved.start.date() + timedelta(days=21)


def test_progress_by_phase_adds_up_to_the_headline(scripted: Scripted, report: Report) -> None:
    top = report.headline
    assert top is not None
    assert [p.phase for p in report.phases] == ["trust", "aha", "brainstorm"]
    assert sum(p.held for p in report.phases) == top.held
    assert sum(p.due for p in report.phases) == top.due
    trust, aha, brainstorm = report.phases
    # Seven weeks in: only the first phase (sessions 1 and 2) has been held.
    assert (trust.held, trust.due) == (top.held, top.due)
    assert (aha.held, aha.due, brainstorm.held, brainstorm.due) == (0, 0, 0, 0)
    # 9 active pairs with 2/3/2 sessions per phase, and the paused pair's two held ones.
    assert (trust.total, aha.total, brainstorm.total) == (20, 27, 18)


def test_held_sessions_are_counted_per_week_of_their_start(scripted: Scripted,
                                                           report: Report) -> None:
    starts = [datetime.fromisoformat(str(f["SessionStart"]).replace("Z", "+00:00")).date()
              for f in _list(scripted).values() if f.get("SessionStatus") == "Held"]
    weeks = Counter(day - timedelta(days=day.weekday()) for day in starts)
    assert report.period_kind == "week"
    assert {p.start: p.held for p in report.periods if p.held} == dict(weeks)
    assert all(p.start.weekday() == 0 for p in report.periods)
    gaps = {(b.start - a.start).days for a, b in zip(report.periods, report.periods[1:],
                                                       strict=False)}
    assert gaps == {7}  # empty weeks are bars of zero, not left out
    now = scripted.world.clock.now().date()
    assert report.periods[-1].start == now - timedelta(days=now.weekday())


def test_pairs_are_named_as_the_directory_names_them(scripted: Scripted,
                                                     report: Report) -> None:
    directory = scripted.world.sandbox.state.directory
    tallies = {t.pairing_id: t for t in report.pairs}
    assert set(tallies) == {p.id for p in scripted.world.config.pairings}
    for pairing in scripted.world.config.pairings:
        tally = tallies[pairing.id]
        assert tally.mentor == directory.get(pairing.mentor).displayName
        assert tally.mentee == directory.get(pairing.mentee).displayName
    page = render_page(report)
    assert "Zoe Williams and Elena Rossi" in page
    assert not re.search(r"<td>[a-z]+-[a-z]+</td>", page)  # no slug as a pair's label


def test_each_pair_needing_attention_says_why(report: Report) -> None:
    reasons = {p.pairing_id: " | ".join(p.reasons) for p in report.pairs_attention}
    # Declined past the move limit, and so behind: said with her name, not her address.
    assert "session 1: declined by Elena Rossi after 3 moves" in reasons["personal-zoe"]
    assert "behind the cadence: sessions 1, 2 due and not held" in reasons["personal-zoe"]
    assert "elena.rossi@" not in reasons["personal-zoe"]
    # What the worker wrote on the items, with his name for his address.
    assert re.search(r"session \d: Tom Becker (has not|never) answered the invitation sent on "
                     r"2027-\d\d-\d\d", reasons["commercial-noah"])
    assert reasons[PAUSED].startswith("paused in the config")
    assert re.search(r"session 1 held on \d\d Jan 2027: no notes after \d+ days",
                     reasons["benefits-ethan"])
    # The pairs whose mentors post their notes, on cadence, are not there.
    assert "ceo-ava" not in reasons and "cfo-leo" not in reasons


def test_shared_notes_come_with_an_excerpt_and_the_items_link(scripted: Scripted,
                                                              report: Report) -> None:
    web_urls = {str(i.fields["SessionKey"]): i for i in items(scripted.world)}
    assert sorted(f"{PROGRAM}/{n.pairing_id}/{n.number}" for n in report.shared) \
        == sorted(scripted.shared)
    for note in report.shared:
        assert (note.mentor, note.mentee) == ("Leo Martins", "Daniel Okafor")
        assert note.excerpt.startswith("We set up Teams & search alerts together")
        assert "<script>alert(1)</script>" in note.excerpt  # the notes' text, as text
        assert len(note.excerpt) <= 241 and note.excerpt.endswith("…")
        assert note.link.startswith("https://")
        assert f"ID={web_urls[f'{PROGRAM}/cfo-leo/{note.number}'].id}" in note.link
    page = render_page(report)
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    for note in report.shared:
        assert f'<a href="{note.link}">' in page


def test_the_page_defines_its_numbers_and_holds_the_chart(report: Report) -> None:
    page = render_page(report)
    top = report.headline
    assert top is not None
    assert re.search(rf'data-metric="sessions-held"><div class="value">{top.held} / '
                     rf"{top.due}</div>", page)
    assert "within 4 days of its target day" in page  # on cadence, defined for the reader
    svg = re.search(r'<svg id="sessions-chart".*?</svg>', page, re.DOTALL)
    assert svg is not None
    assert svg.group(0).count('<rect class="bar"') == len(report.periods)
    assert '<title id="sessions-chart-title">Sessions held per week</title>' in svg.group(0)
    assert f"{top.held} sessions held in {len(report.periods)} weeks" in svg.group(0)


def _csv_rows(text: str) -> list[dict[str, str]]:
    assert text.startswith("\ufeff")  # for Excel: UTF-8, not the ANSI code page
    return list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"), newline="")))


def test_the_sessions_csv_has_one_row_per_session(scripted: Scripted, report: Report) -> None:
    text = render_sessions_csv(report)
    assert "\r\n" in text
    rows = _csv_rows(text)
    assert list(rows[0]) == list(SESSION_COLUMNS)
    assert len(rows) == 10 * 7
    by_key = {f"{PROGRAM}/{r['pairing_id']}/{r['session']}": r for r in rows}
    listed = _list(scripted)
    for key, values in listed.items():
        row = by_key[key]
        assert row["status"] == values["SessionStatus"]
        start = datetime.fromisoformat(str(values["SessionStart"]).replace("Z", "+00:00"))
        assert row["start_utc"] == start.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
        assert row["notes_posted"] == ("yes" if key in scripted.posted else "no")
        assert row["shared"] == ("yes" if key in scripted.shared else "no")
        assert row["link"].startswith("https://") and row["link"].endswith(
            f"ID={next(i.id for i in items(scripted.world) if i.fields['SessionKey'] == key)}")
    unbooked = [r for k, r in by_key.items() if k not in listed]
    assert unbooked and all(r["status"] == "Not booked" and r["start_utc"] == ""
                            and r["link"] == "" for r in unbooked)
    first = by_key[f"{PROGRAM}/cfo-leo/1"]
    assert (first["mentor"], first["mentee"], first["phase"]) == (
        "Leo Martins", "Daniel Okafor", "Gain trust and buy-in")
    assert first["on_cadence"] == "yes" and by_key[MOVED_KEY]["on_cadence"] == "no"
    zones = {r["mentor_zone"] for r in rows} | {r["mentee_zone"] for r in rows}
    # IANA names, several; the demo tenant's one mailbox with a custom zone by its offset.
    assert len(zones) >= 2 and all(ZoneInfo(z) for z in zones if "(custom, " not in z)
    assert [z for z in zones if "(custom, " in z] == ["Customized Time Zone (custom, UTC-05:00)"]


def test_report_cli_writes_the_page_and_the_sessions_csv(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    sandbox, clock = make_env(monkeypatch, granted=True)
    session = sandbox_session(sandbox)
    main(["sharepoint", "init"], clock=clock, session=session, out=io.StringIO())
    main(["run"], clock=clock, session=session, out=io.StringIO())
    page, sessions = tmp_path / "report.html", tmp_path / "sessions.csv"
    out = io.StringIO()
    assert main(["report", "--format", "html", "--out", str(page), "--sessions-csv",
                 str(sessions)], clock=clock, session=session, out=out) == 0
    assert f"70 session(s) written to {sessions}" in out.getvalue()
    rows = _csv_rows(sessions.read_bytes().decode("utf-8"))
    assert len(rows) == 70
    assert Counter(r["status"] for r in rows) == {"Scheduled": 20, "Not booked": 50}
    assert 'id="sessions-chart"' in page.read_text(encoding="utf-8")


def _own_templates(tmp_path: Path, page: str) -> Path:
    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", templates)
    (templates / REPORT_TEMPLATE).write_text(page, encoding="utf-8")
    return templates


def test_a_programs_own_template_restyles_the_page_and_still_escapes(
        report: Report, tmp_path: Path) -> None:
    templates = _own_templates(tmp_path, (
        "<!DOCTYPE html><title>{{ report.program_name }}</title>"
        "<p id=held>{{ headline.held }} of {{ headline.due }}</p>"
        "{% for note in shared %}<q>{{ note.excerpt }}</q>{% endfor %}\n"))
    page = render_page(report, templates)
    assert report.headline is not None
    assert f"<p id=held>{report.headline.held} of {report.headline.due}</p>" in page
    assert "<q>We set up Teams &amp; search" in page
    assert "<script" not in page  # autoescaped, in a program's template too


def test_a_templates_folder_without_a_report_template_uses_the_workers(
        report: Report, tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", templates, ignore=shutil.ignore_patterns("report"))
    assert render_page(report, templates) == render_page(report)


def test_the_report_cli_uses_the_template_of_the_templates_dir(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    sandbox, clock = make_env(monkeypatch, granted=True)
    templates = _own_templates(tmp_path, "<p>Our own page: {{ headline.active_pairs }}</p>\n")
    monkeypatch.setenv("MENTORING_TEMPLATES_DIR", str(templates))
    session = sandbox_session(sandbox)
    main(["sharepoint", "init"], clock=clock, session=session, out=io.StringIO())
    out = io.StringIO()
    assert main(["report", "--format", "html"], clock=clock, session=session, out=out) == 0
    assert out.getvalue() == "<p>Our own page: 10</p>\n"


def test_a_broken_report_template_is_a_config_problem(tmp_path: Path) -> None:
    templates = _own_templates(tmp_path, "<p>fine</p>\n<p>{% for %}</p>\n")
    with pytest.raises(ConfigError) as caught:
        load_config(EXAMPLE_CONFIG, today=datetime(2026, 12, 1).date(),
                    templates_dir=templates)
    [problem] = caught.value.problems
    assert problem.file == str(templates / REPORT_TEMPLATE) and problem.line == 2
    assert problem.hint is not None and "report" in problem.hint


def test_without_calendar_permission_the_report_says_what_it_leaves_out(
        scripted: Scripted, report: Report) -> None:
    world = scripted.world
    # The same tenant, read by an app that may read the list and the directory only.
    reader = build_world(world.config, world.sandbox, world.clock,
                         roles=("Sites.Selected", "User.Read.All"))
    partial = read_report(reader.client, world.config, world.clock.now())
    assert len(partial.gaps) == 2
    assert partial.gaps[0].startswith("the program's events could not be read (")
    assert partial.gaps[1].startswith("time zones could not be read (")
    assert partial.headline == report.headline  # the list's numbers do not need the calendar
    reasons = " ".join(r for p in partial.pairs_attention for r in p.reasons)
    # Only what the worker wrote on the items (it read the events): nothing the report would
    # have seen in the events itself.
    assert not re.search(r"has not answered the invitation sent \d+ days? ago", reasons)
    assert all(r.mentor_zone == "" for r in partial.sessions)
    page = render_page(partial)
    assert "Not read for this report: the program&#39;s events could not be read" in page
