"""The `health` and `digest` sections of program.yaml: off unless written, every rule
switchable, and each inconsistent digest named with its file and line."""

from __future__ import annotations

from pathlib import Path

from tests.test_config_loader import PROGRAM, TODAY, problems_of, write
from worker.config import Weekday, load_config


def test_without_the_sections_there_is_no_digest_and_the_default_rules(tmp_path: Path) -> None:
    config = load_config(write(tmp_path), today=TODAY)
    assert config.program.digest is None and config.program.health is None
    rules = config.program.health_rules()
    assert (rules.unanswered_invite_days, rules.notes_missing_days, rules.pulse_below) == (4, 7, 3)
    assert rules.reschedule_limit and rules.not_a_good_fit and rules.person_left
    assert config.program.digest_sender() is None


def test_a_digest_mails_from_the_organizer_unless_a_mailbox_is_named(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, PROGRAM + "digest:\n  admins: [a@contoso.com]\n"),
                         today=TODAY)
    assert config.program.digest is not None
    assert config.program.digest_sender() == "mentoring@contoso.com"
    named = load_config(write(tmp_path, PROGRAM + "digest:\n  admins: [a@contoso.com]\n"
                              "  from_mailbox: programs@contoso.com\n  weekday: Mon\n"),
                        today=TODAY)
    assert named.program.digest_sender() == "programs@contoso.com"
    assert named.program.digest is not None and named.program.digest.weekday is Weekday.mon


def test_rules_switch_off_with_null_or_false(tmp_path: Path) -> None:
    program = PROGRAM + ("health:\n  unanswered_invite_days: null\n  notes_missing_days: null\n"
                         "  pulse_below: null\n  reschedule_limit: false\n"
                         "  not_a_good_fit: false\n  person_left: false\n")
    rules = load_config(write(tmp_path, program), today=TODAY).program.health_rules()
    assert rules.model_dump() == {
        "unanswered_invite_days": None, "notes_missing_days": None, "pulse_below": None,
        "reschedule_limit": False, "not_a_good_fit": False, "person_left": False}


def test_a_digest_that_goes_nowhere_is_named_with_its_line(tmp_path: Path) -> None:
    program = PROGRAM + "digest:\n  admins: [a@contoso.com]\n  mail: false\n"
    [problem] = problems_of(write(tmp_path, program))
    assert "program.yaml" in problem and "the digest goes nowhere" in problem


def test_a_digest_without_admins_or_with_a_bad_address_is_refused(tmp_path: Path) -> None:
    assert problems_of(write(tmp_path, PROGRAM + "digest:\n  admins: []\n"))
    assert problems_of(write(tmp_path, PROGRAM + "digest:\n  admins: [not-an-address]\n"))


def test_a_weekday_needs_whole_weeks(tmp_path: Path) -> None:
    program = PROGRAM + "digest:\n  admins: [a@contoso.com]\n  period_days: 10\n  weekday: friday\n"
    [problem] = problems_of(write(tmp_path, program))
    assert "multiple of 7" in problem


def test_mentors_as_organizers_need_a_digest_mailbox(tmp_path: Path) -> None:
    program = PROGRAM.replace("organizer: mentoring@contoso.com", "organizer: mentor")
    [problem] = problems_of(write(tmp_path, program + "digest:\n  admins: [a@contoso.com]\n"))
    assert "from_mailbox" in problem and "mentor" in problem
    # A card-only digest needs no mailbox.
    config = load_config(write(tmp_path, program + "digest:\n  admins: [a@contoso.com]\n"
                               "  mail: false\n  teams_card: true\n"), today=TODAY)
    assert config.program.digest_sender() is None
