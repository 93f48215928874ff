"""The fault harness's short version, as CI runs it (`python -m benchmarks.fault_harness all
--short` in numbers): 3 kill points over 6 pairs, one storm, people editing 6 pairs' items.

Each scenario runs once per module and the tests read its figures: a bound broken here is a
bound the full harness breaks too (with the seed and kill point it prints to reproduce it).
"""

from __future__ import annotations

import pytest

from benchmarks.fault_harness import main
from benchmarks.faults.edits import run_edits
from benchmarks.faults.kill import run_kills
from benchmarks.faults.report import Figure, at_most, render
from benchmarks.faults.storm import run_storms

# A storm seed under which the short storm loses a notification answer (and doubles that
# nudge), so the nudge bound is tested against lost answers rather than against none.
STORM_SEED = 4
# The storm in which the first nudge ledger writes are refused until at least one gives up
# (`ledger_refusals`: 4 in flight x the client's 6 attempts), whatever order requests take.
LEDGER_STORM_SEED = 7
LEDGER_REFUSALS = 4 * 6


def by_name(figures: list[Figure]) -> dict[str, Figure]:
    return {f.name: f for f in figures}


def broken(figures: dict[str, Figure], *names: str) -> list[str]:
    return [f"{n}: {figures[n].measured:g} > {figures[n].bound}" for n in names
            if not figures[n].ok]


@pytest.fixture(scope="module")
def kills() -> dict[str, Figure]:
    return by_name(run_kills(points=3, pairs=6, seed=1))


@pytest.fixture(scope="module")
def storm() -> dict[str, Figure]:
    return by_name(run_storms(storms=1, pairs=6, seed=STORM_SEED))


@pytest.fixture(scope="module")
def ledger_storm() -> dict[str, Figure]:
    return by_name(run_storms(storms=1, pairs=6, seed=LEDGER_STORM_SEED,
                              ledger_refusals=LEDGER_REFUSALS))


@pytest.fixture(scope="module")
def edits() -> dict[str, Figure]:
    return by_name(run_edits(pairs=6, seed=1))


def test_every_kill_lands_while_the_worker_process_is_writing(kills: dict[str, Figure]) -> None:
    assert kills["kill points"].measured == 3
    assert kills["kills that hit a running worker"].measured == 3
    assert kills["first run: writes"].measured > 50


def test_a_killed_run_run_again_leaves_every_session_and_item_exactly_once(
    kills: dict[str, Figure],
) -> None:
    assert broken(kills, "reruns that did not finish (exit != 0)", "duplicate events",
                  "missing events", "duplicate items", "missing items") == []


def test_a_killed_run_sends_at_most_one_duplicate_nudge_and_loses_none(
    kills: dict[str, Figure],
) -> None:
    assert broken(kills, "duplicate nudges, most in one kill", "duplicate nudges, all kills",
                  "missing nudges") == []


def test_a_storm_is_a_storm(storm: dict[str, Figure]) -> None:
    assert storm["429 answers (with Retry-After)"].measured > 20
    assert storm["503 answers (with Retry-After)"].measured > 0
    assert storm["answers lost after the write"].measured > 0


def test_after_a_storm_every_session_and_item_exists_exactly_once(
    storm: dict[str, Figure],
) -> None:
    assert broken(storm, "storms not finished by a clean run (exit != 0)", "duplicate events",
                  "missing events", "duplicate items", "missing items") == []


def test_duplicate_nudges_stay_within_the_notification_answers_lost(
    storm: dict[str, Figure],
) -> None:
    assert storm["of which notification answers"].measured >= 1
    assert broken(storm, "duplicate nudges (bound: lost notification answers)") == []


def test_a_ledger_write_the_mailbox_refuses_is_made_later_and_sends_nothing_twice(
    ledger_storm: dict[str, Figure],
) -> None:
    assert ledger_storm["nudges sent, ledger write refused then made later in the run"
                        ].measured >= 1
    assert ledger_storm["nudges sent, ledger write given up (the next run resends)"].measured == 0
    assert broken(ledger_storm, "duplicate nudges (bound: lost notification answers)") == []


def test_no_request_comes_before_the_retry_after_it_was_given(storm: dict[str, Figure]) -> None:
    assert broken(storm, "requests before their Retry-After") == []


def test_people_editing_during_runs_keep_every_word(edits: dict[str, Figure]) -> None:
    assert edits["412 answers (an edit between the worker's read and write)"].measured > 0
    assert broken(edits, "runs that did not finish after the people stopped",
                  "lost human text (columns not as last typed)", "items without the new length",
                  "duplicate items", "duplicate events") == []


def test_a_broken_bound_is_marked_and_names_how_to_reproduce_it() -> None:
    table = render([at_most("storm", "duplicate events", 2, 0, "fault seed 7"),
                    at_most("storm", "missing events", 0, 0)])
    assert "duplicate events" in table and " NO" in table and " yes" in table
    assert "broken: duplicate events: fault seed 7" in table


def test_the_command_refuses_sizes_below_one(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["kill", "--points", "0"])
    assert stopped.value.code == 2
    assert "kill points must be at least 1" in capsys.readouterr().err
