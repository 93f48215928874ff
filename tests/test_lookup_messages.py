"""What the run says about a participant it could not read: only the directory's own "no such
user" is "does not exist"; a throttled, failing or refused lookup says so and is tried again."""

from __future__ import annotations

import pytest

from graph.sandbox.faults import FaultRule
from tests.test_run_e2e import make_world


@pytest.mark.parametrize(("kind", "says"), [("429", "429"), ("503", "503"), ("403", "403")])
def test_a_failed_lookup_is_never_does_not_exist(kind: str, says: str) -> None:
    world = make_world()
    pairing = world.config.pairing("ceo-ava")
    assert pairing is not None
    world.sandbox.faults.add(FaultRule(kind=kind, method="GET",  # type: ignore[arg-type]
                                       path="^/users$", retry_after=1))
    summary = world.run()
    reasons = [p.reason for p in summary.plan.problems if p.pairing_id == "ceo-ava"]
    assert reasons, summary.plan.problems
    assert all("does not exist" not in r for r in reasons), reasons
    assert any(f"could not look up ({says}" in r and "retrying next run" in r
               for r in reasons), reasons
    # Nothing of the pair is marked as needing attention for it.
    assert all("needs attention" not in r for r in reasons)


def test_a_person_the_directory_does_not_know_does_not_exist() -> None:
    world = make_world()
    pairing = world.config.pairing("ceo-ava")
    assert pairing is not None
    gone = world.sandbox.state.directory.get(pairing.mentor)
    del world.sandbox.state.directory.users[gone.id]
    summary = world.run()
    reasons = [p.reason for p in summary.plan.problems if p.pairing_id == "ceo-ava"]
    assert any("does not exist in the tenant" in r for r in reasons), reasons
