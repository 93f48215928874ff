"""An executive's assistant in the pairings file: on a pairing, once per person in `people:`,
or in a CSV column; never the pair's mentor or mentee, each mistake located."""

from __future__ import annotations

from pathlib import Path

from tests.test_config_loader import PROGRAM, TODAY, problems_of, write
from worker.config import load_config
from worker.config.pairings import Config

ASSISTED = """\
people:
  - email: a.exec@contoso.com
    assistant: a.assistant@contoso.com
pairings:
  - id: one
    mentor: a.mentor@contoso.com
    mentee: a.exec@contoso.com
    start: 2027-01-11
  - id: two
    mentor: b.mentor@contoso.com
    mentee: a.exec@contoso.com
    start: 2027-01-11
    status: paused
    assistant: other.assistant@contoso.com
  - id: three
    mentor: c.mentor@contoso.com
    mentee: c.exec@contoso.com
    start: 2027-01-11
"""


def assistants(config: Config) -> dict[str, str | None]:
    return {p.id: p.assistant for p in config.pairings}


def test_a_people_entry_names_the_assistant_once_and_a_pairings_own_wins(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, pairings=ASSISTED), today=TODAY)
    assert assistants(config) == {"one": "a.assistant@contoso.com",
                                  "two": "other.assistant@contoso.com", "three": None}
    assert config.pairing("one") is not None
    assert config.assistants() == {"one": "a.assistant@contoso.com"}  # active pairings only


def test_an_assistant_who_is_the_mentor_is_a_problem_at_their_line(tmp_path: Path) -> None:
    pairings = ASSISTED.replace("assistant: other.assistant@contoso.com",
                                "assistant: B.Mentor@contoso.com")
    [problem] = problems_of(write(tmp_path, pairings=pairings))
    assert problem.startswith(f"{tmp_path / 'pairings.yaml'}:14:")
    assert "the assistant B.Mentor@contoso.com is the mentor of pairing 'two'" in problem


def test_a_people_entry_that_makes_the_mentor_an_assistant_is_a_problem_there(
        tmp_path: Path) -> None:
    pairings = ASSISTED.replace("assistant: a.assistant@contoso.com",
                                "assistant: a.mentor@contoso.com")
    [problem] = problems_of(write(tmp_path, pairings=pairings))
    assert problem.startswith(f"{tmp_path / 'pairings.yaml'}:3:")
    assert "a.mentor@contoso.com is the mentor of pairing 'one'" in problem


def test_mistakes_in_people_entries_are_each_located(tmp_path: Path) -> None:
    pairings = ASSISTED.replace(
        "pairings:\n",
        "  - email: a.exec@contoso.com\n"
        "  - email: c.exec@contoso.com\n"
        "    assistant: c.exec@contoso.com\n"
        "  - email: not-an-address\n"
        "    asistant: x@contoso.com\n"
        "pairings:\n", 1)
    found = problems_of(write(tmp_path, pairings=pairings))
    file = tmp_path / "pairings.yaml"
    assert any(p.startswith(f"{file}:4:") and "named twice in people" in p for p in found)
    assert any(p.startswith(f"{file}:5:") and "cannot be their own assistant" in p
               for p in found)
    assert any(p.startswith(f"{file}:7:") and "email" in p for p in found)
    assert any(p.startswith(f"{file}:8:") and "unknown key 'asistant'" in p
               and "did you mean 'assistant'?" in p for p in found)


def test_people_must_be_a_list(tmp_path: Path) -> None:
    pairings = "people: a.exec@contoso.com\n" + ASSISTED.split("\n", 3)[3]
    [problem] = problems_of(write(tmp_path, pairings=pairings))
    assert problem.startswith(f"{tmp_path / 'pairings.yaml'}:1:")
    assert "people: expected a list" in problem


def test_a_csv_column_names_the_assistant(tmp_path: Path) -> None:
    write(tmp_path, pairings=None)
    (tmp_path / "pairings.csv").write_text(
        "id,mentor,mentee,start,Assistant\n"
        "one,a.mentor@contoso.com,a.exec@contoso.com,2027-01-11,a.assistant@contoso.com\n"
        "two,b.mentor@contoso.com,b.exec@contoso.com,2027-01-11,\n"
        "three,c.mentor@contoso.com,c.exec@contoso.com,2027-01-11,c.exec@contoso.com\n",
        encoding="utf-8")
    [problem] = problems_of(tmp_path)
    assert problem.startswith(f"{tmp_path / 'pairings.csv'}:4:5:")
    assert "is the mentee of pairing 'three'" in problem
    text = (tmp_path / "pairings.csv").read_text(encoding="utf-8")
    (tmp_path / "pairings.csv").write_text(text.rsplit("three,", 1)[0], encoding="utf-8")
    config = load_config(tmp_path, today=TODAY)
    assert assistants(config) == {"one": "a.assistant@contoso.com", "two": None}


def test_without_an_assistant_the_program_is_as_before(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, program=PROGRAM), today=TODAY)
    assert all(p.assistant is None for p in config.pairings)
    assert config.assistants() == {}
    assert all(p.deciders() == {p.mentor.lower(), p.mentee.lower()} for p in config.pairings)
