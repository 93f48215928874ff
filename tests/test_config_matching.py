"""The `matching:` section of program.yaml (match suggestions): off unless present, its
defaults, and its mistakes reported with file and line."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from tests.conftest import EXAMPLE_CONFIG
from worker.config import ConfigError, load_config

TODAY = date(2027, 1, 4)


def config_with(tmp_path: Path, section: str, *, multiple: bool = True) -> Path:
    shutil.copy(EXAMPLE_CONFIG / "pairings.yaml", tmp_path / "pairings.yaml")
    text = (EXAMPLE_CONFIG / "program.yaml").read_text(encoding="utf-8")
    if not multiple:
        text = text.replace("allow_mentor_multiple_mentees: true",
                            "allow_mentor_multiple_mentees: false")
    (tmp_path / "program.yaml").write_text(text + "\n" + section, encoding="utf-8")
    return tmp_path


def problems(directory: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(directory, today=TODAY)
    return [str(problem) for problem in caught.value.problems]


def test_matching_is_off_in_the_example_program() -> None:
    assert load_config(EXAMPLE_CONFIG, today=TODAY).program.matching is None


def test_a_matching_section_takes_the_documented_defaults(tmp_path: Path) -> None:
    directory = config_with(tmp_path, "matching:\n  executives_group: execs@contoso.com\n"
                            "  mentors_group: 7b7be3ab-d2b3-441c-8111-2e89b8493fff\n")
    matching = load_config(directory, today=TODAY).program.matching
    assert matching is not None
    assert (matching.max_mentees_per_mentor, matching.min_overlap_hours,
            matching.prefer_other_department, matching.history_programs) == (1, 2, True, None)


def test_several_mentees_a_mentor_need_the_program_to_allow_them(tmp_path: Path) -> None:
    directory = config_with(tmp_path, "matching:\n  executives_group: execs@contoso.com\n"
                            "  mentors_group: mentors@contoso.com\n"
                            "  max_mentees_per_mentor: 2\n", multiple=False)
    found = problems(directory)
    assert any("program.yaml" in p and "allow_mentor_multiple_mentees is false" in p
               for p in found)


def test_a_group_named_neither_by_id_nor_by_mail_is_refused_at_its_line(
        tmp_path: Path) -> None:
    directory = config_with(tmp_path, "matching:\n  executives_group: Executives\n"
                            "  mentors_group: mentors@contoso.com\n")
    lines = len((EXAMPLE_CONFIG / "program.yaml").read_text(encoding="utf-8").splitlines())
    found = problems(directory)
    assert any(f"program.yaml:{lines + 3}:" in p and "object id (a GUID) or its mail" in p
               for p in found), found


def test_history_programs_must_be_program_ids(tmp_path: Path) -> None:
    directory = config_with(tmp_path, "matching:\n  executives_group: execs@contoso.com\n"
                            "  mentors_group: mentors@contoso.com\n"
                            "  history_programs: [leadership-2026, 'Leadership 2025']\n")
    assert any("not a program id: 'Leadership 2025'" in p for p in problems(directory))
