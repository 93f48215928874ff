"""The loader reports every config problem at once, located by file, line and column."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from worker.config import ConfigError, load_config
from worker.core.phases import Phase

REPO = Path(__file__).resolve().parent.parent
TODAY = date(2027, 1, 4)

PROGRAM = """\
id: pilot-2027
name: Pilot
organizer: mentoring@contoso.com
earliest: "09:00"
latest: "17:00"
"""

PAIRINGS = """\
pairings:
  - id: one
    mentor: a.mentor@contoso.com
    mentee: a.exec@contoso.com
    start: 2027-01-11
  - id: two
    mentor: b.mentor@contoso.com
    mentee: b.exec@contoso.com
    start: 2027-01-11
"""


def write(directory: Path, program: str = PROGRAM, pairings: str | None = PAIRINGS) -> Path:
    (directory / "program.yaml").write_text(program, encoding="utf-8")
    if pairings is not None:
        (directory / "pairings.yaml").write_text(pairings, encoding="utf-8")
    return directory


def problems_of(directory: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(directory, today=TODAY)
    return [str(problem) for problem in caught.value.problems]


def test_example_config_loads_with_no_problems() -> None:
    config = load_config(REPO / "config", today=date(2026, 12, 1))
    assert config.program.id == "leadership-2027"
    assert len(config.active_pairings()) == 10
    assert config.warnings == ()
    arjun = config.pairing("underwriting-arjun")
    assert arjun is not None and arjun.tailoring is not None
    chloe = config.pairing("marketing-chloe")
    assert chloe is not None
    assert [s.topic for s in chloe.sessions(config.program)][1] == "Social Media and the Brand"


def test_a_config_with_five_mistakes_yields_five_located_messages(tmp_path: Path) -> None:
    program = PROGRAM.replace("organizer: mentoring@contoso.com", "organizer: mentoring-at-contoso")
    program += "cadence:\n  every_days: 90\n"
    pairings = PAIRINGS.replace("    mentor: b.mentor", "    mentr: b.mentor").replace(
        "start: 2027-01-11\n  - id: two", "start: 2027-13-45\n  - id: two"
    )
    pairings += "  - id: three\n    mentor: c@contoso.com\n    mentee: c@contoso.com\n"
    pairings += "    start: 2027-02-01\n"
    messages = problems_of(write(tmp_path, program, pairings))
    assert len(messages) == 5, messages
    program_file, pairings_file = str(tmp_path / "program.yaml"), str(tmp_path / "pairings.yaml")
    expected_prefixes = {
        f"{program_file}:3:12: organizer",
        f"{program_file}:7:15: every_days",
        f"{pairings_file}:5:12: start",
        f"{pairings_file}:7:5: unknown key 'mentr'",
        f"{pairings_file}:10:5: ",
    }
    for prefix in expected_prefixes:
        assert any(message.startswith(prefix) for message in messages), (prefix, messages)
    assert any("same person" in message for message in messages)


def test_an_unknown_key_names_the_closest_valid_one(tmp_path: Path) -> None:
    messages = problems_of(write(tmp_path, PAIRINGS and PROGRAM, PAIRINGS.replace(
        "    mentee: a.exec", "    mentte: a.exec")))
    assert any("unknown key 'mentte' (did you mean 'mentee'?)" in m for m in messages)
    assert not any("missing required key" in m for m in messages)


def test_a_duplicate_pairing_id_is_reported_where_it_repeats(tmp_path: Path) -> None:
    messages = problems_of(write(tmp_path, pairings=PAIRINGS.replace("id: two", "id: one")))
    assert messages == [f"{tmp_path / 'pairings.yaml'}:6:9: id: duplicate pairing id 'one' "
                        "(first used by pairing #1)"] or any(
        "duplicate pairing id 'one'" in m and ":6:" in m for m in messages)


def test_a_mentee_with_two_active_mentors_is_refused_unless_allowed(tmp_path: Path) -> None:
    pairings = PAIRINGS.replace("mentee: b.exec", "mentee: a.exec")
    messages = problems_of(write(tmp_path, pairings=pairings))
    assert any("a.exec@contoso.com is already a mentee" in m and ":8:" in m for m in messages)
    allowed = PROGRAM + "allow_mentee_multiple_mentors: true\n"
    config = load_config(write(tmp_path, allowed, pairings), today=TODAY)
    assert len(config.pairings) == 2


def test_a_person_cannot_mentor_and_be_mentored_at_once(tmp_path: Path) -> None:
    pairings = PAIRINGS.replace("mentor: b.mentor", "mentor: a.exec")
    messages = problems_of(write(tmp_path, pairings=pairings))
    assert any("is a mentee in active pairing 'one'" in m for m in messages)


def test_a_paused_pairing_does_not_conflict(tmp_path: Path) -> None:
    pairings = PAIRINGS.replace("mentee: b.exec", "mentee: a.exec") + "    status: paused\n"
    assert len(load_config(write(tmp_path, pairings=pairings), today=TODAY).pairings) == 2


def test_yaml_syntax_errors_are_located(tmp_path: Path) -> None:
    messages = problems_of(write(tmp_path, pairings="pairings:\n  - id: [one\n"))
    assert len(messages) == 1 and "YAML syntax error" in messages[0]
    assert messages[0].startswith(f"{tmp_path / 'pairings.yaml'}:3:")


def test_times_and_country_codes_are_not_mangled_by_yaml_1_1(tmp_path: Path) -> None:
    program = PROGRAM.replace('"09:00"', "9:30").replace('"17:00"', "17:00")
    program += "holidays:\n  countries: [NO, US]\n"
    config = load_config(write(tmp_path, program), today=TODAY)
    assert str(config.program.earliest) == "09:30:00"
    assert config.program.holidays.countries == ["NO", "US"]


def test_topic_order_must_be_a_permutation(tmp_path: Path) -> None:
    pairings = PAIRINGS + "    tailoring:\n      topic_order: [1, 1, 3, 4, 5, 6, 7]\n"
    messages = problems_of(write(tmp_path, pairings=pairings))
    assert any(":11:20: topic_order must list each topic number 1..7" in m for m in messages)


def test_stale_blackouts_and_old_starts_are_warnings_not_errors(tmp_path: Path) -> None:
    program = PROGRAM + "blackout:\n  - start: 2026-12-01\n    end: 2026-12-02\n  - 2027-05-01\n"
    pairings = PAIRINGS.replace("start: 2027-01-11\n  - id: two", "start: 2025-06-01\n  - id: two")
    config = load_config(write(tmp_path, program, pairings), today=TODAY)
    warnings = [str(w) for w in config.warnings]
    assert len(warnings) == 2
    assert any("blackout ended on 2026-12-02" in w for w in warnings)
    assert any("more than 365 days ago" in w and ":5:12:" in w for w in warnings)
    assert config.program.is_blackout(date(2027, 5, 1))


def test_future_starts_are_fine(tmp_path: Path) -> None:
    pairings = PAIRINGS.replace("2027-01-11", "2027-09-01")
    assert load_config(write(tmp_path, pairings=pairings), today=TODAY).warnings == ()


def test_a_missing_agenda_template_is_reported_at_its_reference(tmp_path: Path) -> None:
    program = PROGRAM + (
        "curriculum:\n"
        "  - topic: Only one\n"
        "    phase: trust\n"
        "    agenda: agendas/nope.html.j2\n"
    )
    messages = problems_of(write(tmp_path, program))
    assert messages == [f"{tmp_path / 'program.yaml'}:9:13: agenda template "
                        f"'agendas/nope.html.j2' not found (looked in {REPO / 'templates'})"]


def test_csv_pairings_load_the_same_as_yaml(tmp_path: Path) -> None:
    from_yaml = load_config(REPO / "config", today=TODAY)
    shutil.copy(REPO / "config" / "program.yaml", tmp_path / "program.yaml")
    shutil.copy(REPO / "config" / "pairings.example.csv", tmp_path / "pairings.csv")
    from_csv = load_config(tmp_path, today=TODAY)
    assert from_csv.pairings == from_yaml.pairings
    assert from_csv.program == from_yaml.program


def test_csv_problems_carry_row_and_column(tmp_path: Path) -> None:
    write(tmp_path, pairings=None)
    (tmp_path / "pairings.csv").write_text(
        "id,mentor,mentee,start,staus\n"
        "one,a@contoso.com,b@contoso.com,2027-01-11,\n"
        "two,not-an-email,c@contoso.com,2027-01-11,\n",
        encoding="utf-8",
    )
    messages = problems_of(tmp_path)
    csv_file = tmp_path / "pairings.csv"
    assert f"{csv_file}:1:5: unknown column 'staus' (did you mean 'status'?)" in messages
    bad_email = f"{csv_file}:3:2: mentor: value is not a valid email"
    assert any(m.startswith(bad_email) for m in messages)


def _european(text: str) -> str:
    """The example export as Excel saves it where the decimal separator is a comma:
    semicolons between columns (lists then use commas), headers as people type them."""
    lines = text.splitlines()
    header = ";".join(name.replace("_", " ").title() for name in lines[0].split(","))
    rows = []
    for line in lines[1:]:
        cells = [cell.replace(";", ",") for cell in line.split(",")]
        cells[4] = cells[4].capitalize()  # "Active"
        rows.append(";".join(cells))
    return "\r\n".join([header, *rows]) + "\r\n"


@pytest.mark.parametrize("variant", ["semicolons", "tabs", "sep line"])
def test_csv_as_spreadsheets_save_it_loads_the_same(tmp_path: Path, variant: str) -> None:
    from_yaml = load_config(REPO / "config", today=TODAY)
    shutil.copy(REPO / "config" / "program.yaml", tmp_path / "program.yaml")
    text = _european((REPO / "config" / "pairings.example.csv").read_text(encoding="utf-8"))
    assert text.startswith("Id;Mentor;Mentee;Start;Status;Preferred Weekdays;")
    if variant == "tabs":
        text = text.replace(";", "\t")
    if variant == "sep line":
        text = "sep=;\r\n" + text
    (tmp_path / "pairings.csv").write_text(text, encoding="utf-8")
    from_csv = load_config(tmp_path, today=TODAY)
    assert from_csv.pairings == from_yaml.pairings


def test_enumerated_values_are_read_in_any_case(tmp_path: Path) -> None:
    write(tmp_path, pairings=None)
    (tmp_path / "pairings.csv").write_text(
        "ID,Mentor,Mentee,Start,Status,Preferred_Weekdays\n"
        "one,a@contoso.com,b@contoso.com,2027-01-11,PAUSED,Mon;TUESDAY;wed\n"
        "two,c@contoso.com,d@contoso.com,2027-01-11,Ended,\n", encoding="utf-8")
    config = load_config(tmp_path, today=TODAY)
    one, two = config.pairings
    assert (one.status, two.status) == ("paused", "ended")
    assert one.tailoring is not None and one.tailoring.preferred_weekdays is not None
    assert [d.value for d in one.tailoring.preferred_weekdays] == ["mon", "tue", "wed"]


def test_a_date_in_another_form_gets_the_form_and_the_row(tmp_path: Path) -> None:
    write(tmp_path, pairings=None)
    (tmp_path / "pairings.csv").write_text(
        "id;mentor;mentee;start\n"
        "one;a@contoso.com;b@contoso.com;2027-01-11\n"
        "two;c@contoso.com;d@contoso.com;11/01/2027\n", encoding="utf-8")
    messages = problems_of(tmp_path)
    assert len(messages) == 1
    assert messages[0].startswith(f"{tmp_path / 'pairings.csv'}:3:4: start: ")
    assert "'11/01/2027'" in messages[0] and "YYYY-MM-DD" in messages[0]
    # The same hint in YAML.
    write(tmp_path, pairings=PAIRINGS.replace("start: 2027-01-11", "start: 11.01.2027", 1))
    (tmp_path / "pairings.csv").unlink()
    yaml_messages = problems_of(tmp_path)
    assert len(yaml_messages) == 1 and "YYYY-MM-DD" in yaml_messages[0]
    assert yaml_messages[0].startswith(f"{tmp_path / 'pairings.yaml'}:5:")


def test_an_unknown_value_in_any_case_is_still_refused(tmp_path: Path) -> None:
    write(tmp_path, pairings=None)
    (tmp_path / "pairings.csv").write_text(
        "id,mentor,mentee,start,status,preferred_weekdays\n"
        "one,a@contoso.com,b@contoso.com,2027-01-11,Stopped,Mo\n", encoding="utf-8")
    messages = "\n".join(problems_of(tmp_path))
    assert "status" in messages and "'Stopped'" in messages
    assert "preferred_weekdays" in messages and "'Mo'" in messages


def test_both_pairings_files_is_ambiguous(tmp_path: Path) -> None:
    write(tmp_path)
    (tmp_path / "pairings.csv").write_text("id,mentor,mentee,start\n", encoding="utf-8")
    assert any("both pairings.yaml and pairings.csv exist" in m for m in problems_of(tmp_path))


def test_sessions_keep_the_phase_of_their_slot_when_reordered(tmp_path: Path) -> None:
    pairings = PAIRINGS + (
        "    tailoring:\n      topic_order: [1, 4, 3, 2, 5, 6, 7]\n      replace:\n"
        "        7:\n          topic: Our own ideas lab\n          phase: brainstorm\n"
        "          agenda: agendas/ideas-lab-creative-brainstorming.html.j2\n"
    )
    config = load_config(write(tmp_path, pairings=pairings), today=TODAY)
    sessions = config.pairings[1].sessions(config.program)
    assert [s.number for s in sessions] == [1, 2, 3, 4, 5, 6, 7]
    assert sessions[1].topic == "Social Media and the Brand" and sessions[1].phase is Phase.trust
    assert sessions[6].topic == "Our own ideas lab" and sessions[6].notes is None


def test_every_problem_of_every_file_comes_in_one_pass_sorted_by_file_and_line(
        tmp_path: Path) -> None:
    program = PROGRAM.replace('latest: "17:00"', 'latest: "17:00"\nduration_minutes: 0')
    pairings = (PAIRINGS.replace("start: 2027-01-11", "start: 2027-13-11", 1)
                .replace("b.mentor@contoso.com", "b.mentor", 1) + "    colour: blue\n")
    messages = problems_of(write(tmp_path, program, pairings))
    files = [m.split(":", 1)[0] for m in messages]
    assert set(files) == {str(tmp_path / "program.yaml"), str(tmp_path / "pairings.yaml")}
    lines = [(m.split(":")[0], int(m.split(":")[1])) for m in messages]
    assert lines == sorted(lines)
    assert len(messages) == 4, messages


def test_a_broken_template_is_reported_with_an_invalid_program_in_the_same_pass(
        tmp_path: Path) -> None:
    """Templates are checked even when program.yaml itself is invalid: the admin fixes both
    after one `validate`, not one after the other."""
    templates = tmp_path / "templates"
    shutil.copytree(REPO / "templates", templates)
    (templates / "agendas" / "mine.html.j2").write_text("<p>{{ topic </p>\n", encoding="utf-8")
    program = PROGRAM + (
        "duration_minutes: 0\n"
        "curriculum:\n"
        "  - topic: Our own session\n    phase: trust\n    agenda: agendas/mine.html.j2\n"
    )
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    write(config_dir, program)
    with pytest.raises(ConfigError) as caught:
        load_config(config_dir, today=TODAY, templates_dir=templates)
    messages = [str(problem) for problem in caught.value.problems]
    assert any(m.startswith(f"{config_dir / 'program.yaml'}:") and "duration_minutes" in m
               for m in messages), messages
    assert any(m.startswith(f"{templates / 'agendas' / 'mine.html.j2'}:1") and
               "template syntax error" in m for m in messages), messages


def test_a_csv_with_old_mac_line_ends_is_read_like_any_other(tmp_path: Path) -> None:
    rows = ["id;mentor;mentee;start", "one;a.mentor@contoso.com;a.exec@contoso.com;2027-01-11"]
    (tmp_path / "program.yaml").write_text(PROGRAM, encoding="utf-8")
    (tmp_path / "pairings.csv").write_bytes(("\r".join(rows) + "\r").encode())
    config = load_config(tmp_path, today=TODAY)
    assert [p.id for p in config.pairings] == ["one"]
    # Blank lines before the header: refused with the reason, never a crash.
    (tmp_path / "pairings.csv").write_bytes(("\r\r" + "\r".join(rows) + "\r").encode())
    assert any("missing required column 'id'" in m for m in problems_of(tmp_path))
