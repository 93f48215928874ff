"""`mentoring sharepoint init` and `mentoring report`: the SharePoint list's two commands.

Kept apart from `worker.cli` so the command module stays a dispatcher. Exit codes follow it:
0 done, 2 configuration or permission problem (nothing written), 1 Graph refused something.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

from graph.client import GraphClient
from graph.clock import Clock
from graph.errors import GraphClientError
from worker.config import Config
from worker.notes_list import PermissionMissing, init_list
from worker.report import ReportError, read_report, render

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CONFIG = 2


def cmd_sharepoint_init(client: GraphClient, config: Config, *, client_id: str | None,
                        out: TextIO) -> int:
    settings = config.program.sharepoint
    if settings is None:
        print("program.yaml has no sharepoint section (site and list): nothing to set up",
              file=sys.stderr)
        return EXIT_CONFIG
    try:
        result = init_list(client, settings, client_id)
    except PermissionMissing as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_CONFIG
    except GraphClientError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    out.write(result.render_text(settings) + "\n")
    return EXIT_FAILED if result.problems else EXIT_OK


def cmd_report(client: GraphClient, config: Config, clock: Clock, *, fmt: str,
               out_file: Path | None, out: TextIO) -> int:
    try:
        report = read_report(client, config, clock.now())
    except ReportError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_CONFIG
    except GraphClientError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    text = render(report, fmt)
    if out_file is None:
        out.write(text)
    else:
        out_file.write_text(text, encoding="utf-8")
        out.write(f"Report written to {out_file}\n")
    return EXIT_OK
