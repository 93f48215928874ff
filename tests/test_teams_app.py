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
from worker.cli.teams_app import (
    COLOR_SIZE,
    OUTLINE_SIZE,
    default_notes_url,
    notes_tab,
    package,
    png_size,
)
from worker.config import load_config
from worker.config.program import SharePointSettings
from worker.core.teams_links import MAX_LINK, NOTES_TAB, app_link, is_teams_link, tab_link
from worker.observe.state import ObservedSession
from worker.plan.nudges import NudgeKind
from worker.plan.teams import summary_card

CLIENT_ID = "0f9e8d7c-6b5a-4321-9fed-cba987654321"
APP_ID = "4d1f6a2e-8c3b-4f7a-9e21-6b5d0c9a7e13"
NOTES = SharePointSettings(site="contoso.sharepoint.com:/sites/mentoring",
                           list="Reverse mentoring sessions")
LIST_URL = "https://contoso.sharepoint.com/sites/mentoring/Lists/Reversementoringsessions"
MANIFEST_SCHEMA = TEMPLATES / "teams" / "MicrosoftTeams.schema.v1.16.subset.json"
CARD_SCHEMA = TEMPLATES / "teams" / "adaptive-card.schema.v1.4.subset.json"


@pytest.fixture
def zip_path(tmp_path: Path) -> Path:
    out = tmp_path / "reverse-mentoring.zip"
    package(TEMPLATES, out, client_id=CLIENT_ID, app_id=APP_ID, program_name="Leadership RM",
            notes=notes_tab(NOTES))
    return out


def validator() -> jsonschema.Draft4Validator:
    return jsonschema.Draft4Validator(json.loads(MANIFEST_SCHEMA.read_text("utf-8")))


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


def test_the_notes_tab_shows_the_list_through_sharepoints_teams_sign_in(
    zip_path: Path,
) -> None:
    manifest, _ = read(zip_path)
    [tab] = manifest["staticTabs"]
    assert tab["entityId"] == NOTES_TAB  # what the nudges' deep links name
    assert tab["scopes"] == ["personal"] and tab["context"] == ["personalTab"]
    assert tab["contentUrl"] == (
        "https://contoso.sharepoint.com/sites/mentoring/_layouts/15/teamslogon.aspx?spfx=true"
        "&dest=/sites/mentoring/Lists/Reversementoringsessions")
    assert tab["websiteUrl"] == LIST_URL == default_notes_url(NOTES)
    assert manifest["validDomains"] == ["contoso.sharepoint.com"]


def test_a_program_without_a_notes_list_gets_no_tab(tmp_path: Path) -> None:
    manifest = package(TEMPLATES, tmp_path / "app.zip", client_id=CLIENT_ID, app_id=APP_ID,
                       program_name="Leadership RM")
    assert "staticTabs" not in manifest and "validDomains" not in manifest
    validator().validate(manifest)
    assert "notifications only" in manifest["description"]["full"]


def test_the_schema_holds_a_static_tab_to_the_official_rules(zip_path: Path) -> None:
    manifest, _ = read(zip_path)
    broken = json.loads(json.dumps(manifest))
    tab = broken["staticTabs"][0]
    tab["entityId"] = "x" * 65
    tab["scopes"] = ["groupchat"]  # not a static tab scope in 1.16
    tab["contentUrl"] = "ftp://contoso.sharepoint.com/x"
    tab["searchUrl"] = "https://contoso.sharepoint.com/search"  # not used, so not allowed here
    errors = list(validator().iter_errors(broken))
    assert len(errors) == 4, [e.message for e in errors]
    del broken["staticTabs"][0]["entityId"]
    assert any("'entityId' is a required property" in e.message
               for e in validator().iter_errors(broken))


def test_a_notes_list_address_off_the_programs_site_is_refused() -> None:
    for url in ("http://contoso.sharepoint.com/sites/mentoring/Lists/Notes",
                "https://fabrikam.sharepoint.com/sites/mentoring/Lists/Notes",
                "https://contoso.sharepoint.com/sites/other/Lists/Notes"):
        with pytest.raises(ValueError, match="not a page of the program's site"):
            notes_tab(NOTES, url)
    given = notes_tab(NOTES, "https://contoso.sharepoint.com/sites/mentoring/Lists/Mentoring%20notes/")
    assert given.website_url.endswith("/Lists/Mentoring%20notes")
    assert given.content_url.endswith("&dest=/sites/mentoring/Lists/Mentoring%2520notes")


LINKS = {
    tab_link(APP_ID, sub_entity_id="3"): True,
    app_link(APP_ID): True,
    "https://teams.microsoft.com/l/meetup-join/19%3ameeting_x%40thread.v2/0": True,
    "https://teams.microsoft.com/meet/2468?p=abc": False,  # the short join form is no deep link
    "https://teams.microsoft.com/": False,
    "http://teams.microsoft.com/l/app/x": False,
    "https://teams.microsoft.com.example.net/l/app/x": False,
    LIST_URL: False,
    "": False,
}


@pytest.mark.parametrize(("url", "teams"), LINKS.items())
def test_the_worker_and_the_sandbox_agree_on_what_a_teams_deep_link_is(
    url: str, teams: bool,
) -> None:
    from graph.sandbox.teams.routes import is_deep_link

    assert is_teams_link(url) is teams
    assert is_deep_link(url) is teams


def test_a_tab_link_encodes_every_value_and_keeps_the_context_when_shortened() -> None:
    item = f"{LIST_URL}/DispForm.aspx?ID=3"
    link = tab_link(APP_ID, label="Search & you", sub_entity_id="3", fallback_url=item)
    assert link == (f"https://teams.microsoft.com/l/entity/{APP_ID}/{NOTES_TAB}"
                    "?webUrl=https%3A%2F%2Fcontoso.sharepoint.com%2Fsites%2Fmentoring%2FLists"
                    "%2FReversementoringsessions%2FDispForm.aspx%3FID%3D3"
                    "&label=Search%20%26%20you&context=%7B%22subEntityId%22%3A%223%22%7D")
    long_item = item + "&x=" + "y" * MAX_LINK
    shorter = tab_link(APP_ID, label="Search", sub_entity_id="3", fallback_url=long_item)
    assert shorter.endswith("?label=Search&context=%7B%22subEntityId%22%3A%223%22%7D")
    shortest = tab_link(APP_ID, label="x" * MAX_LINK, sub_entity_id="3", fallback_url=long_item)
    assert shortest.endswith("/notes?context=%7B%22subEntityId%22%3A%223%22%7D")
    assert tab_link(APP_ID) == f"https://teams.microsoft.com/l/entity/{APP_ID}/{NOTES_TAB}"
    with pytest.raises(ValueError):
        tab_link("", sub_entity_id="3")


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
    assert manifest["staticTabs"][0]["websiteUrl"] == LIST_URL
    assert "--notes-url" in out.getvalue()  # the address is derived: say how to give the real one


def test_the_cli_takes_the_notes_list_address_sharepoint_init_printed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MENTORING_CLIENT_ID", CLIENT_ID)
    url = "https://contoso.sharepoint.com/sites/mentoring/Lists/Reverse%20mentoring%20sessions"
    out = StringIO()
    code = main(["--config", str(EXAMPLE_CONFIG), "teams-app", "package", "--out",
                 str(tmp_path / "app.zip"), "--notes-url", url], out=out)
    assert code == 0
    manifest, _ = read(tmp_path / "app.zip")
    assert manifest["staticTabs"][0]["websiteUrl"] == url
    assert url in out.getvalue() and "--notes-url" not in out.getvalue()
    refused = main(["--config", str(EXAMPLE_CONFIG), "teams-app", "package", "--out",
                    str(tmp_path / "other.zip"), "--notes-url", "https://example.com/x"],
                   out=StringIO())
    assert refused == 2 and not (tmp_path / "other.zip").exists()


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
