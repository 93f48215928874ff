"""`mentoring teams-app package`: the Teams app an admin uploads to the org catalog.

Nudges go to the Teams activity feed, which Graph only allows for an app installed for the
recipient whose manifest names our Entra app (`webApplicationInfo.id`) and declares every
activity type we send (https://learn.microsoft.com/graph/teams-send-activityfeednotifications).
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
from datetime import date
from pathlib import Path
from typing import Any, TextIO

import jinja2

from graph import teams
from worker.config import ConfigError, Nudges, load_config

MANIFEST_TEMPLATE = "teams/manifest.json.j2"
MANIFEST_VERSION = "1.16"
APP_VERSION = "1.1.0"
COLOR_SIZE = 192
OUTLINE_SIZE = 32

# The activity types the worker sends: one definition, shared with the sandbox's catalog.
ACTIVITY_TYPES = teams.ACTIVITY_TYPES

Pixel = tuple[int, int, int, int]


def render_manifest(templates_dir: Path, *, client_id: str, app_id: str, program_name: str,
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
            program_name: str) -> dict[str, Any]:
    """Write the app package zip; returns the manifest written into it."""
    manifest = render_manifest(templates_dir, client_id=client_id, app_id=app_id,
                               program_name=program_name)
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
                today: date, *, stream: TextIO | None = None) -> int:
    """`mentoring teams-app package --out FILE.zip`: 0 written, 2 config or client id error."""
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
    manifest = package(templates_dir, out, client_id=client_id, app_id=nudges.teams_app_id,
                       program_name=config.program.name)
    types = ", ".join(t["type"] for t in manifest["activities"]["activityTypes"])
    print(f"wrote {out}: Teams app {manifest['id']} v{manifest['version']} (manifest "
          f"{manifest['manifestVersion']}), bound to Entra app {client_id}; activity types: "
          f"{types}. Upload it in the Teams admin center: Teams apps > Manage apps > Upload "
          "new app.", file=output)
    return 0
