"""The health rules as a pure function of the program's items: the latest answer counts,
empty notes are missing, other programs and paused pairs are left out."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.test_config_loader import PAIRINGS, PROGRAM, TODAY, write
from worker.config import Config, load_config
from worker.core.notes_list import FIT_NO, FIT_UNSURE, FIT_YES, HELD, SCHEDULED
from worker.plan.health import pair_health

NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def config(tmp_path: Path) -> Config:
    pairings = PAIRINGS.replace("    start: 2027-01-11\n  - id: two",
                                "    start: 2027-01-11\n  - id: two\n    status: paused", 1)
    return load_config(write(tmp_path, PROGRAM, pairings), today=TODAY)


def item(number: int, pairing: str = "one", program: str = "pilot-2027",
         **fields: Any) -> tuple[str, dict[str, Any]]:
    key = f"{program}/{pairing}/{number}"
    values = {"SessionKey": key, "SessionStatus": HELD, "Notes": "<p>We met.</p>",
              "SessionEnd": "2027-02-01T10:00:00Z", "MentorName": "Ana Mentor",
              "MenteeName": "Eve Exec", **fields}
    return key, values


def rules_of(config: Config, *items: tuple[str, dict[str, Any]]) -> dict[str, list[str]]:
    found = pair_health(config, {}, dict(items), {}, NOW)
    return {p.pairing_id: [f.rule for f in p.findings] for p in found}


def test_a_healthy_pair_is_not_listed(config: Config) -> None:
    assert rules_of(config, item(1, MentorPulse=4, MenteeFit=FIT_YES)) == {}


def test_the_latest_pulse_counts(config: Config) -> None:
    assert rules_of(config, item(1, MenteePulse=2), item(2, MenteePulse=4)) == {}
    assert rules_of(config, item(1, MenteePulse=4), item(2, MenteePulse=2)) == {
        "one": ["low-pulse"]}


def test_a_pulse_that_is_no_score_is_ignored(config: Config) -> None:
    assert rules_of(config, item(1, MentorPulse="great"), item(2, MentorPulse=0)) == {}


def test_only_a_no_is_not_a_good_fit_and_a_later_yes_clears_it(config: Config) -> None:
    assert rules_of(config, item(1, MentorFit=FIT_UNSURE)) == {}
    assert rules_of(config, item(1, MentorFit=FIT_NO)) == {"one": ["not-a-good-fit"]}
    assert rules_of(config, item(1, MentorFit=FIT_NO), item(2, MentorFit=FIT_YES)) == {}


def test_empty_rich_text_is_missing_notes_once_the_days_have_passed(config: Config) -> None:
    late = item(1, Notes="<div><p>&#8203;</p></div>")
    assert rules_of(config, late) == {"one": ["notes-missing"]}
    recent = item(1, Notes="", SessionEnd="2027-02-27T10:00:00Z")
    assert rules_of(config, recent) == {}
    upcoming = item(1, Notes="", SessionStatus=SCHEDULED)
    assert rules_of(config, upcoming) == {}


def test_other_programs_and_paused_pairs_are_left_out(config: Config) -> None:
    assert rules_of(config, item(1, program="other-2027", MentorFit=FIT_NO),
                    item(1, pairing="two", MentorFit=FIT_NO)) == {}


def test_the_reason_names_people_and_the_word_they_gave(config: Config) -> None:
    [pair] = pair_health(config, {}, dict([item(3, MenteePulse=1, MenteePulseWord="too  fast")]),
                         {}, NOW)
    assert (pair.mentor, pair.mentee) == ("Ana Mentor", "Eve Exec")
    [finding] = pair.findings
    assert finding.reason == "session 3: Eve Exec rated it 1 of 5 (too fast)"
    assert "Eve Exec" in finding.action


def test_without_items_the_item_rules_are_not_checked(config: Config) -> None:
    assert pair_health(config, {}, None, {}, NOW) == ()
