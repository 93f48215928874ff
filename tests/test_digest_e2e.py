"""Program health and the weekly digest, end to end through the sandbox tenant.

A scripted 30-pair program (the fault harness's generated tenant) run every afternoon for two
weeks while six pairs go wrong in six ways: an executive who never answers, a mentor who
declines every time (the reschedule limit is 0 here, so the first decline reaches it), a
mentor who never posts notes, a low pulse, a "No" to "is this a good fit?", and an executive
removed from the directory. Everyone else answers, meets and posts notes. The digest goes out
on Mondays to the program team, by mail from the program mailbox.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import jsonschema
import pytest

from benchmarks.faults.program import FIRST_RUN, ORGANIZER, PROGRAM_ID, tenant, write_config
from graph.clock import ManualClock
from graph.sandbox.cli import WORKER_APP_ROLES
from graph.sandbox.faults import FaultRule
from graph.sandbox.fixtures import make_user
from graph.sandbox.mail import received, sent_items
from graph.sandbox.tenant_app import Sandbox
from tests.conftest import CountingAdapter, KillAfterWrites, Killed, wrap_session
from tests.records_helpers import person_edits
from worker.cli.demo import DemoWorld, build_world, init_notes_list, write_notes
from worker.cli.report import read_report
from worker.config import HealthRules, load_config
from worker.core.notes_list import FIT_NO
from worker.core.paths import default_templates_dir
from worker.observe.events import read_events
from worker.observe.notes_list import read_program_items, require_list
from worker.observe.state import NO_SUCH_USER
from worker.plan.digest import items_by_session
from worker.plan.health import pair_health
from worker.run.job import execute

ADMIN = "programs@faults.contoso.com"
# The pulse on too: its answers are what two of the rules read.
DIGEST = f"pulse:\n  ask_mentee: true\ndigest:\n  admins: [{ADMIN}]\n  weekday: monday\n"
NEVER_ANSWERS = "pair-0001"  # its mentee
DECLINES = "pair-0002"  # its mentor
NO_NOTES = "pair-0003"  # its mentor
LOW_PULSE = "pair-0004"  # its mentee rates session 1 a 2
NOT_A_FIT = "pair-0005"  # its mentor says "No"
LEFT = "pair-0006"  # its mentee leaves the company
UNHEALTHY = {NEVER_ANSWERS: "has not answered the invitation",
             DECLINES: "after 0 moves",
             NO_NOTES: "no notes after",
             LOW_PULSE: "rated it 2 of 5",
             NOT_A_FIT: 'answered "No"',
             LEFT: "is no longer in the directory"}


def _config_dir(tmp: Path, matched: list[tuple[str, str]], extra: str) -> Path:
    directory = write_config(tmp / "config", matched)
    program = directory / "program.yaml"
    program.write_text(program.read_text(encoding="utf-8") + "max_reschedules: 0\n" + extra,
                       encoding="utf-8")
    return directory


def deploy(tmp: Path, extra: str = DIGEST, roles: tuple[str, ...] | None = None) -> DemoWorld:
    clock = ManualClock(FIRST_RUN)  # Mon 1 Mar 2027, 14:00 UTC
    state, matched = tenant(30)
    state.directory.add_user(make_user(ADMIN, "Program Team", title="Programs",
                                       zone_name="GMT Standard Time", country="GB"))
    for user in state.directory.users.values():
        user.behaviour.notes = "post"  # everyone posts notes the day after a session
        user.behaviour.notes_after_hours = 20
    config = load_config(_config_dir(tmp, matched, extra), today=FIRST_RUN.date(),
                         templates_dir=default_templates_dir())
    pairs = {p.id: p for p in config.pairings}
    directory = state.directory
    directory.get(pairs[NEVER_ANSWERS].mentee).behaviour.kind = "never_answer"
    decliner = directory.get(pairs[DECLINES].mentor).behaviour
    decliner.kind, decliner.weekdays = "decline_days", list(range(7))
    directory.get(pairs[NO_NOTES].mentor).behaviour.notes = "none"
    sandbox = Sandbox.create(clock=clock, fixture=state)
    world = build_world(config, sandbox, clock, roles=roles)
    world.client.session.trust_env = False
    init_notes_list(world)
    return world


def digests(world: DemoWorld) -> list[dict[str, Any]]:
    return [m for m in received(world.sandbox, ADMIN) if "needing attention" in m["subject"]]


def text_of(message: dict[str, Any]) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", message["body"]["content"])).split())


def run_days(world: DemoWorld, days: int, each_day: Any = None) -> None:
    for _ in range(days):
        world.clock.advance(timedelta(days=1))
        if each_day is not None:
            each_day(world)
        world.run()


def go_wrong(world: DemoWorld) -> None:
    """Day 5 (Sat 6 Mar): session 1 was held for everyone who meets; three pairs go wrong."""
    pairs = {p.id: p for p in world.config.pairings}
    person_edits(world, f"{PROGRAM_ID}/{LOW_PULSE}/1",
                 {"MenteePulse": 2, "MenteePulseWord": "<b>slow</b>"}, pairs[LOW_PULSE].mentee)
    person_edits(world, f"{PROGRAM_ID}/{NOT_A_FIT}/1", {"MentorFit": FIT_NO},
                 pairs[NOT_A_FIT].mentor)
    world.sandbox.set_person(pairs[LEFT].mentee, present=False)


@pytest.fixture(scope="module")
def two_weeks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoWorld]:
    """The program from its first run (Mon 1 Mar) to Mon 15 Mar, one run a day at 14:00."""
    world = deploy(tmp_path_factory.mktemp("digest"))
    world.run()

    def script(w: DemoWorld) -> None:
        write_notes(w)
        if w.clock.now().date() == (FIRST_RUN + timedelta(days=5)).date():
            go_wrong(w)

    run_days(world, 14, script)
    yield world


def test_the_digest_goes_out_once_each_monday_from_the_program_mailbox(
    two_weeks: DemoWorld,
) -> None:
    # Fifteen runs over three periods (1, 8 and 15 March): three digests, one a period.
    found = digests(two_weeks)
    assert [m["sentDateTime"][:10] for m in found] == ["2027-03-01", "2027-03-08",
                                                        "2027-03-15"]
    assert all(m["from"]["emailAddress"]["address"] == ORGANIZER for m in found)
    assert len([m for m in sent_items(two_weeks.sandbox, ORGANIZER)
                if "needing attention" in m["subject"]]) == 3


def test_the_digest_lists_every_unhealthy_pair_with_its_reason_and_no_healthy_one(
    two_weeks: DemoWorld,
) -> None:
    latest = digests(two_weeks)[-1]
    text = text_of(latest)
    pairs = {p.id: p for p in two_weeks.config.pairings}
    listed = set(re.findall(r"pair-\d{4}", text))
    assert listed == set(UNHEALTHY), text
    for pairing_id, reason in UNHEALTHY.items():
        row = text.split(pairing_id, 1)[1].split("pair-", 1)[0]
        assert reason in row, (pairing_id, row)
    assert "6 pairs needing attention" in latest["subject"]
    # Names, not addresses; what a person typed is escaped, never markup in the mail.
    assert "Mentee 0" in text or "Mentor 0" in text
    assert "<b>slow</b>" in unescape(re.sub(r"<(?!/?b>)[^>]+>", "", latest["body"]["content"]))
    assert "&lt;b&gt;slow&lt;/b&gt;" in latest["body"]["content"]
    assert pairs[LEFT].mentee in text


def test_a_second_run_in_the_same_period_sends_nothing_and_reads_no_items(
    two_weeks: DemoWorld,
) -> None:
    world = two_weeks
    plan, _ = execute(world.client, world.config, world.clock, world.templates,
                            apply=False)
    assert not [a for a in plan.actions if a.kind == "send-digest"]
    assert "send weekly digest" not in plan.render_text()


def test_a_run_killed_between_send_and_record_sends_the_digest_at_most_twice(
    tmp_path: Path,
) -> None:
    world = deploy(tmp_path)

    class KillAfterSendMail(KillAfterWrites):
        def send(self, request: Any, **kwargs: Any) -> Any:  # type: ignore[override]
            response = self.inner.send(request, **kwargs)
            if self.kill_after and (request.url or "").lower().endswith("/sendmail"):
                raise Killed("killed right after the digest was sent")
            return response

    killer = wrap_session(world.client.session, lambda inner: KillAfterSendMail(inner, 1))
    with pytest.raises(Killed):
        world.run()
    assert len(digests(world)) == 1
    killer.kill_after = 0  # the next container starts clean
    plan, _ = execute(world.client, world.config, world.clock, world.templates, apply=False)
    [again] = [a for a in plan.actions if a.kind == "send-digest"]
    assert "(again: an earlier run may have sent it)" in again.describe()
    world.run()
    world.run()
    assert len(digests(world)) == 2  # the one duplicate of the crash, no more
    world.clock.advance(timedelta(days=7))
    world.run()
    world.run()
    assert len(digests(world)) == 3  # the next period's, once


def test_the_plan_shows_the_digest_with_its_period_admins_and_pairs(tmp_path: Path) -> None:
    world = deploy(tmp_path)
    plan, _ = execute(world.client, world.config, world.clock, world.templates, apply=False)
    assert ("> send weekly digest for period Mon 01 Mar 2027 - Sun 07 Mar 2027 to 1 admin: "
            "0 pairs needing attention") in plan.render_text()
    [action] = [a for a in plan.to_json()["actions"] if a["kind"] == "send-digest"]
    assert action["resource"] == "mail" and action["recipients"] == [ADMIN]
    assert action["sender"] == ORGANIZER and action["key"].startswith("digest/")


def test_without_a_digest_section_nothing_is_sent_and_no_item_is_read(tmp_path: Path) -> None:
    world = deploy(tmp_path, extra="")
    world.run()
    counting = wrap_session(world.client.session, CountingAdapter)
    world.clock.advance(timedelta(days=7))
    world.run()
    assert digests(world) == []
    assert not [c for c in counting.calls if "sendmail" in c[1].lower()]
    assert not [c for c in counting.calls
                if "/items" in c[1] and "ProgramId" in unquote(c[1])], counting.calls


def test_a_quiet_run_after_the_digest_reads_no_items_and_writes_nothing(
    tmp_path: Path,
) -> None:
    world = deploy(tmp_path)
    world.run()
    world.run()
    counting = wrap_session(world.client.session, CountingAdapter)
    summary = world.run()
    assert counting.writes() == [] and summary.writes == 0
    assert not [c for c in counting.calls if "/items" in c[1]], counting.calls


def test_without_mail_send_the_digest_fails_as_a_missing_permission(tmp_path: Path) -> None:
    world = deploy(tmp_path, roles=WORKER_APP_ROLES)
    summary = world.run()
    assert digests(world) == []
    failed = [o for o in summary.outcomes if o.action.kind == "send-digest"]
    assert failed and "permission" in (failed[0].reason or "").lower(), failed


# ---------------------------------------------------------------------------------------------
# Each rule can be switched off: the rules over what the tenant holds after the two weeks


def health_with(world: DemoWorld, **rules: Any) -> dict[str, set[str]]:
    """pairing -> the rules that find it, with `rules` changed in program.yaml's `health`."""
    program = world.config.program.model_copy(update={"health": HealthRules(**rules)})
    config = world.config.model_copy(update={"program": program})
    sessions, _ = read_events(world.client, config)
    settings = config.program.sharepoint
    assert settings is not None
    notes_list = require_list(world.client, settings)
    items = items_by_session(read_program_items(world.client, notes_list, PROGRAM_ID))
    gone = {p.mentee.lower(): NO_SUCH_USER for p in config.pairings if p.id == LEFT}
    found = pair_health(config, sessions, items, gone, world.clock.now())
    return {pair.pairing_id: {f.rule for f in pair.findings} for pair in found}


def test_with_the_default_rules_each_unhealthy_pair_is_found_by_its_own_rule(
    two_weeks: DemoWorld,
) -> None:
    assert health_with(two_weeks) == {
        NEVER_ANSWERS: {"unanswered-invite"}, DECLINES: {"reschedule-limit"},
        NO_NOTES: {"notes-missing"}, LOW_PULSE: {"low-pulse"},
        NOT_A_FIT: {"not-a-good-fit"}, LEFT: {"person-left"}}


@pytest.mark.parametrize(("switch", "pairing_id"), [
    ({"unanswered_invite_days": None}, NEVER_ANSWERS),
    ({"reschedule_limit": False}, DECLINES),
    ({"notes_missing_days": None}, NO_NOTES),
    ({"pulse_below": None}, LOW_PULSE),
    ({"not_a_good_fit": False}, NOT_A_FIT),
    ({"person_left": False}, LEFT),
])
def test_a_rule_switched_off_leaves_its_pair_out_and_every_other_in(
    two_weeks: DemoWorld, switch: dict[str, Any], pairing_id: str,
) -> None:
    found = health_with(two_weeks, **switch)
    assert set(found) == set(UNHEALTHY) - {pairing_id}


def test_thresholds_move_the_line(two_weeks: DemoWorld) -> None:
    # Notes 60 days late are not late yet; a pulse of 2 is not below 2.
    found = health_with(two_weeks, notes_missing_days=60, pulse_below=2)
    assert NO_NOTES not in found and LOW_PULSE not in found


def test_the_report_names_the_low_pulse_and_the_no_fit_as_the_digest_does(
    two_weeks: DemoWorld,
) -> None:
    report = read_report(two_weeks.client, two_weeks.config, two_weeks.clock.now())
    reasons = {p.pairing_id: " ".join(p.reasons) for p in report.pairs_attention}
    assert "rated it 2 of 5" in reasons[LOW_PULSE]
    assert 'answered "No" to "is this a good fit?"' in reasons[NOT_A_FIT]


def test_the_digest_card_goes_to_the_program_channel_once_a_period(tmp_path: Path) -> None:
    from graph.sandbox.teams import TeamsStore

    world = deploy(tmp_path, extra=DIGEST + "  mail: false\n  teams_card: true\n")
    store: TeamsStore = world.sandbox.state.teams
    hook = store.create_webhook()
    url = f"https://prod-00.westeurope.logic.azure.com/_sandbox/webhooks/{hook}"
    schema = json.loads((default_templates_dir() / "teams" / "adaptive-card.schema.v1.4."
                         "subset.json").read_text(encoding="utf-8"))
    for _ in range(8):  # Mon 1 Mar to Mon 8 Mar: two periods
        execute(world.client, world.config, world.clock, world.templates, apply=True,
                webhook_url=url)
        world.clock.advance(timedelta(days=1))
    cards = [p["message"]["attachments"][0]["content"] for p in store.webhook_posts(hook)]
    digests_posted = [c for c in cards if "needing attention" in c["body"][0]["text"]]
    assert len(digests_posted) == 2
    for card in digests_posted:
        jsonschema.Draft6Validator(schema).validate(card)
    assert digests(world) == []  # no mail asked for


def test_a_lost_answer_to_the_send_gives_at_most_one_duplicate(tmp_path: Path) -> None:
    world = deploy(tmp_path)
    world.sandbox.faults.add(FaultRule(kind="lost", method="POST", path="/sendMail$",
                                       count=1))
    summary = world.run()
    [deferred] = [o for o in summary.outcomes if o.action.kind == "send-digest"]
    assert deferred.status.value == "deferred" and "may have gone out" in deferred.reason
    assert len(digests(world)) == 1  # Exchange took it; the worker never heard
    world.run()
    world.run()
    assert len(digests(world)) == 2


def test_a_failed_read_of_the_items_holds_the_digest_for_the_next_run(tmp_path: Path) -> None:
    world = deploy(tmp_path)
    world.run()
    run_days(world, 6)  # the items are up to date: Monday's run reads only the digest's
    world.clock.advance(timedelta(days=1))
    world.sandbox.faults.add(FaultRule(kind="503", method="GET", path="/items$",
                                       service="sharepoint"))
    summary = world.run()
    assert len(digests(world)) == 1  # the first period's only
    assert any("digest of Mon 08 Mar 2027 - Sun 14 Mar 2027 waits" in p.reason
               for p in summary.plan.problems), summary.plan.problems
    world.sandbox.faults.clear()
    world.run()
    assert len(digests(world)) == 2
