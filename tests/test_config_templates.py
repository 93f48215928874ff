"""Templates compile, escape what people typed, and broken ones are config problems."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import pytest

from worker.config import ConfigError, load_config, parse_session_key, session_key
from worker.config.schema import SCHEMA_FILES, json_schema
from worker.config.templates import People, Templates, check_templates

REPO = Path(__file__).resolve().parent.parent
TODAY = date(2026, 12, 1)


def test_every_default_template_compiles_and_renders() -> None:
    config = load_config(REPO / "config", today=TODAY)
    templates = Templates()
    assert check_templates(config, templates) == []
    people = People(mentor_name="Ava Nguyen", mentee_name="Margaret Hale")
    for session in config.pairings[0].sessions(config.program):
        body = templates.render_invite(session, people, program=config.program)
        assert f"session {session.number} of 7" in body
        assert session.topic.replace("'", "&#39;") in body or session.topic in body
        assert "<li>" in body
        assert "Key takeaways" in templates.render_notes_skeleton(session, people)


def test_names_from_the_directory_are_escaped() -> None:
    config = load_config(REPO / "config", today=TODAY)
    session = config.pairings[0].sessions(config.program)[0]
    people = People(mentor_name="<script>x</script>", mentee_name="O'Hara & Co")
    body = Templates().render_invite(session, people, program=config.program)
    assert "<script>" not in body and "&lt;script&gt;" in body
    assert "O&#39;Hara &amp; Co" in body


def test_a_broken_template_is_reported_with_its_file_and_line(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(REPO / "templates", templates)
    broken = templates / "agendas" / "social-media-and-the-brand.html.j2"
    broken.write_text("<p>fine</p>\n<p>{% if %}</p>\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(REPO / "config", today=TODAY, templates_dir=templates)
    [problem] = caught.value.problems
    assert problem.file == str(broken) and problem.line == 2
    assert "template syntax error" in problem.message
    assert problem.hint is not None and "program.yaml:" in problem.hint


def test_schema_files_are_in_sync_with_the_models() -> None:
    for kind, schema in json_schema().items():
        on_disk = json.loads((REPO / "config" / SCHEMA_FILES[kind]).read_text(encoding="utf-8"))
        assert on_disk == json.loads(json.dumps(schema, default=str)), (
            f"config/{SCHEMA_FILES[kind]} is stale: run `mentoring schema config`"
        )


def test_example_yaml_files_point_editors_at_their_schema() -> None:
    for kind, name in SCHEMA_FILES.items():
        first = (REPO / "config" / f"{kind}.yaml").read_text(encoding="utf-8").splitlines()[0]
        assert first == f"# yaml-language-server: $schema=./{name}"


def test_session_keys_round_trip_and_reject_foreign_values() -> None:
    key = session_key("leadership-2027", "ceo-ava", 3)
    assert key == "leadership-2027/ceo-ava/3"
    assert parse_session_key(key) == ("leadership-2027", "ceo-ava", 3)
    for foreign in ("", "a/b", "leadership-2027/ceo-ava/03", "Leadership/x/1", "a1/b2/3/4"):
        assert parse_session_key(foreign) is None
