"""The Teams app package and the program summary card: valid against the schemas they declare."""

from __future__ import annotations

import json
import struct
import zipfile
import zlib
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.conftest import EXAMPLE_CONFIG, TEMPLATES
from worker.cli.main import main
from worker.cli.teams_app import COLOR_SIZE, OUTLINE_SIZE, package, png_size
from worker.config import load_config
from worker.observe.state import ObservedSession
from worker.plan.nudges import NudgeKind
from worker.plan.teams import summary_card

CLIENT_ID = "0f9e8d7c-6b5a-4321-9fed-cba987654321"
APP_ID = "4d1f6a2e-8c3b-4f7a-9e21-6b5d0c9a7e13"
MANIFEST_SCHEMA = TEMPLATES / "teams" / "MicrosoftTeams.schema.v1.16.subset.json"
CARD_SCHEMA = TEMPLATES / "teams" / "adaptive-card.schema.v1.4.subset.json"


@pytest.fixture
def zip_path(tmp_path: Path) -> Path:
    out = tmp_path / "reverse-mentoring.zip"
    package(TEMPLATES, out, client_id=CLIENT_ID, app_id=APP_ID, program_name="Leadership RM")
    return out


def read(zip_path: Path) -> tuple[dict[str, Any], dict[str, bytes]]:
    with zipfile.ZipFile(zip_path) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    return json.loads(files["manifest.json"]), files


def pixels(png: bytes) -> list[tuple[int, int, int, int]]:
    """Decode our own RGBA, filter-0 PNG (enough to check what the icons look like)."""
    width, height = png_size(png)
    data = b""
    offset = 8
    while offset < len(png):
        length, kind = struct.unpack(">I4s", png[offset : offset + 8])
        if kind == b"IDAT":
            data += png[offset + 8 : offset + 8 + length]
        offset += 12 + length
    raw = zlib.decompress(data)
    stride = 1 + 4 * width
    assert len(raw) == stride * height and all(raw[y * stride] == 0 for y in range(height))
    return [tuple(raw[y * stride + 1 + 4 * x : y * stride + 5 + 4 * x])  # type: ignore[misc]
            for y in range(height) for x in range(width)]


def test_the_package_holds_a_manifest_and_two_icons_at_its_root(zip_path: Path) -> None:
    manifest, files = read(zip_path)
    assert set(files) == {"manifest.json", manifest["icons"]["color"],
                          manifest["icons"]["outline"]}


def test_the_manifest_validates_against_the_schema_it_declares(zip_path: Path) -> None:
    manifest, _ = read(zip_path)
    schema = json.loads(MANIFEST_SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft4Validator.check_schema(schema)
    jsonschema.Draft4Validator(schema).validate(manifest)
    assert manifest["$schema"].endswith(f"/v{manifest['manifestVersion']}/"
                                        "MicrosoftTeams.schema.json")
    assert tuple(int(p) for p in manifest["manifestVersion"].split(".")) >= (1, 7)


def test_the_schema_refuses_what_teams_would_refuse(zip_path: Path) -> None:
    manifest, _ = read(zip_path)
    validator = jsonschema.Draft4Validator(json.loads(MANIFEST_SCHEMA.read_text("utf-8")))
    broken = json.loads(json.dumps(manifest))
    broken["webApplicationInfo"]["id"] = "not-a-guid"
    broken["activities"]["activityTypes"][0]["templateText"] = "x" * 129
    del broken["accentColor"]
    errors = {e.message.split(" ")[0] for e in validator.iter_errors(broken)}
    assert len(list(validator.iter_errors(broken))) == 3, errors


def test_the_manifest_binds_our_entra_app_and_declares_every_nudge_kind(zip_path: Path) -> None:
    manifest, _ = read(zip_path)
    assert manifest["webApplicationInfo"]["id"] == CLIENT_ID
    assert manifest["id"] == APP_ID
    declared = {t["type"] for t in manifest["activities"]["activityTypes"]}
    assert declared == {kind.activity_type for kind in NudgeKind}


def test_the_icons_have_the_sizes_teams_requires(zip_path: Path) -> None:
    manifest, files = read(zip_path)
    color = files[manifest["icons"]["color"]]
    outline = files[manifest["icons"]["outline"]]
    assert png_size(color) == (COLOR_SIZE, COLOR_SIZE) == (192, 192)
    assert png_size(outline) == (OUTLINE_SIZE, OUTLINE_SIZE) == (32, 32)
    assert all(a == 255 for *_, a in pixels(color))  # full colour, no transparency
    outline_pixels = pixels(outline)
    # White on transparent: every pixel is either fully transparent or opaque white.
    assert set(outline_pixels) <= {(0, 0, 0, 0), (255, 255, 255, 255)}
    assert (0, 0, 0, 0) in outline_pixels and (255, 255, 255, 255) in outline_pixels


def test_the_sandbox_accepts_the_package_for_notifications(zip_path: Path) -> None:
    from graph.sandbox.teams import CatalogApp

    manifest, _ = read(zip_path)
    app = CatalogApp("catalog-id", manifest["id"], manifest["name"]["short"], manifest)
    assert app.entra_app_id == CLIENT_ID
    assert all(app.activity_type(kind.activity_type) for kind in NudgeKind)


def test_the_cli_writes_the_package_with_the_configured_client_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MENTORING_CLIENT_ID", CLIENT_ID)
    out = StringIO()
    code = main(["--config", str(EXAMPLE_CONFIG), "teams-app", "package", "--out",
                 str(tmp_path / "app.zip")], out=out)
    assert code == 0
    manifest, _ = read(tmp_path / "app.zip")
    assert manifest["webApplicationInfo"]["id"] == CLIENT_ID
    assert "Upload" in out.getvalue()


def test_the_cli_refuses_a_package_without_a_client_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MENTORING_CLIENT_ID", raising=False)
    code = main(["--config", str(EXAMPLE_CONFIG), "teams-app", "package", "--out",
                 str(tmp_path / "app.zip")], out=StringIO())
    assert code == 2
    assert not (tmp_path / "app.zip").exists()


def test_the_summary_card_validates_against_the_adaptive_card_version_it_declares() -> None:
    config = load_config(EXAMPLE_CONFIG, today=datetime(2027, 1, 4).date())
    now = datetime(2027, 1, 18, 9, tzinfo=UTC)
    start = now + timedelta(days=1)
    session = ObservedSession("leadership-2027/ceo-ava/1", "ceo-ava", 1, "e", "o", start,
                              start + timedelta(minutes=45), "s", False, (), None)
    card = summary_card(config, {session.key: [session]}, {}, now, timedelta(days=7))
    schema = json.loads(CARD_SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft6Validator.check_schema(schema)
    jsonschema.Draft6Validator(schema).validate(card)
    assert card["version"] == "1.4"
    facts = {f["title"]: f["value"] for f in card["body"][2]["facts"]}
    assert facts["Sessions in the next 7 days"] == "1"
