"""A scripted program for the report tests: the example program run every morning for seven
weeks in the sandbox while people do what the report must show.

- Elena Rossi (mentee of personal-zoe) declines every time: past the move limit, nothing held;
- Tom Becker (mentee of commercial-noah) never answers an invitation;
- an assistant moves cro-maya's second session ten days later: held, but off cadence;
- claims-lina is paused in the config on day 30;
- the mentors of ceo-ava and cfo-leo post notes the day after each held session, typed into
  the list item as a person does; cfo-leo's are shared with the program, ceo-ava's are not.
  Everyone else posts nothing.
- with `pulse=True` the program asks the session pulse, and the same two pairs answer it when
  they post their notes (`PULSE_ANSWERS`): ceo-ava finds its sessions useful and a good fit,
  cfo-leo's mentee finds them of little use and the pair not a good fit.
"""

from __future__ import annotations

import dataclasses
import shutil
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from graph.sandbox.calendar import end_of, start_of, store_of
from graph.sandbox.people import People
from tests.conftest import EXAMPLE_CONFIG
from tests.records_helpers import items, person_edits
from tests.test_run_e2e import make_world
from worker.cli.demo import DemoWorld
from worker.config import load_config
from worker.plan.items import count_of
from worker.plan.plan import TooMuchChange

PROGRAM = "leadership-2027"
ORGANIZER = "mentoring@contoso.com"
DAYS = 50
PAUSE_DAY = 30
PAUSED = "claims-lina"
DECLINER = "elena.rossi@contoso.com"  # personal-zoe's mentee
SILENT = "tom.becker@contoso.com"  # commercial-noah's mentee
MOVED_KEY = f"{PROGRAM}/cro-maya/2"
MOVED_BY = timedelta(days=10)
WRITERS = {"ceo-ava": False, "cfo-leo": True}  # pairing -> shares its notes
# Markup and a script in the notes: the report must show them as text, never run them.
NOTES = ("<p>We set up <b>Teams</b> &amp; search alerts together; next time: "
         "&lt;script&gt;alert(1)&lt;/script&gt; is how a page can run code. " + "More. " * 60
         + "</p>")


# pairing -> what its mentor and mentee type into each held session's item (the fit answers
# only on session 2, the end of the trust phase).
PULSE_ANSWERS: dict[str, dict[str, object]] = {
    "ceo-ava": {"MentorPulse": 4, "MentorPulseWord": "practical", "MenteePulse": 5,
                "MenteePulseWord": "eye-opener"},
    "cfo-leo": {"MentorPulse": 3, "MenteePulse": 1, "MenteePulseWord": "too basic"},
}
PULSE_FIT = {"ceo-ava": {"MentorFit": "Yes", "MenteeFit": "Yes"},
             "cfo-leo": {"MentorFit": "Not sure", "MenteeFit": "No"}}


@dataclass
class Scripted:
    world: DemoWorld
    config_dir: Path
    posted: set[str] = field(default_factory=set)  # session keys with notes
    shared: set[str] = field(default_factory=set)


def _pause(config_dir: Path, pairing_id: str) -> None:
    path = config_dir / "pairings.yaml"
    lines = path.read_text(encoding="utf-8").splitlines()
    at = lines.index(f"  - id: {pairing_id}")
    status = next(i for i in range(at, len(lines)) if lines[i].strip().startswith("status:"))
    lines[status] = "    status: paused"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def scripted_program(tmp: Path, *, pulse: bool = False) -> Scripted:
    config_dir = tmp / "config"
    shutil.copytree(EXAMPLE_CONFIG, config_dir)
    if pulse:
        program = config_dir / "program.yaml"
        program.write_text(program.read_text(encoding="utf-8") + "\npulse: {}\n",
                           encoding="utf-8")
    world = make_world(config_dir)
    directory = world.sandbox.state.directory
    decliner = directory.get(DECLINER)
    decliner.behaviour.kind, decliner.behaviour.weekdays = "decline_days", list(range(7))
    decliner.behaviour.delay_minutes = 30
    directory.get(SILENT).behaviour.kind = "never_answer"
    people = People(world.sandbox)
    script = Scripted(world, config_dir)
    moved = False
    for day in range(DAYS):
        if day == PAUSE_DAY:
            _pause(config_dir, PAUSED)
            script.world = world = dataclasses.replace(
                world, config=load_config(config_dir, today=world.clock.now().date()))
        try:
            world.run()
        except TooMuchChange:
            world.run(force=True)
        if not moved:
            moved = _move_once(world, people)
        for item in items(world):
            values = item.fields
            key = str(values["SessionKey"])
            shares = WRITERS.get(str(values["PairingId"]))
            if shares is None or values.get("SessionStatus") != "Held" or key in script.posted:
                continue
            person_edits(world, key, {"Notes": NOTES, "SharedWithProgram": shares},
                         upn=str(values["MentorEmail"]))
            if pulse:
                _answer_pulse(world, key, values)
            script.posted.add(key)
            if shares:
                script.shared.add(key)
        world.clock.advance(timedelta(days=1))
    assert moved, "the session to move was never booked"
    return script


def _answer_pulse(world: DemoWorld, key: str, values: dict[str, object]) -> None:
    """Each person types their own answers, as they would in the browser."""
    pairing_id = str(values["PairingId"])
    answers = dict(PULSE_ANSWERS[pairing_id])
    if count_of(values.get("SessionNumber")) == 2:
        answers.update(PULSE_FIT[pairing_id])
    for prefix in ("Mentor", "Mentee"):
        mine = {k: v for k, v in answers.items() if k.startswith(prefix)}
        person_edits(world, key, mine, upn=str(values[f"{prefix}Email"]))


def _move_once(world: DemoWorld, people: People) -> bool:
    """The assistant moves the session once it is booked and more than a week away."""
    owner = world.sandbox.state.directory.get(ORGANIZER)
    for event in store_of(world.sandbox).calendar(owner.id).values():
        tags = [p.get("value") for p in event.get("singleValueExtendedProperties") or []]
        if MOVED_KEY in tags and not event.get("isCancelled") \
                and start_of(event) > world.clock.now() + timedelta(days=7):
            people.move(ORGANIZER, event["id"], start_of(event) + MOVED_BY,
                        end_of(event) + MOVED_BY)
            return True
    return False
