"""The example config files validate against the JSON Schemas editors use."""

from pathlib import Path

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parent.parent / "config"


def _load(name: str) -> object:
    return yaml.safe_load((ROOT / name).read_text(encoding="utf-8"))


def test_example_program_matches_the_editor_schema() -> None:
    schema = yaml.safe_load((ROOT / "program.schema.json").read_text(encoding="utf-8"))
    jsonschema.validate(_json_ready(_load("program.yaml")), schema)


def test_example_pairings_match_the_editor_schema() -> None:
    schema = yaml.safe_load((ROOT / "pairings.schema.json").read_text(encoding="utf-8"))
    jsonschema.validate(_json_ready(_load("pairings.yaml")), schema)


def test_the_editor_schema_catches_a_misspelt_key() -> None:
    schema = yaml.safe_load((ROOT / "pairings.schema.json").read_text(encoding="utf-8"))
    document = _json_ready(_load("pairings.yaml"))
    assert isinstance(document, dict)
    document["pairings"][0]["mentr"] = document["pairings"][0].pop("mentor")
    errors = list(jsonschema.Draft202012Validator(schema).iter_errors(document))
    assert errors


def _json_ready(value: object) -> object:
    """YAML dates and times as the strings an editor's JSON Schema check sees."""
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_ready(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value
