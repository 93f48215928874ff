"""The config commands of the CLI: `validate` (for admins after an edit) and `schema`.

Kept apart from `worker.cli` so they need no Graph credentials: an admin can check a config on
a laptop with nothing but the files.
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import TextIO

from worker.config.loader import load_config
from worker.config.problems import ConfigError
from worker.config.schema import json_schema, render, write_schemas
from worker.config.settings import Settings
from worker.core.exit_codes import ExitCode


def cmd_validate(settings_or_dir: Settings | Path, today: date, *,
                 out: TextIO | None = None) -> int:
    """Print every problem and warning; 0 when the config is usable, 2 otherwise."""
    stream = out or sys.stdout
    if isinstance(settings_or_dir, Settings):
        directory, templates_dir = settings_or_dir.config_dir, settings_or_dir.templates_dir
    else:
        directory, templates_dir = settings_or_dir, None
    try:
        config = load_config(directory, today=today, templates_dir=templates_dir)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=stream)
        print(f"{len(exc.problems)} problem(s); nothing will be booked until they are fixed.",
              file=stream)
        return ExitCode.CONFIG
    for warning in config.warnings:
        print(f"warning: {warning}", file=stream)
    active = len(config.active_pairings())
    print(f"ok: program {config.program.id!r}, {len(config.pairings)} pairing(s) "
          f"({active} active), {len(config.program.curriculum)} sessions each, "
          f"{len(config.warnings)} warning(s)", file=stream)
    return ExitCode.OK


def cmd_schema(out: Path | None, *, stream: TextIO | None = None) -> int:
    """Write program/pairings schema files into directory `out`, or print both to stdout."""
    if out is None:
        print(render(json_schema()), end="", file=stream or sys.stdout)
        return ExitCode.OK
    out.mkdir(parents=True, exist_ok=True)
    for path in write_schemas(out):
        print(f"wrote {path}", file=stream or sys.stdout)
    return ExitCode.OK

