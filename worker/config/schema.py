"""JSON Schemas for the config files, so editors complete keys and flag mistakes as you type.

Generated from the same pydantic models the loader validates with; `config/*.schema.json` are
written by `mentoring schema` and a test keeps them in sync with the models.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from worker.config.pairings import PairingsFile
from worker.config.program import Program

SCHEMA_FILES = {"program": "program.schema.json", "pairings": "pairings.schema.json"}


def _schema(
    model: type[Program] | type[PairingsFile], title: str, description: str
) -> dict[str, Any]:
    schema = model.model_json_schema(mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **schema,
        "title": title,
        "description": description,
    }


def json_schema() -> dict[str, dict[str, Any]]:
    """Schemas keyed by file kind: `program` (program.yaml) and `pairings` (pairings.yaml)."""
    return {
        "program": _schema(
            Program, "Reverse mentoring program",
            "program.yaml: the curriculum, cadence and booking rules of one program.",
        ),
        "pairings": _schema(
            PairingsFile, "Reverse mentoring pairings",
            "pairings.yaml: who mentors whom, from when, and any per-pair tailoring.",
        ),
    }


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True, default=str) + "\n"


def write_schemas(directory: Path) -> list[Path]:
    written = []
    for kind, schema in json_schema().items():
        path = directory / SCHEMA_FILES[kind]
        path.write_text(render(schema), encoding="utf-8")
        written.append(path)
    return written
