"""`mentoring suggest` on a directory of 100 executives and 150 mentors, through the sandbox.

The tenant is built here: six offices in six time zones, six departments, executives' and
mentors' job titles, the two Entra groups, ten executives already paired in the program's file,
and an earlier program's pairs in the notes list and in tagged events of the program mailbox.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from graph import calendar
from graph.clock import ManualClock
from graph.sandbox.cli import WORKER_APP_ROLES
from graph.sandbox.fixtures import make_user
from graph.sandbox.sharepoint import DEMO_HOSTNAME, DEMO_SITE_PATH, SharePointStore, app_identity
from graph.sandbox.state import TenantState
from graph.sandbox.tenant_app import Sandbox
from graph.sandbox.transport import sandbox_session
from tests.conftest import TEMPLATES, CountingAdapter, wrap_session
from tests.records_helpers import store, the_list
from worker.cli.demo import DemoWorld, build_world, init_notes_list
from worker.cli.main import main
from worker.cli.suggest import cmd_suggest
from worker.config import Config, load_config
from worker.core.properties import PROPERTY_ID

DOMAIN = "suggest.contoso.com"
ORGANIZER = f"mentoring@{DOMAIN}"
START = datetime(2027, 1, 4, 6, 0, tzinfo=UTC)
EXECUTIVES, MENTORS, ALREADY_PAIRED = 100, 150, 10
EXECUTIVES_GROUP = f"executives@{DOMAIN}"
MENTORS_GROUP_ID = "7b7be3ab-d2b3-441c-8111-2e89b8493fff"
OFFICES = (("London", "GMT Standard Time", "GB"),
           ("New York", "Eastern Standard Time", "US"),
           ("Chicago", "Central Standard Time", "US"),
           ("San Francisco", "Pacific Standard Time", "US"),
           ("Bangalore", "India Standard Time", "IN"),
           ("Singapore", "Singapore Standard Time", "SG"))
DEPARTMENTS = ("Finance", "Claims", "Underwriting", "Marketing", "Operations", "Technology")
EXECUTIVE_TITLES = ("Chief Operating Officer", "Senior Vice President, Claims",
                    "Vice President", "Director of Finance")
MENTOR_TITLES = ("Analyst", "Software Engineer", "Associate")
CLIENT_ID = "22222222-3333-4444-5555-666666666666"
SECRET = "suggest-s3cret"


def executive(n: int) -> str:
    return f"exec{n:03d}@{DOMAIN}"


def mentor(n: int) -> str:
    return f"mentor{n:03d}@{DOMAIN}"


def directory_tenant() -> TenantState:
    """The organisation: a program mailbox, 100 executives, 150 mentors, the two groups."""
    state = TenantState(tenant_id="5c1e7d2a-0f3b-4a6e-9d8c-1b2a3c4d5e6f", domains=[DOMAIN])
    state.sharepoint = SharePointStore.with_demo_site()
    state.directory.add_user(make_user(ORGANIZER, "Mentoring program", title="Program mailbox",
                                       zone_name="GMT Standard Time", country="GB"))
    people = [(executive(n), f"Executive {n:03d}", EXECUTIVE_TITLES[n % 4],
               DEPARTMENTS[n % 6], OFFICES[(n // 6) % 6]) for n in range(EXECUTIVES)]
    people += [(mentor(n), f"Mentor {n:03d}", MENTOR_TITLES[n % 3], DEPARTMENTS[(n // 2) % 6],
                OFFICES[n % 6]) for n in range(MENTORS)]
    for upn, name, title, department, (office, zone, country) in people:
        user = make_user(upn, name, title=title, zone_name=zone, country=country)
        user.department, user.officeLocation = department, office
        state.directory.add_user(user)
    state.directory.add_group("Executives", mail=EXECUTIVES_GROUP,
                              members=[executive(n) for n in range(EXECUTIVES)])
    state.directory.add_group("Reverse mentors", group_id=MENTORS_GROUP_ID,
                              members=[mentor(n) for n in range(MENTORS)])
    return state


def write_config(directory: Path, matching: str, pairs: int = ALREADY_PAIRED) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "program.yaml").write_text(
        "id: leadership-2027\n"
        "name: Leadership 2027\n"
        f"organizer: {ORGANIZER}\n"
        f"sharepoint: {{site: '{DEMO_HOSTNAME}:{DEMO_SITE_PATH}'}}\n"
        f"{matching}", encoding="utf-8")
    lines = ["pairings:"] + [
        f"  - {{id: current-{n:02d}, mentor: {mentor(n)}, mentee: {executive(n)}, "
        "start: 2027-01-11}" for n in range(pairs)]
    (directory / "pairings.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return directory


MATCHING = (f"matching:\n  executives_group: {EXECUTIVES_GROUP}\n"
            f"  mentors_group: {MENTORS_GROUP_ID}\n")
ROLES = (*WORKER_APP_ROLES, "GroupMember.Read.All")


def make_world(tmp_path: Path, matching: str = MATCHING,
               roles: tuple[str, ...] = ROLES) -> DemoWorld:
    clock = ManualClock(START)
    sandbox = Sandbox.create(clock=clock, fixture=directory_tenant())
    config = load_config(write_config(tmp_path / "config", matching), today=START.date())
    world = build_world(config, sandbox, clock, roles=roles, client_id=CLIENT_ID, secret=SECRET)
    init_notes_list(world)
    return world


def run_suggest(world: DemoWorld, fmt: str = "yaml",
                config: Config | None = None) -> tuple[int, str]:
    out = io.StringIO()
    code = cmd_suggest(world.client, config or world.config, world.clock, fmt=fmt,
                       out_file=None, start=None, out=out)
    return code, out.getvalue()


def suggested(text: str) -> list[dict[str, str]]:
    return list(yaml.safe_load(text)["pairings"])


def pair(entry: dict[str, str]) -> frozenset[str]:
    return frozenset((entry["mentor"], entry["mentee"]))


def add_earlier_program_items(world: DemoWorld, pairs: list[frozenset[str]]) -> None:
    """An earlier program's session items in the notes list, naming who was paired."""
    sp_list = the_list(world)
    for index, two in enumerate(pairs):
        one, other = sorted(two)
        mentee, mentor_ = (one, other) if one.startswith("exec") else (other, one)
        for number in (1, 2):
            store(world).insert_item(sp_list, {
                "Title": f"old {index}", "ProgramId": "leadership-2025",
                "PairingId": f"old-{index}", "SessionKey": f"leadership-2025/old-{index}/{number}",
                "MentorEmail": mentor_, "MenteeEmail": mentee, "SessionStatus": "Held",
            }, now=world.clock.now(), actor=app_identity("old-app"), validate=False)


def add_earlier_program_events(world: DemoWorld, pairs: list[frozenset[str]]) -> None:
    """An earlier program's tagged sessions in the program mailbox, booked through Graph."""
    first = START - timedelta(days=300)
    for index, two in enumerate(pairs):
        begin = first + timedelta(days=index)
        calendar.create_event(world.client, ORGANIZER, {
            "subject": "Reverse mentoring (2024)",
            "start": {"dateTime": begin.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
            "end": {"dateTime": (begin + timedelta(minutes=45)).strftime("%Y-%m-%dT%H:%M:%S"),
                    "timeZone": "UTC"},
            "attendees": [{"emailAddress": {"address": person}, "type": "required"}
                          for person in sorted(two)],
            "singleValueExtendedProperties": [
                {"id": PROPERTY_ID, "value": f"leadership-2024/old-{index}/1"}],
        })


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoWorld]:
    yield make_world(tmp_path_factory.mktemp("suggest"))


@pytest.fixture(scope="module")
def first_choice(world: DemoWorld) -> list[dict[str, str]]:
    """What suggest proposes before any history exists."""
    code, text = run_suggest(world)
    assert code == 0
    return suggested(text)


@pytest.fixture(scope="module")
def with_history(world: DemoWorld, first_choice: list[dict[str, str]]
                 ) -> tuple[list[frozenset[str]], list[frozenset[str]], str]:
    """Ten of the first choices paired in an earlier program's list items, ten others in its
    tagged events; then suggest again."""
    from_items = [pair(e) for e in first_choice[:10]]
    from_events = [pair(e) for e in first_choice[10:20]]
    add_earlier_program_items(world, from_items)
    add_earlier_program_events(world, from_events)
    code, text = run_suggest(world)
    assert code == 0
    return from_items, from_events, text


def test_every_executive_without_a_mentor_gets_one_with_reasons(
        first_choice: list[dict[str, str]]) -> None:
    mentees = [e["mentee"] for e in first_choice]
    assert sorted(mentees) == [executive(n) for n in range(ALREADY_PAIRED, EXECUTIVES)]
    assert all(e["status"] == "paused" for e in first_choice)


def test_executives_already_paired_in_the_current_pairings_are_skipped(
        first_choice: list[dict[str, str]]) -> None:
    mentees = {e["mentee"] for e in first_choice}
    assert not mentees & {executive(n) for n in range(ALREADY_PAIRED)}


def test_no_mentor_is_above_the_load_limit_counting_the_current_pairings(
        with_history: tuple[list[frozenset[str]], list[frozenset[str]], str]) -> None:
    load = Counter(e["mentor"] for e in suggested(with_history[2]))
    load.update(mentor(n) for n in range(ALREADY_PAIRED))
    assert max(load.values()) == 1


def test_no_pair_of_an_earlier_program_is_suggested_again_from_items_or_events(
        with_history: tuple[list[frozenset[str]], list[frozenset[str]], str]) -> None:
    from_items, from_events, text = with_history
    again = {pair(e) for e in suggested(text)}
    assert not again & set(from_items)
    assert not again & set(from_events)
    # The executives of those pairs still get a mentor: another one.
    assert len(again) == EXECUTIVES - ALREADY_PAIRED


def test_each_suggestion_carries_its_reasons_as_comments_on_its_lines(
        with_history: tuple[list[frozenset[str]], list[frozenset[str]], str]) -> None:
    text = with_history[2]
    id_lines = [line for line in text.splitlines() if line.startswith("  - id:")]
    assert len(id_lines) == EXECUTIVES - ALREADY_PAIRED
    assert all("# why: " in line and "h of working hours in common a day" in line
               for line in id_lines)
    assert any("other department" in line for line in id_lines)
    mentor_lines = [line for line in text.splitlines() if line.startswith("    mentor:")]
    assert all(" # Mentor " in line for line in mentor_lines)


def test_the_written_file_validates_alone_and_added_to_the_current_pairings(
        tmp_path: Path, world: DemoWorld,
        with_history: tuple[list[frozenset[str]], list[frozenset[str]], str]) -> None:
    text = with_history[2]
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(world.config.source.program or "", alone / "program.yaml")
    (alone / "pairings.yaml").write_text(text, encoding="utf-8")
    assert len(load_config(alone, today=START.date()).pairings) == EXECUTIVES - ALREADY_PAIRED

    merged = tmp_path / "merged"
    merged.mkdir()
    shutil.copy(alone / "program.yaml", merged / "program.yaml")
    current = Path(world.config.source.pairings or "").read_text(encoding="utf-8")
    entries = text.split("pairings:\n", 1)[1]
    (merged / "pairings.yaml").write_text(current + entries, encoding="utf-8")
    loaded = load_config(merged, today=START.date())
    assert len(loaded.pairings) == EXECUTIVES


def test_the_same_directory_and_history_give_the_same_file(
        world: DemoWorld,
        with_history: tuple[list[frozenset[str]], list[frozenset[str]], str]) -> None:
    assert run_suggest(world) == (0, with_history[2])


def test_suggest_writes_nothing_to_the_tenant_and_reads_in_few_requests(
        world: DemoWorld,
        with_history: tuple[list[frozenset[str]], list[frozenset[str]], str]) -> None:
    before = world.sandbox.dump_state()
    counter = wrap_session(world.client.session, CountingAdapter)
    try:
        assert run_suggest(world)[0] == 0
    finally:
        world.client.session.mount("https://", counter.inner)
    assert world.sandbox.dump_state() == before
    assert counter.writes() == []
    # Two groups (find, members), 240 schedules in calls of 20, the list, its items, one
    # listing of tagged events: nothing grows with executives x mentors.
    assert len(counter.calls) <= 2 * 2 + 12 + 2 + 1 + 2


def test_csv_has_a_reasons_column_and_loads_back_as_the_pairings(
        tmp_path: Path, world: DemoWorld) -> None:
    code, text = run_suggest(world, fmt="csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == EXECUTIVES - ALREADY_PAIRED
    assert all("h of working hours in common a day" in row["reasons"] for row in rows)
    directory = tmp_path / "csv"
    directory.mkdir()
    shutil.copy(world.config.source.program or "", directory / "program.yaml")
    (directory / "pairings.csv").write_text(text, encoding="utf-8")
    assert len(load_config(directory, today=START.date()).pairings) == len(rows)


def test_when_capacity_runs_out_the_unmatched_are_listed_with_the_reason(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    world = make_world(tmp_path)
    small = world.sandbox.state.directory.groups[MENTORS_GROUP_ID]
    small.members = small.members[:40]  # 10 of them mentor already: 30 free for 90
    code, text = run_suggest(world)
    assert code == 1
    assert len(suggested(text)) == 30
    comments = [line for line in text.splitlines() if line.startswith("#   exec")]
    assert len(comments) == 60
    assert all("already has 1 mentee(s)" in line or "no mentor shares" in line
               for line in comments)
    assert capsys.readouterr().err.count("unmatched: exec") == 60


def test_two_mentees_a_mentor_are_spread_before_anyone_takes_a_second(
        tmp_path: Path) -> None:
    world = make_world(tmp_path, MATCHING + "  max_mentees_per_mentor: 2\n")
    code, text = run_suggest(world)
    assert code == 0
    load = Counter(e["mentor"] for e in suggested(text))
    load.update(mentor(n) for n in range(ALREADY_PAIRED))
    assert max(load.values()) == 1  # 140 free mentors for 90 executives: one each


def test_a_group_that_does_not_exist_is_a_clear_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    world = make_world(tmp_path, MATCHING.replace(EXECUTIVES_GROUP, f"nobody@{DOMAIN}"))
    code, text = run_suggest(world)
    assert code == 2 and text == ""
    err = capsys.readouterr().err
    assert f"matching.executives_group: no group 'nobody@{DOMAIN}'" in err


def test_a_group_id_that_names_no_group_is_a_clear_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = "00000000-0000-0000-0000-000000000000"
    world = make_world(tmp_path, MATCHING.replace(MENTORS_GROUP_ID, missing))
    assert run_suggest(world)[0] == 2
    assert f"matching.mentors_group: no group '{missing}'" in capsys.readouterr().err


def test_without_group_member_read_the_error_names_the_permission(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    world = make_world(tmp_path, roles=WORKER_APP_ROLES)
    assert run_suggest(world)[0] == 2
    assert "GroupMember.Read.All" in capsys.readouterr().err


def deployed(world: DemoWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker's settings in the environment, as the container job has them."""
    for key in list(os.environ):
        if key.startswith("MENTORING_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("MENTORING_TENANT_ID", world.sandbox.state.tenant_id)
    monkeypatch.setenv("MENTORING_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("MENTORING_CLIENT_SECRET", SECRET)
    monkeypatch.setenv("MENTORING_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("MENTORING_TEMPLATES_DIR", str(TEMPLATES))


def test_the_command_writes_the_file_named_with_the_start_given(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    world = make_world(tmp_path)
    deployed(world, tmp_path, monkeypatch)
    target, out = tmp_path / "suggested.csv", io.StringIO()
    code = main(["--log-format", "text", "suggest", "--format", "csv", "--out", str(target),
                 "--start", "2027-02-01"], clock=world.clock,
                session=sandbox_session(world.sandbox), out=out)
    assert code == 0
    assert out.getvalue().startswith("90 suggestion(s) written to ")
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"))))
    assert len(rows) == 90 and {row["start"] for row in rows} == {"2027-02-01"}


def test_suggest_without_a_matching_section_exits_2_and_says_what_to_add(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    world = make_world(tmp_path, matching="")
    deployed(world, tmp_path, monkeypatch)
    code = main(["--log-format", "text", "suggest"], clock=world.clock,
                session=sandbox_session(world.sandbox), out=io.StringIO())
    assert code == 2
    err = capsys.readouterr().err
    assert "matching:" in err and "executives_group" in err and "mentors_group" in err


def test_with_few_mentors_each_takes_two_and_none_more(tmp_path: Path) -> None:
    world = make_world(tmp_path, MATCHING + "  max_mentees_per_mentor: 2\n")
    small = world.sandbox.state.directory.groups[MENTORS_GROUP_ID]
    small.members = small.members[:40]  # 30 free mentors, 10 with one mentee already
    code, text = run_suggest(world)
    assert code == 1  # 90 executives, room for 30 x 2 + 10 x 1
    load = Counter(e["mentor"] for e in suggested(text))
    load.update(mentor(n) for n in range(ALREADY_PAIRED))
    assert max(load.values()) == 2
    assert sum(load.values()) - ALREADY_PAIRED == len(suggested(text)) == 70


def test_history_programs_names_the_programs_whose_pairs_are_not_repeated(
        tmp_path: Path, first_choice: list[dict[str, str]]) -> None:
    world = make_world(tmp_path, MATCHING + "  history_programs: [leadership-2025]\n")
    from_items = [pair(e) for e in first_choice[:10]]
    from_events = [pair(e) for e in first_choice[10:20]]  # leadership-2024: not named
    add_earlier_program_items(world, from_items)
    add_earlier_program_events(world, from_events)
    again = {pair(e) for e in suggested(run_suggest(world)[1])}
    assert not again & set(from_items)
    assert again & set(from_events)


def test_an_ended_pairing_of_this_program_is_not_suggested_again(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    text = run_suggest(world)[1]
    first = suggested(text)[0]
    pairings = Path(world.config.source.pairings or "")
    pairings.write_text(pairings.read_text(encoding="utf-8") + (
        f"  - {{id: ended-one, mentor: {first['mentor']}, mentee: {first['mentee']}, "
        "start: 2027-01-11, status: ended}\n"), encoding="utf-8")
    config = load_config(pairings.parent, today=START.date())
    again = suggested(run_suggest(world, config=config)[1])
    assert first["mentee"] in {e["mentee"] for e in again}
    assert pair(first) not in {pair(e) for e in again}


def test_plan_names_the_matching_in_one_line_without_reading_the_groups(
        tmp_path: Path) -> None:
    from worker.run.job import execute

    world = make_world(tmp_path)
    counter = wrap_session(world.client.session, CountingAdapter)
    plan, _ = execute(world.client, world.config, world.clock, world.templates, apply=False)
    lines = [line for line in plan.render_text().splitlines() if "matching configured" in line]
    assert len(lines) == 1 and "run `mentoring suggest`" in lines[0]
    assert not [url for _, url, _ in counter.calls if "/groups" in url]


def test_a_guest_is_suggested_by_mail_and_a_nested_group_is_named_not_expanded(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    world = make_world(tmp_path)
    directory = world.sandbox.state.directory
    guest = make_user(f"guest_fabrikam.com#EXT#@{DOMAIN}", "Guest Executive",
                      title="Chief Executive Officer", zone_name="GMT Standard Time",
                      country="GB")
    guest.mail = "guest@fabrikam.com"
    directory.add_user(guest)
    nested = directory.add_group("Board", members=[])
    executives = next(g for g in directory.groups.values() if g.mail == EXECUTIVES_GROUP)
    executives.members += [guest.id, nested.id]
    code, text = run_suggest(world)
    assert code == 0
    assert "guest@fabrikam.com" in {e["mentee"] for e in suggested(text)}
    assert "group Board" in capsys.readouterr().err
