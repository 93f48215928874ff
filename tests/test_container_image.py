"""The Dockerfile cannot be built here (no container engine): what it promises is checked on
its text, and the entrypoint it runs is run outside it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from tests.conftest import ROOT

DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")
# Instructions, each on one line (continuations joined), comments left out.
LINES = [" ".join(part.strip() for part in instruction.split("\\\n"))
         for instruction in re.split(r"(?<!\\)\n", "\n".join(
             line for line in DOCKERFILE.splitlines() if not line.lstrip().startswith("#")))
         if instruction.strip()]


def _index(pattern: str) -> int:
    found = [i for i, line in enumerate(LINES) if re.search(pattern, line)]
    assert found, f"no Dockerfile line matches {pattern!r}"
    return found[0]


def test_dependencies_are_installed_in_their_own_layer_before_the_source() -> None:
    deps = _index(r"^RUN .*pip install -r ")
    assert _index(r"^COPY pyproject\.toml ") < deps
    for source in ("worker", "graph", "templates"):
        assert deps < _index(rf"^COPY {source} "), source
    assert _index(r"^RUN pip install --no-deps \.") > _index(r"^COPY templates ")


def test_the_dependency_layer_installs_exactly_the_projects_dependencies(tmp_path: Path) -> None:
    command = re.search(r'python -c "(.+?)" > /tmp/requirements.txt', DOCKERFILE)
    assert command is not None
    (tmp_path / "pyproject.toml").write_bytes((ROOT / "pyproject.toml").read_bytes())
    printed = subprocess.run([sys.executable, "-c", command.group(1)], cwd=tmp_path,  # noqa: S603
                             capture_output=True, text=True, check=True, timeout=30).stdout
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert printed.split() == declared


def test_the_image_holds_no_config_and_is_labelled_and_pinned() -> None:
    assert not any(re.match(r"^COPY config\b", line) for line in LINES)
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", DOCKERFILE, re.MULTILINE)
    assert base is not None
    assert re.fullmatch(r"python:3\.\d+\.\d+-slim-\w+", base.group(1)), base.group(1)
    assert "FROM ${PYTHON_IMAGE}" in LINES
    assert "imagetools inspect" in DOCKERFILE  # how to pin the digest
    for label in ("title", "description", "version", "licenses", "base.name"):
        assert f"org.opencontainers.image.{label}=" in DOCKERFILE, label
    assert LINES[-3:] == ["USER 10001", 'ENTRYPOINT ["mentoring"]', 'CMD ["run"]']


def test_the_build_context_leaves_out_what_the_image_must_not_hold() -> None:
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    assert {".git", ".venv", "tests", "config", "*.env", "*-state.json"} <= ignored


def test_the_entrypoint_without_its_config_mount_stops_at_start(tmp_path: Path) -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["mentoring"] == "worker.cli.main:main"
    env = {key: value for key, value in os.environ.items() if not key.startswith("MENTORING_")}
    env.update({"MENTORING_TENANT_ID": "00000000-0000-0000-0000-000000000001",
                "MENTORING_CLIENT_ID": "00000000-0000-0000-0000-000000000002",
                "MENTORING_CLIENT_SECRET": "not-a-real-secret",
                "MENTORING_CONFIG_DIR": str(tmp_path / "config"),
                "MENTORING_TEMPLATES_DIR": str(ROOT / "templates")})
    done = subprocess.run([sys.executable, "-m", "worker", "run"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert "config directory not found" in done.stderr
    assert "/config" in done.stderr and "MENTORING_CONFIG_DIR" in done.stderr
    assert "not-a-real-secret" not in done.stdout + done.stderr
