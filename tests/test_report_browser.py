"""The report page in a real browser: headless Chromium renders it from a file, offline.

What a sponsor opens from a mail attachment must render with no network: the test reads the
DOM Chromium built (the headline numbers and the chart are there), takes a screenshot (the page
is drawn, not blank), and routes every request Chromium makes through a local recording proxy
(nothing the page asks for may reach it). Chromium also calls a few of its own service hosts
(`BROWSER_OWN`) whatever page it shows; those are not the page's and are left out. A control
page with an external image and style sheet shows that the proxy does see a page's requests.

Skipped, saying why, where Chromium is not installed (`.ci/run` installs Debian's `chromium`
when it can).
"""

from __future__ import annotations

import os
import shutil
import socket
import struct
import subprocess
import threading
import zlib
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.report_helpers import Scripted, scripted_program
from worker.cli.report import Report, read_report
from worker.cli.report_page import render_page

CHROMIUM = os.environ.get("MENTORING_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(
    not os.access(CHROMIUM, os.X_OK),
    reason=f"headless Chromium not found at {CHROMIUM} (install Debian's `chromium`, or set "
    "MENTORING_CHROMIUM): the browser test of the report page is skipped")

BROWSER_TIMEOUT = 90  # seconds a Chromium run may take before the test fails
WINDOW = (1200, 2000)
# Hosts Chromium itself calls (sign-in, connectivity) on any page, even about:blank.
BROWSER_OWN = ("google.com", "googleapis.com", "gvt1.com", "gstatic.com")
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-extensions", "--disable-default-apps", "--no-pings",
    "--disable-domain-reliability", "--no-default-browser-check", "--disable-breakpad",
    "--disable-features=NetworkTimeServiceQuerying,OptimizationHints,MediaRouter,Translate",
    "--renderer-process-limit=1", "--num-raster-threads=1",
    f"--window-size={WINDOW[0]},{WINDOW[1]}",
)


class RecordingProxy:
    """An HTTP proxy on 127.0.0.1 that answers nothing and remembers each request's target."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.targets: list[str] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:
                return  # closed
            with connection:
                connection.settimeout(5)
                try:
                    first = connection.recv(4096).split(b"\r\n", 1)[0].decode("latin-1")
                except OSError:
                    continue
                parts = first.split()
                if len(parts) >= 2:
                    self.targets.append(parts[1])

    def page_requests(self) -> list[str]:
        return [t for t in self.targets if not _browser_own(t)]

    def close(self) -> None:
        self.server.close()


def _browser_own(target: str) -> bool:
    host = target.split("://", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0].lower()
    return any(host == own or host.endswith("." + own) for own in BROWSER_OWN)


@pytest.fixture
def proxy() -> Iterator[RecordingProxy]:
    recording = RecordingProxy()
    yield recording
    recording.close()


def chromium(page: Path, proxy: RecordingProxy, tmp_path: Path, *extra: str) -> bytes:
    profile = tmp_path / f"profile-{len(list(tmp_path.iterdir()))}"
    # At the lowest priority: the suite's timing tests run beside it on the other workers.
    nice = [found, "-n", "19"] if (found := shutil.which("nice")) else []
    command = [*nice, CHROMIUM, *FLAGS, f"--user-data-dir={profile}",
               f"--proxy-server=http://127.0.0.1:{proxy.port}",
               "--proxy-bypass-list=<-loopback>", *extra, page.as_uri()]
    done = subprocess.run(command, capture_output=True, timeout=BROWSER_TIMEOUT,  # noqa: S603
                          check=False, cwd=tmp_path)
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
    return done.stdout


class Dom(HTMLParser):
    """The parts of the rendered DOM the test looks at."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.stack: list[str] = []
        self.texts: dict[str, list[str]] = {}  # data-metric / svg child -> text inside

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        self.tags.append((tag, values))
        self.stack.append(values.get("data-metric") or values.get("id") or tag)

    def handle_endtag(self, tag: str) -> None:
        if self.stack:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        for name in self.stack:
            self.texts.setdefault(name, []).append(data)

    def text(self, name: str) -> str:
        return " ".join(" ".join(self.texts.get(name, [])).split())


def _png_is_drawn(png: bytes) -> bool:
    """A real picture, not a blank one: the PNG's pixels take many different values."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert (width, height) == WINDOW
    data, at = b"", 8
    while at < len(png):
        length, kind = struct.unpack(">I4s", png[at:at + 8])
        if kind == b"IDAT":
            data += png[at + 8:at + 8 + length]
        at += 12 + length
    return len(set(zlib.decompress(data))) > 16


@pytest.fixture(scope="module")
def scripted(tmp_path_factory: pytest.TempPathFactory) -> Scripted:
    return scripted_program(tmp_path_factory.mktemp("browser"))


@pytest.fixture(scope="module")
def report(scripted: Scripted) -> Report:
    world = scripted.world
    return read_report(world.client, world.config, world.clock.now())


def test_the_report_renders_offline_with_its_numbers_and_chart(
        report: Report, proxy: RecordingProxy, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(render_page(report), encoding="utf-8")
    dom = Dom()
    dom.feed(chromium(page, proxy, tmp_path, "--dump-dom").decode("utf-8"))
    top = report.headline
    assert top is not None and top.held > 0
    assert dom.text("active-pairs").startswith(f"{top.active_pairs} active pairs (of {top.pairs}")
    assert dom.text("sessions-held").startswith(f"{top.held} / {top.due} sessions held")
    assert dom.text("on-cadence").startswith(
        f"{round(100 * top.on_cadence / top.held)} % of held sessions on cadence")
    assert dom.text("notes-shared").startswith(f"{top.notes_shared} notes shared")
    svgs = [a for tag, a in dom.tags if tag == "svg"]
    assert [a.get("id") for a in svgs] == ["sessions-chart"]
    assert svgs[0].get("role") == "img"
    assert dom.text("sessions-chart-title") == "Sessions held per week"
    assert dom.text("sessions-chart-desc").startswith(f"{top.held} sessions held in ")
    bars = [a for tag, a in dom.tags if tag == "rect" and a.get("class") == "bar"]
    assert len(bars) == len(report.periods) and sum(
        1 for a in bars if float(a["height"]) > 0) == sum(1 for p in report.periods if p.held)
    # Nothing to load: no script, frame, image, style sheet or font; links are anchors only,
    # to the shared notes' list items.
    assert not {tag for tag, _ in dom.tags} & {"script", "iframe", "img", "link", "object",
                                               "embed", "video", "audio", "source", "image"}
    referencing = [(tag, name, value) for tag, attrs in dom.tags for name, value in attrs.items()
                   if name in ("src", "href", "srcset", "xlink:href", "poster", "data",
                               "action", "background")]
    links = {note.link for note in report.shared}
    assert links and all(link.startswith("https://") for link in links)
    assert all(tag == "a" and name == "href" and value in links
               for tag, name, value in referencing), referencing
    assert {value for _, _, value in referencing} == links
    assert "url(" not in page.read_text(encoding="utf-8")
    chromium(page, proxy, tmp_path, "--screenshot=shot.png")
    assert _png_is_drawn((tmp_path / "shot.png").read_bytes())
    assert proxy.page_requests() == []


def test_the_proxy_sees_a_page_that_loads_from_elsewhere(
        proxy: RecordingProxy, tmp_path: Path) -> None:
    page = tmp_path / "control.html"
    page.write_text('<!DOCTYPE html><link rel="stylesheet" href="https://cdn.example.com/a.css">'
                    '<img src="http://example.org/logo.png"><p>control</p>', encoding="utf-8")
    chromium(page, proxy, tmp_path, "--dump-dom")
    requested = " ".join(proxy.page_requests())
    assert "cdn.example.com" in requested and "example.org/logo.png" in requested
