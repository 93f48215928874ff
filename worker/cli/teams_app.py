"""`mentoring teams-app package`: the Teams app an admin uploads to the org catalog.

Nudges go to the Teams activity feed, which Graph only allows for an app installed for the
recipient whose manifest names our Entra app (`webApplicationInfo.id`) and declares every
activity type we send (https://learn.microsoft.com/graph/teams-send-activityfeednotifications).
A notification may only link into Teams, so with a notes list the app also has a static
personal tab, "Session notes" (entity id `worker.core.teams_links.NOTES_TAB`), that shows the
list: the notes request opens the session's item through it. A SharePoint page loads in a
Teams tab only through SharePoint's own Teams sign-in page,
`<site>/_layouts/15/teamslogon.aspx?spfx=true&dest=<server-relative page>`, which signs the
person in to SharePoint and then opens `dest` (the form SharePoint writes into the manifests of
the apps it syncs to Teams); `validDomains` names the SharePoint host the tab loads.
The package is a zip of `manifest.json` (rendered from `templates/teams/manifest.json.j2`) and
two icons: a 192x192 full-colour PNG and a 32x32 white-on-transparent outline PNG
(https://learn.microsoft.com/microsoftteams/platform/concepts/build-and-test/apps-package).
The icons are drawn here and written with a minimal PNG encoder (zlib + CRC32 from the standard
library), so the package needs no image library.
"""

from __future__ import annotations

import io
import json
import os
import re
import struct
import sys
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import quote, urlsplit

import jinja2

from graph import teams
from worker.config import ConfigError, Nudges, load_config
from worker.config.program import SharePointSettings
from worker.core.teams_links import NOTES_TAB, NOTES_TAB_NAME

MANIFEST_TEMPLATE = "teams/manifest.json.j2"
MANIFEST_VERSION = "1.16"
APP_VERSION = "1.3.0"  # 1.2: the Session notes tab; 1.3: newTimeNeeded (assistants)
COLOR_SIZE = 192
OUTLINE_SIZE = 32

# The activity types the worker sends: one definition, shared with the sandbox's catalog.
ACTIVITY_TYPES = teams.ACTIVITY_TYPES

Pixel = tuple[int, int, int, int]


@dataclass(frozen=True)
class NotesTab:
    """The static personal tab that shows the notes list (the manifest's `staticTabs[0]`)."""

    entity_id: str
    name: str
    content_url: str
    website_url: str
    valid_domains: tuple[str, ...]


def default_notes_url(settings: SharePointSettings) -> str:
    """The list's address as SharePoint names a list created from its display name (the name
    without spaces or punctuation). `sharepoint init` prints the real one (`list:`); pass it
    with `--notes-url` when it differs."""
    host, _, site_path = settings.site.partition(":")
    name = re.sub(r"[^A-Za-z0-9_-]", "", settings.list) or "List"
    return f"https://{host.lower()}{site_path.rstrip('/')}/Lists/{name}"


def notes_tab(settings: SharePointSettings, list_url: str | None = None) -> NotesTab:
    """The tab for the program's notes list at `list_url` (default: `default_notes_url`).
    Raises ValueError when the address is not an https page of the configured site."""
    host, _, site_path = settings.site.partition(":")
    site = f"https://{host.lower()}{site_path.rstrip('/')}"
    url = (list_url or default_notes_url(settings)).rstrip("/")
    parts = urlsplit(url)
    if (parts.scheme != "https" or (parts.hostname or "") != host.lower()
            or not parts.path.lower().startswith(site_path.rstrip("/").lower() + "/")):
        raise ValueError(f"the notes list address {url!r} is not a page of the program's site "
                         f"{site} (sharepoint.site in program.yaml)")
    content = (f"{site}/_layouts/15/teamslogon.aspx?spfx=true"
               f"&dest={quote(parts.path, safe='/')}")
    return NotesTab(NOTES_TAB, NOTES_TAB_NAME, content, url, (host.lower(),))


def render_manifest(templates_dir: Path, *, client_id: str, app_id: str, program_name: str,
                    notes: NotesTab | None = None,
                    developer_name: str = "Reverse Mentoring Program",
                    website_url: str = "https://www.microsoft.com/microsoft-365",
                    privacy_url: str = "https://privacy.microsoft.com/privacystatement",
                    terms_url: str = "https://www.microsoft.com/servicesagreement",
                    version: str = APP_VERSION) -> dict[str, Any]:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir)),
        autoescape=False,  # noqa: S701 - JSON; every value goes through `tojson`
        undefined=jinja2.StrictUndefined,
    )
    text = env.get_template(MANIFEST_TEMPLATE).render(
        client_id=client_id, app_id=app_id, program_name=program_name[:100],
        developer_name=developer_name[:32], website_url=website_url, privacy_url=privacy_url,
        terms_url=terms_url, version=version, activity_types=list(ACTIVITY_TYPES),
        notes_tab=notes,
    )
    manifest: dict[str, Any] = json.loads(text)
    return manifest


# ---------------------------------------------------------------------------------------------
# PNG


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def encode_png(width: int, height: int, pixel: Callable[[int, int], Pixel]) -> bytes:
    """An 8-bit RGBA PNG (colour type 6, no interlace, filter 0 on every row)."""
    rows = bytearray()
    for y in range(height):
        rows.append(0)
        for x in range(width):
            rows.extend(pixel(x, y))
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header)
            + _chunk(b"IDAT", zlib.compress(bytes(rows), 9)) + _chunk(b"IEND", b""))


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR (for tests and a sanity check before zipping)."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise ValueError("not a PNG")
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


def _two_people(size: int, ink: Pixel, ground: Pixel) -> Callable[[int, int], Pixel]:
    """Two heads and shoulders side by side, the smaller one (the mentor) on the right."""
    s = size / 32

    def inside(x: float, y: float) -> bool:
        for cx, head, body in ((11.5, 4.2, 8.5), (22.0, 3.4, 6.8)):
            hy = 11.0 if cx < 20 else 13.0
            if (x - cx) ** 2 + (y - hy) ** 2 <= head**2:
                return True
            by = 27.5
            if y <= by and (x - cx) ** 2 / body**2 + (y - by) ** 2 / (body * 0.9) ** 2 <= 1:
                return True
        return False

    def pixel(x: int, y: int) -> Pixel:
        return ink if inside((x + 0.5) / s, (y + 0.5) / s) else ground

    return pixel


def color_icon() -> bytes:
    return encode_png(COLOR_SIZE, COLOR_SIZE,
                      _two_people(COLOR_SIZE, (255, 255, 255, 255), (79, 107, 237, 255)))


def outline_icon() -> bytes:
    # Teams wants white on a transparent background for the outline icon.
    return encode_png(OUTLINE_SIZE, OUTLINE_SIZE,
                      _two_people(OUTLINE_SIZE, (255, 255, 255, 255), (0, 0, 0, 0)))


def package(templates_dir: Path, out: Path, *, client_id: str, app_id: str,
            program_name: str, notes: NotesTab | None = None) -> dict[str, Any]:
    """Write the app package zip; returns the manifest written into it."""
    manifest = render_manifest(templates_dir, client_id=client_id, app_id=app_id,
                               program_name=program_name, notes=notes)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        # Files at the root of the zip, as Teams requires (no folder).
        archive.writestr("manifest.json", json.dumps(manifest, indent=2) + "\n")
        archive.writestr(manifest["icons"]["color"], color_icon())
        archive.writestr(manifest["icons"]["outline"], outline_icon())
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(buffer.getvalue())
    return manifest


_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


def cmd_package(config_dir: Path, templates_dir: Path, out: Path, client_id: str | None,
                today: date, *, notes_url: str | None = None,
                stream: TextIO | None = None) -> int:
    """`mentoring teams-app package --out FILE.zip [--notes-url URL]`: 0 written, 2 config,
    client id or notes list address error."""
    output = stream or sys.stdout
    client_id = client_id or os.environ.get("MENTORING_CLIENT_ID")
    if not client_id or not _GUID.match(client_id):
        print("error: give the worker's Entra app (client) id with --client-id or "
              "MENTORING_CLIENT_ID (a GUID): the manifest's webApplicationInfo.id must be it",
              file=sys.stderr)
        return 2
    try:
        config = load_config(config_dir, today=today)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    nudges = config.program.nudges or Nudges()
    settings = config.program.sharepoint
    if notes_url and settings is None:
        print("error: --notes-url needs a notes list: program.yaml has no sharepoint section",
              file=sys.stderr)
        return 2
    try:
        tab = notes_tab(settings, notes_url) if settings is not None else None
    except ValueError as exc:
        print(f"error: --notes-url: {exc}", file=sys.stderr)
        return 2
    manifest = package(templates_dir, out, client_id=client_id, app_id=nudges.teams_app_id,
                       program_name=config.program.name, notes=tab)
    types = ", ".join(t["type"] for t in manifest["activities"]["activityTypes"])
    print(f"wrote {out}: Teams app {manifest['id']} v{manifest['version']} (manifest "
          f"{manifest['manifestVersion']}), bound to Entra app {client_id}; activity types: "
          f"{types}.", file=output)
    if tab is not None:
        print(f"Its '{tab.name}' tab shows the notes list at {tab.website_url}"
              + ("" if notes_url else " (pass the `list:` address `mentoring sharepoint init` "
                 "printed with --notes-url if it differs)") + ".", file=output)
    print("Upload it in the Teams admin center: Teams apps > Manage apps > Upload new app.",
          file=output)
    return 0
